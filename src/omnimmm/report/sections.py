"""Result -> report sections: pure functions that pick, order and format what a reader sees.

Every number shown in the HTML report and the XLSX cover goes through the formatters here,
so tests can format a value from ``recommendation.json`` the same way and find it.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from markupsafe import Markup

from omnimmm.report import svg
from omnimmm.report.benefits import campaign_rows, points_rows
from omnimmm.report.geo import geo_summary_lines, national_rows
from omnimmm.report.result import RunResult

__all__ = [
    "ASSUMPTIONS",
    "DEFINITIONS",
    "build_sections",
    "fmt_money",
    "fmt_pct",
    "fmt_ratio",
    "summary_lines",
]

#: The DESIGN.md definitions, stated in every report.
DEFINITIONS: tuple[tuple[str, str], ...] = (
    (
        "Contribution",
        "Contribution of channel c to outcome o over a window: predicted o with actual "
        "spend minus predicted o with c's spend set to zero over the window (carryover "
        "included).",
    ),
    (
        "ROI",
        "Contribution summed over all outcomes divided by c's spend in the window; "
        "per-outcome ROI likewise. Posterior mean and 90% credible interval.",
    ),
    ("mROI", "Extra revenue from the next 1% of c's spend divided by that 1%."),
    (
        "Horizon value",
        "Expected incremental revenue, all outcomes, caused by the horizon's spend, "
        "including its carryover after the horizon, given the adstock already inherited "
        "from history. Each channel's weekly spend follows its last-quarter weekly pattern "
        "scaled to its total (flat where that was all zero).",
    ),
    (
        "Current allocation",
        "Each channel's spend over the last horizon_weeks of data.",
    ),
)

ASSUMPTIONS: tuple[str, ...] = (
    "ROI and the decomposition cover every week of the data; the ROI of a channel counts "
    "revenue in all outcomes (online and store), so media that lift the other channel's "
    "sales (cross effects) are credited with them.",
    "mROI in the recommendation table is measured on the planning horizon (next "
    "quarter, tail included) at the current and at the recommended allocation; the mROI "
    "by outcome is measured on the history.",
    "Response curves vary one channel's quarterly spend with every other channel at its "
    "current spend.",
    "Intervals are 90% credible intervals (5% and 95% posterior quantiles).",
    "Baseline revenue (trend, seasonality, festivals, controls) is assumed to continue; "
    "the recommendation is about media, not about the baseline.",
    "The holdout refits the model without the last weeks and forecasts them from actual "
    "spend and controls; seasonal-naive and ETS forecasts of the same weeks are the bar "
    "it has to clear.",
)


# --------------------------------------------------------------------------- formatting


def _finite(x: Any) -> bool:
    try:
        return x is not None and math.isfinite(float(x))
    except (TypeError, ValueError):
        return False


def fmt_money(x: Any) -> str:
    """Amount with thousands separators and no decimals: ``1,234,567``."""
    return f"{float(x):,.0f}" if _finite(x) else "n/a"


def fmt_ratio(x: Any) -> str:
    """ROI-like ratio with two decimals: ``2.35``."""
    return f"{float(x):.2f}" if _finite(x) else "n/a"


def fmt_pct(x: Any, signed: bool = False) -> str:
    """A fraction as a percentage with one decimal: ``12.3%`` (``+12.3%`` if signed)."""
    if not _finite(x):
        return "n/a"
    return f"{100 * float(x):+.1f}%" if signed else f"{100 * float(x):.1f}%"


def fmt_interval(d: dict[str, Any], fmt: Any = fmt_money) -> str:
    """``mean [low, high]``."""
    return f"{fmt(d['mean'])} [{fmt(d['low'])}, {fmt(d['high'])}]"


# --------------------------------------------------------------------------- sections


def _names(result: RunResult) -> list[str]:
    return [c["name"] for c in result.channels]


def _colors(result: RunResult) -> dict[str, str]:
    return {n: svg.PALETTE[i % len(svg.PALETTE)] for i, n in enumerate(_names(result))}


def _outcome_label(o: str) -> str:
    return o.replace("_", " ")


def _float(x: Any) -> float:
    """A table cell as a float (pandas' cell types are too wide for mypy to narrow)."""
    return float(x)


def allocation_rows(result: RunResult) -> list[dict[str, Any]]:
    """Current vs recommended spend per channel with horizon mROI at both points."""
    alloc = result.table("allocation").set_index("name")
    rows = []
    for c in result.channels:
        r = alloc.loc[c["name"]]
        cur, rec = _float(r["current"]), _float(r["recommended"])
        rows.append(
            {
                "name": c["name"],
                "kind": c["kind"],
                "current": fmt_money(cur),
                "recommended": fmt_money(rec),
                "change": fmt_money(rec - cur),
                "change_pct": fmt_pct((rec - cur) / cur, signed=True) if cur > 0 else "new",
                "up": rec >= cur,
                "mroi_current": fmt_ratio(r["mroi_current_mean"]),
                "mroi_current_ci": f"[{fmt_ratio(r['mroi_current_low'])}, "
                f"{fmt_ratio(r['mroi_current_high'])}]",
                "mroi_recommended": fmt_ratio(r["mroi_recommended_mean"]),
                "bounds": f"{fmt_money(r['lower'])} to {fmt_money(r['upper'])}",
            }
        )
    return rows


def roi_rows(result: RunResult) -> list[dict[str, Any]]:
    """ROI (all outcomes and per outcome) and historical mROI per channel, formatted."""
    roi = result.table("roi").set_index("channel")
    mroi = result.table("mroi").set_index("channel")
    rows = []
    for c in result.channels:
        r, m = roi.loc[c["name"]], mroi.loc[c["name"]]
        row = {
            "name": c["name"],
            "kind": c["kind"],
            "spend": fmt_money(r["spend"]),
            "contribution": fmt_money(r["contribution"]),
            "roi": fmt_ratio(r["mean"]),
            "roi_ci": f"[{fmt_ratio(r['low'])}, {fmt_ratio(r['high'])}]",
            "by_outcome": [
                {
                    "outcome": o,
                    "roi": fmt_ratio(r[f"{o}_mean"]),
                    "ci": f"[{fmt_ratio(r[f'{o}_low'])}, {fmt_ratio(r[f'{o}_high'])}]",
                    "cross": _is_cross(c["kind"], o),
                }
                for o in result.outcomes
            ],
            "mroi": fmt_ratio(m["mean"]),
            "mroi_ci": f"[{fmt_ratio(m['low'])}, {fmt_ratio(m['high'])}]",
        }
        rows.append(row)
    return rows


def _is_cross(kind: str, outcome: str) -> bool:
    """Whether an outcome is the 'other side' for a channel (online media -> store sales)."""
    o = outcome.lower()
    store = any(w in o for w in ("offline", "store", "retail", "shop"))
    online = any(w in o for w in ("online", "ecom", "web", "app"))
    return (kind == "online" and store) or (kind == "offline" and online)


def synergy_rows(result: RunResult) -> list[dict[str, Any]]:
    """Each declared synergy per outcome: revenue added over the data, with interval."""
    syn = result.table("synergy")
    if syn.empty or "revenue_mean" not in syn.columns:
        return []
    return [
        {
            "pair": str(r["pair"]),
            "outcome": str(r["outcome"]),
            "revenue": fmt_money(r["revenue_mean"]),
            "ci": f"[{fmt_money(r['revenue_low'])}, {fmt_money(r['revenue_high'])}]",
        }
        for _, r in syn.iterrows()
    ]


def headline(result: RunResult) -> dict[str, Any]:
    """The first screen: budget, expected uplift with interval, gate status, biggest moves."""
    hv = result.horizon_value
    cur, rec, up = hv["current"], hv["recommended"], hv["uplift"]
    alloc = result.table("allocation").set_index("name").loc[_names(result)]
    change = alloc["recommended"] - alloc["current"]
    order = change.sort_values()
    moves_up = [(n, v) for n, v in order[::-1].items() if v > 0][:3]
    moves_down = [(n, v) for n, v in order.items() if v < 0][:3]
    gate = result.gate
    return {
        "total": fmt_money(result.meta["total"]),
        "horizon_weeks": result.meta["horizon_weeks"],
        "current_value": fmt_money(cur["mean"]),
        "recommended_value": fmt_money(rec["mean"]),
        "uplift": fmt_money(up["mean"]),
        "uplift_low": fmt_money(up["low"]),
        "uplift_high": fmt_money(up["high"]),
        "uplift_pct": fmt_pct(up["mean"] / cur["mean"], signed=True) if cur["mean"] else "n/a",
        "uplift_sure": bool(up["low"] > 0),
        "moves_up": [{"name": n, "amount": fmt_money(v)} for n, v in moves_up],
        "moves_down": [{"name": n, "amount": fmt_money(-v)} for n, v in moves_down],
        "gate_passed": bool(gate["passed"]),
        # a failed model's numbers are shown greyed as "not for decisions", never headlined
        "withheld": not bool(gate["passed"]),
        "gate_allowed": bool(gate["allowed"]),
        "fast": bool(result.meta.get("fast")),
        "failures": list(gate["failures"]),
        "remedies": list(gate["remedies"]),
        "beats_baselines": result.holdout.get("beats_baselines"),
    }


def diagnostics_rows(result: RunResult) -> list[dict[str, Any]]:
    """Gate checks with measured value, threshold and verdict."""
    d, th = result.diagnostics, result.gate["thresholds"]
    draws = max(int(d.get("n_draws") or 0) * int(d.get("n_chains") or 0), 1)
    rate = (d.get("divergences") or 0) / draws
    rows = [
        ("max R-hat", fmt_ratio(d.get("rhat_max")), f"<= {th['rhat_max']}",
         _finite(d.get("rhat_max")) and d["rhat_max"] <= th["rhat_max"]),
        ("min bulk ESS", fmt_money(d.get("ess_bulk_min")), f">= {th['ess_bulk_min']:.0f}",
         _finite(d.get("ess_bulk_min")) and d["ess_bulk_min"] >= th["ess_bulk_min"]),
        ("divergences", f"{d.get('divergences', 0)} ({fmt_pct(rate)})",
         f"<= {fmt_pct(th['divergence_rate_max'])} of draws",
         rate <= th["divergence_rate_max"]),
    ]  # fmt: skip
    return [{"check": a, "value": b, "threshold": c, "ok": bool(ok)} for a, b, c, ok in rows]


def holdout_rows(result: RunResult) -> list[dict[str, Any]]:
    """Holdout MAPE, sMAPE and bias of the model and the baselines per outcome."""
    scores = result.table("holdout_scores")
    if scores.empty:
        return []
    return [
        {
            "method": str(r["method"]),
            "outcome": str(r["outcome"]),
            "mape": fmt_pct(r["mape"]),
            "smape": fmt_pct(r.get("smape")),
            "bias": fmt_pct(r.get("bias"), signed=True),
            "model": r["method"] == "omnimmm",
        }
        for _, r in scores.iterrows()
    ]


def holdout_part_rows(result: RunResult) -> list[dict[str, Any]]:
    """The holdout forecast by part against the same weeks a year earlier."""
    parts = result.table("holdout_parts")
    return [
        {
            "outcome": str(r["outcome"]),
            "part": str(r["part"]),
            "year_before": fmt_money(r["year_before"]),
            "forecast": fmt_money(r["forecast"]),
            "change": ("+" if r["change"] >= 0 else "-") + fmt_money(abs(r["change"])),
        }
        for _, r in parts.iterrows()
    ]


# --------------------------------------------------------------------------- charts


def chart_allocation(result: RunResult) -> Markup:
    alloc = result.table("allocation").set_index("name").loc[_names(result)]
    return svg.hbar_pair(
        _names(result),
        alloc["current"].tolist(),
        alloc["recommended"].tolist(),
        title="Current vs recommended spend over the quarter",
    )


def chart_roi(result: RunResult) -> Markup:
    roi = result.table("roi").set_index("channel").loc[_names(result)]
    series = [svg.Series("all outcomes", roi["mean"].tolist(), "#222",
                         roi["low"].tolist(), roi["high"].tolist())]  # fmt: skip
    colors = ("#0072B2", "#E69F00", "#009E73", "#CC79A7")
    split = result.outcomes if len(result.outcomes) > 1 else []  # one outcome: no split
    for k, o in enumerate(split):
        series.append(
            svg.Series(_outcome_label(o), roi[f"{o}_mean"].tolist(), colors[k % len(colors)],
                       roi[f"{o}_low"].tolist(), roi[f"{o}_high"].tolist())
        )  # fmt: skip
    return svg.dot_intervals(_names(result), series, reference=1.0, title="ROI by outcome")


def chart_mroi(result: RunResult) -> Markup:
    alloc = result.table("allocation").set_index("name").loc[_names(result)]
    series = [
        svg.Series("at current spend", alloc["mroi_current_mean"].tolist(), svg.GREY,
                   alloc["mroi_current_low"].tolist(), alloc["mroi_current_high"].tolist()),
        svg.Series("at recommended spend", alloc["mroi_recommended_mean"].tolist(), svg.ACCENT,
                   alloc["mroi_recommended_low"].tolist(),
                   alloc["mroi_recommended_high"].tolist()),
    ]  # fmt: skip
    return svg.dot_intervals(_names(result), series, reference=1.0, title="mROI next quarter")


def chart_curves(result: RunResult) -> Markup:
    curves = result.table("curves")
    items = []
    for name in _names(result):
        g = curves[curves["channel"] == name]
        grid = g[g["point"].isna() | (g["point"] == "")]
        pts = g.set_index("point")
        items.append(
            {
                "name": name,
                "spend": grid["spend"].to_numpy(),
                "mean": grid["mean"].to_numpy(),
                "low": grid["low"].to_numpy(),
                "high": grid["high"].to_numpy(),
                "current": (pts.loc["current", "spend"], pts.loc["current", "mean"]),
                "recommended": (pts.loc["recommended", "spend"], pts.loc["recommended", "mean"]),
            }
        )
    return svg.curve_grid(items, title="Response curves over the quarter")


def chart_decomposition(result: RunResult) -> Markup:
    dec = result.table("decomposition")
    total = dec.groupby(["date", "group", "component"], sort=False)["value"].sum().reset_index()
    dates = pd.DatetimeIndex(sorted(total["date"].unique()))
    base = total[total["group"] == "baseline"].groupby("date")["value"].sum().reindex(dates)
    layers = [("baseline", "#C9CED6", base.to_numpy())]
    colors = _colors(result)
    for name in _names(result):
        v = total[(total["group"] == "channel") & (total["component"] == name)]
        layers.append((name, colors[name], v.set_index("date")["value"].reindex(dates).to_numpy()))
    syn = total[total["group"] == "synergy"]
    for k, (component, g) in enumerate(syn.groupby("component", sort=False)):
        color = ("#444444", "#777777", "#AAAAAA")[k % 3]
        layers.append(
            (str(component), color, g.set_index("date")["value"].reindex(dates).to_numpy())
        )
    layers = [(n, c, np.nan_to_num(v)) for n, c, v in layers]
    return svg.stacked_area(dates, layers, title="Revenue decomposition, all outcomes")


def chart_fit(result: RunResult) -> list[dict[str, Any]]:
    fit = result.table("fit")
    ho = national_rows(result.table("holdout"))
    base = national_rows(result.table("baseline_forecasts"))
    out = []
    for o in result.outcomes:
        f = fit[fit["outcome"] == o]
        fit_chart = svg.line_chart(
            f["date"],
            [
                svg.Series("actual", f["actual"].tolist(), "#222", width=1.4),
                svg.Series("model (posterior mean)", f["fitted"].tolist(), svg.ACCENT),
            ],
            title=f"{o}: actual vs fitted",
        )
        item = {"outcome": o, "fit": fit_chart, "holdout": None}
        h = ho[ho["outcome"] == o] if not ho.empty else ho
        if not h.empty:
            series = [
                svg.Series("actual", h["actual"].tolist(), "#222", width=1.4),
                svg.Series("omnimmm forecast (90% band)", h["mean"].tolist(), svg.ACCENT,
                           h["low"].tolist(), h["high"].tolist()),
            ]  # fmt: skip
            for k, (m, g) in enumerate(base[base["outcome"] == o].groupby("method", sort=False)):
                series.append(
                    svg.Series(str(m).replace("_", " "), g["forecast"].tolist(),
                               ("#E69F00", "#CC79A7")[k % 2], dash=True)
                )  # fmt: skip
            item["holdout"] = svg.line_chart(h["date"], series, title=f"{o}: holdout")
        out.append(item)
    return out


def lifecycle_vs_baseline(result: RunResult) -> list[dict[str, Any]]:
    """Per propensity model: validation AUC next to the RFM-only baseline's, and whether
    the baseline scored higher (the model then adds nothing over recency/frequency/value)."""
    metrics = result.table("lifecycle_metrics")
    if metrics.empty:
        return []
    rows = []
    for target, g in metrics.groupby("target", sort=False):
        value = dict(zip(g["metric"].astype(str), g["value"], strict=True))
        auc, base = value.get("validation.roc_auc"), value.get("baseline_rfm_logistic.roc_auc")
        if not (_finite(auc) and _finite(base)):
            continue
        rows.append(
            {
                "target": str(target),
                "auc": f"{_float(auc):.3f}",
                "baseline": f"{_float(base):.3f}",
                "loses": _float(base) > _float(auc),
            }
        )
    return rows


def lifecycle_section(result: RunResult) -> dict[str, Any] | None:
    """Stages, churn-risk distribution, deciles, validation and the retention budget."""
    info = result.lifecycle
    if not info:
        return None
    stages = result.table("lifecycle_stages")
    stage_rows = [
        {
            "stage": str(r["stage"]),
            "customers": fmt_money(r["customers"]),
            "p_repurchase": fmt_pct(r["p_repurchase_mean"]),
            "p_churn": fmt_pct(r["p_churn_mean"]),
            "expected_revenue": fmt_money(r["expected_revenue"]),
        }
        for _, r in stages.iterrows()
    ]
    risk = result.table("lifecycle_risk")
    chart = None
    if not risk.empty:
        bins = risk.drop_duplicates("p_churn_from")["p_churn_from"].tolist()
        labels = [f"{100 * b:.0f}-{100 * b + 10:.0f}%" for b in bins]
        colors = {"new": "#56B4E9", "active": "#009E73", "at_risk": "#E69F00", "lapsed": "#D55E00"}
        series = [
            (str(st), colors.get(str(st), "#888"),
             g.set_index("p_churn_from")["customers"].reindex(bins).fillna(0).tolist())
            for st, g in risk.groupby("stage", sort=False)
        ]  # fmt: skip
        chart = svg.columns(labels, series, title="Customers by churn probability and stage")
    metrics = result.table("lifecycle_metrics")
    metric_rows = [
        {"target": str(r["target"]), "metric": str(r["metric"]), "value": fmt_ratio(r["value"])}
        for _, r in metrics.iterrows()
        if any(k in str(r["metric"]) for k in ("auc", "average_precision", "brier"))
    ]
    drivers = result.table("lifecycle_drivers")
    driver_rows = [
        {
            "target": str(r["target"]),
            "rank": int(r["rank"]),
            "feature": str(r["feature"]),
            "mean_abs_shap": fmt_ratio(r["mean_abs_shap"]),
            "direction": "raises" if r["mean_shap"] > 0 else "lowers",
        }
        for _, r in drivers.iterrows()
        if int(r["rank"]) <= 5
    ]
    alloc = result.table("allocation")
    retention = []
    if not alloc.empty and "kind" in alloc.columns:
        seg = result.table("retention_segments").set_index("segment")
        for _, r in alloc[alloc["kind"] == "retention"].iterrows():
            name = str(r["name"]).removeprefix("retention:")
            row = seg.loc[name] if name in seg.index else None
            retention.append(
                {
                    "segment": name,
                    "recommended": fmt_money(r["recommended"]),
                    "contacts": fmt_money(r["recommended"] / row["cost_per_contact"])
                    if row is not None
                    else "n/a",
                    "eligible": fmt_money(row["n_eligible"]) if row is not None else "n/a",
                    "value_per_contact": fmt_money(row["value_per_contact_mean"])
                    if row is not None
                    else "n/a",
                }
            )
    return {
        "info": info,
        "customers": fmt_money(info["customers"]),
        "expected_revenue": fmt_money(info["expected_revenue"]),
        "stages": stage_rows,
        "risk_chart": chart,
        "metrics": metric_rows,
        "drivers": driver_rows,
        "retention": retention,
        "vs_baseline": lifecycle_vs_baseline(result),
        "points": points_rows(result),
        "campaigns": campaign_rows(result),
        "points_info": info.get("points"),
    }


# --------------------------------------------------------------------------- assembly


def build_sections(result: RunResult) -> dict[str, Any]:
    """Everything the HTML template needs, already formatted (the template only lays out)."""
    has_curves = not result.table("curves").empty
    return {
        "meta": result.meta,
        "headline": headline(result),
        "allocation": allocation_rows(result),
        "roi": roi_rows(result),
        "synergy": synergy_rows(result),
        "diagnostics": diagnostics_rows(result),
        "holdout": holdout_rows(result),
        "holdout_parts": holdout_part_rows(result),
        "holdout_info": result.holdout,
        "gate": result.gate,
        "precheck": result.precheck_messages,
        "binding": result.optimizer.get("binding", []),
        "definitions": DEFINITIONS,
        "assumptions": ASSUMPTIONS,
        "outcomes": result.outcomes,
        "horizon_value": {
            k: f"[{fmt_money(v['low'])}, {fmt_money(v['high'])}]"
            for k, v in result.horizon_value.items()
        },
        "charts": {
            "allocation": chart_allocation(result),
            "roi": chart_roi(result),
            "mroi": chart_mroi(result),
            "curves": chart_curves(result) if has_curves else None,
            "decomposition": (
                None if result.table("decomposition").empty else chart_decomposition(result)
            ),
            "fit": chart_fit(result),
        },
        "lifecycle": lifecycle_section(result),
        "journeys": journeys_section(result),
        "font_stack": Markup(svg.FONT_STACK),
        "has_cross": len(result.outcomes) > 1
        and any(_is_cross(c["kind"], o) for c in result.channels for o in result.outcomes),
    }


def journeys_section(result: RunResult) -> dict[str, Any] | None:
    """The run's journeys part: links to its pages, the triangulation and the review flags."""
    info = result.meta.get("journeys")
    if not info:
        return None
    tri = result.tables.get("journeys_triangulation", pd.DataFrame())
    rows = [
        {
            "channel": str(r["channel"]),
            "mmm": f"{fmt_ratio(r['mmm_online_roi'])} [{fmt_ratio(r['mmm_low'])}, "
            f"{fmt_ratio(r['mmm_high'])}]",
            "journey": fmt_ratio(r["journey_roi"]),
            "cpic": fmt_money(r["cost_per_incremental_conversion"]),
            "verdict": str(r["verdict"]),
        }
        for _, r in tri.iterrows()
    ]
    flags = result.tables.get("journeys_flags", pd.DataFrame())
    return {
        "method": info.get("method"),
        "pages": list(info.get("pages", [])),
        "triangulation": rows,
        "flags": [{k: str(v) for k, v in r.items()} for r in flags.to_dict("records")],
        "flag_columns": [str(c) for c in flags.columns],
    }


def summary_lines(result: RunResult, out: Path) -> list[str]:
    """Closing summary of a command, plain text."""
    lines = []
    g = result.gate
    if g["passed"]:
        lines.append("quality gate: passed")
    else:
        why = "fast mode" if g.get("fast") else "allowed by the plan"
        lines.append(f"quality gate: FAILED ({why}): " + "; ".join(g["failures"]))
    h = result.holdout
    if h.get("mape_mean") is not None:
        verdict = "beats" if h.get("beats_baselines") else "does NOT beat"
        lines.append(
            f"holdout MAPE {fmt_pct(h['mape_mean'])} over {h['weeks']} weeks; {verdict} the "
            f"best baseline ({h['best_baseline']}, "
            f"{fmt_pct(h['baseline_mape_mean'][h['best_baseline']])})"
        )
    for r in lifecycle_vs_baseline(result):
        lines.append(
            f"lifecycle {r['target']}: validation AUC {r['auc']}, RFM baseline {r['baseline']}"
            + (" -- the RFM baseline scored higher" if r["loses"] else "")
        )
    if result.horizon_value:
        hd = headline(result)
        if hd["withheld"]:
            lines.append(
                "NOT FOR DECISIONS: the model failed its quality gate; the numbers below are "
                "what the failed model computed (see the report for what to try)"
            )
        lines.append(
            f"recommended: {hd['total']} over {hd['horizon_weeks']} weeks; expected uplift "
            f"{hd['uplift']} ({hd['uplift_pct']}), 90% interval [{hd['uplift_low']}, "
            f"{hd['uplift_high']}]"
        )
        for r in allocation_rows(result):
            lines.append(
                f"  {r['name']:<16} {r['current']:>14} -> {r['recommended']:>14}  "
                f"{r['change_pct']:>7}"
            )
        lines += geo_summary_lines(result)  # a geo run: regions that gain and lose
        lines.append(f"report: {(out / 'report.html').absolute()}")
    return lines
