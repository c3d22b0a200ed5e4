"""Speed of ``omnimmm journeys attribute`` at scale (target: 1M customers / 20M touches in
<= 3 min on 2 cores).

A simulated world (no truth replays) is written to Parquet, then the attribution (hazard
model with bootstrap, path methods in DuckDB, outputs) is timed ``--repeats`` times in a
fresh process each; the median and the seconds per million touches are reported and the
``journeys`` section of RESULTS.md is rewritten. Usage::

    nice -n 10 .venv/bin/python benchmarks/bench_journeys.py --customers 1000000 --days 69

69 days give about 20M touches (19.97M at seed 0). ``--data DIR`` reuses a world already
written there (``touches.parquet``, ``conversions.parquet``). On a shared machine wall
time depends on the neighbours: the CPU seconds of each run and the load average before
and after it are reported beside it.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _results import HISTORY, machine_header, markdown_table, section_history, update_section


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--customers", type=int, default=1_000_000)
    ap.add_argument("--days", type=int, default=69)
    ap.add_argument("--data", type=Path, default=None)
    ap.add_argument("--note", default="")
    ap.add_argument("--bootstrap", type=int, default=100)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--no-write", action="store_true")
    args = ap.parse_args()
    from omnimmm.data.simulate_journeys import simulate_journeys

    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        t0 = time.perf_counter()
        if args.data is None:
            w = simulate_journeys(n_customers=args.customers, days=args.days, seed=0,
                                  truth=False)  # fmt: skip
            w.touches.to_parquet(d / "touches.parquet")
            w.conversions.to_parquet(d / "conversions.parquet")
            del w
            src = d
        else:
            src = args.data
        import duckdb

        n_t = duckdb.sql(f"select count(*) from '{src / 'touches.parquet'}'").fetchall()[0][0]
        n_c = duckdb.sql(f"select count(*) from '{src / 'conversions.parquet'}'").fetchall()[0][0]
        gen = time.perf_counter() - t0
        times, cpus, loads = [], [], []
        for k in range(args.repeats):
            t1 = time.perf_counter()
            c1 = resource.getrusage(resource.RUSAGE_CHILDREN)
            l1 = os.getloadavg()[0]
            subprocess.run([sys.executable, "-m", "omnimmm.cli", "journeys", "attribute",
                            "--touches", str(src / "touches.parquet"), "--conversions",
                            str(src / "conversions.parquet"), "--out", str(d / f"o{k}"),
                            "--bootstrap", str(args.bootstrap)],
                           check=True, capture_output=True)  # fmt: skip
            times.append(time.perf_counter() - t1)
            c2 = resource.getrusage(resource.RUSAGE_CHILDREN)
            cpus.append(c2.ru_utime + c2.ru_stime - c1.ru_utime - c1.ru_stime)
            loads.append(f"{l1:.0f}-{os.getloadavg()[0]:.0f}")
            print(f"run {k}: {times[-1]:.1f} s wall, {cpus[-1]:.1f} s CPU, load {loads[-1]}",
                  flush=True)  # fmt: skip
    med = statistics.median(times)
    cpu = statistics.median(cpus)
    rows = [[f"{args.customers:,}", f"{n_t:,}", f"{n_c:,}", str(args.bootstrap),
             ", ".join(f"{x:.1f}" for x in times), f"{med:.1f}",
             ", ".join(f"{x:.0f}" for x in cpus), f"{cpu:.0f}", ", ".join(loads),
             f"{cpu / 180:.2f}"]]  # fmt: skip
    table = markdown_table(["customers", "touches", "conversions", "bootstrap", "runs (s)",
                            "median (s)", "CPU s per run", "CPU s (median)",
                            "load (start-end)", "CPU s / 180 s"], rows)  # fmt: skip
    made = (
        f"The world was reused from Parquet (`--data {args.data}`; not timed)."
        if args.data is not None
        else f"World generation and Parquet writing (not timed above): {gen:.0f} s."
    )
    body = (
        "## Journeys: attribution at 1M customers / 20M touches (`benchmarks/bench_journeys.py`)"
        "\n\n"
        + machine_header(("numpy", "pandas", "duckdb"))
        + "\n"
        + table
        + "\n\n"
        + made
        + "\n"
        + (f"\n{args.note}\n" if args.note else "")
    )
    print(body)
    if not args.no_write:  # the earlier runs stay below the new one
        history = section_history("journeys") or f"{HISTORY}\n"
        update_section("journeys", f"{body}\n{history}")


if __name__ == "__main__":
    main()
