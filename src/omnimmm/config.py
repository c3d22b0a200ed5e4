"""The plan: a TOML file that says which data to read, which channels to model and how to budget.

:func:`load_plan` reads the file with :mod:`tomllib` and validates it into frozen pydantic
models. Every problem becomes a :class:`~omnimmm.errors.PlanError` whose message starts with
the plan file's path and names the offending key path, e.g. ``channels[2].kind``. List items
are numbered from 1, as a reader counts the ``[[channels]]`` tables in the file. Unknown keys
come with the closest valid key as a suggestion.

Relative paths in a plan are resolved against the folder of the plan file. :func:`dump_plan`
writes a plan back to TOML (resolved paths, ``None`` values left out) so a run directory can
keep the exact configuration it used; ``load_plan(dump_plan(plan, p)) == plan``.

This module imports neither pandas nor numpy nor pymc, so reading a plan stays fast.
"""

from __future__ import annotations

import datetime as dt
import difflib
import json
import re
import tomllib
import types
import typing
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    StrictStr,
    ValidationError,
    model_validator,
)
from pydantic import Strict as _Strict

from omnimmm.errors import PlanError
from omnimmm.plan_toml import plain, toml_key, toml_text

__all__ = [
    "BudgetSpec",
    "CalibrationSpec",
    "ChannelBounds",
    "ChannelSpec",
    "DataSpec",
    "FestivalSpec",
    "GateSpec",
    "GeoBounds",
    "JourneyRules",
    "JourneysSpec",
    "LifecycleColumns",
    "LifecycleSpec",
    "ModelSpec",
    "Plan",
    "RoiPrior",
    "RoiPriorDefaults",
    "dump_plan",
    "load_plan",
    "plan_from_dict",
]

#: Default adstock and maximum lag (weeks) by channel kind: online media decays within
#: weeks, offline media (TV, outdoor) builds up and lingers for a quarter.
DEFAULT_ADSTOCK: dict[str, str] = {"online": "geometric", "offline": "delayed"}
DEFAULT_L_MAX: dict[str, int] = {"online": 6, "offline": 13}

Float = Annotated[float, _Strict()]  # accepts TOML integers and floats, never strings
Name = Annotated[StrictStr, Field(min_length=1)]


def _as_date(value: Any) -> Any:
    """Accept a TOML date or an ISO ``YYYY-MM-DD`` string; leave anything else to pydantic."""
    if isinstance(value, dt.datetime):
        return value.date() if value.time() == dt.time(0) else value
    if isinstance(value, str):
        try:
            return dt.date.fromisoformat(value.strip())
        except ValueError:
            raise ValueError(f"{value!r} is not a date; write it as YYYY-MM-DD") from None
    return value


Date = Annotated[dt.date, BeforeValidator(_as_date)]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class RoiPrior(_Frozen):
    """Prior belief about a channel's ROI: revenue (all outcomes) per unit of spend."""

    mean: Float = Field(gt=0)
    sd: Float = Field(gt=0)


class RoiPriorDefaults(_Frozen):
    """ROI priors for channels that do not state their own, by channel kind."""

    online: RoiPrior = RoiPrior(mean=1.5, sd=1.0)
    offline: RoiPrior = RoiPrior(mean=1.0, sd=1.0)


class DataSpec(_Frozen):
    """Where the weekly media panel lives and which of its columns mean what."""

    path: Path
    date: Name = "date"
    outcomes: tuple[Name, ...] = Field(min_length=1)
    controls: tuple[Name, ...] = ()
    events: tuple[Name, ...] = ()
    format: Literal["csv", "parquet", "excel"] | None = None
    geo: Name | None = None  # a long panel: one row per week and region (this column)
    population: Name | None = None  # region size (constant per region, else averaged)
    #: a long panel's date is each week's first day (None: "start") or its last ("end"),
    #: which places the festival weeks
    week_dates: Literal["start", "end"] | None = None

    @property
    def file_format(self) -> Literal["csv", "parquet", "excel"]:
        """The declared format, or the one implied by the file suffix (``.parquet``/``.pq``,
        ``.xlsx``/``.xlsm``). The reader (:mod:`omnimmm.data.tables`) sniffs the file itself;
        this is what ``plan.toml`` in a run records."""
        if self.format is not None:
            return self.format
        suffix = self.path.suffix.lower()
        if suffix in {".xlsx", ".xlsm"}:
            return "excel"
        return "parquet" if suffix in {".parquet", ".pq"} else "csv"


