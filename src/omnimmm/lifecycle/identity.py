"""One customer id across app accounts, store memberships, phones, emails and devices.

How rows become customers
-------------------------
1. Every identity key is normalised: phones to their digits (a Chinese mobile to its 11
   digits, without ``+86``/``0086``/``86``), emails to lower case without spaces (and, with
   ``fuzzy_email=True``, with a one-edit typo of a well-known domain corrected), ids
   stripped. Full-width characters are folded to ASCII first.
2. Each row belongs to a *record*: its account or membership id when it has one
   (``record_keys``), otherwise its first usable key (e.g. the phone typed at the till).
3. Placeholders (a phone or device id that is one digit repeated, ``13800000000``-style)
   and keys shared by more than ``max_records_per_key`` distinct records (a store's
   "no phone" number) are ignored and reported, so junk cannot merge strangers.
4. Records sharing any remaining normalised key are joined: connected components of the
   record-key graph (``scipy.sparse.csgraph``), so linking is transitive (union-find).
5. Customers are numbered ``C00000001``, ... in order of their first transaction (time,
   then row order): the same input always gives the same ids.

Rows with no usable key get a missing ``customer_id``.

Privacy: the result never holds a raw phone or email. ``links`` and ``ignored_keys``
show salted hashes of the normalised values (:func:`omnimmm.lifecycle.privacy.hash_identifier`).
"""

from __future__ import annotations

import re
import unicodedata
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from omnimmm.errors import DataError
from omnimmm.lifecycle.normalize import (
    KNOWN_EMAIL_DOMAINS,
    is_missing,
    normalize_email,
    normalize_phone,
)
from omnimmm.lifecycle.privacy import CONTACT_COLUMNS, hash_identifier

__all__ = [
    "DEFAULT_KEYS",
    "KNOWN_EMAIL_DOMAINS",
    "IdentityResult",
    "assign_customer_ids",
    "normalize_email",
    "normalize_phone",
    "pairwise_scores",
    "resolve_identities",
]

DEFAULT_KEYS: tuple[str, ...] = ("account_id", "member_id", "phone", "email", "device_id")
RECORD_KEYS: tuple[str, ...] = ("account_id", "member_id")
_PLACEHOLDER_DEVICE = re.compile(r"^[0\-]+$")


def _normalize_id(value: object) -> str | None:
    if is_missing(value):
        return None
    text = unicodedata.normalize("NFKC", str(value)).strip()
    return text or None


def _is_placeholder(key: str, value: str) -> bool:
    """Phones of one repeated digit after the first three, all-zero device ids."""
    if key == "phone":
        return len(set(value[3:])) <= 1
    if key == "device_id":
        return bool(_PLACEHOLDER_DEVICE.match(value))
    return False


@dataclass(frozen=True, eq=False)
class IdentityResult:
    """Customer ids per row, the identity links behind them and how sources matched.

    Attributes
    ----------
    customer_id : pandas.Series
        Per transaction row (same index), ``C`` plus 8 digits in order of first
        transaction; missing for rows with no usable key.
    links : pandas.DataFrame
        One row per customer and normalised key value: ``customer_id``, ``key``, ``value``
        (phones and emails as salted hashes), ``n_rows``.
    match_rates : pandas.DataFrame
        Per ordered pair of sources: ``source``, ``other_source``, ``n_records`` (records
        of ``source``), ``n_linked`` (those whose customer also has a record in
        ``other_source``; for a source with itself, another record), ``rate``.
    ignored_keys : pandas.DataFrame
        Key values left out of linking: ``key``, ``value`` (hashed for contacts),
        ``reason`` ("placeholder" or "shared"), ``n_records``, ``n_rows``.
    summary : dict
        ``n_rows``, ``n_records``, ``n_customers``, ``n_unresolved_rows``,
        ``n_ignored_keys``, ``keys``, ``fuzzy_email``, ``max_records_per_key``.
    """

    customer_id: pd.Series
    links: pd.DataFrame
    match_rates: pd.DataFrame
    ignored_keys: pd.DataFrame
    summary: dict[str, Any] = field(default_factory=dict)

    @property
    def n_customers(self) -> int:
        """Distinct customers."""
        return int(self.summary["n_customers"])


