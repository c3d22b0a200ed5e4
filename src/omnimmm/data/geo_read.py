"""Reading a long (geo) media panel into a :class:`~omnimmm.data.geo_panel.GeoPanel`.

A geo plan says ``[data] geo = "<region column>"`` (and optionally ``population =
"<column>"``): the file then has one row per week and region, with the plan's date, spend,
outcome, control and event columns. A channel with ``scope = "national"`` is one buy for the
whole country, and its regional column holds the region's share of that buy (spend or
impressions by population); a local channel's column is what was bought in the region.

The file is read by the one tabular reader (:mod:`omnimmm.data.tables`: CSV in any common
encoding and delimiter, Parquet files and folders, Excel). Every problem raises
:class:`~omnimmm.errors.DataError` naming the file, the column, the region, the week and the
row (header = row 1), and what was expected:

* a missing column, a cell that is not a number, a missing value, negative spend;
* a region-week that appears twice, a region without some of the panel's weeks (or whose
  first or last weeks sell nothing: a region that opened later or closed), weeks that
  are not 7 days apart, a region (or a row) dated on another weekday than the others, one
  region spelled two ways (case, spaces, character width), a region whose rows carry no
  data (all outcomes zero or empty);
* a national channel whose regional shares do not add up to one national buy consistently:
  a region missing while the others buy, a region's share in a week more than
  :data:`SHARE_GROSS` times (or less than its inverse) its usual share, or more than
  :data:`SHARE_OFF_LIMIT` of the region-weeks beyond :data:`SHARE_FACTOR` (a column of
  separate regional buys declared national). A few region-weeks between the two factors are
  the ordinary wobble of a split buy (rounding, a late regional booking) and are accepted;
  where the shares wobble every week (delivered impressions), both factors widen with the
  wobble (:data:`SHARE_WOBBLE`), and a wobble too wide to be one buy is refused;
  a national column with the same amount in every region in every week it spends is the
  national total repeated in each row (summed, it would count the buy once per region) and is
  refused unless the population gives every region the same size (an equal split); so is
  a national column that only one region holds (a national total written in one region's rows);
* a population that is not positive or that changes wildly within a region (more than
  :data:`POPULATION_DRIFT` between its smallest and largest value); a steady population is
  averaged per region;
* an event column that is not 0/1 or differs between regions in a week (festivals are
  national; the plan's ``[festivals]`` calendar weeks, and the weeks of its ``extra``
  fixed days, are added to the panel's events);
* too few weeks for the channels, a channel that never spends, a ``[budget.geos.NAME]``
  naming a region the data do not have, a region called ``national`` (national total rows),
  or a region under any name whose outcomes are the other regions' sums in every week.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from omnimmm.data.calendar import plan_festival_weeks
from omnimmm.data.io import file_sha256
from omnimmm.data.schema import MISSING_TOKENS, min_weeks
from omnimmm.data.tables import read_frame
from omnimmm.errors import DataError

if TYPE_CHECKING:
    from omnimmm.config import Plan

__all__ = [
    "NATIONAL_ROW",
    "POPULATION_DRIFT",
    "SHARE_FACTOR",
    "SHARE_GROSS",
    "SHARE_OFF_LIMIT",
    "SHARE_WOBBLE",
    "GeoData",
    "geo_arrays",
    "load_geo_panel",
    "week_starts",
]

#: The ``geo`` of the national sums in a geo run's forecast tables; no region may be called
#: so (case and spaces ignored): a long panel with national total rows is refused.
NATIONAL_ROW = "national"

#: Largest ratio between a region's largest and smallest population before it is an error.
POPULATION_DRIFT = 1.5
#: A national channel's regional share in a week may differ from the region's median share
#: by this factor (either way) before the region-week counts as off its usual share.
SHARE_FACTOR = 2.0
#: Largest share of a national channel's live region-weeks that may be off by
#: :data:`SHARE_FACTOR` before the column is refused (isolated wobbles are accepted).
SHARE_OFF_LIMIT = 0.01
#: A region-week off its usual share by this factor (either way) is refused on its own.
SHARE_GROSS = 3.0
#: Where a national column's shares wobble from week to week (delivered impressions, say),
#: the two factors above widen to this many of the wobble's robust standard deviations (of
#: the log of each region-week's share over its usual one), so that ordinary noise is not
#: taken for a problem: :data:`SHARE_FACTOR` to ``SHARE_WOBBLE[0]`` of them and
#: :data:`SHARE_GROSS` to ``SHARE_WOBBLE[1]``. A wobble whose standard deviation is itself
#: beyond a factor :data:`SHARE_FACTOR` is not one national buy and is refused.
SHARE_WOBBLE = (3.5, 5.0)
_NATIONAL_COLUMN = (
    "A national channel's column must hold each region's share of one national buy (e.g. "
    "spend or impressions by population); if regions buy it separately, declare it scope = "
    '"local"'
)
_SHARE_ABS = 0.01  # ... and by at least this much of the national buy (tiny regions wobble)
_WEEK = pd.Timedelta(days=7)
#: Weeks of zero outcomes at a region's start (or end) that read as a region opened later.
_LATE_WEEKS = 2
_DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


@dataclass(frozen=True)
class GeoData:
    """A validated geo panel with where it came from.

    Attributes
    ----------
    panel : omnimmm.data.geo_panel.GeoPanel
    source : Path
        The file read.
    data_hash : str
        sha256 of the file's bytes.
    rows : int
        Data rows read (weeks x regions).
    """

    panel: Any
    source: Path
    data_hash: str
    rows: int

    @property
    def n_weeks(self) -> int:
        """Number of weeks."""
        return len(self.panel.dates)


def load_geo_panel(plan: Plan) -> GeoData:
    """Read and validate the plan's long panel (see the module docstring).

    Raises
    ------
    DataError
        Naming the file, column, region, week and row of the first kind of problem found.
    """
    from omnimmm.data.geo_panel import GeoPanel

    path = plan.data.path
    frame = read_frame(path, what="geo media panel (data.path in the plan)")
    arrays = geo_arrays(frame, plan, path)
    return GeoData(GeoPanel(**arrays), path, file_sha256(path), len(frame))


def geo_arrays(frame: pd.DataFrame, plan: Plan, source: str | Path) -> dict[str, Any]:
    """Validate a long table against a geo plan and return the GeoPanel's fields.

    Parameters
    ----------
    frame
        The table as read (one row per week and region, any order).
    plan
        A plan with ``data.geo`` set.
    source
        The file, for messages.

    Returns
    -------
    dict
        Keyword arguments of :class:`omnimmm.data.geo_panel.GeoPanel`.

    Raises
    ------
    DataError
    """
    return _Reader(frame, plan, Path(source)).arrays()


def week_starts(dates: pd.DatetimeIndex, plan: Plan) -> pd.DatetimeIndex:
    """Each week's first day: the panel's dates, or 6 days before them where the plan says
    they are week ends (``[data] week_dates = "end"``)."""
    if plan.data.week_dates == "end":
        return pd.DatetimeIndex(dates - pd.Timedelta(days=6), name=dates.name)
    return pd.DatetimeIndex(dates)


def _row(i: int) -> int:
    return int(i) + 2  # header is row 1


def _date(d: Any) -> str:
    return str(pd.Timestamp(d).date())


class _Reader:
    def __init__(self, frame: pd.DataFrame, plan: Plan, source: Path) -> None:
        if plan.data.geo is None:
            raise ValueError("geo_arrays needs a plan with data.geo")
        self.plan, self.src = plan, source
        self.frame = frame.reset_index(drop=True)
        d = plan.data
        uses = {d.date: "data.date", plan.data.geo: "data.geo"}
        if d.population is not None:
            uses[d.population] = "data.population"
        for key in ("outcomes", "controls", "events"):
            for i, col in enumerate(getattr(d, key), 1):
                uses[col] = f"data.{key}[{i}]"
        for i, ch in enumerate(plan.channels, 1):
            uses[ch.column] = f"channels[{i}].column (channel {ch.name})"
        self.uses = uses

    def fail(self, message: str) -> DataError:
        return DataError(f"{self.src}: {message}")

    # ------------------------------------------------------------------ the whole check

    def arrays(self) -> dict[str, Any]:
        self._columns()
        geo, dates = self._keys()
        weeks, geos, cell = self._grid(geo, dates)
        d, plan = self.plan.data, self.plan
        num = {c: self._numbers(c, geo, dates) for c in self.uses if c not in (d.date, d.geo)}
        n_t, n_g = len(weeks), len(geos)

        def cube(col: str) -> np.ndarray:
            out = np.empty(n_t * n_g)
            out[cell] = num[col]
            return out.reshape(n_t, n_g)

        spend = np.stack([cube(c.column) for c in plan.channels], axis=-1)
        y = np.stack([cube(c) for c in d.outcomes], axis=-1)
        self._spend(spend, weeks, geos)
        self._regions_have_data(y, weeks, geos)
        self._no_total_rows(y, weeks, geos)
        pop = cube(d.population) if d.population else None
        equal_sizes = pop is not None and bool(np.all(pop == pop.flat[0]))
        self._national_shares(spend, weeks, geos, equal_sizes)
        controls = np.stack([cube(c) for c in d.controls], axis=-1) if d.controls else None
        events, event_names = self._events({c: cube(c) for c in d.events}, weeks, geos)
        population = self._population(pop, weeks, geos) if pop is not None else None
        self._enough_weeks(n_t)
        self._budget_geos(geos)
        return {
            "dates": pd.DatetimeIndex(weeks, name="date"),
            "geos": tuple(geos),
            "channels": plan.channel_names,
            "kinds": tuple(c.kind for c in plan.channels),
            "scopes": tuple(c.scope or "local" for c in plan.channels),
            "outcomes": tuple(d.outcomes),
            "spend": spend,
            "y": y,
            "controls": controls if controls is not None else np.zeros((n_t, n_g, 0)),
            "control_names": tuple(d.controls),
            "population": population if population is not None else np.ones(n_g),
            "events": events,
            "event_names": event_names,
        }

    # ------------------------------------------------------------------ columns and keys

    def _columns(self) -> None:
        header = [str(c) for c in self.frame.columns]
        if not header or len(self.frame) == 0:
            raise self.fail("the file has no data rows: expected one row per week and region")
        for name, key in self.uses.items():
            n = header.count(name)
            if n > 1:
                raise self.fail(f'column header "{name}" ({key}) appears {n} times')
        missing = [
            f'"{c}" (plan key {k}){_close_column(c, header)}'
            for c, k in self.uses.items()
            if c not in header
        ]
        if missing:
            shown = ", ".join(f'"{h}"' for h in header[:15]) + (" ..." if len(header) > 15 else "")
            raise self.fail(f"missing column(s): {', '.join(missing)}; the header has: {shown}")

    def _keys(self) -> tuple[pd.Series, pd.Series]:
        d = self.plan.data
        raw_geo = self.frame[d.geo]
        if pd.api.types.is_float_dtype(raw_geo.dtype) and (raw_geo.dropna() % 1 == 0).all():
            raw_geo = raw_geo.astype("Int64")
        geo = raw_geo.astype(object).map(_text)
        empty = np.flatnonzero(geo.isna().to_numpy())
        if empty.size:
            raise self.fail(
                f'column "{d.geo}" (data.geo): row {_row(empty[0])} names no region '
                f"({empty.size} such row(s)); every row needs its region"
            )
        raw = self.frame[d.date]
        if pd.api.types.is_datetime64_any_dtype(raw.dtype):
            dates = pd.to_datetime(raw)
            if getattr(dates.dt, "tz", None) is not None:
                dates = dates.dt.tz_localize(None)
            bad = dates.isna().to_numpy()
        else:
            text = raw.astype(object).map(_text)
            norm = text.str.replace(r"^(\d{4})/(\d{1,2})/(\d{1,2})", r"\1-\2-\3", regex=True)
            # 2024年1月1日, as a Chinese-locale export writes dates
            norm = norm.str.replace(r"^(\d{4})年(\d{1,2})月(\d{1,2})日", r"\1-\2-\3", regex=True)
            dates = pd.to_datetime(norm, format="ISO8601", errors="coerce")
            bad = dates.isna().to_numpy()
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise self.fail(
                f'column "{d.date}" (data.date): row {_row(i)} (region {geo.iloc[i]}): '
                f'"{raw.iloc[i]}" is not a date ({int(bad.sum())} such row(s)); expected '
                "dates like 2024-01-01 (YYYY-MM-DD, YYYY/MM/DD or YYYY年MM月DD日)"
            )
        return geo, pd.Series(dates.to_numpy(), name="date")

    def _grid(
        self, geo: pd.Series, dates: pd.Series
    ) -> tuple[pd.DatetimeIndex, list[str], np.ndarray]:
        """Weeks, regions and each row's cell (week * G + region); every check on the grid."""
        keys = pd.DataFrame({"geo": geo, "date": dates})
        dup = keys.duplicated(keep=False).to_numpy()
        if dup.any():
            first = keys[dup].iloc[0]
            same = np.flatnonzero(dup & (keys["geo"] == first["geo"]).to_numpy()
                                  & (keys["date"] == first["date"]).to_numpy())  # fmt: skip
            raise self.fail(
                f"region {first['geo']}, week {_date(first['date'])} appears {same.size} times "
                f"(rows {', '.join(str(_row(i)) for i in same[:6])}); "
                f"{int(keys.duplicated().sum())} duplicate region-week row(s) in all. Expected "
                "one row per region and week: drop the repeats or sum them into one row"
            )
        geos = sorted(dict.fromkeys(geo), key=_natural)  # the same model for any row order
        total = next((g for g in geos if str(g).strip().lower() == NATIONAL_ROW), None)
        if total is not None:
            i = int(np.flatnonzero((geo == total).to_numpy())[0])
            raise self.fail(
                f'column "{self.plan.data.geo}" (data.geo): row {_row(i)} names the region '
                f'"{total}"; a geo panel holds regions only (the run adds the national sums '
                f'under "{NATIONAL_ROW}" in its forecast tables): drop national total rows, or '
                "rename a region of that name"
            )
        self._one_weekday(geo, dates)
        weeks = pd.DatetimeIndex(sorted(set(dates)), name="date")
        steps = weeks[1:] - weeks[:-1]
        off = np.flatnonzero(steps != _WEEK)
        if off.size:
            i = int(off[0])
            days = steps[i] / pd.Timedelta(days=1)
            raise self.fail(
                f'column "{self.plan.data.date}": no region has a row between week '
                f"{_date(weeks[i])} and week {_date(weeks[i + 1])} ({days:g} days later); "
                "weeks must be 7 days apart (add the missing weeks with zero spend, or "
                "aggregate daily data to weeks on the same weekday)"
            )
        self._one_spelling(geo, geos)
        per_geo = keys.groupby("geo", sort=False)["date"].agg(set)
        for g in geos:
            have = per_geo[g]
            if len(have) < len(weeks):
                lost = [w for w in weeks if w not in have]
                shown = ", ".join(_date(w) for w in lost[:5]) + (", ..." if len(lost) > 5 else "")
                raise self.fail(
                    f"region {g} has no row for {len(lost)} of the panel's {len(weeks)} weeks "
                    f"(week {shown}); every region needs every week (write 0 spend for weeks "
                    "without media; a region that opened later: start the panel at its first "
                    "week for every region, or drop the region)"
                )
        g_index = {g: i for i, g in enumerate(geos)}
        w_index = pd.Series(np.arange(len(weeks)), index=weeks)
        cell = w_index.loc[dates].to_numpy() * len(geos) + geo.map(g_index).to_numpy()
        self._geo, self._dates, self._cell_rows = geo, dates, np.empty(len(cell), dtype=int)
        self._cell_rows[cell] = np.arange(len(cell))
        self._n_geo = len(geos)
        return weeks, geos, cell.astype(int)

    def _one_spelling(self, geo: pd.Series, geos: list[str]) -> None:
        """Two spellings of one region (case, inner spaces, full-width letters) split its rows
        into two regions, each missing weeks: named as such."""
        seen: dict[str, str] = {}
        for g in geos:
            key = "".join(unicodedata.normalize("NFKC", g).casefold().split())
            if key in seen:
                rows = [_row(int(np.flatnonzero((geo == n).to_numpy())[0])) for n in (seen[key], g)]
                raise self.fail(
                    f'column "{self.plan.data.geo}" (data.geo): "{seen[key]}" (row {rows[0]}) and '
                    f'"{g}" (row {rows[1]}) differ only in case, spaces or character width: '
                    "spell each region one way in every row"
                )
            seen[key] = g

    def _one_weekday(self, geo: pd.Series, dates: pd.Series) -> None:
        """Every row dated on the panel's weekday: a region dated by week end among regions
        dated by week start (or one mistyped date) is named, not reported as a gap."""
        day = pd.Series(pd.DatetimeIndex(dates).day_of_week, index=geo.index)
        if day.nunique() < 2:
            return
        usual = day.groupby(geo.to_numpy(), sort=False).agg(lambda s: s.mode().iloc[0])
        common = int(usual.mode().iloc[0])
        odd = [g for g in usual.index if usual[g] != common]
        if odd:
            g = odd[0]
            i = int(np.flatnonzero((geo == g).to_numpy())[0])
            more = f" (so do {', '.join(map(str, odd[1:6]))})" if len(odd) > 1 else ""
            problem = (
                f"region {g}'s weeks are dated on a {_DAYS[int(usual[g])]}{more}, the other "
                f"regions' on a {_DAYS[common]}"
            )
        else:
            i = int(np.flatnonzero((day != common).to_numpy())[0])
            problem = f"the panel's weeks are dated on a {_DAYS[common]}"
        raise self.fail(
            f'column "{self.plan.data.date}" (data.date): row {_row(i)} (region {geo.iloc[i]}) '
            f"is dated {_date(dates.iloc[i])}, a {_DAYS[int(day.iloc[i])]}, where {problem} "
            f"({int((day != common).sum())} row(s) off that weekday). Every row must date its "
            "week on the same weekday: all week starts or all week ends"
        )

    def _at(self, t: int, g: int) -> int:
        """File row (1-based, header row 1) of week index ``t`` and region index ``g``."""
        return _row(self._cell_rows[t * self._n_geo + g])

    # ------------------------------------------------------------------ values

    def _numbers(self, col: str, geo: pd.Series, dates: pd.Series) -> np.ndarray:
        raw = self.frame[col]
        what = self.uses[col]
        if pd.api.types.is_bool_dtype(raw.dtype) or pd.api.types.is_numeric_dtype(raw.dtype):
            values = pd.to_numeric(raw, errors="coerce").astype(float).to_numpy()
            missing, bad = np.isnan(values), np.isinf(values)
        else:
            text = raw.astype(object).map(_text)
            missing = text.isna().to_numpy()
            values = pd.to_numeric(text, errors="coerce").astype(float).to_numpy()
            bad = (~missing) & ~np.isfinite(values)
        for mask, problem in ((bad, "is not a number"), (missing, "is empty")):
            if mask.any():
                i = int(np.flatnonzero(mask)[0])
                cell = f'"{raw.iloc[i]}" ' if problem != "is empty" else ""
                raise self.fail(
                    f'column "{col}" ({what}): region {geo.iloc[i]}, week {_date(dates.iloc[i])} '
                    f"(row {_row(i)}): the cell {cell}{problem} ({int(mask.sum())} such cell(s) "
                    f"in all); expected a plain number ({self._fill_hint(col)})"
                )
        return values

    def _fill_hint(self, col: str) -> str:
        """What a cell of ``col`` should hold, by the column's role in the plan."""
        d = self.plan.data
        if col == d.population:
            return "the region's size, in every one of its rows"
        if col in d.outcomes:
            return "the region's revenue that week; 0 only where it truly sold nothing"
        if col in d.controls or col in d.events:
            return "the value for every region and week; events 0 or 1"
        return "write 0 for a week without spend"

    def _where(self, mask: np.ndarray, weeks: pd.DatetimeIndex, geos: list[str]) -> str:
        t, g = (int(v[0]) for v in np.nonzero(mask))
        return f"region {geos[g]}, week {_date(weeks[t])} (row {self._at(t, g)})"

    def _spend(self, spend: np.ndarray, weeks: pd.DatetimeIndex, geos: list[str]) -> None:
        for c, ch in enumerate(self.plan.channels):
            neg = spend[:, :, c] < 0
            if neg.any():
                raise self.fail(
                    f'column "{ch.column}" (channel {ch.name}): negative spend at '
                    f"{self._where(neg, weeks, geos)}, {int(neg.sum())} negative cell(s) in "
                    "all; spend must be >= 0"
                )
            if not (spend[:, :, c] > 0).any():
                raise self.fail(
                    f'column "{ch.column}" (channel {ch.name}): no spend in any region or '
                    "week, so its effect cannot be estimated; remove the channel from the plan"
                )

    def _regions_have_data(self, y: np.ndarray, weeks: pd.DatetimeIndex, geos: list[str]) -> None:
        empty = [g for i, g in enumerate(geos) if not np.any(y[:, i, :] != 0)]
        if empty:
            outs = ", ".join(self.plan.data.outcomes)
            more = f" ({len(empty)} such regions: {', '.join(empty[:8])})" if len(empty) > 1 else ""
            raise self.fail(
                f"region {empty[0]} has no data: its outcomes ({outs}) are zero in all "
                f"{y.shape[0]} weeks{more}; drop the region's rows or fill in its outcomes"
            )
        sold = (y != 0).any(axis=2)  # (T, G): any outcome in the week
        n_t = y.shape[0]
        for end, zeros in (("first", sold.argmax(axis=0)), ("last", sold[::-1].argmax(axis=0))):
            g = int(np.argmax(zeros))
            n = int(zeros[g])
            if n < _LATE_WEEKS:
                continue
            span = (0, n - 1, n) if end == "first" else (n_t - n, n_t - 1, n_t - 1 - n)
            raise self.fail(
                f"region {geos[g]} sells nothing in its {end} {n} weeks: its outcomes are 0 "
                f"from week {_date(weeks[span[0]])} to week {_date(weeks[span[1]])}, its "
                f"{end} week with sales is {_date(weeks[span[2]])} (row "
                f"{self._at(span[2], g)}). A region that opened later (or closed) cannot be "
                "modelled from weeks of zeros, which read as real sales of 0: drop the "
                f"region's rows, or {'start' if end == 'first' else 'end'} the panel at that "
                "week for every region"
            )

    def _no_total_rows(self, y: np.ndarray, weeks: pd.DatetimeIndex, geos: list[str]) -> None:
        """A "region" whose outcomes are the other regions' summed in every week holds national
        total rows under another name than ``national`` (``全国``, ``Total``, ``China``):
        modelled as a region, it would count every sale twice."""
        if len(geos) < 3:
            return
        whole = y.sum(axis=1)
        for g, name in enumerate(geos):
            rest = whole - y[:, g]
            if np.allclose(y[:, g], rest, rtol=1e-6, atol=1e-9 * float(np.abs(whole).max())):
                raise self.fail(
                    f'column "{self.plan.data.geo}" (data.geo): region {name}\'s outcomes '
                    f"({', '.join(self.plan.data.outcomes)}) are the sums of the other "
                    f"{len(geos) - 1} regions' in all {y.shape[0]} weeks (e.g. week "
                    f"{_date(weeks[0])}, row "
                    f"{self._at(0, g)}): these are national total rows, which would count "
                    "every sale twice; drop them (the run adds the national sums itself)"
                )

    def _national_shares(
        self, spend: np.ndarray, weeks: pd.DatetimeIndex, geos: list[str], equal_sizes: bool
    ) -> None:
        """A national buy reaches every region in roughly the same shares every week."""
        if len(geos) < 2:
            return
        for c, ch in enumerate(self.plan.channels):
            if ch.scope != "national":
                continue
            x = spend[:, :, c]
            total = x.sum(axis=1)
            live = total > 0
            if not equal_sizes:
                self._not_repeated(ch, x, live, weeks, geos)
            reached = np.flatnonzero((x > 0).any(axis=0))
            if reached.size == 1:
                raise self.fail(
                    f'column "{ch.column}" (national channel {ch.name}): only region '
                    f"{geos[int(reached[0])]} has any of it (the other {len(geos) - 1} regions "
                    "hold 0 in every week): a national buy reaches every region. If the column "
                    "is the national total written in one region's rows, split it over the "
                    "regions (e.g. by population); if it is that region's own buy, declare it "
                    'scope = "local"'
                )
            share = x[live] / total[live][:, None]
            usual = np.median(share, axis=0)
            # the week's buy as most regions see it, then each region against its usual share
            with np.errstate(divide="ignore", invalid="ignore"):
                buy = np.nanmedian(np.where(usual > 0, x / usual, np.nan), axis=1)
                expect = usual[None, :] * buy[:, None]
                ratio = np.where(expect > 0, x / expect, np.where(x > 0, np.inf, 1.0))
                log_ratio = np.log(ratio)
                dev = np.abs(log_ratio)  # inf where a region is missing from a buy
            far = live[:, None] & (np.abs(x - expect) > _SHARE_ABS * buy[:, None])
            # the wobble of the deviations themselves: a week's middle region (its buy's
            # reference, exactly on its usual share) and exact shares tell nothing about it
            seen = live[:, None] & np.isfinite(dev) & (expect > 0) & (dev > 1e-9)
            wobble = 0.0
            if seen.sum() > 1:  # robust sd of the log shares around the usual ones
                lr = log_ratio[seen]
                wobble = 1.4826 * float(np.median(np.abs(lr - np.median(lr))))
            off_at = max(SHARE_FACTOR, float(np.exp(SHARE_WOBBLE[0] * wobble)))
            gross_at = max(SHARE_GROSS, float(np.exp(SHARE_WOBBLE[1] * wobble)))
            off = far & (dev > np.log(off_at))
            gross = far & (dev > np.log(gross_at))
            many = off.sum() > SHARE_OFF_LIMIT * live.sum() * len(geos)
            if wobble > np.log(SHARE_FACTOR):
                raise self.fail(
                    f'column "{ch.column}" (national channel {ch.name}): the regional shares '
                    f"move from week to week by a typical factor {np.exp(wobble):.2g} (robust "
                    f"standard deviation of the log share; at most {SHARE_FACTOR:g} is one "
                    f"national buy split by region). {_NATIONAL_COLUMN}"
                )
            if gross.any() or many:
                badness = np.where(off, dev, -1.0)
                t, g = (int(v) for v in np.unravel_index(int(np.argmax(badness)), badness.shape))
                raise self.fail(
                    f'column "{ch.column}" (national channel {ch.name}): the regional shares do '
                    f"not add up to one national buy consistently: region {geos[g]}, week "
                    f"{_date(weeks[t])} (row {self._at(t, g)}) holds {x[t, g]:,.2f}, "
                    f"{100 * x[t, g] / total[t]:.1f}% of that week's buy, where its usual "
                    f"share ({100 * usual[g]:.1f}%) gives about {expect[t, g]:,.2f} "
                    f"({int(off.sum())} of {int(live.sum()) * len(geos)} region-weeks off by "
                    f"more than a factor {off_at:.3g}, {int(gross.sum())} by more than "
                    f"{gross_at:.3g}; at most {100 * SHARE_OFF_LIMIT:g}% and none are "
                    f"accepted). {_NATIONAL_COLUMN}"
                )

    def _not_repeated(
        self, ch: Any, x: np.ndarray, live: np.ndarray, weeks: pd.DatetimeIndex, geos: list[str]
    ) -> None:
        """A national column with the same amount in every region in every week it spends is
        the national total repeated in each region's row (or an equal split, which regions of
        unequal or unknown size do not get): refused, as summing it would count the buy once
        per region."""
        rows = x[live]
        if not rows.size or not np.allclose(rows, rows[:, :1], rtol=1e-9, atol=0.0):
            return
        t = int(np.flatnonzero(live)[0])
        sizes = (
            f"data.population ({self.plan.data.population}) gives the regions unequal sizes"
            if self.plan.data.population
            else "the plan gives no data.population"
        )
        raise self.fail(
            f'column "{ch.column}" (national channel {ch.name}): holds the same amount in every '
            f"region in each of the {int(live.sum())} weeks it spends (week {_date(weeks[t])}: "
            f"{x[t, 0]:,.2f} in each of the {len(geos)} regions, rows "
            f"{', '.join(str(self._at(t, g)) for g in range(min(len(geos), 3)))}, ...). That "
            f"reads as the national total repeated in every region's row, which would count "
            f"the buy {len(geos)} times over. A national channel's column holds each region's "
            "share of the buy, adding up over the regions to the national buy: write each "
            "region's part, e.g. the total x the region's share of the population (an equal "
            "split is accepted only where data.population gives every region the same size; "
            f'here {sizes}); if regions buy it separately, declare it scope = "local"'
        )

    def _events(
        self, cols: dict[str, np.ndarray], weeks: pd.DatetimeIndex, geos: list[str]
    ) -> tuple[np.ndarray | None, tuple[str, ...]]:
        """The plan's event columns (national 0/1), then the festival calendar's weeks."""
        for name, v in cols.items():
            bad = (v != 0) & (v != 1)
            if bad.any():
                raise self.fail(
                    f'column "{name}" (event): {self._where(bad, weeks, geos)} holds '
                    f"{v[bad][0]:g}; event columns must be 0 or 1"
                )
            differ = v != v[:, :1]
            if differ.any():
                raise self.fail(
                    f'column "{name}" (event): {self._where(differ, weeks, geos)} differs from '
                    f"region {geos[0]} in the same week; events (festivals) are national, the "
                    "same in every region (put regional events among data.controls)"
                )
        out = {name: v[:, 0] for name, v in cols.items()}
        starts = week_starts(weeks, self.plan)  # the festival is in the week holding its day
        festivals = self.plan.festivals
        fest = plan_festival_weeks(starts, festivals.calendar, festivals.extra).set_axis(weeks)
        taken = {n.lower() for n in (*out, *self.plan.data.controls)}
        for name in fest.columns:
            if name.lower() not in taken and fest[name].std() > 0:
                out[name] = fest[name].to_numpy(dtype=float)
        if not out:
            return None, ()
        return np.stack(list(out.values()), axis=-1), tuple(out)

    def _population(self, pop: np.ndarray, weeks: pd.DatetimeIndex, geos: list[str]) -> np.ndarray:
        col = self.plan.data.population
        bad = ~(pop > 0)
        if bad.any():
            raise self.fail(
                f'column "{col}" (data.population): {self._where(bad, weeks, geos)} holds '
                f"{pop[bad][0]:g}; a population (region size) must be > 0"
            )
        ratio = pop.max(axis=0) / pop.min(axis=0)
        wild = np.flatnonzero(ratio > POPULATION_DRIFT)
        if wild.size:
            g = int(wild[0])
            t_lo, t_hi = int(pop[:, g].argmin()), int(pop[:, g].argmax())
            raise self.fail(
                f'column "{col}" (data.population): region {geos[g]}\'s population changes '
                f"wildly, from {pop[t_lo, g]:,.0f} in week {_date(weeks[t_lo])} (row "
                f"{self._at(t_lo, g)}) to {pop[t_hi, g]:,.0f} in week {_date(weeks[t_hi])} "
                f"(row {self._at(t_hi, g)}), a factor {ratio[g]:.2f} (at most "
                f"{POPULATION_DRIFT:g} is averaged); a region's size should be one number or "
                "change slowly: check the units and the rows"
            )
        return pop.mean(axis=0)

    def _enough_weeks(self, n: int) -> None:
        need = min_weeks(len(self.plan.channels))
        if n < need:
            raise self.fail(
                f"{n} weeks is too short for {len(self.plan.channels)} channel(s): a panel "
                f"needs at least max(52, 10 x channels + 20) = {need} weeks"
            )

    def _budget_geos(self, geos: list[str]) -> None:
        for name in self.plan.budget.geos or {}:
            if name not in geos:
                import difflib

                close = difflib.get_close_matches(name, geos, n=1, cutoff=0.6)
                hint = f' (did you mean "{close[0]}"?)' if close else ""
                raise self.fail(
                    f"plan key budget.geos.{name} names region {name!r}, which has no rows in "
                    f"the data{hint}; regions: {', '.join(geos[:20])}"
                    + (" ..." if len(geos) > 20 else "")
                )


def _close_column(name: str, header: list[str]) -> str:
    """`` (the file has "Region")`` for a header that differs only in case or spaces, else a
    close spelling, else nothing."""
    import difflib

    folded = {"".join(h.casefold().split()): h for h in header}
    same = folded.get("".join(name.casefold().split()))
    close = [same] if same else difflib.get_close_matches(name, header, n=1, cutoff=0.8)
    return f' (the file has "{close[0]}")' if close else ""


def _natural(name: str) -> tuple[tuple[int, int, str], ...]:
    """Sort key of a region name: digit runs by their number ("r2" before "r10"), the rest as
    text, so that the regions' order (and the fit, seed for seed) never depends on the order
    of the file's rows."""
    return tuple(
        (0, int(part), part) if part.isdecimal() else (1, 0, part)
        for part in re.split(r"(\d+)", name)
        if part
    )


def _text(value: object) -> str | None:
    if value is None or (isinstance(value, float) and np.isnan(value)) or value is pd.NA:
        return None
    text = str(value).strip()
    return None if text.lower() in MISSING_TOKENS else text
