"""Why the real retailer's 13-week holdout forecast runs high: the controls, by least squares.

A diagnosis, not a benchmark: the model's own baseline design (six yearly Fourier pairs, a
linear trend, the plain plan's five controls; ``examples/real_retailer_plain/plan.toml``)
fitted by ridge-free least squares to all but the last 13 weeks of
``../shared/data/real_retailer_weekly/data.csv``, forecasting those 13 weeks from their
actual controls. Printed: holdout MAPE and bias (forecast minus actual over the actual
mean) with each set of columns, each control alone (and how many training SDs its holdout
mean lies from its training mean), the controls as deviations from their 13-week trailing
mean (``[model] control_form = "deviation"``), seasonal naive on the same weeks, the
year-on-year ratio of the holdout weeks and the correlation of detrended log sales with
their value 52 weeks earlier. Run::

    python benchmarks/diag_retailer_controls.py
"""

from __future__ import annotations

import tomllib
from pathlib import Path

import numpy as np
import pandas as pd

from omnimmm.mmm.timevarying import control_deviation

REPO = Path(__file__).resolve().parents[1]
PLAN = REPO / "examples" / "real_retailer_plain" / "plan.toml"
HOLDOUT = 13


def _fit(x: np.ndarray, y: np.ndarray, n: int) -> tuple[float, float]:
    """Least squares on the first ``n`` weeks; holdout MAPE and relative bias."""
    mu, sd = x[:n].mean(axis=0), x[:n].std(axis=0)
    sd[sd == 0] = 1.0
    a = np.column_stack([np.ones(len(y)), (x - mu) / sd])
    coef = np.linalg.lstsq(a[:n], y[:n], rcond=None)[0]
    f = a[n:] @ coef
    return float(np.mean(np.abs(f - y[n:]) / y[n:])), float(np.mean(f - y[n:]) / y[n:].mean())


def main() -> int:
    """Print the diagnosis."""
    plan = tomllib.loads(PLAN.read_text(encoding="utf-8"))
    data = pd.read_csv((PLAN.parent / plan["data"]["path"]).resolve(), parse_dates=["wk_strt_dt"])
    y = data["sales"].to_numpy(dtype=float)
    n = len(y) - HOLDOUT
    t = np.arange(len(y)) / (n - 1)
    phase = (
        2 * np.pi * (data["wk_strt_dt"] - pd.Timestamp("2000-01-03")).dt.days.to_numpy() / 365.25
    )
    fourier = np.column_stack([f(k * phase) for k in range(1, 7) for f in (np.sin, np.cos)])
    names = plan["data"]["controls"]
    ctrl = data[names].to_numpy(dtype=float)
    dev = control_deviation(ctrl, np.zeros((0, len(names))), 13)
    naive = y[n - 52 : n - 52 + HOLDOUT]
    print(f"seasonal naive: MAPE {np.mean(np.abs(naive - y[n:]) / y[n:]):.1%}")
    for label, x in (
        ("fourier + trend", np.column_stack([fourier, t])),
        ("fourier + trend + controls", np.column_stack([fourier, t, ctrl])),
        ("fourier + trend + controls as deviations", np.column_stack([fourier, t, dev])),
    ):
        mape, bias = _fit(x, y, n)
        print(f"{label}: MAPE {mape:.1%}, bias {bias:+.1%}")
    for j, c in enumerate(names):
        mape, bias = _fit(np.column_stack([fourier, t, ctrl[:, j]]), y, n)
        z = (ctrl[n:, j].mean() - ctrl[:n, j].mean()) / ctrl[:n, j].std()
        print(f"  + {c} alone: MAPE {mape:.1%}, bias {bias:+.1%}; holdout mean {z:+.2f} SDs")
    print("year-on-year ratio of the holdout weeks:", np.round(y[n:] / naive, 2).tolist())
    logs = np.log(y)
    resid = logs - pd.Series(logs).rolling(9, center=True, min_periods=1).median().to_numpy()
    print(
        f"corr(detrended log sales, 52 weeks earlier): {np.corrcoef(resid[52:], resid[:-52])[0, 1]:.2f}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
