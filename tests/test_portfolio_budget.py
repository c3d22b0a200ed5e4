"""``portfolio --total``: each plan's ``online_share`` and ``profit`` objective in the split.

On the simulator's true responses (no fitting): a market whose ``online_share`` the plain
split breaks (checked first, so the test cannot pass vacuously) gets a split within it and the
portfolio total is still spent; with ``objective = "profit"`` a copy of a market with the higher
margin gets more money and equal margins give equal shares; mixed objectives are refused.
"""

from __future__ import annotations

import pytest

from omnimmm.config import BudgetSpec
from omnimmm.data.simulate import simulate_world
from omnimmm.errors import PlanError
from omnimmm.optimize import response_from_world
from omnimmm.run.portfolio_budget import _share, split_responses


@pytest.fixture(scope="module")
def responses() -> dict[str, object]:
    return {
        "a": response_from_world(simulate_world(seed=1, weeks=104), horizon_weeks=8),
        "b": response_from_world(simulate_world(seed=2, weeks=104), horizon_weeks=8),
    }


def _totals(table: list[dict]) -> dict[str, float]:
    out: dict[str, float] = {}
    for t in table:
        out[t["market"]] = out.get(t["market"], 0.0) + t["recommended"]
    return out


def _online(response, table: list[dict], market: str) -> float:
    return _share(response, [t["recommended"] for t in table if t["market"] == market])


def test_each_markets_online_share_is_respected(responses: dict) -> None:
    total = 1.1 * sum(float(r.current_allocation.sum()) for r in responses.values())
    plain = {n: BudgetSpec(max_change=0.5) for n in responses}
    table, _, notes = split_responses(responses, plain, total)
    before = _online(responses["b"], table, "b")
    assert not notes
    lo = round(before + 0.05, 3)
    assert lo < 1.0
    limited = plain | {"b": BudgetSpec(max_change=0.5, online_share=(lo, 1.0))}
    table2, value, notes2 = split_responses(responses, limited, total)
    assert before < lo  # the limit binds: without it the split breaks it
    assert _online(responses["b"], table2, "b") >= lo - 1e-4
    assert sum(_totals(table2).values()) == pytest.approx(total, rel=1e-6)
    assert _totals(table2)["b"] == pytest.approx(_totals(table)["b"], rel=1e-6)
    assert any("market b" in n and "online_share" in n for n in notes2)
    # the binding limit costs value: the portfolio is worth less than without it
    _, free_value, _ = split_responses(responses, plain, total)
    assert value["recommended"]["mean"] <= free_value["recommended"]["mean"] * (1 + 1e-9)


def test_profit_objective_weighs_each_market_by_its_margin(responses: dict) -> None:
    a = responses["a"]
    pair = {"x": a, "y": a}
    total = 1.5 * 2 * float(a.current_allocation.sum())
    equal = {n: BudgetSpec(max_change=1.0, objective="profit", margin=0.6) for n in pair}
    table, _, _ = split_responses(pair, equal, total)
    t = _totals(table)
    assert t["x"] == pytest.approx(t["y"], rel=0.02)
    assert sum(t.values()) <= total * (1 + 1e-6)
    skewed = {
        "x": BudgetSpec(max_change=1.0, objective="profit", margin=0.9),
        "y": BudgetSpec(max_change=1.0, objective="profit", margin=0.3),
    }
    t2 = _totals(split_responses(pair, skewed, total)[0])
    assert t2["x"] > 1.05 * t2["y"]
    revenue = {n: BudgetSpec(max_change=1.0) for n in pair}
    t3 = _totals(split_responses(pair, revenue, total)[0])
    assert sum(t3.values()) == pytest.approx(total, rel=1e-6)
    # profit stops where money earns less than it costs: at a low margin it spends less
    assert sum(t2.values()) < sum(t3.values())


def test_markets_with_different_objectives_are_refused(responses: dict) -> None:
    budgets = {"a": BudgetSpec(), "b": BudgetSpec(objective="profit", margin=0.5)}
    with pytest.raises(PlanError, match="different questions"):
        split_responses(responses, budgets, 1e6)
