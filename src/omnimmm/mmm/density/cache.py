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
``NUMBA_CACHE_DIR``). Each module here with cached numba functions calls
:func:`use_kernel_stamp` before defining them.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from numba.core.caching import CacheImpl, FunctionCache, _CacheLocator

from omnimmm.mmm import nutpie_common

__all__ = [
    "SOURCE_STAMP",
    "cfunc_on_disk",
    "source_stamp",
    "stamped_locator",
    "use_kernel_stamp",
    "use_stamp",
]

_PACKAGE = Path(__file__).resolve().parent


def source_stamp(*packages: Path) -> str:
    """sha256 of the Python files of ``packages`` and of ``nutpie_common``, by name and
    content.

    Parameters
    ----------
    *packages : pathlib.Path
        Folders of Python files, hashed in this order (default: this package).

    Returns
    -------
    str
        The hex digest.
    """
    digest = hashlib.sha256()
    files = [f for package in packages or (_PACKAGE,) for f in sorted(package.glob("*.py"))]
    for path in [*files, Path(nutpie_common.__file__)]:
        digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


#: The stamp numba's cache index of every kernel function holds.
SOURCE_STAMP = source_stamp()


class _StampedLocator(_CacheLocator):
    """numba's locator for a function of :attr:`package`, with :attr:`stamp` as its source
    stamp; subclasses made by :func:`stamped_locator` set both."""

    package: Path
    stamp: str

    def __init__(self, inner: Any) -> None:
        self._inner = inner

    def ensure_cache_path(self) -> None:
        self._inner.ensure_cache_path()

    def get_cache_path(self) -> str:
        return str(self._inner.get_cache_path())

    def get_source_stamp(self) -> str:
        return self.stamp

    def get_disambiguator(self) -> str:
        return str(self._inner.get_disambiguator())

    @classmethod
    def from_function(cls, py_func: Any, py_file: str) -> _StampedLocator | None:
        if Path(py_file).resolve().parent != cls.package:
            return None
        for other in CacheImpl._locator_classes:
            if not issubclass(other, _StampedLocator):
                inner = other.from_function(py_func, py_file)
                if inner is not None:
                    return cls(inner)
        return None


def stamped_locator(name: str, package: Path, stamp: str) -> type[_StampedLocator]:
    """A numba cache locator for the functions defined in ``package``'s files that stamps
    their cache with ``stamp`` (see the module docstring); install it with :func:`use_stamp`.

    Parameters
    ----------
    name : str
        The class name (shows in numba's debugging output).
    package : pathlib.Path
        The folder whose functions it serves; others are left to numba's locators.
    stamp : str
        The source stamp, e.g. :func:`source_stamp` of the folders the functions inline.

    Returns
    -------
    type
        The locator class.
    """
    return type(name, (_StampedLocator,), {"package": package, "stamp": stamp})


def use_stamp(locator: type[_StampedLocator]) -> None:
    """Put ``locator`` in front of numba's own (idempotent)."""
    if locator not in CacheImpl._locator_classes:
        CacheImpl._locator_classes.insert(0, locator)


_KernelLocator = stamped_locator("_KernelLocator", _PACKAGE, SOURCE_STAMP)


def use_kernel_stamp() -> None:
    """Cache this package's numba functions under :data:`SOURCE_STAMP` (idempotent).

    Call it in every module of this package that defines ``numba.njit(cache=True)``
    functions, before their decorators run.
    """
    use_stamp(_KernelLocator)


def cfunc_on_disk(func: Any, sig: Any) -> bool:
    """Whether numba's disk cache holds ``numba.cfunc(sig, cache=True)(func)`` for this
    machine and these sources (reads the cache's index; compiles and loads nothing).

    Parameters
    ----------
    func : callable
        The Python function of the ``cfunc``.
    sig : numba signature
        Its C signature.

    Returns
    -------
    bool
        False also when the cache cannot be read (a compile then behaves as on a cold cache).
    """
    from numba.core.registry import cpu_target

    try:
        cache = FunctionCache(func)
        key = cache._index_key(sig, cpu_target.target_context.codegen())
        return key in cache._cache_file._load_index()
    except Exception:
        return False
