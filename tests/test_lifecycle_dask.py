"""``omnimmm lifecycle score --workers/--scheduler``: the Dask path against one process.

A real LocalCluster (two worker processes) scores a simulated log written as several Parquet
files; the single-process ``lifecycle score`` scores the same files. The features are the same
code on hash buckets of customers, so the customer list, stages, row counts and BG/NBD
baseline within 1e-4 (one BG/NBD fitted on every customer; only the summation order differs)
and the validation AUCs within 0.005.
"""

from __future__ import annotations

import json
from dataclasses import astuple
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from omnimmm.cli import app
from omnimmm.data.simulate_customers import simulate_customers
from omnimmm.errors import DataError
from omnimmm.lifecycle.btyd import BGNBD
from omnimmm.lifecycle.distributed import _fit_cutoff, input_files, score_on_cluster
from omnimmm.lifecycle.distributed_train import Matrix, _stop_round
from omnimmm.lifecycle.pareto_nbd import ParetoNBD
from omnimmm.lifecycle.rhythm import fit_btyd

CDNOW = Path(__file__).parent / "data" / "cdnow" / "cdnow_customers_summary.csv"

AS_OF = "2025-06-15"
COLS = ["customer_id", "ts", "amount", "order_id", "channel", "store_id", "coupon_used"]


def _log(tmp_path_factory, n: int, seed: int):
    world = simulate_customers(n_customers=n, seed=seed, start="2024-01-01", end="2025-08-31")
    tx = world.transactions.assign(customer_id=world.truth.transactions_person.astype(str))[COLS]
    d = tmp_path_factory.mktemp(f"lc_dask_{n}")
    (d / "tx" / "2024").mkdir(parents=True)
    (d / "tx" / "2025").mkdir(parents=True)
    # split by time, so a customer's history is spread over files (the buckets must rejoin it)
    early = tx["ts"] < pd.Timestamp("2025-01-01")
    first = tx[early]
    half = len(first) // 2
    first.iloc[:half].to_parquet(d / "tx" / "2024" / "p0.parquet", index=False)
    first.iloc[half:].to_parquet(d / "tx" / "2024" / "p1.parquet", index=False)
    tx[~early].to_parquet(d / "tx" / "2025" / "p0.parquet", index=False)
    return d


def _score(d, name, *extra):
    args = ["lifecycle", "score", "--transactions", str(d / "tx"), "--as-of", AS_OF,
            "--horizon-days", "60", "--out", str(d / name), *extra]  # fmt: skip
    res = CliRunner().invoke(app, args)
    assert res.exit_code == 0, res.output
    metrics = json.loads((d / name / "metrics.json").read_text())
    return pd.read_csv(d / name / "scores.csv", dtype={"customer_id": str}), metrics


def _score_api(d, name, **kw):
    """The Dask path through the API (settings the CLI does not expose)."""
    score_on_cluster(d / "tx", AS_OF, 60, d / name, workers=2, **kw)
    metrics = json.loads((d / name / "metrics.json").read_text())
    return pd.read_csv(d / name / "scores.csv", dtype={"customer_id": str}), metrics


def _compare(d, *extra, tol=0.005, **api):
    one, m1 = _score(d, "single", *extra)
    dist, m2 = _score_api(d, "dask", **api) if api else _score(d, "dask", "--workers", "2", *extra)
    assert m2["engine"]["name"] == "dask" and m2["engine"]["workers"] == 2
    assert m2["engine"]["input_files"] == 3
    assert m1["rows_used"] == m2["rows_used"] and m1["stages"] == m2["stages"]
    assert list(one["customer_id"]) == list(dist["customer_id"])
    assert (one["stage"] == dist["stage"]).all()
    for target in ("repurchase", "churn"):
        a, b = m1[target], m2[target]
        assert a["n_train_rows"] == b["n_train_rows"]
        assert a["n_validation_rows"] == b["n_validation_rows"]
        assert a["features"] == b["features"]
        # both paths fit the same recipes (the BTYD base alone, the base plus trees)
        assert set(b["recipes"]) == set(a["recipes"]) and b["recipe"] in b["recipes"]
        assert b["recipes"]["btyd_base"]["n_trees"] == 0
        # same features: the BTYD baselines (fitted on every customer) agree exactly
        for base in ("baseline_bgnbd", "baseline_pareto_nbd"):
            assert b[base]["roc_auc"] == pytest.approx(a[base]["roc_auc"], abs=1e-4), base
        assert abs(a["validation"]["roc_auc"] - b["validation"]["roc_auc"]) < tol, target
        assert b["validation"]["roc_auc"] > b["baseline_rfm_logistic"]["roc_auc"] - 0.02
    # the scores rank customers alike; on a small log the two paths may keep different
    # recipes (their stop / calibration halves are drawn differently, and the recipes' log
    # losses can be within a few thousandths), which moves the ranks a little more
    same = all(m1[t]["recipe"] == m2[t]["recipe"] for t in ("repurchase", "churn"))
    rank = one["p_repurchase"].rank().corr(dist["p_repurchase"].rank())
    assert rank > (0.98 if same else 0.95), (rank, same)
    return m1, m2


