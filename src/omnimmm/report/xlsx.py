"""report.xlsx: a cover sheet (titles, descriptions), then one sheet per table starting at
A1, numbers stored as numbers with integer, percent or ratio formats."""

from __future__ import annotations

import datetime as dt
import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import xlsxwriter

from omnimmm.report.geo import GEO_SHEETS
from omnimmm.report.result import RunResult
from omnimmm.report.sections import DEFINITIONS, headline

__all__ = ["SHEETS", "column_format", "write_xlsx"]

#: Sheet name -> (table, description). Sheet names are at most 31 characters.
SHEETS: dict[str, tuple[str, str]] = {
    "Recommendation": ("allocation", "Current vs recommended spend per channel, horizon mROI"),
    "ROI": ("roi", "ROI per channel over the whole data, total and by outcome (90% intervals)"),
    "mROI history": ("mroi", "mROI per channel on the history, total and by outcome"),
    "Synergy": ("synergy", "Declared synergy terms: revenue added over the data"),
    "Response curves": ("curves", "Incremental quarter revenue vs spend, others at current"),
    "Weekly plan": ("weekly_spend", "Recommended spend per week and channel"),
    "Value by outcome": ("value_by_outcome", "Horizon value by outcome, current vs recommended"),
    "Decomposition": ("decomposition", "Weekly fitted revenue split into components"),
    "Fit": ("fit", "Actual vs fitted per week and outcome"),
    "Holdout": ("holdout", "Holdout forecast of the refitted model"),
    "Baseline forecasts": ("baseline_forecasts", "Seasonal-naive and ETS forecasts"),
    "Holdout scores": ("holdout_scores", "Holdout MAPE, sMAPE, RMSE, bias per method and outcome"),
    "PPC": ("ppc", "Posterior predictive checks per outcome"),
    "Precheck": ("precheck", "Variance inflation and zero-spend share per channel"),
    "Lifecycle stages": ("lifecycle_stages", "Customers, propensities and value by stage"),
    "Churn risk": ("lifecycle_risk", "Customers by churn-probability bin and stage"),
    "Deciles": ("lifecycle_deciles", "Customers by repurchase-propensity decile"),
    "Lifecycle metrics": ("lifecycle_metrics", "Validation metrics of the propensity models"),
    "Lifecycle drivers": ("lifecycle_drivers", "Strongest features per model (mean |SHAP|)"),
    "Retention segments": ("retention_segments", "Segment economics used in the joint budget"),
    **GEO_SHEETS,  # a geo run's regions (report/geo.py)
}


_PERCENT = ("mape", "smape", "bias", "share", "rate", "p_repurchase", "p_churn", "coverage",
            "max_change")  # fmt: skip
_MONEY = ("spend", "revenue", "contribution", "current", "recommended", "lower", "upper",
          "value", "customers", "n_", "contacts", "eligible", "cost")  # fmt: skip


def column_format(name: str, values: pd.Series) -> str:
    """Number format of a table column: ``0.00`` for ROI-like ratios, ``0.0%`` for shares
    and errors, ``#,##0`` for amounts, counts and integers, else ``#,##0.00``."""
    low = str(name).lower()
    if "roi" in low:
        return "ratio"
    if any(k in low for k in _PERCENT):
        return "pct"
    if any(k in low for k in _MONEY) or pd.api.types.is_integer_dtype(values.dtype):
        return "money"
    return "num"


def _cell(ws: Any, row: int, col: int, value: Any, fmts: dict[str, Any], fmt: str = "num") -> None:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        ws.write_blank(row, col, None)
    elif isinstance(value, bool | np.bool_):
        ws.write_boolean(row, col, bool(value))
    elif isinstance(value, int | float | np.integer | np.floating):
        v = float(value)
        if math.isfinite(v):
            ws.write_number(row, col, v, fmts[fmt])
        else:
            ws.write_blank(row, col, None)
    elif isinstance(value, pd.Timestamp | dt.datetime | dt.date):
        ws.write_datetime(row, col, pd.Timestamp(value).to_pydatetime(), fmts["date"])
    else:
        ws.write_string(row, col, str(value))


def _single_outcome(frame: pd.DataFrame, outcomes: list[str]) -> pd.DataFrame:
    """With one outcome, its ``<outcome>_mean/_low/_high`` columns repeat the totals: drop them
    (as the HTML report does)."""
    if len(outcomes) != 1:
        return frame
    repeated = [f"{outcomes[0]}_{k}" for k in ("mean", "low", "high")]
    if not all(c in frame.columns for c in repeated) or "mean" not in frame.columns:
        return frame
    return frame.drop(columns=repeated)


