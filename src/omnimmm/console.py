"""What the command line prints: consoles readable in a terminal and in a log file, one
error style, usage errors with their own exit status, examples for every ``--help``, and the
one-line results of commands with the baseline next to the model.

:mod:`omnimmm.cli` stays a thin list of commands; the wording lives here.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape

from omnimmm.errors import USAGE_EXIT, OmniError

__all__ = [
    "EXAMPLES",
    "error_line",
    "lifecycle_score_lines",
    "make_console",
    "run_app",
    "version_text",
]


def make_console(*, stderr: bool = False) -> Console:
    """A console that never hard-wraps: long lines stay one line in a log file (a piped
    console would otherwise wrap at 80 columns, splitting names such as ``hldy_Christmas``);
    a terminal wraps them itself."""
    return Console(stderr=stderr, soft_wrap=True, highlight=False)


def error_line(exc: OmniError | str) -> str:
    """The message of a user error in the one style every command uses: ``error: ...``,
    with rich markup escaped (a plan key such as ``[lifecycle.columns]`` is text)."""
    return f"[bold red]error:[/] {escape(str(exc))}"


def version_text() -> str:
    """``omnimmm X.Y.Z`` with the Python version."""
    import omnimmm

    return f"omnimmm {omnimmm.__version__} (Python {sys.version.split()[0]})"


# Examples shown at the end of each command's --help.
EXAMPLES: dict[str, str] = {
    "omnimmm": "Examples:\n\n  omnimmm validate data/demo/plan.toml\n"
    "  omnimmm run data/demo/plan.toml --out runs/demo --fast\n"
    "  omnimmm lifecycle score --help\n  omnimmm --version",
    "lifecycle": "Examples:\n\n  omnimmm lifecycle score --transactions orders.csv "
    "--as-of 2024-06-30 --horizon-days 90 --out scores",
    "validate": "Examples:\n\n  omnimmm validate data/demo/plan.toml\n"
    "  omnimmm validate examples/real_retailer/plan.toml",
    "run": "Examples:\n\n  omnimmm run data/demo/plan.toml --out runs/2025Q1\n"
    "  omnimmm run data/demo/plan.toml --out runs/try --fast --seed 7",
    "fit": "Examples:\n\n  omnimmm fit data/demo/plan.toml --out runs/2025Q1\n"
    "  omnimmm optimize runs/2025Q1",
    "optimize": "Examples:\n\n  omnimmm fit plan.toml --out runs/2025Q1\n"
    "  # edit [budget] in runs/2025Q1/plan.toml, then:\n  omnimmm optimize runs/2025Q1",
    "report": "Examples:\n\n  omnimmm report runs/2025Q1",
    "simulate": "Examples:\n\n  omnimmm simulate --out sim --seed 1\n"
    "  omnimmm run sim/plan.toml --out sim/run --fast\n"
    "  omnimmm simulate --out geo --geos 16 --weeks 130",
    "lifecycle score": "Examples:\n\n"
    "  omnimmm lifecycle score --transactions orders.csv --as-of 2024-06-30 \\\n"
    "      --horizon-days 90 --out scores\n"
    "  omnimmm lifecycle score --transactions orders.xlsx --as-of 2024-06-30 \\\n"
    "      --horizon-days 60 --out scores --customer-id-col member_no \\\n"
    "      --ts-col order_time --amount-col paid --fast",
    "lifecycle campaigns": "Examples:\n\n"
    "  omnimmm lifecycle campaigns --transactions orders.parquet --campaigns contacts.csv \\\n"
    "      --descriptions campaign_list.csv --redemptions redemptions.csv --out campaigns\n"
    "  omnimmm lifecycle campaigns --transactions orders.csv --campaigns ab_test.csv \\\n"
    "      --contact-cost 0.5 --face-value 10 --out campaigns",
    "journeys": "Examples:\n\n"
    "  omnimmm journeys attribute --touches touches.csv --conversions orders.csv --out attribution\n"
    "  omnimmm journeys kpis --touches touches.csv --conversions orders.csv --out board",
    "journeys attribute": "Examples:\n\n"
    "  omnimmm journeys attribute --touches touches.csv --conversions orders.csv --out attribution\n"
    "  omnimmm journeys attribute --touches app_events.parquet --conversions receipts.xlsx \\\n"
    "      --touch-customer-col member_no --conversion-customer-col member_no --out attribution",
    "journeys kpis": "Examples:\n\n"
    "  omnimmm journeys kpis --touches touches.csv --conversions orders.csv --out board\n"
    "  omnimmm journeys kpis --touches touches.csv --conversions orders.csv \\\n"
    "      --redemptions coupons.csv --plan plan.toml --window-days 14 --out board",
    "backtest": "Examples:\n\n  omnimmm backtest data/demo/plan.toml --out runs/backtest\n"
    "  omnimmm backtest plan.toml --out runs/bt --origins 4 --horizon 13",
    "portfolio": "Examples:\n\n  omnimmm portfolio markets/*/plan.toml --out runs/portfolio\n"
    "  omnimmm portfolio east.toml west.toml --out runs/p --workers 2 --total 30000000\n"
    "  omnimmm portfolio markets/*/plan.toml --out runs/p --scheduler tcp://10.0.0.5:8786",
    "import": "Examples:\n\n  omnimmm import robyn dt_simulated_weekly.csv --out imported/robyn\n"
    "  omnimmm import meridian national_all_channels.csv --out imported/meridian\n"
    "  omnimmm import meridian geo_all_channels.csv --out imported/meridian_geo\n"
    "  omnimmm validate imported/robyn/plan.toml",
}


def lifecycle_score_lines(metrics: dict[str, Any], n_customers: int, out: Path) -> list[str]:
    """What ``omnimmm lifecycle score`` prints: each model's validation AUC next to the
    RFM-only baseline's, and a plain warning when the baseline scored higher."""
    lines = [f"scored {n_customers:,} customers as of {metrics.get('as_of', '?')}"]
    notes = [(metrics.get(t) or {}).get("cutoff_note") for t in ("repurchase", "churn")]
    lines += [f"note: {n}" for n in dict.fromkeys(n for n in notes if n)]
    for target in ("repurchase", "churn"):
        report = metrics.get(target) or {}
        auc = (report.get("validation") or {}).get("roc_auc")
        base = (report.get("baseline_rfm_logistic") or {}).get("roc_auc")
        if auc is None:
            continue
        line = f"  {target}: validation AUC {auc:.3f}"
        if base is not None:
            line += f", RFM baseline {base:.3f}"
            if base > auc:
                line += (
                    f" -- the RFM baseline scored higher; the model adds nothing over "
                    f"recency/frequency/monetary for {target} here (more history or "
                    "--n-cutoffs may help)"
                )
        lines.append(line)
    lines.append(f"wrote {out / 'scores.csv'} and {out / 'metrics.json'}")
    return lines


