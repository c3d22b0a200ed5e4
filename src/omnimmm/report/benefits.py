"""Report sections of member benefits: the points programme and campaign incrementality.

Pure functions from a :class:`~omnimmm.report.result.RunResult` to rows the HTML template
lays out; every value is formatted here and escaped by the template.
"""

from __future__ import annotations

import math
from typing import Any

from omnimmm.report.result import RunResult

__all__ = ["points_rows"]


def _num(x: Any, share: bool) -> str:
    try:
        v = float(x)
    except (TypeError, ValueError):
        return ""
    if not math.isfinite(v):
        return ""
    return f"{100 * v:.1f}%" if share else f"{v:,.0f}"


def points_rows(result: RunResult) -> list[dict[str, str]]:
    """The points figures (balance, breakage, next-quarter redemptions, cross-channel use)
    with their 90% intervals; empty without points in the transactions."""
    table = result.table("lifecycle_points")
    rows = []
    for _, r in table.iterrows():
        figure = str(r["figure"])
        share = "share" in figure or "breakage (" in figure or "realised" in figure
        rows.append(
            {
                "figure": figure,
                "mean": _num(r["mean"], share) or "n/a",
                "interval": (
                    f"[{_num(r['low'], share)}, {_num(r['high'], share)}]"
                    if _num(r["low"], share)
                    else ""
                ),
            }
        )
    return rows
