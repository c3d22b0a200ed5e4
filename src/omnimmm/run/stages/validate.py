"""The first stages of every run: check the plan and its data, pre-check the media, and check
that the budget can be met, all before any sampling (seconds, not minutes)."""

from __future__ import annotations

from pathlib import Path

from omnimmm.config import Plan
from omnimmm.errors import DataError, InfeasibleError, UsageError, in_file
from omnimmm.mmm.precheck import PrecheckResult, precheck_spend
from omnimmm.run.context import FAST_SAMPLER, Prepared
from omnimmm.run.reuse import fit_key

__all__ = ["precheck_messages", "prepare", "sampler_settings"]


def sampler_settings(plan: Plan, fast: bool) -> dict[str, int]:
    """``chains``, ``draws``, ``tune`` and ``seed`` of the MMM fit (``--fast`` or the plan's)."""
    if fast:
        return {**FAST_SAMPLER, "seed": int(plan.seed)}
    m = plan.model
    return {"chains": m.chains, "draws": m.draws, "tune": m.tune, "seed": int(plan.seed)}


def prepare(
    plan_path: str | Path, *, seed: int | None = None, fast: bool = False, progressbar: bool = False
) -> Prepared:
    """Read and check the plan and its data; fail in seconds on anything a fit cannot fix.

    Checks, in order: the plan (keys, values, names), the panel (columns, dates, spend),
    enough weeks for the horizon and the holdout, the pre-fit media checks (reported, not
    fatal), and the feasibility of the budget constraints against the current allocation.

    Parameters
    ----------
    plan_path
        The plan file.
    seed
        Overrides the plan's seed.
    fast
        Quick sampler settings (:data:`omnimmm.run.context.FAST_SAMPLER`).
    progressbar
        Draw the sampler's progress bar.

    Returns
    -------
    Prepared

    Raises
    ------
    PlanError, DataError, InfeasibleError
        With one paragraph that names the file, key, column or constraint at fault.
    """
    from omnimmm.config import load_plan
    from omnimmm.data import load_panel
    from omnimmm.optimize import check_feasible
    from omnimmm.run.context import scenario

    path = Path(plan_path)
    plan = load_plan(path)
    if plan.data.geo is not None:
        raise UsageError(
            f"{path}: a geo plan ([data] geo = {plan.data.geo!r}) is prepared by "
            "omnimmm.run.stages.geo.prepare_geo; this function reads national plans (the "
            "omnimmm commands take both)"
        )
    if seed is not None:
        if seed < 0:
            raise UsageError(f"--seed must be a non-negative integer, got {seed}")
        plan = plan.model_copy(update={"seed": int(seed)})
    panel = load_panel(plan)
    horizon = plan.budget.horizon_weeks
    holdout = plan.model.holdout_weeks
    if panel.n_weeks < horizon + holdout + 26:
        raise DataError(
            f"{panel.source}: {panel.n_weeks} weeks of data are too few for a "
            f"{horizon}-week budget horizon and a {holdout}-week holdout (at least "
            f"{horizon + holdout + 26} weeks are needed); use longer data or lower "
            "budget.horizon_weeks / model.holdout_weeks in the plan"
        )
    checks = precheck_spend(panel.spend)
    channels = list(plan.channel_names)
    current = panel.spend[channels].iloc[-horizon:].sum()
    total = float(plan.budget.total) if plan.budget.total is not None else float(current.sum())
    if total <= 0:
        raise DataError(
            f"{panel.source}: no channel spent anything in the last {horizon} weeks, so there "
            "is no current allocation to start from; set budget.total in the plan"
        )
    fixed, constraints = scenario(plan, channels, total)
    kinds = [plan.channel(c).kind for c in channels]
    try:
        check_feasible(channels, kinds, current.to_numpy(dtype=float), fixed, constraints)
    except InfeasibleError as exc:  # say which file and key, as validate does (same call)
        key = "[budget] total" if plan.budget.total is not None else "[budget]"
        raise in_file(exc, path, key) from None
    sampler = sampler_settings(plan, fast)
    return Prepared(
        plan=plan,
        plan_path=path,
        panel=panel,
        precheck=checks,
        sampler=sampler,
        fast=fast,
        current=current,
        total=total,
        fit_key=fit_key(plan, sampler),
        progressbar=progressbar,
    )


def precheck_messages(pc: PrecheckResult) -> list[str]:
    """The pre-fit media checks as plain sentences for the report and the console."""
    out = []
    for a, b, r in pc.collinear_pairs:
        out.append(f"spend of {a} and {b} moves together (correlation {r:.2f})")
    for c in pc.high_vif:
        partners = ", ".join(pc.vif_partners.get(c, ()))
        out.append(
            f"{c} is close to a combination of other channels (VIF {float(pc.vif[c]):.1f}"
            + (f"; mostly {partners})" if partners else ")")
        )
    for c in pc.sparse_channels:
        out.append(f"{c} spends nothing in {100 * float(pc.zero_share[c]):.0f}% of weeks")
    for c in pc.constant_channels:
        out.append(f"{c} spends the same every week, so its effect cannot be estimated")
    return out
