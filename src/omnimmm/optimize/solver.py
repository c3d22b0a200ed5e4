"""Budget optimization on posterior draws: SLSQP with exact gradients and several starts.

The objective is a functional of the per-draw horizon values (plus retention value in a
joint solve):

* ``risk="mean"`` -- the posterior mean (default).
* ``risk="quantile"`` -- the ``risk_level`` quantile of the draws (a pessimistic value).
* ``risk="cvar"`` -- the mean of the worst ``risk_level`` share of draws.

See :mod:`omnimmm.optimize.risk` for the estimators and their gradients.

Variables are scaled by the budget and the objective by its value at the current
allocation, so the solver's tolerances mean the same thing for every market and currency.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace

import numpy as np

from omnimmm.errors import InfeasibleError, numbered
from omnimmm.optimize.objective import (
    FEAS_TOL,
    Evaluator,
    Objective,
    goal_batch,
    linear_constraints,
    linear_violation,
    violation,
)
from omnimmm.optimize.response import ResponseModel
from omnimmm.optimize.result import OptimizationResult
from omnimmm.optimize.retention import RetentionBlock, RetentionSegment
from omnimmm.optimize.risk import Risk, risk_functional, risk_values
from omnimmm.optimize.scenarios import (
    Constraints,
    FixedBudget,
    ResolvedConstraints,
    RevenueTarget,
    Scenario,
    TargetROI,
    check_feasible,
    money,
)
from omnimmm.optimize.summary import binding, build_result, mroi_spread, transfer_improves

__all__ = ["Risk", "optimize_budget", "risk_functional"]  # risk_functional: re-exported


def _project(z0: np.ndarray, rc: ResolvedConstraints, xs: float) -> np.ndarray:
    """Nearest point to ``z0`` (scaled) that satisfies bounds and linear rows."""
    lo, hi = rc.lower / xs, rc.upper / xs
    z0 = np.clip(z0, lo, hi)
    cons = linear_constraints(rc, xs)
    if not cons:
        return z0
    from scipy.optimize import minimize  # at first use: importing omnimmm.optimize stays light

    res = minimize(
        lambda z: (float(((z - z0) ** 2).sum()), 2 * (z - z0)),
        z0,
        jac=True,
        method="SLSQP",
        bounds=list(zip(lo, hi, strict=True)),
        constraints=cons,
        options={"maxiter": 200, "ftol": 1e-14},
    )
    return np.clip(res.x, lo, hi)


def _box_with_total(
    lower: np.ndarray, upper: np.ndarray, totals: np.ndarray, rng: np.random.Generator
) -> np.ndarray:
    """Uniform points in the box, each pulled toward a bound so that it sums to its total.

    A point summing to more than its total is shrunk toward ``lower``, one summing to less
    is pushed toward ``upper``; both moves stay inside the box. Totals outside
    ``[sum(lower), sum(upper)]`` are clipped to that range.
    """
    n = len(totals)
    x = lower + rng.uniform(size=(n, len(lower))) * (upper - lower)
    t = np.clip(totals, lower.sum(), upper.sum())[:, None]
    s = x.sum(axis=1, keepdims=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        down = lower + (x - lower) * np.nan_to_num((t - lower.sum()) / (s - lower.sum()), nan=0.0)
        up = upper - (upper - x) * np.nan_to_num((upper.sum() - t) / (upper.sum() - s), nan=0.0)
    return np.where(s > t, down, up)


def _starts(
    obj: Objective,
    rc: ResolvedConstraints,
    current: np.ndarray,
    n_starts: int,
    seed: int,
) -> list[tuple[str, np.ndarray]]:
    """Starting points (scaled): current, current mix at the budget, best of a random screen.

    Response curves with S-shaped saturation make the problem non-convex: a channel pushed
    to zero can stay there from starts near the current mix. The random starts are
    therefore the best of ``max(32, 4 * n_starts)`` allocations drawn uniformly over the
    allowed box (at the budget, or at 0.5-1.5 x current spend when the total is free),
    ranked by the scenario's goal (or value, when a nonlinear constraint applies) on the
    posterior mean, then projected onto the linear constraints.
    """
    xs, scenario = obj.xs, obj.scenario
    n = len(current)
    fixed = isinstance(scenario, FixedBudget)
    ref_total = scenario.total if isinstance(scenario, FixedBudget) else max(current.sum(), xs)
    cur_share = current / current.sum() if current.sum() > 0 else np.full(n, 1.0 / n)
    out = [("current", _project(current / xs, rc, xs))]
    if n_starts > 1:
        out.append(("proportional", _project(cur_share * ref_total / xs, rc, xs)))
    n_random = max(0, n_starts - 2)
    if n_random == 0:
        return out
    rng = np.random.default_rng([seed, 31337])
    n_screen = max(32, 4 * n_starts)
    totals = np.full(n_screen, ref_total) if fixed else ref_total * rng.uniform(0.5, 1.5, n_screen)
    upper = np.minimum(rc.upper, max(ref_total, float(rc.lower.sum())))
    cand = _box_with_total(rc.lower, np.maximum(upper, rc.lower), totals, rng)
    mean_value = obj.ev.values(cand).mean(axis=1)
    spend = cand.sum(axis=1)
    if isinstance(scenario, FixedBudget) and scenario.objective == "profit":
        ranked = scenario.margin * mean_value - spend
    elif isinstance(scenario, TargetROI) and scenario.kind == "marginal":
        ranked = mean_value - scenario.target * spend
    else:
        ranked = mean_value
    for k, i in enumerate(np.argsort(ranked)[::-1][:n_random]):
        out.append((f"random {k + 1}", _project(cand[i] / xs, rc, xs)))
    return out


@dataclass(frozen=True)
class _Run:
    label: str
    x: np.ndarray
    goal: float
    violation: float
    success: bool
    nit: int
    message: str


def _solve(
    obj: Objective,
    rc: ResolvedConstraints,
    starts: Sequence[tuple[str, np.ndarray]],
    max_iter: int,
) -> list[_Run]:
    bounds = list(zip(rc.lower / obj.xs, rc.upper / obj.xs, strict=True))
    from scipy.optimize import minimize

    cons = obj.scipy_constraints(rc)
    runs = []
    for label, z0 in starts:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            res = minimize(
                obj.scipy_fun,
                z0,
                jac=True,
                method="SLSQP",
                bounds=bounds,
                constraints=cons,
                options={"maxiter": max_iter, "ftol": 1e-11},
            )
        x = np.clip(res.x, rc.lower / obj.xs, rc.upper / obj.xs) * obj.xs
        # Snap round-off next to a bound onto it (e.g. 1e-9 instead of a true zero).
        snap = 1e-9 * obj.xs
        x = np.where(x - rc.lower < snap, rc.lower, np.where(rc.upper - x < snap, rc.upper, x))
        runs.append(
            _Run(
                label,
                x,
                obj.goal(x)[0],
                violation(x, rc, obj),
                bool(res.success),
                int(res.nit),
                str(res.message),
            )
        )
    return runs


def _best(runs: Sequence[_Run]) -> _Run:
    feasible = [r for r in runs if r.violation <= FEAS_TOL]
    if feasible:
        return max(feasible, key=lambda r: r.goal)
    return min(runs, key=lambda r: r.violation)


def _reentry(
    obj: Objective, rc: ResolvedConstraints, best: _Run, max_iter: int, rounds: int = 3
) -> tuple[_Run, list[_Run]]:
    """Try switching back on variables the solver left at their lower bound.

    With S-shaped saturation a channel at zero has a small marginal return although a
    sizeable amount of it would pay: the point is a local optimum. For each such variable
    a chunk (a quarter, half and all of an even share of the budget, and its current
    spend) is moved into it -- taken pro rata from the others when the total is fixed --
    and, where that already improves the goal (or always, when the scenario has a
    nonlinear constraint), the solver is restarted from there. Repeats while it helps.
    """
    extra: list[_Run] = []
    n = len(rc.names)
    fixed_total = any(r.low == r.high and np.all(r.coef == 1) for r in rc.rows)
    screened = not obj.has_nonlinear
    for _ in range(rounds):
        x = best.x
        at_low = np.flatnonzero(
            (x - rc.lower <= 1e-9 * obj.xs) & (rc.upper - rc.lower > 1e-9 * obj.xs)
        )
        if at_low.size == 0:
            break
        even = x.sum() / n if x.sum() > 0 else obj.xs / n
        cands = []
        for i in at_low:
            for delta in {0.25 * even, 0.5 * even, even}:
                delta = min(delta, rc.upper[i] - rc.lower[i])
                y = x.copy()
                y[i] += delta
                if fixed_total:
                    slack = np.where(np.arange(n) == i, 0.0, x - rc.lower)
                    if slack.sum() <= delta:
                        continue
                    y -= delta * slack / slack.sum()
                cands.append(y)
        if not cands:
            break
        cand = np.array(cands)
        if screened:
            gain = goal_batch(obj, cand)
            cand = cand[gain > best.goal + 1e-9 * abs(best.goal)]
        else:
            cand = cand[:: max(1, len(cand) // max(1, at_low.size))]
        if len(cand) == 0:
            break
        starts = [
            (f"re-entry {k + 1}", _project(c / obj.xs, rc, obj.xs)) for k, c in enumerate(cand)
        ]
        runs = _solve(obj, rc, starts, max_iter)
        extra.extend(runs)
        new = _best([best, *runs])
        if new is best or new.goal <= best.goal + 1e-9 * abs(best.goal):
            break
        best = new
    return best, extra


def optimize_budget(
    response: ResponseModel,
    scenario: Scenario,
    constraints: Constraints | None = None,
    *,
    retention: Sequence[RetentionSegment] | None = None,
    risk: Risk = "mean",
    risk_level: float = 0.1,
    n_starts: int = 8,
    seed: int = 0,
    max_iter: int = 300,
    mroi_tolerance: float = 0.02,
    screen_draws: int = 200,
) -> OptimizationResult:
    """Recommend next-quarter spend per channel (and retention segment).

    Parameters
    ----------
    response : ResponseModel
        Prices allocations per posterior draw (e.g. an ``AdstockSaturationResponse``).
    scenario : FixedBudget, TargetROI or RevenueTarget
        What to optimize.
    constraints : Constraints, optional
        Business constraints; checked before solving.
    retention : sequence of RetentionSegment, optional
        Lifecycle segments whose retention spend competes with media for the budget.
    risk : {"mean", "quantile", "cvar"}, default "mean"
        Functional of the per-draw values that is optimized: the posterior mean, a lower
        quantile (Harrell-Davis estimate) or CVaR, the mean of the worst draws; see
        :mod:`omnimmm.optimize.risk`.
    risk_level : float, default 0.1
        Quantile level, or the tail share for CVaR.
    n_starts : int, default 8
        Starting points: the current allocation, the current mix scaled to the budget,
        then random feasible mixes.
    seed : int, default 0
        Seed of the random starts and of the retention value draws.
    max_iter : int, default 300
        SLSQP iterations per start.
    mroi_tolerance : float, default 0.02
        Relative spread of marginal returns among interior variables above which a
        warning is issued (the solution is then probably not optimal).
    screen_draws : int, default 200
        With more posterior draws than this (and a response offering ``subset``), the
        starts are solved on this many evenly spaced draws and the two best distinct
        answers are then polished on all draws. 0 solves every start on all draws.

    Returns
    -------
    OptimizationResult

    Raises
    ------
    InfeasibleError
        When constraints conflict (before solving), when a revenue target cannot be
        reached, or when no allocation meets a total-ROI target.
    """
    t0 = time.perf_counter()
    if risk not in ("mean", "quantile", "cvar"):
        raise ValueError(f"risk must be 'mean', 'quantile' or 'cvar', got {risk!r}")
    if not 0 < risk_level < 1:
        raise ValueError(f"risk_level must lie in (0, 1), got {risk_level!r}")
    if n_starts < 1:
        raise ValueError(f"n_starts must be >= 1, got {n_starts}")
    block = RetentionBlock.build(retention, response.n_draws, seed) if retention else None
    kinds = tuple(response.kinds) + (("retention",) * len(block.segments) if block else ())
    current = np.concatenate(
        [np.asarray(response.current_allocation, float), block.current if block else np.zeros(0)]
    )
    rc = check_feasible(
        response.channels,
        response.kinds,
        current[: len(response.channels)],
        scenario,
        constraints,
        retention_names=block.names if block else (),
        retention_max=block.max_spend if block else None,
    )
    ev = Evaluator(response, block)
    x_scale = (
        float(scenario.total if isinstance(scenario, FixedBudget) else 0.0)
        or float(current.sum())
        or 1.0
    )
    f_cur = risk_functional(*ev.value_and_grad(current), risk, risk_level)[0]
    f_scale = (
        abs(scenario.target)
        if isinstance(scenario, RevenueTarget)
        else max(abs(f_cur), 1e-9 * x_scale, 1e-12)
    )
    obj = Objective(ev, scenario, risk, risk_level, x_scale, f_scale)
    fast = _screening(obj, screen_draws)
    starts = _starts(fast, rc, current, n_starts, seed)
    if isinstance(scenario, RevenueTarget):
        _check_reachable(fast, obj, scenario, rc, starts, max_iter)
    runs = _solve(fast, rc, starts, max_iter)
    best, extra = _reentry(fast, rc, _best(runs), max_iter)
    runs.extend(extra)
    if fast is not obj:
        # Polish the best distinct answers of the screening stage on every draw.
        runs = _rescore(obj, rc, runs)
        top = _distinct_top(runs, 2, x_scale)
        runs.extend(_solve(obj, rc, [(f"polish {r.label}", r.x / x_scale) for r in top], max_iter))
        best = _best(runs)
    if best.violation > FEAS_TOL:
        raise InfeasibleError(_unreached(scenario, obj, best))
    if (
        isinstance(scenario, TargetROI)
        and scenario.kind == "total"
        and best.x.sum() <= 1e-6 * x_scale
    ):
        # Spending nothing meets "value >= target * spend" trivially: that is no answer.
        raise InfeasibleError(_roi_out_of_reach(scenario, obj, rc, current))
    _, g_best = obj.risk_at(best.x)
    spread, pair = mroi_spread(best.x, g_best, rc, obj)
    messages = [best.message]
    if spread > mroi_tolerance and risk != "mean" and not transfer_improves(best.x, pair, rc, obj):
        messages.append(
            f"marginal returns of interior channels differ (relative spread {spread:.3f}) at a "
            f"kink of the {risk} objective; no small reallocation between them improves it"
        )
    elif spread > mroi_tolerance:
        note = (
            f"interior channels end with unequal marginal returns (relative spread {spread:.3f} "
            f"> {mroi_tolerance}); the solution may not be optimal. Try more starts (n_starts) "
            "or a larger max_iter."
        )
        warnings.warn(note, UserWarning, stacklevel=2)
        messages.append(note)
    binds = binding(best.x, rc, obj)
    info_args = {
        "n_starts": len(runs),
        "n_converged": int(sum(r.success and r.violation <= FEAS_TOL for r in runs)),
        "iterations": sum(r.nit for r in runs),
        "objective": best.goal,
        "start_objectives": tuple(
            r.goal if r.violation <= FEAS_TOL else float("nan") for r in runs
        ),
        "mroi_spread": spread,
        "mroi_tolerance": mroi_tolerance,
        "messages": tuple(messages),
    }
    scen = {
        "kind": type(scenario).__name__,
        **asdict(scenario),
        "risk": risk,
        "risk_level": risk_level,
    }
    return build_result(ev, rc, kinds, current, best.x, binds, scen, info_args, t0)


def _check_reachable(
    fast: Objective,
    obj: Objective,
    scenario: RevenueTarget,
    rc: ResolvedConstraints,
    starts: Sequence[tuple[str, np.ndarray]],
    max_iter: int,
) -> None:
    """Raise if even the most valuable allowed allocation misses the revenue target.

    Searches on the screening draws (``fast``), then confirms on every draw (``obj``),
    polishing there before declaring the target out of reach.
    """
    xs = obj.xs
    top = _project(rc.upper / xs, rc, xs)
    probe_scenario = TargetROI(target=1e-12, kind="marginal")
    probe = Objective(fast.ev, probe_scenario, fast.risk, fast.level, xs, fast.fs)
    best = _best(_solve(probe, rc, [("upper bounds", top), *starts[:2]], max_iter))
    full = Objective(obj.ev, probe_scenario, obj.risk, obj.level, xs, obj.fs)
    reach = full.risk_at(best.x)[0]
    if reach < scenario.target and full is not probe:
        best = _best(_solve(full, rc, [("polish", best.x / xs)], max_iter))
        reach = full.risk_at(best.x)[0]
    if reach < scenario.target:
        raise InfeasibleError(
            f"revenue target {money(scenario.target)} cannot be reached: the most the constraints "
            f"allow is {money(reach)} at a spend of {money(best.x.sum())}\nTry:\n"
            + numbered(
                [
                    f"lower the target to {money(reach)} or less",
                    "raise max_total or channel maximums (or allow a larger max_change)",
                    "use risk='mean' if a pessimistic risk functional is set",
                ]
            )
        )


def _screening(obj: Objective, n_draws: int) -> Objective:
    """The objective on ``n_draws`` evenly spaced posterior draws, or ``obj`` itself.

    Used when the response can be restricted to a subset of draws (it has ``subset``) and
    has more than ``n_draws`` of them.
    """
    resp = obj.ev.response
    total = resp.n_draws
    if n_draws <= 0 or total <= n_draws or not hasattr(resp, "subset"):
        return obj
    idx = np.unique(np.linspace(0, total - 1, n_draws).round().astype(int))
    block = obj.ev.retention.subset(idx) if obj.ev.retention is not None else None
    ev = Evaluator(resp.subset(idx), block)
    return Objective(ev, obj.scenario, obj.risk, obj.level, obj.xs, obj.fs)


def _rescore(obj: Objective, rc: ResolvedConstraints, runs: Sequence[_Run]) -> list[_Run]:
    """Runs with goal and violation recomputed on the objective's draws."""
    goals = goal_batch(obj, np.array([r.x for r in runs]))
    return [
        replace(r, goal=float(g), violation=violation(r.x, rc, obj))
        for r, g in zip(runs, goals, strict=True)
    ]


