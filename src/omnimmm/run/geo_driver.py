"""``omnimmm run`` for a geo plan (``[data] geo``): the national run's directory, lock,
atomic swap and manifest around the geo stages (:mod:`omnimmm.run.stages.geo`).

Stages: write the plan, fit the geo model, gate, analyse, optimize across regions, export.
A geo run has no holdout refit and does not reuse an earlier fit yet; ``omnimmm report DIR``
renders a geo run again like any other.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, cast

from omnimmm.config import load_plan
from omnimmm.run.context import Progress, RunState, Stage, quiet
from omnimmm.run.drivers import RunSummary, _gate_brief, _manifest, _run_stages, write_plan_stage
from omnimmm.run.rundir import check_out, clean_stale, lock, staging, write_json
from omnimmm.run.stages.export import export_stage
from omnimmm.run.stages.geo import (
    geo_analysis_stage,
    geo_fit_stage,
    geo_gate_stage,
    geo_optimize_stage,
    prepare_geo,
)

__all__ = ["GEO_STAGES", "is_geo_plan", "run_geo"]

#: The stages of a geo run, in order.
GEO_STAGES: tuple[Stage, ...] = (
    write_plan_stage, geo_fit_stage, geo_gate_stage, geo_analysis_stage, geo_optimize_stage,
    export_stage,
)  # fmt: skip


def is_geo_plan(plan_path: str | Path) -> bool:
    """Whether the plan reads a long panel (``[data] geo``); raises PlanError on a bad plan."""
    return load_plan(plan_path).data.geo is not None


def run_geo(
    plan_path: str | Path,
    out: str | Path,
    *,
    seed: int | None = None,
    fast: bool = False,
    progress: Progress | None = None,
    progressbar: bool = False,
) -> RunSummary:
    """Run a geo plan into ``out`` (atomically): the national run's outputs plus the regions.

    Parameters and errors as :func:`omnimmm.run.drivers.run`.
    """
    say = progress or quiet
    t0 = time.perf_counter()
    out = Path(out)
    with lock(out, "run"):
        clean_stale(out)
        say(f"checking the plan {plan_path} and its geo panel")
        t_check = time.perf_counter()
        prep = prepare_geo(plan_path, seed=seed, fast=fast, progressbar=progressbar)
        previous = check_out(out)
        p = prep.panel.panel
        say(
            f"data ok: {p.n_geos} regions x {p.n_weeks} weeks, {len(p.channels)} channels "
            f"({sum(s == 'national' for s in p.scopes)} national), budget {prep.total:,.0f} over "
            f"{prep.plan.budget.horizon_weeks} weeks (feasible)"
        )
        with staging(out) as work:
            state = RunState(
                prep=cast(Any, prep), work=work, say=say, previous=previous, out=out.absolute()
            )
            state.seconds["validate"] = round(time.perf_counter() - t_check, 3)
            _run_stages(state, GEO_STAGES)
            stage_info = {
                "seconds": state.seconds,
                "fit_seconds": sum(state.seconds.get(k, 0.0) for k in ("geo_fit", "geo_gate")),
                "optimize_seconds": state.seconds.get("geo_optimize"),
                "reused": False,
                "fits": state.fits,
            }
            manifest = _manifest(state, stage_info, _gate_brief(state.result))
            write_json(work / "manifest.json", {**manifest, "geo": True})
    return RunSummary(out, state.result, False, time.perf_counter() - t0)
