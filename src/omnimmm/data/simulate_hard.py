"""Harder simulated worlds: panels that stress a default fit, with the same ground truth.

Each function draws a world with :func:`omnimmm.data.simulate.simulate_world`'s machinery
and changes one thing real panels do to a model:

* :func:`drifting_world` -- the baseline level follows a random walk (demand that drifts
  for reasons no column explains), on top of the trend, seasonality and festivals;
* :func:`collinear_world` -- two channels are flighted together most weeks (the second
  channel's on-air weeks copy the first's, and its spend moves with it);
* :func:`dark_world` -- a channel is dark (zero spend) for the first half of the panel, as a
  channel launched mid-way;
* :func:`small_units_world` -- every amount (spend and revenue) in millions instead of
  currency units, so a default that depends on the magnitude of the numbers shows.

Each returns a :class:`~omnimmm.data.simulate.World` whose ``truth`` holds the ROI per
channel (DESIGN.md's definition, on noise-free predictions), so the recovery tooling of
the default world applies unchanged; ``truth.params["hard_world"]`` says what was changed
and how strongly. Every other draw is the default world's of the same seed and knobs: the
*twin* (:func:`twin_world`) is that world, with the same media, spend (except what the
hard world changes) and noise. For the drifting world the twin has exactly the same
weekly noise, which makes it the negative control of a moving baseline: ROI should be
recovered about as well on the drifting world as on its fixed-baseline twin.

The default knobs are those of the identifiable world of the recovery tests (search,
social, TV and outdoor, 1% noise), where a correct model recovers ROI within about 10%.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pandas as pd

from omnimmm.data.simulate import OUTCOMES, World, _assemble, _check_knobs, simulate_world
from omnimmm.data.simulate_truth import Truth
from omnimmm.errors import PlanError

__all__ = [
    "BASE_CHANNELS",
    "BASE_NOISE",
    "HARD_WORLDS",
    "collinear_world",
    "dark_world",
    "drifting_world",
    "small_units_world",
    "twin_world",
]

#: Channels and noise of the hard worlds by default (the recovery tests' identifiable world).
BASE_CHANNELS: tuple[str, ...] = ("search", "social", "tv", "outdoor")
BASE_NOISE = 0.01
#: Seed streams of the hard worlds' own draws (apart from simulate.py's streams).
_STREAM = {"drift": 500, "collinear": 501}


def _rng(seed: int, stream: str) -> np.random.Generator:
    return np.random.default_rng([seed, _STREAM[stream]])


def _knobs(
    seed: int, weeks: int, channels: Sequence[str] | None, noise: float, synergy: bool
) -> tuple[list[Any], pd.DatetimeIndex]:
    chosen = BASE_CHANNELS if channels is None else channels
    return _check_knobs(seed, weeks, chosen, noise, synergy, True, "2023-01-02")


def _with_hard(world: World, info: dict[str, Any]) -> World:
    """The world with ``truth.params["hard_world"]`` set (a new Truth, same arrays)."""
    params = {**world.truth.params, "hard_world": info}
    return dataclasses.replace(world, truth=dataclasses.replace(world.truth, params=params))


def twin_world(
    seed: int = 0,
    weeks: int = 156,
    channels: Sequence[str] | None = None,
    noise: float = BASE_NOISE,
    synergy: bool = True,
) -> World:
    """The default world of the same seed and knobs: the hard worlds' point of comparison.

    Parameters are those of the hard worlds; the result is
    ``simulate_world(seed, weeks, channels or BASE_CHANNELS, noise, synergy)``.
    """
    chosen = BASE_CHANNELS if channels is None else channels
    return simulate_world(seed=seed, weeks=weeks, channels=chosen, noise=noise, synergy=synergy)


def drifting_world(
    seed: int = 0,
    weeks: int = 156,
    channels: Sequence[str] | None = None,
    noise: float = BASE_NOISE,
    synergy: bool = True,
    step: float = 0.01,
    shared: float = 0.7,
) -> World:
    """A world whose baseline level drifts as a random walk.

    Each outcome's level gets ``level_o(t) = sum_{s <= t} step * m_o * z_o(s)`` added
    (zero in the first week), with ``m_o`` the outcome's mean expected value over the
    first 52 weeks and standard normal shocks ``z`` that are correlated
    across outcomes (``shared`` of the variance common to both). Media, spend and weekly
    noise are those of :func:`twin_world` with the same arguments, exactly.

    Parameters
    ----------
    seed, weeks, channels, noise, synergy
        As :func:`omnimmm.data.simulate.simulate_world` (``channels`` defaults to
        :data:`BASE_CHANNELS`, ``noise`` to :data:`BASE_NOISE`).
    step : float, default 0.01
        Standard deviation of a weekly step as a share of the outcome's intercept
        (0 < step <= 0.05); over 156 weeks the level wanders by about ``12 * step``.
    shared : float, default 0.7
        Share of the step variance common to both outcomes, 0 to 1.

    Returns
    -------
    World
        ``truth.params["level_drift"]`` holds the path per outcome; ``truth.expected``
        includes it.
    """
    if not isinstance(step, int | float) or not 0.0 < step <= 0.05:
        raise PlanError(f"drifting_world: step must be in (0, 0.05], got {step!r}")
    if not isinstance(shared, int | float) or not 0.0 <= shared <= 1.0:
        raise PlanError(f"drifting_world: shared must be between 0 and 1, got {shared!r}")
    specs, dates = _knobs(seed, weeks, channels, noise, synergy)

    def level(seed_: int, dates_: pd.DatetimeIndex, expected: np.ndarray) -> tuple[Any, Any]:
        rng = _rng(seed_, "drift")
        n = len(dates_)
        common = rng.standard_normal(n)
        own = rng.standard_normal((n, len(OUTCOMES)))
        z = np.sqrt(shared) * common[:, None] + np.sqrt(1.0 - shared) * own
        z[0] = 0.0
        size = step * expected[:52].mean(axis=0)
        path = np.cumsum(z * size, axis=0)
        info = {
            "level_drift": {
                "kind": "random_walk",
                "step_share": float(step),
                "shared": float(shared),
                "step_sd": dict(zip(OUTCOMES, map(float, size), strict=True)),
                "path": {o: [round(float(v), 2) for v in path[:, k]]
                         for k, o in enumerate(OUTCOMES)},
            }
        }  # fmt: skip
        return path, info

    world = _assemble(seed, specs, dates, noise, synergy, True, level_hook=level)
    path = np.array([world.truth.params["level_drift"]["path"][o] for o in OUTCOMES]).T
    swing = (path.max(axis=0) - path.min(axis=0)) / world.truth.expected.mean().to_numpy()
    return _with_hard(
        world,
        {
            "kind": "drifting_baseline",
            "step": float(step),
            "range_share": dict(zip(OUTCOMES, map(float, swing), strict=True)),
        },
    )


def collinear_world(
    seed: int = 0,
    weeks: int = 156,
    channels: Sequence[str] | None = None,
    noise: float = BASE_NOISE,
    synergy: bool = True,
    pair: tuple[str, str] = ("tv", "outdoor"),
    overlap: float = 0.9,
) -> World:
    """A world in which two channels are flighted together most weeks.

    The second channel of ``pair`` is on air exactly when the first is, except in a share
    ``1 - overlap`` of the weeks (chosen at random), where its on/off state is flipped. In
    weeks both are on, its spend is its usual level times the first channel's spend
    relative to that channel's mean on-air spend, with 10% independent noise; its own
    off-pattern weeks get its usual level with 15% noise.

    Parameters
    ----------
    seed, weeks, channels, noise, synergy
        As :func:`drifting_world`.
    pair : (str, str), default ("tv", "outdoor")
        Two of the world's channels; the second follows the first.
    overlap : float, default 0.9
        Share of weeks in which the second channel's on/off state copies the first's,
        0.5 to 1.

    Returns
    -------
    World
        ``truth.params["hard_world"]`` holds the realised overlap and spend correlation.
    """
    if not isinstance(overlap, int | float) or not 0.5 <= overlap <= 1.0:
        raise PlanError(f"collinear_world: overlap must be between 0.5 and 1, got {overlap!r}")
    specs, dates = _knobs(seed, weeks, channels, noise, synergy)
    names = [s.name for s in specs]
    if len(pair) != 2 or pair[0] == pair[1] or any(p not in names for p in pair):
        raise PlanError(f"collinear_world: pair must be two distinct channels of {names}, "
                        f"got {pair!r}")  # fmt: skip

    def follow(spend: np.ndarray, chans: tuple[str, ...], seed_: int) -> np.ndarray:
        rng = _rng(seed_, "collinear")
        a, b = chans.index(pair[0]), chans.index(pair[1])
        out = spend.copy()
        lead = spend[:, a]
        on_a = lead > 0
        flip = rng.random(len(lead)) >= overlap
        on_b = on_a ^ flip
        level_b = spend[spend[:, b] > 0, b].mean()
        rel = np.where(on_a, lead / max(lead[on_a].mean(), 1.0), 0.0) if on_a.any() else lead
        together = level_b * rel * np.exp(rng.normal(0.0, 0.10, len(lead)))
        alone = level_b * np.exp(rng.normal(0.0, 0.15, len(lead)))
        out[:, b] = np.where(on_b, np.where(on_a, together, alone), 0.0)
        return out

    world = _assemble(seed, specs, dates, noise, synergy, True, spend_hook=follow)
    x = world.panel[f"{pair[0]}_spend"].to_numpy()
    y = world.panel[f"{pair[1]}_spend"].to_numpy()
    return _with_hard(
        world,
        {
            "kind": "collinear_bursts",
            "pair": list(pair),
            "overlap": float(overlap),
            "same_on_off_share": float(np.mean((x > 0) == (y > 0))),
            "spend_correlation": float(np.corrcoef(x, y)[0, 1]),
        },
    )


def dark_world(
    seed: int = 0,
    weeks: int = 156,
    channels: Sequence[str] | None = None,
    noise: float = BASE_NOISE,
    synergy: bool = True,
    channel: str = "social",
    dark_share: float = 0.5,
) -> World:
    """A world in which one channel is dark (zero spend) for the first part of the panel.

    Parameters
    ----------
    seed, weeks, channels, noise, synergy
        As :func:`drifting_world`.
    channel : str, default "social"
        The channel launched mid-way; the rest of its spend is the default world's.
    dark_share : float, default 0.5
        Share of the weeks, from the start, with zero spend (0.1 to 0.8).

    Returns
    -------
    World
        The channel's true ROI is over the weeks it spent.
    """
    if not isinstance(dark_share, int | float) or not 0.1 <= dark_share <= 0.8:
        raise PlanError(f"dark_world: dark_share must be between 0.1 and 0.8, got {dark_share!r}")
    specs, dates = _knobs(seed, weeks, channels, noise, synergy)
    names = [s.name for s in specs]
    if channel not in names:
        raise PlanError(f"dark_world: channel must be one of {names}, got {channel!r}")
    dark = int(round(dark_share * len(dates)))

    def launch(spend: np.ndarray, chans: tuple[str, ...], _: int) -> np.ndarray:
        out = spend.copy()
        out[:dark, chans.index(channel)] = 0.0
        return out

    world = _assemble(seed, specs, dates, noise, synergy, True, spend_hook=launch)
    return _with_hard(
        world,
        {
            "kind": "dark_channel",
            "channel": channel,
            "dark_weeks": dark,
            "first_spend_week": str(dates[dark].date()),
        },
    )


def small_units_world(
    seed: int = 0,
    weeks: int = 156,
    channels: Sequence[str] | None = None,
    noise: float = BASE_NOISE,
    synergy: bool = True,
    unit: float = 1e6,
) -> World:
    """The twin world with every amount (spend and revenue) divided by ``unit``.

    ROI is a ratio of amounts, so the truth's ROI is the twin's; contributions, expected
    outcomes, the media response's spend scales and effect sizes are divided by ``unit``.
    ``truth.params`` keeps the parameters as drawn (in CNY) and says the unit under
    ``hard_world``.

    Parameters
    ----------
    seed, weeks, channels, noise, synergy
        As :func:`drifting_world`.
    unit : float, default 1e6
        Amounts are reported in this many currency units (1e6: millions), 1e-3 to 1e9.
    """
    if not isinstance(unit, int | float) or not 1e-3 <= unit <= 1e9:
        raise PlanError(f"small_units_world: unit must be between 1e-3 and 1e9, got {unit!r}")
    base = twin_world(seed, weeks, channels, noise, synergy)
    t = base.truth
    money = [f"{c}_spend" for c in t.channels] + list(OUTCOMES)
    panel = base.panel.copy()
    panel[money] = panel[money] / unit
    media = dataclasses.replace(
        t.media, scale=t.media.scale / unit, beta=t.media.beta / unit, gamma=t.media.gamma / unit
    )
    params = {**t.params, "hard_world": {"kind": "small_units", "unit": float(unit)}}
    dates = pd.DatetimeIndex(panel["date"], name="date")
    truth = Truth.build(params, media, t.spend / unit, dates, t.expected / unit)
    return World(panel=panel, plan=base.plan, truth=truth)


#: The hard worlds by name: ``name -> world(seed)`` at default knobs.
HARD_WORLDS: dict[str, Callable[[int], World]] = {
    "drifting_baseline": lambda seed: drifting_world(seed),
    "collinear_bursts": lambda seed: collinear_world(seed),
    "dark_half": lambda seed: dark_world(seed),
    "small_units": lambda seed: small_units_world(seed),
}
