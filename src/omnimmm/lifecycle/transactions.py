"""Reading a purchase log: column roles, types, checks and the rows left out.

:func:`load_transactions` reads a CSV, Parquet file or folder, Excel file or DataFrame into a
DuckDB temp table with the canonical columns ``customer_id, ts, amount`` and the optional
``order_id, channel, store_id, coupon_used`` (:class:`ColumnMap` says where each lives; the
roles the user did not name are inferred by :mod:`omnimmm.lifecycle.roles`). Timestamps in
other layouts and Unix time are read by :func:`timestamp_sql`, which the journeys reader
shares; an event log keeps its purchase rows; rows without a customer key or with a negative
amount are left out and counted (:func:`left_out_notes`). :mod:`omnimmm.lifecycle.features`
computes the point-in-time features from the loaded table.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field, fields
from datetime import date, datetime
from pathlib import Path

import duckdb
import pandas as pd

from omnimmm.data import duck
from omnimmm.data.duck import sql_ident as _quote
from omnimmm.data.tables import register_duckdb, wall_clock
from omnimmm.errors import DataError, numbered
from omnimmm.lifecycle.roles import (
    NO_EVENT,
    PURCHASE_EVENTS,
    ROW_COUNT,
    RoleMapping,
    event_column,
    infer_roles,
)
from omnimmm.lifecycle.timestamps import FORMATS, TS_LAYOUTS, epoch_unit, ts_format, ts_layouts

REQUIRED: tuple[str, ...] = ("customer_id", "ts", "amount")
OPTIONAL: tuple[str, ...] = ("order_id", "channel", "store_id", "coupon_used")

#: Rows with no customer key (anonymous purchases) or a negative amount (returns and
#: cancellations) are left out and counted while they are under this share of the file's
#: rows; at or above it the column is more likely the wrong one, and the load is refused.
LEAVE_OUT_LIMIT = 0.5

DateLike = str | date | datetime | pd.Timestamp
_ISO_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}([ T].*)?$")


@dataclass(frozen=True)
class ColumnMap:
    """Names of the transaction columns in the user's file, by canonical role.

    Optional roles left at their default name are used when the file has that column and
    skipped when it does not; a non-default name must exist. ``None`` switches a role off.
    ``quantity`` (default ``None``) makes ``amount`` a unit price: a row's amount is then
    quantity x unit price (a line-level log such as ``Quantity``, ``Price``). ``event``
    (default ``None``) names an event-type column: only rows whose event is a purchase
    (:data:`~omnimmm.lifecycle.roles.PURCHASE_EVENTS`) are loaded.
    """

    customer_id: str = "customer_id"
    ts: str = "ts"
    amount: str = "amount"
    order_id: str | None = "order_id"
    channel: str | None = "channel"
    store_id: str | None = "store_id"
    coupon_used: str | None = "coupon_used"
    quantity: str | None = None
    event: str | None = None

    def __post_init__(self) -> None:
        for role in REQUIRED:
            name = getattr(self, role)
            if not isinstance(name, str) or not name:
                raise DataError(f"column map: the '{role}' column needs a name, got {name!r}")
        roles: dict[str, list[str]] = {}
        for f in fields(self):
            if getattr(self, f.name) is not None:
                roles.setdefault(getattr(self, f.name), []).append(f.name)
        clashes = [
            f"'{name}' is given to "
            + " and ".join(f"{r} (--{r.replace('_', '-')}-col)" for r in rs)
            for name, rs in roles.items()
            if len(rs) > 1
        ]
        if clashes:
            raise DataError(
                "column map: each column can play one role only: "
                + "; ".join(clashes)
                + ". Give each role its own column (optional roles can be left out of the "
                "plan's [lifecycle.columns])"
            )

    @classmethod
    def from_roles(cls, roles: RoleMapping) -> ColumnMap:
        """The columns an inferred :class:`~omnimmm.lifecycle.roles.RoleMapping` found."""
        got = roles.columns
        return cls(got["customer_id"], got["ts"], got["amount"], got.get("order_id"),
                   got.get("channel"), got.get("store_id"), got.get("coupon_used"),
                   got.get("quantity"), got.get("event"))  # fmt: skip

    @classmethod
    def from_mapping(cls, mapping: dict[str, str | None] | None) -> ColumnMap:
        """Build from ``{role: column}`` (a plan section or CLI flags); unknown roles fail."""
        mapping = dict(mapping or {})
        roles = {f.name for f in fields(cls)}
        unknown = sorted(set(mapping) - roles)
        if unknown:
            raise DataError(
                f"column map: unknown role(s) {unknown}; accepted roles are {sorted(roles)}"
            )

        def name(role: str) -> str | None:
            return mapping.get(role, getattr(cls, role))

        required = {r: name(r) for r in REQUIRED}
        for role, value in required.items():
            if not isinstance(value, str) or not value:
                raise DataError(f"column map: the '{role}' column needs a name, got {value!r}")
        return cls(
            str(required["customer_id"]),
            str(required["ts"]),
            str(required["amount"]),
            **{r: name(r) for r in OPTIONAL},
            quantity=mapping.get("quantity"),
            event=mapping.get("event"),
        )


@dataclass(frozen=True)
class TransactionTable:
    """Validated transactions loaded into a DuckDB temp table with canonical column names.

    ``end`` is the exclusive end of the history the table covers: the day after the last
    transaction, or the load's ``until`` if that is earlier. ``columns`` is the mapping used;
    ``roles`` says how it was found when it was inferred.
    """

    con: duckdb.DuckDBPyConnection
    table: str
    source: str
    optional: tuple[str, ...]
    n_rows: int
    start: pd.Timestamp
    end: pd.Timestamp
    roles: RoleMapping | None = None
    columns: ColumnMap | None = None
    left_out: dict[str, int] = field(default_factory=dict)
    notes: tuple[str, ...] = ()
    n_left_out: int = 0  # rows removed (a row can be of both kinds of ``left_out``)

    def frame(self) -> pd.DataFrame:
        """The canonical rows as a DataFrame (for small data, tests and the pandas oracle)."""
        return self.con.execute(f"SELECT * FROM {self.table}").df()


def cutoff_end(as_of: DateLike) -> pd.Timestamp:
    """Exclusive end of the history visible at ``as_of``: midnight after that day."""
    bad = DataError(f"as-of date {as_of!r} is not a date (expected YYYY-MM-DD)")
    if isinstance(as_of, str) and not _ISO_DAY.match(as_of.strip()):
        raise bad  # pandas would also accept words such as "now" or "yesterday"
    try:
        day = pd.Timestamp(as_of)
    except (ValueError, TypeError) as exc:
        raise bad from exc
    if day is pd.NaT:
        raise bad
    if day.tzinfo is not None:
        day = day.tz_localize(None)
    return day.normalize() + pd.Timedelta(days=1)


def _sql_ts(ts: pd.Timestamp) -> str:
    return f"TIMESTAMP '{ts.strftime('%Y-%m-%d %H:%M:%S')}'"


def _try_cast(column: str, source_type: str, target: str) -> str:
    """``TRY_CAST`` of a quoted column; text goes through ``trim`` first, which also stops
    DuckDB (1.x) from pushing the cast into its CSV reader, where it fails instead of
    giving NULL."""
    inner = f"trim({column})" if source_type.startswith("VARCHAR") else column
    return f"TRY_CAST({inner} AS {target})"


def _sample_roles(
    con: duckdb.DuckDBPyConnection,
    source: str | Path | pd.DataFrame,
    given: dict[str, str | None],
) -> RoleMapping:
    """Infer the role columns from the header and the first rows (see omnimmm.lifecycle.roles)."""
    if isinstance(source, pd.DataFrame):
        return infer_roles(source.head(2000), given, label="the transactions frame")
    path = Path(source)
    sql = f"omni_sample_{uuid.uuid4().hex[:12]}"
    register_duckdb(
        con, path, sql, what="transactions file (--transactions or lifecycle.transactions)"
    )
    try:
        sample = con.execute(f"SELECT * FROM {sql} LIMIT 2000").df()
        described = con.execute(f"DESCRIBE SELECT * FROM {sql}").fetchall()
    except duckdb.Error as exc:
        raise DataError(f"cannot read transactions from {path}: {exc}") from exc
    types = {str(row[0]): str(row[1]).upper() for row in described}
    return infer_roles(sample, given, types=types, label=str(path))


def _relation(
    con: duckdb.DuckDBPyConnection, source: str | Path | pd.DataFrame, cols: ColumnMap
) -> tuple[str, str, dict[str, str]]:
    """SQL text for the raw source, a label for messages, and its column types."""
    if isinstance(source, pd.DataFrame):
        view = f"omni_src_{uuid.uuid4().hex[:12]}"
        con.register(view, wall_clock(source))
        sql, label = view, "the transactions frame"
    else:
        # CSV (any common encoding/delimiter), Parquet file or folder, or .xlsx; text cells
        # stay VARCHAR (ids keep leading zeros) and are cast with TRY_CAST so that a bad
        # value anywhere is reported by row, not by a parser
        view = f"omni_src_{uuid.uuid4().hex[:12]}"
        register_duckdb(con, source, view, what="transactions file (--transactions or lifecycle.transactions)",
                        as_text=True)  # fmt: skip
        sql, label = view, str(source)
    try:
        described = con.execute(f"DESCRIBE SELECT * FROM {sql}").fetchall()
    except duckdb.Error as exc:
        raise DataError(f"cannot read transactions from {label}: {exc}") from exc
    return sql, label, {row[0]: str(row[1]).upper() for row in described}


def timestamp_sql(
    con: duckdb.DuckDBPyConnection,
    sql: str,
    column: str,
    source_type: str | None = None,
    *,
    whole_column: bool = False,
) -> str:
    """SQL turning a timestamp column of the table or view ``sql`` into TIMESTAMP (NULL where
    a value does not parse): ISO text by cast, other layouts (``20170101``, ``12/1/2010
    8:26``, ``2024年6月18日``) by the format their sample shows, Unix seconds or milliseconds
    (UTC) and Excel serial days by their range. The lifecycle and journeys readers both use it.

    ``source_type`` is the column's DuckDB type (looked up when omitted). The layout comes
    from the first rows; with ``whole_column`` (a reader that found rows the first reading
    leaves unparsed) the whole column settles day-first against month-first and may add a
    second layout (ISO with one other, :func:`~omnimmm.lifecycle.timestamps.ts_layouts`), at the
    cost of a scan or two."""
    col = _quote(column)
    if source_type is None:
        described = con.execute(f"DESCRIBE SELECT {col} FROM {sql}").fetchall()
        source_type = str(described[0][1]).upper()
    if source_type.startswith("TIMESTAMP") or source_type == "DATE":
        return f"CAST({col} AS TIMESTAMP)"
    rows = con.execute(
        f"SELECT DISTINCT CAST({col} AS VARCHAR) FROM (SELECT {col} FROM {sql} LIMIT 5000) "
        f"WHERE {col} IS NOT NULL LIMIT 500"
    ).fetchall()
    # the layout most values have: the rows that do not parse are reported by the caller
    values = [str(r[0]) for r in rows]
    fmt = ts_format(values, min_share=0.9)
    unit = epoch_unit(values) if fmt is None else None
    if unit == "excel":  # serial days since 1899-12-30 (25569 = 1970-01-01), to the second
        secs = f"round(({_try_cast(col, source_type, 'DOUBLE')} - 25569) * 86400)"
        return f"make_timestamp(CAST({secs} AS BIGINT) * 1000000)"
    if unit is not None:  # Unix time, UTC: make_timestamp takes microseconds
        micros = _try_cast(col, source_type, "DOUBLE") + (" * 1e6" if unit == "s" else " * 1e3")
        return f"make_timestamp(CAST(round({micros}) AS BIGINT))"
    if fmt is None and whole_column:  # ISO and one other layout, row by row (see ts_layouts)
        fmt = (ts_layouts(values, min_share=0.9) or (None,))[-1]
    if fmt is None or fmt == "iso":
        first = _try_cast(col, source_type, "TIMESTAMP")
    elif not whole_column:
        return _parse_sql(col, fmt)
    else:
        first = _day_month_order(con, sql, col, fmt)
    return _second_layout(con, sql, col, source_type, first, fmt) if whole_column else first


def _second_layout(
    con: duckdb.DuckDBPyConnection,
    sql: str,
    col: str,
    source_type: str,
    first: str,
    fmt: str | None,
) -> str:
    """``first``, or ``first`` then the other of ISO and one non-ISO layout when the values
    ``first`` leaves unparsed, over the whole column, are all in it (:func:`ts_layouts`)."""
    rows = con.execute(
        f"SELECT DISTINCT CAST({col} AS VARCHAR) FROM {sql} WHERE {col} IS NOT NULL AND "
        f"{first} IS NULL LIMIT 500"
    ).fetchall()
    other = ts_format([str(r[0]) for r in rows], min_share=0.9) if rows else None
    if other is None or (other == "iso") == (fmt in (None, "iso")):
        return first
    if other == "iso":
        return f"coalesce({first}, {_try_cast(col, source_type, 'TIMESTAMP')})"
    return f"coalesce({first}, {_day_month_order(con, sql, col, other)})"


def _parse_sql(col: str, fmt: str) -> str:
    return f"try_strptime(trim(CAST({col} AS VARCHAR)), '{fmt}')"


def _day_month_order(con: duckdb.DuckDBPyConnection, sql: str, col: str, fmt: str) -> str:
    """SQL parsing ``col`` by ``fmt``, or by the same layout with day and month swapped when
    that parses more of the whole column: the first rows of a file in date order (1-12
    January) read either way, and month first is tried first."""
    swapped = fmt.replace("%m", "\0").replace("%d", "%m").replace("\0", "%d")
    if "%m" not in fmt or "%d" not in fmt or swapped not in _DAY_MONTH_SWAPS:
        return _parse_sql(col, fmt)
    failed = ", ".join(
        f"count(*) FILTER (WHERE {_parse_sql(col, f)} IS NULL)" for f in (fmt, swapped)
    )
    query = f"SELECT {failed} FROM {sql} WHERE {col} IS NOT NULL"
    as_is, other = con.execute(query).fetchall()[0]
    return _parse_sql(col, swapped if other < as_is else fmt)


#: Layouts whose day and month may be swapped (``%m/%d/%Y`` and ``%d/%m/%Y`` ...).
_DAY_MONTH_SWAPS = {f for f in FORMATS if f.startswith(("%m/%d", "%d/%m"))}


#: Why each kind of row is left out of the load (see :data:`LEAVE_OUT_LIMIT`).
_LEFT_OUT = {
    "no_customer_key": ("with no customer key", "anonymous purchases cannot be scored"),
    "negative_amount": ("with a negative amount", "returns and cancellations are not purchases"),
    "not_a_purchase": (
        "whose event is not a purchase",
        "views, carts and favourites are not purchases",
    ),  # fmt: skip
}


def left_out_notes(
    left_out: dict[str, int], n: int, where: dict[str, str] | None = None
) -> tuple[str, ...]:
    """One line per kind of row left out of ``n`` read, e.g. ``left out 3 of 120 rows (2.5%)
    with no customer key in 'cust' (...)``; ``where`` names the column of each kind."""
    lines = []
    for kind, k in left_out.items():
        what, why = _LEFT_OUT[kind]
        share = f"{k / n:.1%}" if k >= 0.0005 * n else "under 0.1%"
        at = f" in {where[kind]}" if where else ""
        lines.append(f"left out {k:,} of {n:,} rows ({share}) {what}{at} ({why})")
    return tuple(lines)


def _amount_expr(role: dict[str, str], types: dict[str, str]) -> str:
    """SQL of a row's amount: the amount column, quantity x unit price, or 1 (no amount)."""
    if role["amount"] == ROW_COUNT:
        return "CAST(1 AS DOUBLE)"
    amount = _try_cast(_quote(role["amount"]), types[role["amount"]], "DOUBLE")
    if "quantity" not in role:
        return amount
    return f"({amount} * {_try_cast(_quote(role['quantity']), types[role['quantity']], 'DOUBLE')})"


