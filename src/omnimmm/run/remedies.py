"""Automatic remedies before giving up: refit with safer sampler settings when a fit fails
the quality gate, at most ``[gate] remedies`` times (default 2; 0 turns them off).

The gate itself is never loosened: a remedy only changes how the same model is sampled.
Each remedy builds on the settings of the attempt before it and answers what failed:

1. **divergences** above the limit: raise ``target_accept`` one notch (to 0.95, then 0.99:
   smaller, safer steps) and double the tuning steps (at least 1,000);
2. **R-hat** above the limit (chains disagree): double the tuning steps (at least 1,000)
   and the draws, with at least 4 chains;
3. **bulk ESS** below the minimum: more draws, by the factor the measured ESS says is
   needed (at least 2x, at most 4x, 25% to spare), with at least 4 chains.

Draws and tuning steps stop at :data:`MAX_DRAWS` and :data:`MAX_TUNE` per chain.

A model may also offer a **reparametrisation** (``fit_with_remedies(reform=...)``), tried
before the sampler settings are raised: the same model, priors and likelihood, sampled in
other coordinates where the diagnostics show the sampler struggling (the geo model's
regional ROI: :func:`omnimmm.run.stages.geo.roi_form_remedy`). It never changes what is
estimated; its settings key (e.g. ``roi_centred``) is kept in the attempt's record.

Remedies run only where the gate is enforced: approximate fits (ADVI, pathfinder),
``--fast`` runs and plans with ``[gate] allow_failure = true`` get none (their settings, or
a failed fit, are the user's choice). A model reused from an earlier run is not refitted. Each attempt's settings and diagnostics are returned for the
console, ``manifest.json`` (``remedies``) and the report.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import Any

from omnimmm.mmm.warm import warm_tune
from omnimmm.run.context import Progress, quiet

__all__ = ["MAX_DRAWS", "MAX_TUNE", "attempt_lines", "failed_checks", "fit_with_remedies",
           "next_settings"]  # fmt: skip

#: Upper bounds of a remedy's draws and tuning steps per chain (a remedy never runs away).
MAX_DRAWS = 8000
MAX_TUNE = 8000
_ACCEPT_STEPS = (0.95, 0.99)
_APPROXIMATE = ("advi", "pathfinder")


def failed_checks(diag: Any, gate: Any) -> set[str]:
    """Which gate checks ``diag`` fails: a subset of ``{"rhat", "ess", "divergences"}``.

    Parameters
    ----------
    diag : Diagnostics
        ``rhat_max``, ``ess_bulk_min``, ``divergence_rate`` (NaN counts as a failure).
    gate : GateSpec-like
        ``rhat_max``, ``ess_bulk_min``, ``divergence_rate_max``.
    """
    out = set()
    if not diag.rhat_max <= gate.rhat_max:
        out.add("rhat")
    if not diag.ess_bulk_min >= gate.ess_bulk_min:
        out.add("ess")
    if not diag.divergence_rate <= gate.divergence_rate_max:
        out.add("divergences")
    return out


def next_settings(
    settings: dict[str, Any], failed: set[str], diag: Any, gate: Any
) -> tuple[dict[str, Any], str] | None:
    """The next attempt's sampler settings and a plain description of the change.

    Parameters
    ----------
    settings : dict
        ``chains``, ``draws``, ``tune``, ``target_accept``, ``seed`` of the failed attempt.
    failed : set of str
        :func:`failed_checks` of that attempt.
    diag, gate
        Its diagnostics and the gate thresholds (the ESS factor is read from them).

    Returns
    -------
    tuple or None
        ``(settings, description)``, or None when nothing is left to change (every
        setting at its bound) or nothing failed.
    """
    if not failed:
        return None
    new = dict(settings)
    changes = []
    if "divergences" in failed:
        higher = [a for a in _ACCEPT_STEPS if a > settings["target_accept"] + 1e-9]
        if higher:
            new["target_accept"] = higher[0]
            changes.append(f"target_accept {settings['target_accept']:g} -> {higher[0]:g}")
    if failed & {"divergences", "rhat"}:
        new["tune"] = min(max(2 * settings["tune"], 1000), MAX_TUNE)
    factor = 2 if "rhat" in failed else 1
    if "ess" in failed:
        ess = float(diag.ess_bulk_min)
        need = 1.25 * float(gate.ess_bulk_min) / ess if ess > 0 else 4.0
        factor = max(factor, min(max(math.ceil(need) if math.isfinite(need) else 4, 2), 4))
    new["draws"] = min(factor * settings["draws"], MAX_DRAWS)
    if failed & {"rhat", "ess"}:
        new["chains"] = max(settings["chains"], 4)
    for key, label in (("tune", "tuning steps"), ("draws", "draws"), ("chains", "chains")):
        if new[key] != settings[key]:
            changes.append(f"{label} {settings[key]} -> {new[key]}")
    if new == settings:
        return None
    return new, ", ".join(changes)


#: Settings a reparametrisation remedy may add, kept in the attempt's record when present.
_FORM_KEYS = ("roi_centred",)
_SAMPLER_KEYS = ("chains", "draws", "tune", "target_accept", "seed")


def _record(model: Any, settings: dict[str, Any], remedy: str, gate: Any, seconds: float) -> dict:
    d = model.diagnostics_
    failed = failed_checks(d, gate) if d.sampler not in _APPROXIMATE else {"approximate"}
    kept = [*_SAMPLER_KEYS, *(k for k in _FORM_KEYS if k in settings)]
    return {
        "remedy": remedy,
        "settings": {k: settings[k] for k in kept},
        "rhat_max": float(d.rhat_max),
        "ess_bulk_min": float(d.ess_bulk_min),
        "divergences": int(d.divergences),
        "passed": not failed,
        "failed": sorted(failed),
        "seconds": round(seconds, 3),
        # whether the chains started at an earlier fit's draws (omnimmm.mmm.warm)
        "warm_start": bool((getattr(model, "timings_", None) or {}).get("warm", False)),
    }


def fit_with_remedies(
    fit: Callable[[dict[str, Any]], Any],
    settings: dict[str, Any],
    gate: Any,
    limit: int,
    say: Progress = quiet,
    reform: Callable[[dict[str, Any], set[str], Any], tuple[dict[str, Any], str] | None]
    | None = None,
) -> tuple[Any, list[dict[str, Any]]]:
    """Fit with ``settings``; while the gate fails, refit with the next remedy's settings.

    Parameters
    ----------
    fit : callable
        ``fit(settings) -> fitted OmniMMM`` (``settings`` as below).
    settings : dict
        ``chains``, ``draws``, ``tune``, ``target_accept``, ``seed``: the plan's.
    gate : GateSpec-like
        The thresholds the fit must meet (never changed here).
    limit : int
        Most refits to try (``[gate] remedies``); 0 fits once.
    say : callable
        Receives one line per remedy.
    reform : callable, optional
        ``reform(settings, failed, diagnostics) -> (settings, description) or None``: a
        reparametrisation of the same model (never a different model), tried before
        :func:`next_settings` whenever it returns one; the sampler settings stay those of
        the failed attempt.

    Returns
    -------
    tuple
        The last fitted model (the first that passed, or the last remedy's) and one record
        per attempt: ``remedy`` (``"plan settings"`` first), ``settings``, ``rhat_max``,
        ``ess_bulk_min``, ``divergences``, ``passed``, ``failed``, ``seconds``,
        ``warm_start`` (the chains started at an earlier fit's draws and tuned a quarter of
        ``settings["tune"]``).
    """
    t0 = time.perf_counter()
    model = fit(settings)
    attempts = [_record(model, settings, "plan settings", gate, time.perf_counter() - t0)]
    while not attempts[-1]["passed"] and len(attempts) <= limit:
        last = attempts[-1]
        if "approximate" in last["failed"]:
            break
        failed = set(last["failed"])
        step = reform(settings, failed, model.diagnostics_) if reform is not None else None
        if step is None:
            step = next_settings(settings, failed, model.diagnostics_, gate)
        if step is None:
            say("quality gate failed and no remedy is left to try (settings at their bounds)")
            break
        settings, change = step
        say(
            f"quality gate failed ({_verdict(last)}); remedy {len(attempts)}/{limit}: "
            f"refitting with {change}"
        )
        t0 = time.perf_counter()
        model = fit(settings)
        attempts.append(_record(model, settings, change, gate, time.perf_counter() - t0))
        say(f"remedy {len(attempts) - 1}: {_verdict(attempts[-1])}"
            + (", the gate passes" if attempts[-1]["passed"] else ""))  # fmt: skip
    return model, attempts


def _verdict(a: dict[str, Any]) -> str:
    return (f"max R-hat {a['rhat_max']:.3f}, min bulk ESS {a['ess_bulk_min']:.0f}, "
            f"{a['divergences']} divergences")  # fmt: skip


def attempt_lines(attempts: list[dict[str, Any]]) -> list[str]:
    """One sentence per automatic remedy (none when the plan's settings were the only try)."""
    if len(attempts) < 2:
        return []
    first = attempts[0]
    lines = [f"plan settings ({_settings(first['settings'])}): {_verdict(first)}, "
             f"failed ({', '.join(first['failed'])})"]  # fmt: skip
    for k, a in enumerate(attempts[1:], start=1):
        warm = (f"; started warm from the attempt before, {warm_tune(a['settings']['tune'])} "
                "tuning steps run" if a.get("warm_start") else "")  # fmt: skip
        lines.append(
            f"remedy {k}, {a['remedy']} ({_settings(a['settings'])}{warm}): {_verdict(a)}, "
            + ("passed" if a["passed"] else f"failed ({', '.join(a['failed'])})")
        )
    return lines


def _settings(s: dict[str, Any]) -> str:
    form = ", regional ROI non-centred" if s.get("roi_centred") is False else ""
    return (f"{s['chains']} chains x {s['draws']} draws after {s['tune']} tuning steps, "
            f"target_accept {s['target_accept']:g}{form}")  # fmt: skip
