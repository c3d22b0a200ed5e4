"""The commands that write a run directory, each a list of stages over one
:class:`~omnimmm.run.context.RunState`:

* :func:`run` does everything (``omnimmm run PLAN --out DIR``): validate and pre-check, then
  lifecycle, fit (or reuse), gate, holdout, analysis, optimize, report;
* :func:`fit` stops before the optimizer (``omnimmm fit``);
* :func:`optimize` adds the budget recommendation to a fitted run (``omnimmm optimize DIR``);
* :func:`report` renders the exports again from the stored results (``omnimmm report DIR``).

Run directory
-------------
::

    DIR/recommendation.json   the DESIGN.md contract (stable keys)
    DIR/report.html           self-contained report (inline SVG, no network)
    DIR/report.xlsx           cover sheet and one sheet per table
    DIR/manifest.json         package versions, plan, data and model hashes, seeds, stage timings
    DIR/plan.toml             the plan as used (data path absolute, every default written out)
    DIR/plan.original.toml    the plan file as given
    DIR/model/                the fitted MMM (omnimmm.mmm.load: NetCDF posterior, tables)
    DIR/result.json, DIR/tables/*.csv   the computed results the exports are rendered from

One writer at a time and atomic writes (:mod:`omnimmm.run.rundir`): a run is built in a hidden
sibling folder and swapped onto DIR only when everything succeeded, so a failed or killed run
leaves no DIR, or the previous DIR byte for byte as it was. A DIR that exists but is not an
omnimmm run directory is never replaced. Reuse of an earlier fit: :mod:`omnimmm.run.reuse`.

A geo plan (``[data] geo``, a long panel) runs the same commands through the geo stages
(:mod:`omnimmm.run.stages.geo`, :mod:`omnimmm.run.stages.geo_holdout`): the same directory,
lock, swap, manifest (plus ``"geo": true``) and reuse rules, its model under ``DIR/model/``
(:func:`omnimmm.mmm.geo.load_geo`).

A new command is a new list of stages (and perhaps a new stage module), not a new branch here.
"""

from __future__ import annotations

import datetime as dt
import platform
import shutil
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from omnimmm.config import Plan, dump_plan
from omnimmm.data.io import file_sha256
from omnimmm.errors import DataError, PlanError, UsageError
from omnimmm.report.result import RunResult, load_result
from omnimmm.run.context import Prepared, Progress, RunState, Stage, quiet
from omnimmm.run.reuse import code_versions, verify_model
from omnimmm.run.rundir import (
    check_out,
    clean_stale,
    is_run_dir,
    lock,
    read_manifest,
    staging,
    versions,
    write_json,
)
from omnimmm.run.stages.analysis import analysis_stage, result_stage, run_meta
from omnimmm.run.stages.export import export, export_stage
from omnimmm.run.stages.fit import fit_stage
from omnimmm.run.stages.gate import gate_stage
from omnimmm.run.stages.geo import (
    geo_analysis_stage,
    geo_fit_stage,
    geo_gate_stage,
    geo_meta,
    prepare_geo,
)
from omnimmm.run.stages.geo_holdout import geo_holdout_stage
from omnimmm.run.stages.geo_optimize import geo_optimize_stage
from omnimmm.run.stages.holdout import holdout_stage
from omnimmm.run.stages.journeys import journeys_stage
from omnimmm.run.stages.lifecycle import lifecycle_stage
from omnimmm.run.stages.optimize import optimize_stage
from omnimmm.run.stages.validate import prepare
from omnimmm.run.timing import process_seconds, profile

__all__ = ["RunSummary", "fit", "optimize", "report", "run"]

RUN_FORMAT = 1
_VERSIONED = (
    "omnimmm", "numpy", "pandas", "scipy", "pymc", "pytensor", "nutpie", "arviz",
    "statsmodels", "lightgbm", "duckdb", "jinja2", "xlsxwriter",
)  # fmt: skip


