"""``omnimmm simulate --geos`` then ``omnimmm run`` on the geo plan it writes, end to end.

The run's own path (reading, validation, gate, analysis, optimizer across regions, exports)
is checked with the simulator's truth standing in for the fitted model (``geo_truth.TruthGeoFit``:
the true responses, ROI, fit and forecast, as ``omnimmm.mmm.geo.GeoFit`` offers them), so these tests need
no sampling. With the truth as the model, the national ROI in ``recommendation.json`` must
be the truth's, and the recommendation must not lose value. The run with the real
hierarchical fit at ``--fast`` is ``test_geo_run_fit_fast`` (marked slow).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from geo_truth import use_truth
from omnimmm.cli import app
from omnimmm.data.simulate_geo import simulate_geo_world

N_GEOS, N_WEEKS, SEED = 4, 104, 5


@pytest.fixture
def geo_world(tmp_path: Path) -> tuple[Path, Any]:
    res = CliRunner().invoke(
        app,
        ["simulate", "--out", str(tmp_path / "sim"), "--geos", str(N_GEOS), "--weeks",
         str(N_WEEKS), "--seed", str(SEED)],
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    world = simulate_geo_world(n_geos=N_GEOS, n_weeks=N_WEEKS, seed=SEED)
    return tmp_path / "sim", world


def _truth_fit(monkeypatch: pytest.MonkeyPatch, world: Any) -> None:
    use_truth(monkeypatch, world)


def test_simulate_geos_writes_a_world_that_reads_back(geo_world: tuple[Path, Any]) -> None:
    from omnimmm.config import load_plan
    from omnimmm.data.geo_read import load_geo_panel

    sim, world = geo_world
    assert sorted(p.name for p in sim.iterdir()) == ["geo_panel.csv", "plan.toml", "truth.json"]
    truth = json.loads((sim / "truth.json").read_text())
    assert truth["roi_national"] == pytest.approx(world.roi_national)
    assert len(truth["roi_geo"]) == N_GEOS * 6
    data = load_geo_panel(load_plan(sim / "plan.toml"))
    p, q = data.panel, world.panel
    assert p.geos == q.geos and p.scopes == q.scopes and p.channels == q.channels
    np.testing.assert_array_equal(p.spend, q.spend)
    np.testing.assert_allclose(p.y, q.y, rtol=1e-12)
    np.testing.assert_allclose(p.population, q.population)
    assert p.event_names == q.event_names
    np.testing.assert_array_equal(p.events, q.events)
    res = CliRunner().invoke(app, ["validate", str(sim / "plan.toml")])
    assert res.exit_code == 0 and f"{N_GEOS} regions x {N_WEEKS} weeks" in res.output


def test_run_on_a_geo_plan(
    geo_world: tuple[Path, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sim, world = geo_world
    # a region name a browser would run, to check it is escaped everywhere
    frame = pd.read_csv(sim / "geo_panel.csv")
    evil = "region_02<script>alert(1)</script>"  # sorts where region_02 did (truth order)
    frame["geo"] = frame["geo"].replace("region_02", evil)
    frame.to_csv(sim / "geo_panel.csv", index=False)
    plan = (sim / "plan.toml").read_text()
    plan += '\n[budget.geos."region_02<script>alert(1)</script>"]\nmax_change = 0.1\n'
    (sim / "plan.toml").write_text(plan)
    _truth_fit(monkeypatch, world)
    out = tmp_path / "run"
    res = CliRunner().invoke(app, ["run", str(sim / "plan.toml"), "--out", str(out)])
    assert res.exit_code == 0, res.output
    rec = json.loads((out / "recommendation.json").read_text())
    # national channels: the truth's ROI (the model here is the truth), summed spend
    assert [c["name"] for c in rec["channels"]] == list(world.panel.channels)
    for c in rec["channels"]:
        assert c["roi"]["mean"] == pytest.approx(world.roi_national[c["name"]], rel=1e-9)
    spend = world.panel.spend[-13:].sum(axis=(0, 1))
    np.testing.assert_allclose([c["current_spend"] for c in rec["channels"]], spend, rtol=1e-9)
    assert sum(c["recommended_spend"] for c in rec["channels"]) == pytest.approx(spend.sum())
    hv = rec["horizon_value"]
    assert hv["recommended"]["mean"] >= hv["current"]["mean"] * (1 - 1e-9)
    # regions: every region x channel, spend adding up to the national figures
    assert [g["name"] for g in rec["geos"]] == ["region_01", evil, "region_03", "region_04"]
    for ch in rec["channels"]:
        cells = [next(x for x in g["channels"] if x["name"] == ch["name"]) for g in rec["geos"]]
        assert sum(x["current_spend"] for x in cells) == pytest.approx(ch["current_spend"])
        assert sum(x["recommended_spend"] for x in cells) == pytest.approx(ch["recommended_spend"])
    assert sum(g["recommended_spend"] for g in rec["geos"]) == pytest.approx(spend.sum())
    assert sum(g["horizon_value_added"]["mean"] for g in rec["geos"]) == pytest.approx(
        hv["recommended"]["mean"] - hv["current"]["mean"], rel=1e-6
    )
    cell = rec["geos"][2]["channels"][2]
    assert cell["roi"]["mean"] == pytest.approx(world.roi_geo[("region_03", cell["name"])])
    # the evil region may move at most 10% per local channel
    cells = pd.read_csv(out / "tables" / "geo_channel_allocation.csv")
    mine = cells[(cells["geo"] == evil) & (cells["scope"] == "local")]
    assert (mine["recommended_spend"] <= 1.1 * mine["current_spend"] + 1e-6).all()
    assert (mine["recommended_spend"] >= 0.9 * mine["current_spend"] - 1e-6).all()
    html = (out / "report.html").read_text()
    assert evil not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert 'id="geo-roi"' in html and 'id="geo-moves"' in html and html.count("<svg") > 8
    from openpyxl import load_workbook

    sheets = load_workbook(out / "report.xlsx", read_only=True).sheetnames
    assert {"Regions", "Region x channel ROI", "Region x channel plan", "Regional fit"} <= set(
        sheets
    )
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["geo"] is True and manifest["gate"]["passed"] is True
    # the stored result renders again
    again = CliRunner().invoke(app, ["report", str(out)])
    assert again.exit_code == 0, again.output
    assert json.loads((out / "recommendation.json").read_text())["geos"] == rec["geos"]


def test_geo_plan_errors_exit_with_a_paragraph(geo_world: tuple[Path, Any], tmp_path: Path) -> None:
    sim, _ = geo_world
    frame = pd.read_csv(sim / "geo_panel.csv")
    frame.drop(index=[7 * N_GEOS + 2]).to_csv(sim / "geo_panel.csv", index=False)
    res = CliRunner().invoke(app, ["run", str(sim / "plan.toml"), "--out", str(tmp_path / "r")])
    assert res.exit_code == 3
    assert "region_03 has no row for 1 of the panel's 104 weeks (week 2023-02-20)" in res.output
    assert not (tmp_path / "r").exists()
    plan = (sim / "plan.toml").read_text()
    (sim / "plan.toml").write_text(plan + '\n[model]\nsynergies = [["tv", "search"]]\n')
    res = CliRunner().invoke(app, ["run", str(sim / "plan.toml"), "--out", str(tmp_path / "r")])
    assert res.exit_code == 2 and "remove model.synergies" in res.output


@pytest.mark.slow
def test_geo_run_fit_fast(geo_world: tuple[Path, Any], tmp_path: Path) -> None:
    """The real hierarchical fit at --fast (164-396 s on the shared 2 cores at load 25-36: slow)."""
    sim, world = geo_world
    out = tmp_path / "run"
    res = CliRunner().invoke(app, ["run", str(sim / "plan.toml"), "--out", str(out), "--fast"])
    assert res.exit_code == 0, res.output
    rec = json.loads((out / "recommendation.json").read_text())
    assert len(rec["geos"]) == N_GEOS and len(rec["channels"]) == 6
    for c in rec["channels"]:
        assert c["roi"]["low"] <= c["roi"]["mean"] <= c["roi"]["high"]
    # national ROI is the regions' contributions over their spend: spend-weighted regional ROI
    for c in rec["channels"]:
        cells = [next(x for x in g["channels"] if x["name"] == c["name"]) for g in rec["geos"]]
        spend = world.panel.spend[:, :, world.panel.channels.index(c["name"])].sum(axis=0)
        weighted = sum(s * x["roi"]["mean"] for s, x in zip(spend, cells, strict=True) if s > 0)
        assert weighted / spend.sum() == pytest.approx(c["roi"]["mean"], rel=1e-6)
    hv = rec["horizon_value"]
    assert hv["recommended"]["mean"] >= hv["current"]["mean"] * (1 - 1e-6)
