"""Fragmented identities for the customer simulator: app accounts, store cards, messy contacts.

Each person may hold an app account (sometimes two), a store membership card (sometimes
two), or both; which ones show up depends on where they actually buy. The records carry
the person's phone and email as each system writes them:

* phones as ``13800138000``, ``138 0013 8000``, ``138-0013-8000``, ``+86 138 0013 8000``,
  ``+8613800138000``, ``8613800138000``, ``0086 13800138000``, ``(+86) 138-0013-8000`` or
  in full-width digits;
* emails in upper case, capitalised, padded with spaces, with a space or a full-width
  ``@``, and a few domain typos (``gmial.com``, ``qq.con``, ``163.cm``);
* a few clerk typos in a store phone (one digit), placeholder phones typed for people who
  would not give theirs (``13800000000``, ``13912345678``, ``00000000000``) and the all-zero
  advertising id of phones that limit tracking;
* people who "link nothing": their store card carries another phone number and no email.

Store receipts without a card carry only the phone typed at the till, formatted afresh
each time. Online orders carry the account's device id most of the time.

Alongside the strings the simulator keeps integer tokens of the true keys behind them
(account, card, phone number, email, device; placeholders dropped) so the truth can say
which rows are linkable at all.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

__all__ = ["IdentityDraws", "attach_identities", "draw_identities", "link_groups"]

JUNK_PHONES: tuple[int, ...] = (13800000000, 13912345678, 0)
JUNK_DEVICE = "00000000-0000-0000-0000-000000000000"
EMAIL_DOMAINS: dict[str, float] = {
    "qq.com": 0.35, "163.com": 0.2, "126.com": 0.08, "gmail.com": 0.1, "hotmail.com": 0.06,
    "outlook.com": 0.06, "sina.com": 0.05, "icloud.com": 0.05, "foxmail.com": 0.05,
}  # fmt: skip
DOMAIN_TYPOS: dict[str, str] = {
    "qq.com": "qq.con", "163.com": "163.cm", "126.com": "126.cmo", "gmail.com": "gmial.com",
    "hotmail.com": "hotmial.com", "outlook.com": "outlok.com", "sina.com": "sian.com",
    "icloud.com": "icloud.co", "foxmail.com": "foxmial.com",
}  # fmt: skip
_SYLLABLES = np.array(["wang", "li", "zhang", "liu", "chen", "yang", "huang", "zhao", "wu",
                       "zhou", "xu", "sun", "ma", "zhu", "hu", "guo", "he", "lin", "gao", "luo",
                       "xiao", "mei", "jing", "hui", "ming", "lei", "fang", "yu", "ting", "hao"])  # fmt: skip
#: Probability of each phone format (see _format_phones) in the app and at the till.
_APP_PHONE = np.array([0.55, 0.1, 0.0, 0.1, 0.05, 0.12, 0.0, 0.0, 0.0, 0.08])
_STORE_PHONE = np.array([0.3, 0.2, 0.2, 0.0, 0.03, 0.0, 0.12, 0.08, 0.07, 0.0])
#: Probability of each email format (see _format_emails) in the app and at the till.
_APP_EMAIL = np.array([0.9, 0.0, 0.1, 0.0, 0.0, 0.0])
_STORE_EMAIL = np.array([0.45, 0.25, 0.1, 0.1, 0.05, 0.05])
_FULLWIDTH = str.maketrans("0123456789", "０１２３４５６７８９")
_PERMUTE = 387_420_489  # 3**18, coprime with powers of ten


@dataclass(frozen=True)
class IdentityDraws:
    """Shares that shape identity fragmentation (per person, record or row as named).

    The defaults are a world where *some* people link nothing: 3% keep another phone at the
    till (``unlinked_share``), 2% of store cards carry no phone, 1% a placeholder and 1% a
    clerk's one-digit typo. About 4% of the same-person transaction pairs then share no key
    at all (``CustomerTruth.transactions_link_group`` marks what the keys can reach), so a
    key-based resolver can reach pairwise recall of about 0.96. Raise these shares for a
    harsher world: at ``unlinked_share=0.12``, 5% of cards without a phone, 3% placeholders
    and 2% typos the keys reach only about 0.92 of the pairs.
    """

    second_account_share: float = 0.05
    second_card_share: float = 0.03
    email_share: float = 0.65
    app_phone_share: float = 0.92
    app_email_share: float = 0.5
    store_phone_share: float = 0.98
    store_email_share: float = 0.4
    unlinked_share: float = 0.03
    phone_only_receipt_share: float = 0.15
    device_missing_share: float = 0.15
    second_account_same_device: float = 0.6
    junk_phone_share: float = 0.01
    junk_device_share: float = 0.03
    phone_typo_share: float = 0.01
    email_typo_share: float = 0.04


@dataclass(frozen=True, eq=False)
class Identities:
    """Every person's accounts, cards and devices, as strings and as true-key tokens."""

    n_accounts: np.ndarray
    n_cards: np.ndarray
    has_email: np.ndarray
    unlinked: np.ndarray
    account_person: np.ndarray
    account_id: pd.Series
    account_phone: pd.Series
    account_email: pd.Series
    account_phone_token: np.ndarray
    account_email_token: np.ndarray
    account_device: np.ndarray
    account_junk_device: np.ndarray
    device_id: pd.Series
    card_person: np.ndarray
    card_id: pd.Series
    card_phone: pd.Series
    card_email: pd.Series
    card_phone_token: np.ndarray
    card_email_token: np.ndarray
    store_number: np.ndarray

    def person_of(self, person_ids: np.ndarray) -> dict[str, str]:
        """Map every account id, card id and real device id to its person id."""
        out = dict(zip(self.account_id, person_ids[self.account_person], strict=True))
        out.update(zip(self.card_id, person_ids[self.card_person], strict=True))
        real = ~self.account_junk_device
        devices = self.device_id.to_numpy()[self.account_device[real]]
        out.update(zip(devices, person_ids[self.account_person[real]], strict=True))
        return out

    def reach(self, person: np.ndarray, via_app: np.ndarray) -> dict[str, pd.Series]:
        """Identity keys used to reach each person: primary account or primary card."""
        acc = np.where(via_app, person, -1)
        card = np.where(via_app, -1, person)
        phone = pd.concat([self.account_phone, self.card_phone], ignore_index=True)
        pick = np.where(via_app, person, person + len(self.account_phone))
        return {
            "account_id": _take(self.account_id, acc),
            "member_id": _take(self.card_id, card),
            "phone": _take(phone, pick),
        }


