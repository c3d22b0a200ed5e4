"""Calibration of the synergy term on worlds that have none (issue 3's negative control).

Each seed simulates a world without synergy (``simulate_world(seed, channels=("search",
"social", "tv", "outdoor"), noise=0.02, synergy=False)``) and fits it with the model that
declares TV x search, as a user who suspects a synergy would. The true gamma is 0 for both
outcomes, so a calibrated model's 90% interval covers 0 on about 90% of seeds, and its
posterior means scatter around 0 with no sign preferred.

Reported per outcome: how many 90% intervals cover 0, how many posterior means are
positive, the average posterior mean and the average half-width of the interval (M/week),
plus one row per seed. The slow test ``tests/test_mmm_synergy_control.py`` checks three
seeds; this script measures many. A fit takes about 5 s on two cores (2 chains x 400
draws after 400 tuning steps, as in the test) on the hand-written log density.

    .venv/bin/python benchmarks/bench_synergy_null.py --seeds 0-16
    .venv/bin/python benchmarks/bench_synergy_null.py --seeds 0-16 --roi-prior truth

The second run centres each channel's ROI prior on its true total ROI (same spread as the
default) and writes its own section: if the posterior means' lean toward positive gamma
goes away there, it comes from the default priors shrinking TV's and search's main effects
(their true ROIs are well above the defaults' means), which the synergy term then makes up.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _results import machine_header, markdown_table, update_section

CHANNELS = ("search", "social", "tv", "outdoor")
PAIR = ("tv", "search")
NOISE = 0.02


def _seeds(text: str) -> list[int]:
    out: list[int] = []
    for part in text.split(","):
        lo, _, hi = part.partition("-")
        out += list(range(int(lo), int(hi or lo) + 1))
    return out


def fit_gamma(
    seed: int, chains: int, draws: int, tune: int, roi_prior: str = "default"
) -> dict[str, object]:
    """Posterior mean and 90% interval of gamma (M/week) per outcome on one null world.

    ``roi_prior``: ``default`` keeps the plan's ROI priors (the defaults by channel kind);
    ``truth`` centres each channel's ROI prior on its true total ROI with the default's
    spread, to tell prior shrinkage of the main effects from other causes of a bias.
    """
    from omnimmm.config import plan_from_dict
    from omnimmm.data.schema import Panel
    from omnimmm.data.simulate import OUTCOMES, simulate_world
    from omnimmm.mmm import ModelSpec, OmniMMM

    world = simulate_world(seed=seed, channels=CHANNELS, noise=NOISE, synergy=False)
    with tempfile.TemporaryDirectory() as tmp:
        plan = plan_from_dict(world.plan, base_dir=tmp)
        if roi_prior == "truth":
            raw = dict(world.plan)
            raw["channels"] = [
                {
                    **c,
                    "roi_prior": {
                        "mean": float(world.truth.roi.loc[c["name"], "total"]),
                        "sd": getattr(plan.model.roi_prior_default, c["kind"]).sd,
                    },
                }
                for c in world.plan["channels"]
            ]
            plan = plan_from_dict(raw, base_dir=tmp)
    panel = Panel.from_frame(world.panel, plan, source="world.csv")
    spec = dataclasses.replace(ModelSpec.from_plan(plan), synergies=(PAIR,))
    t0 = time.perf_counter()
    m = OmniMMM(plan, spec=spec, chains=chains, draws=draws, tune=tune, seed=1).fit(panel)
    wall = time.perf_counter() - t0
    y_scale = np.asarray(m.response_.scaling.outcome_scale)
    row: dict[str, object] = {"seed": seed, "wall_s": wall, "rhat": m.diagnostics_.rhat_max}
    for k, o in enumerate(OUTCOMES):
        g = m.response_.params["gamma"][:, 0, k] * y_scale[k] / 1e6
        lo, hi = np.quantile(g, [0.05, 0.95])
        row[o] = (float(np.mean(g)), float(lo), float(hi))
    return row


def render(rows: list[dict], settings: str, header: str, roi_prior: str = "default") -> str:
    from omnimmm.data.simulate import OUTCOMES

    n = len(rows)
    summary = []
    for o in OUTCOMES:
        means = np.array([r[o][0] for r in rows])
        cover = sum(r[o][1] <= 0.0 <= r[o][2] for r in rows)
        half = np.mean([(r[o][2] - r[o][1]) / 2 for r in rows])
        summary.append(
            [o, f"{cover}/{n}", f"{int((means > 0).sum())}/{n}", f"{means.mean():.2f}",
             f"{half:.2f}"]
        )  # fmt: skip
    per_seed = [
        [str(r["seed"]), *(f"{r[o][0]:.2f} [{r[o][1]:.2f}, {r[o][2]:.2f}]" for o in OUTCOMES),
         f"{r['rhat']:.3f}", f"{r['wall_s']:.0f}"]
        for r in rows
    ]  # fmt: skip
    return "\n\n".join(
        [
            "## MMM synergy term on worlds without synergy (negative control, many seeds)"
            + ("" if roi_prior == "default" else ", ROI priors centred on the truth"),
            "`benchmarks/bench_synergy_null.py`: `simulate_world(seed, channels=(search, "
            f"social, tv, outdoor), noise={NOISE}, synergy=False)`, fitted by the model that "
            f"declares TV x search; {settings}. The true gamma is 0 for both outcomes.",
            header.strip(),
            markdown_table(
                [
                    "outcome",
                    "90% intervals covering 0",
                    "positive posterior means",
                    "mean of posterior means (M/wk)",
                    "mean interval half-width (M/wk)",
                ],
                summary,
            ),  # fmt: skip
            markdown_table(
                ["seed", *(f"gamma {o} (M/wk)" for o in OUTCOMES), "max R-hat", "wall s"],
                per_seed,
            ),
        ]
    )


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seeds", default="0-16", help="e.g. 0-16 or 0,3,5-7")
    ap.add_argument("--chains", type=int, default=2)
    ap.add_argument("--draws", type=int, default=400)
    ap.add_argument("--tune", type=int, default=400)
    ap.add_argument(
        "--roi-prior",
        choices=("default", "truth"),
        default="default",
        help="default: the plan's ROI priors; truth: centred on each channel's true ROI",
    )
    ap.add_argument("--no-write", action="store_true", help="print only, leave RESULTS.md")
    args = ap.parse_args(argv)
    header = machine_header(("omnimmm", "pymc", "nutpie"))
    rows = []
    for seed in _seeds(args.seeds):
        rows.append(fit_gamma(seed, args.chains, args.draws, args.tune, args.roi_prior))
        r = rows[-1]
        print(f"seed {seed}: {r['wall_s']:.0f} s", flush=True)
    settings = (
        f"nutpie, {args.chains} chains x {args.draws} draws after {args.tune} tuning steps, "
        "sampler seed 1; ROI priors: "
        + (
            "the plan's defaults by channel kind"
            if args.roi_prior == "default"
            else "centred on each channel's true total ROI, default spread"
        )
    )
    section = render(rows, settings, header, args.roi_prior)
    print(section)
    if not args.no_write:
        name = "bench_synergy_null" + ("" if args.roi_prior == "default" else "_truth_roi")
        print(f"updated {update_section(name, section)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
