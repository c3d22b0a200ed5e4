"""``omnimmm journeys kpis``: the KPI board as CSV, XLSX and HTML, with review flags.

Rules (the plan's ``[journeys.rules]``; defaults as the integration plans state them): a
channel pair whose monthly hand-off rate is below ``handoff_min`` (15%) and a benefit used
by fewer than ``usage_min`` (20%) of its recipients are flagged for review, one row per
month and key in ``flags.csv``. Months whose window is incomplete are not flagged.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
from markupsafe import Markup, escape

from omnimmm.data.outputs import write_files_atomic
from omnimmm.journeys.inputs import JourneyColumns, JourneyData, Source, load_journeys
from omnimmm.journeys.kpis import KpiSettings, kpis_in_duckdb
from omnimmm.journeys.report import page, table_html
from omnimmm.report.svg import PALETTE, Series, line_chart

__all__ = ["BoardResult", "Rules", "flag_rules", "kpi_board", "load_redemptions"]


@dataclass(frozen=True)
class Rules:
    """Review thresholds."""

    handoff_min: float = 0.15
    usage_min: float = 0.20


@dataclass(frozen=True, eq=False)
class BoardResult:
    """The KPI table and the flags raised on it."""

    kpis: pd.DataFrame
    flags: pd.DataFrame


def flag_rules(kpis: pd.DataFrame, rules: Rules) -> pd.DataFrame:
    """Rows that break a rule: ``kpi, month, channel, other, value, threshold, action``."""
    parts = []
    checks = (("handoff", rules.handoff_min, "review or retire this channel combination"),
              ("benefit_usage", rules.usage_min, "review or retire this benefit"))  # fmt: skip
    for kpi, threshold, action in checks:
        rows = kpis[(kpis["kpi"] == kpi) & kpis["complete"] & (kpis["denominator"] > 0)
                    & (kpis["value"] < threshold)].copy()  # fmt: skip
        rows["threshold"] = threshold
        rows["action"] = action
        parts.append(rows[["kpi", "month", "channel", "other", "value", "threshold", "action"]])
    return pd.concat(parts, ignore_index=True)


def load_redemptions(
    data: JourneyData, source: Source, customer: str = "customer_id", ts: str = "ts",
    campaign: str = "campaign", what: str = "redemptions file (--redemptions)",
) -> pd.DataFrame:  # fmt: skip
    """Redemptions keyed like the journeys: ``cid, ts, campaign`` (unknown customers dropped).

    Adds the table ``redemptions`` to ``data``'s connection. Journeys joined by identity
    resolution must be loaded with their redemptions instead (``load_journeys(...,
    redemptions=...)``), so the redemptions' ids join the same customers.
    """
    from omnimmm.errors import DataError
    from omnimmm.journeys.inputs import add_redemptions

    if data.resolved:
        raise DataError(f"{what}: the journeys were joined by identity resolution; load the "
                        "redemptions with them (load_journeys(..., redemptions=...))")  # fmt: skip
    if not data.has_redemptions:
        add_redemptions(data, source, (customer, ts, campaign), what)
    return data.con.execute("select cid, ts, campaign from redemptions").df()


def _charts(kpis: pd.DataFrame) -> Markup:
    out = []
    for kpi, key in (("touch_rate", "channel"), ("cross_conversion", "pair"),
                     ("repurchase", "channel"), ("benefit_usage", "channel")):  # fmt: skip
        sub = kpis[kpis["kpi"] == kpi].copy()
        if sub.empty or sub["month"].nunique() < 2:
            continue
        sub["key"] = sub["channel"] + (" -> " + sub["other"] if key == "pair" else "")
        wide = sub.pivot_table(index="month", columns="key", values="value", sort=True)
        wide = wide.loc[:, wide.notna().any()].iloc[:, :12]
        dates = [pd.Period(m, "M").start_time for m in wide.index]
        series = [Series(str(k), [float(v) if pd.notna(v) else 0.0 for v in wide[k]],
                         PALETTE[i % len(PALETTE)]) for i, k in enumerate(wide.columns)]  # fmt: skip
        out.append(line_chart(dates, series, title=kpi.replace("_", " ")))
    return Markup("").join(out)


def board_html(result: BoardResult, settings: KpiSettings, rules: Rules) -> str:
    """The board page: line charts, the flags and the latest month of every KPI."""
    k = result.kpis
    intro = Markup(
        f'<p class="note">Monthly KPIs; windows: cross-channel conversion and hand-off '
        f"{settings.window_days} days, repurchase {settings.repurchase_days} days. Rules: "
        f"hand-off below {rules.handoff_min:.0%}, benefit usage below {rules.usage_min:.0%} "
        f"are flagged. Synergy: conversion rate of customers touched by both channels over "
        f"the rate expected if they acted independently (1 = none), 90% interval.</p>"
    )
    latest = k.sort_values("month").groupby(["kpi", "channel", "other"], sort=False).tail(1)
    flags = (table_html(result.flags) if len(result.flags)
             else Markup('<p class="note">No rule is broken.</p>'))  # fmt: skip
    usage = k[k["kpi"] == "benefit_usage"]
    sections = [("Trends", intro + _charts(k)), (f"Flags ({len(result.flags)})", flags)]
    if len(usage):
        sections.append(("Benefit usage", table_html(usage)))
    sections.append(("Latest month per KPI", table_html(latest, max_rows=400)))
    return page("Omnichannel KPI board", [(str(escape(h)), b) for h, b in sections])


def _xlsx(kpis: pd.DataFrame, flags: pd.DataFrame) -> bytes:
    buf = io.BytesIO()
    with pd.ExcelWriter(buf, engine="xlsxwriter") as xl:
        flags.to_excel(xl, sheet_name="flags", index=False)
        for kpi, g in kpis.groupby("kpi", sort=False):
            g.to_excel(xl, sheet_name=str(kpi)[:31], index=False)
    return buf.getvalue()


def kpi_board(
    touches: Source,
    conversions: Source,
    out: str | Path,
    redemptions: Source | None = None,
    columns: JourneyColumns | None = None,
    settings: KpiSettings | None = None,
    rules: Rules | None = None,
    redemption_columns: tuple[str, str, str] = ("customer_id", "ts", "campaign"),
    data: JourneyData | None = None,
) -> BoardResult:
    """Compute the board and write ``kpis.csv``, ``kpis.xlsx``, ``flags.csv``, ``board.html``.

    Parameters
    ----------
    touches, conversions, redemptions : path or pandas.DataFrame
    out : path
    columns : JourneyColumns, optional
    settings : KpiSettings, optional
    rules : Rules, optional
    redemption_columns : (customer, ts, campaign)
    data : JourneyData, optional
        Already loaded journeys (then ``touches`` and ``conversions`` are not read).

    Returns
    -------
    BoardResult
    """
    settings = settings or KpiSettings()
    rules = rules or Rules()
    if data is None or (redemptions is not None and data.resolved and not data.has_redemptions):
        data = load_journeys(touches, conversions, columns, redemptions=redemptions,
                             redemption_columns=redemption_columns)  # fmt: skip
    elif redemptions is not None and not data.has_redemptions:
        load_redemptions(data, redemptions, *redemption_columns)
    red = "redemptions" if redemptions is not None and data.has_redemptions else None
    kpis = kpis_in_duckdb(data.con, "touches", "conversions", red, settings,
                          has_place=data.has_place, has_campaign=data.has_campaign)  # fmt: skip
    result = BoardResult(kpis, flag_rules(kpis, rules))
    write_files_atomic(Path(out), {
        "kpis.csv": kpis.to_csv(index=False, float_format="%.6g"),
        "flags.csv": result.flags.to_csv(index=False, float_format="%.6g"),
        "kpis.xlsx": _xlsx(kpis, result.flags),
        "board.html": board_html(result, settings, rules),
    })  # fmt: skip
    return result
