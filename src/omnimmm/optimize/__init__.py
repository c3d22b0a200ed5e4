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

from omnimmm.optimize.response import (
    AdstockSaturationResponse,
    ResponseModel,
    response_from_world,
    weekly_pattern,
)
from omnimmm.optimize.result import Interval, OptimizationResult, SolverInfo
from omnimmm.optimize.retention import RetentionSegment, segments_from_table
from omnimmm.optimize.scenarios import (
    ChannelBounds,
    ChannelGroup,
    Constraints,
    FixedBudget,
    RevenueTarget,
    TargetROI,
    check_feasible,
)
from omnimmm.optimize.solver import optimize_budget, risk_functional

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
