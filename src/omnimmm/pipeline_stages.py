"""Stages of the quarterly run that read a fitted model: analysis tables and optimization.

Pure computation on a fitted :class:`omnimmm.mmm.OmniMMM` (through its public methods and
``optimizer_arrays``) and the optimizer's public API; :mod:`omnimmm.pipeline` orchestrates.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from omnimmm.errors import DataError, PlanError
from omnimmm.report.result import RunResult

__all__ = ["analysis_tables", "optimize_stage", "precheck_messages", "retention_segments"]

Progress = Any


def analysis_tables(model: Any, prep: Any) -> dict[str, pd.DataFrame]:
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


def precheck_messages(pc: Any) -> list[str]:
    out = []
    for a, b, r in pc.collinear_pairs:
        out.append(f"spend of {a} and {b} moves together (correlation {r:.2f})")
    for c in pc.high_vif:
        partners = ", ".join(pc.vif_partners.get(c, ()))
        out.append(
            f"{c} is close to a combination of other channels (VIF {float(pc.vif[c]):.1f}"
            + (f"; mostly {partners})" if partners else ")")
        )
    for c in pc.sparse_channels:
        out.append(f"{c} spends nothing in {100 * float(pc.zero_share[c]):.0f}% of weeks")
    for c in pc.constant_channels:
        out.append(f"{c} spends the same every week, so its effect cannot be estimated")
    return out


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


def optimize_stage(
    model: Any, prep: Any, say: Progress, retention: list[Any] | None = None
) -> dict[str, Any]:
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
