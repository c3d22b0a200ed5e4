"""The geo kernel's glue to nutpie: C callbacks, the compiled model, the initial points.

As :mod:`omnimmm.mmm.density.nutpie_glue` does for the national density: two numba
``cfunc`` callbacks read the layout's tables and the scaled data from nutpie's
``user_data`` pointer (four entries per array: its address, then its shape), so they are
compiled once per machine and loaded from numba's disk cache by every later fit. The
expanded draw is the point itself; :class:`omnimmm.mmm.geo.fit.GeoFit` turns points into
parameters with the layout.
"""

from __future__ import annotations

import dataclasses
import time
from typing import Any

import numba
import numpy as np
from nutpie.compile_pymc import CompiledPyMCModel

from omnimmm.mmm.geo.cache import use_geo_stamp
from omnimmm.mmm.geo.kernel import geo_logp_grad
from omnimmm.mmm.geo.layout import BLOCKS, HIER_NC, GeoLayout
from omnimmm.mmm.geo.spec import GeoData
from omnimmm.mmm.nutpie_common import as_pointer
from omnimmm.mmm.warm import WarmStart, final_step_size, warm_tune

__all__ = ["initial_points", "run_nutpie"]

use_geo_stamp()

_N_ARRAYS = 10


@numba.njit(inline="always")
def _i1(ud, k):  # pragma: no cover - compiled
    return numba.carray(as_pointer(ud[4 * k]), (ud[4 * k + 1],), np.int64)


@numba.njit(inline="always")
def _f1(ud, k):  # pragma: no cover - compiled
    return numba.carray(as_pointer(ud[4 * k]), (ud[4 * k + 1],), np.float64)


@numba.njit(inline="always")
def _f2(ud, k):  # pragma: no cover - compiled
    return numba.carray(as_pointer(ud[4 * k]), (ud[4 * k + 1], ud[4 * k + 2]), np.float64)


@numba.njit(inline="always")
def _f3(ud, k):  # pragma: no cover - compiled
    shape = (ud[4 * k + 1], ud[4 * k + 2], ud[4 * k + 3])
    return numba.carray(as_pointer(ud[4 * k]), shape, np.float64)


def _logp_callback(dim, x_, out_, logp_, user_data_):  # pragma: no cover - compiled
    ud = numba.carray(as_pointer(user_data_), (4 * _N_ARRAYS,), np.uint64)
    n = ud[1]
    if dim != n:
        return -1
    x = numba.carray(x_, (n,))
    out = numba.carray(out_, (n,))
    logp = numba.carray(logp_, ())
    for i in range(n):
        out[i] = 0.0
    lp = geo_logp_grad(
        x, out, _i1(ud, 0), _f1(ud, 1), _f1(ud, 2), _i1(ud, 3),
        _f3(ud, 4), _f3(ud, 5), _f3(ud, 6), _f3(ud, 7), _f3(ud, 8), _f2(ud, 9),
    )  # fmt: skip
    logp[()] = lp
    if not np.all(np.isfinite(out)):
        return 3
    if not np.isfinite(lp):
        return 4
    return 0


def _expand_callback(dim, expanded, x_, out_, user_data_):  # pragma: no cover - compiled
    x = numba.carray(x_, (dim,))
    out = numba.carray(out_, (expanded,))
    for i in range(dim):
        out[i] = x[i]
    return 0


_COMPILED: dict[str, Any] = {}


def _callbacks() -> tuple[Any, Any]:
    if not _COMPILED:
        f64p = numba.types.CPointer(numba.types.double)
        u64 = numba.types.uint64
        _COMPILED["logp"] = numba.cfunc(
            numba.types.int64(u64, f64p, f64p, f64p, numba.types.voidptr), cache=True
        )(_logp_callback)
        _COMPILED["expand"] = numba.cfunc(
            numba.types.int64(u64, u64, f64p, f64p, numba.types.voidptr), cache=True
        )(_expand_callback)
    return _COMPILED["logp"], _COMPILED["expand"]


def _user_data(arrays: list[np.ndarray]) -> np.ndarray:
    out = np.zeros(4 * len(arrays), dtype=np.uint64)
    for k, a in enumerate(arrays):
        assert a.flags.c_contiguous, "geo kernel arrays must be contiguous"
        out[4 * k] = a.ctypes.data
        out[4 * k + 1 : 4 * k + 1 + a.ndim] = a.shape
    return out


