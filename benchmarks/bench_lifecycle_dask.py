"""Lifecycle scoring on Dask (``lifecycle score --scheduler/--workers``) against one process.

Generates ``--rows`` synthetic transactions of ``--customers`` customers as Parquet files of
``--chunk`` customers each in a temporary folder, one file at a time (never the whole log in
memory; the generator is :func:`bench_lifecycle.synthetic_transactions`, run per chunk of
customers with its own seed), then times, each as a separate process:

* ``single``: :func:`omnimmm.lifecycle.score.score_customers` on the folder, under a memory
  cap (``--cap-gb``, an address-space limit set with ``prlimit``; a run that hits it is
  reported as not fitting);
* ``dask``: :func:`omnimmm.lifecycle.distributed.score_customers_dask` on a LocalCluster of
  ``--workers`` single-threaded worker processes (each with a Dask memory limit of
  ``--worker-gb``).

Wall time, and the peak resident memory of every process (the client and each worker
process, sampled every 0.2 s with psutil over the whole process tree), medians over
``--repeats`` runs, and the validation AUCs of both paths. Both use the same LightGBM settings
(``--preset``, default ``fast``).

Run::

    nice -n 10 .venv/bin/python benchmarks/bench_lifecycle_dask.py --rows 5000000 \\
        --customers 500000 --repeats 3
    nice -n 10 .venv/bin/python benchmarks/bench_lifecycle_dask.py --rows 50000000 \\
        --customers 5000000 --repeats 1

Each size rewrites its own part of the ``bench_lifecycle_dask`` section of
``benchmarks/RESULTS.md`` (results are kept per size in ``benchmarks/.bench_lifecycle_dask.json``).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _results import machine_header, markdown_table, update_section

REPO = Path(__file__).resolve().parents[1]
STATE = Path(__file__).resolve().parent / ".bench_lifecycle_dask.json"
PACKAGES = ("omnimmm", "dask", "distributed", "lightgbm", "duckdb", "pandas")
AS_OF = "2024-11-30"
HORIZON = 60


def generate(folder: Path, n_rows: int, n_customers: int, chunk: int, seed: int) -> int:
    """Write the log as Parquet files of ``chunk`` customers; returns the rows written."""
    from bench_lifecycle import synthetic_transactions

    folder.mkdir(parents=True, exist_ok=True)
    written = 0
    n_chunks = -(-n_customers // chunk)
    for k in range(n_chunks):
        n_c = min(chunk, n_customers - k * chunk)
        n_r = round(n_rows * n_c / n_customers)
        tx = synthetic_transactions(n_r, n_c, seed=seed * 100_003 + k)
        tx["customer_id"] = f"K{k:04d}" + tx["customer_id"]
        tx["order_id"] = f"K{k:04d}-" + tx["order_id"]
        tx.to_parquet(folder / f"tx_{k:05d}.parquet", index=False, row_group_size=200_000)
        written += len(tx)
        del tx
    return written


def _child(args: argparse.Namespace) -> None:
    """One timed scoring run (in its own process); prints a JSON line."""
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    out = Path(args.out)
    kw = {"seed": 0, "model_preset": args.preset}
    t0 = time.perf_counter()
    if args.child == "single":
        from omnimmm.lifecycle.score import score_customers

        res = score_customers(args.data, AS_OF, HORIZON, out, n_jobs=1, **kw)
    else:
        import logging

        from distributed import Client, LocalCluster

        logging.basicConfig(level=logging.WARNING, format="%(message)s", stream=sys.stderr)
        logging.getLogger("omnimmm.lifecycle.distributed").setLevel(logging.INFO)

        from omnimmm.lifecycle.distributed import score_customers_dask

        with LocalCluster(n_workers=args.workers, threads_per_worker=1, processes=True,
                          host="127.0.0.1", dashboard_address=None,
                          memory_limit=f"{args.worker_gb}GB",
                          silence_logs=logging.ERROR) as cluster, Client(cluster) as client:  # fmt: skip
            t0 = time.perf_counter()
            res = score_customers_dask(args.data, AS_OF, HORIZON, out, client=client, **kw)
    seconds = time.perf_counter() - t0
    m = res.metrics
    print(json.dumps({
        "seconds": seconds, "customers": m["customers_scored"], "rows": m["rows_used"],
        "auc_repurchase": m["repurchase"]["validation"]["roc_auc"],
        "auc_churn": m["churn"]["validation"]["roc_auc"],
        "train_rows": m["repurchase"]["n_train_rows"],
        "phases": m.get("engine", {}).get("phase_seconds"),
        "phase_cpu": m.get("engine", {}).get("phase_cpu_seconds"),
    }))  # fmt: skip


def _measure(cmd: list[str], cap_gb: float | None, timeout: float | None = None) -> dict:
    """Run ``cmd``; wall time, exit code, peak RSS and CPU seconds of the client and of each
    child process, the CPU seconds of the whole tree and the load average around it. A run
    past ``timeout`` seconds is stopped and reported as such (with its peaks so far)."""
    import psutil

    def limit() -> None:
        if cap_gb:
            cap = int(cap_gb * 2**30)
            resource.setrlimit(resource.RLIMIT_AS, (cap, cap))

    env = dict(os.environ, OMP_WAIT_POLICY="PASSIVE")
    load0 = os.getloadavg()[0]
    cpu0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=limit, env=env, start_new_session=True)  # fmt: skip
    peaks: dict[int, tuple[str, int]] = {}
    cpu: dict[int, float] = {}
    loads: list[float] = []
    done = threading.Event()

    def sample() -> None:
        root = psutil.Process(proc.pid)
        while not done.is_set():
            try:
                procs = [root, *root.children(recursive=True)]
            except psutil.Error:
                break
            for p in procs:
                try:
                    rss = p.memory_info().rss
                    name = "client" if p.pid == proc.pid else " ".join(p.cmdline()[-3:])[-60:]
                    times = p.cpu_times()
                    cpu[p.pid] = times.user + times.system
                except psutil.Error:
                    continue
                if rss > peaks.get(p.pid, ("", 0))[1]:
                    peaks[p.pid] = (name, rss)
            loads.append(os.getloadavg()[0])
            time.sleep(0.2)

    th = threading.Thread(target=sample, daemon=True)
    th.start()
    try:
        stdout, stderr = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, 9)  # the run's own process group (its cluster included)
        stdout, stderr = proc.communicate()
        stderr += f"\nstopped after {timeout:.0f} s (--timeout)"
    done.set()
    th.join()
    wall = time.perf_counter() - t0
    cpu1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    result = {"rc": proc.returncode, "wall": wall, "peaks_gb": {},
              "cpu_s_total": (cpu1.ru_utime + cpu1.ru_stime) - (cpu0.ru_utime + cpu0.ru_stime),
              "cpu_s_client": cpu.get(proc.pid, 0.0),
              "cpu_s_children": sorted((v for k, v in cpu.items() if k != proc.pid),
                                       reverse=True),
              "load_start": load0, "load_mean": statistics.mean(loads) if loads else load0}  # fmt: skip
    client = [rss for pid, (name, rss) in peaks.items() if pid == proc.pid]
    others = sorted((rss for pid, (_, rss) in peaks.items() if pid != proc.pid), reverse=True)
    result["peak_client_gb"] = (client[0] if client else 0) / 2**30
    result["peak_children_gb"] = [r / 2**30 for r in others]
    result["children"] = sorted(([rss / 2**30, cpu.get(pid, 0.0)]
                                 for pid, (_, rss) in peaks.items() if pid != proc.pid),
                                reverse=True)  # fmt: skip
    done_phases = re.findall(r"phase (\w+) done in ([\d.]+) s \(([\d.]+) CPU s\)", stderr)
    result["phases_done"] = {k: [float(w), float(c)] for k, w, c in done_phases}
    lines = [line for line in stdout.splitlines() if line.startswith("{")]
    if proc.returncode == 0 and lines:
        result |= json.loads(lines[-1])
    else:
        result["error"] = (stderr.strip().splitlines() or ["?"])[-1][:300]
    return result


def _median(runs: list[dict], key: str) -> float | None:
    vals = [r[key] for r in runs if r.get(key) is not None and r["rc"] == 0]
    return statistics.median(vals) if vals else None


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=5_000_000)
    ap.add_argument("--customers", type=int, default=500_000)
    ap.add_argument("--chunk", type=int, default=100_000)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--worker-gb", type=float, default=4.0)
    ap.add_argument("--cap-gb", type=float, default=8.0)
    ap.add_argument("--preset", default="fast")
    ap.add_argument("--skip", choices=["single", "dask"], default=None)
    ap.add_argument("--note", default="", help="A remark printed under this size's table.")
    ap.add_argument("--tmp", default=None, help="Folder for the generated data (temporary).")
    ap.add_argument(
        "--keep",
        default=None,
        help="Folder that keeps the generated log between "
        "runs (made once per size; outputs are written next to it).",
    )
    ap.add_argument(
        "--timeout",
        type=float,
        default=None,
        help="Stop a run after this many seconds and report it as unfinished.",
    )
    ap.add_argument("--generate-only", action="store_true")
    ap.add_argument(
        "--render-only",
        action="store_true",
        help="Rewrite the RESULTS.md section from the stored runs (with --note: this size's "
        "remark replaced).",
    )
    ap.add_argument(
        "--append",
        action="store_true",
        help="Add this invocation's runs to the runs stored for this size (the median is "
        "over all of them) instead of replacing them.",
    )
    ap.add_argument("--child", choices=["single", "dask"], help=argparse.SUPPRESS)
    ap.add_argument("--data", help=argparse.SUPPRESS)
    ap.add_argument("--out", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        _child(args)
        return
    if args.render_only:
        state = json.loads(STATE.read_text())
        if args.note:
            state[f"{args.rows}/{args.customers}"]["note"] = args.note
            STATE.write_text(json.dumps(state, indent=1))
        update_section("bench_lifecycle_dask", render(state))
        return

    if args.keep:
        root = Path(args.keep)
        root.mkdir(parents=True, exist_ok=True)
    else:
        root = Path(tempfile.mkdtemp(prefix="bench_lc_dask_", dir=args.tmp))
    made = root / "generated.json"
    try:
        if made.is_file():
            rows, gen_s = (json.loads(made.read_text())[k] for k in ("rows", "seconds"))
        else:
            shutil.rmtree(root / "tx", ignore_errors=True)
            t0 = time.perf_counter()
            rows = generate(root / "tx", args.rows, args.customers, args.chunk, seed=0)
            gen_s = time.perf_counter() - t0
            made.write_text(json.dumps({"rows": rows, "seconds": gen_s}))
        print(f"generated {rows:,} rows in {gen_s:.0f} s", flush=True)
        if args.generate_only:
            return
        runs: dict[str, list[dict]] = {"single": [], "dask": []}
        for _ in range(args.repeats):
            for kind in ("dask", "single"):
                if kind == args.skip:
                    continue
                cmd = [sys.executable, __file__, "--child", kind, "--data", str(root / "tx"),
                       "--out", str(root / f"out_{kind}"), "--preset", args.preset,
                       "--workers", str(args.workers), "--worker-gb", str(args.worker_gb)]  # fmt: skip
                r = _measure(cmd, args.cap_gb if kind == "single" else None, args.timeout)
                print(kind, json.dumps(r), flush=True)
                runs[kind].append(r)
                shutil.rmtree(root / f"out_{kind}", ignore_errors=True)
    finally:
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)
    state = json.loads(STATE.read_text()) if STATE.is_file() else {}
    before = state.get(f"{args.rows}/{args.customers}", {}).get("runs", {})
    if args.append:  # this invocation's runs join the stored ones (repeats run one at a time)
        runs = {k: before.get(k, []) + v for k, v in runs.items()}
    else:
        runs = {k: v or before.get(k, []) for k, v in runs.items()}  # a path not run keeps its runs
    state[f"{args.rows}/{args.customers}"] = {
        "rows": rows, "customers": args.customers, "generate_s": gen_s, "runs": runs,
        "workers": args.workers, "worker_gb": args.worker_gb, "cap_gb": args.cap_gb,
        "preset": args.preset, "header": machine_header(PACKAGES),
        "note": args.note or state.get(f"{args.rows}/{args.customers}", {}).get("note", ""),
    }  # fmt: skip
    STATE.write_text(json.dumps(state, indent=1))
    update_section("bench_lifecycle_dask", render(state))


def _fmt(x: float | None, spec: str = ".0f") -> str:
    return "-" if x is None else format(x, spec)


def render(state: dict) -> str:
    """The RESULTS.md section from every size measured so far."""
    out = ["## Lifecycle scoring on Dask (bench_lifecycle_dask)", ""]
    for _key, s in sorted(state.items(), key=lambda kv: kv[1]["rows"]):
        out += [f"### {s['rows']:,} transactions / {s['customers']:,} customers", "",
                s["header"].strip(), f"- LightGBM preset `{s['preset']}`, as-of {AS_OF}, horizon "
                f"{HORIZON} days; Dask: LocalCluster of {s['workers']} single-threaded workers "
                f"(memory limit {s['worker_gb']} GB each); single process "
                + (f"capped at {s['cap_gb']} GB of address space" if s["cap_gb"] else
                   "not capped (its peak RSS is measured)")
                + f"; data generated in {s['generate_s']:.0f} s",
                ""]  # fmt: skip
        rows = []
        for kind, runs in s["runs"].items():
            ok = [r for r in runs if r["rc"] == 0]
            groups = ([(kind, ok)] if ok else []) + [(f"{kind} (failed)", [r]) for r in runs
                                                       if r["rc"] != 0]  # fmt: skip
            for name, rs in groups:
                children = [max(r["peak_children_gb"]) for r in rs if r["peak_children_gb"]]
                cpu = [r["cpu_s_total"] for r in rs if "cpu_s_total" in r]
                load = [r["load_mean"] for r in rs if "load_mean" in r]
                rows.append([
                    name, str(len(rs)), _fmt(statistics.median([r["wall"] for r in rs])),
                    _fmt(statistics.median(cpu) if cpu else None),
                    _fmt(statistics.median([r["peak_client_gb"] for r in rs]), ".2f"),
                    _fmt(statistics.median(children) if children else None, ".2f"),
                    _fmt(statistics.median(load) if load else None, ".1f"),
                    _fmt(_median(rs, "auc_repurchase"), ".4f"),
                    _fmt(_median(rs, "auc_churn"), ".4f"),
                    "; ".join(sorted({r.get("error", "") for r in rs if r["rc"] != 0})),
                ])  # fmt: skip
        out += [markdown_table(["path", "runs", "wall s (median)", "CPU s (all processes)",
                                "peak RSS client GB", "peak RSS per worker GB (max)",
                                "load (mean)", "AUC repurchase", "AUC churn", "failure"],
                               rows), ""]  # fmt: skip
        for kind, runs in s["runs"].items():
            for i, r in enumerate(runs, 1):
                if "cpu_s_client" not in r:
                    continue
                procs = ", ".join(f"{g:.2f} GB / {c:.0f} s" for g, c in r.get("children", [])
                                  if g > 0.05)  # fmt: skip
                out.append(f"- {kind} run {i}: wall {r['wall']:.0f} s, load {r['load_mean']:.1f}; "
                           f"client{' (with the scheduler)' if kind == 'dask' else ''} "
                           f"{r['peak_client_gb']:.2f} GB peak RSS / {r['cpu_s_client']:.0f} CPU s"
                           + (f"; other processes (peak RSS / CPU s, largest first): {procs}"
                              if procs else "")
                           + (f"; phases finished before it stopped (wall s, CPU s): "
                              f"{r['phases_done']}"
                              if r["rc"] != 0 and r.get("phases_done") else ""))  # fmt: skip
        out.append("")
        phases = [r["phases"] for r in s["runs"]["dask"] if r.get("phases")]
        if phases:
            out += ["Dask phases (wall s, median): " + ", ".join(
                f"{k} {statistics.median(p[k] for p in phases):.0f}" for k in phases[0]) + ".", ""]  # fmt: skip
        cpus = [r["phase_cpu"] for r in s["runs"]["dask"] if r.get("phase_cpu")]
        if cpus:
            out += ["Dask phases (CPU s of the client and the workers, median): " + ", ".join(
                f"{k} {statistics.median(p[k] for p in cpus):.0f}" for k in cpus[0]) + ".", ""]  # fmt: skip
        single, dask = _median(s["runs"]["single"], "wall"), _median(s["runs"]["dask"], "wall")
        if single and dask:
            out.append(f"Dask / single wall-time ratio: {dask / single:.2f}.")
            out.append("")
        if s.get("note"):
            out += [s["note"], ""]
    return "\n".join(out)


if __name__ == "__main__":
    main()
