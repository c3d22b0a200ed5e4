"""The optimize stage: the budget recommendation from a fitted model's posterior.

Pure computation on a fitted :class:`omnimmm.mmm.OmniMMM` (through its public
``optimizer_arrays``) and the optimizer's public API.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np
import pandas as pd

from omnimmm.errors import DataError, PlanError
from omnimmm.report.result import RunResult
from omnimmm.run.context import Prepared, Progress, RunState

__all__ = ["optimize", "optimize_stage", "retention_segments"]


# --------------------------------------------------------------------------- optimization


def _response(model: Any) -> Any:
    from omnimmm.optimize import AdstockSaturationResponse

    try:
        arrays = model.optimizer_arrays()
    except ValueError as exc:
        raise PlanError(
            "the budget optimizer needs one saturation family for every channel and "
            f"carryover shared across outcomes (model.share_carryover = true): {exc}"
        ) from None
    return AdstockSaturationResponse.from_arrays(**arrays)


def _interval(draws: np.ndarray) -> dict[str, float]:
    lo, hi = np.quantile(draws, [0.05, 0.95])
    return {"mean": float(draws.mean()), "low": float(lo), "high": float(hi)}


def _curves(response: Any, current: np.ndarray, recommended: np.ndarray) -> pd.DataFrame:
    """Horizon response of each channel with the others at current spend, with 2 points.

    Value is the channel's incremental horizon revenue (all outcomes, tail included):
    horizon value at its spend ``s`` minus horizon value at zero, others at current.
    """
    rows = []
    for c, name in enumerate(response.channels):
        top = max(2.0 * current[c], 1.25 * recommended[c], 1.0)
        grid = np.linspace(0.0, top, 25)
        points = {"current": current[c], "recommended": recommended[c]}
        spends = np.concatenate([grid, list(points.values())])
        alloc = np.repeat(current[None, :], len(spends), axis=0)
        alloc[:, c] = spends
        zero = current.copy()
        zero[c] = 0.0
        values = response.horizon_value(alloc) - response.horizon_value(zero)[None, :]
        lo, hi = np.quantile(values, [0.05, 0.95], axis=1)
        labels = [""] * len(grid) + list(points)
        for k, s in enumerate(spends):
            rows.append(
                {"channel": name, "spend": float(s), "mean": float(values[k].mean()),
                 "low": float(lo[k]), "high": float(hi[k]), "point": labels[k]}
            )  # fmt: skip
    return pd.DataFrame(rows)


def retention_segments(result: RunResult | None) -> list[Any] | None:
    """Retention segments of a joint budget, from the stored lifecycle results."""
    if result is None or "retention_segments" not in result.tables:
        return None
    from omnimmm.optimize import segments_from_table

    return segments_from_table(result.tables["retention_segments"])


def optimize_stage(state: RunState) -> None:
    """Recommend the budget from the fitted model and add it to the run's result.

    Reads ``state.model`` and ``state.result`` (whose stored lifecycle tables, if any, give
    the retention segments of a joint budget); replaces ``state.result`` with one that has
    the horizon value, the optimizer's report and the allocation tables.
    """
    opt = optimize(state.model, state.prep, state.say, retention_segments(state.result))
    state.result = replace(
        state.result,
        horizon_value=opt["horizon_value"],
        optimizer=opt["optimizer"],
        tables={**state.result.tables, **opt["tables"]},
    )


def optimize(
    model: Any, prep: Prepared, say: Progress, retention: list[Any] | None = None
) -> dict[str, Any]:
    """The budget recommendation of a fitted model for the prepared plan.

    Returns
    -------
    dict
        ``horizon_value`` (current, recommended, uplift intervals), ``optimizer`` (binding
        constraints, solver and scenario) and ``tables`` (allocation, curves, weekly spend,
        value by outcome).

    Raises
    ------
    DataError
        The model's last-quarter spend is not the data's (a model from other data).
    PlanError
        The model's structure is one the optimizer cannot plan with.
    """
    from omnimmm.optimize import optimize_budget

    response = _response(model)
    current = prep.current[list(response.channels)].to_numpy(dtype=float)
    if not np.allclose(response.current_allocation, current, rtol=1e-9, atol=1e-6):
        raise DataError(
            "the model's last-quarter spend differs from the data's; the saved model does "
            "not belong to this data (refit with omnimmm fit)"
        )
    scenario, constraints = prep.scenario(list(response.channels))
    joint = f" and {len(retention)} retention segments" if retention else ""
    say(
        f"optimizing {len(response.channels)} channels{joint} over "
        f"{prep.plan.budget.horizon_weeks} weeks on {response.n_draws} posterior draws"
    )
    res = optimize_budget(
        response,
        scenario,
        constraints,
        risk=prep.plan.budget.risk,
        risk_level=prep.plan.budget.risk_level,
        seed=prep.seed,
        retention=retention,
    )
    alloc = res.allocation.reset_index()
    recommended = alloc.set_index("name")["recommended"].reindex(response.channels)
    curves = _curves(response, current, recommended.to_numpy(dtype=float))
    weekly = res.weekly_spend.reset_index()
    return {
        "horizon_value": {
            "current": _interval(res.draws_current),
            "recommended": _interval(res.draws_recommended),
            "uplift": _interval(res.draws_recommended - res.draws_current),
        },
        "optimizer": {
            "binding": list(res.binding),
            "solver": res.to_dict()["solver"],
            "scenario": res.to_dict()["scenario"],
        },
        "tables": {
            "allocation": alloc,
            "curves": curves,
            "weekly_spend": weekly,
            "value_by_outcome": res.value_by_outcome.reset_index(),
        },
    }
