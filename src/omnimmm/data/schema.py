"""The media-panel contract: a validated weekly panel of spend, outcomes and controls.

A media panel has one row per week, a date column, one spend column per channel, one column
per outcome and optional control and event columns, all named in the plan. :meth:`Panel.from_frame`
checks a raw table against the plan and raises :class:`~omnimmm.errors.DataError` on the first
kind of problem it finds, with a message that names the file, the column, the row and/or the
date, and what was expected.

Rows are numbered as a spreadsheet shows them: the header is row 1, the first week is row 2.

How many weeks are enough
-------------------------
A panel needs at least ``max(52, 10 * n_channels + 20)`` weeks (:func:`min_weeks`):

* 52, so that one full year separates yearly seasonality and festivals from media;
* 10 per channel plus 20, because each channel brings about four parameters (effect, decay,
  half-saturation point, shape) and the baseline about twenty (intercept, trend, Fourier
  terms, festivals, controls). With fewer weeks each channel parameter rests on fewer than
  about 2.5 weeks of data, and its posterior is mostly its prior.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from omnimmm.errors import DataError

if TYPE_CHECKING:
    from omnimmm.config import Plan

__all__ = ["Panel", "frame_hash", "min_weeks"]

#: Cell texts read as "no value".
MISSING_TOKENS = frozenset({"", "na", "n/a", "nan", "null", "none", "#n/a", "-"})
_THOUSANDS = re.compile(r"^[+-]?\d{1,3}(,\d{3})+(\.\d*)?$")
_WEEK = pd.Timedelta(days=7)


def min_weeks(n_channels: int) -> int:
    """Fewest weeks a panel with ``n_channels`` channels may have: ``max(52, 10 n + 20)``."""
    return max(52, 10 * n_channels + 20)


def frame_hash(frame: pd.DataFrame) -> str:
    """sha256 of a frame's values, index and column names (for panels built in memory)."""
    digest = hashlib.sha256()
    digest.update(repr(list(frame.columns)).encode())
    digest.update(pd.util.hash_pandas_object(frame, index=True).to_numpy().tobytes())
    return digest.hexdigest()


@dataclass(frozen=True)
class Panel:
    """A weekly media panel that satisfies the plan's contract.

    Attributes
    ----------
    dates
        Week dates, strictly increasing in steps of exactly 7 days (named ``"date"``).
    spend
        Spend per week, one column per channel, named by channel name (not column name).
    outcomes
        Outcome per week (e.g. online and store revenue), named by column.
    controls
        Controls, then 0/1 event columns, named by column.
    channel_kinds
        ``"online"`` or ``"offline"`` per channel name, in plan order.
    source
        The file the panel was read from.
    data_hash
        sha256 of the file's bytes (or of the frame, for panels built in memory).
    """

    dates: pd.DatetimeIndex
    spend: pd.DataFrame
    outcomes: pd.DataFrame
    controls: pd.DataFrame
    channel_kinds: dict[str, str]
    source: Path
    data_hash: str

    @property
    def channels(self) -> list[str]:
        """Channel names in plan order."""
        return list(self.spend.columns)

    @property
    def n_weeks(self) -> int:
        """Number of weeks."""
        return len(self.dates)

    @property
    def online(self) -> list[str]:
        """Online channel names, in plan order."""
        return [c for c, k in self.channel_kinds.items() if k == "online"]

    @property
    def offline(self) -> list[str]:
        """Offline channel names, in plan order."""
        return [c for c, k in self.channel_kinds.items() if k == "offline"]

    @classmethod
    def from_frame(
        cls,
        frame: pd.DataFrame,
        plan: Plan,
        source: str | Path | None = None,
        data_hash: str | None = None,
    ) -> Panel:
        """Validate a raw table against ``plan`` and build the panel.

        Parameters
        ----------
        frame
            The table as read: one row per week in file order, columns named by the header
            (duplicated names allowed, so they can be reported). Cells may be text or numbers.
        plan
            The plan naming the date, outcome, control, event and channel columns.
        source
            File named in error messages (default: the plan's data path).
        data_hash
            Hash to record (default: :func:`frame_hash` of ``frame``).

        Raises
        ------
        DataError
            On the first kind of problem found, naming file, column, row and/or date.
        """
        src = Path(source) if source is not None else plan.data.path
        check = _Checker(frame, plan, src)
        dates = check.dates()
        values = {col: check.numbers(col, dates) for col in check.value_columns}
        for ch in plan.channels:
            check.spend(ch.name, ch.column, values[ch.column], dates)
        for col in plan.data.events:
            check.event(col, values[col], dates)
        check.enough_weeks(len(dates))
        check.calibration_windows(dates)

        def table(columns: list[str], names: list[str]) -> pd.DataFrame:
            data = {n: values[c] for c, n in zip(columns, names, strict=True)}
            return pd.DataFrame(data, index=dates, columns=names, dtype=float)

        spend_cols = [c.column for c in plan.channels]
        other = [*plan.data.controls, *plan.data.events]
        return cls(
            dates=dates,
            spend=table(spend_cols, list(plan.channel_names)),
            outcomes=table(list(plan.data.outcomes), list(plan.data.outcomes)),
            controls=table(other, other),
            channel_kinds={c.name: c.kind for c in plan.channels},
            source=src,
            data_hash=data_hash if data_hash is not None else frame_hash(frame),
        )


