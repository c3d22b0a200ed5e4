"""Budget optimization: next-quarter allocation across channels and retention segments.

Written against the small :class:`ResponseModel` protocol, never against the MMM's
internals: the MMM (or the simulator's truth, via :func:`response_from_world`) supplies an
:class:`AdstockSaturationResponse`, and :func:`optimize_budget` returns an
:class:`OptimizationResult`.

Modules, in the order the data flows: ``response`` (horizon value per draw and its exact
gradient), ``scenarios`` (what to optimize, what is allowed, feasibility checked before any
solving), ``retention`` (segments competing with media for the budget), ``risk`` (mean,
quantile, CVaR of the draws), ``objective`` (the scaled goal the solver sees), ``solver``
(starts, SLSQP, polishing), ``summary`` and ``result`` (binding constraints, marginal
returns, the answer).

>>> from omnimmm.optimize import FixedBudget, Constraints, optimize_budget
>>> result = optimize_budget(response, FixedBudget(total=5e6), Constraints(max_change=0.5))
... # doctest: +SKIP
"""

from __future__ import annotations

import importlib
from typing import Any

# Submodules are imported on first use: ``omnimmm validate`` checks a budget's feasibility
# (``scenarios``) without loading the solver, the results or the response model.
_EXPORTS = {
    "AdstockSaturationResponse": "response",
    "ResponseModel": "response",
    "response_from_world": "response",
    "weekly_pattern": "response",
    "Interval": "result",
    "OptimizationResult": "result",
    "SolverInfo": "result",
    "RetentionSegment": "retention",
    "segments_from_table": "retention",
    "ChannelBounds": "scenarios",
    "ChannelGroup": "scenarios",
    "Constraints": "scenarios",
    "FixedBudget": "scenarios",
    "RevenueTarget": "scenarios",
    "TargetROI": "scenarios",
    "check_feasible": "scenarios",
    "optimize_budget": "solver",
    "risk_functional": "solver",
}


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        module = importlib.import_module(f"omnimmm.optimize.{_EXPORTS[name]}")
        return getattr(module, name)
    raise AttributeError(f"module 'omnimmm.optimize' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)


__all__ = [
    "AdstockSaturationResponse",
    "ChannelBounds",
    "ChannelGroup",
    "Constraints",
    "FixedBudget",
    "Interval",
    "OptimizationResult",
    "ResponseModel",
    "RetentionSegment",
    "RevenueTarget",
    "SolverInfo",
    "TargetROI",
    "check_feasible",
    "optimize_budget",
    "response_from_world",
    "risk_functional",
    "segments_from_table",
    "weekly_pattern",
]
