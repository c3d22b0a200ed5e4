"""Paths to conversion in DuckDB, and the attribution methods users know, for comparison.

A conversion's *path* is its customer's touches after the previous conversion, up to and
including its timestamp, within ``lookback_days`` (an ASOF join in DuckDB). Touches after a
customer's last conversion form a path that did not convert. Paths keep their last
``max_touches`` touches.

Rule-based methods split each converting path's one conversion over its touches:

* ``last_touch`` / ``first_touch``: all to the last / first touch;
* ``linear``: equally;
* ``time_decay``: in proportion to ``2 ** (-age / half_life_days)``, age in days before
  the conversion;
* ``position_based``: 40% first, 40% last, 20% shared by the touches in between (one
  touch: all of it; two: half each).

Data-driven methods:

* ``markov_k`` (k = 1, 2, 3): a Markov chain over the last k channels of a path (shorter at
  the start), with start, conversion and null states, estimated from converting and
  non-converting paths. A channel's removal effect is the relative fall of the conversion
  probability from the start when every state containing it leads to null; shares are the
  removal effects normalised (as ChannelAttribution does).
* ``shapley``: the Shapley value of each channel in the game whose value for a set of
  channels is the number of conversions whose path's channels are within that set
  (Zhao et al. 2018's simplified Shapley value); up to 15 channels.

None of these measures incrementality: they divide conversions among touches, including
the conversions that would have happened anyway.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import scipy.sparse as sp
from scipy.sparse.linalg import spsolve

from omnimmm.journeys.inputs import JourneyData

__all__ = ["MAX_SHAPLEY_CHANNELS", "build_paths", "classic_shares", "crossings", "top_paths"]

MAX_SHAPLEY_CHANNELS = 15


def build_paths(data: JourneyData, lookback_days: int = 30, max_touches: int = 50) -> None:
    """Create the table ``path_touches`` (path, converted, pos_from_end, n, age_days, ...)."""
    con = data.con
    con.execute("create or replace temp table conv_ix as select cid, ts as cts, value, place, "
                "(row_number() over (order by cid, ts))::bigint as conv_id from conversions")  # fmt: skip
    con.execute(f"""
        create or replace temp table path_touches as
        with j as (
            select t.cid, t.ts, t.ch, t.channel, c.conv_id, c.cts, c.value, c.place
            from touches t asof left join conv_ix c on t.cid = c.cid and c.cts >= t.ts
        ), k as (
            select *, coalesce(conv_id, -1 - cid) as path, conv_id is not null as converted,
                   date_diff('second', ts, coalesce(cts, ts)) / 86400.0 as age_days
            from j
            where conv_id is null or cts - ts <= interval {int(lookback_days)} day
        ), r as (
            select *, row_number() over (partition by path order by ts desc, ch desc)
                      as pos_from_end
            from k
        )
        select *, count(*) over (partition by path) as n,
               row_number() over (partition by path order by ts, ch) as pos
        from r where pos_from_end <= {int(max_touches)}
    """)  # fmt: skip


def _rule_shares(data: JourneyData, half_life_days: float) -> pd.DataFrame:
    weights = {
        "last_touch": "(pos_from_end = 1)::double",
        "first_touch": "(pos = 1)::double",
        "linear": "1.0 / n",
        "time_decay": f"pow(2, -age_days / {float(half_life_days)}) / "
                      f"sum(pow(2, -age_days / {float(half_life_days)})) over (partition by path)",
        "position_based": "case when n = 1 then 1.0 when n = 2 then 0.5 "
                          "when pos = 1 or pos_from_end = 1 then 0.4 else 0.2 / (n - 2) end",
    }  # fmt: skip
    cols = ", ".join(f"{expr} as {name}" for name, expr in weights.items())
    sums = ", ".join(f"sum({name}) as {name}" for name in weights)
    frame = data.con.execute(
        f"select ch, {sums} from (select ch, {cols} from path_touches where converted) "
        "group by ch order by ch"
    ).df()
    out = []
    for name in weights:
        credit = np.zeros(len(data.channels))
        credit[frame["ch"].to_numpy(dtype=np.int64)] = frame[name].to_numpy(dtype=float)
        out.append(_shares_frame(name, data.channels, credit))
    return pd.concat(out, ignore_index=True)


def _shares_frame(method: str, channels: list[str], credit: np.ndarray) -> pd.DataFrame:
    total = credit.sum()
    share = credit / total if total > 0 else np.full(credit.size, np.nan)
    return pd.DataFrame({"method": method, "channel": channels, "share": share,
                         "conversions": credit})  # fmt: skip


def _markov_counts(data: JourneyData, order: int) -> pd.DataFrame:
    lags = ", ".join(
        [f"lag(ch::varchar, {k}) over w" for k in range(order - 1, 0, -1)] + ["ch::varchar"]
    )
    return data.con.execute(f"""
        with s as (
            select path, pos, n, converted, concat_ws('>', {lags}) as state
            from path_touches window w as (partition by path order by pos)
        ), t as (
            select case when pos = 1 then 'START' else lag(state) over
                   (partition by path order by pos) end as src, state as dst from s
            union all
            select state, case when converted then 'CONV' else 'NULL' end from s where pos = n
        )
        select src, dst, count(*)::double as n from t group by all
    """).df()  # fmt: skip


def _conversion_probability(counts: pd.DataFrame, removed: str | None) -> float:
    """Probability of reaching CONV from START; states holding ``removed`` lead to NULL."""
    states = sorted(set(counts["src"]) | set(counts["dst"]) - {"CONV", "NULL"})
    index = {s: i for i, s in enumerate(states)}
    out = counts.groupby("src")["n"].transform("sum")
    prob = counts["n"] / out
    src = counts["src"].map(index).to_numpy()
    dead = np.array([removed is not None and removed in s.split(">") for s in states])
    is_state = counts["dst"].isin(index).to_numpy()
    live = is_state & ~dead[np.where(is_state, counts["dst"].map(index).fillna(0), 0)
                            .astype(np.int64)]  # fmt: skip
    m = len(states)
    q = sp.csr_matrix(
        (prob[live].to_numpy(), (src[live], counts["dst"][live].map(index).to_numpy())),
        shape=(m, m),
    )
    r = np.zeros(m)
    to_conv = (counts["dst"] == "CONV").to_numpy()
    np.add.at(r, src[to_conv], prob[to_conv].to_numpy())
    r[dead] = 0.0
    a = sp.identity(m, format="csc") - q.tocsc()
    x = spsolve(a, r)
    return float(np.atleast_1d(x)[index["START"]])


def _markov_shares(data: JourneyData, order: int, n_conversions: float) -> pd.DataFrame:
    counts = _markov_counts(data, order)
    full = _conversion_probability(counts, None)
    effects = np.array([
        1.0 - _conversion_probability(counts, str(c)) / full if full > 0 else 0.0
        for c in range(len(data.channels))
    ])  # fmt: skip
    effects = np.maximum(effects, 0.0)
    total = effects.sum()
    credit = effects / total * n_conversions if total > 0 else effects
    return _shares_frame(f"markov_{order}", data.channels, credit)


def _shapley_shares(data: JourneyData) -> pd.DataFrame | None:
    n_ch = len(data.channels)
    if n_ch > MAX_SHAPLEY_CHANNELS:
        return None
    sets = data.con.execute(
        "select mask, count(*)::double as n from (select path, bit_or((1::bigint) << ch) as mask "
        "from path_touches where converted group by path) group by mask"
    ).fetchnumpy()
    conv = np.zeros(1 << n_ch)
    conv[np.asarray(sets["mask"], dtype=np.int64)] = np.asarray(sets["n"])
    value = conv.copy()
    for bit in range(n_ch):  # v(S) = sum over subsets T of S of conv(T)
        has = (np.arange(1 << n_ch) >> bit) & 1 == 1
        value[has] += value[~has]
    credit = np.zeros(n_ch)
    sizes = np.array([bin(s).count("1") for s in range(1 << n_ch)])
    weight = np.array([math.factorial(k) * math.factorial(n_ch - k - 1) / math.factorial(n_ch)
                       for k in range(n_ch)])  # fmt: skip
    for c in range(n_ch):
        without = np.flatnonzero(((np.arange(1 << n_ch) >> c) & 1) == 0)
        credit[c] = float((weight[sizes[without]] * (value[without | (1 << c)]
                                                     - value[without])).sum())  # fmt: skip
    return _shares_frame("shapley", data.channels, credit)


def classic_shares(data: JourneyData, half_life_days: float = 7.0) -> pd.DataFrame:
    """Every comparison method's shares: ``method, channel, share, conversions``.

    Call :func:`build_paths` first. ``conversions`` is the credit in conversions (for
    Markov: the share of the conversions that have a path).
    """
    frames = [_rule_shares(data, half_life_days)]
    row = data.con.execute("select count(distinct path) from path_touches where converted") \
        .fetchone()  # fmt: skip
    n_conv = float(row[0]) if row else 0.0
    if n_conv > 0:
        frames += [_markov_shares(data, k, n_conv) for k in (1, 2, 3)]
    shapley = _shapley_shares(data)
    if shapley is not None:
        frames.append(shapley)
    return pd.concat(frames, ignore_index=True)


def top_paths(data: JourneyData, n: int = 20, shown: int = 8) -> pd.DataFrame:
    """The ``n`` paths with most conversions: ``path, conversions, journeys, rate, revenue``.

    A path is its channels in order (its last ``shown`` touches, earlier ones as ``...``).
    """
    return data.con.execute(f"""
        with p as (
            select path, any_value(converted) as converted, any_value(value) as value,
                   max(n) as n,
                   string_agg(channel, ' > ' order by pos) filter (where pos_from_end <= {shown})
                   as tail
            from path_touches group by path
        )
        select case when n > {shown} then '... > ' || tail else tail end as path,
               count(*) filter (where converted) as conversions, count(*) as journeys,
               count(*) filter (where converted) / count(*) as conversion_rate,
               coalesce(sum(value) filter (where converted), 0) as revenue
        from p group by 1 order by conversions desc, journeys desc, path limit {int(n)}
    """).df()  # fmt: skip


def crossings(data: JourneyData, offline: tuple[str, ...] = ()) -> pd.DataFrame:
    """Conversions by where they happened and which channels' touches led to them.

    Rows: per touch channel (``from`` = channel, its kind when ``offline`` names the
    offline ones), per conversion place: ``conversions`` whose path holds the channel and
    their ``share`` of that place's converting paths; plus, when kinds are known, the
    ``online touches -> store`` and ``offline touches -> online`` crossing rows.
    """
    if not data.has_place:
        return pd.DataFrame(columns=["from", "kind", "to", "conversions", "share"])
    off = list(offline)
    con = data.con
    con.register("offline_channels", pd.DataFrame({"channel": pd.Series(off, dtype="str")}))
    per = con.execute("""
        with p as (select distinct path, channel, place from path_touches where converted),
        tot as (select place, count(distinct path) as total from p group by place)
        select channel as "from",
               case when channel in (select channel from offline_channels) then 'offline'
                    else 'online' end as kind,
               place as "to", count(*) as conversions, count(*) / any_value(total) as share
        from p join tot using (place) group by all order by "from", "to"
    """).df()  # fmt: skip
    if not off:
        per["kind"] = ""
        return per
    kinds = con.execute("""
        with p as (
            select path, any_value(place) as place,
                   bool_or(channel not in (select channel from offline_channels)) as online,
                   bool_or(channel in (select channel from offline_channels)) as offline
            from path_touches where converted group by path
        )
        select 'online touches' as "from", 'online' as kind, 'store' as "to",
               count(*) filter (where online and place = 'store') as conversions,
               count(*) filter (where online and place = 'store')
                 / nullif(count(*) filter (where place = 'store'), 0) as share from p
        union all
        select 'offline touches', 'offline', 'online',
               count(*) filter (where offline and place = 'online'),
               count(*) filter (where offline and place = 'online')
                 / nullif(count(*) filter (where place = 'online'), 0) from p
    """).df()  # fmt: skip
    return pd.concat([kinds, per], ignore_index=True)
