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
        kernel._forward_pass,
        kernel._backward_pass,
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


def test_the_backward_pass_child_compiles_without_nutpie() -> None:
    """The child of a first compile imports only the kernel (no nutpie, PyMC or ArviZ),
    and finishes (here from the disk cache) with exit code 0."""
    import subprocess
    import sys

    from omnimmm.mmm.density import two_cores

    code = two_cores._CHILD_CODE + (
        "; import sys; assert not {'nutpie', 'pymc', 'arviz'} & set(sys.modules)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, timeout=300)
    assert done.returncode == 0, done.stderr.decode()[-2000:]


def test_one_core_when_asked(monkeypatch: pytest.MonkeyPatch) -> None:
    from omnimmm.mmm.density import two_cores

    monkeypatch.setenv(two_cores.ONE_CORE_ENV, "1")
    assert two_cores._start_child() is None


@pytest.mark.slow
def test_a_cold_compile_uses_the_childs_backward_pass(tmp_path: Path) -> None:
    """On an empty cache the callbacks' compile finds the backward pass the child wrote
    (a cache hit), and the callbacks work."""
    import os
    import subprocess
    import sys

    code = (
        "from omnimmm.mmm.density import kernel, nutpie_glue\n"
        "logp, expand, compiled = nutpie_glue.callbacks()\n"
        "assert compiled\n"
        "hits = kernel._backward_pass.stats.cache_hits\n"
        "assert sum(hits.values()) == 1, hits\n"
    )
    env = {**os.environ, "NUMBA_CACHE_DIR": str(tmp_path)}
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True)
    assert done.returncode == 0, done.stderr.decode()[-2000:]
