"""Seeded omnichannel worlds with known ground truth, for recovery tests and the demo.

A world is a weekly panel (Mondays, CNY) of eight media channels -- online ``search``,
``social``, ``display``, ``online_video``; offline ``tv``, ``outdoor``, ``print``,
``radio`` -- and two outcomes, ``online_revenue`` and ``offline_revenue`` (store sales),
generated from the additive model the MMM fits, so that recovery is possible::

    y_o(t) = intercept_o * (1 + trend_o * years(t))                    trend
           + sum_k a_ok sin(2 pi k d(t)) + b_ok cos(2 pi k d(t))        yearly seasonality
           + sum_e phi_oe * event_e(t)                                  festivals
           + price_o * (price_index(t) - 1)                             price
           + sum_c beta_co * hill_c(adstock_c(spend_c / scale_c))       media
           + gamma_o * hill_tv(t) * hill_search(t)                      synergy (optional)
           + eps_o(t)                                                   noise

with ``d(t)`` the fraction of the year elapsed at the week start, ``years(t)`` the years
since the first week, and ``eps`` Gaussian, correlated across outcomes (``rho = 0.5``),
with standard deviation ``noise`` times the outcome's mean level.

Flighting is realistic: search is always on and follows demand; social, display and video
are always on with campaign spikes before 618 and Double 11; TV and outdoor run in bursts
(around Spring Festival, 618, Double 11 and at random) with off weeks between; print and
radio switch on and off. How much spend moves independently of the calendar is set from
real spend data: search's weekly spend has a coefficient of variation of about 0.4-0.5 and
the always-on channels 0.5-0.75 (the real retailer's digital channels: 0.54-0.94, its
search 0.80; Meridian's and Robyn's simulated worlds: 0.2-0.9), and TV and outdoor are off
air about two weeks in three. Every parameter is kept in ``World.truth.params`` and the ROI,
weekly contributions and next-quarter horizon value follow DESIGN.md exactly (see
:mod:`omnimmm.data.simulate_truth`).

Randomness is split by purpose (baseline, price, noise, synergy, one stream per channel),
so a world with a subset of channels, or with cross effects or synergy switched off,
shares every other draw with the full world of the same seed.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

from omnimmm.data.calendar import CALENDARS, SPRING_FESTIVAL, festival_days, festival_weeks
from omnimmm.data.outputs import write_files_atomic
from omnimmm.data.simulate_truth import MediaResponse, Truth
from omnimmm.data.toml_writer import dumps_toml
from omnimmm.errors import PlanError
from omnimmm.transforms import adstock, delayed_weights, geometric_weights, hill

__all__ = ["CHANNELS", "OUTCOMES", "ChannelSpec", "World", "simulate_world", "write_world"]

OUTCOMES: tuple[str, str] = ("online_revenue", "offline_revenue")
EVENTS: tuple[str, ...] = CALENDARS["china"]
MIN_WEEKS, MAX_WEEKS = 104, 208
NOISE_CORRELATION = 0.5
Range = tuple[float, float]


@dataclass(frozen=True)
class ChannelSpec:
    """How one default channel is flighted and which ranges its true parameters come from.

    ``roi`` is the target return (CNY of revenue per CNY of spend) on the channel's home
    outcome (online revenue for online channels, store revenue for offline ones); ``cross``
    the effect on the other outcome as a share of the home effect. ``bursts`` maps a
    festival to (weeks of lead before it, burst length) ranges; ``extra_bursts`` is the
    number of further bursts per year at random weeks.
    """

    name: str
    kind: Literal["online", "offline"]
    level: float
    flighting: Literal["demand", "always_on", "burst", "intermittent"]
    adstock: Literal["geometric", "delayed"]
    l_max: int
    alpha: Range
    slope: Range
    roi: Range
    cross: Range
    theta: Range = (0.0, 0.0)
    bursts: tuple[tuple[str, tuple[int, int], tuple[int, int]], ...] = ()
    extra_bursts: int = 0
    on_off: Range = (0.0, 0.0)


#: The default channels, in panel column order.
CHANNELS: tuple[ChannelSpec, ...] = (
    ChannelSpec("search", "online", 600e3, "demand", "geometric", 6,
                alpha=(0.2, 0.35), slope=(1.0, 1.3), roi=(2.4, 3.2), cross=(0.25, 0.4)),
    ChannelSpec("social", "online", 350e3, "always_on", "geometric", 6,
                alpha=(0.3, 0.5), slope=(1.0, 1.4), roi=(1.5, 2.4), cross=(0.2, 0.35)),
    ChannelSpec("display", "online", 150e3, "always_on", "geometric", 6,
                alpha=(0.2, 0.4), slope=(1.0, 1.3), roi=(0.5, 0.9), cross=(0.05, 0.15)),
    ChannelSpec("online_video", "online", 300e3, "always_on", "geometric", 6,
                alpha=(0.3, 0.5), slope=(1.1, 1.5), roi=(1.0, 1.6), cross=(0.1, 0.2)),
    ChannelSpec("tv", "offline", 1.0e6, "burst", "delayed", 13,
                alpha=(0.6, 0.8), slope=(1.5, 2.2), roi=(1.4, 2.0), cross=(0.4, 0.6),
                theta=(1.5, 3.0), extra_bursts=2,
                bursts=(("spring_festival", (3, 5), (5, 7)), ("event_618", (2, 3), (3, 4)),
                        ("double_11", (3, 4), (4, 5)))),
    ChannelSpec("outdoor", "offline", 400e3, "burst", "delayed", 13,
                alpha=(0.5, 0.7), slope=(1.3, 2.0), roi=(0.8, 1.3), cross=(0.2, 0.35),
                theta=(1.0, 2.0), extra_bursts=2,
                bursts=(("spring_festival", (4, 6), (6, 8)), ("double_11", (3, 4), (4, 5)))),
    ChannelSpec("print", "offline", 80e3, "intermittent", "delayed", 13,
                alpha=(0.5, 0.65), slope=(1.0, 1.5), roi=(0.3, 0.6), cross=(0.0, 0.0),
                theta=(1.0, 1.5), on_off=(0.7, 0.3)),
    ChannelSpec("radio", "offline", 100e3, "intermittent", "delayed", 13,
                alpha=(0.5, 0.7), slope=(1.1, 1.6), roi=(0.6, 1.1), cross=(0.05, 0.15),
                theta=(1.0, 2.0), on_off=(0.8, 0.25)),
)  # fmt: skip

SYNERGY = ("tv", "search")
_STREAM = {"baseline": 1, "price": 2, "noise": 3, "synergy": 4, "channel": 100}


@dataclass(frozen=True, eq=False)
class World:
    """A simulated panel, the plan that fits it, and the truth it was drawn from.

    Attributes
    ----------
    panel : pandas.DataFrame
        ``date``, one ``<channel>_spend`` column per channel (CNY per week), the outcomes
        (CNY per week), ``price_index`` and the festival indicators.
    plan : dict
        The plan as a TOML-able dict; ``data.path`` is ``"world.csv"``.
    truth : Truth
        Parameters, ROI, weekly contributions, horizon value.
    """

    panel: pd.DataFrame
    plan: dict[str, Any]
    truth: Truth

    @property
    def channels(self) -> tuple[str, ...]:
        """Channel names, in column order."""
        return self.truth.channels


def simulate_world(
    seed: int = 0,
    weeks: int = 156,
    channels: Sequence[str] | None = None,
    noise: float = 0.05,
    synergy: bool = True,
    cross_effects: bool = True,
    start: str = "2023-01-02",
) -> World:
    """Draw an omnichannel world with known ground truth.

    Parameters
    ----------
    seed : int, default 0
        Non-negative seed; the same seed and knobs give the same world (and bytes).
    weeks : int, default 156
        Number of weeks, 104 to 208.
    channels : sequence of str, optional
        A subset of :data:`CHANNELS` by name (default: all eight).
    noise : float, default 0.05
        Noise standard deviation as a share of each outcome's mean level, 0 to 0.5.
    synergy : bool, default True
        Add a TV x search interaction (when both channels are present).
    cross_effects : bool, default True
        Online channels lift store sales and offline channels lift online sales; ``False``
        sets those coefficients to zero and keeps every other draw.
    start : str, default "2023-01-02"
        First week, a Monday; the panel must end by 2040.

    Returns
    -------
    World

    Raises
    ------
    PlanError
        On a knob outside its range, naming the knob and what is accepted.
    """
    specs, dates = _check_knobs(seed, weeks, channels, noise, synergy, cross_effects, start)
    return _assemble(seed, specs, dates, noise, synergy, cross_effects)


#: Rewrites the (T, C) spend matrix of the named channels before the media parameters are
#: drawn (seeded by the world's seed): :mod:`omnimmm.data.simulate_hard` uses it.
SpendHook = Callable[[np.ndarray, tuple[str, ...], int], np.ndarray]
#: An extra (T, O) baseline part (the world's seed and dates in) and its parameters.
LevelHook = Callable[[int, pd.DatetimeIndex, np.ndarray], tuple[np.ndarray, dict[str, Any]]]


def _assemble(
    seed: int,
    specs: list[ChannelSpec],
    dates: pd.DatetimeIndex,
    noise: float,
    synergy: bool,
    cross_effects: bool,
    spend_hook: SpendHook | None = None,
    level_hook: LevelHook | None = None,
) -> World:
    """Draw the world from validated knobs; the hooks change spend or add a level part.

    Noise is scaled by the mean of the outcome without the hook's level part, so a world
    with a level hook has exactly the noise of the same world without it.
    """
    weeks = len(dates)
    events = festival_weeks(dates, "china")
    years = np.asarray((dates - dates[0]).days, float) / 365.25
    base_params, baseline, demand = _draw_baseline(_rng(seed, "baseline"), dates, events, years)
    price_params, price_index = _draw_price(_rng(seed, "price"), events)
    price_coef = np.array([base_params[o]["price_index"] for o in OUTCOMES])
    baseline = baseline + (price_index[:, None] - 1.0) * price_coef

    spend_cols, channel_draws = [], []
    for spec in specs:
        rng = _rng(seed, "channel", CHANNELS.index(spec))
        spend_cols.append(np.round(_flight(spec, rng, dates, events, demand)))
        channel_draws.append(rng)
    spend = np.column_stack(spend_cols)
    if spend_hook is not None:
        spend = np.round(spend_hook(spend, tuple(spec.name for spec in specs), seed))
    media, channel_params = _draw_media(
        specs, spend, channel_draws, _rng(seed, "synergy"), synergy, cross_effects
    )

    expected = baseline + media.media(spend)
    sd = noise * expected.mean(axis=0)
    level_params: dict[str, Any] = {}
    if level_hook is not None:
        level, level_params = level_hook(seed, dates, expected)
        expected = expected + level
    corr = np.array([[1.0, NOISE_CORRELATION], [NOISE_CORRELATION, 1.0]])
    eps = _rng(seed, "noise").standard_normal((len(dates), 2)) @ np.linalg.cholesky(corr).T * sd
    observed = np.round(expected + eps, 2)

    panel = pd.DataFrame({"date": dates})
    for spec, col in zip(specs, spend.T, strict=True):
        panel[f"{spec.name}_spend"] = col
    for k, outcome in enumerate(OUTCOMES):
        panel[outcome] = observed[:, k]
    panel["price_index"] = price_index
    for event in EVENTS:
        panel[event] = events[event].to_numpy()

    params: dict[str, Any] = {
        "seed": int(seed),
        "weeks": int(weeks),
        "start": str(dates[0].date()),
        "noise": float(noise),
        "synergy": bool(synergy),
        "cross_effects": bool(cross_effects),
        "currency": "CNY",
        "outcomes": list(OUTCOMES),
        "channels": channel_params,
        "synergies": [
            {
                "channels": [media.channels[i], media.channels[j]],
                "gamma": dict(zip(OUTCOMES, map(float, media.gamma[p]), strict=True)),
            }
            for p, (i, j) in enumerate(media.synergy_pairs)
        ],
        "baseline": base_params,
        "price_index": price_params,
        "noise_model": {
            "sd": dict(zip(OUTCOMES, map(float, sd), strict=True)),
            "correlation": NOISE_CORRELATION,
        },
        "formula": _FORMULA,
        **level_params,
    }
    expected_df = pd.DataFrame(expected, index=pd.Index(dates, name="date"), columns=OUTCOMES)
    truth = Truth.build(params, media, spend, dates, expected_df)
    return World(panel=panel, plan=_plan(seed, specs, media), truth=truth)


_FORMULA = {
    "outcome": "intercept*(1+trend_per_year*years) + fourier + sum_e festivals[e]*event_e"
    " + price_index_coef*(price_index-1) + sum_c beta[c]*h_c + sum_p gamma[p]*h_i*h_j + eps",
    "years": "(date - start).days / 365.25",
    "fourier": "sum_k sin_k*sin(2*pi*k*(day_of_year-1)/365.25) + cos_k*cos(...)",
    "h_c": "hill(adstock(spend_c/scale, weights), half_saturation, slope) with hill(a)="
    "a^slope/(a^slope+half_saturation^slope); adstock weights normalized to sum 1",
    "geometric_weights": "alpha**l, l=0..l_max-1",
    "delayed_weights": "alpha**((l-theta)**2), l=0..l_max-1",
}


def _rng(seed: int, stream: str, index: int = 0) -> np.random.Generator:
    return np.random.default_rng([seed, _STREAM[stream] + index])


def _check_knobs(
    seed: Any,
    weeks: Any,
    channels: Sequence[str] | None,
    noise: Any,
    synergy: Any,
    cross_effects: Any,
    start: Any,
) -> tuple[list[ChannelSpec], pd.DatetimeIndex]:
    """Validate the knobs; return the chosen channel specs and the week start dates."""
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
        raise PlanError(f"simulate: seed must be a non-negative integer, got {seed!r}")
    if isinstance(weeks, bool) or not isinstance(weeks, int | np.integer):
        raise PlanError(f"simulate: weeks must be an integer, got {weeks!r}")
    if not MIN_WEEKS <= weeks <= MAX_WEEKS:
        raise PlanError(
            f"simulate: weeks must be between {MIN_WEEKS} and {MAX_WEEKS} (two to four "
            f"years of weekly data), got {weeks}"
        )
    if isinstance(noise, bool) or not isinstance(noise, int | float | np.floating):
        raise PlanError(f"simulate: noise must be a number, got {noise!r}")
    if not (math.isfinite(noise) and 0.0 <= noise <= 0.5):
        raise PlanError(
            f"simulate: noise must be between 0 and 0.5 (sd as a share of mean revenue), "
            f"got {noise}"
        )
    for name, value in (("synergy", synergy), ("cross_effects", cross_effects)):
        if not isinstance(value, bool | np.bool_):
            raise PlanError(f"simulate: {name} must be True or False, got {value!r}")
    known = [spec.name for spec in CHANNELS]
    if channels is None:
        specs = list(CHANNELS)
    else:
        names = [channels] if isinstance(channels, str) else list(channels)
        unknown = [n for n in names if n not in known]
        if unknown or not names or len(set(names)) != len(names):
            raise PlanError(
                f"simulate: channels must be distinct names from {known}, got {names}"
                + (f" (unknown: {unknown})" if unknown else "")
            )
        specs = [spec for spec in CHANNELS if spec.name in names]
    try:
        first = pd.Timestamp(start)
    except (ValueError, TypeError):
        raise PlanError(
            f"simulate: start must be a date like '2023-01-02', got {start!r}"
        ) from None
    if first.weekday() != 0 or first != first.normalize():
        raise PlanError(f"simulate: start must be a Monday (weeks start on Mondays), got {start}")
    dates = pd.date_range(first, periods=int(weeks), freq="7D", name="date")
    lo, hi = min(SPRING_FESTIVAL), max(SPRING_FESTIVAL)
    if dates[0].year < lo or dates[-1].year >= hi:
        raise PlanError(
            f"simulate: the panel must lie within {lo}-{hi - 1} (festival calendar), "
            f"got {dates[0].date()} to {dates[-1].date()}"
        )
    return specs, dates


def _draw_baseline(
    rng: np.random.Generator, dates: pd.DatetimeIndex, events: pd.DataFrame, years: np.ndarray
) -> tuple[dict[str, Any], np.ndarray, np.ndarray]:
    """Trend, seasonality and festival parts of each outcome, and the online demand shape.

    Returns the parameters per outcome, the (T, O) baseline without price, and online
    demand relative to its intercept (seasonality plus festivals), which search follows.
    """
    intercept = {"online_revenue": 12e6, "offline_revenue": 18e6}
    trend = {"online_revenue": (0.06, 0.12), "offline_revenue": (-0.02, 0.03)}
    festival_share = {
        "online_revenue": {"spring_festival": (0.03, 0.08), "event_618": (0.30, 0.45),
                           "double_11": (0.45, 0.65)},
        "offline_revenue": {"spring_festival": (0.20, 0.35), "event_618": (0.03, 0.08),
                            "double_11": (0.05, 0.10)},
    }  # fmt: skip
    elasticity = {"online_revenue": (-2.0, -1.2), "offline_revenue": (-1.2, -0.6)}
    angle = 2.0 * np.pi * (dates.day_of_year.to_numpy() - 1) / 365.25
    params: dict[str, Any] = {}
    columns = []
    demand = np.zeros(len(dates))
    for outcome in OUTCOMES:
        level = intercept[outcome] * rng.uniform(0.9, 1.1)
        growth = rng.uniform(*trend[outcome])
        fourier = {}
        season = np.zeros(len(dates))
        for k in (1, 2):
            a, b = rng.normal(0.0, 0.04, size=2) * level
            fourier[f"sin_{k}"], fourier[f"cos_{k}"] = float(a), float(b)
            season += a * np.sin(k * angle) + b * np.cos(k * angle)
        phi = {e: float(rng.uniform(*festival_share[outcome][e]) * level) for e in EVENTS}
        festive = events[list(EVENTS)].to_numpy() @ np.array([phi[e] for e in EVENTS])
        columns.append(level * (1.0 + growth * years) + season + festive)
        params[outcome] = {
            "intercept": float(level),
            "trend_per_year": float(growth),
            "fourier": fourier,
            "festivals": phi,
            "price_index": float(rng.uniform(*elasticity[outcome]) * level),
        }
        if outcome == "online_revenue":
            demand = (season + festive) / level
    return params, np.column_stack(columns), demand


def _draw_price(rng: np.random.Generator, events: pd.DataFrame) -> tuple[dict, np.ndarray]:
    """Price index around 1: slow drift, festival promotions, a few random promo weeks."""
    n = len(events)
    depth = {"spring_festival": rng.uniform(0.01, 0.03), "event_618": rng.uniform(0.05, 0.08),
             "double_11": rng.uniform(0.08, 0.12)}  # fmt: skip
    drift = _ar1(rng, n, phi=0.7, sd=0.008)
    promo = (rng.random(n) < 0.06) * rng.uniform(0.02, 0.05, size=n)
    festive = sum(depth[e] * events[e].to_numpy() for e in EVENTS)
    price = np.round(1.0 + drift - promo - festive, 4)
    params = {
        "festival_discount": {e: float(v) for e, v in depth.items()},
        "drift": {"phi": 0.7, "sd": 0.008},
        "promo": {"prob": 0.06, "depth": [0.02, 0.05]},
    }
    return params, price


def _ar1(rng: np.random.Generator, n: int, phi: float, sd: float) -> np.ndarray:
    shocks = rng.normal(0.0, sd, size=n)
    out = np.empty(n)
    out[0] = shocks[0] / math.sqrt(1.0 - phi**2)
    for t in range(1, n):
        out[t] = phi * out[t - 1] + shocks[t]
    return out


def _event_weeks(dates: pd.DatetimeIndex, event: str) -> list[int]:
    """Index of the week containing ``event`` in each year (may be out of the panel)."""
    out = []
    for year in range(dates[0].year, dates[-1].year + 2):
        day = pd.Timestamp(festival_days(year)[event])
        out.append(int(np.floor((day - dates[0]).days / 7)))
    return out


def _flight(
    spec: ChannelSpec,
    rng: np.random.Generator,
    dates: pd.DatetimeIndex,
    events: pd.DataFrame,
    demand: np.ndarray,
) -> np.ndarray:
    """Weekly spend (CNY) of one channel following its flighting pattern."""
    n = len(dates)
    if spec.flighting == "demand":
        # Bid and budget changes move search independently of demand (CV about 0.5).
        return spec.level * (1.0 + demand) * np.exp(_ar1(rng, n, 0.7, 0.35))
    if spec.flighting == "always_on":
        spike = np.zeros(n)
        for event, lead in (("event_618", 2), ("double_11", 3)):
            for week in _event_weeks(dates, event):
                spike[max(week - lead, 0) : max(week + 1, 0)] = 1.0
        lift = rng.uniform(0.8, 1.5)
        # Heavier and lighter flights between campaigns (CV about 0.5-0.8 with the spikes).
        drift = np.exp(_ar1(rng, n, 0.7, 0.3) + rng.normal(0.0, 0.15, size=n))
        return spec.level * drift * (1.0 + lift * spike)
    if spec.flighting == "burst":
        on = np.zeros(n, dtype=bool)
        for event, (lead_lo, lead_hi), (len_lo, len_hi) in spec.bursts:
            for week in _event_weeks(dates, event):
                begin = week - int(rng.integers(lead_lo, lead_hi + 1))
                size = int(rng.integers(len_lo, len_hi + 1))
                on[max(begin, 0) : max(begin + size, 0)] = True
        for begin in range(0, n, 52):
            for _ in range(spec.extra_bursts):
                first = begin + int(rng.integers(0, 52))
                on[first : first + int(rng.integers(3, 6))] = True
        return np.where(on, spec.level * np.exp(rng.normal(0.0, 0.15, size=n)), 0.0)
    stay_on, turn_on = spec.on_off
    on = np.zeros(n, dtype=bool)
    draws = rng.random(n)
    on[0] = draws[0] < turn_on
    for t in range(1, n):
        on[t] = draws[t] < (stay_on if on[t - 1] else turn_on)
    return np.where(on, spec.level * np.exp(rng.normal(0.0, 0.2, size=n)), 0.0)


def _draw_media(
    specs: list[ChannelSpec],
    spend: np.ndarray,
    rngs: list[np.random.Generator],
    synergy_rng: np.random.Generator,
    synergy: bool,
    cross_effects: bool,
) -> tuple[MediaResponse, dict[str, Any]]:
    """Draw adstock, Hill and coefficients per channel, calibrated to target ROIs.

    The scale is the mean on-air weekly spend; the half-saturation is 0.7-1.3 times the
    mean adstocked scaled spend in on-air weeks; the home coefficient gives the drawn ROI
    target on the home outcome (before synergy), the cross coefficient a share of it.
    """
    n_lags = max(spec.l_max for spec in specs)
    weights = np.zeros((len(specs), n_lags))
    scale, half, slope = (np.empty(len(specs)) for _ in range(3))
    beta = np.zeros((len(specs), len(OUTCOMES)))
    params: dict[str, Any] = {}
    for c, (spec, rng) in enumerate(zip(specs, rngs, strict=True)):
        x = spend[:, c]
        alpha = float(rng.uniform(*spec.alpha))
        theta = float(rng.uniform(*spec.theta))
        if spec.adstock == "geometric":
            w = geometric_weights(alpha, spec.l_max, normalize=True)
        else:
            w = delayed_weights(alpha, theta, spec.l_max, normalize=True)
        weights[c, : spec.l_max] = w
        scale[c] = x[x > 0].mean()
        slope[c] = rng.uniform(*spec.slope)
        adstocked = np.asarray(adstock(x / scale[c], w))
        half[c] = rng.uniform(0.7, 1.3) * adstocked[x > 0].mean()
        h = np.asarray(hill(adstocked, half[c], slope[c]))
        home = 0 if spec.kind == "online" else 1
        roi_target = rng.uniform(*spec.roi)
        cross_share = rng.uniform(*spec.cross)
        beta[c, home] = roi_target * x.sum() / h.sum()
        beta[c, 1 - home] = cross_share * beta[c, home] if cross_effects else 0.0
        params[spec.name] = {
            "column": f"{spec.name}_spend",
            "kind": spec.kind,
            "flighting": spec.flighting,
            "adstock": spec.adstock,
            "l_max": spec.l_max,
            "alpha": alpha,
            **({"theta": theta} if spec.adstock == "delayed" else {}),
            "adstock_weights": [float(v) for v in w],
            "scale": float(scale[c]),
            "half_saturation": float(half[c]),
            "slope": float(slope[c]),
            "beta": dict(zip(OUTCOMES, map(float, beta[c]), strict=True)),
            "roi_target_home": float(roi_target),
            "cross_share": float(cross_share) if cross_effects else 0.0,
        }
    names = tuple(spec.name for spec in specs)
    pairs: tuple[tuple[int, int], ...] = ()
    gamma = np.zeros((0, len(OUTCOMES)))
    # Drawn whatever the knob says, so worlds with and without synergy share all else.
    share = synergy_rng.uniform(0.2, 0.35, size=len(OUTCOMES))
    if synergy and all(n in names for n in SYNERGY):
        i, j = (names.index(n) for n in SYNERGY)
        pairs = ((i, j),)
        # online: a share of search's online effect; store: a share of TV's store effect.
        gamma = np.array([[share[0] * beta[j, 0], share[1] * beta[i, 1]]])
    media = MediaResponse(names, OUTCOMES, scale, weights, half, slope, beta, pairs, gamma)
    return media, params


def _plan(seed: int, specs: list[ChannelSpec], media: MediaResponse) -> dict[str, Any]:
    """The plan that describes the world to the MMM (TOML-able)."""
    return {
        "seed": int(seed),
        "data": {
            "path": "world.csv",
            "date": "date",
            "outcomes": list(OUTCOMES),
            "controls": ["price_index"],
            "events": list(EVENTS),
        },
        "channels": [
            {
                "name": spec.name,
                "column": f"{spec.name}_spend",
                "kind": spec.kind,
                "adstock": spec.adstock,
                "l_max": spec.l_max,
                "saturation": "hill",
            }
            for spec in specs
        ],
        "budget": {"horizon_weeks": 13, "max_change": 0.5},
        "model": {
            "synergies": [[media.channels[i], media.channels[j]] for i, j in media.synergy_pairs]
        },
    }


def write_world(world: World, out_dir: str | os.PathLike[str]) -> list[Path]:
    """Write a world to ``out_dir``; return the paths written.

    Files: ``world.csv`` (the panel), ``plan.toml`` (reads ``world.csv`` next to it),
    ``truth_roi.csv``, ``truth_contributions.csv``, ``truth_params.json``. Everything is
    written to a temporary directory inside ``out_dir`` first and then moved into place,
    so an interrupted run leaves no half-written file. Same world, same bytes.

    Raises
    ------
    PlanError
        If ``out_dir`` exists and is not a directory.
    """
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise PlanError(f"simulate: output path {out} exists and is not a directory")
    out.mkdir(parents=True, exist_ok=True)
    truth = world.truth
    header = (
        f"Simulated omnichannel world (omnimmm.data.simulate), seed {world.plan['seed']}, "
        f"{len(world.panel)} weeks, amounts in CNY.\n"
        "Ground truth: truth_roi.csv, truth_contributions.csv, truth_params.json."
    )
    contents = {
        "world.csv": world.panel.to_csv(index=False, date_format="%Y-%m-%d", lineterminator="\n"),
        "plan.toml": dumps_toml(world.plan, header=header),
        "truth_roi.csv": truth.roi.to_csv(float_format="%.6f", lineterminator="\n"),
        "truth_contributions.csv": truth.contributions.to_csv(
            index=False, float_format="%.2f", lineterminator="\n"
        ),
        "truth_params.json": json.dumps(truth.params, indent=2) + "\n",
    }
    return write_files_atomic(out, contents)
