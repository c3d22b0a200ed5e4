"""The quarterly run: plan -> validate -> pre-check -> fit -> gate -> holdout -> optimize -> report.

Every command of the CLI that touches a run directory goes through this module:

* :func:`run` does everything (``omnimmm run PLAN --out DIR``);
* :func:`fit` fits, gates and saves the model with its analysis (``omnimmm fit``);
* :func:`optimize` adds the budget recommendation to a fitted run (``omnimmm optimize DIR``);
* :func:`report` renders the exports again from the stored results (``omnimmm report DIR``).

Run directory
-------------
::

    DIR/recommendation.json   the DESIGN.md contract (stable keys)
    DIR/report.html           self-contained report (inline SVG, no network)
    DIR/report.xlsx           cover sheet and one sheet per table
    DIR/manifest.json         package versions, plan and data hashes, seeds, timings, gate
    DIR/plan.toml             the plan as used (data path absolute, every default written out)
    DIR/plan.original.toml    the plan file as given
    DIR/model/                the fitted MMM (omnimmm.mmm.save: NetCDF posterior, tables)
    DIR/result.json, DIR/tables/*.csv   the computed results the exports are rendered from

Writes are atomic: a run is built in a hidden sibling folder of DIR and renamed into place
only when everything succeeded, so a failed run leaves no DIR, or the previous DIR as it
was. A DIR that exists but is not an omnimmm run directory is never replaced.

Lifecycle: a plan with a ``[lifecycle]`` section also scores customers and, with a campaign
history, lets retention segments compete with media for the budget
(:mod:`omnimmm.pipeline_lifecycle`); only aggregates are written, never customer ids.

Reuse: when DIR already holds a run whose fit key (the plan's data, channels, model,
calibration, festivals and the sampler settings, including the seed) and data hash match,
its model and holdout are reused instead of refitting.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import platform
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pandas as pd

from omnimmm.config import Plan, dump_plan
from omnimmm.errors import DataError, PlanError
from omnimmm.pipeline_stages import analysis_tables as _analysis_tables
from omnimmm.pipeline_stages import optimize_stage as _optimize_stage
from omnimmm.pipeline_stages import precheck_messages as _precheck_messages
from omnimmm.pipeline_stages import retention_segments as _retention
from omnimmm.report.result import RunResult, load_result, save_result
from omnimmm.rundir import check_out as _check_out
from omnimmm.rundir import is_run_dir, versions
from omnimmm.rundir import read_manifest as _read_manifest
from omnimmm.rundir import sha256 as _sha256
from omnimmm.rundir import staging as _staging

__all__ = [
    "FAST_SAMPLER",
    "Prepared",
    "RunSummary",
    "fit",
    "is_run_dir",
    "optimize",
    "prepare",
    "report",
    "run",
]

#: Sampler settings of ``--fast`` (and ``OMNIMMM_FAST=1`` in the notebooks): a quick look
#: that will usually not pass the quality gate, so fast runs report the gate but do not
#: enforce it, and say so on the report's first screen.
FAST_SAMPLER = {"chains": 2, "draws": 200, "tune": 200}
RUN_FORMAT = 1
_VERSIONED = (
    "omnimmm", "numpy", "pandas", "scipy", "pymc", "pytensor", "nutpie", "arviz",
    "statsmodels", "lightgbm", "duckdb", "jinja2", "xlsxwriter",
)  # fmt: skip

Progress = Callable[[str], None]


def _quiet(_: str) -> None:
    return None


# --------------------------------------------------------------------------- preparation


@dataclass(frozen=True)
class Prepared:
    """A validated plan and panel, ready to fit: everything checked before any sampling.

    Attributes
    ----------
    plan : Plan
        The plan with ``seed`` replaced by the run's seed.
    plan_path : Path
    panel : omnimmm.data.schema.Panel
    precheck : omnimmm.mmm.precheck.PrecheckResult
    sampler : dict
        ``chains``, ``draws``, ``tune``, ``seed`` used for the MMM (and holdout refit).
    fast : bool
    current : pandas.Series
        Spend per channel over the last ``horizon_weeks`` weeks (the current allocation).
    total : float
        The budget: the plan's ``budget.total`` or, by default, the current total.
    fit_key : str
        Hash of everything that determines the fitted posterior apart from the data.
    """

    plan: Plan
    plan_path: Path
    panel: Any
    precheck: Any
    sampler: dict[str, int]
    fast: bool
    current: pd.Series
    total: float
    fit_key: str
    progressbar: bool = False

    @property
    def seed(self) -> int:
        """The run's seed (MMM sampler, holdout refit, optimizer starts)."""
        return int(self.plan.seed)

    def scenario(self, channels: list[str]) -> tuple[Any, Any]:
        """The optimizer's scenario (fixed budget) and constraints for ``channels``."""
        return _scenario(self.plan, channels, self.total)


