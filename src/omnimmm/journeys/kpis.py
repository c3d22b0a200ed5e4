"""The monthly omnichannel KPI board: one long table, one row per KPI, month and key.

Definitions (month = calendar month of the event that opens the window; ``W`` =
``window_days``, default 7; a customer counts once per row):

``touch_rate`` (channel)
    customers touched by the channel in the month / customers known by the month's end
    (any touch or conversion so far).
``cross_conversion`` (channel -> ``online`` / ``store``)
    customers touched by the channel in the month who convert at that place within ``W``
    days after one of those touches / customers touched by the channel in the month. With
    channel kinds known, ``online touches -> store`` and ``offline touches -> online``
    rows give the two crossing directions for all channels of a kind together.
``handoff`` (channel -> other channel)
    customers touched by the channel in the month who are touched by the other channel
    within ``W`` days after (strictly later) / customers touched by the channel.
``repurchase`` (``all`` / ``online`` / ``store``)
    customers converting (there) in the month who convert again, anywhere, within
    ``repurchase_days`` (default 30) after one of those conversions / customers converting.
``benefit_usage`` (campaign)
    customers who received the campaign (a touch carrying it) in the month and redeemed
    it at or after the day of their first receipt / customers who received it; ``other``
    is the channel of the month's earliest receipt. Needs a redemptions table and a
    touches ``campaign`` column.
``synergy`` (channel x other channel)
    conversion rate in the month of customers touched by both / (rate of those touched by
    the first only x rate of those by the second only / rate of known customers touched by
    neither): 1 when the channels act independently (multiplicatively). 90% interval by
    the delta method on the log scale (four independent binomial rates).

``complete`` is false when the window of a month's last day reaches past the data's end
(the month's windowed KPIs are then understated).

Everything that touches event rows runs in DuckDB (windowed counts over each customer's
timeline, then ``count(distinct ...)`` per month), so the board scales with the
attribution's tables; pandas only assembles the few aggregated rows.
:func:`compute_kpis` takes pandas frames (a fresh in-memory DuckDB);
:func:`kpis_in_duckdb` works on tables already in a connection.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import duckdb
import numpy as np
import pandas as pd

from omnimmm.data import duck

__all__ = ["KPI_COLUMNS", "KpiSettings", "compute_kpis", "kpis_in_duckdb"]

KPI_COLUMNS = ["kpi", "month", "channel", "other", "value", "numerator", "denominator",
               "low", "high", "complete"]  # fmt: skip
Z90 = 1.6448536269514722
_MONTH = "strftime(ts, '%Y-%m')"


@dataclass(frozen=True)
class KpiSettings:
    """Windows of the KPI board."""

    window_days: int = 7
    repurchase_days: int = 30
    offline_channels: tuple[str, ...] = ()


def _row(kpi: str, month: str, channel: str, other: str, num: float, den: float,
         complete: bool, low: float = np.nan, high: float = np.nan,
         value: float | None = None) -> dict:  # fmt: skip
    v = value if value is not None else (num / den if den else np.nan)
    return {"kpi": kpi, "month": month, "channel": channel, "other": other, "value": v,
            "numerator": num, "denominator": den, "low": low, "high": high,
            "complete": complete}  # fmt: skip


def compute_kpis(
    touches: pd.DataFrame,
    conversions: pd.DataFrame,
    redemptions: pd.DataFrame | None = None,
    settings: KpiSettings | None = None,
) -> pd.DataFrame:
    """Every KPI of the board as a long table (columns :data:`KPI_COLUMNS`).

    Parameters
    ----------
    touches : pandas.DataFrame
        ``cid, ts, channel``, optional ``campaign``.
    conversions : pandas.DataFrame
        ``cid, ts``, optional ``place`` (``online``/``store``).
    redemptions : pandas.DataFrame, optional
        ``cid, ts, campaign``.
    settings : KpiSettings, optional

    Returns
    -------
    pandas.DataFrame
    """
    con = duck.connect()
    con.execute("set threads to 2")
    con.register("kpi_t_in", touches)
    con.register("kpi_c_in", conversions)
    camp = "campaign::varchar" if "campaign" in touches.columns else "null::varchar"
    place = "place::varchar" if "place" in conversions.columns else "null::varchar"
    con.execute("create temp view kpi_t_src as select cid, ts::timestamp as ts, "
                f"channel::varchar as channel, {camp} as campaign from kpi_t_in")  # fmt: skip
    con.execute("create temp view kpi_c_src as select cid, ts::timestamp as ts, "
                f"{place} as place from kpi_c_in")  # fmt: skip
    red = None
    if redemptions is not None:
        con.register("kpi_r_in", redemptions)
        con.execute("create temp view kpi_r_src as select cid, ts::timestamp as ts, "
                    "campaign::varchar as campaign from kpi_r_in")  # fmt: skip
        red = "kpi_r_src"
    try:
        return kpis_in_duckdb(con, "kpi_t_src", "kpi_c_src", red, settings,
                              has_place="place" in conversions.columns,
                              has_campaign="campaign" in touches.columns)  # fmt: skip
    finally:
        con.close()


def kpis_in_duckdb(
    con: duckdb.DuckDBPyConnection,
    touches: str,
    conversions: str,
    redemptions: str | None = None,
    settings: KpiSettings | None = None,
    has_place: bool = True,
    has_campaign: bool = True,
) -> pd.DataFrame:
    """The board from tables in a DuckDB connection (see :func:`compute_kpis`).

    Parameters
    ----------
    con : duckdb.DuckDBPyConnection
    touches, conversions, redemptions : str
        Table or view names: ``cid, ts, channel, campaign``; ``cid, ts, place``;
        ``cid, ts, campaign`` (``ts`` a timestamp).
    settings : KpiSettings, optional
    has_place, has_campaign : bool
        Whether conversions carry a place and touches a campaign.

    Returns
    -------
    pandas.DataFrame
    """
    s = settings or KpiSettings()
    channels = [str(r[0]) for r in
                con.execute(f"select distinct channel from {touches} order by 1").fetchall()]  # fmt: skip
    con.register("kpi_chan", pd.DataFrame({"channel": channels,
                                           "ch": np.arange(len(channels), dtype=np.int32)}))  # fmt: skip
    con.execute(f"create or replace temp table kpi_t as select t.cid, t.ts, {_MONTH} as month, "
                f"k.ch, t.campaign from {touches} t join kpi_chan k using (channel)")  # fmt: skip
    con.execute(f"create or replace temp table kpi_c as select cid, ts, {_MONTH} as month, "
                f"place from {conversions}")  # fmt: skip
    try:
        return _board(con, channels, redemptions, s, has_place, has_campaign)
    finally:
        con.execute("drop table if exists kpi_t; drop table if exists kpi_c; "
                    "drop table if exists kpi_flags")  # fmt: skip
        con.unregister("kpi_chan")


def _board(
    con: duckdb.DuckDBPyConnection, channels: list[str], redemptions: str | None,
    s: KpiSettings, has_place: bool, has_campaign: bool,
) -> pd.DataFrame:  # fmt: skip
    months = [str(r[0]) for r in con.execute(
        "select month from kpi_t union select month from kpi_c order by 1").fetchall()]  # fmt: skip
    end_row = con.execute("select max(ts) from (select ts from kpi_t union all "
                          "select ts from kpi_c)").fetchone()  # fmt: skip
    end = pd.Timestamp(end_row[0]) if end_row else pd.Timestamp("1970-01-01")
    month_end = {m: pd.Period(m, "M").end_time for m in months}

    def complete(m: str, days: int) -> bool:
        return bool(month_end[m] + pd.Timedelta(days=days) <= end + pd.Timedelta(days=1))

    first = dict(con.execute(
        "select month, count(*) from (select cid, strftime(min(ts), '%Y-%m') as month from "
        "(select cid, ts from kpi_t union all select cid, ts from kpi_c) group by cid) "
        "group by month").fetchall())  # fmt: skip
    known = dict(zip(months, np.cumsum([first.get(m, 0) for m in months]).tolist(),
                     strict=True))  # fmt: skip
    reach = {(int(ch), str(m)): int(n) for ch, m, n in con.execute(
        "select ch, month, count(distinct cid) from kpi_t group by all").fetchall()}  # fmt: skip
    rows: list[dict] = []
    for k, ch in enumerate(channels):
        for m in months:
            rows.append(_row("touch_rate", m, ch, "", reach.get((k, m), 0), known[m], True))
    _flags(con, len(channels), s)
    rows += _cross(con, channels, months, s, complete, has_place)
    rows += _handoff(con, channels, months, s, complete)
    rows += _repurchase(con, months, s, complete, has_place)
    if redemptions is not None and has_campaign:
        rows += _usage(con, redemptions)
    rows += _synergy(con, channels, months, known)
    return pd.DataFrame(rows, columns=KPI_COLUMNS)


def _flags(con: duckdb.DuckDBPyConnection, n_ch: int, s: KpiSettings) -> None:
    """``kpi_flags``: per touch, converts online / in store within W days, and is followed
    (strictly later) by each channel within W days: windowed counts over each customer's
    merged timeline of touches and conversions."""
    w = int(s.window_days)
    hand = ", ".join(f"count(*) filter (where ch = {k}) over later > 0 as h{k}"
                     for k in range(n_ch))  # fmt: skip
    con.execute(f"""
        create or replace temp table kpi_flags as
        select cid, month, ch, to_online, to_store{", " if n_ch else ""}
               {", ".join(f"h{k}" for k in range(n_ch))}
        from (
            select cid, month, ch, is_touch,
                   count(*) filter (where place = 'online') over here > 0 as to_online,
                   count(*) filter (where place = 'store') over here > 0 as to_store
                   {", " + hand if n_ch else ""}
            from (select cid, ts, month, ch, null::varchar as place, true as is_touch
                  from kpi_t
                  union all
                  select cid, ts, month, null, place, false from kpi_c)
            window here as (partition by cid order by ts range between current row
                            and interval {w} day following),
                   later as (partition by cid order by ts range between
                             interval 1 microsecond following and interval {w} day following)
        ) where is_touch
    """)  # fmt: skip


def _counts(con: duckdb.DuckDBPyConnection, group: str, flag: str, where: str = "true"
            ) -> dict[tuple[str, str], tuple[int, int]]:  # fmt: skip
    got = con.execute(
        f"select {group}, month, count(distinct cid) filter (where {flag}), "
        f"count(distinct cid) from kpi_flags where {where} group by all"
    ).fetchall()
    return {(str(g), str(m)): (int(k), int(n)) for g, m, k, n in got}


def _cross(
    con: duckdb.DuckDBPyConnection, channels: list[str], months: list[str], s: KpiSettings,
    complete: Callable[[str, int], bool], has_place: bool,
) -> list[dict]:  # fmt: skip
    rows: list[dict] = []
    if not has_place:
        return rows
    off = [k for k, ch in enumerate(channels) if ch in set(s.offline_channels)]
    is_off = f"ch in ({', '.join(map(str, off))})" if off else "false"
    groups: list[tuple[str, str, list[str]]] = [(ch, f"ch = {k}", ["online", "store"])
                                               for k, ch in enumerate(channels)]  # fmt: skip
    if s.offline_channels:
        groups += [("online touches", f"not ({is_off})", ["store"]),
                   ("offline touches", is_off, ["online"])]  # fmt: skip
    for place in ("online", "store"):
        per_ch = _counts(con, "ch", f"to_{place}")
        kinds = _counts(con, f"{is_off}", f"to_{place}")
        for k, (name, _, places) in enumerate(groups):
            if place not in places:
                continue
            for m in months:
                if k < len(channels):
                    hit, n = per_ch.get((str(k), m), (0, 0))
                else:
                    hit, n = kinds.get((str(name == "offline touches"), m), (0, 0))
                rows.append(_row("cross_conversion", m, name, place, hit, n,
                                 complete(m, s.window_days)))  # fmt: skip
    order = {(g[0], p): i for i, g in enumerate(groups) for p in ("online", "store")}
    rows.sort(key=lambda r: order[(r["channel"], r["other"])])
    return rows


def _handoff(
    con: duckdb.DuckDBPyConnection, channels: list[str], months: list[str], s: KpiSettings,
    complete: Callable[[str, int], bool],
) -> list[dict]:  # fmt: skip
    rows: list[dict] = []
    for b in range(len(channels)):
        got = _counts(con, "ch", f"h{b}", where=f"ch <> {b}")
        for a in range(len(channels)):
            if a == b:
                continue
            for m in months:
                hit, n = got.get((str(a), m), (0, 0))
                rows.append(_row("handoff", m, channels[a], channels[b], hit, n,
                                 complete(m, s.window_days)))  # fmt: skip
    order = {ch: i for i, ch in enumerate(channels)}
    rows.sort(key=lambda r: (order[r["channel"]], order[r["other"]]))
    return rows


def _repurchase(
    con: duckdb.DuckDBPyConnection, months: list[str], s: KpiSettings,
    complete: Callable[[str, int], bool], has_place: bool,
) -> list[dict]:  # fmt: skip
    got = con.execute(f"""
        with f as (
            select cid, month, place,
                   count(*) over (partition by cid order by ts range between
                                  interval 1 microsecond following and
                                  interval {int(s.repurchase_days)} day following) > 0 as again
            from kpi_c
        )
        select coalesce(place, 'all') as place, month,
               count(distinct cid) filter (where again), count(distinct cid)
        from f group by grouping sets ((month), (place, month))
    """).fetchall()  # fmt: skip
    per = {(str(p), str(m)): (int(k), int(n)) for p, m, k, n in got}
    rows: list[dict] = []
    for place in ["all"] + (["online", "store"] if has_place else []):
        for m in months:
            hit, n = per.get((place, m), (0, 0))
            rows.append(_row("repurchase", m, place, "", hit, n,
                             complete(m, s.repurchase_days)))  # fmt: skip
    return rows


def _usage(con: duckdb.DuckDBPyConnection, redemptions: str) -> list[dict]:
    got = con.execute(f"""
        with f as (
            select campaign, cid, min(ts) as ts, arg_min(ch, ts) as ch from kpi_t
            where campaign is not null group by all
        ), r as (
            select campaign::varchar as campaign, cid, max(ts) as last from {redemptions}
            group by all
        )
        select f.campaign, strftime(f.ts, '%Y-%m') as month, arg_min(f.ch, f.ts),
               count(*) filter (where r.last >= f.ts::date::timestamp), count(*)
        from f left join r using (campaign, cid) group by all order by 1, 2
    """).fetchall()  # fmt: skip
    names = dict(con.execute("select ch, channel from kpi_chan").fetchall())
    return [_row("benefit_usage", str(m), str(camp), str(names[ch]), int(k), int(n), True)
            for camp, m, ch, k, n in got]  # fmt: skip


def _synergy(
    con: duckdb.DuckDBPyConnection, channels: list[str], months: list[str],
    known: dict[str, int],
) -> list[dict]:  # fmt: skip
    con.execute("create or replace temp table kpi_tm as select distinct month, cid, ch "
                "from kpi_t")  # fmt: skip
    con.execute("create or replace temp table kpi_bm as select distinct month, cid, true as b "
                "from kpi_c")  # fmt: skip
    one = {(str(m), int(ch)): (int(n), int(k)) for m, ch, n, k in con.execute(
        "select month, ch, count(*), count(b) from kpi_tm left join kpi_bm using (month, cid) "
        "group by all").fetchall()}  # fmt: skip
    two = {(str(m), int(a), int(b)): (int(n), int(k)) for m, a, b, n, k in con.execute(
        "select x.month, x.ch, y.ch, count(*), count(b) from kpi_tm x join kpi_tm y "
        "on x.month = y.month and x.cid = y.cid and x.ch < y.ch "
        "left join kpi_bm z on z.month = x.month and z.cid = x.cid group by all").fetchall()}  # fmt: skip
    buyers = dict(con.execute("select month, count(*) from kpi_bm group by all").fetchall())
    con.execute("drop table kpi_tm; drop table kpi_bm")
    rows: list[dict] = []
    for m in months:
        for a in range(len(channels)):
            for b in range(a + 1, len(channels)):
                n_a, k_a = one.get((m, a), (0, 0))
                n_b, k_b = one.get((m, b), (0, 0))
                n_ab, k_ab = two.get((m, a, b), (0, 0))
                n = [n_ab, n_a - n_ab, n_b - n_ab, known[m] - n_a - n_b + n_ab]
                k = [k_ab, k_a - k_ab, k_b - k_ab, int(buyers.get(m, 0)) - k_a - k_b + k_ab]
                rows.append(_synergy_row(m, channels[a], channels[b], n, k))
    return rows


def _synergy_row(m: str, a: str, b: str, n: list[int], k: list[int]) -> dict:
    if min(n) == 0 or min(k) == 0:
        return _row("synergy", m, a, b, np.nan, np.nan, True, value=np.nan)
    r = [kk / nn for kk, nn in zip(k, n, strict=True)]
    si = r[0] * r[3] / (r[1] * r[2])
    se = float(np.sqrt(sum((1 - rr) / (nn * rr) for rr, nn in zip(r, n, strict=True))))
    return _row("synergy", m, a, b, k[0], n[0], True, low=si * np.exp(-Z90 * se),
                high=si * np.exp(Z90 * se), value=si)  # fmt: skip
