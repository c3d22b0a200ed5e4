"""The geo model's log density and its gradient, written out by hand (numba).

The same density as the PyMC graph of :mod:`omnimmm.mmm.geo.model`, on the same
unconstrained point (:mod:`omnimmm.mmm.geo.layout`); ``tests/test_geo_model.py`` checks
values and gradients against PyMC's at random points. The priors and the Hill saturation
with its slopes are the national density's (:mod:`omnimmm.mmm.density.forward`).

Forward, for region ``g``, week ``t``, channel ``c`` and outcome ``o`` (scaled data, see
:mod:`omnimmm.mmm.geo.spec`; ``F`` the baseline features centred per region)::

    a[t, g, c]  = sum_l w[c, l] xs[t - l, g, c]        w: geometric, normalised
    h[t, g, c]  = hill(a; K[c], s[c]);  S[g, c] = sum_t h[t, g, c]
    roi[g, c]   = exp(roi_geo_log[g, c]),  roi_geo_log ~ Normal(log_roi[c], spread[c])
                  (centred; or log_roi[c] + spread[c] eta[g, c], eta ~ Normal(0, 1))
    beta[g,c,o] = roi[g, c] share[c, o] ratio[g, c, o] / S[g, c]
    m[t, g, o]  = sum_c beta h - mean_t (sum_c beta h)
    ys[:, g, o] = level[g, o] + m + F[:, g] (coef_mean[:, o] + dev[g, :, o])
                  + R walk[g, :, o] + noise
    dev[g, j, o] ~ Normal(0, coef_spread[j, o]),  noise ~ Normal(0, sd[g, o])
    walk[g, k, o] ~ Normal(0, level_step[o])     (moving baseline only; R its ramps)

so that channel ``c``'s revenue in region ``g`` over the weeks is ``roi[g, c]`` times its
spend there. The regional deviations ``dev`` of the baseline coefficients (and the
steps ``walk`` of the moving baseline, as more features) enter linearly and are integrated out: per region and outcome ``ys`` is normal with covariance
``sd^2 I + F diag(coef_spread^2) F'``, evaluated through the J x J matrix
``A = F'F / sd^2 + diag(1 / coef_spread^2)`` (Woodbury; J is the number of baseline
features). No funnel between the spreads and the regional coefficients is left to sample,
and the point is G x J x O coordinates shorter. The regional coefficients are drawn
afterwards from their conditional normal (:func:`omnimmm.mmm.geo.posterior.baseline_coef`).

Lift tests (:class:`omnimmm.mmm.geo.spec.GeoLiftTest`) add ``Normal(measured | sum_g
wt[g] roi[g, c] share[c, o], se)``: a region's ROI (``wt`` one-hot) or the national one
(``wt`` the regions' shares of the channel's spend), on one outcome or all.

Backward: ``e = dlogp/dmu`` is the residual left after the conditional mean of ``dev``,
over ``sd^2``; its part free of the weekly mean flows through ``beta`` (with ``S``) into
``h``, ``roi`` and the shares; through ``h`` into the adstocked spend and the Hill
parameters; through the adstock into its weights and ``alpha``. Time and memory are linear
in ``T x G x C`` (plus ``T x G x J`` and ``G x J^3`` for the baseline).
"""

from __future__ import annotations

import math

import numba
import numpy as np

from omnimmm.mmm.density.forward import _priors, _saturation
from omnimmm.mmm.geo.cache import use_geo_stamp

__all__ = ["geo_logp_grad", "marginal_baseline"]

use_geo_stamp()  # before the numba.njit(cache=True) below

_LOG2PI = math.log(2.0 * math.pi)
# Indices into ``ix`` (:meth:`omnimmm.mmm.geo.layout.GeoLayout.index_table`).
_LR, _SPREAD, _Z, _ALPHA, _K, _S, _SHARE, _LEVEL, _BM, _BS, _STEP, _NOISE, _LMAX, _J0 = range(14)
_HIER_NC = 10  # :data:`omnimmm.mmm.geo.layout.HIER_NC`
#: Columns of a lift-test row before the regional weights: channel, outcome (-1: all),
#: measured ROI, its standard error.
_L_C, _L_O, _L_ROI, _L_SE, _L_W = range(5)


