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
    it at or after their first receipt / customers who received it. Needs a redemptions
    table and a touches ``campaign`` column.
``synergy`` (channel x other channel)
    conversion rate in the month of customers touched by both / (rate of those touched by
    the first only x rate of those by the second only / rate of known customers touched by
    neither): 1 when the channels act independently (multiplicatively). 90% interval by
    the delta method on the log scale (four independent binomial rates).

``complete`` is false when the window of a month's last day reaches past the data's end
(the month's windowed KPIs are then understated).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

__all__ = ["KPI_COLUMNS", "KpiSettings", "compute_kpis"]

KPI_COLUMNS = ["kpi", "month", "channel", "other", "value", "numerator", "denominator",
               "low", "high", "complete"]  # fmt: skip
Z90 = 1.6448536269514722


@dataclass(frozen=True)
class KpiSettings:
    """Windows of the KPI board."""

    window_days: int = 7
    repurchase_days: int = 30
    offline_channels: tuple[str, ...] = ()


def _month(ts: pd.Series) -> pd.Series:
    return ts.dt.to_period("M").astype(str)


def _row(kpi: str, month: str, channel: str, other: str, num: float, den: float,
         complete: bool, low: float = np.nan, high: float = np.nan,
         value: float | None = None) -> dict:  # fmt: skip
    v = value if value is not None else (num / den if den else np.nan)
    return {"kpi": kpi, "month": month, "channel": channel, "other": other, "value": v,
            "numerator": num, "denominator": den, "low": low, "high": high,
            "complete": complete}  # fmt: skip


def _followed(
    first: pd.DataFrame, then: pd.DataFrame, days: int, strictly_after: bool
) -> pd.Series:
    """Per row of ``first`` (cid, ts): does ``then`` hold a row of its customer in the window."""
    if first.empty:
        return pd.Series(dtype=bool)
    if then.empty:
        return pd.Series(False, index=first.index)
    a = first[["cid", "ts"]].reset_index().sort_values("ts")
    b = then[["cid", "ts"]].rename(columns={"ts": "ts_next"}).sort_values("ts_next")
    b["_t"] = b["ts_next"]
    m = pd.merge_asof(a, b, left_on="ts", right_on="_t", by="cid", direction="forward",
                      allow_exact_matches=not strictly_after)  # fmt: skip
    ok = m["ts_next"].notna() & (m["ts_next"] - m["ts"] <= pd.Timedelta(days=days))
    return pd.Series(ok.to_numpy(), index=m["index"].to_numpy()).reindex(first.index)


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
    s = settings or KpiSettings()
    t = touches.copy()
    c = conversions.copy()
    t["month"], c["month"] = _month(t["ts"]), _month(c["ts"])
    end = max(t["ts"].max(), c["ts"].max())
    months = sorted(set(t["month"]) | set(c["month"]))
    month_end = {m: pd.Period(m, "M").end_time for m in months}

    def complete(m: str, days: int) -> bool:
        return bool(month_end[m] + pd.Timedelta(days=days) <= end + pd.Timedelta(days=1))

    first_seen = pd.concat([t[["cid", "ts"]], c[["cid", "ts"]]]).groupby("cid")["ts"].min()
    seen_month = _month(first_seen)
    known = {m: int((seen_month <= m).sum()) for m in months}
    channels = sorted(t["channel"].unique())
    rows: list[dict] = []
    touched = {ch: t[t["channel"] == ch] for ch in channels}
    who = {(ch, m): set(g["cid"]) for ch in channels for m, g in touched[ch].groupby("month")}
    for ch in channels:
        for m in months:
            rows.append(_row("touch_rate", m, ch, "", len(who.get((ch, m), ())), known[m],
                             True))  # fmt: skip
    rows += _cross(t, c, touched, channels, months, s, complete)
    rows += _handoff(touched, channels, months, s, complete)
    rows += _repurchase(c, months, s, complete)
    if redemptions is not None and "campaign" in t.columns:
        rows += _usage(t, redemptions, months)
    rows += _synergy(c, who, channels, months, seen_month)
    return pd.DataFrame(rows, columns=KPI_COLUMNS)


def _cross(t, c, touched, channels, months, s, complete) -> list[dict]:
    rows: list[dict] = []
    if "place" not in c.columns:
        return rows
    off = set(s.offline_channels)
    groups: dict[str, pd.DataFrame] = dict(touched)
    if off:
        groups["online touches"] = t[~t["channel"].isin(off)]
        groups["offline touches"] = t[t["channel"].isin(off)]
    for name, g in groups.items():
        places = ["online", "store"]
        if name == "online touches":
            places = ["store"]
        elif name == "offline touches":
            places = ["online"]
        for place in places:
            hit = _followed(g, c[c["place"] == place], s.window_days, strictly_after=False)
            per = pd.DataFrame({"cid": g["cid"], "month": g["month"], "hit": hit})
            agg = per.groupby("month").agg(n=("cid", "nunique"))
            agg["k"] = per[per["hit"]].groupby("month")["cid"].nunique()
            for m in months:
                n = int(agg["n"].get(m, 0))
                k = agg["k"].get(m, 0)
                rows.append(_row("cross_conversion", m, name, place,
                                 0 if pd.isna(k) else int(k), n,
                                 complete(m, s.window_days)))  # fmt: skip
    return rows


def _handoff(touched, channels, months, s, complete) -> list[dict]:
    rows: list[dict] = []
    for a in channels:
        ga = touched[a]
        for b in channels:
            if a == b:
                continue
            hit = _followed(ga, touched[b], s.window_days, strictly_after=True)
            per = pd.DataFrame({"cid": ga["cid"], "month": ga["month"], "hit": hit})
            n = per.groupby("month")["cid"].nunique()
            k = per[per["hit"]].groupby("month")["cid"].nunique()
            for m in months:
                rows.append(_row("handoff", m, a, b, int(k.get(m, 0)), int(n.get(m, 0)),
                                 complete(m, s.window_days)))  # fmt: skip
    return rows


def _repurchase(c, months, s, complete) -> list[dict]:
    rows: list[dict] = []
    again = _followed(c, c, s.repurchase_days, strictly_after=True)
    per = pd.DataFrame({"cid": c["cid"], "month": c["month"], "hit": again,
                        "place": c["place"] if "place" in c.columns else "all"})  # fmt: skip
    places = ["all"] + (["online", "store"] if "place" in c.columns else [])
    for place in places:
        sub = per if place == "all" else per[per["place"] == place]
        n = sub.groupby("month")["cid"].nunique()
        k = sub[sub["hit"]].groupby("month")["cid"].nunique()
        for m in months:
            rows.append(_row("repurchase", m, place, "", int(k.get(m, 0)), int(n.get(m, 0)),
                             complete(m, s.repurchase_days)))  # fmt: skip
    return rows


def _usage(t: pd.DataFrame, red: pd.DataFrame, months: list[str]) -> list[dict]:
    rows: list[dict] = []
    got = t[t["campaign"].notna()]
    first = got.groupby(["campaign", "cid"], as_index=False).agg(ts=("ts", "min"),
                                                                  channel=("channel", "first"))  # fmt: skip
    first["month"] = _month(first["ts"])
    r = red.groupby(["campaign", "cid"], as_index=False).agg(last_redeemed=("ts", "max"))
    j = first.merge(r, on=["campaign", "cid"], how="left")
    j["used"] = j["last_redeemed"].notna() & (j["last_redeemed"] >= j["ts"].dt.normalize())
    for (camp, m), g in j.groupby(["campaign", "month"], sort=True):
        rows.append(_row("benefit_usage", str(m), str(camp), str(g["channel"].iloc[0]),
                         int(g["used"].sum()), len(g), True))  # fmt: skip
    return rows


def _synergy(c, who, channels, months, seen_month) -> list[dict]:
    rows: list[dict] = []
    bought = {m: set(g["cid"]) for m, g in c.groupby("month")}
    for m in months:
        base = set(seen_month.index[seen_month <= m])
        buy = bought.get(m, set())
        for i, a in enumerate(channels):
            for b in channels[i + 1 :]:
                sa, sb = who.get((a, m), set()), who.get((b, m), set())
                groups = [sa & sb, sa - sb, sb - sa, base - sa - sb]
                n = [len(g) for g in groups]
                k = [len(g & buy) for g in groups]
                if min(n) == 0 or min(k) == 0:
                    rows.append(_row("synergy", m, a, b, np.nan, np.nan, True, value=np.nan))
                    continue
                r = [kk / nn for kk, nn in zip(k, n, strict=True)]
                si = r[0] * r[3] / (r[1] * r[2])
                se = float(np.sqrt(sum((1 - rr) / (nn * rr) for rr, nn in zip(r, n,
                                                                            strict=True))))  # fmt: skip
                rows.append(_row("synergy", m, a, b, k[0], n[0], True,
                                 low=si * np.exp(-Z90 * se), high=si * np.exp(Z90 * se),
                                 value=si))  # fmt: skip
    return rows
