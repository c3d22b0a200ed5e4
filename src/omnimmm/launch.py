"""The ``omnimmm`` console script: ``omnimmm validate PLAN`` straight away, everything else
through the Typer front end (:mod:`omnimmm.cli`).

``validate`` is the command people run again and again while editing a plan, so it answers
in well under a second: building the Typer application (every command's options) and
importing Typer cost about a quarter of that second and tell ``validate PLAN`` nothing. So
the plain form, one plan path and no options, is dispatched here, without Typer; any other
form (``validate --help``, a misspelt option, another command) goes to :mod:`omnimmm.cli`,
which prints the usual help and errors. Both run :func:`validate_command`, so the output
and exit codes are the same either way.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

__all__ = ["main", "validate_command"]


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


def main() -> None:
    """Entry point of the ``omnimmm`` console script."""
    args = sys.argv[1:]
    if len(args) == 2 and args[0] == "validate" and not args[1].startswith("-"):
        import os

        # Pydantic plugins observe validation; scanning every installed package for one
        # costs a tenth of validate's time and the plan's checks do not need them.
        os.environ.setdefault("PYDANTIC_DISABLE_PLUGINS", "__all__")
        from omnimmm.console import make_console

        sys.exit(validate_command(Path(args[1]), make_console(), make_console(stderr=True)))
    from omnimmm.cli import main as cli_main

    cli_main()


if __name__ == "__main__":
    main()
