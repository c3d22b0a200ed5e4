"""Self-contained HTML pages of the journey outputs (no script, no network; strings escaped).

Built from result objects by pure functions: :func:`attribution_html` for
``omnimmm journeys attribute`` and :func:`page` / :func:`table_html` shared with the KPI
board. Every user string (channel, campaign, path) goes through :func:`markupsafe.escape`.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import pandas as pd
from markupsafe import Markup, escape

from omnimmm.report.svg import PALETTE, Series, dot_intervals

if TYPE_CHECKING:
    from omnimmm.journeys.result import AttributionResult

__all__ = ["attribution_html", "page", "table_html"]

_CSS = """
body{font-family:system-ui,-apple-system,'Segoe UI',Roboto,Helvetica,Arial,sans-serif;
margin:24px auto;max-width:980px;color:#222;line-height:1.45}
h1{font-size:22px}h2{font-size:17px;margin-top:28px;border-bottom:1px solid #ddd}
table{border-collapse:collapse;font-size:13px;margin:8px 0}
td,th{padding:3px 8px;border-bottom:1px solid #eee;text-align:right}
td:first-child,th:first-child{text-align:left}
.note{color:#555;font-size:13px}.flag{color:#B00020;font-weight:600}
"""


def _cell(v: object) -> str:
    if isinstance(v, float):
        if not math.isfinite(v):
            return ""
        return f"{v:,.3f}" if abs(v) < 10 else f"{v:,.0f}"
    return str(escape("" if v is None or (isinstance(v, float) and math.isnan(v)) else v))


def table_html(frame: pd.DataFrame, max_rows: int = 200) -> Markup:
    """An HTML table of a frame (escaped), at most ``max_rows`` rows."""
    head = "".join(f"<th>{escape(str(c))}</th>" for c in frame.columns)
    body = []
    for row in frame.head(max_rows).itertuples(index=False):
        body.append("<tr>" + "".join(f"<td>{_cell(v)}</td>" for v in row) + "</tr>")
    more = (f'<p class="note">{len(frame) - max_rows:,} more rows in the CSV.</p>'
            if len(frame) > max_rows else "")  # fmt: skip
    return Markup(f"<table><tr>{head}</tr>{''.join(body)}</table>{more}")


def page(title: str, sections: list[tuple[str, Markup]]) -> str:
    """A whole HTML document: a title and (heading, body) sections."""
    parts = [f"<h2>{escape(h)}</h2>{body}" for h, body in sections]
    return (
        f'<!doctype html><html lang="en"><head><meta charset="utf-8">'
        f"<title>{escape(title)}</title><style>{_CSS}</style></head>"
        f"<body><h1>{escape(title)}</h1>{''.join(parts)}</body></html>\n"
    )


def _p(text: str) -> Markup:
    return Markup(f'<p class="note">{escape(text)}</p>')


def attribution_html(result: AttributionResult) -> str:
    """The attribution report: causal shares with intervals against the other methods."""
    t = result.causal.table
    names = [str(n) for n in t["name"]]
    methods = result.methods
    series = [Series("incremental (hazard model, 90% interval)", list(t["share"]), PALETTE[0],
                     list(t["low"]), list(t["high"]))]  # fmt: skip
    for k, m in enumerate(("last_touch", "markov_1", "shapley")):
        part = methods[methods["method"] == m].set_index("channel")["share"]
        if len(part):
            series.append(Series(m, [float(part.get(n, float("nan"))) for n in names],
                                 PALETTE[k + 1]))  # fmt: skip
    chart = dot_intervals(names, series, reference=0.0, title="share of conversions")
    wide = methods.pivot_table(index="channel", columns="method", values="share",
                               sort=False).reset_index()  # fmt: skip
    wide.insert(1, "incremental", wide["channel"].map(dict(zip(names, t["share"], strict=True))))
    d = result.data
    diag = result.causal.diagnostics
    intro = _p(
        f"{d['customers']:,} customers, {d['touches']:,} touches, {d['conversions']:,} "
        f"conversions over {d['days']} days from {d['first_day']}. The default method fits a "
        "daily purchase-hazard model with a propensity of each customer's own (customers "
        "are compared with themselves), on each channel's decayed exposure, channel pairs "
        "and a recent purchase, then removes each channel's touches from every purchase "
        "day, averaging over the channel's half-lives (0.5-16 days) weighted by how well "
        "each fits, with short ones favoured; a channel whose effect comes out negative "
        "is held at zero. A channel's share "
        "is its part of the summed incremental conversions. Baseline conversions (no "
        f"channel): {result.causal.baseline_conversions:,.0f}. Intervals: bootstrap over "
        f"customers ({diag.get('bootstrap', 0)} refits, each reselecting the channel pairs "
        "and drawing each channel's half-life from its weights). The other methods "
        "divide every "
        "conversion among the touches before it, including conversions that would have "
        "happened anyway."
    )
    notes = [_p(n) for n in result.to_json()["notes"]]
    if diag.get("log_ends_at_last_purchase"):
        notes.append(_p("No touch follows a buyer's last purchase: the log is taken to end "
                        "there. The model then learns from each buyer's purchases before "
                        "the week before the last one (no touch is imputed), and buyers "
                        "with a single purchase add only their purchase to the "
                        "incremental sums."))  # fmt: skip
    causal_cols = ["name", "share", "low", "high", "incremental_conversions",
                   "incremental_revenue", "cost_per_incremental_conversion"]  # fmt: skip
    sections = [
        ("Incremental conversions by channel", Markup("").join([intro, *notes, chart,
                                                                table_html(t[causal_cols])])),
        ("Every method's shares", table_html(wide)),
        ("Top paths", table_html(result.paths)),
        ("Online and store crossings", table_html(result.crossings)),
    ]  # fmt: skip
    return page("Journey attribution", sections)
