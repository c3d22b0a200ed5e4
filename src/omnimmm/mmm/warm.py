"""Warm starts: a refit of the same plan on other weeks (the holdout refit, each backtest
origin) starts where an earlier fit ended instead of from the prior's support point.

What nutpie (0.16.8, the newest release) lets a caller set before sampling, and what a warm
start therefore carries over from the earlier fit:

- **initial points**: one posterior draw per chain, in nutpie's unconstrained layout. nutpie
  asks a compiled PyMC model's ``initial_point_func`` for each chain's start (``init_mean``
  is not read for those models), so the warm start swaps that function for one that picks
  a stored draw by the chain's seed: deterministic for a given sampler seed;
- **step size**: the earlier fit's adapted step size (median over chains) as the sampler's
  ``initial_step`` (default 0.1);
- **a shorter tuning phase**: :func:`warm_tune` steps instead of the plan's ``tune``. The
  chains start in the typical set, so no steps go to finding it; the steps left adapt the
  step size and the mass matrix.

The mass matrix itself cannot be handed over: nutpie has no setting for an initial mass
matrix (only ``store_mass_matrix`` to read it out), so it is adapted again, starting from
the gradient at the posterior draw, which is already close to the posterior's scales.

Same seeds give the same numbers, warm or cold, but a warm refit's chains differ from a
cold refit's with the same seed (other starts, other tuning length): its draws are another
sample of the same posterior. ``tests/test_warm_start.py`` and ``benchmarks/bench_run.py``
check that both agree (ROI means within Monte Carlo error, R-hat <= 1.01).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = [
    "WarmStart",
    "final_step_size",
    "thinned",
    "warm_compiled",
    "warm_start_from",
    "warm_tune",
]

#: Posterior draws kept per chain as starting points (evenly thinned).
POINTS_PER_CHAIN = 64
#: Tuning steps of a warm refit: a quarter of the plan's, at least this many.
MIN_WARM_TUNE = 200


@dataclass(frozen=True)
class WarmStart:
    """Where a fit ended: starting points and step size for a refit of the same model.

    Attributes
    ----------
    points : numpy.ndarray
        ``(n, dim)`` posterior draws in nutpie's unconstrained layout.
    names : tuple of str
        Names of the value variables in that layout (a refit must have the same).
    shapes : tuple of tuple of int
        Their shapes.
    step_size : float
        The adapted step size (median over chains).
    """

    points: np.ndarray
    names: tuple[str, ...]
    shapes: tuple[tuple[int, ...], ...]
    step_size: float

    @property
    def dim(self) -> int:
        """Length of one point."""
        return int(self.points.shape[1])

    def fits(self, compiled: Any) -> bool:
        """Whether ``compiled`` (nutpie's compiled model) has this start's layout."""
        names, _, shapes = compiled.shape_info
        n_free = len(self.names)
        return (
            int(compiled.n_dim) == self.dim
            and tuple(names[:n_free]) == self.names
            and tuple(tuple(int(d) for d in s) for s in shapes[:n_free]) == self.shapes
        )

    def initial_point_func(self) -> Callable[[Any], np.ndarray]:
        """nutpie's initial point function: the stored draw the chain's seed picks."""
        points = self.points

        def initial_point(seed: Any) -> np.ndarray:
            rng = np.random.default_rng(np.asarray(seed, dtype=np.uint64).ravel().tolist())
            return np.array(points[int(rng.integers(len(points)))], dtype=np.float64)

        return initial_point


def warm_start_from(
    unconstrained: Any, step_size: Any, compiled: Any, per_chain: int = POINTS_PER_CHAIN
) -> WarmStart | None:
    """The warm start a fit leaves behind.

    Parameters
    ----------
    unconstrained : array-like
        nutpie's ``unconstrained_draw`` sample statistic, ``(chain, draw, dim)``.
    step_size : array-like
        nutpie's ``step_size`` sample statistic, ``(chain, draw)``.
    compiled : nutpie compiled model
        What was sampled (its ``shape_info`` names the layout).
    per_chain : int
        Draws kept per chain (evenly thinned).

    Returns
    -------
    WarmStart or None
        None when the draws are not finite or not in the compiled model's layout.
    """
    draws = np.asarray(unconstrained, dtype=float)
    if draws.ndim != 3 or draws.shape[2] != int(compiled.n_dim) or draws.shape[1] == 0:
        return None
    points = thinned(draws, per_chain)
    steps = np.asarray(step_size, dtype=float)
    if not (np.all(np.isfinite(points)) and steps.size and np.all(np.isfinite(steps))):
        return None
    names, _, shapes = compiled.shape_info
    n_free = _n_free(compiled, draws.shape[2])
    return WarmStart(
        points=points,
        names=tuple(str(n) for n in names[:n_free]),
        shapes=tuple(tuple(int(d) for d in s) for s in shapes[:n_free]),
        step_size=final_step_size(steps),
    )


def thinned(draws: np.ndarray, per_chain: int = POINTS_PER_CHAIN) -> np.ndarray:
    """``(n, dim)`` starting points: at most ``per_chain`` evenly spaced draws of every chain
    of ``draws`` ``(chain, draw, dim)``."""
    keep = np.unique(np.linspace(0, draws.shape[1] - 1, min(per_chain, draws.shape[1])).round())
    return np.ascontiguousarray(draws[:, keep.astype(int), :].reshape(-1, draws.shape[2]))


def final_step_size(step_size: Any) -> float:
    """The adapted step size of a fit: the median over chains of each chain's last one
    (nutpie's ``step_size`` sample statistic, ``(chain, draw)``)."""
    steps = np.asarray(step_size, dtype=float)
    return float(np.median(steps.reshape(steps.shape[0], -1)[:, -1]))


def _n_free(compiled: Any, dim: int) -> int:
    """How many leading entries of ``shape_info`` make up the unconstrained point."""
    _, _, shapes = compiled.shape_info
    total = 0
    for k, s in enumerate(shapes):
        if total == dim:
            return k
        total += int(np.prod(s, dtype=int))
    return len(shapes)


def warm_tune(tune: int) -> int:
    """Tuning steps of a warm refit whose cold fit tunes ``tune`` steps."""
    return int(min(tune, max(MIN_WARM_TUNE, tune // 4)))


def warm_compiled(compiled: Any, warm: WarmStart) -> Any:
    """``compiled`` with its chains starting at ``warm``'s points."""
    return dataclasses.replace(compiled, initial_point_func=warm.initial_point_func())
