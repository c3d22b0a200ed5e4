"""Points programme: ledger accounting, breakage and redemptions against simulated truth."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from omnimmm.cli import app
from omnimmm.data.simulate_customers import CustomerParams, simulate_customers
from omnimmm.data.simulate_points import PointsParams
from omnimmm.errors import DataError
from omnimmm.lifecycle.points import points_ledger, points_summary, read_points

AS_OF = pd.Timestamp("2024-12-28")
CUT = AS_OF + pd.Timedelta(days=1)
QUARTER = CUT + pd.Timedelta(days=90)
YEAR = pd.Timedelta(days=365)


def _world(n: int, seed: int):
    world = simulate_customers(n, seed=seed, params=CustomerParams(points=PointsParams()))
    tx = world.transactions.assign(customer_id=world.truth.transactions_person.to_numpy())
    cols = ["customer_id", "ts", "amount", "channel", "points_earned", "points_redeemed"]
    return tx[cols], world.truth.points


@pytest.fixture(scope="module")
def world():
    return _world(2500, seed=5)


@pytest.fixture(scope="module")
def summary(world):
    tx, _ = world
    frame, _ = read_points(tx)
    ledger = points_ledger(frame, CUT, expiry_days=365)
    return ledger, points_summary(ledger, value_per_point=0.01, n_boot=60, seed=1)


def test_simulator_points_are_reproducible_and_leave_other_columns_alone():
    a = simulate_customers(300, seed=2, params=CustomerParams(points=PointsParams()))
    b = simulate_customers(300, seed=2, params=CustomerParams(points=PointsParams()))
    plain = simulate_customers(300, seed=2)
    pd.testing.assert_frame_equal(a.transactions, b.transactions)
    pd.testing.assert_frame_equal(
        a.transactions.drop(columns=["points_earned", "points_redeemed"]), plain.transactions
    )
    lots = a.truth.points.lots
    assert (lots["redeemed"] + lots["expired"] <= lots["points"]).all()
    assert a.transactions["points_redeemed"].sum() == a.truth.points.redemptions["points"].sum()


def test_breakage_and_redemptions_recovered_within_10_percent(world, summary):
    tx, truth = world
    _, doc = summary
    true_breakage = truth.breakage(CUT - YEAR, CUT)
    true_runoff = truth.redeemed_points(CUT, QUARTER, earned_before=CUT)
    est_b = doc["breakage"]
    est_r = doc["redemption_next_quarter_points"]["from_balance"]
    assert abs(est_b["mean"] / true_breakage - 1) < 0.10
    assert abs(est_r["mean"] / true_runoff - 1) < 0.10
    cost = doc["redemption_cost_next_quarter"]["from_balance"]["mean"]
    assert cost == pytest.approx(est_r["mean"] * 0.01)
    # negative control: the share of points earned so far and not yet redeemed counts the
    # open balance as broken and misses the truth by far more than 10%
    before = tx[tx["ts"] < CUT]
    naive = 1 - before["points_redeemed"].sum() / before["points_earned"].sum()
    assert abs(naive / true_breakage - 1) > 0.10


def test_balance_and_cross_channel_use_match_the_ledger_exactly(world, summary):
    _, truth = world
    ledger, doc = summary
    lots = truth.lots[truth.lots["earned_at"] < CUT]
    red = truth.redemptions[truth.redemptions["redeemed_at"] < CUT]
    used = red.groupby(["person_id", "earned_at"])["points"].sum()
    key = pd.MultiIndex.from_frame(lots[["person_id", "earned_at"]])
    left = lots["points"].to_numpy() - used.reindex(key, fill_value=0).to_numpy()
    left[(lots["expires_at"] <= CUT).to_numpy()] = 0
    assert doc["balance_points"]["mean"] == pytest.approx(left.sum())
    assert doc["points_unattributed"] == 0
    table = red.pivot_table(index="earned_channel", columns="channel", values="points",
                            aggfunc="sum")  # fmt: skip
    share = table.div(table.sum(axis=1), axis=0)
    cross = doc["cross_channel"]
    assert cross["earned_online"]["share_redeemed_offline"] == pytest.approx(
        share.loc["online", "offline"]
    )
    assert cross["earned_offline"]["share_redeemed_online"] == pytest.approx(
        share.loc["offline", "online"]
    )


def test_ledger_as_it_stood_earlier_matches_a_replay_to_that_day(world, summary):
    """The backtests of the outcome dispersion cut the ledger back in time; that must be
    the ledger a replay of the log up to the earlier day builds."""
    from omnimmm.lifecycle.points import _truncate

    tx, _ = world
    ledger, _ = summary
    frame, _ = read_points(tx)
    for days in (90, 200):
        early = CUT - pd.Timedelta(days=days)
        cut = _truncate(ledger, int(early.value // 10**9))
        replay = points_ledger(frame, early, expiry_days=365)
        for name in ("lot_ts", "lot_points", "lot_left", "lot_expired", "lot_stratum",
                     "alloc_lot", "alloc_ts", "alloc_points"):  # fmt: skip
            np.testing.assert_array_equal(getattr(cut, name), getattr(replay, name), name)
        # the same customers (the replay numbers only those seen by then)
        np.testing.assert_array_equal(
            cut.customers[cut.lot_customer], replay.customers[replay.lot_customer]
        )


def test_next_quarter_interval_is_a_prediction_interval(summary, monkeypatch):
    """The run-off interval carries the customers' outcome noise measured on past quarters;
    without it (negative control) it is the narrower bootstrap interval of the mean."""
    import omnimmm.lifecycle.points as points

    ledger, doc = summary
    q = doc["redemption_next_quarter_points"]
    assert q["outcome_dispersion"] > 0 and len(q["backtests"]) >= 2
    for past in q["backtests"]:
        assert abs(past["realised"] / past["predicted"] - 1) < 0.3
    monkeypatch.setattr(points, "_dispersion", lambda led, days: (None, 0.0, []))
    narrow = points_summary(ledger, value_per_point=0.01, n_boot=60, seed=1)
    n, w = narrow["redemption_next_quarter_points"]["from_balance"], q["from_balance"]
    assert n["mean"] == w["mean"]
    assert (w["high"] - w["low"]) > 1.3 * (n["high"] - n["low"])
    assert "bootstrap interval" in narrow["redemption_next_quarter_points"]["interval"]


def test_one_customer_oracle():
    day = pd.Timestamp("2024-01-01")
    frame = pd.DataFrame({
        "customer_id": ["a", "a", "b"],
        "ts": [day, day + pd.Timedelta(days=10), day + pd.Timedelta(days=3)],
        "points_earned": [1000.0, 0.0, 0.0],
        "points_redeemed": [0.0, 600.0, 250.0],
    })  # fmt: skip
    ledger = points_ledger(frame, day + pd.Timedelta(days=40), expiry_days=30)
    doc = points_summary(ledger, n_boot=5)
    # 600 of the lot's 1000 points redeemed in its second week, the rest expired at day 30
    assert doc["points_expired"] == 400
    assert doc["breakage"]["mean"] == pytest.approx(0.4)
    assert doc["realised_breakage"]["mean"] == pytest.approx(0.4)
    assert doc["balance_points"]["mean"] == 0
    # b redeemed points the log never showed them earn
    assert doc["points_unattributed"] == 250


def test_points_columns_are_inferred_and_bad_values_named():
    frame = pd.DataFrame({
        "会员ID": ["m1", "m2", "m1"],
        "下单时间": ["2024-01-02 10:00", "2024-01-03 11:00", "2024-02-01 12:00"],
        "实付金额": [100.0, 50.0, 80.0],
        "获得积分": [100, 50, 80],
        "使用积分": [0, 0, 100],
    })  # fmt: skip
    out, roles = read_points(frame)
    assert roles["points_earned"] == "获得积分" and roles["points_redeemed"] == "使用积分"
    assert out["points_redeemed"].tolist() == [0.0, 0.0, 100.0]
    with pytest.raises(DataError, match=r"使用积分.*row 3"):
        read_points(frame.assign(使用积分=["0", "0", "-5"]))
    with pytest.raises(DataError, match="no points columns"):
        read_points(frame.drop(columns=["获得积分", "使用积分"]))
    # the same ledger with Unix seconds in 'timestamp' (UTC)
    epoch = frame.drop(columns="下单时间").assign(timestamp=[1704189600, 1704279600, 1706788800])
    got, _ = read_points(epoch)
    assert got["ts"].tolist() == list(pd.to_datetime(frame["下单时间"]))


def test_cli_writes_points_outputs_without_customer_ids(tmp_path, world):
    tx, _ = world
    small = tx[tx["customer_id"].isin(tx["customer_id"].unique()[:300])]
    src = tmp_path / "orders.csv"
    small.rename(columns={"customer_id": "member_no"}).to_csv(src, index=False)
    out = tmp_path / "points"
    res = CliRunner().invoke(app, ["lifecycle", "points", "--transactions", str(src),
                                   "--as-of", "2024-12-28", "--expiry-days", "365",
                                   "--value-per-point", "0.01", "--out", str(out)])  # fmt: skip
    assert res.exit_code == 0, res.output
    assert "breakage" in res.output
    doc = json.loads((out / "points.json").read_text())
    assert doc["columns"]["customer_id"] == "member_no"
    assert doc["redemption_cost_next_quarter"]["total"]["mean"] > 0
    for name in ("points.json", "points_cohorts.csv", "points_curve.csv"):
        text = (out / name).read_text()
        assert not any(pid in text for pid in small["customer_id"].unique()[:50])
    bad = CliRunner().invoke(app, ["lifecycle", "points", "--transactions", str(src),
                                   "--as-of", "someday", "--out", str(out)])  # fmt: skip
    assert bad.exit_code != 0 and "not a date" in bad.output


@pytest.fixture(scope="module")
def over_seeds():
    hits = {"breakage": 0, "runoff": 0}
    errors = []
    for seed in range(6):
        tx, truth = _world(4000, seed=10 + seed)
        frame, _ = read_points(tx)
        doc = points_summary(points_ledger(frame, CUT, 365), n_boot=100, seed=seed)
        tb = truth.breakage(CUT - YEAR, CUT)
        tr = truth.redeemed_points(CUT, QUARTER, earned_before=CUT)
        b, r = doc["breakage"], doc["redemption_next_quarter_points"]["from_balance"]
        errors += [abs(b["mean"] / tb - 1), abs(r["mean"] / tr - 1)]
        hits["breakage"] += b["low"] <= tb <= b["high"]
        hits["runoff"] += r["low"] <= tr <= r["high"]
    return errors, hits


@pytest.mark.slow
def test_points_recovery_over_seeds_with_interval_coverage(over_seeds):
    errors, hits = over_seeds
    # benchmarks/bench_lifecycle_points.py: 12/12 within 10% on seeds 100-105; here at most
    # one of the 12 figures may miss 10%, none 15%
    assert sum(e >= 0.10 for e in errors) <= 1 and max(errors) < 0.15
    assert np.mean(errors) < 0.06
    assert hits["breakage"] >= 4


@pytest.mark.slow
def test_points_runoff_interval_coverage(over_seeds):
    """The run-off interval is a prediction interval of the realised quarter (bootstrap,
    customers' outcome noise and the quarter's own spread, both measured on the log's past
    quarters). These seeds were not used to design it: the bootstrap interval alone held the
    truth 3/6 here, the prediction interval 5/6 (designed on seeds 200-205: 12/12)."""
    _, hits = over_seeds
    assert hits["runoff"] >= 4


def test_guest_orders_are_left_out_and_odd_channels_named():
    frame = pd.DataFrame({
        "member_id": ["m1", None, "m2"],
        "ts": ["2024-01-02", "2024-01-03", "2024-02-01"],
        "channel": ["online", "offline", "offline"],
        "points_earned": [100, 50, 80],
        "points_redeemed": [0, 0, 100],
    })  # fmt: skip
    out, _ = read_points(frame)
    assert len(out) == 2 and set(out["customer_id"]) == {"m1", "m2"}
    with pytest.raises(DataError, match=r"'channel'.*row 2.*online or offline"):
        read_points(frame.assign(channel=["online", "app", "offline"]), {"channel": "channel"})


def test_next_quarter_earnings_do_not_take_last_years_growth_for_a_season():
    """A base filling up at two members a day, each earning 100 points every 14 days, no
    season: the next quarter's earnings over the last quarter's are known exactly. The
    cohort ratio recovers them; the plain same-season ratio (last year's quarter over the
    one before) takes last year's faster growth for a season (negative control)."""
    from omnimmm.lifecycle.points import _seasonal_ratio

    day0 = pd.Timestamp("2023-01-01")
    rows = [
        (f"m{k}", day0 + pd.Timedelta(days=k // 2 + 14 * j), 100.0, 0.0)
        for k in range(1500)
        for j in range(60)
        if k // 2 + 14 * j < 760
    ]
    frame = pd.DataFrame(rows, columns=["customer_id", "ts", "points_earned", "points_redeemed"])
    cut = day0 + pd.Timedelta(days=600)
    led = points_ledger(frame, cut)
    ratio = _seasonal_ratio(led, np.ones(led.lot_points.size), 90)

    def earned(lo: int, hi: int) -> float:
        t = frame["ts"]
        return float(frame["points_earned"][(t >= cut + pd.Timedelta(days=lo))
                                            & (t < cut + pd.Timedelta(days=hi))].sum())  # fmt: skip

    truth = earned(0, 90) / earned(-90, 0)
    plain = earned(-365, -275) / earned(-455, -365)
    assert abs(ratio / truth - 1) < 0.03
    assert plain / truth - 1 > 0.2
