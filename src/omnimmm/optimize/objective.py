"""The objective the solver maximizes: scenario goal on posterior draws, in scaled units.

:class:`Evaluator` prices media (and retention) decision vectors per draw;
:class:`Objective` turns those into the scenario's goal (horizon value, profit, value
minus target spend, or least spend), its exact gradient, and -- for a total-ROI or
revenue target -- a nonlinear constraint, with variables scaled by the budget and values
by the current horizon value so the solver's tolerances mean the same in every market.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from omnimmm.optimize.response import ResponseModel
from omnimmm.optimize.retention import RetentionBlock
from omnimmm.optimize.risk import Risk, risk_functional, risk_values
from omnimmm.optimize.scenarios import (
    FixedBudget,
    ResolvedConstraints,
    RevenueTarget,
    Scenario,
    TargetROI,
)

__all__ = ["FEAS_TOL", "Evaluator", "Objective", "goal_batch", "linear_constraints", "violation"]

FEAS_TOL = 1e-6


@dataclass(frozen=True, eq=False)
class Evaluator:
    """Per-draw value and gradient of media plus retention decision vectors."""

    response: ResponseModel
    retention: RetentionBlock | None

    @property
    def n_media(self) -> int:
        return len(self.response.channels)

    def value_and_grad(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        v, g = self.response.horizon_value_and_grad(x[: self.n_media])
        if self.retention is None:
            return v, g
        rv, rg = self.retention.value_and_grad(x[self.n_media :])
        return v + rv, np.concatenate([g, rg], axis=1)

    def values(self, xs: np.ndarray) -> np.ndarray:
        """Values (n, D) of decision vectors (n, N)."""
        v = self.response.horizon_value(xs[:, : self.n_media])
        if self.retention is not None:
            v = v + self.retention.value_by_segment(xs[:, self.n_media :]).sum(axis=-1)
        return v


class Objective:
    """Scenario objective and nonlinear constraint in scaled variables, with a cache."""

    def __init__(
        self,
        ev: Evaluator,
        scenario: Scenario,
        risk: Risk,
        level: float,
        x_scale: float,
        f_scale: float,
    ) -> None:
        self.ev, self.scenario, self.risk, self.level = ev, scenario, risk, level
        self.xs, self.fs = x_scale, f_scale
        self._key: bytes | None = None
        self._val: tuple[float, np.ndarray] = (0.0, np.zeros(0))
        self.n_eval = 0

    def risk_at(self, x: np.ndarray) -> tuple[float, np.ndarray]:
        """Risk functional F and dF/dx at an unscaled allocation."""
        key = x.tobytes()
        if key != self._key:
            v, g = self.ev.value_and_grad(x)
            self._val = risk_functional(v, g, self.risk, self.level)
            self._key = key
            self.n_eval += 1
        return self._val

    def goal(self, x: np.ndarray) -> tuple[float, np.ndarray]:
        """What is maximized, in currency units, and its gradient."""
        f, g = self.risk_at(x)
        s = self.scenario
        ones = np.ones_like(x)
        if isinstance(s, FixedBudget):
            if s.objective == "profit":
                return s.margin * f - x.sum(), s.margin * g - ones
            return f, g
        if isinstance(s, TargetROI):
            if s.kind == "marginal":
                return f - s.target * x.sum(), g - s.target * ones
            return f, g
        return -float(x.sum()), -ones

    def nonlinear(self, x: np.ndarray) -> tuple[float, np.ndarray] | None:
        """Nonlinear constraint ``c(x) >= 0`` in currency units, or None."""
        s = self.scenario
        if isinstance(s, TargetROI) and s.kind == "total":
            f, g = self.risk_at(x)
            return f - s.target * x.sum(), g - s.target
        if isinstance(s, RevenueTarget):
            f, g = self.risk_at(x)
            return f - s.target, g
        return None

    def scipy_fun(self, z: np.ndarray) -> tuple[float, np.ndarray]:
        v, g = self.goal(z * self.xs)
        return -v / self.fs, -g * self.xs / self.fs

    def scipy_constraints(self, rc: ResolvedConstraints) -> list[dict]:
        cons = linear_constraints(rc, self.xs)
        if self.has_nonlinear:
            cons.append(
                {
                    "type": "ineq",
                    "fun": lambda z: self._nonlinear(z * self.xs)[0] / self.fs,
                    "jac": lambda z: self._nonlinear(z * self.xs)[1] * self.xs / self.fs,
                }
            )
        return cons

    @property
    def has_nonlinear(self) -> bool:
        """Whether the scenario adds a nonlinear constraint (total ROI or revenue target)."""
        s = self.scenario
        return isinstance(s, RevenueTarget) or (isinstance(s, TargetROI) and s.kind == "total")

    def _nonlinear(self, x: np.ndarray) -> tuple[float, np.ndarray]:
        out = self.nonlinear(x)
        assert out is not None
        return out


def linear_constraints(rc: ResolvedConstraints, xs: float) -> list[dict]:
    cons: list[dict] = []
    for row in rc.rows:
        coef = row.coef.copy()
        if row.low == row.high:
            cons.append(
                {
                    "type": "eq",
                    "fun": lambda z, c=coef, b=row.low: c @ z - b / xs,
                    "jac": lambda z, c=coef: c,
                }
            )
            continue
        if np.isfinite(row.low):
            cons.append(
                {
                    "type": "ineq",
                    "fun": lambda z, c=coef, b=row.low: c @ z - b / xs,
                    "jac": lambda z, c=coef: c,
                }
            )
        if np.isfinite(row.high):
            cons.append(
                {
                    "type": "ineq",
                    "fun": lambda z, c=coef, b=row.high: b / xs - c @ z,
                    "jac": lambda z, c=coef: -c,
                }
            )
    return cons


def linear_violation(x: np.ndarray, rc: ResolvedConstraints) -> float:
    """Largest violation of bounds and linear rows, in currency units."""
    worst = max(
        0.0, float(np.max(rc.lower - x, initial=0.0)), float(np.max(x - rc.upper, initial=0.0))
    )
    for row in rc.rows:
        v = float(row.coef @ x)
        worst = max(worst, row.low - v, v - row.high)
    return worst


def violation(x: np.ndarray, rc: ResolvedConstraints, obj: Objective) -> float:
    """Largest constraint violation, relative to the budget scale."""
    worst = linear_violation(x, rc) / obj.xs
    nl = obj.nonlinear(x)
    if nl is not None:
        worst = max(worst, -nl[0] / obj.fs)
    return worst


def goal_batch(obj: Objective, xs: np.ndarray) -> np.ndarray:
    """Scenario goal of many allocations (n, N), for screening."""
    f = risk_values(obj.ev.values(xs), obj.risk, obj.level)
    s, spend = obj.scenario, xs.sum(axis=1)
    if isinstance(s, FixedBudget):
        return s.margin * f - spend if s.objective == "profit" else f
    if isinstance(s, TargetROI) and s.kind == "marginal":
        return f - s.target * spend
    if isinstance(s, RevenueTarget):
        return -spend
    return f
