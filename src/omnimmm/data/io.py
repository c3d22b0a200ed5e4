"""Reading a media panel from CSV, Parquet or Excel, and a plain-text summary of it.

Files are read by :mod:`omnimmm.data.tables` (CSV in UTF-8, UTF-8-BOM or GB18030, any common
delimiter; Parquet; .xlsx). Every CSV/Excel cell is read as text so that
:class:`~omnimmm.data.schema.Panel` can point at the exact bad cell; duplicated headers are
kept as they are so they can be reported.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from omnimmm.data.schema import Panel
from omnimmm.data.tables import read_frame, sniff_table

if TYPE_CHECKING:
    from omnimmm.config import Plan

__all__ = ["file_sha256", "load_panel", "read_table", "summarize_panel"]


def file_sha256(path: str | Path) -> str:
    """sha256 hex digest of a file's bytes; for a folder (of Parquet files), of every file's
    relative name and bytes in name order."""
    src = Path(path)
    if not src.is_dir():
        return hashlib.sha256(src.read_bytes()).hexdigest()
    digest = hashlib.sha256()
    for f in sorted(p for p in src.rglob("*") if p.is_file()):
        digest.update(str(f.relative_to(src)).encode("utf-8") + b"\0" + f.read_bytes())
    return digest.hexdigest()


def read_table(path: str | Path, file_format: str | None = None) -> pd.DataFrame:
    """Read the media panel (CSV, Parquet or .xlsx) into a frame, keeping header names.

    A thin wrapper of :func:`omnimmm.data.tables.read_frame`: CSV in UTF-8, UTF-8-BOM or
    GB18030 with any common delimiter, Parquet, or Excel (first sheet, or all sheets stacked
    when they share its header).

    Parameters
    ----------
    path
        The file.
    file_format
        Ignored (kept for callers that pass the plan's ``data.format``): the format is
        sniffed from the file itself, so a mislabelled file still reads.

    Returns
    -------
    pandas.DataFrame
        For CSV and Excel, every cell as text (empty cells as ``""``), header whitespace
        stripped, empty trailing lines dropped. For Parquet, the stored column types.

    Raises
    ------
    DataError
        The file is missing, empty, in a format that is not read, or not parseable.
    """
    what = "media panel (data.path in the plan)"
    fmt = sniff_table(path, what=what)
    return read_frame(path, what=what, as_text=fmt.kind in ("csv", "excel"))


def load_panel(plan: Plan) -> Panel:
    """Read the plan's data file and validate it into a :class:`Panel`.

    Raises
    ------
    DataError
        The file cannot be read or breaks the panel contract; the message names the file,
        the column, the row (header = row 1) and/or the date, and what was expected.
    """
    path = plan.data.path
    frame = read_table(path, plan.data.file_format)
    return Panel.from_frame(frame, plan, source=path, data_hash=file_sha256(path))


def _amount(x: float) -> str:
    return f"{x:,.0f}"


def summarize_panel(panel: Panel) -> str:
    """Plain-text summary: weeks, date range, spend by channel and kind, outcomes, controls.

    Amounts are grouped by thousands (``1,234,567``) with no currency symbol.
    """
    spend = panel.spend.sum()
    total = float(spend.sum())
    lines = [
        f"Panel {panel.source}",
        f"  sha256 {panel.data_hash[:16]}",
        f"  {panel.n_weeks} weeks, {panel.dates[0].date()} to {panel.dates[-1].date()}",
        "",
        f"Channels: {len(panel.channels)}, total spend {_amount(total)}",
    ]
    width = max(len(c) for c in panel.channels)
    amounts = {c: _amount(float(spend[c])) for c in panel.channels}
    amount_width = max(len(a) for a in amounts.values())
    for kind, names in (("online", panel.online), ("offline", panel.offline)):
        if not names:
            continue
        kind_total = float(spend[names].sum())
        lines.append(
            f"  {kind} ({len(names)}): {_amount(kind_total)}, {100 * kind_total / total:.1f}%"
        )
        for c in names:
            share = 100 * float(spend[c]) / total
            lines.append(f"    {c:<{width}}  {amounts[c]:>{amount_width}}  {share:5.1f}%")
    lines += ["", f"Outcomes: {len(panel.outcomes.columns)}"]
    out_width = max(len(o) for o in panel.outcomes.columns)
    for o in panel.outcomes.columns:
        lines.append(f"  {o:<{out_width}}  total {_amount(float(panel.outcomes[o].sum()))}")
    controls = list(panel.controls.columns)
    lines += ["", f"Controls: {', '.join(controls) if controls else 'none'}"]
    return "\n".join(lines)
