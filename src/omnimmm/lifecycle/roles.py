"""Which transaction column plays which role, when the user has not said.

A purchase log arrives with its own names: ``household_id``, ``Customer ID``, ``会员ID``;
``timestamp``, ``InvoiceDate``, ``下单时间``; ``sales_value``, ``dollar_value``, ``实付金额``.
:func:`infer_roles` maps them onto the canonical roles of
:class:`~omnimmm.lifecycle.transactions.ColumnMap` from the header and a sample of values:

1. a column the user named (CLI flag or the plan's ``[lifecycle.columns]``) is used as given;
2. otherwise the canonical name (``customer_id``, ``ts``, ``amount``, ...) if the file has it,
   except that a customer key named as unique (``customer_unique_id``) comes first: its name
   says that the ``customer_id`` beside it is not the person's key (in Olist it is one per
   order);
3. otherwise a column whose name is a known alias of the role (case, spaces and
   underscores ignored) and whose values fit it (a timestamp parses, an amount is numeric);
4. otherwise, for the three required roles, a column whose name merely contains a hint
   (``date``, ``time``, ``customer``, ``member``, ``sales``, ``金额`` ...) and whose values
   fit; for the timestamp also any column whose values all parse as dates; for the customer
   key, a column named only ``id`` whose values repeat, else the one phone or e-mail column
   (:data:`CONTACT_ALIASES`; its values are hashed wherever scores are written).

A line-level log without an amount column (``Quantity`` and ``Price``, ``数量`` and ``单价``)
gets its amount as quantity x unit price: when no column looks like an amount, one column
named as a unit price (:data:`PRICE_ALIASES`) is the amount role and one named as a quantity
(:data:`QUANTITY_ALIASES`), if there is one, its ``quantity`` multiplier (without one, each
row is one unit). The mapping says so in its notes.

An event log (Taobao's ``behavior_type`` of pv/cart/fav/buy, RetailRocket's ``event`` of
view/addtocart/transaction) is read as its purchases: a column named as an event type
(:data:`ALIASES` ``event``) whose sampled values include a purchase (:data:`PURCHASE_EVENTS`)
is the ``event`` role, and the loader keeps only the rows whose event is a purchase. A log
whose purchase event has another name or a code (Tianchi's ``behavior_type`` 1-4, where 4 is
a purchase) names it after the column: ``--event-col behavior_type=4``
(:func:`event_column`); ``--event-col none`` reads every row as a purchase. A column named as
an event type whose values are integer codes, none of them a purchase, is refused rather
than read as purchases; one with other text values is left unused, with a note.

A log with no amount at all (visits, check-ins, a purchase log exported without values) is
still a history of purchases: the amount role is then :data:`ROW_COUNT`, every row counts 1,
and the "revenue" features count purchase rows. Scores do not need money; what reports money
(campaign ROI, the quarterly run's retention value) refuses such a log
(:func:`omnimmm.lifecycle.transactions.require_amount`).

Two columns at the same step for a required role is a refusal: the :class:`DataError` lists
the candidates and the flag that picks one. For an optional role (order, channel, store,
coupon) two candidates leave the role unused and say so. Nothing is guessed from values
alone except the timestamp, where the values are unambiguous.

:mod:`~omnimmm.lifecycle.timestamps` reads the timestamp: the ``strptime`` format of non-ISO
text (``20170101``, ``12/1/2010 8:26``, ``2024年6月18日``) so that the loader can parse it;
ISO text may end in a zone (``Z``, ``+08:00``, `` UTC``), which is dropped (the wall-clock
time is kept). A column may mix ISO with one other layout (an export whose date format
changed), never day-first with month-first; which of those two a column uses is settled by
the whole column when it is loaded, not by its first rows. Unix time in seconds or
milliseconds (Taobao's and RetailRocket's event logs) is read from a column whose name says
it is a timestamp, as UTC, and Excel serial days (a sheet's dates saved without their
format: 42763.79 is 2017-01-28 19:02) to the second.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pandas as pd

from omnimmm.data.cells import plain_amount
from omnimmm.errors import DataError, numbered
from omnimmm.lifecycle.names import (
    ALIASES,
    CONTACT_ALIASES,
    PRICE_ALIASES,
    PURCHASE_EVENTS,
    QUANTITY_ALIASES,
)
from omnimmm.lifecycle.timestamps import (
    SAMPLE,
    TS_LAYOUTS,
    epoch_unit,
    parse_times,
    parses_as,
    ts_format,
    ts_layouts,
)

ROLES: tuple[str, ...] = (
    "customer_id",
    "ts",
    "amount",
    "order_id",
    "channel",
    "store_id",
    "coupon_used",
    "event",
)
REQUIRED_ROLES: tuple[str, ...] = ("customer_id", "ts", "amount")
#: The multiplier of a unit-price amount column (never inferred when the file has an amount).
QUANTITY = "quantity"
#: The amount "column" of a log that has none: every purchase row counts 1.
ROW_COUNT = "(1 per row)"
#: ``--event-col`` value that reads every row as a purchase (no event column).
NO_EVENT = "none"


def event_column(spec: str, names: Sequence[str] = ()) -> tuple[str, tuple[str, ...]]:
    """The column of an event-column spec and the values (lower case) that mark a purchase.

    ``behavior_type`` -> ``("behavior_type", PURCHASE_EVENTS)``; ``behavior_type=4`` ->
    ``("behavior_type", ("4",))``; ``event=Paid, Shipped`` -> ``("event", ("paid",
    "shipped"))``. A spec that is itself one of ``names`` (a column whose name holds ``=``)
    is that column.
    """
    if spec in names or "=" not in spec:
        return spec, PURCHASE_EVENTS
    column, _, values = spec.partition("=")
    listed = tuple(v.strip().lower() for v in values.split(",") if v.strip())
    if not column.strip() or not listed:
        raise DataError(
            f"event column '{spec}': expected COLUMN or COLUMN=VALUE[,VALUE...] (the values "
            "that mark a purchase, e.g. behavior_type=4)"
        )
    return column.strip(), listed


#: Optional roles of a points programme, inferred only by readers that ask for them
#: (``infer_roles(..., roles=ROLES + POINTS_ROLES)``, see :mod:`omnimmm.lifecycle.points`).
POINTS_ROLES: tuple[str, ...] = ("points_earned", "points_redeemed")
ROLE_LABEL = {
    "customer_id": "customer key",
    "ts": "timestamp",
    "amount": "amount",
    "order_id": "order id",
    "channel": "channel",
    "store_id": "store",
    "coupon_used": "coupon flag",
    "event": "event type",
    "points_earned": "points earned",
    "points_redeemed": "points redeemed",
    "quantity": "quantity",
}
_HINTS: dict[str, re.Pattern[str]] = {
    "customer_id": re.compile(
        r"customer|cust|member|household|client|user|buyer|shopper|visitor|会员|客户|用户|顾客"
    ),
    # _dt: Ta Feng's TRANSACTION_DT, a warehouse export's partition day dt (a hint only: a
    # column named as a timestamp outright, pay_time, wins over it)
    "ts": re.compile(r"date|time|_ts$|^ts_|_dt$|^dt$|日期|时间"),
    "amount": re.compile(r"amount|sales|revenue|value|spend|gmv|金额|销售额"),
}
#: A name ending like an identifier or a category is never an amount by a name hint alone
#: (``sales_channel_id``, ``SalesRepID``, ``revenue_type``).
_CODE_SUFFIX = re.compile(r"(?:(?:^|[\s_\-.])(?:id|code|no|key|type|channel|flag)|[a-z](?:ID|Id))$")


def _norm(name: str) -> str:
    return re.sub(r"[\s_\-./]+", "", str(name).strip().lower())


_ALIAS_NORM = {role: {_norm(a) for a in names} for role, names in ALIASES.items()}
_PRICE_NORM = {_norm(a) for a in PRICE_ALIASES}
_QUANTITY_NORM = {_norm(a) for a in QUANTITY_ALIASES}
_CONTACT_NORM = {_norm(a) for a in CONTACT_ALIASES}


def flag(role: str) -> str:
    """The CLI flag that names the column of ``role``."""
    return f"--{role.replace('_', '-')}-col"


def _text(values: pd.Series) -> list[str]:
    s = values.dropna().astype(str).str.strip()
    return [v for v in s.head(SAMPLE).tolist() if v]


def _fits(role: str, values: pd.Series, dtype: str) -> bool:
    """Whether a column's sampled values can fill ``role``."""
    vals = _text(values)
    if not vals:
        return False
    dtype = dtype.upper()
    if role == "ts":
        if dtype.startswith("TIMESTAMP") or dtype == "DATE":
            return True
        if epoch_unit(vals) is not None:
            return True
        if dtype.startswith(("DOUBLE", "FLOAT", "DECIMAL")):
            return False
        # a stray bad value (1%, or one in a small sample) does not unmake a named
        # timestamp: the loader reports its row
        share = min(0.99, 1.0 - 1.0 / len(vals)) if len(vals) >= 20 else 1.0
        return ts_layouts(vals, min_share=share) is not None
    if role in ("amount", QUANTITY):
        if dtype.startswith(("TIMESTAMP", "DATE", "BOOL")):
            return False
        # as the readers load it: "¥1,158.00" is 1158.00 (a sampled file keeps the sign)
        plain = pd.Series([plain_amount(v) for v in vals], dtype=object)
        num = pd.to_numeric(plain.str.replace(",", "", regex=False), errors="coerce")
        return bool(num.notna().mean() >= 0.99) and ts_format(vals) is None
    if role in ("customer_id", "order_id", "store_id"):
        if dtype.startswith(("TIMESTAMP", "DATE", "BOOL")):
            return False
        num = pd.to_numeric(pd.Series(vals), errors="coerce")
        fractional = bool(((num % 1).fillna(0) != 0).any())
        return not fractional and len(set(vals)) > 1
    if role == "channel":
        return {v.lower() for v in vals} <= {"online", "offline"}
    if role == "coupon_used":
        return {v.lower() for v in vals} <= {"true", "false", "0", "1", "t", "f", "yes", "no"}
    if role == "event":  # a few text values, among them a purchase
        seen = {v.lower() for v in vals}
        return len(seen) <= 50 and bool(seen & set(PURCHASE_EVENTS))
    if role in POINTS_ROLES:
        if dtype.startswith(("TIMESTAMP", "DATE", "BOOL")):
            return False
        num = pd.to_numeric(pd.Series(vals).str.replace(",", "", regex=False), errors="coerce")
        return bool(num.notna().all())  # a negative value is reported by the reader
    return False