def test_dask_scores_match_single_process_quick(tmp_path_factory):
    """A small log and the fast preset (for the default suite): the features must agree
    exactly; with ~1,000 validation rows the trees' AUC is only held to 0.015 (distributed
    bagging and bin edges differ from one process; the 0.005 contract is the slow test)."""
    d = _log(tmp_path_factory, 1500, seed=3)
    _, m2 = _compare(d, "--fast", tol=0.015)
    # the same data give the same model: each training worker holds its buckets as one block
    # in bucket order, so neither the scheduler's placement nor its listing order enters
    again, m3 = _score(d, "dask_again", "--workers", "2", "--fast")
    dist = pd.read_csv(d / "dask" / "scores.csv", dtype={"customer_id": str})
    pd.testing.assert_frame_equal(again, dist)
    for target in ("repurchase", "churn"):
        assert m3[target]["recipes"] == m2[target]["recipes"], target
    # with the trees on both workers too (LightGBM ranks its machines in the workers' order)
    k2 = [_score_api(d, f"dask_k2_{i}", train_rows_per_worker=500, model_preset="fast")[0]
          for i in range(2)]  # fmt: skip
    pd.testing.assert_frame_equal(k2[0], k2[1])


def test_lightgbm_sees_the_training_workers_in_their_order():
    """``Matrix.fit`` lists the parts' holders in the training workers' order, whatever
    order the scheduler gives, and leaves the client as it was."""

    class Client:
        def who_has(self, futures=None):
            return {"p_c": ["tcp://w3"], "p_a": ["tcp://w1"], "p_x": [], "p_b": ["tcp://w2"]}

    class Model:
        client = Client()

        def fit(self, X, y, init_score=None):
            self.order = list(self.client.who_has(["any"]))
            return self

    m = Matrix(None, None, 0, None, ["tcp://w1", "tcp://w2", "tcp://w3"])
    fitted = m.fit(Model())
    assert fitted.order == ["p_a", "p_b", "p_c", "p_x"]
    assert "who_has" not in vars(Model.client)  # the client's own method again


def test_each_part_is_trained_where_its_block_was_built():
    """A part whose task the scheduler ran on the other worker (work stealing) is still
    reported, and so trained, on its block's worker: two machines, not one."""

    class Future:
        def __init__(self, key):
            self.key = key

    class Client:
        def who_has(self, futures=None):  # both parts ended up on w2
            return {"p_0": ["tcp://w2"], "p_1": ["tcp://w2", "tcp://w1"]}

    class Model:
        client = Client()

        def fit(self, X, y, init_score=None):
            self.placed = self.client.who_has([Future("p_0"), Future("p_1")])
            self.other = self.client.who_has([Future("p_0")])  # not the parts: as listed
            return self

    m = Matrix(None, None, 0, None, ["tcp://w1", "tcp://w2"], ("tcp://w1", "tcp://w2"))
    fitted = m.fit(Model())
    assert fitted.placed == {"p_0": ["tcp://w1"], "p_1": ["tcp://w2"]}
    assert list(fitted.placed) == ["p_0", "p_1"]
    assert fitted.other == {"p_1": ["tcp://w2", "tcp://w1"], "p_0": ["tcp://w2"]}


@pytest.mark.slow
def test_dask_scores_match_single_process_default_settings(tmp_path_factory):
    """The contract: same metrics as one process, validation AUC within 0.005, with the
    trees trained by LightGBM's data-parallel learner on both workers (a few hundred
    training rows per worker force it)."""
    d = _log(tmp_path_factory, 3000, seed=3)
    _compare(d, train_rows_per_worker=500)


@pytest.mark.parametrize("model", [BGNBD, ParetoNBD])
def test_counted_rows_fit_as_every_customer(model):
    """The Dask path fits BG/NBD and Pareto/NBD on distinct (x, t_x, T) rows weighted by
    their customer counts; on whole days that is the fit on every customer."""
    d = pd.read_csv(CDNOW)
    x = d["frequency"].to_numpy(float)
    t_x = np.round(d["recency"].to_numpy() * 7) / 7  # whole days, as the features count them
    T = np.maximum(np.round(d["T"].to_numpy() * 7) / 7, t_x)
    rows = pd.DataFrame({"x": x, "t_x": t_x, "T": T}).value_counts().reset_index()
    assert len(rows) < 0.8 * len(d)  # the counting does collapse customers
    every = model(penalty=1e-3).fit(x, t_x, T)
    counted = model(penalty=1e-3).fit(
        rows["x"], rows["t_x"], rows["T"], weights=rows["count"].to_numpy()
    )
    assert counted.n_customers_ == len(d)
    assert counted.log_likelihood_ == pytest.approx(every.log_likelihood_, abs=1e-6 * len(d))
    for a, b in zip(astuple(counted.params_), astuple(every.params_), strict=True):
        assert a == pytest.approx(b, rel=2e-3)
    w = rows["count"].to_numpy()
    with pytest.raises(DataError, match="weights"):
        model().fit(rows["x"], rows["t_x"], rows["T"], weights=-w)


