"""Points programme recovery: breakage and next-quarter redemptions against the simulator.

For each seed, a 4,000-customer world with a points programme (1 point per CNY, 0.01 CNY
a point, 365-day expiry, FIFO) is simulated over 2023-2025; ``points_summary`` sees the
transactions up to a cutoff and estimates (a) breakage, checked against the true share of
the points earned in the year before the cutoff that expired unused, (b) the points the
open balance will redeem in the next 90 days and (c) all points redeemed in the next 90
days, both checked against the ledger. The negative control is the naive breakage
``1 - redeemed / earned`` to date. Run: ``python benchmarks/bench_lifecycle_points.py``.
"""

from __future__ import annotations

import argparse
import sys

import numpy as np
import pandas as pd
from _results import machine_header, markdown_table, update_section

from omnimmm.data.simulate_customers import CustomerParams, simulate_customers
from omnimmm.data.simulate_points import PointsParams
from omnimmm.lifecycle.points import points_ledger, points_summary, read_points

CUTOFFS = ("2024-09-28", "2024-12-28")


def one(seed: int, n: int) -> list[dict]:
    world = simulate_customers(n, seed=seed, params=CustomerParams(points=PointsParams()))
    tx = world.transactions.assign(customer_id=world.truth.transactions_person.to_numpy())
    truth = world.truth.points
    frame, _ = read_points(tx[["customer_id", "ts", "channel", "points_earned",
                               "points_redeemed"]])  # fmt: skip
    out = []
    for as_of in CUTOFFS:
        cut = pd.Timestamp(as_of) + pd.Timedelta(days=1)
        end = cut + pd.Timedelta(days=90)
        doc = points_summary(points_ledger(frame, cut, 365), n_boot=200, seed=seed)
        q = doc["redemption_next_quarter_points"]
        before = frame[frame["ts"] < cut]
        out.append({
            "seed": seed, "as_of": as_of,
            "breakage": (doc["breakage"], truth.breakage(cut - pd.Timedelta(days=365), cut)),
            "runoff": (q["from_balance"], truth.redeemed_points(cut, end, earned_before=cut)),
            "total": (q["total"], truth.redeemed_points(cut, end)),
            "naive": 1 - before["points_redeemed"].sum() / before["points_earned"].sum(),
        })  # fmt: skip
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--seeds", type=int, default=6)
    ap.add_argument("--customers", type=int, default=4000)
    ap.add_argument("--no-write", action="store_true")
    args = ap.parse_args()
    header = machine_header(("numpy", "pandas", "scipy"))
    res = [r for s in range(args.seeds) for r in one(100 + s, args.customers)]
    rows, summary = [], []
    for r in res:
        cells = [str(r["seed"]), r["as_of"]]
        for key in ("breakage", "runoff", "total"):
            est, true = r[key]
            fmt = "{:.3f}" if key == "breakage" else "{:,.0f}"
            cells.append(f"{fmt.format(est['mean'])} [{fmt.format(est['low'])}, "
                         f"{fmt.format(est['high'])}] vs {fmt.format(true)} "
                         f"({est['mean'] / true - 1:+.1%})")  # fmt: skip
        cells.append(f"{r['naive']:.3f} ({r['naive'] / r['breakage'][1] - 1:+.0%})")
        rows.append(cells)
    for key in ("breakage", "runoff", "total"):
        err = np.array([r[key][0]["mean"] / r[key][1] - 1 for r in res])
        cover = sum(r[key][0]["low"] <= r[key][1] <= r[key][0]["high"] for r in res)
        summary.append(f"- {key}: mean |error| {np.abs(err).mean():.1%}, largest "
                       f"{np.abs(err).max():.1%}, within 10% in {(np.abs(err) < 0.1).sum()}"
                       f"/{len(res)}, 90% interval holds the truth {cover}/{len(res)}")  # fmt: skip
    body = (
        "## Points programme: breakage and redemption cost recovered on the simulator\n\n"
        + __doc__.split("\n\n")[1].replace("\n", " ") + "\n\n" + header + "\n"
        + markdown_table(["seed", "as of", "breakage", "run-off of the balance (points, 90 d)",
                          "all redemptions (points, 90 d)", "naive breakage"], rows)
        + "\n\n" + "\n".join(summary) + "\n"
    )  # fmt: skip
    print(body)
    if not args.no_write:
        update_section("bench_lifecycle_points", body)
    return 0


if __name__ == "__main__":
    sys.exit(main())
