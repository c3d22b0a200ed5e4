"""The sampling stack's first import, without the compile ArviZ does at import time.

ArviZ 0.23 (imported by PyMC, nutpie and this package) compiles one numba ufunc eagerly when
it is imported: ``arviz.stats.ecdf_utils._binom_pmf`` is decorated with
``numba.vectorize`` and an explicit signature, so every process that imports ArviZ spends
about half a second of LLVM compile on a function used only to draw ECDF confidence bands,
which omnimmm never does. That half second sits on the path to the first draw of every
``omnimmm fit`` and ``run`` (imports are single-threaded; nothing else can run meanwhile).

:func:`import_sampling_stack` imports ArviZ with ``numba.vectorize`` standing in as its
lazy form for that one import: a decorator given signatures returns the same function as a
``DUFunc`` that compiles for its argument types at its first call (numba's documented
behaviour without signatures), so ArviZ's ECDF bands still work, compiled when first used.
``numba.vectorize`` is restored before the function returns, and nothing changes when
ArviZ is already imported.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

__all__ = ["import_sampling_stack"]


def import_sampling_stack() -> None:
    """Import ArviZ (PyMC's and nutpie's dependency) and then PyMC, skipping ArviZ's eager
    numba compile (see the module docstring); a no-op once ArviZ is imported."""
    if "arviz" not in sys.modules:
        import numba

        eager = numba.vectorize
        numba.vectorize = _lazy(eager)
        try:
            import arviz  # noqa: F401
        finally:
            numba.vectorize = eager
    import pymc  # noqa: F401


def _lazy(vectorize: Callable[..., Any]) -> Callable[..., Any]:
    """``vectorize`` that drops the signatures of a CPU ufunc (it compiles at first call)."""

    def lazy_vectorize(ftylist_or_function: Any = (), **kws: Any) -> Any:
        if isinstance(ftylist_or_function, list | tuple) and kws.get("target", "cpu") == "cpu":
            return vectorize(**kws)
        return vectorize(ftylist_or_function, **kws)

    return lazy_vectorize
