"""Where a run's seconds go: the manifest's stage-timing table and ``--profile``.

:func:`profile` turns a run's stage seconds and its fits' timings into one table of
parts that add up to the command's wall time: the process start (the interpreter, the
imports and the command line, before the run's first line of code), validating the plan
and data, each stage, and inside the fit and holdout stages the compile (or cache load)
and the sampling. What no part names is listed as ``other``, so nothing is hidden. A holdout
refit started in the fit stage (:func:`omnimmm.run.stages.holdout.start_holdout`) samples
beside the stages in between; the holdout stage lists only its wait for it.
"""

from __future__ import annotations

import os
from typing import Any

__all__ = ["print_profile", "process_seconds", "profile", "profile_lines"]


def process_seconds() -> float | None:
    """Seconds since this process started, or None where the system does not say (Linux
    only: ``/proc``)."""
    try:
        with open("/proc/self/stat", encoding="ascii") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        with open("/proc/uptime", encoding="ascii") as f:
            uptime = float(f.read().split()[0])
        started = int(fields[19]) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError, AttributeError):
        return None
    return max(uptime - started, 0.0)


#: Stages whose fits' compile and sampling seconds are listed as their parts.
_FITS = {"fit": "mmm", "holdout": "holdout_refit"}


def profile(
    seconds: dict[str, float],
    fits: dict[str, Any],
    start: float | None,
    wall: float,
    cpu: dict[str, float] | None = None,
) -> list[dict[str, Any]]:
    """The table of parts, in order, with their seconds and share of the wall time.

    Parameters
    ----------
    seconds : dict
        Wall seconds of each stage, in order (``validate`` first).
    fits : dict
        Each fit's timings (``compile``, ``sampling``) by fit name.
    start : float or None
        Seconds from the process start to the run's start (None: unknown).
    wall : float
        Seconds from the run's start to the end of its last stage.
    cpu : dict, optional
        CPU seconds of the process (all its threads) in each stage, and under ``"start"``
        before the run: on a shared machine they move less with others' load than wall
        seconds, and CPU above wall shows the stages that use several cores.

    Returns
    -------
    list of dict
        Rows ``part``, ``seconds``, ``share`` (of the whole: start plus wall) and, where
        known, ``cpu_seconds``; the parts of a stage are named ``stage: part`` and follow
        it.
    """
    cpu = cpu or {}
    total = wall + (start or 0.0)
    rows: list[dict[str, Any]] = []

    def add(part: str, value: float, cpu_s: float | None = None) -> None:
        row = {"part": part, "seconds": round(value, 3), "share": _share(value, total)}
        if cpu_s is not None:
            row["cpu_seconds"] = round(cpu_s, 3)
        rows.append(row)

    if start is not None:
        add("start (interpreter, imports, command line)", start, cpu.get("start"))
    for stage, value in seconds.items():
        add(stage, value, cpu.get(stage))
        fit = fits.get(_FITS.get(stage, ""))
        if isinstance(fit, dict) and fit.get("started_early") and "waited" in fit:
            # compiled and sampling since the fit stage, beside the stages in between
            waited = float(fit["waited"])
            warm = ", warm start" if fit.get("warm") else ""
            add(
                f"{stage}: wait for the refit sampling since the fit stage "
                f"({fit.get('tune', '?')} tuning steps{warm})",
                waited,
            )
            add(f"{stage}: other", max(value - waited, 0.0))
        elif isinstance(fit, dict) and "sampling" in fit:
            compile_s, sampling = float(fit.get("compile", 0.0)), float(fit["sampling"])
            label = "compile" if not fit.get("compile_cached", True) else "compile (cached)"
            warm = " (warm start)" if fit.get("warm") else ""
            add(f"{stage}: {label}", compile_s, fit.get("compile_cpu"))
            add(
                f"{stage}: sampling, {fit.get('tune', '?')} tuning steps{warm}",
                sampling,
                fit.get("sampling_cpu"),
            )
            add(f"{stage}: other", max(value - compile_s - sampling, 0.0))
    add("other (between stages)", max(wall - sum(seconds.values()), 0.0))
    return rows


def _share(value: float, total: float) -> float:
    return round(value / total, 3) if total > 0 else 0.0


def profile_lines(rows: list[dict[str, Any]], finished: float | None = None) -> list[str]:
    """The table as aligned text lines for the console (``--profile``).

    ``finished``: seconds from the process start to now (the publish of the run directory
    included), printed as the last line when known.
    """
    width = max((len(r["part"]) for r in rows), default=10)
    out = [f"{'part':<{width}}  {'seconds':>8}  {'share':>6}  {'CPU s':>7}"]
    for r in rows:
        indent = "  " if ": " in r["part"] else ""
        part = f"{indent}{r['part']}"
        cpu = f"{r['cpu_seconds']:>7.2f}" if "cpu_seconds" in r else ""
        out.append(f"{part:<{width + 2}}{r['seconds']:>8.2f}  {100 * r['share']:>5.1f}%  {cpu}")
    if finished is not None:
        out.append(f"{'process total so far':<{width + 2}}{finished:>8.2f}")
    return out


def print_profile(out: Any, console: Any) -> None:
    """Print the profile stored in the run directory ``out``'s manifest (``--profile``)."""
    import json
    from pathlib import Path

    manifest = json.loads((Path(out) / "manifest.json").read_text(encoding="utf-8"))
    rows = manifest.get("stages", {}).get("profile", [])
    console.print()
    for line in profile_lines(rows, process_seconds()):
        console.print(line, highlight=False, markup=False)
