"""``omnimmm import``: the peers' files in ``../shared/data``, read in their own layouts, give a
panel and plan that ``omnimmm validate`` accepts, with the figures of the source file."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from omnimmm.cli import app
from omnimmm.config import load_plan
from omnimmm.data import load_panel
from omnimmm.data.geo_read import load_geo_panel

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data"
pytestmark = pytest.mark.skipif(
    not SHARED.is_dir(), reason=f"peer datasets not found at {SHARED} (../shared/data)"
)
runner = CliRunner()

ROBYN = SHARED / "robyn_simulated_weekly" / "dt_simulated_weekly.csv"
MERIDIAN = SHARED / "meridian_national" / "national_all_channels.csv"
MERIDIAN_GEO = SHARED / "meridian_geo" / "geo_all_channels.csv"
PYMC = SHARED / "pymc_marketing_mmm_example" / "mmm_example.csv"


def _import(fmt: str, source: Path, out: Path, *extra: str) -> tuple[object, pd.DataFrame, str]:
    result = runner.invoke(app, ["import", fmt, str(source), "--out", str(out), *extra])
    assert result.exit_code == 0, result.output
    plan = load_plan(out / "plan.toml")
    # the panel passes omnimmm's validation
    (load_geo_panel if plan.data.geo else load_panel)(plan)  # type: ignore[attr-defined]
    check = runner.invoke(app, ["validate", str(out / "plan.toml")])
    assert check.exit_code == 0, check.output
    return plan, pd.read_csv(out / "world.csv"), result.output


def test_robyn_frame_with_its_column_roles(tmp_path: Path) -> None:
    plan, world, output = _import("robyn", ROBYN, tmp_path / "robyn")
    src = pd.read_csv(ROBYN)
    kinds = {c.name: c.kind for c in plan.channels}  # type: ignore[attr-defined]
    assert kinds == {"tv": "offline", "ooh": "offline", "print": "offline",
                     "search": "online", "facebook": "online"}  # fmt: skip
    for c in plan.channels:  # type: ignore[attr-defined]
        source = {"tv": "tv_S", "ooh": "ooh_S", "print": "print_S", "search": "search_S",
                  "facebook": "facebook_S"}[c.name]  # fmt: skip
        np.testing.assert_allclose(world[c.column], src[source], rtol=1e-9)
    np.testing.assert_allclose(world["revenue"], src["revenue"], rtol=1e-9)
    assert set(plan.data.controls) == {"competitor_sales_b", "newsletter"}  # type: ignore[attr-defined]
    assert world["events_event1"].sum() == (src["events"] == "event1").sum() > 0
    assert "facebook_I" in output  # the exposure column left out is named


def test_meridian_national_revenue_is_kpi_times_revenue_per_kpi(tmp_path: Path) -> None:
    plan, world, _ = _import("meridian", MERIDIAN, tmp_path / "m", "--offline", "channel0")
    src = pd.read_csv(MERIDIAN)
    np.testing.assert_allclose(
        world["revenue"], src["conversions"] * src["revenue_per_conversion"], rtol=1e-9
    )
    assert len(plan.channels) == 5  # type: ignore[attr-defined]
    assert plan.channels[0].kind == "offline"  # type: ignore[attr-defined]
    assert "competitor_sales_control" in plan.data.controls  # type: ignore[attr-defined]


def test_meridian_geo_panel_stays_long_for_the_geo_model(tmp_path: Path) -> None:
    plan, world, output = _import("meridian", MERIDIAN_GEO, tmp_path / "g")
    src = pd.read_csv(MERIDIAN_GEO)
    assert plan.data.geo == "geo" and plan.data.population == "population"  # type: ignore[attr-defined]
    assert all(c.scope != "national" for c in plan.channels)  # type: ignore[attr-defined]
    assert len(world) == len(src) and world["geo"].nunique() == 40
    ours = world.set_index(["geo", "date"]).sort_index()
    theirs = src.assign(date=src["time"]).set_index(["geo", "date"]).sort_index()
    np.testing.assert_allclose(
        ours["revenue"], theirs["conversions"] * theirs["revenue_per_conversion"], rtol=1e-9
    )
    np.testing.assert_allclose(ours["channel3_spend"], theirs["Channel3_spend"], rtol=1e-9)
    np.testing.assert_allclose(ours["population"], theirs["population"], rtol=1e-9)
    np.testing.assert_allclose(ours["promo"], theirs["Promo"], rtol=1e-9)
    assert "40 geos kept long" in " ".join(output.split())
    geo_panel = load_geo_panel(plan)  # type: ignore[arg-type]
    assert geo_panel.panel.spend.shape == (156, 40, 5)


def test_meridian_geo_panel_is_summed_to_national_when_asked(tmp_path: Path) -> None:
    plan, world, output = _import("meridian", MERIDIAN_GEO, tmp_path / "g", "--national")
    src = pd.read_csv(MERIDIAN_GEO)
    by_week = src.assign(rev=src["conversions"] * src["revenue_per_conversion"]).groupby("time")
    np.testing.assert_allclose(world["revenue"], by_week["rev"].sum().to_numpy(), rtol=1e-9)
    np.testing.assert_allclose(
        world["channel2_spend"], by_week["Channel2_spend"].sum().to_numpy(), rtol=1e-9
    )
    w = src["population"]
    promo = (src["Promo"] * w).groupby(src["time"]).sum() / w.groupby(src["time"]).sum()
    np.testing.assert_allclose(world["promo"], promo.to_numpy(), rtol=1e-9)
    text = " ".join(output.split())
    assert "40 geos" in text and "as --national asks" in text
    assert "--national asks" in (tmp_path / "g" / "plan.toml").read_text(encoding="utf-8")
    assert len(world) == src["time"].nunique()
    del plan


def test_pymc_marketing_example_layout(tmp_path: Path) -> None:
    plan, world, _ = _import("pymc-marketing", PYMC, tmp_path / "p")
    assert [c.name for c in plan.channels] == ["x1", "x2"]  # type: ignore[attr-defined]
    assert plan.channels[0].adstock == "geometric"  # type: ignore[attr-defined]
    assert list(plan.data.events) == ["event_1", "event_2"]  # type: ignore[attr-defined]
    assert "t" not in world.columns and "dayofyear" not in world.columns
    np.testing.assert_allclose(world["y"], pd.read_csv(PYMC)["y"], rtol=1e-9)


def test_roles_can_be_given_for_other_files(tmp_path: Path) -> None:
    cgp = SHARED / "pymc_marketing_mock_cgp" / "mock_cgp_data.csv"
    plan, world, _ = _import(
        "pymc-marketing", cgp, tmp_path / "c", "--outcome", "target1",
        "--spend", "Google Search,Facebook,TV,Radio", "--controls", "Promotion,RSP",
    )  # fmt: skip
    kinds = {c.name: c.kind for c in plan.channels}  # type: ignore[attr-defined]
    assert kinds == {"google_search": "online", "facebook": "online", "tv": "offline",
                     "radio": "offline"}  # fmt: skip
    assert list(plan.data.controls) == ["promotion", "rsp"]  # type: ignore[attr-defined]
    assert len(world) == 365


def test_bad_files_say_what_is_missing(tmp_path: Path) -> None:
    frame = pd.read_csv(ROBYN).drop(columns=["revenue"])
    frame.to_csv(tmp_path / "x.csv", index=False)
    result = runner.invoke(app, ["import", "robyn", str(tmp_path / "x.csv"), "--out",
                                 str(tmp_path / "o")])  # fmt: skip
    assert result.exit_code == 3
    text = " ".join(result.output.split())
    assert "--outcome" in text and "Traceback" not in text
    assert not (tmp_path / "o" / "plan.toml").exists()
    daily = pd.read_csv(ROBYN)
    daily["DATE"] = pd.date_range("2020-01-01", periods=len(daily), freq="D").strftime("%Y-%m-%d")
    daily.to_csv(tmp_path / "d.csv", index=False)
    result = runner.invoke(app, ["import", "robyn", str(tmp_path / "d.csv"), "--out",
                                 str(tmp_path / "o")])  # fmt: skip
    assert result.exit_code == 3 and "weekly" in result.output
    bad = runner.invoke(app, ["import", "prophet", str(ROBYN), "--out", str(tmp_path / "o")])
    assert bad.exit_code == 2 and "robyn" in bad.output


@pytest.mark.slow
def test_imported_pymc_marketing_example_runs_fast(tmp_path: Path) -> None:
    _import("pymc-marketing", PYMC, tmp_path / "p")
    result = runner.invoke(
        app, ["run", str(tmp_path / "p" / "plan.toml"), "--out", str(tmp_path / "r"), "--fast"]
    )
    assert result.exit_code == 0, result.output
    assert (tmp_path / "r" / "recommendation.json").is_file()


def test_meridian_geo_panel_without_population_says_how_geos_are_sized(tmp_path: Path) -> None:
    src = pd.read_csv(MERIDIAN_GEO)
    src = src[src["geo"].isin(["Geo0", "Geo1", "Geo2"])].drop(columns=["population"])
    src.to_csv(tmp_path / "three.csv", index=False)
    plan, world, output = _import("meridian", tmp_path / "three.csv", tmp_path / "g")
    assert plan.data.geo == "geo" and plan.data.population is None  # type: ignore[attr-defined]
    assert "population" not in world.columns and world["geo"].nunique() == 3
    assert "no population column" in " ".join(output.split())
