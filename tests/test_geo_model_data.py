"""The geo panel's checks and the geo simulator's truth (fast)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from omnimmm.data.simulate_geo import simulate_geo_world
from omnimmm.errors import DataError
from omnimmm.optimize.response import AdstockSaturationResponse
from omnimmm.transforms import adstock, geometric_weights, hill


@pytest.fixture(scope="module")
def world():  # type: ignore[no-untyped-def]
    return simulate_geo_world(n_geos=5, n_weeks=60, seed=3)


def test_panel_shapes_and_national_sums(world) -> None:  # type: ignore[no-untyped-def]
    p = world.panel
    assert p.spend.shape == (60, 5, 6) and p.y.shape == (60, 5, 2)
    assert p.scopes == ("national", "national", "local", "local", "local", "local")
    np.testing.assert_allclose(p.national_spend(), p.spend.sum(axis=1))
    np.testing.assert_allclose(p.national_y(), p.y.sum(axis=1))
    assert len(set(np.round(p.population, -3))) == 5  # regions differ in size


def test_panel_names_the_first_bad_region_and_week(world) -> None:  # type: ignore[no-untyped-def]
    p = world.panel
    bad = p.spend.copy()
    bad[7, 3, 2] = np.nan
    with pytest.raises(DataError, match=r"region_04', week 2023-02-20"):
        dataclasses.replace(p, spend=bad)
    neg = p.spend.copy()
    neg[1, 0, 0] = -1.0
    with pytest.raises(DataError, match="negative at region 'region_01'"):
        dataclasses.replace(p, spend=neg)
    with pytest.raises(DataError, match="population"):
        dataclasses.replace(p, population=np.zeros(5))
    with pytest.raises(DataError, match="shape"):
        dataclasses.replace(p, y=p.y[:, :, :1])
    with pytest.raises(DataError, match="scopes"):
        dataclasses.replace(p, scopes=("tv",) * 6)


def test_national_columns_are_shares_of_one_buy(world) -> None:  # type: ignore[no-untyped-def]
    p = world.panel
    for c in range(2):
        shares = p.spend[:, :, c] / np.maximum(p.spend[:, :, c].sum(axis=1, keepdims=True), 1e-9)
        on = p.spend[:, :, c].sum(axis=1) > 0
        # Shares near the population shares: a national buy is split by size.
        pop_share = p.population / p.population.sum()
        np.testing.assert_allclose(shares[on].sum(axis=1), 1.0)
        ratio = shares[on].mean(axis=0) / pop_share
        assert ratio.min() > 0.4 and ratio.max() < 2.5


def test_truth_roi_is_contributions_over_spend(world) -> None:  # type: ignore[no-untyped-def]
    p, prm = world.panel, world.params
    revenue = world.contributions.sum(axis=(0, 3))
    spend = p.spend.sum(axis=0)
    for c, ch in enumerate(p.channels):
        assert world.roi_national[ch] == pytest.approx(revenue[:, c].sum() / spend[:, c].sum())
        for g, geo in enumerate(p.geos):
            assert world.roi_geo[(geo, ch)] == pytest.approx(prm["roi"][g, c], rel=1e-9)
    # The contributions are the stated adstock and saturation of spend per capita.
    w = geometric_weights(prm["alpha"], 8)
    g = 2
    x = p.spend[:, g, :] / (p.population[g] * prm["spend_unit"])
    h = hill(adstock(x, w), prm["half_saturation"], prm["slope"])
    np.testing.assert_allclose(world.contributions[:, g], h[:, :, None] * prm["beta"][g][None])
    # Cross effects: both outcomes get something from every channel.
    assert np.all(prm["share"] > 0.1)


def test_same_effects_and_seeds() -> None:
    a = simulate_geo_world(n_geos=4, n_weeks=40, seed=1, same_effects=True)
    roi = a.params["roi"]
    np.testing.assert_allclose(roi, np.broadcast_to(roi[0], roi.shape))
    for ch, v in a.roi_national.items():
        assert v == pytest.approx(roi[0, a.panel.channels.index(ch)])
    b = simulate_geo_world(n_geos=4, n_weeks=40, seed=1, same_effects=True)
    np.testing.assert_array_equal(a.panel.y, b.panel.y)
    c = simulate_geo_world(n_geos=4, n_weeks=40, seed=2)
    assert not np.allclose(a.panel.y, c.panel.y)
    assert np.std(np.log(c.params["roi"] / c.params["roi_location"]), axis=0).min() > 0.05


def test_to_frame_and_truth_responses(world) -> None:  # type: ignore[no-untyped-def]
    p = world.panel
    df = world.to_frame()
    assert list(df.columns[:3]) == ["date", "geo", "population"]
    assert len(df) == 60 * 5
    assert set(p.channels) | set(p.outcomes) | {"price_index"} <= set(df.columns)
    row = df[(df.geo == "region_02")].iloc[4]
    assert row["search"] == p.spend[4, 1, 2]
    kw = world.response_kwargs(13)
    resp = {g: AdstockSaturationResponse.from_arrays(**k) for g, k in kw.items()}
    assert set(resp) == set(p.geos)
    r = resp["region_02"]
    np.testing.assert_allclose(r.current_allocation, p.spend[-13:, 1].sum(axis=0))
    # More spend gives more revenue; no spend gives only the inherited carryover.
    cur = r.current_allocation
    assert r.horizon_value(cur * 1.2)[0] > r.horizon_value(cur)[0] > r.horizon_value(cur * 0)[0]
