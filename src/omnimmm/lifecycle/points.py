"""What a points programme owes and what it will cost: balance, breakage, redemptions.

Input: transactions with two optional columns, points earned and points redeemed on each
order (found by role like the other columns: ``points_earned``, ``获得积分``,
``points_redeemed``, ``使用积分`` ...; see :mod:`omnimmm.lifecycle.roles`).

The ledger
----------
Each order with earned points opens a *lot*. Redemptions take the customer's oldest open
points first (FIFO, the accounting convention of programme liabilities); with
``expiry_days`` a lot's unredeemed points expire that many days after it was earned.
Redemptions beyond what the log shows the customer earned (points from before the log
starts) are counted as *unattributed* and left out of the cohort figures.

Breakage from cohort history
----------------------------
Lots are followed by age in weeks. For week of age ``k`` the redemption hazard is the points
redeemed at that age over the points still open at its start, pooled over every lot
observed through that whole week (a product-limit estimate, so recent lots count for the
ages they have reached). The share of a new point still unredeemed at expiry,
``S(E) = prod_k (1 - h_k)``, is the projected breakage; without expiry it is the share not
redeemed within the longest age observed, and says so. The realised breakage of cohorts
that have fully expired is reported beside it.

Next quarter
------------
The open balance at the cutoff runs off along the same curve: a lot of age ``a`` with
``r`` open points is expected to redeem ``r * (1 - S(a + q) / S(a))`` within the next
``q`` days (``S`` held flat at expiry). Points earned in the quarter are taken at the rate
of the last ``q`` days times a same-season ratio by cohort (:func:`_seasonal_ratio`: last
year's change from this quarter to the next, for old members, last quarter's newcomers and
the coming quarter's newcomers apart, so that a growing base is not taken for a season),
spread evenly, and redeemed along the curve. Cost = points x ``value_per_point``. 90%
intervals resample customers (Poisson bootstrap); those of the next quarter are prediction
intervals of the realised quarter: each bootstrap draw of the expected redemptions gets one
draw of the customers' outcome around it, with the dispersion measured on the log's own
past quarters (:func:`_dispersion`). The bootstrap alone covers only the estimate, and a
quarter's redemptions vary as much again from which customers happen to redeem their
balance (on the simulator the bootstrap interval held the realised run-off 3 times in 6).

Cross-channel use
-----------------
With a channel column, redeemed points are tabulated by the channel where they were earned
and where they were redeemed: do points earned online pay for store purchases, and vice
versa.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, overload

import numpy as np
import pandas as pd

from omnimmm.data.tables import read_frame
from omnimmm.errors import DataError, numbered
from omnimmm.lifecycle.roles import POINTS_ROLES, flag, infer_roles
from omnimmm.lifecycle.timestamps import parse_times

__all__ = ["PointsLedger", "points_ledger", "points_summary", "read_points"]

_WEEK = 7
_DAY = 86400
#: Lots are followed in strata by the customer's orders before the earning one (0-1, 2-4,
#: 5+): new customers redeem and churn differently, and their share changes as a base ages.
_STRATA = np.array([0, 2, 5])


@dataclass(frozen=True, eq=False)
class PointsLedger:
    """Lots and FIFO redemptions replayed from a log of earned and redeemed points.

    Times are seconds since the epoch. ``lot_*`` arrays have one entry per earning order,
    ``alloc_*`` one per (redeeming order, lot) piece.
    """

    customers: np.ndarray
    lot_customer: np.ndarray
    lot_ts: np.ndarray
    lot_online: np.ndarray
    lot_points: np.ndarray
    lot_left: np.ndarray
    lot_expired: np.ndarray
    lot_stratum: np.ndarray
    alloc_lot: np.ndarray
    alloc_ts: np.ndarray
    alloc_online: np.ndarray
    alloc_points: np.ndarray
    unattributed: np.ndarray
    cutoff: int
    expiry_days: int | None
    has_channel: bool


@overload
def read_points(
    source: str | Path | pd.DataFrame,
    given: dict[str, str | None] | None = ...,
    *,
    required: Literal[True] = ...,
) -> tuple[pd.DataFrame, dict[str, str]]: ...
@overload
def read_points(
    source: str | Path | pd.DataFrame,
    given: dict[str, str | None] | None = ...,
    *,
    required: bool,
) -> tuple[pd.DataFrame, dict[str, str]] | None: ...
def read_points(
    source: str | Path | pd.DataFrame,
    given: dict[str, str | None] | None = None,
    *,
    required: bool = True,
) -> tuple[pd.DataFrame, dict[str, str]] | None:
    """Read transactions with points into ``customer_id, ts, channel?, points_earned,
    points_redeemed`` (missing points as 0) and return the role mapping used; ``None`` when
    the file has no points column and ``required`` is false.

    Raises
    ------
    DataError
        No points column, unparsable timestamps, negative or non-numeric points (the message
        names the column and the first bad row).
    """
    label = "the transactions frame" if isinstance(source, pd.DataFrame) else str(source)
    raw = source if isinstance(source, pd.DataFrame) else read_frame(source, what="transactions")
    roles = ("customer_id", "ts", "channel", *POINTS_ROLES)
    given = {k: v for k, v in (given or {}).items() if k in roles}
    mapping = infer_roles(raw.head(2000), given, label=label, roles=roles)
    base = 1 if isinstance(source, pd.DataFrame) else 2  # files count the header line
    cols = mapping.columns
    if not any(r in cols for r in POINTS_ROLES):
        if not required:
            return None
        raise DataError(
            f"{label}: no points columns found (columns: {[str(c) for c in raw.columns]}).\n"
            + numbered(
                [
                    f"name them: {flag('points_earned')} COLUMN and {flag('points_redeemed')} "
                    "COLUMN",
                    "rename them points_earned and points_redeemed",
                ]
            )
        )
    out = pd.DataFrame({"customer_id": raw[cols["customer_id"]].astype(str).str.strip()})
    ts_raw = raw[cols["ts"]]
    ts = parse_times(ts_raw)  # as the purchase-log reader reads it; wall-clock time
    bad = ts.isna().to_numpy()
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise DataError(
            f"{label}: column '{cols['ts']}' row {row + base}: {ts_raw.iloc[row]!r} is not a date"
        )
    out["ts"] = ts
    if "channel" in cols:
        out["channel"] = raw[cols["channel"]].astype(str).str.strip().str.lower()
        odd = ~out["channel"].isin(("online", "offline"))
        if odd.any():
            row = int(np.flatnonzero(odd.to_numpy())[0])
            raise DataError(
                f"{label}: column '{cols['channel']}' (channel) row {row + base}: "
                f"{raw[cols['channel']].iloc[row]!r}; expected online or offline"
            )
    for role in POINTS_ROLES:
        if role not in cols:
            out[role] = 0.0
            continue
        text = pd.Series(raw[cols[role]].astype(str).str.replace(",", "", regex=False))
        num = pd.Series(pd.to_numeric(text, errors="coerce"), index=raw.index)
        num = num.where(raw[cols[role]].notna(), 0.0)
        bad = (num.isna() | (num < 0)).to_numpy()
        if bad.any():
            row = int(np.flatnonzero(bad)[0])
            raise DataError(
                f"{label}: column '{cols[role]}' ({role}) row {row + base}: "
                f"{raw[cols[role]].iloc[row]!r} is not a non-negative number of points"
            )
        out[role] = num.to_numpy(dtype=float)
    keyless = raw[cols["customer_id"]].isna().to_numpy()
    if keyless.any():
        # guest orders carry no member account, so no points balance: left out
        out = out[~keyless].reset_index(drop=True)
    return out, dict(cols)


def points_ledger(
    frame: pd.DataFrame, cutoff: pd.Timestamp, expiry_days: int | None = None
) -> PointsLedger:
    """Replay earned and redeemed points up to ``cutoff`` (exclusive) with FIFO and expiry.

    ``frame`` has ``customer_id, ts, points_earned, points_redeemed`` and optionally
    ``channel`` (online/offline). On one order, the redemption happens before the earning.
    """
    if expiry_days is not None and expiry_days < 1:
        raise DataError(f"points: expiry_days must be at least 1 day, got {expiry_days}")
    f = frame[frame["ts"] < cutoff]
    has_channel = "channel" in f.columns
    codes, customers = pd.factorize(f["customer_id"], sort=True)
    ts = f["ts"].to_numpy().astype("datetime64[s]").astype(np.int64)
    earned = np.round(f["points_earned"].to_numpy(dtype=float)).astype(np.int64)
    redeemed = np.round(f["points_redeemed"].to_numpy(dtype=float)).astype(np.int64)
    online = (f["channel"] == "online").to_numpy() if has_channel else np.zeros(len(f), bool)
    order = np.lexsort((np.arange(len(f)), ts, codes))
    # the customer's orders before this one, in the log: the stratum of the lot's curve
    first = np.r_[True, codes[order][1:] != codes[order][:-1]]
    start = np.maximum.accumulate(np.where(first, np.arange(order.size), 0))
    prior = np.empty(len(f), np.int64)
    prior[order] = np.arange(order.size) - start
    life = None if expiry_days is None else expiry_days * _DAY
    left = earned.copy()
    expired = np.zeros(len(f), np.int64)
    unattributed = np.zeros(len(customers), np.int64)
    pieces: list[tuple[int, int, int]] = []
    queue: deque[int] = deque()
    who = -1
    for i in order:
        if codes[i] != who:
            queue.clear()
            who = codes[i]
        if life is not None:
            while queue and ts[queue[0]] + life <= ts[i]:
                lot = queue.popleft()
                expired[lot], left[lot] = left[lot], 0
        need = int(redeemed[i])
        while need > 0 and queue:
            lot = queue[0]
            take = int(min(need, left[lot]))
            pieces.append((int(lot), int(i), take))
            left[lot] -= take
            need -= take
            if left[lot] == 0:
                queue.popleft()
        unattributed[codes[i]] += need
        if earned[i] > 0:
            queue.append(int(i))
    cut = int(pd.Timestamp(cutoff).value // 10**9)
    if life is not None:
        gone = (ts + life <= cut) & (left > 0)
        expired[gone], left[gone] = left[gone], 0
    a = np.asarray(pieces, dtype=np.int64).reshape(-1, 3)
    lots = np.flatnonzero(earned > 0)
    index_of = np.full(len(f), -1, np.int64)
    index_of[lots] = np.arange(lots.size)
    return PointsLedger(
        customers=np.asarray(customers, dtype=object),
        lot_customer=codes[lots],
        lot_ts=ts[lots],
        lot_online=online[lots],
        lot_points=earned[lots],
        lot_left=left[lots],
        lot_expired=expired[lots],
        lot_stratum=np.searchsorted(_STRATA, prior[lots], side="right") - 1,
        alloc_lot=index_of[a[:, 0]],
        alloc_ts=ts[a[:, 1]],
        alloc_online=online[a[:, 1]],
        alloc_points=a[:, 2],
        unattributed=unattributed,
        cutoff=cut,
        expiry_days=expiry_days,
        has_channel=has_channel,
    )


def _buckets(led: PointsLedger) -> tuple[int, np.ndarray, np.ndarray, np.ndarray]:
    """Number of weekly age buckets, each bucket's length in days, each lot's number of
    fully observed buckets and each redemption piece's bucket."""
    age_obs = (led.cutoff - led.lot_ts) / _DAY
    if led.expiry_days is not None:
        n = int(np.ceil(led.expiry_days / _WEEK))
        length = np.minimum(_WEEK, led.expiry_days - _WEEK * np.arange(n)).astype(float)
    else:
        n = max(int(age_obs.max() // _WEEK) if age_obs.size else 0, 1)
        length = np.full(n, float(_WEEK))
    ends = np.cumsum(length)
    observed = np.searchsorted(ends, age_obs, side="right")
    age_red = (led.alloc_ts - led.lot_ts[led.alloc_lot]) / _DAY
    bucket = np.minimum((age_red // _WEEK).astype(np.int64), n - 1)
    return n, length, observed, bucket


def _hazard(
    led: PointsLedger, w_lot: np.ndarray, w_alloc: np.ndarray, b: tuple
) -> tuple[np.ndarray, np.ndarray]:
    """Weekly redemption hazard and points at risk, from lots observed through each week."""
    n, _, observed, bucket = b
    m = observed
    pts = np.bincount(m, weights=led.lot_points * w_lot, minlength=n + 1)
    a = np.zeros((n, n + 1))
    np.add.at(a, (bucket, m[led.alloc_lot]), led.alloc_points * w_alloc)
    # lots with m > k are observed through bucket k
    pts_beyond = pts[::-1].cumsum()[::-1]  # sum over m >= j
    seen = np.r_[pts_beyond[1:], 0.0][:n]  # m > k
    a_beyond = a[:, ::-1].cumsum(axis=1)[:, ::-1]  # sum over m >= j, by bucket
    red = np.array([a_beyond[k, k + 1] for k in range(n)])
    before = np.zeros(n)
    for k in range(1, n):
        before[k] = a_beyond[:k, k + 1].sum()
    at_risk = seen - before
    with np.errstate(invalid="ignore", divide="ignore"):
        h = np.where(at_risk > 0, red / np.where(at_risk > 0, at_risk, 1.0), np.nan)
    return h, at_risk


def _cumhaz(h: np.ndarray, length: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Cumulative hazard at each bucket end (and the day grid), unseen weeks as 0."""
    lam = -np.log1p(-np.clip(np.nan_to_num(h, nan=0.0), 0.0, 1 - 1e-12))
    return np.r_[0.0, np.cumsum(lam)], np.r_[0.0, np.cumsum(length)]


def _surv(days: np.ndarray, cum: np.ndarray, grid: np.ndarray) -> np.ndarray:
    return np.exp(-np.interp(days, grid, cum))


def _curves(led: PointsLedger, w_lot: np.ndarray, b: tuple) -> list[tuple[np.ndarray, np.ndarray]]:
    """Cumulative hazard and day grid of each stratum; weeks a stratum has not reached
    borrow the pooled hazard."""
    length = b[1]
    w_alloc = w_lot[led.alloc_lot]
    pooled, _ = _hazard(led, w_lot, w_alloc, b)
    out = []
    for g in range(_STRATA.size):
        keep = (led.lot_stratum == g).astype(float)
        h, _ = _hazard(led, w_lot * keep, w_alloc * keep[led.alloc_lot], b)
        out.append(_cumhaz(np.where(np.isfinite(h), h, pooled), length))
    return out


def _estimate(
    led: PointsLedger, w_cust: np.ndarray, b: tuple, quarter_days: int
) -> dict[str, float]:
    """Breakage, balance and next-quarter redemptions for customer weights ``w_cust``."""
    w_lot = w_cust[led.lot_customer]
    curves = _curves(led, w_lot, b)
    window = led.expiry_days if led.expiry_days is not None else 365
    recent_year = led.lot_ts >= led.cutoff - window * _DAY
    if not (led.lot_points * w_lot)[recent_year].sum() > 0:
        recent_year = np.ones(led.lot_ts.size, bool)  # nothing earned lately: all lots' mix
    recent = led.lot_ts >= led.cutoff - quarter_days * _DAY
    days = np.arange(quarter_days) + 0.5
    growth = _seasonal_ratio(led, w_lot, quarter_days)
    runoff = float((_lot_runoff(led, curves, quarter_days) * w_lot).sum())
    new = year_pts = year_broken = balance_broken = 0.0
    for g, (cum, grid) in enumerate(curves):
        lots = led.lot_stratum == g
        open_ = lots & (led.lot_left > 0)
        s_now = _surv(np.minimum((led.cutoff - led.lot_ts[open_]) / _DAY, grid[-1]), cum, grid)
        s_end = float(np.exp(-cum[-1]))
        balance_broken += float((led.lot_left[open_] * w_lot[open_] * s_end / s_now).sum())
        rate = growth * float((led.lot_points * w_lot)[lots & recent].sum()) / quarter_days
        new += rate * float((1 - _surv(np.minimum(days, grid[-1]), cum, grid)).sum())
        pts = float((led.lot_points * w_lot)[lots & recent_year].sum())
        year_pts += pts
        year_broken += pts * s_end
    mature = led.lot_left == 0
    if led.expiry_days is not None:
        mature &= led.lot_ts + led.expiry_days * _DAY <= led.cutoff
    m_pts = float((led.lot_points * w_lot)[mature].sum())
    realised = float((led.lot_expired * w_lot)[mature].sum()) / m_pts if m_pts > 0 else np.nan
    if led.expiry_days is None:
        realised = np.nan
    return {
        "breakage": year_broken / year_pts if year_pts > 0 else np.nan,
        "realised_breakage": realised,
        "balance": float((led.lot_left * w_lot).sum()),
        "balance_breakage": balance_broken,
        "runoff": runoff,
        "new": new,
        "total": runoff + new,
        "earning_ratio": growth,
    }


def _lot_runoff(led: PointsLedger, curves: list, q: int) -> np.ndarray:
    """Each lot's expected redemptions in the ``q`` days after the cutoff, from its open
    points and its stratum's curve."""
    out = np.zeros(led.lot_points.size)
    for g, (cum, grid) in enumerate(curves):
        open_ = (led.lot_stratum == g) & (led.lot_left > 0)
        age = np.minimum((led.cutoff - led.lot_ts[open_]) / _DAY, grid[-1])
        s_next = _surv(np.minimum(age + q, grid[-1]), cum, grid)
        out[open_] = led.lot_left[open_] * (1 - s_next / _surv(age, cum, grid))
    return out


def _truncate(led: PointsLedger, cut: int) -> PointsLedger:
    """The ledger as it stood at an earlier cutoff ``cut`` (seconds): the same as replaying
    the log up to ``cut`` (FIFO and expiry are deterministic, so the later rows cannot
    change what happened before)."""
    keep = np.flatnonzero(led.lot_ts < cut)
    index_of = np.full(led.lot_ts.size, -1, np.int64)
    index_of[keep] = np.arange(keep.size)
    early = (led.alloc_ts < cut) & (index_of[led.alloc_lot] >= 0)
    alloc_lot = index_of[led.alloc_lot[early]]
    used = np.bincount(alloc_lot, weights=led.alloc_points[early], minlength=keep.size)
    left = led.lot_points[keep] - used.astype(np.int64)
    expired = np.zeros(keep.size, np.int64)
    if led.expiry_days is not None:
        gone = led.lot_ts[keep] + led.expiry_days * _DAY <= cut
        expired[gone], left[gone] = left[gone], 0
    return PointsLedger(
        customers=led.customers, lot_customer=led.lot_customer[keep], lot_ts=led.lot_ts[keep],
        lot_online=led.lot_online[keep], lot_points=led.lot_points[keep], lot_left=left,
        lot_expired=expired, lot_stratum=led.lot_stratum[keep], alloc_lot=alloc_lot,
        alloc_ts=led.alloc_ts[early], alloc_online=led.alloc_online[early],
        alloc_points=led.alloc_points[early], unattributed=np.zeros_like(led.unattributed),
        cutoff=int(cut), expiry_days=led.expiry_days, has_channel=led.has_channel,
    )  # fmt: skip


#: Quarters back tested for the outcome dispersion, and the history each one needs.
_BACKTESTS, _BACKTEST_HISTORY_DAYS = 4, 180


def _dispersion(led: PointsLedger, q: int) -> tuple[float | None, float, list[dict[str, Any]]]:
    """Outcome noise of a quarter's redemptions, from the log's own past quarters.

    The bootstrap measures how well the curve and the balance's run-off are *estimated*.
    The quarter that follows is also one draw of each customer's behaviour (a redemption
    takes a whole balance at once, at an order that may or may not come), and one draw of
    the calendar (a quarter with a festival brings more orders, so more redemptions, than
    the curve's average over all quarters). At each of up to :data:`_BACKTESTS` earlier
    cutoffs ``c - kq`` with at least :data:`_BACKTEST_HISTORY_DAYS` of history, the ledger
    as it stood then predicts each customer's run-off ``r_i`` and the log shows what they
    redeemed ``R_i``. Returns

    * ``phi = sum (R_i - r_i)^2 / sum r_i`` (points, quasi-Poisson): a realised quarter
      varies by ``phi x mean`` around its mean from the customers alone; ``None`` when no
      past quarter qualifies;
    * ``tau``, the spread of a whole quarter on the log scale beyond that: the method of
      moments on the past quarters, ``tau^2 = max(0, mean_k(e_k^2 - v_k))`` with ``e_k``
      the log of realised over predicted and ``v_k = sum (R_i - r_i)^2 / (sum r_i)^2`` the
      customers' share of it (the past quarters' own estimation error stays in, so this
      leans wide);
    * the predicted and realised run-off of each past quarter.
    """
    if led.lot_ts.size == 0:
        return None, 0.0, []
    num = den = 0.0
    excess: list[float] = []
    rows: list[dict[str, Any]] = []
    n = led.customers.size
    for k in range(1, _BACKTESTS + 1):
        cut = led.cutoff - k * q * _DAY
        if cut - led.lot_ts.min() < _BACKTEST_HISTORY_DAYS * _DAY:
            break
        past = _truncate(led, cut)
        curves = _curves(past, np.ones(past.lot_points.size), _buckets(past))
        r = np.bincount(past.lot_customer, _lot_runoff(past, curves, q), minlength=n)
        window = (led.alloc_ts >= cut) & (led.alloc_ts < cut + q * _DAY)
        m = window & (led.lot_ts[led.alloc_lot] < cut)
        real = np.bincount(led.lot_customer[led.alloc_lot[m]], led.alloc_points[m], minlength=n)
        sq, pred, got = float(((real - r) ** 2).sum()), float(r.sum()), float(real.sum())
        num, den = num + sq, den + pred
        if pred > 0 and got > 0:
            excess.append(np.log(got / pred) ** 2 - sq / pred**2)
        rows.append({"cutoff": str(pd.Timestamp(cut, unit="s")), "predicted": pred,
                     "realised": got})  # fmt: skip
    tau = float(np.sqrt(max(float(np.mean(excess)), 0.0))) if excess else 0.0
    return (num / den if den > 0 else None), tau, rows


def _outcome(mean: float, phi: float | None, rng: np.random.Generator) -> float:
    """One realised quarter around an expected ``mean`` (Gamma, variance ``phi x mean``)."""
    if phi is None or not (mean > 0 and phi > 0):
        return mean
    return float(rng.gamma(mean / phi, phi))


def _seasonal_ratio(led: PointsLedger, w_lot: np.ndarray, q: int) -> float:
    """Points to be earned in the coming ``q`` days over those of the last ``q`` days.

    Same season a year before, by cohort, so that last year's growth of the customer base
    is not taken for a season (a base still filling up earns far more each quarter than
    the one before, whatever the season): customers are grouped by their first earning in
    the log, and

    * those who earned first before the last quarter change as their kind did a year ago
      (earned in the quarter a year before the coming one, over the quarter before it);
    * those who earned first in the last quarter likewise, from last year's newcomers of
      that quarter;
    * newcomers of the coming quarter earn what last year's newcomers of that quarter did,
      scaled by how many more (or fewer) newcomers the last quarter had than a year before.

    In a log cut from an older programme the first earnings of its first months are old
    members, counted as newcomers: their quarter-on-quarter change is then close to the
    old members' own, and the forecast close to the plain same-season ratio. With a log
    shorter than a year and a quarter the ratio is 1. ``bench_lifecycle_points.py``: the
    plain same-season ratio (last year's growth included) overstated the next quarter's
    redemptions by up to 18% on a base still growing; this one is within 10% on 12/12.
    """
    year, day = 365 * _DAY, _DAY
    start = led.cutoff - year
    if led.lot_ts.size == 0 or led.lot_ts.min() > start - q * day:
        return 1.0
    pts = led.lot_points * w_lot

    def earned(lo: int, hi: int, who: np.ndarray) -> float:
        return float(pts[who & (led.lot_ts >= lo) & (led.lot_ts < hi)].sum())

    q0, q1 = led.cutoff - q * day, led.cutoff
    l0, l1, l2 = start - q * day, start, start + q * day
    first = np.full(led.customers.size, np.iinfo(np.int64).max)
    np.minimum.at(first, led.lot_customer, led.lot_ts)
    f = first[led.lot_customer]
    w_cust = np.zeros(led.customers.size)
    np.maximum.at(w_cust, led.lot_customer, w_lot)  # a customer's bootstrap weight

    def ratio(who: np.ndarray) -> float:
        b = earned(l0, l1, who)
        return earned(l1, l2, who) / b if b > 0 else 1.0

    forecast = earned(q0, q1, f < q0) * ratio(f < l0)
    forecast += earned(q0, q1, (f >= q0) & (f < q1)) * ratio((f >= l0) & (f < l1))
    new_now = float(w_cust[(first >= q0) & (first < q1)].sum())
    new_then = float(w_cust[(first >= l0) & (first < l1)].sum())
    if new_then > 0:
        forecast += earned(l1, l2, (f >= l1) & (f < l2)) * new_now / new_then
    last = earned(q0, q1, np.ones(led.lot_ts.size, bool))
    return forecast / last if last > 0 and forecast > 0 else 1.0


def points_summary(
    led: PointsLedger,
    *,
    quarter_days: int = 90,
    value_per_point: float | None = None,
    n_boot: int = 200,
    seed: int = 0,
) -> dict[str, Any]:
    """Outstanding balance, breakage, next-quarter redemptions and cross-channel use.

    Returns a JSON-ready dict; figures in points, and in money where ``value_per_point`` is
    given. Intervals are 90% customer bootstrap intervals; for the next quarter's
    redemptions, 90% prediction intervals of the realised quarter (the bootstrap plus the
    customers' outcome noise, ``outcome_dispersion``, measured on up to four past quarters
    listed under ``backtests``).
    """
    if led.lot_points.size == 0:
        raise DataError("points: no order before the cutoff earned any points")
    if value_per_point is not None and not value_per_point > 0:
        raise DataError(f"points: value_per_point must be positive, got {value_per_point}")
    b = _buckets(led)
    n_cust = led.customers.size
    point = _estimate(led, np.ones(n_cust), b, quarter_days)
    rng = np.random.default_rng(seed)
    draws = [_estimate(led, rng.poisson(1.0, n_cust).astype(float), b, quarter_days)
             for _ in range(n_boot)]  # fmt: skip
    # next-quarter figures: prediction intervals of the realised quarter (the estimate's
    # bootstrap draw, then one draw of the customers' outcome around it; see _dispersion)
    phi, tau, backtests = _dispersion(led, quarter_days)
    noise = np.random.default_rng([seed, 1])
    for d in draws:
        calendar = float(np.exp(tau * noise.standard_normal()))  # one draw for the quarter
        d["runoff"] = calendar * _outcome(d["runoff"], phi, noise)
        d["new"] = calendar * _outcome(d["new"], phi, noise)
        d["total"] = d["runoff"] + d["new"]

    def interval(key: str, scale: float = 1.0) -> dict[str, float | None]:
        vals = np.array([d[key] for d in draws], dtype=float) * scale
        vals = vals[np.isfinite(vals)]
        mean = point[key] * scale
        if not np.isfinite(mean) or vals.size == 0:
            return {"mean": None, "low": None, "high": None}
        lo, hi = np.quantile(vals, [0.05, 0.95])
        return {"mean": float(mean), "low": float(lo), "high": float(hi)}

    h, at_risk = _hazard(led, np.ones(led.lot_points.size), np.ones(led.alloc_points.size), b)
    value = value_per_point or 0.0
    doc: dict[str, Any] = {
        "cutoff": str(pd.Timestamp(led.cutoff, unit="s")),
        "expiry_days": led.expiry_days,
        "customers_with_balance": int(np.unique(led.lot_customer[led.lot_left > 0]).size),
        "points_earned": float(led.lot_points.sum()),
        "points_redeemed": float(led.alloc_points.sum()),
        "points_expired": float(led.lot_expired.sum()),
        "points_unattributed": float(led.unattributed.sum()),
        "balance_points": interval("balance"),
        "breakage": interval("breakage"),
        "breakage_basis": (
            f"share of a point not redeemed before it expires ({led.expiry_days} days)"
            if led.expiry_days is not None
            else f"share of a point not redeemed within {int(b[1].sum())} days (the longest "
            "age observed; points do not expire, so later redemptions are not counted)"
        ),
        "realised_breakage": interval("realised_breakage"),
        "redemption_next_quarter_points": {
            "quarter_days": quarter_days,
            "interval": "90% prediction interval of the realised quarter"
            if phi is not None
            else "90% bootstrap interval of the expected quarter (no past quarter to "
            "measure the customers' outcome noise; the realised quarter varies more)",
            "outcome_dispersion": phi,
            "quarter_log_sd": tau,
            "backtests": backtests,
            "from_balance": interval("runoff"),
            "from_new_points": interval("new"),
            "total": interval("total"),
        },
        "value_per_point": value_per_point,
        "balance_value": interval("balance", value) if value_per_point else None,
        "redemption_cost_next_quarter": (
            {"from_balance": interval("runoff", value), "total": interval("total", value)}
            if value_per_point
            else None
        ),
        "balance_never_redeemed_points": interval("balance_breakage"),
        "curve": [
            {
                "week": k,
                "hazard": None if not np.isfinite(h[k]) else float(h[k]),
                "points_at_risk": float(at_risk[k]),
            }
            for k in range(h.size)
        ],  # fmt: skip
        "cross_channel": _cross_channel(led),
    }
    return doc


def _cross_channel(led: PointsLedger) -> dict[str, Any] | None:
    """Redeemed points by earning and redeeming channel (shares of each earning channel)."""
    if not led.has_channel or led.alloc_points.size == 0:
        return None
    earned_online = led.lot_online[led.alloc_lot]
    out: dict[str, Any] = {}
    for name, mask in (("earned_online", earned_online), ("earned_offline", ~earned_online)):
        total = float(led.alloc_points[mask].sum())
        in_store = float(led.alloc_points[mask & ~led.alloc_online].sum())
        out[name] = {
            "points_redeemed": total,
            "share_redeemed_online": None if total == 0 else 1 - in_store / total,
            "share_redeemed_offline": None if total == 0 else in_store / total,
        }
    return out


def cohort_table(led: PointsLedger) -> pd.DataFrame:
    """Per earning month: points earned, redeemed, expired, still open, realised breakage."""
    month = pd.to_datetime(led.lot_ts, unit="s").to_period("M").astype(str)
    used = np.bincount(led.alloc_lot, weights=led.alloc_points, minlength=led.lot_points.size)
    t = pd.DataFrame({"month": month, "earned": led.lot_points, "redeemed": used,
                      "expired": led.lot_expired, "open": led.lot_left})  # fmt: skip
    g = t.groupby("month", sort=True).sum()
    g["breakage"] = np.where(g["open"] == 0, g["expired"] / g["earned"], np.nan)
    return g.reset_index()
