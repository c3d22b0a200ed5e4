"""omnimmm vs PyMC-Marketing on the same simulated world, same chains x draws, both on nutpie.

The world is ``omnimmm.data.simulate.simulate_world()`` at its defaults (156 weeks, eight
channels, online and store revenue, TV x search synergy). omnimmm fits both outcomes
jointly from the plan the simulator writes. PyMC-Marketing models one KPI, so it gets
online + store revenue summed, the same spends, the price index (standardised: its
controls are not scaled internally), the three festival dummies, a linear time index as
trend and as many yearly Fourier terms as omnimmm; ``GeometricAdstock(l_max=13)`` (the
longest carryover in the world) and ``LogisticSaturation`` for every channel.

Both samplers: nutpie (numba backend), same chains, tuning steps, draws, target
acceptance and seed. Reported per tool, median over ``--repeats`` runs: wall time of
building, compiling and sampling (a fresh model each run); minimum bulk ESS over the free
parameters and that per second of wall time; divergences; largest R-hat; and the mean
absolute percentage error of the posterior-mean total ROI per channel against the
simulator's truth (contribution over all outcomes / spend, DESIGN.md). For PyMC-Marketing
the ROI is its channel contribution to the summed KPI over the panel divided by spend,
compared with the same total truth.

Run with the benchmark environment (``uv sync --extra dev --group bench``)::

    python benchmarks/bench_mmm.py --chains 4 --draws 1000 --tune 1000 --repeats 3

It prints the result and rewrites its section of ``benchmarks/RESULTS.md``.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import arviz as az
import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _results import machine_header, markdown_table, update_section

TOOLS = ("omnimmm", "pymc-marketing")


@dataclass(frozen=True)
class Run:
    """One fit of one tool."""

    tool: str
    wall_s: float
    ess_bulk_min: float
    rhat_max: float
    divergences: int
    roi: pd.Series
    compile_s: float = float("nan")

    @property
    def ess_per_s(self) -> float:
        """Minimum bulk ESS per second of wall time."""
        return self.ess_bulk_min / self.wall_s


def convergence(idata: Any, names: list[str]) -> tuple[float, float, int]:
    """Minimum bulk ESS and largest R-hat over ``names``, and the number of divergences."""
    post = idata.posterior[names]
    ess = az.ess(post, method="bulk")
    rhat = az.rhat(post)
    ess_min = min(float(np.nanmin(ess[v].to_numpy())) for v in names)
    rhat_max = max(float(np.nanmax(rhat[v].to_numpy())) for v in names)
    return ess_min, rhat_max, int(idata.sample_stats["diverging"].sum())


def roi_mape(roi: pd.Series, truth: pd.Series) -> float:
    """Mean absolute percentage error of ROI per channel (as a fraction)."""
    roi = roi.reindex(truth.index)
    return float(np.mean(np.abs(roi - truth) / np.abs(truth)))


def run_omnimmm(world: Any, chains: int, draws: int, tune: int, accept: float, seed: int) -> Run:
    """Fit omnimmm on the world's panel and plan; time build + compile + sample."""
    from omnimmm.config import plan_from_dict
    from omnimmm.data.schema import Panel
    from omnimmm.mmm import OmniMMM

    with tempfile.TemporaryDirectory() as tmp:
        plan = plan_from_dict(world.plan, base_dir=tmp)
    panel = Panel.from_frame(world.panel, plan, source="world.csv")
    t0 = time.perf_counter()
    m = OmniMMM(plan, chains=chains, draws=draws, tune=tune, target_accept=accept, seed=seed).fit(
        panel
    )
    wall = time.perf_counter() - t0
    names = [rv.name for rv in m.model_.free_RVs if rv.name in m.idata_.posterior]
    ess, rhat, div = convergence(m.idata_, names)
    roi = m.roi()["mean"].astype(float)
    return Run("omnimmm", wall, ess, rhat, div, roi, float(m.timings_.get("compile", np.nan)))


