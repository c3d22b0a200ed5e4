"""The quarterly run as stages over a run directory.

Data flow: plan -> :mod:`~omnimmm.run.stages.validate` (plan, panel, pre-checks, feasibility) ->
:mod:`~omnimmm.run.stages.lifecycle` -> :mod:`~omnimmm.run.stages.fit` (or reuse, :mod:`~omnimmm.run.reuse`)
-> :mod:`~omnimmm.run.stages.gate` -> :mod:`~omnimmm.run.stages.holdout` -> :mod:`~omnimmm.run.stages.analysis` ->
:mod:`~omnimmm.run.stages.optimize` -> :mod:`~omnimmm.run.stages.export`, inside the locked, atomically
published run directory of :mod:`~omnimmm.run.rundir`. :mod:`~omnimmm.run.drivers` composes
the stages into the commands ``run``, ``fit``, ``optimize`` and ``report``.

>>> from omnimmm import run
>>> summary = run.run("data/demo/plan.toml", "runs/q1")  # doctest: +SKIP
"""

from omnimmm.run.context import FAST_SAMPLER, Prepared, RunState
from omnimmm.run.drivers import RunSummary, fit, optimize, report, run
from omnimmm.run.rundir import is_run_dir
from omnimmm.run.stages.validate import prepare

__all__ = [
    "FAST_SAMPLER",
    "Prepared",
    "RunState",
    "RunSummary",
    "fit",
    "is_run_dir",
    "optimize",
    "prepare",
    "report",
    "run",
]
