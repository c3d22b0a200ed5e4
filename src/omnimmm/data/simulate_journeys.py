"""Seeded customer-journey worlds with causal truth, for the journey attribution models.

Every customer has a latent purchase *intent* (log-normal) and a store affinity. Each day
each channel touches a customer ``Poisson(rate * intent**intent_power / E[...])`` times, so
intent-driven channels (search) reach the people who would buy anyway. The daily purchase
probability is::

    logit p(i, t) = a0 + log intent_i
                    + sum_c  beta_c * s(e_c(i, t))                       (own effects)
                    + sum_cd gamma_cd * s(e_c(i, t)) * s(e_d(i, t))      (priming)
                    + b_recent * [bought in the last 7 days]             (refractory)
                    + b_loyal * log(1 + purchases so far)                (repeat buying)

with ``e_c`` the exposure of channel ``c``: today's and past touches, each decayed with the
channel's half-life, and ``s(x) = 1 - exp(-x)`` its saturation. A purchase happens online
or in store, the store with probability ``expit(affinity_i + store_lift * s(e_offline))``
where ``e_offline`` sums the offline channels' exposures; its value is log-normal with a
mean by place.

The default world has five channels: ``display`` is touched most often and has the
smallest positive effect, ``email`` has no effect at all (a negative control), ``social``
primes ``search`` and ``direct_mail`` is an offline channel that also moves purchases into
stores.

Truth. The same random numbers (touch counts, purchase and place uniforms, values) are
replayed with one channel's touches removed; a channel's incremental conversions and
revenue are the factual totals minus those of its removal world, and its *share* is its
part of the summed incremental conversions (the quantity ``attribution.json`` reports).
A channel with no effect therefore has exactly zero incremental conversions.

Touches are logged only up to each customer's last purchase when
``log_until_last_purchase`` is true (as path exports of attribution tools are); touches of
customers who never buy are all logged. Touches happen in the first 60% of a day and
purchases after, so a same-day touch precedes the purchase it may have caused.

Customers are simulated in chunks, so a million of them fit in memory.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

__all__ = [
    "JourneyChannel",
    "JourneyWorld",
    "WORLDS",
    "default_channels",
    "simulate_journeys",
    "world_settings",
]

_START = pd.Timestamp("2026-01-01")
_TOUCH_PART = 0.6  # touches in [0, 0.6) of a day, purchases in [0.6, 1)
_CHUNK = 50_000


@dataclass(frozen=True)
class JourneyChannel:
    """One touch channel of a simulated world and its true effect."""

    name: str
    kind: str  # "online" or "offline"
    rate: float  # touches per customer-day at average intent
    beta: float  # effect on the purchase logit of a saturated exposure
    half_life: float  # days
    intent_power: float = 0.0  # touch rate grows as intent**intent_power
    cost: float = 0.1  # cost per touch


def default_channels() -> tuple[JourneyChannel, ...]:
    """The default world's channels (see the module docstring)."""
    return (
        JourneyChannel("search", "online", 0.03, 1.0, 2.0, intent_power=1.0, cost=0.8),
        JourneyChannel("social", "online", 0.05, 0.45, 4.0, intent_power=0.3, cost=0.2),
        JourneyChannel("display", "online", 0.16, 0.08, 2.0, intent_power=0.5, cost=0.02),
        JourneyChannel("email", "online", 0.08, 0.0, 3.0, cost=0.005),
        JourneyChannel("direct_mail", "offline", 0.015, 0.7, 7.0, intent_power=0.2, cost=1.5),
    )


def _other_channels() -> tuple[JourneyChannel, ...]:
    return (
        JourneyChannel("search", "online", 0.04, 0.8, 1.0, intent_power=1.0, cost=0.6),
        JourneyChannel("video", "online", 0.06, 0.35, 10.0, intent_power=0.4, cost=0.3),
        JourneyChannel("display", "online", 0.2, 0.06, 2.0, intent_power=0.6, cost=0.02),
        JourneyChannel("email", "online", 0.1, 0.0, 3.0, intent_power=0.8, cost=0.005),
        JourneyChannel("sms", "online", 0.05, 0.25, 1.0, cost=0.05),
        JourneyChannel("flyer", "offline", 0.02, 0.6, 5.0, cost=1.0),
    )


