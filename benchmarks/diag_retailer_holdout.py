"""Why the real retailer's 13-week holdout loses to seasonal naive: a diagnosis, not a benchmark.

Three questions, each answered from the panel alone (``../shared/data/real_retailer_weekly``,
the plain plan's columns):

1. *Is last year's same week usually informative?* Seasonal naive (the same week 52 weeks
   earlier) scored on every disjoint 13-week window of the panel, and the lag-52 (and 53,
   104) autocorrelation of the training weeks' residuals after trend, yearly Fourier terms
   and the holidays. A yearly-lag structure can only be learnt if the training data show it.
2. *How close can any regression on the panel's columns get on the holdout weeks?* Ordinary
   least squares on trend, yearly Fourier terms (up to 26 harmonics: a free effect per week
   of the year), the 22 holidays, the five controls and the media (adstocked), fitted on
   *all* weeks including the holdout's: its in-sample error on the holdout weeks is a lower
   bound for any forecast built from these columns with these shapes.
3. *Where does the model's own holdout forecast go wrong?* With ``--run DIR`` (a run folder
   of ``omnimmm run`` on ``examples/real_retailer_plain/plan.toml``, e.g. kept by
   ``bench_plain_plans.py --keep``): per week, the actual, the forecast and its 90% band,
   seasonal naive; the bias; and the forecast's parts against the same weeks a year
   earlier (``tables/holdout_parts.csv``).

Run::

    python benchmarks/diag_retailer_holdout.py [--run DIR]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parents[1]
DATA = REPO.parent / "shared" / "data" / "real_retailer_weekly" / "data.csv"
PLAN_CONTROLS = ["st_ct", "mrkdn_pdm", "mrkdn_valadd_edw", "me_ics_all", "me_gas_dpg"]
HOLDOUT = 13
EPOCH = pd.Timestamp("2000-01-03")


def fourier(dates: pd.DatetimeIndex, order: int) -> np.ndarray:
    """Yearly Fourier terms of ``order`` harmonics (phase from the model's epoch)."""
    phase = 2 * np.pi * (dates - EPOCH).days.to_numpy(dtype=float) / 365.25
    return np.column_stack([f(k * phase) for k in range(1, order + 1) for f in (np.sin, np.cos)])


def adstock(x: np.ndarray, alpha: float = 0.4, lags: int = 8) -> np.ndarray:
    """Geometric adstock of spend scaled by its mean (columns)."""
    x = x / np.maximum(x.mean(axis=0), 1e-9)
    out = np.zeros_like(x)
    for lag in range(lags):
        out[lag:] += alpha**lag * x[: len(x) - lag]
    return out


def mape(forecast: np.ndarray, actual: np.ndarray) -> float:
    """Mean absolute percentage error."""
    return float(np.mean(np.abs(forecast - actual) / actual))


def yearly_lag_evidence(frame: pd.DataFrame) -> None:
    """Question 1: seasonal naive per 13-week window, residual autocorrelation."""
    y = frame["sales"].to_numpy(dtype=float)
    dates = pd.DatetimeIndex(frame["wk_strt_dt"])
    print("Seasonal naive (lag 52) MAPE on every disjoint 13-week window ending at the data's end:")
    rows = []
    for start in range(len(y) - HOLDOUT, 51, -HOLDOUT):
        a, f = y[start : start + HOLDOUT], y[start - 52 : start - 52 + HOLDOUT]
        rows.append((dates[start].date().isoformat(), mape(f, a)))
    for d, v in reversed(rows):
        print(f"  from {d}: {v:.1%}")
    others = [v for _, v in rows[1:]]
    print(
        f"  the holdout window: {rows[0][1]:.1%}; the other {len(others)} windows: "
        f"median {np.median(others):.1%}, best {min(others):.1%}"
    )
    n = len(y) - HOLDOUT
    hol = frame[[c for c in frame.columns if c.startswith("hldy_")]].to_numpy(dtype=float)
    t = np.arange(len(y)) / n
    x = np.column_stack([np.ones(len(y)), t, fourier(dates, 6), hol])
    coef = np.linalg.lstsq(x[:n], y[:n], rcond=None)[0]
    r = (y - x @ coef)[:n]
    acf = {lag: float(np.corrcoef(r[lag:], r[:-lag])[0, 1]) for lag in (1, 13, 52, 53, 104)}
    print(
        "Training residuals (trend, 6 harmonics, holidays) autocorrelation: "
        + ", ".join(f"lag {k} {v:+.2f}" for k, v in acf.items())
    )


def regression_floor(frame: pd.DataFrame) -> None:
    """Question 2: least squares fitted on all weeks, scored on the holdout weeks."""
    y = frame["sales"].to_numpy(dtype=float)
    dates = pd.DatetimeIndex(frame["wk_strt_dt"])
    n = len(y) - HOLDOUT
    act = y[n:]
    hol = frame[[c for c in frame.columns if c.startswith("hldy_")]].to_numpy(dtype=float)
    ctl = frame[PLAN_CONTROLS].to_numpy(dtype=float)
    spend = adstock(frame[[c for c in frame.columns if c.startswith("mdsp_")]].to_numpy(float))
    t = np.arange(len(y)) / n
    print("Least squares on the holdout weeks (in-sample: fitted on all weeks; forecast: on")
    print("the weeks before the holdout), MAPE on the 13 holdout weeks:")
    flat = mape(np.full(HOLDOUT, act.mean()), act)
    print(f"  a flat line at the holdout weeks' own mean: {flat:.1%}")
    for label, blocks in (
        ("trend + Fourier", []),
        ("+ holidays", [hol]),
        ("+ holidays, controls, media", [hol, ctl, spend]),
    ):
        for order in (6, 26):
            x = np.column_stack([np.ones(len(y)), t, fourier(dates, order), *blocks])
            inside = x[n:] @ np.linalg.lstsq(x, y, rcond=None)[0]
            ahead = x[n:] @ np.linalg.lstsq(x[:n], y[:n], rcond=None)[0]
            print(
                f"  {label}, {order} harmonics: in-sample {mape(inside, act):.1%}, "
                f"forecast {mape(ahead, act):.1%}"
            )
    sn = y[n - 52 : n - 52 + HOLDOUT]
    print(f"  seasonal naive: {mape(sn, act):.1%}")


def model_forecast(frame: pd.DataFrame, run: Path) -> None:
    """Question 3: the run's holdout table and forecast parts."""
    table = pd.read_csv(run / "tables" / "holdout.csv", parse_dates=["date"])
    y = frame.set_index("wk_strt_dt")["sales"]
    table["seasonal_naive"] = [y.get(d - pd.Timedelta(weeks=52), np.nan) for d in table["date"]]
    table["err"] = table["mean"] / table["actual"] - 1
    table["sn_err"] = table["seasonal_naive"] / table["actual"] - 1
    table["inside"] = (table["low"] <= table["actual"]) & (table["actual"] <= table["high"])
    show = table[["date", "actual", "mean", "low", "high", "seasonal_naive"]].copy()
    show["date"] = show["date"].dt.date.astype(str)
    show[["actual", "mean", "low", "high", "seasonal_naive"]] /= 1e6
    show["err"] = table["err"].map("{:+.0%}".format)
    show["sn_err"] = table["sn_err"].map("{:+.0%}".format)
    show["inside"] = table["inside"]
    print("Holdout weeks (millions):")
    print(show.round(1).to_string(index=False))
    print(
        f"  model MAPE {table['err'].abs().mean():.1%}, bias {table['err'].mean():+.1%} "
        f"(total {table['mean'].sum() / table['actual'].sum() - 1:+.1%}); seasonal naive "
        f"MAPE {table['sn_err'].abs().mean():.1%}; 90% band covers {table['inside'].mean():.0%}"
    )
    level = table["actual"].sum() / table["mean"].sum()
    print(
        f"  with the level corrected (forecast x {level:.3f}): MAPE "
        f"{(table['mean'] * level / table['actual'] - 1).abs().mean():.1%}: the rest is the "
        "week-to-week shape"
    )
    parts = run / "tables" / "holdout_parts.csv"
    if parts.is_file():
        p = pd.read_csv(parts)
        num = p.select_dtypes("number").columns
        p[num] = p[num] / 1e6
        print("Forecast parts, mean per week (millions), holdout weeks vs a year earlier:")
        print(p.round(2).to_string(index=False))


def main(argv: list[str] | None = None) -> int:
    """Print the three diagnoses."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--run", type=Path, default=None, help="an omnimmm run folder")
    args = ap.parse_args(argv)
    frame = pd.read_csv(DATA, parse_dates=["wk_strt_dt"])
    yearly_lag_evidence(frame)
    regression_floor(frame)
    if args.run is not None:
        model_forecast(frame, args.run)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
