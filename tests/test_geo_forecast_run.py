"""The real geo model's forecast in the run: a geo ``omnimmm run`` with a holdout writes its
holdout tables, and ``omnimmm backtest`` on a geo plan runs (``--fast``; a small world)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

pytest.importorskip("nutpie")

from omnimmm.cli import app

N_GEOS, N_WEEKS, HOLD = 3, 86, 8


def _invoke(*args: str) -> object:
    res = CliRunner().invoke(app, list(args))
    assert res.exit_code == 0, res.output
    return res


def test_geo_run_holdout_and_backtest_with_the_real_forecast(tmp_path: Path) -> None:
    sim = tmp_path / "sim"
    _invoke("simulate", "--out", str(sim), "--geos", str(N_GEOS), "--weeks", str(N_WEEKS),
            "--seed", "6")  # fmt: skip
    plan = sim / "plan.toml"
    plan.write_text(plan.read_text() + f"\n[model]\nholdout_weeks = {HOLD}\n")
    out = tmp_path / "run"
    res = _invoke("run", str(plan), "--out", str(out), "--fast")
    assert "no holdout" not in res.output  # type: ignore[attr-defined]
    ho = pd.read_csv(out / "tables" / "holdout.csv")
    assert set(ho["geo"]) == {"national", *(f"region_{g + 1:02d}" for g in range(N_GEOS))}
    assert len(ho) == HOLD * 2 * (N_GEOS + 1)
    assert (ho["low"] <= ho["mean"]).all() and (ho["mean"] <= ho["high"]).all()
    nat = ho[ho["geo"] == "national"].set_index(["date", "outcome"])
    reg = ho[ho["geo"] != "national"].groupby(["date", "outcome"])[["actual", "mean"]].sum()
    np.testing.assert_allclose(nat.loc[reg.index, ["actual", "mean"]], reg, rtol=1e-9)
    holdout = json.loads((out / "result.json").read_text())["holdout"]
    assert holdout["weeks"] == HOLD and "skipped" not in holdout
    assert 0.0 < holdout["mape_mean"] < 0.2 and 0.5 <= holdout["coverage"] <= 1.0
    scores = pd.read_csv(out / "tables" / "geo_holdout_scores.csv")
    own = scores[scores["method"] == "omnimmm"]
    assert own["coverage"].between(0.0, 1.0).all() and len(own) == 2 * (N_GEOS + 1)

    bt_out = tmp_path / "bt"
    _invoke("backtest", str(plan), "--out", str(bt_out), "--origins", "1", "--horizon",
            str(HOLD), "--fast")  # fmt: skip
    bt = pd.read_csv(bt_out / "tables" / "backtest.csv")
    assert len(bt) == HOLD * 2 * (N_GEOS + 1)
    doc = json.loads((bt_out / "backtest.json").read_text())
    assert doc["fits"][0]["train_weeks"] == N_WEEKS - HOLD
    assert 0.5 <= doc["overall"]["omnimmm"]["coverage"] <= 1.0
