"""A warm-started refit against a cold one (issue 24): the holdout refit of the default
world (``simulate_world()``, the last 13 weeks held out) sampled cold (the plan's 1,000
tuning steps from PyMC's jittered support point) and warm (:mod:`omnimmm.mmm.warm`: the full
fit's posterior draws and step size, :func:`~omnimmm.mmm.warm.warm_tune` steps), same seed,
4 chains x 1,000 draws.

Reported: gradient evaluations in tuning and in the draws (the sampler's work, which the
machine's load does not change), wall seconds, R-hat and minimum bulk ESS over the free
parameters, and for every channel and outcome the difference of the posterior mean ROI
(``roi_main``) between the two in units of its Monte Carlo standard error
(``sqrt(mcse_warm^2 + mcse_cold^2)``): both are samples of one posterior when these stay
within a few units.

    python benchmarks/bench_warm_start.py
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _results import machine_header, markdown_table, update_section


def sample(compiled: Any, draws: int, tune: int, chains: int, **kw: Any) -> dict[str, Any]:
    """One nutpie run with its warm-up kept (to count the tuning's gradient evaluations)."""
    import arviz as az
    import nutpie

    t0 = time.perf_counter()
    idata = nutpie.sample(compiled, draws=draws, tune=tune, chains=chains, seed=0,
                          progress_bar=False, save_warmup=True, **kw)  # fmt: skip
    wall = time.perf_counter() - t0
    post = idata.posterior
    free = [str(v) for v, da in post.data_vars.items() if float(da.std()) > 0]
    rhat = az.rhat(idata, var_names=free)
    ess = az.ess(idata, var_names=free)
    return {
        "idata": idata,
        "wall": wall,
        "grad_tune": int(idata.warmup_sample_stats["n_steps"].sum()),
        "grad_draws": int(idata.sample_stats["n_steps"].sum()),
        "rhat": max(float(v.max()) for v in rhat.data_vars.values()),
        "ess": min(float(v.min()) for v in ess.data_vars.values()),
    }


def main(argv: list[str] | None = None) -> int:
    """Fit the world, refit cold and warm, write the RESULTS.md section."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--chains", type=int, default=4)
    ap.add_argument("--draws", type=int, default=1000)
    ap.add_argument("--tune", type=int, default=1000)
    ap.add_argument("--no-write", action="store_true")
    args = ap.parse_args(argv)

    import arviz as az

    from omnimmm.config import plan_from_dict
    from omnimmm.data.schema import Panel
    from omnimmm.data.simulate import simulate_world
    from omnimmm.mmm import OmniMMM
    from omnimmm.mmm.analysis import head_panel
    from omnimmm.mmm.compile import compile_nutpie
    from omnimmm.mmm.posterior import complete_posterior
    from omnimmm.mmm.warm import warm_compiled, warm_tune

    header = machine_header(("omnimmm", "nutpie", "numba", "pymc"))
    world = simulate_world()
    with tempfile.TemporaryDirectory() as tmp:
        plan = plan_from_dict(world.plan, base_dir=tmp)
    panel = Panel.from_frame(world.panel, plan, source="world.csv")
    s = {"chains": args.chains, "draws": args.draws, "tune": args.tune, "seed": 0}
    full = OmniMMM(plan, **s).fit(panel)
    assert full.warm_start_ is not None
    head = head_panel(panel, panel.n_weeks - 13)
    refit = OmniMMM(plan, **s)
    scaling, features = refit._design(head)
    compiled = compile_nutpie(refit._build(head, scaling, features), refit.spec)
    ws = full.warm_start_
    runs = {
        "cold": sample(compiled, args.draws, args.tune, args.chains),
        "warm": sample(warm_compiled(compiled, ws), args.draws, warm_tune(args.tune),
                       args.chains, initial_step=ws.step_size),
    }  # fmt: skip
    spend = head.spend[refit.spec.channel_names].to_numpy(dtype=float)
    roi = {}
    for name, r in runs.items():
        post = complete_posterior(r["idata"].posterior, refit.spec, scaling, spend, features)
        data = az.InferenceData(posterior=post[["roi_main"]])
        roi[name] = (post["roi_main"].mean(("chain", "draw")), az.mcse(data)["roi_main"])
    z = np.abs(roi["warm"][0] - roi["cold"][0]) / np.sqrt(roi["warm"][1] ** 2 + roi["cold"][1] ** 2)
    zf = z.to_numpy().ravel()
    zf = zf[np.isfinite(zf)]
    cold, warm = runs["cold"], runs["warm"]
    rows = [
        [name, str(args.tune if name == "cold" else warm_tune(args.tune)),
         f"{r['grad_tune']:,}", f"{r['grad_draws']:,}", f"{r['grad_tune'] + r['grad_draws']:,}",
         f"{r['wall']:.1f}", f"{r['rhat']:.4f}", f"{r['ess']:.0f}"]
        for name, r in runs.items()
    ]  # fmt: skip
    work = (warm["grad_tune"] + warm["grad_draws"]) / (cold["grad_tune"] + cold["grad_draws"])
    body = "\n".join([
        "## Warm-started refit against a cold one (bench_warm_start.py, issue 24)",
        "",
        header.rstrip(),
        f"- the default world's holdout refit (143 of 156 weeks), {args.chains} chains x "
        f"{args.draws} draws, seed 0; warm: the full fit's draws and step size",
        "",
        markdown_table(["refit", "tuning steps", "gradient evals, tuning", "in draws",
                        "total", "wall s", "max R-hat", "min bulk ESS"], rows),
        "",
        f"- warm / cold sampler work: {work:.2f}x the gradient evaluations, "
        f"{warm['wall'] / cold['wall']:.2f}x the wall time (same run)",
        f"- posterior mean ROI per channel and outcome, |warm - cold| / MC error: median "
        f"{np.median(zf):.2f}, max {np.max(zf):.2f} over {zf.size} (a few units or less: the "
        "same posterior)",
    ]) + "\n"  # fmt: skip
    print(body)
    if not args.no_write:
        print(f"updated {update_section('bench_warm_start', body)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
