"""Compile the kernel's two passes at once, the backward one in a child process.

A machine's first fit compiles the density's callbacks: about 15 CPU seconds of numba's
front end and LLVM, on one core, while the sampler waits (later fits load them from
numba's disk cache). The kernel is two numba functions, :func:`~omnimmm.mmm.density.kernel.
_forward_pass` and :func:`~omnimmm.mmm.density.kernel._backward_pass`, of about the same
size, which the callback calls one after the other. So on a cold cache
:func:`compile_passes` starts a child process that compiles the backward pass into the disk
cache while this process compiles the forward pass; the callback's own compile then finds
both and only links them. Nothing is compiled twice: the child's result is found through
the same cache key a compile here would have written (the backward pass's argument types,
:data:`BACKWARD_ARGS`, are exactly those the callback passes, which
``tests/test_mmm_density.py`` checks). If the child fails, the callback compiles the
backward pass itself, as it did before.

The child imports only this package's numba code (not nutpie, PyMC or ArviZ), about a
second. Set the environment variable :data:`ONE_CORE_ENV` to ``1`` to compile everything
in the fitting process.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from typing import Any

import numba
import numpy as np

from omnimmm.mmm.density.kernel import _backward_pass, _forward_pass
from omnimmm.mmm.density.tables import _ARRAY_TYPES

__all__ = ["BACKWARD_ARGS", "FORWARD_ARGS", "ONE_CORE_ENV", "compile_backward", "compile_passes"]

#: Set to ``1`` to compile both passes in the fitting process.
ONE_CORE_ENV = "OMNIMMM_COMPILE_ONE_CORE"


def _array(dtype: Any, ndim: int) -> Any:
    return numba.types.Array(numba.from_dtype(np.dtype(dtype)), ndim, "C")


_F1, _F2, _F3 = (_array(np.float64, k) for k in (1, 2, 3))
#: The tables' tuple (:meth:`~omnimmm.mmm.density.tables.DensityTables.arrays`).
_TABLES = numba.types.Tuple([_array(dtype, ndim) for dtype, ndim in _ARRAY_TYPES])
#: The forward pass's argument types: ``z``, ``grad``, the tables.
FORWARD_ARGS = (_F1, _F1, _TABLES)
#: The forward pass's state, as it returns it after the log density: ``v``, ``dv``,
#: ``gv``, ``oa``, ``share``, ``w``, ``du_a``, ``du_t``, ``u_sum``, ``h``, ``dh_x``,
#: ``dh_p1``, ``dh_p2``, ``s_tot``, ``beta``, ``r``.
_STATE = numba.types.Tuple(
    [_F1, _F1, _F1, _array(np.int64, 1), _F2, _F3, _F3, _F3, _F2, _F3, _F3, _F3, _F3, _F2, _F2, _F2]
)
#: The backward pass's argument types: ``grad``, the tables, the log density, the state.
BACKWARD_ARGS = (_F1, _TABLES, numba.types.float64, _STATE)

_CHILD_CODE = "from omnimmm.mmm.density.two_cores import compile_backward; compile_backward()"


def compile_backward() -> None:
    """Compile the backward pass for the callback's argument types (or load it), writing
    numba's disk cache: what :func:`compile_passes`'s child process runs."""
    _backward_pass.compile(BACKWARD_ARGS)


def compile_passes(meanwhile: Callable[[], None] | None = None) -> None:
    """Compile (or load) both passes of the kernel, on two cores when the machine has them.

    The backward pass compiles in a child process while this one compiles the forward
    pass, then runs ``meanwhile``; returns when both passes are in numba's disk cache (or,
    if the child failed, with only the forward pass compiled: the callback's compile then
    compiles the backward pass here). Call it when the callbacks are not on disk yet.

    Parameters
    ----------
    meanwhile : callable, optional
        More work for this process while the child may still be compiling.
    """
    child = _start_child()
    try:
        _forward_pass.compile(FORWARD_ARGS)
        if meanwhile is not None:
            meanwhile()
    finally:
        if child is not None:
            child.wait()


def _start_child() -> subprocess.Popen[bytes] | None:
    if os.environ.get(ONE_CORE_ENV) == "1" or (os.cpu_count() or 1) < 2:
        return None
    if not sys.executable or getattr(sys, "frozen", False):  # no interpreter to start
        return None
    try:
        return subprocess.Popen(
            [sys.executable, "-c", _CHILD_CODE],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
    except OSError:
        return None
