"""What every stage of a run shares: the validated plan and panel (:class:`Prepared`) and the
run's working state (:class:`RunState`) that stages read and fill in, one after the other.

A stage is a function ``stage(state: RunState) -> None``; drivers
(:mod:`omnimmm.run.drivers`) are lists of stages. Nothing here imports the MMM.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from omnimmm.config import Plan

__all__ = ["FAST_SAMPLER", "Prepared", "Progress", "RunState", "Stage", "quiet", "scenario"]

#: Sampler settings of ``--fast`` (and ``OMNIMMM_FAST=1`` in the notebooks): a quick look
#: that will usually not pass the quality gate, so fast runs report the gate but do not
#: enforce it, and say so on the report's first screen.
FAST_SAMPLER = {"chains": 2, "draws": 200, "tune": 200}

Progress = Callable[[str], None]


def quiet(_: str) -> None:
    """A progress callback that says nothing."""
    return None


def scenario(plan: Plan, channels: list[str], total: float) -> tuple[Any, Any]:
    """The optimizer's fixed-budget scenario and constraints for ``channels``.

    Parameters
    ----------
    plan
        The plan (its ``[budget]`` section).
    channels
        Channel names in the order the optimizer sees them.
    total
        Spend over the horizon.

    Returns
    -------
    tuple
        ``(FixedBudget, Constraints)`` of :mod:`omnimmm.optimize`.
    """
    from omnimmm.optimize import ChannelBounds, Constraints, FixedBudget

    b = plan.budget
    bounds = {
        name: ChannelBounds(min=cb.min, max=cb.max)
        for name, cb in b.channels.items()
        if cb.min is not None or cb.max is not None
    }
    locked = tuple(name for name in channels if name in b.channels and b.channels[name].locked)
    own = {n: cb.max_change for n, cb in b.channels.items() if cb.max_change is not None}
    constraints = Constraints(
        bounds=bounds, max_change=b.max_change, online_share=b.online_share, locked=locked,
        max_changes=own,
    )  # fmt: skip
    return FixedBudget(total=total, objective=b.objective, margin=b.margin), constraints


@dataclass(frozen=True)
class Prepared:
    """A validated plan and panel, ready to fit: everything checked before any sampling.

    Attributes
    ----------
    plan : Plan
        The plan with ``seed`` replaced by the run's seed.
    plan_path : Path
    panel : omnimmm.data.schema.Panel
    precheck : omnimmm.mmm.precheck.PrecheckResult
    sampler : dict
        ``chains``, ``draws``, ``tune``, ``seed`` used for the MMM (and holdout refit).
    fast : bool
    current : pandas.Series
        Spend per channel over the last ``horizon_weeks`` weeks (the current allocation).
    total : float
        The budget: the plan's ``budget.total`` or, by default, the current total.
    fit_key : str
        Hash of everything in the plan that determines the fitted posterior
        (:func:`omnimmm.run.reuse.fit_key`).
    progressbar : bool
        Whether the sampler draws a progress bar (a terminal is attached).
    """

    plan: Plan
    plan_path: Path
    panel: Any
    precheck: Any
    sampler: dict[str, int]
    fast: bool
    current: pd.Series
    total: float
    fit_key: str
    progressbar: bool = False

    @property
    def seed(self) -> int:
        """The run's seed (MMM sampler, holdout refit, optimizer starts)."""
        return int(self.plan.seed)

    def scenario(self, channels: list[str]) -> tuple[Any, Any]:
        """The optimizer's scenario (fixed budget) and constraints for ``channels``."""
        return scenario(self.plan, channels, self.total)


@dataclass
class RunState:
    """The state a run's stages share; each stage reads what earlier ones filled in.

    Attributes
    ----------
    prep : Prepared
    work : Path
        The hidden folder the run is built in (renamed onto the run directory at the end).
    say : Progress
        Progress messages for the user.
    previous : Path or None
        The run directory being replaced, whose model may be reused.
    out : Path or None
        The run directory the user asked for (what messages name).
    model : OmniMMM or None
        The fitted (or reused, or loaded) MMM.
    reused : bool
        Whether the model came from ``previous`` instead of a new fit.
    gate, holdout : dict
        The quality gate's verdict and the holdout forecast's scores.
    tables : dict
        Tables computed by the fit-side stages (holdout, baselines) for the result.
    fits : dict
        Compile and sampling seconds of each fit this run made (``mmm``, ``holdout_refit``).
    model_files : dict
        sha256 of each file of the saved model (``model/...``), for safe reuse.
    lifecycle : omnimmm.run.stages.lifecycle.LifecycleOutcome or None
    result : omnimmm.report.result.RunResult or None
        What the exports are rendered from.
    seconds : dict
        Wall seconds of each stage, in order (the manifest's stage-timing table).
    cpu_seconds : dict
        CPU seconds of the process (all threads) in each stage.
    attempts : list of dict
        Each fit of the MMM this run made when the gate failed and remedies were tried
        (:mod:`omnimmm.run.remedies`); empty for a reused model.
    analysis : dict or None
        The fitted model's tables (:func:`omnimmm.run.stages.analysis.analysis_tables`),
        until the result stage assembles them.
    pending_holdout : PendingFit or None
        The holdout refit sampling in the background since the fit's chains finished
        (:func:`omnimmm.run.stages.holdout.start_holdout`), until the holdout stage.
    prepared_holdout : PreparedFit or None
        The holdout refit's model, built and compiled while the fit's chains sampled
        (:func:`omnimmm.run.stages.holdout.prepare_holdout`).
    baseline_forecasts : pandas.DataFrame or None
        The holdout weeks' seasonal-naive and ETS forecasts, made meanwhile too.
    """

    prep: Prepared
    work: Path
    say: Progress = quiet
    previous: Path | None = None
    out: Path | None = None
    model: Any = None
    reused: bool = False
    gate: dict[str, Any] = field(default_factory=dict)
    holdout: dict[str, Any] = field(default_factory=dict)
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)
    fits: dict[str, Any] = field(default_factory=dict)
    model_files: dict[str, str] = field(default_factory=dict)
    lifecycle: Any = None
    result: Any = None
    seconds: dict[str, float] = field(default_factory=dict)
    cpu_seconds: dict[str, float] = field(default_factory=dict)
    attempts: list[dict[str, Any]] = field(default_factory=list)
    analysis: dict[str, pd.DataFrame] | None = None
    pending_holdout: Any = None
    prepared_holdout: Any = None
    baseline_forecasts: pd.DataFrame | None = None


Stage = Callable[[RunState], None]
