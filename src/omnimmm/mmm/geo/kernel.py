"""The geo model's log density and its gradient, written out by hand (numba).

The same density as the PyMC graph of :mod:`omnimmm.mmm.geo.model`, on the same
unconstrained point (:mod:`omnimmm.mmm.geo.layout`); ``tests/test_geo_model.py`` checks
values and gradients against PyMC's at random points. The priors and the Hill saturation
with its slopes are the national density's (:mod:`omnimmm.mmm.density.forward`).

Forward, for region ``g``, week ``t``, channel ``c`` and outcome ``o`` (scaled data, see
:mod:`omnimmm.mmm.geo.spec`)::

    a[t, g, c]  = sum_l w[c, l] xs[t - l, g, c]        w: geometric, normalised
    h[t, g, c]  = hill(a; K[c], s[c]);  S[g, c] = sum_t h[t, g, c]
    roi[g, c]   = exp(roi_geo_log[g, c]),  roi_geo_log ~ Normal(log_roi[c], spread[c])
    beta[g,c,o] = roi[g, c] share[c, o] ratio[g, c, o] / S[g, c]
    rest        = sum_c beta h + sum_j coef[g, j, o] feat[t, g, j]
    mu          = level[g, o] + rest - mean_t rest;   ys ~ Normal(mu, noise[g, o])

so that channel ``c``'s revenue in region ``g`` over the weeks is ``roi[g, c]`` times its
spend there. Backward: ``r = dlogp/dmu``; its part free of the weekly mean
``rc = r - mean_t r`` flows into ``rest``; through ``beta`` (with ``S``) into ``h``, ``roi``
and the shares; through ``h`` into the adstocked spend and the Hill parameters; through the
adstock into its weights and ``alpha``. Time and memory are linear in ``T x G x C``.
"""

from __future__ import annotations

import math

import numba
import numpy as np

from omnimmm.mmm.density.forward import _priors, _saturation
from omnimmm.mmm.geo.cache import use_geo_stamp

__all__ = ["geo_logp_grad"]

use_geo_stamp()  # before the numba.njit(cache=True) below

_LOG2PI = math.log(2.0 * math.pi)
# Indices into ``ix`` (:meth:`omnimmm.mmm.geo.layout.GeoLayout.index_table`).
_LR, _SPREAD, _Z, _ALPHA, _K, _S, _SHARE, _LEVEL, _BM, _BS, _B, _NOISE, _LMAX = range(13)


