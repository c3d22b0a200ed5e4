"""Whole commands against the sampler: ``omnimmm fit``, ``omnimmm run``, ``omnimmm validate``
and a 4-origin ``omnimmm backtest`` end to end, stage by stage, next to PyMC-Marketing's fit
of the same world in the same run (issue 24).

The world is ``simulate_world()`` at its defaults (the held-out 8-channel world: 156 weeks,
online and store revenue), written with the plan the simulator writes (4 chains x 1,000
draws after 1,000 tuning steps, target acceptance 0.9, seed 0). PyMC-Marketing fits the
sum of the two outcomes with the same chains, draws, tuning steps, target acceptance and
seed, on nutpie (``benchmarks/bench_mmm.py``'s worker: its model, its timing of build +
compile + sample, i.e. what a user of the library waits for after the imports).

Every command runs in a fresh process, timed from outside (wall seconds, and CPU seconds
of the process and its threads from ``wait4``: on this shared 2-core machine CPU seconds
move less with other people's load than wall seconds). The first repeat runs on empty
caches (numba's and pytensor's, one directory per tool: a first install), the others on
the caches it left (warm). Repeats alternate which tool goes first; ratios are taken within
a repeat (same load), then their median.

Run with the benchmark environment (``uv sync --group bench``)::

    nice -n 0 python benchmarks/bench_run.py --repeats 3

It prints the results and rewrites its section of ``benchmarks/RESULTS.md``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _results import machine_header, markdown_table, update_section

BIN = Path(sys.executable).parent
BENCH_MMM = Path(__file__).resolve().parent / "bench_mmm.py"


def timed(cmd: list[str], env: dict[str, str]) -> tuple[float, float]:
    """Run ``cmd``; its wall and CPU (user + system) seconds. Raises on a non-zero exit."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    assert proc.stderr is not None
    err = proc.stderr.read()
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise RuntimeError(f"{cmd} failed ({proc.returncode}): {err.decode()[-2000:]}")
    return wall, usage.ru_utime + usage.ru_stime


def cache_env(cache: Path) -> dict[str, str]:
    """The environment whose numba and pytensor caches live in ``cache``."""
    env = dict(os.environ)
    flags = env.get("PYTENSOR_FLAGS", "")
    env["PYTENSOR_FLAGS"] = ",".join(f for f in (flags, f"base_compiledir={cache}") if f)
    env["NUMBA_CACHE_DIR"] = str(cache / "numba")
    return env


def omnimmm_fit(command: str, plan: Path, out: Path, env: dict[str, str]) -> dict[str, Any]:
    """``omnimmm fit|run PLAN --out OUT``: wall, CPU and the manifest's profile and fits."""
    wall, cpu = timed([str(BIN / "omnimmm"), command, str(plan), "--out", str(out)], env)
    stages = json.loads((out / "manifest.json").read_text(encoding="utf-8"))["stages"]
    return {"wall": wall, "cpu": cpu, "profile": stages["profile"], "fits": stages["fits"]}


def pymc_marketing_fit(args: argparse.Namespace, env: dict[str, str], tmp: Path) -> dict:
    """PyMC-Marketing's fit of the summed outcomes (bench_mmm's worker) in a fresh process."""
    out = tmp / "pmm.json"
    cmd = [sys.executable, str(BENCH_MMM), "--worker", "pymc-marketing", "--worker-out",
           str(out), "--chains", str(args.chains), "--draws", str(args.draws), "--tune",
           str(args.tune), "--target-accept", str(args.accept), "--seed", str(args.seed),
           "--world-seed", str(args.world_seed)]  # fmt: skip
    wall, cpu = timed(cmd, env)
    run = json.loads(out.read_text(encoding="utf-8"))
    return {"wall": wall, "cpu": cpu, "fit": run["wall_s"], "sampling": run["sample_s"],
            "rhat": run["rhat_max"], "ess": run["ess_bulk_min"]}  # fmt: skip


def repeat_seconds(cmd: list[str], env: dict[str, str], n: int) -> list[float]:
    """Wall seconds of ``n`` runs of ``cmd`` (after one untimed run)."""
    timed(cmd, env)
    return [timed(cmd, env)[0] for _ in range(n)]


def _med(values: list[float]) -> float:
    return float(statistics.median(values)) if values else float("nan")