def draw_identities(
    n: int, online_share: np.ndarray, q: IdentityDraws, rng: np.random.Generator
) -> Identities:
    """Draw each person's contacts, accounts, cards and devices.

    Account ``i`` and card ``i`` (for ``i < n``) are person ``i``'s primary ones; second
    accounts and cards follow.
    """
    true_phone = _phone_numbers(n, 0, rng)
    other_phone = _phone_numbers(n, n, rng)
    has_email = rng.random(n) < q.email_share
    local, domain = _email_parts(n, rng)
    unlinked = rng.random(n) < q.unlinked_share
    second_acc = np.flatnonzero(rng.random(n) < q.second_account_share)
    second_card = np.flatnonzero(rng.random(n) < q.second_card_share)
    acc_person = np.r_[np.arange(n), second_acc]
    card_person = np.r_[np.arange(n), second_card]
    n_acc, n_card = acc_person.size, card_person.size

    # app accounts
    acc_phone_num = np.where(rng.random(n_acc) < q.app_phone_share, true_phone[acc_person], -1)
    acc_mail = has_email[acc_person] & (rng.random(n_acc) < q.app_email_share)
    acc_typo = acc_mail & (rng.random(n_acc) < q.email_typo_share / 4)
    device = np.arange(n_acc)
    same = rng.random(second_acc.size) < q.second_account_same_device
    device[n:][same] = second_acc[same]
    junk_device = rng.random(n_acc) < q.junk_device_share
    device_id = _device_ids(n_acc, rng)

    # store cards: another phone for the unlinked, placeholders, clerk typos
    store_num = np.where(unlinked, other_phone, true_phone)
    card_num = np.where(rng.random(n_card) < q.store_phone_share, store_num[card_person], -1)
    junk = (card_num >= 0) & (rng.random(n_card) < q.junk_phone_share)
    card_num = np.where(junk, np.asarray(JUNK_PHONES)[rng.integers(0, 3, n_card)], card_num)
    typo = (card_num >= 0) & ~junk & (rng.random(n_card) < q.phone_typo_share)
    card_num = np.where(typo, _one_digit_typo(card_num, rng), card_num)
    card_mail = (has_email[card_person] & ~unlinked[card_person]
                 & (rng.random(n_card) < q.store_email_share))  # fmt: skip
    card_typo = card_mail & (rng.random(n_card) < q.email_typo_share)

    person_store_num = np.full(n, -1, np.int64)
    primary_ok = (card_num[:n] >= 0) & ~junk[:n] & ~typo[:n]
    person_store_num[primary_ok] = store_num[primary_ok]
    return Identities(
        n_accounts=np.bincount(acc_person, minlength=n),
        n_cards=np.bincount(card_person, minlength=n),
        has_email=has_email,
        unlinked=unlinked,
        account_person=acc_person,
        account_id=_ids("A", n_acc, rng),
        account_phone=_format_phones(acc_phone_num, _choose(_APP_PHONE, n_acc, rng)),
        account_email=_format_emails(
            local[acc_person],
            domain[acc_person],
            acc_mail,
            acc_typo,
            _choose(_APP_EMAIL, n_acc, rng),
        ),  # fmt: skip
        account_phone_token=acc_phone_num,
        account_email_token=np.where(acc_mail, 2 * acc_person + acc_typo, -1),
        account_device=device,
        account_junk_device=junk_device,
        device_id=device_id,
        card_person=card_person,
        card_id=_ids("M", n_card, rng),
        card_phone=_format_phones(card_num, _choose(_STORE_PHONE, n_card, rng)),
        card_email=_format_emails(
            local[card_person],
            domain[card_person],
            card_mail,
            card_typo,
            _choose(_STORE_EMAIL, n_card, rng),
        ),  # fmt: skip
        card_phone_token=np.where(junk, -1, card_num),
        card_email_token=np.where(card_mail, 2 * card_person + card_typo, -1),
        store_number=person_store_num,
    )


