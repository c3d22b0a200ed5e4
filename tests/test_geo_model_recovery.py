"""Recovery of national and regional ROI on simulated geo worlds, with the gate passed,
and the same-effects negative control (slow: minutes each; benchmarks/bench_geo.py runs
the same scoring on more seeds)."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("nutpie")

from omnimmm.data.simulate_geo import simulate_geo_world
from omnimmm.mmm.geo import fit_geo

pytestmark = pytest.mark.slow


def _score(world, fit):  # type: ignore[no-untyped-def]
    chans = list(world.panel.channels)
    nat = fit.roi_national().set_index("channel").loc[chans]
    truth = np.array([world.roi_national[c] for c in chans])
    inside = (nat["low"].to_numpy() <= truth) & (truth <= nat["high"].to_numpy())
    mape = float(np.mean(np.abs(nat["mean"].to_numpy() / truth - 1.0)))
    geo = fit.roi_geo()
    g_true = np.array([world.roi_geo[(g, c)] for g, c in zip(geo.geo, geo.channel, strict=True)])
    ok = np.isfinite(g_true)
    g_mape = float(np.mean(np.abs(geo["mean"].to_numpy()[ok] / g_true[ok] - 1.0)))
    g_cov = float(
        np.mean(
            (geo["low"].to_numpy()[ok] <= g_true[ok]) & (g_true[ok] <= geo["high"].to_numpy()[ok])
        )
    )
    return mape, int(inside.sum()), g_mape, g_cov


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_recovers_national_and_regional_roi(seed: int) -> None:
    world = simulate_geo_world(seed=seed)
    fit = fit_geo(world.panel, seed=seed)
    diag = fit.diagnostics()
    assert diag["passed"], diag
    mape, inside, g_mape, g_cov = _score(world, fit)
    assert mape <= 0.15 and inside >= 5
    assert g_mape <= 0.35 and g_cov >= 0.80


def test_same_effects_regional_intervals_cover_the_national_truth() -> None:
    world = simulate_geo_world(seed=0, same_effects=True)
    fit = fit_geo(world.panel, seed=0)
    assert fit.diagnostics()["passed"], fit.diagnostics()
    geo = fit.roi_geo()
    truth = geo["channel"].map(world.roi_national).to_numpy()
    assert ((geo["low"] <= truth) & (truth <= geo["high"])).all()
