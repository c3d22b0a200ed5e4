"""One row of ``backtest.json``'s ``fits[]``: how each refit of a backtest went.

The national backtest (:mod:`omnimmm.run.backtest`) and the geo backtest
(:mod:`omnimmm.run.geo_backtest`) write the same row, so a reader of ``backtest.json`` needs
not know which kind of model ran.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["fit_row"]


def fit_row(
    origin: pd.Timestamp,
    train_weeks: int,
    diagnostics: Any,
    timings: Mapping[str, Any],
    gate_passed: bool,
    remedies: list[dict[str, Any]],
    tune: int,
) -> dict[str, Any]:
    """The ``fits[]`` row of one backtest origin.

    Parameters
    ----------
    origin
        The first forecast week.
    train_weeks
        Weeks the refit saw.
    diagnostics
        The refit's convergence summary (``rhat_max``, ``ess_bulk_min``, ``divergences``).
    timings
        The refit's timings (``total``, ``compile``; ``tune`` and ``warm`` when it started
        warm from an earlier fit). Missing entries are NaN, or ``tune``/not warm.
    gate_passed
        The quality gate's verdict on the kept fit.
    remedies
        The automatic remedies tried after the first attempt (empty when none).
    tune
        The plan's tuning steps, reported when the refit did not record its own.

    Returns
    -------
    dict
        ``origin``, ``train_weeks``, ``rhat_max``, ``ess_bulk_min``, ``divergences``,
        ``seconds``, ``compile_seconds``, ``gate_passed``, ``remedies``, ``tune``,
        ``warm_start``.
    """
    return {
        "origin": str(origin.date()),
        "train_weeks": int(train_weeks),
        "rhat_max": float(diagnostics.rhat_max),
        "ess_bulk_min": float(diagnostics.ess_bulk_min),
        "divergences": int(diagnostics.divergences),
        "seconds": float(timings.get("total", np.nan)),
        "compile_seconds": float(timings.get("compile", np.nan)),
        "gate_passed": bool(gate_passed),
        "remedies": list(remedies),
        "tune": int(timings.get("tune", tune)),
        "warm_start": bool(timings.get("warm", False)),
    }
