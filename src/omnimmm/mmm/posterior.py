"""Derived posterior quantities, computed after sampling in numpy.

The sampled PyMC model keeps only its free parameters: every deterministic a sampler
stores costs compile time (nutpie compiles a second function for them) and memory. What
the analysis needs besides the free parameters is recomputed here, draw by draw, from the
same functions the model uses (:mod:`omnimmm.mmm.response`):

* ``adstock_delayed_theta``: the peak lag, ``theta_frac * (l_max - 1)``;
* ``beta`` (channel, outcome): effect sizes on the scaled outcome; for ROI-parameterised
  channels ``roi_total * roi_share * spend_total / (y_scale * sum_t h)``, for channels with
  a raw coefficient prior ``coef_raw * coef_prior_sd``;
* ``roi_main`` (channel, outcome): main-effect revenue per unit of spend (no synergy);
* ``intercept`` (outcome): the model samples the centred ``level`` (the mean fitted week,
  :mod:`omnimmm.mmm.model`); ``intercept = level - mean_t(rest)``, with ``rest`` every
  other term of the mean (media, synergy, trend, seasonality, controls, festivals);
* ``chol`` (outcome, outcome) and ``sigma`` (outcome): the residual covariance factor and
  standard deviations, unpacked from ``chol_cov`` (more than two outcomes) or built from
  ``sigma`` and ``rho_beta`` (two outcomes: ``rho = 2 rho_beta - 1``).
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from omnimmm.mmm.design import NOISE_DF_MIN, ModelSpec, Scaling
from omnimmm.mmm.response import baseline_terms, channel_response

__all__ = ["complete_posterior", "delayed_l_max"]


def delayed_l_max(spec: ModelSpec) -> int:
    """Lag window that scales the delayed adstock's peak (largest among those channels)."""
    return max(c.l_max for c in spec.channels if c.adstock == "delayed")


def _unpack_lower(packed: np.ndarray, n: int) -> np.ndarray:
    """Row-major packed lower triangles ``(..., n (n + 1) / 2)`` -> ``(..., n, n)``."""
    out = np.zeros((*packed.shape[:-1], n, n))
    rows, cols = np.tril_indices(n)
    out[..., rows, cols] = packed
    return out


