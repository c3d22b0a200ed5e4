"""The optimizer over regions (omnimmm.optimize.geo): national-channel linkage, exact
gradients, bounds and max_change per region and channel, gains and losses, and the optimum
against brute force on a tiny case."""

from __future__ import annotations

import numpy as np
import pytest

from omnimmm.errors import InfeasibleError, PlanError
from omnimmm.optimize import AdstockSaturationResponse, FixedBudget, optimize_budget
from omnimmm.optimize.geo import GeoResponse, geo_tables
from omnimmm.optimize.geo_limits import GeoLimits, geo_constraints

CHANNELS = ("tv", "search", "social")
SCOPES = ("national", "local", "local")


def _region(seed: int, size: float, draws: int = 6, weeks: int = 40) -> AdstockSaturationResponse:
    rng = np.random.default_rng(seed)
    hist = rng.uniform(0.5, 1.5, size=(weeks, 3)) * np.array([60.0, 20.0, 15.0]) * size
    w = np.array([[1.0, 0.6, 0.3], [1.0, 0.3, 0.0], [1.0, 0.4, 0.1]])
    beta = rng.uniform(0.8, 1.2, size=(draws, 3, 2)) * np.array([[900.0], [400.0], [250.0]]) * size
    return AdstockSaturationResponse.from_arrays(
        channels=CHANNELS,
        kinds=("offline", "online", "online"),
        outcomes=("online", "store"),
        history_spend=hist,
        adstock_weights=w / w.sum(axis=1, keepdims=True),
        saturation="hill",
        saturation_params={
            "half_saturation": rng.uniform(0.8, 1.2, size=(draws, 3)),
            "slope": np.full((draws, 3), 1.0),
        },
        beta=beta,
        spend_scale=np.array([60.0, 20.0, 15.0]) * size * 1.5,
        horizon_weeks=8,
    )


@pytest.fixture
def geo() -> GeoResponse:
    regions = {"north": _region(1, 1.0), "south": _region(2, 2.5), "west": _region(3, 0.6)}
    return GeoResponse(regions, SCOPES)


def test_variables_and_national_linkage(geo: GeoResponse) -> None:
    assert geo.channels[0] == "tv" and "north/search" in geo.channels
    assert len(geo.channels) == 1 + 3 * 2
    cur = geo.current_allocation
    # the national total is the sum of the regions' shares, each region keeps its share
    regions = list(geo.regions.values())
    assert cur[0] == pytest.approx(sum(r.current_allocation[0] for r in regions))
    np.testing.assert_allclose(geo.by_region(cur), [r.current_allocation for r in regions])
    # doubling the national total doubles every region's tv spend, and nothing else
    x = cur.copy()
    x[0] *= 2
    diff = geo.by_region(x) - geo.by_region(cur)
    np.testing.assert_allclose(diff[:, 0], geo.by_region(cur)[:, 0])
    np.testing.assert_allclose(diff[:, 1:], 0.0)
    value = sum(r.horizon_value(a) for r, a in zip(regions, geo.by_region(x), strict=True))
    np.testing.assert_allclose(geo.horizon_value(x), value)
    by_outcome = geo.horizon_value_by_outcome(np.stack([x, cur]))
    np.testing.assert_allclose(by_outcome.sum(axis=-1), geo.horizon_value(np.stack([x, cur])))


def test_gradient_matches_finite_differences(geo: GeoResponse) -> None:
    x = geo.current_allocation * np.linspace(0.7, 1.3, len(geo.channels))
    value, grad = geo.horizon_value_and_grad(x)
    np.testing.assert_allclose(value, geo.horizon_value(x))
    for v in range(len(x)):
        h = 1e-4 * max(x[v], 1.0)
        up, down = x.copy(), x.copy()
        up[v] += h
        down[v] -= h
        fd = (geo.horizon_value(up) - geo.horizon_value(down)) / (2 * h)
        np.testing.assert_allclose(grad[:, v], fd, rtol=1e-5, atol=1e-8)


def test_weekly_spend_sums_to_allocation(geo: GeoResponse) -> None:
    x = geo.current_allocation * 1.1
    weekly = geo.weekly_spend(x)
    assert weekly.shape == (geo.horizon_weeks, len(geo.channels))
    np.testing.assert_allclose(weekly.sum(axis=0), x)


