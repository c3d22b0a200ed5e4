"""The optimizer over regions (omnimmm.optimize.geo): national-channel linkage, exact
gradients, bounds and max_change per region and channel, gains and losses, and the optimum
against brute force on a tiny case."""

from __future__ import annotations

import numpy as np
import pytest

from omnimmm.errors import InfeasibleError, PlanError
from omnimmm.optimize import AdstockSaturationResponse, FixedBudget, optimize_budget
from omnimmm.optimize.geo import GeoLimits, GeoResponse, geo_constraints, geo_tables

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


def test_optimum_matches_brute_force_on_a_tiny_case() -> None:
    """Two regions, one national and one local channel: 3 variables at a fixed total; the
    solver's value must match the best of a fine grid (and not beat it by more than the
    grid's resolution)."""
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
    geo = GeoResponse(one, ("national", "local"))
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
