"""Lift tests from a known media response, for recovery studies on simulated worlds.

A real lift test (or geo experiment) raises one channel's spend over a few weeks and
measures the revenue it caused. On a simulated world the truth is known, so the same
experiment can be run on it: :func:`simulated_lift_tests` raises each channel's spend by a
share over a window, computes the true incremental revenue (all outcomes, carryover to the
end of the data, as :class:`omnimmm.mmm.design.LiftTest` defines it) and adds measurement
noise with the stated standard error. The tests then enter the model as its calibration
likelihood.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from omnimmm.mmm.design import LiftTest

__all__ = ["simulated_lift_tests"]


def simulated_lift_tests(
    world: Any,
    channels: Sequence[str] | None = None,
    weeks: int = 8,
    lift: float = 0.5,
    rel_se: float = 0.15,
    seed: int = 0,
) -> tuple[LiftTest, ...]:
    """One lift test per channel on a simulated world, measured with noise.

    Parameters
    ----------
    world : omnimmm.data.simulate.World
        Gives the spend, the dates and the true media response.
    channels : sequence of str, optional
        Channels to test (default all).
    weeks : int, default 8
        Test length; each channel's window starts where its spend over ``weeks`` weeks is
        largest in the first two thirds of the data (so the carryover is observed).
    lift : float, default 0.5
        Extra spend as a share of the channel's spend in the window.
    rel_se : float, default 0.15
        Standard error of the measurement as a share of the true incremental revenue.
    seed : int, default 0

    Returns
    -------
    tuple of LiftTest
    """
    truth = world.truth
    media = truth.media
    spend = np.asarray(truth.spend, dtype=float)
    dates = pd.DatetimeIndex(pd.to_datetime(world.panel["date"]))
    rng = np.random.default_rng(seed)
    names = list(media.channels)
    tests = []
    base = media.media(spend)
    for name in channels if channels is not None else names:
        c = names.index(name)
        x = spend[:, c]
        window = np.convolve(x, np.ones(weeks), mode="valid")[: int(len(x) * 2 / 3)]
        start = int(np.argmax(window))
        rows = np.arange(start, start + weeks)
        total = x[rows].sum()
        change = lift * total
        delta = np.zeros_like(spend)
        delta[rows, c] = change * x[rows] / total
        incremental = float((media.media(spend + delta) - base)[start:].sum())
        se = rel_se * abs(incremental)
        tests.append(
            LiftTest(
                channel=name,
                start=dates[start].date().isoformat(),
                end=(dates[rows[-1]] + pd.Timedelta(days=6)).date().isoformat(),
                spend_change=float(change),
                incremental_revenue=incremental + float(rng.normal(0.0, se)),
                se=float(se),
            )
        )
    return tuple(tests)