def test_btyd_fit_beyond_the_cap_is_on_a_seeded_sample_of_customers():
    d = pd.read_csv(CDNOW)
    days = pd.DataFrame({"x": d["frequency"], "t_x": np.round(d["recency"] * 7),
                         "T": np.round(d["T"] * 7)}).value_counts().reset_index()  # fmt: skip
    half = len(days) // 2  # two buckets' counted rows
    parts = [days.iloc[:half].to_numpy(float), days.iloc[half:].to_numpy(float)]
    full = _fit_cutoff(parts, max_customers=len(d))
    assert full["bgnbd"].n_customers_ == len(d)
    capped = _fit_cutoff(parts, max_customers=1500, seed=1)
    again = _fit_cutoff(parts, max_customers=1500, seed=1)
    for name in ("bgnbd", "pnbd"):
        assert capped[name].n_customers_ == 1500
        assert capped[name].params_ == again[name].params_  # seeded
    # a sample of 1,500 of 2,357 customers: the same model up to sampling noise
    a, b = astuple(capped["bgnbd"].params_), astuple(full["bgnbd"].params_)
    assert np.allclose(np.log(a), np.log(b), atol=0.35)


def test_both_paths_fit_beyond_the_cap_on_the_same_customers():
    """Past the cap the single process (one row per customer) and the Dask path (bucket
    counts) draw the same sample and so fit the very same BG/NBD and Pareto/NBD."""
    d = pd.read_csv(CDNOW)
    per = pd.DataFrame({"x": d["frequency"].astype(float), "t_x": np.round(d["recency"] * 7),
                        "T": np.round(d["T"] * 7)})  # fmt: skip
    one = fit_btyd(per["x"], per["t_x"], per["T"], max_customers=1500)
    counted = per.value_counts().reset_index()
    rng = np.random.default_rng(5)
    parts = np.array_split(counted.iloc[rng.permutation(len(counted))].to_numpy(float), 3)
    dask = _fit_cutoff(parts, max_customers=1500)
    for name in ("bgnbd", "pnbd"):
        assert one[name].n_customers_ == dask[name].n_customers_ == 1500
        assert one[name].params_ == dask[name].params_
    below = fit_btyd(per["x"], per["t_x"], per["T"])  # below the cap: every customer
    assert below["bgnbd"].n_customers_ == len(d)


def test_stop_round_follows_lightgbm_rule():
    curve = [1.0, 0.9, 0.8, 0.7999, 0.81, 0.82, 0.83]
    assert _stop_round(curve, rounds=3, min_delta=2e-4) == (3, True)
    assert _stop_round(curve[:5], rounds=3, min_delta=2e-4) == (3, False)
    assert _stop_round([0.5], rounds=3, min_delta=0.0) == (1, False)


def test_bad_inputs_fail_before_a_cluster(tmp_path):
    csv = tmp_path / "tx.csv"
    csv.write_text("customer_id,ts,amount\n1,2024-01-01,3\n")
    assert input_files(csv) == [csv]  # one CSV file is read in pieces (distributed_input)
    js = tmp_path / "tx.json"
    js.write_text("[]")
    with pytest.raises(DataError, match="reads Parquet"):
        input_files(js)
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="no .parquet files"):
        input_files(tmp_path / "empty")
    with pytest.raises(DataError, match="not supported with --scheduler"):
        score_on_cluster(csv, AS_OF, 60, tmp_path / "out", workers=2, campaigns=csv)
    with pytest.raises(DataError, match="either --scheduler"):
        score_on_cluster(
            tmp_path / "empty", AS_OF, 60, tmp_path / "out", scheduler="tcp://x:1", workers=2
        )
    res = CliRunner().invoke(app, ["lifecycle", "score", "--transactions", str(js),
                                   "--as-of", AS_OF, "--horizon-days", "60",
                                   "--out", str(tmp_path / "o"), "--workers", "2"])  # fmt: skip
    assert res.exit_code != 0 and "reads Parquet" in res.output
    assert "Traceback" not in res.output


def test_one_class_training_labels_are_refused_on_the_dask_path(tmp_path):
    # every customer buys weekly: each training cutoff's 30-day labels are all "bought again"
    days = pd.Timestamp("2024-01-01") + pd.to_timedelta(np.arange(120), unit="D")
    tx = tmp_path / "tx.csv"
    pd.DataFrame({"customer_id": np.arange(120) % 7, "ts": days, "amount": 10.0}).to_csv(
        tx, index=False
    )
    res = CliRunner().invoke(app, ["lifecycle", "score", "--transactions", str(tx),
                                   "--as-of", "2024-04-29", "--horizon-days", "30",
                                   "--out", str(tmp_path / "o"), "--workers", "1"])  # fmt: skip
    text = " ".join(res.output.split())
    assert res.exit_code == 3, res.output
    assert "every customer bought again within 30 days" in text and "one class" in text
    assert not (tmp_path / "o").exists()
