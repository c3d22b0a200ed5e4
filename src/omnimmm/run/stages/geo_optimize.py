"""The optimize stage of a geo run: the budget across regions and channels
(:mod:`omnimmm.optimize.geo`) under the plan's limits (:func:`omnimmm.run.stages.geo.
budget_constraints`), added to the run's result: the national allocation and mROI (summed
over regions), which regions gain and lose, the budget lines and the weekly plan.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np
import pandas as pd

from omnimmm.errors import DataError
from omnimmm.run.context import RunState
from omnimmm.run.stages.geo import budget_constraints, geo_prep

__all__ = ["geo_optimize_stage"]


def _interval(draws: np.ndarray) -> dict[str, float]:
    lo, hi = np.quantile(draws, [0.05, 0.95])
    return {"mean": float(draws.mean()), "low": float(lo), "high": float(hi)}


def _channel_mroi(response: Any, x: np.ndarray, step: float = 0.01) -> np.ndarray:
    """Per draw and channel: value of the next ``step`` of the channel's spend in every
    region over that spend (the derivative where it spends nothing). Shape (D, C)."""
    layout = response.layout
    base = response.horizon_value(x)
    _, grad = response.horizon_value_and_grad(x)
    out = np.empty((response.n_draws, len(layout.base_channels)))
    for c, ch in enumerate(layout.base_channels):
        idx = [i for i, n in enumerate(layout.channels) if layout.variable(n)[1] == ch]
        spend = float(x[idx].sum())
        if spend <= 0:
            out[:, c] = grad[:, idx].mean(axis=1)
            continue
        up = x.copy()
        up[idx] *= 1 + step
        out[:, c] = (response.horizon_value(up) - base) / (step * spend)
    return out


def _national_allocation(
    response: Any, res: Any, current: np.ndarray, rec: np.ndarray
) -> pd.DataFrame:
    layout = response.layout
    alloc = res.allocation
    rows = []
    m_cur, m_rec = _channel_mroi(response, current), _channel_mroi(response, rec)
    for c, (ch, kind) in enumerate(zip(layout.base_channels, layout.kinds_by_channel, strict=True)):
        names = [n for n in layout.channels if layout.variable(n)[1] == ch]
        cur, new = (
            float(alloc.loc[names, "current"].sum()),
            float(alloc.loc[names, "recommended"].sum()),
        )
        row = {"name": ch, "kind": kind, "scope": layout.scopes[c], "current": cur,
               "recommended": new, "change": new - cur,
               "lower": float(alloc.loc[names, "lower"].sum()),
               "upper": float(alloc.loc[names, "upper"].sum())}  # fmt: skip
        for key, m in (("mroi_current", m_cur[:, c]), ("mroi_recommended", m_rec[:, c])):
            iv = _interval(m)
            row.update({f"{key}_{k}": v for k, v in iv.items()})
        rows.append(row)
    return pd.DataFrame(rows)


def geo_optimize_stage(state: RunState) -> None:
    """Recommend the budget across regions and channels and add it to ``state.result``.

    Raises
    ------
    DataError
        The fitted responses' current spend is not the data's.
    InfeasibleError
        The plan's limits cannot all hold.
    """
    from omnimmm.optimize import FixedBudget, optimize_budget
    from omnimmm.optimize.geo import GeoResponse, geo_tables

    prep, fit = geo_prep(state), state.model
    p, b = prep.panel.panel, prep.plan.budget
    regions = fit.responses(b.horizon_weeks)
    response = GeoResponse({g: regions[g] for g in p.geos}, p.scopes, prep.layout.shares)
    current = prep.current.reindex(list(response.channels)).to_numpy(dtype=float)
    if not np.allclose(response.current_allocation, current, rtol=1e-9, atol=1e-6):
        raise DataError(
            "the geo model's last-quarter spend differs from the data's; the model does not "
            "belong to this data (refit with omnimmm run)"
        )
    state.say(
        f"optimizing {len(p.channels)} channels in {p.n_geos} regions "
        f"({len(response.channels)} budget lines) over {b.horizon_weeks} weeks on "
        f"{response.n_draws} posterior draws"
    )
    res = optimize_budget(
        response,
        FixedBudget(total=prep.total, objective=b.objective, margin=b.margin),
        budget_constraints(prep.plan, response),
        risk=b.risk,
        risk_level=b.risk_level,
        seed=prep.seed,
    )
    rec = res.allocation["recommended"].reindex(list(response.channels)).to_numpy(dtype=float)
    tables = geo_tables(response, rec)
    roi = state.result.tables["geo_roi"]
    cells = tables["geo_channel_allocation"].merge(
        roi[[c for c in roi.columns if c not in ("scope", "spend")]],
        on=["geo", "channel"], how="left",
    )  # fmt: skip
    weekly = res.weekly_spend
    weekly_nat = pd.DataFrame(
        {ch: weekly[[n for n in response.channels if response.variable(n)[1] == ch]].sum(axis=1)
         for ch in p.channels}
    ).reset_index()  # fmt: skip
    national = _national_allocation(response, res, current, rec)
    mroi_cols = ["name", "mroi_current_mean", "mroi_current_low", "mroi_current_high"]
    new_tables = {
        "allocation": national,
        # the geo run's mROI table is next quarter's, at current spend (no historical mROI)
        "mroi": national[mroi_cols].set_axis(["channel", "mean", "low", "high"], axis=1),
        "geo_allocation": tables["geo_allocation"],
        "geo_channel_allocation": cells,
        "geo_budget_lines": res.allocation.reset_index(),
        "weekly_spend": weekly_nat,
        "value_by_outcome": res.value_by_outcome.reset_index(),
    }
    state.result = replace(
        state.result,
        horizon_value={
            "current": _interval(res.draws_current),
            "recommended": _interval(res.draws_recommended),
            "uplift": _interval(res.draws_recommended - res.draws_current),
        },
        optimizer={
            "binding": list(res.binding),
            "solver": res.to_dict()["solver"],
            "scenario": res.to_dict()["scenario"],
        },
        tables={**state.result.tables, **new_tables},
    )