@dataclass(frozen=True)
class RoleMapping:
    """The column of each role and how it was found.

    ``columns`` maps role -> column for the roles in use; ``how`` says ``"given"``,
    ``"unique key"``, ``"canonical name"``, ``"alias"``, ``"name hint"``, ``"plain id"`` or
    ``"contact key"`` (``"values"`` for a timestamp found by its values, ``"unit price"`` or
    ``"no amount column"`` for the amount) per role in use; ``notes`` lists optional roles left
    unused because two columns could fill them, and the choices made.
    """

    columns: dict[str, str]
    how: dict[str, str]
    notes: tuple[str, ...] = ()

    @property
    def inferred(self) -> tuple[str, ...]:
        """Roles whose column was not given by the user."""
        return tuple(r for r in self.columns if self.how[r] != "given")

    def describe(self) -> str:
        """One line per role, e.g. ``timestamp <- transaction_timestamp (alias)``."""
        lines = [
            f"{ROLE_LABEL[r]} <- {c} ({self.how[r]}; change with {flag(r)})"
            for r, c in self.columns.items()
        ]
        return "\n".join(lines + list(self.notes))

    def to_dict(self) -> dict:
        """JSON-ready ``{"columns", "how", "notes"}`` for metrics.json."""
        return {"columns": dict(self.columns), "how": dict(self.how), "notes": list(self.notes)}