def attach_identities(
    orders: pd.DataFrame, ids: Identities, q: IdentityDraws, rng: np.random.Generator
) -> tuple[pd.DataFrame, dict[str, np.ndarray]]:
    """Write the identity keys of every order; return the transactions and the true tokens."""
    person = orders["person"].to_numpy()
    online = orders["online"].to_numpy()
    n_rows, n = len(orders), len(ids.n_accounts)
    second_acc = np.full(n, -1)
    second_acc[ids.account_person[n:]] = np.arange(n, len(ids.account_person))
    second_card = np.full(n, -1)
    second_card[ids.card_person[n:]] = np.arange(n, len(ids.card_person))
    flip = rng.random(n_rows) < 0.5
    acc = np.where(flip & (second_acc[person] >= 0), second_acc[person], person)
    card = np.where(flip & (second_card[person] >= 0), second_card[person], person)
    phone_only = (~online & (ids.store_number[person] >= 0)
                  & (rng.random(n_rows) < q.phone_only_receipt_share))  # fmt: skip
    acc = np.where(online, acc, -1)
    card = np.where(online | phone_only, -1, card)
    has_device = online & (rng.random(n_rows) < 1 - q.device_missing_share)
    n_acc = len(ids.account_id)

    typed = _format_phones(ids.store_number[person[phone_only]],
                           _choose(_STORE_PHONE, int(phone_only.sum()), rng))  # fmt: skip
    phone_pick = np.where(online, acc, np.where(phone_only, -1, card + n_acc))
    phone_pick[phone_only] = np.arange(typed.size) + n_acc + len(ids.card_id)
    email_pick = np.where(online, acc, np.where(phone_only, -1, card + n_acc))
    devices = pd.concat([ids.device_id, pd.Series([JUNK_DEVICE], dtype="str")],
                        ignore_index=True)  # fmt: skip
    acc_device = np.where(ids.account_junk_device, len(ids.device_id), ids.account_device)
    device_pick = np.where(has_device, acc_device[np.maximum(acc, 0)], -1)
    stores = pd.Series([f"S{i:03d}" for i in range(orders["store"].max() + 1)], dtype="str")

    prefix = pd.Series(np.where(online, "O", "R"), dtype="str")
    digits = pd.Series(np.arange(1, n_rows + 1), dtype="int64").astype("str")
    tx = pd.DataFrame({
        "order_id": prefix + digits.str.zfill(max(9, len(str(n_rows)))),
        "ts": orders["ts"].to_numpy(),
        "amount": orders["amount"].to_numpy(),
        "channel": pd.Series(np.where(online, "online", "offline"), dtype="str"),
        "store_id": _take(stores, np.where(online, -1, orders["store"].to_numpy())),
        "coupon_used": orders["coupon_used"].to_numpy(),
        "source": pd.Series(np.where(online, "app", "store"), dtype="str"),
        "account_id": _take(ids.account_id, acc),
        "member_id": _take(ids.card_id, card),
        "phone": _take(pd.concat([ids.account_phone, ids.card_phone, typed], ignore_index=True),
                       phone_pick),  # fmt: skip
        "email": _take(pd.concat([ids.account_email, ids.card_email], ignore_index=True),
                       email_pick),  # fmt: skip
        "device_id": _take(devices, device_pick),
    })  # fmt: skip
    phone_token = np.where(
        online,
        ids.account_phone_token[np.maximum(acc, 0)],
        np.where(phone_only, ids.store_number[person], ids.card_phone_token[np.maximum(card, 0)]),
    )
    email_token = np.where(online, ids.account_email_token[np.maximum(acc, 0)],
                           np.where(phone_only, -1, ids.card_email_token[np.maximum(card, 0)]))  # fmt: skip
    real_device = has_device & ~ids.account_junk_device[np.maximum(acc, 0)]
    tokens = {
        "account": acc,
        "card": card,
        "phone": phone_token,
        "email": email_token,
        "device": np.where(real_device, ids.account_device[np.maximum(acc, 0)], -1),
    }
    return tx, tokens


