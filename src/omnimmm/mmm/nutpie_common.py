"""What both ways of compiling a model for nutpie share.

:mod:`omnimmm.mmm.compile` (the compiled PyMC graph) and :mod:`omnimmm.mmm.density` (the
hand-written density) both hand nutpie two numba ``cfunc`` callbacks that read their arrays
from a ``user_data`` pointer, and both start the chains at PyMC's jittered support point.
The helpers for that live here, below both, so neither imports the other for them.
"""

from __future__ import annotations

import threading
from typing import Any

from numba.extending import intrinsic

__all__ = ["as_pointer", "initial_point_fn"]


@intrinsic
def as_pointer(typingctx: Any, address: Any) -> Any:
    """The integer ``address`` as a void pointer (for :func:`numba.carray`), in compiled code."""
    from numba.core import cgutils, types

    def codegen(context: Any, builder: Any, signature: Any, args: Any) -> Any:
        return builder.inttoptr(args[0], cgutils.voidptr_t)

    return types.voidptr(address), codegen


def initial_point_fn(model: Any) -> Any:
    """nutpie's initial point function of ``model``: PyMC's support point, jittered,
    transformed.

    Parameters
    ----------
    model : pymc.Model
        The model to start the chains of.

    Returns
    -------
    callable
        nutpie's wrapped initial point function (takes a seed).
    """
    return _LazyInitialPoint(model)


class _LazyInitialPoint:
    """PyMC's initial point function, compiled at its first call (under a lock: nutpie's
    chains call it from their threads). Compiling it is a pytensor compile of the model's
    support points (about half a second); a warm-started fit (:mod:`omnimmm.mmm.warm`)
    replaces it before sampling and so never pays for it."""

    def __init__(self, model: Any) -> None:
        self._model: Any = model
        self._fn: Any = None
        self._lock = threading.Lock()

    def __call__(self, seed: Any) -> Any:
        with self._lock:
            if self._fn is None:
                from pymc.initial_point import make_initial_point_fn

                self._fn = make_initial_point_fn(
                    model=self._model,
                    default_strategy="support_point",
                    jitter_rvs=set(self._model.free_RVs),
                    return_transformed=True,
                )
                self._model = None
            return self._fn(seed)
