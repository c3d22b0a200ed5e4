"""The density's backward pass: from the likelihood's slope in the mean to the gradient.

Reverse-mode differentiation of :mod:`omnimmm.mmm.density.forward`, written out: back
through the centred mean, the lift tests (whose likelihood is added here, where their
slopes are), the effect sizes, saturation and adstock, and the ROI shares' softmax. Slopes
in the constrained values accumulate in ``gv``; the kernel
(:mod:`omnimmm.mmm.density.kernel`) takes them to the unconstrained point at the end.
Notation as in :mod:`omnimmm.mmm.density.forward`.
"""

from __future__ import annotations

import math

import numba
import numpy as np

from omnimmm.mmm.density.cache import use_kernel_stamp
from omnimmm.mmm.density.forward import _LOG2PI, _adstock_saturation, _saturation_params
from omnimmm.mmm.density.tables import (
    _C_ALPHA,
    _C_COEF,
    _C_LMAX,
    _C_ROI,
    _C_SP1,
    _C_SP2,
    _C_THETA,
)

use_kernel_stamp()  # before the numba.njit(cache=True) below


@numba.njit(cache=True, error_model="numpy", inline="always")
def _mean_back(
    v, gv, r, h, beta, pairs, gamma_ix, features, base, outcome, oa
):  # pragma: no cover - compiled
    """Back through the mean from its slope ``r``: the slopes in the levels, baseline and
    synergy coefficients into ``gv``; returns the slopes ``gh`` in ``h`` and ``g_beta`` in
    the effect sizes."""
    c_n, n_a, t_n = h.shape
    o_n = oa.shape[0]
    p_n = pairs.shape[0]
    f_n = features.shape[1]
    # Back through the centring: level takes sum_t r, the rest r - mean_t r.
    g = np.empty((o_n, t_n))
    for o in range(o_n):
        m = 0.0
        for t in range(t_n):
            m += r[t, o]
        gv[outcome[0, o]] += m
        m /= t_n
        for t in range(t_n):
            g[o, t] = r[t, o] - m
    # The baseline coefficients' slopes, sum_t g[o, t] features[t, f], accumulate in a
    # contiguous block (one accumulator per coefficient, the weeks added in the same order
    # as one scattered add into ``gv`` per week would: the same numbers to the bit), so the
    # loop over features is a vector operation instead of a chain of scattered adds. The
    # coordinates ``base`` are distinct (one per feature and outcome, DensityTables).
    gb = np.empty((o_n, f_n))
    for o in range(o_n):
        for f in range(f_n):
            gb[o, f] = gv[base[f, o]]
    for t in range(t_n):
        for o in range(o_n):
            go = g[o, t]
            for f in range(f_n):
                gb[o, f] += go * features[t, f]
    for o in range(o_n):
        for f in range(f_n):
            gv[base[f, o]] = gb[o, f]
    # The effect sizes' slopes are sums over the weeks (one accumulator per channel, the
    # weeks in order); the slopes in h are added to every week at once. Each element of
    # ``gh`` takes its parts outcome by outcome, the channel's own term before the
    # synergies', as a loop over weeks, then outcomes, then terms would add them.
    gh = np.zeros((c_n, n_a, t_n))
    g_beta = np.zeros((c_n, o_n))
    acc = np.zeros(c_n)
    for o in range(o_n):
        a = oa[o]
        go = g[o]
        for c in range(c_n):
            acc[c] = 0.0
        for t in range(t_n):
            for c in range(c_n):
                acc[c] += go[t] * h[c, a, t]
        for c in range(c_n):
            g_beta[c, o] += acc[c]
            b = beta[c, o]
            ghc = gh[c, a]
            for t in range(t_n):
                ghc[t] += go[t] * b
        for p in range(p_n):
            gm = v[gamma_ix[p, o]]
            ha = h[pairs[p, 0], a]
            hb = h[pairs[p, 1], a]
            gha = gh[pairs[p, 0], a]
            ghb = gh[pairs[p, 1], a]
            gg = gv[gamma_ix[p, o]]
            for t in range(t_n):
                gg += go[t] * ha[t] * hb[t]
                gha[t] += go[t] * gm * hb[t]
                ghb[t] += go[t] * gm * ha[t]
            gv[gamma_ix[p, o]] = gg
    return gh, g_beta


