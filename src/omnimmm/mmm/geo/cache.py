"""The geo kernel's numba disk cache is fresh when its files or the density's change.

The geo kernel inlines the national density's prior and saturation helpers
(:mod:`omnimmm.mmm.density.forward`); numba stamps a cached function with its own file
only, so after an edit of the density the cached geo kernel would run the old helpers. As
:mod:`omnimmm.mmm.density.cache` does for the density, the geo package's numba functions
are cached under one stamp: a hash of this package's files, the density's and
:mod:`omnimmm.mmm.nutpie_common`.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from numba.core.caching import CacheImpl, _CacheLocator

from omnimmm.mmm import nutpie_common

__all__ = ["SOURCE_STAMP", "use_geo_stamp"]

_PACKAGE = Path(__file__).resolve().parent
_DENSITY = _PACKAGE.parent / "density"


def _stamp() -> str:
    digest = hashlib.sha256()
    files = [*sorted(_PACKAGE.glob("*.py")), *sorted(_DENSITY.glob("*.py"))]
    for path in [*files, Path(nutpie_common.__file__)]:
        digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


#: The stamp numba's cache index of every geo kernel function holds.
SOURCE_STAMP = _stamp()


class _GeoLocator(_CacheLocator):
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
    def from_function(cls, py_func: Any, py_file: str) -> _GeoLocator | None:
        if Path(py_file).resolve().parent != _PACKAGE:
            return None
        for other in CacheImpl._locator_classes:
            if other is not cls and other.__name__ != "_KernelLocator":
                inner = other.from_function(py_func, py_file)
                if inner is not None:
                    return cls(inner)
        return None


def use_geo_stamp() -> None:
    """Cache this package's numba functions under :data:`SOURCE_STAMP` (idempotent)."""
    if _GeoLocator not in CacheImpl._locator_classes:
        CacheImpl._locator_classes.insert(0, _GeoLocator)
