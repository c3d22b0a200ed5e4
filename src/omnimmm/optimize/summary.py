"""After the solve: which constraints bind, marginal returns, and the result object."""

from __future__ import annotations

import time

import numpy as np
import pandas as pd

from omnimmm.optimize.objective import Evaluator, Objective
from omnimmm.optimize.result import Interval, OptimizationResult, SolverInfo, interval
from omnimmm.optimize.scenarios import ResolvedConstraints, RevenueTarget, TargetROI, money

__all__ = ["binding", "build_result", "mroi_spread"]


def binding_rows(x: np.ndarray, rc: ResolvedConstraints, xs: float) -> list[int]:
    """Indices of the linear rows holding with equality at ``x``."""
    tol = 1e-6 * xs
    out = []
    for k, row in enumerate(rc.rows):
        v = float(row.coef @ x)
        if abs(v - row.low) <= tol or abs(v - row.high) <= tol:
            out.append(k)
    return out


def interior_mask(x: np.ndarray, rc: ResolvedConstraints, xs: float) -> np.ndarray:
    """Variables strictly between their bounds."""
    tol = 1e-5 * xs
    return (x - rc.lower > tol) & (rc.upper - x > tol)


def mroi_spread(
    x: np.ndarray, g: np.ndarray, rc: ResolvedConstraints, obj: Objective
) -> tuple[float, tuple[int, int]]:
    """Largest relative spread of dF/dx among interior variables facing the same rows.

    Returns the spread and the (lowest, highest) marginal-return variables of the class
    where it occurs (``(-1, -1)`` when no class has two interior variables).
    """
    interior = np.flatnonzero(interior_mask(x, rc, obj.xs))
    rows = [
        rc.rows[k]
        for k in binding_rows(x, rc, obj.xs)
        if not np.allclose(rc.rows[k].coef, rc.rows[k].coef[0])  # budget rows treat all alike
    ]
    classes: dict[tuple[float, ...], list[int]] = {}
    for i in interior:
        classes.setdefault(tuple(round(float(r.coef[i]), 9) for r in rows), []).append(int(i))
    spread, pair = 0.0, (-1, -1)
    for members in classes.values():
        if len(members) < 2:
            continue
        m = g[members]
        s = float((m.max() - m.min()) / max(abs(m.mean()), 1e-300))
        if s > spread:
            spread, pair = s, (members[int(np.argmin(m))], members[int(np.argmax(m))])
    return spread, pair


def transfer_improves(
    x: np.ndarray, pair: tuple[int, int], rc: ResolvedConstraints, obj: Objective
) -> bool:
    """Whether moving a little spend from ``pair[0]`` to ``pair[1]`` raises the goal.

    At a kink of a tail functional (quantile, CVaR) the marginal returns the solver sees
    need not be equal although no small reallocation helps; this checks that directly.
    """
    lo, hi = pair
    room = min(x[lo] - rc.lower[lo], rc.upper[hi] - x[hi])
    base = obj.goal(x)[0]
    for frac in (1e-2, 1e-3, 1e-4):
        y = x.copy()
        y[lo] -= frac * room
        y[hi] += frac * room
        if obj.goal(y)[0] > base + 1e-9 * abs(base):
            return True
    return False


def binding(x: np.ndarray, rc: ResolvedConstraints, obj: Objective) -> tuple[str, ...]:
    tol = 1e-5 * obj.xs
    out = []
    for i, name in enumerate(rc.names):
        if x[i] - rc.lower[i] <= tol:
            label = "zero" if rc.lower[i] == 0 else f"minimum {money(rc.lower[i])}"
            out.append(f"{name} at {label} ({rc.lower_why[i]})")
        elif rc.upper[i] - x[i] <= tol:
            out.append(f"{name} at maximum {money(rc.upper[i])} ({rc.upper_why[i]})")
    for k in binding_rows(x, rc, obj.xs):
        row = rc.rows[k]
        if row.label.startswith("group") and row.low != row.high:
            v = float(row.coef @ x)
            side = "minimum" if abs(v - row.low) <= abs(v - row.high) else "maximum"
            bound = row.low if side == "minimum" else row.high
            out.append(f"{row.label} at its {side} {money(bound)}")
        else:
            out.append(row.label)
    nl = obj.nonlinear(x)
    if nl is not None and abs(nl[0]) <= 1e-6 * obj.fs:
        s = obj.scenario
        if isinstance(s, TargetROI):
            out.append(f"total ROI >= {s.target:g}")
        elif isinstance(s, RevenueTarget):
            out.append(f"revenue target {money(s.target)}")
    return tuple(out)