def infer_roles(
    sample: pd.DataFrame,
    given: Mapping[str, str | None] | None = None,
    *,
    types: Mapping[str, str] | None = None,
    label: str = "the transactions",
    roles: Sequence[str] = ROLES,
) -> RoleMapping:
    """Map roles to columns of ``sample`` (the first rows of the file; see the module docs).

    Parameters
    ----------
    sample
        Header and first rows of the transactions (text or typed values).
    given
        Columns the user named, by role; ``None`` as a value switches an optional role off.
    types
        DuckDB type name of each column (``VARCHAR`` when read as text); from ``sample``'s
        dtypes when omitted.
    label
        How messages name the file.
    roles
        The roles to fill, in order (default :data:`ROLES`; add :data:`POINTS_ROLES` for a
        points ledger). The three required roles must be among them.

    Raises
    ------
    DataError
        A named column that does not exist, or a required role that no column or more than one
        column could fill (the message lists candidates and the flag to choose).
    """
    given = dict(given or {})
    if str(given.get("event") or "").strip().lower() == NO_EVENT:
        given["event"] = None  # every row is a purchase
    unknown = sorted(set(given) - set(roles) - ({QUANTITY} if "amount" in roles else set()))
    if unknown:
        raise DataError(f"column map: unknown role(s) {unknown}; accepted roles are {list(roles)}")
    names = [str(c) for c in sample.columns]
    types = dict(types or {c: _dtype_name(sample[c]) for c in names})
    columns: dict[str, str] = {}
    how: dict[str, str] = {}
    notes: list[str] = []
    for role, name in given.items():
        if name is None:
            continue
        if (event_column(name, names)[0] if role == "event" else name) not in names:
            raise DataError(
                f"{label} has no column '{name}' (the {ROLE_LABEL[role]} column, {flag(role)}). "
                f"Columns found: {names}.\n"
                + numbered(
                    [
                        f"pass {flag(role)} with one of those columns (or set it in the plan's "
                        "[lifecycle.columns])",
                        "check the file's header row and delimiter",
                    ]
                )
            )
        columns[role], how[role] = name, "given"
    for role in roles:
        if role in columns or (role in given and given[role] is None):
            continue
        free = [c for c in names if c not in columns.values()]
        unique = _unique_key(free, sample, types) if role == "customer_id" else []
        if len(unique) == 1:
            columns[role], how[role] = unique[0], "unique key"
            others = [c for c in free if c != unique[0] and _norm(c) in _ALIAS_NORM[role]]
            if others:
                notes.append(
                    f"customer key: '{unique[0]}' rather than {others}: its name says it is the "
                    f"person's key, and the other is often one per order (Olist's customer_id); "
                    f"choose with {flag(role)}"
                )
            continue
        # an event column must hold a purchase
        if role in free and (role != "event" or _fits(role, sample[role], types.get(role, ""))):
            columns[role], how[role] = role, "canonical name"
            continue
        if role == "amount":
            found, step, qty, note = _amount(free, sample, types, given, label)
            if qty is not None:
                columns[QUANTITY], how[QUANTITY] = qty, "alias"
            notes += [note] if note else []
        else:
            found, step = _candidates(role, free, sample, types)
            if len(found) > 1 and role in ("customer_id", "ts"):
                found, note = _narrow(role, found, sample)
                notes += [note] if note else []
        if role == "amount" and not found:
            columns[role], how[role] = ROW_COUNT, "no amount column"
            notes.append(_counted(names, free, sample))
        elif len(found) == 1:
            columns[role], how[role] = found[0], step
        elif len(found) > 1 and role in REQUIRED_ROLES:
            raise _ambiguous(role, found, label)
        elif len(found) > 1:
            notes.append(
                f"{ROLE_LABEL[role]}: not used, {found} could each be it; choose with {flag(role)}"
            )
        elif role == "customer_id" and (plain := _plain_id(free, sample, types)):
            columns[role], how[role] = plain, "plain id"
            notes.append(
                f"customer key: '{plain}', a column named only 'id' whose values repeat (a "
                f"row's own id would not), as in lifetimes' example_transactions.csv; choose "
                f"with {flag(role)}"
            )
        elif role == "customer_id" and (contact := _contact_key(free, sample, types, label)):
            columns[role], how[role] = contact, "contact key"
            notes.append(
                f"customer key: '{contact}', a phone or e-mail column, since no column is named "
                f"as a customer id; its values are hashed in the scores (resolve identities first "
                f"to join a person's phones, e-mails and accounts); choose with {flag(role)}"
            )
        elif role in REQUIRED_ROLES:
            raise _missing(role, names, label, _unread_dates(free, sample) if role == "ts" else "")
        elif role == "event":
            notes += _unread_events(free, sample, label)
    for role in REQUIRED_ROLES:
        said = any(n.startswith(f"{ROLE_LABEL[role]}:") for n in notes)
        if how.get(role) in ("canonical name", "alias") and not said:
            notes += _passed_over(role, columns, names, sample, types)
    ordered = {r: columns[r] for r in (*roles, QUANTITY) if r in columns}
    return RoleMapping(ordered, {r: how[r] for r in ordered}, tuple(notes))


