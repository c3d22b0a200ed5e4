"""report.html in a real browser: headless Chromium loads it with no console errors, no
network, and the rendered page shows the numbers of recommendation.json.

Uses Debian's chromium (``.ci/run`` installs it); skips with the reason when it is absent.
The report comes from the session's tiny fitted run (``fitted_run`` in conftest.py).
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from omnimmm.report.sections import fmt_money, fmt_ratio

CHROMIUM = shutil.which("chromium") or (
    "/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None
)
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-dev-shm-usage",
]

pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="chromium not installed (apt-get install -y chromium; .ci/run does it)"
)


def _chromium(args: list[str], profile: Path, timeout: int = 120) -> subprocess.CompletedProcess:
    return subprocess.run(
        [CHROMIUM, *FLAGS, f"--user-data-dir={profile}", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def test_report_renders_in_chromium(fitted_run: Path, tmp_path: Path) -> None:
    html = fitted_run / "report.html"
    url = html.resolve().as_uri()
    dom = _chromium(
        ["--enable-logging=stderr", "--v=0", "--virtual-time-budget=3000", "--dump-dom", url],
        tmp_path / "profile1",
    )
    assert dom.returncode == 0, dom.stderr[-2000:]
    console_errors = [
        line for line in dom.stderr.splitlines() if "CONSOLE" in line and "ERROR" in line.upper()
    ]
    assert console_errors == []
    page = dom.stdout
    doc = json.loads((fitted_run / "recommendation.json").read_text())
    for c in doc["channels"]:
        assert fmt_money(c["recommended_spend"]) in page
        assert fmt_ratio(c["roi"]["mean"]) in page
    assert fmt_money(doc["horizon_value"]["recommended"]["mean"]) in page
    assert "<script>alert(1)</script>" not in page  # escaped in the DOM too
    assert page.count("<svg") >= 6

    shot = tmp_path / "report.png"
    res = _chromium(
        ["--window-size=1100,1800", "--hide-scrollbars", f"--screenshot={shot}", url],
        tmp_path / "profile2",
    )
    assert res.returncode == 0, res.stderr[-2000:]
    assert shot.is_file() and shot.stat().st_size > 20_000
    from PIL import Image

    with Image.open(shot) as img:
        colours = img.convert("RGB").resize((64, 128)).getcolors(maxcolors=64 * 128)
    assert colours is not None and len(colours) > 20  # text and charts, not a blank page