def _resolve(cols: ColumnMap, types: dict[str, str], label: str) -> dict[str, str]:
    """Map canonical role -> source column, checking required and explicitly named ones."""
    found: dict[str, str] = {}
    defaults = ColumnMap()
    for role in (*REQUIRED, *OPTIONAL, "quantity", "event"):
        name = getattr(cols, role)
        if name is None:
            continue
        column = event_column(name, list(types))[0] if role == "event" else name
        if column in types or (role == "amount" and name == ROW_COUNT):
            found[role] = name
        elif role in REQUIRED or name != getattr(defaults, role):
            raise DataError(
                f"{label} has no column '{name}' (the {role} column). Columns found: "
                f"{sorted(types)}.\n"
                + numbered(
                    [
                        f"map the {role} role to one of those columns "
                        f"(--{role.replace('_', '-')}-col or the plan's [lifecycle.columns])",
                        "check the file's header row and delimiter",
                    ]
                )
            )
    return found


def load_transactions(
    source: str | Path | pd.DataFrame | TransactionTable,
    *,
    columns: ColumnMap | dict[str, str | None] | None = None,
    until: DateLike | None = None,
    con: duckdb.DuckDBPyConnection | None = None,
) -> TransactionTable:
    """Read, rename, type and validate transactions into a DuckDB temp table.

    Parameters
    ----------
    source
        CSV or Parquet file or a folder of Parquet files (read by DuckDB directly), a
        DataFrame, or an already loaded table (returned unchanged).
    columns
        Where each canonical column lives in the source. A :class:`ColumnMap` is used as it
        is. ``None`` or a dict of the roles the user named (``{"ts": "timestamp"}``) infers
        the others from the header and the first rows (:func:`omnimmm.lifecycle.roles.infer_roles`);
        the mapping used is in the returned table's ``roles``.
    until
        If given, only rows with ``ts`` before this exclusive timestamp are loaded (the filter
        runs in SQL while reading). Pass :func:`cutoff_end` of an as-of date.
    con
        DuckDB connection to use (a new in-memory one by default).

    Raises
    ------
    DataError
        Missing required columns, unparsable timestamps, missing or non-numeric or negative
        amounts, missing customer keys, or channel values other than online/offline.
    """
    if isinstance(source, TransactionTable):
        return source
    con = con if con is not None else duck.connect()
    roles = None
    if isinstance(columns, ColumnMap):
        cols = columns
    else:
        roles = _sample_roles(con, source, dict(columns or {}))
        cols = ColumnMap.from_roles(roles)
    sql, label, types = _relation(con, source, cols)
    role = _resolve(cols, types, label)

    ts_expr = timestamp_sql(con, sql, role["ts"], types[role["ts"]])
    table, keep, event, not_purchases = _create(con, sql, label, role, types, ts_expr, until)
    if con.execute(f"SELECT count(*) FROM {table} WHERE ts IS NULL").fetchall()[0][0]:
        # rows the first rows' layout leaves unparsed: let the whole column settle it
        whole = timestamp_sql(con, sql, role["ts"], types[role["ts"]], whole_column=True)
        if whole != ts_expr:
            con.execute(f"DROP TABLE {table}")
            ts_expr = whole
            table, keep, event, not_purchases = _create(con, sql, label, role, types, ts_expr,
                                                        until)  # fmt: skip
    optional = tuple(r for r in OPTIONAL if r in role)
    scope = " AND ".join(keep) or "TRUE"  # the rows loaded: examples of bad values come from them
    left_out, notes = _validate(con, table, sql, label, role, optional, types, ts_expr, scope)
    removed = 0
    if left_out:
        sql_delete = f"DELETE FROM {table} WHERE customer_id IS NULL OR amount < 0"
        removed = int(con.execute(sql_delete).fetchall()[0][0])
    if not_purchases:
        n_read = int(con.execute(f"SELECT count(*) FROM {table}").fetchall()[0][0]) + removed
        kind = {"not_a_purchase": not_purchases}
        column = {"not_a_purchase": f"'{event[0]}'"} if event else None
        notes += left_out_notes(kind, n_read + not_purchases, column)
        left_out = {**left_out, **kind}
        removed += not_purchases

    # fetchall, not fetchone: DuckDB 2 keeps a half-read result open and refuses further work
    (n, lo, hi) = con.execute(f"SELECT count(*), min(ts), max(ts) FROM {table}").fetchall()[0]
    if n == 0 and event is not None and not_purchases:
        raise _no_purchase(con, sql, label, *event)
    if n == 0:
        raise DataError(f"{label} has no transactions" + (f" before {until}" if until else ""))
    end = pd.Timestamp(hi).normalize() + pd.Timedelta(days=1)
    if until is not None:
        end = min(end, pd.Timestamp(until))
    return TransactionTable(con, table, label, optional, int(n), pd.Timestamp(lo), end, roles,
                            cols, left_out, notes, removed)  # fmt: skip


