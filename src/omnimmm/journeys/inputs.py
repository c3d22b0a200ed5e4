"""Touches and conversions into one DuckDB connection, checked, with one customer key.

Inputs (CSV, Parquet, a folder of Parquet files or Excel, read by
:mod:`omnimmm.data.tables`; or pandas frames):

* touches: ``customer_id, ts, channel``, optionally ``cost`` and ``campaign``;
* conversions (orders, receipts): ``customer_id, ts, value``, optionally ``channel``
  (``online`` or ``store``, and the other names of each in :data:`ONLINE_PLACES` and
  :data:`STORE_PLACES`, such as ``offline``, ``app``, ``门店``; case and spaces ignored).

Column names are mapped with :class:`JourneyColumns`. When the customer column is absent
but identity keys are present (``account_id, member_id, phone, email, device_id``), the
rows of both tables are joined into customers by :func:`omnimmm.lifecycle.identity.
resolve_identities`, so app, mini-program and store-card touches of one person form one
journey. Raw phone numbers and e-mails never leave this module: customers are numbered
(``cid``) and only aggregates are written by the journey outputs.

The connection holds two tables (``touches``: ``cid, ts, day, ch, channel, cost, campaign``;
``conversions``: ``cid, ts, day, value, place``) with ``day`` counted from the first day
seen in either table.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd

from omnimmm.data import duck
from omnimmm.data.duck import sql_ident as _q
from omnimmm.errors import DataError
from omnimmm.lifecycle.timestamps import TS_LAYOUTS
from omnimmm.lifecycle.transactions import (  # the lifecycle reader's layouts and rules
    LEAVE_OUT_LIMIT,
    timestamp_sql,
)

__all__ = [
    "ONLINE_PLACES",
    "STORE_PLACES",
    "JourneyColumns",
    "JourneyData",
    "add_redemptions",
    "load_journeys",
]

#: Conversion channel values that mean a purchase online (lower case).
ONLINE_PLACES = ("online", "web", "app", "ecommerce", "e-commerce", "mini_program",
                 "miniprogram", "mini-program", "线上", "电商", "网店", "小程序")  # fmt: skip
#: Conversion channel values that mean a purchase in a store (lower case).
STORE_PLACES = ("store", "offline", "in_store", "in-store", "instore", "shop", "retail",
                "pos", "门店", "线下", "实体店")  # fmt: skip


IDENTITY_KEYS: tuple[str, ...] = ("account_id", "member_id", "app_id", "mini_program_id",
                                  "openid", "unionid", "store_card_id", "phone", "email",
                                  "device_id")  # fmt: skip
RECORD_KEYS: tuple[str, ...] = ("account_id", "member_id", "app_id", "mini_program_id",
                                "store_card_id")  # fmt: skip
Source = str | Path | pd.DataFrame


@dataclass(frozen=True)
class JourneyColumns:
    """Column names of the touches and conversions tables."""

    customer_id: str = "customer_id"
    ts: str = "ts"
    channel: str = "channel"
    cost: str = "cost"
    campaign: str = "campaign"
    conversion_customer_id: str = "customer_id"
    conversion_ts: str = "ts"
    value: str = "value"
    conversion_channel: str = "channel"


@dataclass(eq=False)
class JourneyData:
    """Checked journey tables in DuckDB and what is known about them."""

    con: duckdb.DuckDBPyConnection
    channels: list[str]
    n_customers: int
    start: pd.Timestamp
    n_days: int
    has_cost: bool
    has_place: bool
    has_campaign: bool
    n_touches: int
    n_conversions: int
    notes: list[str] = field(default_factory=list)
    has_redemptions: bool = False  # a table ``redemptions`` (cid, ts, campaign)
    resolved: bool = False  # customers joined by identity resolution
    ids_as_numbers: bool = False  # customer keys matched as numbers (see _same_id)


def _register(con: duckdb.DuckDBPyConnection, src: Source, view: str, what: str) -> None:
    if isinstance(src, pd.DataFrame):
        from omnimmm.data.tables import wall_clock

        con.register(view, wall_clock(src))
        return
    from omnimmm.data.tables import register_duckdb

    # CSV and Excel cells as text: ids keep their leading zeros and are read the same
    # whatever the rows the type sniffer sampled (an id column numeric for its first rows
    # and text later failed in DuckDB's reader), and a timestamp keeps its wall-clock time
    # (a sniffed TIMESTAMPTZ was moved to UTC: 01:00+08:00 fell on the previous day)
    register_duckdb(con, src, view, what=what, as_text=True)


def _columns(con: duckdb.DuckDBPyConnection, view: str) -> list[str]:
    return [str(r[0]) for r in con.execute(f"describe {view}").fetchall()]


def _need(cols: list[str], name: str, what: str, flag: str) -> None:
    if name not in cols:
        raise DataError(
            f"{what}: no column {name!r} (name yours with {flag}); its columns are {cols}"
        )


def _first_bad(con: duckdb.DuckDBPyConnection, view: str, cond: str, col: str) -> str:
    row = con.execute(
        f"select n, v from (select row_number() over () as n, {_q(col)}::varchar as v, * "
        f"from {view}) where {cond} limit 1"
    ).fetchone()
    return f"data row {row[0]} has {row[1]!r}" if row else "a row"


def _check(con: duckdb.DuckDBPyConnection, view: str, cond: str, col: str, what: str,
           expected: str) -> None:  # fmt: skip
    n = con.execute(f"select count(*) from {view} where {cond}").fetchone()
    if n and n[0]:
        where = _first_bad(con, view, cond, col)
        raise DataError(
            f"{what}: column {col!r} must hold {expected}; {n[0]:,} row(s) do not "
            f"({where}). Fix or drop those rows."
        )


def _leave_out(
    con: duckdb.DuckDBPyConnection, view: str, cond: str, col: str, what: str, rows: str,
    why: str,
) -> list[str]:  # fmt: skip
    """A note on the rows of ``view`` that meet ``cond`` (left out by :func:`_materialise`),
    or DataError when they are at least ``LEAVE_OUT_LIMIT`` of the rows (then the column is
    more likely the wrong one), as the lifecycle reader does."""
    row = con.execute(f"select count(*) filter (where {cond}), count(*) from {view}").fetchone()
    assert row is not None
    bad, n = int(row[0] or 0), int(row[1])
    if not bad:
        return []
    if bad >= LEAVE_OUT_LIMIT * n:
        raise DataError(
            f"{what}: {bad:,} of {n:,} rows in column {col!r} are rows {rows} "
            f"({_first_bad(con, view, cond, col)}); such rows are left out only while they "
            f"are under {LEAVE_OUT_LIMIT:.0%} of the rows. Is {col!r} the right column?"
        )
    share = f"{bad / n:.1%}" if bad >= 0.0005 * n else "under 0.1%"
    return [f"{what}: left out {bad:,} of {n:,} rows ({share}) {rows} in {col!r} ({why})"]


def _without_repeats(
    con: duckdb.DuckDBPyConnection, view: str, ts: str, what: str
) -> tuple[str, list[str]]:
    """A view of ``view`` without the rows that repeat another row in every column at a
    time of day (a log exported twice), and a note of how many; rows stamped with a date
    alone (or midnight) are all kept, since several touches or orders a day are alike."""
    dedup = f"{view}_once"
    con.execute(f"create or replace temp view {dedup} as select * from {view} where "
                f"{ts}::time = time '00:00:00' union all select distinct * from {view} where "
                f"{ts}::time <> time '00:00:00'")  # fmt: skip
    row = con.execute(f"select (select count(*) from {view}), (select count(*) from {dedup})"
                      ).fetchone()  # fmt: skip
    assert row is not None
    if row[0] == row[1]:
        return view, []
    return dedup, [f"{what}: left out {row[0] - row[1]:,} of {row[0]:,} rows that repeat "
                   "another row in every column, to the second (a log exported twice)"]  # fmt: skip


def _resolve_customers(
    con: duckdb.DuckDBPyConnection, tcols: list[str], ccols: list[str], cols: JourneyColumns,
    red: tuple[list[str], str] | None,
) -> tuple[str, str, list[str]]:  # fmt: skip
    """Views ``t_keyed``, ``c_keyed`` (and ``r_keyed``) with a resolved ``__cust`` column.

    Touches, conversions and redemptions (``red``: its columns and timestamp column) are
    resolved together, so a coupon sent to the app account and redeemed with the store
    card counts for one customer when some row links the two (a phone, a member id).
    """
    from omnimmm.lifecycle.identity import resolve_identities

    rcols = red[0] if red else []
    keys = [k for k in IDENTITY_KEYS if k in tcols or k in ccols or k in rcols]
    parts = {"touches": ("t_raw", tcols, cols.ts), "conversions": ("c_raw", ccols,
                                                                   cols.conversion_ts)}  # fmt: skip
    if red:
        parts["redemptions"] = ("r_raw", rcols, red[1])
    frames = []
    for source, (view, have, ts) in parts.items():
        mine = [k for k in keys if k in have]
        if not mine:
            frames.append(con.execute(f"select {timestamp_sql(con, view, ts)} as ts from {view}").df()
                          .assign(source=source))  # fmt: skip
            continue
        frames.append(con.execute(f"select {', '.join(_q(k) for k in mine)}, {timestamp_sql(con, view, ts)} "
                                  f"as ts from {view}").df().assign(source=source))  # fmt: skip
    res = resolve_identities(pd.concat(frames, ignore_index=True), keys=keys,
                             record_keys=RECORD_KEYS, source="source", time="ts")  # fmt: skip
    ids = res.customer_id.to_numpy()
    at = 0
    for source, (view, _, _) in parts.items():
        n = len(frames[list(parts).index(source)])
        short = view[0]
        part = ids[at : at + n]
        con.register(f"{short}_ids", pd.DataFrame({"__n": range(n), "__cust": part}))
        con.execute(f"create or replace view {short}_keyed as select * from (select "
                    f"row_number() over () - 1 as __n, * from {view}) join {short}_ids "
                    "using (__n)")  # fmt: skip
        at += n
    note = (f"customers joined across {keys} by identity resolution: "
            f"{res.n_customers:,} customers, {res.summary['n_unresolved_rows']:,} rows "
            "without a usable key dropped")  # fmt: skip
    return "t_keyed", "c_keyed", [note]


def load_journeys(
    touches: Source,
    conversions: Source,
    columns: JourneyColumns | None = None,
    what_touches: str = "touches file (--touches)",
    what_conversions: str = "conversions file (--conversions)",
    redemptions: Source | None = None,
    redemption_columns: tuple[str, str, str] = ("customer_id", "ts", "campaign"),
    what_redemptions: str = "redemptions file (--redemptions)",
) -> JourneyData:
    """Read, check and key touches and conversions (and coupon/benefit redemptions).

    Parameters
    ----------
    touches, conversions : path or pandas.DataFrame
    columns : JourneyColumns, optional
        Column names (defaults as in the DESIGN contract).
    what_touches, what_conversions, what_redemptions : str
        How errors name the inputs.
    redemptions : path or pandas.DataFrame, optional
        Redemptions, keyed like the journeys into a table ``redemptions`` (``cid, ts,
        campaign``): by the customer column, or, when the journeys are joined by identity
        resolution, resolved together with them (so a redemption made with a store card
        counts for the customer whose app received the coupon). Redemptions of customers
        without a touch or conversion are dropped (and noted).
    redemption_columns : (customer, ts, campaign)

    Returns
    -------
    JourneyData

    Raises
    ------
    DataError
        A missing column, an unparseable timestamp or value, a missing customer or
        channel, a conversion channel other than online/store, or an empty table.
    """
    cols = columns or JourneyColumns()
    con = duck.connect()
    con.execute("set threads to 2")
    wt = f"{what_touches}" if isinstance(touches, pd.DataFrame) else f"{touches}: {what_touches}"
    wc = (f"{what_conversions}" if isinstance(conversions, pd.DataFrame)
          else f"{conversions}: {what_conversions}")  # fmt: skip
    _register(con, touches, "t_raw", what_touches)
    _register(con, conversions, "c_raw", what_conversions)
    tcols, ccols = _columns(con, "t_raw"), _columns(con, "c_raw")
    rcols: list[str] = []
    wr = what_redemptions
    if redemptions is not None:
        _register(con, redemptions, "r_raw", what_redemptions)
        rcols = _columns(con, "r_raw")
        wr = wr if isinstance(redemptions, pd.DataFrame) else f"{redemptions}: {wr}"
    notes: list[str] = []
    tview, cview, tcust, ccust = "t_raw", "c_raw", cols.customer_id, cols.conversion_customer_id
    resolved = (tcust not in tcols and ccust not in ccols
                and any(k in tcols for k in IDENTITY_KEYS))  # fmt: skip
    if resolved:
        red = (rcols, redemption_columns[1]) if redemptions is not None else None
        if red:
            _need(rcols, redemption_columns[1], wr, "--redemption-ts-col")
            if not any(k in rcols for k in IDENTITY_KEYS):
                raise DataError(f"{wr}: no identity key column (one of {list(IDENTITY_KEYS)})"
                                "; the touches and conversions are joined by identity "
                                "resolution, so redemptions need one too")  # fmt: skip
        tview, cview, notes = _resolve_customers(con, tcols, ccols, cols, red)
        tcust = ccust = "__cust"
    else:
        _need(tcols, tcust, wt, "--touch-customer-col")
        _need(ccols, ccust, wc, "--conversion-customer-col")
    _need(tcols, cols.ts, wt, "--touch-ts-col")
    _need(tcols, cols.channel, wt, "--touch-channel-col")
    _need(ccols, cols.conversion_ts, wc, "--conversion-ts-col")
    _need(ccols, cols.value, wc, "--value-col")
    has_cost = cols.cost in tcols
    has_campaign = cols.campaign in tcols
    has_place = cols.conversion_channel in ccols
    for view, what, n in ((tview, wt, "touches"), (cview, wc, "conversions")):
        count = con.execute(f"select count(*) from {view}").fetchone()
        if not count or not count[0]:
            raise DataError(f"{what}: the {n} table has no rows")
    # each file's timestamps as its sample shows them (ISO, other layouts, Unix time)
    t_ts, c_ts = timestamp_sql(con, tview, cols.ts), timestamp_sql(con, cview, cols.conversion_ts)
    _check(con, tview, f"{t_ts} is null", cols.ts, wt,
           f"timestamps in one layout ({TS_LAYOUTS})")  # fmt: skip
    _check(con, cview, f"{c_ts} is null", cols.conversion_ts, wc,
           f"timestamps in one layout ({TS_LAYOUTS})")  # fmt: skip
    _check(con, tview, f"nullif(trim({_q(cols.channel)}::varchar), '') is null", cols.channel,
           wt, "a channel name in every row")  # fmt: skip
    value = _q(cols.value)
    _check(con, cview, f"try_cast(trim({value}::varchar) as double) is null", cols.value, wc,
           "a number in every row (the order value)")  # fmt: skip
    left_out: list[str] = []
    if tcust != "__cust":  # rows without a customer are left out while they are a minority
        cust_bad = "nullif(trim({}::varchar), '') is null"
        left_out += _leave_out(con, tview, cust_bad.format(_q(tcust)), tcust, wt,
                               "with no customer id", "anonymous touches join no journey")  # fmt: skip
        left_out += _leave_out(con, cview, cust_bad.format(_q(ccust)), ccust, wc,
                               "with no customer id",
                               "anonymous conversions belong to no journey")  # fmt: skip
    left_out += _leave_out(con, cview, f"try_cast(trim({value}::varchar) as double) < 0",
                           cols.value, wc, "with a negative value",
                           "returns and refunds are not conversions")  # fmt: skip
    notes = notes + left_out
    if has_cost:
        cost = _q(cols.cost)
        _check(con, tview, f"{cost} is not null and (try_cast({cost} as double) is null or "
               f"try_cast({cost} as double) < 0)", cols.cost, wt,
               "non-negative numbers (or empty)")  # fmt: skip
    if has_place:
        place = f"lower(trim({_q(cols.conversion_channel)}::varchar))"
        known = ", ".join(map(duck.sql_string, ONLINE_PLACES + STORE_PLACES))
        _check(con, cview, f"{place} not in ({known})",
               cols.conversion_channel, wc,
               f"'online' or 'store' (or another name of one: {', '.join(ONLINE_PLACES[1:])} "
               f"for online; {', '.join(STORE_PLACES[1:])} for store)")  # fmt: skip
    if not resolved:
        tview, note_t = _without_repeats(con, tview, t_ts, wt)
        cview, note_c = _without_repeats(con, cview, c_ts, wc)
        notes = notes + note_t + note_c
    data = _materialise(con, tview, cview, tcust, ccust, cols, has_cost, has_campaign,
                        has_place, notes, (t_ts, c_ts), wt, wc)  # fmt: skip
    data.resolved = resolved
    if redemptions is not None:
        _redemptions(data, "r_keyed" if resolved else "r_raw",
                     "__cust" if resolved else redemption_columns[0], rcols,
                     redemption_columns, wr)  # fmt: skip
    return data


def add_redemptions(
    data: JourneyData, source: Source, names: tuple[str, str, str] = ("customer_id", "ts",
                                                                      "campaign"),
    what: str = "redemptions file (--redemptions)",
) -> None:  # fmt: skip
    """Add the table ``redemptions`` (cid, ts, campaign) to journeys keyed by a customer
    column (journeys joined by identity resolution: pass ``redemptions`` to
    :func:`load_journeys` instead)."""
    _register(data.con, source, "r_raw", what)
    what = what if isinstance(source, pd.DataFrame) else f"{source}: {what}"
    _redemptions(data, "r_raw", names[0], _columns(data.con, "r_raw"), names, what)


def _redemptions(
    data: JourneyData, view: str, cust: str, rcols: list[str],
    names: tuple[str, str, str], what: str,
) -> None:  # fmt: skip
    """The table ``redemptions`` (cid, ts, campaign) keyed like the journeys."""
    con = data.con
    flags = ("--redemption-customer-col", "--redemption-ts-col", "--redemption-campaign-col")
    for name, flag in zip(names, flags, strict=True):
        if name == names[0] and cust == "__cust":
            continue
        _need(rcols, name, what, flag)
    ts = timestamp_sql(con, view, names[1])
    key = f"trim(r.{_q(cust)}::varchar)"
    key = _same_id(key) if data.ids_as_numbers else key
    _check(con, view, f"{ts} is null", names[1], what,
           f"timestamps in one layout ({TS_LAYOUTS})")  # fmt: skip
    con.execute(f"create table redemptions as select k.cid, {ts} as ts, "
                f"{_q(names[2])}::varchar as campaign from {view} r join customer_keys k "
                f"on k.cust = {key}")  # fmt: skip
    row = con.execute(f"select (select count(*) from {view}), "
                      "(select count(*) from redemptions)").fetchone()  # fmt: skip
    assert row is not None
    if row[1] < row[0]:
        data.notes.append(f"{row[0] - row[1]:,} of {row[0]:,} redemptions belong to no "
                          "customer with a touch or conversion and are left out")  # fmt: skip
    data.has_redemptions = True


def _same_id(cust: str) -> str:
    """SQL of the text id ``cust`` as the other file may have written it: digits without
    their separators, a trailing ``.0`` (an integer column read back as floats), leading
    zeros (a zero-padded id written as an integer) and a +86 / 0086 country code."""
    return (
        f"case when regexp_full_match({cust}, '\\+?[0-9][0-9 ()\\-]*(\\.0+)?') then "
        f"coalesce(nullif(ltrim(regexp_replace(regexp_replace(regexp_replace({cust}, "
        "'[^0-9.]', '', 'g'), '\\.0+$', ''), '^(00)?86(1[0-9]{10})$', '\\2'), '0'), ''), '0') "
        f"else {cust} end"
    )


def _match_customers(con: duckdb.DuckDBPyConnection, wt: str, wc: str) -> tuple[bool, list[str]]:
    """Customer ids of ``t0`` and ``c0`` matched across the files: whether they are read as
    numbers, and notes. When the ids as written match fewer buyers than the ids read as
    numbers (:func:`_same_id`: one file wrote 0012345, 12345.0 or +86 138 0013 8000, the
    other 12345 or 13800138000) the numbers are used, with a note; DataError when no buyer has a touch (the ids cannot be the same ids)."""

    def matched(key: str) -> int:
        row = con.execute(f"select count(distinct {key}) from c0 where {key} in "
                          f"(select {key} from t0)").fetchone()  # fmt: skip
        return int(row[0]) if row else 0

    as_written, as_numbers = matched("cust"), matched(_same_id("cust"))
    notes = []
    if as_numbers > as_written:
        for table in ("t0", "c0"):
            con.execute(f"update {table} set cust = {_same_id('cust')}")
        notes.append(f"customer ids matched as numbers (leading zeros, separators, '.0' and "
                     f"+86 ignored): {as_numbers:,} buyers have touches, {as_written:,} by "
                     "the ids as written")  # fmt: skip
    row = con.execute("select count(distinct cust) from c0").fetchone()
    buyers, with_touch = (int(row[0]) if row else 0), max(as_written, as_numbers)
    if not with_touch:
        raise DataError(
            f"{wc}: none of its {buyers:,} buyers has a touch in [{wt}], so the customer ids "
            "of the two files cannot be the same ids. Check that both customer columns hold "
            "the same ids (name them with --touch-customer-col and --conversion-customer-col)"
        )
    if with_touch < 0.05 * buyers:
        notes.append(f"only {with_touch:,} of {buyers:,} buyers have a touch: check that the "
                     "customer ids of the two files are the same ids")  # fmt: skip
    return as_numbers > as_written, notes


def _materialise(
    con: duckdb.DuckDBPyConnection,
    tview: str,
    cview: str,
    tcust: str,
    ccust: str,
    cols: JourneyColumns,
    has_cost: bool,
    has_campaign: bool,
    has_place: bool,
    notes: list[str],
    ts: tuple[str, str],
    wt: str,
    wc: str,
) -> JourneyData:
    cost = f"try_cast(trim({_q(cols.cost)}::varchar) as double)" if has_cost else "null::double"
    camp = f"{_q(cols.campaign)}::varchar" if has_campaign else "null::varchar"
    raw_place = f"nullif(lower(trim({_q(cols.conversion_channel)}::varchar)), '')"
    # a conversion without a place stays without one (it was counted as a store purchase)
    place = (f"case when {raw_place} in ({', '.join(map(duck.sql_string, ONLINE_PLACES))}) "
             f"then 'online' when {raw_place} is not null then 'store' end"
             if has_place else "null::varchar")  # fmt: skip
    value = f"try_cast(trim({_q(cols.value)}::varchar) as double)"
    # rows without a customer (and refunds) are left out, as the notes say
    con.execute(f"create temp table t0 as select * from (select nullif(trim({_q(tcust)}::varchar), "
                f"'') as cust, {ts[0]} as ts, trim({_q(cols.channel)}::varchar) as channel, "
                f"coalesce({cost}, 0) as cost, {camp} as campaign from {tview}) "
                "where cust is not null")  # fmt: skip
    con.execute(f"create temp table c0 as select * from (select nullif(trim({_q(ccust)}::varchar), "
                f"'') as cust, {ts[1]} as ts, {value} as value, {place} as place from {cview}) "
                "where cust is not null and value >= 0")  # fmt: skip
    for table, what, n in (("t0", wt, "touches"), ("c0", wc, "conversions")):
        left = con.execute(f"select count(*) from {table}").fetchone()
        if not left or not left[0]:
            raise DataError(f"{what}: no {n} are left once the rows the notes name are left "
                            f"out: {'; '.join(notes)}")  # fmt: skip
    as_numbers = False
    if tcust != "__cust":
        as_numbers, matched = _match_customers(con, wt, wc)
        notes += matched
    if has_place:
        row = con.execute("select count(*) filter (where place is null) from c0").fetchone()
        if row and row[0]:
            notes.append(f"{wc}: {row[0]:,} conversions have no place in "
                         f"{cols.conversion_channel!r} (neither online nor store)")  # fmt: skip
    # numbered shortest first: 7, 0000007 and U0000007 take the same place among their
    # world's ids (the seeded sampling goes by this number), as 7 < 10 < 100
    con.execute("create temp table customer_keys as select cust, (row_number() over (order by "
                "length(cust), cust) - 1)::integer as cid from (select cust from t0 union "
                "select cust from c0)")  # fmt: skip
    channels = [str(r[0]) for r in
                con.execute("select distinct channel from t0 order by channel").fetchall()]  # fmt: skip
    con.register("chan_map", pd.DataFrame({"channel": channels,
                                           "ch": list(range(len(channels)))}))  # fmt: skip
    span = con.execute("select min(d), max(d) from (select ts::date as d from t0 "
                       "union all select ts::date from c0)").fetchone()  # fmt: skip
    assert span is not None
    start = pd.Timestamp(span[0])
    n_days = int((pd.Timestamp(span[1]) - start).days) + 1
    day = f"date_diff('day', DATE '{start.date()}', ts::date)::integer"
    con.execute(f"create table touches as select cid, ts, {day} as day, ch::smallint as ch, "
                "channel, cost, campaign from t0 join customer_keys using (cust) "
                "join chan_map using (channel)")  # fmt: skip
    con.execute(f"create table conversions as select cid, ts, {day} as day, value, place "
                "from c0 join customer_keys using (cust)")  # fmt: skip
    counts = con.execute("select (select count(*) from customer_keys), (select count(*) from touches), "
                         "(select count(*) from conversions)").fetchone()  # fmt: skip
    assert counts is not None
    con.execute("drop table t0; drop table c0")
    return JourneyData(con, channels, int(counts[0]), start, n_days, has_cost, has_place,
                       has_campaign, int(counts[1]), int(counts[2]), notes,
                       ids_as_numbers=as_numbers)  # fmt: skip


def describe(data: JourneyData) -> dict[str, Any]:
    """Sizes and span of the loaded tables, for the JSON output."""
    return {
        "customers": data.n_customers,
        "touches": data.n_touches,
        "conversions": data.n_conversions,
        "channels": data.channels,
        "first_day": str(data.start.date()),
        "days": data.n_days,
        "notes": data.notes,
    }
