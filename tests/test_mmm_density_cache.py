"""The density kernel's numba cache follows every file of the kernel, not only the
function's own: an edit of ``forward.py`` must recompile the callbacks that inline it."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

pytest.importorskip("nutpie")

from omnimmm.mmm.density import cache, forward, gradient, kernel, nutpie_glue
from omnimmm.mmm.density.cache import SOURCE_STAMP, source_stamp


def test_the_stamp_changes_with_any_file_of_the_kernel(tmp_path: Path) -> None:
    package = Path(cache.__file__).parent
    for path in package.glob("*.py"):
        shutil.copy(path, tmp_path / path.name)
    assert source_stamp(tmp_path) == SOURCE_STAMP
    for name in ("tables.py", "forward.py", "gradient.py", "nutpie_glue.py"):
        edited = tmp_path / name
        original = edited.read_bytes()
        edited.write_bytes(original + b"# an edit\n")
        assert source_stamp(tmp_path) != SOURCE_STAMP, name
        edited.write_bytes(original)
    assert source_stamp(tmp_path) == SOURCE_STAMP


def test_every_cached_kernel_function_carries_the_stamp() -> None:
    functions = [
        forward._priors,
        forward._likelihood,
        forward._saturation,
        gradient._lift_tests,
        kernel._logp_grad_kernel,
        nutpie_glue._expand_kernel,
    ]
    logp_c, expand_c, _ = nutpie_glue.callbacks()  # from the disk cache after a first fit
    for f in [*functions, logp_c, expand_c]:
        locator = f._cache._impl.locator
        assert type(locator).__name__ == "_KernelLocator"
        assert locator.get_source_stamp() == SOURCE_STAMP
