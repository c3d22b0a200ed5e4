"""omnimmm vs PyMC-Marketing on the same simulated world, same chains x draws, both on nutpie.

The world is ``omnimmm.data.simulate.simulate_world()`` at its defaults (156 weeks, eight
channels, online and store revenue, TV x search synergy). omnimmm fits both outcomes
jointly from the plan the simulator writes. PyMC-Marketing models one KPI, so it gets
online + store revenue summed, the same spends, the price index (standardised: its
controls are not scaled internally), the three festival dummies, a linear time index as
trend and as many yearly Fourier terms as omnimmm; ``GeometricAdstock(l_max=13)`` (the
longest carryover in the world) and ``LogisticSaturation`` for every channel.

Both samplers: nutpie (numba backend), same chains, tuning steps, draws, target
acceptance and seed. Every fit runs in a fresh Python process, as ``omnimmm run`` or a
restarted notebook would. Compile time depends on pytensor's on-disk numba cache, so each
tool gets its own empty cache directory: its first run is *cold* (nothing compiled on this
machine yet: a first install, or a pytensor upgrade) and the ``--repeats - 1`` runs after
it are *warm* (the same model was compiled before: a rerun, a refit in a notebook). One
more fit per tool, on another world of the same shape (``simulate_world(seed=1)``), times
*new data with a warm cache*: the next quarter's run or a holdout refit.
Reported per tool: wall time of building, compiling and sampling, cold and warm (median);
the sampler's share of it; minimum bulk ESS over the free parameters and that per second
of warm wall time; divergences; largest R-hat; and the mean absolute percentage error of
the posterior-mean total ROI per channel against the simulator's truth (contribution over
all outcomes / spend, DESIGN.md). For PyMC-Marketing the ROI is its channel contribution
to the summed KPI over the panel divided by spend, compared with the same total truth.

Run with the benchmark environment (``uv sync --extra dev --group bench``)::

    python benchmarks/bench_mmm.py --chains 4 --draws 500 --tune 500 --repeats 4

It prints the result and rewrites its section of ``benchmarks/RESULTS.md``.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import statistics
import subprocess
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
    sample_s: float = float("nan")
    cold: bool = False
    new_data: bool = False
    log_density: str = ""

    def to_json(self) -> dict[str, Any]:
        """Plain-JSON form (the worker process writes it)."""
        out = {k: v for k, v in vars(self).items() if k != "roi"}
        return {**out, "roi": {str(k): float(v) for k, v in self.roi.items()}}

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Run:
        """Inverse of :meth:`to_json`."""
        return cls(**{**d, "roi": pd.Series(d["roi"], dtype=float)})

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
    return Run(
        "omnimmm",
        wall,
        ess,
        rhat,
        div,
        roi,
        sample_s=m.timings_["sampling"],
        log_density=m.timings_.get("log_density", ""),
    )


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
    with _SampleClock() as clock:
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
    return Run("pymc-marketing", wall, ess, rhat, div, roi, sample_s=clock.seconds)


class _SampleClock:
    """Time spent in ``nutpie.sample`` inside the block (PyMC-Marketing's fit calls it)."""

    def __enter__(self) -> _SampleClock:
        import nutpie

        self.seconds = 0.0
        self._sample = nutpie.sample

        def timed(*args: Any, **kwargs: Any) -> Any:
            t = time.perf_counter()
            try:
                return self._sample(*args, **kwargs)
            finally:
                self.seconds += time.perf_counter() - t

        nutpie.sample = timed
        return self

    def __exit__(self, *exc: object) -> None:
        import nutpie

        nutpie.sample = self._sample


def _median(runs: list[Run], attr: str) -> float:
    return float(statistics.median(getattr(r, attr) for r in runs))


def _warm(runs: list[Run]) -> list[Run]:
    """The warm runs (all runs if there is no warm one)."""
    return [r for r in runs if not r.cold] or runs


def _cold_s(runs: list[Run]) -> str:
    cold = [r.wall_s for r in runs if r.cold]
    return f"{cold[0]:.1f}" if cold else "-"


def render(
    runs: dict[str, list[Run]],
    truth: pd.Series,
    settings: dict[str, Any],
    header: str,
    oracle: pd.DataFrame | None = None,
    new_data: dict[str, Run] | None = None,
) -> str:
    """The RESULTS.md section for these runs."""
    rows = []
    for tool, rs in runs.items():
        if not rs:
            continue
        warm = _warm(rs)
        rows.append(
            [
                tool,
                _cold_s(rs),
                f"{_median(warm, 'wall_s'):.1f}",
                f"{_median(warm, 'sample_s'):.1f}",
                f"{_median(rs, 'ess_bulk_min'):.0f}",
                f"{_median(warm, 'ess_per_s'):.2f}",
                f"{statistics.median(r.divergences for r in rs):.0f}",
                f"{_median(rs, 'rhat_max'):.3f}",
                f"{statistics.median(roi_mape(r.roi, truth) for r in rs):.1%}",
                ", ".join(f"{r.wall_s:.0f}" + (" (cold)" if r.cold else "") for r in rs),
            ]
        )
    table = markdown_table(
        [
            "tool",
            "cold wall s",
            "warm wall s (median)",
            "of it sampling s",
            "min bulk ESS",
            "ESS / warm s",
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
        f"{settings['repeats']} run(s) per tool, each in a fresh process. Wall time = build + "
        "compile + sample. *Cold*: the tool's first run with empty pytensor and numba cache "
        "directories (a first install); *warm*: the runs after it, same caches (a rerun or "
        "refit of the same model). ESS over free parameters. ROI MAPE: posterior-mean total "
        "ROI per channel vs the simulator's true total ROI. omnimmm's log density: "
        + ", ".join(sorted({r.log_density for r in runs.get("omnimmm", []) if r.log_density}))
        + " (`omnimmm.mmm.density`; `pytensor` is the compiled PyMC graph).",
        "",
        header.rstrip(),
        "",
        table,
    ]
    if runs.get("omnimmm") and runs.get("pymc-marketing"):
        om, pmm = runs["omnimmm"], runs["pymc-marketing"]
        warm = _median(_warm(om), "wall_s") / _median(_warm(pmm), "wall_s")
        verdict = "meets" if warm <= 0.5 else "misses"
        lines += ["", f"Wall-time ratio omnimmm / PyMC-Marketing, warm: **{warm:.2f}x** "
                  f"({verdict} the <= 0.5x target)."]  # fmt: skip
        cold_om = [r.wall_s for r in om if r.cold]
        cold_pmm = [r.wall_s for r in pmm if r.cold]
        if cold_om and cold_pmm:
            cold = cold_om[0] / cold_pmm[0]
            lines += [f"Cold (one run each): **{cold:.2f}x**."]
        if new_data and {"omnimmm", "pymc-marketing"} <= set(new_data):
            a, b = new_data["omnimmm"], new_data["pymc-marketing"]
            lines += [f"New data, warm cache (`simulate_world(seed=1)`, same shape: the next "
                      f"quarter's run or a holdout refit): omnimmm {a.wall_s:.1f} s (sampling "
                      f"{a.sample_s:.1f} s), PyMC-Marketing {b.wall_s:.1f} s (sampling "
                      f"{b.sample_s:.1f} s): **{a.wall_s / b.wall_s:.2f}x**."]  # fmt: skip
        sampling = _median(om, "sample_s") / _median(pmm, "sample_s")
        lines += [f"Sampling alone (median of all runs): {sampling:.2f}x."]
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


def _fit_in_process(
    tool: str, args: argparse.Namespace, cache_dir: str, cold: bool, world_seed: int = 0
) -> Run:
    """One fit of ``tool`` in a fresh Python process using ``cache_dir`` as pytensor's cache
    and numba's (omnimmm's hand-written density is cached by numba itself, next to its
    source unless ``NUMBA_CACHE_DIR`` says otherwise: a cold run must not find it)."""
    env = dict(os.environ)
    flags = env.get("PYTENSOR_FLAGS", "")
    env["PYTENSOR_FLAGS"] = ",".join(f for f in (flags, f"base_compiledir={cache_dir}") if f)
    env["NUMBA_CACHE_DIR"] = str(Path(cache_dir) / "numba")
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "run.json"
        cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", tool, "--worker-out",
               str(out), "--chains", str(args.chains), "--draws", str(args.draws), "--tune",
               str(args.tune), "--target-accept", str(args.accept), "--seed", str(args.seed),
               "--world-seed", str(world_seed)]  # fmt: skip
        subprocess.run(cmd, env=env, check=True)
        run = Run.from_json(json.loads(out.read_text(encoding="utf-8")))
    return dataclasses.replace(run, cold=cold, new_data=world_seed != 0)


def _worker(args: argparse.Namespace) -> int:
    """Fit one tool once and write the run as JSON (the parent process reads it)."""
    warnings.filterwarnings("ignore")
    from omnimmm.config import plan_from_dict
    from omnimmm.data.simulate import simulate_world
    from omnimmm.mmm.design import ModelSpec

    world = simulate_world(seed=args.world_seed)
    if args.worker == "omnimmm":
        run = run_omnimmm(world, args.chains, args.draws, args.tune, args.accept, args.seed)
    else:
        fourier = ModelSpec.from_plan(plan_from_dict(world.plan)).fourier_order
        run = run_pymc_marketing(
            world, args.chains, args.draws, args.tune, args.accept, args.seed, fourier
        )
    Path(args.worker_out).write_text(json.dumps(run.to_json()), encoding="utf-8")
    return 0


def main(argv: list[str] | None = None) -> int:
    """Run the comparison and write its RESULTS.md section."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--chains", type=int, default=4)
    ap.add_argument("--draws", type=int, default=500)
    ap.add_argument("--tune", type=int, default=500)
    ap.add_argument("--target-accept", type=float, default=0.9, dest="accept")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--repeats", type=int, default=4, help="runs per tool: 1 cold, then warm")
    ap.add_argument("--only", choices=TOOLS, default=None, help="run one tool only")
    ap.add_argument("--no-write", action="store_true", help="do not touch RESULTS.md")
    ap.add_argument("--worker", choices=TOOLS, default=None, help=argparse.SUPPRESS)
    ap.add_argument("--worker-out", default=None, help=argparse.SUPPRESS)
    ap.add_argument("--world-seed", type=int, default=0, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.worker:
        return _worker(args)

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
    with tempfile.TemporaryDirectory(prefix="bench_mmm_cache_") as caches:
        for i in range(args.repeats):
            order = tools if i % 2 == 0 else tools[::-1]  # alternate: spread machine drift
            for tool in order:
                run = _fit_in_process(tool, args, str(Path(caches) / tool), cold=i == 0)
                runs[tool].append(run)
                print(
                    f"run {i + 1} {tool}{' (cold)' if run.cold else ''}: {run.wall_s:.1f} s "
                    f"(sampling {run.sample_s:.1f} s), min ESS {run.ess_bulk_min:.0f}, "
                    f"divergences {run.divergences}, R-hat {run.rhat_max:.3f}, "
                    f"ROI MAPE {roi_mape(run.roi, truth):.1%}",
                    flush=True,
                )
        # New data with a warm cache: another world of the same shape (the next quarter's
        # run, a holdout refit). Timed only; it is not the world the ROI table scores.
        new_data: dict[str, Run] = {}
        for tool in tools:
            new_data[tool] = _fit_in_process(tool, args, str(Path(caches) / tool), False, 1)
            print(f"new data {tool}: {new_data[tool].wall_s:.1f} s", flush=True)
    from omnimmm.mmm.calibration import oracle_roi_se

    section = render(runs, truth, settings, header, oracle_roi_se(world), new_data)
    print(section)
    if not args.no_write:
        print(f"updated {update_section('bench_mmm', section)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
