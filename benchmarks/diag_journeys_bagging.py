"""Would the bootstrap's mean be a better point estimate of the journey shares? (jn15 in RESULTS.md)

The default attribution's point estimate goes through hard steps: each channel pair kept or
dropped at ``Z_KEEP``, a negative main effect held at zero. Averaging an estimator with such
steps over bootstrap refits ("bagging") often lowers its error; the bootstrap replicates are
already fitted for the intervals, so it would cost nothing. Each ``WORLD:SEED`` (20,000
customers, 120 days, cached by :mod:`diag_journeys_small`) is attributed once by
:func:`omnimmm.journeys.causal.fit_causal` (fit seed = world seed), and the replicates'
incremental conversions are kept. Printed per world: the mean absolute share error (points)
and whether the ranking is right for

* ``point``: the shipped estimate;
* ``bag_inc``: shares of the replicates' mean incremental conversions;
* ``bag_share``: the replicates' mean share;
* ``bag_median``: the replicates' median share.

``--bench-1m DIR`` instead fits the ``bench_journeys`` world saved as ``DIR/touches.parquet``
and ``DIR/conversions.parquet`` (1,000,000 customers, seed 0), scored against the truth of
its first 50,000 customers re-simulated with truth (``jn12`` section 8).

    PYTHONPATH=src nice -n 19 .venv/bin/python benchmarks/diag_journeys_bagging.py \\
        default:110 other:110 --bootstrap 30 --json out.jsonl
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from diag_journeys_small import world

from omnimmm.journeys import causal
from omnimmm.journeys.inputs import load_journeys

#: Truth of the bench_journeys world (its first 50,000 customers, jn12 section 8).
BENCH_1M_TRUTH = {"search": 0.407, "social": 0.314, "display": 0.070, "email": 0.0,
                  "direct_mail": 0.208}  # fmt: skip
ESTIMATES = ("point", "bag_inc", "bag_share", "bag_median")


def estimates(data: object, n_bootstrap: int, seed: int) -> tuple[list[str], dict]:
    """Channel names and each estimate's shares from one fit with its replicates."""
    kept: dict[str, np.ndarray] = {}
    table = causal._table

    def keep(data, inc, draws, mean_value, cost):  # type: ignore[no-untyped-def]
        kept["inc"], kept["draws"] = inc.copy(), draws.copy()
        return table(data, inc, draws, mean_value, cost)

    causal._table = keep
    try:
        causal.fit_causal(data, n_bootstrap=n_bootstrap, seed=seed)  # type: ignore[arg-type]
    finally:
        causal._table = table
    inc, draws = kept["inc"], kept["draws"]
    share = draws / draws.sum(1, keepdims=True)
    mean = np.clip(draws.mean(0), 0.0, None)
    return list(data.channels), {  # type: ignore[attr-defined]
        "point": inc / inc.sum(),
        "bag_inc": mean / mean.sum(),
        "bag_share": np.nanmean(share, 0),
        "bag_median": np.nanmedian(share, 0),
    }


def score(names: list[str], shares: dict, truth: dict[str, float]) -> dict:
    t = np.array([truth[n] for n in names])
    return {k: {"error": float(100 * np.abs(v - t).mean()),
                "rank": bool(list(np.argsort(-v)) == list(np.argsort(-t)))}
            for k, v in shares.items()}  # fmt: skip


def summary(rows: list[dict]) -> None:
    print(f"{len(rows)} worlds: estimate, mean error (points), ranking right")
    for k in ESTIMATES:
        errs = [r["scores"][k]["error"] for r in rows]
        right = sum(r["scores"][k]["rank"] for r in rows)
        print(f"  {k:10s} {np.mean(errs):5.2f}  {right}/{len(rows)}")
    d = np.array([r["scores"]["bag_inc"]["error"] - r["scores"]["point"]["error"] for r in rows])
    if len(d) > 1:
        print(
            f"  bag_inc - point: {d.mean():+.3f} (paired SE {d.std(ddof=1) / np.sqrt(len(d)):.3f})"
        )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("worlds", nargs="*")
    ap.add_argument("--bootstrap", type=int, default=30)
    ap.add_argument("--customers", type=int, default=20_000)
    ap.add_argument("--cache", type=Path, default=Path("/tmp/jn12_worlds"))
    ap.add_argument("--bench-1m", type=Path)
    ap.add_argument("--json", type=Path, help="append one JSON line per world")
    args = ap.parse_args()
    rows = []
    jobs: list[tuple[str, object, dict[str, float], int]] = []
    if args.bench_1m:
        data = load_journeys(pd.read_parquet(args.bench_1m / "touches.parquet"),
                             pd.read_parquet(args.bench_1m / "conversions.parquet"))  # fmt: skip
        jobs.append(("bench1m:0", data, BENCH_1M_TRUTH, 0))
    for spec in args.worlds:
        touches, conversions, truth = world(spec, args.cache, args.customers, 120)
        tr = truth.set_index("name")["share"].to_dict()
        jobs.append((spec, load_journeys(touches, conversions), tr, int(spec.split(":")[1])))
    for spec, data, truth, seed in jobs:
        t0 = time.process_time()
        names, shares = estimates(data, args.bootstrap, seed)
        row = {"world": spec, "names": names, "truth": [truth[n] for n in names],
               **{k: v.tolist() for k, v in shares.items()},
               "scores": score(names, shares, truth), "cpu_s": time.process_time() - t0}  # fmt: skip
        rows.append(row)
        print(spec, " ".join(f"{k} {row['scores'][k]['error']:.2f}"
                             f"{'(r)' if row['scores'][k]['rank'] else ''}" for k in ESTIMATES),
              flush=True)  # fmt: skip
        if args.json:
            with args.json.open("a") as fh:
                fh.write(json.dumps(row) + "\n")
    summary(rows)


if __name__ == "__main__":
    main()