def _passed_over(
    role: str,
    columns: Mapping[str, str],
    names: list[str],
    sample: pd.DataFrame,
    types: Mapping[str, str],
) -> list[str]:
    """The note naming other columns that could fill a required role its canonical or a known
    name settled (``member_id`` beside ``customer_id``, ``ship_date`` beside ``order_date``),
    so that the printed mapping shows the choice and the flag that changes it."""
    used = set(columns.values())

    def rival(c: str) -> bool:
        low = str(c).strip().lower()
        if _norm(c) not in _ALIAS_NORM[role]:
            if not _HINTS[role].search(low):
                return False
            if role == "customer_id" and not _ID_SUFFIX.search(low):
                return False  # customer_segment: an attribute of the customer, not a key
            if role == "amount" and _CODE_SUFFIX.search(str(c).strip()):
                return False
        return _fits(role, sample[c], types.get(c, "VARCHAR"))

    others = [c for c in names if c not in used and rival(c)]
    if not others:
        return []
    return [
        f"{ROLE_LABEL[role]}: '{columns[role]}' (its name) rather than {others}, which could "
        f"also be it; choose with {flag(role)}"
    ]


def _dtype_name(s: pd.Series) -> str:
    if pd.api.types.is_datetime64_any_dtype(s):
        return "TIMESTAMP"
    if pd.api.types.is_bool_dtype(s):
        return "BOOLEAN"
    if pd.api.types.is_float_dtype(s):
        return "DOUBLE"
    if pd.api.types.is_integer_dtype(s):
        return "BIGINT"
    return "VARCHAR"