def _col_letter(position: int) -> str:
    """Spreadsheet letter of a 1-based column position (1 -> A, 27 -> AA)."""
    letters = ""
    while position:
        position, rem = divmod(position - 1, 26)
        letters = chr(65 + rem) + letters
    return letters


def _row(i: int) -> int:
    return i + 2  # header is row 1


class _Checker:
    """The individual checks, sharing the frame, the plan and the file name."""

    def __init__(self, frame: pd.DataFrame, plan: Plan, source: Path) -> None:
        self.plan = plan
        self.src = source
        self.frame = frame
        uses = {plan.data.date: "data.date"}
        for key in ("outcomes", "controls", "events"):
            for i, col in enumerate(getattr(plan.data, key), 1):
                uses[col] = f"data.{key}[{i}]"
        for i, ch in enumerate(plan.channels, 1):
            uses[ch.column] = f"channels[{i}].column"
        self.uses = uses
        self.value_columns = [c for c in uses if c != plan.data.date]
        self._columns_present()

    def fail(self, message: str) -> DataError:
        return DataError(f"{self.src}: {message}")

    def _columns_present(self) -> None:
        header = [str(c) for c in self.frame.columns]
        if not header:
            raise self.fail("the file is empty: expected a header row and one row per week")
        if len(self.frame) == 0:
            raise self.fail("the file has a header but no data rows: expected one row per week")
        for name in self.uses:
            positions = [i + 1 for i, h in enumerate(header) if h == name]
            if len(positions) > 1:
                where = " and ".join(f"{p} ({_col_letter(p)})" for p in positions)
                raise self.fail(
                    f'column header "{name}" appears {len(positions)} times (columns {where}); '
                    "each column the plan uses must appear once"
                )
        missing = [c for c in self.uses if c not in header]
        if missing:
            import difflib

            parts = []
            for col in missing:
                close = difflib.get_close_matches(col, header, n=1, cutoff=0.6)
                hint = f'; did you mean "{close[0]}"?' if close else ""
                parts.append(f'"{col}" (plan key {self.uses[col]}{hint})')
            text = f"missing column(s): {', '.join(parts)}. The file's header has: "
            text += ", ".join(f'"{h}"' for h in header[:15])
            text += " ..." if len(header) > 15 else ""
            if len(header) == 1 and any(s in header[0] for s in ";\t|"):
                text += ". The header looks like one column: save the file comma-separated"
            raise self.fail(text)

    def dates(self) -> pd.DatetimeIndex:
        col = self.plan.data.date
        raw = self.frame[col]
        if pd.api.types.is_datetime64_any_dtype(raw.dtype):
            parsed = pd.to_datetime(raw)
            if getattr(parsed.dt, "tz", None) is not None:
                parsed = parsed.dt.tz_localize(None)
            missing = parsed.isna().to_numpy()
            bad = np.zeros(len(raw), dtype=bool)
        else:
            text = raw.astype(object).map(_clean_text)
            missing = text.isna().to_numpy()
            normal = text.str.replace(r"^(\d{4})/(\d{1,2})/(\d{1,2})", r"\1-\2-\3", regex=True)
            parsed = pd.to_datetime(normal, format="ISO8601", errors="coerce")
            bad = (~missing) & parsed.isna().to_numpy()
        if missing.any():
            i = int(np.flatnonzero(missing)[0])
            raise self.fail(
                f'column "{col}": row {_row(i)} has no date ({int(missing.sum())} empty '
                "date cell(s) in all); every week needs its date"
            )
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise self.fail(
                f'column "{col}": row {_row(i)}: "{raw.iloc[i]}" is not a date '
                f"({int(bad.sum())} unparsable in all); expected dates like 2024-01-01 "
                "(YYYY-MM-DD or YYYY/MM/DD)"
            )
        dates = pd.DatetimeIndex(parsed, name="date")
        dup = dates.duplicated(keep=False)
        if dup.any():
            raise self.fail(self._duplicate_dates(col, dates))
        steps = dates[1:] - dates[:-1]
        if (steps <= pd.Timedelta(0)).any():
            i = int(np.flatnonzero(steps <= pd.Timedelta(0))[0])
            raise self.fail(
                f'column "{col}": dates are out of order: row {_row(i + 1)} '
                f"({dates[i + 1].date()}) comes after row {_row(i)} ({dates[i].date()}); "
                "sort the rows by date, oldest first"
            )
        off = np.flatnonzero(steps != _WEEK)
        if off.size:
            i = int(off[0])
            days = steps[i] / pd.Timedelta(days=1)
            what = "a gap" if days > 7 else "not weekly"
            raise self.fail(
                f'column "{col}": {what}: {dates[i].date()} (row {_row(i)}) is followed by '
                f"{dates[i + 1].date()} (row {_row(i + 1)}), {days:g} days later; weeks must "
                "be exactly 7 days apart (add missing weeks with zero spend, or aggregate "
                "daily data to weeks)"
            )
        return dates

    def _duplicate_dates(self, col: str, dates: pd.DatetimeIndex) -> str:
        """Which date repeats, and, when most do, that this is a long (geo) panel and what
        to do with it."""
        dup = dates.duplicated(keep=False)
        first = dates[dup][0]
        at = np.flatnonzero(dates == first)
        rows = ", ".join(str(_row(int(i))) for i in at[:8]) + (", ..." if len(at) > 8 else "")
        text = (
            f'column "{col}": date {first.date()} appears {len(at)} times (rows {rows}); '
            "expected one row per week"
        )
        repeated = pd.Series(dates).value_counts()
        if (repeated > 1).mean() < 0.5:
            return text
        block = self.frame.iloc[at]
        keys = [
            str(c)
            for c in self.frame.columns
            if str(c) not in self.uses and block[c].astype(str).nunique() == len(at)
        ]
        by = f' (one per value of "{keys[0]}")' if keys else ""
        return (
            f"{text}. Every date has {int(repeated.median())} rows{by}: this looks like a "
            "long panel (one row per geo, region or store and week), and this plan models "
            "one national series. Sum spend and outcomes per week into one row per date "
            "(e.g. pandas: frame.groupby(date).sum()), or keep one geo's rows"
        )

    def numbers(self, col: str, dates: pd.DatetimeIndex) -> np.ndarray:
        raw = self.frame[col]
        what = self.uses[col]
        if pd.api.types.is_bool_dtype(raw.dtype) or pd.api.types.is_numeric_dtype(raw.dtype):
            values = pd.to_numeric(raw, errors="coerce").astype(float).to_numpy()
            missing = np.isnan(values)
            bad = np.isinf(values)
        else:
            text = raw.astype(object).map(_clean_text)
            missing = text.isna().to_numpy()
            plain = text.map(
                lambda s: s.replace(",", "") if _THOUSANDS.match(s) else s, na_action="ignore"
            )
            values = pd.to_numeric(plain, errors="coerce").astype(float).to_numpy()
            bad = (~missing) & ~np.isfinite(values)
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise self.fail(
                f'column "{col}" ({what}): row {_row(i)} (date {dates[i].date()}): '
                f'"{raw.iloc[i]}" is not a number ({int(bad.sum())} such cell(s)); expected '
                "plain numbers such as 1234.5"
            )
        if missing.any():
            i = int(np.flatnonzero(missing)[0])
            is_spend = what.startswith("channels")
            kind = "spend" if is_spend else what.split(".")[1].split("[")[0].rstrip("s")
            raise self.fail(
                f'column "{col}" ({what}): missing {kind} value in row {_row(i)} '
                f"(date {dates[i].date()}), {int(missing.sum())} missing in all; every week "
                "needs a value" + (" (write 0 for weeks without spend)" if is_spend else "")
            )
        return values

    def spend(self, name: str, col: str, values: np.ndarray, dates: pd.DatetimeIndex) -> None:
        negative = np.flatnonzero(values < 0)
        if negative.size:
            i = int(negative[0])
            raise self.fail(
                f'column "{col}" (channel "{name}"): negative spend {values[i]:g} in row '
                f"{_row(i)} (date {dates[i].date()}), {negative.size} negative in all; "
                "spend must be >= 0 (refunds belong in a control column)"
            )
        if not (values > 0).any():
            raise self.fail(
                f'column "{col}" (channel "{name}"): spend is zero in all {len(values)} '
                "weeks, so its effect cannot be estimated; remove the channel from the plan"
            )

    def event(self, col: str, values: np.ndarray, dates: pd.DatetimeIndex) -> None:
        bad = np.flatnonzero((values != 0) & (values != 1))
        if bad.size:
            i = int(bad[0])
            raise self.fail(
                f'column "{col}" (event): row {_row(i)} (date {dates[i].date()}) holds '
                f"{values[i]:g}; event columns must be 0 or 1"
            )

    def enough_weeks(self, n: int) -> None:
        k = len(self.plan.channels)
        need = min_weeks(k)
        if n < need:
            raise self.fail(
                f"{n} weeks is too short for {k} channel(s): a panel needs at least "
                f"max(52, 10 x channels + 20) = {need} weeks (one full year for seasonality, "
                "about 10 weeks of data per channel for its effect, decay and saturation); "
                "add history or model fewer channels"
            )

    def calibration_windows(self, dates: pd.DatetimeIndex) -> None:
        first, last = dates[0], dates[-1] + _WEEK - pd.Timedelta(days=1)
        for i, cal in enumerate(self.plan.calibration, 1):
            start, end = pd.Timestamp(cal.start), pd.Timestamp(cal.end)
            if start < first or end > last:
                raise self.fail(
                    f"plan key calibration[{i}] (channel {cal.channel}) runs {cal.start} to "
                    f"{cal.end}, outside the data ({first.date()} to {last.date()}); a lift "
                    "test can only calibrate weeks the panel covers"
                )


def _clean_text(value: object) -> str | None:
    """Strip a cell; ``None`` for empty cells and missing-value tokens such as NA."""
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return None
    text = str(value).strip()
    return None if text.lower() in MISSING_TOKENS else text
