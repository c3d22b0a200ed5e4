"""Baseline parts that move over time: the moving level's ramps and controls' deviations.

:func:`level_ramps` is the design of ``[model] baseline = "local_level"`` (a random walk of
the level on a coarse knot grid, linear between knots) and :func:`control_deviation` that of
``[model] control_form = "deviation"`` (each continuous control as its deviation from its
own trailing mean). Both are plain numpy on plain arguments, so that other models (the geo
model) can reuse them; :func:`omnimmm.mmm.design.baseline_features` calls them with the
training constants.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["control_deviation", "level_knots", "level_ramps"]


def control_deviation(x: np.ndarray, before: np.ndarray, window: int) -> np.ndarray:
    """Each continuous control's deviation from its mean over the previous ``window`` weeks.

    A control that moves slowly (a macro series, a store count, a price level drifting over
    years) shares its slow movements with the baseline's level, and a coefficient fitted on
    them carries whatever else moved at the same time into the forecast (a markdown rate
    that fell while stores closed, and rose again after). Its deviation from its own
    recent mean keeps the week-to-week variation, which the baseline cannot mimic, and
    leaves the slow part to the baseline (a moving one follows it). Event indicators are
    kept as they are by :func:`omnimmm.mmm.design.baseline_features` (no slow part).

    Parameters
    ----------
    x : numpy.ndarray of shape (T, K)
        The controls of the weeks wanted.
    before : numpy.ndarray of shape (B, K)
        The controls of the weeks right before them (empty at the start of the data);
        the first weeks' trailing means use them.
    window : int

    Returns
    -------
    numpy.ndarray of shape (T, K)
        The deviations (0 in the very first week of the data, which has no past).
    """
    full = np.vstack([before, x])
    past = pd.DataFrame(full).rolling(window, min_periods=1).mean().shift(1).to_numpy(copy=True)
    past[0] = full[0]
    return (full - past)[len(before) :]


def level_ramps(t: np.ndarray, span_days: float, knot_weeks: int) -> np.ndarray:
    """Design of the moving baseline (``[model] baseline = "local_level"``) at times ``t``.

    The level is a random walk on ``K`` knots spread evenly over the training window
    (about one every ``knot_weeks`` weeks, at least two), linear between
    knots: ``level(t) = sum_k W[t, k] l_k`` with ``l_0 = 0`` and ``l_k = l_{k-1} + step_k``.
    Summed by step instead of by knot, ``level(t) = sum_{k >= 1} R[t, k] step_k`` where
    ``R[t, k] = sum_{j >= k} W[t, j]`` is a ramp: 0 before knot ``k - 1``, rising linearly to
    1 at knot ``k``, 1 after. Past the last knot (forecast weeks) every ramp is 1: the
    forecast holds the last level (its spread grows in :func:`omnimmm.mmm.analysis.forecast`).

    Parameters
    ----------
    t : numpy.ndarray
        Time on the training scale (0 at the first training week, 1 at the last).
    span_days : float
        Days from the first to the last training week.
    knot_weeks : int
        About how many weeks apart the knots are (``[model] baseline_knot_weeks``).

    Returns
    -------
    numpy.ndarray of shape (T, K - 1)
        The ramps.
    """
    t = np.asarray(t, dtype=float)
    n_knots = level_knots(span_days, knot_weeks)
    knots = np.linspace(0.0, 1.0, n_knots)
    width = knots[1] - knots[0]
    return np.clip((t[:, None] - knots[None, :-1]) / width, 0.0, 1.0)


def level_knots(span_days: float, knot_weeks: int) -> int:
    """Number of knots of the moving baseline over a training window of ``span_days``."""
    weeks = span_days / 7.0
    return max(2, int(round(weeks / knot_weeks)) + 1)
