"""Retail festival calendars as weekly indicator columns.

A weekly media panel marks festivals with one indicator column per festival: 1.0 in the
weeks the festival moves sales, 0.0 elsewhere. The MMM uses them as event controls and the
simulator uses them to shape demand and flighting.

Calendars
---------
``"china"``
    Three columns:

    * ``spring_festival`` -- the week containing Chinese New Year's day and the week before
      it (the pre-festival shopping week). The date moves with the lunar calendar, so it is
      looked up in :data:`SPRING_FESTIVAL` (2010-2040).
    * ``event_618`` -- the week containing 18 June (the JD.com "618" shopping festival).
    * ``double_11`` -- the week containing 11 November ("Singles' Day").

``"none"``
    No festivals: an empty frame on the same index, for markets that bring their own event
    columns.

A week is the seven days starting at its date, so the panel's dates may fall on any
weekday (Mondays in the simulator).
"""

from __future__ import annotations

import datetime as dt
from typing import Final

import numpy as np
import pandas as pd

from omnimmm.errors import DataError, PlanError

__all__ = [
    "CALENDARS",
    "SPRING_FESTIVAL",
    "festival_days",
    "festival_weeks",
    "fixed_day_weeks",
    "spring_festival_date",
]

#: Chinese New Year's day (first day of the first lunar month, China Standard Time).
#: Checked against the new moons of January/February computed from Meeus' lunar-phase
#: series at UTC+8; e.g. 2024-02-10, 2025-01-29, 2026-02-17.
SPRING_FESTIVAL: Final[dict[int, dt.date]] = {
    year: dt.date.fromisoformat(day)
    for year, day in {
        2010: "2010-02-14",
        2011: "2011-02-03",
        2012: "2012-01-23",
        2013: "2013-02-10",
        2014: "2014-01-31",
        2015: "2015-02-19",
        2016: "2016-02-08",
        2017: "2017-01-28",
        2018: "2018-02-16",
        2019: "2019-02-05",
        2020: "2020-01-25",
        2021: "2021-02-12",
        2022: "2022-02-01",
        2023: "2023-01-22",
        2024: "2024-02-10",
        2025: "2025-01-29",
        2026: "2026-02-17",
        2027: "2027-02-06",
        2028: "2028-01-26",
        2029: "2029-02-13",
        2030: "2030-02-03",
        2031: "2031-01-23",
        2032: "2032-02-11",
        2033: "2033-01-31",
        2034: "2034-02-19",
        2035: "2035-02-08",
        2036: "2036-01-28",
        2037: "2037-02-15",
        2038: "2038-02-04",
        2039: "2039-01-24",
        2040: "2040-02-12",
    }.items()
}

#: Calendar names accepted by :func:`festival_weeks`, with the columns each one produces.
CALENDARS: Final[dict[str, tuple[str, ...]]] = {
    "china": ("spring_festival", "event_618", "double_11"),
    "none": (),
}

_WEEK = pd.Timedelta(days=7)


def spring_festival_date(year: int) -> dt.date:
    """Return Chinese New Year's day of ``year``.

    Parameters
    ----------
    year : int
        Gregorian year, 2010 to 2040.

    Returns
    -------
    datetime.date
        The first day of the first lunar month.

    Raises
    ------
    DataError
        If ``year`` is outside the table.
    """
    try:
        return SPRING_FESTIVAL[year]
    except KeyError:
        first, last = min(SPRING_FESTIVAL), max(SPRING_FESTIVAL)
        raise DataError(
            f"no Spring Festival date for {year}: the built-in lunar table covers "
            f"{first}-{last}; pass calendar='none' and add your own event column"
        ) from None


def festival_days(year: int, calendar: str = "china") -> dict[str, dt.date]:
    """Return the festival days of one year, keyed by indicator column name.

    Parameters
    ----------
    year : int
        Gregorian year.
    calendar : {"china", "none"}
        Which festival calendar.

    Returns
    -------
    dict of str to datetime.date
        Empty for ``calendar="none"``.
    """
    _check_calendar(calendar)
    if calendar == "none":
        return {}
    return {
        "spring_festival": spring_festival_date(year),
        "event_618": dt.date(year, 6, 18),
        "double_11": dt.date(year, 11, 11),
    }