class ChannelSpec(_Frozen):
    """One media channel: its spend column, kind, carryover and saturation shape, priors."""

    name: Name
    column: Name
    kind: Literal["online", "offline"]
    adstock: Literal["geometric", "delayed", "weibull"] | None = None
    l_max: StrictInt | None = Field(default=None, ge=1, le=52)
    saturation: Literal["hill", "logistic", "michaelis_menten"] = "hill"
    roi_prior: RoiPrior | None = None
    coef_prior_sd: Float | None = Field(default=None, gt=0)
    # None = local (left out so national plans dump as before); national: a region's share
    scope: Literal["local", "national"] | None = None

    @model_validator(mode="after")
    def _one_prior(self) -> ChannelSpec:
        if self.roi_prior is not None and self.coef_prior_sd is not None:
            raise ValueError(
                "sets both roi_prior and coef_prior_sd; keep one "
                "(roi_prior states the prior in revenue per unit of spend)"
            )
        return self

    @property
    def adstock_kind(self) -> str:
        """Adstock to use: the declared one, else geometric online and delayed offline."""
        return self.adstock or DEFAULT_ADSTOCK[self.kind]

    @property
    def lag_max(self) -> int:
        """Maximum carryover lag in weeks: the declared one, else 6 online and 13 offline."""
        return self.l_max if self.l_max is not None else DEFAULT_L_MAX[self.kind]


class ChannelBounds(_Frozen):
    """Bounds on one channel's total spend over the budget horizon, and its own
    ``max_change`` (in place of ``[budget] max_change``, tighter or looser)."""

    min: Float | None = Field(default=None, ge=0)
    max: Float | None = Field(default=None, ge=0)
    locked: StrictBool = False
    max_change: Float | None = Field(default=None, ge=0, le=10)

    @model_validator(mode="after")
    def _consistent(self) -> ChannelBounds:
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"min ({self.min:g}) is larger than max ({self.max:g})")
        if self.locked and (
            self.min is not None or self.max is not None or self.max_change is not None
        ):
            raise ValueError(
                "a locked channel keeps its current spend; drop min, max and max_change"
            )
        return self


class GeoBounds(_Frozen):
    """One region's budget limits (``[budget.geos.NAME]``): its local channels' total
    (national buys are bounded as national totals), its own ``max_change`` for its local
    channels, and bounds (and ``max_change``) per local channel in the region."""

    min: Float | None = Field(default=None, ge=0)
    max: Float | None = Field(default=None, ge=0)
    max_change: Float | None = Field(default=None, ge=0, le=10)
    channels: dict[str, ChannelBounds] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _consistent(self) -> GeoBounds:
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"min ({self.min:g}) is larger than max ({self.max:g})")
        return self


class BudgetSpec(_Frozen):
    """The next-quarter budget question: horizon, total, constraints, objective and risk."""

    horizon_weeks: StrictInt = Field(default=13, ge=1, le=52)
    total: Float | None = Field(default=None, gt=0)
    max_change: Float = Field(default=0.5, ge=0, le=10)
    objective: Literal["revenue", "profit"] = "revenue"
    margin: Float = Field(default=1.0, gt=0, le=1)
    risk: Literal["mean", "quantile", "cvar"] = "mean"
    risk_level: Float = Field(default=0.1, gt=0, lt=1)
    online_share: tuple[Float, Float] | None = None
    channels: dict[str, ChannelBounds] = Field(default_factory=dict)
    geos: dict[str, GeoBounds] | None = None  # per-region limits of a geo plan

    @model_validator(mode="after")
    def _share_range(self) -> BudgetSpec:
        if self.online_share is not None:
            lo, hi = self.online_share
            if not 0 <= lo <= hi <= 1:
                raise ValueError(
                    f"online_share = ({lo:g}, {hi:g}) must be a pair (low, high) with "
                    "0 <= low <= high <= 1 (fractions of the total budget)"
                )
        return self