@numba.njit(cache=True, error_model="numpy", inline="always")
def _lift_tests(
    v,
    gv,
    gh,
    g_beta,
    gw,
    channels,
    pairs,
    gamma_ix,
    lift_c,
    lift_lags,
    lift_after,
    lift_f,
    w,
    h,
    beta,
    oa,
    lp,
):  # pragma: no cover - compiled
    """``lp`` plus the lift tests' log likelihood; its slopes into ``gv``, ``gh``, ``g_beta``
    and the adstock weights' ``gw``."""
    c_n, n_a, t_n = h.shape
    o_n = oa.shape[0]
    p_n = pairs.shape[0]
    # Lift tests: incremental[k] ~ Normal(sum_o w[k, o] inc[k, o], se[k]) with inc the
    # change of the tested channel's main and synergy effects, summed from the test on.
    diff = np.zeros((t_n, n_a))
    dm_x = np.zeros((t_n, n_a))
    dm_p1 = np.zeros((t_n, n_a))
    dm_p2 = np.zeros((t_n, n_a))
    gd = np.zeros(o_n)
    for k in range(lift_c.shape[0]):
        c = lift_c[k]
        sk, p1, p2 = _saturation_params(channels, v, c)
        lm = channels[c, _C_LMAX]
        for a in range(n_a):
            for t in range(t_n):
                hm, dm_x[t, a], dm_p1[t, a], dm_p2[t, a] = _adstock_saturation(
                    lift_lags[k * t_n + t], w[c, a], lm, sk, p1, p2
                )
                diff[t, a] = (hm - h[c, a, t]) * lift_after[k, t]
        pred = 0.0
        for o in range(o_n):
            a = oa[o]
            inc = 0.0
            for t in range(t_n):
                inc += diff[t, a] * beta[c, o]
            for p in range(p_n):
                if pairs[p, 0] == c or pairs[p, 1] == c:
                    oth = pairs[p, 1] if pairs[p, 0] == c else pairs[p, 0]
                    for t in range(t_n):
                        inc += diff[t, a] * h[oth, a, t] * v[gamma_ix[p, o]]
            pred += lift_f[k, 2 + o] * inc
        se = lift_f[k, 1]
        e = (lift_f[k, 0] - pred) / se
        lp += -0.5 * _LOG2PI - math.log(se) - 0.5 * e * e
        rk = e / se
        for o in range(o_n):
            gi = rk * lift_f[k, 2 + o]
            if gi == 0.0:
                continue
            a = oa[o]
            for t in range(t_n):
                g_beta[c, o] += gi * diff[t, a]
            for p in range(p_n):
                if pairs[p, 0] == c or pairs[p, 1] == c:
                    oth = pairs[p, 1] if pairs[p, 0] == c else pairs[p, 0]
                    gm = v[gamma_ix[p, o]]
                    for t in range(t_n):
                        gv[gamma_ix[p, o]] += gi * diff[t, a] * h[oth, a, t]
                        gh[oth, a, t] += gi * gm * diff[t, a]
        for t in range(t_n):
            if lift_after[k, t] == 0.0:
                continue
            for a in range(o_n):
                gd[a] = 0.0
            for o in range(o_n):
                a = oa[o]
                gi = rk * lift_f[k, 2 + o]
                gd[a] += gi * beta[c, o]
                for p in range(p_n):
                    if pairs[p, 0] == c or pairs[p, 1] == c:
                        oth = pairs[p, 1] if pairs[p, 0] == c else pairs[p, 0]
                        gd[a] += gi * v[gamma_ix[p, o]] * h[oth, a, t]
            row = k * t_n + t
            for a in range(n_a):
                ga = gd[a] * lift_after[k, t]
                gh[c, a, t] -= ga
                gv[channels[c, _C_SP1]] += ga * dm_p1[t, a]
                if channels[c, _C_SP2] >= 0:
                    gv[channels[c, _C_SP2]] += ga * dm_p2[t, a]
                for lag in range(channels[c, _C_LMAX]):
                    gw[c, a, lag] += ga * dm_x[t, a] * lift_lags[row, lag]
    return lp