@numba.njit(cache=True, error_model="numpy")
def marginal_baseline(r, fc, ftf, sd, spread, c_hat, a_inv):  # pragma: no cover - compiled
    """Log density of one region-outcome's residual ``r`` (T,) with the regional baseline
    deviations integrated out, and its slopes.

    ``r = ys - level - media - F coef_mean``; ``fc`` (T, J) the centred features, ``ftf``
    (J, J) their cross-products, ``sd`` the residual sd, ``spread`` (J,) the deviations' sd.
    Fills ``c_hat`` (J,) with the deviations' conditional mean and ``a_inv`` (J, J) with
    their conditional covariance. Returns ``(logp, d_sd, d_spread (J,), e (T,))`` where
    ``e = dlogp/d(mean of ys)``.
    """
    t_n, j_n = fc.shape
    s2 = sd * sd
    # A = F'F / sd^2 + diag(1 / spread^2), its Cholesky factor L, and b = F'r / sd^2.
    chol = np.empty((j_n, j_n))
    b = np.empty(j_n)
    for j in range(j_n):
        acc = 0.0
        for t in range(t_n):
            acc += fc[t, j] * r[t]
        b[j] = acc / s2
    for j in range(j_n):
        for k in range(j + 1):
            a = ftf[j, k] / s2
            if j == k:
                a += 1.0 / (spread[j] * spread[j])
            for m in range(k):
                a -= chol[j, m] * chol[k, m]
            if j == k:
                chol[j, j] = math.sqrt(a) if a > 0.0 else np.nan
            else:
                chol[j, k] = a / chol[k, k]
    log_det = 0.0
    for j in range(j_n):
        log_det += 2.0 * math.log(chol[j, j])
    # c_hat = A^{-1} b by two triangular solves; A^{-1} column by column.
    _chol_solve(chol, b, c_hat)
    unit = np.zeros(j_n)
    col = np.empty(j_n)
    for k in range(j_n):
        unit[:] = 0.0
        unit[k] = 1.0
        _chol_solve(chol, unit, col)
        for j in range(j_n):
            a_inv[j, k] = col[j]
    rr = 0.0
    resid2 = 0.0
    e = np.empty(t_n)
    for t in range(t_n):
        fit = 0.0
        for j in range(j_n):
            fit += fc[t, j] * c_hat[j]
        rr += r[t] * r[t]
        e[t] = (r[t] - fit) / s2
        resid2 += (r[t] - fit) * (r[t] - fit)
    quad = rr / s2
    log_s = 0.0
    for j in range(j_n):
        quad -= b[j] * c_hat[j]
        log_s += math.log(spread[j])
    lp = -0.5 * (t_n * _LOG2PI + 2.0 * t_n * math.log(sd) + 2.0 * log_s + log_det + quad)
    tr = 0.0
    for j in range(j_n):
        for k in range(j_n):
            tr += a_inv[j, k] * ftf[k, j]
    d_s2 = -0.5 * (t_n / s2 - tr / (s2 * s2) - resid2 / (s2 * s2))
    d_spread = np.empty(j_n)
    for j in range(j_n):
        v2 = spread[j] * spread[j]
        d_v2 = -0.5 * (1.0 / v2 - (a_inv[j, j] + c_hat[j] * c_hat[j]) / (v2 * v2))
        d_spread[j] = 2.0 * spread[j] * d_v2
    return lp, 2.0 * sd * d_s2, d_spread, e


@numba.njit(cache=True, inline="always")
def _chol_solve(chol, b, out):  # pragma: no cover - compiled
    """``out = (L L')^{-1} b``."""
    n = b.shape[0]
    for j in range(n):
        acc = b[j]
        for k in range(j):
            acc -= chol[j, k] * out[k]
        out[j] = acc / chol[j, j]
    for j in range(n - 1, -1, -1):
        acc = out[j]
        for k in range(j + 1, n):
            acc -= chol[k, j] * out[k]
        out[j] = acc / chol[j, j]