@dataclass(frozen=True)
class RunSummary:
    """What a command did, for the closing summary.

    Attributes
    ----------
    out : Path
        The run directory written.
    result : RunResult
    reused : bool
        Whether the model was reused rather than fitted.
    seconds : float
        Wall time of the command.
    """

    out: Path
    result: RunResult
    reused: bool
    seconds: float

    def lines(self) -> list[str]:
        """A few plain lines: gate, holdout, uplift and the biggest moves."""
        from omnimmm.report.sections import summary_lines

        return summary_lines(self.result, self.out)


def plan_as_used(prep: Prepared) -> Plan:
    """The plan as the run used it: every default written out (adstock, l_max, format) and
    the sampler settings actually used (--fast's, not the plan's)."""
    used = {k: prep.sampler[k] for k in ("chains", "draws", "tune")}
    plan = prep.plan.resolved()
    return plan.model_copy(update={"model": plan.model.model_copy(update=used)})


def write_plan_stage(state: RunState) -> None:
    """Write the plan as used and the plan file as given into the run."""
    dump_plan(plan_as_used(state.prep), state.work / "plan.toml")
    shutil.copyfile(state.prep.plan_path, state.work / "plan.original.toml")


#: The stages of each command that fits, in order.
#: The analysis comes before the holdout: it runs while the holdout refit samples.
RUN_STAGES: tuple[Stage, ...] = (
    write_plan_stage, lifecycle_stage, fit_stage, gate_stage, analysis_stage, holdout_stage,
    result_stage, optimize_stage, journeys_stage, export_stage,
)  # fmt: skip
FIT_STAGES: tuple[Stage, ...] = (
    write_plan_stage, lifecycle_stage, fit_stage, gate_stage, analysis_stage, holdout_stage,
    result_stage, export_stage,
)  # fmt: skip


#: The same commands on a geo plan (``[data] geo``).
GEO_RUN_STAGES: tuple[Stage, ...] = (
    write_plan_stage, geo_fit_stage, geo_gate_stage, geo_holdout_stage, geo_analysis_stage,
    geo_optimize_stage, export_stage,
)  # fmt: skip
GEO_FIT_STAGES: tuple[Stage, ...] = (
    write_plan_stage, geo_fit_stage, geo_gate_stage, geo_holdout_stage, geo_analysis_stage,
    export_stage,
)  # fmt: skip


def _stages(command: str, geo: bool) -> tuple[Stage, ...]:
    """The stages of ``command`` for a national or a geo plan (looked up when called)."""
    table = {
        ("run", False): RUN_STAGES, ("fit", False): FIT_STAGES,
        ("run", True): GEO_RUN_STAGES, ("fit", True): GEO_FIT_STAGES,
        ("optimize", False): (optimize_stage, export_stage),
        ("optimize", True): (geo_optimize_stage, export_stage),
    }  # fmt: skip
    return table[command, geo]


def _stage_name(stage: Stage) -> str:
    # a geo stage reports under the national stage's name (fit, gate, holdout, ...)
    return getattr(stage, "__name__", "stage").removesuffix("_stage").removeprefix("geo_")


def _is_geo(plan: Plan) -> bool:
    return plan.data.geo is not None


def _prepare(
    plan_path: str | Path, *, seed: int | None, fast: bool, progressbar: bool = False
) -> Any:
    """The national :func:`~omnimmm.run.stages.validate.prepare`, or for a geo plan
    :func:`~omnimmm.run.stages.geo.prepare_geo` (each reads and checks the plan itself)."""
    from omnimmm.config import load_plan

    geo = _is_geo(load_plan(plan_path))
    return (prepare_geo if geo else prepare)(
        plan_path, seed=seed, fast=fast, progressbar=progressbar
    )


def _data_line(prep: Any) -> str:
    b = f"budget {prep.total:,.0f} over {prep.plan.budget.horizon_weeks} weeks (feasible)"
    if not _is_geo(prep.plan):
        return f"data ok: {prep.panel.n_weeks} weeks, {len(prep.plan.channels)} channels, {b}"
    p = prep.panel.panel
    n_nat = sum(s == "national" for s in p.scopes)
    from omnimmm.run.stages.geo import week_convention

    return (
        f"data ok: {p.n_geos} regions x {p.n_weeks} weeks, {len(p.channels)} channels "
        f"({n_nat} national), {b}; {week_convention(prep)}"
    )


