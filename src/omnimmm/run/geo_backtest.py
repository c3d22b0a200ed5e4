"""``omnimmm backtest`` on a geo plan (``[data] geo``): the national backtest's origins,
directory and scores, with the geo model refitted at each origin and its forecast made per
region (:mod:`omnimmm.run.stages.geo_holdout` for the forecast and the baselines).

DIR holds what the national backtest writes (:mod:`omnimmm.run.backtest`), with a ``geo``
column in the tables:

- ``tables/backtest.csv``: ``origin, geo, date, outcome, actual, mean, low, high``; the
  rows with ``geo = "national"`` are the sums over regions (their interval is the interval
  of the summed predictive draws) and alone form the DESIGN.md forecast table;
- ``tables/backtest_baselines.csv``: ``origin, geo, date, outcome, method, forecast``;
  each baseline fitted per region and outcome, the national one the sum of the regions';
- ``backtest.json``: ``origins`` and ``overall`` scored on the national rows (the national
  backtest's keys), plus ``geos``: the same scores over all origins for each region;
  ``fits[]`` per origin. Each origin's refit is checked as the run's geo fit is: one that
  fails the quality gate is refitted up to ``[gate] remedies`` times
  (:func:`omnimmm.run.stages.geo.fit_checked`); ``fits[].remedies`` lists those tries,
  ``fits[].gate_passed`` the kept one's verdict (reported, not enforced, as in the national
  backtest). The first origin fits as the run does (a pilot chooses the regional ROI's
  form; the plan's settings; cold chains). Each later origin starts from the previous
  origin's kept settings and form, so a remedy the previous origin needed is not first
  tried in vain and there is no second pilot, with its chains where the previous origin's
  ended and a quarter of the tuning steps (:mod:`omnimmm.mmm.warm`; ``fits[].warm_start``
  and ``fits[].tune`` say so);
- ``report.html``: the national sums' charts and scores.

The geo model has no control extrapolation report yet (``control_extrapolation.csv`` is
written empty, with its columns).
"""

from __future__ import annotations

import dataclasses
from typing import Any

import pandas as pd

from omnimmm.data.geo_read import NATIONAL_ROW
from omnimmm.run.context import Progress
from omnimmm.run.fit_rows import fit_row

__all__ = ["geo_origins", "national_part", "region_scores"]


def geo_origins(
    prep: Any, starts: list[int], horizon: int, say: Progress
) -> tuple[pd.DataFrame, pd.DataFrame, list[dict[str, Any]]]:
    """Refit the geo model at each origin and forecast ``horizon`` weeks from it.

    Parameters
    ----------
    prep : omnimmm.run.stages.geo.GeoPrepared
    starts : list of int
        Week index of each origin (:func:`omnimmm.run.backtest.backtest_windows`).
    horizon : int
    say : callable

    Returns
    -------
    tuple
        The forecast table (``origin, geo, date, outcome, actual, mean, low, high``), the
        baselines (``origin, geo, date, outcome, method, forecast``) and one convergence
        record per origin (the national backtest's ``fits[]`` keys).
    """
    from omnimmm.errors import PlanError
    from omnimmm.mmm.warm import warm_tune
    from omnimmm.run.stages import geo as geo_stages
    from omnimmm.run.stages.geo_holdout import (
        NO_FORECAST,
        can_forecast,
        geo_baselines,
        geo_forecast_table,
        head_geo_panel,
    )

    if not can_forecast():
        raise PlanError(f"omnimmm backtest on a geo plan: {NO_FORECAST}")
    p = prep.panel.panel
    s = prep.sampler
    say(f"backtest: {len(starts)} origins x {horizon} weeks, each a refit of the geo model "
        f"({p.n_geos} regions) with {s['chains']} chains x {s['draws']} draws after {s['tune']} "
        f"tuning steps ({warm_tune(s['tune'])}, started warm, after the first origin), "
        f"seed {s['seed']}")  # fmt: skip
    frames, base_frames, fits = [], [], []
    model, kept = None, None
    for k, start in enumerate(starts):
        origin = pd.Timestamp(p.dates[start])
        say(f"origin {k + 1}/{len(starts)}: refit on {start} weeks to "
            f"{p.dates[start - 1].date()}, forecast {origin.date()} on")  # fmt: skip
        head = dataclasses.replace(prep.panel, panel=head_geo_panel(p, start))
        # after the first origin: the previous origin's kept settings and form (no pilot),
        # its chains' ends as starting points, a quarter of the tuning (omnimmm.mmm.warm)
        model, attempts, _ = geo_stages.fit_checked(
            dataclasses.replace(prep, panel=head), say, start=kept, warm_from=model
        )
        kept = attempts[-1]["settings"]
        upto = head_geo_panel(p, start + horizon)
        fc = geo_forecast_table(model, upto, prep.seed)
        fc.insert(0, "origin", origin)
        frames.append(fc)
        bl = geo_baselines(upto, horizon)
        bl.insert(0, "origin", origin)
        base_frames.append(bl[["origin", "geo", "date", "outcome", "method", "forecast"]])
        d = geo_stages.geo_diagnostics(model)
        timings = dict(getattr(model, "timings", {}) or {})
        fits.append(fit_row(origin, start, d, timings, attempts[-1]["passed"], attempts[1:],
                            s["tune"]))  # fmt: skip
    return (
        pd.concat(frames, ignore_index=True),
        pd.concat(base_frames, ignore_index=True),
        fits,
    )


def national_part(frame: pd.DataFrame) -> pd.DataFrame:
    """The national rows of a geo forecast table, without the ``geo`` column."""
    return frame[frame["geo"] == NATIONAL_ROW].drop(columns="geo")


def region_scores(
    table: pd.DataFrame, baselines: pd.DataFrame, score: Any
) -> dict[str, dict[str, Any]]:
    """``score(table, baselines)["overall"]`` of each region over all origins."""
    regions = table[table["geo"] != NATIONAL_ROW]
    return {
        str(g): score(t.drop(columns="geo"),
                      baselines[baselines["geo"] == g].drop(columns="geo"))["overall"]
        for g, t in regions.groupby("geo", sort=False)
    }  # fmt: skip
