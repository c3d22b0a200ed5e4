"""The regions of a geo run in the exports: ``recommendation.json``'s ``geos`` key, the
report's region x channel ROI table, gains and losses by region and small multiples of the
regional fit, and the workbook's sheets (:data:`GEO_SHEETS`).

Pure functions of a :class:`~omnimmm.report.result.RunResult` whose tables include
``geo_roi``, ``geo_allocation``, ``geo_channel_allocation`` and ``geo_fit`` (written by
:mod:`omnimmm.run.stages.geo`); a national run has none of them and gets ``None``/nothing.
Region and channel names are user strings: the template autoescapes them and the charts
escape their labels (:mod:`omnimmm.report.svg`).
"""

from __future__ import annotations

import math
from typing import Any

import pandas as pd

from omnimmm.report import svg
from omnimmm.report.result import RunResult

__all__ = [
    "GEO_SHEETS",
    "geo_recommendation",
    "geo_section",
    "geo_summary_lines",
    "is_geo",
    "national_rows",
]

#: Workbook sheet name -> (table, description), appended to the national sheets.
GEO_SHEETS: dict[str, tuple[str, str]] = {
    "Regions": ("geo_allocation", "Which regions gain and lose: spend and horizon value"),
    # a geo run's "mROI history" sheet holds next quarter's mROI at current spend
    "Region x channel plan": (
        "geo_channel_allocation",
        "Current vs recommended spend and ROI per region and channel",
    ),
    "Region x channel ROI": ("geo_roi", "ROI per region and channel over the data (90%)"),
    "Budget lines": ("geo_budget_lines", "The optimizer's variables, bounds and mROI"),
    "Regional fit": ("geo_fit", "Actual vs fitted per week, region and outcome (90% band)"),
    "Regional holdout": (
        "geo_holdout_scores",
        "Holdout MAPE, sMAPE, bias and 90% coverage per region, model and baselines",
    ),
    "Geo diagnostics": ("geo_diagnostics", "Convergence of the geo model"),
}


def national_rows(frame: pd.DataFrame) -> pd.DataFrame:
    """A forecast table's national rows: a geo run's have ``geo`` = ``"national"`` (the sums
    over regions, :data:`omnimmm.data.geo_read.NATIONAL_ROW`); a national run's are all."""
    from omnimmm.data.geo_read import NATIONAL_ROW

    if frame.empty or "geo" not in frame.columns:
        return frame
    return frame[frame["geo"].astype(str) == NATIONAL_ROW]


def is_geo(result: RunResult) -> bool:
    """Whether ``result`` comes from a geo run."""
    return "geo_roi" in result.tables


def _num(x: Any) -> float | None:
    try:
        v = float(x)
    except (TypeError, ValueError):
        return None
    return v if math.isfinite(v) else None


def _order(result: RunResult, frame: pd.DataFrame) -> list[str]:
    geos = result.meta.get("geos") or list(dict.fromkeys(frame["geo"].astype(str)))
    return [str(g) for g in geos]


def geo_recommendation(result: RunResult) -> list[dict[str, Any]]:
    """``geos: [{"name", "channels": [{"name", "roi": {"mean", "low", "high"},
    "current_spend", "recommended_spend"}]}]`` (DESIGN.md), regions and channels in data order;
    each cell also has ``roi_by_outcome`` ``{outcome: {"mean", "low", "high"}}`` when the
    model gives regional ROI per outcome.

    A national channel's spend in a region is its share of the national buy. Each region also
    gets its totals, ``current_spend`` and ``recommended_spend``, and ``horizon_value_added``
    ``{"mean", "low", "high"}`` (its horizon value at the recommended minus the current
    allocation): which regions gain and lose.
    """
    totals = {str(r["geo"]): r for _, r in result.table("geo_allocation").iterrows()}
    cells = result.table("geo_channel_allocation")
    if cells.empty:
        cells = result.table("geo_roi").assign(current_spend=math.nan, recommended_spend=math.nan)
    channels = [c["name"] for c in result.channels]
    outcomes = list(result.outcomes) or [""]
    by = {(str(r["geo"]), str(r["channel"])): r for _, r in cells.iterrows()}
    out = []
    for g in _order(result, cells):
        rows = []
        for c in channels:
            r = by.get((g, c))
            if r is None:
                continue
            cell: dict[str, Any] = {
                "name": c,
                "roi": {k: _num(r.get(k)) for k in ("mean", "low", "high")},
                "current_spend": _num(r.get("current_spend")),
                "recommended_spend": _num(r.get("recommended_spend")),
            }
            if f"{outcomes[0]}_mean" in r.index:  # the model's ROI per outcome in the region
                cell["roi_by_outcome"] = {
                    o: {k: _num(r.get(f"{o}_{k}")) for k in ("mean", "low", "high")}
                    for o in outcomes
                }
            rows.append(cell)
        entry: dict[str, Any] = {"name": g, "channels": rows}
        t = totals.get(g)
        if t is not None:
            entry["current_spend"] = _num(t["current_spend"])
            entry["recommended_spend"] = _num(t["recommended_spend"])
            entry["horizon_value_added"] = {
                k: _num(t[f"uplift_{k}"]) for k in ("mean", "low", "high")
            }
        out.append(entry)
    return out


def _money(x: Any) -> str:
    v = _num(x)
    return f"{v:,.0f}" if v is not None else "n/a"


