"""Omnichannel Bayesian MMM: media spend -> online and store revenue, jointly, in PyMC.

Quick start
-----------
>>> from omnimmm.config import load_plan
>>> from omnimmm.data import load_panel
>>> from omnimmm.mmm import OmniMMM, load
>>> plan = load_plan("plan.toml")
>>> mmm = OmniMMM(plan).fit(load_panel(plan))          # nutpie by default  # doctest: +SKIP
>>> mmm.quality_gate()                                 # raises QualityGateError  # doctest: +SKIP
>>> mmm.roi()                                          # mean, low, high (90%)  # doctest: +SKIP
>>> mmm.save("run/model"); same = load("run/model")   # no refit, no pickle  # doctest: +SKIP

Estimator (:class:`OmniMMM`, scikit-learn shape)
------------------------------------------------
``OmniMMM(plan=None, *, spec=None, sampler=None, chains=None, draws=None, tune=None,
target_accept=None, seed=None, priors=None, max_draws=1000)``; ``.fit(panel) -> self``.
``panel`` is an :class:`omnimmm.data.schema.Panel` (``dates``, ``spend`` by channel name,
``outcomes``, ``controls``, ``channel_kinds``, ``source``, ``data_hash``). Without a plan
pass ``spec=ModelSpec(...)`` (see :mod:`omnimmm.mmm.design`). Fitted attributes:
``idata_`` (ArviZ posterior on scaled units), ``response_`` (numpy posterior mean
function in currency), ``scaling_``, ``panel_``, ``diagnostics_``, ``timings_``
(``compile``/``sampling`` seconds), ``model_`` (PyMC model). Methods (all in currency):

============================  ==============================================================
``roi(window=None)``          per channel: ``spend``, ``contribution``, ``mean/low/high``
                              and ``<outcome>_mean/_low/_high`` (90% intervals)
``mroi(window, step=0.01)``   marginal ROI, same columns
``contributions()``           weekly, long: date, channel, outcome, spend, mean, low, high
``decomposition()``           long: date, outcome, group, component, value (adds up to
                              ``fitted()``)
``response_curves(mults)``    channel, multiplier, spend, mean, low, high
``synergy()``                 posterior of each declared synergy term
``forecast(spend, controls)`` future weeks: date, outcome, mean, low, high
``holdout(weeks)``            refit without the last weeks -> ``HoldoutResult.mape``
``ppc()``                     interval coverage, R^2, MAPE per outcome
``diagnostics()``             R-hat, bulk/tail ESS, divergences
``quality_gate(gate)``        raises ``QualityGateError`` with numbered remedies
``prior_predictive(panel)``   prior predictive draws
``optimizer_arrays()``        kwargs for ``optimize.response.AdstockSaturationResponse``
``save(dir)``                 see :mod:`omnimmm.mmm.persistence`; :func:`load` reads it
============================  ==============================================================

For benchmarks and peers: ``mmm.timings_`` holds compile and sampling seconds,
``mmm.diagnostics_.ess_bulk_min`` the minimum bulk ESS, ``mmm.roi()["mean"]`` the total
ROI per channel (index: channel names) to compare with ``world.truth.roi["total"]``.
Fit settings can be overridden per call: ``OmniMMM(plan, chains=2, draws=300, tune=300)``.

Only free parameters are sampled; ``beta``, ``roi_main``, ``chol``, ``sigma`` and the
delayed adstock's ``theta`` are added to ``idata_.posterior`` after sampling
(:mod:`omnimmm.mmm.posterior`). :func:`simulated_lift_tests` runs lift tests on a simulated
world's truth, for calibrated recovery studies.

The optimizer's response: ``mmm.response_.horizon_value(allocations)`` gives the horizon
value per posterior draw (``(C,) -> (D,)``, ``(K, C) -> (K, D)``) per DESIGN.md.
"""

from __future__ import annotations

import importlib
from typing import Any

# Submodules are imported on first use, so ``omnimmm.mmm.baselines`` and
# ``omnimmm.mmm.precheck`` stay light (no PyMC import).
_EXPORTS = {
    "HoldoutResult": "analysis",
    "ChannelSpec": "design",
    "LiftTest": "design",
    "ModelSpec": "design",
    "SamplerSpec": "design",
    "Scaling": "design",
    "Diagnostics": "diagnostics",
    "GateResult": "diagnostics",
    "quality_gate": "diagnostics",
    "OmniMMM": "fit",
    "load": "fit",
    "FittedState": "persistence",
    "save": "persistence",
    "BaselinePriors": "priors",
    "simulated_lift_tests": "calibration",
    "ResponseModel": "response",
}


# Submodules that import PyMC and ArviZ: the stack is imported first without ArviZ's eager
# numba compile (:mod:`omnimmm.mmm.stack`).
_SAMPLING = frozenset({"fit", "persistence", "priors"})


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        if _EXPORTS[name] in _SAMPLING:
            from omnimmm.mmm.stack import import_sampling_stack

            import_sampling_stack()
        module = importlib.import_module(f"omnimmm.mmm.{_EXPORTS[name]}")
        return getattr(module, name)
    raise AttributeError(f"module 'omnimmm.mmm' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)


__all__ = [
    "BaselinePriors",
    "ChannelSpec",
    "Diagnostics",
    "FittedState",
    "GateResult",
    "HoldoutResult",
    "LiftTest",
    "ModelSpec",
    "OmniMMM",
    "ResponseModel",
    "SamplerSpec",
    "Scaling",
    "load",
    "quality_gate",
    "save",
    "simulated_lift_tests",
]