def test_bounds_max_change_and_locks_hold(geo: GeoResponse) -> None:
    cur = geo.current_allocation
    names = list(geo.channels)
    cons = geo_constraints(
        geo,
        max_change=0.3,
        channels={
            "social": (
                None,
                0.8 * cur[[i for i, n in enumerate(names) if n.endswith("/social")]].sum(),
                False,
            )
        },
        geos={
            "south": GeoLimits(max_change=0.1, channels={"search": (None, None, True)}),
            "north": GeoLimits(
                max_change=0.6,
                min=1.1 * (cur[names.index("north/search")] + cur[names.index("north/social")]),
            ),
        },
    )
    res = optimize_budget(geo, FixedBudget(total=float(cur.sum())), cons, seed=1)
    rec = res.allocation["recommended"].reindex(names).to_numpy()
    assert rec.sum() == pytest.approx(cur.sum(), rel=1e-6)
    south = [i for i, n in enumerate(names) if n.startswith("south/")]
    i_lock = names.index("south/search")
    assert rec[i_lock] == pytest.approx(cur[i_lock], rel=1e-9)
    for i in south:
        assert cur[i] * 0.9 - 1e-6 <= rec[i] <= cur[i] * 1.1 + 1e-6
    for i, n in enumerate(names):  # north may move 60%, everyone else 30%
        m = 0.6 if n.startswith("north/") else (0.1 if n.startswith("south/") else 0.3)
        assert cur[i] * (1 - m) - 1e-6 <= rec[i] <= cur[i] * (1 + m) + 1e-6, n
    social = [i for i, n in enumerate(names) if n.endswith("/social")]
    assert rec[social].sum() <= 0.8 * cur[social].sum() * (1 + 1e-6)
    north = [names.index("north/search"), names.index("north/social")]
    assert rec[north].sum() >= 1.1 * cur[north].sum() * (1 - 1e-6)
    tables = geo_tables(geo, rec)
    by_geo = tables["geo_allocation"].set_index("geo")
    assert by_geo.loc["north", "change"] > 0  # the region floor forces a gain
    np.testing.assert_allclose(by_geo["recommended_spend"].sum(), rec.sum())
    cells = tables["geo_channel_allocation"]
    assert len(cells) == 9
    np.testing.assert_allclose(cells["recommended_spend"].sum(), rec.sum())


def test_infeasible_region_limits_are_named(geo: GeoResponse) -> None:
    with pytest.raises(InfeasibleError, match="region west"):
        cons = geo_constraints(geo, max_change=0.1, geos={"west": GeoLimits(min=1e9)})
        optimize_budget(geo, FixedBudget(total=float(geo.current_allocation.sum())), cons)
    with pytest.raises(PlanError, match="budget.geos.east"):
        geo_constraints(geo, max_change=0.1, geos={"east": GeoLimits(min=1.0)})
    with pytest.raises(PlanError, match="not a local channel"):
        geo_constraints(
            geo, max_change=0.1, geos={"west": GeoLimits(channels={"tv": (1.0, None, False)})}
        )


def _tiny_geo() -> GeoResponse:
    """Two regions, one national (tv) and one local channel (search): 3 budget lines."""
    regions = {
        "a": _region(5, 1.0, draws=3).subset(np.arange(3)),
        "b": _region(6, 3.0, draws=3),
    }
    one = {
        k: AdstockSaturationResponse.from_arrays(
            channels=("tv", "search"),
            kinds=("offline", "online"),
            outcomes=r.outcomes,
            history_spend=r.history_spend[:, :2],
            adstock_weights=r.adstock_weights[:, :2],
            saturation="hill",
            saturation_params={"half_saturation": r.saturation_params[0][:, :2],
                               "slope": r.saturation_params[1][:, :2]},
            beta=r.beta[:, :2],
            spend_scale=r.spend_scale[:2],
            horizon_weeks=8,
        )
        for k, r in regions.items()
    }  # fmt: skip
    return GeoResponse(one, ("national", "local"))


def test_optimum_matches_brute_force_on_a_tiny_case() -> None:
    """3 budget lines at a fixed total; the solver's value must match the best of a fine
    grid (and not beat it by more than the grid's resolution)."""
    geo = _tiny_geo()
    total = float(geo.current_allocation.sum())
    res = optimize_budget(geo, FixedBudget(total=total), None, seed=0)
    best = float(res.draws_recommended.mean())
    n = 201
    grid = []
    for tv in np.linspace(0, total, n):
        for a in np.linspace(0, total - tv, n):
            grid.append((tv, a, total - tv - a))
    values = geo.horizon_value(np.array(grid)).mean(axis=1)
    brute = float(values.max())
    assert best >= brute * (1 - 1e-4)
    assert best <= brute * (1 + 5e-3)
    x = res.allocation["recommended"].reindex(geo.channels).to_numpy()
    g_best = np.array(grid[int(values.argmax())])
    np.testing.assert_allclose(x, g_best, atol=total * 0.02)


class _Opaque:
    """A region response the composer cannot stack (any ResponseModel): forces its loop."""

    def __init__(self, inner: AdstockSaturationResponse) -> None:
        self._r = inner

    def __getattr__(self, name: str) -> object:
        return getattr(self._r, name)


