"""Point-in-time campaign features: contacts received and how the customer responded.

Input
-----
A campaign or contact history (CSV, Parquet or a DataFrame), one row per customer and
contact, with the columns named by :class:`CampaignColumns`:

``customer_id`` (required)
    the unified customer id, as in the transactions (map raw account/member/phone keys
    with :func:`omnimmm.lifecycle.identity.assign_customer_ids`).
``sent_at`` (required)
    when the contact (coupon, push, SMS) was sent.
``redeemed_at`` (optional)
    when the customer redeemed it; empty if never.
``treated`` (optional)
    false for a random control group: those customers were *not* contacted, so their rows
    are not contacts and count nowhere here. Without the column every row is a contact.

The cutoff
----------
As in :mod:`omnimmm.lifecycle.features`, features as of ``D`` see only what happened before
``T = D + 1 day``: contacts sent before ``T``, redemptions before ``T``, purchases before
``T``. A contact sent before ``T`` whose response window runs past ``T`` counts as answered
only if the response (purchase or redemption) itself happened before ``T``.

Features (one value per customer of the transaction features; 0 or empty without contacts)
------------------------------------------------------------------------------------------
n_contacts, n_contacts_{w}d
    contacts sent before ``T``; those sent in the last ``w`` days (default 90 and 365).
n_responses, n_responses_{w}d
    contacts answered: a redemption at or after the send, or any purchase in
    ``[sent_at, sent_at + response_days)`` (default 30 days, the conversion window of
    :func:`omnimmm.lifecycle.value.campaign_outcomes`); both only before ``T``.
contact_response_rate
    ``n_responses / n_contacts``; empty without contacts. Contacts still inside their
    response window count in the denominator (their answer may be yet to come).
days_since_last_contact
    days from the last contact to ``T``; empty without contacts.
n_redemptions
    contacts redeemed before ``T`` (only with ``redeemed_at``).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pandas as pd

from omnimmm.data.duck import sql_ident as _q
from omnimmm.data.tables import register_duckdb, wall_clock
from omnimmm.errors import DataError
from omnimmm.lifecycle.transactions import key_sql, timestamp_sql

__all__ = [
    "CAMPAIGN_WINDOWS",
    "CampaignColumns",
    "CampaignTable",
    "campaign_features_sql",
    "load_campaigns",
]

CAMPAIGN_WINDOWS: tuple[int, ...] = (90, 365)
RESPONSE_DAYS = 30


@dataclass(frozen=True)
class CampaignColumns:
    """Names of the campaign history columns. ``redeemed_at`` and ``treated`` are optional:
    used when present; a name other than the default must exist."""

    customer_id: str = "customer_id"
    sent_at: str = "sent_at"
    redeemed_at: str = "redeemed_at"
    treated: str = "treated"


@dataclass(frozen=True)
class CampaignTable:
    """Validated contacts in a DuckDB temp table: ``customer_id, sent_at[, redeemed_at]``.

    Control-group rows (``treated`` false) are already dropped.
    """

    con: duckdb.DuckDBPyConnection
    table: str
    source: str
    has_redeemed: bool
    n_contacts: int


def load_campaigns(
    source: str | Path | pd.DataFrame | CampaignTable,
    con: duckdb.DuckDBPyConnection,
    *,
    columns: CampaignColumns | None = None,
) -> CampaignTable:
    """Read, type and validate a campaign history into a temp table on ``con``.

    ``con`` must be the connection holding the transactions (see
    :class:`omnimmm.lifecycle.features.TransactionTable`), so that features can join them.

    Raises
    ------
    DataError
        A missing file or column, or a ``sent_at``/``redeemed_at``/``treated`` value that is
        not a timestamp/boolean (with the first offending value and row).
    """
    if isinstance(source, CampaignTable):
        if source.con is not con:
            raise DataError("the campaign table was loaded on another DuckDB connection")
        return source
    cols = columns or CampaignColumns()
    if isinstance(source, pd.DataFrame):
        view = f"omni_camp_src_{uuid.uuid4().hex[:12]}"
        con.register(view, wall_clock(source))
        sql, label, frame = view, "the campaigns frame", True
    else:
        view = f"omni_camp_src_{uuid.uuid4().hex[:12]}"
        register_duckdb(
            con,
            source,
            view,
            what="campaign file (--campaigns or lifecycle.campaigns)",
            as_text=True,
        )
        sql, label, frame = view, str(source), False
    try:
        described = con.execute(f"DESCRIBE SELECT * FROM {sql}").fetchall()
    except duckdb.Error as exc:
        raise DataError(f"cannot read campaigns from {label}: {exc}") from exc
    present = {row[0]: str(row[1]).upper() for row in described}
    default = CampaignColumns()
    for role in ("customer_id", "sent_at", "redeemed_at", "treated"):
        name = getattr(cols, role)
        # optional columns may be absent under their default names, not when named explicitly
        optional = role in ("redeemed_at", "treated") and name == getattr(default, role)
        if name not in present and not optional:
            flag = f"--campaign-{role.replace('_', '-')}-col"
            raise DataError(
                f"{label} has no column '{name}' (the campaign {role} column, {flag}); "
                f"columns found: {sorted(present)}"
            )

    def ts(name: str) -> str:  # ISO, other layouts, Unix time: as the purchase log reads them
        return timestamp_sql(con, sql, name, present[name])

    has_redeemed = cols.redeemed_at in present
    has_treated = cols.treated in present
    treated = (
        f"TRY_CAST(lower(trim(CAST({_q(cols.treated)} AS VARCHAR))) AS BOOLEAN)"
        if has_treated
        else "TRUE"
    )
    select = [
        "row_number() OVER () AS _rn",
        f"{key_sql(con, sql, cols.customer_id, present[cols.customer_id])} AS customer_id",
        f"{ts(cols.sent_at)} AS sent_at",
        f"{ts(cols.redeemed_at) if has_redeemed else 'NULL::TIMESTAMP'} AS redeemed_at",
        f"{treated} AS treated",
    ]
    checks = [
        ("customer_id IS NULL", cols.customer_id, "has no customer id"),
        ("sent_at IS NULL", cols.sent_at, "is missing or not a timestamp"),
        ("treated IS NULL", cols.treated, "is not true/false (or 1/0)"),
    ]
    if has_redeemed:
        checks.append(
            (
                f"redeemed_at IS NULL AND nullif(trim(CAST({_q(cols.redeemed_at)} AS VARCHAR)), "
                "'') IS NOT NULL",
                cols.redeemed_at,
                "is not a timestamp",
            )
        )
    raw = f"SELECT {', '.join(select)}, * FROM {sql}"
    for condition, column, problem in checks:
        if column == cols.treated and not has_treated:
            continue
        rows = con.execute(f"SELECT count(*), min(_rn) FROM ({raw}) WHERE {condition}").fetchall()[
            0
        ]
        if rows[0]:
            first = con.execute(
                f"SELECT {_q(column)} FROM (SELECT row_number() OVER () AS _rn, * FROM {sql}) "
                f"WHERE _rn = {rows[1]}"
            ).fetchall()[0][0]
            where = f"position {rows[1] - 1}" if frame else f"data row {rows[1]}"
            raise DataError(
                f"{label}: {rows[0]} row(s) where column '{column}' {problem}, e.g. "
                f"{first!r} at {where}"
            )
    table = f"omni_camp_{uuid.uuid4().hex[:12]}"
    con.execute(
        f"CREATE TEMP TABLE {table} AS SELECT customer_id, sent_at, redeemed_at "
        f"FROM ({raw}) WHERE treated"
    )
    (n,) = con.execute(f"SELECT count(*) FROM {table}").fetchall()[0]
    return CampaignTable(con, table, label, has_redeemed, int(n))


def campaign_features_sql(
    c: CampaignTable,
    tx_table: str,
    stop_sql: str,
    *,
    windows: tuple[int, ...] = CAMPAIGN_WINDOWS,
    response_days: int = RESPONSE_DAYS,
) -> str:
    """SQL of the campaign features per customer as of the exclusive end ``stop_sql``.

    Every input is cut at ``stop_sql`` first: contacts sent, redemptions and purchases.
    """
    if response_days < 1:
        raise DataError(f"response_days must be >= 1, got {response_days}")
    day = "86400000000.0"
    redeemed = (
        f"coalesce(k.redeemed_at >= k.sent_at AND k.redeemed_at < {stop_sql}, FALSE)"
        if c.has_redeemed
        else "FALSE"
    )
    agg = [
        "count(*) AS n_contacts",
        "count(*) FILTER (WHERE responded) AS n_responses",
        f"(epoch_us({stop_sql}) - epoch_us(max(sent_at))) / {day} AS days_since_last_contact",
    ]
    for w in windows:
        recent = f"sent_at >= {stop_sql} - INTERVAL {int(w)} DAY"
        agg.append(f"count(*) FILTER (WHERE {recent}) AS n_contacts_{w}d")
        agg.append(f"count(*) FILTER (WHERE {recent} AND responded) AS n_responses_{w}d")
    if c.has_redeemed:
        agg.append("count(*) FILTER (WHERE redeemed) AS n_redemptions")
    return f"""
        WITH k AS (SELECT row_number() OVER () AS _k, customer_id, sent_at, redeemed_at
                   FROM {c.table} WHERE sent_at < {stop_sql}),
        p AS (SELECT customer_id, ts FROM {tx_table} WHERE ts < {stop_sql}),
        r AS (SELECT k._k, any_value(k.customer_id) AS customer_id,
                     any_value(k.sent_at) AS sent_at,
                     any_value({redeemed}) AS redeemed,
                     any_value({redeemed}) OR count(p.ts) > 0 AS responded
              FROM k LEFT JOIN p ON p.customer_id = k.customer_id AND p.ts >= k.sent_at
                   AND p.ts < k.sent_at + INTERVAL {int(response_days)} DAY
              GROUP BY k._k)
        SELECT customer_id, {", ".join(agg)} FROM r GROUP BY customer_id
    """


def add_campaign_features(
    features: pd.DataFrame,
    c: CampaignTable,
    tx_table: str,
    stop_sql: str,
    *,
    windows: tuple[int, ...] = CAMPAIGN_WINDOWS,
    response_days: int = RESPONSE_DAYS,
) -> pd.DataFrame:
    """``features`` (one row per customer) with the campaign columns joined on."""
    sql = campaign_features_sql(c, tx_table, stop_sql, windows=windows, response_days=response_days)
    camp = c.con.execute(sql).df()
    camp["customer_id"] = camp["customer_id"].astype(str)
    counts = [col for col in camp.columns if col.startswith("n_")]
    out = features.merge(camp, on="customer_id", how="left")
    for col in counts:
        out[col] = out[col].fillna(0).astype("float64")
    out["days_since_last_contact"] = out["days_since_last_contact"].astype("float64")
    out["contact_response_rate"] = (out["n_responses"] / out["n_contacts"]).where(
        out["n_contacts"] > 0
    )
    return out
