"""Geo model speed at scale (issue 19): 100 regions x 104 weeks, 16 x 130, and PyMC-Marketing.

Usage (from the repository root)::

    # what each run costs, niced (a short probe before taking the bench lock)
    nice -n 19 .venv/bin/python benchmarks/bench_geo_scale.py --runs big --chains 1 --draws 200
    # the timing runs, under the machine-wide bench lock at normal priority
    flock /work/wt/bench.lock nice -n 0 .venv/bin/python benchmarks/bench_geo_scale.py \\
        --runs big small peer
    .venv/bin/python benchmarks/bench_geo_scale.py --report     # rewrite the section only

Runs (4 chains x 1,000 draws after 1,000 tuning steps unless told otherwise, seed 0):

- ``big``: omnimmm's geo model on ``simulate_geo_world(n_geos=100, n_weeks=104)``;
- ``small``: omnimmm on the 16 x 130 world;
- ``peer``: PyMC-Marketing's multidimensional MMM (``dims=("geo",)``, its default priors,
  geometric adstock ``l_max=8`` and logistic saturation, the price control, a linear trend,
  the festival dummies and two yearly Fourier modes, nutpie as its NUTS sampler) on the same
  16 x 130 world, with the sum of the two outcomes as its single target.

Every fit runs in its own child process, one after the other, so that its peak memory
(``ru_maxrss``) and CPU seconds are its own. The child reports the fit's wall time and CPU
seconds (``time.process_time`` around the fit: every thread of the process, so nutpie's
chains included), the whole process's CPU and peak memory, the load average before and
after, the sampler's diagnostics (R-hat, bulk ESS, divergences) and recovery against the
simulator's truth (national and regional ROI: MAPE and 90% interval coverage, scored by
``bench_geo.score``). The section ``geo_scale`` of ``benchmarks/RESULTS.md`` is rewritten.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _results import machine_header, markdown_table, update_section
from bench_geo import peer_fit, peer_model, roi_frames, score

#: The runs: name -> (tool, regions, weeks).
RUNS: dict[str, tuple[str, int, int]] = {
    "big": ("omnimmm", 100, 104),
    "small": ("omnimmm", 16, 130),
    "peer": ("pymc-marketing", 16, 130),
}
#: Issue 19's speed targets (wall seconds on 2 cores), by run.
TARGETS = {"big": 20 * 60.0, "small": 5 * 60.0}


def _world(args: argparse.Namespace) -> Any:
    from omnimmm.data.simulate_geo import simulate_geo_world

    return simulate_geo_world(n_geos=args.geos, n_weeks=args.weeks, seed=args.seed)


def child_omnimmm(args: argparse.Namespace) -> dict[str, Any]:
    """One fit of omnimmm's geo model at default settings (in the child process)."""
    from omnimmm.mmm.geo import fit_geo

    world = _world(args)
    w0, c0 = time.perf_counter(), time.process_time()
    fit = fit_geo(world.panel, chains=args.chains, draws=args.draws, tune=args.tune, seed=args.seed)
    wall, cpu = time.perf_counter() - w0, time.process_time() - c0
    diag = fit.diagnostics()
    out: dict[str, Any] = {
        "wall_s": wall,
        "fit_cpu_s": cpu,
        "timings": dict(fit.timings),
        "diagnostics": {
            k: diag[k]
            for k in ("max_rhat", "worst_rhat", "min_ess_bulk", "worst_ess", "divergences")
        },
        "gate": bool(diag["passed"]),
    }
    out.update(score(world, fit.roi_national(), fit.roi_geo()))
    return out


def peer_frame(world: Any) -> tuple[Any, Any, list[str]]:
    """PyMC-Marketing's long input: ``date, geo``, channels, controls; the summed target.

    The controls are the regional price index, a linear trend (0 to 1 over the weeks) and
    the festival dummies (the same in every region).
    """
    p = world.panel
    df = world.to_frame()
    df = df.sort_values(["date", "geo"]).reset_index(drop=True)
    df["revenue"] = df[list(p.outcomes)].sum(axis=1)
    weeks = {d: i for i, d in enumerate(sorted(df["date"].unique()))}
    df["trend"] = df["date"].map(weeks).astype(float) / max(p.n_weeks - 1, 1)
    events = list(p.event_names)
    ev = p.event_matrix()
    for e, name in enumerate(events):
        df[name] = df["date"].map({d: float(ev[i, e]) for d, i in weeks.items()})
    controls = ["price_index", "trend", *events]
    x = df[["date", "geo", *p.channels, *controls]]
    return x, df["revenue"], controls


