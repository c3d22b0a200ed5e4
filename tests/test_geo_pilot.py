"""The pilot fit that chooses how to sample the regional log ROI (:mod:`omnimmm.mmm.geo.pilot`),
on real sampling: regions whose own data pin their ROI (a simulated world with regional
effects) get the centred form; regions that barely tell their ROI apart (eight geos of
Meridian's example, whose centred fit sat in a funnel) get the non-centred one."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

pytest.importorskip("nutpie")

from omnimmm.data.importers import import_file, write_imported
from omnimmm.data.simulate_geo import simulate_geo_world
from omnimmm.mmm.geo import GeoModelSpec
from omnimmm.mmm.geo.pilot import CENTRED_BELOW, choose_roi_form

MERIDIAN_GEO = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "meridian_geo"


def test_regions_that_identify_their_roi_are_sampled_centred() -> None:
    world = simulate_geo_world(n_geos=8, n_weeks=104, seed=3)
    choice = choose_roi_form(world.panel, GeoModelSpec(), seed=0)
    assert choice.centred and choice.median < CENTRED_BELOW
    assert set(choice.shrinkage) == set(world.panel.channels)
    assert all(0.0 <= v < 1.5 for v in choice.shrinkage.values())
    assert "sampled centred" in choice.describe()


@pytest.mark.skipif(not MERIDIAN_GEO.is_dir(), reason=f"{MERIDIAN_GEO} not found")
def test_regions_that_barely_differ_are_sampled_non_centred(tmp_path: Path) -> None:
    from omnimmm.config import load_plan
    from omnimmm.data.geo_read import load_geo_panel

    src = pd.read_csv(MERIDIAN_GEO / "geo_all_channels.csv")
    src[src["geo"].isin([f"Geo{g}" for g in range(8)])].to_csv(tmp_path / "g8.csv", index=False)
    write_imported(import_file("meridian", tmp_path / "g8.csv"), tmp_path / "plan")
    panel = load_geo_panel(load_plan(tmp_path / "plan" / "plan.toml")).panel
    choice = choose_roi_form(panel, GeoModelSpec(), seed=0)
    assert not choice.centred and choice.median >= CENTRED_BELOW
    assert "sampled non-centred" in choice.describe()
    assert choice.as_dict()["pilot"] == {"chains": 2, "draws": 100, "tune": 100}
