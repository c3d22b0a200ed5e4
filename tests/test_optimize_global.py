"""The optimizer against an independent global check on the simulator's true response.

The optimizer solves on :func:`response_from_world` (our implementation of the response);
the check scores a dense grid, refined twice around its best point, with the simulator's
own ``world.truth.horizon_value_batch`` and filters it with constraints written out here
from their definitions. The optimizer's allocation is scored the same way, so the
comparison shares no code with the optimizer.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

from omnimmm.data.simulate import simulate_world
from omnimmm.optimize import (
    ChannelBounds,
    ChannelGroup,
    Constraints,
    FixedBudget,
    RevenueTarget,
    TargetROI,
    optimize_budget,
    response_from_world,
)

GAP = 0.005  # the "within 0.5%"


@pytest.fixture(scope="module")
def world3():
    return simulate_world(channels=["search", "social", "tv"])


@pytest.fixture(scope="module")
def world2():
    return simulate_world(channels=["search", "tv"])


def allowed(x: np.ndarray, cons: Constraints, current: np.ndarray, kinds, names) -> np.ndarray:
    """Rows of ``x`` (n, C) that satisfy ``cons``, written from the definitions."""
    tol = 1e-6 * current.sum()
    ok = np.all(x >= -tol, axis=1)
    for i, name in enumerate(names):
        if cons.max_change is not None:
            m = cons.max_change
            ok &= (x[:, i] >= current[i] * (1 - m) - tol) & (x[:, i] <= current[i] * (1 + m) + tol)
        b = cons.bounds.get(name)
        if b is not None:
            k = current[i] if b.relative else 1.0
            if b.min is not None:
                ok &= x[:, i] >= b.min * k - tol
            if b.max is not None:
                ok &= x[:, i] <= b.max * k + tol
        if name in cons.locked:
            ok &= np.abs(x[:, i] - current[i]) <= tol
    if cons.online_share is not None:
        online = x[:, [k == "online" for k in kinds]].sum(axis=1)
        share = online / np.maximum(x.sum(axis=1), 1e-300)
        lo, hi = cons.online_share
        if lo is not None:
            ok &= share >= lo - 1e-9
        if hi is not None:
            ok &= share <= hi + 1e-9
    for g in cons.groups:
        idx = [names.index(c) for c in g.channels]
        s = x[:, idx].sum(axis=1)
        k = current[idx].sum() if g.relative else 1.0
        if g.min is not None:
            ok &= s >= g.min * k - tol
        if g.max is not None:
            ok &= s <= g.max * k + tol
    return ok


def grid_best(
    score: Callable[[np.ndarray], np.ndarray],
    lows: np.ndarray,
    highs: np.ndarray,
    total: float | None,
    n: int,
    n_fine: int = 41,
    rounds: int = 4,
) -> tuple[float, np.ndarray]:
    """Best score on an ``n``-point grid per free coordinate, then ``rounds - 1`` finer
    ``n_fine``-point grids spanning three steps either side of the best point so far.

    With ``total`` the last coordinate is ``total`` minus the others (a budget simplex);
    otherwise every coordinate is free. ``score`` returns -inf where infeasible.
    """
    d = len(lows) - (1 if total is not None else 0)
    lo, hi = lows[:d].astype(float), highs[:d].astype(float)
    best_s, best_x = -np.inf, None
    for r in range(rounds):
        m = n if r == 0 else n_fine
        axes = [np.linspace(a, b, m) for a, b in zip(lo, hi, strict=True)]
        pts = np.stack(np.meshgrid(*axes, indexing="ij"), axis=-1).reshape(-1, d)
        if total is not None:
            pts = np.column_stack([pts, total - pts.sum(axis=1)])
            pts = pts[pts[:, -1] >= -1e-9 * total]
            pts[:, -1] = np.maximum(pts[:, -1], 0.0)
        s = np.concatenate([score(pts[i : i + 50_000]) for i in range(0, len(pts), 50_000)])
        k = int(np.argmax(s))
        if s[k] > best_s:
            best_s, best_x = float(s[k]), pts[k]
        step = (hi - lo) / (m - 1)
        lo = np.maximum(best_x[:d] - 3 * step, lows[:d])
        hi = np.minimum(best_x[:d] + 3 * step, highs[:d])
    assert best_x is not None and np.isfinite(best_s), "the grid found no feasible point"
    return best_s, best_x


def truth_value(world, x: np.ndarray) -> np.ndarray:
    return world.truth.horizon_value_batch(np.atleast_2d(x))


# (budget as a multiple of current spend, constraints) on the three-channel world
FIXED_CASES = {
    "budget 0.6x, free": (0.6, Constraints()),
    "budget 1.0x, free": (1.0, Constraints()),
    "budget 1.8x, free": (1.8, Constraints()),
    "budget 1.0x, max_change 0.3": (1.0, Constraints(max_change=0.3)),
    "budget 1.0x, abs and relative bounds": (
        1.0,
        Constraints(
            bounds={
                "search": ChannelBounds(max=6e6),
                "tv": ChannelBounds(min=1.2, max=1.6, relative=True),
            }
        ),
    ),
    "budget 1.3x, online share <= 0.6": (1.3, Constraints(online_share=(None, 0.6))),
    "budget 1.0x, group max": (
        1.0,
        Constraints(groups=(ChannelGroup("online pair", ("search", "social"), max=1.1e7),)),
    ),
    "budget 1.2x, social locked": (1.2, Constraints(locked=("social",))),
}


@pytest.mark.parametrize("case", list(FIXED_CASES))
def test_fixed_budget_matches_dense_grid(world3, case: str) -> None:
    mult, cons = FIXED_CASES[case]
    resp = response_from_world(world3)
    names, kinds, cur = list(resp.channels), resp.kinds, resp.current_allocation
    total = mult * cur.sum()
    result = optimize_budget(resp, FixedBudget(total=total), cons)
    x = result.allocation["recommended"].to_numpy()
    assert x.sum() == pytest.approx(total, rel=1e-6)
    assert allowed(x[None], cons, cur, kinds, names)[0]
    opt = float(truth_value(world3, x)[0])
    # The reported value is the true value of the allocation (the response is the truth).
    assert result.horizon_value["recommended"].mean == pytest.approx(opt, rel=1e-9)

    def score(pts: np.ndarray) -> np.ndarray:
        ok = allowed(pts, cons, cur, kinds, names)
        out = np.full(len(pts), -np.inf)
        if ok.any():
            out[ok] = truth_value(world3, pts[ok])
        return out

    order = [i for i, c in enumerate(names) if c not in cons.locked]
    locked = [i for i, c in enumerate(names) if c in cons.locked]
    free_total = total - cur[locked].sum()

    def score_free(p: np.ndarray) -> np.ndarray:
        full = np.zeros((len(p), len(names)))
        full[:, order] = p
        full[:, locked] = cur[locked]
        return score(full)

    n = 200 if len(order) == 3 else 2000
    best, _ = grid_best(
        score_free, np.zeros(len(order)), np.full(len(order), free_total), free_total, n
    )
    gap = (best - opt) / best
    assert gap <= GAP, f"{case}: optimizer {opt:,.0f} vs grid {best:,.0f} (gap {gap:.4%})"


def _grid2(world, score_value: Callable[[np.ndarray, np.ndarray], np.ndarray], top: float):
    def score(pts: np.ndarray) -> np.ndarray:
        return score_value(pts, truth_value(world, pts))

    return grid_best(score, np.zeros(2), np.full(2, top), None, 200)


def test_profit_matches_dense_grid(world2) -> None:
    resp = response_from_world(world2)
    ceiling, margin = 2.0 * resp.current_allocation.sum(), 0.6
    result = optimize_budget(resp, FixedBudget(ceiling, objective="profit", margin=margin))
    x = result.allocation["recommended"].to_numpy()
    opt = margin * truth_value(world2, x)[0] - x.sum()
    best, bx = _grid2(
        world2, lambda p, v: np.where(p.sum(1) <= ceiling, margin * v - p.sum(1), -np.inf), ceiling
    )
    assert x.sum() <= ceiling * (1 + 1e-9)
    assert (best - opt) / abs(best) <= GAP, (opt, best, x, bx)


def test_target_marginal_roi_matches_dense_grid(world2) -> None:
    resp = response_from_world(world2)
    target = 2.0
    result = optimize_budget(resp, TargetROI(target))
    x = result.allocation["recommended"].to_numpy()
    opt = truth_value(world2, x)[0] - target * x.sum()
    top = 3.0 * resp.current_allocation.sum()
    best, bx = _grid2(world2, lambda p, v: v - target * p.sum(1), top)
    assert (best - opt) / abs(best) <= GAP, (opt, best, x, bx)
    # Interior channels end where the next unit returns the target.
    interior = (x > 0) & (x < result.allocation["upper"].to_numpy())
    _, grad = resp.horizon_value_and_grad(x)
    np.testing.assert_allclose(grad[0, interior], target, rtol=1e-3)


def test_target_total_roi_matches_dense_grid(world2) -> None:
    resp = response_from_world(world2)
    cur = resp.current_allocation
    target = 1.15 * float(resp.horizon_value(cur)[0]) / cur.sum()
    result = optimize_budget(resp, TargetROI(target, kind="total"))
    x = result.allocation["recommended"].to_numpy()
    v = truth_value(world2, x)[0]
    assert v / x.sum() >= target * (1 - 1e-6)
    best, bx = _grid2(
        world2, lambda p, val: np.where(val >= target * p.sum(1), val, -np.inf), 3.0 * cur.sum()
    )
    assert (best - v) / best <= GAP, (v, best, x, bx)
    assert any("total ROI" in b for b in result.binding)


def test_least_spend_for_revenue_target_matches_dense_grid(world2) -> None:
    resp = response_from_world(world2)
    cur = resp.current_allocation
    target = 1.1 * float(resp.horizon_value(cur)[0])
    result = optimize_budget(resp, RevenueTarget(target))
    x = result.allocation["recommended"].to_numpy()
    assert truth_value(world2, x)[0] >= target * (1 - 1e-6)
    best, bx = _grid2(world2, lambda p, v: np.where(v >= target, -p.sum(1), -np.inf), 2 * cur.sum())
    least = -best
    assert (x.sum() - least) / least <= GAP, (x.sum(), least, x, bx)
    assert any("revenue target" in b for b in result.binding)


@pytest.mark.parametrize(
    "cons",
    [Constraints(), Constraints(max_change=0.5, online_share=(0.55, 0.75))],
    ids=["free", "max_change+share"],
)
def test_eight_channels_beat_many_random_starts(cons: Constraints) -> None:
    """Default world: scipy from 24 random feasible mixes on the simulator's value (FD grads)."""
    from scipy.optimize import minimize

    world = simulate_world()
    resp = response_from_world(world)
    names, kinds, cur = list(resp.channels), resp.kinds, resp.current_allocation
    total = cur.sum()
    result = optimize_budget(resp, FixedBudget(total), cons)
    opt = float(truth_value(world, result.allocation["recommended"].to_numpy())[0])

    rng = np.random.default_rng(11)
    lo = np.zeros(len(names)) if cons.max_change is None else cur * (1 - cons.max_change)
    hi = np.full(len(names), total) if cons.max_change is None else cur * (1 + cons.max_change)
    online = np.array([k == "online" for k in kinds], dtype=float)
    rows = [{"type": "eq", "fun": lambda z: z.sum() - 1.0}]
    if cons.online_share is not None:
        s_lo, s_hi = cons.online_share
        rows += [
            {"type": "ineq", "fun": lambda z: online @ z - s_lo},
            {"type": "ineq", "fun": lambda z: s_hi - online @ z},
        ]
    # Uniform in the box, then pulled toward the lower or upper corner to meet the total.
    box = lo + rng.uniform(size=(4000, len(names))) * (hi - lo)
    s = box.sum(axis=1, keepdims=True)
    down = lo + (box - lo) * (total - lo.sum()) / (s - lo.sum())
    up = hi - (hi - box) * (hi.sum() - total) / (hi.sum() - s)
    starts = np.where(s > total, down, up)
    starts = starts[allowed(starts, cons, cur, kinds, names)]
    assert len(starts) >= 24
    best, n_ok = -np.inf, 0
    for z0 in starts[:24] / total:
        res = minimize(
            lambda z: -truth_value(world, z * total)[0] / 1e8,
            z0,
            method="SLSQP",
            bounds=list(zip(lo / total, hi / total, strict=True)),
            constraints=rows,
            options={"maxiter": 200, "ftol": 1e-12},
        )
        if allowed(res.x[None] * total, cons, cur, kinds, names)[0]:
            best = max(best, float(truth_value(world, res.x * total)[0]))
            n_ok += 1
    assert n_ok >= 12
    assert (best - opt) / best <= GAP, (opt, best)