def child_pymc_marketing(args: argparse.Namespace) -> dict[str, Any]:
    """PyMC-Marketing's multidimensional MMM with ``dims=("geo",)`` (in the child process)."""
    import arviz as az

    world = _world(args)
    p = world.panel
    x, y, controls = peer_frame(world)
    w0, c0 = time.perf_counter(), time.process_time()
    mmm = peer_model(list(p.channels), controls)
    mmm.build_model(x, y)
    build_s = time.perf_counter() - w0
    idata = peer_fit(mmm, x, y, args)
    wall, cpu = time.perf_counter() - w0, time.process_time() - c0
    post = idata["posterior"]
    names = [rv.name for rv in mmm.model.free_RVs if rv.name in post]
    ess = az.ess(post[names], method="bulk")
    rhat = az.rhat(post[names])
    worst_r = max(names, key=lambda v: float(rhat[v].max()))
    worst_e = min(names, key=lambda v: float(ess[v].min()))
    div = int(idata["sample_stats"]["diverging"].sum())
    # channel_contribution is on the target's scale: one max over every date and region by
    # default (``VariableScaling(dims=("geo",))`` reduces over regions too), else per region
    cc = post["channel_contribution"].transpose("chain", "draw", "date", "geo", "channel")
    cc = cc.sel(geo=list(p.geos), channel=list(p.channels))
    scaled = cc.sum("date").to_numpy().reshape(-1, p.n_geos, len(p.channels))
    tscale = mmm.get_scales_as_xarray()["target_scale"]
    if "geo" in tscale.dims:
        rev = scaled * tscale.sel(geo=list(p.geos)).to_numpy()[None, :, None]
    else:
        rev = scaled * float(np.asarray(tscale).reshape(-1)[0])
    # rev: (draws, G, C) revenue over the fitted weeks
    if args.keep:  # the raw draws, so that a failure below does not lose the fit
        np.savez_compressed(args.keep, revenue=rev, geos=list(p.geos), channels=list(p.channels))
    nat, geo = roi_frames(rev, p.spend.sum(axis=0), list(p.geos), list(p.channels))
    out: dict[str, Any] = {
        "wall_s": wall,
        "fit_cpu_s": cpu,
        "timings": {"build": build_s, "sampling": wall - build_s},
        "diagnostics": {
            "max_rhat": float(rhat[worst_r].max()),
            "worst_rhat": worst_r,
            "min_ess_bulk": float(ess[worst_e].min()),
            "worst_ess": worst_e,
            "divergences": div,
        },
        "gate": bool(
            float(rhat[worst_r].max()) <= 1.01
            and float(ess[worst_e].min()) >= 400
            and div <= 0.001 * args.chains * args.draws
        ),
    }
    out.update(score(world, nat, geo))
    return out


def run_child(name: str, args: argparse.Namespace) -> dict[str, Any]:
    """Run one fit in a child process (same interpreter and priority); its result."""
    tool, geos, weeks = RUNS[name]
    cmd = [sys.executable, __file__, "--child", tool, "--geos", str(geos), "--weeks", str(weeks)]
    cmd += ["--chains", str(args.chains), "--draws", str(args.draws), "--tune", str(args.tune)]
    cmd += ["--seed", str(args.seed)]
    if tool == "pymc-marketing":
        cmd += ["--keep", str(Path(args.out) / f"{name}_revenue_draws.npz")]
    t0 = time.perf_counter()
    try:
        proc = subprocess.run(
            cmd, capture_output=True, text=True, check=False, timeout=args.timeout or None
        )
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {args.timeout:.0f} s", "elapsed_s": args.timeout}
    if proc.returncode != 0:
        lines = proc.stderr.strip().splitlines() if proc.stderr else ["failed"]
        return {"error": lines[-1], "elapsed_s": time.perf_counter() - t0}
    return dict(json.loads(proc.stdout.strip().splitlines()[-1]))


def _row(name: str, r: dict[str, Any]) -> list[str]:
    run, _, tag = name.partition(" ")
    tool, geos, weeks = RUNS[run]
    label = f"{tool} {geos}x{weeks} ({r.get('chains', '?')} x {r.get('draws', '?')})"
    label += f" [{tag}]" if tag else ""
    if "error" in r:
        missing = f"missing after {r.get('elapsed_s', float('nan')):.0f} s: {r['error'][:100]}"
        return [label, missing] + [""] * 12
    d = r["diagnostics"]
    full = (r.get("chains"), r.get("draws")) == (4, 1000)
    target = TARGETS.get(run) if full else None
    return [
        label,
        f"{r['wall_s']:.0f}" + (f" (target {target:.0f})" if target else ""),
        f"{r['fit_cpu_s']:.0f}",
        f"{r['cpu_s']:.0f}",
        f"{r['load'][0]:.1f}-{r['load'][1]:.1f}",
        f"{r['peak_mb']:.0f}",
        f"{d['max_rhat']:.3f}",
        f"{d['min_ess_bulk']:.0f}",
        str(d["divergences"]),
        "passed" if r["gate"] else "failed",
        f"{r['national_mape']:.3f}",
        f"{r['national_inside']}/{r['n_channels']}",
        f"{r['regional_mape']:.3f}",
        f"{r['regional_coverage']:.2f} of {r['n_regional']}",
    ]


