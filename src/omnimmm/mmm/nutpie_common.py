"""What both ways of compiling a model for nutpie share.

:mod:`omnimmm.mmm.compile` (the compiled PyMC graph) and :mod:`omnimmm.mmm.density` (the
hand-written density) both hand nutpie two numba ``cfunc`` callbacks that read their arrays
from a ``user_data`` pointer, and both start the chains at PyMC's jittered support point.
The helpers for that live here, below both, so neither imports the other for them.
"""

from __future__ import annotations

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
    from nutpie import compile_pymc as npc
    from pymc.initial_point import make_initial_point_fn

    return npc._wrap_with_lock(
        make_initial_point_fn(
            model=model,
            default_strategy="support_point",
            jitter_rvs=set(model.free_RVs),
            return_transformed=True,
        )
    )