def _sampler_settings(plan: Plan, fast: bool) -> dict[str, int]:
    if fast:
        return {**FAST_SAMPLER, "seed": int(plan.seed)}
    m = plan.model
    return {"chains": m.chains, "draws": m.draws, "tune": m.tune, "seed": int(plan.seed)}


def _fit_key(plan: Plan, sampler: dict[str, int]) -> str:
    doc = plan.resolved().to_toml_dict()
    keep = {k: doc.get(k) for k in ("data", "channels", "model", "calibration", "festivals")}
    keep["sampler"] = sampler
    text = json.dumps(keep, sort_keys=True, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _scenario(plan: Plan, channels: list[str], total: float) -> tuple[Any, Any]:
    from omnimmm.optimize import ChannelBounds, Constraints, FixedBudget

    b = plan.budget
    bounds = {
        name: ChannelBounds(min=cb.min, max=cb.max)
        for name, cb in b.channels.items()
        if cb.min is not None or cb.max is not None
    }
    locked = tuple(name for name in channels if name in b.channels and b.channels[name].locked)
    constraints = Constraints(
        bounds=bounds, max_change=b.max_change, online_share=b.online_share, locked=locked
    )
    return FixedBudget(total=total, objective=b.objective, margin=b.margin), constraints


def prepare(
    plan_path: str | Path, *, seed: int | None = None, fast: bool = False, progressbar: bool = False
) -> Prepared:
    """Read and check the plan and its data; fail in seconds on anything a fit cannot fix.

    Checks, in order: the plan (keys, values, names), the panel (columns, dates, spend),
    enough weeks for the horizon and the holdout, the pre-fit media checks (reported, not
    fatal), and the feasibility of the budget constraints against the current allocation.

    Raises
    ------
    PlanError, DataError, InfeasibleError
        With one paragraph that names the file, key, column or constraint at fault.
    """
    from omnimmm.config import load_plan
    from omnimmm.data import load_panel

    path = Path(plan_path)
    plan = load_plan(path)
    if seed is not None:
        if seed < 0:
            raise PlanError(f"--seed must be a non-negative integer, got {seed}")
        plan = plan.model_copy(update={"seed": int(seed)})
    panel = load_panel(plan)
    horizon = plan.budget.horizon_weeks
    holdout = plan.model.holdout_weeks
    if panel.n_weeks < horizon + holdout + 26:
        raise DataError(
            f"{panel.source}: {panel.n_weeks} weeks of data are too few for a "
            f"{horizon}-week budget horizon and a {holdout}-week holdout (at least "
            f"{horizon + holdout + 26} weeks are needed); use longer data or lower "
            "budget.horizon_weeks / model.holdout_weeks in the plan"
        )
    from omnimmm.mmm.precheck import precheck_spend
    from omnimmm.optimize import check_feasible

    checks = precheck_spend(panel.spend)
    channels = list(plan.channel_names)
    current = panel.spend[channels].iloc[-horizon:].sum()
    total = float(plan.budget.total) if plan.budget.total is not None else float(current.sum())
    if total <= 0:
        raise DataError(
            f"{panel.source}: no channel spent anything in the last {horizon} weeks, so there "
            "is no current allocation to start from; set budget.total in the plan"
        )
    scenario, constraints = _scenario(plan, channels, total)
    kinds = [plan.channel(c).kind for c in channels]
    check_feasible(channels, kinds, current.to_numpy(dtype=float), scenario, constraints)
    sampler = _sampler_settings(plan, fast)
    return Prepared(
        plan=plan,
        plan_path=path,
        panel=panel,
        precheck=checks,
        sampler=sampler,
        fast=fast,
        current=current,
        total=total,
        fit_key=_fit_key(plan, sampler),
        progressbar=progressbar,
    )


# --------------------------------------------------------------------------- run directory


def _write_manifest(work: Path, prep: Prepared, stages: dict[str, Any], extra: dict) -> None:
    manifest = {
        "kind": "omnimmm-run",
        "format_version": RUN_FORMAT,
        "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "versions": versions(_VERSIONED),
        "python": platform.python_version(),
        "plan": {"path": str(prep.plan_path.resolve()), "sha256": _sha256(prep.plan_path)},
        "data": {"path": str(prep.panel.source), "sha256": prep.panel.data_hash},
        "fit_key": prep.fit_key,
        "seeds": {"mmm": prep.seed, "holdout_refit": prep.seed, "optimizer": prep.seed},
        "sampler": prep.sampler,
        "fast": prep.fast,
        "stages": stages,
        **extra,
    }
    (work / "manifest.json").write_text(json.dumps(manifest, indent=2), encoding="utf-8")


def _write_plan(work: Path, prep: Prepared) -> None:
    dump_plan(prep.plan, work / "plan.toml")
    shutil.copyfile(prep.plan_path, work / "plan.original.toml")


# --------------------------------------------------------------------------- fitting


@dataclass
class _Fitted:
    model: Any
    reused: bool
    gate: dict[str, Any]
    holdout: dict[str, Any]
    tables: dict[str, pd.DataFrame]
    seconds: float
    #: Compile and sampling seconds of this run's fits (``mmm``, ``holdout_refit``); empty
    #: when the model was reused.
    timings: dict[str, Any]


def _gate_spec(prep: Prepared) -> Any:
    g = prep.plan.gate
    return SimpleNamespace(
        rhat_max=g.rhat_max,
        ess_bulk_min=g.ess_bulk_min,
        divergence_rate_max=g.divergence_rate_max,
        allow_failure=bool(g.allow_failure or prep.fast),
    )


def _can_reuse(previous: Path | None, prep: Prepared) -> bool:
    if previous is None or not (previous / "model").is_dir():
        return False
    try:
        manifest = _read_manifest(previous)
    except (OSError, ValueError):
        return False
    return (
        manifest.get("fit_key") == prep.fit_key
        and manifest.get("data", {}).get("sha256") == prep.panel.data_hash
        and (previous / "result.json").is_file()
    )


def _holdout(
    model: Any, prep: Prepared
) -> tuple[dict[str, Any], dict[str, pd.DataFrame], dict[str, Any] | None]:
    """Holdout forecast of the refitted model against the seasonal-naive and ETS baselines;
    also returns the refit's timings."""
    from omnimmm.mmm.baselines import accuracy, holdout_baselines, holdout_forecasts

    weeks = int(prep.plan.model.holdout_weeks)
    if weeks == 0:
        return {"weeks": 0, "mape": {}, "mape_mean": None}, {}, None
    ho = model.holdout(weeks)
    outcomes = prep.panel.outcomes[list(prep.plan.data.outcomes)].set_axis(prep.panel.dates)
    scores = holdout_baselines(outcomes, weeks)
    forecasts = holdout_forecasts(outcomes, weeks)
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
        **_holdout_explained(ho.model, prep.panel, weeks),
    }
    tables = {
        "holdout": table,
        "baseline_forecasts": forecasts[["date", "outcome", "method", "forecast"]],
        "holdout_scores": all_scores,
        "holdout_parts": _holdout_parts(ho.model, prep.panel),
    }
    return info, tables, ho.model.timings_