def festival_weeks(dates: pd.DatetimeIndex, calendar: str = "china") -> pd.DataFrame:
    """Weekly 0/1 festival indicators for the weeks starting at ``dates``.

    Parameters
    ----------
    dates : pandas.DatetimeIndex
        Week start dates; week ``t`` covers ``[dates[t], dates[t] + 7 days)``.
    calendar : {"china", "none"}
        ``"china"`` gives ``spring_festival`` (the week containing Chinese New Year's day
        and the week before it), ``event_618`` and ``double_11`` (the week containing the
        day). ``"none"`` gives a frame with no columns.

    Returns
    -------
    pandas.DataFrame
        Index ``dates``, one float column of 0.0/1.0 per festival.

    Raises
    ------
    PlanError
        If ``calendar`` is unknown.
    DataError
        If ``dates`` is not a DatetimeIndex or has missing values, or a Spring Festival date
        is needed outside the table's years.
    """
    _check_calendar(calendar)
    if not isinstance(dates, pd.DatetimeIndex):
        raise DataError(
            f"festival_weeks needs a pandas DatetimeIndex of week start dates, "
            f"got {type(dates).__name__}"
        )
    if dates.hasnans:
        raise DataError("festival_weeks: the week start dates contain missing values")
    columns = CALENDARS[calendar]
    out = pd.DataFrame(0.0, index=dates, columns=list(columns))
    if not columns or len(dates) == 0:
        return out
    starts = dates.normalize().tz_localize(None)
    last_day = starts.max() + _WEEK - pd.Timedelta(days=1)
    for year in range(starts.min().year, last_day.year + 1):
        for name, day in festival_days(year, calendar).items():
            stamp = pd.Timestamp(day)
            hit = (starts <= stamp) & (stamp < starts + _WEEK)
            if name == "spring_festival":
                pre = stamp - _WEEK
                hit |= (starts <= pre) & (pre < starts + _WEEK)
            out.loc[np.asarray(hit), name] = 1.0
    return out


def plan_festival_weeks(
    dates: pd.DatetimeIndex, calendar: str = "china", extra: tuple[str, ...] = ()
) -> pd.DataFrame:
    """A plan's ``[festivals]`` as weekly 0/1 columns: the calendar's festivals
    (:func:`festival_weeks`), then one column per ``extra`` fixed day
    (:func:`fixed_day_weeks`); index ``dates``, the week starts."""
    return pd.concat([festival_weeks(dates, calendar), fixed_day_weeks(dates, extra)], axis=1)


def fixed_day_weeks(dates: pd.DatetimeIndex, days: tuple[str, ...]) -> pd.DataFrame:
    """Weekly 0/1 indicators of fixed-date annual festivals (``[festivals] extra``).

    Parameters
    ----------
    dates : pandas.DatetimeIndex
        Week start dates; week ``t`` covers ``[dates[t], dates[t] + 7 days)``.
    days : tuple of str
        ``"MM-DD"`` days (``"02-29"`` only in leap years), e.g. ``("12-12",)``.

    Returns
    -------
    pandas.DataFrame
        Index ``dates``, one column ``festival_MM_DD`` per day: 1.0 in the week holding it.
    """
    starts = pd.DatetimeIndex(dates).normalize().tz_localize(None)
    out = pd.DataFrame(0.0, index=dates, columns=[f"festival_{d.replace('-', '_')}" for d in days])
    if len(starts) == 0:
        return out
    last_day = starts.max() + _WEEK - pd.Timedelta(days=1)
    for name, md in zip(out.columns, days, strict=True):
        month, day = (int(v) for v in md.split("-"))
        for year in range(starts.min().year, last_day.year + 1):
            try:
                stamp = pd.Timestamp(year=year, month=month, day=day)
            except ValueError:  # 02-29 outside a leap year
                continue
            hit = (starts <= stamp) & (stamp < starts + _WEEK)
            out.loc[np.asarray(hit), name] = 1.0
    return out


def _check_calendar(calendar: str) -> None:
    if calendar not in CALENDARS:
        raise PlanError(
            f"unknown festival calendar {calendar!r}; expected one of {sorted(CALENDARS)}"
        )