class ModelSpec(_Frozen):
    """Structure of the MMM and how to sample it."""

    synergies: tuple[tuple[Name, Name], ...] = ()
    trend: StrictBool = True
    yearly_fourier: StrictInt = Field(default=6, ge=0, le=10)
    share_carryover: StrictBool = True
    outcome_correlation: StrictBool = True
    sampler: Literal["nutpie", "pymc", "advi", "pathfinder"] = "nutpie"
    chains: StrictInt = Field(default=4, ge=1, le=64)
    draws: StrictInt = Field(default=1000, ge=1)
    tune: StrictInt = Field(default=1000, ge=0)
    target_accept: Float = Field(default=0.9, gt=0, lt=1)
    holdout_weeks: StrictInt = Field(default=13, ge=0, le=104)
    roi_prior_default: RoiPriorDefaults = RoiPriorDefaults()
    #: "fixed": one level per outcome (with trend, seasonality and controls around it);
    #: "local_level": the level drifts as a random walk on knots every
    #: ``baseline_knot_weeks`` weeks, each step ~ Normal(0, ``baseline_step_sd``) in units
    #: of the outcome's mean week.
    baseline: Literal["fixed", "local_level"] = "fixed"
    baseline_step_sd: Float = Field(default=0.05, gt=0, le=1)
    baseline_knot_weeks: StrictInt = Field(default=13, ge=2, le=104)
    #: "level": each control enters as it is (standardised; 0/1 indicators unscaled);
    #: "deviation": each control
    #: that is not a 0/1 indicator enters as its deviation from its mean over the
    #: previous ``control_window`` weeks, so its slow movements are left to the baseline;
    #: "split" (default): that deviation plus the trailing mean itself, whose coefficient
    #: has a prior a quarter as wide (slow movements are few and shared with the level).
    control_form: Literal["level", "deviation", "split"] = "split"
    control_window: StrictInt = Field(default=13, ge=2, le=104)
    #: "constant": each outcome's noise has one standard deviation; "level": it grows
    #: with the outcome's expected level as ``sigma * (mu / mean week) ** p``, the power
    #: ``p`` in [0, 1] learnt per outcome (0 is constant noise, 1 proportional noise).
    noise: Literal["constant", "level"] = "constant"
    #: The noise sd also varies over the year: times ``exp`` of two yearly harmonics with
    #: coefficients learnt per outcome (holiday seasons are often the volatile weeks).
    #: Needs ``yearly_fourier >= 2``.
    seasonal_noise: StrictBool = False
    #: The noise's distribution: "normal", "student_t" (heavier tails, degrees of
    #: freedom 2 + a Gamma(2, 0.1) excess learnt per outcome, so that a few outlying
    #: weeks do not widen every week's interval or pull the fit), or "auto" (default):
    #: normal, refitted as Student-t when the normal fit's residuals have significantly
    #: heavy tails (excess-kurtosis test at 0.1%; :mod:`omnimmm.mmm.tails`).
    likelihood: Literal["auto", "normal", "student_t"] = "auto"


class CalibrationSpec(_Frozen):
    """A lift test: spend changed by ``spend_change`` over [start, end] and caused
    ``incremental_revenue`` (standard error ``se``) in one outcome or all outcomes summed;
    in a geo plan, in one region (``geo``) or, without it, nationally."""

    channel: Name
    start: Date
    end: Date
    spend_change: Float
    incremental_revenue: Float
    se: Float = Field(gt=0)
    outcome: Name | None = None
    geo: Name | None = None  # geo plans only: the region the test ran in

    @model_validator(mode="after")
    def _window(self) -> CalibrationSpec:
        if self.start > self.end:
            raise ValueError(f"start ({self.start}) is after end ({self.end})")
        if self.spend_change == 0:
            raise ValueError("spend_change is 0; a lift test must change spend")
        return self


