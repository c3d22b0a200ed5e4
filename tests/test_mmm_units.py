"""Defaults that hold on other units: spend not in the outcome's currency, event indicators.

Fast (no sampling): :func:`omnimmm.mmm.units.resolve_roi_units` switches default ROI priors
to the scale-free effect prior only when the spend cannot be in the outcome's currency, and
keeps a plan's own ROI priors; 0/1 indicator controls enter unscaled.
"""

from __future__ import annotations

import dataclasses
import tempfile

import numpy as np
import pytest

from omnimmm.config import plan_from_dict
from omnimmm.data.schema import Panel
from omnimmm.data.simulate import simulate_world
from omnimmm.mmm import ModelSpec, OmniMMM
from omnimmm.mmm.design import baseline_features, fit_scaling
from omnimmm.mmm.units import SCALE_FREE_SD, resolve_roi_units


def _world(raw_extra: dict | None = None, spend_factor: float = 1.0):  # type: ignore[no-untyped-def]
    world = simulate_world(seed=1, weeks=104)
    raw = {**world.plan, **(raw_extra or {})}
    frame = world.panel.copy()
    for ch in raw["channels"]:
        frame[ch["column"]] = frame[ch["column"]] * spend_factor
    with tempfile.TemporaryDirectory() as tmp:
        plan = plan_from_dict(raw, base_dir=tmp)
    return plan, Panel.from_frame(frame, plan, source="world.csv")


def _totals(spec: ModelSpec, panel: Panel) -> tuple[np.ndarray, float]:
    spend = panel.spend[spec.channel_names].to_numpy(dtype=float).sum(axis=0)
    return spend, float(panel.outcomes[list(spec.outcomes)].to_numpy(dtype=float).sum())


@pytest.mark.parametrize("factor", [1e-4, 1e3])
def test_spend_in_other_units_gets_the_scale_free_prior_and_a_note(factor):
    plan, panel = _world(spend_factor=factor)
    spec = ModelSpec.from_plan(plan)
    assert all(c.roi_default for c in spec.channels)
    out, note = resolve_roi_units(spec, *_totals(spec, panel))
    assert note is not None and spec.channels[0].name in note
    assert all(c.coef_prior_sd == SCALE_FREE_SD for c in out.channels)
    # Resolving again changes nothing (a refit of the resolved spec keeps it).
    again, second = resolve_roi_units(out, *_totals(out, panel))
    assert again == out and second is None


def test_spend_in_the_outcomes_currency_keeps_the_roi_priors():
    plan, panel = _world()
    spec = ModelSpec.from_plan(plan)
    out, note = resolve_roi_units(spec, *_totals(spec, panel))
    assert out == spec and note is None
    model = OmniMMM(plan)
    model._design(panel)
    assert model.spec == spec and model.prior_notes_ == ()


def test_a_plans_own_roi_priors_are_kept_whatever_the_units():
    world = simulate_world(seed=1, weeks=104)
    channels = [{**c, "roi_prior": {"mean": 2.0, "sd": 1.0}} for c in world.plan["channels"]]
    plan, panel = _world({"channels": channels}, spend_factor=1e-4)
    spec = ModelSpec.from_plan(plan)
    assert not any(c.roi_default for c in spec.channels)
    assert resolve_roi_units(spec, *_totals(spec, panel)) == (spec, None)
    own = {**world.plan.get("model", {}), "roi_prior_default": {"online": {"mean": 3, "sd": 1}}}
    plan, panel = _world({"model": own}, spend_factor=1e-4)
    assert not any(c.roi_default for c in ModelSpec.from_plan(plan).channels)


def test_old_saved_specs_read_without_the_default_flag():
    plan, _ = _world()
    d = ModelSpec.from_plan(plan).to_dict()
    for c in d["channels"]:
        c.pop("roi_default")
    assert not any(c.roi_default for c in ModelSpec.from_dict(d).channels)


