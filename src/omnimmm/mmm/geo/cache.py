"""The geo kernel's numba disk cache is fresh when its files or the density's change.

The geo kernel inlines the national density's prior and saturation helpers
(:mod:`omnimmm.mmm.density.forward`); numba stamps a cached function with its own file
only, so after an edit of the density the cached geo kernel would run the old helpers. As
:mod:`omnimmm.mmm.density.cache` does for the density, the geo package's numba functions
are cached under one stamp: a hash of this package's files, the density's and
:mod:`omnimmm.mmm.nutpie_common`.
"""

from __future__ import annotations

from pathlib import Path

from omnimmm.mmm.density.cache import source_stamp, stamped_locator, use_stamp

__all__ = ["SOURCE_STAMP", "use_geo_stamp"]

_PACKAGE = Path(__file__).resolve().parent
_DENSITY = _PACKAGE.parent / "density"

#: The stamp numba's cache index of every geo kernel function holds.
SOURCE_STAMP = source_stamp(_PACKAGE, _DENSITY)

_GeoLocator = stamped_locator("_GeoLocator", _PACKAGE, SOURCE_STAMP)


def use_geo_stamp() -> None:
    """Cache this package's numba functions under :data:`SOURCE_STAMP` (idempotent)."""
    use_stamp(_GeoLocator)
