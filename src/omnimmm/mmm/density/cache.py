"""The kernel's numba disk cache is fresh when any of the kernel's files changed.

numba caches a compiled function with a stamp of its own source file (modification time
and size) and reuses it while that stamp holds. A function compiled from several files
carries the code of the functions it calls from the others (here: the callbacks in
``nutpie_glue`` carry the whole kernel, which calls ``forward`` and ``gradient`` and reads
the constants of ``tables``), and numba does not look at those files: after an edit of
``forward.py`` the cached callbacks would run the old forward pass. So every numba function
in this package is cached under one stamp, a hash of the contents of all its files and of
:mod:`omnimmm.mmm.nutpie_common` (whose pointer intrinsic the callbacks inline): an edit
anywhere recompiles everything once, and nothing else does (a fresh checkout or copy with
new file times loads the cache).

The stamp comes from a cache locator put in front of numba's own for this package's files
only; where the cache lives is still numba's choice (``__pycache__`` next to the files, or
``NUMBA_CACHE_DIR``). Import this module before any ``numba.njit(cache=True)`` here.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from numba.core.caching import CacheImpl, _CacheLocator

from omnimmm.mmm import nutpie_common

__all__ = ["SOURCE_STAMP"]

_PACKAGE = Path(__file__).resolve().parent


def _source_stamp() -> str:
    """sha256 of the package's Python files and of ``nutpie_common``, by name and content."""
    digest = hashlib.sha256()
    for path in [*sorted(_PACKAGE.glob("*.py")), Path(nutpie_common.__file__)]:
        digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


#: The stamp numba's cache index of every kernel function holds.
SOURCE_STAMP = _source_stamp()


class _KernelLocator(_CacheLocator):
    """numba's locator for a function of this package, with :data:`SOURCE_STAMP`."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner

    def ensure_cache_path(self) -> None:
        self._inner.ensure_cache_path()

    def get_cache_path(self) -> str:
        return str(self._inner.get_cache_path())

    def get_source_stamp(self) -> str:
        return SOURCE_STAMP

    def get_disambiguator(self) -> str:
        return str(self._inner.get_disambiguator())

    @classmethod
    def from_function(cls, py_func: Any, py_file: str) -> _KernelLocator | None:
        if Path(py_file).resolve().parent != _PACKAGE:
            return None
        for other in CacheImpl._locator_classes:
            if other is not cls:
                inner = other.from_function(py_func, py_file)
                if inner is not None:
                    return cls(inner)
        return None


if not any(c.__module__ == __name__ for c in CacheImpl._locator_classes):
    CacheImpl._locator_classes.insert(0, _KernelLocator)
