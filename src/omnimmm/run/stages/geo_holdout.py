"""The holdout of a geo run: refit the geo model on the weeks before the last
``[model] holdout_weeks``, forecast those weeks per region from their actual spend and
controls, and score the forecast next to seasonal-naive and ETS baselines.

Forecasts
---------
The refit's :meth:`~omnimmm.mmm.geo.GeoFit.forecast` gives posterior predictive draws per
week, region and outcome (residual noise included). The national forecast is the sum over
regions draw by draw, so its 90% interval is the interval of the sum (not a sum of
intervals). Each baseline is fitted per region and outcome on the same training weeks; the
national baseline is the sum of the regions' baselines.

Tables (``DIR/tables/``)
------------------------
* ``holdout.csv``: ``geo, date, outcome, actual, mean, low, high``: the national sums first
  (``geo`` = :data:`NATIONAL`), then each region; the national rows alone are the DESIGN.md
  forecast table;
* ``baseline_forecasts.csv``: ``geo, date, outcome, method, forecast``, the same way;
* ``holdout_scores.csv``: the national run's table (``method, outcome, variant, mape, smape,
  rmse, bias``) on the national sums;
* ``geo_holdout_scores.csv``: ``geo, method, outcome, mape, smape, rmse, bias, coverage``
  per region (coverage: the share of held-out weeks inside the model's 90% interval).

The same helpers score each origin of ``omnimmm backtest`` on a geo plan
(:mod:`omnimmm.run.geo_backtest`).
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
import pandas as pd

from omnimmm.data.geo_read import NATIONAL_ROW as NATIONAL
from omnimmm.errors import DataError
from omnimmm.run.context import RunState

__all__ = [
    "NATIONAL",
    "NO_FORECAST",
    "can_forecast",
    "geo_baselines",
    "geo_forecast_table",
    "geo_holdout",
    "geo_holdout_stage",
    "geo_scores",
    "head_geo_panel",
]

#: Posterior draws used for a forecast (evenly spaced).
FORECAST_DRAWS = 200
_LOW, _HIGH = 0.05, 0.95
#: Why a geo holdout or backtest cannot be scored with a geo model that has no forecast.
NO_FORECAST = (
    "the geo model offers no forecast in this version (omnimmm.mmm.geo.GeoFit.forecast), so "
    "geo holdouts and backtests cannot be scored yet"
)


def can_forecast(model: Any = None) -> bool:
    """Whether ``model`` (default: the geo model's class) forecasts held-out weeks."""
    if model is None:
        from omnimmm.mmm.geo import GeoFit

        model = GeoFit
    return callable(getattr(model, "forecast", None))


def head_geo_panel(panel: Any, n_weeks: int) -> Any:
    """The first ``n_weeks`` weeks of a :class:`~omnimmm.data.geo_panel.GeoPanel`."""
    if not 1 <= n_weeks <= panel.n_weeks:
        raise DataError(f"a geo refit needs 1 to {panel.n_weeks} training weeks, got {n_weeks}")
    cut = slice(0, n_weeks)
    events = None if panel.events is None else panel.events[cut]
    return dataclasses.replace(
        panel, dates=panel.dates[cut], spend=panel.spend[cut], y=panel.y[cut],
        controls=panel.controls[cut], events=events,
    )  # fmt: skip


def _forecast_draws(refit: Any, panel: Any, seed: int) -> np.ndarray:
    """Predictive draws (D, H, G, O) of the weeks of ``panel`` after the refit's."""
    if not callable(getattr(refit, "forecast", None)):
        raise DataError(NO_FORECAST)
    fc = refit.forecast(panel, max_draws=FORECAST_DRAWS, seed=seed)
    draws = np.asarray(fc["draws"] if isinstance(fc, dict) else fc, dtype=float)
    n_new = panel.n_weeks - refit.panel.n_weeks
    want = (n_new, panel.n_geos, len(panel.outcomes))
    if draws.ndim != 4 or draws.shape[1:] != want:
        raise DataError(f"the geo forecast has shape {draws.shape}; expected (draws, *{want})")
    return draws


def geo_forecast_table(refit: Any, panel: Any, seed: int) -> pd.DataFrame:
    """Forecast of the weeks of ``panel`` after the refit's: national sums and regions.

    Parameters
    ----------
    refit : omnimmm.mmm.geo.GeoFit
        Fitted on the first weeks of ``panel``.
    panel : GeoPanel
        The refit's weeks followed by the weeks to forecast.
    seed : int
        Seed of the predictive noise.

    Returns
    -------
    pandas.DataFrame
        ``geo, date, outcome, actual, mean, low, high``; national rows first.
    """
    draws = _forecast_draws(refit, panel, seed)  # (D, H, G, O)
    h = draws.shape[1]
    dates = panel.dates[-h:]
    actual = panel.y[-h:]  # (H, G, O)
    frames = []
    blocks = [(NATIONAL, draws.sum(axis=2), actual.sum(axis=1))]
    blocks += [(g, draws[:, :, i], actual[:, i]) for i, g in enumerate(panel.geos)]
    for geo, d, a in blocks:  # d (D, H, O), a (H, O)
        lo, hi = np.quantile(d, [_LOW, _HIGH], axis=0)
        mean = d.mean(axis=0)
        for k, o in enumerate(panel.outcomes):
            frames.append(
                pd.DataFrame(
                    {"geo": geo, "date": dates, "outcome": o, "actual": a[:, k],
                     "mean": mean[:, k], "low": lo[:, k], "high": hi[:, k]}
                )
            )  # fmt: skip
    return pd.concat(frames, ignore_index=True)


def geo_baselines(panel: Any, weeks: int) -> pd.DataFrame:
    """Seasonal-naive and ETS forecasts of the last ``weeks`` weeks of ``panel``, fitted per
    region and outcome on the weeks before; national rows are the regions' sums.

    Returns
    -------
    pandas.DataFrame
        ``geo, date, outcome, method, variant, actual, forecast``; national rows first.
    """
    from omnimmm.mmm.baselines import holdout_forecasts

    frames = []
    for i, g in enumerate(panel.geos):
        y = pd.DataFrame(panel.y[:, i, :], index=panel.dates, columns=list(panel.outcomes))
        frames.append(holdout_forecasts(y, weeks).assign(geo=g))
    regions = pd.concat(frames, ignore_index=True)
    national = (
        regions.groupby(["date", "outcome", "method"], sort=False)[["actual", "forecast"]]
        .sum()
        .reset_index()
        .assign(geo=NATIONAL, variant="sum of regions")
    )
    cols = ["geo", "date", "outcome", "method", "variant", "actual", "forecast"]
    return pd.concat([national[cols], regions[cols]], ignore_index=True)


def geo_scores(table: pd.DataFrame, baselines: pd.DataFrame) -> pd.DataFrame:
    """Accuracy per region (and the national sums) of the model and the baselines.

    Returns
    -------
    pandas.DataFrame
        ``geo, method, outcome, mape, smape, rmse, bias, coverage`` (coverage: the model's
        only, the share of weeks inside its 90% interval).
    """
    from omnimmm.mmm.baselines import accuracy

    rows = []
    for (geo, o), t in table.groupby(["geo", "outcome"], sort=False):
        inside = float(((t["actual"] >= t["low"]) & (t["actual"] <= t["high"])).mean())
        rows.append({"geo": geo, "method": "omnimmm", "outcome": o,
                     **accuracy(t["actual"], t["mean"]), "coverage": inside})  # fmt: skip
    for (geo, m, o), b in baselines.groupby(["geo", "method", "outcome"], sort=False):
        rows.append({"geo": geo, "method": m, "outcome": o,
                     **accuracy(b["actual"], b["forecast"]), "coverage": np.nan})  # fmt: skip
    cols = ["geo", "method", "outcome", "mape", "smape", "rmse", "bias", "coverage"]
    return pd.DataFrame(rows)[cols]


def geo_holdout(
    prep: Any, fit_model: Any, say: Any
) -> tuple[dict[str, Any], dict[str, pd.DataFrame], dict[str, Any] | None]:
    """Refit without the last ``holdout_weeks``, forecast them and score them.

    Parameters
    ----------
    prep : omnimmm.run.stages.geo.GeoPrepared
    fit_model : callable
        ``fit_model(prep, say) -> GeoFit`` (the run's fit with the plan's settings).
    say : callable

    Returns
    -------
    tuple
        The scores (the national run's keys on the national sums, plus ``geo_mape_mean``
        per region and ``coverage``), the tables (module docstring) and the refit's timings
        (None without a holdout).
    """
    weeks = int(prep.plan.model.holdout_weeks)
    if weeks == 0:
        return {"weeks": 0, "mape": {}, "mape_mean": None}, {}, None
    p = prep.panel.panel
    head = head_geo_panel(p, p.n_weeks - weeks)
    refit = fit_model(dataclasses.replace(prep, panel=dataclasses.replace(prep.panel, panel=head)),
                      say)  # fmt: skip
    table = geo_forecast_table(refit, p, prep.seed)
    base = geo_baselines(p, weeks)
    scores = geo_scores(table, base)
    nat = scores[scores["geo"] == NATIONAL]
    own = nat[nat["method"] == "omnimmm"]
    mape = {str(r["outcome"]): float(r["mape"]) for _, r in own.iterrows()}
    mape_mean = float(np.mean(list(mape.values())))
    by_method = nat[nat["method"] != "omnimmm"].groupby("method", sort=False)["mape"].mean()
    best = str(by_method.idxmin())
    regions = scores[(scores["geo"] != NATIONAL) & (scores["method"] == "omnimmm")]
    nat_table = table[table["geo"] == NATIONAL]
    inside = (nat_table["actual"] >= nat_table["low"]) & (nat_table["actual"] <= nat_table["high"])
    info = {
        "weeks": weeks,
        "mape": mape,
        "mape_mean": mape_mean,
        "baseline_mape_mean": {str(k): float(v) for k, v in by_method.items()},
        "best_baseline": best,
        "beats_baselines": bool(mape_mean < float(by_method.min())),
        "first_week": str(pd.Timestamp(nat_table["date"].min()).date()),
        "coverage": float(inside.mean()),
        "geo_mape_mean": {
            str(g): float(v) for g, v in regions.groupby("geo", sort=False)["mape"].mean().items()
        },
        "control_extrapolation": [],
    }
    variants = base[base["geo"] == NATIONAL].groupby("method", sort=False)["variant"].first()
    holdout_scores = nat.drop(columns=["geo", "coverage"]).assign(
        variant=lambda f: f["method"].map(variants).fillna("refit on earlier weeks")
    )[["method", "outcome", "variant", "mape", "smape", "rmse", "bias"]]
    tables = {
        "holdout": table,
        "baseline_forecasts": base[["geo", "date", "outcome", "method", "forecast"]],
        "holdout_scores": holdout_scores.reset_index(drop=True),
        "geo_holdout_scores": scores,
    }
    return info, tables, dict(getattr(refit, "timings", {}) or {})


def geo_holdout_stage(state: RunState) -> None:
    """Score the geo holdout into ``state.holdout`` (kept as is for a reused model)."""
    from omnimmm.run.stages.geo import fit_model

    if state.reused and state.holdout:
        return
    weeks = state.prep.plan.model.holdout_weeks
    if weeks and not can_forecast(state.model):
        # a model without a forecast cannot be scored on held-out weeks: say so, fit no refit
        state.say(f"warning: no holdout: {NO_FORECAST}")
        state.holdout = {"weeks": 0, "mape": {}, "mape_mean": None, "skipped": NO_FORECAST}
        return
    if weeks:
        state.say(f"holdout: refitting the geo model without the last {weeks} weeks, then "
                  "forecasting them per region")  # fmt: skip
    # the refit samples as the kept fit did (a remedy's settings, if one ran), its chains
    # starting where the kept fit's ended (omnimmm.mmm.warm)
    kept = state.attempts[-1]["settings"] if state.attempts else None
    info, tables, refit = geo_holdout(
        state.prep, lambda prep, say: fit_model(prep, say, kept, warm_from=state.model), state.say
    )
    state.holdout = info
    state.tables = {**state.tables, **tables}
    if refit is not None:
        state.fits["holdout_refit"] = refit
    if weeks:
        state.say(f"holdout MAPE {info['mape_mean']:.1%} (national sums; best baseline "
                  f"{info['best_baseline'].replace('_', ' ')} "
                  f"{info['baseline_mape_mean'][info['best_baseline']]:.1%})")  # fmt: skip
