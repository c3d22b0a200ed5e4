"""Reading a media panel from CSV or Parquet, and a plain-text summary of it.

CSV files are read as UTF-8 (with or without the byte-order mark Excel writes) and, failing
that, as GB18030, the encoding Chinese Excel uses for "CSV" by default. Every cell is read as
text so that :class:`~omnimmm.data.schema.Panel` can point at the exact bad cell; duplicated
headers are kept as they are so they can be reported.
"""

from __future__ import annotations

import hashlib
import io
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from omnimmm.data.schema import Panel
from omnimmm.errors import DataError

if TYPE_CHECKING:
    from omnimmm.config import Plan

__all__ = ["file_sha256", "load_panel", "read_table", "summarize_panel"]


def file_sha256(path: str | Path) -> str:
    """sha256 hex digest of a file's bytes."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def read_table(path: str | Path, file_format: str = "csv") -> pd.DataFrame:
    """Read a CSV or Parquet file into a frame, keeping header names as written.

    Parameters
    ----------
    path
        The file.
    file_format
        ``"csv"`` or ``"parquet"``.

    Returns
    -------
    pandas.DataFrame
        For CSV, every cell as text (empty cells as ``""``), header whitespace stripped,
        empty trailing lines dropped. For Parquet, the stored column types.

    Raises
    ------
    DataError
        The file is missing, empty, not decodable, or not parseable as ``file_format``.
    """
    src = Path(path)
    if not src.is_file():
        raise DataError(f"{src}: data file not found")
    if file_format == "parquet":
        return _read_parquet(src)
    return _read_csv(src, src.read_bytes())


def _read_csv(src: Path, raw: bytes) -> pd.DataFrame:
    if not raw.strip():
        raise DataError(f"{src}: the file is empty: expected a header row and one row per week")
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            text = raw.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:
        raise DataError(f"{src}: cannot decode the file as UTF-8 or GB18030 text")
    try:
        cells = pd.read_csv(
            io.StringIO(text),
            header=None,
            dtype=str,
            keep_default_na=False,
            skip_blank_lines=False,
        )
    except pd.errors.EmptyDataError:
        raise DataError(f"{src}: the file is empty: expected a header row") from None
    except pd.errors.ParserError as exc:
        raise DataError(f"{src}: not a readable CSV file: {exc}") from None
    header = [str(h).strip() for h in cells.iloc[0]]
    body = cells.iloc[1:].reset_index(drop=True)
    body.columns = pd.Index(header, dtype=object)
    filled = body.apply(lambda col: col.fillna("").str.strip() != "").any(axis=1).to_numpy()
    last = len(filled) - filled[::-1].argmax() if filled.any() else 0
    return body.iloc[:last]


def _read_parquet(src: Path) -> pd.DataFrame:
    import pyarrow.parquet as pq

    try:
        table = pq.read_table(src)
    except Exception as exc:  # pyarrow raises several types for bad files
        raise DataError(f"{src}: not a readable Parquet file: {exc}") from None
    names = list(table.column_names)
    frame = table.rename_columns([f"c{i}" for i in range(len(names))]).to_pandas(
        ignore_metadata=True
    )
    frame.columns = pd.Index(names, dtype=object)
    return frame


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
