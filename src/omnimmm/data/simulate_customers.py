"""Seeded customer worlds with known truth, for the lifecycle models and identity resolution.

People are acquired week by week (the weekly acquisition volume can follow a media spend
series), then buy online and in stores until they churn. Every week, for each person::

    churn hazard  h = expit(b0 + b_rec * min(recency, 52) + b_trend * trend
                            + b_coupon * ever_used_coupon + b_tenure * tenure_years)
    online orders  ~ Poisson(rate * engagement * share       * season_online(t)  * coupon)
    store orders   ~ Poisson(rate * engagement * (1 - share) * season_offline(t) * coupon)

``rate`` is the person's gamma-distributed purchase rhythm, ``share`` their channel
preference, ``engagement`` a slow AR(1) drift in log space (so frequency can fall before a
person churns), ``recency`` weeks since the last order and ``trend`` the log ratio of a
fast (8-week) to a slow (26-week) moving average of weekly orders. All four terms are
observable from the transactions, so churn is predictable from behaviour. The seasons
carry Spring Festival (stores up, online down), 618 and Double 11 (online up).

Every ``campaign_every_weeks`` the business sends a retention coupon to everyone who
bought in the last 52 weeks, reached through the identity they used last; the segment is
the recency rule at send time (``active`` <= 8 weeks, ``at_risk`` <= 26, ``lapsed``
<= 52). A random ``treat_share`` gets the coupon, the rest is the control group. For the
``window_weeks`` after the send the coupon multiplies the treated person's purchase rate
by ``1 + rate_uplift[segment]`` and the churn hazard by ``hazard_multiplier[segment]``;
the first order in the window redeems it. Both potential outcomes of every targeted
person are simulated with the same random numbers, so the truth holds each person's
effect, not only its expectation.

Identities are fragmented as in real retail data (see
:mod:`omnimmm.data.simulate_customer_ids`): app accounts and store memberships written
with differently formatted phones and emails, typos, placeholders and people who link
nothing. The truth maps every row and every account, membership and device to its person.

Randomness is split by purpose (people, behaviour, campaigns, orders, identities), so the
same seed gives the same world, and a world without campaigns differs only by them.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any

import numpy as np
import pandas as pd
from scipy.special import expit, ndtri

from omnimmm.data.calendar import festival_weeks
from omnimmm.data.simulate_customer_ids import (
    IdentityDraws,
    attach_identities,
    draw_identities,
    link_groups,
)
from omnimmm.data.simulate_points import PointsParams, PointsTruth, simulate_points
from omnimmm.errors import DataError, PlanError

__all__ = [
    "SEGMENTS",
    "CustomerParams",
    "CustomerTruth",
    "CustomerWorld",
    "simulate_customers",
]

#: Retention segments, by recency at send time.
SEGMENTS: tuple[str, str, str] = ("active", "at_risk", "lapsed")
_STREAM = {"people": 1, "behaviour": 2, "campaign": 3, "orders": 4, "identities": 5, "points": 6}
_FAST, _SLOW = np.exp(-1 / 8), np.exp(-1 / 26)
_TREND_EPS = 0.05
_POISSON_KMAX = 15


@dataclass(frozen=True)
class CustomerParams:
    """True parameters of a customer world; the defaults give about 10 orders a person.

    Rates are per week, amounts in CNY. Tuples indexed by segment follow :data:`SEGMENTS`.
    """

    rate_mean: float = 0.16
    rate_shape: float = 1.5
    engagement_rho: float = 0.97
    engagement_sd: float = 0.1
    online_share_beta: tuple[float, float] = (0.7, 0.7)
    basket_median: float = 240.0
    basket_person_sd: float = 0.5
    basket_order_sd: float = 0.35
    basket_range: tuple[float, float] = (50.0, 2000.0)
    coupon_propensity_beta: tuple[float, float] = (0.6, 8.0)
    hazard_intercept: float = -4.7
    hazard_recency: float = 0.07
    hazard_trend: float = -0.6
    hazard_coupon: float = -0.8
    hazard_tenure: float = -0.4
    acquisition_elasticity: float = 1.0
    campaign_every_weeks: int = 13
    first_campaign_week: int = 26
    window_weeks: int = 4
    treat_share: float = 0.7
    segment_max_recency: tuple[int, int, int] = (8, 26, 52)
    coupon_value: tuple[float, float, float] = (10.0, 20.0, 30.0)
    rate_uplift: tuple[float, float, float] = (0.2, 1.0, 0.6)
    hazard_multiplier: tuple[float, float, float] = (0.8, 0.4, 0.6)
    n_stores: int = 40
    identity: IdentityDraws = field(default_factory=IdentityDraws)
    points: PointsParams | None = None

    def hazard(
        self,
        recency_weeks: np.ndarray | float,
        trend: np.ndarray | float,
        ever_coupon: np.ndarray | bool,
        tenure_years: np.ndarray | float,
    ) -> np.ndarray:
        """Weekly churn probability of a live customer without an active campaign coupon."""
        logit = (
            self.hazard_intercept
            + self.hazard_recency * np.minimum(recency_weeks, 52)
            + self.hazard_trend * np.asarray(trend, dtype=float)
            + self.hazard_coupon * np.asarray(ever_coupon, dtype=float)
            + self.hazard_tenure * np.asarray(tenure_years, dtype=float)
        )
        return expit(logit)


@dataclass(frozen=True, eq=False)
class CustomerTruth:
    """What the simulator knows and an analyst does not.

    Attributes
    ----------
    persons : pandas.DataFrame
        One row per person: ``person_id``, ``acquired_at``, ``churned_at`` (NaT if alive at
        the end), ``weekly_rate``, ``online_share``, ``basket_mean``, ``coupon_propensity``,
        ``n_accounts``, ``n_cards``, ``has_email``, ``unlinked`` (store contact differs from
        the app's).
    transactions_person : pandas.Series
        True ``person_id`` of each transaction row (aligned with the transactions index).
    transactions_link_group : pandas.Series
        Per row, the group of rows connected by a true shared key (same account, card,
        phone number, email or device, typos and placeholders breaking links): the best
        any resolver can do from exact keys. Rows of one person in different groups are
        the people who "link nothing".
    person_of : dict
        Every ``account_id``, ``member_id`` and real ``device_id`` to its ``person_id``.
    campaign_outcomes : pandas.DataFrame
        One row per campaign row: ``campaign_id``, ``person_id``, ``segment``, ``treated``
        and both potential outcomes over the window: ``purchased_treated`` /
        ``purchased_control`` (any order), ``orders_*`` and ``revenue_*`` (orders times
        the person's mean basket).
    uplift_by_segment : pandas.DataFrame
        Indexed by segment: ``n``, ``p_control``, ``p_treated``, ``uplift_purchase``,
        ``uplift_orders``, ``uplift_revenue`` (means of the individual effects).
    churned_at : pandas.Series
        ``churned_at`` indexed by ``person_id``.
    hazard_params : dict
        The churn hazard coefficients (see :meth:`CustomerParams.hazard`).
    params : CustomerParams
        Every parameter of the world.
    points : PointsTruth or None
        The points ledger when ``params.points`` is set (see :mod:`omnimmm.data.simulate_points`).
    """

    persons: pd.DataFrame
    transactions_person: pd.Series
    transactions_link_group: pd.Series
    person_of: dict[str, str]
    campaign_outcomes: pd.DataFrame
    uplift_by_segment: pd.DataFrame
    churned_at: pd.Series
    hazard_params: dict[str, float]
    params: CustomerParams
    points: PointsTruth | None = None


@dataclass(frozen=True, eq=False)
class CustomerWorld:
    """Transactions and retention campaigns of a simulated customer base, with the truth.

    Attributes
    ----------
    transactions : pandas.DataFrame
        One row per order or store receipt, sorted by ``ts``: ``order_id``, ``ts``,
        ``amount`` (CNY), ``channel`` (online/offline), ``store_id`` (NaN online),
        ``coupon_used``, ``source`` (app/store), ``account_id``, ``member_id``, ``phone``,
        ``email``, ``device_id`` (raw, messy, possibly NaN); ``points_earned`` and
        ``points_redeemed`` when ``params.points`` is set.
    campaigns : pandas.DataFrame
        One row per targeted identity per campaign: ``campaign_id``, ``sent_at``,
        ``treated``, ``coupon_value`` (CNY; 0 for the control group), ``segment``,
        ``channel`` (app_push/sms), ``account_id``, ``member_id``, ``phone`` (as on the
        identity that was reached).
    truth : CustomerTruth
    weeks : pandas.DatetimeIndex
        The simulated week starts.
    """

    transactions: pd.DataFrame
    campaigns: pd.DataFrame
    truth: CustomerTruth
    weeks: pd.DatetimeIndex

    def split(self, as_of: str | pd.Timestamp) -> tuple[pd.DataFrame, pd.DataFrame]:
        """Split the transactions into history and future at the end of day ``as_of``.

        As in the feature builder, the whole of day ``as_of`` is history: the observed
        part has ``ts < as_of + 1 day``, the future part the rest.
        """
        cutoff = pd.Timestamp(as_of).normalize() + pd.Timedelta(days=1)
        observed = self.transactions["ts"] < cutoff
        return self.transactions[observed], self.transactions[~observed]


@dataclass
class _State:
    """Per-person state of the weekly process (mutable, arrays of equal length)."""

    alive: np.ndarray
    last: np.ndarray
    last_online: np.ndarray
    last_offline: np.ndarray
    fast: np.ndarray
    slow: np.ndarray
    ever_coupon: np.ndarray
    redeemed: np.ndarray
    log_engagement: np.ndarray

    def take(self, idx: np.ndarray) -> _State:
        return _State(**{f.name: getattr(self, f.name)[idx].copy() for f in fields(self)})


@dataclass(frozen=True)
class _People:
    acq: np.ndarray
    rate: np.ndarray
    share: np.ndarray
    coupon: np.ndarray
    basket_mu: np.ndarray

    def take(self, idx: np.ndarray) -> _People:
        return _People(**{f.name: getattr(self, f.name)[idx] for f in fields(self)})


def simulate_customers(
    n_customers: int = 5000,
    start: str = "2023-01-02",
    end: str = "2025-12-28",
    seed: int = 0,
    campaign: bool = True,
    acquisition: pd.Series | pd.DataFrame | np.ndarray | None = None,
    params: CustomerParams | None = None,
) -> CustomerWorld:
    """Simulate customers buying online and in stores, churning and receiving coupons.

    Parameters
    ----------
    n_customers : int, default 5000
        People acquired over the period (each makes a first order in their week).
    start, end : str
        First week start and last day; weeks run from ``start`` every 7 days.
    seed : int, default 0
        Same seed and arguments give identical frames.
    campaign : bool, default True
        Send retention campaigns (with a random control group).
    acquisition : Series, DataFrame or array, optional
        Weekly media spend that drives acquisition volume: a Series indexed by week start,
        a media panel with a ``date`` column and ``*_spend`` columns (summed), or an array
        with one value per simulated week. Week ``t`` acquires in proportion to
        ``1 + acquisition_elasticity * (spend_t / mean_spend - 1)``. Without it,
        acquisition is flat with festival peaks.
    params : CustomerParams, optional
        True parameters; the defaults if omitted.

    Returns
    -------
    CustomerWorld
        1M customers (about 10M rows) take a few minutes and several GB of memory.
    """
    p = params if params is not None else CustomerParams()
    _check_args(n_customers, seed, p)
    weeks = _week_starts(start, end)
    festivals = festival_weeks(weeks)
    rng = {k: np.random.default_rng([seed, v]) for k, v in _STREAM.items()}
    intensity = _acquisition_intensity(weeks, festivals, acquisition, p)
    people = _draw_people(n_customers, intensity, p, rng["people"])
    season_on, season_off = _seasons(weeks, festivals)
    purchases, churn_week, sent = _simulate_weeks(
        people, season_on, season_off, p, campaign, rng["behaviour"], rng["campaign"]
    )
    orders = _expand_orders(purchases, people, weeks, end, p, rng["orders"])
    ids = draw_identities(n_customers, people.share, p.identity, rng["identities"])
    tx, tokens = attach_identities(orders, ids, p.identity, rng["identities"])
    person_ids = _person_labels(n_customers)
    persons = _persons_frame(person_ids, people, churn_week, weeks, ids, p)
    row_person = pd.Series(person_ids[orders["person"]], index=tx.index, name="person_id")
    groups = pd.Series(link_groups(tokens), index=tx.index, name="link_group")
    campaigns, outcomes = _campaign_frames(sent, ids, person_ids, weeks, people, p)
    points = None
    if p.points is not None:
        stop = pd.Timestamp(end).normalize() + pd.Timedelta(days=1)
        earned, redeemed, points = simulate_points(orders, person_ids, p.points, stop,
                                                   rng["points"])  # fmt: skip
        tx["points_earned"], tx["points_redeemed"] = earned, redeemed
    truth = CustomerTruth(
        persons=persons,
        transactions_person=row_person,
        transactions_link_group=groups,
        person_of=ids.person_of(person_ids),
        campaign_outcomes=outcomes,
        uplift_by_segment=_uplift_by_segment(outcomes),
        churned_at=persons.set_index("person_id")["churned_at"],
        hazard_params={
            "intercept": p.hazard_intercept,
            "recency_per_week": p.hazard_recency,
            "trend": p.hazard_trend,
            "coupon": p.hazard_coupon,
            "tenure_per_year": p.hazard_tenure,
        },
        params=p,
        points=points,
    )
    return CustomerWorld(transactions=tx, campaigns=campaigns, truth=truth, weeks=weeks)


def _check_args(n: int, seed: int, p: CustomerParams) -> None:
    if not isinstance(n, int | np.integer) or n < 1:
        raise PlanError(f"n_customers must be a positive integer, got {n!r}")
    if not isinstance(seed, int | np.integer) or seed < 0:
        raise PlanError(f"seed must be a non-negative integer, got {seed!r}")
    if not 0.0 < p.treat_share < 1.0:
        raise PlanError(f"treat_share must be in (0, 1), got {p.treat_share}")
    if not 1 <= p.window_weeks <= p.campaign_every_weeks:
        raise PlanError(
            f"window_weeks ({p.window_weeks}) must be between 1 and campaign_every_weeks "
            f"({p.campaign_every_weeks}) so that campaign windows do not overlap"
        )


def _week_starts(start: str, end: str) -> pd.DatetimeIndex:
    first, last = pd.Timestamp(start).normalize(), pd.Timestamp(end).normalize()
    weeks = pd.date_range(first, last, freq="7D")
    if len(weeks) < 8:
        raise PlanError(f"start={start!r} to end={end!r} spans fewer than 8 weeks")
    return weeks


def _acquisition_intensity(
    weeks: pd.DatetimeIndex,
    festivals: pd.DataFrame,
    acquisition: pd.Series | pd.DataFrame | np.ndarray | None,
    p: CustomerParams,
) -> np.ndarray:
    if acquisition is None:
        return 1.0 + 0.5 * festivals.to_numpy().sum(axis=1)
    spend = _weekly_spend(weeks, acquisition)
    mean = spend.mean()
    if not np.isfinite(mean) or mean <= 0:
        raise DataError("acquisition spend must be non-negative with a positive mean")
    return np.maximum(1.0 + p.acquisition_elasticity * (spend / mean - 1.0), 0.05)


def _weekly_spend(weeks: pd.DatetimeIndex, acquisition: Any) -> np.ndarray:
    if isinstance(acquisition, pd.DataFrame):
        cols = [c for c in acquisition.columns if str(c).endswith("_spend")]
        if "date" not in acquisition.columns or not cols:
            raise DataError(
                "acquisition panel needs a 'date' column and at least one '*_spend' column, "
                f"got columns {list(acquisition.columns)}"
            )
        series = acquisition[cols].sum(axis=1).set_axis(pd.to_datetime(acquisition["date"]))
        return _align(weeks, series)
    if isinstance(acquisition, pd.Series):
        return _align(weeks, acquisition.set_axis(pd.to_datetime(acquisition.index)))
    values = np.asarray(acquisition, dtype=float)
    if values.shape != (len(weeks),):
        raise DataError(
            f"acquisition array has shape {values.shape}, expected ({len(weeks)},): one "
            "spend value per simulated week"
        )
    if (values < 0).any() or not np.isfinite(values).all():
        raise DataError("acquisition spend must be finite and non-negative")
    return values


def _align(weeks: pd.DatetimeIndex, series: pd.Series) -> np.ndarray:
    """Spend of each simulated week: the last series value at or before the week start."""
    series = series.sort_index().astype(float)
    if (series < 0).any():
        raise DataError("acquisition spend must be non-negative")
    aligned = series.reindex(weeks, method="ffill")
    return aligned.fillna(series.mean()).to_numpy()


def _draw_people(
    n: int, intensity: np.ndarray, p: CustomerParams, rng: np.random.Generator
) -> _People:
    acq = rng.choice(len(intensity), size=n, p=intensity / intensity.sum())
    rate = rng.gamma(p.rate_shape, p.rate_mean / p.rate_shape, size=n)
    share = rng.beta(*p.online_share_beta, size=n)
    coupon = rng.beta(*p.coupon_propensity_beta, size=n)
    mu = np.log(p.basket_median) + p.basket_person_sd * rng.standard_normal(n)
    return _People(acq=np.sort(acq).astype(np.int32), rate=rate, share=share, coupon=coupon,
                   basket_mu=mu)  # fmt: skip


def _seasons(weeks: pd.DatetimeIndex, festivals: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Weekly multipliers of the online and the store purchase rate."""
    year = 2 * np.pi * (weeks.day_of_year.to_numpy() / 365.25)
    base = 1.0 + 0.08 * np.sin(year) + 0.05 * np.cos(2 * year)
    ev = {c: festivals[c].to_numpy() for c in festivals.columns}
    online = base * (1 - 0.3 * ev["spring_festival"] + 0.9 * ev["event_618"]
                     + 1.3 * ev["double_11"])  # fmt: skip
    offline = base * (1 + 0.7 * ev["spring_festival"] + 0.1 * ev["event_618"]
                      + 0.2 * ev["double_11"])  # fmt: skip
    return online, offline


def _poisson_inverse(u: np.ndarray, rate: np.ndarray) -> np.ndarray:
    """Poisson draws by inverse CDF, so two arms can share the same uniforms."""
    term = np.exp(-rate)
    cdf = term.copy()
    k = np.zeros(u.shape, dtype=np.int32)
    for j in range(1, _POISSON_KMAX + 1):
        more = u > cdf
        if not more.any():
            break
        k += more
        term = term * rate / j
        cdf += term
    return k


@dataclass(frozen=True)
class _Coupon:
    """Treated people of an active campaign window: mask and segment index."""

    active: np.ndarray
    segment: np.ndarray


def _step(
    t: int,
    s: _State,
    who: _People,
    draws: np.ndarray,
    season: tuple[float, float],
    coupon: _Coupon,
    p: CustomerParams,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Advance ``s`` by week ``t`` in place; return online and store orders and coupon flags.

    ``draws`` has rows churn, online, store, coupon uniforms and an engagement normal.
    """
    u_churn, u_on, u_off, u_coupon, z = draws
    new = who.acq == t
    existing = s.alive & (who.acq < t)
    tenure = (t - who.acq) / 52.0
    trend = np.log((s.fast + _TREND_EPS) / (s.slow + _TREND_EPS))
    hazard = p.hazard(t - s.last, trend, s.ever_coupon, tenure)
    seg = coupon.segment
    hazard = np.where(coupon.active, hazard * np.asarray(p.hazard_multiplier)[seg], hazard)
    churn = existing & (u_churn < hazard)
    s.alive = (existing & ~churn) | new
    s.log_engagement = p.engagement_rho * s.log_engagement + p.engagement_sd * z
    boost = np.where(coupon.active, 1.0 + np.asarray(p.rate_uplift)[seg], 1.0)
    base = np.where(s.alive, who.rate * np.exp(s.log_engagement) * boost, 0.0)
    n_on = _poisson_inverse(u_on, base * who.share * season[0])
    n_off = _poisson_inverse(u_off, base * (1.0 - who.share) * season[1])
    forced = new & (n_on + n_off == 0)
    first_online = u_on < who.share
    n_on = np.where(forced & first_online, 1, n_on)
    n_off = np.where(forced & ~first_online, 1, n_off)
    k = n_on + n_off
    bought = k > 0
    redeem = coupon.active & ~s.redeemed & bought
    used = bought & ((u_coupon < 1.0 - (1.0 - who.coupon) ** k) | redeem)
    s.redeemed |= redeem
    s.ever_coupon |= used
    s.last = np.where(bought, t, s.last)
    s.last_online = np.where(n_on > 0, t, s.last_online)
    s.last_offline = np.where(n_off > 0, t, s.last_offline)
    s.fast = _FAST * s.fast + (1 - _FAST) * k
    s.slow = _SLOW * s.slow + (1 - _SLOW) * k
    return n_on, n_off, used


def _simulate_weeks(
    people: _People,
    season_on: np.ndarray,
    season_off: np.ndarray,
    p: CustomerParams,
    campaign: bool,
    rng: np.random.Generator,
    rng_campaign: np.random.Generator,
) -> tuple[dict[str, np.ndarray], np.ndarray, list[dict[str, Any]]]:
    n, n_weeks = len(people.acq), len(season_on)
    s = _State(
        alive=np.zeros(n, bool),
        last=np.full(n, -1, np.int32),
        last_online=np.full(n, -1, np.int32),
        last_offline=np.full(n, -1, np.int32),
        fast=np.zeros(n),
        slow=np.zeros(n),
        ever_coupon=np.zeros(n, bool),
        redeemed=np.zeros(n, bool),
        log_engagement=rng.normal(0.0, p.engagement_sd / np.sqrt(1 - p.engagement_rho**2), n),
    )
    no_coupon = _Coupon(active=np.zeros(n, bool), segment=np.zeros(n, np.int8))
    coupon, window, window_start = no_coupon, None, -1
    sends = (
        set(range(p.first_campaign_week, n_weeks, p.campaign_every_weeks)) if campaign else set()
    )
    churn_week = np.full(n, -1, np.int32)
    record: dict[str, list[np.ndarray]] = {k: [] for k in ("person", "week", "on", "off", "cp")}
    sent: list[dict[str, Any]] = []
    for t in range(n_weeks):
        if t in sends:
            window = rng_campaign.random((min(p.window_weeks, n_weeks - t), 5, n))
            window[:, 4] = _normal_from_uniform(window[:, 4])
            window_start = t
            send = _send_campaign(t, s, people, season_on, season_off, window, p, rng_campaign)
            send["index"] = len(sent)
            sent.append(send)
            active = np.zeros(n, bool)
            active[send["person"][send["treated"]]] = True
            segment = np.zeros(n, np.int8)
            segment[send["person"]] = send["segment"]
            s.redeemed[:] = False
            coupon = _Coupon(active=active, segment=segment)
        if window is not None and t - window_start < len(window):
            draws = window[t - window_start]
        else:
            coupon, window = no_coupon, None
            draws = rng.random((5, n))
            draws[4] = _normal_from_uniform(draws[4])
        was_alive = s.alive.copy()
        n_on, n_off, used = _step(t, s, people, draws, (season_on[t], season_off[t]), coupon, p)
        churn_week[was_alive & ~s.alive] = t
        idx = np.flatnonzero(n_on + n_off)
        for key, values in zip(record, (idx, np.full(idx.size, t), n_on[idx], n_off[idx],
                                        used[idx]), strict=True):  # fmt: skip
            record[key].append(values.astype(np.int32 if key != "cp" else bool))
    purchases = {k: np.concatenate(v) for k, v in record.items()}
    return purchases, churn_week, sent


def _normal_from_uniform(u: np.ndarray) -> np.ndarray:
    return ndtri(np.clip(u, 1e-12, 1 - 1e-12))


def _send_campaign(
    t: int,
    s: _State,
    people: _People,
    season_on: np.ndarray,
    season_off: np.ndarray,
    window: np.ndarray,
    p: CustomerParams,
    rng: np.random.Generator,
) -> dict[str, Any]:
    """Target by recency at week ``t``, randomise, and simulate both arms of the window."""
    recency = t - s.last
    limits = np.asarray(p.segment_max_recency)
    target = np.flatnonzero((s.last >= 0) & (people.acq < t) & (recency <= limits[-1]))
    segment = np.searchsorted(limits, recency[target]).astype(np.int8)
    treated = rng.random(target.size) < p.treat_share
    basket = np.exp(people.basket_mu[target] + p.basket_order_sd**2 / 2)
    arms = {}
    for arm in (True, False):
        state, who = s.take(target), people.take(target)
        coupon = _Coupon(active=np.full(target.size, arm), segment=segment)
        orders = np.zeros(target.size, np.int32)
        for w in range(len(window)):
            draws = window[w][:, target]
            n_on, n_off, _ = _step(t + w, state, who, draws,
                                   (season_on[t + w], season_off[t + w]), coupon, p)  # fmt: skip
            orders += n_on + n_off
        arms[arm] = orders
    return {
        "week": t,
        "person": target,
        "segment": segment,
        "treated": treated,
        "via_app": s.last_online[target] >= s.last_offline[target],
        "orders_treated": arms[True],
        "orders_control": arms[False],
        "basket": basket,
    }


def _expand_orders(
    purchases: dict[str, np.ndarray],
    people: _People,
    weeks: pd.DatetimeIndex,
    end: str,
    p: CustomerParams,
    rng: np.random.Generator,
) -> pd.DataFrame:
    """One row per order: time within the week, amount, channel, store, coupon flag."""
    k = purchases["on"] + purchases["off"]
    person = np.repeat(purchases["person"], k)
    week = np.repeat(purchases["week"], k)
    first = np.repeat(np.cumsum(k) - k, k)
    position = np.arange(person.size) - first
    online = position < np.repeat(purchases["on"], k)
    day = rng.integers(0, 7, person.size)
    hour = np.where(online, rng.uniform(0, 24, person.size), rng.uniform(10, 22, person.size))
    seconds = (day * 86400 + hour * 3600).astype(np.int64)
    ts = weeks.to_numpy()[week] + seconds.astype("timedelta64[s]")
    lo, hi = p.basket_range
    amount = np.exp(people.basket_mu[person] + p.basket_order_sd * rng.standard_normal(person.size))
    amount = np.round(np.clip(amount, lo, hi), 2)
    home = rng.integers(0, p.n_stores, len(people.acq))
    store = np.where(rng.random(person.size) < 0.8, home[person],
                     rng.integers(0, p.n_stores, person.size))  # fmt: skip
    frame = pd.DataFrame({"person": person, "week": week, "ts": ts, "amount": amount,
                          "online": online, "store": store, "coupon_used": False})  # fmt: skip
    # the week's coupon goes on its earliest order
    record = np.repeat(np.arange(k.size), k)
    order = np.lexsort((ts, record))
    first_of_week = order[np.r_[True, record[order][1:] != record[order][:-1]]]
    frame.loc[first_of_week, "coupon_used"] = purchases["cp"][record[first_of_week]]
    frame = frame[ts < pd.Timestamp(end).normalize() + pd.Timedelta(days=1)]
    return frame.sort_values(["ts", "person"], kind="stable").reset_index(drop=True)


def _person_labels(n: int) -> np.ndarray:
    width = max(6, len(str(n)))
    return np.array([f"P{i:0{width}d}" for i in range(1, n + 1)], dtype=object)


def _persons_frame(
    person_ids: np.ndarray,
    people: _People,
    churn_week: np.ndarray,
    weeks: pd.DatetimeIndex,
    ids: Any,
    p: CustomerParams,
) -> pd.DataFrame:
    churned = pd.DatetimeIndex(weeks.to_numpy()[np.maximum(churn_week, 0)]).where(churn_week >= 0)
    return pd.DataFrame({
        "person_id": pd.array(person_ids, dtype="str"),
        "acquired_at": weeks[people.acq],
        "churned_at": churned,
        "weekly_rate": people.rate,
        "online_share": people.share,
        "basket_mean": np.exp(people.basket_mu + p.basket_order_sd**2 / 2),
        "coupon_propensity": people.coupon,
        "n_accounts": ids.n_accounts,
        "n_cards": ids.n_cards,
        "has_email": ids.has_email,
        "unlinked": ids.unlinked,
    })  # fmt: skip


def _campaign_frames(
    sent: list[dict[str, Any]],
    ids: Any,
    person_ids: np.ndarray,
    weeks: pd.DatetimeIndex,
    people: _People,
    p: CustomerParams,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    parts, truths = [], []
    for send in sent:
        cid = f"RC{send['index'] + 1:02d}"
        target, treated, seg = send["person"], send["treated"], send["segment"]
        reach = ids.reach(target, send["via_app"])
        value = np.where(treated, np.asarray(p.coupon_value)[seg], 0.0)
        sent_at = weeks[send["week"]] + pd.Timedelta(hours=10)
        parts.append(pd.DataFrame({
            "campaign_id": cid,
            "sent_at": sent_at,
            "treated": treated,
            "coupon_value": value,
            "segment": np.asarray(SEGMENTS, dtype=object)[seg],
            "channel": np.where(send["via_app"], "app_push", "sms"),
            **reach,
        }))  # fmt: skip
        o1, o0 = send["orders_treated"], send["orders_control"]
        truths.append(pd.DataFrame({
            "campaign_id": cid,
            "person_id": person_ids[target],
            "segment": np.asarray(SEGMENTS, dtype=object)[seg],
            "treated": treated,
            "purchased_treated": o1 > 0,
            "purchased_control": o0 > 0,
            "orders_treated": o1,
            "orders_control": o0,
            "revenue_treated": o1 * send["basket"],
            "revenue_control": o0 * send["basket"],
        }))  # fmt: skip
    columns = ["campaign_id", "sent_at", "treated", "coupon_value", "segment", "channel",
               "account_id", "member_id", "phone"]  # fmt: skip
    if not parts:
        empty = pd.DataFrame({c: pd.Series(dtype=object) for c in columns})
        return empty, pd.DataFrame()
    campaigns = pd.concat(parts, ignore_index=True)[columns]
    for col in ("campaign_id", "segment", "channel", "account_id", "member_id", "phone"):
        campaigns[col] = campaigns[col].astype("str")
    return campaigns, pd.concat(truths, ignore_index=True)


def _uplift_by_segment(outcomes: pd.DataFrame) -> pd.DataFrame:
    if outcomes.empty:
        return pd.DataFrame(
            columns=[
                "n",
                "p_control",
                "p_treated",
                "uplift_purchase",
                "uplift_orders",
                "uplift_revenue",
            ]  # fmt: skip
        )
    effect = outcomes.assign(
        d_purchase=outcomes["purchased_treated"].astype(float)
        - outcomes["purchased_control"].astype(float),
        d_orders=outcomes["orders_treated"] - outcomes["orders_control"],
        d_revenue=outcomes["revenue_treated"] - outcomes["revenue_control"],
    )
    table = effect.groupby("segment").agg(
        n=("person_id", "size"),
        p_control=("purchased_control", "mean"),
        p_treated=("purchased_treated", "mean"),
        uplift_purchase=("d_purchase", "mean"),
        uplift_orders=("d_orders", "mean"),
        uplift_revenue=("d_revenue", "mean"),
    )
    return table.reindex([s for s in SEGMENTS if s in table.index])