def _candidates(
    role: str, free: list[str], sample: pd.DataFrame, types: Mapping[str, str]
) -> tuple[list[str], str]:
    """Columns that could fill ``role`` at the first step that finds any, and that step."""
    alias = [c for c in free if _norm(c) in _ALIAS_NORM[role]]
    fit = [c for c in alias if _fits(role, sample[c], types.get(c, "VARCHAR"))]
    if fit or role not in _HINTS:
        return fit, "alias"
    hinted = [c for c in free if _HINTS[role].search(str(c).lower())]
    if role == "amount":
        hinted = [c for c in hinted if not _CODE_SUFFIX.search(str(c).strip())]
    fit = [c for c in hinted if _fits(role, sample[c], types.get(c, "VARCHAR"))]
    if fit or role != "ts":
        return fit, "name hint"
    by_value = [c for c in free if _fits("ts", sample[c], types.get(c, "VARCHAR"))]
    return [
        c
        for c in by_value
        if not str(types.get(c, "")).upper().startswith(("BIGINT", "INT"))
        and epoch_unit(_text(sample[c])) is None  # numbers are a timestamp by name only
        and ts_format(_text(sample[c])) is not None  # by values alone: every value a date
    ], "values"


def _narrow(role: str, found: list[str], sample: pd.DataFrame) -> tuple[list[str], str | None]:
    """One of several candidates when the others are not rivals, with the note saying so.

    * customer key: the one column whose name ends like an identifier (``CUST_CODE``
      beside ``CUST_LIFESTAGE`` and ``CUST_PRICE_SENSITIVITY``, dunnhumby's attributes of
      the customer);
    * timestamp: the finest of columns that hold the same days (JD's ``order_date`` and
      ``order_time``: one moment, with and without its time of day).

    Otherwise ``found`` unchanged (the caller refuses and lists them)."""
    if role == "customer_id":
        if _one_to_one(sample, found):  # one customer numbered twice: either groups the same
            return found[:1], (
                f"customer key: '{found[0]}' rather than {found[1:]}: they number the same "
                f"customers one to one (BTYD's cdnowElog: masterCustId, sampleCustId); choose "
                f"with {flag(role)}"
            )
        ids = [c for c in found if _ID_SUFFIX.search(c.strip().lower())]
        if len(ids) != 1:
            return found, None
        others = [c for c in found if c != ids[0]]
        return ids, (
            f"customer key: '{ids[0]}' rather than {others}: its name ends like an identifier, "
            f"theirs like attributes of the customer; choose with {flag(role)}"
        )
    parsed = {c: _sample_times(sample[c]) for c in found}
    if any(p is None for p in parsed.values()):
        return found, None
    days = [p.dt.normalize() for p in parsed.values() if p is not None]
    same = all(bool((d == days[0]).mean() >= 0.99) for d in days[1:])
    if not same:
        return found, None
    fine = {c: int((p.dt.normalize() != p).sum()) for c, p in parsed.items() if p is not None}
    best = max(found, key=lambda c: fine[c])
    if sum(v == fine[best] for v in fine.values()) > 1:
        return found, None
    others = [c for c in found if c != best]
    return [best], (
        f"timestamp: '{best}' rather than {others}: they hold the same days, and '{best}' also "
        f"the time of day; choose with {flag(role)}"
    )


