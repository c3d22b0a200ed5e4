"""Fixed vs moving baseline: rolling backtests on the four real and peer panels.

``[model] baseline`` is chosen by rolling-origin backtests, not by the single holdout the
run reports: for each panel of :mod:`bench_plain_plans` (its plain plan: channels, kinds,
non-media columns as controls, nothing else) and each baseline variant, ``omnimmm
backtest`` refits at K = 4 origins and forecasts 13 weeks from each (52 forecast weeks per
panel), next to seasonal naive and ETS fitted on the same weeks. Variants:

- ``fixed``: one level per outcome, linear trend, yearly Fourier terms, controls;
- ``local_level``: the level a random walk on knots every 13 weeks (step scale
  ``HalfNormal(0.05)`` of the mean week), the same trend, seasonality and controls;
- ``local_level_no_trend``: the same without the linear trend (the walk takes its place and
  nothing is extrapolated as a slope);
- ``deviation_controls``: the fixed baseline, each continuous control as its deviation from
  its mean over the previous 13 weeks (``control_form = "deviation"``);
- ``local_level_no_trend_deviation_controls``: both.

Run::

    python benchmarks/bench_baseline.py [--fast] [--only PANEL ...] [--variant V ...]
        [--cache DIR] [--no-write]

``--fast`` uses the backtest's quick sampler settings (2 chains x 200 draws); without it
each refit runs the plan's own (4 x 1000 after 1000 tuning steps). Each backtest's
``backtest.json`` is kept under ``--cache`` (default ``$TMPDIR/omnimmm_bench_baseline``), and a
run with the same settings reads it instead of refitting. It rewrites its section of
``benchmarks/RESULTS.md`` when every panel and variant ran.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _results import machine_header, markdown_table, update_section
from bench_plain_plans import PANELS, plan_for, variant_plan
from bench_plain_plans import run_one as run_quarterly

REPO = Path(__file__).resolve().parents[1]
VARIANTS = {
    "fixed": {"baseline": "fixed"},
    "local_level": {"baseline": "local_level"},
    "local_level_no_trend": {"baseline": "local_level", "trend": False},
    "deviation_controls": {"control_form": "deviation"},
    "local_level_no_trend_deviation_controls": {
        "baseline": "local_level",
        "trend": False,
        "control_form": "deviation",
    },
}


def run_one(panel: str, variant: str, fast: bool, cache: Path) -> dict:
    """The backtest of one panel and variant (from the cache when it holds one)."""
    from omnimmm.run.backtest import backtest

    key = cache / f"{panel}-{variant}-{'fast' if fast else 'full'}.json"
    if key.is_file():
        return json.loads(key.read_text(encoding="utf-8"))
    with tempfile.TemporaryDirectory() as tmp_s:
        tmp = Path(tmp_s)
        (tmp / "in").mkdir()
        (tmp / "v").mkdir()
        plan = variant_plan(plan_for(panel, tmp / "in"), VARIANTS[variant], tmp / "v")
        summary = backtest(plan, tmp / "bt", origins=4, horizon=13, fast=fast)
        scores = summary.scores
        scores["seconds"] = summary.seconds
    cache.mkdir(parents=True, exist_ok=True)
    key.write_text(json.dumps(scores, indent=1), encoding="utf-8")
    return scores


def run_full(panel: str, variant: str, cache: Path) -> dict:
    """``omnimmm run`` (gate and 13-week holdout at default settings) of one panel and variant."""
    key = cache / f"{panel}-{variant}-run.json"
    if key.is_file():
        return json.loads(key.read_text(encoding="utf-8"))
    r = run_quarterly(panel, VARIANTS[variant])
    cache.mkdir(parents=True, exist_ok=True)
    key.write_text(json.dumps(r, indent=1, default=str), encoding="utf-8")
    return r


def _run_row(panel: str, variant: str, r: dict) -> list[str]:
    if r["exit"]:
        return [panel, variant, str(r["exit"]), "-", "-", "-", "failed", "-", "-", "-", "-"]
    return [
        panel, variant, "0", f"{r['rhat']:.3f}", f"{r['ess']:.0f}", str(r["divergences"]),
        "passed" if r["gate"] else "FAILED", f"{r['mape']:.1%}",
        f"{r['seasonal_naive']:.1%}", f"{r['ets']:.1%}", f"{r['improvement']:+.1%}",
    ]  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    """Run the backtests and write the RESULTS.md section."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--only", action="append", choices=PANELS)
    ap.add_argument("--variant", action="append", choices=list(VARIANTS))
    ap.add_argument("--fast", action="store_true")
    ap.add_argument(
        "--cache", type=Path, default=Path(tempfile.gettempdir()) / "omnimmm_bench_baseline"
    )
    ap.add_argument("--no-write", action="store_true")
    ap.add_argument(
        "--cached-only",
        action="store_true",
        help="report only what the cache holds (the section lists what was not run)",
    )
    ap.add_argument(
        "--runs",
        action="store_true",
        help="also omnimmm run each panel and variant (gate, holdout)",
    )
    args = ap.parse_args(argv)
    warnings.filterwarnings("ignore")
    header = machine_header(("omnimmm", "pymc", "nutpie", "statsmodels"))
    rows, wins, missing = [], {}, []
    for panel in args.only or PANELS:
        best: tuple[float, str] | None = None
        for variant in args.variant or list(VARIANTS):
            key = args.cache / f"{panel}-{variant}-{'fast' if args.fast else 'full'}.json"
            if args.cached_only and not key.is_file():
                missing.append(f"{panel}/{variant}")
                continue
            s = run_one(panel, variant, args.fast, args.cache)
            o = s["overall"]
            own = o["omnimmm"]
            fits = s.get("fits", [])
            rhat = max((f["rhat_max"] for f in fits), default=float("nan"))
            ess = min((f["ess_bulk_min"] for f in fits), default=float("nan"))
            div = sum(f["divergences"] for f in fits)
            row = [
                panel, variant, f"{own['mape']:.1%}", f"{own['bias']:+.1%}",
                f"{own['coverage']:.0%}",
                f"{o['baselines']['seasonal_naive']['mape']:.1%}",
                f"{o['baselines']['ets']['mape']:.1%}", f"{o['improvement']:+.1%}",
                f"{rhat:.3f}", f"{ess:.0f}", str(div),
            ]  # fmt: skip
            print(" | ".join(row), flush=True)
            rows.append(row)
            if best is None or own["mape"] < best[0]:
                best = (own["mape"], variant)
        if best is not None:
            wins[panel] = best[1]
    run_rows = []
    if args.runs:
        for panel in args.only or PANELS:
            for variant in args.variant or list(VARIANTS):
                if args.cached_only and not (args.cache / f"{panel}-{variant}-run.json").is_file():
                    continue
                row = _run_row(panel, variant, run_full(panel, variant, args.cache))
                print(" | ".join(row), flush=True)
                run_rows.append(row)
    settings = (
        "quick settings (2 chains x 200 draws after 200 tuning steps)"
        if args.fast
        else ("the plans' own sampler settings (4 chains x 1000 draws after 1000 tuning steps)")
    )
    lines = [
        "## Fixed vs moving baseline: rolling backtests on real and peer panels",
        "",
        "`benchmarks/bench_baseline.py`: each panel's plain plan (as in `bench_plain_plans`), "
        "`omnimmm backtest` with 4 origins x 13 weeks (52 forecast weeks per panel), each "
        f"refit at {settings}, seed 0. MAPE, bias and 90% interval coverage over the 52 "
        "weeks; the baselines fitted on the same weeks; vs better: 1 - MAPE / the better "
        "baseline's MAPE. R-hat, ESS and divergences: worst over the 4 refits.",
        "",
        header.rstrip(),
        "",
        markdown_table(
            [
                "panel",
                "baseline",
                "MAPE",
                "bias",
                "coverage",
                "seasonal naive",
                "ETS",
                "vs better",
                "max R-hat",
                "min ESS",
                "div.",
            ],
            rows,
        ),  # fmt: skip
        "",
        "Lowest backtest MAPE: " + ", ".join(f"{p} {v}" for p, v in wins.items()) + ".",
    ]
    if missing:
        lines += ["", "Not run (no time on the shared machine): " + ", ".join(missing) + "."]
    if run_rows:
        lines += [
            "",
            "`omnimmm run` of each panel and variant at default settings (4 x 1000 after 1000 "
            "tuning steps, seed 0): the quality gate and the 13-week holdout against seasonal "
            "naive and ETS on the same weeks.",
            "",
            markdown_table(
                [
                    "panel",
                    "baseline",
                    "exit",
                    "max R-hat",
                    "min ESS",
                    "div.",
                    "gate",
                    "holdout MAPE",
                    "seasonal naive",
                    "ETS",
                    "vs better",
                ],
                run_rows,
            ),  # fmt: skip
        ]
    section = "\n".join(lines)
    print(section)
    complete = args.cached_only or (not args.only and not args.variant)
    if not args.no_write and complete:
        print(f"updated {update_section('bench_baseline', section)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
