"""Which baseline design forecasts best, by penalised least squares on four panels' backtests.

A screening diagnosis, not a benchmark: for each plain-plan panel of
:mod:`bench_plain_plans` and each of the 4 rolling origins of a 13-week backtest, the MAP of
a Gaussian approximation of the MMM (penalised least squares: each baseline block with its
Normal prior's sd, media as non-negative coefficients of saturated adstocked spend at the
priors' central transform) is fitted on the weeks before the origin and forecasts the 13
weeks after it from their actual spend and controls. Every variant changes one part of the
baseline design; the script prints the backtest MAPE of each, next to seasonal naive and
ETS on the same weeks. Run::

    python benchmarks/diag_baseline_design.py [--only PANEL ...]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.optimize import lsq_linear

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_plain_plans import PANELS, plan_for

from omnimmm.mmm.baselines import ets_forecast, seasonal_naive_forecast
from omnimmm.run.backtest import backtest_windows

ORIGINS, HORIZON = 4, 13
EPOCH = pd.Timestamp("2000-01-03")
YEARLY_RHO: list[float] = []


def load(name: str, tmp: Path):
    """Panel and plan of one panel."""
    from omnimmm.config import load_plan
    from omnimmm.data import load_panel

    plan = load_plan(plan_for(name, tmp))
    return plan, load_panel(plan)


def media_features(spend: np.ndarray, n_train: int, alpha: float = 0.4) -> np.ndarray:
    """Geometric adstock (8 lags) then Hill(1, 1.3) of spend scaled by its training mean."""
    scale = np.array(
        [s[:n_train][s[:n_train] > 0].mean() if (s[:n_train] > 0).any() else 1.0 for s in spend.T]
    )
    x = spend / scale
    w = alpha ** np.arange(8)
    a = np.zeros_like(x)
    for lag, wl in enumerate(w):
        a[lag:] += wl * x[: len(x) - lag]
    return a**1.3 / (1.0 + a**1.3)


def fourier(dates: pd.DatetimeIndex, order: int) -> np.ndarray:
    phase = 2 * np.pi * (dates - EPOCH).days.to_numpy(dtype=float) / 365.25
    cols = [f(k * phase) for k in range(1, order + 1) for f in (np.sin, np.cos)]
    return np.column_stack(cols) if cols else np.zeros((len(dates), 0))


def fit_predict(
    blocks: list[tuple[np.ndarray, float, bool]],
    y: np.ndarray,
    n: int,
    ar: float = 0.0,
    yearly_ar: bool = False,
) -> np.ndarray:
    """Penalised least squares on the first ``n`` weeks; prediction for all weeks.

    ``blocks``: (features, prior sd, non-negative). The intercept is free. Features are
    centred on their training mean (the model is centred). Noise sd is re-estimated twice.
    """
    xs, sds, lo = [np.ones((len(y), 1))], [1e3], [-np.inf]
    for x, sd, nonneg in blocks:
        if x.shape[1] == 0:
            continue
        xs.append(x - x[:n].mean(axis=0))
        sds += [sd] * x.shape[1] if np.isscalar(sd) else list(sd)
        lo += [0.0 if nonneg else -np.inf] * x.shape[1]
    a = np.column_stack(xs)
    sd = np.asarray(sds, dtype=float)
    sigma = 0.1 * np.std(y[:n])
    coef = np.zeros(a.shape[1])
    for _ in range(3):
        aa = np.vstack([a[:n] / sigma, np.diag(1.0 / sd)])
        bb = np.concatenate([y[:n] / sigma, np.zeros(len(sd))])
        coef = lsq_linear(aa, bb, bounds=(np.asarray(lo), np.inf)).x
        sigma = max(float(np.std(y[:n] - a[:n] @ coef)), 1e-4)
    pred = a @ coef
    if ar:
        # residual carried forward with decay ``ar`` per week
        r = y[n - 1] - pred[n - 1]
        pred[n:] = pred[n:] + r * ar ** np.arange(1, len(y) - n + 1)
    if yearly_ar and n > 2 * 52:
        # last year's residual of the same week carried over with a weight learnt from the
        # training weeks (least squares of r[t] on r[t - 52]): a yearly-lag structure
        res = y[:n] - pred[:n]
        rho = float(res[52:] @ res[:-52] / (res[:-52] @ res[:-52]))
        lagged = np.concatenate([res, np.zeros(len(y) - n)])
        idx = np.arange(n, len(y)) - 52
        pred[n:] = pred[n:] + rho * lagged[idx]
        YEARLY_RHO.append(rho)
    return pred


def variants() -> dict[str, Callable[..., list[tuple[np.ndarray, float, bool]]]]:
    """Baseline designs: each returns the blocks for (dates, t, controls, n)."""

    def std_controls(c: np.ndarray, n: int, clip: bool = True) -> np.ndarray:
        if c.shape[1] == 0:
            return c
        z = np.clip(c, c[:n].min(0), c[:n].max(0)) if clip else c.copy()
        sd = c[:n].std(0)
        sd[sd == 0] = 1
        return (z - c[:n].mean(0)) / sd

    def make(
        order: int = 6,
        f_sd: float | str = 0.2,
        c_sd: float = 0.2,
        trend: str = "linear",
        controls: str = "level",
        extra_order: int = 0,
        slow_sd: float = 0.05,
        ramps: float = 0.0,
        window: int = 13,
        event_sd: float = 0.0,
    ):
        def blocks(dates, t, c, n):
            out = []
            if trend == "linear":
                out.append((t[:, None], 0.3, False))
            elif trend == "flat":
                out.append((np.minimum(t, t[n - 1])[:, None], 0.3, False))
            if order:
                out.append((fourier(dates, order), 0.2, False))
            if extra_order:
                f = fourier(dates, order + extra_order)[:, 2 * order :]
                ks = np.repeat(np.arange(order + 1, order + extra_order + 1), 2)
                if f_sd == "1/k":
                    sd = 0.2 * order / ks
                elif f_sd == "1/k2":
                    sd = 0.2 * (order / ks) ** 2
                else:
                    sd = np.full(len(ks), float(f_sd))
                out.append((f, sd, False))
            if c.shape[1] and controls != "none":
                z = std_controls(c, n)
                if controls == "deviation":
                    from omnimmm.mmm.timevarying import control_deviation

                    ind = np.all((c[:n] == 0) | (c[:n] == 1), axis=0)
                    dev = control_deviation(c, np.zeros((0, c.shape[1])), window)
                    dsd = dev[:n].std(0)
                    dsd[dsd == 0] = 1
                    z = np.where(ind[None], z, dev / dsd)
                elif controls == "split":
                    from omnimmm.mmm.timevarying import control_deviation

                    ind = np.all((c[:n] == 0) | (c[:n] == 1), axis=0)
                    dev = control_deviation(c, np.zeros((0, c.shape[1])), window)
                    slow = c - dev
                    dsd = dev[:n].std(0)
                    dsd[dsd == 0] = 1
                    ssd = c[:n].std(0)
                    ssd[ssd == 0] = 1
                    slow_z = (
                        np.clip(slow, slow[:n].min(0), slow[:n].max(0)) - slow[:n].mean(0)
                    ) / ssd
                    z = np.where(ind[None], z, dev / dsd)
                    out.append((slow_z[:, ~ind], slow_sd, False))
                elif controls == "events_only":
                    ind = np.all((c[:n] == 0) | (c[:n] == 1), axis=0)
                    z = z[:, ind]
                if event_sd:
                    ind = np.all((c[:n] == 0) | (c[:n] == 1), axis=0)
                    if controls == "events_only":
                        ind = np.ones(z.shape[1], dtype=bool)
                        out.append(
                            (c[:, np.all((c[:n] == 0) | (c[:n] == 1), axis=0)], event_sd, False)
                        )
                    else:
                        out.append((z[:, ~ind], c_sd, False))
                        out.append((c[:, ind], event_sd, False))
                else:
                    out.append((z, c_sd, False))
            if ramps:
                from omnimmm.mmm.timevarying import level_ramps

                tt = t * (n - 1) / (n - 1)
                out.append((level_ramps(tt, (n - 1) * 7.0, 13), ramps, False))
            return out

        return blocks

    return {
        "base F6": make(),
        "no controls": make(controls="none"),
        "events only": make(controls="events_only"),
        "controls sd .05": make(c_sd=0.05),
        "deviation ctl": make(controls="deviation"),
        "flat trend": make(trend="flat"),
        "no trend": make(trend="none"),
        "F6+20 1/k": make(extra_order=20, f_sd="1/k"),
        "F6+20 1/k2": make(extra_order=20, f_sd="1/k2"),
        "F6+20 .05": make(extra_order=20, f_sd=0.05),
        "F6+20 1/k flat": make(extra_order=20, f_sd="1/k", trend="flat"),
        "F6+20 1/k dev": make(extra_order=20, f_sd="1/k", controls="deviation"),
        "F6+20 1/k c.05": make(extra_order=20, f_sd="1/k", c_sd=0.05),
        "F3": make(order=3),
        "split slow .05": make(controls="split", slow_sd=0.05),
        "split slow .02": make(controls="split", slow_sd=0.02),
        "split slow .1": make(controls="split", slow_sd=0.1),
        "dev w4": make(controls="deviation", window=4),
        "dev w26": make(controls="deviation", window=26),
        "dev w52": make(controls="deviation", window=52),
        "split.05 w26": make(controls="split", window=26),
        "split.05 w52": make(controls="split", window=52),
        "split.05 w4": make(controls="split", window=4),
        "split.02 w4": make(controls="split", window=4, slow_sd=0.02),
        "ev raw .3": make(event_sd=0.3),
        "ev raw .1": make(event_sd=0.1),
        "ev raw .3 split.05": make(event_sd=0.3, controls="split"),
        "ev raw .3 dev": make(event_sd=0.3, controls="deviation"),
        "ev raw .3 c.05": make(event_sd=0.3, c_sd=0.05),
        "ev raw .3 only": make(event_sd=0.3, controls="events_only"),
        "ev raw .1 split.02": make(event_sd=0.1, controls="split", slow_sd=0.02),
        "ramps .05": make(ramps=0.05),
        "ramps .05 dev": make(ramps=0.05, controls="deviation"),
        "ramps .05 split.05": make(ramps=0.05, controls="split"),
        "F10": make(order=10),
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--only", action="append", choices=PANELS)
    ap.add_argument("--ar", type=float, default=0.0)
    ap.add_argument(
        "--yearly-ar",
        action="store_true",
        help="add last year's residual of the same week, weight learnt on the training weeks",
    )
    ap.add_argument("--variant", action="append", help="only these variants (labels)")
    args = ap.parse_args(argv)
    warnings.filterwarnings("ignore")
    table: dict[str, dict[str, float]] = {}
    for name in args.only or PANELS:
        with tempfile.TemporaryDirectory() as tmp:
            plan, panel = load(name, Path(tmp))
        dates = pd.DatetimeIndex(panel.dates)
        spend = panel.spend[[c.name for c in plan.channels]].to_numpy(dtype=float)
        controls = list(plan.data.controls) + list(getattr(plan.data, "events", ()) or ())
        c_all = (
            panel.controls[controls].to_numpy(dtype=float)
            if controls
            else np.zeros((len(dates), 0))
        )
        res: dict[str, list[float]] = {}
        for o in plan.data.outcomes:
            y_all = panel.outcomes[o].to_numpy(dtype=float)
            for origin in backtest_windows(len(dates), ORIGINS, HORIZON):
                n, end = origin, origin + HORIZON
                y = y_all[:end] / y_all[:n].mean()
                t = np.arange(end) / (n - 1)
                h = media_features(spend[:end], n)
                act = y[n:end]
                for label, blocks in variants().items():
                    if args.variant and label not in args.variant:
                        continue
                    bl = blocks(dates[:end], t, c_all[:end], n) + [(h, 0.5, True)]
                    p = fit_predict(bl, y, n, ar=args.ar, yearly_ar=args.yearly_ar)[n:end]
                    res.setdefault(label, []).append(float(np.mean(np.abs(p - act) / act)))
                sn = seasonal_naive_forecast(y[:n], HORIZON).values
                et = ets_forecast(y[:n], HORIZON).values
                res.setdefault("seasonal naive", []).append(float(np.mean(np.abs(sn - act) / act)))
                res.setdefault("ETS", []).append(float(np.mean(np.abs(et - act) / act)))
        if YEARLY_RHO:
            print(f"{name}: learnt yearly residual weights {np.round(YEARLY_RHO, 2).tolist()}")
            YEARLY_RHO.clear()
        table[name] = {k: float(np.mean(v)) for k, v in res.items()}
        table[name + " last"] = {k: v[-1] for k, v in res.items()}
    frame = pd.DataFrame(table)
    pd.set_option("display.width", 200)
    print((frame * 100).round(1).to_string())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