def _distinct_top(runs: Sequence[_Run], k: int, xs: float) -> list[_Run]:
    """The ``k`` best feasible runs whose allocations differ (else the best runs at all)."""
    pool = [r for r in runs if r.violation <= FEAS_TOL] or list(runs)
    out: list[_Run] = []
    for r in sorted(pool, key=lambda r: -r.goal):
        if all(np.abs(r.x - o.x).max() > 1e-4 * xs for o in out):
            out.append(r)
        if len(out) == k:
            break
    return out


def _roi_out_of_reach(
    scenario: TargetROI, obj: Objective, rc: ResolvedConstraints, current: np.ndarray
) -> str:
    """Message for a total-ROI target above the best total ROI a scan of mixes finds."""
    n = len(current)
    mix = current / current.sum() if current.sum() > 0 else np.full(n, 1.0 / n)
    shapes = np.vstack([mix, np.eye(n)])
    scales = obj.xs * np.logspace(-3, 0.5, 24)
    cand = (shapes[:, None, :] * scales[None, :, None]).reshape(-1, n)
    cand = np.clip(cand, rc.lower, rc.upper)
    cand = cand[cand.sum(axis=1) > 0]
    ok = np.array([linear_violation(c, rc) <= FEAS_TOL * obj.xs for c in cand])
    cand = cand[ok] if ok.any() else cand
    f = risk_values(obj.ev.values(cand), obj.risk, obj.level)
    roi = f / cand.sum(axis=1)
    k = int(np.argmax(roi))
    return (
        f"no allocation within the constraints reaches a total ROI of {scenario.target:g}; "
        f"the best found returns {roi[k]:.3f} on {money(cand[k].sum())}\nTry:\n"
        + numbered(
            [
                f"lower the ROI target to {roi[k]:.3f} or less",
                "lower channel minimums (they force spend at lower returns)",
                "use TargetROI(kind='marginal') to spend while the next unit returns the target",
            ]
        )
    )


def _unreached(scenario: Scenario, obj: Objective, best: _Run) -> str:
    if isinstance(scenario, TargetROI):
        f = obj.risk_at(best.x)[0]
        roi = f / best.x.sum() if best.x.sum() > 0 else float("nan")
        return (
            f"no allocation within the constraints reaches a total ROI of {scenario.target:g}; "
            f"the closest found returns {roi:.3f} on {money(best.x.sum())}\nTry:\n"
            + numbered(["lower the ROI target", "lower channel minimums (they force spend)"])
        )
    return (
        f"the solver found no allocation meeting the constraints (largest violation "
        f"{best.violation:.2e} of the budget)\nTry:\n"
        + numbered(["increase n_starts or max_iter", "loosen the constraints"])
    )
