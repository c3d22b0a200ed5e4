"""The quarterly run of a geo plan (``[data] geo``): validate the long panel and the budget
by region, fit the hierarchical geo model (:mod:`omnimmm.mmm.geo`), gate it, analyse it and
optimize the budget across regions (:mod:`omnimmm.optimize.geo`, the stage in
:mod:`omnimmm.run.stages.geo_optimize`), as stages over one
:class:`~omnimmm.run.context.RunState` (the commands are :mod:`omnimmm.run.drivers`; the
holdout is :mod:`omnimmm.run.stages.geo_holdout`).

The result is an ordinary :class:`~omnimmm.report.result.RunResult`: its national tables
(``allocation``, ``roi``, ``mroi``, ``fit``, ``decomposition``) have the national run's shape,
so the national report, workbook and ``recommendation.json`` render them unchanged, and the
``geo_*`` tables add the regions (``recommendation.json``'s ``geos`` key, the report's region
x channel ROI table and small multiples of regional fit, one workbook sheet each).

National figures: a channel's ROI is the sum over regions of its contributions over the sum
of its spend (the model's ``roi_national``); its current and recommended spend are summed
over regions; its mROI is the horizon value of the next 1% of its spend in every region.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import numpy as np
import pandas as pd

from omnimmm.config import ModelSpec, Plan, RoiPriorDefaults
from omnimmm.errors import DataError, InfeasibleError, PlanError, UsageError, in_file
from omnimmm.report.result import RunResult
from omnimmm.run.context import Progress, RunState
from omnimmm.run.stages.analysis import budget_meta

__all__ = [
    "GeoPrepared",
    "budget_constraints",
    "geo_analysis_stage",
    "geo_diagnostics",
    "geo_fit_stage",
    "geo_gate_stage",
    "geo_prep",
    "prepare_geo",
    "summarize_geo",
]

#: Weeks of history a geo plan needs beyond the budget horizon (a year and a half-year).
_MIN_EXTRA_WEEKS = 26


@dataclass(frozen=True)
class GeoPrepared:
    """A validated geo plan and panel (the geo run's :class:`~omnimmm.run.context.Prepared`).

    Attributes
    ----------
    plan, plan_path, sampler, fast, fit_key, progressbar
        As :class:`~omnimmm.run.context.Prepared`.
    panel : omnimmm.data.geo_read.GeoData
        The panel with its source and hash.
    layout : omnimmm.optimize.geo.GeoLayout
        The budget's variables (national totals, region x local channel) and shares.
    current : pandas.Series
        Current spend per budget variable.
    total : float
        The budget over the horizon (the plan's, or the current total).
    """

    plan: Plan
    plan_path: Path
    panel: Any
    sampler: dict[str, int]
    fast: bool
    layout: Any
    current: pd.Series
    total: float
    fit_key: str
    progressbar: bool = False
    precheck: Any = None

    @property
    def seed(self) -> int:
        """The run's seed (sampler and optimizer starts)."""
        return int(self.plan.seed)


def budget_constraints(plan: Plan, layout: Any) -> Any:
    """The plan's ``[budget]`` as :class:`~omnimmm.optimize.Constraints` over the regions."""
    from omnimmm.optimize.geo_limits import GeoLimits, geo_constraints

    b = plan.budget

    def triple(cb: Any) -> tuple[float | None, float | None, bool, float | None]:
        return cb.min, cb.max, bool(cb.locked), cb.max_change

    geos = {
        name: GeoLimits(
            min=g.min, max=g.max, max_change=g.max_change,
            channels={c: triple(cb) for c, cb in g.channels.items()},
        )
        for name, g in (b.geos or {}).items()
    }  # fmt: skip
    return geo_constraints(
        layout,
        max_change=b.max_change,
        channels={c: triple(cb) for c, cb in b.channels.items()},
        geos=geos,
        online_share=b.online_share,
    )


def _unsupported(plan: Plan, path: Path) -> None:
    """Plan keys the geo model does not honour (yet) stop the run instead of being ignored."""
    found = [k for k, on in (("[lifecycle]", plan.lifecycle), ("[journeys]", plan.journeys),
                             ("model.synergies", plan.model.synergies)) if on]  # fmt: skip
    # the geo model has its own baseline regressors; only a control form the plan asks for
    # explicitly is refused (the national default would otherwise stop every geo plan)
    if "control_form" in plan.model.model_fields_set and plan.model.control_form != "level":
        found.append(f'model.control_form = "{plan.model.control_form}"')
    if "noise" in plan.model.model_fields_set and plan.model.noise != "constant":
        found.append(f'model.noise = "{plan.model.noise}"')  # the geo noise is constant
    if plan.model.seasonal_noise:
        found.append("model.seasonal_noise = true")
    if plan.model.likelihood == "student_t":
        found.append(f'model.likelihood = "{plan.model.likelihood}"')  # the geo noise is normal
    if plan.model.sampler != "nutpie":  # the geo model samples with its own nutpie kernel
        found.append(f'model.sampler = "{plan.model.sampler}"')
    if not plan.model.share_carryover:  # one carryover per channel, shared by the outcomes
        found.append("model.share_carryover = false")
    for i, c in enumerate(plan.channels, 1):
        if c.coef_prior_sd is not None:  # the geo model's priors are ROI priors
            found.append(f"channels[{i}].coef_prior_sd (use roi_prior)")
        if c.adstock not in (None, "geometric"):
            found.append(f'channels[{i}].adstock = "{c.adstock}"')
        if c.saturation != "hill":
            found.append(f'channels[{i}].saturation = "{c.saturation}"')
    if found:
        raise PlanError(
            f"{path}: a geo plan ([data] geo) fits geometric adstock and Hill saturation per "
            f"channel, without synergies, lifecycle or journeys so far; remove "
            f"{', '.join(found)} (or run them on a national plan)"
        )


def prepare_geo(
    plan_path: str | Path, *, seed: int | None = None, fast: bool = False, progressbar: bool = False
) -> GeoPrepared:
    """Read and check a geo plan, its long panel and its budget by region, before any fit.

    Raises
    ------
    PlanError, DataError, InfeasibleError
        Naming the file, key, region, week or constraint at fault.
    """
    from omnimmm.config import load_plan
    from omnimmm.data.geo_read import load_geo_panel
    from omnimmm.optimize import FixedBudget, check_feasible
    from omnimmm.optimize.geo import GeoLayout
    from omnimmm.run.reuse import fit_key
    from omnimmm.run.stages.validate import sampler_settings

    path = Path(plan_path)
    plan = load_plan(path)
    if seed is not None:
        if seed < 0:
            raise UsageError(f"--seed must be a non-negative integer, got {seed}")
        plan = plan.model_copy(update={"seed": int(seed)})
    _unsupported(plan, path)
    data = load_geo_panel(plan)
    p = data.panel
    horizon, holdout = plan.budget.horizon_weeks, plan.model.holdout_weeks
    if p.n_weeks < horizon + holdout + _MIN_EXTRA_WEEKS:
        raise DataError(
            f"{data.source}: {p.n_weeks} weeks are too few for a {horizon}-week budget horizon "
            f"and a {holdout}-week holdout (at least {horizon + holdout + _MIN_EXTRA_WEEKS}); "
            "use longer data or lower budget.horizon_weeks / model.holdout_weeks in the plan"
        )
    for i, cal in enumerate(plan.calibration, 1):
        if cal.geo is not None and cal.geo not in p.geos:
            raise PlanError(
                f"{path}: calibration[{i}].geo = {cal.geo!r}: the data have no such region; "
                f"regions: {', '.join(p.geos[:12])}{' ...' if p.n_geos > 12 else ''}"
            )
    layout = GeoLayout.from_spend(p.spend, p.geos, p.channels, p.kinds, p.scopes, horizon)
    current = pd.Series(layout.current_allocation, index=list(layout.channels))
    total = float(plan.budget.total) if plan.budget.total is not None else float(current.sum())
    if total <= 0:
        raise DataError(
            f"{data.source}: no region spent anything in the last {horizon} weeks, so there is "
            "no current allocation to start from; set budget.total in the plan"
        )
    b = plan.budget
    try:
        constraints = budget_constraints(plan, layout)
        fixed = FixedBudget(total=total, objective=b.objective, margin=b.margin)
        check_feasible(layout.channels, layout.kinds, current.to_numpy(), fixed, constraints)
    except InfeasibleError as exc:
        raise in_file(exc, path, "[budget]") from None
    sampler = sampler_settings(plan, fast)
    return GeoPrepared(
        plan=plan, plan_path=path, panel=data, sampler=sampler, fast=fast, layout=layout,
        current=current, total=total, fit_key=fit_key(plan, sampler), progressbar=progressbar,
    )  # fmt: skip


def week_convention(prep: GeoPrepared) -> str:
    """Which days a week of the panel runs and which of them dates it, with a note where
    dates on a weekend are read as week starts (perhaps week ends: ``data.week_dates``)."""
    from omnimmm.data.geo_read import week_starts

    first = week_starts(prep.panel.panel.dates[:1], prep.plan)[0]
    end = prep.plan.data.week_dates == "end"
    text = (
        f"weeks {first.day_name()} to {(first + pd.Timedelta(days=6)).day_name()}, dated by "
        f'their {"last" if end else "first"} day (data.week_dates = "{"end" if end else "start"}")'
    )
    if prep.plan.data.week_dates is None and first.day_of_week >= 5:
        text += (
            f'; if the {first.day_name()} dates are week ends, set data.week_dates = "end" '
            "(festival weeks follow it)"
        )
    return text


def _no_population(prep: GeoPrepared) -> str:
    """A note where the plan gives no population and the regions' sales differ in size: the
    model then reads every region's spend on one saturation scale, as if equal in size."""
    if prep.plan.data.population is not None:
        return ""
    size = prep.panel.panel.y.sum(axis=(0, 2))
    ratio = float(size.max() / size.min()) if size.min() > 0 else float("inf")
    if ratio < 2.0:
        return ""
    return (
        f" (no data.population: regions whose sales differ {ratio:.3g}-fold are modelled as "
        "equal in size, one saturation curve in absolute spend; give each region's population "
        "or another size measure)"
    )


def summarize_geo(prep: GeoPrepared) -> str:
    """Plain-text summary of a checked geo plan: regions, weeks, spend by channel and scope."""
    p = prep.panel.panel
    spend = p.spend.sum(axis=(0, 1))
    total = float(spend.sum())
    pop = ", ".join(f"{g} {v:,.0f}" for g, v in zip(p.geos[:8], p.population[:8], strict=False))
    weeks = f"  {week_convention(prep)}"
    lines = [
        f"Geo panel {prep.panel.source}",
        f"  sha256 {prep.panel.data_hash[:16]}",
        f"  {p.n_geos} regions x {p.n_weeks} weeks, {p.dates[0].date()} to {p.dates[-1].date()}"
        f" ({prep.panel.rows} rows)",
        weeks,
        f"  population: {pop}" + (" ..." if p.n_geos > 8 else "") + _no_population(prep),
        "",
        f"Channels: {len(p.channels)}, total spend {total:,.0f}",
    ]
    width = max(len(c) for c in p.channels)
    for c, k, s, v in zip(p.channels, p.kinds, p.scopes, spend, strict=True):
        lines.append(f"  {c:<{width}}  {k:<7} {s:<8} {v:>16,.0f}  {100 * v / total:5.1f}%")
    lines += [
        "",
        f"Outcomes: {', '.join(p.outcomes)}; controls: {', '.join(p.control_names) or 'none'}; "
        f"events: {', '.join(p.event_names) or 'none'}",
        f"Budget: {prep.total:,.0f} over {prep.plan.budget.horizon_weeks} weeks in "
        f"{len(prep.layout.channels)} budget lines (feasible)",
    ]
    return "\n".join(lines)


# --------------------------------------------------------------------------- fit and gate


def geo_prep(state: RunState) -> GeoPrepared:
    """The geo run's prepared plan (a RunState is typed for the national one)."""
    return cast(GeoPrepared, state.prep)


def lift_tests(plan: Plan) -> tuple[Any, ...]:
    """The plan's ``[[calibration]]`` rows as the geo model's lift tests: a test that moved
    spend by ``spend_change`` and caused ``incremental_revenue`` (standard error ``se``)
    reads as ROI ``incremental_revenue / spend_change`` with standard error
    ``se / |spend_change|``, in its region (``geo``) or nationally. The geo model takes it as
    the channel's average ROI over the data (its ``start``/``end`` are not used)."""
    from omnimmm.mmm.geo import GeoLiftTest

    return tuple(
        GeoLiftTest(channel=c.channel, roi=c.incremental_revenue / c.spend_change,
                    se=c.se / abs(c.spend_change), geo=c.geo, outcome=c.outcome)
        for c in plan.calibration
    )  # fmt: skip


def geo_sampler(prep: GeoPrepared) -> dict[str, Any]:
    """The geo fit's sampler settings: the run's ``chains``, ``draws``, ``tune``, ``seed`` and
    ``target_accept`` (the plan's where it differs from the national default, else the geo
    model's own)."""
    import inspect

    from omnimmm.mmm.geo import fit as geo_fit

    accept = prep.plan.model.target_accept
    if accept == ModelSpec().target_accept:  # the geo model's own default
        accept = inspect.signature(geo_fit.fit_geo).parameters["target_accept"].default
    return {**prep.sampler, "target_accept": float(accept)}


def model_spec(prep: GeoPrepared, roi_centred: bool = True) -> Any:
    """The geo model the plan asks for: its ROI priors, lift tests, lags, seasonality and
    baseline, with the regional log ROI sampled in the given form."""
    from omnimmm.mmm.geo import GeoModelSpec

    # a channel's own ROI prior, else the plan's [model.roi_prior_default] for its kind where
    # that differs from the national default (the geo model's own default is the same)
    given, usual = prep.plan.model.roi_prior_default, RoiPriorDefaults()
    priors = {}
    for c in prep.plan.channels:
        prior = c.roi_prior or getattr(given, c.kind)
        if c.roi_prior is not None or prior != getattr(usual, c.kind):
            priors[c.name] = (prior.mean, prior.sd)
    # A plan value other than the national default overrides the geo model's own default
    # (by value, not by whether the key was written, so the run's plan.toml reruns the same).
    lags = [c.l_max for c in prep.plan.channels if c.l_max is not None]
    m, national = prep.plan.model, ModelSpec()
    extra: dict[str, Any] = {"l_max": max(lags)} if lags else {}
    if m.yearly_fourier != national.yearly_fourier:
        extra["fourier_order"] = m.yearly_fourier
    if prep.plan.calibration:
        extra["lift_tests"] = lift_tests(prep.plan)
    if m.baseline != "fixed":  # the moving baseline, where this geo model version has it
        if "baseline" not in {f.name for f in dataclasses.fields(GeoModelSpec)}:
            raise PlanError(
                f'{prep.plan_path}: model.baseline = "{m.baseline}" is not in this version of '
                'the geo model; use baseline = "fixed" for a geo plan'
            )
        extra.update(baseline=m.baseline, baseline_step_sd=m.baseline_step_sd,
                     baseline_knot_weeks=m.baseline_knot_weeks)  # fmt: skip
    return GeoModelSpec(roi_priors=priors or None, trend=m.trend, roi_centred=roi_centred, **extra)


def with_roi_form(prep: GeoPrepared, say: Progress, settings: dict[str, Any]) -> tuple[dict, Any]:
    """``settings`` with ``roi_centred`` set: kept when given (a remedy's, or the kept fit's
    for a refit), else chosen by a short pilot fit (:func:`omnimmm.mmm.geo.pilot.
    choose_roi_form`); the choice (None when kept) is returned too."""
    if "roi_centred" in settings:
        return settings, None
    from omnimmm.mmm.geo import pilot

    choice = pilot.choose_roi_form(prep.panel.panel, model_spec(prep), seed=int(settings["seed"]))
    say(choice.describe())
    return {**settings, "roi_centred": choice.centred}, choice


def fit_model(
    prep: GeoPrepared,
    say: Progress,
    settings: dict[str, Any] | None = None,
    warm_from: Any = None,
) -> Any:
    """Fit the hierarchical geo model with the plan's ROI priors, lift tests and the run's
    sampler (``settings``: :func:`geo_sampler`'s, or a remedy's). Without ``roi_centred``
    in ``settings``, a pilot fit chooses the form of the regional log ROI first. With
    ``warm_from`` (an earlier fit of the same plan on other weeks, in the same form), the
    chains start where it ended and tune a quarter of the steps (:mod:`omnimmm.mmm.warm`)."""
    from omnimmm.mmm.geo import fit_geo
    from omnimmm.mmm.warm import warm_tune

    s, _ = with_roi_form(prep, say, settings or geo_sampler(prep))
    spec = model_spec(prep, roi_centred=bool(s["roi_centred"]))
    warm = warm_from.warm_start(spec) if warm_from is not None else None
    start = f", started warm ({warm_tune(s['tune'])} tuning steps)" if warm is not None else ""
    say(
        f"fitting the geo model: {prep.panel.panel.n_geos} regions x {prep.panel.n_weeks} "
        f"weeks, {s['chains']} chains x {s['draws']} draws{start}"
    )
    return fit_geo(
        prep.panel.panel, spec, chains=s["chains"], draws=s["draws"], tune=s["tune"],
        seed=s["seed"], target_accept=s["target_accept"], progress=prep.progressbar,
        warm_start=warm,
    )  # fmt: skip


#: Blocks of the regional log ROI hierarchy, whose sampling form a remedy may switch.
_ROI_BLOCKS = ("roi_spread[", "roi_geo_log[")


def roi_form_remedy(
    settings: dict[str, Any], failed: set[str], diag: Any
) -> tuple[dict[str, Any], str] | None:
    """The geo model's reparametrisation remedy: sample the regional log ROI non-centred
    when a centred fit failed the gate in them.

    A remedy may only change how the SAME model is sampled, never the model: the centred
    and the non-centred forms have the same priors (the spread's is
    :attr:`~omnimmm.mmm.geo.GeoModelSpec.roi_spread_prior` in both) and likelihood, so the
    posterior is the same and only the sampler's coordinates change. The centred form
    (the default) has no ridge when every region's data pin its ROI, but a funnel when the
    regions barely differ (a small spread): there the diagnostics' worst parameters are the
    spread or the regional log ROI, and the non-centred form removes the funnel.

    Parameters
    ----------
    settings : dict
        The failed attempt's sampler settings (``roi_centred`` False once switched).
    failed : set of str
        Its failed checks (:func:`omnimmm.run.remedies.failed_checks`).
    diag : Diagnostics
        Its diagnostics; ``worst_rhat`` and ``worst_ess`` name the parameters.

    Returns
    -------
    tuple or None
        ``(settings with roi_centred False, description)`` when the fit was centred and the
        worst parameter of a failed check (either one, for divergences, which are not
        located) is in ``roi_spread`` or ``roi_geo_log``; else None (the sampler remedies
        follow).
    """
    if settings.get("roi_centred", True) is False:
        return None
    names = []
    if "rhat" in failed or "divergences" in failed:
        names.append(str(getattr(diag, "worst_rhat", "")))
    if "ess" in failed or "divergences" in failed:
        names.append(str(getattr(diag, "worst_ess", "")))
    where = [n for n in names if n.startswith(_ROI_BLOCKS)]
    if not where:
        return None
    return (
        {**settings, "roi_centred": False},
        f"regional log ROI sampled non-centred (the same model; the sampler struggled in "
        f"{where[0]})",
    )


class _Checked:
    """A geo fit with the national model's ``diagnostics_`` (what the remedies read)."""

    def __init__(self, fit: Any) -> None:
        self.fit, self.diagnostics_ = fit, geo_diagnostics(fit)
        self.timings_ = dict(getattr(fit, "timings", {}) or {})


def fit_checked(
    prep: GeoPrepared,
    say: Progress,
    start: dict[str, Any] | None = None,
    warm_from: Any = None,
) -> tuple[Any, list[dict[str, Any]], dict[str, Any] | None]:
    """Fit the geo model in the form a pilot fit chooses for the regional log ROI
    (:func:`with_roi_form`); while it fails an enforced gate, refit, at most ``[gate]
    remedies`` times: first with the regional log ROI non-centred when a centred fit's
    failure sits in them (:func:`roi_form_remedy`, the same model), then with safer sampler
    settings (:mod:`omnimmm.run.remedies`: the national run's rules).

    Parameters
    ----------
    prep : GeoPrepared
    say : callable
    start : dict, optional
        The first attempt's sampler settings, ``roi_centred`` included (no pilot then): an
        earlier fit's kept settings, as a backtest's later origins use. Default: the plan's,
        in the form the pilot chooses.
    warm_from : GeoFit, optional
        The first attempt's chains start where this fit ended (:meth:`omnimmm.mmm.geo.fit.
        GeoFit.warm_start`). A remedy's refit starts warm from the attempt it remedies when
        that attempt failed on divergences alone and the form is unchanged
        (:func:`_warm_source`), else cold.

    Returns
    -------
    tuple
        The kept fit, one record per attempt (one when no remedy ran), and the pilot's
        choice (:meth:`omnimmm.mmm.geo.pilot.RoiFormChoice.as_dict`; None without a pilot).
    """
    from omnimmm.run.remedies import fit_with_remedies
    from omnimmm.run.stages.gate import gate_spec

    gate = gate_spec(cast(Any, prep))
    first, choice = with_roi_form(prep, say, start or geo_sampler(prep))
    tried: list[_Checked] = []

    def fit(settings: dict[str, Any]) -> _Checked:
        source = warm_from if settings is first else _warm_source(tried[-1], gate)
        tried.append(_Checked(fit_model(prep, say, settings, source)))
        return tried[-1]

    checked, attempts = fit_with_remedies(
        fit,
        first,
        gate,
        0 if gate.allow_failure else prep.plan.gate.remedies,
        say,
        reform=roi_form_remedy,
    )
    return checked.fit, attempts, choice.as_dict() if choice is not None else None


def _warm_source(failed: _Checked, gate: Any) -> Any:
    """The fit a remedy's refit starts warm from: the failed attempt, when it failed on
    divergences alone (its chains agree and mixed, so their draws are a sample of the
    posterior to start from; the remedy's smaller steps need only re-tuning); else None (a
    cold start: chains that disagree or barely moved are no start)."""
    from omnimmm.run.remedies import failed_checks

    return failed.fit if failed_checks(failed.diagnostics_, gate) == {"divergences"} else None


#: Tables the fit-side stages compute, kept from the previous run when its model is reused.
GEO_FIT_TABLES = ("holdout", "baseline_forecasts", "holdout_scores", "geo_holdout_scores")


def geo_fit_stage(state: RunState) -> None:
    """Fit the geo model, or reuse the one in the run directory when the plan's model
    sections, the data, the code and the model's files all match
    (:func:`omnimmm.run.reuse.reusable`), and save it under ``model/``."""
    import shutil

    from omnimmm.mmm.geo import load_geo
    from omnimmm.run.reuse import model_hashes, reusable
    from omnimmm.run.stages.fit import reuse_previous

    prep, work, say = geo_prep(state), state.work, state.say
    model_dir = work / "model"
    decision = reusable(state.previous, prep.fit_key, prep.panel.data_hash, geo=True)
    if decision.ok:
        reuse_previous(state, "geo model", load_geo, GEO_FIT_TABLES)
    else:
        if decision.reason:
            say(f"not reusing the model in {state.previous}: {decision.reason}; refitting")
        shutil.rmtree(model_dir, ignore_errors=True)
        fit, state.attempts, roi_form = fit_checked(prep, say)
        fit.save(model_dir)
        state.model = fit
        state.reused = False
        state.fits["mmm"] = dict(getattr(fit, "timings", {}) or {})
        if roi_form is not None:
            state.fits["roi_form"] = roi_form
    state.model_files = model_hashes(model_dir)


def geo_diagnostics(fit: Any) -> Any:
    """The geo fit's convergence as :class:`~omnimmm.mmm.diagnostics.Diagnostics`."""
    from omnimmm.mmm.diagnostics import Diagnostics

    d = fit.diagnostics()
    nan = float("nan")
    n_chains = int(d.get("n_chains") or d.get("chains") or 1)
    n_draws = int(d.get("n_draws") or d.get("draws") or 0)
    if not n_draws and d.get("divergence_rate"):
        n_draws = int(round(int(d.get("divergences") or 0) / float(d["divergence_rate"])))
    return Diagnostics(
        rhat_max=float(d.get("max_rhat", d.get("rhat_max", nan))),
        ess_bulk_min=float(d.get("min_ess_bulk", d.get("ess_bulk_min", nan))),
        ess_tail_min=float(d.get("min_ess_tail", d.get("ess_tail_min", nan))),
        divergences=int(d.get("divergences") or 0),
        n_draws=n_draws,
        n_chains=n_chains,
        sampler=str(d.get("sampler", "nutpie")),
        worst_rhat=str(d.get("worst_rhat", "")),
        worst_ess=str(d.get("worst_ess", "")),
    )


def geo_gate_stage(state: RunState) -> None:
    """The national run's quality gate on the geo fit's diagnostics.

    Raises
    ------
    QualityGateError
        The fit failed and neither the plan nor ``--fast`` allows it.
    """
    from omnimmm.mmm.diagnostics import quality_gate
    from omnimmm.run.stages.gate import apply_gate

    diag = geo_diagnostics(state.model)
    apply_gate(state, lambda spec: quality_gate(diag, spec))
    state.tables["geo_diagnostics"] = pd.DataFrame([diag.to_dict()])


# --------------------------------------------------------------------------- analysis


def _roi_tables(fit: Any, prep: GeoPrepared) -> dict[str, pd.DataFrame]:
    p = prep.panel.panel
    spend = pd.Series(p.spend.sum(axis=(0, 1)), index=list(p.channels))
    nat = fit.roi_national().set_index("channel").reindex(list(p.channels))
    roi = pd.DataFrame({"channel": list(p.channels), "spend": spend.to_numpy()})
    for k in ("mean", "low", "high"):
        roi[k] = nat[k].to_numpy(dtype=float)
    roi["contribution"] = roi["mean"] * roi["spend"]
    for o in p.outcomes:
        for k in ("mean", "low", "high"):
            col = f"{o}_{k}"
            roi[col] = nat[col].to_numpy(dtype=float) if col in nat.columns else np.nan
    geo = fit.roi_geo()
    by_region = pd.DataFrame(
        [
            {"geo": g, "channel": c, "scope": p.scopes[j], "spend": float(p.spend[:, i, j].sum())}
            for i, g in enumerate(p.geos)
            for j, c in enumerate(p.channels)
        ]
    )
    per_outcome = [f"{o}_{k}" for o in p.outcomes for k in ("mean", "low", "high")]
    keep = ["geo", "channel", "mean", "low", "high", *(c for c in per_outcome if c in geo.columns)]
    geo_roi = by_region.merge(geo[keep], on=["geo", "channel"], how="left")
    return {"roi": roi, "geo_roi": geo_roi}


def _long(p: Any, arrays: dict[str, np.ndarray]) -> pd.DataFrame:
    """(T, G, O) arrays as a long frame ``date, geo, outcome, <name>...``."""
    t_n, g_n, o_n = p.n_weeks, p.n_geos, len(p.outcomes)
    out = pd.DataFrame(
        {
            "date": np.repeat(p.dates.values, g_n * o_n),
            "geo": np.tile(np.repeat(np.asarray(p.geos, dtype=object), o_n), t_n),
            "outcome": np.tile(np.asarray(p.outcomes, dtype=object), t_n * g_n),
        }
    )
    for name, a in arrays.items():
        out[name] = np.asarray(a, dtype=float).reshape(-1)
    return out


def _fit_tables(fit: Any, prep: GeoPrepared) -> dict[str, pd.DataFrame]:
    """Regional and national fit (actual vs posterior mean, 90% band) and, when the fit
    offers its contributions, the national decomposition into baseline and channels."""
    p = prep.panel.panel
    fitted = fit.fitted()
    if isinstance(fitted, pd.DataFrame):  # a long frame date, geo, outcome, mean, low, high
        fitted = fitted.assign(date=pd.to_datetime(fitted["date"]))
        geo_fit = _long(p, {"actual": p.y}).merge(fitted, on=["date", "geo", "outcome"])
    else:  # arrays (T, G, O): mean, low, high
        geo_fit = _long(p, {"actual": p.y, **{k: fitted[k] for k in ("mean", "low", "high")}})
    national = geo_fit.groupby(["outcome", "date"], sort=False)[["actual", "mean"]].sum()
    fit_table = national.rename(columns={"mean": "fitted"}).reset_index()
    tables = {"geo_fit": geo_fit, "fit": fit_table[["date", "outcome", "actual", "fitted"]]}
    contrib = getattr(fit, "contributions", None)
    if callable(contrib):
        c = contrib()
        mean = np.asarray(c["mean"] if isinstance(c, dict) else c)
        mean = mean.mean(axis=0) if mean.ndim == 5 else mean  # (T, G, C, O)
        media = mean.sum(axis=(1, 3))  # (T, C)
        fitted_all = national.groupby("date", sort=False)["mean"].sum().reindex(p.dates)
        rows = [
            pd.DataFrame({"date": p.dates, "group": "baseline", "component": "baseline",
                          "value": fitted_all.to_numpy() - media.sum(axis=1)})
        ]  # fmt: skip
        for j, ch in enumerate(p.channels):
            rows.append(
                pd.DataFrame({"date": p.dates, "group": "channel", "component": ch,
                              "value": media[:, j]})
            )  # fmt: skip
        tables["decomposition"] = pd.concat(rows, ignore_index=True)
    return tables


def _n_draws(fit: Any) -> int:
    draws = getattr(fit, "draws", None)
    return int(getattr(draws, "n_draws", None) or getattr(fit, "n_draws", 0) or 0)


def geo_meta(prep: GeoPrepared, fit: Any) -> dict[str, Any]:
    """The result's ``meta`` (the national run's keys, plus the regions)."""
    p = prep.panel.panel
    return {
        "plan_path": str(prep.plan_path),
        "data_path": str(prep.panel.source),
        "channels": [{"name": c, "kind": k, "scope": s}
                     for c, k, s in zip(p.channels, p.kinds, p.scopes, strict=True)],
        "outcomes": list(p.outcomes),
        "synergies": [],
        "weeks": {"first": str(p.dates[0].date()), "last": str(p.dates[-1].date()),
                  "n": int(p.n_weeks)},
        "geos": list(p.geos),
        "population": [float(v) for v in p.population],
        **budget_meta(prep),
        "sampler": {**prep.sampler, "sampler": "nutpie"},
        "n_draws_analysis": _n_draws(fit),
        "created": dt.datetime.now(dt.UTC).date().isoformat(),
    }  # fmt: skip


def geo_analysis_stage(state: RunState) -> None:
    """Build ``state.result``: national and regional ROI, fit, gate and diagnostics."""
    prep, fit = geo_prep(state), state.model
    d = dict(state.tables.get("geo_diagnostics", pd.DataFrame([{}])).iloc[0])
    d["holdout_mape"] = state.holdout.get("mape_mean")
    meta = geo_meta(prep, fit)
    if state.attempts:  # the settings the kept fit was sampled with (a remedy's, if one ran)
        kept = state.attempts[-1]["settings"]
        meta["sampler"].update({k: kept[k] for k in ("chains", "draws", "tune", "target_accept")})
        if "roi_centred" in kept:
            meta["sampler"]["roi_centred"] = bool(kept["roi_centred"])
    if state.fits.get("roi_form"):  # the pilot's choice of that form, and why
        meta["roi_form"] = state.fits["roi_form"]
    state.result = RunResult(
        meta=meta,
        horizon_value={},
        diagnostics=d,
        gate=state.gate,
        holdout=state.holdout or {"weeks": 0},
        optimizer={},
        tables={**_roi_tables(fit, prep), **_fit_tables(fit, prep), **state.tables},
    )
