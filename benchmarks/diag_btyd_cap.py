"""How much BG/NBD and Pareto/NBD at one cutoff move with the customer sample they are
fitted on (``rhythm.BTYD_FIT_CUSTOMERS`` and the sample's seed).

Reads a Parquet folder of transactions (e.g. the log ``bench_lifecycle_dask.py --keep DIR
--generate-only`` writes), takes every customer's ``(x, t_x, T)`` in purchase days at
``CUTOFF`` as the rhythm features do, and fits both models with
:func:`omnimmm.lifecycle.rhythm.fit_btyd` on samples of each size in ``CAPS`` for seeds 0
and 1. Prints one JSON line per fit: CPU seconds of the two fits, the parameters and the AUC
of each model's P(a purchase in the next 60 days) against the real next 60 days of 300,000
customers drawn at random (the same for every fit). Run::

    nice -n 19 .venv/bin/python benchmarks/diag_btyd_cap.py DIR/tx 2024-10-01 100000,250000
"""

from __future__ import annotations

import json
import sys
import time
from dataclasses import astuple

import duckdb
import numpy as np
from sklearn.metrics import roc_auc_score

from omnimmm.lifecycle.rhythm import counted_rows, fit_btyd

HORIZON = 60


def main() -> None:
    folder, cutoff, caps = sys.argv[1], sys.argv[2], [int(c) for c in sys.argv[3].split(",")]
    con = duckdb.connect()
    con.execute("SET threads = 1")
    stop = f"TIMESTAMP '{cutoff}' + INTERVAL 1 DAY"
    t0 = time.time()
    df = con.execute(f"""
        WITH o AS (SELECT customer_id, ts FROM read_parquet('{folder}/*.parquet')),
        dd AS (SELECT DISTINCT customer_id, CAST(ts AS DATE) AS d FROM o WHERE ts < {stop}),
        c AS (SELECT customer_id, count(*) - 1 AS x,
                     CAST(max(d) - min(d) AS DOUBLE) AS t_x_days,
                     (epoch_us({stop}) - epoch_us(CAST(min(d) AS TIMESTAMP))) / 86400000000.0
                     AS t_days
              FROM dd GROUP BY customer_id),
        y AS (SELECT DISTINCT customer_id, 1 AS y FROM o
              WHERE ts >= {stop} AND ts < {stop} + INTERVAL {HORIZON} DAY)
        SELECT c.*, coalesce(y.y, 0) AS y FROM c LEFT JOIN y USING (customer_id)
    """).df()  # fmt: skip
    print(f"{len(df):,} customers, read in {time.time() - t0:.0f} s", flush=True)
    x_all = df["x"].to_numpy(float)
    rows = counted_rows(x_all, df["t_x_days"].to_numpy(), df["t_days"].to_numpy(),
                        np.ones(len(df)))  # fmt: skip
    print(f"{len(rows):,} distinct (x, t_x, T) rows", flush=True)
    ev = df.sample(n=min(300_000, len(df)), random_state=123)
    x = ev["x"].to_numpy(float)
    t_x = ev["t_x_days"].to_numpy() / 7
    T = np.maximum(ev["t_days"].to_numpy() / 7, t_x)
    for cap in caps:
        for seed in (0, 1):
            t0 = time.process_time()
            models = fit_btyd(rows["x"], rows["t_x_days"], rows["t_days"],
                              rows["n"].to_numpy(float), max_customers=cap, seed=seed)  # fmt: skip
            rec: dict[str, object] = {"cap": cap, "seed": seed,
                                      "cpu_s": round(time.process_time() - t0, 1)}  # fmt: skip
            for name, m in models.items():
                rec[name] = [round(v, 4) for v in astuple(m.params_)]
                p_any = m.p_any(HORIZON / 7, x, t_x, T)
                rec[f"{name}_auc"] = round(float(roc_auc_score(ev["y"], p_any)), 5)
            print(json.dumps(rec), flush=True)


if __name__ == "__main__":
    main()
