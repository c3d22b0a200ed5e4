"""Automatic remedies before a failed quality gate stops a run (:mod:`omnimmm.run.remedies`).

The policy and the loop are tested on stand-in fits whose diagnostics follow the settings
(no sampling); two real fits of the pipeline's tiny world force a failing first fit (tiny
tuning, few draws) and show the remedy path (the gate passes after a remedy, recorded in
manifest.json and the report) and the give-up path (exit status 5 after the remedies, which
the message names).
"""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from typer.testing import CliRunner

from omnimmm.cli import app
from omnimmm.config import GateSpec
from omnimmm.mmm.diagnostics import Diagnostics
from omnimmm.run.remedies import (
    MAX_DRAWS,
    attempt_lines,
    failed_checks,
    fit_with_remedies,
    next_settings,
)
from pipeline_world import plan_text, write_world

GATE = GateSpec()
START = {"chains": 2, "draws": 500, "tune": 500, "target_accept": 0.9, "seed": 1}


def _diag(rhat: float = 1.0, ess: float = 1000.0, div: int = 0, draws: int = 1000) -> Diagnostics:
    return Diagnostics(rhat, ess, ess, div, draws, 4, "nutpie")


def test_failed_checks_reads_each_threshold_and_treats_nan_as_failed():
    assert failed_checks(_diag(), GATE) == set()
    assert failed_checks(_diag(rhat=1.02), GATE) == {"rhat"}
    assert failed_checks(_diag(ess=399), GATE) == {"ess"}
    assert failed_checks(_diag(div=5), GATE) == {"divergences"}  # 5 of 4000 > 0.1%
    assert failed_checks(_diag(rhat=float("nan"), ess=float("nan")), GATE) == {"rhat", "ess"}


def test_divergences_raise_target_accept_a_notch_and_the_tuning():
    new, text = next_settings(START, {"divergences"}, _diag(div=9), GATE)
    assert new["target_accept"] == 0.95 and new["tune"] == 1000
    assert new["draws"] == 500 and new["chains"] == 2
    assert "target_accept 0.9 -> 0.95" in text
    again, _ = next_settings(new, {"divergences"}, _diag(div=9), GATE)
    assert again["target_accept"] == 0.99 and again["tune"] == 2000


def test_rhat_doubles_tuning_and_draws_with_four_chains():
    new, text = next_settings(START, {"rhat"}, _diag(rhat=1.05), GATE)
    assert (new["tune"], new["draws"], new["chains"]) == (1000, 1000, 4)
    assert new["target_accept"] == 0.9 and new["seed"] == 1
    assert "chains 2 -> 4" in text


def test_low_ess_asks_for_the_draws_the_measured_ess_needs():
    new, _ = next_settings(START, {"ess"}, _diag(ess=250), GATE)  # 1.25 * 400 / 250 = 2
    assert new["draws"] == 1000 and new["tune"] == 500 and new["chains"] == 4
    new, _ = next_settings(START, {"ess"}, _diag(ess=140), GATE)  # 3.6 -> 4
    assert new["draws"] == 2000
    new, _ = next_settings(START, {"ess"}, _diag(ess=5), GATE)  # capped at 4x
    assert new["draws"] == 2000


def test_nothing_left_to_change_or_nothing_failed_gives_none():
    assert next_settings(START, set(), _diag(), GATE) is None
    top = {**START, "draws": MAX_DRAWS, "chains": 4, "target_accept": 0.99, "tune": 8000}
    assert next_settings(top, {"ess"}, _diag(ess=100), GATE) is None
    assert next_settings(top, {"divergences"}, _diag(div=99), GATE) is None


def _fake_fit(passes_at_draws: int) -> Any:
    """A fit whose ESS is 1% of its total draws until it passes; records its settings."""
    calls: list[dict[str, Any]] = []

    def fit(settings: dict[str, Any]) -> Any:
        calls.append(dict(settings))
        total = settings["chains"] * settings["draws"]
        ess = 400.0 if settings["draws"] >= passes_at_draws else total / 100
        return SimpleNamespace(diagnostics_=_diag(ess=ess, draws=settings["draws"]))

    fit.calls = calls  # type: ignore[attr-defined]
    return fit


def test_the_loop_stops_at_the_first_attempt_that_passes():
    fit, said = _fake_fit(passes_at_draws=2000), []
    model, attempts = fit_with_remedies(fit, START, GATE, limit=3, say=said.append)
    assert [a["passed"] for a in attempts] == [False, True]
    assert [c["draws"] for c in fit.calls] == [500, 2000]
    assert model.diagnostics_.ess_bulk_min == 400.0
    assert attempts[0]["remedy"] == "plan settings" and attempts[0]["failed"] == ["ess"]
    assert "remedy 1/3" in said[0] and "the gate passes" in said[-1]
    lines = attempt_lines(attempts)
    assert len(lines) == 2 and lines[1].endswith("passed")


