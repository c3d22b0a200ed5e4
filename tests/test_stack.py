"""The sampling stack's import (omnimmm.mmm.stack): ArviZ without its eager numba compile."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

pytest.importorskip("arviz")


def _run(code: str) -> str:
    """``code`` in a fresh interpreter (nothing imported yet); its stdout."""
    out = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        check=True,
        timeout=300,
    )
    return out.stdout.strip()


def test_the_estimator_import_leaves_arviz_ecdf_ufunc_uncompiled_and_numba_as_it_was() -> None:
    out = _run(
        """
        import numba
        before = numba.vectorize
        from omnimmm.mmm import OmniMMM
        from arviz.stats import ecdf_utils
        print(numba.vectorize is before, len(ecdf_utils._binom_pmf.types))
        """
    )
    assert out == "True 0"


def test_arviz_ecdf_bands_give_the_same_numbers_compiled_lazily() -> None:
    code = """
        import numpy as np
        {first}
        from arviz.stats import ecdf_utils as e
        p = e._ecdf_band_interior_probability_numba(
            np.array([0.3, 0.2, 0.4]), 12, np.array([1, 2, 4]), np.array([4, 7, 9]))
        print(repr(float(p)), e._binom_pmf(np.arange(4), 6, 0.35, 1).tolist())
    """
    lazy = _run(code.format(first="from omnimmm.mmm.stack import import_sampling_stack; "
                                   "import_sampling_stack()"))  # fmt: skip
    eager = _run(code.format(first="import arviz"))
    assert lazy == eager


def test_a_second_call_or_an_earlier_arviz_import_changes_nothing() -> None:
    out = _run(
        """
        import arviz
        from arviz.stats import ecdf_utils
        from omnimmm.mmm.stack import import_sampling_stack
        import_sampling_stack(); import_sampling_stack()
        import sys
        print(len(ecdf_utils._binom_pmf.types), "pymc" in sys.modules)
        """
    )
    assert out == "1 True"
