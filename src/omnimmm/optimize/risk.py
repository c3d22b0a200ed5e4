"""Risk functionals: one number (and its gradient) from the per-draw values of an allocation.

* ``"mean"`` -- the posterior mean (the default objective).
* ``"quantile"`` -- the ``level`` quantile of the draws, estimated with Harrell-Davis
  weights: a weighted mean of the sorted draws whose weights follow a
  ``Beta(level (D + 1), (1 - level)(D + 1))`` law over ranks. Unlike the two bracketing
  order statistics of ``numpy.quantile`` it spreads the estimate over neighbouring ranks,
  so it moves smoothly as the allocation changes (SLSQP needs that) and is less noisy.
* ``"cvar"`` -- the mean of the worst ``level`` share of draws (with a fractional weight
  on the draw at the boundary, so the functional is continuous in the values).

Both tail functionals are L-estimators ``sum_i w_i V_(i)`` of the sorted values. Their
gradient ``sum_i w_i dV_(i)/dx`` is exact wherever no two draws swap ranks, and continuous
across swaps (the swapped draws have equal values there).
"""

from __future__ import annotations

import functools
from typing import Literal

import numpy as np

__all__ = ["Risk", "risk_functional", "risk_values", "risk_weights"]

Risk = Literal["mean", "quantile", "cvar"]


@functools.lru_cache(maxsize=32)
def _weights(n_draws: int, risk: str, level: float) -> np.ndarray:
    if risk == "mean" or n_draws == 1:
        return np.full(n_draws, 1.0 / n_draws)
    if risk == "quantile":
        a, b = level * (n_draws + 1), (1.0 - level) * (n_draws + 1)
        from scipy.special import betainc  # not at import: omnimmm validate never needs it

        cdf = betainc(a, b, np.arange(n_draws + 1) / n_draws)
        w = np.diff(cdf)
    elif risk == "cvar":
        k = level * n_draws
        w = np.clip(k - np.arange(n_draws), 0.0, 1.0) / k
    else:
        raise ValueError(f"risk must be 'mean', 'quantile' or 'cvar', got {risk!r}")
    w = np.where(w < 1e-12, 0.0, w)
    w.setflags(write=False)
    return w / w.sum()


def risk_weights(n_draws: int, risk: Risk = "mean", level: float = 0.1) -> np.ndarray:
    """Weight of each rank (lowest value first) in the functional, shape (n_draws,)."""
    if not 0 < level < 1:
        raise ValueError(f"risk level must lie in (0, 1), got {level!r}")
    return _weights(int(n_draws), str(risk), float(level))


def risk_functional(
    values: np.ndarray, grads: np.ndarray, risk: Risk = "mean", level: float = 0.1
) -> tuple[float, np.ndarray]:
    """Reduce per-draw values (D,) and gradients (D, N) to one objective and its gradient."""
    n_d = values.shape[0]
    if risk == "mean" or n_d == 1:
        return float(values.mean()), grads.mean(axis=0)
    w = risk_weights(n_d, risk, level)
    order = np.argsort(values, kind="stable")
    used = np.flatnonzero(w)
    ranks = order[used]
    return float(w[used] @ values[ranks]), w[used] @ grads[ranks]


def risk_values(values: np.ndarray, risk: Risk = "mean", level: float = 0.1) -> np.ndarray:
    """The functional of many allocations at once: values (n, D) -> (n,)."""
    values = np.asarray(values, dtype=float)
    if risk == "mean" or values.shape[1] == 1:
        return values.mean(axis=1)
    return np.sort(values, axis=1) @ risk_weights(values.shape[1], risk, level)