def pymc_marketing_inputs(world: Any, fourier: int) -> tuple[pd.DataFrame, pd.Series, dict]:
    """The world as PyMC-Marketing's MMM takes it: X, the summed KPI, model kwargs."""
    panel = world.panel
    spend = [f"{c}_spend" for c in world.channels]
    events = list(world.plan["data"]["events"])
    x = panel[["date", *spend, *events]].copy()
    price = panel["price_index"]
    x["price_index_std"] = (price - price.mean()) / price.std()
    x["t"] = np.linspace(0.0, 1.0, len(x))
    y = (panel["online_revenue"] + panel["offline_revenue"]).rename("revenue")
    kwargs = {
        "date_column": "date",
        "channel_columns": spend,
        "target_column": "revenue",
        "control_columns": ["price_index_std", *events, "t"],
        "yearly_seasonality": fourier,
    }
    return x, y, kwargs


def run_pymc_marketing(
    world: Any, chains: int, draws: int, tune: int, accept: float, seed: int, fourier: int
) -> Run:
    """Fit PyMC-Marketing's MMM on the summed KPI; time build + compile + sample."""
    from pymc_marketing.mmm import GeometricAdstock, LogisticSaturation
    from pymc_marketing.mmm.multidimensional import MMM

    x, y, kwargs = pymc_marketing_inputs(world, fourier)
    t0 = time.perf_counter()
    mmm = MMM(adstock=GeometricAdstock(l_max=13), saturation=LogisticSaturation(), **kwargs)
    idata = mmm.fit(
        x,
        y,
        nuts_sampler="nutpie",
        chains=chains,
        draws=draws,
        tune=tune,
        target_accept=accept,
        random_seed=seed,
        progressbar=False,
    )
    wall = time.perf_counter() - t0
    names = [rv.name for rv in mmm.model.free_RVs if rv.name in idata.posterior]
    ess, rhat, div = convergence(idata, names)
    scale = float(np.asarray(idata.constant_data["target_scale"]).reshape(-1)[0])
    contrib = idata.posterior["channel_contribution"].sum("date").mean(("chain", "draw"))
    spend_total = x[kwargs["channel_columns"]].sum()
    roi = pd.Series(
        contrib.sel(channel=list(spend_total.index)).to_numpy() * scale / spend_total.to_numpy(),
        index=[c.removesuffix("_spend") for c in spend_total.index],
    )
    return Run("pymc-marketing", wall, ess, rhat, div, roi)


def _median(runs: list[Run], attr: str) -> float:
    return float(statistics.median(getattr(r, attr) for r in runs))


