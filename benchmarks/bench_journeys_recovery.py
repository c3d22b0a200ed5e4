"""Recovery of incremental shares on simulated journey worlds, several seeds and worlds.

For each world setting (``--worlds``, see :func:`omnimmm.data.simulate_journeys.
world_settings`: the default world, an ``other`` one with six channels and a no-effect
channel aimed at high-intent customers, ...) and seed a world (20,000 customers, 120
days) is simulated with its causal truth, attributed with every method, and scored:
mean absolute share error (points), whether the default method ranks the channels as the
truth does, whether the no-effect channel's 90% interval covers 0, and how many channels'
true shares fall in their intervals. Rewrites the ``journeys-recovery`` section of
RESULTS.md. Usage::

    nice -n 10 .venv/bin/python benchmarks/bench_journeys_recovery.py --seeds 1 2 3 4 5 \
        --worlds default other

Seeds 1-5 of the default world are the ones the model was developed on; report fresh
seeds (11-20) and other worlds beside them.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
from _results import machine_header, markdown_table, update_section

from omnimmm.data.simulate_journeys import simulate_journeys, world_settings
from omnimmm.journeys.attribute import AttributionSettings, attribute

METHODS = ("hazard_removal", "last_touch", "first_touch", "linear", "time_decay",
           "position_based", "markov_1", "markov_2", "markov_3", "shapley")  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3, 4, 5])
    ap.add_argument("--customers", type=int, default=20_000)
    ap.add_argument("--days", type=int, default=120)
    ap.add_argument("--bootstrap", type=int, default=50)
    ap.add_argument("--worlds", nargs="+", default=["default"])
    ap.add_argument("--note", default="")
    ap.add_argument("--no-write", action="store_true")
    args = ap.parse_args()
    body = machine_header(("numpy", "pandas", "duckdb")) + "\n"
    body += (f"{args.customers:,} customers, {args.days} days, bootstrap {args.bootstrap}; "
             "mean absolute error of the channel shares of summed incremental conversions, "
             "in points.\n\n")  # fmt: skip
    for world in args.worlds:
        body += f"**World `{world}`**, seeds {', '.join(map(str, args.seeds))}\n\n"
        body += _world(world, args) + "\n"
    body += args.note + ("\n" if args.note else "")
    print(body)
    if not args.no_write:
        update_section("journeys-recovery", body)


def _world(world: str, args: argparse.Namespace) -> str:
    rows: list[list[str]] = []
    errs: dict[str, list[float]] = {m: [] for m in METHODS}
    n_rank = n_null = n_in = n_all = 0
    for seed in args.seeds:
        w = simulate_journeys(n_customers=args.customers, days=args.days, seed=seed,
                              **world_settings(world))  # fmt: skip
        with tempfile.TemporaryDirectory() as tmp:
            res = attribute(w.touches, w.conversions, Path(tmp) / "o",
                            settings=AttributionSettings(n_bootstrap=args.bootstrap, seed=seed))  # fmt: skip
        truth = w.truth.set_index("name")["share"]
        truth = truth.reindex(res.causal.table["name"])
        shares = res.all_methods()
        for m in METHODS:
            s = shares[shares.method == m].set_index("channel")["share"]
            errs[m].append(100 * float((s - truth).abs().mean()))
        t = res.causal.table.set_index("name")
        ranked = list(t["share"].sort_values(ascending=False).index) == list(
            truth.sort_values(ascending=False).index
        )
        null = truth[truth == 0].index
        covers0 = all(t.loc[n, "low"] <= 0 <= t.loc[n, "high"] for n in null)
        inside = int(((t["low"] <= truth) & (truth <= t["high"])).sum())
        n_rank, n_null, n_in, n_all = (n_rank + ranked, n_null + covers0, n_in + inside,
                                       n_all + len(t))  # fmt: skip
        over = 100 * (shares[(shares.method == "last_touch")].set_index("channel")["share"]
                      - truth)  # fmt: skip
        rows.append([str(seed), f"{errs['hazard_removal'][-1]:.1f}",
                     f"{errs['last_touch'][-1]:.1f}", f"{errs['markov_1'][-1]:.1f}",
                     f"{errs['markov_3'][-1]:.1f}", f"{errs['shapley'][-1]:.1f}",
                     "yes" if ranked else "no", "yes" if covers0 else "no",
                     f"{inside}/{len(t)}", f"{over.idxmax()} +{over.max():.0f}"])  # fmt: skip
        print(rows[-1], flush=True)
    mean = ["mean"] + [
        f"{np.mean(errs[m]):.1f}"
        for m in ("hazard_removal", "last_touch", "markov_1", "markov_3", "shapley")
    ]
    k = len(args.seeds)
    rows.append(mean + [f"{n_rank}/{k}", f"{n_null}/{k}", f"{n_in}/{n_all}", ""])
    table = markdown_table(["seed", "default (pts)", "last touch", "markov 1", "markov 3",
                            "shapley", "ranking right", "null covers 0", "truth in 90%",
                            "last touch over-credits"], rows)  # fmt: skip
    other = ", ".join(f"{m} {np.mean(errs[m]):.1f}" for m in METHODS[1:])
    return table + f"\n\nMean error of every comparison method: {other}.\n"


if __name__ == "__main__":
    pd.set_option("display.width", 200)
    main()