def _one_to_one(sample: pd.DataFrame, found: list[str]) -> bool:
    """Whether the columns' sampled values pair one to one (each value of one with a single
    value of every other, and back), with repeats: the same customers under two numberings."""
    pairs = sample[found].dropna().astype(str)
    if len(pairs) < 20 or pairs[found[0]].nunique() > 0.8 * len(pairs):
        return False
    n = pairs[found[0]].nunique()
    return all(
        pairs[c].nunique() == n and len(pairs[[found[0], c]].drop_duplicates()) == n
        for c in found[1:]
    )


#: How a customer key's name ends (``CUST_CODE``, ``member_no``, ``UserKey``), against an
#: attribute of the customer (``CUST_LIFESTAGE``, ``customer_segment``).
_ID_SUFFIX = re.compile(r"(?:^|[\s_\-.])(?:id|code|key|no|nr|number|num|sk)$|(?<=[a-z])id$")


def _sample_times(values: pd.Series) -> pd.Series | None:
    """A sampled timestamp column as datetimes (None when a value does not parse)."""
    out = parse_times(values)
    return None if out.isna().any() else out.reset_index(drop=True)


def _plain_id(free: list[str], sample: pd.DataFrame, types: Mapping[str, str]) -> str | None:
    """The one column named just ``id`` when nothing else can be the customer key and its
    sampled values repeat: a purchase log's only id that several rows share is the customer's
    (a row's or an order's own id would be unique, or shared by a few lines only)."""
    ids = [c for c in free if c.strip().lower() == "id"]
    if len(ids) != 1 or not _fits("customer_id", sample[ids[0]], types.get(ids[0], "VARCHAR")):
        return None
    vals = _text(sample[ids[0]])
    return ids[0] if len(vals) >= 20 and len(set(vals)) <= 0.8 * len(vals) else None