class GateSpec(_Frozen):
    """Quality gate a fitted model must pass before a recommendation is exported."""

    rhat_max: Float = Field(default=1.01, ge=1)
    ess_bulk_min: Float = Field(default=400.0, ge=0)
    divergence_rate_max: Float = Field(default=0.001, ge=0, le=1)
    allow_failure: StrictBool = False
    #: Refits with safer sampler settings before a failed gate stops the run (only when the
    #: gate is enforced: not with allow_failure or --fast); 0: none. omnimmm.run.remedies.
    remedies: StrictInt = Field(default=2, ge=0, le=5)


def _month_day(value: Any) -> Any:
    if not isinstance(value, str):
        return value  # the str type check reports it
    try:
        dt.date.fromisoformat(f"2000-{value}")  # a leap year, so 02-29 is accepted
    except ValueError:
        raise ValueError(
            f'{value!r} is not a month-day; write it as "MM-DD", e.g. "12-12"'
        ) from None
    return value


class FestivalSpec(_Frozen):
    """Festival indicators added as controls.

    ``calendar = "china"`` adds Spring Festival (lunar), 618 and Double 11 weeks.
    ``extra`` lists further fixed-date annual festivals as ``"MM-DD"`` (e.g. ``"12-12"``),
    each marking the week that contains that day.
    """

    calendar: Literal["china", "none"] = "china"
    extra: tuple[Annotated[StrictStr, BeforeValidator(_month_day)], ...] = ()


class LifecycleColumns(_Frozen):
    """Which transaction column plays which role (the roles of ``lifecycle.ColumnMap``).

    Roles the plan sets are used as given. Roles it leaves out use the default name when the
    file has that column, else are inferred from the file's header and values (an alias such
    as ``timestamp``/``order_date``/``household_id``/``sales_value``); two candidates for a
    required role stop the run with the candidates listed (see ``omnimmm.lifecycle.roles``).
    """

    customer_id: Name = "customer_id"
    ts: Name = "ts"
    amount: Name = "amount"
    order_id: Name = "order_id"
    channel: Name = "channel"
    store_id: Name = "store_id"
    coupon_used: Name = "coupon_used"
    points_earned: Name = "points_earned"
    points_redeemed: Name = "points_redeemed"
    #: With a quantity column, ``amount`` is a unit price and a row's amount quantity x price
    #: (inferred for a file with a unit price and a quantity but no amount column).
    quantity: Name | None = None
    #: An event-type column (pv/cart/buy): only purchase rows are read (inferred by name and
    #: values, see ``omnimmm.lifecycle.roles.PURCHASE_EVENTS``). ``"behavior_type=4"`` names
    #: the purchase value of a log that codes it otherwise; ``"none"``: every row is a purchase.
    event: Name | None = None


class LifecycleSpec(_Frozen):
    """Customer lifecycle inputs of a quarterly run: transactions, horizons, retention costs.

    ``transactions`` (and ``campaigns``) are resolved against the plan file's folder.
    ``as_of`` defaults to the last transaction date. ``campaigns`` is an optional history of
    retention contacts with a random control group (columns ``customer_id``, ``sent_at``,
    ``segment``, ``treated``) from which the incremental value per segment is estimated;
    ``contact_cost`` is the cost of contacting one customer (coupon, SMS), in the plan's
    currency. When the transactions carry points earned and redeemed, the run reports the
    points balance, breakage and next-quarter redemptions (``points_expiry_days``: the
    programme's expiry rule, none if points never expire; ``point_value``: cost of one
    redeemed point).
    """

    transactions: Path
    format: Literal["csv", "parquet", "excel"] | None = None
    as_of: Date | None = None
    horizon_days: StrictInt = Field(default=90, ge=7, le=730)
    churn_horizon_days: StrictInt | None = Field(default=None, ge=7, le=730)
    columns: LifecycleColumns = LifecycleColumns()
    campaigns: Path | None = None
    contact_cost: Float = Field(default=2.0, gt=0)
    joint_budget: StrictBool = True
    points_expiry_days: StrictInt | None = Field(default=None, ge=1)
    point_value: Float | None = Field(default=None, gt=0)


