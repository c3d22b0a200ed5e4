"""Are the backtests' 90% intervals calibrated? A diagnosis from ``omnimmm backtest`` folders.

For each folder (``tables/backtest.csv``: ``origin, date, outcome, actual, mean, low,
high``; e.g. the cache of ``bench_control_forms.py``), the forecast errors are standardised
by the interval's implied standard deviation (half its width / 1.645, the predictive being
close to normal: parameter draws plus Gaussian noise). A calibrated interval gives
standardised errors with root mean square 1, a 90% quantile of ``|z|`` at 1.645 and half of
them inside ``|z| < 0.674``. The script also prints how likely the observed coverage is for a
calibrated 90% interval over that many weeks (binomial, weeks taken as independent, which
flatters: weeks of one origin share the refit's errors), so a 96% over 52 weeks can be told
apart from a miscalibration. Run::

    python benchmarks/diag_interval_calibration.py DIR [DIR ...]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

Z90 = stats.norm.ppf(0.95)
Z50 = stats.norm.ppf(0.75)


def calibration(table: pd.DataFrame) -> dict[str, float]:
    """Coverage and standardised-error statistics of one backtest table."""
    sd = (table["high"] - table["low"]) / (2 * Z90)
    z = ((table["actual"] - table["mean"]) / sd).to_numpy(dtype=float)
    inside = (table["low"] <= table["actual"]) & (table["actual"] <= table["high"])
    n, k = len(table), int(inside.sum())
    dist = stats.binom(n, 0.9)
    return {
        "weeks": n,
        "coverage": k / n,
        "p_as_extreme": float(2 * min(dist.cdf(k), dist.sf(k - 1), 0.5)),
        "rms_z": float(np.sqrt(np.mean(z**2))),
        "q90_abs_z": float(np.quantile(np.abs(z), 0.9)),
        "share_abs_z_below_0.674": float(np.mean(np.abs(z) < Z50)),
        "bias_z": float(np.mean(z)),
    }


def main(argv: list[str] | None = None) -> int:
    """Print one row per backtest folder."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("folders", nargs="+", type=Path)
    args = ap.parse_args(argv)
    rows = {}
    for folder in args.folders:
        table = pd.read_csv(folder / "tables" / "backtest.csv")
        rows[folder.name] = calibration(table)
    frame = pd.DataFrame(rows).T
    pd.set_option("display.width", 200)
    print(frame.round(3).to_string())
    print(f"calibrated: rms_z 1, q90_abs_z {Z90:.3f}, share_abs_z_below_0.674 0.5, bias_z 0")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
