"""``omnimmm validate``: check a plan, its data and its budget exactly as a run does, and
summarize them (shared by the console script's quick path, :mod:`omnimmm.launch`, and the
Typer command in :mod:`omnimmm.cli`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

__all__ = ["validate_command"]


def validate_command(plan: Path, console: Any, err_console: Any) -> int:
    """Validate a plan, its media panel and its budget exactly as run does, then summarize.

    Parameters
    ----------
    plan : Path
        The plan file (TOML).
    console, err_console : rich.console.Console
        Where the summary and an error go.

    Returns
    -------
    int
        The exit status: 0, or the user error's code (:mod:`omnimmm.errors`).
    """
    from omnimmm.config import load_plan
    from omnimmm.console import error_line
    from omnimmm.errors import OmniError

    try:
        if load_plan(plan).data.geo is not None:  # [data] geo: long panel, budget by region
            from omnimmm.run.stages.geo import prepare_geo, summarize_geo

            text = summarize_geo(prepare_geo(plan))
        else:
            from omnimmm.data import summarize_panel
            from omnimmm.run.stages.validate import prepare

            text = summarize_panel(prepare(plan).panel)  # the checks run makes, same messages
    except OmniError as exc:
        err_console.print(error_line(exc))
        return exc.exit_code
    console.print(text, markup=False)
    return 0