def report(out: Path, note: str) -> None:
    """Rewrite the ``geo_scale`` section of RESULTS.md from the JSON files in ``out``."""
    files = sorted(
        out.glob("*.json"), key=lambda f: (list(RUNS).index(f.stem.split(" ")[0]), f.stem)
    )
    results = {f.stem: json.loads(f.read_text()) for f in files}
    header = ["run", "fit wall s", "fit CPU s", "process CPU s", "load (start-end)",
              "peak MB", "max R-hat", "min ESS", "div", "gate", "nat MAPE", "nat in 90%",
              "reg MAPE", "reg cov"]  # fmt: skip
    rows = [_row(k, v) for k, v in results.items()]
    notes = []
    for k, v in results.items():
        if "error" in v:
            continue
        d, t = v["diagnostics"], v.get("timings", {})
        line = f"- {k}: lowest ESS {d['worst_ess']}, highest R-hat {d['worst_rhat']}; "
        line += ", ".join(f"{a} {b:.1f} s" for a, b in t.items() if isinstance(b, float))
        line += f"; national APE {v['national_ape']}"
        if v["national_missed"]:
            line += f"; outside the 90% interval: {', '.join(v['national_missed'])}"
        notes.append(line)
    body = (
        "## Geo model at scale (issue 19): 100 x 104, 16 x 130 and PyMC-Marketing\n\n"
        "`benchmarks/bench_geo_scale.py`: simulated geo worlds (`simulate_geo_world`, seed 0: "
        "6 channels of which 2 national, two outcomes, regions of log-normal size), each fit "
        "in its own child process, one after the other. omnimmm's geo model at default "
        "settings; PyMC-Marketing's multidimensional MMM (`dims=('geo',)`, default priors, "
        "nutpie, sum of the two outcomes) at the same chains, draws and tuning steps. Fit "
        "wall s: building, compiling and sampling; fit CPU s: CPU of every thread of the "
        "process over the same span; peak MB: the process's maximum resident memory. Gate: "
        "R-hat <= 1.01, bulk ESS >= 400, divergences <= 0.1%. ROI: revenue over the fitted "
        "weeks divided by spend (national: summed over regions), scored against the "
        "simulator's truth.\n\n"
        + machine_header(("omnimmm", "nutpie", "pymc", "pymc-marketing"))
        + "\n"
        + markdown_table(header, rows)
        + "\n\n"
        + "\n".join(notes)
        + ("\n\n" + note if note else "")
    )
    update_section("geo_scale", body)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--child", choices=("omnimmm", "pymc-marketing"))
    ap.add_argument("--runs", nargs="*", default=["big", "small", "peer"], choices=list(RUNS))
    ap.add_argument("--geos", type=int, default=16)
    ap.add_argument("--weeks", type=int, default=130)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--chains", type=int, default=4)
    ap.add_argument("--draws", type=int, default=1000)
    ap.add_argument("--tune", type=int, default=None, help="default: as --draws")
    ap.add_argument("--timeout", type=float, default=0.0, help="per run, seconds (0: none)")
    ap.add_argument("--out", default="/tmp/omnimmm_bench_geo_scale", help="one JSON per run")
    ap.add_argument("--tag", default="", help="appended to each run's file name")
    ap.add_argument("--keep", default="", help="child: save the peer's revenue draws (.npz)")
    ap.add_argument("--report", action="store_true", help="only rewrite RESULTS from --out")
    ap.add_argument("--no-write", action="store_true")
    ap.add_argument("--note", default="", help="a paragraph appended to the section")
    args = ap.parse_args()
    args.tune = args.draws if args.tune is None else args.tune
    if args.child:
        fn = child_omnimmm if args.child == "omnimmm" else child_pymc_marketing
        load0 = os.getloadavg()[0]
        res = fn(args)
        usage = resource.getrusage(resource.RUSAGE_SELF)
        res.update(
            peak_mb=usage.ru_maxrss / 1024.0,
            cpu_s=usage.ru_utime + usage.ru_stime,
            load=[load0, os.getloadavg()[0]],
            chains=args.chains,
            draws=args.draws,
            tune=args.tune,
        )
        print(json.dumps(res, default=float))
        return
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    if not args.report:
        for name in args.runs:
            res = run_child(name, args)
            res.setdefault("chains", args.chains)
            res.setdefault("draws", args.draws)
            stem = name + (f" {args.tag}" if args.tag else "")
            (out / f"{stem}.json").write_text(json.dumps(res, default=float))
            print(stem, json.dumps(res, default=float), flush=True)
    if not args.no_write:
        report(out, args.note)


if __name__ == "__main__":
    main()
