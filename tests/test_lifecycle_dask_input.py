"""Dask lifecycle input from one big file (``lifecycle score --workers`` on a single Parquet or
CSV file): it is cut into pieces (Parquet row groups; a CSV streamed to Parquet pieces) that
every worker reads, and it must score exactly as the same rows in a folder of files.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from omnimmm.data.simulate_customers import simulate_customers
from omnimmm.errors import DataError
from omnimmm.lifecycle.distributed import _partition_file
from omnimmm.lifecycle.distributed_input import (
    csv_pieces,
    materialize,
    parquet_pieces,
)
from omnimmm.lifecycle.features import ColumnMap, cutoff_end, load_transactions

AS_OF = "2025-06-15"
COLS = ["customer_id", "ts", "amount", "order_id", "channel", "store_id", "coupon_used"]
ROLES = ColumnMap("customer_id", "ts", "amount", "order_id", "channel", "store_id", "coupon_used")


@pytest.fixture(scope="module")
def log(tmp_path_factory):
    """A simulated log as a folder of three files, one Parquet file of many row groups and
    one CSV file (the same rows)."""
    world = simulate_customers(n_customers=1500, seed=3, start="2024-01-01", end="2025-08-31")
    tx = world.transactions.assign(customer_id=world.truth.transactions_person.astype(str))[COLS]
    d = tmp_path_factory.mktemp("lc_dask_input")
    (d / "tx").mkdir()
    third = len(tx) // 3
    for k in range(3):  # split by rows: customers' histories span files
        tx.iloc[k * third : (k + 1) * third if k < 2 else None].to_parquet(
            d / "tx" / f"p{k}.parquet", index=False
        )
    tx.to_parquet(d / "one.parquet", index=False, row_group_size=1_000)
    tx.assign(ts=tx["ts"].dt.strftime("%Y-%m-%d %H:%M:%S")).to_csv(d / "one.csv", index=False)
    return d, tx


def test_parquet_pieces_are_whole_row_groups_in_order(log, tmp_path):
    d, tx = log
    pieces = parquet_pieces(d / "one.parquet", piece_rows=3_000)
    assert len(pieces) > 2 and all(p.row_groups for p in pieces)
    assert [p.first_row for p in pieces] == list(np.cumsum([0, *[p.n_rows for p in pieces]])[:-1])
    back = pd.concat(
        [pd.read_parquet(materialize(p, tmp_path / f"{i}.parquet")) for i, p in enumerate(pieces)]
    )
    pd.testing.assert_frame_equal(back.reset_index(drop=True), tx.reset_index(drop=True))
    # a small file, or one of a single row group, is one piece (read whole by one task)
    assert len(parquet_pieces(d / "one.parquet", piece_rows=10**9)) == 1
    assert len(parquet_pieces(d / "tx" / "p0.parquet", piece_rows=10)) == 1
    assert pq.read_metadata(d / "tx" / "p0.parquet").num_row_groups == 1


def test_csv_pieces_read_as_the_whole_file(log, tmp_path):
    """The CSV streamed to pieces loads the same typed rows as the CSV read whole."""
    d, _ = log
    pieces = csv_pieces(str(d / "one.csv"), 0, str(tmp_path), piece_rows=3_000)
    assert len(pieces) > 2 and all(p.source == str(d / "one.csv") for p in pieces)
    whole = load_transactions(d / "one.csv", columns=ROLES)
    want = whole.con.execute(f"SELECT * FROM {whole.table}").df()
    got = []
    for p in pieces:
        t = load_transactions(p.path, columns=ROLES)
        got.append(t.con.execute(f"SELECT * FROM {t.table}").df())
    pd.testing.assert_frame_equal(pd.concat(got, ignore_index=True), want)


def test_a_bad_row_in_a_piece_is_named_by_its_row_in_the_file(log, tmp_path):
    d, tx = log
    bad = tx.assign(ts=tx["ts"].dt.strftime("%Y-%m-%d %H:%M:%S"), amount=tx["amount"].astype(str))
    row = len(bad) - 7  # in the last piece
    bad.loc[bad.index[row - 1], "amount"] = "n/a"  # data row `row` (1 = first after header)
    path = tmp_path / "bad.csv"
    bad.to_csv(path, index=False)
    with pytest.raises(DataError) as whole:
        load_transactions(path, columns=ROLES)
    assert f"data row {row}" in str(whole.value)
    pieces = csv_pieces(str(path), 0, str(tmp_path / "s"), piece_rows=3_000)
    stop = cutoff_end("2030-01-01")
    with pytest.raises(DataError) as got:
        _partition_file(pieces[-1], len(pieces) - 1, ROLES, stop, str(tmp_path / "s"), 2)
    assert str(got.value) == str(whole.value)


@pytest.mark.slow
def test_one_big_file_scores_as_the_folder(log):
    """One Parquet file and one CSV file, each cut into 6 pieces, score exactly as the
    folder of 3 files: the same customers, stages, rows and features; the buckets hold the
    same customers (same hash, same count) and every feature is a per-customer aggregate
    sorted by customer, so the models see the same rows (summation order aside)."""
    from distributed import Client, LocalCluster

    from omnimmm.lifecycle.distributed import score_customers_dask

    d, tx = log
    runs = {}
    with (
        LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                     dashboard_address=None) as cluster,
        Client(cluster) as client,
    ):  # fmt: skip
        for name, src in (("folder", d / "tx"), ("parquet", d / "one.parquet"),
                          ("csv", d / "one.csv")):  # fmt: skip
            res = score_customers_dask(src, AS_OF, 60, d / f"out_{name}", client=client,
                                       model_preset="fast", n_partitions=4, piece_rows=len(tx) // 6)  # fmt: skip
            runs[name] = (res.scores, json.loads((d / f"out_{name}" / "metrics.json").read_text()))
    scores0, m0 = runs["folder"]
    assert m0["engine"]["input_pieces"] == 3
    for name in ("parquet", "csv"):
        scores, m = runs[name]
        assert m["engine"]["input_files"] == 1 and m["engine"]["input_pieces"] >= 4, name
        assert m["rows_used"] == m0["rows_used"] and m["stages"] == m0["stages"]
        pd.testing.assert_series_equal(scores["customer_id"], scores0["customer_id"])
        pd.testing.assert_series_equal(scores["stage"], scores0["stage"])
        for target in ("repurchase", "churn"):
            a, b = m0[target], m[target]
            assert a["n_train_rows"] == b["n_train_rows"] and a["features"] == b["features"]
            assert b["validation"]["roc_auc"] == pytest.approx(a["validation"]["roc_auc"], abs=1e-3)
        np.testing.assert_allclose(scores["p_repurchase"], scores0["p_repurchase"], atol=1e-3)
