"""The portfolio's one-page HTML report: one row per market, linking to each market's report.

A pure function of the rows that ``portfolio.json`` holds; every string from a plan, a
market name or an error message is escaped.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from html import escape
from typing import Any

__all__ = ["portfolio_html"]

_STATUS_WORDS = {
    "ok": "ok",
    "gate_failed": "failed its quality gate",
    "invalid": "invalid plan or data",
    "error": "error",
}

_CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI","PingFang SC","Microsoft YaHei",sans-serif;
margin:2rem;color:#1b1f24}
table{border-collapse:collapse;margin-top:1rem}
th,td{border-bottom:1px solid #d0d7de;padding:.4rem .7rem;text-align:left;vertical-align:top}
td.num{text-align:right;font-variant-numeric:tabular-nums}
.ok{color:#1a7f37}.bad{color:#cf222e;font-weight:600}
.msg{max-width:40rem;white-space:pre-wrap;font-size:.9em}
"""


def _money(value: Any) -> str:
    return "" if value is None else f"{float(value):,.0f}"


def _uplift(row: Mapping[str, Any]) -> str:
    hv = row.get("horizon_value") or {}
    try:
        cur = float(hv["current"]["mean"])
        rec = float(hv["recommended"]["mean"])
    except (KeyError, TypeError, ValueError):
        return ""
    pct = f" ({(rec - cur) / cur:+.1%})" if cur else ""
    return f"{rec - cur:+,.0f}{pct}"


def _row(row: Mapping[str, Any], split: bool = False) -> str:
    status = str(row.get("status", "error"))
    css = "ok" if status == "ok" else "bad"
    name = escape(str(row.get("name", "")))
    report = row.get("report")
    name_cell = f'<a href="{escape(str(report), quote=True)}">{name}</a>' if report else name
    cells = [
        name_cell,
        f'<span class="{css}">{escape(_STATUS_WORDS.get(status, status))}</span>',
        f'<td class="num">{_money(row.get("current_total"))}</td>',
        f'<td class="num">{_money(row.get("recommended_total"))}</td>',
        f'<td class="num">{escape(_uplift(row))}</td>',
        *([f'<td class="num">{_money(row.get("portfolio_total"))}</td>'] if split else []),
        f'<div class="msg">{escape(str(row.get("message") or ""))}</div>',
    ]
    tds = [c if c.startswith("<td") else f"<td>{c}</td>" for c in cells]
    return "<tr>" + "".join(tds) + "</tr>"


def portfolio_html(doc: Mapping[str, Any]) -> str:
    """The portfolio report as one self-contained HTML page (no scripts, no network).

    Parameters
    ----------
    doc
        The content of ``portfolio.json``: ``markets`` (rows with ``name``, ``status``,
        ``message``, ``current_total``, ``recommended_total``, ``horizon_value`` and the
        relative ``report`` link), ``scheduler``, ``created`` and ``total``.

    Returns
    -------
    str
    """
    rows: Sequence[Mapping[str, Any]] = doc.get("markets", [])
    n_ok = sum(1 for r in rows if r.get("status") == "ok")
    failed = [r for r in rows if r.get("status") != "ok"]
    head = f"{n_ok} of {len(rows)} markets ok" + (
        f"; failed: {', '.join(str(r.get('name')) for r in failed)}" if failed else ""
    )
    cur = sum(float(r["current_total"]) for r in rows if r.get("current_total") is not None)
    rec = sum(float(r["recommended_total"]) for r in rows if r.get("recommended_total") is not None)
    budget = doc.get("total")
    budget_line = (
        f"Portfolio budget {float(budget):,.0f} split across markets by their fitted response."
        if budget is not None
        else "Each market's budget is its own plan's."
    )
    split = budget is not None
    body = "\n".join(_row(r, split) for r in rows)
    split_th = "<th>portfolio split</th>" if split else ""
    error = doc.get("total_error")
    if error:
        budget_line += f" It was not split: {error}"
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>omnimmm portfolio</title><style>{_CSS}</style></head>
<body>
<h1>Portfolio</h1>
<p class="{"ok" if not failed else "bad"}">{escape(head)}</p>
<p>{escape(budget_line)} Spend over each market's horizon: current {_money(cur)},
recommended {_money(rec)} (markets that finished). Scheduler:
<code>{escape(str(doc.get("scheduler", "")))}</code>; written {escape(str(doc.get("created", "")))}.</p>
<table>
<thead><tr><th>market</th><th>status</th><th>current spend</th><th>recommended spend</th>
<th>horizon value uplift (mean)</th>{split_th}<th>message</th></tr></thead>
<tbody>
{body}
</tbody></table>
</body></html>
"""
