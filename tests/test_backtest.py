"""``omnimmm backtest``: windows, scores, the written files, and controls out of range."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from omnimmm.cli import app
from omnimmm.errors import PlanError
from omnimmm.mmm.design import ModelSpec, baseline_features, fit_scaling
from omnimmm.run.backtest import backtest_windows, score_backtest
from pipeline_world import plan_text, world_frame, write_world


def test_windows_are_consecutive_and_end_with_the_data() -> None:
    assert backtest_windows(209, 4, 13) == [157, 170, 183, 196]
    with pytest.raises(PlanError, match="at most 2 origins"):
        backtest_windows(110, 3, 13)
    with pytest.raises(PlanError, match=">= 1"):
        backtest_windows(209, 0, 13)


def test_scores_count_coverage_and_compare_with_the_better_baseline() -> None:
    dates = pd.date_range("2024-01-01", periods=4, freq="7D")
    origin = [dates[0]] * 2 + [dates[2]] * 2
    table = pd.DataFrame({
        "origin": origin, "date": dates, "outcome": "y", "actual": [100.0, 100, 100, 100],
        "mean": [110.0, 90, 100, 100], "low": [105.0, 80, 90, 101], "high": [120.0, 95, 110, 120],
    })  # fmt: skip
    base = pd.concat([
        table[["origin", "date", "outcome"]].assign(method="seasonal_naive", forecast=120.0),
        table[["origin", "date", "outcome"]].assign(method="ets", forecast=90.0),
    ])  # fmt: skip
    s = score_backtest(table, base)
    assert s["overall"]["omnimmm"]["mape"] == pytest.approx(0.05)
    assert s["overall"]["omnimmm"]["coverage"] == pytest.approx(0.25)  # only week 3 inside
    assert s["overall"]["best_baseline"] == "ets"
    assert s["overall"]["improvement"] == pytest.approx(0.5)
    assert [o["omnimmm"]["mape"] for o in s["origins"]] == pytest.approx([0.1, 0.0])


def test_forecast_holds_a_control_at_its_training_edge(tmp_path: Path) -> None:
    from omnimmm.config import load_plan
    from omnimmm.data import load_panel

    panel = load_panel(load_plan(write_world(tmp_path)))
    spec = ModelSpec.from_plan(load_plan(tmp_path / "plan.toml"))
    scaling = fit_scaling(panel, spec)
    dates = pd.date_range(panel.dates[-1] + pd.Timedelta(days=7), periods=2, freq="7D")
    hi = scaling.control_max[0]
    far = baseline_features(dates, pd.DataFrame({"price_index": [hi + 1.0, hi]}), spec, scaling)
    edge = baseline_features(dates, pd.DataFrame({"price_index": [hi, hi]}), spec, scaling)
    np.testing.assert_array_equal(far["controls"], edge["controls"])  # held at the edge


def test_backtest_writes_the_forecast_table_scores_and_report(tmp_path: Path) -> None:
    frame = world_frame()
    frame.loc[frame.index[-3:], "price_index"] = 1.25  # far above its training range
    plan = write_world(tmp_path / "in", frame, plan_text())
    out = tmp_path / "bt"
    res = CliRunner().invoke(
        app, ["backtest", str(plan), "--out", str(out), "--origins", "1", "--horizon", "8"]
    )
    assert res.exit_code == 0, res.output
    table = pd.read_csv(out / "tables" / "backtest.csv")
    assert list(table.columns) == ["origin", "date", "outcome", "actual", "mean", "low", "high"]
    assert len(table) == 16 and set(table["origin"]) == {table["date"].min()}
    assert (table["low"] <= table["mean"]).all() and (table["mean"] <= table["high"]).all()
    scores = json.loads((out / "backtest.json").read_text(encoding="utf-8"))
    own = scores["overall"]["omnimmm"]
    inside = ((table["actual"] >= table["low"]) & (table["actual"] <= table["high"])).mean()
    assert own["coverage"] == pytest.approx(inside)
    assert set(scores["overall"]["baselines"]) == {"seasonal_naive", "ets"}
    assert len(scores["origins"]) == 1 and scores["fits"][0]["train_weeks"] == 78
    ctrl = pd.read_csv(out / "tables" / "control_extrapolation.csv")
    assert set(ctrl["control"]) == {"price_index"} and (ctrl["weeks_outside"] == 3).all()
    assert ctrl["max_sd_outside"].min() > 5
    assert any("price_index" in w for w in scores["control_warnings"])
    assert "price_index" in res.output
    html = (out / "report.html").read_text(encoding="utf-8")
    assert html.count("<svg") == 2 and "<script" not in html
    # A second run replaces the backtest; any other non-empty folder is refused.
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "keep.txt").write_text("x", encoding="utf-8")
    res = CliRunner().invoke(app, ["backtest", str(plan), "--out", str(tmp_path / "other")])
    assert res.exit_code == 2 and "never overwritten" in res.output
    assert np.isfinite(table[["mean", "low", "high"]].to_numpy()).all()
