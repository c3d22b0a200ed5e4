"""What the model is made of: the resolved specification, the scaling, the design matrices.

:class:`ModelSpec` is the plan resolved into exactly what the MMM needs (channels with their
adstock and saturation kinds and priors, outcomes, controls, synergies, baseline switches,
lift tests); it can be built from a :class:`omnimmm.config.Plan` or directly. It is
JSON-serialisable so a saved model can be rebuilt without the plan file.

:class:`Scaling` holds the constants fitted on the training panel (spend scale per
channel, outcome scale, control means and standard deviations, time origin, festival
columns). Media and outcomes are divided by their scale; every result is multiplied back so
users only ever see currency units.

:func:`baseline_features` turns dates and controls into the baseline design (trend,
yearly Fourier terms, standardised controls, festival indicators) for any weeks, past or
future, with the training constants.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from omnimmm.data.calendar import plan_festival_weeks
from omnimmm.errors import DataError, PlanError
from omnimmm.mmm.timevarying import control_deviation, level_ramps
from omnimmm.transforms import ADSTOCKS, SATURATIONS

__all__ = [
    "ChannelLayout",
    "ChannelSpec",
    "LiftTest",
    "ModelSpec",
    "SamplerSpec",
    "Scaling",
    "baseline_features",
    "fit_scaling",
]

_DAYS_PER_YEAR = 365.25
#: Baseline kinds of ``[model] baseline`` (see :func:`omnimmm.mmm.timevarying.level_ramps`).
BASELINES = ("fixed", "local_level")
#: Forms of the controls of ``[model] control_form`` (see
#: :func:`omnimmm.mmm.timevarying.control_deviation`).
CONTROL_FORMS = ("level", "deviation", "split")
#: Noise models of ``[model] noise``: one sd per outcome, or an sd that grows with the
#: expected level (``sigma * level ** noise_power``; :mod:`omnimmm.mmm.model`).
NOISE_MODELS = ("constant", "level")
#: Noise distributions of ``[model] likelihood``: normal, Student-t with degrees of
#: freedom ``noise_df`` learnt per outcome (:mod:`omnimmm.mmm.model`), or "auto": normal
#: unless its residuals' tails call for Student-t (:mod:`omnimmm.mmm.tails`); a fitted
#: model's spec holds the one it chose.
LIKELIHOODS = ("auto", "normal", "student_t")
#: Student-t noise: the degrees of freedom are this plus ``noise_df_excess`` (Gamma prior),
#: so the noise keeps a finite variance. Below 2 a few panels' posteriors (Robyn's, whose
#: plain plan leaves its holidays out) split into modes that treat different weeks as the
#: outliers, and chains stop agreeing (R-hat 1.53 at nu about 0.85).
NOISE_DF_MIN = 2.0
#: ``[model] seasonal_noise``: the noise sd's yearly shape uses the first this many Fourier
#: pairs of the baseline (``sin1, cos1, sin2, cos2``).
NOISE_HARMONICS = 2
#: ``control_form = "split"``: the slow part of a continuous control (its trailing mean)
#: enters scaled by this, so its coefficient's prior is this fraction of the week-to-week
#: part's (Normal(0, 0.05) per training SD against 0.2 at the default priors).
SLOW_PRIOR_RATIO = 0.25
_EPOCH = pd.Timestamp("2000-01-03")  # a Monday; Fourier phases are measured from it


@dataclass(frozen=True)
class ChannelSpec:
    """One media channel as the model sees it.

    Attributes
    ----------
    name : str
        Channel name (the column name of ``Panel.spend``).
    kind : {"online", "offline"}
        Channel kind; picks the default ROI prior.
    adstock : {"geometric", "delayed", "weibull"}
        Carryover family.
    l_max : int
        Number of lags of the carryover (including the week of spend).
    saturation : {"hill", "logistic", "michaelis_menten"}
        Diminishing-returns family.
    roi_mean, roi_sd : float
        Log-normal ROI prior (all outcomes together) in currency per currency.
    coef_prior_sd : float or None
        If set, an expert raw-coefficient prior ``HalfNormal(coef_prior_sd)`` on the scaled
        effect size replaces the ROI prior.
    roi_default : bool
        The ROI prior is the kind's package default (neither the channel's ``roi_prior``
        nor the plan's ``[model.roi_prior_default]``): :func:`omnimmm.mmm.units.
        resolve_roi_units` may replace it when the spend is not in the outcome's currency.
    """

    name: str
    kind: str
    adstock: str
    l_max: int
    saturation: str
    roi_mean: float
    roi_sd: float
    coef_prior_sd: float | None = None
    roi_default: bool = False

    def __post_init__(self) -> None:
        if self.adstock not in ADSTOCKS:
            raise PlanError(
                f"channel {self.name!r}: unknown adstock {self.adstock!r}; "
                f"expected one of {sorted(ADSTOCKS)}"
            )
        if self.saturation not in SATURATIONS:
            raise PlanError(
                f"channel {self.name!r}: unknown saturation {self.saturation!r}; "
                f"expected one of {sorted(SATURATIONS)}"
            )


@dataclass(frozen=True)
class LiftTest:
    """A lift test or geo experiment: extra spend on one channel and the revenue it caused.

    The spend change is spread over the test weeks in proportion to the channel's actual
    spend there (evenly if it was off air); the modelled incremental revenue is summed from
    the first test week to the end of the data (carryover included) over ``outcome`` or,
    if None, over all outcomes.
    """

    channel: str
    start: str
    end: str
    spend_change: float
    incremental_revenue: float
    se: float
    outcome: str | None = None


@dataclass(frozen=True)
class SamplerSpec:
    """How to fit: sampler, chains, draws, tuning steps, target acceptance, seed."""

    sampler: str = "nutpie"
    chains: int = 4
    draws: int = 1000
    tune: int = 1000
    target_accept: float = 0.9
    seed: int = 0


@dataclass(frozen=True)
class ModelSpec:
    """The plan resolved into the model's structure and priors (JSON-serialisable)."""

    channels: tuple[ChannelSpec, ...]
    outcomes: tuple[str, ...]
    controls: tuple[str, ...] = ()
    festival_calendar: str = "none"
    festival_extra: tuple[str, ...] = ()  # [festivals] extra: "MM-DD" fixed days
    synergies: tuple[tuple[str, str], ...] = ()
    trend: bool = True
    fourier_order: int = 2
    share_carryover: bool = True
    outcome_correlation: bool = True
    calibration: tuple[LiftTest, ...] = ()
    sampler: SamplerSpec = field(default_factory=SamplerSpec)
    holdout_weeks: int = 13
    baseline: str = "fixed"
    baseline_step_sd: float = 0.05
    baseline_knot_weeks: int = 13
    control_form: str = "split"
    control_window: int = 13
    noise: str = "constant"
    seasonal_noise: bool = False
    likelihood: str = "auto"

    def __post_init__(self) -> None:
        if self.noise not in NOISE_MODELS:
            raise PlanError(f"[model] noise = {self.noise!r}; expected one of {list(NOISE_MODELS)}")
        if self.likelihood not in LIKELIHOODS:
            raise PlanError(
                f"[model] likelihood = {self.likelihood!r}; expected one of {list(LIKELIHOODS)}"
            )
        if self.seasonal_noise and self.fourier_order < NOISE_HARMONICS:
            raise PlanError(
                f"[model] seasonal_noise = true needs yearly_fourier >= {NOISE_HARMONICS} "
                f"(the noise's yearly shape uses the first {NOISE_HARMONICS} harmonics), "
                f"got {self.fourier_order}"
            )
        if self.control_form not in CONTROL_FORMS:
            raise PlanError(
                f"[model] control_form = {self.control_form!r}; expected one of "
                f"{list(CONTROL_FORMS)}"
            )
        if self.baseline not in BASELINES:
            raise PlanError(
                f"[model] baseline = {self.baseline!r}; expected one of {list(BASELINES)}"
            )
        names = [c.name for c in self.channels]
        if not names:
            raise PlanError("the plan has no [[channels]]; the MMM needs at least one")
        if len(set(names)) != len(names):
            raise PlanError(f"channel names must be unique, got {names}")
        if not self.outcomes:
            raise PlanError("[data] outcomes is empty; the MMM needs at least one outcome")
        for a, b in self.synergies:
            for n in (a, b):
                if n not in names:
                    raise PlanError(
                        f"[model] synergies names channel {n!r}, which is not among the "
                        f"plan's channels {names}"
                    )
            if a == b:
                raise PlanError(f"[model] synergies pairs {a!r} with itself")
        for t in self.calibration:
            if t.channel not in names:
                raise PlanError(f"[[calibration]] names channel {t.channel!r}, not among {names}")
            if t.outcome is not None and t.outcome not in self.outcomes:
                raise PlanError(
                    f"[[calibration]] for {t.channel!r} names outcome {t.outcome!r}, "
                    f"not among {list(self.outcomes)}"
                )
            if not t.se > 0:
                raise PlanError(f"[[calibration]] for {t.channel!r}: se must be > 0")

    @property
    def channel_names(self) -> list[str]:
        """Channel names in model order."""
        return [c.name for c in self.channels]

    @classmethod
    def from_plan(cls, plan: Any) -> ModelSpec:
        """Resolve a :class:`omnimmm.config.Plan` into a model specification."""
        m = plan.model
        defaults = m.roi_prior_default
        own_defaults = "roi_prior_default" in m.model_fields_set
        channels = []
        for ch in plan.channels:
            prior = ch.roi_prior if ch.roi_prior is not None else getattr(defaults, ch.kind)
            channels.append(
                ChannelSpec(
                    name=ch.name,
                    kind=ch.kind,
                    adstock=ch.adstock_kind,
                    l_max=int(ch.lag_max),
                    saturation=ch.saturation,
                    roi_mean=float(prior.mean),
                    roi_sd=float(prior.sd),
                    coef_prior_sd=ch.coef_prior_sd,
                    roi_default=ch.roi_prior is None and not own_defaults,
                )
            )
        controls = tuple(plan.data.controls) + tuple(getattr(plan.data, "events", ()) or ())
        tests = tuple(
            LiftTest(
                channel=c.channel,
                start=str(c.start),
                end=str(c.end),
                spend_change=float(c.spend_change),
                incremental_revenue=float(c.incremental_revenue),
                se=float(c.se),
                outcome=c.outcome,
            )
            for c in plan.calibration
        )
        fourier = m.yearly_fourier
        order = (2 if fourier else 0) if isinstance(fourier, bool) else int(fourier)
        return cls(
            channels=tuple(channels),
            outcomes=tuple(plan.data.outcomes),
            controls=tuple(dict.fromkeys(controls)),
            festival_calendar=plan.festivals.calendar,
            festival_extra=tuple(plan.festivals.extra),
            synergies=tuple((str(a), str(b)) for a, b in m.synergies),
            trend=bool(m.trend),
            fourier_order=order,
            share_carryover=bool(m.share_carryover),
            outcome_correlation=bool(m.outcome_correlation),
            calibration=tests,
            sampler=SamplerSpec(
                sampler=m.sampler,
                chains=int(m.chains),
                draws=int(m.draws),
                tune=int(m.tune),
                target_accept=float(m.target_accept),
                seed=int(plan.seed),
            ),
            holdout_weeks=int(m.holdout_weeks),
            baseline=str(m.baseline),
            baseline_step_sd=float(m.baseline_step_sd),
            baseline_knot_weeks=int(m.baseline_knot_weeks),
            control_form=str(m.control_form),
            control_window=int(m.control_window),
            noise=str(m.noise),
            seasonal_noise=bool(m.seasonal_noise),
            likelihood=str(m.likelihood),
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dictionary (inverse of :meth:`from_dict`)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ModelSpec:
        """Rebuild from :meth:`to_dict` output."""
        return cls(
            channels=tuple(ChannelSpec(**c) for c in d["channels"]),
            outcomes=tuple(d["outcomes"]),
            controls=tuple(d["controls"]),
            festival_calendar=d["festival_calendar"],
            festival_extra=tuple(d.get("festival_extra", ())),  # saved before: none
            synergies=tuple((a, b) for a, b in d["synergies"]),
            trend=d["trend"],
            fourier_order=d["fourier_order"],
            share_carryover=d["share_carryover"],
            outcome_correlation=d["outcome_correlation"],
            calibration=tuple(LiftTest(**t) for t in d["calibration"]),
            sampler=SamplerSpec(**d["sampler"]),
            holdout_weeks=d["holdout_weeks"],
            # Saved before the moving baseline existed: a fixed one.
            baseline=d.get("baseline", "fixed"),
            baseline_step_sd=d.get("baseline_step_sd", 0.05),
            baseline_knot_weeks=d.get("baseline_knot_weeks", 13),
            control_form=d.get("control_form", "level"),
            control_window=d.get("control_window", 13),
            noise=d.get("noise", "constant"),
            seasonal_noise=d.get("seasonal_noise", False),
            likelihood=d.get("likelihood", "normal"),  # saved before Student-t: normal
        )

    def layout(self) -> ChannelLayout:
        """The channel grouping used to evaluate adstock and saturation in one pass."""
        return ChannelLayout.from_spec(self)


@dataclass(frozen=True)
class ChannelLayout:
    """Channels grouped by adstock (kind, lags) and by saturation kind.

    ``adstock_groups`` holds ``(kind, l_max, channel indices)``; the groups' weights are
    padded to ``l_max_all`` lags, concatenated in group order and put back into channel
    order with ``adstock_order``. Saturation groups work the same way on the channel axis.
    """

    channels: tuple[str, ...]
    adstock_groups: tuple[tuple[str, int, tuple[int, ...]], ...]
    saturation_groups: tuple[tuple[str, tuple[int, ...]], ...]
    pairs: tuple[tuple[int, int], ...]
    share_carryover: bool
    n_outcomes: int

    @classmethod
    def from_spec(cls, spec: ModelSpec) -> ChannelLayout:
        """Group the channels of ``spec``."""
        ad: dict[tuple[str, int], list[int]] = {}
        sat: dict[str, list[int]] = {}
        for i, c in enumerate(spec.channels):
            ad.setdefault((c.adstock, c.l_max), []).append(i)
            sat.setdefault(c.saturation, []).append(i)
        names = spec.channel_names
        return cls(
            channels=tuple(names),
            adstock_groups=tuple((k, lm, tuple(ix)) for (k, lm), ix in ad.items()),
            saturation_groups=tuple((k, tuple(ix)) for k, ix in sat.items()),
            pairs=tuple((names.index(a), names.index(b)) for a, b in spec.synergies),
            share_carryover=spec.share_carryover,
            n_outcomes=len(spec.outcomes),
        )

    @property
    def l_max_all(self) -> int:
        """Largest number of lags over all channels."""
        return max(lm for _, lm, _ in self.adstock_groups)

    @property
    def adstock_kinds(self) -> dict[str, list[int]]:
        """Channel indices per adstock kind (all lag lengths together)."""
        out: dict[str, list[int]] = {}
        for kind, _, ix in self.adstock_groups:
            out.setdefault(kind, []).extend(ix)
        return {k: sorted(v) for k, v in out.items()}

    @property
    def saturation_kinds(self) -> dict[str, list[int]]:
        """Channel indices per saturation kind."""
        return {k: list(ix) for k, ix in self.saturation_groups}


@dataclass(frozen=True)
class Scaling:
    """Constants fitted on the training panel that map currency units to model units.

    Attributes
    ----------
    spend_scale : tuple of float
        Per channel, mean spend over the weeks with spend > 0.
    outcome_scale : tuple of float
        Per outcome, mean over the training weeks.
    control_mean, control_sd : tuple of float
        Per control, for standardisation (sd 1 for a constant column and for a 0/1
        indicator, which enters unscaled).
    t_origin : str
        ISO date of the first training week (trend is 0 there).
    t_span_days : float
        Days from the first to the last training week (trend is 1 there).
    festivals : tuple of str
        Festival indicator columns used (those that vary in the training weeks and do not
        duplicate a control).
    spend_total : tuple of float
        Per channel, total spend over the training weeks.
    control_min, control_max : tuple of float
        Per control, its range over the training weeks. Forecast weeks hold a control at
        this range's edge instead of extrapolating its linear effect (empty for models
        saved before the range was recorded: they extrapolate).
    control_dev_sd : tuple of float
        ``control_form`` "deviation" or "split": per control, the standard deviation of its
        deviation from its trailing mean over the training weeks (the control's own sd for
        a 0/1 indicator, which enters as it is); empty otherwise.
    control_indicator : tuple of bool
        ``control_form`` "deviation" or "split": per control, whether it is a 0/1 indicator over
        the training weeks; empty otherwise.
    control_tail : tuple of float
        ``control_form`` "deviation" or "split": the last ``control_window`` training weeks of
        the controls (held in range), row by row, so that the weeks right after the
        training data have their trailing means; empty otherwise.
    """

    spend_scale: tuple[float, ...]
    outcome_scale: tuple[float, ...]
    control_mean: tuple[float, ...]
    control_sd: tuple[float, ...]
    t_origin: str
    t_span_days: float
    festivals: tuple[str, ...]
    spend_total: tuple[float, ...]
    control_min: tuple[float, ...] = ()
    control_max: tuple[float, ...] = ()
    control_dev_sd: tuple[float, ...] = ()
    control_indicator: tuple[bool, ...] = ()
    control_tail: tuple[float, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dictionary."""
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Scaling:
        """Rebuild from :meth:`to_dict` output."""
        fields: dict[str, Any] = {k: tuple(v) if isinstance(v, list) else v for k, v in d.items()}
        return cls(**fields)


def fit_scaling(panel: Any, spec: ModelSpec) -> Scaling:
    """Compute the scaling constants from a training panel.

    Raises
    ------
    DataError
        If a channel never has spend, an outcome's mean is not positive, or a control
        column is missing.
    """
    spend = panel.spend[spec.channel_names].to_numpy(dtype=float)
    scale = []
    for i, name in enumerate(spec.channel_names):
        on = spend[:, i] > 0
        if not on.any():
            raise DataError(
                f"channel {name!r} has no spend in the {len(spend)} training weeks "
                f"({panel.dates[0].date()} to {panel.dates[-1].date()}); its effect cannot "
                "be estimated: drop it from the plan or use longer data"
            )
        scale.append(float(spend[on, i].mean()))
    y = panel.outcomes[list(spec.outcomes)].to_numpy(dtype=float)
    y_scale = y.mean(axis=0)
    for o, m in zip(spec.outcomes, y_scale, strict=True):
        if not m > 0:
            raise DataError(f"outcome {o!r} has a mean of {m:.4g}; the MMM needs revenue > 0")
    missing = [c for c in spec.controls if c not in panel.controls.columns]
    if missing:
        raise DataError(f"control columns {missing} are missing from the panel")
    ctrl = panel.controls[list(spec.controls)].to_numpy(dtype=float)
    c_mean = ctrl.mean(axis=0) if len(spec.controls) else np.zeros(0)
    c_sd = ctrl.std(axis=0) if len(spec.controls) else np.zeros(0)
    c_sd = np.where(c_sd > 0, c_sd, 1.0)
    # A 0/1 indicator (an event, a holiday) enters as it is: its coefficient is the effect
    # of one such week in average weeks of the outcome. Standardised, the coefficient's
    # prior would allow an effect of prior sd / column sd per event week, wider the rarer
    # the event (1.5 average weeks for an event in 2% of the weeks), so a few noisy event
    # weeks were fitted and repeated in every forecast.
    c_sd = np.where(_indicators(ctrl), 1.0, c_sd)
    dates = pd.DatetimeIndex(panel.dates)
    fest = plan_festival_weeks(dates, spec.festival_calendar, spec.festival_extra)
    lower_controls = {c.lower() for c in spec.controls}
    keep = [
        f
        for f in fest.columns
        if fest[f].std() > 0
        and f.lower() not in lower_controls
        and not any(np.array_equal(fest[f].to_numpy(), ctrl[:, j]) for j in range(ctrl.shape[1]))
    ]
    span = float((dates[-1] - dates[0]).days) or 7.0
    dev_sd: tuple[float, ...] = ()
    tail: tuple[float, ...] = ()
    indicator: tuple[bool, ...] = ()
    if spec.control_form in ("deviation", "split") and len(spec.controls):
        ind = _indicators(ctrl)
        dev = control_deviation(ctrl, np.zeros((0, ctrl.shape[1])), spec.control_window)
        sds = np.where(ind, c_sd, dev.std(axis=0))
        dev_sd = tuple(float(v) if v > 0 else 1.0 for v in sds)
        indicator = tuple(bool(v) for v in ind)
        tail = tuple(float(v) for v in ctrl[-spec.control_window :].ravel())
    return Scaling(
        spend_scale=tuple(scale),
        outcome_scale=tuple(float(v) for v in y_scale),
        control_mean=tuple(float(v) for v in c_mean),
        control_sd=tuple(float(v) for v in c_sd),
        t_origin=dates[0].date().isoformat(),
        t_span_days=span,
        festivals=tuple(keep),
        spend_total=tuple(float(v) for v in spend.sum(axis=0)),
        control_min=tuple(float(v) for v in (ctrl.min(axis=0) if len(spec.controls) else [])),
        control_max=tuple(float(v) for v in (ctrl.max(axis=0) if len(spec.controls) else [])),
        control_dev_sd=dev_sd,
        control_indicator=indicator,
        control_tail=tail,
    )


def _indicators(ctrl: np.ndarray) -> np.ndarray:
    """Per column of ``ctrl`` (T, K), whether it is a 0/1 indicator over these weeks."""
    return np.all((ctrl == 0) | (ctrl == 1), axis=0)


def baseline_features(
    dates: pd.DatetimeIndex,
    controls: pd.DataFrame | None,
    spec: ModelSpec,
    scaling: Scaling,
) -> dict[str, np.ndarray]:
    """Baseline design for the given weeks with the training constants.

    Parameters
    ----------
    dates : pandas.DatetimeIndex
        Week start dates (training weeks or future weeks).
    controls : pandas.DataFrame or None
        Control and event columns of ``spec.controls`` for those weeks; may be None only
        when the spec has no controls. Values outside the training range are held at its
        edge.
    spec : ModelSpec
    scaling : Scaling

    Returns
    -------
    dict of str to numpy.ndarray
        ``t`` (T,), ``fourier`` (T, 2 * order), ``controls`` (T, K), ``festivals`` (T, F).
    """
    dates = pd.DatetimeIndex(dates)
    origin = pd.Timestamp(dt.date.fromisoformat(scaling.t_origin))
    t = ((dates - origin).days.to_numpy(dtype=float)) / scaling.t_span_days
    phase = 2 * np.pi * (dates - _EPOCH).days.to_numpy(dtype=float) / _DAYS_PER_YEAR
    cols = []
    for k in range(1, spec.fourier_order + 1):
        cols += [np.sin(k * phase), np.cos(k * phase)]
    fourier = np.column_stack(cols) if cols else np.zeros((len(dates), 0))
    if spec.controls:
        if controls is None:
            raise DataError(f"controls {list(spec.controls)} are needed for these weeks")
        missing = [c for c in spec.controls if c not in controls.columns]
        if missing:
            raise DataError(f"control columns {missing} are missing for these weeks")
        z = controls[list(spec.controls)].to_numpy(dtype=float)
        if np.isnan(z).any():
            raise DataError("control values are missing (NaN) for some of these weeks")
        if len(scaling.control_min) == z.shape[1]:
            # Held at the training range's edge: a linear effect is not extrapolated
            # (omnimmm.mmm.explain.control_extrapolation reports what it would add).
            z = np.clip(z, scaling.control_min, scaling.control_max)
        level = (z - np.asarray(scaling.control_mean)) / np.asarray(scaling.control_sd)
        if spec.control_form != "level" and len(scaling.control_dev_sd) == z.shape[1]:
            dev = control_deviation(
                z, _tail_before(dates, scaling, z.shape[1]), spec.control_window
            )
            ind = np.asarray(scaling.control_indicator, dtype=bool)
            fast = np.where(ind[None, :], level, dev / np.asarray(scaling.control_dev_sd))
            if spec.control_form == "split":
                # The trailing mean, standardised like the level and shrunk by its scale.
                slow = (z - dev - np.asarray(scaling.control_mean)) / np.asarray(scaling.control_sd)
                fast = np.hstack([fast, SLOW_PRIOR_RATIO * slow[:, ~ind]])
            z = fast
        else:
            z = level
    else:
        z = np.zeros((len(dates), 0))
    if scaling.festivals:
        fest = plan_festival_weeks(dates, spec.festival_calendar, spec.festival_extra)
        fest = fest[list(scaling.festivals)]
        fest_arr = fest.to_numpy(dtype=float)
    else:
        fest_arr = np.zeros((len(dates), 0))
    if spec.baseline == "local_level":
        walk = level_ramps(t, scaling.t_span_days, spec.baseline_knot_weeks)
    else:
        walk = np.zeros((len(t), 0))
    return {"t": t, "fourier": fourier, "controls": z, "festivals": fest_arr, "walk": walk}


def _tail_before(dates: pd.DatetimeIndex, scaling: Scaling, k: int) -> np.ndarray:
    """The training controls' last weeks if ``dates`` start right after the training data."""
    last = pd.Timestamp(dt.date.fromisoformat(scaling.t_origin)) + pd.Timedelta(
        days=scaling.t_span_days
    )
    if len(dates) and dates[0] == last + pd.Timedelta(days=7) and scaling.control_tail:
        return np.asarray(scaling.control_tail, dtype=float).reshape(-1, k)
    return np.zeros((0, k))


def control_names(spec: ModelSpec, scaling: Scaling) -> list[str]:
    """Names of the control features: the controls, then ``"NAME (slow)"`` parts.

    Only ``control_form = "split"`` has slow parts (one per continuous control); their
    coefficients follow the controls' in ``control_coef``.
    """
    names = list(spec.controls)
    if spec.control_form == "split" and len(scaling.control_indicator) == len(names):
        ind = scaling.control_indicator
        names += [f"{c} (slow)" for c, i in zip(spec.controls, ind, strict=True) if not i]
    return names


def fourier_names(order: int) -> list[str]:
    """Names of the Fourier columns: ``sin1, cos1, sin2, cos2, ...``."""
    return [f"{f}{k}" for k in range(1, order + 1) for f in ("sin", "cos")]
