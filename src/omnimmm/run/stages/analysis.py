"""The analysis stage: everything the report shows about the fitted model (ROI, mROI,
synergy, decomposition, fit, posterior checks, pre-checks); the result stage assembles them
into the run's :class:`~omnimmm.report.result.RunResult` with the gate, the holdout and the
lifecycle. The analysis runs before the holdout stage, while the holdout refit samples in the
background (:mod:`omnimmm.run.stages.holdout`)."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
from typing import Any

import pandas as pd

from omnimmm.report.result import RunResult
from omnimmm.run.context import Prepared, RunState
from omnimmm.run.stages.validate import precheck_messages

__all__ = ["analysis_stage", "analysis_tables", "result_stage", "run_meta"]


def analysis_tables(model: Any, prep: Prepared) -> dict[str, pd.DataFrame]:
    """ROI, mROI, synergy, decomposition, fit, posterior checks and pre-check tables."""
    roi = model.roi().reset_index()
    mroi = model.mroi().reset_index()
    synergy = model.synergy()
    decomposition = model.decomposition()
    fitted = model.fitted()
    actual = prep.panel.outcomes[list(fitted.columns)].set_axis(fitted.index)
    fit = pd.concat(
        [
            pd.DataFrame(
                {"date": fitted.index, "outcome": o, "actual": actual[o].to_numpy(),
                 "fitted": fitted[o].to_numpy()}
            )
            for o in fitted.columns
        ],
        ignore_index=True,
    )  # fmt: skip
    ppc = model.ppc(seed=prep.seed).reset_index()
    pc = prep.precheck
    precheck = pd.DataFrame(
        {
            "channel": list(pc.vif.index),
            "vif": pc.vif.to_numpy(dtype=float),
            "zero_share": pc.zero_share.reindex(pc.vif.index).to_numpy(dtype=float),
        }
    )
    return {
        "roi": roi,
        "mroi": mroi,
        "synergy": synergy,
        "decomposition": decomposition,
        "fit": fit,
        "ppc": ppc,
        "precheck": precheck,
    }


def budget_meta(prep: Any) -> dict[str, Any]:
    """The budget, seed and speed keys of the result's ``meta`` (national and geo runs)."""
    b = prep.plan.budget
    return {
        "horizon_weeks": int(b.horizon_weeks),
        "total": prep.total,
        "total_from_plan": b.total is not None,
        "max_change": float(b.max_change),
        "objective": b.objective,
        "margin": float(b.margin),
        "risk": b.risk,
        "risk_level": float(b.risk_level),
        "online_share": list(b.online_share) if b.online_share is not None else None,
        "seed": prep.seed,
        "fast": prep.fast,
    }


def run_meta(prep: Prepared, model: Any) -> dict[str, Any]:
    """The result's ``meta``: what was planned, on which data, with which settings."""
    plan, panel = prep.plan, prep.panel
    return {
        "plan_path": str(prep.plan_path),
        "data_path": str(panel.source),
        "channels": [{"name": c.name, "kind": c.kind} for c in plan.channels],
        "outcomes": list(plan.data.outcomes),
        "synergies": [list(p) for p in plan.model.synergies],
        "weeks": {
            "first": str(panel.dates[0].date()),
            "last": str(panel.dates[-1].date()),
            "n": int(panel.n_weeks),
        },
        **budget_meta(prep),
        # the settings the kept model was sampled with (an automatic remedy's, if one ran)
        "sampler": {
            **prep.sampler,
            **{k: getattr(model.spec.sampler, k) for k in ("chains", "draws", "tune")},
            "sampler": model.spec.sampler.sampler,
        },
        # the model's structure beyond the channels: what a reader comparing runs needs
        "model": {
            "baseline": model.spec.baseline,
            "trend": bool(model.spec.trend),
            "yearly_fourier": int(model.spec.fourier_order),
            "control_form": model.spec.control_form,
            "noise": model.spec.noise,
            "seasonal_noise": bool(model.spec.seasonal_noise),
            "likelihood": model.spec.likelihood,
            "likelihood_check": _tail_check_meta(model),
        },
        "n_draws_analysis": int(model.response_.n_draws),
        "prior_notes": list(getattr(model, "prior_notes_", ())),
        "created": dt.datetime.now(dt.UTC).date().isoformat(),
    }


def _tail_check_meta(model: Any) -> dict[str, Any] | None:
    """``likelihood = "auto"``: the normal fit's tail test, per outcome (None otherwise)."""
    check = getattr(model, "likelihood_check_", None)
    if not check:
        return None
    keys = ("outcomes", "excess_kurtosis", "z", "p", "alpha", "weeks", "heavy", "chosen")
    return {k: check[k] for k in keys}


def analysis_stage(state: RunState) -> None:
    """The fitted model's tables (:func:`analysis_tables`) into ``state.analysis``."""
    state.analysis = analysis_tables(state.model, state.prep)


def result_stage(state: RunState) -> None:
    """Build ``state.result`` from the model's tables, gate, holdout and (optional)
    lifecycle."""
    prep, model = state.prep, state.model
    if state.analysis is None:
        state.analysis = analysis_tables(model, prep)
    d = model.diagnostics_.to_dict()
    d["holdout_mape"] = state.holdout.get("mape_mean")
    result = RunResult(
        meta=run_meta(prep, model),
        horizon_value={},
        diagnostics=d,
        gate=state.gate,
        holdout=state.holdout,
        optimizer={},
        precheck_messages=precheck_messages(prep.precheck),
        tables={**state.analysis, **state.tables},
    )
    if state.lifecycle is not None:
        lc = state.lifecycle
        result = replace(result, lifecycle=lc.info, tables={**result.tables, **lc.tables})
    state.result = result