def _parts(runs: list[dict[str, Any]]) -> list[list[str]]:
    """Median seconds, share and CPU seconds of each profile part over ``runs``."""
    names = [r["part"] for r in runs[0]["profile"]]
    rows = []
    for name in names:
        parts = [p for r in runs for p in r["profile"] if p["part"] == name]
        cpu = [p["cpu_seconds"] for p in parts if "cpu_seconds" in p]
        rows.append([name, f"{_med([p['seconds'] for p in parts]):.2f}",
                     f"{100 * _med([p['share'] for p in parts]):.1f}%",
                     f"{_med(cpu):.2f}" if cpu else ""])  # fmt: skip
    return rows


def render(res: dict[str, Any], args: argparse.Namespace, header: str, load_end: str) -> str:
    """The RESULTS.md section."""
    fits, pmm = res["fit"], res["pmm"]
    warm_f, warm_p = fits[1:], pmm[1:]
    ratio_wall = [f["wall"] / p["fit"] for f, p in zip(warm_f, warm_p, strict=True)]
    ratio_cpu = [f["cpu"] / p["cpu"] for f, p in zip(warm_f, warm_p, strict=True)]
    ratio_proc = [f["wall"] / p["wall"] for f, p in zip(warm_f, warm_p, strict=True)]
    rows = []
    for i, (f, p) in enumerate(zip(fits, pmm, strict=True)):
        mmm, ho = f["fits"].get("mmm", {}), f["fits"].get("holdout_refit", {})
        rows.append([
            f"{i + 1} ({'cold' if i == 0 else 'warm'})", f"{f['wall']:.1f}", f"{f['cpu']:.1f}",
            f"{mmm.get('sampling', float('nan')):.1f}",
            f"{ho.get('sampling', float('nan')):.1f} ({ho.get('tune', '?')} tune)",
            f"{p['fit']:.1f}", f"{p['wall']:.1f}", f"{p['cpu']:.1f}", f"{p['sampling']:.1f}",
            f"{f['wall'] / p['fit']:.2f}",
        ])  # fmt: skip
    table = markdown_table(
        ["repeat", "omnimmm fit wall s", "CPU s", "sampling s", "holdout refit sampling s",
         "PyMC-Marketing fit s", "its process wall s", "CPU s", "sampling s",
         "fit wall / PMM fit"],
        rows,
    )  # fmt: skip
    one_fit = _med([f["wall"] for f in warm_f])
    lines = [
        "## Whole commands against the sampler (bench_run.py, issue 24)",
        "",
        header.rstrip(),
        f"- load average at end: {load_end}",
        f"- world: simulate_world(seed={args.world_seed}) defaults (8 channels, 156 weeks, 2 "
        f"outcomes); {args.chains} chains x {args.draws} draws after {args.tune} tuning "
        f"steps, target accept {args.accept}, seed {args.seed}; {args.repeats} repeats, the "
        "first on empty numba/pytensor caches",
        "",
        table,
        "",
        "Targets (warm caches, medians of the paired same-repeat ratios):",
        "",
        markdown_table(
            ["measure", "result", "target"],
            [
                [
                    "omnimmm fit (incl. holdout refit) wall / PyMC-Marketing fit",
                    f"{_med(ratio_wall):.2f}x ({', '.join(f'{r:.2f}' for r in ratio_wall)})",
                    "<= 0.35x",
                ],
                [
                    "same, process wall / process wall (both incl. imports)",
                    f"{_med(ratio_proc):.2f}x",
                    "",
                ],
                ["same, CPU seconds / CPU seconds", f"{_med(ratio_cpu):.2f}x", ""],
                [
                    "omnimmm validate wall (median of repeated runs)",
                    f"{_med(res['validate']):.2f} s ({len(res['validate'])} runs)",
                    "<= 1 s",
                ],
                ["omnimmm --help wall", f"{_med(res['help']):.2f} s", ""],
                [
                    "4-origin backtest wall / omnimmm fit wall",
                    f"{res['backtest'] / one_fit:.2f}x ({res['backtest']:.1f} s / {one_fit:.1f} s)"
                    if res.get("backtest")
                    else "not run",
                    "<= 2.5x",
                ],
                [
                    "omnimmm run wall / omnimmm fit wall",
                    f"{res['run']['wall'] / one_fit:.2f}x ({res['run']['wall']:.1f} s)"
                    if res.get("run")
                    else "not run",
                    "",
                ],
            ],
        ),  # fmt: skip
        "",
        "Where `omnimmm fit`'s seconds go (manifest.json `stages.profile`, median over the "
        "warm repeats):",
        "",
        markdown_table(["part", "seconds", "share", "CPU s (process)"], _parts(warm_f or fits)),
    ]
    if res.get("backtest_fits"):
        lines += ["", "Backtest refits (the first cold, the others warm-started):", ""]
        lines.append(markdown_table(
            ["origin", "train weeks", "tune", "warm", "seconds", "R-hat", "min ESS"],
            [[f["origin"], str(f["train_weeks"]), str(f.get("tune", "")),
              str(f.get("warm_start", "")), f"{f['seconds']:.1f}", f"{f['rhat_max']:.3f}",
              f"{f['ess_bulk_min']:.0f}"] for f in res["backtest_fits"]],
        ))  # fmt: skip
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    """Run the commands and PyMC-Marketing's fit; write the RESULTS.md section."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--repeats", type=int, default=3, help="fits per tool: 1 cold, then warm")
    ap.add_argument("--chains", type=int, default=4)
    ap.add_argument("--draws", type=int, default=1000)
    ap.add_argument("--tune", type=int, default=1000)
    ap.add_argument("--target-accept", type=float, default=0.9, dest="accept")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--world-seed", type=int, default=0)
    ap.add_argument("--validate-runs", type=int, default=7)
    ap.add_argument("--no-run", action="store_true", help="skip omnimmm run")
    ap.add_argument("--no-backtest", action="store_true", help="skip the 4-origin backtest")
    ap.add_argument("--no-write", action="store_true", help="do not touch RESULTS.md")
    ap.add_argument("--allow-gate-failure", action="store_true", help="smoke runs: few draws")
    args = ap.parse_args(argv)

    from omnimmm.data.simulate import simulate_world, write_world

    header = machine_header(("omnimmm", "pymc", "pymc-marketing", "nutpie", "numba", "pytensor"))
    res: dict[str, Any] = {"fit": [], "pmm": []}
    with tempfile.TemporaryDirectory(prefix="bench_run_") as tmp_s:
        tmp = Path(tmp_s)
        world = simulate_world(seed=args.world_seed)
        world.plan["seed"] = args.seed
        model = world.plan.setdefault("model", {})
        model.update(chains=args.chains, draws=args.draws, tune=args.tune,
                     target_accept=args.accept)  # fmt: skip
        if args.allow_gate_failure:
            world.plan["gate"] = {"allow_failure": True}
        write_world(world, tmp / "world")
        plan = tmp / "world" / "plan.toml"
        env_o, env_p = cache_env(tmp / "cache_omnimmm"), cache_env(tmp / "cache_pmm")
        for i in range(args.repeats):
            order = ("omnimmm", "pmm") if i % 2 == 0 else ("pmm", "omnimmm")
            for tool in order:
                if tool == "omnimmm":
                    r = omnimmm_fit("fit", plan, tmp / f"fit{i}", env_o)
                    res["fit"].append(r)
                    print(f"repeat {i + 1} omnimmm fit: {r['wall']:.1f} s wall, "
                          f"{r['cpu']:.1f} s CPU", flush=True)  # fmt: skip
                else:
                    p = pymc_marketing_fit(args, env_p, tmp)
                    res["pmm"].append(p)
                    print(f"repeat {i + 1} PyMC-Marketing: fit {p['fit']:.1f} s, process "
                          f"{p['wall']:.1f} s wall, {p['cpu']:.1f} s CPU", flush=True)  # fmt: skip
        validate = [str(BIN / "omnimmm"), "validate", str(plan)]
        res["validate"] = repeat_seconds(validate, env_o, args.validate_runs)
        res["help"] = repeat_seconds([str(BIN / "omnimmm"), "--help"], env_o, 3)
        print(f"validate: {res['validate']}", flush=True)
        if not args.no_run:
            res["run"] = omnimmm_fit("run", plan, tmp / "run", env_o)
            print(f"omnimmm run: {res['run']['wall']:.1f} s", flush=True)
        if not args.no_backtest:
            out = tmp / "backtest"
            cmd = [str(BIN / "omnimmm"), "backtest", str(plan), "--out", str(out),
                   "--origins", "4"]  # fmt: skip
            res["backtest"], _ = timed(cmd, env_o)
            res["backtest_fits"] = json.loads((out / "backtest.json").read_text())["fits"]
            print(f"backtest: {res['backtest']:.1f} s", flush=True)
    load_end = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    section = render(res, args, header, load_end)
    print(section)
    if not args.no_write:
        print(f"updated {update_section('bench_run', section)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