def _holdout_explained(refit: Any, panel: Any, weeks: int) -> dict[str, Any]:
    """The controls the holdout forecast reads outside their training range, as sentences."""
    from omnimmm.mmm.explain import (
        control_extrapolation,
        control_extrapolation_message,
        notable_extrapolation,
    )

    ext = notable_extrapolation(control_extrapolation(refit, panel.controls.iloc[-weeks:]))
    return {"control_extrapolation": [control_extrapolation_message(r) for _, r in ext.iterrows()]}


def _holdout_parts(refit: Any, panel: Any) -> pd.DataFrame:
    """The holdout forecast by part next to the same weeks a year earlier (empty if short)."""
    from omnimmm.mmm.explain import forecast_parts

    if refit.panel_.n_weeks < 52:
        return pd.DataFrame(columns=["outcome", "part", "year_before", "forecast", "change"])
    return forecast_parts(refit, panel).reset_index()


def _remedies(gate: Any, prep: Prepared) -> list[str]:
    out = list(gate.remedies)
    if prep.fast and not gate.passed:
        s = prep.plan.model
        out.insert(
            0,
            f"run without --fast: the plan's sampler settings ({s.chains} chains x {s.draws} "
            f"draws after {s.tune} tuning steps) instead of the quick {FAST_SAMPLER['chains']} "
            f"x {FAST_SAMPLER['draws']}",
        )
    return out


