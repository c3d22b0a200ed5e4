"""One budget shared by media and retention segments."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from omnimmm.data.simulate import simulate_world
from omnimmm.errors import DataError
from omnimmm.optimize import (
    Constraints,
    FixedBudget,
    RetentionSegment,
    optimize_budget,
    response_from_world,
    segments_from_table,
)
from omnimmm.optimize.retention import RetentionBlock


@pytest.fixture(scope="module")
def resp():
    return response_from_world(simulate_world(channels=["search", "social", "tv"]))


def segments(vip_value: float = 60.0) -> list[RetentionSegment]:
    return [
        # 40,000 lapsing high-value members: 10 per contact, worth vip_value on average.
        RetentionSegment("lapsing_vip", 40_000, 10.0, vip_value, 10.0, concentration=3.0),
        # A segment that does not pay: 0.4 back per unit of cost even at its best contact.
        RetentionSegment("one_time_buyers", 500_000, 2.0, 0.4, 0.1, concentration=1.0),
    ]


def test_retention_value_curve_is_diminishing_and_matches_its_definition() -> None:
    seg = RetentionSegment("s", 1000, 5.0, 20.0, 0.0, concentration=2.5)
    block = RetentionBlock.build([seg], n_draws=1)
    spend = np.linspace(0, seg.max_spend, 201)
    value = block.value_by_segment(spend[:, None])[:, 0, 0]
    assert value[0] == 0.0
    assert value[-1] == pytest.approx(1000 * 20.0)  # everyone contacted: N * v
    assert np.all(np.diff(value, 2) < 0)  # diminishing returns down the ranked list
    # The best-ranked contact is worth concentration * v, i.e. 2.5 * 20 / 5 per unit cost.
    _, slope = block.value_and_grad(np.array([0.0]))
    assert slope[0, 0] == pytest.approx(2.5 * 20.0 / 5.0)
    # Beyond everyone contacted, more money buys nothing.
    _, slope = block.value_and_grad(np.array([seg.max_spend * 1.01]))
    assert slope[0, 0] == 0.0


def test_retention_gradient_matches_finite_differences() -> None:
    block = RetentionBlock.build(segments(), n_draws=50, seed=3)
    x = np.array([150_000.0, 300_000.0])
    _, grad = block.value_and_grad(x)
    for i in range(2):
        e = np.eye(2)[i] * 10.0
        fd = (block.value_and_grad(x + e)[0] - block.value_and_grad(x - e)[0]) / 20.0
        np.testing.assert_allclose(grad[:, i], fd, rtol=1e-6)


def test_joint_budget_goes_to_retention_when_it_pays_and_says_where(resp) -> None:
    total = resp.current_allocation.sum()
    media_only = optimize_budget(resp, FixedBudget(total))
    joint = optimize_budget(resp, FixedBudget(total), retention=segments())
    ret = joint.retention
    assert ret is not None and list(ret.index) == ["lapsing_vip", "one_time_buyers"]
    assert ret.loc["lapsing_vip", "recommended"] > 0.5 * segments()[0].max_spend
    assert ret.loc["one_time_buyers", "recommended"] == 0.0
    assert ret.loc["lapsing_vip", "contacts"] == pytest.approx(
        ret.loc["lapsing_vip", "recommended"] / 10.0
    )
    alloc = joint.allocation
    assert alloc["recommended"].sum() == pytest.approx(total, rel=1e-9)
    assert alloc.loc["retention:lapsing_vip", "kind"] == "retention"
    # Money moved from media to retention, and the whole is worth more.
    assert alloc.loc[list(resp.channels), "recommended"].sum() < total
    assert joint.horizon_value["recommended"].mean > media_only.horizon_value["recommended"].mean
    assert "retention" in joint.value_by_outcome.index
    d = json.loads(json.dumps(joint.to_dict(), allow_nan=False))
    assert d["retention_total"]["recommended"] == pytest.approx(ret["recommended"].sum())
    assert media_only.retention_total == {"current": 0.0, "recommended": 0.0}
    assert [r["name"] for r in d["retention"]] == [
        "retention:lapsing_vip",
        "retention:one_time_buyers",
    ]
    # The VIP segment ends interior (not everyone is worth contacting), with the same
    # marginal return as the media channels.
    assert ret.loc["lapsing_vip", "recommended"] < 0.95 * segments()[0].max_spend
    assert joint.solver.mroi_equal and joint.solver.mroi_spread < 1e-3
    mroi = alloc.loc[["search", "social", "tv", "retention:lapsing_vip"], "mroi_recommended_mean"]
    assert mroi.max() / mroi.min() < 1.01


def test_joint_budget_matches_a_scan_over_the_retention_share(resp) -> None:
    """Independent check: for each retention amount R, media gets total - R (own solve)."""
    total = resp.current_allocation.sum()
    seg = segments(vip_value=45.0)[:1]
    joint = optimize_budget(resp, FixedBudget(total), retention=seg)
    block = RetentionBlock.build(seg, n_draws=1)
    best = -np.inf
    for r in np.linspace(0, seg[0].max_spend, 41):
        media = optimize_budget(resp, FixedBudget(total - r), n_starts=3)
        value = (
            media.horizon_value["recommended"].mean + block.value_by_segment(np.array([r]))[0, 0]
        )
        best = max(best, value)
    got = joint.horizon_value["recommended"].mean
    assert (best - got) / best <= 0.005
    assert got >= best * (1 - 1e-5)


def test_worthless_retention_leaves_media_alone(resp) -> None:
    total = resp.current_allocation.sum()
    media_only = optimize_budget(resp, FixedBudget(total), Constraints(max_change=0.5))
    joint = optimize_budget(
        resp, FixedBudget(total), Constraints(max_change=0.5), retention=segments()[1:]
    )
    assert joint.retention.loc["one_time_buyers", "recommended"] == 0.0
    np.testing.assert_allclose(
        joint.allocation.loc[list(resp.channels), "recommended"],
        media_only.allocation["recommended"],
        rtol=1e-5,
    )


def test_retention_draws_are_seeded() -> None:
    a = RetentionBlock.build(segments(), n_draws=100, seed=5).value_draws
    b = RetentionBlock.build(segments(), n_draws=100, seed=5).value_draws
    c = RetentionBlock.build(segments(), n_draws=100, seed=6).value_draws
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    assert a[:, 0].mean() == pytest.approx(60.0, abs=3 * 10.0 / 10)


def test_segments_from_table_reads_and_names_what_is_wrong() -> None:
    table = pd.DataFrame(
        {
            "segment": ["vip", "lapsed"],
            "n_eligible": [1000, 5000],
            "value_per_contact_mean": [50.0, 8.0],
            "value_per_contact_sd": [5.0, 2.0],
            "cost_per_contact": [4.0, 1.0],
            "current_spend": [2000.0, 0.0],
        }
    )
    segs = segments_from_table(table)
    assert [s.name for s in segs] == ["vip", "lapsed"] and segs[0].current_spend == 2000.0
    with pytest.raises(DataError, match=r"missing column\(s\) \['cost_per_contact'\]"):
        segments_from_table(table.drop(columns="cost_per_contact"))
    bad = table.assign(cost_per_contact=[4.0, -1.0])
    with pytest.raises(DataError, match=r"row 1: retention segment 'lapsed': cost_per_contact"):
        segments_from_table(bad)
