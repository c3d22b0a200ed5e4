"""recommendation.json: exactly the DESIGN.md shape, with stable keys in a stable order."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from omnimmm.report.geo import geo_recommendation, is_geo
from omnimmm.report.result import RunResult

__all__ = ["build_recommendation", "write_recommendation"]


def _num(x: Any) -> float | None:
    try:
        v = float(x)
    except (TypeError, ValueError):
        return None
    return v if math.isfinite(v) else None


def _ival(row: Any, prefix: str = "") -> dict[str, float | None]:
    return {k: _num(row[f"{prefix}{k}"]) for k in ("mean", "low", "high")}


def build_recommendation(result: RunResult) -> dict[str, Any]:
    """The DESIGN.md contract from a run result.

    ``roi`` and ``roi_by_outcome`` cover every week of the data; ``mroi`` is the horizon
    mROI at the current allocation (next 1% of next quarter's spend, tail included);
    ``diagnostics.holdout_mape`` is the mean over outcomes of the holdout MAPE (a fraction).
    """
    alloc = result.table("allocation").set_index("name")
    roi = result.table("roi").set_index("channel")
    channels = []
    for c in result.channels:
        a, r = alloc.loc[c["name"]], roi.loc[c["name"]]
        channels.append(
            {
                "name": c["name"],
                "kind": c["kind"],
                "current_spend": _num(a["current"]),
                "recommended_spend": _num(a["recommended"]),
                "roi": _ival(r),
                "roi_by_outcome": {o: _ival(r, f"{o}_") for o in result.outcomes},
                "mroi": _ival(a, "mroi_current_"),
            }
        )
    hv = result.horizon_value
    d = result.diagnostics
    doc = {
        "channels": channels,
        "horizon_value": {
            "current": {k: _num(hv["current"][k]) for k in ("mean", "low", "high")},
            "recommended": {k: _num(hv["recommended"][k]) for k in ("mean", "low", "high")},
        },
        "diagnostics": {
            "rhat_max": _num(d.get("rhat_max")),
            "ess_bulk_min": _num(d.get("ess_bulk_min")),
            "divergences": int(d.get("divergences") or 0),
            "holdout_mape": _num(d.get("holdout_mape")),
        },
        "plan": {
            "horizon_weeks": int(result.meta["horizon_weeks"]),
            "total": _num(result.meta["total"]),
            "max_change": _num(result.meta["max_change"]),
        },
    }
    if is_geo(result):  # a geo run: the regions (DESIGN.md "Geo panels")
        doc["geos"] = geo_recommendation(result)
    return doc


def write_recommendation(result: RunResult, path: str | Path) -> Path:
    """Write :func:`build_recommendation` as indented UTF-8 JSON."""
    out = Path(path)
    text = json.dumps(build_recommendation(result), indent=2, ensure_ascii=False)
    out.write_text(text + "\n", encoding="utf-8")
    return out