def _mixed_channels() -> tuple[JourneyChannel, ...]:
    return (
        JourneyChannel("search", "online", 0.02, 1.2, 0.5, intent_power=1.2, cost=0.7),
        JourneyChannel("push", "online", 0.25, 0.0, 2.0, intent_power=0.5, cost=0.001),
        JourneyChannel("social", "online", 0.06, 0.3, 6.0, intent_power=0.2, cost=0.1),
        JourneyChannel("affiliate", "online", 0.03, 0.5, 1.0, intent_power=0.6, cost=0.4),
        JourneyChannel("catalog", "offline", 0.01, 0.9, 14.0, cost=2.0),
    )


WORLDS = ("default", "other", "full_log", "weak_intent", "mixed")


def world_settings(name: str) -> dict[str, Any]:
    """Keyword arguments of :func:`simulate_journeys` for a named world, to check that a
    method generalises beyond the default world.

    ``default``: the module's world. ``other``: six channels with other rates, half-lives
    (1 to 10 days) and effects, ``video`` priming ``search``, and a no-effect ``email``
    aimed at high-intent customers (a confounded negative control). ``full_log``: the
    default world with every touch logged. ``weak_intent``: intent spread 0.4 instead of
    0.8, a higher base rate and no priming. ``mixed`` (added to test generalisation, not
    tuned on): five other channels -- the most frequent one (``push``) has no effect and
    is aimed at high-intent customers, ``catalog`` (offline) has a 14-day half-life and
    primes search, search acts within half a day -- with weaker refractoriness and
    stronger loyalty than the default.
    """
    if name == "default":
        return {}
    if name == "other":
        return {"channels": _other_channels(), "priming": {("video", "search"): 0.6},
                "base_rate": 0.003, "intent_sd": 1.0, "store_lift": 1.0}  # fmt: skip
    if name == "full_log":
        return {"log_until_last_purchase": False}
    if name == "mixed":
        return {"channels": _mixed_channels(), "priming": {("catalog", "search"): 0.4},
                "base_rate": 0.003, "intent_sd": 0.9, "b_recent": -0.5, "b_loyal": 0.4}  # fmt: skip
    if name == "weak_intent":
        return {"intent_sd": 0.4, "base_rate": 0.006, "priming": {}}
    raise ValueError(f"unknown journey world {name!r}; known: {', '.join(WORLDS)}")


@dataclass(frozen=True, eq=False)
class JourneyWorld:
    """A simulated world: the logs a tool would see and the causal truth behind them.

    Attributes
    ----------
    touches : pandas.DataFrame
        ``customer_id, ts, channel, cost``.
    conversions : pandas.DataFrame
        ``customer_id, ts, value, channel`` (``online`` or ``store``).
    truth : pandas.DataFrame
        Per channel: ``name, kind, touches, incremental_conversions, incremental_revenue,
        share`` (of the summed incremental conversions).
    baseline_conversions : int
        Conversions with every channel's touches removed.
    params : dict
        The settings that made the world.
    """

    touches: pd.DataFrame
    conversions: pd.DataFrame
    truth: pd.DataFrame
    baseline_conversions: int
    params: dict[str, Any] = field(default_factory=dict)


def _sat(x: np.ndarray) -> np.ndarray:
    return 1.0 - np.exp(-x)