def key_sql(con: duckdb.DuckDBPyConnection, sql: str, column: str, source_type: str) -> str:
    """SQL of the customer key as text. Integer keys stored as floats (a column with blanks
    that pandas wrote as ``17850.0``, or Parquet's DOUBLE) read as the integers they are, so
    that the scores join back to the customers whatever the file's format."""
    col = _quote(column)
    if source_type.startswith(("DOUBLE", "FLOAT", "REAL", "DECIMAL")):
        whole = f"{col} = round({col})"
        fixed = f"CAST(CAST({col} AS BIGINT) AS VARCHAR)"
    elif source_type.startswith("VARCHAR"):
        whole = f"regexp_full_match(trim({col}), '-?[0-9]+[.]0+')"
        fixed = f"regexp_replace(trim({col}), '[.]0+$', '')"
    else:
        return f"CAST({col} AS VARCHAR)"
    count = f"SELECT count(*), count(*) FILTER (WHERE {whole}) FROM"
    for rows in (f"(SELECT {col} FROM {sql} LIMIT 2000)", sql):  # the whole file only if need be
        n, integral = con.execute(f"{count} {rows} WHERE {col} IS NOT NULL").fetchall()[0]
        if not n or n != integral:
            return f"CAST({col} AS VARCHAR)"
    return fixed


