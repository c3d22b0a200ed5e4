"""Noise likelihood: normal, Student-t and the default "auto", in full-settings backtests on
the five plain-plan panels and in the normal fit's tail test.

For each panel of :mod:`bench_plain_plans` (its plain plan, today's defaults otherwise),
``omnimmm backtest`` with 4 origins x 13 weeks at the plan's own sampler settings, seed 0,
with ``[model] likelihood = "normal"`` (the default before "auto"), ``"student_t"`` and
``"auto"`` (normal unless the normal fit's residuals fail the excess-kurtosis test at 0.1%,
then Student-t: :mod:`omnimmm.mmm.tails`). The columns are :mod:`bench_noise_models`'s
(MAPE, bias, coverage, calibration per origin and by tercile), plus, per panel, the tail
test of a normal fit on the last origin's training weeks (the holdout run's) and the
Student-t fit's posterior degrees of freedom there.

Each backtest is written to ``--cache/PANEL-VARIANT`` and read from there when present
(``PANEL-const`` of :mod:`bench_noise_models` is this script's ``normal``: same plan). Run::

    python benchmarks/bench_likelihood.py [--only PANEL ...] [--cache DIR] [--no-write]
"""

from __future__ import annotations

import dataclasses
import sys
import tempfile
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _results import machine_header, markdown_table, update_section
from bench_noise_models import ROW_COLUMNS, backtest_parser, backtest_row
from bench_plain_plans import PANELS, backtest_variant, plan_for

VARIANTS = {
    "normal": {"likelihood": "normal"},
    "student_t": {"likelihood": "student_t"},
    "auto": {"likelihood": "auto"},
}
#: Cache folders of bench_noise_models that hold the same backtest.
ALIASES = {"normal": "const"}


def tails(panel: str) -> list[str]:
    """The normal fit's tail test and the Student-t fit's degrees of freedom (5%, 50%,
    95%) on the panel's weeks before its 13-week holdout, one line per outcome."""
    from omnimmm.config import load_plan
    from omnimmm.data.io import load_panel
    from omnimmm.mmm import ModelSpec, OmniMMM
    from omnimmm.mmm.analysis import head_panel
    from omnimmm.mmm.tails import tail_check

    with tempfile.TemporaryDirectory() as tmp:
        plan = load_plan(plan_for(panel, Path(tmp)))
        data = load_panel(plan)
    head = head_panel(data, data.n_weeks - 13)
    spec = ModelSpec.from_plan(plan)
    normal = OmniMMM(spec=dataclasses.replace(spec, likelihood="normal")).fit(head)
    check = tail_check(normal)
    heavy = OmniMMM(spec=dataclasses.replace(spec, likelihood="student_t")).fit(head)
    nu = heavy.idata_.posterior["noise_df"].to_numpy().reshape(-1, len(check["outcomes"]))
    lines = []
    for k, o in enumerate(check["outcomes"]):
        q = np.quantile(nu[:, k], [0.05, 0.5, 0.95])
        lines.append(
            f"{panel} ({o}, {check['weeks']} weeks): excess kurtosis "
            f"{check['excess_kurtosis'][k]:.2f}, z {check['z'][k]:.2f}, p {check['p'][k]:.2g} "
            f"(refit below {check['alpha']:.2g}: {'yes' if check['p'][k] < check['alpha'] else 'no'}); "
            f"Student-t nu {q[1]:.1f} ({q[0]:.1f}-{q[2]:.1f})"
        )  # fmt: skip
    return lines


def main(argv: list[str] | None = None) -> int:
    """Run (or read) the backtests and tail tests and write the RESULTS.md section."""
    ap = backtest_parser(__doc__, list(VARIANTS))
    ap.add_argument("--no-tails", action="store_true", help="skip the tail-test fits")
    args = ap.parse_args(argv)
    warnings.filterwarnings("ignore")
    header = machine_header(("omnimmm", "pymc", "nutpie", "statsmodels", "scipy"))
    rows, notes = [], []
    for panel in args.only or PANELS:
        for variant in args.variant or list(VARIANTS):
            folder = args.cache / f"{panel}-{variant}"
            alias = args.cache / f"{panel}-{ALIASES.get(variant, variant)}"
            if not (folder / "backtest.json").is_file() and (alias / "backtest.json").is_file():
                folder = alias
            out = backtest_variant(panel, VARIANTS[variant], folder)
            summary, cells = backtest_row(out)
            per_origin = " / ".join(f"{o['omnimmm']['mape']:.1%}" for o in summary["origins"])
            row = [panel, variant, *cells[:4], per_origin, *cells[4:]]
            print(" | ".join(row), flush=True)
            rows.append(row)
        if not args.no_tails:
            for line in tails(panel):
                print(line, flush=True)
                notes.append(f"- {line}")
    if args.no_write:
        return 0
    body = "\n".join(
        [
            "## Noise likelihood: normal, Student-t and auto on five panels",
            "",
            "`benchmarks/bench_likelihood.py`: each panel's plain plan, `omnimmm backtest` "
            "with 4 origins x 13 weeks at the plans' own sampler settings, seed 0, with "
            '`[model] likelihood = "normal"` (the default before this), `"student_t"` and '
            '`"auto"` (the default now: normal unless the normal fit\'s residuals reject '
            "normal tails in the excess-kurtosis test at 0.1%, then refitted as Student-t). "
            "vs better: 1 - MAPE / the better of seasonal naive and ETS. rms z: the root "
            "mean square of the errors standardised by each week's interval (1 if "
            "calibrated), per origin, and by tercile of the forecast level with the "
            "coverage. Gate: refits passing it (after remedies).",
            "",
            header.rstrip(),
            "",
            markdown_table(
                ["panel", "likelihood", *ROW_COLUMNS[:4], "MAPE per origin", *ROW_COLUMNS[4:]],
                rows,
            ),  # fmt: skip
            "",
            "Tail test of a normal fit on the weeks before the 13-week holdout, and the "
            "Student-t fit's degrees of freedom (posterior median, 90% interval) there:",
            "",
            *notes,
        ]
    )
    update_section("likelihood_auto", body + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
