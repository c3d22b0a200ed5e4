"""A plan with a [journeys] section: ``omnimmm run`` adds the attribution and the KPI board to
its run directory and report, next to the MMM (the journeys stage of omnimmm.run)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd

from omnimmm import run as omnirun
from omnimmm.data.simulate_journeys import simulate_journeys

JOURNEYS = """
[journeys]
touches = "touches.csv"
conversions = "conversions.csv"
offline_channels = ["direct_mail"]
bootstrap = 3
"""


def test_run_with_journeys_adds_attribution_board_and_triangulation(
    fitted_run: Path, tmp_path: Path
) -> None:
    inputs = tmp_path / "inputs"
    shutil.copytree(fitted_run.parent / "inputs", inputs)
    world = simulate_journeys(n_customers=1500, days=60, seed=8, truth=False)
    world.touches.to_csv(inputs / "touches.csv", index=False)
    world.conversions.to_csv(inputs / "conversions.csv", index=False)
    plan = inputs / "plan.toml"
    plan.write_text(plan.read_text(encoding="utf-8") + JOURNEYS, encoding="utf-8")
    run = tmp_path / "run"
    shutil.copytree(fitted_run, run)

    said: list[str] = []
    summary = omnirun.run(plan, run, progress=said.append)

    assert summary.result.meta["journeys"]["method"] == "hazard_removal"
    assert (run / "journeys/attribution/attribution.json").is_file()
    assert (run / "journeys/board/kpis.csv").is_file()
    tri = pd.read_csv(run / "tables/journeys_triangulation.csv")
    # The tiny world's MMM covers search (online) and tv; the journey world touches search.
    assert list(tri["channel"]) == ["search"]
    assert tri["verdict"].iloc[0].startswith(("agree", "disagree", "not comparable"))
    html = (run / "report.html").read_text(encoding="utf-8")
    assert "Customer journeys" in html and 'href="journeys/attribution/report.html"' in html
    assert any(line.startswith("journeys:") for line in said)
    manifest = (run / "manifest.json").read_text(encoding="utf-8")
    assert '"journeys"' in manifest  # its stage is timed like the others