def _run_stages(state: RunState, stages: Sequence[Stage]) -> None:
    try:
        for stage in stages:
            t0, c0 = time.perf_counter(), time.process_time()
            stage(state)
            state.seconds[_stage_name(stage)] = round(time.perf_counter() - t0, 3)
            state.cpu_seconds[_stage_name(stage)] = round(time.process_time() - c0, 3)
    finally:
        if state.pending_holdout is not None:  # a background refit nothing will read
            state.pending_holdout.cancel()
            state.pending_holdout = None


def _manifest(state: RunState, stages: dict[str, Any], gate: dict[str, Any]) -> dict[str, Any]:
    prep = state.prep
    geo = _is_geo(prep.plan)
    return {
        "kind": "omnimmm-run",
        "format_version": RUN_FORMAT,
        "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "versions": versions(_VERSIONED),
        "code": code_versions(geo),
        "python": platform.python_version(),
        "plan": {"path": str(prep.plan_path.resolve()), "sha256": file_sha256(prep.plan_path)},
        "data": {"path": str(prep.panel.source), "sha256": prep.panel.data_hash},
        "fit_key": prep.fit_key,
        "model_files": state.model_files,
        "seeds": {"mmm": prep.seed, "holdout_refit": prep.seed, "optimizer": prep.seed},
        "sampler": prep.sampler,
        # what the fit changed in the plan's priors to suit the data's units (mmm/units.py)
        "prior_notes": list(getattr(state.model, "prior_notes_", ())),
        "fast": prep.fast,
        "stages": stages,
        "gate": gate,
        # each fit when the gate failed and remedies were tried (omnimmm.run.remedies)
        "remedies": {"limit": prep.plan.gate.remedies, "attempts": state.attempts},
        **({"geo": True} if geo else {}),
    }


def _gate_brief(result: RunResult) -> dict[str, Any]:
    g = result.gate
    return {"passed": g["passed"], "allowed": g["allowed"], "failures": g["failures"]}