@numba.njit(cache=True, error_model="numpy")
def geo_logp_grad(z, grad, kinds, prior_a, prior_b, ix, xs, ys, feat, ratio):  # pragma: no cover
    """Log density at ``z``; its gradient into ``grad`` (overwritten).

    ``kinds``, ``prior_a``, ``prior_b`` and ``ix`` are the layout's tables; ``xs`` (T, G, C),
    ``ys`` (T, G, O), ``feat`` (T, G, J) and ``ratio`` (G, C, O) the scaled data.
    """
    t_n, g_n, c_n = xs.shape
    o_n = ys.shape[2]
    j_n = feat.shape[2]
    l_n = ix[_LMAX]
    n = z.shape[0]
    v = np.empty(n)
    dv = np.empty(n)
    lp = _priors(z, grad, kinds, prior_a, prior_b, v, dv)
    gv = np.zeros(n)
    o_lr, o_sp, o_z, o_al = ix[_LR], ix[_SPREAD], ix[_Z], ix[_ALPHA]
    o_k, o_s, o_sh, o_lev = ix[_K], ix[_S], ix[_SHARE], ix[_LEVEL]
    o_bm, o_bs, o_b, o_no = ix[_BM], ix[_BS], ix[_B], ix[_NOISE]

    # Regional log ROI, centred around the national one.
    for g in range(g_n):
        for c in range(c_n):
            i = o_z + g * c_n + c
            v[i] = z[i]
            dv[i] = 1.0
            s = v[o_sp + c]
            d = (z[i] - v[o_lr + c]) / s
            lp += -0.5 * _LOG2PI - math.log(s) - 0.5 * d * d
            gv[i] -= d / s
            gv[o_lr + c] += d / s
            gv[o_sp + c] += (d * d - 1.0) / s

    # Regional baseline coefficients, centred around the national ones.
    jo = j_n * o_n
    for g in range(g_n):
        for q in range(jo):
            i = o_b + g * jo + q
            v[i] = z[i]
            dv[i] = 1.0
            s = v[o_bs + q]
            d = (z[i] - v[o_bm + q]) / s
            lp += -0.5 * _LOG2PI - math.log(s) - 0.5 * d * d
            gv[i] -= d / s
            gv[o_bm + q] += d / s
            gv[o_bs + q] += (d * d - 1.0) / s

    # Adstock weights and their slopes in alpha.
    w = np.empty((c_n, l_n))
    dw = np.empty((c_n, l_n))
    for c in range(c_n):
        al = v[o_al + c]
        tot = 0.0
        dtot = 0.0
        for lag in range(l_n):
            u = al**lag
            du = lag * al ** (lag - 1) if lag > 0 else 0.0
            w[c, lag] = u
            dw[c, lag] = du
            tot += u
            dtot += du
        for lag in range(l_n):
            wn = w[c, lag] / tot
            dw[c, lag] = (dw[c, lag] - wn * dtot) / tot
            w[c, lag] = wn

    # Adstock and saturation, with the saturation's slopes.
    h = np.empty((t_n, g_n, c_n))
    hx = np.empty((t_n, g_n, c_n))
    hk = np.empty((t_n, g_n, c_n))
    hs = np.empty((t_n, g_n, c_n))
    s_tot = np.zeros((g_n, c_n))
    for t in range(t_n):
        for g in range(g_n):
            for c in range(c_n):
                acc = 0.0
                for lag in range(min(l_n, t + 1)):
                    acc += w[c, lag] * xs[t - lag, g, c]
                h[t, g, c], hx[t, g, c], hk[t, g, c], hs[t, g, c] = _saturation(
                    0, acc, v[o_k + c], v[o_s + c]
                )
                s_tot[g, c] += h[t, g, c]

    # Regional ROI, shares between outcomes, effect sizes.
    roi = np.empty((g_n, c_n))
    for g in range(g_n):
        for c in range(c_n):
            roi[g, c] = math.exp(v[o_z + g * c_n + c])
    share = np.ones((c_n, o_n))
    if o_n == 2:
        for c in range(c_n):
            share[c, 0] = v[o_sh + c]
            share[c, 1] = 1.0 - v[o_sh + c]
    beta = np.zeros((g_n, c_n, o_n))
    for g in range(g_n):
        for c in range(c_n):
            if s_tot[g, c] > 0:
                for o in range(o_n):
                    beta[g, c, o] = roi[g, c] * share[c, o] * ratio[g, c, o] / s_tot[g, c]

    # Mean, centred per region, and the likelihood with its slope r in the mean.
    rest = np.zeros((t_n, g_n, o_n))
    for t in range(t_n):
        for g in range(g_n):
            for o in range(o_n):
                acc = 0.0
                for c in range(c_n):
                    acc += beta[g, c, o] * h[t, g, c]
                for j in range(j_n):
                    acc += v[o_b + g * jo + j * o_n + o] * feat[t, g, j]
                rest[t, g, o] = acc
    rc = np.empty((t_n, g_n, o_n))
    for g in range(g_n):
        for o in range(o_n):
            m = 0.0
            for t in range(t_n):
                m += rest[t, g, o]
            m /= t_n
            lev = v[o_lev + g * o_n + o]
            sd = v[o_no + g * o_n + o]
            g_sd = 0.0
            r_sum = 0.0
            for t in range(t_n):
                e = (ys[t, g, o] - (lev + rest[t, g, o] - m)) / sd
                lp += -0.5 * _LOG2PI - math.log(sd) - 0.5 * e * e
                rc[t, g, o] = e / sd
                r_sum += e / sd
                g_sd += (e * e - 1.0) / sd
            gv[o_no + g * o_n + o] += g_sd
            gv[o_lev + g * o_n + o] += r_sum
            r_mean = r_sum / t_n
            for t in range(t_n):
                rc[t, g, o] -= r_mean

    # Back through the mean: baseline coefficients, effect sizes and saturated spend.
    q_sum = np.zeros((g_n, c_n, o_n))
    gh = np.empty((t_n, g_n, c_n))
    for t in range(t_n):
        for g in range(g_n):
            for o in range(o_n):
                r = rc[t, g, o]
                for j in range(j_n):
                    gv[o_b + g * jo + j * o_n + o] += r * feat[t, g, j]
                for c in range(c_n):
                    q_sum[g, c, o] += r * h[t, g, c]
            for c in range(c_n):
                acc = 0.0
                for o in range(o_n):
                    acc += rc[t, g, o] * beta[g, c, o]
                gh[t, g, c] = acc
    gw = np.zeros((c_n, l_n))
    for g in range(g_n):
        for c in range(c_n):
            if s_tot[g, c] <= 0:
                continue
            d_s = 0.0  # slope in S[g, c]; beta = B / S
            d_roi = 0.0
            for o in range(o_n):
                d_s -= q_sum[g, c, o] * beta[g, c, o] / s_tot[g, c]
                d_roi += q_sum[g, c, o] * share[c, o] * ratio[g, c, o] / s_tot[g, c]
                if o_n == 2:
                    gq = q_sum[g, c, o] * roi[g, c] * ratio[g, c, o] / s_tot[g, c]
                    gv[o_sh + c] += gq if o == 0 else -gq
            gv[o_z + g * c_n + c] += d_roi * roi[g, c]
            g_k = 0.0
            g_s = 0.0
            for t in range(t_n):
                ght = gh[t, g, c] + d_s
                g_k += ght * hk[t, g, c]
                g_s += ght * hs[t, g, c]
                ga = ght * hx[t, g, c]
                for lag in range(min(l_n, t + 1)):
                    gw[c, lag] += ga * xs[t - lag, g, c]
            gv[o_k + c] += g_k
            gv[o_s + c] += g_s
    for c in range(c_n):
        acc = 0.0
        for lag in range(l_n):
            acc += gw[c, lag] * dw[c, lag]
        gv[o_al + c] += acc

    for i in range(n):
        grad[i] += gv[i] * dv[i]
    return lp
