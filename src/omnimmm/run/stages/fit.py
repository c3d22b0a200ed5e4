"""The fit stage: fit the MMM, or reuse the one already in the run directory when nothing
that determines it changed (:mod:`omnimmm.run.reuse`). A fit that fails the quality gate is
refitted with safer sampler settings, at most ``[gate] remedies`` times
(:mod:`omnimmm.run.remedies`), before the gate stage gives up.

While a fit's chains sample, the holdout's baselines are fitted and its refit's model is
built and compiled (:func:`omnimmm.run.stages.holdout.prepare_holdout`). As soon as the
chains have finished, the holdout refit starts from where they ended and samples in the
background while the fit's posterior is completed, checked and saved
(:func:`omnimmm.run.stages.holdout.start_holdout`)."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

from omnimmm.report.result import load_result
from omnimmm.run.context import RunState
from omnimmm.run.remedies import fit_with_remedies
from omnimmm.run.reuse import model_hashes, reusable
from omnimmm.run.rundir import read_manifest
from omnimmm.run.stages.gate import gate_spec
from omnimmm.run.stages.holdout import cancel_holdout, prepare_holdout, start_holdout

__all__ = ["fit_stage", "reuse_previous"]

_FIT_TABLES = ("holdout", "baseline_forecasts", "holdout_scores", "holdout_parts")


def reuse_previous(
    state: RunState, what: str, load: Callable[[Path], Any], tables: tuple[str, ...]
) -> None:
    """Take the previous run's model (copied into this run's ``model/``), holdout and fit
    tables (those of ``tables`` it has) into ``state``, with how that model was sampled: the
    fit attempts (so the report and the manifest give the kept fit's settings, a remedy's if
    one ran) and the geo pilot's choice of form. ``what`` names the model for the user. The
    national and the geo fit stages share it."""
    assert state.previous is not None
    state.say(f"reusing the fitted {what} in {state.previous} (plan, data, code and model match)")
    model_dir = state.work / "model"
    if not model_dir.exists():
        shutil.copytree(state.previous / "model", model_dir)
    state.model = load(model_dir)
    old = load_result(state.previous)
    state.holdout = dict(old.holdout)
    state.tables = {k: old.tables[k] for k in tables if k in old.tables}
    manifest = read_manifest(state.previous)
    state.attempts = list(manifest.get("remedies", {}).get("attempts", []))
    form = manifest.get("stages", {}).get("fits", {}).get("roi_form")
    if form:
        state.fits["roi_form"] = form
    state.reused = True


def fit_stage(state: RunState) -> None:
    """Fill ``state.model`` (and, when reused, the previous holdout) and save the model.

    A model is reused only when :func:`omnimmm.run.reuse.reusable` says so; otherwise the
    run says why it refits (when there was a model to reuse) and samples afresh.
    """
    from omnimmm.mmm import OmniMMM, load

    prep, work, say = state.prep, state.work, state.say
    decision = reusable(state.previous, prep.fit_key, prep.panel.data_hash)
    if decision.ok:
        reuse_previous(state, "model", load, _FIT_TABLES)
    else:
        if decision.reason:
            say(f"not reusing the model in {state.previous}: {decision.reason}; refitting")
        s = prep.sampler
        say(
            f"fitting the MMM: {s['chains']} chains x {s['draws']} draws after {s['tune']} "
            f"tuning steps, seed {s['seed']} (this is the slow part)"
        )
        shutil.rmtree(work / "model", ignore_errors=True)
        gate = gate_spec(prep)  # remedies only where the gate is enforced (not --fast)

        def fit_once(settings: dict[str, Any]) -> Any:
            cancel_holdout(state)  # an earlier attempt's refit: that fit failed the gate
            mmm = OmniMMM(prep.plan, progressbar=prep.progressbar, **settings)
            return mmm.fit(
                prep.panel,
                on_sampled=lambda warm: start_holdout(state, mmm, warm),
                while_sampling=lambda: prepare_holdout(state, mmm),
            )

        state.model, state.attempts = fit_with_remedies(
            fit_once,
            {**s, "target_accept": prep.plan.model.target_accept},
            gate,
            0 if gate.allow_failure else prep.plan.gate.remedies,
            say,
        )
        state.model.save(work / "model")
        state.reused = False
        state.fits["mmm"] = state.model.timings_
    for note in state.model.prior_notes_:
        say(f"note: {note}")
    state.model_files = model_hashes(work / "model")
    d = state.model.diagnostics_
    say(
        f"convergence: max R-hat {d.rhat_max:.3f}, min bulk ESS {d.ess_bulk_min:.0f}, "
        f"{d.divergences} divergences"
    )
