"""The density's forward pass: from nutpie's unconstrained point to the log density.

The priors on the unconstrained coordinates (with their transforms' Jacobians), the ROI
shares' Dirichlet and the residuals' LKJ priors, adstock, saturation, effect sizes, the
mean and the outcomes' likelihood. Each step keeps the slopes the backward pass
(:mod:`omnimmm.mmm.density.gradient`) needs: the constrained values' slopes ``dv``, the
adstock weights' and the saturation's slopes, and the likelihood's slope ``r`` in the mean.
Steps whose gradient is local (the priors, the likelihood's scales) add it at once.

Notation (``T`` weeks, ``C`` channels, ``O`` outcomes, ``L`` lags, ``n`` free coordinates):
``z`` the unconstrained point, ``v`` its constrained values, ``gv`` the gradient with
respect to ``v`` of the likelihood, ``h`` the saturated adstocked spend (``h[c, a, t]``: its
middle axis is the outcome with carryover per outcome, else of length one; ``oa[o]`` is the
column of outcome ``o``; the weeks come last, so a loop over them is a vector operation).
The tables' layout is :class:`omnimmm.mmm.density.DensityTables`.
"""

from __future__ import annotations

import math

import numba
import numpy as np

from omnimmm.mmm.density.cache import use_kernel_stamp
from omnimmm.mmm.density.tables import (
    _C_ADSTOCK,
    _C_ALPHA,
    _C_COEF,
    _C_LMAX,
    _C_ROI,
    _C_SAT,
    _C_SP1,
    _C_SP2,
    _C_THETA,
    _CHOL_DIAG,
    _CHOL_OFF,
)
from omnimmm.mmm.design import NOISE_DF_MIN, NOISE_HARMONICS
from omnimmm.mmm.response import NOISE_FLOOR

use_kernel_stamp()  # before the numba.njit(cache=True) below

_LOG2PI = math.log(2.0 * math.pi)
_NOISE_FLOOR = NOISE_FLOOR
_NOISE_COLS = 2 * NOISE_HARMONICS
_NOISE_DF_MIN = NOISE_DF_MIN

# ``error_model="numpy"``: a division by zero gives inf or nan, which the callback reports
# to nutpie as a non-finite log density (the point is rejected, as with PyMC's graph),
# instead of a Python exception, which a C callback cannot raise.


@numba.njit(cache=True, error_model="numpy")
def _log1pexp(x: float) -> float:
    """``log(1 + exp(x))`` without overflow."""
    if x > 0:
        return x + math.log1p(math.exp(-x))
    return math.log1p(math.exp(x))


@numba.njit(cache=True, error_model="numpy")
def _sigmoid(x: float) -> float:
    if x >= 0:
        return 1.0 / (1.0 + math.exp(-x))
    e = math.exp(x)
    return e / (1.0 + e)


@numba.njit(cache=True, error_model="numpy")
def _simplex(z, s0, nc, out, o0):  # pragma: no cover
    """PyMC's simplex transform backwards: ``out[o0:o0 + nc] = softmax([u, -sum u])`` for
    ``u = z[s0:s0 + nc - 1]``; returns ``sum u``."""
    tot = 0.0
    for j in range(nc - 1):
        tot += z[s0 + j]
    mx = -tot
    for j in range(nc - 1):
        mx = max(mx, z[s0 + j])
    norm = math.exp(-tot - mx)
    for j in range(nc - 1):
        norm += math.exp(z[s0 + j] - mx)
    for j in range(nc):
        f = z[s0 + j] if j < nc - 1 else -tot
        out[o0 + j] = math.exp(f - mx) / norm
    return tot


