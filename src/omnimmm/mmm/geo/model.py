"""The geo model as a PyMC graph: the reference the hand-written density is checked against.

The same parameters, priors and mean as :mod:`omnimmm.mmm.geo.kernel` (see its docstring
and :mod:`omnimmm.mmm.geo.layout`), written with PyMC distributions and pytensor. Fits do
not sample this graph (the kernel is faster and compiles once per machine); the tests
compare its log density and gradient with the kernel's at random points.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pymc as pm
import pytensor.tensor as pt

from omnimmm.mmm.geo.layout import (
    BETA,
    GAMMA,
    HALFNORMAL,
    HIER,
    HIER_NC,
    LOGNORMAL,
    NORMAL,
    GeoLayout,
)
from omnimmm.mmm.geo.spec import GeoData

__all__ = ["build_geo_model", "lagged_spend"]


def lagged_spend(xs: np.ndarray, l_max: int) -> np.ndarray:
    """``xs`` (T, G, C) lagged: ``out[t, g, c, l] = xs[t - l, g, c]`` (0 before week 0)."""
    t_n = xs.shape[0]
    out = np.zeros((*xs.shape, l_max))
    for lag in range(min(l_max, t_n)):
        out[lag:, :, :, lag] = xs[: t_n - lag]
    return out


def _rv(name: str, layout: GeoLayout, extra: Any = None) -> Any:
    shape = layout.shapes[name]
    o = layout.offsets[name]
    size = layout.size(name)
    a = layout.prior_a[o : o + size].reshape(shape)
    b = layout.prior_b[o : o + size].reshape(shape)
    kind = layout.block_kind(name)
    if kind == NORMAL:
        return pm.Normal(name, mu=a, sigma=b, shape=shape)
    if kind == LOGNORMAL:
        return pm.LogNormal(name, mu=a, sigma=b, shape=shape)
    if kind == HALFNORMAL:
        return pm.HalfNormal(name, sigma=b, shape=shape)
    if kind == GAMMA:
        return pm.Gamma(name, alpha=a, beta=b, shape=shape)
    if kind == BETA:
        return pm.Beta(name, alpha=a, beta=b, shape=shape)
    if kind == HIER:
        mean, spread = extra
        return pm.Normal(name, mu=mean[None], sigma=spread[None], shape=shape)
    if kind == HIER_NC:
        mean, spread = extra
        eta = pm.Normal(name, mu=0.0, sigma=1.0, shape=shape)
        return mean[None] + spread[None] * eta
    raise ValueError(f"unknown prior kind {kind} of {name}")


def build_geo_model(data: GeoData, layout: GeoLayout) -> pm.Model:
    """The PyMC model of the geo MMM on ``data``.

    Parameters
    ----------
    data : GeoData
        The scaled panel.
    layout : GeoLayout
        Parameters and priors (built for ``data``'s dimensions).

    Returns
    -------
    pymc.Model
        Its value variables are the layout's blocks in order (empty blocks left out).
    """
    t_n, g_n, c_n, o_n, _ = data.shape
    l_max = layout.shapes["l_max"][0]
    lags = lagged_spend(data.xs, l_max)
    has_spend = (data.spend_total > 0).astype(float)
    with pm.Model() as model:
        log_roi = _rv("log_roi", layout)
        spread = _rv("roi_spread", layout)
        roi_geo_log = _rv("roi_geo_log", layout, (log_roi, spread))
        alpha = _rv("adstock_alpha", layout)
        half_sat = _rv("half_sat", layout)
        slope = _rv("hill_slope", layout)
        if o_n == 2:
            first = _rv("share_first", layout)
            share = pt.stack([first, 1.0 - first], axis=1)
        else:
            share = pt.ones((c_n, 1))
        level = _rv("level", layout)
        coef_mean = _rv("coef_mean", layout)
        coef_spread = _rv("coef_spread", layout)
        step = _rv("level_step", layout) if layout.size("level_step") else None
        noise = _rv("noise", layout)

        u = alpha[:, None] ** np.arange(l_max, dtype=float)[None, :]
        w = u / u.sum(axis=1, keepdims=True)  # (C, L)
        adstocked = (lags * w[None, None, :, :]).sum(axis=3)  # (T, G, C)
        positive = adstocked > 0
        rs = (pt.switch(positive, adstocked, 1.0) / half_sat) ** slope
        h = pt.switch(positive, rs / (1.0 + rs), 0.0)
        s_tot = h.sum(axis=0)  # (G, C)
        roi = pt.exp(roi_geo_log)
        safe = pt.switch(has_spend > 0, s_tot, 1.0)
        beta = (roi * has_spend / safe)[:, :, None] * share[None, :, :] * data.ratio
        media = (h[:, :, :, None] * beta[None]).sum(axis=2)  # (T, G, O)
        j0 = data.feat.shape[2]
        base = (data.fc[:, :, :j0, None] * coef_mean[None, None]).sum(axis=2)
        mu = level[None] + media - media.mean(axis=0, keepdims=True) + base
        # The regional deviations of the baseline coefficients integrated out: per region
        # and outcome a multivariate normal (T x T covariance; the reference, not fast).
        for g in range(g_n):
            f = data.fc[:, g, :]
            for o in range(o_n):
                spread = coef_spread[:, o]
                if step is not None:
                    spread = pt.concatenate([spread, pt.repeat(step[o], data.n_walk)])
                cov = noise[g, o] ** 2 * np.eye(t_n) + pt.dot(f * spread**2, f.T)
                pm.MvNormal(f"y_{g}_{o}", mu=mu[:, g, o], cov=cov, observed=data.ys[:, g, o])
        if len(data.lift):
            lift = data.lift
            c_of = lift[:, 0].astype(int)
            pred = (lift[:, 4:] * roi[:, c_of].T).sum(axis=1)
            sh = pt.stack(
                [
                    share[c, int(o)] if o >= 0 else pt.constant(1.0)
                    for c, o in zip(c_of, lift[:, 1], strict=True)
                ]
            )
            pm.Normal("lift", mu=pred * sh, sigma=lift[:, 3], observed=lift[:, 2])
    return model
