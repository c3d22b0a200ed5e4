"""Build the PyMC model of the omnichannel MMM.

On the scaled data (see :mod:`omnimmm.mmm.design`), for week ``t`` and outcome ``o``::

    y[t, o] = intercept[o] + trend[o] * t' + fourier[t] @ a[:, o] + controls[t] @ b[:, o]
            + festivals[t] @ phi[:, o]
            + ramps[t] @ steps[:, o]                      moving baseline (optional)
            + sum_c beta[c, o] * h_c(t)                   media, h_c = sat(adstock(x_c))
            + sum_p gamma[p, o] * h_a(t) * h_b(t)         declared synergies
            + eps[t, o]                                   eps ~ MvNormal(0, Sigma) across o

With ``[model] noise = "level"`` the noise grows with the expected level: ``eps[t, o] =
g[t, o] * e[t, o]`` with ``e ~ MvNormal(0, Sigma)`` and ``g[t, o] = level(mu[t, o]) **
p[o]``, ``p[o] ~ Beta(1, 2)`` learnt per outcome (0: constant noise, 1: noise proportional
to the level; retail sales are often in between, their errors larger in the big weeks).
``level(m) = (m + sqrt(m^2 + NOISE_FLOOR^2)) / 2`` is ``m`` on the scaled outcome (mean
week 1) but stays positive and smooth where a draw's mean would touch zero.

With ``[model] seasonal_noise = true`` the noise's scale also varies over the year: ``g[t, o]``
is multiplied by ``exp(fourier[t, :4] @ c[:, o])`` with the first two yearly sin/cos pairs of
the baseline and ``c ~ Normal(0, noise_season_sd)``, for panels whose holiday season is
their volatile one.

With ``[model] likelihood = "student_t"`` the whitened noise ``z = L^-1 eps / g`` is
Student-t instead of normal, outcome by outcome, with degrees of freedom ``nu[o] = 2 +
noise_df_excess[o]``, ``noise_df_excess ~ Gamma(2, 0.1)``, learnt per outcome: a few
outlying weeks (a promotion that misfired, a stock-out) then widen neither the fit nor
every week's interval. ``"auto"`` (the default) builds the normal model; the fit refits
it as Student-t when its residuals' tails are heavy (:mod:`omnimmm.mmm.tails`).

With ``[model] baseline = "local_level"`` the level drifts: a random walk on knots about
``baseline_knot_weeks`` apart, linear in between (:func:`omnimmm.mmm.design.level_ramps`),
steps ``steps[k, o] ~ Normal(0, baseline_step_sd)``. Knots every quarter or so are too
coarse to follow weekly media bursts, so the walk takes slow level changes (store openings
and closures, a shifting market) that a fixed level and a straight trend cannot, without
competing with media. The step's scale is set, not learned: a learned scale (a
half-normal hyperprior, non-centred) gave 17 divergent transitions in 4000 draws on
Meridian's national panel, a funnel the quality gate rejects; with a set scale the walk is
one more block of Gaussian coefficients.

The sampler sees it centred: with ``rest[t, o]`` all terms after the intercept,
``mu[t, o] = level[o] + rest[t, o] - mean_t rest[t, o]``, where ``level`` (the mean fitted
week, about 1 on the scaled outcome) has the prior; ``intercept = level - mean_t rest`` is
computed per draw after sampling (:func:`omnimmm.mmm.posterior.complete_posterior`).

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

Every data-derived array (lagged spend, baseline features, outcomes, ROI ratios, lift-test
inputs) and the ROI and coefficient priors' parameters are shared data (``pm.Data``, names
``data_*``) rather than constants, so the compiled graph depends on the plan's structure
alone and is reused from the cache by refits on other weeks or with other priors (see
:func:`_data`). nutpie does not sample this graph where :mod:`omnimmm.mmm.density` covers
the plan: that module writes the same density and gradient out by hand and reads the
priors' families and parameters from this model and its data from these shared variables.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
import pymc as pm
import pytensor
import pytensor.tensor as pt

from omnimmm.mmm.design import (
    NOISE_DF_MIN,
    NOISE_HARMONICS,
    ModelSpec,
    Scaling,
    control_names,
    fourier_names,
)
from omnimmm.mmm.priors import BaselinePriors, adstock_rvs, lognormal_params, saturation_rvs
from omnimmm.mmm.response import (
    FIXED_PARAMS,
    adstock_weight_matrix,
    baseline_terms,
    channel_response,
    lagged,
    media_terms,
    noise_factor,
)
from omnimmm.transforms import SATURATIONS

__all__ = ["build_model", "lift_rows"]

#: The baseline feature (:func:`omnimmm.mmm.design.baseline_features`) of each baseline
#: coefficient.
_FEATURE_OF = {
    "trend": "t",
    "fourier": "fourier",
    "control_coef": "controls",
    "festival_coef": "festivals",
    "baseline_walk": "walk",
}


def lift_rows(dates: pd.DatetimeIndex, start: str, end: str) -> np.ndarray:
    """Indices of the weeks (starting at ``dates``) that overlap ``[start, end]``."""
    d = pd.DatetimeIndex(dates)
    lo, hi = pd.Timestamp(start), pd.Timestamp(end)
    return np.flatnonzero((d <= hi) & (d + pd.Timedelta(days=6) >= lo))


def _coords(
    spec: ModelSpec, dates: pd.DatetimeIndex, scaling: Scaling, n_steps: int
) -> dict[str, Any]:
    layout = spec.layout()
    coords: dict[str, Any] = {
        "week": [d.date().isoformat() for d in pd.DatetimeIndex(dates)],
        "channel": spec.channel_names,
        "outcome": list(spec.outcomes),
        "control": control_names(spec, scaling),
        "festival": list(scaling.festivals),
        "fourier_mode": fourier_names(spec.fourier_order),
        "synergy": [f"{a}:{b}" for a, b in spec.synergies],
        "level_step": list(range(1, n_steps + 1)),
    }
    if spec.seasonal_noise:
        coords["noise_harmonic"] = fourier_names(NOISE_HARMONICS)
    names = spec.channel_names
    for kind, ix in layout.adstock_kinds.items():
        coords[f"channel_adstock_{kind}"] = [names[i] for i in ix]
    for kind, ix in layout.saturation_kinds.items():
        coords[f"channel_saturation_{kind}"] = [names[i] for i in ix]
    coords["channel_roi"] = [c.name for c in spec.channels if c.coef_prior_sd is None]
    coords["channel_coef"] = [c.name for c in spec.channels if c.coef_prior_sd is not None]
    return coords


def _data(name: str, value: np.ndarray, week_axis: int | None = None) -> Any:
    """``value`` as shared data of the graph (``pm.Data``), its week axis of free length.

    With every data-derived array shared, the compiled log density depends on the plan
    and the array ranks only, not on the numbers or the number of weeks: a refit on other
    weeks (the holdout refit, next quarter's run) reuses the compiled functions from
    pytensor's numba cache (:func:`omnimmm.mmm.compile.compile_nutpie`). Every week axis
    is declared to be ``data_n_weeks`` long, so that the graph's shape arithmetic has one
    source; with several, pytensor's rewrites pick among them in no fixed order and the
    compiled graph (and its cache key) changes from run to run.
    """
    value = np.ascontiguousarray(value, dtype=float)
    shape: list[Any] = list(value.shape)
    if week_axis is not None:
        shape[week_axis] = None
    shared = pm.Data(name, value, shape=tuple(shape))
    if week_axis is None:
        return shared
    shape[week_axis] = pm.modelcontext(None)["data_n_weeks"]
    return pt.specify_shape(shared, tuple(shape))


def _effect_sizes(spec: ModelSpec, scaling: Scaling, h: Any) -> Any:
    """``beta`` (C, O) on the scaled outcome from ROI priors or raw coefficient priors."""
    n_o = len(spec.outcomes)
    s = h.sum(axis=0)  # (C, Oa)
    ratio = _data(
        "data_roi_ratio",
        np.asarray(scaling.spend_total)[:, None] / np.asarray(scaling.outcome_scale)[None],
    )
    parts, order = [], []
    roi_ix = [i for i, c in enumerate(spec.channels) if c.coef_prior_sd is None]
    coef_ix = [i for i, c in enumerate(spec.channels) if c.coef_prior_sd is not None]
    if roi_ix:
        mu, sigma = zip(
            *(lognormal_params(spec.channels[i].roi_mean, spec.channels[i].roi_sd) for i in roi_ix),
            strict=True,
        )
        # The prior's parameters are shared data too: a refit with other ROI priors (a
        # prior-sensitivity run in a notebook) reuses the compiled model.
        roi = pm.LogNormal(
            "roi_total",
            mu=_data("data_roi_prior_mu", np.array(mu)),
            sigma=_data("data_roi_prior_sigma", np.array(sigma)),
            dims="channel_roi",
        )
        if n_o > 1:
            share = pm.Dirichlet(
                "roi_share", a=np.ones((len(roi_ix), n_o)), dims=("channel_roi", "outcome")
            )
            roi_co = roi[:, None] * share
        else:
            roi_co = roi[:, None]
        if len(roi_ix) == len(spec.channels):
            parts.append(roi_co * ratio / s)
        else:
            parts.append(roi_co * ratio[roi_ix] / s[roi_ix])
        order += roi_ix
    if coef_ix:
        sd = _data(
            "data_coef_prior_sd",
            np.array([spec.channels[i].coef_prior_sd for i in coef_ix])[:, None],
        )
        z = pm.HalfNormal("coef_raw", sigma=1.0, dims=("channel_coef", "outcome"))
        parts.append(z * sd)
        order += coef_ix
    beta = parts[0] if len(parts) == 1 else pt.concatenate(parts, axis=0)
    if order != sorted(order):
        beta = beta[np.argsort(order)]
    # ``beta`` and the ROI split are recomputed after sampling in numpy
    # (:func:`omnimmm.mmm.posterior.complete_posterior`), not stored by the sampler.
    return beta


def _lift_design(
    spec: ModelSpec, scaling: Scaling, dates: pd.DatetimeIndex, x: np.ndarray
) -> dict[str, np.ndarray] | None:
    """Constants of the lift-test likelihood, one row per usable test (None if none).

    ``lags`` (K, T, C, 1, L): lagged scaled spend with test ``k``'s spend change added to
    its channel; ``pick`` (K, 1, C, 1): one-hot of the tested channel; ``after`` (K, T, 1):
    weeks from the test's first week on; ``outcome`` (K, O): which outcomes the measured
    revenue covers; ``observed`` and ``se`` (K,) in currency.
    """
    layout = spec.layout()
    names = spec.channel_names
    n_c, n_o = len(names), len(spec.outcomes)
    lags, pick, after, outc, obs, ses = [], [], [], [], [], []
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
        lags.append(lagged(x + delta, layout.l_max_all))
        one = np.zeros((1, n_c, 1))
        one[0, c, 0] = 1.0
        pick.append(one)
        after.append((np.arange(len(x)) >= rows[0]).astype(float)[:, None])
        o = np.ones(n_o)
        if test.outcome is not None:
            o = np.zeros(n_o)
            o[list(spec.outcomes).index(test.outcome)] = 1.0
        outc.append(o)
        obs.append(test.incremental_revenue)
        ses.append(test.se)
    if not lags:
        return None
    return {
        "lags": np.stack(lags),
        "pick": np.stack(pick),
        "after": np.stack(after),
        "outcome": np.stack(outc),
        "observed": np.asarray(obs, dtype=float),
        "se": np.asarray(ses, dtype=float),
    }


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
    """Add the lift-test likelihood (tests that overlap the training weeks).

    All tests are evaluated at once: the model's response with each test's spend change
    minus the response with actual spend, on the tested channel (and the synergy terms it
    takes part in), summed from the test's first week to the end of the data.
    """
    d = _lift_design(spec, scaling, dates, x)
    if d is None:
        return
    layout = spec.layout()
    y_scale = _data("data_lift_outcome_scale", np.asarray(scaling.outcome_scale))
    c_of = d["pick"][:, 0, :, 0].argmax(axis=1)
    # The one-hot of the tested channel (K, C) and the outcomes each test measured (K, O)
    # are data too: the hand-written density (omnimmm.mmm.density) reads them there.
    pick = _data("data_lift_pick", d["pick"][:, 0, :, 0])
    # Only the tested channel changes: its lagged spend (K, T, L), its lag weights and its
    # saturation parameters are gathered with the one-hot ``pick`` (small dot products).
    lags_c = _data("data_lift_lags", d["lags"][np.arange(len(c_of)), :, c_of, 0, :], 1)
    w_all = adstock_weight_matrix(params, layout, pt, 0)  # (C, Oa, L)
    n_c, n_a, n_l = len(layout.channels), w_all.shape[1], layout.l_max_all
    w_sel = pt.dot(pick, w_all.reshape((n_c, -1))).reshape((len(c_of), n_a, n_l))
    a_mod = (lags_c[:, :, None, :] * w_sel[:, None, :, :]).sum(axis=-1)  # (K, T, Oa)
    h_mod = pt.zeros_like(a_mod)
    for kind, ix in layout.saturation_groups:
        rows = [k for k, c in enumerate(c_of) if c in ix]
        if not rows:
            continue
        sel = np.zeros((len(rows), len(ix)))
        sel[np.arange(len(rows)), [list(ix).index(c_of[k]) for k in rows]] = 1.0
        ps = []
        for name in SATURATIONS[kind].params:
            v = params.get(
                f"saturation_{kind}_{name}", FIXED_PARAMS.get(f"saturation_{kind}_{name}")
            )
            ps.append(v if np.isscalar(v) else pt.dot(sel, v)[:, None, None])
        h_mod = pt.set_subtensor(h_mod[rows], SATURATIONS[kind].fn(a_mod[rows], *ps))
    h_act = (h[None] * pick[:, None, :, None]).sum(axis=2)  # (K, T, Oa): actual spend
    diff = (h_mod - h_act) * _data("data_lift_after", d["after"], 1)  # (K, T, Oa)
    inc = diff.sum(axis=1) * pt.dot(pick, beta)  # (K, O)
    for p, (a, b) in enumerate(layout.pairs):
        # d(h_a h_b) = d h_c * h_other when only channel c changes.
        other = (
            h[None, :, b, :] * pick[:, a, None, None] + h[None, :, a, :] * pick[:, b, None, None]
        )
        inc = inc + (diff * other).sum(axis=1) * gamma[p]
    pred = (inc * y_scale * _data("data_lift_outcome", d["outcome"])).sum(axis=1)
    ref = float(np.sum(scaling.outcome_scale))
    pm.Normal(
        "lift",
        mu=pred / y_scale.sum(),
        sigma=_data("data_lift_se", d["se"] / ref),
        observed=_data("data_lift_observed", d["observed"] / ref),
    )


def _observed(name: str, mu: Any, sd: Any, nu: Any, observed: Any) -> None:
    """The observed outcomes: normal, or Student-t with ``nu`` (O,) degrees of freedom."""
    if nu is None:
        pm.Normal(name, mu=mu, sigma=sd, observed=observed, dims=("week", "outcome"))
    else:
        pm.StudentT(name, nu=nu[None], mu=mu, sigma=sd, observed=observed,
                    dims=("week", "outcome"))  # fmt: skip


def _correlated_normal(
    observed: Any, mu: Any, chol: Any, n_o: int, scale: Any = None, nu: Any = None
) -> None:
    """The multivariate normal likelihood as a chain of univariate normals.

    With ``Sigma = L L'`` and whitened residuals ``z = L^-1 (y - mu)`` (forward
    substitution, outcome by outcome), ``y[:, k] ~ Normal(mu[:, k] + sum_{j<k} L[k, j]
    z[:, j], L[k, k])`` has exactly the multivariate normal density. Written out for the
    few outcomes of a plan it avoids triangular solves in the graph, which dominate the
    gradient's cost otherwise. With a per-week ``scale`` ``g`` (level noise: ``y = mu + g *
    e``, ``e ~ MvNormal(0, Sigma)``) the residuals are ``(y - mu) / g`` and each outcome's
    shift and sd are multiplied by its ``g``. With ``nu`` (Student-t noise) each whitened
    residual ``z[:, k]`` is Student-t with ``nu[k]`` degrees of freedom instead of normal
    (the chain's conditionals, each a location-scale t).
    """
    z: list[Any] = []
    cond: list[Any] = []
    sd: list[Any] = []
    for k in range(n_o):
        g = 1.0 if scale is None else scale[:, k]
        shift = sum((chol[k, j] * z[j] for j in range(k)), start=pt.zeros(()))
        cond.append(mu[:, k] + g * shift)
        sd.append(g * chol[k, k])
        z.append((observed[:, k] - cond[k]) / sd[k])
    sigma = pt.stack(sd) if scale is None else pt.stack(sd, axis=1)
    _observed("y", pt.stack(cond, axis=1), sigma, nu, observed)


def _unobserved(mu: Any, chol: Any, scale: Any, nu: Any = None) -> None:
    """``y`` of a model without observed outcomes (prior draws only)."""
    if scale is None and nu is None:
        pm.MvNormal("y", mu=mu, chol=chol, dims=("week", "outcome"))
        return
    if nu is None:
        e = pm.MvNormal("y_noise", mu=pt.zeros_like(mu), chol=chol, dims=("week", "outcome"))
    else:
        z = pm.StudentT("y_noise", nu=nu[None], mu=0.0, sigma=1.0, dims=("week", "outcome"))
        e = z @ chol.T
    pm.Deterministic("y", mu + (1.0 if scale is None else scale) * e, dims=("week", "outcome"))


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
    n_steps = int(np.shape(features["walk"])[1]) if "walk" in features else 0
    with pm.Model(coords=_coords(spec, dates, scaling, n_steps)) as model:
        params: dict[str, Any] = {}
        adstock_dims_tail = () if spec.share_carryover else ("outcome",)
        for kind, ix in layout.adstock_kinds.items():
            l_max = max(spec.channels[i].l_max for i in ix)
            rvs = adstock_rvs(kind, (f"channel_adstock_{kind}", *adstock_dims_tail), l_max)
            params.update({f"adstock_{kind}_{p}": v for p, v in rvs.items()})
        for kind in layout.saturation_kinds:
            rvs = saturation_rvs(kind, (f"channel_saturation_{kind}",))
            params.update({f"saturation_{kind}_{p}": v for p, v in rvs.items()})
        # int64 like every shape in the graph (pm.Data would make it int32, and the casts
        # then keep rewrites from seeing that the week axes are equal).
        model.register_data_var(pytensor.shared(np.int64(len(x)), name="data_n_weeks"))
        lags = _data("data_spend_lags", lagged(x, layout.l_max_all), 0)  # (T, C, 1, L)
        h = channel_response(x, params, layout, pt, 0, lags=lags)
        beta = _effect_sizes(spec, scaling, h)
        gamma = None
        if layout.pairs:
            gamma = pm.Normal("gamma", 0.0, priors.synergy_sd, dims=("synergy", "outcome"))
        main, syn = media_terms(h, beta, gamma, layout, pt)
        rest = main.sum(axis=1)
        if syn is not None:
            rest = rest + syn.sum(axis=1)

        level = pm.Normal("level", priors.level_mu, priors.level_sd, dims="outcome")
        base: dict[str, Any] = {}
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
        if n_steps:
            # The moving baseline (design.level_ramps): each knot's step of the level.
            base["baseline_walk"] = pm.Normal(
                "baseline_walk", 0.0, spec.baseline_step_sd, dims=("level_step", "outcome")
            )
        feats = {
            _FEATURE_OF[k]: _data(f"data_{_FEATURE_OF[k]}", features[_FEATURE_OF[k]], 0)
            for k in base
        }
        for term in baseline_terms(feats, base, 0).values():
            rest = rest + term
        # Centred: every term enters as its deviation from its training mean and ``level``
        # is the mean fitted week. Same mean function as ``intercept + rest`` with
        # ``intercept = level - mean_t(rest)`` (recovered after sampling), but ``level``
        # is nearly independent of the media and trend effects, which halves the
        # sampler's steps per draw on the simulated world.
        mu = level[None] + rest - rest.mean(axis=0)[None]
        if keep_mean:
            pm.Deterministic("mu", mu, dims=("week", "outcome"))

        observed = None
        if outcomes is not None:
            observed = _data(
                "data_y", np.asarray(outcomes, dtype=float) / np.asarray(scaling.outcome_scale), 0
            )
        power = season = scale = None
        if spec.noise == "level":
            power = pm.Beta(
                "noise_power", priors.noise_power_a, priors.noise_power_b, dims="outcome"
            )
        if spec.seasonal_noise:
            season = pm.Normal(
                "noise_season", 0.0, priors.noise_season_sd, dims=("noise_harmonic", "outcome")
            )
        if power is not None or season is not None:
            scale = noise_factor(mu, power, feats.get("fourier"), season, 0, pt)
        nu = None
        if spec.likelihood == "student_t":
            excess = pm.Gamma(
                "noise_df_excess", priors.noise_df_a, priors.noise_df_b, dims="outcome"
            )
            nu = NOISE_DF_MIN + excess
        if n_o == 2 and spec.outcome_correlation:
            # Two outcomes: the LKJ(eta) prior of the one correlation is
            # (rho + 1) / 2 ~ Beta(eta, eta); the Cholesky factor is written out.
            sigma = pm.HalfNormal("sigma", priors.noise_sd, dims="outcome")
            r = pm.Beta("rho_beta", priors.lkj_eta, priors.lkj_eta)
            rho = 2.0 * r - 1.0
            chol = pt.stack(
                [
                    pt.stack([sigma[0], pt.zeros(())]),
                    pt.stack([sigma[1] * rho, sigma[1] * pt.sqrt(1.0 - rho**2)]),
                ]
            )
            if observed is None:
                _unobserved(mu, chol, scale, nu)
            else:
                _correlated_normal(observed, mu, chol, n_o, scale, nu)
        elif n_o > 2 and spec.outcome_correlation:
            chol, _, _ = pm.LKJCholeskyCov(
                "chol_cov",
                n=n_o,
                eta=priors.lkj_eta,
                sd_dist=pm.HalfNormal.dist(priors.noise_sd, shape=n_o),
                compute_corr=True,
                store_in_trace=False,
            )
            # ``chol`` and ``sigma`` are unpacked from ``chol_cov`` after sampling.
            if observed is None:
                _unobserved(mu, chol, scale, nu)
            else:
                _correlated_normal(observed, mu, chol, n_o, scale, nu)
        else:
            sigma = pm.HalfNormal("sigma", priors.noise_sd, dims="outcome")
            sd = sigma if scale is None else sigma[None] * scale
            _observed("y", mu, sd, nu, observed)
        if outcomes is not None and spec.calibration:
            _lift_likelihood(spec, scaling, dates, x, params, h, beta, gamma)
    return model
