"""The log density and its gradient at a point: the forward pass, then the backward pass.

:func:`_logp_grad_kernel` is the one numba function nutpie's callback calls
(:mod:`omnimmm.mmm.density.nutpie_glue`); :func:`logp_and_grad` calls it from Python (the
gradient check against PyMC, ``tests/test_mmm_density.py``).
"""

from __future__ import annotations

import numba
import numpy as np

from omnimmm.mmm.density.cache import use_kernel_stamp
from omnimmm.mmm.density.forward import (
    _adstock_weights,
    _dirichlet,
    _effects,
    _likelihood,
    _lkj_prior,
    _mean,
    _priors,
    _saturated,
)
from omnimmm.mmm.density.gradient import (
    _adstock_back,
    _effects_back,
    _lift_tests,
    _mean_back,
    _shares_back,
)
from omnimmm.mmm.density.tables import (
    _ALPHA,
    _BASE,
    _BLOCKS,
    _C_PER_OUTCOME,
    _CHANNEL_F,
    _CHANNELS,
    _FEATURES,
    _FEATURES_T,
    _GAMMA,
    _KINDS,
    _LAGS,
    _LIFT_AFTER,
    _LIFT_C,
    _LIFT_F,
    _LIFT_LAGS,
    _OUTCOME,
    _PAIRS,
    _PRIOR_A,
    _PRIOR_B,
    _RATIO,
    _Y,
    DensityTables,
)

__all__ = ["logp_and_grad"]

use_kernel_stamp()  # before the numba.njit(cache=True) below


@numba.njit(cache=True, error_model="numpy")
def _forward_pass(z, grad, tables):  # pragma: no cover - compiled; tested via logp_and_grad
    """From the point ``z`` to the log density: the log density and the state the backward
    pass reads (``v, dv, gv, oa, share, w, du_a, du_t, u_sum, h, dh_x, dh_p1, dh_p2, s_tot,
    beta, r``); the priors' slopes in ``z`` are in ``grad`` already. ``tables``:
    :meth:`DensityTables.arrays`."""
    y = tables[_Y]
    channels = tables[_CHANNELS]
    lags = tables[_LAGS]
    outcome = tables[_OUTCOME]
    prior_a = tables[_PRIOR_A]
    prior_b = tables[_PRIOR_B]
    n = z.shape[0]
    t_n, o_n = y.shape
    c_n = channels.shape[0]
    l_n = lags.shape[0] // c_n if c_n > 0 else 0  # lags: one row per channel and lag
    # Carryover per outcome (the flag is the same for every channel): adstock column
    # a(o) = o of h, w and their slopes; shared: one column, a(o) = 0.
    n_a = o_n if c_n > 0 and channels[0, _C_PER_OUTCOME] else 1
    oa = np.zeros(o_n, dtype=np.int64)
    if n_a > 1:
        for o in range(o_n):
            oa[o] = o
    v = np.empty(n)
    dv = np.empty(n)
    gv = np.zeros(n)

    lp = _priors(z, grad, tables[_KINDS], prior_a, prior_b, v, dv)
    ch0 = outcome[2, 1] if o_n > 1 else -1
    lp = _lkj_prior(v, gv, ch0, prior_a, prior_b, o_n, lp)
    share = np.ones((c_n, o_n))
    lp = _dirichlet(z, grad, tables[_BLOCKS], tables[_ALPHA], share, lp)
    w, du_a, du_t, u_sum = _adstock_weights(v, channels, tables[_CHANNEL_F], n_a, l_n)
    h, dh_x, dh_p1, dh_p2, s_tot = _saturated(v, channels, lags, w, t_n, n_a)
    beta = _effects(v, channels, tables[_CHANNEL_F], share, tables[_RATIO], s_tot, oa)
    mu = _mean(
        v, beta, h, tables[_PAIRS], tables[_GAMMA], tables[_FEATURES_T], tables[_BASE], outcome, oa
    )
    lp, r = _likelihood(v, gv, y, mu, outcome, ch0, lp, tables[_FEATURES])
    return lp, (v, dv, gv, oa, share, w, du_a, du_t, u_sum, h, dh_x, dh_p1, dh_p2, s_tot, beta, r)


@numba.njit(cache=True, error_model="numpy")
def _backward_pass(grad, tables, lp, state):  # pragma: no cover - compiled; as above
    """Back from the likelihood's slope ``r`` to the gradient in ``grad``, given the forward
    pass's log density and state; the log density with the lift tests' terms added."""
    v, dv, gv, oa, share, w, du_a, du_t, u_sum, h, dh_x, dh_p1, dh_p2, s_tot, beta, r = state
    channels = tables[_CHANNELS]
    channel_f = tables[_CHANNEL_F]
    pairs = tables[_PAIRS]
    gamma_ix = tables[_GAMMA]
    gh, g_beta = _mean_back(
        v, gv, r, h, beta, pairs, gamma_ix, tables[_FEATURES], tables[_BASE], tables[_OUTCOME], oa
    )
    gw = np.zeros(w.shape)
    lp = _lift_tests(
        v,
        gv,
        gh,
        g_beta,
        gw,
        channels,
        pairs,
        gamma_ix,
        tables[_LIFT_C],
        tables[_LIFT_LAGS],
        tables[_LIFT_AFTER],
        tables[_LIFT_F],
        w,
        h,
        beta,
        oa,
        lp,
    )
    g_share = _effects_back(v, gv, gh, g_beta, channels, channel_f, tables[_RATIO], s_tot, beta, oa)
    _adstock_back(
        gv, gh, gw, channels, channel_f, tables[_LAGS], w, du_a, du_t, u_sum, dh_x, dh_p1, dh_p2
    )
    _shares_back(grad, tables[_BLOCKS], share, g_share)
    for i in range(v.shape[0]):
        grad[i] += gv[i] * dv[i]
    return lp


# Inlined into nutpie's callback, which then links the two passes' compiled code directly:
# one LLVM optimisation of the linked module instead of one here and one there.
@numba.njit(cache=True, error_model="numpy", inline="always")
def _logp_grad_kernel(z, grad, tables):  # pragma: no cover - compiled; as above
    """Log density at ``z``, its gradient into ``grad`` (zeros on entry); ``tables``:
    :meth:`DensityTables.arrays`."""
    lp, state = _forward_pass(z, grad, tables)
    return _backward_pass(grad, tables, lp, state)


def logp_and_grad(tables: DensityTables, z: np.ndarray) -> tuple[float, np.ndarray]:
    """Log density and its gradient at the unconstrained point ``z``.

    Parameters
    ----------
    tables : DensityTables
        The model's tables (:func:`omnimmm.mmm.density.density_tables`).
    z : numpy.ndarray
        A point in nutpie's layout of the model's unconstrained value variables.

    Returns
    -------
    tuple of float and numpy.ndarray
        The log density (PyMC's, up to a constant) and its gradient in ``z``.
    """
    z = np.ascontiguousarray(z, dtype=float)
    grad = np.zeros_like(z)
    lp = _logp_grad_kernel(z, grad, tables.arrays())
    return float(lp), grad
