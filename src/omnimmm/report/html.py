"""report.html: the sections laid out by a Jinja2 template with autoescaping on."""

from __future__ import annotations

from pathlib import Path

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from omnimmm.report.result import RunResult
from omnimmm.report.sections import build_sections

__all__ = ["render_html", "write_html"]


def _env() -> Environment:
    return Environment(
        loader=PackageLoader("omnimmm.report", "templates"),
        autoescape=select_autoescape(default=True, default_for_string=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def render_html(result: RunResult) -> str:
    """The report as one self-contained HTML string (inline CSS and SVG, no scripts)."""
    from omnimmm.report.geo import geo_section

    sections = build_sections(result)
    return _env().get_template("report.html.j2").render(**sections, geo=geo_section(result))


def write_html(result: RunResult, path: str | Path) -> Path:
    """Write :func:`render_html` to ``path`` as UTF-8."""
    out = Path(path)
    out.write_text(render_html(result), encoding="utf-8")
    return out
