"""Warm-started refits (omnimmm.mmm.warm, issue 24): the holdout refit and each backtest
origin after the first start at an earlier fit's posterior draws and step size and tune a
quarter as long. Shown here: they do start warm and tune briefly, the same seed gives the
same numbers, a model of another layout starts cold, and (slow) the warm refit's posterior
is the cold refit's: same ROI means within Monte Carlo error, R-hat <= 1.01.
"""

from __future__ import annotations

import tempfile
from typing import Any

import numpy as np
import pandas as pd
import pytest

from omnimmm.mmm.warm import MIN_WARM_TUNE, WarmStart, warm_tune


def _world(
    channels: tuple[str, ...] | None = ("search", "tv"), weeks: int = 104, seed: int = 2
) -> tuple[Any, Any]:
    from omnimmm.config import plan_from_dict
    from omnimmm.data.schema import Panel
    from omnimmm.data.simulate import simulate_world

    world = simulate_world(seed=seed, channels=channels, weeks=weeks)
    with tempfile.TemporaryDirectory() as tmp:
        plan = plan_from_dict(world.plan, base_dir=tmp)
    return plan, Panel.from_frame(world.panel, plan, source="world.csv")


def test_warm_tune_is_a_quarter_of_the_plan_s_but_not_below_the_floor():
    assert warm_tune(1000) == 250
    assert warm_tune(400) == MIN_WARM_TUNE
    assert warm_tune(120) == 120  # never more than a cold fit


def test_initial_points_are_posterior_draws_picked_by_the_seed():
    points = np.arange(12.0).reshape(4, 3)
    start = WarmStart(points=points, names=("a",), shapes=((3,),), step_size=0.2)
    f = start.initial_point_func()
    picks = [tuple(f(seed)) for seed in range(20)]
    assert all(p in {tuple(row) for row in points} for p in picks)
    assert len(set(picks)) > 1
    assert [tuple(f(seed)) for seed in range(20)] == picks


@pytest.fixture(scope="module")
def fitted() -> Any:
    from omnimmm.mmm import OmniMMM

    plan, panel = _world()
    return OmniMMM(plan, chains=2, draws=150, tune=300, seed=5).fit(panel)


def test_a_fit_leaves_a_warm_start_and_no_unconstrained_draws(fitted: Any):
    ws = fitted.warm_start_
    assert ws is not None and ws.points.shape[0] == 2 * 64 and ws.step_size > 0
    assert "unconstrained_draw" not in fitted.idata_.sample_stats
    assert "unconstrained_parameter" not in fitted.idata_.sample_stats.dims
    assert fitted.timings_["warm"] is False and fitted.timings_["tune"] == 300


def test_holdout_refit_starts_warm_tunes_briefly_and_repeats_with_its_seed(fitted: Any):
    a = fitted.holdout(13)
    assert a.model.timings_["warm"] is True
    assert a.model.timings_["tune"] == warm_tune(300) == MIN_WARM_TUNE
    b = fitted.holdout(13)
    pd.testing.assert_frame_equal(a.table, b.table)
    cold = fitted.holdout(13, warm=False)
    assert cold.model.timings_["warm"] is False and cold.model.timings_["tune"] == 300


