"""Cost of one log-density gradient: the hand-written density against the compiled PyMC graph.

A NUTS fit is a few hundred thousand gradient evaluations, so their cost sets the sampling
time once compile is out of the way. For each structure below the same PyMC model is
compiled both ways by :func:`omnimmm.mmm.compile.compile_nutpie` (with the spec: the
hand-written density of :mod:`omnimmm.mmm.density`; without: pytensor's graph through
numba, as nutpie compiles it), and each gradient is timed through the C callback the
sampler calls (from Python through ctypes), at the model's initial point. Reported per
structure: compile seconds of each (by default with empty pytensor and numba caches, as on
a machine's first fit: the hand-written density is then compiled once for all structures,
the graph once per structure; ``--warm`` uses the machine's caches), the median
microseconds per gradient over ``--evals`` evaluations (median of ``--repeats`` runs, the
two alternating), and the ratio hand-written / graph (median of the runs' ratios).

Structures, on ``simulate_world()`` (156 weeks, 8 channels, TV x search synergy):

- ``default``: the plan the simulator writes (two outcomes with correlated residuals);
- ``carryover per outcome``: the same with ``share_carryover = false``;
- ``three correlated outcomes``: a third outcome (app revenue, 30% of online with noise)
  and an LKJ prior on the residual correlation.

Run::

    python benchmarks/bench_density.py

It prints the result and rewrites its section of ``benchmarks/RESULTS.md``.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import statistics
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _results import machine_header, markdown_table, update_section


def _structures():  # type: ignore[no-untyped-def]
    """(name, spec, panel) for each structure benchmarked."""
    from omnimmm.config import plan_from_dict
    from omnimmm.data.schema import Panel
    from omnimmm.data.simulate import simulate_world
    from omnimmm.mmm import ModelSpec

    world = simulate_world()
    with tempfile.TemporaryDirectory() as tmp:
        plan = plan_from_dict(world.plan, base_dir=tmp)
    panel = Panel.from_frame(world.panel, plan, source="world.csv")
    spec = ModelSpec.from_plan(plan)
    online = panel.outcomes.iloc[:, 0]
    noise = np.random.default_rng(5).uniform(0.9, 1.1, len(online))
    three = dataclasses.replace(
        panel, outcomes=panel.outcomes.assign(app_revenue=0.3 * online * noise)
    )
    return [
        ("default", spec, panel),
        ("carryover per outcome", dataclasses.replace(spec, share_carryover=False), panel),
        (
            "three correlated outcomes",
            dataclasses.replace(spec, outcomes=(*spec.outcomes, "app_revenue")),
            three,
        ),
    ]


def _gradient_timer(compiled, evals: int):  # type: ignore[no-untyped-def]
    """A function timing ``evals`` calls of the compiled C callback nutpie samples with
    (through ctypes: about 1 us of call overhead included); returns microseconds each."""
    import ctypes

    fn = compiled.compiled_logp_func.ctypes
    x = np.ascontiguousarray(
        compiled.initial_point_func(int(np.random.default_rng(0).integers(2**32))), dtype=float
    )
    out, logp = np.empty_like(x), np.zeros(1)
    dbl = ctypes.POINTER(ctypes.c_double)
    call = (len(x), x.ctypes.data_as(dbl), out.ctypes.data_as(dbl), logp.ctypes.data_as(dbl),
            compiled.user_data.ctypes.data)  # fmt: skip
    if fn(*call) != 0:
        raise SystemExit("the log density is not finite at the initial point")

    def run() -> float:
        t0 = time.perf_counter()
        for _ in range(evals):
            fn(*call)
        return (time.perf_counter() - t0) / evals * 1e6

    return run


def main(argv: list[str] | None = None) -> int:
    """Compile each structure both ways, time the gradients, write the RESULTS.md section."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--evals", type=int, default=2000, help="gradient evaluations per run")
    ap.add_argument("--repeats", type=int, default=9, help="runs per compiled model")
    ap.add_argument(
        "--warm",
        action="store_true",
        help="use this machine's pytensor and numba caches (default: empty ones, so every "
        "compile time is a first compile)",
    )
    ap.add_argument("--no-write", action="store_true", help="do not touch RESULTS.md")
    args = ap.parse_args(argv)
    cache = None
    if not args.warm:
        # Read when pytensor and numba are first imported (below): empty caches.
        cache = tempfile.TemporaryDirectory(prefix="omnimmm_bench_density_")
        flags = os.environ.get("PYTENSOR_FLAGS", "")
        os.environ["PYTENSOR_FLAGS"] = ",".join(
            f for f in (flags, f"base_compiledir={cache.name}") if f
        )
        os.environ["NUMBA_CACHE_DIR"] = str(Path(cache.name) / "numba")
        if "pytensor" in sys.modules or "numba" in sys.modules:
            raise SystemExit("pytensor or numba was imported before the caches were set")
    warnings.filterwarnings("ignore", category=UserWarning)

    from omnimmm.mmm import OmniMMM
    from omnimmm.mmm.compile import compile_nutpie, log_density_of

    header = machine_header(("omnimmm", "pymc", "pytensor", "nutpie", "numba"))
    rows = []
    for name, spec, panel in _structures():
        model = OmniMMM(spec=spec).build(panel)
        t0 = time.perf_counter()
        hand = compile_nutpie(model, spec)
        hand_s = time.perf_counter() - t0
        if log_density_of(hand) != "hand-written":
            raise SystemExit(f"{name}: {log_density_of(hand)}")
        t0 = time.perf_counter()
        graph = compile_nutpie(model)
        graph_s = time.perf_counter() - t0
        # Alternate the two, so that a noisy stretch of the machine hits both alike; the
        # ratio is the median of the per-run ratios.
        timers = _gradient_timer(hand, args.evals), _gradient_timer(graph, args.evals)
        runs = [(timers[0](), timers[1]()) for _ in range(args.repeats)]
        hand_us = statistics.median(h for h, _ in runs)
        graph_us = statistics.median(g for _, g in runs)
        ratio = statistics.median(h / g for h, g in runs)
        print(
            f"{name}: hand-written {hand_us:.0f} us (compile {hand_s:.1f} s), graph "
            f"{graph_us:.0f} us (compile {graph_s:.1f} s), ratio {ratio:.2f}",
            flush=True,
        )
        rows.append(
            [name, str(len(hand.tables.kinds)), f"{hand_s:.1f}", f"{graph_s:.1f}", f"{hand_us:.0f}",
             f"{graph_us:.0f}", f"**{ratio:.2f}x**"]
        )  # fmt: skip
    lines = [
        "## MMM log-density gradient: hand-written against the compiled PyMC graph",
        "",
        "`benchmarks/bench_density.py`: the same PyMC model of `simulate_world()` compiled by "
        "`omnimmm.mmm.compile.compile_nutpie` with its spec (the hand-written density, "
        "`omnimmm.mmm.density`) and without (pytensor's graph through numba, as nutpie "
        "compiles it); each gradient is timed through the C callback nutpie calls (from "
        f"Python through ctypes, about 1 us of overhead), at the initial point, mean of {args.evals} evaluations, "
        f"median of {args.repeats} runs alternating between the two (ratio: median of the "
        "runs' ratios), one thread. Compile seconds "
        + (
            "with this machine's caches (`--warm`)."
            if args.warm
            else "with empty pytensor and numba caches: the hand-written density is compiled "
            "once, by the first structure, and reused by the others; the graph is compiled "
            "for each structure (later fits of the same structure reuse pytensor's cache)."
        ),
        "",
        header.rstrip(),
        "",
        markdown_table(
            [
                "structure",
                "free parameters",
                "hand-written compile s",
                "graph compile s",
                "hand-written us / gradient",
                "graph us / gradient",
                "ratio",
            ],
            rows,
        ),  # fmt: skip
    ]
    section = "\n".join(lines)
    print(section)
    if not args.no_write:
        print(f"updated {update_section('bench_density', section)}")
    if cache is not None:
        cache.cleanup()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
