"""The hand-written density's glue to nutpie: its C callbacks and its compiled model.

nutpie samples through two C callbacks: the log density with its gradient, and the
"expanded" draw (the point, then the constrained values of transformed variables). Here
they are numba ``cfunc`` functions that read the model's tables from nutpie's
``user_data`` pointer (:func:`user_data`: a flat array of addresses and extents), so the
same two callbacks, compiled once per machine and then loaded from numba's disk cache,
serve every plan. :func:`compile_model` wraps them in nutpie's compiled-model type;
:func:`omnimmm.mmm.compile.compile_nutpie` calls it when :func:`density_tables` covers the
model.

The callbacks follow nutpie's own (``nutpie.compile_pymc``, version pinned in
``uv.lock``): return codes 0 ok, -1 wrong dimension, 3 non-finite gradient, 4 non-finite
log density.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numba
import numpy as np
from nutpie.compile_pymc import CompiledPyMCModel

from omnimmm.mmm.density.cache import cfunc_on_disk, use_kernel_stamp
from omnimmm.mmm.density.forward import _sigmoid, _simplex
from omnimmm.mmm.density.kernel import _logp_grad_kernel
from omnimmm.mmm.density.tables import (
    _ARRAY_FIELDS,
    _ARRAY_TYPES,
    _X_CHOL,
    _X_LOG,
    _X_LOGODDS,
    DensityTables,
)
from omnimmm.mmm.density.two_cores import compile_passes
from omnimmm.mmm.nutpie_common import as_pointer, initial_point_fn

__all__ = ["HandCompiledModel", "callbacks", "compile_model", "expand", "user_data"]

use_kernel_stamp()  # before the numba.njit(cache=True) below


@numba.njit(cache=True, error_model="numpy")
def _expand_kernel(z, out, expand):  # pragma: no cover - compiled; tested via expand()
    """The expanded draw of ``z`` into ``out``, as the rows of ``expand`` say."""
    n = z.shape[0]
    for i in range(n):
        out[i] = z[i]
    for e in range(expand.shape[0]):
        kind = expand[e, 0]
        s0 = expand[e, 1]
        size = expand[e, 2]
        d0 = expand[e, 3]
        if kind == _X_LOG:
            for i in range(size):
                out[d0 + i] = math.exp(z[s0 + i])
        elif kind == _X_LOGODDS:
            for i in range(size):
                out[d0 + i] = _sigmoid(z[s0 + i])
        elif kind == _X_CHOL:  # packed Cholesky factor: exp on the diagonal
            for i in range(size):
                out[d0 + i] = z[s0 + i]
            for i in range(expand[e, 4]):
                out[d0 + i * (i + 3) // 2] = math.exp(z[s0 + i * (i + 3) // 2])
        else:
            nc = expand[e, 4]
            for r in range(size // (nc - 1)):
                _simplex(z, s0 + r * (nc - 1), nc, out, d0 + r * nc)


def expand(tables: DensityTables, z: np.ndarray) -> np.ndarray:
    """nutpie's expanded draw: the point, then the constrained values of transformed
    variables.

    Parameters
    ----------
    tables : DensityTables
        The model's tables.
    z : numpy.ndarray
        A point in nutpie's layout of the unconstrained value variables.

    Returns
    -------
    numpy.ndarray
        ``z``, then the transformed variables' constrained values (``tables.shape_info``
        names and shapes the parts).
    """
    z = np.ascontiguousarray(z, dtype=float)
    out = np.empty(tables.n_expanded)
    _expand_kernel(z, out, tables.expand)
    return out


def user_data(tables: DensityTables) -> np.ndarray:
    """The callbacks' ``user_data``: addresses and extents of the tables' arrays, then the
    expand table's.

    Parameters
    ----------
    tables : DensityTables
        The model's tables; its arrays must outlive the returned array.

    Returns
    -------
    numpy.ndarray
        uint64, three entries per array: its address, then its shape (zero-padded).

    Raises
    ------
    ValueError
        If an array is not C-contiguous with the dtype and rank the callbacks read.
    """
    arrays = [*tables.arrays(), tables.expand]
    out = np.zeros(3 * len(arrays), dtype=np.uint64)
    for k, (a, (dtype, ndim)) in enumerate(zip(arrays, _UNPACKED_AS, strict=True)):
        # The callbacks unpack array k with this dtype and rank (_i1, _i2, _f1, _f2).
        if not (a.flags.c_contiguous and a.dtype == dtype and a.ndim == ndim):
            name = (*_ARRAY_FIELDS, "expand")[k]
            raise ValueError(f"table {name} must be a contiguous {dtype} array of rank {ndim}")
        out[3 * k] = a.ctypes.data
        out[3 * k + 1 : 3 * k + 1 + a.ndim] = a.shape
    return out


_N_ARRAYS = len(_ARRAY_FIELDS) + 1
#: dtype and rank of each array in ``user_data`` (``_ARRAY_FIELDS``, then ``expand``), as
#: :func:`_logp_callback` and :func:`_expand_callback` read them.
_UNPACKED_AS = (*_ARRAY_TYPES, (np.dtype(np.int64), 2))


@numba.njit(inline="always")
def _i1(ud, k):  # pragma: no cover - compiled
    return numba.carray(as_pointer(ud[3 * k]), (ud[3 * k + 1],), np.int64)


@numba.njit(inline="always")
def _i2(ud, k):  # pragma: no cover - compiled
    return numba.carray(as_pointer(ud[3 * k]), (ud[3 * k + 1], ud[3 * k + 2]), np.int64)


@numba.njit(inline="always")
def _f1(ud, k):  # pragma: no cover - compiled
    return numba.carray(as_pointer(ud[3 * k]), (ud[3 * k + 1],), np.float64)


@numba.njit(inline="always")
def _f2(ud, k):  # pragma: no cover - compiled
    return numba.carray(as_pointer(ud[3 * k]), (ud[3 * k + 1], ud[3 * k + 2]), np.float64)


def _logp_callback(dim, x_, out_, logp_, user_data_):
    """nutpie's log-density callback (return codes: the module's docstring); the
    arrays in ``user_data`` in :data:`_ARRAY_FIELDS` order."""
    ud = numba.carray(as_pointer(user_data_), (3 * _N_ARRAYS,), np.uint64)
    n = ud[1]
    if dim != n:
        return -1
    x = numba.carray(x_, (n,))
    out = numba.carray(out_, (n,))
    logp = numba.carray(logp_, ())
    tables = (
        _i1(ud, 0),
        _i2(ud, 1),
        _i2(ud, 2),
        _i2(ud, 3),
        _i2(ud, 4),
        _i2(ud, 5),
        _i2(ud, 6),
        _i1(ud, 7),
        _f1(ud, 8),
        _f1(ud, 9),
        _f2(ud, 10),
        _f2(ud, 11),
        _f2(ud, 12),
        _f2(ud, 13),
        _f2(ud, 14),
        _f2(ud, 15),
        _f2(ud, 16),
        _f2(ud, 17),
        _f2(ud, 18),
        _f2(ud, 19),
    )
    lp = _logp_grad_kernel(x, out, tables)
    logp[()] = lp
    if not np.all(np.isfinite(out)):
        return 3
    if not np.isfinite(lp):
        return 4
    return 0


def _expand_callback(dim, expanded, x_, out_, user_data_):
    """nutpie's expand callback: the point, then transformed variables' values."""
    ud = numba.carray(as_pointer(user_data_), (3 * _N_ARRAYS,), np.uint64)
    n = ud[1]
    if dim != n:
        return -1
    table = _i2(ud, _N_ARRAYS - 1)
    x = numba.carray(x_, (n,))
    out = numba.carray(out_, (expanded,))
    _expand_kernel(x, out, table)
    return 0


_COMPILED: dict[str, Any] = {}


def callbacks() -> tuple[Any, Any, bool]:
    """The two numba ``cfunc`` callbacks, compiled once per machine, then from the cache.

    Returns
    -------
    tuple
        The log-density and the expand callbacks, and whether this call compiled them
        (False: from the disk cache, or made before in this process).
    """
    if _COMPILED:
        return _COMPILED["logp"], _COMPILED["expand"], False
    f64p = numba.types.CPointer(numba.types.double)
    logp_sig = numba.types.int64(numba.types.uint64, f64p, f64p, f64p, numba.types.voidptr)
    expand_sig = numba.types.int64(
        numba.types.uint64, numba.types.uint64, f64p, f64p, numba.types.voidptr
    )

    def expand_callback() -> None:
        _COMPILED["expand"] = numba.cfunc(expand_sig, cache=True)(_expand_callback)

    if cfunc_on_disk(_logp_callback, logp_sig):
        expand_callback()
    else:  # the kernel's two passes on two cores, then the expand callback meanwhile
        compile_passes(meanwhile=expand_callback)
    _COMPILED["logp"] = numba.cfunc(logp_sig, cache=True)(_logp_callback)
    compiled = any(getattr(f, "_cache_hits", 0) == 0 for f in _COMPILED.values())
    return _COMPILED["logp"], _COMPILED["expand"], compiled


@dataclass(frozen=True)
class HandCompiledModel(CompiledPyMCModel):
    """nutpie's compiled model on the hand-written density."""

    tables: Any = None
    #: Whether this compile compiled the callbacks (the first fit on a machine).
    compiled_callbacks: bool = False

    def with_data(self, **updates: Any) -> Any:
        """Not available: the density reads its data from its tables (always raises)."""
        raise NotImplementedError(
            "the hand-written density reads its data from its tables: build the model on "
            "the new data and compile it again (it compiles nothing new)"
        )