def _contact_key(
    free: list[str], sample: pd.DataFrame, types: Mapping[str, str], label: str
) -> str | None:
    """The one column named as a phone or an e-mail (:data:`CONTACT_ALIASES`) whose values fit
    a key, when no column is named as a customer id; two (a phone and an e-mail) are refused."""
    found = [
        c
        for c in free
        if _norm(c) in _CONTACT_NORM and _fits("customer_id", sample[c], types.get(c, "VARCHAR"))
    ]
    if len(found) > 1:
        raise _ambiguous("customer_id", found, label)
    return found[0] if found else None


def _unique_key(free: list[str], sample: pd.DataFrame, types: Mapping[str, str]) -> list[str]:
    """Columns named as a customer's unique key (``customer_unique_id``, ``unique_user_id``)
    whose values fit a key: such a name says the plain ``customer_id`` beside it is not."""
    return [
        c
        for c in free
        if "unique" in c.lower()
        and _HINTS["customer_id"].search(c.lower())
        and _fits("customer_id", sample[c], types.get(c, "VARCHAR"))
    ]


def _amount(
    free: list[str],
    sample: pd.DataFrame,
    types: Mapping[str, str],
    given: Mapping[str, str | None],
    label: str,
) -> tuple[list[str], str, str | None, str | None]:
    """Candidates for the amount and their step; without an amount column, a unit price
    with the quantity column that multiplies it (if one) and the note saying so."""

    def fit(c: str) -> bool:
        return _fits("amount", sample[c], types.get(c, "VARCHAR"))

    price = [c for c in free if _norm(c) in _PRICE_NORM and fit(c)]
    if given.get(QUANTITY) and price:  # a named quantity makes the amount a unit price
        return price, "unit price", None, None
    # an amount's own name first, then a unit price's, then a name that merely hints
    alias = [c for c in free if _norm(c) in _ALIAS_NORM["amount"] and fit(c)]
    if alias or not price:
        found, step = (alias, "alias") if alias else _candidates("amount", free, sample, types)
        return found, step, None, None
    if QUANTITY in given or len(price) > 1:
        return price, "unit price", None, None
    qty = [c for c in free if c != price[0] and _norm(c) in _QUANTITY_NORM
           and _fits(QUANTITY, sample[c], types.get(c, "VARCHAR"))]  # fmt: skip
    if len(qty) > 1:
        raise _ambiguous(QUANTITY, qty, label)
    if qty:
        note = (f"amount: no amount column, so each row's amount is '{qty[0]}' x "
                f"'{price[0]}' (quantity x unit price); name one with {flag('amount')}")  # fmt: skip
        return price, "unit price", qty[0], note
    note = (f"amount: no amount or quantity column, so each row's amount is its unit price "
            f"'{price[0]}' (one unit a row); name one with {flag('amount')}")  # fmt: skip
    return price, "unit price", None, note


def _counted(names: list[str], free: list[str], sample: pd.DataFrame) -> str:
    """The note of a log without an amount: what counting rows means and how to change it,
    and which columns named as an amount hold no numbers (``1158.00元``)."""
    unread = [
        f"'{c}' (e.g. {list(dict.fromkeys(_text(sample[c])))[:3]})"
        for c in free
        if _norm(c) in _ALIAS_NORM["amount"] | _PRICE_NORM and _text(sample[c])
    ]
    why = (
        f"{', '.join(unread)} named as an amount but its values are not numbers (a currency "
        f"sign ¥ $ € £ before them and thousands separators are read; other text is not)"
        if unread
        else f"no column looks like an amount (amount, sales, revenue, order_value, 实付金额, "
        f"or a unit price) among {names}"
    )
    return (
        f"amount: {why}, so every purchase row counts 1: the revenue features "
        f"count purchase rows and expected_revenue is in rows, not money; propensities need no "
        f"money. Name the amount with {flag('amount')} COLUMN"
    )