@numba.njit(cache=True, error_model="numpy")
def geo_logp_grad(
    z, grad, kinds, prior_a, prior_b, ix, xs, ys, fc, ftf, ratio, lift
):  # pragma: no cover - compiled
    """Log density at ``z``; its gradient into ``grad`` (overwritten).

    ``kinds``, ``prior_a``, ``prior_b`` and ``ix`` are the layout's tables; ``xs`` (T, G, C),
    ``ys`` (T, G, O), ``fc`` (T, G, J) centred features, ``ftf`` (G, J, J) their
    cross-products and ``ratio`` (G, C, O) the scaled data; ``lift`` (K, 4 + G) the lift tests.
    """
    t_n, g_n, c_n = xs.shape
    o_n = ys.shape[2]
    j_n = fc.shape[2]
    l_n = ix[_LMAX]
    n = z.shape[0]
    v = np.empty(n)
    dv = np.empty(n)
    lp = _priors(z, grad, kinds, prior_a, prior_b, v, dv)
    gv = np.zeros(n)
    o_lr, o_sp, o_z, o_al = ix[_LR], ix[_SPREAD], ix[_Z], ix[_ALPHA]
    o_k, o_s, o_sh, o_lev = ix[_K], ix[_S], ix[_SHARE], ix[_LEVEL]
    o_bm, o_bs, o_st, o_no = ix[_BM], ix[_BS], ix[_STEP], ix[_NOISE]
    j0 = ix[_J0]  # features with national coefficients; then the moving baseline's ramps

    # Regional log ROI, centred around the national one, or non-centred: v holds the log
    # ROI and gv collects its slopes, mapped back to eta, log_roi and spread at the end.
    centred = g_n * c_n == 0 or kinds[o_z] != _HIER_NC
    for g in range(g_n):
        for c in range(c_n):
            i = o_z + g * c_n + c
            s = v[o_sp + c]
            dv[i] = 1.0
            if centred:
                v[i] = z[i]
                d = (z[i] - v[o_lr + c]) / s
                lp += -0.5 * _LOG2PI - math.log(s) - 0.5 * d * d
                gv[i] -= d / s
                gv[o_lr + c] += d / s
                gv[o_sp + c] += (d * d - 1.0) / s
            else:
                v[i] = v[o_lr + c] + s * z[i]
                lp += -0.5 * _LOG2PI - 0.5 * z[i] * z[i]

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

    # Lift tests: a region's (or the national) ROI of a channel, on one outcome or all.
    for k in range(lift.shape[0]):
        c = int(lift[k, _L_C])
        o_k_ = int(lift[k, _L_O])
        sh = share[c, o_k_] if o_k_ >= 0 else 1.0
        pred = 0.0
        for g in range(g_n):
            pred += lift[k, _L_W + g] * roi[g, c]
        se = lift[k, _L_SE]
        d = (lift[k, _L_ROI] - pred * sh) / se
        lp += -0.5 * _LOG2PI - math.log(se) - 0.5 * d * d
        slope = d / se  # dlogp / d(pred * sh)
        for g in range(g_n):
            gv[o_z + g * c_n + c] += slope * sh * lift[k, _L_W + g] * roi[g, c]
        if o_k_ >= 0 and o_n == 2:
            gv[o_sh + c] += slope * pred if o_k_ == 0 else -slope * pred

    # Media mean, centred per region; the likelihood with the baseline deviations
    # integrated out, and its slope e in the mean.
    rest = np.zeros((t_n, g_n, o_n))
    for t in range(t_n):
        for g in range(g_n):
            for o in range(o_n):
                acc = 0.0
                for c in range(c_n):
                    acc += beta[g, c, o] * h[t, g, c]
                rest[t, g, o] = acc
    rc = np.empty((t_n, g_n, o_n))
    r = np.empty(t_n)
    spread = np.empty(j_n)
    c_hat = np.empty(j_n)
    a_inv = np.empty((j_n, j_n))
    for g in range(g_n):
        for o in range(o_n):
            m = 0.0
            for t in range(t_n):
                m += rest[t, g, o]
            m /= t_n
            lev = v[o_lev + g * o_n + o]
            sd = v[o_no + g * o_n + o]
            for t in range(t_n):
                acc = ys[t, g, o] - lev - (rest[t, g, o] - m)
                for j in range(j0):
                    acc -= fc[t, g, j] * v[o_bm + j * o_n + o]
                r[t] = acc
            for j in range(j_n):
                spread[j] = v[o_bs + j * o_n + o] if j < j0 else v[o_st + o]
            lpg, d_sd, d_spread, e = marginal_baseline(
                r, fc[:, g, :], ftf[g], sd, spread, c_hat, a_inv
            )
            lp += lpg
            gv[o_no + g * o_n + o] += d_sd
            r_sum = 0.0
            for t in range(t_n):
                r_sum += e[t]
            gv[o_lev + g * o_n + o] += r_sum
            for j in range(j_n, j0, -1):
                gv[o_st + o] += d_spread[j - 1]
            for j in range(j0):
                gv[o_bs + j * o_n + o] += d_spread[j]
                acc = 0.0
                for t in range(t_n):
                    acc += fc[t, g, j] * e[t]
                gv[o_bm + j * o_n + o] += acc
            r_mean = r_sum / t_n
            for t in range(t_n):
                rc[t, g, o] = e[t] - r_mean

    # Back through the media mean: effect sizes and saturated spend.
    q_sum = np.zeros((g_n, c_n, o_n))
    gh = np.empty((t_n, g_n, c_n))
    for t in range(t_n):
        for g in range(g_n):
            for o in range(o_n):
                rt = rc[t, g, o]
                for c in range(c_n):
                    q_sum[g, c, o] += rt * h[t, g, c]
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
    if not centred:
        for g in range(g_n):
            for c in range(c_n):
                i = o_z + g * c_n + c
                g_log = gv[i]
                gv[o_lr + c] += g_log
                gv[o_sp + c] += g_log * z[i]
                gv[i] = g_log * v[o_sp + c] - z[i]

    for i in range(n):
        grad[i] += gv[i] * dv[i]
    return lp
