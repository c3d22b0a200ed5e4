"""A portfolio budget split across markets by the same optimizer (markets side by side).

Oracles on the simulator's true responses: markets that are copies of each other get the
same share; the joint split is at least as good as any split by the markets' current
shares; and, markets not interacting, each market's part of the joint answer is that
market's own optimum at the total it got.
"""

from __future__ import annotations

import numpy as np
import pytest

from omnimmm.data.simulate import simulate_world
from omnimmm.errors import PlanError
from omnimmm.optimize import (
    ChannelBounds,
    Constraints,
    FixedBudget,
    optimize_budget,
    response_from_world,
)
from omnimmm.optimize.markets import MarketsResponse


@pytest.fixture(scope="module")
def responses() -> dict[str, object]:
    return {
        "a": response_from_world(simulate_world(seed=1, weeks=104), horizon_weeks=8),
        "b": response_from_world(simulate_world(seed=2, weeks=104), horizon_weeks=8),
    }


def _bounds(joint: MarketsResponse, change: float) -> dict[str, ChannelBounds]:
    cur = joint.current_allocation
    return {
        c: ChannelBounds(min=cur[i] * (1 - change), max=cur[i] * (1 + change))
        for i, c in enumerate(joint.channels)
    }


def test_value_and_gradient_are_the_markets_side_by_side(responses: dict) -> None:
    joint = MarketsResponse(responses)
    a, b = responses["a"], responses["b"]
    alloc = joint.current_allocation * 1.1
    n_a = len(a.channels)
    want = a.horizon_value(alloc[:n_a]) + b.horizon_value(alloc[n_a:])
    np.testing.assert_allclose(joint.horizon_value(alloc), want)
    v, g = joint.horizon_value_and_grad(alloc)
    np.testing.assert_allclose(v, want)
    eps = 1.0
    bumped = alloc.copy()
    bumped[n_a + 1] += eps
    fd = (joint.horizon_value(bumped) - joint.horizon_value(alloc)) / eps
    np.testing.assert_allclose(g[:, n_a + 1], fd, rtol=1e-3)
    assert joint.channels[0].startswith("a/") and joint.channels[-1].startswith("b/")


def test_copies_get_equal_shares_and_each_market_is_at_its_own_optimum(
    responses: dict,
) -> None:
    a = responses["a"]
    joint = MarketsResponse({"x": a, "y": a})
    total = float(joint.current_allocation.sum())
    res = optimize_budget(joint, FixedBudget(total=total),
                          Constraints(bounds=_bounds(joint, 0.5)), seed=0)  # fmt: skip
    rec = res.allocation["recommended"].to_numpy()
    n = len(a.channels)
    assert rec[:n].sum() == pytest.approx(rec[n:].sum(), rel=0.01)
    own = optimize_budget(a, FixedBudget(total=float(rec[:n].sum())),
                          Constraints(max_change=0.5), seed=0)  # fmt: skip
    np.testing.assert_allclose(rec[:n], own.allocation["recommended"].to_numpy(), rtol=0.02)


def test_joint_split_beats_the_current_shares(responses: dict) -> None:
    joint = MarketsResponse(responses)
    cur = joint.current_allocation
    total = float(cur.sum()) * 1.2
    res = optimize_budget(joint, FixedBudget(total=total),
                          Constraints(bounds=_bounds(joint, 0.5)), seed=0)  # fmt: skip
    joint_value = float(joint.horizon_value(res.allocation["recommended"].to_numpy()).mean())
    n_a = len(responses["a"].channels)
    best_fixed_shares = 0.0
    for name, part in (("a", slice(0, n_a)), ("b", slice(n_a, None))):
        share = total * cur[part].sum() / cur.sum()
        own = optimize_budget(responses[name], FixedBudget(total=share),
                              Constraints(max_change=0.5), seed=0)  # fmt: skip
        best_fixed_shares += float(own.horizon_value["recommended"].mean)
    assert joint_value >= best_fixed_shares * (1 - 1e-6)
    assert res.allocation["recommended"].sum() == pytest.approx(total, rel=1e-6)


def test_markets_must_share_one_horizon() -> None:
    w = simulate_world(seed=3, weeks=104)
    with pytest.raises(PlanError, match="horizon"):
        MarketsResponse({"a": response_from_world(w, 8), "b": response_from_world(w, 13)})
