"""From the geo model's posterior points to parameters, ROI, contributions and fits.

Numpy, per posterior draw, the forward pass of :mod:`omnimmm.mmm.geo.kernel` (the tests
check one against the other); everything is in currency units of the panel unless named
``scaled``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from omnimmm.mmm.geo.layout import HIER_NC, GeoLayout
from omnimmm.mmm.geo.spec import GeoData

__all__ = ["GeoDraws", "baseline_coef", "geo_draws", "saturated", "weights"]


def weights(alpha: np.ndarray, l_max: int) -> np.ndarray:
    """Normalised geometric adstock weights, shape ``alpha.shape + (l_max,)``."""
    u = alpha[..., None] ** np.arange(l_max, dtype=float)
    return u / u.sum(axis=-1, keepdims=True)


def saturated(xs: np.ndarray, w: np.ndarray, half_sat: np.ndarray, slope: np.ndarray) -> np.ndarray:
    """Hill of the adstocked scaled spend of one draw: ``xs`` (T, G, C), ``w`` (C, L),
    ``half_sat`` and ``slope`` (C,); returns ``h`` (T, G, C)."""
    t_n = xs.shape[0]
    a = np.zeros_like(xs)
    for lag in range(min(w.shape[1], t_n)):
        a[lag:] += w[None, None, :, lag] * xs[: t_n - lag]
    out = np.zeros_like(a)
    pos = a > 0
    rs = (np.where(pos, a, 1.0) / half_sat) ** slope
    np.divide(rs, 1.0 + rs, out=out, where=pos)
    return out


@dataclass(frozen=True)
class GeoDraws:
    """Constrained parameters of ``D`` posterior draws (chains stacked).

    Attributes
    ----------
    log_roi, roi_spread : arrays (D, C)
    roi : array (D, G, C)
        Regional ROI (revenue of both outcomes per unit of spend).
    alpha, half_sat, slope : arrays (D, C)
    share : array (D, C, O)
    level, noise : arrays (D, G, O)
    coef_mean, coef_spread : arrays (D, J, O)
        National baseline coefficients and their regional spread; the regional ones are
        integrated out of the density and drawn by :func:`baseline_coef`.
    level_step : array (D, O) or (D, 0)
        The moving baseline's step sd (none when the baseline is fixed).
    """

    log_roi: np.ndarray
    roi_spread: np.ndarray
    roi: np.ndarray
    alpha: np.ndarray
    half_sat: np.ndarray
    slope: np.ndarray
    share: np.ndarray
    level: np.ndarray
    noise: np.ndarray
    coef_mean: np.ndarray
    coef_spread: np.ndarray
    level_step: np.ndarray

    @property
    def n_draws(self) -> int:
        """Number of draws ``D``."""
        return int(self.roi.shape[0])

    def beta(self, data: GeoData, d: int, s_tot: np.ndarray) -> np.ndarray:
        """Effect sizes (G, C, O) of draw ``d`` on the scaled outcome, given ``S`` (G, C)."""
        ok = (data.spend_total > 0) & (s_tot > 0)
        per = np.where(ok, self.roi[d] / np.where(ok, s_tot, 1.0), 0.0)
        return per[:, :, None] * self.share[d][None] * data.ratio


def geo_draws(points: np.ndarray, layout: GeoLayout, o_n: int) -> GeoDraws:
    """The constrained parameters of unconstrained ``points`` (D, n)."""
    z = np.asarray(points, dtype=float)
    lr = layout.constrained(z, "log_roi")
    spread = layout.constrained(z, "roi_spread")
    roi_geo_log = layout.constrained(z, "roi_geo_log")
    if layout.block_kind("roi_geo_log") == HIER_NC and roi_geo_log.size:
        roi_geo_log = lr[:, None, :] + spread[:, None, :] * roi_geo_log
    if o_n == 2:
        first = layout.constrained(z, "share_first")
        share = np.stack([first, 1.0 - first], axis=2)
    else:
        share = np.ones((z.shape[0], lr.shape[1], 1))
    return GeoDraws(
        log_roi=lr,
        roi_spread=spread,
        roi=np.exp(roi_geo_log),
        alpha=layout.constrained(z, "adstock_alpha"),
        half_sat=layout.constrained(z, "half_sat"),
        slope=layout.constrained(z, "hill_slope"),
        share=share,
        level=layout.constrained(z, "level"),
        noise=layout.constrained(z, "noise"),
        coef_mean=layout.constrained(z, "coef_mean"),
        coef_spread=layout.constrained(z, "coef_spread"),
        level_step=layout.constrained(z, "level_step"),
    )


def baseline_coef(
    data: GeoData, draws: GeoDraws, d: int, media: np.ndarray, rng: np.random.Generator
) -> np.ndarray:
    """Regional baseline coefficients (G, J + W, O) of draw ``d``, drawn from their normal
    conditional on the draw's other parameters and the data (the density integrates them
    out, :func:`omnimmm.mmm.geo.kernel.marginal_baseline`); the last ``W`` are the steps
    of the moving baseline, multiplying the ramps in ``data.fc``.

    Parameters
    ----------
    data : GeoData
    draws : GeoDraws
    d : int
    media : array (T, G, O)
        The draw's media mean on the scaled outcome (``sum_c beta h``, not centred).
    rng : numpy.random.Generator

    Returns
    -------
    numpy.ndarray
        ``coef_mean + dev`` (then the steps), on the scaled outcome.
    """
    _, g_n, _, o_n, j0 = data.shape
    j_n = j0 + data.n_walk
    m = np.zeros((j_n, o_n))
    m[:j0] = draws.coef_mean[d]
    resid = (
        data.ys
        - draws.level[d][None]
        - (media - media.mean(axis=0, keepdims=True))
        - np.einsum("tgj,jo->tgo", data.fc, m)
    )
    out = np.empty((g_n, j_n, o_n))
    for g in range(g_n):
        for o in range(o_n):
            s2 = draws.noise[d, g, o] ** 2
            spread = np.concatenate(
                [draws.coef_spread[d, :, o], np.repeat(draws.level_step[d, o : o + 1], data.n_walk)]
            )
            prec = data.ftf[g] / s2 + np.diag(1.0 / spread**2)
            chol = np.linalg.cholesky(prec)
            mean = np.linalg.solve(prec, data.fc[:, g, :].T @ resid[:, g, o] / s2)
            # dev = mean + L^-T z has covariance (L L')^-1 = prec^-1.
            dev = mean + np.linalg.solve(chol.T, rng.standard_normal(j_n))
            out[g, :, o] = m[:, o] + dev
    return out