class JourneyRules(_Frozen):
    """Review thresholds of the KPI board (``[journeys.rules]``)."""

    handoff_min: Float = Field(default=0.15, ge=0, le=1)
    usage_min: Float = Field(default=0.20, ge=0, le=1)


class JourneysSpec(_Frozen):
    """Customer-journey inputs of a run (``[journeys]``): attribution and the KPI board.

    ``touches``, ``conversions`` and ``redemptions`` are resolved against the plan file's
    folder; columns are the defaults of ``omnimmm journeys attribute``.
    """

    touches: Path
    conversions: Path
    redemptions: Path | None = None
    offline_channels: tuple[Name, ...] = ()
    window_days: StrictInt = Field(default=7, ge=1, le=90)
    repurchase_days: StrictInt = Field(default=30, ge=1, le=365)
    lookback_days: StrictInt = Field(default=30, ge=1, le=365)
    bootstrap: StrictInt = Field(default=100, ge=0, le=2000)
    rules: JourneyRules = JourneyRules()


class Plan(_Frozen):
    """A validated plan. Build it with :func:`load_plan` or :func:`plan_from_dict`."""

    seed: StrictInt = Field(default=0, ge=0)
    data: DataSpec
    channels: tuple[ChannelSpec, ...] = Field(min_length=1)
    budget: BudgetSpec = BudgetSpec()
    model: ModelSpec = ModelSpec()
    calibration: tuple[CalibrationSpec, ...] = ()
    gate: GateSpec = GateSpec()
    festivals: FestivalSpec = FestivalSpec()
    lifecycle: LifecycleSpec | None = None
    journeys: JourneysSpec | None = None

    @model_validator(mode="after")
    def _cross_references(self) -> Plan:
        problems = [*_column_clashes(self), *_unknown_references(self)]
        if problems:
            raise ValueError("; ".join(problems))
        return self

    @property
    def channel_names(self) -> tuple[str, ...]:
        """Channel names in plan order."""
        return tuple(c.name for c in self.channels)

    def channel(self, name: str) -> ChannelSpec:
        """The channel called ``name``."""
        for c in self.channels:
            if c.name == name:
                return c
        raise KeyError(name)

    def resolved(self) -> Plan:
        """A copy with every defaulted choice written out (adstock, l_max, data format); a
        geo plan's channels are geometric (the geo model's) with ``l_max`` as given, and its
        controls enter as levels unless the plan chose a form."""
        geo = self.data.geo is not None
        channels = tuple(
            c.model_copy(update={"adstock": c.adstock or "geometric"})
            if geo
            else c.model_copy(update={"adstock": c.adstock_kind, "l_max": c.lag_max})
            for c in self.channels
        )
        data = self.data.model_copy(update={"format": self.data.file_format})
        model = self.model
        if geo and "control_form" not in model.model_fields_set:  # the geo model's own form
            model = model.model_copy(update={"control_form": "level"})
        return self.model_copy(update={"channels": channels, "data": data, "model": model})

    def to_toml_dict(self) -> dict[str, Any]:
        """The plan as plain TOML-ready values (paths as strings, ``None`` left out)."""
        return plain(self.model_dump(exclude_none=True))