def _create(
    con: duckdb.DuckDBPyConnection,
    sql: str,
    label: str,
    role: dict[str, str],
    types: dict[str, str],
    ts_expr: str,
    until: DateLike | None,
) -> tuple[str, list[str], tuple[str, tuple[str, ...]] | None, int]:
    """The temp table of canonical rows read with ``ts_expr``; the conditions of the rows
    kept, the event column (if any) and the rows that are not purchases."""
    select = [
        f"{key_sql(con, sql, role['customer_id'], types[role['customer_id']])} AS customer_id",
        f"{ts_expr} AS ts",
        f"{_amount_expr(role, types)} AS amount",
    ]
    if "order_id" in role:
        select.append(f"CAST({_quote(role['order_id'])} AS VARCHAR) AS order_id")
    if "channel" in role:
        select.append(f"lower(trim(CAST({_quote(role['channel'])} AS VARCHAR))) AS channel")
    if "store_id" in role:
        select.append(f"CAST({_quote(role['store_id'])} AS VARCHAR) AS store_id")
    if "coupon_used" in role:
        coupon = _try_cast(_quote(role["coupon_used"]), types[role["coupon_used"]], "BOOLEAN")
        select.append(f"{coupon} AS coupon_used")
    keep = []
    if until is not None:
        stop = pd.Timestamp(until)
        keep.append(f"({ts_expr} < {_sql_ts(stop)} OR {ts_expr} IS NULL)")
    not_purchases = 0
    # the event column and its purchase values (behavior_type=4), parsed once
    event = event_column(role["event"], list(types)) if "event" in role else None
    if event is not None:
        purchase = _purchase_sql(*event)
        keep.append(purchase)
        not_purchases = _count_not_purchases(con, sql, purchase, keep[:-1])
    where = f"WHERE {' AND '.join(keep)}" if keep else ""
    table = f"omni_tx_{uuid.uuid4().hex[:12]}"
    try:
        con.execute(f"CREATE TEMP TABLE {table} AS SELECT {', '.join(select)} FROM {sql} {where}")
    except duckdb.Error as exc:
        raise DataError(f"cannot read transactions from {label}: {exc}") from exc
    return table, keep, event, not_purchases


