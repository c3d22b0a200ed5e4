"""The gate stage: the fitted model's convergence checks, enforced unless the plan (or
``--fast``) allows a failure, with numbered things to try and the automatic remedies the fit
stage already tried (:mod:`omnimmm.run.remedies`)."""

from __future__ import annotations

from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

from omnimmm.errors import QualityGateError, numbered
from omnimmm.run.context import FAST_SAMPLER, Prepared, RunState
from omnimmm.run.remedies import attempt_lines

__all__ = ["apply_gate", "gate_spec", "gate_stage"]


def gate_spec(prep: Prepared) -> SimpleNamespace:
    """The plan's gate thresholds; a ``--fast`` run reports the gate but does not enforce it."""
    g = prep.plan.gate
    return SimpleNamespace(
        rhat_max=g.rhat_max,
        ess_bulk_min=g.ess_bulk_min,
        divergence_rate_max=g.divergence_rate_max,
        allow_failure=bool(g.allow_failure or prep.fast),
    )


def _remedies(gate: Any, prep: Prepared) -> list[str]:
    out = list(gate.remedies)
    if prep.fast and not gate.passed:
        s = prep.plan.model
        out.insert(
            0,
            f"run without --fast: the plan's sampler settings ({s.chains} chains x {s.draws} "
            f"draws after {s.tune} tuning steps) instead of the quick {FAST_SAMPLER['chains']} "
            f"x {FAST_SAMPLER['draws']}",
        )
    return out


def gate_stage(state: RunState) -> None:
    """Check ``state.model`` against the gate and record the verdict in ``state.gate``.

    Raises
    ------
    QualityGateError
        The model failed and failure is not allowed; nothing of the run is kept.
    """
    apply_gate(state, state.model.quality_gate)


def apply_gate(state: RunState, check: Callable[[Any], Any]) -> None:
    """Run ``check(spec)`` (a model's quality gate, which raises ``QualityGateError`` unless
    the failure is allowed) and record its verdict in ``state.gate``; a failure says which
    automatic remedies were already tried. The national and the geo gate stages share it."""
    spec = gate_spec(state.prep)
    tried = attempt_lines(state.attempts)
    try:
        gate = check(spec)
    except QualityGateError as exc:
        if not tried:
            raise
        raise QualityGateError(
            f"{exc}\nAlready tried automatically before giving up ([gate] remedies = "
            f"{state.prep.plan.gate.remedies}):\n" + numbered(tried)
        ) from None
    state.gate = gate_record(gate, spec, state.prep, tried)


def gate_record(gate: Any, spec: Any, prep: Prepared, tried: list[str]) -> dict[str, Any]:
    """The gate's verdict as the run records it (``result.json``'s ``gate``)."""
    return {
        "passed": bool(gate.passed),
        "allowed": bool(spec.allow_failure),
        "fast": prep.fast,
        "failures": list(gate.failures),
        "remedies": _remedies(gate, prep),
        "message": gate.message,
        "automatic_remedies": tried,
        "thresholds": {
            "rhat_max": spec.rhat_max,
            "ess_bulk_min": spec.ess_bulk_min,
            "divergence_rate_max": spec.divergence_rate_max,
        },
    }
