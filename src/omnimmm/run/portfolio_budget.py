"""``omnimmm portfolio --total B``: one budget split across markets by their fitted response.

After every market has run, each finished market's fitted model gives its response
(the same :class:`~omnimmm.optimize.AdstockSaturationResponse` its own optimizer used);
:class:`~omnimmm.optimize.markets.MarketsResponse` puts them side by side and the same
optimizer (:func:`~omnimmm.optimize.optimize_budget`) maximises the portfolio's horizon
value at total ``B``, with each market a channel group and each channel within its own
plan's limits (``max_change``, per-channel ``min``/``max``, ``locked``). The solution gives
each market's total and, because markets do not interact, that market's best channel split
at that total at the same time.

Each plan's budget question is kept:

* **objective.** If every market's plan asks for ``objective = "profit"``, the split
  maximises the portfolio's profit: each market's revenue weighted by its own ``margin``
  minus spend, with ``B`` a ceiling (money that earns less than it costs stays unspent), as
  a single plan's profit objective does. Markets with different objectives cannot share one
  goal (revenue and profit are not in the same unit): the split is refused and says so.
* **online_share.** A market's ``[budget] online_share`` limits the share of *its* media
  spend that is online. The joint optimizer takes one portfolio-wide share, not one per
  market, so the split is done in two steps: the markets' totals from the joint optimum,
  then every market with an ``online_share`` re-planned alone at its total under all of
  its plan's limits (exactly what its own optimizer would do at that total). The limit is
  then always met; the totals are those of the unconstrained split, so when a limit binds
  the portfolio may be slightly below its true optimum (``notes`` says which markets).

A geo market (``[data] geo``) takes part with its regions' responses composed
(:class:`~omnimmm.optimize.geo.GeoResponse`) and every limit of its plan, regions' and
channels' included (:func:`omnimmm.run.stages.geo.budget_constraints`); its rows in
``portfolio_allocation.csv`` are its budget lines (a national channel's total, or
``region/channel``).

The markets' own run directories keep their plans' budgets (each is exactly what ``omnimmm
run`` writes); the portfolio split is written next to them, in ``portfolio.json`` (each
row's ``portfolio_total`` and ``portfolio_channels``) and ``portfolio_allocation.csv``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import numpy as np

from omnimmm.errors import InfeasibleError, PlanError

__all__ = ["split_total"]


def plan_limits(b: Any) -> Any:
    """A national plan's ``[budget]`` limits as :class:`~omnimmm.optimize.Constraints` over
    its channels (``max_change``, each channel's bounds, lock and own ``max_change``)."""
    from omnimmm.optimize import ChannelBounds, Constraints

    own = {
        c: ChannelBounds(min=spec.min, max=spec.max)
        for c, spec in b.channels.items()
        if not spec.locked and (spec.min is not None or spec.max is not None)
    }
    return Constraints(bounds=own, max_change=b.max_change,
                       locked=tuple(c for c, spec in b.channels.items() if spec.locked),
                       max_changes={c: spec.max_change for c, spec in b.channels.items()
                                    if spec.max_change is not None})  # fmt: skip


def _limits(cons: Any, channels: tuple[str, ...], current: np.ndarray, market: str,
            bounds: dict[str, Any], locked: list[str]) -> list[Any]:  # fmt: skip
    """One market's limits as the joint problem's bounds (``market/line`` keys, locks added
    to ``locked``); returns its own channel groups (a geo market's regions, local channels)."""
    from omnimmm.optimize import ChannelBounds, ChannelGroup

    for c, cur in zip(channels, current, strict=True):
        key = f"{market}/{c}"
        if c in cons.locked:
            locked.append(key)
            continue
        m = cons.max_changes.get(c, cons.max_change)
        lo, hi = cur * (1 - m), cur * (1 + m)
        own = cons.bounds.get(c)
        k = cur if own is not None and own.relative else 1.0
        if own is not None and own.min is not None:
            lo = max(lo, own.min * k)
        if own is not None and own.max is not None:
            hi = min(hi, own.max * k)
        bounds[key] = ChannelBounds(min=max(lo, 0.0), max=max(hi, 0.0))
    return [
        ChannelGroup(f"{market}: {g.name}", tuple(f"{market}/{c}" for c in g.channels),
                     min=g.min, max=g.max, relative=g.relative)
        for g in cons.groups
    ]  # fmt: skip


def _market(folder: Path, name: str) -> tuple[Any, Any, Any]:
    """A finished market's response, plan budget and limits (national or geo run)."""
    from omnimmm.config import load_plan

    plan = load_plan(folder / "plan.toml")
    b = plan.budget
    if plan.data.geo is not None:
        from omnimmm.mmm.geo import load_geo
        from omnimmm.optimize.geo import GeoResponse
        from omnimmm.run.stages.geo import budget_constraints

        fit = load_geo(folder / "model")
        regions = GeoResponse(fit.responses(b.horizon_weeks), fit.panel.scopes)
        return regions, b, budget_constraints(plan, regions)
    from omnimmm.mmm import load
    from omnimmm.optimize import AdstockSaturationResponse

    model = load(folder / "model")
    try:
        response = AdstockSaturationResponse.from_arrays(**model.optimizer_arrays())
    except ValueError as exc:
        raise PlanError(f"market {name}: its model cannot be planned with ({exc})") from None
    return response, b, plan_limits(b)


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
        portfolio's horizon value (current and recommended intervals; with the profit
        objective, revenue weighted by each market's margin) and notes.

    Raises
    ------
    PlanError
        No finished market, markets planning different horizons or different objectives.
    InfeasibleError
        No split of ``total`` meets every market's channel limits.
    """
    if not total > 0 or not np.isfinite(total):
        raise PlanError(f"--total {total}: give a positive budget")
    responses: dict[str, Any] = {}
    budgets: dict[str, Any] = {}
    limits: dict[str, Any] = {}
    for name in (r["name"] for r in rows if r["status"] == "ok"):
        responses[name], budgets[name], limits[name] = _market(markets_dir / name, name)
    return split_responses(responses, budgets, total, seed=seed, limits=limits)


def _objective(budgets: dict[str, Any]) -> Literal["revenue", "profit"]:
    kinds = {name: b.objective for name, b in budgets.items()}
    if len(set(kinds.values())) > 1:
        listed = ", ".join(f"{k}: {v}" for k, v in kinds.items())
        raise PlanError(
            "--total: the markets' plans ask different questions (budget.objective: "
            f"{listed}); revenue and profit are not in one unit, so one portfolio budget cannot "
            "serve both. Give every plan the same objective (with its own margin for profit)"
        )
    return "profit" if "profit" in kinds.values() else "revenue"


def split_responses(responses: dict[str, Any], budgets: dict[str, Any], total: float,
                    seed: int = 0, limits: dict[str, Any] | None = None,
                    ) -> tuple[list[dict[str, Any]], dict[str, Any], list[str]]:  # fmt: skip
    """:func:`split_total` on markets' response models and plan budgets (``BudgetSpec``).

    Parameters
    ----------
    responses
        Market name -> response model (the markets' own optimizer inputs).
    budgets
        Market name -> its plan's ``[budget]`` (limits, ``online_share``, objective, margin).
    total
        The portfolio budget (a ceiling with the profit objective).
    seed
        The optimizer's seed.
    limits
        Market name -> its limits as :class:`~omnimmm.optimize.Constraints` over its
        response's channels (a geo market's budget lines); default: :func:`plan_limits` of
        its budget.

    Returns
    -------
    tuple
        As :func:`split_total`.
    """
    from omnimmm.optimize import ChannelGroup, Constraints, FixedBudget, optimize_budget
    from omnimmm.optimize.markets import MarketsResponse, market_of

    if not responses:
        raise PlanError("--total: no market finished, so there is nothing to split")
    objective = _objective(budgets)
    limits = {n: (limits or {}).get(n) or plan_limits(b) for n, b in budgets.items()}
    bounds: dict[str, Any] = {}
    locked: list[str] = []
    own_groups: list[Any] = []
    for name, response in responses.items():
        own_groups += _limits(limits[name], tuple(response.channels), response.current_allocation,
                              name, bounds, locked)  # fmt: skip
    weights = {n: float(b.margin) for n, b in budgets.items()} if objective == "profit" else None
    joint = MarketsResponse(responses, weights)
    groups = tuple(
        ChannelGroup(name, tuple(c for c in joint.channels if market_of(c)[0] == name))
        for name in responses
    ) + tuple(own_groups)
    held = sum(float(joint.current_allocation[joint.channels.index(k)]) for k in locked)
    lo = held + sum(float(b.min) for b in bounds.values())
    hi = held + sum(float(b.max) for b in bounds.values())
    if not total >= lo or (objective == "revenue" and total > hi):
        raise InfeasibleError(
            f"--total {total:,.0f}: the markets' plans allow a portfolio budget between "
            f"{lo:,.0f} and {hi:,.0f} (each channel within its plan's max_change and limits); "
            "choose a total in that range or widen budget.max_change in the plans"
        )
    scenario = FixedBudget(total=float(total), objective=objective, margin=1.0)
    result = optimize_budget(
        joint, scenario, Constraints(bounds=bounds, locked=tuple(locked), groups=groups),
        seed=seed,
    )  # fmt: skip
    table: list[dict[str, Any]] = []
    for key, rec in result.allocation.iterrows():
        market, channel = market_of(str(key))
        table.append({
            "market": market, "channel": channel, "current": float(rec["current"]),
            "recommended": float(rec["recommended"]), "lower": float(rec["lower"]),
            "upper": float(rec["upper"]),
        })  # fmt: skip
    notes = _online_shares(responses, budgets, limits, table, seed)
    if any(b.online_share is not None for b in budgets.values()):
        split = np.array([t["recommended"] for t in table])
        value = _value_at(joint, split, result)
    else:
        value = {k: v.to_dict() for k, v in result.horizon_value.items()}
    return table, value, notes


def _value_at(joint: Any, rec: np.ndarray, result: Any) -> dict[str, Any]:
    """The split's horizon value after the online-share step (the current one unchanged)."""
    from omnimmm.optimize.result import interval

    out = {k: v.to_dict() for k, v in result.horizon_value.items()}
    after = interval(np.asarray(joint.horizon_value(rec), dtype=float))
    assert not isinstance(after, list)
    out["recommended"] = after.to_dict()
    return out


def _online_shares(responses: dict[str, Any], budgets: dict[str, Any], limits: dict[str, Any],
                   table: list[dict[str, Any]], seed: int) -> list[str]:  # fmt: skip
    """Re-plan, at the total the joint split gave it, every market with an ``online_share``
    (see the module docstring); ``table`` is updated in place. Returns the notes."""
    from dataclasses import replace

    from omnimmm.optimize import FixedBudget, optimize_budget

    notes: list[str] = []
    for name, b in budgets.items():
        if b.online_share is None:
            continue
        rows = [t for t in table if t["market"] == name]
        response = responses[name]
        share = _share(response, [t["recommended"] for t in rows])
        lo, hi = b.online_share
        if lo - 1e-6 <= share <= hi + 1e-6:
            continue
        market_total = float(sum(t["recommended"] for t in rows))
        cons = replace(limits[name], online_share=(lo, hi))
        scenario = FixedBudget(total=market_total, objective=b.objective, margin=b.margin)
        try:
            result = optimize_budget(response, scenario, cons, seed=seed)
        except InfeasibleError as exc:
            raise InfeasibleError(
                f"--total: market {name} gets {market_total:,.0f} from the portfolio split, "
                f"but its online_share {lo:g}-{hi:g} cannot be met at that total within its "
                f"limits ({exc})"
            ) from None
        recommended = result.allocation["recommended"]
        for t in rows:
            t["recommended"] = float(recommended[t["channel"]])
        notes.append(
            f"market {name}: the joint split put {share:.0%} of its media online, outside its "
            f"online_share {lo:g}-{hi:g}; its {market_total:,.0f} was re-planned within it "
            f"(now {_share(response, [t['recommended'] for t in rows]):.0%} online)"
        )
    return notes


def _share(response: Any, allocation: list[float]) -> float:
    spend = np.asarray(allocation, dtype=float)
    online = np.array([k == "online" for k in response.kinds])
    return float(spend[online].sum() / spend.sum()) if spend.sum() > 0 else 0.0