def _unread_events(free: list[str], sample: pd.DataFrame, label: str) -> list[str]:
    """Columns named as an event type that hold no purchase value: integer codes (Tianchi's
    1-4) are refused, since reading every view as a purchase would score nonsense; other
    values (a promotion's name) leave the column unused, with a note."""
    out = []
    for c in (c for c in free if _norm(c) in _ALIAS_NORM["event"]):
        seen = sorted({v.lower() for v in _text(sample[c])})
        if not seen or len(seen) > 50:
            continue
        # three or more small integers (Tianchi's 1-4, Tmall's 0-3): not a 0/1 flag ("an
        # event day"), nor a festival's number (618, 1111)
        codes = len(seen) >= 3 and all(v.isdigit() and int(v) <= 20 for v in seen)
        hint = f"{flag('event')} '{c}=VALUE'"
        if codes:
            raise DataError(
                f"{label}: column '{c}' looks like an event type coded as numbers {seen[:20]}, "
                f"and omnimmm cannot tell which code is a purchase.\n"
                + numbered(
                    [
                        f"name the purchase code: {hint} (Tianchi's behavior_type: "
                        f"{flag('event')} '{c}=4')",
                        f"or read every row as a purchase: {flag('event')} {NO_EVENT}",
                    ]
                )
            )
        out.append(
            f"event type: '{c}' is named as one, but none of its values {seen[:10]} is a purchase "
            f"({', '.join(PURCHASE_EVENTS[:6])}, ...), so every row is read as a purchase; if "
            f"it is an event log, name the purchase value: {hint}"
        )
    return out


def _ambiguous(role: str, found: list[str], label: str) -> DataError:
    return DataError(
        f"{label}: {len(found)} columns could be the {ROLE_LABEL[role]}: {found}. omnimmm does "
        f"not guess between them; say which one with {flag(role)} COLUMN (or "
        f'{role} = "COLUMN" in the plan\'s [lifecycle.columns]), e.g. {flag(role)} {found[0]}'
    )


def _headless(names: list[str]) -> bool:
    """Whether every column name is a number or a date: a file without a header row."""

    def data(name: str) -> bool:
        text = name.strip()
        return not pd.isna(pd.to_numeric(text, errors="coerce")) or ts_format([text]) is not None

    return len(names) > 1 and all(data(n) for n in names)


def _unread_dates(free: list[str], sample: pd.DataFrame) -> str:
    """What the columns named as a timestamp hold when none of them parses: the refusal
    then says why the obvious column was not taken (a mix of layouts, Excel text ...)."""
    named = [c for c in free if _norm(c) in _ALIAS_NORM["ts"] or _HINTS["ts"].search(c.lower())]
    said = []
    for c in named[:3]:
        vals = _text(sample[c])
        if not vals:
            continue
        shown = list(dict.fromkeys(vals))
        first = ts_format(shown)
        odd = [v for v in shown if first is None or not parses_as(v, first)]
        said.append(f"'{c}' holds e.g. {(odd or shown)[:4]}")
    if not said:
        return ""
    return (
        f" Named as a timestamp: {'; '.join(said)}, which are not in one layout ({TS_LAYOUTS}; "
        "ISO may mix with one other layout, never day-first with month-first)."
    )


def _missing(role: str, names: list[str], label: str, detail: str = "") -> DataError:
    what = {
        "customer_id": "a customer key (customer_id, member_id, household_id, user_id, 会员ID ...)",
        "ts": "a timestamp (ts, timestamp, date, order_date, created_at, 下单时间 ...) whose "
        "values parse as dates",
    }[role]
    tip = "rename the column, or check the header row and delimiter"
    if _headless(names):
        tip = (
            f"the first row ({', '.join(names[:5])}) looks like data, not a header: add a "
            "header row naming the columns (e.g. customer_id,ts,amount)"
        )
    return DataError(
        f"{label}: no column looks like {what}. Columns found: {names}.{detail}\n"
        + numbered(
            [
                f"name it: {flag(role)} COLUMN ({flag(role)} or the plan's "
                f'[lifecycle.columns] {role} = "COLUMN")',
                tip,
            ]
        )
    )
