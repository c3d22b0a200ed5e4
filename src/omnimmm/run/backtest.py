"""Rolling-origin backtest of the MMM's forecast: ``omnimmm backtest PLAN --out DIR``.

For each of ``K`` origins (the last ``K * H`` weeks cut into ``K`` consecutive windows of
``H`` weeks), the model is refitted on the weeks before the origin with the plan's priors
and sampler settings and forecasts the ``H`` weeks from the origin on from their actual
spend and controls. Seasonal-naive and ETS forecasts (:mod:`omnimmm.mmm.baselines`) are
fitted on the same weeks. The hand-written log density is compiled once per machine, so
the ``K`` refits cost ``K`` samplings, not ``K`` compilations; and every origin after the
first starts warm (:mod:`omnimmm.mmm.warm`): at the previous origin's posterior draws and
step size, with a quarter of the tuning steps.

DIR holds (DESIGN.md, "Forecast tables"):

- ``tables/backtest.csv``: ``origin, date, outcome, actual, mean, low, high``; low/high the
  90% predictive interval (observation noise included);
- ``tables/backtest_baselines.csv``: ``origin, date, outcome, method, forecast``;
- ``tables/control_extrapolation.csv``: controls outside their training range per origin;
- ``backtest.json``: MAPE, sMAPE, bias and coverage per origin and overall, next to the
  baselines' MAPE, sMAPE and bias on the same weeks, and each refit's convergence (a refit
  that fails the quality gate is refitted with safer sampler settings up to ``[gate]
  remedies`` times, :mod:`omnimmm.run.remedies`; ``fits[].remedies`` lists those tries and
  ``fits[].gate_passed`` the verdict of the kept one: a backtest reports the gate, it does
  not stop on it);
- ``report.html``: one chart per origin and outcome, actual against the forecast band and
  the baselines.

DIR is built in a hidden sibling folder and renamed into place at the end.

A geo plan (``[data] geo``) refits the geo model at each origin and forecasts per region
(:mod:`omnimmm.run.geo_backtest`): the tables gain a ``geo`` column whose ``"national"`` rows
are the sums over regions; ``backtest.json`` scores those rows under the same keys and adds
``geos`` (each region's scores over all origins). A national plan's outputs are unchanged.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from omnimmm.errors import DataError, PlanError
from omnimmm.run.context import Progress, quiet

__all__ = ["BacktestSummary", "backtest", "backtest_windows", "score_backtest"]

#: Weeks of history a refit needs at the earliest origin: a full season for the seasonal
#: naive forecast plus half a year for the model's own yearly terms.
MIN_TRAIN_WEEKS = 78


def backtest_windows(n_weeks: int, origins: int, horizon: int) -> list[int]:
    """Row index of each origin: ``origins`` consecutive ``horizon``-week windows at the end.

    Raises
    ------
    PlanError
        If ``origins`` or ``horizon`` is below 1 or the first origin leaves fewer than
        :data:`MIN_TRAIN_WEEKS` training weeks.
    """
    if origins < 1 or horizon < 1:
        raise PlanError(f"--origins and --horizon must be >= 1, got {origins} and {horizon}")
    first = n_weeks - origins * horizon
    if first < MIN_TRAIN_WEEKS:
        most = max((n_weeks - MIN_TRAIN_WEEKS) // horizon, 0)
        raise PlanError(
            f"--origins {origins} x --horizon {horizon} leaves {first} training weeks before "
            f"the first origin of {n_weeks} weeks; at least {MIN_TRAIN_WEEKS} are needed "
            f"(at most {most} origins of {horizon} weeks fit this panel)"
        )
    return [first + k * horizon for k in range(origins)]


def _coverage(g: pd.DataFrame) -> float:
    inside = (g["actual"] >= g["low"]) & (g["actual"] <= g["high"])
    return float(inside.mean())


def score_backtest(table: pd.DataFrame, baselines: pd.DataFrame) -> dict[str, Any]:
    """Accuracy of the backtest per origin and overall, the model next to the baselines.

    Parameters
    ----------
    table : pandas.DataFrame
        ``origin, date, outcome, actual, mean, low, high``.
    baselines : pandas.DataFrame
        ``origin, date, outcome, method, forecast`` on the same weeks.

    Returns
    -------
    dict
        ``origins``: one entry per origin; ``overall``: over every forecast week;
        each with ``omnimmm`` (``mape``, ``smape``, ``bias``, ``coverage``) and the
        baselines' ``mape``, ``smape``, ``bias`` by method, plus ``best_baseline`` and
        ``improvement`` (1 - model MAPE / best baseline MAPE).
    """
    from omnimmm.mmm.baselines import accuracy

    def block(t: pd.DataFrame, b: pd.DataFrame) -> dict[str, Any]:
        own = accuracy(t["actual"], t["mean"])
        out: dict[str, Any] = {
            "weeks": int(t["date"].nunique()),
            "omnimmm": {
                "mape": own["mape"],
                "smape": own["smape"],
                "bias": own["bias"],
                "coverage": _coverage(t),
            },
            "baselines": {},
        }
        merged = b.merge(
            t[["origin", "date", "outcome", "actual"]], on=["origin", "date", "outcome"]
        )
        for method, g in merged.groupby("method", sort=False):
            acc = accuracy(g["actual"], g["forecast"])
            out["baselines"][str(method)] = {k: acc[k] for k in ("mape", "smape", "bias")}
        if out["baselines"]:
            best = min(out["baselines"], key=lambda m: out["baselines"][m]["mape"])
            out["best_baseline"] = best
            out["improvement"] = 1.0 - own["mape"] / out["baselines"][best]["mape"]
        return out

    per_origin = []
    for origin, t in table.groupby("origin", sort=True):
        entry = block(t, baselines[baselines["origin"] == origin])
        per_origin.append({"origin": str(pd.Timestamp(str(origin)).date()), **entry})
    return {"origins": per_origin, "overall": block(table, baselines)}


@dataclass(frozen=True)
class BacktestSummary:
    """What ``omnimmm backtest`` wrote and its headline figures."""

    out: Path
    scores: dict[str, Any]
    seconds: float

    def lines(self) -> list[str]:
        """A few plain lines for the terminal."""
        o = self.scores["overall"]
        own = o["omnimmm"]
        lines = [
            f"backtest over {len(self.scores['origins'])} origins: MAPE {own['mape']:.1%}, "
            f"sMAPE {own['smape']:.1%}, bias {own['bias']:+.1%}, 90% interval coverage "
            f"{own['coverage']:.0%}"
        ]
        for m, s in o["baselines"].items():
            lines.append(f"  {m.replace('_', ' ')}: MAPE {s['mape']:.1%}, bias {s['bias']:+.1%}")
        if "improvement" in o:
            lines.append(
                f"  vs the better baseline ({o['best_baseline'].replace('_', ' ')}): "
                f"{o['improvement']:+.1%} relative MAPE improvement"
            )
        for r in self.scores.get("control_warnings", []):
            lines.append(f"  warning: {r}")
        lines.append(f"wrote {self.out / 'backtest.json'}, {self.out / 'tables'}, "
                     f"{self.out / 'report.html'}")  # fmt: skip
        return lines


def backtest(
    plan_path: str | Path,
    out: str | Path,
    *,
    origins: int = 4,
    horizon: int = 13,
    seed: int | None = None,
    fast: bool = False,
    progress: Progress | None = None,
    progressbar: bool = False,
) -> BacktestSummary:
    """Refit at ``origins`` rolling origins and forecast ``horizon`` weeks from each.

    Parameters
    ----------
    plan_path : str or Path
        The plan (TOML); its data, model and sampler settings are used as they are.
    out : str or Path
        Directory to write (atomically); an existing non-empty directory that is not a
        backtest written by this function is never overwritten.
    origins, horizon : int
        Number of origins and weeks forecast from each.
    seed : int, optional
        Sampler seed (default: the plan's).
    fast : bool
        Quick exploratory fits (the pipeline's fast sampler settings).
    progress : callable, optional
        Receives one line per step.
    progressbar : bool
        Show a progress bar over the origins (a terminal).

    Returns
    -------
    BacktestSummary
    """
    from omnimmm.run.rundir import clean_stale, lock

    say = progress or quiet
    t0 = time.perf_counter()
    out = Path(out)
    with lock(out, "backtest"):
        clean_stale(out)
        return _backtest(plan_path, out, origins, horizon, seed, fast, say, progressbar, t0)


def _backtest(
    plan_path: str | Path,
    out: Path,
    origins: int,
    horizon: int,
    seed: int | None,
    fast: bool,
    say: Callable[[str], None],
    progressbar: bool,
    t0: float,
) -> BacktestSummary:
    from omnimmm.config import load_plan
    from omnimmm.run.geo_backtest import geo_origins, national_part, region_scores
    from omnimmm.run.rundir import staging
    from omnimmm.run.stages.validate import prepare

    _check_out(out)
    if load_plan(plan_path).data.geo is not None:  # a long panel: the geo model per region
        from omnimmm.run.stages.geo import prepare_geo

        gprep = prepare_geo(plan_path, seed=seed, fast=fast)
        starts = backtest_windows(gprep.panel.n_weeks, origins, horizon)
        table, baselines, fits = geo_origins(gprep, starts, horizon, say)
        controls = _empty_controls()
        scores = score_backtest(national_part(table), national_part(baselines))
        scores["geos"] = region_scores(table, baselines, score_backtest)
        s: dict[str, Any] = dict(gprep.sampler)
    else:
        prep = prepare(plan_path, seed=seed, fast=fast)
        starts = backtest_windows(prep.panel.n_weeks, origins, horizon)
        table, baselines, controls, fits = _origins(prep, starts, horizon, say, progressbar)
        scores = score_backtest(table, baselines)
        s = dict(prep.sampler)
    geo = "geo" in table.columns
    shown = (national_part(table), national_part(baselines)) if geo else (table, baselines)
    scores["fits"] = fits
    scores["settings"] = {"origins": origins, "horizon": horizon, **s, "fast": fast,
                          "plan": str(Path(plan_path)), **({"geo": True} if geo else {})}  # fmt: skip
    scores["control_warnings"] = _control_warnings(controls)
    scores["kind"] = "omnimmm-backtest"
    with staging(out) as work:
        tables = work / "tables"
        tables.mkdir()
        _dated(table).to_csv(tables / "backtest.csv", index=False)
        _dated(baselines).to_csv(tables / "backtest_baselines.csv", index=False)
        _dated(controls).to_csv(tables / "control_extrapolation.csv", index=False)
        (work / "backtest.json").write_text(
            json.dumps(scores, indent=2, allow_nan=False, default=_json_default) + "\n",
            encoding="utf-8",
        )
        from omnimmm.run.backtest_report import render_backtest

        (work / "report.html").write_text(
            render_backtest(*shown, scores, controls), encoding="utf-8"
        )
    return BacktestSummary(out=out, scores=scores, seconds=time.perf_counter() - t0)


def _origins(
    prep: Any, starts: list[int], horizon: int, say: Callable[[str], None], progressbar: bool
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, list[dict[str, Any]]]:
    """Refit the national MMM at each origin (warm after the first) and forecast from it:
    the forecast table, the baselines, the controls read outside their range, the fits."""
    from omnimmm.mmm import OmniMMM
    from omnimmm.mmm.analysis import forecast
    from omnimmm.mmm.baselines import holdout_forecasts
    from omnimmm.mmm.explain import control_extrapolation
    from omnimmm.mmm.warm import warm_tune
    from omnimmm.run.fit_rows import fit_row
    from omnimmm.run.remedies import fit_with_remedies
    from omnimmm.run.stages.gate import gate_spec

    panel = prep.panel
    origins = len(starts)
    outcomes = panel.outcomes[list(prep.plan.data.outcomes)].set_axis(panel.dates)
    s = prep.sampler
    gate = gate_spec(prep)
    say(f"backtest: {origins} origins x {horizon} weeks, each a refit of {s['chains']} chains "
        f"x {s['draws']} draws after {s['tune']} tuning steps ({warm_tune(s['tune'])}, started "
        f"warm, after the first origin), seed {s['seed']}")  # fmt: skip
    frames, base_frames, ctrl_frames, fits = [], [], [], []
    warm = None
    base = {**s, "target_accept": prep.plan.model.target_accept}
    bar = _bar(origins) if progressbar else None
    try:
        for k, start in enumerate(starts):
            origin = pd.Timestamp(panel.dates[start])
            say(f"origin {k + 1}/{origins}: refit on {start} weeks to {panel.dates[start - 1].date()}, "
                f"forecast {origin.date()} on")  # fmt: skip
            head = _head(panel, start)

            # Each origin after the first starts where the previous one ended and tunes
            # briefly (omnimmm.mmm.warm): K refits cost about one fit plus K - 1 shorter ones.
            # A remedy's refit (other sampler settings) starts cold.
            def refit(settings: dict[str, Any], head: Any = head, warm: Any = warm) -> Any:
                start = warm if settings == base else None
                return OmniMMM(prep.plan, **settings).fit(head, warm_start=start)

            model, attempts = fit_with_remedies(
                refit,
                base,
                gate,
                0 if gate.allow_failure else prep.plan.gate.remedies,
                say,
            )
            warm = model.warm_start_
            window = slice(start, start + horizon)
            fc = forecast(model, panel.spend.iloc[window], panel.controls.iloc[window])
            fc["actual"] = np.concatenate(
                [outcomes[o].iloc[window].to_numpy(dtype=float) for o in model.response_.outcomes]
            )
            fc.insert(0, "origin", origin)
            frames.append(fc[["origin", "date", "outcome", "actual", "mean", "low", "high"]])
            bl = holdout_forecasts(outcomes.iloc[: start + horizon], horizon)
            bl.insert(0, "origin", origin)
            base_frames.append(bl[["origin", "date", "outcome", "method", "forecast"]])
            ext = control_extrapolation(model, panel.controls.iloc[window])
            if not ext.empty:
                ext.insert(0, "origin", origin)
                ctrl_frames.append(ext)
            fits.append(fit_row(origin, start, model.diagnostics_, model.timings_,
                                attempts[-1]["passed"], attempts[1:], s["tune"]))  # fmt: skip
            if bar is not None:
                bar.advance(bar.task_ids[0])
    finally:
        if bar is not None:
            bar.stop()
    table = pd.concat(frames, ignore_index=True)
    baselines = pd.concat(base_frames, ignore_index=True)
    controls = pd.concat(ctrl_frames, ignore_index=True) if ctrl_frames else _empty_controls()
    return table, baselines, controls, fits


def _check_out(out: Path) -> None:
    if out.exists() and not out.is_dir():
        raise PlanError(f"--out {out}: exists and is not a directory; choose another path")
    if out.is_dir() and any(out.iterdir()):
        try:
            kind = json.loads((out / "backtest.json").read_text(encoding="utf-8")).get("kind")
        except (OSError, ValueError):
            kind = None
        if kind != "omnimmm-backtest":
            raise PlanError(
                f"--out {out}: the directory exists, is not empty and is not an omnimmm "
                "backtest; it is never overwritten. Choose a new or empty directory"
            )


def _head(panel: Any, n: int) -> Any:
    from omnimmm.mmm.analysis import head_panel

    if n < 1:
        raise DataError("a backtest origin needs at least one training week")
    return head_panel(panel, n)


def _dated(frame: pd.DataFrame) -> pd.DataFrame:
    out = frame.copy()
    for col in ("origin", "date"):
        if col in out.columns:
            out[col] = pd.to_datetime(out[col]).dt.strftime("%Y-%m-%d")
    return out


def _empty_controls() -> pd.DataFrame:
    return pd.DataFrame(
        columns=["origin", "control", "outcome", "weeks_outside", "max_sd_outside",
                 "train_min", "train_max", "forecast_min", "forecast_max",
                 "effect_extrapolated", "effect_share"]
    )  # fmt: skip


def _control_warnings(controls: pd.DataFrame) -> list[str]:
    from omnimmm.mmm.explain import control_extrapolation_message, notable_extrapolation

    return [
        f"origin {pd.Timestamp(r['origin']).date()}: {control_extrapolation_message(r)}"
        for _, r in notable_extrapolation(controls).iterrows()
    ]


def _json_default(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, pd.Timestamp):
        return str(value.date())
    raise TypeError(f"cannot write {type(value).__name__} to JSON")


def _bar(total: int) -> Any:
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

    bar = Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=Console(stderr=True),
        transient=False,
    )
    bar.add_task("backtest refits", total=total)
    bar.start()
    return bar