def _column_clashes(plan: Plan) -> list[str]:
    uses: dict[str, str] = {}
    problems = []
    pairs = [("data.date", plan.data.date)]
    pairs += [(f"data.{k}", getattr(plan.data, k)) for k in ("geo", "population")
              if getattr(plan.data, k) is not None]  # fmt: skip
    for key in ("outcomes", "controls", "events"):
        pairs += [(f"data.{key}[{i}]", c) for i, c in enumerate(getattr(plan.data, key), 1)]
    pairs += [(f"channels[{i}].column", c.column) for i, c in enumerate(plan.channels, 1)]
    for where, column in pairs:
        if column in uses:
            problems.append(f'column "{column}" is used twice: {uses[column]} and {where}')
        else:
            uses[column] = where
    seen: dict[str, int] = {}
    for i, c in enumerate(plan.channels, 1):
        if c.name in seen:
            problems.append(
                f'channel name "{c.name}" is declared twice: channels[{seen[c.name]}].name '
                f"and channels[{i}].name"
            )
        seen.setdefault(c.name, i)
    return problems


def _unknown_references(plan: Plan) -> list[str]:
    names = plan.channel_names
    problems = []

    def check(value: str, where: str, valid: tuple[str, ...], what: str) -> None:
        if value not in valid:
            problems.append(
                f'{where}: "{value}" is not a declared {what}{_hint(value, valid)}; '
                f"declared: {', '.join(dict.fromkeys(valid))}"
            )

    pairs: set[frozenset[str]] = set()
    for i, (a, b) in enumerate(plan.model.synergies, 1):
        where = f"model.synergies[{i}]"
        check(a, where, names, "channel")
        check(b, where, names, "channel")
        if a == b:
            problems.append(f'{where} pairs channel "{a}" with itself')
        elif frozenset((a, b)) in pairs:
            problems.append(f'{where} repeats the synergy "{a}" x "{b}"')
        pairs.add(frozenset((a, b)))
    for i, cal in enumerate(plan.calibration, 1):
        check(cal.channel, f"calibration[{i}].channel", names, "channel")
        if cal.outcome is not None:
            check(cal.outcome, f"calibration[{i}].outcome", plan.data.outcomes, "outcome")
    for name in plan.budget.channels:
        check(name, f"budget.channels.{toml_key(name)}", names, "channel")
    local = tuple(c.name for c in plan.channels if c.scope != "national")
    for geo, bounds in (plan.budget.geos or {}).items():
        for name in bounds.channels:
            check(
                name,
                f"budget.geos.{toml_key(geo)}.channels.{toml_key(name)}",
                local,
                "local channel",
            )
    if plan.data.geo is None:
        for key, given in (("data.population", plan.data.population),
                           ("data.week_dates", plan.data.week_dates),
                           ("budget.geos", plan.budget.geos)):  # fmt: skip
            if given is not None:
                problems.append(f'{key} needs a long panel: set data.geo = "<region column>"')
        for i in (i for i, c in enumerate(plan.calibration, 1) if c.geo is not None):
            problems.append(f'calibration[{i}].geo needs a long panel: set data.geo = "<region '
                            'column>" (a national plan\'s lift tests are national)')  # fmt: skip
        national = [c.name for c in plan.channels if c.scope == "national"]
        if national:
            problems.append(f'channel(s) {", ".join(national)}: scope = "national" needs data.geo')
    return problems


def _hint(value: str, valid: typing.Iterable[str]) -> str:
    close = difflib.get_close_matches(value, list(valid), n=1, cutoff=0.6)
    return f' (did you mean "{close[0]}"?)' if close else ""


# ---------------------------------------------------------------------------------------------
# Reading


