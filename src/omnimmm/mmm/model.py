"""Build the PyMC model of the omnichannel MMM.

On the scaled data (see :mod:`omnimmm.mmm.design`), for week ``t`` and outcome ``o``::

    y[t, o] = intercept[o] + trend[o] * t' + fourier[t] @ a[:, o] + controls[t] @ b[:, o]
            + festivals[t] @ phi[:, o]
            + sum_c beta[c, o] * h_c(t)                   media, h_c = sat(adstock(x_c))
            + sum_p gamma[p, o] * h_a(t) * h_b(t)         declared synergies
            + eps[t, o]                                   eps ~ MvNormal(0, Sigma) across o

Carryover (adstock) parameters are shared across outcomes by default (``share_carryover``),
saturation is per channel, effect sizes are per channel and outcome.

Effect sizes are parameterised through ROI (Meridian style) so that the plan's priors are
in business units. With ``S[c] = sum_t h_c(t)`` over the training weeks, the channel's
main-effect revenue in outcome ``o`` is ``beta[c, o] * y_scale[o] * S[c]`` (saturation is 0
at 0, so zeroing the spend removes exactly this), hence::

    beta[c, o] = roi[c] * share[c, o] * spend_total[c] / (y_scale[o] * S[c])

with ``roi[c] ~ LogNormal`` matched to the plan's mean and sd (the channel's own prior or
its kind's default) and ``share[c, :] ~ Dirichlet(1)`` splitting it over outcomes. The
prior is thus on the channel's total ROI, the quantity a marketer states and a lift test
measures, while the data decide how it splits between online and store revenue.
Channels with ``coef_prior_sd`` use ``beta[c, o] ~ HalfNormal(coef_prior_sd)`` instead.

Lift tests add ``incremental[k] ~ Normal(modelled[k], se[k])`` where ``modelled`` is the
difference of the model's mean with and without the test's spend change, summed from the
test's first week to the end of the data.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
import pymc as pm
import pytensor.tensor as pt

from omnimmm.mmm.design import ModelSpec, Scaling, fourier_names
from omnimmm.mmm.priors import BaselinePriors, adstock_rvs, lognormal_params, saturation_rvs
from omnimmm.mmm.response import baseline_terms, channel_response, media_terms

__all__ = ["build_model", "lift_rows"]


def lift_rows(dates: pd.DatetimeIndex, start: str, end: str) -> np.ndarray:
    """Indices of the weeks (starting at ``dates``) that overlap ``[start, end]``."""
    d = pd.DatetimeIndex(dates)
    lo, hi = pd.Timestamp(start), pd.Timestamp(end)
    return np.flatnonzero((d <= hi) & (d + pd.Timedelta(days=6) >= lo))


def _coords(spec: ModelSpec, dates: pd.DatetimeIndex, scaling: Scaling) -> dict[str, Any]:
    layout = spec.layout()
    coords: dict[str, Any] = {
        "week": [d.date().isoformat() for d in pd.DatetimeIndex(dates)],
        "channel": spec.channel_names,
        "outcome": list(spec.outcomes),
        "control": list(spec.controls),
        "festival": list(scaling.festivals),
        "fourier_mode": fourier_names(spec.fourier_order),
        "synergy": [f"{a}:{b}" for a, b in spec.synergies],
    }
    names = spec.channel_names
    for kind, ix in layout.adstock_kinds.items():
        coords[f"channel_adstock_{kind}"] = [names[i] for i in ix]
    for kind, ix in layout.saturation_kinds.items():
        coords[f"channel_saturation_{kind}"] = [names[i] for i in ix]
    coords["channel_roi"] = [c.name for c in spec.channels if c.coef_prior_sd is None]
    coords["channel_coef"] = [c.name for c in spec.channels if c.coef_prior_sd is not None]
    return coords


def _effect_sizes(spec: ModelSpec, scaling: Scaling, h: Any) -> Any:
    """``beta`` (C, O) on the scaled outcome from ROI priors or raw coefficient priors."""
    n_o = len(spec.outcomes)
    s = h.sum(axis=0)  # (C, Oa)
    ratio = np.asarray(scaling.spend_total)[:, None] / np.asarray(scaling.outcome_scale)[None]
    parts, order = [], []
    roi_ix = [i for i, c in enumerate(spec.channels) if c.coef_prior_sd is None]
    coef_ix = [i for i, c in enumerate(spec.channels) if c.coef_prior_sd is not None]
    if roi_ix:
        mu, sigma = zip(
            *(lognormal_params(spec.channels[i].roi_mean, spec.channels[i].roi_sd) for i in roi_ix),
            strict=True,
        )
        roi = pm.LogNormal("roi_total", mu=np.array(mu), sigma=np.array(sigma), dims="channel_roi")
        if n_o > 1:
            share = pm.Dirichlet(
                "roi_share", a=np.ones((len(roi_ix), n_o)), dims=("channel_roi", "outcome")
            )
            roi_co = roi[:, None] * share
        else:
            roi_co = roi[:, None]
        parts.append(roi_co * ratio[roi_ix] / s[roi_ix])
        order += roi_ix
    if coef_ix:
        sd = np.array([spec.channels[i].coef_prior_sd for i in coef_ix])[:, None]
        z = pm.HalfNormal("coef_raw", sigma=1.0, dims=("channel_coef", "outcome"))
        parts.append(z * sd)
        order += coef_ix
    beta = parts[0] if len(parts) == 1 else pt.concatenate(parts, axis=0)
    if order != sorted(order):
        beta = beta[np.argsort(order)]
    beta = pm.Deterministic("beta", beta, dims=("channel", "outcome"))
    pm.Deterministic("roi_main", beta * s / ratio, dims=("channel", "outcome"))
    return beta


def _lift_likelihood(
    spec: ModelSpec,
    scaling: Scaling,
    dates: pd.DatetimeIndex,
    x: np.ndarray,
    params: Mapping[str, Any],
    h: Any,
    beta: Any,
    gamma: Any,
) -> None:
    """Add the lift-test likelihood (tests that overlap the training weeks)."""
    layout = spec.layout()
    names = spec.channel_names
    y_scale = np.asarray(scaling.outcome_scale)
    preds, obs, ses = [], [], []
    for test in spec.calibration:
        rows = lift_rows(dates, test.start, test.end)
        if len(rows) == 0:
            continue
        c = names.index(test.channel)
        actual = x[rows, c, 0]
        weights = actual / actual.sum() if actual.sum() > 0 else np.full(len(rows), 1 / len(rows))
        delta = np.zeros_like(x)
        delta[rows, c, 0] = test.spend_change * weights / scaling.spend_scale[c]
        if (x + delta).min() < 0:
            continue  # a cut larger than the spend: cannot be represented
        h_mod = channel_response(x + delta, params, layout, pt, 0)
        d_c = (h_mod[:, c, :] - h[:, c, :])[rows[0] :]  # (T', Oa)
        inc = d_c * beta[c]  # (T', O)
        for p, (a, b) in enumerate(layout.pairs):
            if c in (a, b):
                other = h[rows[0] :, b if c == a else a, :]
                inc = inc + d_c * other * gamma[p]
        per_outcome = inc.sum(axis=0) * y_scale
        if test.outcome is None:
            preds.append(per_outcome.sum())
        else:
            preds.append(per_outcome[list(spec.outcomes).index(test.outcome)])
        obs.append(test.incremental_revenue)
        ses.append(test.se)
    if preds:
        ref = float(np.sum(y_scale))
        pm.Normal(
            "lift",
            mu=pt.stack(preds) / ref,
            sigma=np.asarray(ses) / ref,
            observed=np.asarray(obs) / ref,
        )


def build_model(
    spec: ModelSpec,
    scaling: Scaling,
    dates: pd.DatetimeIndex,
    spend: np.ndarray,
    outcomes: np.ndarray | None,
    features: Mapping[str, np.ndarray],
    priors: BaselinePriors | None = None,
    keep_mean: bool = False,
) -> pm.Model:
    """Build the PyMC model.

    Parameters
    ----------
    spec : ModelSpec
    scaling : Scaling
        Fitted on the same training weeks.
    dates : pandas.DatetimeIndex
        Training weeks.
    spend : numpy.ndarray of shape (T, C)
        Spend in currency, channels in ``spec`` order.
    outcomes : numpy.ndarray of shape (T, O) or None
        Observed outcomes in currency; None builds a prior-only model (no likelihood).
    features : mapping
        :func:`omnimmm.mmm.design.baseline_features` of the training weeks.
    priors : BaselinePriors, optional
    keep_mean : bool, default False
        Also record the mean on the scaled outcome as the deterministic ``mu`` (week,
        outcome); used to check the numpy evaluation against the graph.

    Returns
    -------
    pymc.Model
    """
    priors = priors or BaselinePriors()
    layout = spec.layout()
    n_o = len(spec.outcomes)
    x = (np.asarray(spend, dtype=float) / np.asarray(scaling.spend_scale))[:, :, None]
    with pm.Model(coords=_coords(spec, dates, scaling)) as model:
        params: dict[str, Any] = {}
        adstock_dims_tail = () if spec.share_carryover else ("outcome",)
        for kind, ix in layout.adstock_kinds.items():
            l_max = max(spec.channels[i].l_max for i in ix)
            rvs = adstock_rvs(kind, (f"channel_adstock_{kind}", *adstock_dims_tail), l_max)
            params.update({f"adstock_{kind}_{p}": v for p, v in rvs.items()})
        for kind in layout.saturation_kinds:
            rvs = saturation_rvs(kind, (f"channel_saturation_{kind}",))
            params.update({f"saturation_{kind}_{p}": v for p, v in rvs.items()})
        h = channel_response(pt.as_tensor_variable(x), params, layout, pt, 0)
        beta = _effect_sizes(spec, scaling, h)
        gamma = None
        if layout.pairs:
            gamma = pm.Normal("gamma", 0.0, priors.synergy_sd, dims=("synergy", "outcome"))
        main, syn = media_terms(h, beta, gamma, layout, pt)
        mu = main.sum(axis=1)
        if syn is not None:
            mu = mu + syn.sum(axis=1)

        base: dict[str, Any] = {
            "intercept": pm.Normal(
                "intercept", priors.intercept_mu, priors.intercept_sd, dims="outcome"
            )
        }
        if spec.trend:
            base["trend"] = pm.Normal("trend", 0.0, priors.trend_sd, dims="outcome")
        if spec.fourier_order:
            base["fourier"] = pm.Normal(
                "fourier", 0.0, priors.fourier_sd, dims=("fourier_mode", "outcome")
            )
        if spec.controls:
            base["control_coef"] = pm.Normal(
                "control_coef", 0.0, priors.control_sd, dims=("control", "outcome")
            )
        if scaling.festivals:
            base["festival_coef"] = pm.Normal(
                "festival_coef", 0.0, priors.festival_sd, dims=("festival", "outcome")
            )
        for term in baseline_terms(features, base, 0).values():
            mu = mu + term
        if keep_mean:
            pm.Deterministic("mu", mu, dims=("week", "outcome"))

        observed = None
        if outcomes is not None:
            observed = np.asarray(outcomes, dtype=float) / np.asarray(scaling.outcome_scale)
        if n_o > 1 and spec.outcome_correlation:
            chol, _, _ = pm.LKJCholeskyCov(
                "chol_cov",
                n=n_o,
                eta=priors.lkj_eta,
                sd_dist=pm.HalfNormal.dist(priors.noise_sd, shape=n_o),
                compute_corr=True,
                store_in_trace=False,
            )
            pm.Deterministic("chol", chol)
            pm.Deterministic("sigma", pt.sqrt(pt.diag(chol @ chol.T)), dims="outcome")
            pm.MvNormal("y", mu=mu, chol=chol, observed=observed, dims=("week", "outcome"))
        else:
            sigma = pm.HalfNormal("sigma", priors.noise_sd, dims="outcome")
            pm.Normal("y", mu=mu, sigma=sigma, observed=observed, dims=("week", "outcome"))
        if outcomes is not None and spec.calibration:
            _lift_likelihood(spec, scaling, dates, x, params, h, beta, gamma)
    return model