def test_interior_channels_end_with_equal_marginal_roi(world3) -> None:
    resp = response_from_world(world3)
    result = optimize_budget(resp, FixedBudget(1.2 * resp.current_allocation.sum()))
    x = result.allocation["recommended"].to_numpy()
    interior = (x > 1e-3 * x.sum()) & (x < result.allocation["upper"].to_numpy())
    assert interior.sum() >= 2
    _, grad = resp.horizon_value_and_grad(x)
    g = grad[0, interior]
    assert (g.max() - g.min()) / g.mean() < 1e-3
    assert result.solver.mroi_equal and result.solver.mroi_spread < 1e-3


def test_same_seed_same_answer_and_seed_only_moves_starts(world3) -> None:
    resp = response_from_world(world3)
    scen = FixedBudget(resp.current_allocation.sum())
    a = optimize_budget(resp, scen, Constraints(max_change=0.6), seed=3)
    b = optimize_budget(resp, scen, Constraints(max_change=0.6), seed=3)
    c = optimize_budget(resp, scen, Constraints(max_change=0.6), seed=4)
    np.testing.assert_array_equal(a.allocation["recommended"], b.allocation["recommended"])
    assert a.solver.start_objectives == b.solver.start_objectives
    assert a.solver.start_objectives != c.solver.start_objectives
    np.testing.assert_allclose(a.allocation["recommended"], c.allocation["recommended"], rtol=1e-4)
