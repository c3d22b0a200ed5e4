"""Command-line front end. Thin: every command delegates to library functions.

User errors (:class:`omnimmm.errors.OmniError`) print a one-paragraph reason and exit with the
code documented in :mod:`omnimmm.errors`; they never print a traceback.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from omnimmm.errors import OmniError

app = typer.Typer(
    name="omnimmm",
    help="Omnichannel marketing mix modeling, customer lifecycle and budget planning.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
lifecycle_app = typer.Typer(help="Customer lifecycle: identity, features, propensity scores.")
app.add_typer(lifecycle_app, name="lifecycle")

console = Console()
err_console = Console(stderr=True)


def _fail(exc: OmniError) -> typer.Exit:
    err_console.print(f"[bold red]error:[/] {exc}", markup=True, highlight=False, soft_wrap=True)
    return typer.Exit(code=exc.exit_code)


@app.command()
def validate(plan: Annotated[Path, typer.Argument(help="Plan file (TOML).")]) -> None:
    """Validate a plan and its media panel, then print a summary."""
    from omnimmm.config import load_plan
    from omnimmm.data import load_panel, summarize_panel

    try:
        p = load_plan(plan)
        panel = load_panel(p)
    except OmniError as exc:
        raise _fail(exc) from None
    console.print(summarize_panel(panel), highlight=False)


@app.command()
def simulate(
    out: Annotated[Path, typer.Option(help="Directory to write world.csv, plan.toml, truth.")],
    seed: Annotated[int, typer.Option(help="Random seed; same seed, same bytes.")] = 0,
    weeks: Annotated[int, typer.Option(help="Number of weeks (104 to 208).")] = 156,
    noise: Annotated[float, typer.Option(help="Noise sd relative to mean revenue.")] = 0.05,
    synergy: Annotated[bool, typer.Option(help="Include the TV x search synergy.")] = True,
    cross_effects: Annotated[bool, typer.Option(help="Online media lift stores and back.")] = True,
) -> None:
    """Write a simulated omnichannel world with its ground truth."""
    from omnimmm.data.simulate import simulate_world, write_world

    try:
        world = simulate_world(
            seed=seed, weeks=weeks, noise=noise, synergy=synergy, cross_effects=cross_effects
        )
        paths = write_world(world, out)
    except OmniError as exc:
        raise _fail(exc) from None
    for p in paths:
        console.print(f"wrote {p}", highlight=False)


def main() -> None:
    """Entry point of the ``omnimmm`` console script."""
    try:
        app()
    except OmniError as exc:  # pragma: no cover - commands catch their own
        err_console.print(f"error: {exc}")
        sys.exit(exc.exit_code)


if __name__ == "__main__":
    main()
