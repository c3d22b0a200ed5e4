"""Tests of ``omnimmm validate``: exit status, summary on success, one-paragraph errors."""

from __future__ import annotations

from typer.testing import CliRunner

from conftest import MEDIA_PLAN_TOML, make_media_frame
from omnimmm.cli import app

runner = CliRunner()


def run(plan_path):
    return runner.invoke(app, ["validate", str(plan_path)])


def test_good_plan_prints_summary(media_plan_files):
    frame = make_media_frame()
    # the budget defaults to the current spend (the shared plan's total is infeasible for
    # run, and validate now runs the same checks as run)
    plan = MEDIA_PLAN_TOML.replace("total = 5000000.0\n", "")
    result = run(media_plan_files(plan=plan, frame=frame))
    assert result.exit_code == 0, result.output
    assert "60 weeks, 2022-01-03 to 2023-02-20" in result.stdout
    assert "online (2)" in result.stdout and "offline (1)" in result.stdout
    assert f"{frame['tv_spend'].sum():,.0f}" in result.stdout
    assert "online_revenue" in result.stdout


def test_bad_data_exits_3_without_traceback(media_plan_files):
    frame = make_media_frame()
    frame.loc[30, "tv_spend"] = -2500.0
    result = run(media_plan_files(frame=frame))
    assert result.exit_code == 3
    assert "world.csv" in result.output and "negative spend -2500 in row 32" in result.output
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)


def test_misspelled_key_exits_2_with_suggestion(media_plan_files):
    plan = MEDIA_PLAN_TOML.replace("max_change = 0.5", "max_chnage = 0.5")
    result = run(media_plan_files(plan=plan))
    assert result.exit_code == 2
    assert "plan.toml" in result.output
    assert 'budget.max_chnage: unknown key (did you mean "max_change"?)' in result.output
    assert "Traceback" not in result.output


def test_missing_plan_file_exits_2(tmp_path):
    result = run(tmp_path / "absent.toml")
    assert result.exit_code == 2
    assert "absent.toml" in result.output and "plan file not found" in result.output


def test_error_text_survives_console_printing(media_plan_files):
    """Nothing in a message may be eaten as console markup (square brackets)."""
    plan = MEDIA_PLAN_TOML.replace(
        "max_change = 0.5", "max_change = 0.5\nonline_share = [0.8, 0.2]"
    )
    result = run(media_plan_files(plan=plan))
    assert result.exit_code == 2
    assert "online_share = (0.8, 0.2) must be a pair (low, high) with 0 <= low" in result.output
