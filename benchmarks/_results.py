"""Shared helpers of the benchmark scripts: run header and ``RESULTS.md`` sections.

Each script owns one section of ``benchmarks/RESULTS.md``, delimited by HTML comments
``<!-- section:NAME -->`` and ``<!-- /section:NAME -->``; rewriting it leaves every other
section as it was.
"""

from __future__ import annotations

import datetime as dt
import importlib.metadata
import os
import platform
import re
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "RESULTS.md"
#: The line under which a section keeps its earlier runs when a script rewrites it.
HISTORY = "**Earlier runs of this section**"
_TITLE = "# Benchmark results\n\nWritten by the scripts in `benchmarks/`; see its README.\n"


def _version(package: str) -> str:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def machine_header(packages: tuple[str, ...]) -> str:
    """Markdown lines naming the date, machine, load and package versions of a run."""
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg()) if hasattr(os, "getloadavg") else "?"
    versions = ", ".join(f"{p} {_version(p)}" for p in packages)
    return (
        f"- date: {dt.datetime.now(dt.UTC).strftime('%Y-%m-%d %H:%M UTC')}\n"
        f"- machine: {platform.machine()}, {os.cpu_count()} CPUs, {platform.system()} "
        f"{platform.release()}, Python {platform.python_version()}; load average at start "
        f"{load}\n"
        f"- versions: {versions}\n"
    )


def update_section(name: str, body: str, path: Path = RESULTS) -> Path:
    """Replace (or append) the section ``name`` of ``path`` with ``body``."""
    start, end = f"<!-- section:{name} -->", f"<!-- /section:{name} -->"
    block = f"{start}\n{body.strip()}\n{end}"
    text = path.read_text(encoding="utf-8") if path.is_file() else _TITLE
    pattern = re.compile(re.escape(start) + r".*?" + re.escape(end), flags=re.DOTALL)
    if pattern.search(text):
        text = pattern.sub(lambda _: block, text)
    else:
        text = text.rstrip("\n") + "\n\n" + block + "\n"
    path.write_text(text, encoding="utf-8")
    return path


def section_history(name: str, marker: str = HISTORY, path: Path = RESULTS) -> str:
    """What a rewrite of section ``name`` keeps below its new run: ``marker``, then the run
    the section shows now (without its ``##`` heading), then the earlier runs that were
    already under ``marker``; ``""`` when the section does not exist yet."""
    text = path.read_text(encoding="utf-8") if path.is_file() else ""
    start, end = f"<!-- section:{name} -->", f"<!-- /section:{name} -->"
    if start not in text or end not in text:
        return ""
    body = text[text.index(start) + len(start) : text.index(end)]
    current, _, earlier = body.partition(marker)
    current = "\n".join(ln for ln in current.strip().splitlines() if not ln.startswith("## "))
    return "\n\n".join(p for p in (marker, current.strip(), earlier.strip()) if p) + "\n"


def markdown_table(header: list[str], rows: list[list[str]]) -> str:
    """A GitHub markdown table."""
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines)


def finish_section(name: str, intro: str, header: str, cpu_seconds: float, table: str,
                   *, write: bool = True) -> int:  # fmt: skip
    """Print a run's section (intro, machine header, CPU seconds, table) and, if ``write``,
    put it into ``RESULTS.md`` as section ``name``; the script's exit status (0)."""
    body = f"{intro}\n\n{header}\n- CPU: {cpu_seconds:.0f} s\n\n{table}\n"
    print(body)
    if write:
        update_section(name, body)
    return 0
