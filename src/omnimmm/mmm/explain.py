"""Explaining a forecast: its parts, and the controls it reads outside their training range.

:func:`forecast_parts` splits a refitted model's forecast of the weeks after its training
data into its parts (intercept, trend, seasonality, controls, festivals, media) next to the
same weeks a year earlier, so a forecast that runs high or low shows which part moved.

:func:`control_extrapolation` lists the controls whose forecast-week values lie outside
the range seen in training. The model does not extrapolate a control's linear effect: in
:func:`omnimmm.mmm.design.baseline_features` a control is held at the edge of its training
range (models fitted before the range was recorded extrapolate linearly). The table says by
how many training standard deviations each control is outside and what a linear
extrapolation would have added to the forecast, so the user can judge the held value.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from omnimmm.errors import DataError
from omnimmm.mmm.design import SLOW_PRIOR_RATIO

__all__ = [
    "NOTABLE_EFFECT_SHARE",
    "NOTABLE_SD_OUTSIDE",
    "control_extrapolation",
    "control_extrapolation_message",
    "forecast_parts",
    "notable_extrapolation",
]

_WEEKS_PER_YEAR = 52
#: A control outside its range is worth a warning from this many training SDs out...
NOTABLE_SD_OUTSIDE = 0.5
#: ... or when its linear extrapolation would move the forecast by this share.
NOTABLE_EFFECT_SHARE = 0.005


def forecast_parts(model: Any, panel: Any) -> pd.DataFrame:
    """Mean weekly value of each part of ``model``'s mean, forecast weeks vs a year earlier.

    Parameters
    ----------
    model : OmniMMM
        Fitted on the first weeks of ``panel`` (e.g. :attr:`HoldoutResult.model`).
    panel : omnimmm.data.schema.Panel
        The full panel; the weeks after the model's training data are the forecast weeks.

    Returns
    -------
    pandas.DataFrame
        Index ``(outcome, part)`` with parts ``intercept``, ``trend``, ``seasonality``,
        ``controls``, ``festivals``, ``level`` (the moving baseline's drift; those the
        model has), ``media``, ``total`` and
        ``actual``; columns ``year_before`` (the same number of weeks 52 weeks earlier,
        fitted), ``forecast`` (from the actual spend and controls) and ``change``.

    Raises
    ------
    DataError
        If the model was trained on fewer than 52 weeks or ``panel`` has no weeks after
        its training data.
    """
    n = model.panel_.n_weeks
    h = panel.n_weeks - n
    if n < _WEEKS_PER_YEAR or h < 1:
        raise DataError(
            f"forecast_parts needs a model trained on >= {_WEEKS_PER_YEAR} weeks and a panel "
            f"with weeks after them; got {n} training weeks of {panel.n_weeks}"
        )
    h = min(h, _WEEKS_PER_YEAR)
    resp = model.response_
    controls = panel.controls.set_axis(panel.dates, axis=0)
    feats = model.features(panel.dates[: n + h], controls.iloc[: n + h])
    parts = {k: v.mean(axis=1) for k, v in resp.baseline(feats).items()}
    spend = panel.spend[list(resp.channels)].to_numpy(dtype=float)[: n + h]
    parts["media"] = resp.media_total(spend).mean(axis=1)
    parts["total"] = np.sum(list(parts.values()), axis=0)
    parts["actual"] = panel.outcomes[list(resp.outcomes)].to_numpy(dtype=float)[: n + h]
    before = slice(n - _WEEKS_PER_YEAR, n - _WEEKS_PER_YEAR + h)
    after = slice(n, n + h)
    rows = []
    for k, o in enumerate(resp.outcomes):
        for p, v in parts.items():
            a, b = float(v[before, k].mean()), float(v[after, k].mean())
            rows.append({"outcome": o, "part": p, "year_before": a, "forecast": b,
                         "change": b - a})  # fmt: skip
    return pd.DataFrame(rows).set_index(["outcome", "part"])


def control_extrapolation(model: Any, future_controls: pd.DataFrame | None) -> pd.DataFrame:
    """Controls whose forecast-week values lie outside the model's training range.

    Parameters
    ----------
    model : OmniMMM
        A fitted model.
    future_controls : pandas.DataFrame or None
        The forecast weeks' control (and event) columns.

    Returns
    -------
    pandas.DataFrame
        One row per (control, outcome) outside its range in at least one week:
        ``control``, ``outcome``, ``weeks_outside``, ``max_sd_outside`` (largest distance
        beyond the range in training standard deviations), ``train_min``, ``train_max``,
        ``forecast_min``, ``forecast_max``, ``effect_extrapolated`` (posterior-mean change
        of the forecast's total over those weeks had the control's linear effect been
        extrapolated, in outcome units; the model holds it at the range's edge instead)
        and ``effect_share`` (that change over the forecast weeks' total at the training
        mean of the outcome). Empty when every
        control is within range.
    """
    spec = model.spec_
    cols = [
        "control", "outcome", "weeks_outside", "max_sd_outside", "train_min", "train_max",
        "forecast_min", "forecast_max", "effect_extrapolated", "effect_share",
    ]  # fmt: skip
    if not spec.controls or future_controls is None or len(future_controls) == 0:
        return pd.DataFrame(columns=cols)
    train = model.panel_.controls[list(spec.controls)].to_numpy(dtype=float)
    fut = future_controls[list(spec.controls)].to_numpy(dtype=float)
    lo, hi = train.min(axis=0), train.max(axis=0)
    sd = np.asarray(model.scaling_.control_sd)  # the model's unit of each control
    spread = train.std(axis=0)
    spread = np.where(spread > 0, spread, 1.0)  # what "training SDs" means to the user
    beyond = np.maximum(fut - hi, 0.0) + np.maximum(lo - fut, 0.0)  # (H, K)
    coef = model.response_.params.get("control_coef")  # (D, K, O) scaled outcome per sd
    if coef is not None and spec.control_form == "split":
        # A sustained shift moves the slow part: its coefficient (after the controls') is
        # the linear effect; indicators have none and keep their own.
        ind = np.asarray(model.scaling_.control_indicator, dtype=bool)
        level = coef[:, : len(spec.controls)].copy()
        level[:, ~ind] = SLOW_PRIOR_RATIO * coef[:, len(spec.controls) :]
        coef = level
    y_scale = np.asarray(model.scaling_.outcome_scale)
    expected = y_scale * len(fut)  # the forecast weeks at the training mean
    rows = []
    for j, name in enumerate(spec.controls):
        out = beyond[:, j] > 0
        if not out.any():
            continue
        # Signed distance past the edge, in training sds: what a linear model would add.
        signed = (np.maximum(fut[:, j] - hi[j], 0.0) - np.maximum(lo[j] - fut[:, j], 0.0)) / sd[j]
        for k, o in enumerate(spec.outcomes):
            effect = 0.0
            if coef is not None:
                effect = float(coef[:, j, k].mean() * signed.sum() * y_scale[k])
            rows.append({
                "control": name,
                "outcome": o,
                "weeks_outside": int(out.sum()),
                "max_sd_outside": float(beyond[:, j].max() / spread[j]),
                "train_min": float(lo[j]),
                "train_max": float(hi[j]),
                "forecast_min": float(fut[:, j].min()),
                "forecast_max": float(fut[:, j].max()),
                "effect_extrapolated": effect,
                "effect_share": effect / float(expected[k]),
            })  # fmt: skip
    return pd.DataFrame(rows, columns=cols)


def notable_extrapolation(table: pd.DataFrame) -> pd.DataFrame:
    """The rows of :func:`control_extrapolation` worth a warning.

    A control at least :data:`NOTABLE_SD_OUTSIDE` training SDs outside its range, or one
    whose linear extrapolation would move the forecast by :data:`NOTABLE_EFFECT_SHARE` or
    more; a control that only grazes its range's edge is listed in the table alone.
    """
    keep = (table["max_sd_outside"] >= NOTABLE_SD_OUTSIDE) | (
        table["effect_share"].abs() >= NOTABLE_EFFECT_SHARE
    )
    return table[keep]


def control_extrapolation_message(row: Any) -> str:
    """One sentence about one row of :func:`control_extrapolation`."""
    side = "above" if row["forecast_max"] > row["train_max"] else "below"
    edge = row["train_max"] if side == "above" else row["train_min"]
    return (
        f"control {row['control']!r} is {side} its training range ({edge:.4g}) in "
        f"{int(row['weeks_outside'])} forecast week(s), up to {row['max_sd_outside']:.1f} "
        f"training SDs; it is held at that edge. Extrapolated linearly it would move the "
        f"{row['outcome']} forecast by {row['effect_extrapolated']:+,.0f} "
        f"({row['effect_share']:+.1%})"
    )