def test_indicator_controls_enter_unscaled_and_continuous_ones_standardised():
    plan, panel = _world()
    spec = dataclasses.replace(ModelSpec.from_plan(plan), control_form="level")
    scaling = fit_scaling(panel, spec)
    ctrl = panel.controls[list(spec.controls)].to_numpy(dtype=float)
    is_ind = np.all((ctrl == 0) | (ctrl == 1), axis=0)
    assert is_ind.any() and (~is_ind).any()
    sd = np.asarray(scaling.control_sd)
    assert np.allclose(sd[is_ind], 1.0)
    assert np.allclose(sd[~is_ind], ctrl[:, ~is_ind].std(axis=0))
    z = baseline_features(panel.dates, panel.controls, spec, scaling)["controls"]
    # An event week is one unit above a week without it: the coefficient is its effect.
    j = int(np.flatnonzero(is_ind)[0])
    assert np.allclose(np.ptp(z[:, j]), 1.0)
    dev = dataclasses.replace(spec, control_form="deviation")
    zd = baseline_features(panel.dates, panel.controls, dev, fit_scaling(panel, dev))["controls"]
    assert np.allclose(zd[:, is_ind], z[:, is_ind])


def test_split_controls_add_a_shrunk_slow_part_that_reads_the_same_past_in_the_forecast():
    from omnimmm.mmm.analysis import head_panel
    from omnimmm.mmm.design import SLOW_PRIOR_RATIO, control_names
    from omnimmm.mmm.timevarying import control_deviation

    plan, panel = _world()
    spec = ModelSpec.from_plan(plan)
    assert spec.control_form == "split"  # the default
    head = head_panel(panel, 90)
    scaling = fit_scaling(head, spec)
    ind = np.asarray(scaling.control_indicator)
    names = control_names(spec, scaling)
    k = len(spec.controls)
    assert names[:k] == list(spec.controls)
    assert names[k:] == [f"{c} (slow)" for c, i in zip(spec.controls, ind, strict=True) if not i]
    full = baseline_features(panel.dates, panel.controls, spec, scaling)["controls"]
    assert full.shape[1] == len(names)
    raw = panel.controls[list(spec.controls)].to_numpy(dtype=float)
    raw = np.clip(raw, scaling.control_min, scaling.control_max)
    slow = raw - control_deviation(raw, np.zeros((0, k)), spec.control_window)
    mean, sd = np.asarray(scaling.control_mean), np.asarray(scaling.control_sd)
    expected = SLOW_PRIOR_RATIO * (slow - mean) / sd
    np.testing.assert_allclose(full[:, k:], expected[:, ~ind])
    # The weeks after the training data, alone, read the training tail: the same features.
    future = baseline_features(panel.dates[90:], panel.controls.iloc[90:], spec, scaling)
    np.testing.assert_allclose(future["controls"], full[90:])


def test_a_run_records_the_units_note_in_its_manifest_report_and_saved_model(tmp_path):
    """Spend in thousandths of the outcome's currency: the guard fires, and the user reads
    so on the report and in the manifest, also when the saved model is reused."""
    import json

    from omnimmm import run as pipeline
    from omnimmm.mmm import load
    from pipeline_world import world_frame, write_world

    frame = world_frame()
    for col in ("tv_spend", "search_spend", "social_spend"):
        frame[col] = frame[col] * 1e-4
    plan = write_world(tmp_path / "inputs", frame=frame)
    pipeline.run(plan, tmp_path / "run")
    manifest = json.loads((tmp_path / "run" / "manifest.json").read_text(encoding="utf-8"))
    notes = manifest["prior_notes"]
    assert len(notes) == 1 and "tv" in notes[0]
    html = (tmp_path / "run" / "report.html").read_text(encoding="utf-8")
    assert 'id="prior-notes"' in html and "&lt;script&gt;" in html and "<script>alert" not in html
    assert load(tmp_path / "run" / "model").prior_notes_ == tuple(notes)


def test_a_run_in_the_outcomes_currency_has_no_units_note(fitted_run):
    import json

    manifest = json.loads((fitted_run / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["prior_notes"] == []
    assert 'id="prior-notes"' not in (fitted_run / "report.html").read_text(encoding="utf-8")
