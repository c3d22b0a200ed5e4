"""Text cells as numbers: thousands separators, decimal commas and currency signs, and the
type of a column of text cells (integers, floats, flags, or text kept as text: ids with
leading zeros, phone numbers). Shared by the table readers (:mod:`omnimmm.data.tables`) and
role inference (an amount written ``"¥3,860.00"``).
"""

from __future__ import annotations

import re
from typing import Any, cast

import numpy as np
import pandas as pd

THOUSANDS = re.compile(r"^\s*[+-]?\d{1,3}(,\d{3})+(\.\d*)?\s*$")
CURRENCY = "¥￥$€£"
#: An amount written with a currency sign and/or thousands separators: "¥3,860.00", "$12".
AMOUNT = re.compile(
    rf"^\s*[+-]?\s*[{CURRENCY}]?\s*\d{{1,3}}(,\d{{3}})+(\.\d*)?\s*$"
    rf"|^\s*[+-]?\s*[{CURRENCY}]\s*\d+(\.\d*)?\s*$"
)
STRIP = re.compile(rf"[{CURRENCY},\s]")
#: ``1.234,5``, ``3,86`` or Excel's ``4,44089E-16`` (a rounding residue in scientific notation)
DECIMAL_COMMA = re.compile(r"^\s*[+-]?(\d{1,3}(\.\d{3})+|\d+)(,\d+)?([eE][+-]?\d+)?\s*$")
DOTTED_THOUSANDS = re.compile(r"^\s*[+-]?\d{1,3}(\.\d{3})+(,\d+)?\s*$")
COMMA_FRACTION = re.compile(r"^\s*[+-]?\d+,\d+\s*$")


def plain_amount(text: str) -> str:
    """An amount cell as the readers pass it on: ``"¥3,860.00"`` -> ``"3860.00"`` (currency
    sign and thousands separators dropped); any other text unchanged."""
    return STRIP.sub("", text) if AMOUNT.match(text) else text


def sniff_numbers(cells: list[str], delimiter: str) -> tuple[str | None, str]:
    """``(thousands, decimal)`` separators of a text table's sampled cells."""
    if delimiter == ";" and any(
        DOTTED_THOUSANDS.match(c) or COMMA_FRACTION.match(c) for c in cells
    ):
        has_dots = any(DOTTED_THOUSANDS.match(c) for c in cells)
        three = all(len(c.strip().split(",")[1]) == 3 for c in cells if COMMA_FRACTION.match(c))
        if has_dots or not three:
            return (".", ",") if has_dots else (None, ",")
    return ("," if any(THOUSANDS.match(c) for c in cells) else None), "."


def clean_numbers(cells: pd.DataFrame, decimal: str) -> pd.DataFrame:
    """Remove thousands separators (and read decimal commas) in numeric-looking text cells."""
    out = cells.copy()
    for j in range(out.shape[1]):
        col = out.iloc[:, j].astype(str)
        if decimal == ",":
            fixed = col.map(_from_decimal_comma)
        elif col.str.contains(rf"[,{CURRENCY}]", regex=True).any():
            fixed = col.map(plain_amount)
        else:
            continue
        out.isetitem(j, cast(Any, fixed))
    return out


def _from_decimal_comma(s: str) -> str:
    if DECIMAL_COMMA.match(s) and ("," in s or DOTTED_THOUSANDS.match(s)):
        return s.replace(".", "").replace(",", ".")
    return s


def infer_types(cells: pd.DataFrame) -> pd.DataFrame:
    """Each column of text cells typed (:func:`_typed`)."""
    out = cells.copy()
    for j in range(out.shape[1]):
        out.isetitem(j, cast(Any, _typed(out.iloc[:, j].astype(str))))
    return out


def _typed(col: pd.Series) -> pd.Series:
    text = col.str.strip()
    empty = text == ""
    filled = text[~empty]
    if filled.empty:
        return pd.Series([None] * len(col), index=col.index, dtype=object)
    lowered = filled.str.lower()
    if lowered.isin({"true", "false"}).all():
        flags = pd.Series(pd.NA, index=col.index, dtype="boolean")
        flags[~empty] = lowered == "true"
        return flags if empty.any() else flags.astype(bool)
    numbers = pd.to_numeric(filled, errors="coerce")
    keep_text = (
        numbers.isna().any()
        or filled.str.match(r"^[+-]?0\d").any()  # ids such as 00123 keep their zeros
        or filled.str.startswith("+").any()  # phone numbers such as +8613812345678
        or filled.str.lower().isin({"inf", "-inf", "infinity", "nan"}).any()
    )
    if keep_text:
        return text.where(~empty, None).astype(object)
    integral = filled.str.fullmatch(r"[+-]?\d+").all()
    if integral and filled.str.len().max() <= 18:
        values = pd.Series(pd.NA, index=col.index, dtype="Int64")
        values[~empty] = numbers.astype("int64")
        return values if empty.any() else values.astype("int64")
    if integral:
        return text.where(~empty, None).astype(object)  # too long for int64: an id
    values_f = pd.Series(np.nan, index=col.index, dtype=float)
    values_f[~empty] = numbers.astype(float)
    return values_f
