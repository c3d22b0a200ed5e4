"""The backtest's small HTML report: scores, then one chart per origin and outcome.

Self-contained (inline SVG from :mod:`omnimmm.report.svg`, no scripts, no network); every
user string (outcome, control and method names, the plan path) is escaped.
"""

from __future__ import annotations

import html
from typing import Any

import pandas as pd

from omnimmm.report import svg

__all__ = ["render_backtest"]

_BASE_COLORS = ("#E69F00", "#CC79A7", "#56B4E9")


def _pct(x: Any, signed: bool = False) -> str:
    try:
        v = float(x)
    except (TypeError, ValueError):
        return "-"
    return f"{v:+.1%}" if signed else f"{v:.1%}"


def _score_rows(scores: dict[str, Any]) -> str:
    rows = []
    for label, block in [*((o["origin"], o) for o in scores["origins"]),
                         ("all origins", scores["overall"])]:  # fmt: skip
        own = block["omnimmm"]
        cells = [
            html.escape(str(label)),
            _pct(own["mape"]),
            _pct(own["smape"]),
            _pct(own["bias"], signed=True),
            _pct(own["coverage"]),
        ]
        for m in scores["overall"]["baselines"]:
            b = block["baselines"].get(m, {})
            cells.append(_pct(b.get("mape")))
        cells.append(_pct(block.get("improvement"), signed=True))
        rows.append("<tr>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>")
    return "\n".join(rows)


def render_backtest(
    table: pd.DataFrame,
    baselines: pd.DataFrame,
    scores: dict[str, Any],
    controls: pd.DataFrame,
) -> str:
    """The backtest report as one HTML string.

    Parameters
    ----------
    table : pandas.DataFrame
        ``origin, date, outcome, actual, mean, low, high``.
    baselines : pandas.DataFrame
        ``origin, date, outcome, method, forecast``.
    scores : dict
        :func:`omnimmm.run.backtest.score_backtest` output with ``settings`` and
        ``control_warnings``.
    controls : pandas.DataFrame
        :func:`omnimmm.mmm.explain.control_extrapolation` rows with their ``origin``.
    """
    st = scores["settings"]
    methods = list(scores["overall"]["baselines"])
    head = "".join(
        f"<th>{html.escape(h)}</th>"
        for h in ["origin", "MAPE", "sMAPE", "bias", "90% coverage",
                  *(f"{m.replace('_', ' ')} MAPE" for m in methods),
                  "vs better baseline"]
    )  # fmt: skip
    charts = []
    for origin, t in table.groupby("origin", sort=True):
        for outcome, g in t.groupby("outcome", sort=False):
            series = [
                svg.Series("actual", g["actual"].tolist(), "#222", width=1.4),
                svg.Series("omnimmm forecast (90% band)", g["mean"].tolist(), svg.ACCENT,
                           g["low"].tolist(), g["high"].tolist()),
            ]  # fmt: skip
            b = baselines[(baselines["origin"] == origin) & (baselines["outcome"] == outcome)]
            for k, (m, bg) in enumerate(b.groupby("method", sort=False)):
                series.append(svg.Series(str(m).replace("_", " "), bg["forecast"].tolist(),
                                         _BASE_COLORS[k % 3], dash=True))  # fmt: skip
            title = f"{outcome}: origin {pd.Timestamp(str(origin)).date()}"
            charts.append(str(svg.line_chart(g["date"].tolist(), series, title=title)))
    warnings = "".join(f"<li>{html.escape(w)}</li>" for w in scores.get("control_warnings", []))
    fits = "".join(
        f"<tr><td>{html.escape(f['origin'])}</td><td>{f['train_weeks']}</td>"
        f"<td>{f['rhat_max']:.3f}</td><td>{f['ess_bulk_min']:.0f}</td>"
        f"<td>{f['divergences']}</td><td>{f['seconds']:.0f}</td></tr>"
        for f in scores.get("fits", [])
    )
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>omnimmm backtest</title>
<style>body{{font-family:system-ui,sans-serif;max-width:780px;margin:2em auto;color:#222}}
table{{border-collapse:collapse;margin:1em 0}}td,th{{border-bottom:1px solid #ddd;
padding:3px 8px;text-align:right}}td:first-child,th:first-child{{text-align:left}}</style>
</head><body>
<h1>Backtest: {st["origins"]} origins x {st["horizon"]} weeks</h1>
<p>Plan {html.escape(str(st["plan"]))}. At each origin the model is refitted on the weeks
before it ({st["chains"]} chains x {st["draws"]} draws after {st["tune"]} tuning steps,
seed {st["seed"]}) and forecasts the next {st["horizon"]} weeks from their actual spend and
controls; seasonal-naive and ETS forecasts are fitted on the same weeks. Coverage: share of
weeks whose actual lies inside the 90% predictive interval (noise included).</p>
<table><tr>{head}</tr>
{_score_rows(scores)}
</table>
{"<h2>Controls outside their training range</h2><ul>" + warnings + "</ul>" if warnings else ""}
<h2>Forecasts</h2>
{"".join(charts)}
<h2>Refits</h2>
<table><tr><th>origin</th><th>training weeks</th><th>max R-hat</th><th>min bulk ESS</th>
<th>divergences</th><th>seconds</th></tr>{fits}</table>
</body></html>
"""
