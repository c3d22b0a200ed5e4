"""The ``omnimmm`` console script: ``omnimmm validate PLAN`` straight away, everything else
through the Typer front end (:mod:`omnimmm.cli`).

``validate`` is the command people run again and again while editing a plan, so it answers
in well under a second: building the Typer application (every command's options) and
importing Typer cost about a quarter of that second and tell ``validate PLAN`` nothing. So
the plain form, one plan path and no options, is dispatched here, without Typer; any other
form (``validate --help``, a misspelt option, another command) goes to :mod:`omnimmm.cli`,
which prints the usual help and errors. Both run
:func:`omnimmm.run.check.validate_command`, so the output and exit codes are the same
either way.
"""

from __future__ import annotations

import sys
from pathlib import Path

__all__ = ["main"]


def main() -> None:
    """Entry point of the ``omnimmm`` console script."""
    args = sys.argv[1:]
    if len(args) == 2 and args[0] == "validate" and not args[1].startswith("-"):
        import os

        # Pydantic plugins observe validation; finding them reads every installed package's
        # metadata (tens of milliseconds) and the plan's checks do not need them.
        os.environ.setdefault("PYDANTIC_DISABLE_PLUGINS", "__all__")
        from omnimmm.console import make_console
        from omnimmm.run.check import validate_command

        sys.exit(validate_command(Path(args[1]), make_console(), make_console(stderr=True)))
    from omnimmm.cli import main as cli_main

    cli_main()


if __name__ == "__main__":
    main()
