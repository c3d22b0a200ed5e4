"""Point-in-time features: DuckDB against a pandas oracle, no leakage past the cutoff, stages,
and bad input that names the file, column and row."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from omnimmm.data.simulate_customers import simulate_customers
from omnimmm.errors import DataError
from omnimmm.lifecycle import resolve_identities
from omnimmm.lifecycle.features import (
    ColumnMap,
    StageRules,
    build_features,
    build_features_pandas,
    cutoff_end,
    lifecycle_stage,
    load_transactions,
)
from omnimmm.lifecycle.identity import assign_customer_ids
from omnimmm.lifecycle.labels import (
    DEFAULT_PLAN,
    check_history,
    make_labels,
    max_supported_horizon,
)

AS_OF = "2025-03-31"
COLUMNS = ["customer_id", "ts", "amount", "order_id", "channel", "store_id", "coupon_used"]


@pytest.fixture(scope="module")
def tx() -> pd.DataFrame:
    world = simulate_customers(n_customers=1500, seed=5, start="2024-01-01", end="2025-06-29")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        cid = resolve_identities(world.transactions).customer_id
    return world.transactions.assign(customer_id=cid)[COLUMNS].reset_index(drop=True)


def test_duckdb_features_match_the_pandas_oracle(tx, tmp_path):
    path = tmp_path / "tx.parquet"
    tx.to_parquet(path)
    sql = build_features(path, AS_OF)
    oracle = build_features_pandas(tx, AS_OF)
    assert len(sql) == tx.loc[tx["ts"] < cutoff_end(AS_OF), "customer_id"].nunique()
    pd.testing.assert_frame_equal(sql, oracle, check_exact=False, rtol=1e-9, atol=1e-9)
    expected = {"recency_days", "tenure_days", "n_orders_30d", "revenue_365d", "gap_mean",
                "gap_std", "overdue_days", "trend_orders", "online_share", "channel_switches",
                "n_stores", "coupon_share", "aov", "stage"}  # fmt: skip
    assert expected <= set(sql.columns)


def test_changing_every_row_after_the_cutoff_leaves_features_identical(tx):
    stop = cutoff_end(AS_OF)
    later = tx["ts"] >= stop
    assert later.sum() > 1000
    rng = np.random.default_rng(0)
    changed = tx.copy()
    n = int(later.sum())
    changed.loc[later, "amount"] = rng.uniform(1, 5000, n).round(2)
    changed.loc[later, "channel"] = np.where(
        tx.loc[later, "channel"] == "online", "offline", "online"
    )
    changed.loc[later, "store_id"] = "S999"
    changed.loc[later, "coupon_used"] = ~tx.loc[later, "coupon_used"].astype(bool)
    changed.loc[later, "customer_id"] = rng.permutation(tx.loc[later, "customer_id"].to_numpy())
    shift = pd.to_timedelta(rng.integers(0, 90 * 86400, n), unit="s")
    changed.loc[later, "ts"] = (stop + shift).astype(tx["ts"].dtype)
    extra = tx[later].head(500).assign(order_id=lambda d: "X" + d["order_id"], ts=stop)
    changed = pd.concat([changed, extra], ignore_index=True)

    before = build_features(tx, AS_OF)
    after = build_features(changed, AS_OF)
    pd.testing.assert_frame_equal(before, after)
    # the change is real: labels, which look after the cutoff, do move
    assert not make_labels(tx, AS_OF, 60).equals(make_labels(changed, AS_OF, 60))


def test_the_whole_as_of_day_is_history_and_nothing_later():
    base = pd.DataFrame({
        "customer_id": ["a", "a", "b"],
        "ts": pd.to_datetime(["2024-01-01 00:00:00", "2024-03-31 23:59:59", "2024-04-01 00:00:00"]),
        "amount": [10.0, 20.0, 30.0],
    })  # fmt: skip
    f = build_features(base, "2024-03-31")
    assert f["customer_id"].tolist() == ["a"]
    assert f.loc[0, "n_orders"] == 2
    assert f.loc[0, "recency_days"] == pytest.approx(1 / 86400)


def test_stage_rules_in_order():
    f = pd.DataFrame({
        "recency_days": [400.0, 10.0, 100.0, 50.0, 10.0],
        "tenure_days": [900.0, 30.0, 500.0, 500.0, 500.0],
        "gap_mean": [20.0, np.nan, 20.0, 10.0, 10.0],
    })  # fmt: skip
    assert lifecycle_stage(f).tolist() == ["lapsed", "new", "at_risk", "at_risk", "active"]
    relaxed = StageRules(gap_multiple=10.0)
    assert lifecycle_stage(f, relaxed).tolist()[3] == "active"


def test_missing_column_is_named_with_the_flag_to_map_it(tx, tmp_path):
    path = tmp_path / "tx.csv"
    tx.assign(when=tx["ts"].astype(str) + "x").drop(columns="ts").to_csv(path, index=False)
    with pytest.raises(DataError) as err:
        build_features(path, AS_OF)
    msg = str(err.value)
    assert str(path) in msg and "timestamp" in msg and "when" in msg and "--ts-col" in msg
    # a column whose values are dates is found by them, whatever its name
    tx.rename(columns={"ts": "when"}).to_csv(path, index=False)
    assert len(build_features(path, AS_OF)) > 0
    # an explicitly mapped name that is not there is named with its flag
    with pytest.raises(DataError, match="--ts-col"):
        build_features(path, AS_OF, columns=ColumnMap(ts="stamp"))


def test_unparsable_timestamp_names_file_column_and_row(tmp_path):
    path = tmp_path / "tx.csv"
    path.write_text(
        "cust,when,value\nc1,2024-01-05,10\nc2,2024-01-06 10:00:00,12\nc3,06/01/2024x,9\n"
    )
    cols = ColumnMap(customer_id="cust", ts="when", amount="value")
    with pytest.raises(DataError) as err:
        load_transactions(path, columns=cols)
    msg = str(err.value)
    assert str(path) in msg and "'when'" in msg and "data row 3" in msg and "06/01/2024x" in msg


@pytest.mark.parametrize(
    ("frame", "needle"),
    [
        (
            {"customer_id": ["a", None], "ts": ["2024-01-01"] * 2, "amount": [1, 2]},
            "no customer key",
        ),
        ({"customer_id": ["a", "b"], "ts": ["2024-01-01"] * 2, "amount": [1, "x"]}, "not numeric"),
        ({"customer_id": ["a", "b"], "ts": ["2024-01-01"] * 2, "amount": [1, -2]}, "negative"),
    ],
)
def test_bad_values_are_reported_with_their_position(frame, needle):
    with pytest.raises(DataError, match=rf"{needle}.*position 1"):
        load_transactions(pd.DataFrame(frame).astype({"amount": object}))


def test_bad_channel_values_are_listed():
    frame = pd.DataFrame({"customer_id": ["a"], "ts": ["2024-01-01"], "amount": [1.0],
                          "channel": ["web"]})  # fmt: skip
    with pytest.raises(DataError, match=r"'channel' must hold 'online' or 'offline'.*web"):
        load_transactions(frame)


def test_horizon_too_long_names_the_longest_supported_one(tx):
    t = load_transactions(tx)
    as_of = "2025-06-15"
    given = {"n_cutoffs": 4, "step_days": 30, "min_history_days": 90}
    longest = max_supported_horizon(t.start, as_of, **given)
    assert longest > 30
    assert not check_history(t, as_of, longest, **given).note  # fits as given
    with pytest.raises(DataError) as err:
        check_history(t, as_of, longest + 1, **given)
    msg = str(err.value)
    assert f"longest supported horizon is {longest} days" in msg
    assert f"--horizon-days {longest}" in msg
    with pytest.raises(DataError, match="after the last transaction day"):
        check_history(t, "2026-01-01", 30)


def test_a_short_history_shortens_the_default_plan_and_says_so(tx):
    t = load_transactions(tx)
    as_of = "2025-06-15"
    longest = max_supported_horizon(t.start, as_of)  # of the default plan
    assert check_history(t, as_of, longest).settings == DEFAULT_PLAN
    plan = check_history(t, as_of, longest + 1)
    assert plan.settings == {"n_cutoffs": 3, "step_days": 30, "min_history_days": 90}
    assert len(plan.train) == 3 and "trained on 3 cutoff(s)" in plan.note
    assert plan.shifted().note == plan.note
    # every training label window still ends before the validation window starts
    assert plan.train[-1] + pd.Timedelta(days=longest + 1) <= plan.validation
    first = plan.train[0] + pd.Timedelta(days=1) - pd.Timedelta(days=90)
    assert t.start.normalize() <= first
    # what the user set is kept: with 4 cutoffs asked for, only the history may shrink
    kept = check_history(t, as_of, longest + 1, n_cutoffs=4)
    assert len(kept.train) == 4 and kept.settings["min_history_days"] == 60
    # the shortest plan: two cutoffs and 30 days of history; beyond it, refused on that plan
    shortest = max_supported_horizon(t.start, as_of, n_cutoffs=2, min_history_days=30)
    assert check_history(t, as_of, shortest).settings["min_history_days"] == 30
    with pytest.raises(
        DataError, match=f"2 training cutoffs .*longest supported horizon is {shortest}"
    ):
        check_history(t, as_of, shortest + 1)


def test_label_window_past_the_data_says_how_long_it_can_be(tx):
    with pytest.raises(DataError, match="longest window the data cover is"):
        make_labels(tx, "2025-06-01", 60)


# --- campaign contact and response features -------------------------------------------------


def test_campaign_features_by_hand():
    """Contacts, responses and recency of contact as of 2024-03-31, worked out by hand."""
    tx = pd.DataFrame({
        "customer_id": ["a", "a", "a", "b", "c"],
        "ts": pd.to_datetime(["2024-01-01", "2024-02-10", "2024-04-02", "2024-01-05",
                              "2024-03-01"]),
        "amount": [10.0, 20.0, 30.0, 5.0, 7.0],
    })  # fmt: skip
    camp = pd.DataFrame({
        "customer_id": ["a", "a", "a", "b", "b", "b", "c"],
        # a: answered by the 02-10 order; open at the cutoff (its answer, 04-02, is later);
        # sent after the cutoff. b: redeemed; redeemed after the cutoff; sent 2023 (outside
        # 90 days). c: random control, not contacted.
        "sent_at": ["2024-02-01 10:00", "2024-03-25 10:00", "2024-04-05", "2024-03-01",
                    "2024-03-20", "2023-10-01", "2024-03-10"],
        "redeemed_at": [None, None, None, "2024-03-30", "2024-04-03", None, None],
        "treated": [True, True, True, True, True, True, False],
    })  # fmt: skip
    f = build_features(tx, "2024-03-31", campaigns=camp).set_index("customer_id")
    stop = pd.Timestamp("2024-04-01")
    assert f["n_contacts"].tolist() == [2, 3, 0]
    assert f["n_contacts_90d"].tolist() == [2, 2, 0]
    assert f["n_responses"].tolist() == [1, 1, 0]
    assert f["n_redemptions"].tolist() == [0, 1, 0]
    np.testing.assert_allclose(f["contact_response_rate"].iloc[:2], [0.5, 1 / 3])
    assert np.isnan(f.loc["c", "contact_response_rate"])
    assert f.loc["a", "days_since_last_contact"] == pytest.approx(
        (stop - pd.Timestamp("2024-03-25 10:00")) / pd.Timedelta(days=1)
    )
    assert np.isnan(f.loc["c", "days_since_last_contact"])
    # a shorter response window drops a's answer (an order 8.6 days after the contact)
    short = build_features(tx, "2024-03-31", campaigns=camp, response_days=7)
    assert short.set_index("customer_id").loc["a", "n_responses"] == 0
    # without campaigns the table is the transaction features alone
    plain = build_features(tx, "2024-03-31")
    assert "n_contacts" not in plain and list(f.reset_index().columns[: plain.shape[1]]) == list(
        plain.columns
    )


def test_campaign_file_errors_name_the_column_and_row(tmp_path):
    tx = pd.DataFrame({"customer_id": ["a"], "ts": ["2024-01-01"], "amount": [1.0]})
    path = tmp_path / "camp.csv"
    path.write_text("customer_id,sent_at\na,2024-01-02\na,soon\n")
    with pytest.raises(DataError, match=r"'sent_at' is missing or not a timestamp.*'soon'.*row 2"):
        build_features(tx, "2024-03-31", campaigns=path)
    path.write_text("cust,sent_at\na,2024-01-02\n")
    with pytest.raises(DataError, match=r"no column 'customer_id'"):
        build_features(tx, "2024-03-31", campaigns=path)
    # contact dates in another layout are read as the purchase log's are
    iso, us = tmp_path / "iso.csv", tmp_path / "us.csv"
    iso.write_text("customer_id,sent_at,redeemed_at\na,2024-01-02,\na,2024-02-13,2024-02-15\n")
    us.write_text("customer_id,sent_at,redeemed_at\na,1/2/2024,\na,2/13/2024,2/15/2024\n")
    pd.testing.assert_frame_equal(build_features(tx, "2024-03-31", campaigns=us),
                                  build_features(tx, "2024-03-31", campaigns=iso))  # fmt: skip


@pytest.fixture(scope="module")
def campaign_world():
    """Simulated transactions and contacts (with redemptions added) keyed by resolved ids, and
    a cutoff ten days after a campaign send, so its response window is open at the cutoff."""
    world = simulate_customers(n_customers=1500, seed=5, start="2024-01-01", end="2025-06-29")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        identity = resolve_identities(world.transactions)
    tx = world.transactions.assign(customer_id=identity.customer_id)[COLUMNS]
    camp = world.campaigns.assign(customer_id=assign_customer_ids(world.campaigns, identity))
    camp = camp.dropna(subset=["customer_id"]).reset_index(drop=True)
    rng = np.random.default_rng(1)
    redeemed = camp["treated"].to_numpy() & (rng.random(len(camp)) < 0.3)
    delay = pd.to_timedelta(rng.uniform(0, 20, len(camp)), unit="D")
    camp["redeemed_at"] = (camp["sent_at"] + delay).where(redeemed)
    sends = np.sort(camp["sent_at"].unique())
    as_of = str((pd.Timestamp(sends[len(sends) // 2]) + pd.Timedelta(days=10)).date())
    return (
        tx.reset_index(drop=True),
        camp[["customer_id", "sent_at", "redeemed_at", "treated"]],
        as_of,
    )


def test_changing_every_transaction_and_campaign_row_after_the_cutoff_changes_no_feature(
    campaign_world,
):
    tx, camp, as_of = campaign_world
    stop = cutoff_end(as_of)
    rng = np.random.default_rng(2)
    later_tx = tx["ts"] >= stop
    tx2 = tx.copy()
    tx2.loc[later_tx, "amount"] = rng.uniform(1, 5000, int(later_tx.sum())).round(2)
    tx2.loc[later_tx, "customer_id"] = rng.permutation(tx.loc[later_tx, "customer_id"].to_numpy())
    shift = pd.to_timedelta(rng.integers(0, 30 * 86400, int(later_tx.sum())), unit="s")
    tx2.loc[later_tx, "ts"] = (stop + shift).astype(tx["ts"].dtype)

    sent_later = camp["sent_at"] >= stop
    redeemed_later = camp["redeemed_at"] >= stop
    assert sent_later.sum() > 100 and redeemed_later.sum() > 10
    camp2 = camp.copy()
    camp2.loc[sent_later, "customer_id"] = rng.permutation(
        camp.loc[sent_later, "customer_id"].to_numpy()
    )
    camp2.loc[sent_later, "treated"] = ~camp.loc[sent_later, "treated"].astype(bool)
    camp2.loc[sent_later, "sent_at"] = stop + pd.Timedelta(hours=1)
    # redemptions after the cutoff: some moved, some withdrawn, and new ones added
    moved = redeemed_later & (rng.random(len(camp)) < 0.5)
    camp2.loc[moved, "redeemed_at"] = stop
    camp2.loc[redeemed_later & ~moved, "redeemed_at"] = pd.NaT
    unredeemed = camp["redeemed_at"].isna() & ~sent_later & camp["treated"]
    camp2.loc[unredeemed, "redeemed_at"] = stop + pd.Timedelta(days=2)
    extra = camp[~sent_later].head(300).assign(sent_at=stop + pd.Timedelta(days=1))
    camp2 = pd.concat([camp2, extra], ignore_index=True)

    before = build_features(tx, as_of, campaigns=camp)
    after = build_features(tx2, as_of, campaigns=camp2)
    pd.testing.assert_frame_equal(before, after)
    # training loads the whole history once and cuts per cutoff: the same must hold there
    full_before = build_features(load_transactions(tx), as_of, campaigns=camp)
    full_after = build_features(load_transactions(tx2), as_of, campaigns=camp2)
    pd.testing.assert_frame_equal(full_before, before)
    pd.testing.assert_frame_equal(full_after, before)
    assert (before["n_responses"] > 0).sum() > 50 and (before["n_redemptions"] > 0).sum() > 10
    # the test can fail: contacts open at the cutoff have orders after it inside their window,
    # which a feature reading past the cutoff would count
    open_ = camp[(camp["sent_at"] < stop) & (camp["sent_at"] >= stop - pd.Timedelta(days=30))]
    late = tx[later_tx].merge(open_, on="customer_id")
    assert ((late["ts"] >= late["sent_at"]) & (late["ts"] < late["sent_at"] + pd.Timedelta(
        days=30))).sum() > 10  # fmt: skip