def _fit_stage(prep: Prepared, work: Path, previous: Path | None, say: Progress) -> _Fitted:
    from omnimmm.mmm import OmniMMM, load

    t0 = time.perf_counter()
    gate_spec = _gate_spec(prep)
    timings: dict[str, Any] = {}
    if _can_reuse(previous, prep):
        assert previous is not None
        say(f"reusing the fitted model in {previous} (plan and data hashes match)")
        if not (work / "model").exists():
            shutil.copytree(previous / "model", work / "model")
        model = load(work / "model")
        old = load_result(previous)
        holdout = old.holdout
        kept = ("holdout", "baseline_forecasts", "holdout_scores", "holdout_parts")
        tables = {k: old.tables[k] for k in kept if k in old.tables}
        reused = True
    else:
        s = prep.sampler
        say(
            f"fitting the MMM: {s['chains']} chains x {s['draws']} draws after {s['tune']} "
            f"tuning steps, seed {s['seed']} (this is the slow part)"
        )
        shutil.rmtree(work / "model", ignore_errors=True)
        model = OmniMMM(prep.plan, progressbar=prep.progressbar, **s).fit(prep.panel)
        model.save(work / "model")
        holdout, tables = None, {}
        reused = False
        timings["mmm"] = model.timings_
    d = model.diagnostics_
    say(
        f"convergence: max R-hat {d.rhat_max:.3f}, min bulk ESS {d.ess_bulk_min:.0f}, "
        f"{d.divergences} divergences"
    )
    gate = model.quality_gate(gate_spec)  # raises QualityGateError unless failure is allowed
    if holdout is None:
        weeks = prep.plan.model.holdout_weeks
        if weeks:
            say(f"holdout: refitting without the last {weeks} weeks, then forecasting them")
        holdout, tables, refit = _holdout(model, prep)
        if refit is not None:
            timings["holdout_refit"] = refit
        for line in holdout.get("control_extrapolation", []):
            say(f"warning: holdout {line}")
    gate_info = {
        "passed": bool(gate.passed),
        "allowed": bool(gate_spec.allow_failure),
        "fast": prep.fast,
        "failures": list(gate.failures),
        "remedies": _remedies(gate, prep),
        "message": gate.message,
        "thresholds": {
            "rhat_max": gate_spec.rhat_max,
            "ess_bulk_min": gate_spec.ess_bulk_min,
            "divergence_rate_max": gate_spec.divergence_rate_max,
        },
    }
    return _Fitted(model, reused, gate_info, holdout, tables, time.perf_counter() - t0, timings)


def _meta(prep: Prepared, model: Any) -> dict[str, Any]:
    plan, panel = prep.plan, prep.panel
    b = plan.budget
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
        "sampler": {**prep.sampler, "sampler": model.spec.sampler.sampler},
        "n_draws_analysis": int(model.response_.n_draws),
        "created": dt.datetime.now(dt.UTC).date().isoformat(),
    }


