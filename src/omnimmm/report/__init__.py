"""Exports of a run: result -> sections -> report.html, report.xlsx, recommendation.json.

Nothing here fits or optimizes: :class:`~omnimmm.report.result.RunResult` holds the computed
answers, :mod:`~omnimmm.report.sections` turns them into formatted sections and inline SVG
charts, and the writers lay them out.
"""

from omnimmm.report.html import render_html, write_html
from omnimmm.report.jsonout import build_recommendation, write_recommendation
from omnimmm.report.result import RunResult, load_result, save_result
from omnimmm.report.xlsx import write_xlsx

__all__ = [
    "RunResult",
    "build_recommendation",
    "load_result",
    "render_html",
    "save_result",
    "write_html",
    "write_recommendation",
    "write_xlsx",
]
