"""The journey pages in a real browser: headless Chromium loads attribution report.html and
board.html with no console errors and shows the channels and the charts.

Skips with the reason when Debian's chromium is absent (``.ci/run`` installs it).
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from omnimmm.data.simulate_journeys import simulate_journeys
from omnimmm.journeys.attribute import AttributionSettings, attribute
from omnimmm.journeys.board import kpi_board

CHROMIUM = shutil.which("chromium") or (
    "/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None
)
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run",
         "--disable-dev-shm-usage"]  # fmt: skip
pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="chromium not installed (apt-get install -y chromium; .ci/run does it)"
)


def _dom(html: Path, profile: Path) -> str:
    res = subprocess.run(
        [str(CHROMIUM), *FLAGS, f"--user-data-dir={profile}", "--enable-logging=stderr",
         "--v=0", "--virtual-time-budget=3000", "--dump-dom", html.resolve().as_uri()],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert res.returncode == 0, res.stderr[-2000:]
    errors = [ln for ln in res.stderr.splitlines() if "CONSOLE" in ln and "ERROR" in ln.upper()]
    assert errors == []
    return res.stdout


def test_journey_pages_render_in_chromium(tmp_path: Path) -> None:
    world = simulate_journeys(n_customers=1500, days=75, seed=5, truth=False)
    attribute(world.touches, world.conversions, tmp_path / "a",
              settings=AttributionSettings(n_bootstrap=3, max_rows=20_000))  # fmt: skip
    kpi_board(world.touches, world.conversions, tmp_path / "b")
    page = _dom(tmp_path / "a" / "report.html", tmp_path / "p1")
    for name in ("search", "social", "display", "email", "direct_mail", "markov_3"):
        assert name in page
    assert page.count("<svg") >= 1
    board = _dom(tmp_path / "b" / "board.html", tmp_path / "p2")
    assert board.count("<svg") >= 3 and "handoff" in board