def _table_sheet(wb: Any, name: str, frame: pd.DataFrame, fmts: dict) -> None:
    """One table from A1: header row, then data (what pandas.read_excel and Power Query
    expect); its description is on the cover sheet."""
    ws = wb.add_worksheet(name)
    kinds = [column_format(str(c), frame.iloc[:, j]) for j, c in enumerate(frame.columns)]
    for j, col in enumerate(frame.columns):
        ws.write_string(0, j, str(col), fmts["head"])
        ws.set_column(j, j, max(12, min(len(str(col)) + 2, 28)))
    for i, row in enumerate(frame.itertuples(index=False), start=1):
        for j, value in enumerate(row):
            _cell(ws, i, j, value, fmts, kinds[j])
    ws.freeze_panes(1, 0)
    if len(frame.columns):
        ws.autofilter(0, 0, max(len(frame), 1), len(frame.columns) - 1)


def write_xlsx(result: RunResult, path: str | Path) -> Path:
    """Write the workbook to ``path``."""
    out = Path(path)
    wb = xlsxwriter.Workbook(str(out), {"nan_inf_to_errors": False})
    fmts = {
        "bold": wb.add_format({"bold": True}),
        "title": wb.add_format({"bold": True, "font_size": 16}),
        "head": wb.add_format({"bold": True, "bg_color": "#F0F2F5", "bottom": 1}),
        "num": wb.add_format({"num_format": "#,##0.00"}),
        "money": wb.add_format({"num_format": "#,##0"}),
        "ratio": wb.add_format({"num_format": "0.00"}),
        "pct": wb.add_format({"num_format": "0.0%"}),
        "date": wb.add_format({"num_format": "yyyy-mm-dd"}),
        "wrap": wb.add_format({"text_wrap": True, "valign": "top"}),
    }
    cover = wb.add_worksheet("Cover")
    cover.set_column(0, 0, 34)
    cover.set_column(1, 3, 18)
    cover.write_string(0, 0, "Quarterly budget recommendation", fmts["title"])
    hd = headline(result)
    hv = result.horizon_value
    m = result.meta
    best = result.holdout.get("best_baseline")
    base = (result.holdout.get("baseline_mape_mean") or {}).get(best) if best else None
    rows: list[tuple[str, Any, str]] = [
        ("plan", m["plan_path"], "num"),
        ("data", f"{m['weeks']['first']} to {m['weeks']['last']} ({m['weeks']['n']} weeks)",
         "num"),
        ("horizon (weeks)", m["horizon_weeks"], "money"),
        ("budget over the horizon", m["total"], "money"),
        ("max change per channel", m["max_change"], "pct"),
        ("quality gate", "passed" if hd["gate_passed"] else "FAILED: not for decisions", "num"),
        ("gate failures", "; ".join(hd["failures"]) or "none", "num"),
        ("fast mode", "yes" if m.get("fast") else "no", "num"),
        ("holdout MAPE (mean over outcomes)", result.diagnostics.get("holdout_mape"), "pct"),
        (f"best baseline MAPE ({best or 'none'})", base, "pct"),
        ("beats baselines on holdout", result.holdout.get("beats_baselines"), "num"),
    ]  # fmt: skip
    r = 2
    for label, value, kind in rows:
        cover.write_string(r, 0, label, fmts["bold"])
        _cell(cover, r, 1, value, fmts, kind)
        r += 1
    r += 1
    for j, h in enumerate(("horizon value", "mean", "low (5%)", "high (95%)")):
        cover.write_string(r, j, h, fmts["head"])
    for key in ("current", "recommended", "uplift"):
        r += 1
        cover.write_string(r, 0, key)
        for j, k in enumerate(("mean", "low", "high"), start=1):
            cover.write_number(r, j, float(hv[key][k]), fmts["money"])
    r += 2
    cover.write_string(r, 0, "Sheets", fmts["bold"])
    for name, (table, desc) in SHEETS.items():
        if table in result.tables:
            r += 1
            cover.write_string(r, 0, name)
            cover.write_string(r, 1, desc)
    r += 2
    cover.write_string(r, 0, "Definitions", fmts["bold"])
    for term, text in DEFINITIONS:
        r += 1
        cover.write_string(r, 0, term)
        cover.write_string(r, 1, text)
    for name, (table, _desc) in SHEETS.items():
        if table in result.tables:
            _table_sheet(wb, name, _single_outcome(result.tables[table], result.outcomes), fmts)
    wb.close()
    return out
