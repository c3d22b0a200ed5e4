"""What the quick commands import, and the numpy replacements that made them quick (issue 24).

``omnimmm --help`` and ``omnimmm validate`` must not load the sampler stack (pymc, pytensor,
numba, nutpie, arviz), statsmodels or scipy.optimize; the numpy VIF must give statsmodels'
numbers; the one-row feasibility check must agree with the LP it replaces.
"""

from __future__ import annotations

import json
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from omnimmm.mmm.precheck import _vif
from omnimmm.optimize.scenarios import LinearRow, _row_feasible, _rows_feasible

_HEAVY = ("pymc", "pytensor", "numba", "nutpie", "arviz", "statsmodels", "scipy.optimize",
          # the run's drivers and report writers (a geo hook once pulled them into validate)
          "omnimmm.run.drivers", "omnimmm.report.html")  # fmt: skip

_PROBE = """
import json, runpy, sys
sys.argv = ["omnimmm", *sys.argv[1:]]
try:
    runpy.run_module({module!r}, run_name="__main__")
except SystemExit:
    pass
print(json.dumps(sorted(m for m in {heavy!r} if m in sys.modules)), file=sys.stderr)
"""


def _loaded(*args: str, module: str = "omnimmm.cli", heavy: tuple[str, ...] = _HEAVY) -> list[str]:
    probe = _PROBE.format(heavy=heavy, module=module)
    proc = subprocess.run(
        [sys.executable, "-c", probe, *args], capture_output=True, text=True, timeout=120
    )
    return list(json.loads(proc.stderr.strip().splitlines()[-1]))


def test_help_and_validate_load_no_sampler_statsmodels_or_scipy_optimize(tmp_path: Path):
    from omnimmm.data.simulate import simulate_world, write_world

    write_world(simulate_world(weeks=104), tmp_path)
    assert _loaded("--help") == []
    assert _loaded("validate", str(tmp_path / "plan.toml")) == []


def test_the_console_script_validates_without_typer_and_prints_the_same(tmp_path: Path):
    """``omnimmm validate PLAN`` (omnimmm.launch) skips building the Typer app; other forms
    go to the Typer front end. Output and exit codes are the Typer command's."""
    from omnimmm.data.simulate import simulate_world, write_world

    write_world(simulate_world(weeks=104), tmp_path)
    plan = str(tmp_path / "plan.toml")
    light = _HEAVY + ("typer", "omnimmm.cli")
    assert _loaded("validate", plan, module="omnimmm.launch", heavy=light) == []
    assert "typer" in _loaded("--help", module="omnimmm.launch", heavy=light)
    (tmp_path / "broken.toml").write_text("seed = 'x'\n", encoding="utf-8")

    def both(*args: str) -> list[tuple[int, str, str]]:
        runs = []
        for module in ("omnimmm.launch", "omnimmm.cli"):
            proc = subprocess.run([sys.executable, "-m", module, *args], capture_output=True,
                                  text=True, timeout=120)  # fmt: skip
            runs.append((proc.returncode, proc.stdout, proc.stderr))
        return runs

    good, bad = both("validate", plan), both("validate", str(tmp_path / "broken.toml"))
    assert good[0] == good[1] and bad[0] == bad[1]
    assert good[0][0] == 0 and "weeks" in good[0][1]
    assert bad[0][0] == 2 and "error:" in bad[0][2]


def _statsmodels_vif(x: pd.DataFrame) -> pd.Series:
    from statsmodels.stats.outliers_influence import variance_inflation_factor

    design = np.column_stack([np.ones(len(x)), x.to_numpy(dtype=float)])
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        values = [variance_inflation_factor(design, j + 1) for j in range(x.shape[1])]
    vif = pd.Series(values, index=x.columns, dtype=float)
    return vif.where(~(vif > 1e12), np.inf)


@pytest.mark.parametrize("case", ["independent", "near", "exact", "scaled"])
def test_numpy_vif_gives_statsmodels_numbers(case: str):
    rng = np.random.default_rng(3)
    x = pd.DataFrame(rng.gamma(2.0, 1000.0, size=(120, 5)), columns=list("abcde"))
    if case == "near":
        x["f"] = x["a"] + x["b"] + rng.normal(0.0, 1.0, len(x))
    elif case == "exact":
        x["f"] = x["a"] + 2.0 * x["b"]
    elif case == "scaled":
        x["f"] = 1e9 * x["c"] + rng.normal(0.0, 1e6, len(x))
    mine, theirs = _vif(x), _statsmodels_vif(x)
    assert list(np.isinf(mine)) == list(np.isinf(theirs))
    finite = np.isfinite(theirs.to_numpy())
    np.testing.assert_allclose(mine.to_numpy()[finite], theirs.to_numpy()[finite], rtol=1e-9)
    if case == "exact":
        assert np.isinf(mine["f"]) and np.isfinite(mine["c"])


def test_one_row_feasibility_agrees_with_the_lp():
    from omnimmm.optimize.scenarios import Constraints, FixedBudget, check_feasible

    rc = check_feasible(
        ["a", "b", "c"],
        ["online", "online", "offline"],
        np.array([100.0, 50.0, 25.0]),
        FixedBudget(total=175.0),
        Constraints(max_change=0.5),
    )
    lo, hi = float(rc.lower.sum()), float(rc.upper.sum())
    rng = np.random.default_rng(0)
    for total in [lo * 0.9, lo, (lo + hi) / 2, hi, hi * 1.1, *rng.uniform(0.5 * lo, 1.5 * hi, 20)]:
        row = LinearRow("budget", np.ones(3), float(total), float(total))
        # two copies of the row make the LP path run on the same question
        assert _row_feasible(rc, row) == _rows_feasible(rc, [row, row]), total
    signed = LinearRow("online minus offline", np.array([1.0, 1.0, -1.0]), 0.0, 10.0)
    assert _row_feasible(rc, signed) == _rows_feasible(rc, [signed, signed])