def complete_posterior(
    posterior: xr.Dataset,
    spec: ModelSpec,
    scaling: Scaling,
    spend: np.ndarray,
    features: dict[str, np.ndarray] | None = None,
    chunk: int = 500,
) -> xr.Dataset:
    """Add the derived quantities to a posterior of free parameters (chain, draw, ...).

    Parameters
    ----------
    posterior : xarray.Dataset
        As sampled (``chain``, ``draw`` first).
    spec : ModelSpec
    scaling : Scaling
        Of the training weeks.
    spend : numpy.ndarray of shape (T, C)
        Training spend in currency, channels in ``spec`` order.
    features : dict, optional
        :func:`omnimmm.mmm.design.baseline_features` of the training weeks; needed to
        recover ``intercept`` from a sampled ``level``.
    chunk : int, default 500
        Draws evaluated at once (bounds memory).

    Returns
    -------
    xarray.Dataset
        ``posterior`` with the derived variables added (existing ones are kept).
    """
    post = posterior.copy()
    n_chain, n_draw = post.sizes["chain"], post.sizes["draw"]
    n = n_chain * n_draw
    layout = spec.layout()
    names = spec.channel_names
    outcomes = list(spec.outcomes)
    n_o = len(outcomes)

    if "noise_df_excess" in post and "noise_df" not in post:  # Student-t noise
        post["noise_df"] = post["noise_df_excess"] + NOISE_DF_MIN
    if "adstock_delayed_theta_frac" in post and "adstock_delayed_theta" not in post:
        frac = post["adstock_delayed_theta_frac"]
        post["adstock_delayed_theta"] = frac * (delayed_l_max(spec) - 1)

    def flat(name: str) -> np.ndarray:
        a = post[name].to_numpy()
        return a.reshape(n, *a.shape[2:])

    need_beta = "beta" not in post
    need_intercept = "level" in post and "intercept" not in post
    if need_intercept and features is None:
        raise ValueError("complete_posterior needs the training features to recover intercept")
    if need_beta or need_intercept:
        var_names = [str(k) for k in post.data_vars]
        params = {k: flat(k) for k in var_names if k.startswith(("adstock_", "saturation_"))}
        x = (np.asarray(spend, dtype=float) / np.asarray(scaling.spend_scale))[:, None, :, None]
        sums, pair_means = [], []
        for lo in range(0, n, chunk):
            part = {k: v[lo : lo + chunk] for k, v in params.items()}
            h = channel_response(x, part, layout, np, 1)  # (T, d, C, Oa)
            sums.append(h.sum(axis=0))
            pair_means.append(
                np.stack([(h[:, :, a] * h[:, :, b]).mean(axis=0) for a, b in layout.pairs], 1)
                if layout.pairs
                else np.zeros((h.shape[1], 0, h.shape[-1]))
            )
        s = np.concatenate(sums, axis=0)  # (N, C, Oa)
        ratio = np.asarray(scaling.spend_total)[:, None] / np.asarray(scaling.outcome_scale)[None]
    if need_beta:
        beta = np.zeros((n, len(names), n_o))
        roi_ix = [i for i, c in enumerate(spec.channels) if c.coef_prior_sd is None]
        coef_ix = [i for i, c in enumerate(spec.channels) if c.coef_prior_sd is not None]
        if roi_ix:
            roi = flat("roi_total")[:, :, None]
            share = flat("roi_share") if "roi_share" in post else np.ones((n, len(roi_ix), 1))
            with np.errstate(divide="ignore", invalid="ignore"):
                beta[:, roi_ix] = roi * share * ratio[roi_ix] / s[:, roi_ix]
        if coef_ix:
            sd = np.array([spec.channels[i].coef_prior_sd for i in coef_ix])[:, None]
            beta[:, coef_ix] = flat("coef_raw") * sd
        roi_main = beta * s / ratio
        shape = (n_chain, n_draw, len(names), n_o)
        dims = ("chain", "draw", "channel", "outcome")
        coords = {"channel": names, "outcome": outcomes}
        post["beta"] = xr.DataArray(beta.reshape(shape), dims=dims, coords=coords)
        post["roi_main"] = xr.DataArray(roi_main.reshape(shape), dims=dims, coords=coords)
    if need_intercept:
        assert features is not None
        beta = flat("beta")
        rest = (beta * s / len(x)).sum(axis=1)  # mean media effect (N, O)
        if layout.pairs:
            rest = rest + (flat("gamma") * np.concatenate(pair_means, axis=0)).sum(axis=1)
        terms = ("trend", "fourier", "control_coef", "festival_coef", "baseline_walk")
        base = {k: flat(k) for k in terms if k in post}
        # Every baseline term is linear in its features: its mean over the weeks is the
        # term of the features' mean week.
        mean_week = {
            k: np.asarray(v, dtype=float).mean(axis=0, keepdims=True) for k, v in features.items()
        }
        for term in baseline_terms(mean_week, base, 1).values():
            rest = rest + np.broadcast_to(term, (1, n, n_o))[0]
        intercept = flat("level") - rest
        post["intercept"] = xr.DataArray(
            intercept.reshape(n_chain, n_draw, n_o),
            dims=("chain", "draw", "outcome"),
            coords={"outcome": outcomes},
        )

    if "rho_beta" in post and "chol" not in post:
        sig = flat("sigma")
        rho = 2.0 * flat("rho_beta") - 1.0
        chol = np.zeros((n, 2, 2))
        chol[:, 0, 0] = sig[:, 0]
        chol[:, 1, 0] = sig[:, 1] * rho
        chol[:, 1, 1] = sig[:, 1] * np.sqrt(1.0 - rho**2)
        post["chol"] = xr.DataArray(
            chol.reshape(n_chain, n_draw, 2, 2), dims=("chain", "draw", "chol_row", "chol_col")
        )
        post["rho"] = xr.DataArray(rho.reshape(n_chain, n_draw), dims=("chain", "draw"))
    if "chol_cov" in post and "chol" not in post:
        chol = _unpack_lower(flat("chol_cov"), n_o)
        sigma = np.sqrt((chol**2).sum(axis=-1))
        post["chol"] = xr.DataArray(
            chol.reshape(n_chain, n_draw, n_o, n_o),
            dims=("chain", "draw", "chol_row", "chol_col"),
        )
        post["sigma"] = xr.DataArray(
            sigma.reshape(n_chain, n_draw, n_o),
            dims=("chain", "draw", "outcome"),
            coords={"outcome": outcomes},
        )
    return post
