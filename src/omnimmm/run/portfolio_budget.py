"""``omnimmm portfolio --total B``: one budget split across markets by their fitted response.

After every market has run, each finished market's fitted model gives its response
(the same :class:`~omnimmm.optimize.AdstockSaturationResponse` its own optimizer used);
:class:`~omnimmm.optimize.markets.MarketsResponse` puts them side by side and the same
optimizer (:func:`~omnimmm.optimize.optimize_budget`) maximises the portfolio's horizon
value at total ``B``, with each market a channel group and each channel within its own
plan's limits (``max_change``, per-channel ``min``/``max``, ``locked``). The solution gives
each market's total and, because markets do not interact, that market's best channel split
at that total at the same time.

The markets' own run directories keep their plans' budgets (each is exactly what ``omnimmm
run`` writes); the portfolio split is written next to them, in ``portfolio.json`` (each
row's ``portfolio_total`` and ``portfolio_channels``) and ``portfolio_allocation.csv``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from omnimmm.errors import InfeasibleError, PlanError

__all__ = ["split_total"]


def _limits(plan: Any, channels: tuple[str, ...], current: np.ndarray, market: str,
            bounds: dict[str, Any], locked: list[str]) -> None:  # fmt: skip
    from omnimmm.optimize import ChannelBounds

    b = plan.budget
    for c, cur in zip(channels, current, strict=True):
        key = f"{market}/{c}"
        lo, hi = cur * (1 - b.max_change), cur * (1 + b.max_change)
        own = b.channels.get(c)
        if own is not None and own.locked:
            locked.append(key)
            continue
        if own is not None and own.min is not None:
            lo = max(lo, own.min)
        if own is not None and own.max is not None:
            hi = min(hi, own.max)
        bounds[key] = ChannelBounds(min=max(lo, 0.0), max=max(hi, 0.0))


def split_total(markets_dir: Path, rows: list[dict[str, Any]], total: float,
                seed: int = 0) -> tuple[list[dict[str, Any]], dict[str, Any], list[str]]:  # fmt: skip
    """Split ``total`` across the finished markets in ``markets_dir`` (see the module).

    Parameters
    ----------
    markets_dir
        The portfolio's ``markets`` folder.
    rows
        The markets' rows; only ``status == "ok"`` ones take part.
    total
        The portfolio budget over the common horizon.
    seed
        The optimizer's seed.

    Returns
    -------
    tuple
        The allocation rows (market, channel, current, recommended, lower, upper), the
        portfolio's horizon value (current and recommended intervals) and notes.

    Raises
    ------
    PlanError
        No finished market, or markets planning different horizons.
    InfeasibleError
        No split of ``total`` meets every market's channel limits.
    """
    from omnimmm.config import load_plan
    from omnimmm.mmm import load
    from omnimmm.optimize import (
        AdstockSaturationResponse,
        ChannelGroup,
        Constraints,
        FixedBudget,
        optimize_budget,
    )
    from omnimmm.optimize.markets import MarketsResponse, market_of

    if not total > 0 or not np.isfinite(total):
        raise PlanError(f"--total {total}: give a positive budget")
    ok = [r["name"] for r in rows if r["status"] == "ok"]
    responses: dict[str, Any] = {}
    bounds: dict[str, Any] = {}
    locked: list[str] = []
    notes: list[str] = []
    for name in ok:
        folder = markets_dir / name
        model = load(folder / "model")
        try:
            response = AdstockSaturationResponse.from_arrays(**model.optimizer_arrays())
        except ValueError as exc:
            raise PlanError(f"market {name}: its model cannot be planned with ({exc})") from None
        plan = load_plan(folder / "plan.toml")
        responses[name] = response
        _limits(plan, response.channels, response.current_allocation, name, bounds, locked)
        if plan.budget.online_share is not None:
            notes.append(f"market {name}: its online_share limit is not applied to the split")
        if plan.budget.objective != "revenue":
            notes.append(f"market {name}: the split maximises revenue, not its plan's profit")
    if not responses:
        raise PlanError("--total: no market finished, so there is nothing to split")
    joint = MarketsResponse(responses)
    groups = tuple(
        ChannelGroup(name, tuple(c for c in joint.channels if market_of(c)[0] == name))
        for name in responses
    )
    held = sum(float(joint.current_allocation[joint.channels.index(k)]) for k in locked)
    lo = held + sum(float(b.min) for b in bounds.values())
    hi = held + sum(float(b.max) for b in bounds.values())
    if not lo <= total <= hi:
        raise InfeasibleError(
            f"--total {total:,.0f}: the markets' plans allow a portfolio budget between "
            f"{lo:,.0f} and {hi:,.0f} (each channel within its plan's max_change and limits); "
            "choose a total in that range or widen budget.max_change in the plans"
        )
    result = optimize_budget(
        joint, FixedBudget(total=float(total)),
        Constraints(bounds=bounds, locked=tuple(locked), groups=groups), seed=seed,
    )  # fmt: skip
    table = []
    for key, rec in result.allocation.iterrows():
        market, channel = market_of(str(key))
        if market not in responses:
            continue
        table.append({
            "market": market, "channel": channel, "current": float(rec["current"]),
            "recommended": float(rec["recommended"]), "lower": float(rec["lower"]),
            "upper": float(rec["upper"]),
        })  # fmt: skip
    value = {k: v.to_dict() for k, v in result.horizon_value.items()}
    return table, value, notes