def link_groups(tokens: dict[str, np.ndarray]) -> np.ndarray:
    """Connected components of rows over true shared keys, numbered by first row."""
    codes, offset = [], 0
    for name in ("account", "card", "phone", "email", "device"):
        values = np.asarray(tokens[name])
        present = values >= 0
        compact = np.full(values.size, -1, np.int64)
        factor, uniques = pd.factorize(values[present])
        compact[present] = factor + offset
        offset += len(uniques)
        codes.append(compact)
    stacked = np.stack(codes)
    primary = np.where(stacked[0] >= 0, stacked[0], np.where(stacked[1] >= 0, stacked[1],
                                                             stacked[2]))  # fmt: skip
    heads, tails = [], []
    for row in stacked:
        ok = row >= 0
        heads.append(primary[ok])
        tails.append(row[ok])
    edges = np.unique(np.stack([np.concatenate(heads), np.concatenate(tails)]), axis=1)
    graph = coo_matrix((np.ones(edges.shape[1], np.int8), (edges[0], edges[1])),
                       shape=(offset, offset))  # fmt: skip
    _, labels = connected_components(graph, directed=False)
    group = labels[primary]
    return pd.factorize(group)[0]


def _take(values: pd.Series, idx: np.ndarray) -> pd.Series:
    """Values at ``idx`` as a str Series, NaN where ``idx`` is -1."""
    taken = values.astype("str").array.take(np.asarray(idx, dtype=np.intp), allow_fill=True)
    return pd.Series(taken, dtype="str")


def _choose(probs: np.ndarray, size: int, rng: np.random.Generator) -> np.ndarray:
    return rng.choice(probs.size, size=size, p=probs / probs.sum())


def _ids(prefix: str, size: int, rng: np.random.Generator) -> pd.Series:
    digits = pd.Series(rng.permutation(size) + 10_000_001, dtype="int64").astype("str")
    return prefix + digits