def _purchase_sql(column: str, purchases: tuple[str, ...] = PURCHASE_EVENTS) -> str:
    """SQL condition: the row's event is a purchase (one of ``purchases``, lower case)."""
    listed = ", ".join(duck.sql_string(v) for v in purchases)
    return f"lower(trim(CAST({_quote(column)} AS VARCHAR))) IN ({listed})"


def _count_not_purchases(
    con: duckdb.DuckDBPyConnection, sql: str, purchase: str, keep: list[str]
) -> int:
    """Rows (within the ``keep`` conditions) whose event is not a purchase."""
    where = " AND ".join(keep) or "TRUE"
    q = f"SELECT count(*) FROM {sql} WHERE ({where}) AND NOT coalesce({purchase}, FALSE)"
    return int(con.execute(q).fetchall()[0][0])


def _no_purchase(
    con: duckdb.DuckDBPyConnection, sql: str, label: str, column: str, purchases: tuple[str, ...]
) -> DataError:
    """The refusal of an event log with no purchase row (the values it holds instead)."""
    seen = con.execute(
        f"SELECT DISTINCT CAST({_quote(column)} AS VARCHAR) FROM {sql} LIMIT 10"
    ).fetchall()
    return DataError(
        f"{label} has no transactions: column '{column}' (the event type, --event-col) holds "
        f"no purchase, only {[s[0] for s in seen]}; purchase rows are marked one of "
        f"{list(purchases)}. Name the purchase value with --event-col '{column}=VALUE', or "
        f"read every row as a purchase with --event-col {NO_EVENT}"
    )


