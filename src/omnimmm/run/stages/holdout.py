"""The holdout stage: refit without the last weeks, forecast them from the actual spend and
controls, and score the forecast next to seasonal-naive and ETS baselines of the same weeks.

Most of it happens earlier, in the fit stage. While the full fit's chains sample,
:func:`prepare_holdout` fits the baselines and builds and compiles the refit's model; when
they finish, :func:`start_holdout` starts the refit from where they ended, and nutpie
samples it in its own threads while the full fit is completed and saved. The refit's draws
are the same as when it starts after those (same warm start, same seed)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from omnimmm.run.context import Prepared, RunState

__all__ = [
    "cancel_holdout",
    "holdout",
    "holdout_stage",
    "prepare_holdout",
    "start_holdout",
]


def prepare_holdout(state: RunState, model: Any) -> None:
    """While ``model``'s chains sample: the baselines' forecasts of the holdout weeks, and
    the holdout refit's model built and compiled (nothing without a holdout)."""
    from omnimmm.mmm.analysis import prepare_holdout_refit

    weeks = int(state.prep.plan.model.holdout_weeks)
    if not weeks:
        return
    if state.baseline_forecasts is None:
        state.baseline_forecasts = _baseline_forecasts(state.prep, weeks)
    state.prepared_holdout = prepare_holdout_refit(model, state.prep.panel, weeks)


def start_holdout(state: RunState, model: Any, warm: Any) -> None:
    """Start ``model``'s holdout refit in the background from its warm start ``warm``
    (nothing without a holdout or a warm start: the stage then refits as before)."""
    from omnimmm.mmm.analysis import start_holdout_refit

    cancel_holdout(state)
    weeks = int(state.prep.plan.model.holdout_weeks)
    prepared, state.prepared_holdout = state.prepared_holdout, None
    if weeks and warm is not None:
        state.pending_holdout = start_holdout_refit(
            model, state.prep.panel, weeks, warm, prepared=prepared
        )


def _baseline_forecasts(prep: Prepared, weeks: int) -> pd.DataFrame:
    from omnimmm.mmm.baselines import holdout_forecasts

    return holdout_forecasts(_outcomes(prep), weeks)


def _outcomes(prep: Prepared) -> pd.DataFrame:
    return prep.panel.outcomes[list(prep.plan.data.outcomes)].set_axis(prep.panel.dates)


def cancel_holdout(state: RunState) -> None:
    """Stop a holdout refit started in the background (its fit was not kept)."""
    if state.pending_holdout is not None:
        state.pending_holdout.cancel()
        state.pending_holdout = None


def holdout(
    model: Any, prep: Prepared, pending: Any = None, forecasts: pd.DataFrame | None = None
) -> tuple[dict[str, Any], dict[str, pd.DataFrame], dict[str, Any] | None]:
    """Holdout forecast of the refitted model against the seasonal-naive and ETS baselines.

    Returns
    -------
    tuple
        The scores (``weeks``, ``mape`` per outcome, ``mape_mean``, baselines' MAPE, the best
        baseline and whether the model beats it), the tables (``holdout``,
        ``baseline_forecasts``, ``holdout_scores``) and the refit's timings with its
        convergence (``rhat_max``, ``ess_bulk_min``, ``divergences``; None without a
        holdout).

    ``pending``: the refit :func:`start_holdout` started (None: refit here); ``forecasts``:
    the baselines' forecasts :func:`prepare_holdout` made (None: made here).
    """
    from omnimmm.mmm.analysis import holdout_result
    from omnimmm.mmm.baselines import accuracy, holdout_baselines

    weeks = int(prep.plan.model.holdout_weeks)
    if weeks == 0:
        return {"weeks": 0, "mape": {}, "mape_mean": None}, {}, None
    outcomes = _outcomes(prep)
    if forecasts is None:
        forecasts = _baseline_forecasts(prep, weeks)
    scores = holdout_baselines(outcomes, weeks, forecasts=forecasts)
    ho = model.holdout(weeks) if pending is None else holdout_result(pending, prep.panel)
    own = pd.DataFrame(
        {
            "method": "omnimmm",
            "outcome": list(ho.mape),
            "variant": "refit on earlier weeks",
            "mape": list(ho.mape.values()),
        }
    )
    table = ho.table.copy()
    scored = [accuracy(g["actual"], g["mean"]) for _, g in table.groupby("outcome", sort=False)]
    for col in ("smape", "rmse", "bias"):
        own[col] = [s[col] for s in scored]
    all_scores = pd.concat([own, scores[own.columns]], ignore_index=True)
    mape_mean = float(np.mean(list(ho.mape.values())))
    base = scores.groupby("method", sort=False)["mape"].mean()
    best = str(base.idxmin())
    info = {
        "weeks": weeks,
        "mape": {k: float(v) for k, v in ho.mape.items()},
        "mape_mean": mape_mean,
        "baseline_mape_mean": {k: float(v) for k, v in base.items()},
        "best_baseline": best,
        "beats_baselines": bool(mape_mean < float(base.min())),
        "first_week": str(pd.Timestamp(table["date"].min()).date()),
        **_explained(ho.model, prep.panel, weeks),
    }
    tables = {
        "holdout": table,
        "baseline_forecasts": forecasts[["date", "outcome", "method", "forecast"]],
        "holdout_scores": all_scores,
        "holdout_parts": _parts(ho.model, prep.panel),
    }
    d = ho.model.diagnostics_
    convergence = {
        "rhat_max": float(d.rhat_max),
        "ess_bulk_min": float(d.ess_bulk_min),
        "divergences": int(d.divergences),
    }
    return info, tables, {**ho.model.timings_, **convergence}


def _explained(refit: Any, panel: Any, weeks: int) -> dict[str, Any]:
    """The controls the holdout forecast reads outside their training range, as sentences."""
    from omnimmm.mmm.explain import (
        control_extrapolation,
        control_extrapolation_message,
        notable_extrapolation,
    )

    ext = notable_extrapolation(control_extrapolation(refit, panel.controls.iloc[-weeks:]))
    return {"control_extrapolation": [control_extrapolation_message(r) for _, r in ext.iterrows()]}


def _parts(refit: Any, panel: Any) -> pd.DataFrame:
    """The holdout forecast by part next to the same weeks a year earlier (empty if short)."""
    from omnimmm.mmm.explain import forecast_parts

    if refit.panel_.n_weeks < 52:
        return pd.DataFrame(columns=["outcome", "part", "year_before", "forecast", "change"])
    return forecast_parts(refit, panel).reset_index()


def holdout_stage(state: RunState) -> None:
    """Score the holdout forecast into ``state.holdout`` (kept as is for a reused model)."""
    if state.reused and state.holdout:
        cancel_holdout(state)
        return
    weeks = state.prep.plan.model.holdout_weeks
    if weeks:
        state.say(f"holdout: refitting without the last {weeks} weeks, then forecasting them")
    pending, state.pending_holdout = state.pending_holdout, None
    info, tables, refit = holdout(state.model, state.prep, pending, state.baseline_forecasts)
    state.holdout = info
    state.tables = {**state.tables, **tables}
    if refit is not None:
        # started in the fit stage: its compile and most of its sampling ran before this stage
        state.fits["holdout_refit"] = {**refit, "started_early": pending is not None}
    for line in info.get("control_extrapolation", []):
        state.say(f"warning: holdout {line}")
