"""journeys_stage: a plan's [journeys] section into the run directory, with the rules and
the triangulation against the MMM's online ROI."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from conftest import MEDIA_PLAN_TOML
from omnimmm.config import load_plan
from omnimmm.data.simulate_journeys import simulate_journeys
from omnimmm.errors import PlanError
from omnimmm.journeys.stage import journeys_stage, rules_from_plan

JOURNEYS = """
[journeys]
touches = "touches.csv"
conversions = "conversions.csv"
offline_channels = ["direct_mail"]
bootstrap = 3

[journeys.rules]
handoff_min = 0.3
"""


def test_stage_writes_attribution_board_and_triangulation(
    tmp_path: Path, media_plan_files: Callable[..., Path]
) -> None:
    world = simulate_journeys(n_customers=1500, days=60, seed=8, truth=False)
    world.touches.to_csv(tmp_path / "touches.csv", index=False)
    world.conversions.to_csv(tmp_path / "conversions.csv", index=False)
    plan_path = media_plan_files(plan=MEDIA_PLAN_TOML + JOURNEYS)
    plan = load_plan(plan_path)
    assert plan.journeys is not None and plan.journeys.rules.handoff_min == 0.3
    assert plan.journeys.rules.usage_min == 0.2
    said: list[str] = []
    mmm = [{"name": "search", "roi_by_outcome": {"online_revenue":
            {"mean": 2.0, "low": 1.5, "high": 2.5}}}]  # fmt: skip
    out = journeys_stage(plan, tmp_path / "run", said.append, mmm_channels=mmm)
    assert said and all(Path(p).is_file() for p in out["paths"])
    doc = json.loads((tmp_path / "run/journeys/attribution/attribution.json").read_text())
    assert doc == out["attribution"]
    tri = out["triangulation"]
    assert [t["channel"] for t in tri] == ["search"]
    assert tri[0]["verdict"].startswith(("agree", "disagree"))
    assert all(f["value"] < 0.3 for f in out["flags"] if f["kpi"] == "handoff")


def test_rules_from_plan_names_the_bad_key(tmp_path: Path) -> None:
    p = tmp_path / "plan.toml"
    p.write_text("[journeys.rules]\nusage_min = 0.1\n")
    assert rules_from_plan(p).usage_min == 0.1 and rules_from_plan(p).handoff_min == 0.15
    p.write_text("[journeys.rules]\nhandoff_min = 1.5\n")
    with pytest.raises(PlanError, match=r"journeys\.rules\.handoff_min"):
        rules_from_plan(p)
