"""The geo model's forecast of held-out weeks: features on the fit's scale, predictive
draws against the simulator's truth, seeds, bad panels (fast: one short fit)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

pytest.importorskip("nutpie")

from omnimmm.data.simulate_geo import simulate_geo_world
from omnimmm.errors import DataError
from omnimmm.mmm.geo import GeoModelSpec, fit_geo
from omnimmm.mmm.geo.spec import baseline_design, geo_data

_HOLD = 12


def _head(panel, n):  # type: ignore[no-untyped-def]
    cut = slice(0, n)
    return dataclasses.replace(
        panel, dates=panel.dates[cut], spend=panel.spend[cut], y=panel.y[cut],
        controls=panel.controls[cut], events=panel.events[cut],
    )  # fmt: skip


@pytest.mark.parametrize("spec", [GeoModelSpec(), GeoModelSpec(baseline="local_level")])
def test_forecast_features_extend_the_fitted_ones(spec) -> None:  # type: ignore[no-untyped-def]
    p = simulate_geo_world(n_geos=3, n_weeks=60, seed=2).panel
    head = _head(p, 48)
    _, names, fc = baseline_design(p, spec, 48)
    d = geo_data(head, spec)
    assert names == d.feature_names
    np.testing.assert_allclose(fc[:48], d.fc, atol=1e-12)
    # the trend runs on at the fitted weeks' pace; the ramps hold the last level
    j = names.index("trend")
    np.testing.assert_allclose(np.diff(fc[:, 0, j]), 1.0 / 47)
    if spec.baseline == "local_level":
        ramps = fc[:, :, len(names) :]
        np.testing.assert_allclose(ramps[48:], np.broadcast_to(ramps[47], ramps[48:].shape))


@pytest.fixture(scope="module")
def world_and_fit():  # type: ignore[no-untyped-def]
    world = simulate_geo_world(n_geos=4, n_weeks=90, n_channels=4, n_national=1, seed=7)
    head = _head(world.panel, 90 - _HOLD)
    return world, fit_geo(head, chains=2, draws=200, tune=250, seed=1)


def test_forecast_of_held_out_weeks_covers_the_truth(world_and_fit) -> None:  # type: ignore[no-untyped-def]
    world, fit = world_and_fit
    p = world.panel
    fc = fit.forecast(p, max_draws=200, seed=5)
    d_n = min(200, fit.draws.n_draws)
    assert fc["draws"].shape == (d_n, _HOLD, 4, 2)
    assert fc["mean"].shape == fc["low"].shape == fc["high"].shape == (_HOLD, 4, 2)
    actual = p.y[-_HOLD:]
    inside = (fc["low"] <= actual) & (actual <= fc["high"])
    assert inside.mean() >= 0.8, inside.mean()  # 96 region-week-outcomes, nominal 90%
    # the mean tracks the true mean (baseline + media) well inside the noise
    truth = (world.params["baseline"] + world.contributions.sum(axis=2))[-_HOLD:]
    noise = world.params["noise_sd"][None]
    assert np.abs((fc["mean"] - truth) / noise).mean() < 0.8
    # national sums draw by draw: a correct interval of the sum, wider than its parts'
    nat = fc["draws"].sum(axis=2)
    lo, hi = np.quantile(nat, [0.05, 0.95], axis=0)
    nat_actual = actual.sum(axis=1)
    assert ((lo <= nat_actual) & (nat_actual <= hi)).mean() >= 0.75
    assert np.all(hi - lo < (fc["high"] - fc["low"]).sum(axis=1))  # independent noise
    # noise is part of the draws: the predictive interval is wider than the mean's alone
    no_noise_sd = fit.draws.noise[:, None].mean() * fit.data.y_scale.mean()
    assert (fc["high"] - fc["low"]).mean() > 2.0 * no_noise_sd


def test_forecast_is_seeded_and_checks_its_panel(world_and_fit) -> None:  # type: ignore[no-untyped-def]
    world, fit = world_and_fit
    p = world.panel
    a = fit.forecast(p, max_draws=20, seed=3)["draws"]
    np.testing.assert_array_equal(a, fit.forecast(p, max_draws=20, seed=3)["draws"])
    assert not np.array_equal(a, fit.forecast(p, max_draws=20, seed=4)["draws"])
    # more spend in the new weeks, more revenue: the media reach the forecast
    more = dataclasses.replace(p, spend=np.concatenate([p.spend[:-_HOLD], 3 * p.spend[-_HOLD:]]))
    up = fit.forecast(more, max_draws=20, seed=3)["draws"]
    assert up.sum() > a.sum()
    with pytest.raises(DataError, match="fitted weeks"):
        fit.forecast(fit.panel, max_draws=20)
    with pytest.raises(DataError, match="geos"):
        fit.forecast(dataclasses.replace(p, geos=("a", "b", "c", "d")), max_draws=20)
