"""The run's profile (manifest ``stages.profile``) accounts for every second, with the CPU
seconds of each stage; a holdout refit started in the fit stage is listed as the wait for it."""

from __future__ import annotations

import pytest

from omnimmm.run.timing import profile, profile_lines


def test_parts_add_up_and_carry_cpu_seconds():
    seconds = {"validate": 0.5, "fit": 20.0, "gate": 0.0, "analysis": 1.0, "holdout": 3.0}
    cpu = {"start": 1.5, "validate": 0.4, "fit": 35.0, "gate": 0.0, "analysis": 0.9,
           "holdout": 2.0}  # fmt: skip
    fits = {
        "mmm": {"compile": 1.0, "sampling": 12.0, "compile_cpu": 0.8, "sampling_cpu": 23.0,
                "tune": 1000, "warm": False, "compile_cached": True},
        "holdout_refit": {"compile": 0.5, "sampling": 9.0, "waited": 1.2, "tune": 250,
                          "warm": True, "started_early": True},
    }  # fmt: skip
    rows = {r["part"]: r for r in profile(seconds, fits, 2.0, 25.0, cpu)}
    assert rows["start (interpreter, imports, command line)"]["cpu_seconds"] == 1.5
    assert rows["fit"]["cpu_seconds"] == 35.0
    assert rows["fit: sampling, 1000 tuning steps"]["cpu_seconds"] == 23.0
    assert rows["fit: other"]["seconds"] == pytest.approx(7.0)
    wait = "holdout: wait for the refit sampling since the fit stage (250 tuning steps, warm start)"
    assert rows[wait]["seconds"] == pytest.approx(1.2)
    assert rows["holdout: other"]["seconds"] == pytest.approx(1.8)
    assert rows["other (between stages)"]["seconds"] == pytest.approx(0.5)
    top = [r for name, r in rows.items() if ": " not in name]
    assert sum(r["seconds"] for r in top) == pytest.approx(27.0)
    lines = profile_lines(list(rows.values()), 28.0)
    assert "CPU s" in lines[0] and lines[-1].endswith("28.00")
