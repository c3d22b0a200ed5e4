"""report.html in a real browser: headless Chromium loads it with no console errors, no
network, and the rendered page shows the numbers of recommendation.json.

Also lays the report out at a phone's (400 px) and a desktop's width with Chinese channel
names. Uses Debian's chromium and fonts-noto-cjk (``.ci/run`` installs both); skips with the
reason when they are absent.
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


# --- layout at a phone's and a desktop's width, with Chinese channel names ---------------

_MEASURE = """
<script>
window.addEventListener("load", () => {
  const main = document.querySelector("main");
  const svgs = [...document.querySelectorAll("figure svg")];
  let minFont = 1e9;
  for (const svg of svgs) {
    const scale = svg.getBoundingClientRect().width / svg.viewBox.baseVal.width;
    for (const t of svg.querySelectorAll("text")) {
      minFont = Math.min(minFont, parseFloat(t.getAttribute("font-size")) * scale);
    }
  }
  const inner = main.clientWidth - 2 * parseFloat(getComputedStyle(main).paddingLeft);
  const cell = [...document.querySelectorAll("#allocation td")].find(
    (td) => td.textContent.includes("电视广告"));
  const probe = document.createElement("span");
  probe.textContent = "电视广告";
  probe.style.fontSize = "20px";
  document.body.appendChild(probe);
  const out = {
    viewport: window.innerWidth,
    docWidth: document.documentElement.scrollWidth,
    minSvgFont: minFont,
    chartShare: svgs[0].getBoundingClientRect().width / inner,
    cellFont: cell ? getComputedStyle(cell).fontFamily : "",
    cjkWidth: probe.getBoundingClientRect().width,
  };
  parent.postMessage(JSON.stringify(out), "*");
});
</script>
"""

# Headless Chromium will not make a window narrower than 500 px, so the report is measured
# inside an iframe of the wanted width.
_HOST = """<!DOCTYPE html><html><body style="margin:0">
<iframe src="report.html" style="border:0;width:{width}px;height:900px"></iframe>
<script>
window.addEventListener("message", (e) => {{
  const pre = document.createElement("pre");
  pre.id = "measure";
  pre.textContent = e.data;
  document.body.appendChild(pre);
}});
</script></body></html>
"""


def _cjk_font_installed() -> bool:
    fc = shutil.which("fc-list")
    if fc is None:
        return False
    listed = subprocess.run([fc, ":lang=zh", "family"], capture_output=True, text=True)
    return bool(listed.stdout.strip())


@pytest.mark.parametrize("width", [400, 1280])
def test_report_layout_phone_and_desktop_with_chinese_names(tmp_path: Path, width: int) -> None:
    """At 400 px nothing is cut off (the page does not overflow; tables and charts scroll
    inside their box) and chart labels stay readable; at 1280 px charts use the full
    width; Chinese names render in a CJK font from the report's font stack."""
    import re
    import sys

    sys.path.insert(0, str(Path(__file__).parent))
    from omnimmm.report import render_html
    from test_report import make_result

    html = render_html(make_result(names=("电视广告", "搜索")))
    # the report forbids scripts (CSP); this copy adds one that measures the layout
    html = re.sub(r'<meta http-equiv="Content-Security-Policy"[^>]*>', "", html)
    page = tmp_path / "report.html"
    page.write_text(html.replace("</body>", _MEASURE + "</body>"), encoding="utf-8")
    host = tmp_path / "host.html"
    host.write_text(_HOST.format(width=width), encoding="utf-8")
    dom = _chromium(
        ["--window-size=1400,1000", "--allow-file-access-from-files",
         "--virtual-time-budget=5000", "--dump-dom", host.resolve().as_uri()],
        tmp_path / "profile",
    )  # fmt: skip
    assert dom.returncode == 0, dom.stderr[-2000:]
    found = re.search(r'<pre id="measure">(.*?)</pre>', dom.stdout)
    assert found, dom.stdout[-2000:]
    m = json.loads(found.group(1).replace("&quot;", '"'))
    assert m["viewport"] == width
    assert m["docWidth"] <= width + 1, m  # nothing sticks out of the page
    assert m["minSvgFont"] >= 7.5, m  # chart labels, not 4 px
    if width >= 1000:
        assert m["chartShare"] >= 0.95, m  # charts use the width, not two thirds
    assert "Noto Sans CJK SC" in m["cellFont"] and "Microsoft YaHei" in m["cellFont"]
    if not _cjk_font_installed():
        pytest.skip("no CJK font installed (apt-get install fonts-noto-cjk; .ci/run does it)")
    # four full-width glyphs of a CJK font are about 4 em wide; missing-glyph boxes are not
    assert 70 <= m["cjkWidth"] <= 90, m