def load_plan(path: str | Path) -> Plan:
    """Read and validate a TOML plan.

    Parameters
    ----------
    path
        The plan file. Relative paths inside it are resolved against its folder.

    Returns
    -------
    Plan
        The validated, frozen plan.

    Raises
    ------
    PlanError
        The file is missing or is not valid TOML, a key is unknown or has a wrong value,
        names clash, or the data file does not exist. The message starts with the plan path.
    """
    source = Path(path)
    if not source.is_file():
        raise PlanError(f"{source}: plan file not found (looked in {source.resolve()})")
    try:
        raw = tomllib.loads(source.read_text(encoding="utf-8"))
    except UnicodeDecodeError as exc:
        raise PlanError(f"{source}: not a UTF-8 text file ({exc.reason})") from None
    except tomllib.TOMLDecodeError as exc:
        raise PlanError(f"{source}: not valid TOML: {exc}{_toml_hint(source, exc)}") from None
    plan = plan_from_dict(raw, source=source)
    if not plan.data.path.exists():  # a file, or a folder of Parquet files
        raise PlanError(
            f"{source}: data.path: data file {plan.data.path} does not exist "
            "(relative paths are read from the plan file's folder)"
        )
    if plan.lifecycle is not None:
        for key in ("transactions", "campaigns"):
            file = getattr(plan.lifecycle, key)
            if file is not None and not file.exists():
                raise PlanError(
                    f"{source}: lifecycle.{key}: file {file} does not exist "
                    "(relative paths are read from the plan file's folder)"
                )
    if plan.journeys is not None:
        for key in ("touches", "conversions", "redemptions"):
            file = getattr(plan.journeys, key)
            if file is not None and not file.exists():
                raise PlanError(
                    f"{source}: journeys.{key}: file {file} does not exist "
                    "(relative paths are read from the plan file's folder)"
                )
    return plan


def _toml_hint(source: Path, exc: tomllib.TOMLDecodeError) -> str:
    """A hint where the offending line's key holds characters a bare TOML key cannot
    (``[budget.geos.上海]``, a region named in Chinese or with spaces)."""
    lines = source.read_text(encoding="utf-8").splitlines()
    at = re.search(r"at line (\d+)", str(exc))
    n = int(at.group(1)) if at else 0
    line = lines[n - 1] if 0 < n <= len(lines) else ""
    key = line.split("=", 1)[0] if "=" in line and not line.lstrip().startswith("[") else line
    if any(not (ch.isascii() and (ch.isalnum() or ch in "_-.[]\"' \t")) for ch in key):
        return (
            '; a key with other characters than A-Z, a-z, 0-9, "_" and "-" (a region named in '
            'Chinese, or with spaces) must be quoted, e.g. [budget.geos."上海"]'
        )
    return ""


def plan_from_dict(
    raw: dict[str, Any], source: str | Path | None = None, base_dir: str | Path | None = None
) -> Plan:
    """Validate a plan given as a dict (the parsed TOML).

    Parameters
    ----------
    raw
        Plan contents, shaped like the TOML file.
    source
        Plan file the dict came from; used in messages and as the default ``base_dir``.
    base_dir
        Folder that relative paths are resolved against (default: the folder of ``source``,
        else the current directory). The data file need not exist yet.

    Raises
    ------
    PlanError
        With one readable paragraph that names every offending key path.
    """
    label = str(source) if source is not None else "plan"
    if base_dir is None:
        base_dir = Path(source).parent if source is not None else Path.cwd()
    raw = _resolve_paths(raw, Path(base_dir), (("data", "path"), *_LIFECYCLE_PATHS))
    try:
        return Plan.model_validate(raw)
    except ValidationError as exc:
        raise PlanError(f"{label}: " + _explain(exc, raw)) from None


_LIFECYCLE_PATHS = (("lifecycle", "transactions"), ("lifecycle", "campaigns"),
                    ("journeys", "touches"), ("journeys", "conversions"),
                    ("journeys", "redemptions"))  # fmt: skip


def _resolve_paths(
    raw: dict[str, Any], base_dir: Path, keys: tuple[tuple[str, str], ...]
) -> dict[str, Any]:
    """Copy of ``raw`` with the string paths at ``section.key`` made absolute."""
    for section, key in keys:
        table = raw.get(section)
        if isinstance(table, dict) and isinstance(table.get(key), str):
            resolved = str((base_dir / table[key]).resolve())
            raw = {**raw, section: {**table, key: resolved}}
    return raw