def _run(
    counts: np.ndarray,
    keep: np.ndarray,
    base: np.ndarray,
    affinity: np.ndarray,
    u_buy: np.ndarray,
    u_place: np.ndarray,
    chans: tuple[JourneyChannel, ...],
    priming: dict[tuple[str, str], float],
    store_lift: float,
    b_recent: float,
    b_loyal: float,
) -> tuple[np.ndarray, np.ndarray]:
    """Replay a chunk's days with the channels in ``keep``; purchases and store flags."""
    n, days, n_ch = counts.shape
    decay = np.array([0.5 ** (1.0 / c.half_life) for c in chans])
    beta = np.array([c.beta for c in chans])
    offline = np.array([c.kind == "offline" for c in chans])
    index = {c.name: k for k, c in enumerate(chans)}
    pairs = [(index[a], index[b], g) for (a, b), g in priming.items()]
    expo = np.zeros((n, n_ch))
    n_bought = np.zeros(n)
    last = np.full(n, -(10**6))
    buy = np.zeros((n, days), dtype=bool)
    store = np.zeros((n, days), dtype=bool)
    for t in range(days):
        expo = expo * decay + counts[:, t, :] * keep
        s = _sat(expo)
        logit = base + s @ beta + b_recent * (t - last <= 7) + b_loyal * np.log1p(n_bought)
        for a, b, g in pairs:
            logit = logit + g * s[:, a] * s[:, b]
        p = 1.0 / (1.0 + np.exp(-logit))
        now = u_buy[:, t] < p
        p_store = 1.0 / (1.0 + np.exp(-(affinity + store_lift * _sat(expo[:, offline].sum(1)))))
        buy[:, t] = now
        store[:, t] = now & (u_place[:, t] < p_store)
        n_bought += now
        last = np.where(now, t, last)
    return buy, store


def simulate_journeys(
    n_customers: int = 20_000,
    days: int = 120,
    seed: int = 0,
    channels: tuple[JourneyChannel, ...] | None = None,
    priming: dict[tuple[str, str], float] | None = None,
    base_rate: float = 0.004,
    intent_sd: float = 0.8,
    store_lift: float = 1.5,
    b_recent: float = -1.0,
    b_loyal: float = 0.25,
    log_until_last_purchase: bool = True,
    value_mean: tuple[float, float] = (80.0, 120.0),
    truth: bool = True,
) -> JourneyWorld:
    """Simulate customers' touches and purchases, and each channel's incremental effect.

    Parameters
    ----------
    n_customers, days : int
        Customers (all present from the first day) and days simulated.
    seed : int
        Same seed, same world.
    channels : tuple of JourneyChannel, optional
        Default :func:`default_channels`.
    priming : dict, optional
        ``{(a, b): gamma}`` interaction of two channels' saturated exposures on the
        purchase logit; default ``{("social", "search"): 0.8, ("direct_mail", "search"):
        0.5}`` (only pairs of channels present are used).
    base_rate : float
        Daily purchase probability at average intent without touches.
    intent_sd : float
        Standard deviation of log intent.
    store_lift : float
        Effect of offline exposure on the log-odds of buying in store.
    b_recent, b_loyal : float
        Refractory effect of a purchase in the last 7 days, loyalty per log purchase.
    log_until_last_purchase : bool
        Drop touches after a buyer's last purchase from the log.
    value_mean : (float, float)
        Mean order value online and in store.
    truth : bool
        Compute the removal worlds (one replay per channel).

    Returns
    -------
    JourneyWorld
    """
    chans = channels if channels is not None else default_channels()
    names = [c.name for c in chans]
    prim = priming if priming is not None else {("social", "search"): 0.8,
                                                 ("direct_mail", "search"): 0.5}  # fmt: skip
    prim = {k: v for k, v in prim.items() if k[0] in names and k[1] in names}
    root = np.random.SeedSequence(seed)
    touch_parts: list[pd.DataFrame] = []
    conv_parts: list[pd.DataFrame] = []
    n_ch = len(chans)
    inc_conv = np.zeros(n_ch)
    inc_rev = np.zeros(n_ch)
    n_touch = np.zeros(n_ch, dtype=np.int64)
    baseline = 0
    a0 = np.log(base_rate / (1 - base_rate))
    for start in range(0, n_customers, _CHUNK):
        n = min(_CHUNK, n_customers - start)
        rng = np.random.default_rng(root.spawn(1)[0])
        log_intent = rng.normal(-0.5 * intent_sd**2, intent_sd, n)
        intent = np.exp(log_intent)
        affinity = rng.normal(0.0, 1.0, n)
        rates = np.stack(
            [c.rate * intent**c.intent_power / np.exp(0.5 * (c.intent_power * intent_sd) ** 2
                                                      - 0.5 * c.intent_power * intent_sd**2)
             for c in chans], axis=1,
        )  # fmt: skip
        counts = rng.poisson(rates[:, None, :], size=(n, days, n_ch)).astype(np.float64)
        u_buy = rng.random((n, days))
        u_place = rng.random((n, days))
        z_value = rng.normal(0.0, 0.5, (n, days))
        base = a0 + log_intent
        args = (base, affinity, u_buy, u_place, chans, prim, store_lift, b_recent, b_loyal)
        buy, store = _run(counts, np.ones(n_ch), *args)
        value = np.where(store, value_mean[1], value_mean[0]) * np.exp(z_value - 0.125)
        total_rev = float(value[buy].sum())
        if truth:
            for k in range(n_ch):
                keep = np.ones(n_ch)
                keep[k] = 0.0
                b_k, s_k = _run(counts, keep, *args)
                v_k = np.where(s_k, value_mean[1], value_mean[0]) * np.exp(z_value - 0.125)
                inc_conv[k] += float(buy.sum() - b_k.sum())
                inc_rev[k] += total_rev - float(v_k[b_k].sum())
            b_0, _ = _run(counts, np.zeros(n_ch), *args)
            baseline += int(b_0.sum())
        n_touch += counts.sum(axis=(0, 1)).astype(np.int64)
        touch_parts.append(_touch_log(counts, buy, start, names, chans, rng,
                                      log_until_last_purchase))  # fmt: skip
        conv_parts.append(_conversion_log(buy, store, value, start, rng))
    touches = pd.concat(touch_parts, ignore_index=True)
    conversions = pd.concat(conv_parts, ignore_index=True)
    total = inc_conv.sum()
    truth_df = pd.DataFrame({
        "name": names,
        "kind": [c.kind for c in chans],
        "touches": n_touch,
        "incremental_conversions": inc_conv,
        "incremental_revenue": inc_rev,
        "share": inc_conv / total if total else np.full(n_ch, np.nan),
    })  # fmt: skip
    params = {"n_customers": n_customers, "days": days, "seed": seed, "base_rate": base_rate,
              "intent_sd": intent_sd, "store_lift": store_lift, "b_recent": b_recent,
              "b_loyal": b_loyal, "log_until_last_purchase": log_until_last_purchase,
              "priming": {f"{a}x{b}": g for (a, b), g in prim.items()},
              "channels": [c.__dict__ for c in chans]}  # fmt: skip
    return JourneyWorld(touches, conversions, truth_df, baseline, params)