def _validate(
    con: duckdb.DuckDBPyConnection,
    table: str,
    sql: str,
    label: str,
    role: dict[str, str],
    optional: tuple[str, ...],
    types: dict[str, str],
    ts_expr: str,
    scope: str = "TRUE",
) -> tuple[dict[str, int], tuple[str, ...]]:
    """Refuse bad values; count the rows to leave out (no customer key, negative amount).
    ``scope`` is the SQL condition of the source rows loaded (before the as-of date, and the
    purchases of an event log): the examples of bad values are taken among them."""
    checks = [
        "count(*) AS n",
        "count(*) FILTER (WHERE customer_id IS NULL) AS no_id",
        "count(*) FILTER (WHERE ts IS NULL) AS bad_ts",
        "count(*) FILTER (WHERE amount IS NULL) AS bad_amount",
        "count(*) FILTER (WHERE amount < 0) AS neg_amount",
    ]
    if "channel" in optional:
        checks.append(
            "count(*) FILTER (WHERE channel IS NOT NULL "
            "AND channel NOT IN ('online', 'offline')) AS bad_channel"
        )
    row = con.execute(f"SELECT {', '.join(checks)} FROM {table}").fetchall()[0]
    counts = dict(
        zip(["n", "no_id", "bad_ts", "bad_amount", "neg_amount", "bad_channel"], row, strict=False)
    )

    frame = label == "the transactions frame"

    def example(column: str, condition: str) -> str:
        """The first offending value and where it is (data row, 1 = first after the header)."""
        rows = con.execute(
            f"SELECT _rn, {column} FROM (SELECT row_number() OVER () AS _rn, * FROM {sql}) "
            f"WHERE ({condition}) AND {scope} ORDER BY _rn LIMIT 1"
        ).fetchall()
        if not rows:
            return "?"
        hit = rows[0]
        where = f"position {hit[0] - 1}" if frame else f"data row {hit[0]}"
        return f"{hit[1]!r} at {where}"

    amount_double = _amount_expr(role, types)
    ts_col, amt_col, id_col = (
        _quote(role["ts"]),
        _quote(role["amount"]),
        _quote(role["customer_id"]),
    )
    amount_name = f"'{role['amount']}'" + (f" x '{role['quantity']}'" if "quantity" in role else "")
    n = int(counts["n"])
    if counts["no_id"] and counts["no_id"] >= LEAVE_OUT_LIMIT * n:
        bad = example(id_col, f"{id_col} IS NULL")
        raise DataError(
            f"{label}: {counts['no_id']} of {n} row(s) have no customer key in column "
            f"'{role['customer_id']}', e.g. {bad}; rows without one are left out only while "
            f"they are under {LEAVE_OUT_LIMIT:.0%} of the rows (resolve identities first, or "
            f"name the key column with --customer-id-col)"
        )
    if counts["bad_ts"]:
        bad = example(ts_col, f"{ts_expr} IS NULL")
        raise DataError(
            f"{label}: {counts['bad_ts']} row(s) in column '{role['ts']}' are missing or not a "
            f"timestamp, e.g. {bad}; expected one of these layouts: {TS_LAYOUTS}"
        )
    if counts["bad_amount"]:
        bad = example(amt_col, f"{amount_double} IS NULL")
        raise DataError(
            f"{label}: {counts['bad_amount']} row(s) in column {amount_name} are missing or "
            f"not numeric, e.g. {bad}; expected a number (order value in currency units)"
        )
    if counts["neg_amount"] and counts["neg_amount"] >= LEAVE_OUT_LIMIT * n:
        bad = example(amt_col, f"{amount_double} < 0")
        raise DataError(
            f"{label}: {counts['neg_amount']} of {n} row(s) in column {amount_name} are "
            f"negative, e.g. {bad}; negative rows (returns, cancellations) are left out only "
            f"while they are under {LEAVE_OUT_LIMIT:.0%} of the rows: remove refunds or net "
            "them into their orders"
        )
    if counts.get("bad_channel"):
        seen = con.execute(
            f"SELECT DISTINCT channel FROM {table} WHERE channel NOT IN ('online', 'offline') "
            "LIMIT 5"
        ).fetchall()
        raise DataError(
            f"{label}: column '{role['channel']}' must hold 'online' or 'offline', found "
            f"{[s[0] for s in seen]}"
        )
    left_out = {k: int(counts[c]) for k, c in (("no_customer_key", "no_id"),
                                               ("negative_amount", "neg_amount")) if counts[c]}  # fmt: skip
    where = {"no_customer_key": f"'{role['customer_id']}'", "negative_amount": amount_name}
    return left_out, left_out_notes(left_out, n, where)


def require_amount(t: TransactionTable, why: str) -> None:
    """Refuse a log without an amount column (every row counted 1) where money is reported.

    Raises
    ------
    DataError
        ``t`` was loaded with :data:`~omnimmm.lifecycle.roles.ROW_COUNT` as its amount; the
        message names the file, ``why`` money is needed and the flag that names the column.
    """
    if t.columns is None or t.columns.amount != ROW_COUNT:
        return
    raise DataError(
        f"{t.source}: no column looks like an amount, and {why} needs money, not a count of "
        "purchase rows.\n"
        + numbered(
            [
                'name the amount column: --amount-col COLUMN (or amount = "COLUMN" in the '
                "plan's [lifecycle.columns])",
                "if the file has a quantity and a unit price, name the price with --amount-col "
                "and the quantity with --quantity-col",
            ]
        )
    )