def test_a_refit_started_while_the_fit_finishes_gives_the_same_numbers(fitted: Any):
    """The run starts the holdout refit in the background as soon as the full fit's chains
    end (on_sampled) and collects it later: the same draws as a refit started afterwards."""
    from omnimmm.mmm import OmniMMM
    from omnimmm.mmm.analysis import holdout_result, prepare_holdout_refit, start_holdout_refit

    plan, panel = _world()
    started: list[Any] = []
    prepared: list[Any] = []
    full = OmniMMM(plan, chains=2, draws=150, tune=300, seed=5)
    full.fit(
        panel,
        # built and compiled while the full fit's chains sample, as the run does
        while_sampling=lambda: prepared.append(prepare_holdout_refit(full, panel, 13)),
        on_sampled=lambda warm: started.append(
            start_holdout_refit(full, panel, 13, warm, prepared=prepared[0])
        ),
    )
    assert len(started) == 1 and len(prepared) == 1
    assert prepared[0].panel.n_weeks == panel.n_weeks - 13 and prepared[0].model is not None
    early = holdout_result(started[0], panel)
    assert early.model.model_ is prepared[0].model  # the prepared model was sampled
    assert early.model.timings_["warm"] is True
    later = fitted.holdout(13)  # same plan, seed and data: same full fit, same warm start
    pd.testing.assert_frame_equal(early.table, later.table)
    assert early.mape == later.mape
    np.testing.assert_array_equal(
        early.model.idata_.posterior["roi_total"].values,
        later.model.idata_.posterior["roi_total"].values,
    )
    # a refit whose fit is not kept is cancelled and leaves an unfitted estimator
    pending = start_holdout_refit(full, panel, 13, full.warm_start_)
    pending.cancel()
    with pytest.raises(Exception, match="not fitted"):
        pending.wait()


def test_a_failure_while_sampling_stops_the_chains():
    """An error in the work done while the chains sample (``while_sampling``) stops them
    and reaches the caller; the estimator stays unfitted."""
    from omnimmm.mmm import OmniMMM

    plan, panel = _world()
    m = OmniMMM(plan, chains=2, draws=150, tune=300, seed=5)

    def fail() -> None:
        raise RuntimeError("baselines failed")

    with pytest.raises(RuntimeError, match="baselines failed"):
        m.fit(panel, while_sampling=fail)
    with pytest.raises(Exception, match="not fitted"):
        m.roi()


def test_a_prepared_fit_is_used_only_for_its_own_panel(fitted: Any):
    from omnimmm.mmm import OmniMMM
    from omnimmm.mmm.analysis import head_panel

    plan, panel = _world()
    m = OmniMMM(plan, chains=2, draws=150, tune=300, seed=5)
    prepared = m.prepare(head_panel(panel, 80))
    assert prepared.matches(head_panel(panel, 80), m.spec)
    assert not prepared.matches(head_panel(panel, 81), m.spec)
    other_sampler = OmniMMM(plan, chains=3, draws=50, tune=60, seed=1)
    assert prepared.matches(head_panel(panel, 80), other_sampler.spec)


def test_another_layout_starts_cold(fitted: Any):
    from omnimmm.mmm import OmniMMM

    plan, panel = _world(channels=("search", "social", "tv"))
    other = OmniMMM(plan, chains=1, draws=20, tune=20, seed=1)
    other.fit(panel, warm_start=fitted.warm_start_)
    assert other.timings_["warm"] is False


@pytest.mark.slow
def test_warm_refit_matches_a_cold_refit_within_monte_carlo_error():
    """The default world's holdout refit, 4 chains x 1,000 draws: warm (250 tuning steps)
    against cold (1,000), ROI means per channel within 4 Monte Carlo standard errors of
    their difference, R-hat <= 1.01 both."""
    import arviz as az

    from omnimmm.mmm import OmniMMM

    plan, panel = _world(channels=None, weeks=156, seed=0)
    full = OmniMMM(plan, chains=4, draws=1000, tune=1000, seed=0).fit(panel)
    warm, cold = full.holdout(13).model, full.holdout(13, warm=False).model
    assert warm.timings_["warm"] and not cold.timings_["warm"]
    means, ses = [], []
    for m in (warm, cold):
        assert m.diagnostics_.rhat_max <= 1.01
        roi = m.idata_.posterior["roi_main"]
        means.append(roi.mean(("chain", "draw")).to_numpy())
        ses.append(az.mcse(m.idata_, var_names=["roi_main"])["roi_main"].to_numpy())
    z = np.abs(means[0] - means[1]) / np.sqrt(ses[0] ** 2 + ses[1] ** 2)
    assert np.all(z < 4), z
