"""``omnimmm run`` on bad plans and data: fast non-zero exit, the culprit named, nothing written."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from omnimmm.cli import app
from pipeline_world import plan_text, world_frame, write_world

runner = CliRunner()


def _run(plan: Path, out: Path) -> tuple[int, str, float]:
    t0 = time.perf_counter()
    result = runner.invoke(app, ["run", str(plan), "--out", str(out)])
    return result.exit_code, result.output, time.perf_counter() - t0


def _assert_nothing_written(folder: Path, out: Path) -> None:
    assert not out.exists()
    assert [p.name for p in folder.iterdir() if p.name.startswith(".")] == []


def _bad_cases() -> dict[str, tuple[dict, int, list[str]]]:
    """name -> (how to break the inputs, exit code, words the message must contain)."""
    return {
        "wrong column": (
            {"plan": {'column = "tv_spend"': 'column = "tv_spnd"'}},
            3,
            ["tv_spnd"],
        ),
        "negative spend": ({"frame": ("search_spend", 5, -10.0)}, 3, ["search_spend", "negative"]),
        "duplicate week": ({"frame": ("date", 7, "dup")}, 3, ["date"]),
        "misspelled key": (
            {"plan": {"max_change = 0.5": "max_chnage = 0.5"}},
            2,
            ["max_chnage", "max_change"],
        ),
        "infeasible budget": (
            {"plan": {"max_change = 0.5": "max_change = 0.1\ntotal = 1.0e9"}},
            4,
            ["budget"],
        ),
    }


@pytest.mark.parametrize("case", list(_bad_cases()))
def test_bad_input_fails_fast_names_culprit_writes_nothing(case: str, tmp_path: Path) -> None:
    how, code, words = _bad_cases()[case]
    frame = world_frame()
    if "frame" in how:
        col, row, value = how["frame"]
        if value == "dup":
            frame.loc[row, "date"] = frame.loc[row - 1, "date"]
        else:
            frame.loc[row, col] = value
    plan = write_world(tmp_path, frame=frame, plan=plan_text(**how.get("plan", {})))
    out = tmp_path / "run"
    exit_code, output, seconds = _run(plan, out)
    assert exit_code == code, output
    text = " ".join(output.split()).lower()
    for w in words:
        assert w.lower() in text, (w, output)
    assert "traceback" not in text
    assert seconds < 90  # seconds on an idle machine; generous for 2 busy cores
    _assert_nothing_written(tmp_path, out)


def test_infeasible_budget_says_what_to_change(tmp_path: Path) -> None:
    plan = write_world(
        tmp_path, plan=plan_text(**{"max_change = 0.5": "max_change = 0.1\ntotal = 1.0e9"})
    )
    exit_code, output, _ = _run(plan, tmp_path / "run")
    assert exit_code == 4
    assert "1." in output  # numbered remedies


def test_real_process_prints_no_traceback(tmp_path: Path) -> None:
    plan = write_world(tmp_path, plan=plan_text(**{"max_change = 0.5": "max_chnage = 0.5"}))
    proc = subprocess.run(
        [sys.executable, "-m", "omnimmm.cli", "run", str(plan), "--out", str(tmp_path / "o")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr + proc.stdout
    assert "max_chnage" in proc.stderr
    assert not (tmp_path / "o").exists()


def test_optimize_and_report_refuse_a_non_run_directory(tmp_path: Path) -> None:
    for cmd in ("optimize", "report"):
        result = runner.invoke(app, [cmd, str(tmp_path)])
        assert result.exit_code == 64  # a wrong DIR argument is a usage error, not a plan
        assert "not an omnimmm run directory" in " ".join(result.output.split())


def test_report_and_optimize_commands_on_a_run(fitted_run: Path, tmp_path: Path) -> None:
    import shutil

    run = tmp_path / "run"
    shutil.copytree(fitted_run, run)
    (run / "report.html").unlink()
    result = runner.invoke(app, ["report", str(run)])
    assert result.exit_code == 0, result.output
    assert (run / "report.html").is_file()
    result = runner.invoke(app, ["optimize", str(run)])
    assert result.exit_code == 0, result.output
    assert "report:" in result.output and "quality gate: FAILED" in result.output
