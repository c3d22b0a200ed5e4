"""omnimmm end to end on the real retailer, and its holdout forecast against classical baselines.

Data: ``../shared/data/real_retailer_weekly`` (209 weeks, 10 paid channels online and
offline, one sales KPI), converted by :func:`omnimmm.data.peers.real_retailer`: store count
and markdowns as controls, holiday weeks as events, no Chinese festival calendar.

Steps: the media pre-check (VIF, correlations, dark weeks); a fit on all weeks with its
diagnostics, quality gate and ROI per channel; a holdout: the model refitted without the
last ``--holdout`` weeks (26 by default) forecasts them from their actual spend and
controls, and its MAPE is set against a seasonal-naive and an ETS forecast from the same
training weeks (:mod:`omnimmm.mmm.baselines`).

Run (the shared venv suffices)::

    python benchmarks/bench_real_retailer.py --chains 4 --draws 1000 --tune 1000

It prints the result and rewrites its section of ``benchmarks/RESULTS.md``. With
``--roi-prior tv=1.0,0.5`` (repeatable) the named channels get informative ROI priors, the
remedy the quality gate names for a channel the data cannot pin down, and the result goes
to a section of its own. With ``--drop-control NAME`` (repeatable) the named controls are
left out of the model (a sensitivity check on a control that does not hold out of sample;
its own section too).

Besides MAPE, sMAPE and RMSE the holdout table gives each forecast's bias (its holdout total
against the actual total), and a second table splits the refit's holdout forecast into its
parts next to the same weeks a year earlier, so a forecast that runs high or low shows which
part moved.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
import warnings
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _results import machine_header, markdown_table, update_section

REPO = Path(__file__).resolve().parents[1]
DEFAULT_SOURCE = REPO.parent / "shared" / "data" / "real_retailer_weekly"


def main(argv: list[str] | None = None) -> int:
    """Fit, hold out, compare with the baselines and write the RESULTS.md section."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--source", type=Path, default=DEFAULT_SOURCE)
    ap.add_argument("--chains", type=int, default=4)
    ap.add_argument("--draws", type=int, default=1000)
    ap.add_argument("--tune", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--holdout", type=int, default=26)
    ap.add_argument(
        "--roi-prior",
        action="append",
        default=[],
        metavar="CHANNEL=MEAN,SD",
        help="an informative ROI prior for one channel (repeatable); the result is written "
        "to its own RESULTS.md section",
    )
    ap.add_argument(
        "--drop-control",
        action="append",
        default=[],
        metavar="NAME",
        help="leave this control out of the model (repeatable); the result is written to "
        "its own RESULTS.md section",
    )
    ap.add_argument("--no-write", action="store_true", help="do not touch RESULTS.md")
    args = ap.parse_args(argv)
    priors = {}
    for item in args.roi_prior:
        name, _, value = item.partition("=")
        mean, _, sd = value.partition(",")
        try:
            priors[name] = {"mean": float(mean), "sd": float(sd)}
        except ValueError:
            ap.error(f"--roi-prior {item!r}: expected CHANNEL=MEAN,SD, e.g. tv=1.0,0.5")

    warnings.filterwarnings("ignore", category=UserWarning)
    from omnimmm.config import load_plan
    from omnimmm.data import load_panel
    from omnimmm.data.peers import real_retailer
    from omnimmm.errors import QualityGateError
    from omnimmm.mmm import OmniMMM
    from omnimmm.mmm.baselines import accuracy, holdout_baselines
    from omnimmm.mmm.precheck import precheck_spend

    header = machine_header(("omnimmm", "pymc", "nutpie", "statsmodels"))
    with tempfile.TemporaryDirectory() as tmp:
        real_retailer(args.source).write(tmp)
        plan = load_plan(Path(tmp) / "plan.toml")
        if priors or args.drop_control:
            import tomllib

            from omnimmm.config import plan_from_dict

            raw = tomllib.loads((Path(tmp) / "plan.toml").read_text(encoding="utf-8"))
            known = {c["name"] for c in raw["channels"]}
            if not set(priors) <= known:
                ap.error(f"--roi-prior: unknown channel(s) {sorted(set(priors) - known)}")
            for c in raw["channels"]:
                if c["name"] in priors:
                    c["roi_prior"] = priors[c["name"]]
            controls = raw["data"]["controls"]
            if not set(args.drop_control) <= set(controls):
                ap.error(f"--drop-control: not a control of the plan; controls are {controls}")
            raw["data"]["controls"] = [c for c in controls if c not in args.drop_control]
            plan = plan_from_dict(raw, source=Path(tmp) / "plan.toml", base_dir=tmp)
        panel = load_panel(plan)

    pre = precheck_spend(panel.spend)
    print(pre.message())
    baselines = holdout_baselines(panel.outcomes, args.holdout)
    print(baselines.to_string())

    settings = {"chains": args.chains, "draws": args.draws, "tune": args.tune, "seed": args.seed}
    t0 = time.perf_counter()
    model = OmniMMM(plan, **settings).fit(panel)
    fit_s = time.perf_counter() - t0
    diag = model.diagnostics_
    try:
        model.quality_gate()
        gate = "passed"
    except QualityGateError as exc:
        gate = "failed: " + str(exc).split("\n")[0].rstrip(".")
    roi = model.roi()
    print(f"full fit {fit_s:.0f} s; {diag}")
    print(roi[["spend", "mean", "low", "high"]].to_string())

    t0 = time.perf_counter()
    hold = model.holdout(args.holdout)
    hold_s = time.perf_counter() - t0
    mmm_mape = hold.mape["sales"]
    print(f"holdout refit + forecast {hold_s:.0f} s; MAPE {mmm_mape:.4f}")

    own = {**accuracy(hold.table["actual"], hold.table["mean"]), "mape": mmm_mape}
    rows = [
        [label, f"{r['mape']:.1%}", f"{r['smape']:.1%}", f"{r['rmse']:,.0f}", f"{r['bias']:+.1%}"]
        for label, r in [
            ("omnimmm (refit on first weeks)", own),
            *((f"{r['method']} ({r['variant']})", r) for _, r in baselines.iterrows()),
        ]
    ]
    parts = _forecast_parts(hold.model, panel, args.holdout)
    print(parts.to_string())
    best = baselines.loc[baselines["mape"].idxmin()]
    verdict = (
        f"omnimmm beats the best baseline ({best['method']}, {best['mape']:.1%})"
        if mmm_mape < best["mape"]
        else f"omnimmm does NOT beat the best baseline ({best['method']}, {best['mape']:.1%})"
    )
    roi_rows = [
        [str(c), plan.channel(c).kind, f"{r['spend']:,.0f}", f"{r['mean']:.2f}",
         f"[{r['low']:.2f}, {r['high']:.2f}]"]
        for c, r in roi.iterrows()
    ]  # fmt: skip
    lines = [
        "## MMM on the real retailer: fit and holdout vs baselines"
        + (", informative ROI priors" if priors else "")
        + (", controls left out" if args.drop_control else ""),
        "",
        "`benchmarks/bench_real_retailer.py`: ../shared/data/real_retailer_weekly (209 weeks, "
        "10 paid channels, one sales KPI) via `omnimmm.data.peers.real_retailer`; nutpie, "
        f"{args.chains} chains x {args.draws} draws after {args.tune} tuning steps, seed "
        f"{args.seed}. Holdout: the last {args.holdout} weeks "
        f"({hold.table['date'].min():%Y-%m-%d} to {hold.table['date'].max():%Y-%m-%d}), the "
        "model refitted on the weeks before and forecasting from actual spend and controls; "
        "baselines fitted on the same weeks."
        + (" Controls left out: " + ", ".join(args.drop_control) + "." if args.drop_control else "")
        + (
            " Informative ROI priors: "
            + ", ".join(f"{c} mean {p['mean']:g}, sd {p['sd']:g}" for c, p in priors.items())
            + "; the other channels keep the defaults by kind."
            if priors
            else ""
        ),
        "",
        header.rstrip(),
        "",
        markdown_table(["holdout forecast", "MAPE", "sMAPE", "RMSE", "bias"], rows),
        "",
        f"**{verdict}.**",
        "",
        "The refit's forecast by part (posterior mean per week; controls include the holiday "
        "events), on the held-out weeks and on the same weeks a year earlier (fitted):",
        "",
        markdown_table(
            ["part", "a year earlier", "holdout", "change"],
            [
                [
                    p,
                    f"{r['year_before']:,.0f}",
                    f"{r['holdout']:,.0f}",
                    f"{r['holdout'] - r['year_before']:+,.0f}",
                ]
                for p, r in parts.iterrows()
            ],
        ),
        "",
        f"Full fit: {fit_s:.0f} s wall ({model.timings_['compile']:.0f} s compile, "
        f"{model.timings_['sampling']:.0f} s sampling); max R-hat {diag.rhat_max:.3f}, min "
        f"bulk ESS {diag.ess_bulk_min:.0f}, divergences {diag.divergences}; quality gate "
        f"{gate}. Holdout refit + forecast {hold_s:.0f} s.",
        "",
        "Media pre-check: "
        + ("no collinear, constant or mostly-dark channels" if pre.ok else "; ".join(pre.warnings))
        + f" (max VIF {pre.vif.max():.1f}).",
        "",
        "ROI per channel (sales per unit of spend over all 209 weeks; posterior mean and 90% "
        "interval; real data, so no truth to compare with):",
        "",
        markdown_table(["channel", "kind", "spend", "ROI", "90% interval"], roi_rows),
    ]
    section = "\n".join(lines)
    print(section)
    if not args.no_write:
        name = (
            "bench_real_retailer"
            + ("_priors" if priors else "")
            + ("_controls" if args.drop_control else "")
        )
        print(f"updated {update_section(name, section)}")
    return 0


def _forecast_parts(model, panel, holdout: int) -> pd.DataFrame:
    """The refit's forecast by part (:func:`omnimmm.mmm.explain.forecast_parts`), one outcome.

    Columns ``year_before`` (the same weeks 52 weeks earlier, fitted) and ``holdout``.
    """
    from omnimmm.mmm.explain import forecast_parts

    if panel.n_weeks - holdout < 52:
        raise SystemExit(f"--holdout {holdout} leaves fewer than 52 training weeks")
    parts = forecast_parts(model, panel).xs(model.spec.outcomes[0], level="outcome")
    return parts.rename(columns={"forecast": "holdout"})[["year_before", "holdout"]]


if __name__ == "__main__":
    pd.set_option("display.width", 160)
    raise SystemExit(main())