def _explain(exc: ValidationError, raw: dict[str, Any]) -> str:
    """Turn pydantic's errors into one paragraph that names key paths and accepted values."""
    parts = []
    errors = exc.errors(include_url=False)
    for err in errors:
        loc = tuple(err["loc"])
        where = _key_path(loc) + _channel_context(loc, raw)
        kind, msg, ctx = err["type"], err["msg"], err.get("ctx", {})
        if kind == "too_short" and any(
            len(e["loc"]) > len(loc) and tuple(e["loc"][: len(loc)]) == loc for e in errors
        ):
            continue  # pydantic counts only the valid items; the item errors say it all
        if kind == "too_short":
            text = f"{where}: needs at least {ctx.get('min_length')} item(s), got "
            text += str(ctx.get("actual_length"))
        elif kind == "missing" and isinstance(loc[-1], int):
            text = f"{_key_path(loc[:-1])}: item {loc[-1] + 1} is missing"
        elif kind == "extra_forbidden":
            valid = _fields_at(loc[:-1])
            key = str(loc[-1])
            text = f"{where}: unknown key{_hint(key, valid)}"
            if valid:
                text += f"; valid keys here: {', '.join(valid)}"
        elif kind == "missing":
            text = f"{where}: required key is missing"
        elif kind in {"value_error", "assertion_error"}:
            detail = msg.removeprefix("Value error, ").removeprefix("Assertion failed, ")
            text = f"{where}: {detail}" if where else detail
        else:
            accepted = msg.replace("Input should be", "expected", 1)
            accepted = re.sub(r"^expected (greater|less)", r"expected a number \1", accepted)
            text = f"{where} = {_show(err.get('input'))} is not accepted: {accepted}"
        parts.append(text)
    return "; ".join(parts) + "."


def _key_path(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part + 1}]"
        else:
            out += ("." if out else "") + toml_key(str(part))
    return out


def _channel_context(loc: tuple[Any, ...], raw: dict[str, Any]) -> str:
    if len(loc) >= 2 and loc[0] == "channels" and isinstance(loc[1], int):
        items = raw.get("channels")
        if isinstance(items, list) and loc[1] < len(items) and isinstance(items[loc[1]], dict):
            name = items[loc[1]].get("name")
            if isinstance(name, str):
                return f' (channel "{name}")'
    return ""


def _show(value: Any) -> str:
    if isinstance(value, dict):
        return "a table"
    text = json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= 60 else text[:57] + "..."


def _fields_at(loc: tuple[Any, ...]) -> list[str]:
    """Valid keys of the model found at ``loc`` below :class:`Plan` (empty if none)."""
    tp: Any = Plan
    for part in loc:
        tp = _unwrap(tp)
        if isinstance(tp, type) and issubclass(tp, BaseModel):
            if part not in tp.model_fields:
                return []
            tp = tp.model_fields[part].annotation
        elif typing.get_origin(tp) in (list, tuple):
            tp = typing.get_args(tp)[0]
        elif typing.get_origin(tp) is dict:
            tp = typing.get_args(tp)[1]
        else:
            return []
    tp = _unwrap(tp)
    if typing.get_origin(tp) in (list, tuple):  # the error sits on an item of a list
        tp = _unwrap(typing.get_args(tp)[0])
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        return list(tp.model_fields)
    return []


def _unwrap(tp: Any) -> Any:
    while True:
        origin = typing.get_origin(tp)
        if origin is Annotated:
            tp = typing.get_args(tp)[0]
        elif origin in (typing.Union, types.UnionType):
            args = [a for a in typing.get_args(tp) if a is not type(None)]
            if len(args) != 1:
                return tp
            tp = args[0]
        else:
            return tp


# ---------------------------------------------------------------------------------------------
# Writing


def dump_plan(plan: Plan, path: str | Path) -> Path:
    """Write ``plan`` as TOML to ``path`` and return the path.

    The data path is written as an absolute path, so the copy loads from anywhere.
    """
    out = Path(path)
    out.write_text(toml_text(plan.to_toml_dict()), encoding="utf-8")
    return out
