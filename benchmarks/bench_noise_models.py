"""Noise models: full-settings rolling backtests on the five plain-plan panels.

For each panel of :mod:`bench_plain_plans` (its plain plan, today's defaults otherwise),
``omnimmm backtest`` with 4 origins x 13 weeks at the plan's own sampler settings, seed 0,
with ``[model] noise = "constant"`` (the default), ``noise = "level"`` (the noise sd grows
with the expected level, ``sigma * level ** p``, ``p`` learnt per outcome),
``seasonal_noise = true`` (the sd follows two yearly harmonics) and both
(``--variant`` picks some). Besides MAPE and coverage it reports the calibration of the
90% intervals per origin (rms of the standardised errors) and by tercile of the forecast
level: the forecast errors standardised by each week's interval
(sd = width / 3.29), whose root mean square is 1 for a calibrated interval. A noise model
that misses how the errors grow with the level shows as terciles far apart (the real
retailer's constant-noise intervals were too wide in its small weeks, about right in its
big ones: ``diag_interval_calibration.py``).

Each backtest is written to ``--cache/PANEL-VARIANT`` (``backtest.json``,
``tables/backtest.csv``) and read from there when present. Run::

    python benchmarks/bench_noise_models.py [--only PANEL ...] [--cache DIR] [--no-write]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _results import machine_header, markdown_table, update_section
from bench_plain_plans import PANELS, backtest_variant

VARIANTS = {
    "const": {},
    "level": {"noise": "level"},
    "season": {"seasonal_noise": True},
    "level_season": {"noise": "level", "seasonal_noise": True},
}
Z90 = 1.6449  # a 90% interval is 2 * Z90 standard deviations wide


def calibration(table: pd.DataFrame) -> list[tuple[float, float]]:
    """Root mean square standardised error and coverage per tercile of the forecast."""
    sd = (table["high"] - table["low"]) / (2 * Z90)
    z = (table["actual"] - table["mean"]) / sd
    inside = (table["actual"] >= table["low"]) & (table["actual"] <= table["high"])
    terc = pd.qcut(table["mean"].rank(method="first"), 3, labels=False)
    return [
        (float(np.sqrt((z[terc == k] ** 2).mean())), float(inside[terc == k].mean()))
        for k in range(3)
    ]


def origin_rms(table: pd.DataFrame) -> list[float]:
    """Root mean square standardised error per origin, in origin order."""
    sd = (table["high"] - table["low"]) / (2 * Z90)
    z2 = ((table["actual"] - table["mean"]) / sd) ** 2
    return [float(np.sqrt(v)) for v in z2.groupby(table["origin"], sort=True).mean()]


#: The columns of :func:`backtest_row` after the panel and variant.
ROW_COLUMNS = (
    "MAPE", "bias", "90% coverage", "vs better", "rms z per origin",
    "low tercile rms z (cov)", "middle", "high", "gate",
)  # fmt: skip


def backtest_row(out: Path) -> tuple[dict, list[str]]:
    """The backtest written to ``out``: its ``backtest.json`` and the table cells of
    :data:`ROW_COLUMNS` (overall MAPE, bias, coverage, gain over the better baseline, rms z
    per origin, rms z and coverage by tercile of the forecast, refits passing the gate)."""
    s = json.loads((out / "backtest.json").read_text(encoding="utf-8"))
    table = pd.read_csv(out / "tables" / "backtest.csv")
    o = s["overall"]
    fits = s.get("fits", [])
    gate = sum(bool(f.get("gate_passed")) for f in fits)
    per_origin = " / ".join(f"{r:.2f}" for r in origin_rms(table))
    return s, [
        f"{o['omnimmm']['mape']:.1%}", f"{o['omnimmm']['bias']:+.1%}",
        f"{o['omnimmm']['coverage']:.1%}", f"{o['improvement']:+.1%}", per_origin,
        *(f"{r:.2f} ({c:.0%})" for r, c in calibration(table)), f"{gate}/{len(fits)}",
    ]  # fmt: skip


def backtest_parser(doc: str, variants: list[str]) -> argparse.ArgumentParser:
    """The arguments of a panel-by-variant backtest script: ``--only PANEL``, ``--variant``,
    ``--cache DIR`` (one folder per backtest) and ``--no-write``."""
    ap = argparse.ArgumentParser(description=doc.split("\n\n")[0])
    ap.add_argument("--only", action="append", choices=PANELS)
    ap.add_argument("--variant", action="append", choices=variants)
    ap.add_argument(
        "--cache", type=Path, default=Path(tempfile.gettempdir()) / "omnimmm_noise_models"
    )
    ap.add_argument("--no-write", action="store_true")
    return ap


def main(argv: list[str] | None = None) -> int:
    """Run (or read) the backtests and write the RESULTS.md section."""
    ap = backtest_parser(__doc__, list(VARIANTS))
    args = ap.parse_args(argv)
    warnings.filterwarnings("ignore")
    header = machine_header(("omnimmm", "pymc", "nutpie", "statsmodels"))
    rows = []
    for panel in args.only or PANELS:
        for variant in args.variant or list(VARIANTS):
            out = backtest_variant(panel, VARIANTS[variant], args.cache / f"{panel}-{variant}")
            row = [panel, variant, *backtest_row(out)[1]]
            print(" | ".join(row), flush=True)
            rows.append(row)
    if args.no_write:
        return 0
    body = "\n".join(
        [
            "## Noise models: full-settings backtests on five panels",
            "",
            "`benchmarks/bench_noise_models.py`: each panel's plain plan, `omnimmm backtest` "
            "with 4 origins x 13 weeks at the plans' own sampler settings, seed 0, with "
            '`[model] noise = "constant"` (const, the default), `noise = "level"`, '
            "`seasonal_noise = true` (season) and both (level_season). vs better: 1 - MAPE / "
            "the better of seasonal naive and ETS. rms z: the root mean square of the errors "
            "standardised by each week's interval (1 if calibrated), per origin, and with "
            "the coverage by tercile of the forecast level (low, middle, high). Gate: refits "
            "passing it (after remedies).",
            "",
            header.rstrip(),
            "",
            markdown_table(
                ["panel", "noise", *ROW_COLUMNS],
                rows,
            ),  # fmt: skip
        ]
    )
    update_section("noise_models", body + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