@dataclass(frozen=True)
class _Keys:
    """Normalised keys as integer node ids (-1 missing) and the node values."""

    names: list[str]
    codes: np.ndarray  # (n_keys, n_rows) int64
    values: np.ndarray  # node id -> normalised value
    key_of: np.ndarray  # node id -> index into names


def resolve_identities(
    transactions: pd.DataFrame,
    keys: Sequence[str] = DEFAULT_KEYS,
    fuzzy_email: bool = False,
    max_records_per_key: int = 10,
    record_keys: Sequence[str] = RECORD_KEYS,
    source: str = "source",
    time: str = "ts",
    salt: str = "omnimmm",
) -> IdentityResult:
    """Assign one ``customer_id`` to the rows of each person across sources.

    Parameters
    ----------
    transactions : pandas.DataFrame
        One row per order or receipt with one or more identity key columns.
    keys : sequence of str
        Identity key columns; those absent are skipped (at least one must be present).
        ``phone`` and ``email`` are normalised as such, the others as ids.
    fuzzy_email : bool, default False
        Correct one-edit typos of well-known email domains before matching.
    max_records_per_key : int, default 10
        A key value carried by more distinct records than this (a placeholder typed for
        everyone) is ignored, with a warning, and listed in ``ignored_keys``.
    record_keys : sequence of str
        Keys that name a record (account, membership); rows without one are their own
        record through their first usable key.
    source : str, default "source"
        Column naming where a row comes from (for ``match_rates``); optional.
    time : str, default "ts"
        Timestamp column ordering customer numbers; row order if absent.
    salt : str
        Salt of the hashes in ``links`` and ``ignored_keys``; pass a secret one.

    Returns
    -------
    IdentityResult
    """
    used = [k for k in keys if k in transactions.columns]
    if not used:
        raise DataError(
            f"transactions have none of the identity key columns {list(keys)}; "
            f"columns are {list(transactions.columns)}"
        )
    if max_records_per_key < 1:
        raise DataError(f"max_records_per_key must be >= 1, got {max_records_per_key}")
    n_rows = len(transactions)
    parsed = _encode(transactions, used, fuzzy_email)
    record_order = [k for k in record_keys if k in used] + [k for k in used if k not in record_keys]
    order = np.array([used.index(k) for k in record_order])
    codes = parsed.codes[order]
    names = [parsed.names[i] for i in order]

    placeholder = np.array(
        [_is_placeholder(parsed.names[k], v) for k, v in zip(parsed.key_of, parsed.values,
                                                            strict=True)], dtype=bool
    )  # fmt: skip
    usable = (codes >= 0) & ~placeholder[np.maximum(codes, 0)]
    first = _first_usable(codes, usable)
    degree = _record_degree(codes, usable, first, len(parsed.values))
    shared = degree > max_records_per_key
    ignored = placeholder | shared
    usable = (codes >= 0) & ~ignored[np.maximum(codes, 0)]
    record = _first_usable(codes, usable)
    resolved = record >= 0

    heads = np.concatenate([record[u] for u in usable])
    tails = np.concatenate([row[u] for row, u in zip(codes, usable, strict=True)])
    n_nodes = len(parsed.values)
    edges = np.unique(heads * n_nodes + tails)
    graph = coo_matrix(
        (np.ones(edges.size, np.int8), (edges // n_nodes, edges % n_nodes)),
        shape=(n_nodes, n_nodes),
    )
    _, component = connected_components(graph, directed=False)
    label = np.where(resolved, component[np.maximum(record, 0)], -1)
    number = _number_by_first_seen(transactions, time, label)
    n_customers = int(number.max()) + 1 if resolved.any() else 0
    width = max(8, len(str(n_customers)))
    serial = pd.Series(np.arange(1, n_customers + 1), dtype="int64").astype("str")
    names_c = ("C" + serial.str.zfill(width)).array
    customer = pd.Series(names_c.take(number, allow_fill=True), index=transactions.index,
                         name="customer_id", dtype="str")  # fmt: skip

    n_ignored = int(ignored[np.unique(parsed.codes[parsed.codes >= 0])].sum())
    if shared.any():
        warnings.warn(
            f"{int(shared.sum())} identity key value(s) are shared by more than "
            f"{max_records_per_key} records and were ignored for linking (placeholders?); "
            "see IdentityResult.ignored_keys",
            stacklevel=2,
        )
    links = _links(customer, codes, usable, names, parsed, salt)
    ignored_table = _ignored_table(parsed, codes, names, placeholder, shared, degree, salt)
    rates = _match_rates(transactions, source, record, label)
    summary = {
        "n_rows": n_rows,
        "n_records": int(np.unique(record[resolved]).size),
        "n_customers": n_customers,
        "n_unresolved_rows": int((~resolved).sum()),
        "n_ignored_keys": n_ignored,
        "keys": used,
        "fuzzy_email": fuzzy_email,
        "max_records_per_key": max_records_per_key,
    }
    return IdentityResult(customer, links, rates, ignored_table, summary)


def assign_customer_ids(
    rows: pd.DataFrame,
    identity: IdentityResult,
    keys: Sequence[str] = DEFAULT_KEYS,
    salt: str = "omnimmm",
) -> pd.Series:
    """The unified ``customer_id`` of other rows (campaign contacts, coupons) by their keys.

    Each row's keys are normalised as in :func:`resolve_identities` and looked up in
    ``identity.links``; the first key that matches decides, record keys (account, member id)
    first, then the other ``keys`` in order. Keys the resolution ignored (placeholders,
    shared values) never match.

    Parameters
    ----------
    rows : pandas.DataFrame
        Rows with one or more of the identity key columns (absent ones are skipped).
    identity : IdentityResult
        The resolution of the transactions.
    keys : sequence of str
        Key columns to try.
    salt : str
        The salt the resolution used (phones and emails are matched by their hashes).

    Returns
    -------
    pandas.Series
        Customer id per row (same index), missing where no key matches a known customer.
    """
    used = [k for k in keys if k in rows.columns]
    if not used:
        raise DataError(
            f"rows have none of the identity key columns {list(keys)}; "
            f"columns are {list(rows.columns)}"
        )
    fuzzy = bool(identity.summary.get("fuzzy_email", False))
    normalizers: dict[str, Callable[[object], str | None]] = {
        "phone": normalize_phone,
        "email": lambda v: normalize_email(v, fix_typos=fuzzy),
    }
    order = [k for k in RECORD_KEYS if k in used] + [k for k in used if k not in RECORD_KEYS]
    out = pd.Series(pd.NA, index=rows.index, dtype="str", name="customer_id")
    for key in order:
        known = identity.links.loc[identity.links["key"] == key].drop_duplicates("value")
        lookup = pd.Series(known["customer_id"].to_numpy(), index=known["value"].to_numpy())
        codes, uniques = pd.factorize(rows[key])
        norm = normalizers.get(key, _normalize_id)
        shown = np.asarray(_display(key, np.array([norm(v) for v in uniques], dtype=object),
                                    salt), dtype=object)  # fmt: skip
        found = lookup.reindex(shown).to_numpy(dtype=object) if len(shown) else shown
        if not len(found):
            continue
        per_row = np.where(codes >= 0, found[np.maximum(codes, 0)], np.array(None, dtype=object))
        fill = out.isna().to_numpy() & pd.notna(per_row)
        out[fill] = per_row[fill]
    return out


def _encode(df: pd.DataFrame, used: list[str], fuzzy_email: bool) -> _Keys:
    """Normalise each key (once per distinct raw value) into global integer node ids."""
    normalizers: dict[str, Callable[[object], str | None]] = {
        "phone": normalize_phone,
        "email": lambda v: normalize_email(v, fix_typos=fuzzy_email),
    }
    codes = np.full((len(used), len(df)), -1, np.int64)
    values: list[np.ndarray] = []
    key_of: list[np.ndarray] = []
    offset = 0
    for i, key in enumerate(used):
        raw_codes, raw_uniques = pd.factorize(df[key])
        norm = normalizers.get(key, _normalize_id)
        normalized = pd.Series([norm(v) for v in raw_uniques], dtype=object)
        node_codes, node_values = pd.factorize(normalized)  # None -> -1
        mapped = np.where(node_codes >= 0, node_codes + offset, -1)
        codes[i] = np.where(raw_codes >= 0, mapped[np.maximum(raw_codes, 0)], -1)
        values.append(np.asarray(node_values, dtype=object))
        key_of.append(np.full(len(node_values), i))
        offset += len(node_values)
    return _Keys(used, codes, np.concatenate(values), np.concatenate(key_of))


def _first_usable(codes: np.ndarray, usable: np.ndarray) -> np.ndarray:
    """Per row, the node of its first usable key in ``codes`` order (-1 if none)."""
    has = usable.any(axis=0)
    first = np.argmax(usable, axis=0)
    return np.where(has, codes[first, np.arange(codes.shape[1])], -1)


def _record_degree(
    codes: np.ndarray, usable: np.ndarray, record: np.ndarray, n_nodes: int
) -> np.ndarray:
    """Number of distinct records (other than itself) carrying each key node."""
    pairs = []
    for row, u in zip(codes, usable, strict=True):
        ok = u & (row != record)
        pairs.append(record[ok] * n_nodes + row[ok])
    distinct = np.unique(np.concatenate(pairs))
    return np.bincount(distinct % n_nodes, minlength=n_nodes)


def _number_by_first_seen(df: pd.DataFrame, time: str, label: np.ndarray) -> np.ndarray:
    """Customer number (0-based) per row by first transaction; -1 where unlabelled."""
    if time in df.columns:
        rank = np.empty(len(df), np.int64)
        rank[np.argsort(pd.to_datetime(df[time]).to_numpy(), kind="stable")] = np.arange(len(df))
    else:
        rank = np.arange(len(df))
    ok = label >= 0
    if not ok.any():
        return np.full(len(df), -1, np.int64)
    comps, inverse = np.unique(label[ok], return_inverse=True)
    first = np.full(comps.size, len(df), np.int64)
    np.minimum.at(first, inverse, rank[ok])
    number_of_comp = np.empty(comps.size, np.int64)
    number_of_comp[np.argsort(first)] = np.arange(comps.size)
    out = np.full(len(df), -1, np.int64)
    out[ok] = number_of_comp[inverse]
    return out


def _display(key: str, values: np.ndarray, salt: str) -> list[str | None]:
    if key in CONTACT_COLUMNS:
        return [hash_identifier(v, salt) for v in values]
    return list(values)


def _links(
    customer: pd.Series,
    codes: np.ndarray,
    usable: np.ndarray,
    names: list[str],
    parsed: _Keys,
    salt: str,
) -> pd.DataFrame:
    cust_codes, cust_uniques = pd.factorize(customer)
    parts = []
    for key, row, u in zip(names, codes, usable, strict=True):
        ok = u & (cust_codes >= 0)
        pair = pd.DataFrame({"c": cust_codes[ok], "node": row[ok]})
        counts = pair.groupby(["c", "node"], sort=True).size().reset_index(name="n_rows")
        parts.append(pd.DataFrame({
            "customer_id": pd.Series(np.asarray(cust_uniques, dtype=object)[counts["c"]],
                                     dtype="str"),
            "key": key,
            "value": pd.Series(_display(key, parsed.values[counts["node"]], salt), dtype="str"),
            "n_rows": counts["n_rows"].to_numpy(),
        }))  # fmt: skip
    links = pd.concat(parts, ignore_index=True)
    return links.sort_values(["customer_id", "key", "value"], ignore_index=True)


def _ignored_table(
    parsed: _Keys,
    codes: np.ndarray,
    names: list[str],
    placeholder: np.ndarray,
    shared: np.ndarray,
    degree: np.ndarray,
    salt: str,
) -> pd.DataFrame:
    nodes = np.flatnonzero(placeholder | shared)
    rows = np.bincount(codes[codes >= 0], minlength=len(parsed.values))
    key = np.asarray(parsed.names, dtype=object)[parsed.key_of[nodes]]
    values = [
        _display(k, np.array([v], dtype=object), salt)[0]
        for k, v in zip(key, parsed.values[nodes], strict=True)
    ]
    table = pd.DataFrame({
        "key": pd.Series(key, dtype="str"),
        "value": pd.Series(values, dtype="str"),
        "reason": pd.Series(np.where(placeholder[nodes], "placeholder", "shared"), dtype="str"),
        "n_records": degree[nodes],
        "n_rows": rows[nodes],
    })  # fmt: skip
    return table.sort_values(["n_rows", "key"], ascending=[False, True], ignore_index=True)


def _match_rates(
    df: pd.DataFrame, source: str, record: np.ndarray, label: np.ndarray
) -> pd.DataFrame:
    src = df[source].astype("str").to_numpy() if source in df.columns else np.full(len(df), "all")
    ok = record >= 0
    records = pd.DataFrame({"source": src[ok], "record": record[ok], "customer": label[ok]})
    records = records.drop_duplicates(["source", "record"])
    per = records.groupby(["customer", "source"]).size().unstack(fill_value=0)
    sources = sorted(records["source"].unique())
    rows = []
    for a in sources:
        mine = records[records["source"] == a]
        for b in sources:
            counts = per.loc[mine["customer"], b].to_numpy()
            linked = counts >= (2 if a == b else 1)
            n = len(mine)
            rows.append({"source": a, "other_source": b, "n_records": n,
                         "n_linked": int(linked.sum()),
                         "rate": float(linked.mean()) if n else np.nan})  # fmt: skip
    return pd.DataFrame(rows)


def pairwise_scores(predicted: Sequence[Any] | pd.Series, truth: Sequence[Any] | pd.Series) -> dict:
    """Pairwise precision and recall of a clustering against the true clusters.

    A pair of items is predicted linked when both have the same predicted label and
    truly linked when both have the same true label. Missing predicted labels are
    singletons. Counted from the contingency table, so it scales to millions of items.

    Returns
    -------
    dict
        ``precision``, ``recall``, ``f1``, ``true_pairs``, ``predicted_pairs``,
        ``correct_pairs``.
    """
    pred = pd.Series(np.asarray(predicted, dtype=object))
    true = pd.Series(np.asarray(truth, dtype=object))
    if len(pred) != len(true):
        raise DataError(f"predicted has {len(pred)} items, truth {len(true)}")
    p_codes = pd.factorize(pred)[0]
    missing = p_codes < 0
    p_codes[missing] = p_codes.max() + 1 + np.arange(int(missing.sum()))
    t_codes = pd.factorize(true)[0]

    def pairs(counts: np.ndarray) -> int:
        counts = counts.astype(np.int64)
        return int((counts * (counts - 1) // 2).sum())

    joint = pd.DataFrame({"p": p_codes, "t": t_codes}).value_counts().to_numpy()
    correct = pairs(joint)
    predicted_pairs = pairs(np.bincount(p_codes))
    true_pairs = pairs(np.bincount(t_codes))
    precision = correct / predicted_pairs if predicted_pairs else 1.0
    recall = correct / true_pairs if true_pairs else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {
        "precision": precision,
        "recall": recall,
        "f1": f1,
        "true_pairs": true_pairs,
        "predicted_pairs": predicted_pairs,
        "correct_pairs": correct,
    }
