"""The report stage: write the run's result and render its exports (recommendation.json,
report.html, report.xlsx) from it; rendering never computes anything new."""

from __future__ import annotations

from pathlib import Path

from omnimmm.report.result import RunResult, save_result
from omnimmm.run.context import Progress, RunState

__all__ = ["export", "export_stage"]


def export(result: RunResult, work: Path, say: Progress, out: Path | None = None) -> None:
    """Save ``result`` into ``work`` and, once it has a recommendation, render the three
    exports; messages name ``out``, the run directory the user asked for, not the hidden
    folder the run is built in."""
    from omnimmm.report import write_html, write_recommendation, write_xlsx

    save_result(result, work)
    if "allocation" in result.tables:
        say("writing recommendation.json, report.html and report.xlsx")
        write_recommendation(result, work / "recommendation.json")
        write_html(result, work / "report.html")
        write_xlsx(result, work / "report.xlsx")
        say(f"wrote recommendation.json, report.html and report.xlsx into {out or work}")


def export_stage(state: RunState) -> None:
    """Export ``state.result`` into the run's work folder (see :func:`export`)."""
    export(state.result, state.work, state.say, state.out)
