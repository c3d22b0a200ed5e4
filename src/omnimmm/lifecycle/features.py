"""Point-in-time customer features computed with DuckDB SQL over CSV, Parquet or a DataFrame.

The cutoff
----------
Features "as of" a date ``D`` use every transaction with ``ts < D + 1 day``: the whole of day
``D`` is history, nothing later is. Call that exclusive end ``T``. Every window is measured back
from ``T`` (the 30-day window is ``[T - 30 days, T)``), recency and tenure are days from the
last and first purchase to ``T``. The cutoff filter is the first thing the SQL does, so no
feature can see a later row; ``tests/test_lifecycle_features.py`` rewrites every later row and
checks the features do not move.

Orders
------
When an ``order_id`` column is mapped, rows sharing a customer and order id are one order (its
time is the earliest row, its amount the sum, its line count the number of rows). Without it
each row is one order.

Features (one row per customer with at least one order before ``T``)
--------------------------------------------------------------------
recency_days, tenure_days
    days from the last / first order to ``T``.
n_orders, revenue, aov, amount_std
    all-history order count, revenue, mean and spread of order value (basket value).
n_orders_{w}d, revenue_{w}d
    orders and revenue in each window ``w`` (default 30, 90, 180, 365 days).
gap_mean, gap_std, overdue_days, overdue_ratio
    mean and spread of the days between consecutive orders; how far the current recency
    is past the usual gap (``recency - gap_mean``) and as a multiple of it. Empty with one order.
trend_orders, trend_revenue
    orders in the last ``trend_days`` minus orders in the ``trend_days`` before; revenue change
    over the same two periods scaled to [-1, 1] as ``(recent - earlier) / (recent + earlier)``.
lines_per_order
    mean rows per order (only with ``order_id``).
online_share, channel_switches, switch_rate, is_omnichannel
    share of orders online, how often consecutive orders change channel, and whether both
    channels were used (only with ``channel``).
n_stores
    distinct stores visited (only with ``store_id``).
coupon_share, coupon_revenue_share, coupon_orders_90d
    share of orders and of revenue with a coupon, coupon orders in the last 90 days
    (only with ``coupon_used``).
n_contacts, n_responses, contact_response_rate, days_since_last_contact, ...
    campaign contacts received and answered, as of the same cutoff (only when a campaign
    history is given; see :mod:`omnimmm.lifecycle.campaigns`).
stage
    lifecycle stage from :func:`lifecycle_stage`.

:func:`build_features_pandas` computes the same table with plain pandas; it is the test oracle
and the benchmark's comparison, not the production path.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd

from omnimmm.data.tables import read_frame
from omnimmm.lifecycle.campaigns import (
    RESPONSE_DAYS,
    CampaignColumns,
    CampaignTable,
    add_campaign_features,
    load_campaigns,
)
from omnimmm.lifecycle.transactions import (  # re-exported: the reader's names stay importable
    LEAVE_OUT_LIMIT,
    OPTIONAL,
    REQUIRED,
    ColumnMap,
    DateLike,
    TransactionTable,
    _resolve,
    _sql_ts,
    cutoff_end,
    left_out_notes,
    load_transactions,
    require_amount,
    timestamp_sql,
)

__all__ = [
    "DEFAULT_WINDOWS",
    "LEAVE_OUT_LIMIT",
    "NON_FEATURES",
    "OPTIONAL",
    "REQUIRED",
    "STAGES",
    "ColumnMap",
    "DateLike",
    "StageRules",
    "TransactionTable",
    "build_features",
    "build_features_pandas",
    "cutoff_end",
    "feature_columns",
    "left_out_notes",
    "lifecycle_stage",
    "load_transactions",
    "require_amount",
    "timestamp_sql",
]

DEFAULT_WINDOWS: tuple[int, ...] = (30, 90, 180, 365)
NON_FEATURES: tuple[str, ...] = ("customer_id", "stage")
STAGES: tuple[str, ...] = ("new", "active", "at_risk", "lapsed")


def _orders_sql(t: TransactionTable, stop: pd.Timestamp) -> str:
    """SQL of the orders before ``stop``: the cutoff filter comes first."""
    rows = f"SELECT * FROM {t.table} WHERE ts < {_sql_ts(stop)}"
    if "order_id" not in t.optional:
        extra = "".join(f", {c}" for c in t.optional)
        return f"SELECT customer_id, ts, amount, 1 AS n_lines{extra} FROM ({rows})"
    agg = ["min(ts) AS ts", "sum(amount) AS amount", "count(*) AS n_lines"]
    agg += [f"min({c}) AS {c}" for c in ("channel", "store_id") if c in t.optional]
    if "coupon_used" in t.optional:
        agg.append("bool_or(coupon_used) AS coupon_used")
    return f"SELECT customer_id, {', '.join(agg)} FROM ({rows}) GROUP BY customer_id, order_id"


def build_features(
    source: str | Path | pd.DataFrame | TransactionTable,
    as_of: DateLike,
    *,
    windows: tuple[int, ...] = DEFAULT_WINDOWS,
    trend_days: int = 90,
    columns: ColumnMap | None = None,
    con: duckdb.DuckDBPyConnection | None = None,
    campaigns: str | Path | pd.DataFrame | CampaignTable | None = None,
    campaign_columns: CampaignColumns | None = None,
    response_days: int = RESPONSE_DAYS,
) -> pd.DataFrame:
    """Point-in-time features of every customer with an order up to the end of ``as_of``.

    Parameters
    ----------
    source
        CSV/Parquet path, DataFrame, or a :class:`TransactionTable` from
        :func:`load_transactions` (to reuse one load for many cutoffs).
    as_of
        Cutoff date; rows with ``ts < as_of + 1 day`` are history (see the module docstring).
    windows
        Look-back windows in days for the windowed counts and revenue.
    trend_days
        Length of the recent and the earlier period compared by the trend features.
    columns, con
        Column mapping and DuckDB connection, used when ``source`` is not yet loaded.
    campaigns, campaign_columns, response_days
        Optional campaign or contact history (path, DataFrame, or a
        :class:`~omnimmm.lifecycle.campaigns.CampaignTable` loaded on the transactions'
        connection), its column names, and the days after a contact in which a purchase
        counts as a response. Adds the columns of :mod:`omnimmm.lifecycle.campaigns`.

    Returns
    -------
    pandas.DataFrame
        One row per customer sorted by ``customer_id``, the columns in the module docstring.
    """
    stop = cutoff_end(as_of)
    t = load_transactions(source, columns=columns, until=stop, con=con)
    ep = f"epoch_us({_sql_ts(stop)})"
    day = "86400000000.0"
    order_by = "ts, amount" + (", channel" if "channel" in t.optional else "")
    lagged = [f"(epoch_us(ts) - lag(epoch_us(ts)) OVER w) / {day} AS gap"]
    if "channel" in t.optional:
        lagged.append("CAST(channel <> lag(channel) OVER w AS INTEGER) AS switched")

    def since(days: int) -> str:
        return f"ts >= {_sql_ts(stop - pd.Timedelta(days=days))}"

    agg = [
        f"({ep} - epoch_us(max(ts))) / {day} AS recency_days",
        f"({ep} - epoch_us(min(ts))) / {day} AS tenure_days",
        "count(*) AS n_orders",
        "sum(amount) AS revenue",
        "avg(amount) AS aov",
        "stddev_samp(amount) AS amount_std",
    ]
    for w in windows:
        agg.append(f"count(*) FILTER (WHERE {since(w)}) AS n_orders_{w}d")
        agg.append(f"coalesce(sum(amount) FILTER (WHERE {since(w)}), 0) AS revenue_{w}d")
    recent, earlier = since(trend_days), f"{since(2 * trend_days)} AND NOT {since(trend_days)}"
    agg += [
        "avg(gap) AS gap_mean",
        "stddev_samp(gap) AS gap_std",
        f"count(*) FILTER (WHERE {recent}) - count(*) FILTER (WHERE {earlier}) AS trend_orders",
        f"coalesce(sum(amount) FILTER (WHERE {recent}), 0) AS rev_recent",
        f"coalesce(sum(amount) FILTER (WHERE {earlier}), 0) AS rev_earlier",
    ]
    if "order_id" in t.optional:
        agg.append("avg(n_lines) AS lines_per_order")
    if "channel" in t.optional:
        agg += [
            "avg(CAST(channel = 'online' AS DOUBLE)) AS online_share",
            "coalesce(sum(switched), 0) AS channel_switches",
            "CAST(count(DISTINCT channel) = 2 AS INTEGER) AS is_omnichannel",
        ]
    if "store_id" in t.optional:
        agg.append("count(DISTINCT store_id) AS n_stores")
    if "coupon_used" in t.optional:
        agg += [
            "avg(CAST(coupon_used AS DOUBLE)) AS coupon_share",
            "sum(amount) FILTER (WHERE coupon_used) AS coupon_revenue",
            f"count(*) FILTER (WHERE coupon_used AND {since(90)}) AS coupon_orders_90d",
        ]
    query = f"""
        WITH o AS ({_orders_sql(t, stop)}),
        g AS (SELECT *, {", ".join(lagged)} FROM o
              WINDOW w AS (PARTITION BY customer_id ORDER BY {order_by}))
        SELECT customer_id, {", ".join(agg)} FROM g GROUP BY customer_id ORDER BY customer_id
    """
    raw = t.con.execute(query).df()
    feats = _finish(raw, t.optional)
    if campaigns is None:
        return feats
    c = load_campaigns(campaigns, t.con, columns=campaign_columns)
    return add_campaign_features(feats, c, t.table, _sql_ts(stop), response_days=response_days)


def _finish(raw: pd.DataFrame, optional: tuple[str, ...]) -> pd.DataFrame:
    """Derived columns shared by the DuckDB and pandas paths, in a fixed column order."""
    f = raw.copy()
    f["customer_id"] = f["customer_id"].astype(str)
    for col in f.columns.drop("customer_id"):
        f[col] = pd.to_numeric(f[col]).astype("float64")
    with np.errstate(divide="ignore", invalid="ignore"):
        f["overdue_days"] = f["recency_days"] - f["gap_mean"]
        f["overdue_ratio"] = (f["recency_days"] / f["gap_mean"]).where(f["gap_mean"] > 0)
        both = f["rev_recent"] + f["rev_earlier"]
        f["trend_revenue"] = ((f["rev_recent"] - f["rev_earlier"]) / both).where(both > 0, 0.0)
    f = f.drop(columns=["rev_recent", "rev_earlier"])
    if "channel" in optional:
        f["switch_rate"] = (f["channel_switches"] / (f["n_orders"] - 1)).where(f["n_orders"] > 1)
    if "coupon_used" in optional:
        rev = f.pop("coupon_revenue").fillna(0.0)
        f["coupon_revenue_share"] = (rev / f["revenue"]).where(f["revenue"] > 0)
    f["stage"] = lifecycle_stage(f)
    return f.sort_values("customer_id", kind="stable").reset_index(drop=True)


@dataclass(frozen=True)
class StageRules:
    """Thresholds of the lifecycle stages (days). Rules are applied in this order:

    1. **lapsed**: no order for more than ``lapsed_days`` (default 365).
    2. **new**: first order at most ``new_days`` ago (default 90).
    3. **at_risk**: no order for more than ``at_risk_days`` (default 90), or, for customers
       with at least two orders, a recency beyond ``gap_multiple`` (default 2) times their
       own mean gap between orders and at least ``min_overdue_days`` (default 30).
    4. **active**: everyone else.
    """

    new_days: float = 90.0
    at_risk_days: float = 90.0
    lapsed_days: float = 365.0
    gap_multiple: float = 2.0
    min_overdue_days: float = 30.0


def lifecycle_stage(features: pd.DataFrame, rules: StageRules | None = None) -> pd.Series:
    """Lifecycle stage per customer from recency, tenure and the mean gap (see StageRules)."""
    r = rules or StageRules()
    recency = features["recency_days"].to_numpy(dtype=float)
    tenure = features["tenure_days"].to_numpy(dtype=float)
    gap = features["gap_mean"].to_numpy(dtype=float)
    overdue = np.nan_to_num(recency > r.gap_multiple * gap) & (recency > r.min_overdue_days)
    stage = np.select(
        [recency > r.lapsed_days, tenure <= r.new_days, (recency > r.at_risk_days) | overdue],
        ["lapsed", "new", "at_risk"],
        default="active",
    )
    return pd.Series(stage, index=features.index, name="stage")


def feature_columns(features: pd.DataFrame) -> list[str]:
    """The numeric model inputs of a feature table (everything but id and stage)."""
    return [c for c in features.columns if c not in NON_FEATURES]


def build_features_pandas(
    source: str | Path | pd.DataFrame,
    as_of: DateLike,
    *,
    windows: tuple[int, ...] = DEFAULT_WINDOWS,
    trend_days: int = 90,
    columns: ColumnMap | None = None,
) -> pd.DataFrame:
    """The features of :func:`build_features`, computed with plain pandas.

    A second, independent implementation: the test oracle for the SQL and the benchmark's
    comparison. It assumes valid input (no validation beyond the column mapping).
    """
    if isinstance(source, pd.DataFrame):
        raw, label = source, "the transactions frame"
    else:
        label = str(source)
        raw = read_frame(source, what="transactions file")
    role = _resolve(columns or ColumnMap(), dict.fromkeys(raw.columns, ""), label)
    optional = tuple(r for r in OPTIONAL if r in role)
    stop = cutoff_end(as_of)
    ts = pd.to_datetime(raw[role["ts"]])
    keep = (ts < stop).to_numpy()
    d = pd.DataFrame({"customer_id": raw[role["customer_id"]].astype(str), "ts": ts})[keep]
    d["amount"] = pd.to_numeric(raw[role["amount"]][keep]).astype(float)
    for r in ("order_id", "store_id"):
        if r in role:
            d[r] = raw[role[r]][keep].astype(str).where(raw[role[r]][keep].notna())
    if "channel" in role:
        ch = raw[role["channel"]][keep]
        d["channel"] = ch.astype(str).str.strip().str.lower().where(ch.notna())
    if "coupon_used" in role:
        d["coupon_used"] = raw[role["coupon_used"]][keep].astype("boolean")

    if "order_id" in optional:
        spec = {"ts": ("ts", "min"), "amount": ("amount", "sum"), "n_lines": ("ts", "size")}
        spec |= {c: (c, "min") for c in ("channel", "store_id") if c in optional}
        if "coupon_used" in optional:
            spec["coupon_used"] = ("coupon_used", "max")
        o = d.groupby(["customer_id", "order_id"], sort=False).agg(**spec).reset_index()
    else:
        o = d.assign(n_lines=1)
    o = o.sort_values(
        ["customer_id", "ts", "amount"] + (["channel"] if "channel" in optional else []),
        kind="stable",
    ).reset_index(drop=True)
    cid = o["customer_id"]
    same = cid.eq(cid.shift()).to_numpy()
    one_day = np.timedelta64(1, "D")
    age = pd.Series((stop - o["ts"]).to_numpy() / one_day, index=o.index)
    gap = pd.Series(o["ts"].diff().to_numpy() / one_day, index=o.index).where(same)

    def by(values: pd.Series, how: str) -> pd.Series:
        return getattr(values.groupby(cid, sort=True), how)()

    def in_last(days: int) -> pd.Series:
        return o["ts"] >= stop - pd.Timedelta(days=days)

    out = {
        "recency_days": by(age, "min"),
        "tenure_days": by(age, "max"),
        "n_orders": by(o["amount"], "size"),
        "revenue": by(o["amount"], "sum"),
        "aov": by(o["amount"], "mean"),
        "amount_std": by(o["amount"], "std"),
    }
    for w in windows:
        out[f"n_orders_{w}d"] = by(in_last(w), "sum")
        out[f"revenue_{w}d"] = by(o["amount"].where(in_last(w), 0.0), "sum")
    recent = in_last(trend_days)
    earlier = in_last(2 * trend_days) & ~recent
    out |= {
        "gap_mean": by(gap, "mean"),
        "gap_std": by(gap, "std"),
        "trend_orders": by(recent, "sum") - by(earlier, "sum"),
        "rev_recent": by(o["amount"].where(recent, 0.0), "sum"),
        "rev_earlier": by(o["amount"].where(earlier, 0.0), "sum"),
    }
    if "order_id" in optional:
        out["lines_per_order"] = by(o["n_lines"], "mean")
    if "channel" in optional:
        ch = o["channel"]
        prev = ch.shift()
        switched = (ch != prev).astype(float).where(same & ch.notna() & prev.notna())
        out |= {
            "online_share": by((ch == "online").astype(float).where(ch.notna()), "mean"),
            "channel_switches": by(switched, "sum"),
            "is_omnichannel": by(ch, "nunique") == 2,
        }
    if "store_id" in optional:
        out["n_stores"] = by(o["store_id"], "nunique")
    if "coupon_used" in optional:
        coupon = o["coupon_used"].astype("float64")
        used = o["coupon_used"].fillna(False).astype(bool)
        out |= {
            "coupon_share": by(coupon, "mean"),
            "coupon_revenue": by(o["amount"].where(used, 0.0), "sum"),
            "coupon_orders_90d": by(used & in_last(90), "sum"),
        }
    frame = pd.DataFrame(out).rename_axis("customer_id").reset_index()
    return _finish(frame, optional)