@numba.njit(cache=True, error_model="numpy", inline="always")
def _effects_back(
    v, gv, gh, g_beta, channels, channel_f, ratio, s_tot, beta, oa
):  # pragma: no cover - compiled
    """Back through the effect sizes: the slopes in ROI or coefficients into ``gv``, in the
    total saturated spend into ``gh``; returns the slopes in the ROI shares."""
    c_n, n_a, t_n = gh.shape
    o_n = oa.shape[0]
    # Effect sizes: beta = roi * share * ratio / S (ROI prior) or coef * scale.
    g_share = np.zeros((c_n, o_n))
    g_s = np.zeros(o_n)
    for c in range(c_n):
        if channels[c, _C_ROI] >= 0:
            roi = v[channels[c, _C_ROI]]
            for a in range(o_n):
                g_s[a] = 0.0
            for o in range(o_n):
                a = oa[o]
                gv[channels[c, _C_ROI]] += g_beta[c, o] * beta[c, o] / roi
                g_share[c, o] = g_beta[c, o] * roi * ratio[c, o] / s_tot[c, a]
                g_s[a] -= g_beta[c, o] * beta[c, o] / s_tot[c, a]
            for a in range(n_a):
                for t in range(t_n):
                    gh[c, a, t] += g_s[a]
        else:
            for o in range(o_n):
                gv[channels[c, _C_COEF] + o] += g_beta[c, o] * channel_f[c, 1]
    return g_share


@numba.njit(cache=True, error_model="numpy", inline="always")
def _adstock_back(
    gv, gh, gw, channels, channel_f, lags, w, du_a, du_t, u_sum, dh_x, dh_p1, dh_p2
):  # pragma: no cover - compiled
    """Back through saturation and adstock from the slopes ``gh`` in ``h`` (and ``gw`` in
    the weights): the slopes in their parameters into ``gv``."""
    c_n, n_a, t_n = gh.shape
    l_n = w.shape[2]
    ga = np.empty(t_n)
    # Back through saturation and adstock. Every sum over the weeks keeps one accumulator
    # and adds the weeks in order (the same numbers as adding into ``gv`` and ``gw`` week by
    # week); the weights' slopes take four lags at a time, so four sums run side by side.
    for c in range(c_n):
        lm = channels[c, _C_LMAX]
        sp1 = channels[c, _C_SP1]
        sp2 = channels[c, _C_SP2]
        for a in range(n_a):
            g1 = gv[sp1]
            for t in range(t_n):
                go = gh[c, a, t]
                ga[t] = go * dh_x[c, a, t]
                g1 += go * dh_p1[c, a, t]
            gv[sp1] = g1
            if sp2 >= 0:
                g2 = gv[sp2]
                for t in range(t_n):
                    g2 += gh[c, a, t] * dh_p2[c, a, t]
                gv[sp2] = g2
            gwa = gw[c, a]
            r0 = c * l_n
            lag = 0
            while lag + 4 <= lm:
                x0, x1 = lags[r0 + lag], lags[r0 + lag + 1]
                x2, x3 = lags[r0 + lag + 2], lags[r0 + lag + 3]
                s0, s1, s2, s3 = gwa[lag], gwa[lag + 1], gwa[lag + 2], gwa[lag + 3]
                for t in range(t_n):
                    s0 += ga[t] * x0[t]
                    s1 += ga[t] * x1[t]
                    s2 += ga[t] * x2[t]
                    s3 += ga[t] * x3[t]
                gwa[lag], gwa[lag + 1], gwa[lag + 2], gwa[lag + 3] = s0, s1, s2, s3
                lag += 4
            while lag < lm:
                x0 = lags[r0 + lag]
                s0 = gwa[lag]
                for t in range(t_n):
                    s0 += ga[t] * x0[t]
                gwa[lag] = s0
                lag += 1
            dot = 0.0
            for lag in range(lm):
                dot += gw[c, a, lag] * w[c, a, lag]
            ga_alpha = 0.0
            ga_theta = 0.0
            for lag in range(lm):
                gu = (gw[c, a, lag] - dot) / u_sum[c, a]
                ga_alpha += gu * du_a[c, a, lag]
                ga_theta += gu * du_t[c, a, lag]
            gv[channels[c, _C_ALPHA] + a] += ga_alpha
            if channels[c, _C_THETA] >= 0:
                gv[channels[c, _C_THETA] + a] += ga_theta * channel_f[c, 0]


@numba.njit(cache=True, error_model="numpy", inline="always")
def _shares_back(grad, blocks, share, g_share):  # pragma: no cover - compiled
    """Back through each simplex block's softmax from the slopes in the ROI shares."""
    # ROI shares: back through the softmax of each simplex block.
    for bk in range(blocks.shape[0]):
        s0 = blocks[bk, 0]
        nc = blocks[bk, 1]
        c = blocks[bk, 2]
        dot = 0.0
        for j in range(nc):
            dot += share[c, j] * g_share[c, j]
        d_last = share[c, nc - 1] * (g_share[c, nc - 1] - dot)
        for j in range(nc - 1):
            grad[s0 + j] += share[c, j] * (g_share[c, j] - dot) - d_last