def test_stacked_regions_match_the_loop_over_regions(geo: GeoResponse) -> None:
    loop = GeoResponse({k: _Opaque(r) for k, r in geo.regions.items()}, SCOPES)
    assert geo._stacked is not None and loop._stacked is None
    x = geo.current_allocation * np.linspace(0.6, 1.4, len(geo.channels))
    batch = np.stack([x, geo.current_allocation])
    np.testing.assert_allclose(geo.horizon_value(batch), loop.horizon_value(batch), rtol=1e-12)
    np.testing.assert_allclose(
        geo.horizon_value_by_outcome(x), loop.horizon_value_by_outcome(x), rtol=1e-12
    )
    for a, b in zip(geo.horizon_value_and_grad(x), loop.horizon_value_and_grad(x), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-12)


def test_own_max_changes_combine_and_match_brute_force() -> None:
    """Per-channel and per-region max_change with a bound: the box each budget line may
    move in is derived here from the documented rule (independently of geo_constraints),
    the best allocation inside it found by a grid, and the solver must match it. Without
    the own limits the optimum lies outside the box (so they bind)."""
    geo = _tiny_geo()
    cur = dict(zip(geo.channels, geo.current_allocation, strict=True))
    assert list(cur) == ["tv", "a/search", "b/search"]
    total = float(sum(cur.values()))
    cons = geo_constraints(
        geo,
        max_change=0.5,
        channels={"tv": (None, 1.25 * cur["tv"], False, 0.3), "search": (None, None, False, 0.2)},
        geos={
            "a": GeoLimits(channels={"search": (None, None, False, 0.35)}),  # the cell's own
            "b": GeoLimits(max_change=0.4),  # the tighter of b's 0.4 and search's 0.2
        },
    )
    box = {
        "tv": (0.7 * cur["tv"], 1.25 * cur["tv"]),  # its own 0.3, capped by the bound
        "a/search": (0.65 * cur["a/search"], 1.35 * cur["a/search"]),
        "b/search": (0.8 * cur["b/search"], 1.2 * cur["b/search"]),
    }
    free = optimize_budget(geo, FixedBudget(total=total), geo_constraints(geo, max_change=0.5))
    x_free = free.allocation["recommended"].reindex(geo.channels).to_numpy()
    outside = [lo - 1e-6 > v or v > hi + 1e-6 for v, (lo, hi) in zip(x_free, box.values(),
                                                                       strict=True)]  # fmt: skip
    assert any(outside), "the own limits must bind on this case"

    res = optimize_budget(geo, FixedBudget(total=total), cons, seed=0)
    x = res.allocation["recommended"].reindex(geo.channels).to_numpy()
    for v, (lo, hi) in zip(x, box.values(), strict=True):
        assert lo * (1 - 1e-6) <= v <= hi * (1 + 1e-6)
    assert x.sum() == pytest.approx(total, rel=1e-6)
    n = 301
    grid = np.array(
        [
            (tv, a, total - tv - a)
            for tv in np.linspace(*box["tv"], n)
            for a in np.linspace(*box["a/search"], n)
        ]
    )
    ok = (grid[:, 2] >= box["b/search"][0]) & (grid[:, 2] <= box["b/search"][1])
    values = geo.horizon_value(grid[ok]).mean(axis=1)
    brute = float(values.max())
    best = float(res.draws_recommended.mean())
    assert brute * (1 - 1e-4) <= best <= brute * (1 + 2e-3)
    np.testing.assert_allclose(x, grid[ok][int(values.argmax())], atol=total * 0.01)
    # the solver's bounds per line are the box derived here
    for name, (lo, hi) in box.items():
        assert res.allocation.loc[name, "lower"] == pytest.approx(lo, rel=1e-9)
        assert res.allocation.loc[name, "upper"] == pytest.approx(hi, rel=1e-9)


def test_a_national_plans_channel_max_change() -> None:
    from omnimmm.optimize import Constraints, check_feasible

    cons = Constraints(max_change=0.5, max_changes={"tv": 0.1, "search": 0.8})
    r = check_feasible(("tv", "search", "social"), ("offline", "online", "online"),
                       np.array([100.0, 50.0, 20.0]), FixedBudget(total=170.0), cons)  # fmt: skip
    np.testing.assert_allclose(r.lower, [90.0, 10.0, 10.0])
    np.testing.assert_allclose(r.upper, [110.0, 90.0, 30.0])
    assert r.upper_why[0] == "max_change 0.1 (its own)" and r.upper_why[2] == "max_change 0.5"
    with pytest.raises(PlanError, match="max_changes name unknown"):
        check_feasible(("tv",), ("offline",), np.array([1.0]), FixedBudget(total=1.0),
                       Constraints(max_changes={"radio": 0.1}))  # fmt: skip
