"""report.xlsx: a cover sheet, then one sheet per table, numbers stored as numbers."""

from __future__ import annotations

import datetime as dt
import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import xlsxwriter

from omnimmm.report.result import RunResult
from omnimmm.report.sections import DEFINITIONS, headline

__all__ = ["SHEETS", "write_xlsx"]

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
}


def _cell(ws: Any, row: int, col: int, value: Any, fmts: dict[str, Any]) -> None:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        ws.write_blank(row, col, None)
    elif isinstance(value, bool | np.bool_):
        ws.write_boolean(row, col, bool(value))
    elif isinstance(value, int | float | np.integer | np.floating):
        v = float(value)
        if math.isfinite(v):
            ws.write_number(row, col, v, fmts["num"])
        else:
            ws.write_blank(row, col, None)
    elif isinstance(value, pd.Timestamp | dt.datetime | dt.date):
        ws.write_datetime(row, col, pd.Timestamp(value).to_pydatetime(), fmts["date"])
    else:
        ws.write_string(row, col, str(value))


def _table_sheet(wb: Any, name: str, desc: str, frame: pd.DataFrame, fmts: dict) -> None:
    ws = wb.add_worksheet(name)
    ws.write_string(0, 0, desc, fmts["bold"])
    for j, col in enumerate(frame.columns):
        ws.write_string(2, j, str(col), fmts["head"])
        ws.set_column(j, j, max(12, min(len(str(col)) + 2, 28)))
    for i, row in enumerate(frame.itertuples(index=False), start=3):
        for j, value in enumerate(row):
            _cell(ws, i, j, value, fmts)
    ws.freeze_panes(3, 0)


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
    rows: list[tuple[str, Any]] = [
        ("plan", m["plan_path"]),
        ("data", f"{m['weeks']['first']} to {m['weeks']['last']} ({m['weeks']['n']} weeks)"),
        ("horizon (weeks)", m["horizon_weeks"]),
        ("budget over the horizon", m["total"]),
        ("max change per channel", m["max_change"]),
        ("quality gate", "passed" if hd["gate_passed"] else "FAILED"),
        ("gate failures", "; ".join(hd["failures"]) or "none"),
        ("fast mode", "yes" if m.get("fast") else "no"),
        ("holdout MAPE (mean over outcomes)", result.diagnostics.get("holdout_mape")),
        ("beats baselines on holdout", result.holdout.get("beats_baselines")),
    ]
    r = 2
    for label, value in rows:
        cover.write_string(r, 0, label, fmts["bold"])
        _cell(cover, r, 1, value, fmts)
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
    for name, (table, desc) in SHEETS.items():
        if table in result.tables:
            _table_sheet(wb, name, desc, result.tables[table], fmts)
    wb.close()
    return out
