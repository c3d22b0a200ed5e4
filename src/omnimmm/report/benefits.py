"""Report sections of member benefits: the points programme and campaign incrementality.

Pure functions from a :class:`~omnimmm.report.result.RunResult` to rows the HTML template
lays out; every value is formatted here and escaped by the template.
"""

from __future__ import annotations

import math
from typing import Any

from omnimmm.report.result import RunResult

__all__ = ["campaign_rows", "points_rows"]


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


def _interval(mean: Any, low: Any, high: Any) -> str:
    m, lo, hi = (_num2(v) for v in (mean, low, high))
    return "n/a" if not m else f"{m} [{lo}, {hi}]"


def _num2(x: Any) -> str:
    try:
        v = float(x)
    except (TypeError, ValueError):
        return ""
    return f"{v:,.2f}" if math.isfinite(v) else ""


def campaign_rows(result: RunResult) -> list[dict[str, str]]:
    """Campaign types with incremental spend and visits per treated customer (90%), the
    naive difference and the placebo; empty without campaigns in the plan."""
    table = result.table("lifecycle_campaigns")
    rows = []
    for _, r in table.iterrows():
        lo, hi = r.get("placebo_low"), r.get("placebo_high")
        covers = ""
        if lo is not None and hi is not None and _num2(lo) and _num2(hi):
            covers = "yes" if float(lo) <= 0 <= float(hi) else "no"
        rows.append(
            {
                "type": str(r["type"]),
                "campaigns": f"{int(r['campaigns'])}",
                "treated": f"{int(r['treated']):,}",
                "method": str(r["method"]),
                "spend": _interval(r["spend_mean"], r["spend_low"], r["spend_high"]),
                "visits": _interval(r["visits_mean"], r["visits_low"], r["visits_high"]),
                "naive": _num2(r["naive_mean"]) or "n/a",
                "placebo": _interval(r.get("placebo_mean"), lo, hi),
                "placebo_covers_zero": covers,
            }
        )
    return rows