@numba.njit(cache=True, error_model="numpy")
def _lkj_norm(eta, n):  # pragma: no cover - compiled
    """The LKJ density's log normalising constant, as PyMC writes it."""
    if eta == 1.0:
        res = 0.0
        for k in range(1, (n - 1) // 2 + 1):
            res += math.lgamma(2.0 * k)
        if n % 2 == 1:
            res += (
                0.25 * (n * n - 1) * math.log(math.pi)
                - 0.25 * (n - 1) ** 2 * math.log(2.0)
                - (n - 1) * math.lgamma((n + 1) // 2)
            )
        else:
            res += (
                0.25 * n * (n - 2) * math.log(math.pi)
                + 0.25 * (3 * n * n - 4 * n) * math.log(2.0)
                + n * math.lgamma(n / 2.0)
                - (n - 1) * math.lgamma(n)
            )
        return res
    res = -(n - 1) * math.lgamma(eta + 0.5 * (n - 1))
    for k in range(1, n):
        res += 0.5 * k * math.log(math.pi) + math.lgamma(eta + 0.5 * (n - 1 - k))
    return res


@numba.njit(cache=True, error_model="numpy")
def _saturation(kind, x, p1, p2):  # pragma: no cover
    """Saturation of ``x`` >= 0 and its slopes in ``x``, ``p1`` and ``p2``: Hill (K, s),
    logistic (lam), Michaelis-Menten (k); 0 with zero slopes at ``x = 0`` for Hill."""
    if kind == 0:
        if x <= 0:
            return 0.0, 0.0, 0.0, 0.0
        lr = math.log(x / p1)
        rs = math.exp(p2 * lr)
        q = 1.0 / ((1.0 + rs) * (1.0 + rs))
        return rs / (1.0 + rs), q * p2 * rs / x, -q * p2 * rs / p1, q * rs * lr
    if kind == 1:
        hv = math.tanh(0.5 * p1 * x)
        d = 0.5 * (1.0 - hv * hv)
        return hv, d * p1, d * x, 0.0
    den = (p1 + x) * (p1 + x)
    return x / (p1 + x), p1 / den, -x / den, 0.0


@numba.njit(cache=True, error_model="numpy", inline="always")
def _saturation_params(channels, v, c):  # pragma: no cover
    """Channel ``c``'s saturation kind and its two parameters (0 for a missing second)."""
    p2 = v[channels[c, _C_SP2]] if channels[c, _C_SP2] >= 0 else 0.0
    return channels[c, _C_SAT], v[channels[c, _C_SP1]], p2


@numba.njit(cache=True, error_model="numpy", inline="always")
def _adstock_saturation(x, w, lm, kind, p1, p2):  # pragma: no cover
    """Saturation (with its slopes, see :func:`_saturation`) of the first ``lm`` lagged
    spends ``x`` weighted by the adstock weights ``w``."""
    acc = 0.0
    for lag in range(lm):
        acc += x[lag] * w[lag]
    return _saturation(kind, acc, p1, p2)


@numba.njit(cache=True, error_model="numpy", inline="always")
def _priors(z, grad, kinds, prior_a, prior_b, v, dv):  # pragma: no cover - compiled
    """The priors' log density at ``z``, with their transforms' Jacobians; fills the
    constrained values ``v``, their slopes ``dv`` in ``z`` and the priors' gradient ``grad``
    (simplex and LKJ coordinates: see :func:`_dirichlet` and :func:`_lkj_prior`)."""
    n = z.shape[0]
    lp = 0.0
    for i in range(n):
        k = kinds[i]
        x = z[i]
        a = prior_a[i]
        b = prior_b[i]
        if k == 0 or k == 1:  # Normal; LogNormal through log (the Jacobian cancels log x)
            d = (x - a) / b
            lp += -0.5 * _LOG2PI - math.log(b) - 0.5 * d * d
            grad[i] = -d / b
            if k == 0:
                v[i] = x
                dv[i] = 1.0
            else:
                v[i] = math.exp(x)
                dv[i] = v[i]
        elif k == 2:  # HalfNormal through log
            e = math.exp(x)
            d = (e - a) / b
            lp += 0.5 * math.log(2.0 / math.pi) - math.log(b) - 0.5 * d * d + x
            grad[i] = -d / b * e + 1.0
            v[i] = e
            dv[i] = e
        elif k == 3:  # Gamma(shape a, rate b) through log
            e = math.exp(x)
            lp += a * math.log(b) - math.lgamma(a) + a * x - b * e
            grad[i] = a - b * e
            v[i] = e
            dv[i] = e
        elif k == 4:  # Beta(a, b) through log-odds
            s = _sigmoid(x)
            log_s = -_log1pexp(-x)
            log_1s = -_log1pexp(x)
            lp += math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * log_s + b * log_1s
            grad[i] = a * (1.0 - s) - b * s
            v[i] = s
            dv[i] = s * (1.0 - s)
        elif k == _CHOL_DIAG:  # the LKJ prior is below; here the log transform's Jacobian
            v[i] = math.exp(x)
            dv[i] = v[i]
            lp += x
            grad[i] = 1.0
        elif k == _CHOL_OFF:
            v[i] = x
            dv[i] = 1.0
            grad[i] = 0.0
        else:  # simplex coordinates: below
            v[i] = 0.0
            dv[i] = 0.0
            grad[i] = 0.0
    return lp


@numba.njit(cache=True, error_model="numpy", inline="always")
def _lkj_prior(v, gv, ch0, prior_a, prior_b, o_n, lp):  # pragma: no cover - compiled
    """``lp`` plus the LKJCholeskyCov prior of the factor at ``ch0`` (none if -1); its
    slopes in ``v`` into ``gv``."""
    # LKJCholeskyCov (three or more correlated outcomes): the packed lower Cholesky factor
    # L of the residual covariance, row i at i (i + 1) / 2. With sd_i = |L[i, :]| and
    # cd_i = L[i, i] / sd_i: log p = norm + sum_i (2 eta - 2 + n - i) log cd_i
    # - i log sd_i + log HalfNormal(sd_i; sigma_i).
    if ch0 >= 0:
        eta = prior_a[ch0]
        for i in range(o_n):
            r0 = ch0 + i * (i + 1) // 2
            ss = 0.0
            for j in range(i + 1):
                ss += v[r0 + j] * v[r0 + j]
            sdi = math.sqrt(ss)
            sig = prior_b[r0 + i]
            cf = 2.0 * eta - 2.0 + o_n - i
            lp += cf * (math.log(v[r0 + i]) - math.log(sdi)) - i * math.log(sdi)
            lp += 0.5 * math.log(2.0 / math.pi) - math.log(sig) - 0.5 * (sdi / sig) ** 2
            d_sd = -(cf + i) / sdi - sdi / (sig * sig)
            for j in range(i + 1):
                gv[r0 + j] += d_sd * v[r0 + j] / sdi
            gv[r0 + i] += cf / v[r0 + i]
        lp += _lkj_norm(eta, o_n)
    return lp


@numba.njit(cache=True, error_model="numpy", inline="always")
def _dirichlet(z, grad, blocks, alpha, share, lp):  # pragma: no cover - compiled
    """``lp`` plus the ROI shares' Dirichlet priors with the simplex Jacobians; fills
    ``share`` (channel by outcome) and adds their slopes in ``z`` to ``grad``."""
    # Dirichlet blocks through PyMC's simplex transform: u (N - 1), full = [u, -sum u],
    # share = softmax(full); log|J| = log N + N sum(u) - N logsumexp([u + sum(u), 0]).
    for bk in range(blocks.shape[0]):
        s0 = blocks[bk, 0]
        nc = blocks[bk, 1]
        c = blocks[bk, 2]
        tot = _simplex(z, s0, nc, share[c], 0)
        a_sum = 0.0
        lp_dir = 0.0
        for j in range(nc):
            a_sum += alpha[bk, j]
            lp_dir += (alpha[bk, j] - 1.0) * math.log(share[c, j]) - math.lgamma(alpha[bk, j])
        lp += lp_dir + math.lgamma(a_sum)
        # Dirichlet term: d/dfull_j = (alpha_j - 1) - share_j (sum alpha - N).
        d_last = (alpha[bk, nc - 1] - 1.0) - share[c, nc - 1] * (a_sum - nc)
        for j in range(nc - 1):
            grad[s0 + j] += (alpha[bk, j] - 1.0) - share[c, j] * (a_sum - nc) - d_last
        # Jacobian: softmax p over [u_j + sum(u)] and 0; d/du_i = N (p_last - p_i).
        m2 = 0.0
        for j in range(nc - 1):
            m2 = max(m2, z[s0 + j] + tot)
        se = math.exp(-m2)
        for j in range(nc - 1):
            se += math.exp(z[s0 + j] + tot - m2)
        lse = m2 + math.log(se)
        lp += math.log(nc) + nc * tot - nc * lse
        p_last = math.exp(-m2) / se
        for j in range(nc - 1):
            p_j = math.exp(z[s0 + j] + tot - m2) / se
            grad[s0 + j] += nc * (p_last - p_j)
    return lp


@numba.njit(cache=True, error_model="numpy", inline="always")
def _adstock_weights(v, channels, channel_f, n_a, l_n):  # pragma: no cover - compiled
    """Each channel's adstock weights ``w`` (per adstock column), the slopes ``du_a`` and
    ``du_t`` of the unnormalised weights in the two adstock parameters, and their sums."""
    c_n = channels.shape[0]
    # Adstock weights (normalised over each channel's lags) and their parameter slopes,
    # per channel and adstock column ``a`` (``oa`` above).
    w = np.zeros((c_n, n_a, l_n))
    du_a = np.zeros((c_n, n_a, l_n))
    du_t = np.zeros((c_n, n_a, l_n))
    u_sum = np.zeros((c_n, n_a))
    for c in range(c_n):
        lm = channels[c, _C_LMAX]
        for a in range(n_a):
            al = v[channels[c, _C_ALPHA] + a]
            tot = 0.0
            if channels[c, _C_ADSTOCK] == 0:  # geometric: u_l = alpha ** l
                for lag in range(lm):
                    u = al**lag
                    w[c, a, lag] = u
                    du_a[c, a, lag] = lag * al ** (lag - 1) if lag > 0 else 0.0
                    tot += u
            elif channels[c, _C_ADSTOCK] == 2:
                # Weibull pdf: u_l = S(l) - S(l + 1), S(0) = 1, S(x) = exp(-(x / lam) ** k);
                # ``du_a`` and ``du_t`` hold the slopes in lam and k.
                lam = al
                kk = v[channels[c, _C_THETA] + a]
                s_prev = 1.0
                ds_lam = 0.0
                ds_k = 0.0
                for lag in range(lm):
                    lr = math.log((lag + 1.0) / lam)
                    rk = math.exp(kk * lr)
                    sv = math.exp(-rk)
                    d_lam = sv * kk * rk / lam
                    d_k = -sv * rk * lr
                    w[c, a, lag] = s_prev - sv
                    du_a[c, a, lag] = ds_lam - d_lam
                    du_t[c, a, lag] = ds_k - d_k
                    tot += s_prev - sv
                    s_prev = sv
                    ds_lam = d_lam
                    ds_k = d_k
            else:  # delayed: u_l = alpha ** ((l - theta) ** 2)
                th = v[channels[c, _C_THETA] + a] * channel_f[c, 0]
                la = math.log(al)
                for lag in range(lm):
                    q = (lag - th) * (lag - th)
                    u = math.exp(q * la)
                    w[c, a, lag] = u
                    du_a[c, a, lag] = q * u / al
                    du_t[c, a, lag] = -2.0 * (lag - th) * la * u
                    tot += u
            u_sum[c, a] = tot
            for lag in range(lm):
                w[c, a, lag] /= tot
    return w, du_a, du_t, u_sum


@numba.njit(cache=True, error_model="numpy", inline="always")
def _saturated(v, channels, lags, w, t_n, n_a):  # pragma: no cover - compiled
    """The saturated adstocked spend ``h[c, a, t]``, its slopes in the adstocked spend and
    the saturation's two parameters, and each channel's total ``s_tot[c, a]`` over the
    weeks."""
    c_n, _, l_n = w.shape
    # Adstock as a sum over lags of whole weeks (the inner loop runs over the weeks, so it
    # is a vector operation; each week's sum still adds its lags in order, so the numbers
    # are those of one dot product per week), then saturation week by week.
    h = np.empty((c_n, n_a, t_n))
    dh_x = np.empty((c_n, n_a, t_n))
    dh_p1 = np.empty((c_n, n_a, t_n))
    dh_p2 = np.empty((c_n, n_a, t_n))
    s_tot = np.zeros((c_n, n_a))
    x = np.empty(t_n)
    for c in range(c_n):
        sk, p1, p2 = _saturation_params(channels, v, c)
        lm = channels[c, _C_LMAX]
        for a in range(n_a):
            for t in range(t_n):
                x[t] = 0.0
            for lag in range(lm):
                wl = w[c, a, lag]
                row = lags[c * l_n + lag]
                for t in range(t_n):
                    x[t] += row[t] * wl
            tot = 0.0
            for t in range(t_n):
                h[c, a, t], dh_x[c, a, t], dh_p1[c, a, t], dh_p2[c, a, t] = _saturation(
                    sk, x[t], p1, p2
                )
                tot += h[c, a, t]
            s_tot[c, a] = tot
    return h, dh_x, dh_p1, dh_p2, s_tot


@numba.njit(cache=True, error_model="numpy", inline="always")
def _effects(v, channels, channel_f, share, ratio, s_tot, oa):  # pragma: no cover - compiled
    """Each channel's effect size ``beta`` per outcome, from its total saturated spend
    ``s_tot``."""
    c_n = channels.shape[0]
    o_n = oa.shape[0]
    # Effect sizes: through ROI, beta = roi * share * ratio / S with S = sum_t h.
    beta = np.zeros((c_n, o_n))
    for c in range(c_n):
        for o in range(o_n):
            if channels[c, _C_ROI] >= 0:
                a = oa[o]
                beta[c, o] = v[channels[c, _C_ROI]] * share[c, o] * ratio[c, o] / s_tot[c, a]
            else:
                beta[c, o] = v[channels[c, _C_COEF] + o] * channel_f[c, 1]
    return beta


@numba.njit(cache=True, error_model="numpy", inline="always")
def _mean(v, beta, h, pairs, gamma_ix, features_t, base, outcome, oa):  # pragma: no cover
    """The mean ``mu[t, o]`` of each outcome: level, media, synergies and baseline features
    (``features_t``: the features by row, weeks along it)."""
    c_n, _, t_n = h.shape
    o_n = oa.shape[0]
    p_n = pairs.shape[0]
    f_n = features_t.shape[0]
    # Mean, centred: mu = level + rest - mean_t(rest). Each part is added to every week at
    # once (vector operations); each week still adds the channels, then the synergies, then
    # the features, in order.
    rest = np.zeros((o_n, t_n))
    for o in range(o_n):
        a = oa[o]
        ro = rest[o]
        for c in range(c_n):
            b = beta[c, o]
            hc = h[c, a]
            for t in range(t_n):
                ro[t] += b * hc[t]
        for p in range(p_n):
            gm = v[gamma_ix[p, o]]
            ha = h[pairs[p, 0], a]
            hb = h[pairs[p, 1], a]
            for t in range(t_n):
                ro[t] += gm * ha[t] * hb[t]
        for f in range(f_n):
            vf = v[base[f, o]]
            xf = features_t[f]
            for t in range(t_n):
                ro[t] += xf[t] * vf
    mu = np.empty((t_n, o_n))
    for o in range(o_n):
        m = 0.0
        for t in range(t_n):
            m += rest[o, t]
        m /= t_n
        for t in range(t_n):
            mu[t, o] = v[outcome[0, o]] + rest[o, t] - m
    return mu


@numba.njit(cache=True, error_model="numpy", inline="always")
def _likelihood(v, gv, y, mu, outcome, ch0, lp, features):  # pragma: no cover - compiled
    """``lp`` plus the outcomes' log likelihood, and its slope ``r`` in ``mu``; the slopes in
    the residual scales (and correlation, Cholesky factor, noise powers and yearly shape)
    into ``gv``.

    Level and seasonal noise (``outcome[3]`` the noise powers' coordinates, ``outcome[4:6]``
    the yearly shape's): ``y = mu + g e`` with ``log g = p log level(mu) + sum_j c_j
    f_j(t)`` (:func:`omnimmm.mmm.response.noise_scale`; ``f`` the first yearly Fourier
    columns of ``features``) and ``e`` the constant-noise model's residual. With ``u = (y -
    mu) / g`` the log likelihood is the constant-noise one of ``u`` around 0, ``L0(u)``,
    minus ``sum log g``; with ``r0 = dL0 / d(mean)`` (so ``dL0/du = -r0``) and ``k = dlog g
    / dmu = p level' / level``, the slope in ``mu`` is ``r0 / g + r0 u k - k``, in ``p``
    it is ``sum_t (r0 u - 1) log level`` and in ``c_j`` ``sum_t (r0 u - 1) f_j(t)``."""
    t_n, o_n = y.shape
    level = outcome[3, 0] >= 0
    season = outcome[5, 0] >= 0
    scaled = level or season
    # One call of the constant-noise likelihood for both models (it is inlined: a second
    # call would compile it twice): of (y, mu), or of (u, 0).
    yy, mm = y, mu
    g = np.empty((t_n, o_n) if scaled else (0, 0))
    k = np.zeros_like(g)
    log_m = np.zeros_like(g)
    f0 = outcome[4, 0]
    if scaled:
        yy = np.empty((t_n, o_n))
        mm = np.zeros((t_n, o_n))
        f2 = _NOISE_FLOOR * _NOISE_FLOOR
        for o in range(o_n):
            p = v[outcome[3, o]] if level else 0.0
            for t in range(t_n):
                m = mu[t, o]
                log_g = 0.0
                if level:
                    root = math.sqrt(m * m + f2)
                    log_m[t, o] = math.log(0.5 * (m + root))
                    k[t, o] = p / root  # dlog g / dmu: level' = (1 + m / root) / 2 = level / root
                    log_g += p * log_m[t, o]
                if season:
                    for j in range(_NOISE_COLS):
                        log_g += v[outcome[5, o] + j * o_n] * features[t, f0 + j]
                g[t, o] = math.exp(log_g)
                yy[t, o] = (y[t, o] - m) / g[t, o]
                lp -= log_g
    lp, r = _constant_scale(v, gv, yy, mm, outcome, ch0, lp)
    if scaled:
        g_c = np.zeros(_NOISE_COLS)
        for o in range(o_n):
            g_p = 0.0
            g_c[:] = 0.0
            for t in range(t_n):
                ru = r[t, o] * yy[t, o]
                g_p += (ru - 1.0) * log_m[t, o]
                if season:
                    for j in range(_NOISE_COLS):
                        g_c[j] += (ru - 1.0) * features[t, f0 + j]
                r[t, o] = r[t, o] / g[t, o] + (ru - 1.0) * k[t, o]
            if level:
                gv[outcome[3, o]] += g_p
            if season:
                for j in range(_NOISE_COLS):
                    gv[outcome[5, o] + j * o_n] += g_c[j]
    return lp, r


@numba.njit(cache=True, error_model="numpy")
def _digamma(x):  # pragma: no cover - compiled
    """The digamma function for ``x > 0``: recurrence up to 6, then the asymptotic series
    (absolute error below 1e-12)."""
    acc = 0.0
    while x < 6.0:
        acc -= 1.0 / x
        x += 1.0
    x2 = 1.0 / (x * x)
    return acc + math.log(x) - 0.5 / x - x2 * (1.0 / 12 - x2 * (1.0 / 120 - x2 / 252))


@numba.njit(cache=True, error_model="numpy", inline="always")
def _whitened(v, df, k, z):  # pragma: no cover - compiled
    """One whitened residual ``z`` of outcome ``k``: its log density (without the per-outcome
    constant of :func:`_whitened_constant`), the slope in ``z`` and the slope in the degrees of
    freedom. Standard normal when ``df[k] < 0``, else Student-t with ``nu = v[df[k]] +
    NOISE_DF_MIN``."""
    if df[k] < 0:
        return -0.5 * z * z, -z, 0.0
    nu = v[df[k]] + _NOISE_DF_MIN
    zz = z * z
    lq = math.log1p(zz / nu)
    return (
        -0.5 * (nu + 1.0) * lq,
        -(nu + 1.0) * z / (nu + zz),
        (-0.5 * lq + 0.5 * (nu + 1.0) * zz / (nu * (nu + zz))),
    )


@numba.njit(cache=True, error_model="numpy", inline="always")
def _whitened_constant(v, df, k):  # pragma: no cover - compiled
    """The per-residual constant of :func:`_whitened`'s log density and its slope in the
    degrees of freedom."""
    if df[k] < 0:
        return -0.5 * _LOG2PI, 0.0
    nu = v[df[k]] + _NOISE_DF_MIN
    c = math.lgamma(0.5 * (nu + 1.0)) - math.lgamma(0.5 * nu) - 0.5 * math.log(nu * math.pi)
    return c, 0.5 * _digamma(0.5 * (nu + 1.0)) - 0.5 * _digamma(0.5 * nu) - 0.5 / nu


@numba.njit(cache=True, error_model="numpy", inline="always")
def _constant_scale(v, gv, y, mu, outcome, ch0, lp):  # pragma: no cover - compiled
    """The constant-scale likelihood (correlated across outcomes): ``lp`` plus its log
    density, its slope ``r`` in ``mu``; the slopes in the residual scales (and correlation,
    Cholesky factor, degrees of freedom) into ``gv``.

    The residuals are whitened outcome by outcome (``z = L^-1 (y - mu)``), and each ``z`` is
    standard normal, or Student-t where ``outcome[6]`` holds the outcome's degrees of
    freedom (:func:`_whitened`): ``log p = sum_k -log L[k, k] + kappa(z_k)``; every slope
    below is written with ``psi = dkappa / dz`` (``-z`` for the normal)."""
    t_n, o_n = y.shape
    df = outcome[6]
    # Likelihood and its slope r = dlogp/dmu.
    r = np.zeros((t_n, o_n))
    g_df = np.zeros(o_n)
    for o in range(o_n):
        c, dc = _whitened_constant(v, df, o)
        lp += t_n * c
        g_df[o] = t_n * dc
    rho_at = outcome[2, 0]
    if ch0 >= 0:
        # Chained conditionals (model._correlated_normal): z = L^-1 (y - mu) by forward
        # substitution, log p = sum_k -log L[k, k] + kappa(z_k); back through it row by
        # row from the last (``zb`` the slope in z, then in the residual).
        zz = np.zeros(o_n)
        zb = np.zeros(o_n)
        for t in range(t_n):
            for kk in range(o_n):
                r0 = ch0 + kk * (kk + 1) // 2
                acc = y[t, kk] - mu[t, kk]
                for j in range(kk):
                    acc -= v[r0 + j] * zz[j]
                zz[kk] = acc / v[r0 + kk]
                kap, psi, dnu = _whitened(v, df, kk, zz[kk])
                lp += kap - math.log(v[r0 + kk])
                zb[kk] = psi
                g_df[kk] += dnu
            for kk in range(o_n - 1, -1, -1):
                r0 = ch0 + kk * (kk + 1) // 2
                lkk = v[r0 + kk]
                eb = zb[kk] / lkk
                r[t, kk] = -eb
                gv[r0 + kk] += (-zb[kk] * zz[kk] - 1.0) / lkk
                for j in range(kk):
                    gv[r0 + j] -= eb * zz[j]
                    zb[j] -= eb * v[r0 + j]
    elif rho_at < 0:
        for o in range(o_n):
            sd = v[outcome[1, o]]
            g_sd = 0.0
            for t in range(t_n):
                e = (y[t, o] - mu[t, o]) / sd
                kap, psi, dnu = _whitened(v, df, o, e)
                lp += kap - math.log(sd)
                r[t, o] = -psi / sd
                g_sd += (-psi * e - 1.0) / sd
                g_df[o] += dnu
            gv[outcome[1, o]] += g_sd
    else:
        # y0 = mu0 + s0 z0; y1 = mu1 + s1 rho z0 + s1 sqrt(1 - rho^2) z1.
        s0 = v[outcome[1, 0]]
        s1 = v[outcome[1, 1]]
        rho = 2.0 * v[rho_at] - 1.0
        c1 = math.sqrt(1.0 - rho * rho)
        sc = s1 * c1
        g0 = 0.0
        g1 = 0.0
        g_rho = 0.0
        for t in range(t_n):
            z0 = (y[t, 0] - mu[t, 0]) / s0
            z1 = (y[t, 1] - mu[t, 1] - s1 * rho * z0) / sc
            k0, psi0, dnu0 = _whitened(v, df, 0, z0)
            k1, psi1, dnu1 = _whitened(v, df, 1, z1)
            lp += k0 + k1 - math.log(s0) - math.log(sc)
            q = -psi1 / sc  # the slope in mu1
            r[t, 1] = q
            r[t, 0] = -psi0 / s0 - q * s1 * rho / s0
            dsc = -1.0 / sc + q * z1
            g0 += (-psi0 * z0 - 1.0) / s0 - q * s1 * rho * z0 / s0
            g1 += dsc * c1 + q * rho * z0
            g_rho += dsc * s1 * (-rho / c1) + q * s1 * z0
            g_df[0] += dnu0
            g_df[1] += dnu1
        gv[outcome[1, 0]] += g0
        gv[outcome[1, 1]] += g1
        gv[rho_at] += 2.0 * g_rho
    for o in range(o_n):
        if df[o] >= 0:
            gv[df[o]] += g_df[o]
    return lp, r
