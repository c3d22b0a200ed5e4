"""Campaign AIPW when the target list follows the log, and when it follows a hidden trait.

Simulated targeted campaigns (``data/simulate_campaigns.py``: four campaigns, lifts 0.5, 0,
0.3, 0.8, no holdout) scored with the library's estimator (``estimate_campaign``: cross-fitted
AIPW on the point-in-time features, the placebo on the window before the start). Two ways the
business draws its list:

* ``log``: from what the exported log shows before the list day (orders in the 8 weeks before
  it, average order value so far): targeting is ignorable given the history, AIPW's
  assumption;
* ``hidden``: from the orders and the person's latent basket size, which drives spend too and
  which the average order value measures with noise (an unobserved confounder).

Per world and size: 90% interval coverage of the true effect on the treated, the mean error
and the mean z-score (error over the standard error: 0 when unbiased, whatever the size), the
placebo's coverage of 0 and its mean z, and the naive difference's mean error.

Usage::

    .venv/bin/python benchmarks/diag_campaign_targeting.py --customers 3000 8000 --seeds 3
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _results import machine_header, markdown_table, update_section

PACKAGES = ("omnimmm", "lightgbm", "numpy", "pandas")
FIRST_SEED = 100  # bench_campaigns' simulated seeds start here too


def score(n: int, seeds: list[int], hidden: bool, folds: int) -> pd.DataFrame:
    """One row per campaign: truth, estimate, standard error, placebo and naive error."""
    from omnimmm.data.simulate_campaigns import simulate_campaign_world
    from omnimmm.lifecycle.features import ColumnMap, load_transactions
    from omnimmm.lifecycle.incrementality import estimate_campaign

    rows = []
    for seed in seeds:
        w = simulate_campaign_world(n, seed, hidden_basket=hidden)
        t = load_transactions(w.transactions, columns=ColumnMap())
        for (_, d), (_, tr) in zip(w.descriptions.iterrows(), w.truth.iterrows(), strict=True):
            c = w.campaigns[w.campaigns["campaign_id"] == d["campaign_id"]]
            est = estimate_campaign(
                t, d["campaign_id"], d["campaign_type"], pd.Timestamp(d["start_date"]),
                pd.Timestamp(d["end_date"]), set(c["customer_id"][c["treated"]]), set(),
                seed=seed, folds=folds,
            )  # fmt: skip
            p = est.placebo_spend
            rows.append({
                "truth": tr["att_spend"], "mean": est.spend.mean, "se": est.spend.se,
                "low": est.spend.low, "high": est.spend.high,
                "placebo": np.nan if p is None else p.mean,
                "placebo_se": np.nan if p is None else p.se,
                "placebo_covers": np.nan if p is None else float(p.low <= 0 <= p.high),
                "naive": est.naive_spend.mean,
            })  # fmt: skip
    return pd.DataFrame(rows)


def summary_row(world: str, n: int, seeds: int, f: pd.DataFrame, cpu: float) -> list[str]:
    err = f["mean"] - f["truth"]
    covered = (f["low"] <= f["truth"]) & (f["truth"] <= f["high"])
    pl = f.dropna(subset=["placebo"])
    return [
        world, f"{n:,}", str(seeds), str(len(f)),
        f"{covered.mean():.2f}", f"{err.mean():+.2f}", f"{(err / f['se']).mean():+.2f}",
        f"{pl['placebo_covers'].mean():.2f}", f"{(pl['placebo'] / pl['placebo_se']).mean():+.2f}",
        f"{(f['naive'] - f['truth']).mean():+.2f}", f"{cpu:.0f}",
    ]  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--customers", type=int, nargs="+", default=[3000, 8000])
    ap.add_argument("--seeds", type=int, default=3, help=f"seeds {FIRST_SEED}, {FIRST_SEED}+1, ...")
    ap.add_argument("--worlds", nargs="+", default=["log", "hidden"], choices=["log", "hidden"])
    ap.add_argument("--folds", type=int, default=5)
    ap.add_argument("--note", default="", help="text added under the table")
    ap.add_argument("--no-write", action="store_true")
    args = ap.parse_args(argv)
    warnings.filterwarnings("ignore", category=UserWarning)
    seeds = list(range(FIRST_SEED, FIRST_SEED + args.seeds))
    rows = []
    for n in args.customers:
        for world in args.worlds:
            t0 = time.process_time()
            f = score(n, seeds, world == "hidden", args.folds)
            rows.append(summary_row(world, n, len(seeds), f, time.process_time() - t0))
            print(" | ".join(rows[-1]), flush=True)
    table = markdown_table(
        ["list drawn from", "customers", "seeds", "campaigns", "90% coverage", "mean error",
         "mean z", "placebo covers 0", "placebo mean z", "naive mean error", "CPU s"],
        rows,
    )  # fmt: skip
    body = (
        "## Campaign AIPW: a list drawn from the log against one drawn from a hidden trait\n\n"
        f"`benchmarks/diag_campaign_targeting.py` (seeds {seeds[0]}-{seeds[-1]}, "
        f"{args.folds}-fold cross-fitting; see its docstring).\n\n"
        + machine_header(PACKAGES) + "\n" + table + "\n"
        + (f"\n{args.note}\n" if args.note else "")
    )  # fmt: skip
    print(body)
    if not args.no_write:
        update_section("campaign_targeting", body)
    return 0


if __name__ == "__main__":
    sys.exit(main())
