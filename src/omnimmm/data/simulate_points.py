"""A points programme on top of simulated orders, with its full ledger as truth.

Every order earns ``floor(amount * earn_per_unit)`` points, shared across the person's app
account and store membership (one balance, usable online and in store). Points expire
``expiry_days`` after they were earned. At each order, after the expired points are gone,
a person whose balance is at least ``min_redeem`` redeems with their own probability
``q ~ Beta(*redeem_beta)``: the whole balance in blocks of ``redeem_block`` points,
capped at ``max_order_share`` of the order's amount. Redemptions take the oldest points
first (FIFO), as programme accounts do. Points of people who stop buying simply expire:
that, and the low-propensity redeemers, is the programme's breakage.

The transactions carry only ``points_earned`` and ``points_redeemed``; the truth holds
every earning lot (what was redeemed from it, when and where, and what expired) so that
breakage and future redemptions can be checked against what really happened.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import numpy as np
import pandas as pd

from omnimmm.errors import PlanError

__all__ = ["PointsParams", "PointsTruth", "simulate_points"]


@dataclass(frozen=True)
class PointsParams:
    """True rules and behaviour of a points programme (amounts in CNY)."""

    earn_per_unit: float = 1.0
    value_per_point: float = 0.01
    expiry_days: int = 365
    min_redeem: int = 500
    redeem_block: int = 100
    max_order_share: float = 0.5
    redeem_beta: tuple[float, float] = (1.2, 2.5)

    def __post_init__(self) -> None:
        if self.earn_per_unit <= 0 or self.value_per_point <= 0:
            raise PlanError("points: earn_per_unit and value_per_point must be positive")
        if self.expiry_days < 1 or self.redeem_block < 1 or self.min_redeem < 0:
            raise PlanError("points: expiry_days and redeem_block must be >= 1, min_redeem >= 0")
        if not 0.0 < self.max_order_share <= 1.0:
            raise PlanError(
                f"points: max_order_share must be in (0, 1], got {self.max_order_share}"
            )


@dataclass(frozen=True, eq=False)
class PointsTruth:
    """The programme's ledger.

    Attributes
    ----------
    lots : pandas.DataFrame
        One row per earning order: ``person_id``, ``earned_at``, ``channel``
        (online/offline), ``points``, ``redeemed`` (points of this lot redeemed by the end),
        ``expired`` (points that expired unredeemed by the end), ``expires_at``.
    redemptions : pandas.DataFrame
        One row per (redeeming order, lot): ``person_id``, ``earned_at``,
        ``earned_channel``, ``redeemed_at``, ``channel``, ``points``.
    redeem_propensity : pandas.Series
        Each person's redemption probability per order, indexed by ``person_id``.
    params : PointsParams
    end : pandas.Timestamp
        End of the simulation (exclusive): lots expiring later are still open.
    """

    lots: pd.DataFrame
    redemptions: pd.DataFrame
    redeem_propensity: pd.Series
    params: PointsParams
    end: pd.Timestamp

    def breakage(self, earned_from: str | pd.Timestamp, earned_to: str | pd.Timestamp) -> float:
        """Share of the points earned in ``[earned_from, earned_to)`` that expired unused.

        Raises :class:`PlanError` when some of those points had not yet expired or been used
        by the end of the simulation (the answer would not be known).
        """
        lo, hi = pd.Timestamp(earned_from), pd.Timestamp(earned_to)
        lots = self.lots[(self.lots["earned_at"] >= lo) & (self.lots["earned_at"] < hi)]
        if (lots["expires_at"] > self.end).any():
            raise PlanError(
                f"points earned before {hi.date()} are still open at the end of the simulation "
                f"({self.end.date()}); their breakage is not known yet"
            )
        return float(lots["expired"].sum() / lots["points"].sum())

    def redeemed_points(
        self,
        start: str | pd.Timestamp,
        end: str | pd.Timestamp,
        earned_before: str | pd.Timestamp | None = None,
    ) -> float:
        """Points redeemed in ``[start, end)``, only from lots earned before ``earned_before``
        if given (the balance outstanding at that date)."""
        r = self.redemptions
        keep = (r["redeemed_at"] >= pd.Timestamp(start)) & (r["redeemed_at"] < pd.Timestamp(end))
        if earned_before is not None:
            keep &= r["earned_at"] < pd.Timestamp(earned_before)
        return float(r.loc[keep, "points"].sum())

    def cross_channel(self) -> pd.DataFrame:
        """Redeemed points by earning channel (rows) and redeeming channel (columns), as
        shares of each row."""
        table = self.redemptions.pivot_table(
            index="earned_channel", columns="channel", values="points", aggfunc="sum", fill_value=0
        )
        return table.div(table.sum(axis=1), axis=0)


def simulate_points(
    orders: pd.DataFrame,
    person_ids: np.ndarray,
    params: PointsParams,
    end: pd.Timestamp,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray, PointsTruth]:
    """Run the programme over ``orders`` (columns ``person``, ``ts``, ``amount``, ``online``).

    Returns
    -------
    earned, redeemed : numpy.ndarray
        Points earned and redeemed on each order, aligned with ``orders``.
    truth : PointsTruth
    """
    p = params
    n = len(person_ids)
    q = rng.beta(*p.redeem_beta, size=n)
    u = rng.random(len(orders))
    person = orders["person"].to_numpy()
    ts = orders["ts"].to_numpy().astype("datetime64[s]").astype(np.int64)
    amount = orders["amount"].to_numpy(dtype=float)
    earned = np.floor(amount * p.earn_per_unit + 1e-9).astype(np.int64)
    redeemed = np.zeros(len(orders), np.int64)
    life = p.expiry_days * 86400
    lot_left = earned.copy()
    expired = np.zeros(len(orders), np.int64)
    alloc: list[tuple[int, int, int]] = []  # (lot row, redeeming row, points)
    order = np.lexsort((np.arange(len(orders)), ts, person))
    open_lots: deque[int] = deque()
    balance = 0
    prev = -1
    for i in order:
        if person[i] != prev:
            open_lots.clear()
            balance, prev = 0, person[i]
        while open_lots and ts[open_lots[0]] + life <= ts[i]:
            lot = open_lots.popleft()
            expired[lot] = lot_left[lot]
            balance -= int(lot_left[lot])
            lot_left[lot] = 0
        if balance >= p.min_redeem and u[i] < q[person[i]]:
            cap = p.max_order_share * amount[i] / p.value_per_point
            want = int(min(balance, cap) // p.redeem_block * p.redeem_block)
            redeemed[i] = want
            balance -= want
            while want > 0:
                lot = open_lots[0]
                take = int(min(want, lot_left[lot]))
                alloc.append((int(lot), int(i), take))
                lot_left[lot] -= take
                want -= take
                if lot_left[lot] == 0:
                    open_lots.popleft()
        if earned[i] > 0:
            open_lots.append(int(i))
            balance += int(earned[i])
    end_s = int(pd.Timestamp(end).value // 10**9)
    gone = (ts + life <= end_s) & (lot_left > 0)
    expired[gone] += lot_left[gone]
    truth = _truth(orders, person_ids, earned, expired, alloc, q, p, pd.Timestamp(end))
    return earned, redeemed, truth


def _truth(
    orders: pd.DataFrame,
    person_ids: np.ndarray,
    earned: np.ndarray,
    expired: np.ndarray,
    alloc: list[tuple[int, int, int]],
    q: np.ndarray,
    p: PointsParams,
    end: pd.Timestamp,
) -> PointsTruth:
    channel = np.where(orders["online"].to_numpy(dtype=bool), "online", "offline")
    ts = pd.to_datetime(orders["ts"]).to_numpy()
    person = orders["person"].to_numpy()
    a = np.asarray(alloc, dtype=np.int64).reshape(-1, 3)
    used = np.bincount(a[:, 0], weights=a[:, 2], minlength=len(orders)).astype(np.int64)
    has = earned > 0
    lots = pd.DataFrame({
        "person_id": person_ids[person[has]],
        "earned_at": ts[has],
        "channel": channel[has],
        "points": earned[has],
        "redeemed": used[has],
        "expired": expired[has],
        "expires_at": ts[has] + np.timedelta64(p.expiry_days, "D"),
    })  # fmt: skip
    redemptions = pd.DataFrame({
        "person_id": person_ids[person[a[:, 1]]],
        "earned_at": ts[a[:, 0]],
        "earned_channel": channel[a[:, 0]],
        "redeemed_at": ts[a[:, 1]],
        "channel": channel[a[:, 1]],
        "points": a[:, 2],
    })  # fmt: skip
    propensity = pd.Series(
        q, index=pd.Index(person_ids, name="person_id"), name="redeem_propensity"
    )
    return PointsTruth(lots, redemptions, propensity, p, end)