def _fit_run(
    command: str,
    plan_path: str | Path,
    out: str | Path,
    seed: int | None,
    fast: bool,
    progress: Progress | None,
    progressbar: bool,
) -> RunSummary:
    say = progress or quiet
    t0, cpu0 = time.perf_counter(), time.process_time()
    started = process_seconds()  # the interpreter, imports and command line before this
    out = Path(out)
    with lock(out, command):
        clean_stale(out)
        say(f"checking the plan {plan_path} and its data")
        t_check = time.perf_counter()
        prep = _prepare(plan_path, seed=seed, fast=fast, progressbar=progressbar)
        previous = check_out(out)
        if command == "run":
            say(_data_line(prep))
        stages = _stages(command, _is_geo(prep.plan))
        with staging(out) as work:
            state = RunState(prep=prep, work=work, say=say, previous=previous, out=out.absolute())
            state.seconds["validate"] = round(time.perf_counter() - t_check, 3)
            state.cpu_seconds.update(start=cpu0, validate=time.process_time() - cpu0)
            _run_stages(state, stages)
            wall = time.perf_counter() - t0
            stage_info: dict[str, Any] = {
                "seconds": state.seconds,
                "fit_seconds": sum(state.seconds.get(k, 0.0) for k in ("fit", "gate", "holdout")),
                "optimize_seconds": state.seconds.get("optimize"),
                "reused": state.reused,
                "fits": state.fits,
                "start_seconds": None if started is None else round(started, 3),
                "wall_seconds": round(wall, 3),
                "profile": profile(state.seconds, state.fits, started, wall, state.cpu_seconds),
            }
            write_json(
                work / "manifest.json", _manifest(state, stage_info, _gate_brief(state.result))
            )
    return RunSummary(out, state.result, state.reused, time.perf_counter() - t0)


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

    Parameters
    ----------
    plan_path
        The plan file.
    out
        The run directory.
    seed
        Overrides the plan's seed (sampler, holdout refit, optimizer).
    fast
        Quick sampler settings; the gate is reported, not enforced.
    progress
        Called with each progress message.
    progressbar
        Draw the sampler's progress bar.

    Returns
    -------
    RunSummary

    Raises
    ------
    PlanError, DataError, InfeasibleError, QualityGateError, RunDirBusyError
        User errors; ``out`` is then left exactly as it was.
    """
    return _fit_run("run", plan_path, out, seed, fast, progress, progressbar)


def fit(
    plan_path: str | Path,
    out: str | Path,
    *,
    seed: int | None = None,
    fast: bool = False,
    progress: Progress | None = None,
    progressbar: bool = False,
) -> RunSummary:
    """Fit, gate and save the model with its analysis into ``out``; no optimization.

    Parameters and errors as :func:`run`.
    """
    return _fit_run("fit", plan_path, out, seed, fast, progress, progressbar)


def _open_run(directory: Path) -> tuple[Any, dict[str, Any]]:
    if not is_run_dir(directory):
        raise UsageError(
            f"{directory}: not an omnimmm run directory (no manifest.json written by "
            "omnimmm run or omnimmm fit)"
        )
    manifest = read_manifest(directory)
    problem = verify_model(directory, manifest)
    if problem is not None:
        raise DataError(
            f"{problem}; the model in {directory} cannot be trusted. Refit it with "
            f"omnimmm run (or fit) --out {directory}"
        )
    prep = _prepare(
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
    """Recommend the budget for a fitted run directory and write the exports (atomically).

    Raises
    ------
    PlanError, DataError, InfeasibleError, RunDirBusyError
        Not a run directory, a model or data that changed, a budget no allocation meets.
    """
    say = progress or quiet
    t0 = time.perf_counter()
    directory = Path(directory)
    with lock(directory, "optimize"):
        clean_stale(directory)
        prep, manifest = _open_run(directory)
        with staging(directory, seed_from=directory) as work:
            state = RunState(
                prep=prep, work=work, say=say, previous=directory, out=directory, reused=True
            )
            geo = _is_geo(prep.plan)
            state.model = _load_model(work / "model", geo)
            state.model_files = manifest["model_files"]
            state.attempts = manifest.get("remedies", {}).get("attempts", [])
            result = load_result(work)
            meta = geo_meta(prep, state.model) if geo else run_meta(prep, state.model)
            fresh = {k: v for k, v in meta.items() if k != "plan_path"}
            state.result = replace(result, meta={**result.meta, **fresh})
            _run_stages(state, _stages("optimize", geo))
            stages = {
                **manifest["stages"],
                "optimize_seconds": state.seconds["optimize"],
                "seconds": {**manifest["stages"].get("seconds", {}), **state.seconds},
            }
            write_json(work / "manifest.json", _manifest(state, stages, manifest["gate"]))
    return RunSummary(directory, state.result, True, time.perf_counter() - t0)


def _load_model(model_dir: Path, geo: bool) -> Any:
    """The fitted model a run saved: the national MMM or the geo model."""
    if geo:
        from omnimmm.mmm.geo import load_geo

        return load_geo(model_dir)
    from omnimmm.mmm import load

    return load(model_dir)


def report(directory: str | Path, *, progress: Progress | None = None) -> RunSummary:
    """Render report.html, report.xlsx and recommendation.json again from stored results.

    Raises
    ------
    PlanError, RunDirBusyError
        Not a run directory, or one without a recommendation yet.
    """
    say = progress or quiet
    t0 = time.perf_counter()
    directory = Path(directory)
    with lock(directory, "report"):
        clean_stale(directory)
        if not is_run_dir(directory):
            raise UsageError(f"{directory}: not an omnimmm run directory (no run manifest.json)")
        result = load_result(directory)
        if "allocation" not in result.tables:
            raise UsageError(
                f"{directory}: has a fitted model but no recommendation yet; run "
                f"omnimmm optimize {directory} first"
            )
        with staging(directory, seed_from=directory) as work:
            export(result, work, say, directory)
    return RunSummary(directory, result, True, time.perf_counter() - t0)