def run_app(app: Any, args: list[str] | None = None) -> int:
    """Run the Typer ``app`` and return the exit status.

    User errors keep their documented codes (:mod:`omnimmm.errors`); a usage error (unknown
    option, missing argument, bad value for a flag) prints the usage and ``error: ...`` and
    returns :data:`omnimmm.errors.USAGE_EXIT` (64), not 2, which means an invalid plan.
    """
    import typer
    from typer._click import exceptions as click_exc

    err = make_console(stderr=True)
    command = typer.main.get_command(app)
    try:
        status = command.main(
            args=sys.argv[1:] if args is None else args,
            prog_name="omnimmm",
            standalone_mode=False,
        )
    except click_exc.NoArgsIsHelpError as exc:
        err.print(exc.format_message(), markup=False)
        return 0
    except click_exc.UsageError as exc:
        if exc.ctx is not None:
            err.print(exc.ctx.get_usage(), markup=False)
            err.print(f"Try '{exc.ctx.command_path} --help' for help and examples.", markup=False)
        message = exc.format_message()
        err.print(error_line(message[:1].lower() + message[1:]))
        return USAGE_EXIT
    except click_exc.ClickException as exc:
        err.print(error_line(exc.format_message()))
        return int(exc.exit_code)
    except typer.Abort:
        err.print(error_line("aborted"))
        return 130
    except OmniError as exc:  # commands catch their own; this is a safety net
        err.print(error_line(exc))
        return exc.exit_code
    return int(status) if isinstance(status, int) else 0
