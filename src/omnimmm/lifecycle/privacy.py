"""Hashing and masking of phone numbers and emails.

Nothing omnimmm writes carries a raw phone number or email: identity resolution reports
links and ignored keys with salted hashes, and :func:`scrub_frame` replaces contact
columns of any frame by hashes before it leaves the process. Hashes are of the
*normalised* value (see :mod:`omnimmm.lifecycle.identity`), so ``+86 138-0013-8000`` and
``13800138000`` hash alike and hashed tables can still be joined.

Use a secret salt. Chinese mobile numbers are a space of about 10**9 values: an unsalted
(or publicly salted) hash of one can be reversed by hashing every number. The salt is
what keeps a hash from being a phone number in disguise.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable

import pandas as pd

from omnimmm.lifecycle.normalize import is_missing, normalize_email, normalize_phone

__all__ = [
    "CONTACT_COLUMNS",
    "find_raw_contacts",
    "hash_identifier",
    "mask_email",
    "mask_phone",
    "scrub_frame",
]

#: Columns that hold contact details and must never be written raw.
CONTACT_COLUMNS: tuple[str, ...] = ("phone", "email")
_MOBILE = re.compile(r"(?:0086|86)?1[3-9]\d{9}")
_EMAIL = re.compile(r"[^\s@]+@[^\s@]+\.[^\s@]+")


def hash_identifier(value: object, salt: str, length: int = 16) -> str | None:
    """Salted SHA-256 of ``value`` as lower-case hex, truncated to ``length`` characters.

    Parameters
    ----------
    value : object
        The identifier (converted with ``str``); None or NaN give None.
    salt : str
        Secret salt, prepended to the value with a separator.
    length : int, default 16
        Hex characters kept (64 bits by default: collisions are negligible below
        billions of values).

    Returns
    -------
    str or None
    """
    if is_missing(value):
        return None
    digest = hashlib.sha256(f"{salt}\x1f{value}".encode()).hexdigest()
    return digest[:length]


def mask_phone(value: str | None) -> str | None:
    """Keep the first three and the last four digits: ``"13800138000"`` -> ``"138****8000"``.

    Formatting characters are dropped first; numbers with fewer than eight digits are
    masked entirely (``"****"``).
    """
    if is_missing(value):
        return None
    digits = re.sub(r"\D", "", str(value))
    if not digits:
        return None
    if len(digits) < 8:
        return "****"
    return f"{digits[:3]}{'*' * (len(digits) - 7)}{digits[-4:]}"


def mask_email(value: str | None) -> str | None:
    """Keep the first character of the local part and the domain: ``"a***@x.com"``."""
    if is_missing(value):
        return None
    text = str(value).strip()
    local, at, domain = text.rpartition("@")
    if not at or not local:
        return "***"
    return f"{local[0]}***@{domain}"


def scrub_frame(
    df: pd.DataFrame,
    salt: str,
    columns: Iterable[str] = CONTACT_COLUMNS,
    normalize: bool = True,
) -> pd.DataFrame:
    """Replace contact columns by salted hashes; the raw columns are dropped.

    Parameters
    ----------
    df : pandas.DataFrame
    salt : str
        Secret salt (see the module docstring).
    columns : iterable of str, default ("phone", "email")
        Contact columns; those absent from ``df`` are skipped.
    normalize : bool, default True
        Hash the normalised value (phones and emails written differently hash alike).
        Values that do not normalise (empty, no digits) become missing.

    Returns
    -------
    pandas.DataFrame
        A copy with ``<column>_hash`` in place of each contact column.
    """
    normalizers = {"phone": normalize_phone, "email": normalize_email}
    out = df.copy()
    for col in columns:
        if col not in out.columns:
            continue
        raw = out[col]
        codes, uniques = pd.factorize(raw)
        norm = normalizers.get(col) if normalize else None
        hashed = [hash_identifier(norm(u) if norm else u, salt) for u in uniques]
        table = pd.array(list(hashed) + [None], dtype="str")
        out[col] = pd.Series(table.take(codes), index=out.index)
        out = out.rename(columns={col: f"{col}_hash"})
    return out


def find_raw_contacts(df: pd.DataFrame) -> dict[str, int]:
    """Count cells that are a Chinese mobile number (in any spelling) or hold an email.

    A guard for outputs: a scrubbed frame returns an empty dict. A cell counts as a phone
    when, without spaces, dashes, parentheses and ``+``, it is exactly a mobile number, so
    hex hashes and device ids that happen to hold eleven digits in a row do not count.
    Columns ending in ``_hash`` are skipped.
    """
    hits: dict[str, int] = {}
    for col in df.columns:
        if str(col).endswith("_hash"):
            continue
        values = df[col]
        if not (pd.api.types.is_string_dtype(values) or values.dtype == object):
            continue
        text = values.dropna().astype(str).str.normalize("NFKC")
        digits = text.str.replace(r"[\s\-()+]", "", regex=True)
        n = int((digits.str.fullmatch(_MOBILE) | text.str.contains(_EMAIL)).sum())
        if n:
            hits[str(col)] = n
    return hits