def render(
    runs: dict[str, list[Run]],
    truth: pd.Series,
    settings: dict[str, Any],
    header: str,
    oracle: pd.DataFrame | None = None,
) -> str:
    """The RESULTS.md section for these runs."""
    rows = []
    for tool, rs in runs.items():
        if not rs:
            continue
        rows.append(
            [
                tool,
                f"{_median(rs, 'wall_s'):.1f}",
                f"{_median(rs, 'ess_bulk_min'):.0f}",
                f"{_median(rs, 'ess_per_s'):.2f}",
                f"{statistics.median(r.divergences for r in rs):.0f}",
                f"{_median(rs, 'rhat_max'):.3f}",
                f"{statistics.median(roi_mape(r.roi, truth) for r in rs):.1%}",
                ", ".join(f"{r.wall_s:.0f}" for r in rs),
            ]
        )
    table = markdown_table(
        [
            "tool",
            "wall s (median)",
            "min bulk ESS",
            "ESS / s",
            "divergences",
            "max R-hat",
            "ROI MAPE vs truth",
            "wall s per run",
        ],
        rows,
    )
    lines = [
        "## MMM: omnimmm vs PyMC-Marketing on the simulated world",
        "",
        "`benchmarks/bench_mmm.py`: `simulate_world()` defaults (156 weeks, 8 channels, online "
        "and store revenue, TV x search synergy). omnimmm fits both outcomes jointly; "
        "PyMC-Marketing (`multidimensional.MMM`, GeometricAdstock(l_max=13) + "
        "LogisticSaturation) fits their sum. Both on nutpie with "
        f"{settings['chains']} chains x {settings['draws']} draws after {settings['tune']} "
        f"tuning steps, target_accept {settings['accept']}, seed {settings['seed']}; "
        f"median of {settings['repeats']} run(s). Wall time = build + compile + sample. ESS over "
        "free parameters. ROI MAPE: posterior-mean total ROI per channel vs the simulator's "
        "true total ROI.",
        "",
        header.rstrip(),
        "",
        table,
    ]
    if runs.get("omnimmm") and runs.get("pymc-marketing"):
        ratio = _median(runs["omnimmm"], "wall_s") / _median(runs["pymc-marketing"], "wall_s")
        verdict = "meets" if ratio <= 0.5 else "misses"
        lines += ["", f"Wall-time ratio omnimmm / PyMC-Marketing: **{ratio:.2f}x** ({verdict} "
                  "the <= 0.5x target)."]  # fmt: skip
    per_channel = pd.DataFrame({"truth": truth})
    for tool, rs in runs.items():
        if rs:
            per_channel[tool] = pd.concat([r.roi for r in rs], axis=1).mean(axis=1)
    if oracle is not None:
        per_channel["oracle SE"] = oracle["se"].reindex(per_channel.index)
    rows = [[str(c), *(f"{v:.2f}" for v in per_channel.loc[c])] for c in per_channel.index]
    lines += [
        "",
        "Total ROI per channel (posterior mean, averaged over runs):",
        "",
        markdown_table(["channel", *per_channel.columns], rows),
    ]
    if oracle is not None:
        lines += [
            "",
            "`oracle SE`: standard error of the total ROI for an oracle that knows every true "
            "adstock and saturation shape and estimates only the effect sizes by least squares "
            "(`omnimmm.mmm.calibration.oracle_roi_se`): no model fitted to this panel alone "
            "should be expected to do better. An unbiased estimate with these errors would "
            f"have an expected ROI MAPE of {oracle['expected_ape'].mean():.0%} on this world.",
        ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Run the comparison and write its RESULTS.md section."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--chains", type=int, default=4)
    ap.add_argument("--draws", type=int, default=1000)
    ap.add_argument("--tune", type=int, default=1000)
    ap.add_argument("--target-accept", type=float, default=0.9, dest="accept")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--only", choices=TOOLS, default=None, help="run one tool only")
    ap.add_argument("--no-write", action="store_true", help="do not touch RESULTS.md")
    args = ap.parse_args(argv)

    warnings.filterwarnings("ignore", category=FutureWarning)
    warnings.filterwarnings("ignore", category=UserWarning)
    from omnimmm.config import plan_from_dict
    from omnimmm.data.simulate import simulate_world
    from omnimmm.mmm.design import ModelSpec

    header = machine_header(("omnimmm", "pymc", "pymc-marketing", "nutpie", "numba", "pytensor"))
    world = simulate_world()
    truth = world.truth.roi["total"]
    fourier = ModelSpec.from_plan(plan_from_dict(world.plan)).fourier_order
    settings = {**vars(args), "fourier": fourier}
    tools = [args.only] if args.only else list(TOOLS)
    runs: dict[str, list[Run]] = {t: [] for t in TOOLS}
    fit = {
        "omnimmm": lambda: run_omnimmm(
            world, args.chains, args.draws, args.tune, args.accept, args.seed
        ),
        "pymc-marketing": lambda: run_pymc_marketing(
            world, args.chains, args.draws, args.tune, args.accept, args.seed, fourier
        ),
    }
    for i in range(args.repeats):
        order = tools if i % 2 == 0 else tools[::-1]  # alternate to spread warm-cache effects
        for tool in order:
            run = fit[tool]()
            runs[tool].append(run)
            print(
                f"run {i + 1} {tool}: {run.wall_s:.1f} s, min ESS {run.ess_bulk_min:.0f}, "
                f"ESS/s {run.ess_per_s:.2f}, divergences {run.divergences}, "
                f"R-hat {run.rhat_max:.3f}, ROI MAPE {roi_mape(run.roi, truth):.1%}, "
                f"compile {run.compile_s:.0f} s",
                flush=True,
            )
    from omnimmm.mmm.calibration import oracle_roi_se

    section = render(runs, truth, settings, header, oracle_roi_se(world))
    print(section)
    if not args.no_write:
        print(f"updated {update_section('bench_mmm', section)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
