"""Default priors of the MMM, on the internally scaled data, and their small helpers.

Scaling (see :mod:`omnimmm.mmm.design`): each channel's spend is divided by its mean over
the weeks it was on air, each outcome by its mean, controls are standardised. On that
scale an adstocked spend of 1 is a typical on-air week and an outcome of 1 is an average
week, so one set of weakly informative defaults serves every market and currency.

Media effects are stated in business units: the prior is on each channel's ROI (revenue
over all outcomes per unit of spend, in the training window), as Meridian users expect,
with defaults per channel kind from the plan. A raw coefficient prior (half-normal on the
scaled effect size) remains as an expert option per channel.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import pymc as pm

__all__ = [
    "ADSTOCK_PRIORS",
    "SATURATION_PRIORS",
    "BaselinePriors",
    "adstock_rvs",
    "lognormal_params",
    "saturation_rvs",
]


def lognormal_params(mean: float, sd: float) -> tuple[float, float]:
    """Return ``(mu, sigma)`` of the log-normal with the given mean and standard deviation.

    Parameters
    ----------
    mean : float
        Mean on the natural scale, > 0.
    sd : float
        Standard deviation on the natural scale, > 0.

    Returns
    -------
    tuple of float
        ``mu`` and ``sigma`` of ``log X ~ Normal(mu, sigma)``.
    """
    if not (mean > 0 and sd > 0):
        raise ValueError(f"a log-normal needs mean > 0 and sd > 0, got mean={mean}, sd={sd}")
    sigma2 = math.log1p((sd / mean) ** 2)
    return math.log(mean) - 0.5 * sigma2, math.sqrt(sigma2)


def _gamma(name: str, mean: float, sd: float, dims: Sequence[str]) -> pm.Distribution:
    return pm.Gamma(name, alpha=(mean / sd) ** 2, beta=mean / sd**2, dims=tuple(dims))


@dataclass(frozen=True)
class BaselinePriors:
    """Priors of the baseline on the scaled outcome (1 = an average week).

    Attributes
    ----------
    level_mu, level_sd : float
        Normal prior of each outcome's mean fitted week over the training window (the
        model is centred, see :mod:`omnimmm.mmm.model`); the outcome is scaled by its
        training mean, so the level is close to 1.
    trend_sd : float
        Normal(0, sd) prior of the linear trend over the training window.
    fourier_sd : float
        Normal(0, sd) prior of each yearly Fourier coefficient.
    control_sd : float
        Normal(0, sd) prior of each standardised control's coefficient.
    festival_sd : float
        Normal(0, sd) prior of each festival indicator's effect.
    noise_sd : float
        Half-normal scale of the residual standard deviation per outcome.
    synergy_sd : float
        Normal(0, sd) prior of each synergy coefficient (product of two saturations).
    lkj_eta : float
        LKJ concentration of the residual correlation between outcomes.
    noise_power_a, noise_power_b : float
        Beta prior of each outcome's noise power ``p`` (``[model] noise = "level"``: the
        noise sd is ``sigma * level ** p``); Beta(1, 2) leans towards constant noise
        (density 2 at 0, 0 at 1) and leaves the data to say how far the sd grows.
    noise_season_sd : float
        Normal(0, sd) prior of each coefficient of the noise sd's yearly shape (``[model]
        seasonal_noise``: ``log sd`` gains ``sum_j c_j f_j(t)`` over the first yearly sin/cos
        pairs); 0.3 lets the sd of the most volatile weeks reach about twice the calmest.
    noise_df_a, noise_df_b : float
        Gamma(shape a, rate b) prior of each outcome's degrees of freedom above 2, ``nu -
        2`` (``[model] likelihood = "student_t"``; :data:`omnimmm.mmm.design.NOISE_DF_MIN`);
        Gamma(2, 0.1) (mean 20) is the usual weakly informative choice: it keeps heavy tails
        (``nu`` 2-5) and a nearly normal noise (``nu`` 30+) both plausible and lets the
        data choose.
    """

    level_mu: float = 1.0
    level_sd: float = 0.25
    trend_sd: float = 0.3
    fourier_sd: float = 0.2
    control_sd: float = 0.2
    festival_sd: float = 0.3
    noise_sd: float = 0.15
    synergy_sd: float = 0.1
    lkj_eta: float = 2.0
    noise_power_a: float = 1.0
    noise_power_b: float = 2.0
    noise_season_sd: float = 0.3
    noise_df_a: float = 2.0
    noise_df_b: float = 0.1


# --------------------------------------------------------------------------- adstock


def _geometric(prefix: str, dims: Sequence[str], l_max: int) -> dict[str, pm.Distribution]:
    return {"alpha": pm.Beta(f"{prefix}_alpha", alpha=2.0, beta=3.0, dims=tuple(dims))}


def _delayed(prefix: str, dims: Sequence[str], l_max: int) -> dict[str, pm.Distribution]:
    alpha = pm.Beta(f"{prefix}_alpha", alpha=2.0, beta=2.0, dims=tuple(dims))
    # Peak lag as a fraction of the window: mean about a fifth of l_max (2-3 weeks).
    frac = pm.Beta(f"{prefix}_theta_frac", alpha=2.0, beta=7.0, dims=tuple(dims))
    # Not stored by the sampler; recomputed after sampling (see DERIVED_THETA).
    theta = frac * (l_max - 1)
    return {"alpha": alpha, "theta": theta}


def _weibull(prefix: str, dims: Sequence[str], l_max: int) -> dict[str, pm.Distribution]:
    return {
        "lam": _gamma(f"{prefix}_lam", mean=3.0, sd=2.0, dims=dims),
        "k": _gamma(f"{prefix}_k", mean=1.5, sd=0.75, dims=dims),
    }


#: Prior builders per adstock kind: ``f(prefix, dims, l_max) -> {param: tensor}``; the
#: keys are the positional parameter names of the kind's weights function in
#: :data:`omnimmm.transforms.ADSTOCKS`.
ADSTOCK_PRIORS = {"geometric": _geometric, "delayed": _delayed, "weibull": _weibull}


def adstock_rvs(kind: str, dims: Sequence[str], l_max: int) -> dict[str, pm.Distribution]:
    """Create the adstock parameters of all channels of one adstock kind.

    Parameters
    ----------
    kind : {"geometric", "delayed", "weibull"}
        Adstock family.
    dims : sequence of str
        Model dims of each parameter, e.g. ``("channel_geometric",)``.
    l_max : int
        Largest number of lags among those channels (sets the peak-lag scale).

    Returns
    -------
    dict of str to tensor
        One tensor per parameter of the family, in the family's parameter order.
    """
    return ADSTOCK_PRIORS[kind](f"adstock_{kind}", dims, l_max)


# --------------------------------------------------------------------------- saturation


def _hill(prefix: str, dims: Sequence[str]) -> dict[str, pm.Distribution]:
    # Adstocked scaled spend is about 1 in a typical on-air week: half saturation there.
    return {
        "half_saturation": pm.LogNormal(f"{prefix}_half_saturation", 0.0, 0.6, dims=tuple(dims)),
        "slope": pm.LogNormal(f"{prefix}_slope", math.log(1.3), 0.35, dims=tuple(dims)),
    }


def _logistic(prefix: str, dims: Sequence[str]) -> dict[str, pm.Distribution]:
    return {"lam": _gamma(f"{prefix}_lam", mean=1.5, sd=0.75, dims=dims)}


def _michaelis_menten(prefix: str, dims: Sequence[str]) -> dict[str, pm.Distribution]:
    # The asymptote is absorbed by the effect size: fixed at 1 (see response.FIXED_PARAMS).
    return {"k": pm.LogNormal(f"{prefix}_k", 0.0, 0.6, dims=tuple(dims))}


#: Prior builders per saturation kind: ``f(prefix, dims) -> {param: tensor}``.
SATURATION_PRIORS = {"hill": _hill, "logistic": _logistic, "michaelis_menten": _michaelis_menten}


def saturation_rvs(kind: str, dims: Sequence[str]) -> dict[str, pm.Distribution]:
    """Create the saturation parameters of all channels of one saturation kind.

    Parameters
    ----------
    kind : {"hill", "logistic", "michaelis_menten"}
        Saturation family.
    dims : sequence of str
        Model dims of each parameter, e.g. ``("channel_hill",)``.

    Returns
    -------
    dict of str to tensor
        One entry per parameter of the family, in the family's parameter order.
    """
    return SATURATION_PRIORS[kind](f"saturation_{kind}", dims)