def _phone_numbers(n: int, offset: int, rng: np.random.Generator) -> np.ndarray:
    """Distinct 11-digit mobile numbers: the last nine digits are a permutation of 10**9."""
    start = int(rng.integers(0, 10**9))
    suffix = (np.arange(offset, offset + n, dtype=np.int64) * _PERMUTE + start) % 10**9
    second = rng.choice(np.array([3, 5, 7, 8, 9]), size=n)
    return 10**10 + second * 10**9 + suffix


def _one_digit_typo(numbers: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    power = 10 ** rng.integers(0, 8, numbers.size).astype(np.int64)
    digit = (numbers // power) % 10
    new = (digit + rng.integers(1, 10, numbers.size)) % 10
    return numbers + (new - digit) * power


def _device_ids(size: int, rng: np.random.Generator) -> pd.Series:
    """Android ids (16 lower-case hex) and iOS vendor ids (upper-case UUID), about half each."""
    high = pd.Series(rng.integers(0, 2**63, size), dtype="int64")
    low = pd.Series(rng.integers(0, 2**63, size), dtype="int64")
    hex_ = np.char.mod("%016x", high.to_numpy()).astype(object) + np.char.mod(
        "%016x", low.to_numpy()
    ).astype(object)
    h = pd.Series(hex_, dtype="str")
    ios = rng.random(size) < 0.5
    uuid = (h.str[:8] + "-" + h.str[8:12] + "-" + h.str[12:16] + "-" + h.str[16:20] + "-"
            + h.str[20:]).str.upper()  # fmt: skip
    return uuid.where(ios, h.str[:16])


def _email_parts(n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Distinct local parts (numeric for QQ mail, pinyin plus digits elsewhere) and domains."""
    names = list(EMAIL_DOMAINS)
    weights = np.array(list(EMAIL_DOMAINS.values()))
    domain = np.asarray(names, dtype=object)[rng.choice(len(names), n, p=weights)]
    start = int(rng.integers(0, 10**7))
    number = (np.arange(n, dtype=np.int64) * _PERMUTE + start) % 10**7
    sep = np.asarray(["", ".", "_"], dtype=object)[rng.integers(0, 3, n)]
    words = _SYLLABLES.astype(object)
    pinyin = (words[rng.integers(0, words.size, n)] + sep + words[rng.integers(0, words.size, n)]
              + number.astype(str).astype(object))  # fmt: skip
    qq = (number + 10_000_000 * rng.integers(1, 100, n)).astype(str).astype(object)
    local = np.where(domain == "qq.com", qq, pinyin)
    return local, domain


def _format_phones(numbers: np.ndarray, codes: np.ndarray) -> pd.Series:
    """Write 11-digit numbers in format ``codes``; NaN where the number is -1."""
    d = pd.Series(np.maximum(numbers, 0), dtype="int64").astype("str").str.zfill(11)
    spaced = d.str[:3] + " " + d.str[3:7] + " " + d.str[7:]
    dashed = d.str[:3] + "-" + d.str[3:7] + "-" + d.str[7:]
    variants = [d, spaced, dashed, "+86 " + spaced, "+86-" + d, "+86" + d, "86" + d,
                "0086 " + d, "(+86) " + dashed, d.str.translate(_FULLWIDTH)]  # fmt: skip
    out = d.copy()
    for code, variant in enumerate(variants):
        pick = codes == code
        out[pick] = variant[pick]
    return out.where(np.asarray(numbers) >= 0)


def _format_emails(
    local: np.ndarray, domain: np.ndarray, present: np.ndarray, typo: np.ndarray, codes: np.ndarray
) -> pd.Series:
    """Write emails in format ``codes`` (plain, upper, capitalised, padded, spaced @,
    full-width @), with domain typos where ``typo``; NaN where not ``present``."""
    dom = pd.Series(domain, dtype="str")
    dom = dom.where(~typo, dom.map(DOMAIN_TYPOS))
    loc = pd.Series(local, dtype="str")
    plain = loc + "@" + dom
    variants = [plain, plain.str.upper(), plain.str.capitalize(), "  " + plain + " ",
                loc + " @ " + dom, loc + "＠" + dom]  # fmt: skip
    out = plain.copy()
    for code, variant in enumerate(variants):
        pick = codes == code
        out[pick] = variant[pick]
    return out.where(present)
