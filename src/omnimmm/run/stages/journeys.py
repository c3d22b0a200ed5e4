"""The journeys stage: with a ``[journeys]`` plan section, the run also attributes
conversions to touches (``journeys/attribution/``) and builds the monthly KPI board
(``journeys/board/``) inside the run directory, and puts the journey model's return next to
the MMM's online ROI (triangulation) and the board's review flags into the report."""

from __future__ import annotations

from dataclasses import replace

import pandas as pd

from omnimmm.run.context import RunState

__all__ = ["journeys_stage"]

_TRIANGULATION = ["channel", "mmm_online_roi", "mmm_low", "mmm_high", "journey_roi",
                  "cost_per_incremental_conversion", "verdict"]  # fmt: skip


def journeys_stage(state: RunState) -> None:
    """Run the plan's journeys part into the work folder; nothing without ``[journeys]``.

    Needs the MMM's recommendation in ``state.result`` (it runs after the optimize stage) for
    the triangulation; adds the tables ``journeys_triangulation`` and ``journeys_flags`` and
    ``meta["journeys"]`` (the attribution method and the pages written, relative to DIR).
    """
    plan = state.prep.plan
    if plan.journeys is None:
        return
    from omnimmm.journeys.stage import journeys_stage as run_journeys
    from omnimmm.report.jsonout import build_recommendation

    result = state.result
    channels = build_recommendation(result)["channels"] if "allocation" in result.tables else None
    summary = run_journeys(plan, state.work, state.say, mmm_channels=channels, seed=state.prep.seed)
    tri = pd.DataFrame(summary["triangulation"], columns=_TRIANGULATION)
    flags = pd.DataFrame(summary["flags"])
    pages = sorted(
        str(p.relative_to(state.work)) for p in (state.work / "journeys").rglob("*.html")
    )
    info = {"method": summary["attribution"].get("method"), "pages": pages,
            "flags": len(flags)}  # fmt: skip
    state.result = replace(
        result,
        meta={**result.meta, "journeys": info},
        tables={**result.tables, "journeys_triangulation": tri, "journeys_flags": flags},
    )