def _ratio(x: Any) -> str:
    v = _num(x)
    return f"{v:.2f}" if v is not None else "n/a"


def _pct(x: Any) -> str:
    v = _num(x)
    return f"{100 * v:+.1f}%" if v is not None else "n/a"


def _share(x: Any) -> str:
    v = _num(x)
    return f"{100 * v:.1f}%" if v is not None else "n/a"


def _roi_matrix(result: RunResult) -> dict[str, Any]:
    roi = result.table("geo_roi")
    channels = [c["name"] for c in result.channels]
    cell = {(str(r["geo"]), str(r["channel"])): r for _, r in roi.iterrows()}
    rows = []
    for g in _order(result, roi):
        cells = []
        for c in channels:
            r = cell.get((g, c))
            if r is None or _num(r.get("mean")) is None:
                cells.append({"roi": "n/a", "ci": "", "low": False, "high": False})
                continue
            cells.append(
                {
                    "roi": _ratio(r["mean"]),
                    "ci": f"[{_ratio(r['low'])}, {_ratio(r['high'])}]",
                    "low": bool(_num(r["high"]) is not None and float(r["high"]) < 1.0),
                    "high": bool(_num(r["low"]) is not None and float(r["low"]) > 1.0),
                }
            )
        rows.append({"geo": g, "cells": cells})
    scopes = {c["name"]: c.get("scope", "local") for c in result.channels}
    return {"channels": [{"name": c, "scope": scopes[c]} for c in channels], "rows": rows}


def _moves(result: RunResult) -> list[dict[str, Any]]:
    alloc = result.table("geo_allocation")
    return [
        {
            "geo": str(r["geo"]),
            "current": _money(r["current_spend"]),
            "recommended": _money(r["recommended_spend"]),
            "change": _money(r["change"]),
            "change_pct": _pct(r["change_pct"]),
            "up": bool(float(r["change"]) >= 0),
            "uplift": _money(r["uplift_mean"]),
            "uplift_ci": f"[{_money(r['uplift_low'])}, {_money(r['uplift_high'])}]",
        }
        for _, r in alloc.iterrows()
    ]


def _fit_charts(result: RunResult) -> list[dict[str, Any]]:
    fit = result.table("geo_fit")
    if fit.empty:
        return []
    out = []
    for g in _order(result, fit):
        for o in result.outcomes:
            f = fit[(fit["geo"].astype(str) == g) & (fit["outcome"] == o)]
            if f.empty:
                continue
            chart = svg.line_chart(
                f["date"],
                [
                    svg.Series("actual", f["actual"].tolist(), "#222", width=1.1),
                    svg.Series(
                        "fitted, 90%",
                        f["mean"].tolist(),
                        svg.ACCENT,
                        f["low"].tolist(),
                        f["high"].tolist(),
                        width=1.4,
                    ),
                ],  # fmt: skip
                title=f"{g}: {o}",
                height=170,
                width=380,
            )
            out.append({"geo": g, "outcome": o, "chart": chart})
    return out


def _holdout(result: RunResult) -> list[dict[str, Any]]:
    """Per region (the national sums first): holdout MAPE of the model and the baselines
    (mean over outcomes) and the share of held-out weeks inside the model's 90% interval."""
    scores = result.table("geo_holdout_scores")
    if scores.empty:
        return []
    mape = scores.pivot_table(index="geo", columns="method", values="mape", aggfunc="mean")
    cover = scores[scores["method"] == "omnimmm"].groupby("geo")["coverage"].mean()
    rows = []
    for g in dict.fromkeys(scores["geo"].astype(str)):
        m = {str(k): _num(v) for k, v in mape.loc[g].items()}
        base = {k: v for k, v in m.items() if k != "omnimmm" and v is not None}
        own = m.get("omnimmm")
        rows.append({
            "geo": g,
            "model": _share(own),
            "coverage": _share(cover.get(g)),
            "baselines": ", ".join(f"{k.replace('_', ' ')} {_share(v)}" for k, v in base.items()),
            "beats": own is not None and bool(base) and own < min(base.values()),
        })  # fmt: skip
    return rows


def geo_section(result: RunResult) -> dict[str, Any] | None:
    """What the report's regions section shows, formatted (``None`` for a national run)."""
    if not is_geo(result):
        return None
    return {
        "n_geos": len(result.meta.get("geos") or []),
        "roi": _roi_matrix(result),
        "moves": _moves(result),
        "fit": _fit_charts(result),
        "holdout": _holdout(result),
    }


def geo_summary_lines(result: RunResult, n: int = 3) -> list[str]:
    """The console's closing lines of a geo run: the regions that gain and lose most."""
    alloc = result.table("geo_allocation")
    if alloc.empty:
        return []
    alloc = alloc.sort_values("change", ascending=False, kind="stable")
    up = [r for _, r in alloc.iterrows() if float(r["change"]) > 0][:n]
    down = [r for _, r in alloc[::-1].iterrows() if float(r["change"]) < 0][:n]

    def part(rows: list[Any]) -> str:
        return ", ".join(
            f"{r['geo']} {_money(r['change'])} ({_pct(r['change_pct'])})" for r in rows
        )

    lines = [f"regions ({len(alloc)}): spend moves {'into ' + part(up) if up else 'nowhere'}"]
    if down:
        lines.append(f"  out of {part(down)}")
    return lines
