"""A simulated world whose baseline drifts: the negative control of the moving baseline.

:func:`with_level_drift` takes a world of :func:`omnimmm.data.simulate.simulate_world` and
adds to each outcome a slowly drifting level (a random walk on knots, smooth between them),
leaving its spend, controls, noise draw and media effects exactly as they were. Its true ROI,
contributions and horizon value are therefore those of the original world, and recovery on
the two worlds can be compared at the same noise: a moving baseline that takes the drift
must not take media effects with it.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from omnimmm.data.simulate import OUTCOMES, World

__all__ = ["level_drift", "with_level_drift"]


def level_drift(weeks: int, size: float, knot_weeks: int, seed: int) -> np.ndarray:
    """A smooth drifting level (relative to the outcome's mean) per week and outcome.

    A Gaussian random walk on knots ``knot_weeks`` apart (the first at 0), each step with
    standard deviation ``size / sqrt(number of steps)``, so that the level at the end has
    moved by about ``size`` (one standard deviation); cubic between knots (a monotone
    Hermite curve through them, so it never overshoots the knots).

    Parameters
    ----------
    weeks : int
    size : float
        Standard deviation of the level's total drift over the weeks, as a share of the
        outcome's mean (0.1 = 10%).
    knot_weeks : int
        Weeks between the walk's knots.
    seed : int

    Returns
    -------
    numpy.ndarray of shape (weeks, 2)
        The drift of each outcome (online, offline) as a share of its mean, 0 at week 0.
    """
    from scipy.interpolate import PchipInterpolator

    rng = np.random.default_rng([seed, 7])
    knots = np.arange(0, weeks + knot_weeks, knot_weeks, dtype=float)
    steps = rng.standard_normal((len(knots) - 1, len(OUTCOMES))) * size / np.sqrt(len(knots) - 1)
    levels = np.vstack([np.zeros((1, len(OUTCOMES))), np.cumsum(steps, axis=0)])
    return PchipInterpolator(knots, levels, axis=0)(np.arange(weeks, dtype=float))


def with_level_drift(
    world: World, size: float = 0.15, knot_weeks: int = 20, seed: int = 0
) -> World:
    """``world`` with a drifting level added to each outcome (see :func:`level_drift`).

    The drift is in currency: ``level_drift(...) * mean of the outcome's expected value``,
    added to the observed and expected outcomes. Spend, controls, the noise draw and the
    media effects are unchanged, and so are the true ROI and contributions.

    Parameters
    ----------
    world : World
    size : float, default 0.15
        Standard deviation of the total drift as a share of each outcome's mean.
    knot_weeks : int, default 20
        Weeks between the drift's knots (not those of the model's walk).
    seed : int, default 0

    Returns
    -------
    World
        A new world; ``truth.params["level_drift"]`` holds the drift added (currency).
    """
    panel = world.panel.copy()
    expected = world.truth.expected.copy()
    rel = level_drift(len(panel), size, knot_weeks, seed)
    drift = rel * expected[list(OUTCOMES)].to_numpy().mean(axis=0)
    for k, o in enumerate(OUTCOMES):
        panel[o] = np.round(panel[o].to_numpy() + drift[:, k], 2)
        expected[o] = expected[o].to_numpy() + drift[:, k]
    params = {
        **world.truth.params,
        "level_drift": {o: drift[:, k].tolist() for k, o in enumerate(OUTCOMES)},
    }
    truth = dataclasses.replace(world.truth, expected=expected, params=params)
    return dataclasses.replace(world, panel=panel, truth=truth)