def _ids(idx: np.ndarray) -> np.ndarray:
    return np.char.add("U", np.char.zfill(idx.astype(str), 7))


def _touch_log(
    counts: np.ndarray,
    buy: np.ndarray,
    start: int,
    names: list[str],
    chans: tuple[JourneyChannel, ...],
    rng: np.random.Generator,
    until_last: bool,
) -> pd.DataFrame:
    n, days, _ = counts.shape
    cust, day, ch = np.nonzero(counts)
    reps = counts[cust, day, ch].astype(np.int64)
    cust, day, ch = np.repeat(cust, reps), np.repeat(day, reps), np.repeat(ch, reps)
    if until_last:
        any_buy = buy.any(axis=1)
        last_day = np.where(any_buy, days - 1 - np.argmax(buy[:, ::-1], axis=1), days)
        ok = day <= last_day[cust]
        cust, day, ch = cust[ok], day[ok], ch[ok]
    seconds = rng.random(cust.size) * _TOUCH_PART * 86_400
    ts = _START + pd.to_timedelta(day * 86_400 + seconds.astype(np.int64), unit="s")
    cost = np.array([c.cost for c in chans])[ch]
    frame = pd.DataFrame({"customer_id": _ids(cust + start), "ts": ts,
                          "channel": np.asarray(names, dtype=object)[ch], "cost": cost})  # fmt: skip
    return frame.sort_values(["customer_id", "ts"], ignore_index=True)


def _conversion_log(
    buy: np.ndarray, store: np.ndarray, value: np.ndarray, start: int, rng: np.random.Generator
) -> pd.DataFrame:
    cust, day = np.nonzero(buy)
    seconds = (_TOUCH_PART + rng.random(cust.size) * (1 - _TOUCH_PART)) * 86_399
    ts = _START + pd.to_timedelta(day * 86_400 + seconds.astype(np.int64), unit="s")
    place = np.where(store[cust, day], "store", "online")
    return pd.DataFrame({"customer_id": _ids(cust + start), "ts": ts,
                         "value": np.round(value[cust, day], 2), "channel": place})  # fmt: skip