def compile_model(model: Any, tables: DensityTables) -> HandCompiledModel:
    """nutpie's compiled model of ``model`` on the hand-written density.

    Parameters
    ----------
    model : pymc.Model
        The model (its initial points, dims and coordinates).
    tables : DensityTables
        Its tables (:func:`omnimmm.mmm.density.density_tables`).

    Returns
    -------
    HandCompiledModel
        Ready for ``nutpie.sample``.
    """
    from nutpie import compile_pymc as npc

    logp_c, expand_c, compiled_now = callbacks()
    names, slices, shapes = tables.shape_info
    n_dim = len(tables.kinds)
    n_free = len(model.free_RVs)
    init_fn = npc._rv_dict_to_flat_array_wrapper(
        initial_point_fn(model), names=names[:n_free], shapes=shapes[:n_free]
    )
    dims, coords = npc._prepare_dims_and_coords(model, tables.shape_info)
    return HandCompiledModel(
        _n_dim=n_dim,
        dims=dims,
        _coords=coords,
        _shapes={name: tuple(shape) for name, shape in zip(names, shapes, strict=True)},
        compiled_logp_func=logp_c,
        compiled_expand_func=expand_c,
        initial_point_func=init_fn,
        shared_data={},
        user_data=user_data(tables),
        n_expanded=tables.n_expanded,
        shape_info=tables.shape_info,
        logp_func=None,
        expand_func=None,
        tables=tables,
        compiled_callbacks=compiled_now,
    )
