"""Normalised phones and emails: the one definition identity resolution and hashing share.

A phone becomes its digits (a Chinese mobile its 11 digits without ``+86``/``0086``/``86``),
an email lower case without whitespace (optionally with a one-edit typo of a well-known domain
corrected). Full-width characters are folded to ASCII first. Both
:mod:`omnimmm.lifecycle.identity` (to link records) and :mod:`omnimmm.lifecycle.privacy` (to
hash values written alike to the same hash) use these; this module imports neither.
"""

from __future__ import annotations

import re
import unicodedata

__all__ = ["KNOWN_EMAIL_DOMAINS", "is_missing", "normalize_email", "normalize_phone"]


def is_missing(value: object) -> bool:
    """None, NaN (any float type), pandas NA or NaT; strings are never missing here."""
    if value is None:
        return True
    if isinstance(value, str):
        return False
    if type(value).__name__ in ("NAType", "NaTType"):
        return True
    try:
        return bool(value != value)  # NaN is the only value unequal to itself
    except (TypeError, ValueError):
        return False


#: Domains that ``fuzzy_email`` corrects one-edit typos towards.
KNOWN_EMAIL_DOMAINS: tuple[str, ...] = (
    "qq.com", "163.com", "126.com", "yeah.net", "139.com", "sina.com", "sina.cn", "sohu.com",
    "foxmail.com", "aliyun.com", "gmail.com", "hotmail.com", "outlook.com", "live.com",
    "icloud.com", "me.com", "yahoo.com",
)  # fmt: skip
_NON_DIGIT = re.compile(r"\D")
_SPACE = re.compile(r"\s+")


def normalize_phone(value: object) -> str | None:
    """Normalise a phone number to digits; Chinese mobiles to their 11 digits.

    Full-width digits are folded, everything but digits dropped (spaces, dashes,
    parentheses, ``+``). A 13-digit ``86...`` or 15-digit ``0086...`` number whose rest is
    a mobile (11 digits starting with 1) loses the country code. Anything else keeps its
    digits as they are (landlines, foreign numbers).

    Returns
    -------
    str or None
        None when there are no digits (or the value is missing).

    Examples
    --------
    >>> normalize_phone("+86 138-0013-8000"), normalize_phone("0086 13800138000")
    ('13800138000', '13800138000')
    """
    if is_missing(value):
        return None
    digits = _NON_DIGIT.sub("", unicodedata.normalize("NFKC", str(value)))
    if not digits:
        return None
    for prefix in ("0086", "86"):
        rest = digits[len(prefix) :]
        if digits.startswith(prefix) and len(rest) == 11 and rest[0] == "1":
            return rest
    return digits


def normalize_email(value: object, fix_typos: bool = False) -> str | None:
    """Normalise an email: fold full-width characters, lower-case, remove all whitespace.

    Parameters
    ----------
    value : object
    fix_typos : bool, default False
        Replace a domain that is one edit (insertion, deletion, substitution or
        transposition) away from exactly one of :data:`KNOWN_EMAIL_DOMAINS` by that domain
        (``gmial.com`` -> ``gmail.com``, ``qq.con`` -> ``qq.com``).

    Returns
    -------
    str or None
        None unless the result is ``local@domain`` with a dot in the domain.
    """
    if is_missing(value):
        return None
    text = _SPACE.sub("", unicodedata.normalize("NFKC", str(value)).lower())
    local, at, domain = text.partition("@")
    if not at or not local or "@" in domain or "." not in domain.strip("."):
        return None
    if fix_typos:
        domain = _closest_domain(domain)
    return f"{local}@{domain}"


def _closest_domain(domain: str) -> str:
    if domain in KNOWN_EMAIL_DOMAINS:
        return domain
    near = [d for d in KNOWN_EMAIL_DOMAINS if _one_edit(domain, d)]
    return near[0] if len(near) == 1 else domain


def _one_edit(a: str, b: str) -> bool:
    """True when ``a`` and ``b`` differ by one insertion, deletion, substitution or swap."""
    if abs(len(a) - len(b)) > 1 or a == b:
        return False
    if len(a) == len(b):
        diff = [i for i, (x, y) in enumerate(zip(a, b, strict=True)) if x != y]
        if len(diff) == 1:
            return True
        i, j = diff[0], diff[-1]
        return len(diff) == 2 and j == i + 1 and a[i] == b[j] and a[j] == b[i]
    short, long_ = (a, b) if len(a) < len(b) else (b, a)
    i = next((k for k in range(len(short)) if short[k] != long_[k]), len(short))
    return short[i:] == long_[i + 1 :]