# --------------------------------------------------------------------------- exports


def _export(result: RunResult, work: Path, say: Progress) -> None:
    from omnimmm.report import write_html, write_recommendation, write_xlsx

    save_result(result, work)
    if "allocation" in result.tables:
        write_recommendation(result, work / "recommendation.json")
        write_html(result, work / "report.html")
        write_xlsx(result, work / "report.xlsx")
        say(f"wrote recommendation.json, report.html and report.xlsx into {work.name}")


@dataclass(frozen=True)
class RunSummary:
    """What a command did, for the closing summary."""

    out: Path
    result: RunResult
    reused: bool
    seconds: float

    def lines(self) -> list[str]:
        """A few plain lines: gate, holdout, uplift and the biggest moves."""
        from omnimmm.report.sections import summary_lines

        return summary_lines(self.result, self.out)


def _result_from(prep: Prepared, fitted: _Fitted) -> RunResult:
    d = fitted.model.diagnostics_.to_dict()
    d["holdout_mape"] = fitted.holdout.get("mape_mean")
    tables = {**_analysis_tables(fitted.model, prep), **fitted.tables}
    return RunResult(
        meta=_meta(prep, fitted.model),
        horizon_value={},
        diagnostics=d,
        gate=fitted.gate,
        holdout=fitted.holdout,
        optimizer={},
        precheck_messages=_precheck_messages(prep.precheck),
        tables=tables,
    )


def _lifecycle(prep: Prepared, say: Progress) -> Any:
    if prep.plan.lifecycle is None:
        return None
    from omnimmm.pipeline_lifecycle import run_lifecycle

    return run_lifecycle(prep.plan, prep.seed, say)


def _with_lifecycle(result: RunResult, lifecycle: Any) -> RunResult:
    if lifecycle is None:
        return result
    return replace(result, lifecycle=lifecycle.info, tables={**result.tables, **lifecycle.tables})


def _add_optimization(result: RunResult, opt: dict[str, Any]) -> RunResult:
    return replace(
        result,
        horizon_value=opt["horizon_value"],
        optimizer=opt["optimizer"],
        tables={**result.tables, **opt["tables"]},
    )


def run(
    plan_path: str | Path,
    out: str | Path,
    *,
    seed: int | None = None,
    fast: bool = False,
    progress: Progress | None = None,
    progressbar: bool = False,
) -> RunSummary:
    """Run the whole quarterly pipeline into ``out`` (atomically); see the module docstring.

    Raises
    ------
    PlanError, DataError, InfeasibleError, QualityGateError
        User errors; ``out`` is then left exactly as it was.
    """
    say = progress or _quiet
    t0 = time.perf_counter()
    out = Path(out)
    say(f"checking the plan {plan_path} and its data")
    prep = prepare(plan_path, seed=seed, fast=fast, progressbar=progressbar)
    previous = _check_out(out)
    say(
        f"data ok: {prep.panel.n_weeks} weeks, {len(prep.plan.channels)} channels, "
        f"budget {prep.total:,.0f} over {prep.plan.budget.horizon_weeks} weeks (feasible)"
    )
    with _staging(out) as work:
        _write_plan(work, prep)
        lifecycle = _lifecycle(prep, say)
        fitted = _fit_stage(prep, work, previous, say)
        result = _with_lifecycle(_result_from(prep, fitted), lifecycle)
        t_opt = time.perf_counter()
        opt = _optimize_stage(fitted.model, prep, say, _retention(result))
        result = _add_optimization(result, opt)
        t_opt = time.perf_counter() - t_opt
        _export(result, work, say)
        stages = {
            "fit_seconds": fitted.seconds,
            "optimize_seconds": t_opt,
            "reused": fitted.reused,
            "fits": fitted.timings,
        }
        _write_manifest(work, prep, stages, {"gate": _gate_brief(result)})
    return RunSummary(out, result, fitted.reused, time.perf_counter() - t0)


def _gate_brief(result: RunResult) -> dict[str, Any]:
    g = result.gate
    return {"passed": g["passed"], "allowed": g["allowed"], "failures": g["failures"]}


