"""Every KPI of the board against a slow, obvious loop on a small random fixture."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from omnimmm.journeys.board import Rules, flag_rules
from omnimmm.journeys.kpis import KpiSettings, compute_kpis


@pytest.fixture(scope="module")
def fixture() -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(7)
    start = pd.Timestamp("2026-01-01")
    n_t, n_c = 900, 300
    t = pd.DataFrame({
        "cid": rng.integers(0, 60, n_t),
        "ts": start + pd.to_timedelta(rng.integers(0, 90 * 24, n_t), unit="h"),
        "channel": rng.choice(["app", "sms", "store_flyer"], n_t),
        "campaign": rng.choice(["c1", "c2", None], n_t),
    })  # fmt: skip
    c = pd.DataFrame({
        "cid": rng.integers(0, 70, n_c),
        "ts": start + pd.to_timedelta(rng.integers(0, 90 * 24, n_c), unit="h"),
        "place": rng.choice(["online", "store"], n_c),
    })  # fmt: skip
    r = pd.DataFrame({
        "cid": rng.integers(0, 60, 40),
        "ts": start + pd.to_timedelta(rng.integers(0, 90 * 24, 40), unit="h"),
        "campaign": rng.choice(["c1", "c2"], 40),
    })  # fmt: skip
    return t, c, r


def _month(ts: pd.Timestamp) -> str:
    return f"{ts.year:04d}-{ts.month:02d}"


def _get(k: pd.DataFrame, kpi: str, month: str, ch: str, other: str = "") -> pd.Series:
    row = k[(k.kpi == kpi) & (k.month == month) & (k.channel == ch) & (k.other == other)]
    assert len(row) == 1, (kpi, month, ch, other)
    return row.iloc[0]


def test_kpis_match_slow_loops(fixture: tuple) -> None:
    t, c, r = fixture
    s = KpiSettings(window_days=7, repurchase_days=30, offline_channels=("store_flyer",))
    k = compute_kpis(t, c, r, s)
    months = sorted({_month(x) for x in list(t.ts) + list(c.ts)})
    tl, cl = list(t.itertuples(index=False)), list(c.itertuples(index=False))
    week, month30 = pd.Timedelta(days=7), pd.Timedelta(days=30)
    for m in months:
        known = {x.cid for x in tl + cl if _month(x.ts) <= m}  # type: ignore[attr-defined]
        for ch in ["app", "sms", "store_flyer"]:
            mine = [x for x in tl if x.channel == ch and _month(x.ts) == m]
            who = {x.cid for x in mine}
            assert _get(k, "touch_rate", m, ch).value == pytest.approx(len(who) / len(known))
            for place in ["online", "store"]:
                hit = {x.cid for x in mine if any(y.cid == x.cid and y.place == place and
                                                  x.ts <= y.ts <= x.ts + week for y in cl)}  # fmt: skip
                row = _get(k, "cross_conversion", m, ch, place)
                assert (row.numerator, row.denominator) == (len(hit), len(who))
            for other in ["app", "sms", "store_flyer"]:
                if other == ch:
                    continue
                hit = {x.cid for x in mine if any(y.cid == x.cid and y.channel == other and
                                                  x.ts < y.ts <= x.ts + week for y in tl)}  # fmt: skip
                row = _get(k, "handoff", m, ch, other)
                assert (row.numerator, row.denominator) == (len(hit), len(who))
        online = [x for x in tl if x.channel != "store_flyer" and _month(x.ts) == m]
        hit = {x.cid for x in online if any(y.cid == x.cid and y.place == "store" and
                                            x.ts <= y.ts <= x.ts + week for y in cl)}  # fmt: skip
        row = _get(k, "cross_conversion", m, "online touches", "store")
        assert (row.numerator, row.denominator) == (len(hit), len({x.cid for x in online}))
        for place in ["all", "online", "store"]:
            buys = [x for x in cl if _month(x.ts) == m and place in ("all", x.place)]
            hit = {x.cid for x in buys if any(y.cid == x.cid and x.ts < y.ts <= x.ts + month30
                                              for y in cl)}  # fmt: skip
            row = _get(k, "repurchase", m, place)
            assert (row.numerator, row.denominator) == (len(hit), len({x.cid for x in buys}))


def test_synergy_and_usage_match_slow_loops(fixture: tuple) -> None:
    t, c, r = fixture
    k = compute_kpis(t, c, r, KpiSettings())
    tl, cl = list(t.itertuples(index=False)), list(c.itertuples(index=False))
    m = "2026-02"
    known = {x.cid for x in tl + cl if _month(x.ts) <= m}
    buyers = {x.cid for x in cl if _month(x.ts) == m}
    a = {x.cid for x in tl if x.channel == "app" and _month(x.ts) == m}
    b = {x.cid for x in tl if x.channel == "sms" and _month(x.ts) == m}
    groups = [a & b, a - b, b - a, known - a - b]
    rates = [len(g & buyers) / len(g) for g in groups]
    si = rates[0] * rates[3] / (rates[1] * rates[2])
    se = math.sqrt(sum((1 - p) / (len(g) * p) for p, g in zip(rates, groups, strict=True)))
    row = _get(k, "synergy", m, "app", "sms")
    assert row.value == pytest.approx(si)
    assert row.low == pytest.approx(si * math.exp(-1.6448536269514722 * se))
    assert row.high == pytest.approx(si * math.exp(1.6448536269514722 * se))
    for camp in ["c1", "c2"]:
        got = [x for x in tl if x.campaign == camp]
        first: dict[int, pd.Timestamp] = {}
        for x in got:
            first[x.cid] = min(first.get(x.cid, x.ts), x.ts)
        for month in sorted({_month(v) for v in first.values()}):
            who = [cid for cid, ts in first.items() if _month(ts) == month]
            used = [cid for cid in who if any(y.cid == cid and y.campaign == camp and
                                              y.ts >= first[cid].normalize()
                                              for y in r.itertuples())]  # fmt: skip
            row = _get(k, "benefit_usage", month, camp, k[(k.kpi == "benefit_usage") &
                                                          (k.channel == camp) &
                                                          (k.month == month)].other.iloc[0])  # fmt: skip
            assert (row.numerator, row.denominator) == (len(used), len(who))


def test_rules_flag_low_handoff_and_usage(fixture: tuple) -> None:
    t, c, r = fixture
    k = compute_kpis(t, c, r, KpiSettings())
    flags = flag_rules(k, Rules(handoff_min=0.15, usage_min=0.20))
    handoff = k[(k.kpi == "handoff") & k.complete & (k.denominator > 0)]
    assert (flags.kpi == "handoff").sum() == (handoff.value < 0.15).sum()
    usage = k[(k.kpi == "benefit_usage") & (k.denominator > 0)]
    assert (flags.kpi == "benefit_usage").sum() == (usage.value < 0.20).sum()
    none = flag_rules(k, Rules(handoff_min=0.0, usage_min=0.0))
    assert none.empty


def test_cli_kpis_writes_the_board(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from typer.testing import CliRunner

    from omnimmm.cli import app
    from omnimmm.data.simulate_journeys import simulate_journeys

    world = simulate_journeys(n_customers=600, days=70, seed=9, truth=False)
    touches = world.touches.assign(campaign=np.where(world.touches.channel == "direct_mail",
                                                     "dm1", None))  # fmt: skip
    touches.to_csv(tmp_path / "t.csv", index=False)
    world.conversions.to_csv(tmp_path / "c.csv", index=False)
    got = touches[touches.campaign == "dm1"].drop_duplicates("customer_id").head(40)
    pd.DataFrame({"customer_id": got.customer_id, "ts": got.ts, "campaign": "dm1"}).to_csv(
        tmp_path / "r.csv", index=False
    )
    (tmp_path / "plan.toml").write_text("[journeys.rules]\nhandoff_min = 0.5\n")
    res = CliRunner().invoke(app, [
        "journeys", "kpis", "--touches", str(tmp_path / "t.csv"), "--conversions",
        str(tmp_path / "c.csv"), "--redemptions", str(tmp_path / "r.csv"), "--out",
        str(tmp_path / "o"), "--plan", str(tmp_path / "plan.toml"),
        "--offline-channels", "direct_mail"])  # fmt: skip
    assert res.exit_code == 0, res.output
    k = pd.read_csv(tmp_path / "o" / "kpis.csv")
    usage = k[k.kpi == "benefit_usage"]
    assert usage.numerator.sum() == 40
    flags = pd.read_csv(tmp_path / "o" / "flags.csv")
    assert (flags[flags.kpi == "handoff"].threshold == 0.5).all()
    assert set(pd.ExcelFile(tmp_path / "o" / "kpis.xlsx").sheet_names) >= {"flags", "handoff"}


def test_redemptions_join_customers_through_identity_resolution(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """A coupon sent to the app and redeemed with the store card is one customer's usage."""
    from omnimmm.journeys.board import kpi_board

    ts = pd.Timestamp("2026-03-02 10:00")
    people = range(6)
    phone = [f"+86 1391234{p:04d}" for p in people]
    # app touches carry the app id and the phone; mini-program touches the openid only
    touches = pd.DataFrame({
        "app_id": [f"A{p}" for p in people] + [None] * 6,
        "openid": [None] * 6 + [f"o{p}" for p in people],
        "phone": phone + [None] * 6,
        "ts": [ts] * 12,
        "channel": ["app"] * 6 + ["mini_program"] * 6,
        "campaign": ["spring"] * 6 + [None] * 6,
    })  # fmt: skip
    # store receipts carry the store card and the phone; mini-program orders the openid and
    # the store card: so app, mini-program and card ids of one person join
    conversions = pd.DataFrame({
        "store_card_id": [f"S{p}" for p in people] * 2,
        "phone": phone + [None] * 6,
        "openid": [None] * 6 + [f"o{p}" for p in people],
        "ts": [ts + pd.Timedelta(days=1)] * 12,
        "value": 50.0,
        "channel": ["store"] * 6 + ["online"] * 6,
    })  # fmt: skip
    # three customers redeem at the till with their store card only
    redemptions = pd.DataFrame({"store_card_id": ["S0", "S2", "S4"],
                                "ts": [ts + pd.Timedelta(days=2)] * 3,
                                "campaign": "spring"})  # fmt: skip
    res = kpi_board(touches, conversions, tmp_path / "o", redemptions=redemptions)
    usage = res.kpis[res.kpis.kpi == "benefit_usage"]
    assert list(usage[["numerator", "denominator"]].iloc[0]) == [3, 6]
    touch = res.kpis[(res.kpis.kpi == "touch_rate") & (res.kpis.month == "2026-03")]
    assert set(touch.value) == {1.0}  # six people, each seen in the app and mini-program