def test_the_loop_gives_up_after_the_limit_and_zero_turns_it_off():
    fit = _fake_fit(passes_at_draws=10**9)
    _, attempts = fit_with_remedies(fit, START, GATE, limit=2)
    assert len(attempts) == 3 and not any(a["passed"] for a in attempts)
    assert [c["draws"] for c in fit.calls] == [500, 2000, MAX_DRAWS]
    fit = _fake_fit(passes_at_draws=10**9)
    _, attempts = fit_with_remedies(fit, START, GATE, limit=0)
    assert len(attempts) == 1 and attempt_lines(attempts) == []


def test_a_reparametrisation_is_tried_first_with_the_same_sampler_settings():
    """The geo model's remedy: the regional log ROI non-centred when a centred fit fails
    in them (same sampler settings); then the sampler remedies, on the new form."""
    from omnimmm.run.stages.geo import roi_form_remedy

    calls: list[dict[str, Any]] = []

    def fit(settings: dict[str, Any]) -> Any:
        calls.append(dict(settings))
        d = Diagnostics(1.02, 300.0, 300.0, 0, settings["draws"], 4, "nutpie",
                        worst_rhat="roi_spread[social]", worst_ess="roi_geo_log[r1, tv]")  # fmt: skip
        return SimpleNamespace(diagnostics_=d)

    _, attempts = fit_with_remedies(fit, START, GATE, limit=2, reform=roi_form_remedy)
    assert [c.get("roi_centred") for c in calls] == [None, False, False]
    assert calls[1]["draws"] == START["draws"] and calls[1]["tune"] == START["tune"]
    assert calls[2]["draws"] > START["draws"]  # then the sampler remedy, non-centred
    assert "non-centred" in attempts[1]["remedy"] and "roi_spread[social]" in attempts[1]["remedy"]
    assert attempts[1]["settings"]["roi_centred"] is False
    assert "roi_centred" not in attempts[0]["settings"]
    assert "regional ROI non-centred" in attempt_lines(attempts)[1]


def test_the_reparametrisation_needs_the_failure_in_the_regional_roi():
    from omnimmm.run.stages.geo import roi_form_remedy

    def diag(rhat: str, ess: str) -> Diagnostics:
        return Diagnostics(1.02, 300.0, 300.0, 9, 1000, 4, "nutpie", worst_rhat=rhat, worst_ess=ess)

    elsewhere = diag("noise[r1, online_revenue]", "half_sat[tv]")
    assert roi_form_remedy(START, {"rhat", "ess", "divergences"}, elsewhere) is None
    # the worst ESS in the spread counts only when ESS (or divergences, not located) failed
    d = diag("half_sat[tv]", "roi_spread[tv]")
    assert roi_form_remedy(START, {"rhat"}, d) is None
    assert roi_form_remedy(START, {"ess"}, d)[0]["roi_centred"] is False  # type: ignore[index]
    assert roi_form_remedy(START, {"divergences"}, d) is not None
    # once non-centred, nothing more to switch
    assert roi_form_remedy({**START, "roi_centred": False}, {"ess"}, d) is None


def test_gate_remedies_key_is_validated():
    assert GateSpec().remedies == 2
    with pytest.raises(ValueError, match="remedies"):
        GateSpec(remedies=-1)


# --------------------------------------------------------------------------- real fits

_TINY = {"draws = 100": "draws = 60", "holdout_weeks = 8": "holdout_weeks = 0"}


def _plan(folder: Path, gate_lines: str) -> Path:
    text = plan_text(False, **_TINY, **{"allow_failure = false": "allow_failure = false\n"
                                                                 + gate_lines})  # fmt: skip
    return write_world(folder, plan=text)


def test_a_failing_first_fit_is_remedied_and_recorded(tmp_path: Path):
    """2 chains x 60 draws cannot reach a bulk ESS of 150; the remedies reach it."""
    plan = _plan(tmp_path / "inputs", "ess_bulk_min = 150\nrhat_max = 1.1\n"
                                      "divergence_rate_max = 0.02\nremedies = 3")  # fmt: skip
    result = CliRunner().invoke(app, ["run", str(plan), "--out", str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    assert "remedy 1/3: refitting with" in result.output
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    attempts = manifest["remedies"]["attempts"]
    assert manifest["remedies"]["limit"] == 3
    assert len(attempts) >= 2 and not attempts[0]["passed"] and attempts[-1]["passed"]
    assert attempts[0]["settings"]["draws"] == 60 and attempts[-1]["settings"]["chains"] == 4
    assert attempts[-1]["ess_bulk_min"] >= 150
    html = (tmp_path / "out" / "report.html").read_text()
    assert "failed the quality gate, so the run refitted" in html and "remedy 1" in html
    assert f"{attempts[-1]['settings']['draws']} draws after" in html


def test_remedies_that_fail_still_exit_5_and_say_what_was_tried(tmp_path: Path):
    plan = _plan(tmp_path / "inputs", "ess_bulk_min = 1000000\nremedies = 1")
    result = CliRunner().invoke(app, ["fit", str(plan), "--out", str(tmp_path / "out")])
    assert result.exit_code == 5, result.output
    text = " ".join(result.output.split())
    assert "Already tried automatically before giving up ([gate] remedies = 1)" in text
    assert "remedy 1," in text and "Traceback" not in result.output
    assert not (tmp_path / "out").exists()
