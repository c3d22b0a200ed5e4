"""Lift tests from a known media response, for recovery studies on simulated worlds.

A real lift test (or geo experiment) raises one channel's spend over a few weeks and
measures the revenue it caused. On a simulated world the truth is known, so the same
experiment can be run on it: :func:`simulated_lift_tests` changes each channel's spend by a
share over a window (by default a holdout: spend cut by 90%, "going dark"), computes the true incremental revenue (all outcomes, carryover to the
end of the data, as :class:`omnimmm.mmm.design.LiftTest` defines it) and adds measurement
noise with the stated standard error. The tests then enter the model as its calibration
likelihood.

:func:`oracle_roi_se` tells how well a world's panel can identify each channel at all: the
standard error of each channel's total ROI for an oracle that knows every adstock and
saturation shape and only estimates the linear effects. No estimator that learns the
shapes from the same panel can be expected to do better (without priors or experiments).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from omnimmm.mmm.design import LiftTest

__all__ = ["oracle_roi_se", "simulated_baseline_terms", "simulated_lift_tests"]


def simulated_lift_tests(
    world: Any,
    channels: Sequence[str] | None = None,
    weeks: int = 8,
    lift: float = -0.9,
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
    lift : float, default -0.9
        Spend change as a share of the channel's spend in the window, above -1. The
        default is a holdout that cuts 90% of the spend: it measures what the spend in
        the window earns on average, which pins the channel's ROI. A raise (e.g. 0.5)
        measures the marginal return at already heavy spend instead, and leaves the ROI to
        the saturation curve (on the default world: ROI MAPE 33.8% with +50% tests
        against 11.7% with holdouts).
    rel_se : float, default 0.15
        Standard error of the measurement as a share of the true incremental revenue.
    seed : int, default 0

    Raises
    ------
    ValueError
        If ``lift`` is not above -1 or ``weeks`` is not positive.

    Returns
    -------
    tuple of LiftTest
    """
    if not lift > -1.0:
        raise ValueError(f"lift must be above -1 (a cut of the whole spend), got {lift}")
    if weeks < 1:
        raise ValueError(f"weeks must be a positive number of weeks, got {weeks}")
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


def oracle_roi_se(world: Any) -> pd.DataFrame:
    """Standard error of each channel's total ROI for an oracle that knows the shapes.

    Every outcome is regressed by least squares on the true saturated media of each
    channel (true adstock, half saturation and slope), the true synergy products and the
    simulator's baseline terms (intercept, trend, two yearly Fourier pairs, festivals,
    price index), with the world's true noise standard deviations and correlation across
    outcomes. Only the effect sizes are unknown, so the standard errors are the smallest
    a model fitted to the same panel can reach without priors or lift tests.

    Parameters
    ----------
    world : omnimmm.data.simulate.World

    Returns
    -------
    pandas.DataFrame
        Index ``channel``; ``truth`` (true total ROI), ``se`` (oracle standard error of the
        total ROI from the channel's main effects), ``rel_se`` (``se / truth``) and
        ``expected_ape`` (expected absolute percentage error of an unbiased estimate with
        that standard error: ``rel_se * sqrt(2 / pi)``).
    """
    truth = world.truth
    media = truth.media
    params = truth.params
    spend = np.asarray(truth.spend, dtype=float)
    h = media.saturate(media.adstocked(spend))
    base = simulated_baseline_terms(world)
    synergy = [h[:, i] * h[:, j] for i, j in media.synergy_pairs]
    x = np.column_stack([base, h, *synergy])
    xtx_inv = np.linalg.pinv(x.T @ x)
    first = base.shape[1]
    sd = np.array([params["noise_model"]["sd"][o] for o in media.outcomes])
    rho = float(params["noise_model"]["correlation"])
    corr = np.full((len(sd), len(sd)), rho)
    np.fill_diagonal(corr, 1.0)
    noise_cov = corr * np.outer(sd, sd)
    rows = []
    for c, name in enumerate(media.channels):
        # total ROI = sum_o beta[c, o] * sum_t h[t, c] / spend_c: a linear function of the
        # channel's coefficients across outcomes, whose covariance is noise_cov * (X'X)^-1.
        weight = h[:, c].sum() / spend[:, c].sum()
        var = weight**2 * xtx_inv[first + c, first + c] * noise_cov.sum()
        rows.append((name, float(np.sqrt(var))))
    out = pd.DataFrame(rows, columns=["channel", "se"]).set_index("channel")
    out.insert(0, "truth", truth.roi["total"].reindex(out.index).to_numpy())
    out["rel_se"] = out["se"] / out["truth"]
    out["expected_ape"] = out["rel_se"] * np.sqrt(2.0 / np.pi)
    return out


def simulated_baseline_terms(world: Any) -> np.ndarray:
    """The simulator's baseline regressors for a world's panel, shape (T, K).

    Intercept, years since the first week, two yearly Fourier pairs, the festival
    indicators and ``price_index - 1``: exactly the terms the simulator's baseline is a
    linear function of (see ``omnimmm.data.simulate``), for least-squares checks.
    """
    panel = world.panel
    dates = pd.DatetimeIndex(pd.to_datetime(panel["date"]))
    years = np.asarray((dates - dates[0]).days, dtype=float) / 365.25
    angle = 2.0 * np.pi * (dates.day_of_year.to_numpy() - 1) / 365.25
    outcome = world.truth.media.outcomes[0]
    festivals = list(world.truth.params["baseline"][outcome]["festivals"])
    cols = [np.ones(len(dates)), years]
    cols += [f(k * angle) for k in (1, 2) for f in (np.sin, np.cos)]
    cols += [panel[e].to_numpy(dtype=float) for e in festivals]
    cols.append(panel["price_index"].to_numpy(dtype=float) - 1.0)
    return np.column_stack(cols)
