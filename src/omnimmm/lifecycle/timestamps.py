"""Timestamp layouts of a column's text, shared by the readers of transactions, points and
journeys: which layout a sample of values is in (ISO, one of :data:`FORMATS`, or ISO mixed with
one other), Unix time or Excel serial days in a column named as a timestamp, and a pandas
reading of a whole column in the layout found.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime
from typing import Literal

import pandas as pd

#: Values a layout is judged on (the head of a column).
SAMPLE = 2000
ISO = re.compile(
    r"^\d{4}-\d{1,2}-\d{1,2}([ T]\d{1,2}:\d{2}(:\d{2}(\.\d+)?)?)?"
    r"(\s?([+-]\d{2}:?\d{2}|Z|UTC|GMT))?$"
)
#: Unix time in seconds or milliseconds, or Excel's serial days (``"excel"``: days since
#: 1899-12-30, the fraction the time of day), from 2000-01-01 to 2100-01-01 (UTC): the range a
#: numeric column named as a timestamp must fall in to be read as one (see :func:`epoch_unit`).
EPOCH_RANGE: dict[str, tuple[float, float]] = {
    "s": (946_684_800.0, 4_102_444_800.0),
    "ms": (946_684_800_000.0, 4_102_444_800_000.0),
    "excel": (36_526.0, 73_051.0),
}
#: Excel's day 0 (serial 25,569 is 1970-01-01).
EXCEL_EPOCH = pd.Timestamp("1899-12-30")
#: Non-ISO timestamp formats tried in this order (month-first before day-first: the first that
#: parses every sampled value wins, and an unambiguous sample settles it).
FORMATS: tuple[str, ...] = (
    "%Y%m%d",
    "%Y%m%d %H:%M:%S",
    "%Y-%m-%d %H",  # Tianchi's hour stamps, 2014-12-06 02
    "%Y/%m/%d %H:%M:%S",
    "%Y/%m/%d %H:%M",
    "%Y/%m/%d",
    "%Y.%m.%d",
    "%m/%d/%Y %H:%M:%S",
    "%m/%d/%Y %H:%M",
    "%m/%d/%Y",
    "%d/%m/%Y %H:%M:%S",
    "%d/%m/%Y %H:%M",
    "%d/%m/%Y",
    "%d.%m.%Y %H:%M:%S",
    "%d.%m.%Y",
    "%Y年%m月%d日 %H:%M:%S",
    "%Y年%m月%d日 %H:%M",
    "%Y年%m月%d日",
)
#: The timestamp layouts the readers take, as messages list them (one layout per file).
TS_LAYOUTS = (
    "2024-06-18 or 2024-06-18 20:00:00, 20240618, 6/18/2024 20:00, 2024年6月18日, or Unix "
    "seconds/milliseconds or Excel serial days (45461.83) in a column named as a timestamp"
)


def ts_format(values: Sequence[str], min_share: float = 1.0) -> str | None:
    """``"iso"`` if every value is an ISO date or date-time, else the first ``strptime``
    format of :data:`FORMATS` that parses them all, else ``None``.

    With ``min_share`` below 1 a format needs to parse only that share of the values: a
    reader that reports the rows that do not parse picks the layout of the rest."""
    vals = [v.strip() for v in values if v and v.strip()]
    if not vals:
        return None
    need = min_share * len(vals)
    if sum(1 for v in vals if ISO.match(v)) >= need:
        return "iso"
    allowed = len(vals) - need  # failures a format may have
    for fmt in FORMATS:
        parsed, failed = [], 0
        for v in vals:
            if _parses(v, fmt):
                parsed.append(v)
            else:
                failed += 1
                if failed > allowed:
                    break
        if failed > allowed or not parsed:
            continue
        if fmt.startswith("%Y%m%d") and not all(1900 <= int(v[:4]) <= 2100 for v in parsed):
            continue
        return fmt
    return None


def ts_layouts(values: Sequence[str], min_share: float = 1.0) -> tuple[str, ...] | None:
    """The layouts of a timestamp column's values: ``(ts_format(...),)`` when one layout
    parses them, else ISO and one other layout when each value is one or the other (an
    export whose date format changed along the way), else ``None``. Two non-ISO layouts are
    never mixed: ``12/31/2024`` beside ``31/12/2024`` leaves ``1/2/2024`` with two readings."""
    one = ts_format(values, min_share)
    if one is not None:
        return (one,)
    vals = [v.strip() for v in values if v and v.strip()]
    rest = [v for v in vals if not ISO.match(v)]
    n_iso = len(vals) - len(rest)
    if not n_iso or not rest:
        return None
    other = ts_format(rest, max(0.0, (min_share * len(vals) - n_iso) / len(rest)))
    return ("iso", other) if other not in (None, "iso") else None


def _parses(value: str, fmt: str) -> bool:
    try:
        datetime.strptime(value, fmt)
    except ValueError:
        return False
    return True


def epoch_unit(values: Sequence[str]) -> Literal["s", "ms", "excel"] | None:
    """``"s"`` or ``"ms"`` if every value is a Unix time in that unit between 2000 and 2100,
    ``"excel"`` if every value is an Excel serial day in that span (a sheet's dates saved
    without their format) (:data:`EPOCH_RANGE`), else ``None``. Only a column named as a
    timestamp is read this way: plain numbers (order ids, phone numbers, prices) can fall in
    the same range."""
    vals = [v.strip() for v in values if v and v.strip()]
    num = pd.to_numeric(pd.Series(vals, dtype=object), errors="coerce")
    if not vals or num.isna().any():
        return None
    if bool(num.between(*EPOCH_RANGE["s"]).all()):
        return "s"
    if bool(num.between(*EPOCH_RANGE["ms"]).all()):
        return "ms"
    if bool(num.between(*EPOCH_RANGE["excel"]).all()):
        return "excel"
    return None


def parse_times(values: pd.Series) -> pd.Series:
    """A timestamp column read in pandas as the DuckDB readers read it: datetimes as they
    are, text by the layout :func:`ts_format` finds (else pandas's own parsing), Unix time by
    :func:`epoch_unit`; zoned values at their wall-clock time; NaT where a value does not
    parse. The points reader and the choice between timestamp columns use it."""
    if pd.api.types.is_datetime64_any_dtype(values):
        out = pd.to_datetime(values)
    else:
        text = values.astype(str).str.strip()
        head = text.head(SAMPLE).tolist()
        fmt = ts_format(head)
        unit = epoch_unit(head) if fmt is None else None
        num = pd.to_numeric(text, errors="coerce")
        if unit == "excel":  # serial days, to the nearest second
            out = EXCEL_EPOCH + pd.to_timedelta((num * 86_400).round(), unit="s")
        elif unit is not None:  # Unix time, UTC
            out = pd.to_datetime(num, unit=unit, errors="coerce")
        else:
            out = pd.to_datetime(
                text, format=None if fmt in (None, "iso") else fmt, errors="coerce"
            )
    return out.dt.tz_localize(None) if out.dt.tz is not None else out


def parses_as(value: str, fmt: str) -> bool:
    return bool(ISO.match(value)) if fmt == "iso" else _parses(value, fmt)
