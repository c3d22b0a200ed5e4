"""The moving baseline (``[model] baseline = "local_level"``).

Fast: its design (ramps that hold the last level past the data), its plan keys, a small fit
whose forecast holds the level and widens, and a saved model that loads with it. Slow: the
negative control, a world whose baseline drifts, where the moving baseline must recover the
media's ROI as well as on the same world without the drift.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest

from omnimmm.data.simulate import simulate_world
from omnimmm.data.simulate_drift import level_drift, with_level_drift
from omnimmm.errors import PlanError
from omnimmm.mmm import ModelSpec, OmniMMM
from omnimmm.mmm.timevarying import level_knots, level_ramps
from world_plans import plan_and_panel

OUTCOMES = ("online_revenue", "offline_revenue")


def test_ramps_rise_between_knots_and_hold_the_last_level_past_the_data():
    spec = ModelSpec.from_plan(plan_and_panel(simulate_world(seed=1, weeks=104))[0])
    span = 103 * 7.0
    assert level_knots(span, 13) == 9  # 103 weeks / 13 = 7.9 -> 8 steps
    t = np.arange(104 + 10) / 103.0  # ten weeks past the data
    r = level_ramps(t, span, 13)
    assert r.shape == (114, 8)
    assert (r[0] == 0).all() and np.allclose(r[103], 1.0) and (r[104:] == 1.0).all()
    assert (np.diff(r, axis=0) >= 0).all()  # each step's ramp only rises
    with pytest.raises(PlanError, match="baseline"):
        dataclasses.replace(spec, baseline="hsgp")


def test_plan_keys_reach_the_spec_and_old_saved_specs_read_as_fixed():
    plan, _ = plan_and_panel(
        simulate_world(seed=1, weeks=104), baseline="local_level", baseline_step_sd=0.1
    )
    spec = ModelSpec.from_plan(plan)
    assert (spec.baseline, spec.baseline_step_sd, spec.baseline_knot_weeks) == (
        "local_level",
        0.1,
        13,
    )
    old = spec.to_dict()
    for key in ("baseline", "baseline_step_sd", "baseline_knot_weeks"):
        old.pop(key)
    assert ModelSpec.from_dict(old).baseline == "fixed"
    assert ModelSpec.from_dict(spec.to_dict()) == spec


def test_a_moving_baseline_follows_a_level_shift_and_its_forecast_holds_and_widens(tmp_path):
    """A world whose level drops by 20% in its second year: the walk follows it, the
    forecast stays at the new level (no slope carried on) and its interval widens."""
    world = simulate_world(seed=2, weeks=104, channels=("search", "tv"), noise=0.02)
    panel = world.panel.copy()
    drop = np.where(np.arange(len(panel)) >= 60, -0.2, 0.0)
    for o in OUTCOMES:
        panel[o] = panel[o] * (1 + drop)
    world = dataclasses.replace(world, panel=panel)
    plan, data = plan_and_panel(world, baseline="local_level", trend=False)
    m = OmniMMM(plan, chains=2, draws=150, tune=150, seed=3).fit(data)
    assert m.timings_["log_density"] == "hand-written"
    dec = m.decomposition()
    walk = dec[dec["component"] == "level"]
    for o in OUTCOMES:
        v = walk.loc[walk["outcome"] == o, "value"].to_numpy()
        # The walk takes most of the 20% drop (relative to the outcome's mean).
        drop_seen = (v[-30:].mean() - v[:50].mean()) / data.outcomes[o].mean()
        assert drop_seen < -0.1, (o, drop_seen)
    weeks = 26
    fut = pd.DataFrame(
        np.tile(data.spend.iloc[-13:].to_numpy(), (2, 1)), columns=data.spend.columns
    )
    ctrl = pd.concat([data.controls.iloc[-52:-26]], ignore_index=True)
    fc = m.forecast(fut, ctrl)
    for o in OUTCOMES:
        g = fc[fc["outcome"] == o]
        width = (g["high"] - g["low"]).to_numpy()
        assert width[-4:].mean() > width[:4].mean() * 1.05, width
        recent = data.outcomes[o].iloc[-26:].mean()
        # The level after the drop is kept: no return towards the old mean.
        assert abs(g["mean"].mean() / recent - 1) < 0.1, (g["mean"].mean(), recent)
    assert len(fc) == weeks * len(OUTCOMES)
    m.save(tmp_path / "m")
    from omnimmm.mmm import load

    again = load(tmp_path / "m")
    assert again.spec_.baseline == "local_level"
    pd.testing.assert_frame_equal(again.forecast(fut, ctrl), fc)


def test_level_drift_is_smooth_and_of_the_asked_size():
    d = level_drift(156, 0.15, 20, seed=0)
    assert d.shape == (156, 2) and (d[0] == 0).all()
    assert np.abs(np.diff(d, axis=0)).max() < 0.05  # no jumps from week to week
    sizes = [np.abs(level_drift(156, 0.15, 20, seed=s)[-1]).mean() for s in range(40)]
    assert 0.07 < np.mean(sizes) < 0.2  # E|N(0, 0.15 * sqrt(7/8))| is about 0.11


def _roi_scores(m, world) -> tuple[float, float]:
    roi, truth = m.roi(), world.truth.roi
    mape = float(np.mean(np.abs(roi["mean"] - truth["total"]) / truth["total"]))
    inside = [(roi[f"{o}_low"] <= truth[o]) & (truth[o] <= roi[f"{o}_high"]) for o in OUTCOMES]
    return mape, float(pd.concat(inside).mean())


@pytest.mark.slow
@pytest.mark.parametrize("seed", [0, 1])
def test_negative_control_the_moving_baseline_does_not_swallow_media(seed):
    """On the identified world (four channels, 1% noise) with and without a drifting level
    (15% of the mean over three years, same noise draw, same truth), the moving baseline
    recovers the ROI as well on the drifting world as on the steady one. A fixed baseline
    on the drifting world is printed next to it for comparison (it has no way to follow
    the drift and its ROI errors grow). Figures: ``benchmarks/bench_baseline_control.py``.

    Measured on world seed 0 (4x500+500, sampler seed 1, 2026-12-06): steady 10.7%, 7/8
    pairs covered; drifting 12.8%, 7/8; a fixed baseline on the drifting world 29.7%, 4/8.
    World seed 1: steady 19.4%, drifting 18.2%, 7/8 each (the fixed baseline's 11.3% on the
    steady world, ``test_mmm_recovery``, shows what the walk costs where nothing drifts).
    With split controls (the default since): seed 0 steady 10.3%, 8/8; drifting 10.7%, 7/8;
    fixed on drifting 47.3%, 3/8. Seed 1: 18.7%, 8/8; 18.8%, 7/8; 44.2%, 3/8 (2026-12-06).
    """
    steady = simulate_world(seed=seed, channels=("search", "social", "tv", "outdoor"), noise=0.01)
    drifting = with_level_drift(steady, size=0.15, seed=seed)
    scores = {}
    for name, world, baseline in (
        ("steady/local_level", steady, "local_level"),
        ("drifting/local_level", drifting, "local_level"),
        ("drifting/fixed", drifting, "fixed"),
    ):
        plan, data = plan_and_panel(world, baseline=baseline)
        m = OmniMMM(plan, chains=4, draws=500, tune=500, seed=1).fit(data)
        scores[name] = (*_roi_scores(m, world), m.diagnostics_.divergences)
    print(f"\nseed {seed}: " + "; ".join(
        f"{k}: MAPE {v[0]:.1%}, coverage {v[1]:.0%}, {v[2]} div." for k, v in scores.items()
    ))  # fmt: skip
    steady_mape, steady_cov, _ = scores["steady/local_level"]
    drift_mape, drift_cov, drift_div = scores["drifting/local_level"]
    assert drift_mape <= max(1.25 * steady_mape, steady_mape + 0.03), scores
    assert drift_cov >= steady_cov - 0.125, scores  # at most one of 8 pairs fewer
    assert drift_div <= 20


def test_deviation_controls_read_the_same_past_in_training_and_in_the_forecast():
    """``control_form = "deviation"``: a continuous control enters as its deviation from its
    trailing mean, an indicator as it is; the weeks right after the training data take
    their trailing means from the training weeks' tail, as the whole panel would."""
    from omnimmm.mmm.design import baseline_features, fit_scaling
    from omnimmm.mmm.timevarying import control_deviation

    x = np.array([[1.0], [2.0], [3.0], [10.0]])
    np.testing.assert_allclose(control_deviation(x, np.zeros((0, 1)), 2)[:, 0], [0, 1, 1.5, 7.5])
    world = simulate_world(seed=1, weeks=104)
    plan, panel = plan_and_panel(world, control_form="deviation", control_window=8)
    spec = ModelSpec.from_plan(plan)
    assert spec.control_form == "deviation"
    n = 80
    head = dataclasses.replace(
        panel,
        dates=panel.dates[:n],
        spend=panel.spend.iloc[:n],
        outcomes=panel.outcomes.iloc[:n],
        controls=panel.controls.iloc[:n],
    )
    scaling = fit_scaling(head, spec)
    controls = panel.controls.set_axis(panel.dates, axis=0)
    whole = baseline_features(panel.dates, controls, spec, scaling)["controls"]
    after = baseline_features(panel.dates[n:], controls.iloc[n:], spec, scaling)["controls"]
    np.testing.assert_allclose(after, whole[n:], atol=1e-12)
    ind = np.asarray(scaling.control_indicator)
    assert ind.any() and not ind.all()  # festival indicators and the price index
    train = whole[:n]
    np.testing.assert_allclose(train[:, ~ind].std(axis=0), 1.0, rtol=1e-9)
    level = dataclasses.replace(spec, control_form="level")
    plain = baseline_features(panel.dates, controls, level, fit_scaling(head, level))["controls"]
    np.testing.assert_allclose(whole[:, ind], plain[:, ind])
    assert not np.allclose(whole[:, ~ind], plain[:, ~ind])
