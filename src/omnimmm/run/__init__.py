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

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from omnimmm.run.context import FAST_SAMPLER, Prepared, RunState
    from omnimmm.run.drivers import RunSummary, fit, optimize, report, run
    from omnimmm.run.rundir import is_run_dir
    from omnimmm.run.stages.validate import prepare

#: Where each public name lives; imported on first use, so that ``omnimmm validate`` (which
#: imports :mod:`omnimmm.run.stages.validate`, and with it this package) does not load the
#: drivers, every stage and the report writers it never calls.
_LAZY = {
    "FAST_SAMPLER": "omnimmm.run.context",
    "Prepared": "omnimmm.run.context",
    "RunState": "omnimmm.run.context",
    "RunSummary": "omnimmm.run.drivers",
    "fit": "omnimmm.run.drivers",
    "optimize": "omnimmm.run.drivers",
    "report": "omnimmm.run.drivers",
    "run": "omnimmm.run.drivers",
    "is_run_dir": "omnimmm.run.rundir",
    "prepare": "omnimmm.run.stages.validate",
}

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


def __getattr__(name: str) -> Any:
    """The public names of :data:`__all__`, imported from their modules on first use."""
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