def fit(
    plan_path: str | Path,
    out: str | Path,
    *,
    seed: int | None = None,
    fast: bool = False,
    progress: Progress | None = None,
    progressbar: bool = False,
) -> RunSummary:
    """Fit, gate and save the model with its analysis into ``out``; no optimization."""
    say = progress or _quiet
    t0 = time.perf_counter()
    out = Path(out)
    say(f"checking the plan {plan_path} and its data")
    prep = prepare(plan_path, seed=seed, fast=fast, progressbar=progressbar)
    previous = _check_out(out)
    with _staging(out) as work:
        _write_plan(work, prep)
        lifecycle = _lifecycle(prep, say)
        fitted = _fit_stage(prep, work, previous, say)
        result = _with_lifecycle(_result_from(prep, fitted), lifecycle)
        save_result(result, work)
        stages = {"fit_seconds": fitted.seconds, "reused": fitted.reused, "fits": fitted.timings}
        _write_manifest(work, prep, stages, {"gate": _gate_brief(result)})
    return RunSummary(out, result, fitted.reused, time.perf_counter() - t0)


def _open_run(directory: Path) -> tuple[Prepared, dict[str, Any]]:
    if not is_run_dir(directory):
        raise PlanError(
            f"{directory}: not an omnimmm run directory (no manifest.json written by "
            "omnimmm run or omnimmm fit)"
        )
    manifest = _read_manifest(directory)
    prep = prepare(
        directory / "plan.toml", seed=manifest["seeds"]["mmm"], fast=bool(manifest["fast"])
    )
    if prep.panel.data_hash != manifest["data"]["sha256"]:
        raise DataError(
            f"{prep.panel.source}: the data changed since the model in {directory} was fitted "
            "(its sha256 differs); refit with omnimmm run or omnimmm fit"
        )
    if prep.fit_key != manifest["fit_key"]:
        raise PlanError(
            f"{directory / 'plan.toml'}: its data, channels, model, calibration or festivals "
            f"differ from those the model in {directory} was fitted with; only [budget] and "
            "[gate] can change without refitting. Run omnimmm run (or fit) instead"
        )
    # The stored plan has absolute paths, the original plan file is kept for the manifest.
    prep = replace(prep, plan_path=directory / "plan.original.toml")
    return prep, manifest


def optimize(directory: str | Path, *, progress: Progress | None = None) -> RunSummary:
    """Recommend the budget for a fitted run directory and write the exports (atomically)."""
    from omnimmm.mmm import load

    say = progress or _quiet
    t0 = time.perf_counter()
    directory = Path(directory)
    prep, manifest = _open_run(directory)
    with _staging(directory, seed_from=directory) as work:
        model = load(work / "model")
        result = load_result(work)
        fresh = {k: v for k, v in _meta(prep, model).items() if k != "plan_path"}
        result = replace(result, meta={**result.meta, **fresh})
        t_opt = time.perf_counter()
        opt = _optimize_stage(model, prep, say, _retention(result))
        result = _add_optimization(result, opt)
        _export(result, work, say)
        stages = {**manifest["stages"], "optimize_seconds": time.perf_counter() - t_opt}
        _write_manifest(work, prep, stages, {"gate": manifest["gate"]})
    return RunSummary(directory, result, True, time.perf_counter() - t0)


def report(directory: str | Path, *, progress: Progress | None = None) -> RunSummary:
    """Render report.html, report.xlsx and recommendation.json again from stored results."""
    say = progress or _quiet
    t0 = time.perf_counter()
    directory = Path(directory)
    if not is_run_dir(directory):
        raise PlanError(f"{directory}: not an omnimmm run directory (no run manifest.json)")
    result = load_result(directory)
    if "allocation" not in result.tables:
        raise PlanError(
            f"{directory}: has a fitted model but no recommendation yet; run "
            f"omnimmm optimize {directory} first"
        )
    with _staging(directory, seed_from=directory) as work:
        _export(result, work, say)
    return RunSummary(directory, result, True, time.perf_counter() - t0)