def initial_points(layout: GeoLayout, seed: int) -> np.ndarray:
    """A jittered starting point near the priors' centres (unconstrained).

    Parameters
    ----------
    layout : GeoLayout
    seed : int

    Returns
    -------
    numpy.ndarray
        Shape (n,).
    """
    rng = np.random.default_rng([seed, 1919])
    z = np.zeros(layout.n)
    centre = {
        "roi_spread": np.log(0.2),
        "adstock_alpha": np.log(0.4 / 0.6),
        "hill_slope": np.log(1.5),
        "level": 1.0,
        "coef_spread": np.log(0.05),
        "level_step": np.log(0.05),
        "noise": np.log(0.05),
    }
    for name in BLOCKS:
        o, s = layout.offsets[name], layout.size(name)
        base: Any = centre.get(name, 0.0)
        centred = layout.block_kind("roi_geo_log") != HIER_NC
        if name == "log_roi" or (name == "roi_geo_log" and centred):  # the prior's centre
            lr = layout.offsets["log_roi"]
            base = np.resize(layout.prior_a[lr : lr + layout.size("log_roi")], s)
        jitter = 0.05 if name in ("level", "coef_mean") else 0.3
        z[o : o + s] = base + rng.uniform(-jitter, jitter, s)
    return z


def run_nutpie(
    data: GeoData,
    layout: GeoLayout,
    *,
    chains: int,
    draws: int,
    tune: int,
    seed: int,
    target_accept: float,
    progress: bool,
    cores: int | None = None,
    low_rank: bool = True,
    warm: WarmStart | None = None,
) -> tuple[Any, dict[str, Any]]:
    """Sample the geo density with nutpie.

    Parameters
    ----------
    data : GeoData
    layout : GeoLayout
    chains, draws, tune, seed : int
    target_accept : float
    progress : bool
    cores : int, optional
        Threads nutpie runs chains on (default: nutpie's).
    low_rank : bool, default True
        nutpie's low-rank modified mass matrix: it adapts to the correlation between a
        channel's national ROI and its regional deviations, which a diagonal one cannot.

    Returns
    -------
    tuple
        nutpie's InferenceData (posterior of the unconstrained point, one variable per
        block) and timings (``compile``, ``sampling`` in seconds).
    """
    import nutpie

    t0 = time.perf_counter()
    logp_c, expand_c = _callbacks()
    arrays = [
        layout.kind,
        layout.prior_a,
        layout.prior_b,
        layout.index_table(),
        data.xs,
        data.ys,
        data.fc,
        data.ftf,
        data.ratio,
        data.lift,
    ]
    names = [b for b in BLOCKS if layout.size(b)]
    shapes = [layout.shapes[b] for b in names]
    slices, at = [], 0
    for b in names:
        slices.append(slice(at, at + layout.size(b)))
        at += layout.size(b)
    model = CompiledPyMCModel(
        _n_dim=layout.n,
        dims={},
        _coords={},
        _shapes={b: tuple(s) for b, s in zip(names, shapes, strict=True)},
        compiled_logp_func=logp_c,
        compiled_expand_func=expand_c,
        # nutpie hands each chain its own seed, drawn from ``seed`` and the chain: starting
        # points from it do not depend on which chain's thread asks first
        initial_point_func=lambda chain_seed=None: initial_points(
            layout, seed if chain_seed is None else int(chain_seed)
        ),
        shared_data={},
        user_data=_user_data(arrays),
        n_expanded=layout.n,
        shape_info=(names, slices, [list(s) for s in shapes]),
        logp_func=None,
        expand_func=None,
    )
    kwargs: dict[str, Any] = {} if cores is None else {"cores": cores}
    started_warm = False
    if warm is not None and warm.fits(model):
        model = dataclasses.replace(model, initial_point_func=warm.initial_point_func())
        tune, started_warm = warm_tune(tune), True
        kwargs["initial_step"] = warm.step_size
    t1 = time.perf_counter()
    idata = nutpie.sample(
        model,
        draws=draws,
        tune=tune,
        chains=chains,
        seed=seed,
        target_accept=target_accept,
        progress_bar=progress,
        save_warmup=False,
        low_rank_modified_mass_matrix=low_rank,
        **kwargs,
    )
    del arrays  # held by the model's user_data until here
    return idata, {
        "compile": t1 - t0,
        "sampling": time.perf_counter() - t1,
        "tune": int(tune),
        "warm": bool(started_warm),
        "step_size": final_step_size(idata.sample_stats["step_size"].values),
    }