def mroi_draws(ev: Evaluator, x: np.ndarray, step: float = 0.01) -> np.ndarray:
    """DESIGN.md mROI per draw and variable (D, N): next 1% of spend; derivative at zero."""
    n = len(x)
    bumps = np.where(x > 0, step * x, 0.0)
    xs = np.repeat(x[None], n, axis=0) + np.diag(bumps)
    v0, g0 = ev.value_and_grad(x)
    dv = ev.values(xs) - v0[None]  # (N, D)
    with np.errstate(divide="ignore", invalid="ignore"):
        fd = dv / np.where(bumps > 0, bumps, 1.0)[:, None]
    return np.where((bumps > 0)[:, None], fd, g0.T).T


def build_result(
    ev: Evaluator,
    rc: ResolvedConstraints,
    kinds: tuple[str, ...],
    current: np.ndarray,
    x: np.ndarray,
    binding: tuple[str, ...],
    scenario: dict,
    info_args: dict,
    t0: float,
) -> OptimizationResult:
    resp = ev.response
    n_m = len(resp.channels)
    draws_cur, _ = ev.value_and_grad(current)
    draws_rec, _ = ev.value_and_grad(x)
    table = pd.DataFrame(
        {
            "kind": kinds,
            "current": current,
            "recommended": x,
            "change": x - current,
            "lower": rc.lower,
            "upper": rc.upper,
        },
        index=pd.Index(rc.names, name="name"),
    )
    for tag, point in (("current", current), ("recommended", x)):
        ivals = _as_list(interval(mroi_draws(ev, point), axis=0))
        for stat in ("mean", "low", "high"):
            table[f"mroi_{tag}_{stat}"] = [getattr(iv, stat) for iv in ivals]
    by_out = {}
    for tag, point in (("current", current), ("recommended", x)):
        draws = resp.horizon_value_by_outcome(point[:n_m])  # (D, O)
        if ev.retention is not None:
            kept = ev.retention.value_by_segment(point[n_m:]).sum(axis=1)
            draws = np.column_stack([draws, kept])
        ivals = _as_list(interval(draws, axis=0))
        by_out[tag] = [iv.mean for iv in ivals]
        by_out[f"{tag}_low"] = [iv.low for iv in ivals]
        by_out[f"{tag}_high"] = [iv.high for iv in ivals]
    outcomes = list(resp.outcomes) + (["retention"] if ev.retention is not None else [])
    value_by_outcome = pd.DataFrame(by_out, index=pd.Index(outcomes, name="outcome"))
    weekly = pd.DataFrame(
        resp.weekly_spend(x[:n_m]),
        columns=list(resp.channels),
        index=pd.RangeIndex(1, resp.horizon_weeks + 1, name="week"),
    )
    retention_table = None
    if ev.retention is not None:
        block, xr = ev.retention, x[n_m:]
        retention_table = pd.DataFrame(
            {
                "current": block.current,
                "recommended": xr,
                "contacts": block.contacts(xr),
                "n_eligible": [s.n_eligible for s in block.segments],
                "value_mean": block.value_by_segment(xr).mean(axis=0),
            },
            index=pd.Index(block.names, name="segment"),
        )
    values = {"current": interval(draws_cur), "recommended": interval(draws_rec)}
    info = SolverInfo(method="SLSQP", seconds=time.perf_counter() - t0, **info_args)
    return OptimizationResult(
        scenario=scenario,
        allocation=table,
        horizon_value={k: v for k, v in values.items() if isinstance(v, Interval)},
        value_by_outcome=value_by_outcome,
        weekly_spend=weekly,
        binding=binding,
        retention=retention_table,
        solver=info,
        draws_current=draws_cur,
        draws_recommended=draws_rec,
    )


def _as_list(v: Interval | list[Interval]) -> list[Interval]:
    return v if isinstance(v, list) else [v]
