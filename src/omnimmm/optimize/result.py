"""The answer of an optimization: what to spend, what it is worth, what held it back.

:class:`OptimizationResult` is computed once by :func:`omnimmm.optimize.optimize_budget`
and rendered by the report layer; ``to_frame`` and ``to_dict`` give plain tables and
JSON-friendly dictionaries (stable keys, floats, no numpy types).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["Interval", "OptimizationResult", "SolverInfo", "interval"]

#: Credible interval reported everywhere: 90%, the 5% and 95% posterior quantiles.
INTERVAL_LEVELS = (0.05, 0.95)


@dataclass(frozen=True)
class Interval:
    """Posterior mean and 90% credible interval of a quantity."""

    mean: float
    low: float
    high: float

    def to_dict(self) -> dict[str, float]:
        """``{"mean", "low", "high"}`` as floats."""
        return {"mean": float(self.mean), "low": float(self.low), "high": float(self.high)}


def interval(draws: np.ndarray, axis: int = -1) -> Interval | list[Interval]:
    """Mean and 90% interval of draws (a list of intervals for 2-D input along ``axis``)."""
    d = np.asarray(draws, dtype=float)
    mean = d.mean(axis=axis)
    low, high = np.quantile(d, INTERVAL_LEVELS, axis=axis)
    if d.ndim == 1:
        return Interval(float(mean), float(low), float(high))
    return [
        Interval(float(m), float(lo), float(hi)) for m, lo, hi in zip(mean, low, high, strict=True)
    ]


@dataclass(frozen=True)
class SolverInfo:
    """How the solution was found and how much to trust it.

    Attributes
    ----------
    method : str
        Scipy method used (``"SLSQP"``).
    n_starts, n_converged : int
        Starts tried and starts whose solver reported success and met the constraints.
    iterations : int
        Solver iterations summed over starts.
    seconds : float
        Wall time of the whole optimization (including result statistics).
    objective : float
        Best objective value (in currency units; maximized).
    start_objectives : tuple of float
        Objective reached from each start (NaN where a start failed), best first order kept.
    mroi_spread : float
        Largest relative spread ``(max - min) / |mean|`` of the objective's marginal return
        among interior variables facing the same binding constraints (0 when fewer than two).
    mroi_tolerance : float
        Spread above which a warning was issued.
    messages : tuple of str
        Solver messages of the best start and any warnings.
    """

    method: str
    n_starts: int
    n_converged: int
    iterations: int
    seconds: float
    objective: float
    start_objectives: tuple[float, ...]
    mroi_spread: float
    mroi_tolerance: float
    messages: tuple[str, ...]

    @property
    def mroi_equal(self) -> bool:
        """Whether interior variables ended with equal marginal returns (within tolerance)."""
        return self.mroi_spread <= self.mroi_tolerance


@dataclass(frozen=True, eq=False)
class OptimizationResult:
    """Current vs recommended allocation, its value, its marginal returns, its limits.

    Attributes
    ----------
    scenario : dict
        The scenario and risk settings (kind, parameters).
    allocation : pandas.DataFrame
        One row per decision variable (channels, then ``retention:<segment>``), index
        ``name``; columns ``kind``, ``current``, ``recommended``, ``change``, ``lower``,
        ``upper``, and ``mroi_current_{mean,low,high}``, ``mroi_recommended_{mean,low,high}``
        (extra revenue from the next 1% of spend / that 1%, per draw; the derivative where
        spend is zero).
    horizon_value : dict of str -> Interval
        ``"current"`` and ``"recommended"``: horizon value (plus retention value) per draw.
    value_by_outcome : pandas.DataFrame
        Index outcome (plus ``"retention"`` in a joint solve); columns ``current`` and
        ``recommended`` (posterior means) and their 90% intervals ``current_low``,
        ``current_high``, ``recommended_low``, ``recommended_high``.
    weekly_spend : pandas.DataFrame
        Recommended spend per week (rows ``week`` 1..H) and channel.
    binding : tuple of str
        Constraints holding with equality at the recommendation.
    retention : pandas.DataFrame or None
        Per segment: ``current``, ``recommended``, ``contacts``, ``n_eligible``,
        ``value_mean`` (posterior mean value of the recommended spend).
    solver : SolverInfo
    draws_current, draws_recommended : arrays (D,)
        Value per draw at the current and recommended allocation.
    """

    scenario: dict[str, Any]
    allocation: pd.DataFrame
    horizon_value: dict[str, Interval]
    value_by_outcome: pd.DataFrame
    weekly_spend: pd.DataFrame
    binding: tuple[str, ...]
    retention: pd.DataFrame | None
    solver: SolverInfo
    draws_current: np.ndarray
    draws_recommended: np.ndarray

    @property
    def recommended(self) -> dict[str, float]:
        """Recommended spend per decision variable."""
        return {str(k): float(v) for k, v in self.allocation["recommended"].items()}

    @property
    def current(self) -> dict[str, float]:
        """Current spend per decision variable."""
        return {str(k): float(v) for k, v in self.allocation["current"].items()}

    @property
    def retention_total(self) -> dict[str, float]:
        """Spend on retention segments, ``{"current": ..., "recommended": ...}`` (0 without)."""
        rows = self.allocation[self.allocation["kind"] == "retention"]
        return {k: float(rows[k].sum()) for k in ("current", "recommended")}

    @property
    def uplift(self) -> Interval:
        """Recommended minus current value, per draw: mean and 90% interval."""
        out = interval(self.draws_recommended - self.draws_current)
        assert isinstance(out, Interval)
        return out

    def to_frame(self) -> pd.DataFrame:
        """The per-variable table (a copy of :attr:`allocation`)."""
        return self.allocation.copy()

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly summary: channels, retention (per segment and in total), values,
        constraints, solver."""
        rows = []
        for name, r in self.allocation.iterrows():
            rows.append(
                {
                    "name": str(name),
                    "kind": str(r["kind"]),
                    "current_spend": float(r["current"]),
                    "recommended_spend": float(r["recommended"]),
                    "lower": _num(r["lower"]),
                    "upper": _num(r["upper"]),
                    "mroi": {
                        "current": _ival(r, "mroi_current"),
                        "recommended": _ival(r, "mroi_recommended"),
                    },
                }
            )
        return {
            "scenario": _jsonable(self.scenario),
            "channels": [r for r in rows if r["kind"] != "retention"],
            "retention": [r for r in rows if r["kind"] == "retention"],
            "retention_total": self.retention_total,
            "horizon_value": {k: v.to_dict() for k, v in self.horizon_value.items()},
            "uplift": self.uplift.to_dict(),
            "value_by_outcome": {
                str(o): {
                    tag: {
                        stat: float(r[tag if stat == "mean" else f"{tag}_{stat}"])
                        for stat in ("mean", "low", "high")
                    }
                    for tag in ("current", "recommended")
                }
                for o, r in self.value_by_outcome.iterrows()
            },
            "weekly_spend": {
                str(c): [float(v) for v in self.weekly_spend[c]] for c in self.weekly_spend.columns
            },
            "binding_constraints": list(self.binding),
            "solver": _jsonable({**asdict(self.solver), "mroi_equal": self.solver.mroi_equal}),
        }


def _num(v: Any) -> float | None:
    v = float(v)
    return v if np.isfinite(v) else None


def _ival(row: pd.Series, prefix: str) -> dict[str, float]:
    return {k: float(row[f"{prefix}_{k}"]) for k in ("mean", "low", "high")}


def _jsonable(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, float) and not np.isfinite(obj):
        return None
    return obj
