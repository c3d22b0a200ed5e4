"""Scenarios (what to optimize), constraints (what is allowed) and feasibility checks.

Everything here is linear in the allocation, so whether a set of constraints can be met
at all is decided before any response is evaluated: :func:`check_feasible` resolves the
constraints into per-variable bounds and linear rows, and raises
:class:`omnimmm.errors.InfeasibleError` naming the constraints that conflict.

Decision variables are the media channels' horizon totals followed, for a joint solve, by
the retention segments' spends. Retention variables count toward the total budget but not
toward online/offline shares, channel groups or ``max_change`` (they have no last quarter
to stay close to).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from omnimmm.errors import InfeasibleError, PlanError, numbered

__all__ = [
    "ChannelBounds",
    "ChannelGroup",
    "Constraints",
    "FixedBudget",
    "LinearRow",
    "ResolvedConstraints",
    "RevenueTarget",
    "Scenario",
    "TargetROI",
    "check_feasible",
    "money",
]

#: Spend ceiling of a channel without an explicit maximum, as a multiple of the current
#: total media spend (keeps target-ROI and revenue-target problems bounded).
DEFAULT_MAX_FACTOR = 10.0


def money(x: float) -> str:
    """Format an amount compactly: ``5.0M``, ``320.0K``, ``12``."""
    a = abs(x)
    if a >= 1e9:
        return f"{x / 1e9:.2f}B"
    if a >= 1e6:
        return f"{x / 1e6:.2f}M"
    if a >= 1e3:
        return f"{x / 1e3:.1f}K"
    return f"{x:.0f}"


def _positive(name: str, value: float) -> None:
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not (math.isfinite(value) and value > 0)
    ):
        raise PlanError(f"{name} must be a positive number, got {value!r}")


# --------------------------------------------------------------------------- scenarios


@dataclass(frozen=True)
class FixedBudget:
    """Spend a fixed budget over the horizon.

    Parameters
    ----------
    total : float
        Budget over the horizon (currency units, media plus retention).
    objective : {"revenue", "profit"}
        ``"revenue"`` spends exactly ``total`` to maximize horizon value. ``"profit"``
        maximizes ``margin * value - spend`` and treats ``total`` as a ceiling (spending all
        of a fixed budget would make profit and revenue the same problem).
    margin : float, default 1.0
        Profit per unit of revenue, for ``objective="profit"``.
    """

    total: float
    objective: Literal["revenue", "profit"] = "revenue"
    margin: float = 1.0

    def __post_init__(self) -> None:
        _positive("FixedBudget.total", self.total)
        _positive("FixedBudget.margin", self.margin)
        if self.objective not in ("revenue", "profit"):
            raise PlanError(
                f"FixedBudget.objective must be 'revenue' or 'profit', got {self.objective!r}"
            )


@dataclass(frozen=True)
class TargetROI:
    """Spend while the return stays above a target.

    Parameters
    ----------
    target : float
        Revenue per unit of spend.
    kind : {"marginal", "total"}
        ``"marginal"``: maximize ``value - target * spend``, i.e. keep adding spend while
        the next unit returns at least ``target``. ``"total"``: the largest horizon value
        whose total ROI (value / spend) is at least ``target``.
    max_total : float, optional
        Ceiling on total spend.
    """

    target: float
    kind: Literal["marginal", "total"] = "marginal"
    max_total: float | None = None

    def __post_init__(self) -> None:
        _positive("TargetROI.target", self.target)
        if self.kind not in ("marginal", "total"):
            raise PlanError(f"TargetROI.kind must be 'marginal' or 'total', got {self.kind!r}")
        if self.max_total is not None:
            _positive("TargetROI.max_total", self.max_total)


@dataclass(frozen=True)
class RevenueTarget:
    """The least spend whose horizon value reaches ``target``.

    Parameters
    ----------
    target : float
        Horizon value to reach (revenue, all outcomes, under the chosen risk functional).
    max_total : float, optional
        Ceiling on total spend.
    """

    target: float
    max_total: float | None = None

    def __post_init__(self) -> None:
        _positive("RevenueTarget.target", self.target)
        if self.max_total is not None:
            _positive("RevenueTarget.max_total", self.max_total)


Scenario = FixedBudget | TargetROI | RevenueTarget


# --------------------------------------------------------------------------- constraints


@dataclass(frozen=True)
class ChannelBounds:
    """Minimum and/or maximum spend of one channel over the horizon.

    With ``relative=True`` the numbers are multiples of the channel's current (last
    quarter) spend, e.g. ``ChannelBounds(min=0.8, max=1.5, relative=True)``.
    """

    min: float | None = None
    max: float | None = None
    relative: bool = False

    def __post_init__(self) -> None:
        for name in ("min", "max"):
            v = getattr(self, name)
            if v is not None and (not np.isfinite(v) or v < 0):
                raise PlanError(f"ChannelBounds.{name} must be a non-negative number, got {v!r}")


@dataclass(frozen=True)
class ChannelGroup:
    """A named set of channels whose combined spend has its own bounds.

    With ``relative=True`` the bounds are multiples of the group's current spend.
    """

    name: str
    channels: tuple[str, ...]
    min: float | None = None
    max: float | None = None
    relative: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "channels", tuple(self.channels))
        if not self.channels:
            raise PlanError(f"channel group {self.name!r} must list at least one channel")
        for name in ("min", "max"):
            v = getattr(self, name)
            if v is not None and (not np.isfinite(v) or v < 0):
                raise PlanError(
                    f"channel group {self.name!r}: {name} must be a non-negative number, got {v!r}"
                )


@dataclass(frozen=True)
class Constraints:
    """Business constraints on a next-quarter allocation.

    Parameters
    ----------
    bounds : mapping of channel -> ChannelBounds
        Per-channel minimum/maximum, absolute or relative to current spend.
    max_change : float, optional
        Each channel within ``current * (1 - max_change)`` and ``current * (1 + max_change)``.
    max_changes : mapping of channel -> float
        A channel's own ``max_change``, in place of ``max_change`` (tighter or looser).
    online_share : (low, high), optional
        Bounds on online media spend / all media spend; either side may be None.
    locked : tuple of str
        Channels held at their current spend.
    groups : tuple of ChannelGroup
        Channel groups with bounds on their combined spend.
    """

    bounds: Mapping[str, ChannelBounds] = field(default_factory=dict)
    max_change: float | None = None
    online_share: tuple[float | None, float | None] | None = None
    locked: tuple[str, ...] = ()
    groups: tuple[ChannelGroup, ...] = ()
    max_changes: Mapping[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        locked = (self.locked,) if isinstance(self.locked, str) else tuple(self.locked)
        object.__setattr__(self, "locked", locked)
        object.__setattr__(self, "groups", tuple(self.groups))
        for name, b in self.bounds.items():
            if not isinstance(b, ChannelBounds):
                raise PlanError(
                    f"bounds[{name!r}] must be a ChannelBounds(min=..., max=..., relative=...), "
                    f"got {b!r}"
                )
        for g in self.groups:
            if not isinstance(g, ChannelGroup):
                raise PlanError(f"groups must be ChannelGroup(name, channels, ...), got {g!r}")
        if self.max_change is not None and not (
            self.max_change >= 0 and np.isfinite(self.max_change)
        ):
            raise PlanError(f"max_change must be a number >= 0, got {self.max_change!r}")
        for name, m in self.max_changes.items():
            if not (m >= 0 and np.isfinite(m)):
                raise PlanError(f"max_changes[{name!r}] must be a number >= 0, got {m!r}")
        if self.online_share is not None:
            lo, hi = self.online_share
            for v in (lo, hi):
                if v is not None and not 0 <= v <= 1:
                    raise PlanError(
                        f"online_share bounds must lie in [0, 1], got {self.online_share}"
                    )
            if lo is not None and hi is not None and lo > hi:
                raise PlanError(f"online_share low {lo} exceeds high {hi}")


# --------------------------------------------------------------------------- resolution


@dataclass(frozen=True)
class LinearRow:
    """One linear constraint ``low <= coef @ x <= high`` with a human-readable label."""

    label: str
    coef: np.ndarray
    low: float
    high: float


@dataclass(frozen=True, eq=False)
class ResolvedConstraints:
    """Constraints turned into numbers: variable bounds and linear rows.

    Attributes
    ----------
    names : tuple of str
        Decision variables: media channels, then retention segments (``retention:<name>``).
    lower, upper : arrays (N,)
        Bounds of each variable.
    lower_why, upper_why : tuple of str
        Which constraint set each bound (e.g. ``"locked"``, ``"max_change 0.2"``).
    rows : tuple of LinearRow
        Total budget, online share, channel groups.
    n_media : int
        Number of media variables (the first ``n_media`` names).
    """

    names: tuple[str, ...]
    lower: np.ndarray
    upper: np.ndarray
    lower_why: tuple[str, ...]
    upper_why: tuple[str, ...]
    rows: tuple[LinearRow, ...]
    n_media: int


def check_feasible(
    channels: Sequence[str],
    kinds: Sequence[str],
    current: np.ndarray,
    scenario: Scenario,
    constraints: Constraints | None = None,
    retention_names: Sequence[str] = (),
    retention_max: np.ndarray | None = None,
) -> ResolvedConstraints:
    """Resolve constraints against current spend and fail early if they cannot all hold.

    Parameters
    ----------
    channels, kinds : sequences of str
        Media channels and their kinds (``"online"``/``"offline"``).
    current : array (C,)
        Current (last quarter) spend per channel.
    scenario : FixedBudget, TargetROI or RevenueTarget
    constraints : Constraints, optional
    retention_names : sequence of str
        Retention segments entering as extra variables.
    retention_max : array (S,), optional
        Most that can be spent on each segment (everyone eligible contacted).

    Returns
    -------
    ResolvedConstraints

    Raises
    ------
    InfeasibleError
        Naming the conflicting constraints and numbered remedies.
    PlanError
        When a constraint names an unknown channel.
    """
    cons = constraints or Constraints()
    channels = tuple(channels)
    kinds = tuple(kinds)
    current = np.asarray(current, dtype=float)
    n_c = len(channels)
    _check_names(cons, channels)
    n_s = len(retention_names)
    n = n_c + n_s
    cap_default = DEFAULT_MAX_FACTOR * max(float(current.sum()), _scenario_total(scenario) or 0.0)
    lower = np.zeros(n)
    upper = np.full(n, cap_default if cap_default > 0 else np.inf)
    lower_why = ["non-negative"] * n
    upper_why = [f"default ceiling {DEFAULT_MAX_FACTOR:g} x current total"] * n

    def tighten(i: int, lo: float | None, hi: float | None, why: str) -> None:
        if lo is not None and lo > lower[i]:
            lower[i], lower_why[i] = lo, why
        if hi is not None and hi < upper[i]:
            upper[i], upper_why[i] = hi, why

    for i, ch in enumerate(channels):
        m = cons.max_changes.get(ch, cons.max_change)
        if m is not None:
            why = f"max_change {m:g}" + (" (its own)" if ch in cons.max_changes else "")
            tighten(i, current[i] * (1 - m), current[i] * (1 + m), why)
        b = cons.bounds.get(ch)
        if b is not None:
            k = current[i] if b.relative else 1.0
            tag = "relative bound" if b.relative else "bound"
            tighten(
                i, None if b.min is None else b.min * k, None if b.max is None else b.max * k, tag
            )
        if ch in cons.locked:
            # A lock holds the channel at its current spend; a bound that excludes that
            # spend contradicts the lock (max_change never does).
            if lower[i] > current[i] * (1 + 1e-12) + 1e-9:
                _lock_conflict(ch, current[i], f"minimum {money(lower[i])} ({lower_why[i]})")
            if upper[i] < current[i] * (1 - 1e-12) - 1e-9:
                _lock_conflict(ch, current[i], f"maximum {money(upper[i])} ({upper_why[i]})")
            lower[i] = upper[i] = current[i]
            lower_why[i] = upper_why[i] = "locked"
    if retention_max is not None:
        for s in range(n_s):
            upper[n_c + s] = float(retention_max[s])
            upper_why[n_c + s] = "everyone eligible contacted"
    names = channels + tuple(f"retention:{r}" for r in retention_names)

    rows: list[LinearRow] = []
    total_row = _total_row(scenario, n)
    if total_row is not None:
        rows.append(total_row)
    online = np.array([k == "online" for k in kinds] + [False] * n_s)
    media = np.array([True] * n_c + [False] * n_s)
    if cons.online_share is not None:
        lo, hi = cons.online_share
        if lo is not None and lo > 0:
            rows.append(LinearRow(f"online share >= {lo:g}", online - lo * media, 0.0, np.inf))
        if hi is not None and hi < 1:
            rows.append(LinearRow(f"online share <= {hi:g}", online - hi * media, -np.inf, 0.0))
    index = {c: i for i, c in enumerate(channels)}
    for g in cons.groups:
        coef = np.zeros(n)
        members = [index[c] for c in g.channels]
        coef[members] = 1.0
        k = float(current[members].sum()) if g.relative else 1.0
        lo = 0.0 if g.min is None else g.min * k
        hi = np.inf if g.max is None else g.max * k
        rows.append(LinearRow(f"group {g.name!r}", coef, lo, hi))

    resolved = ResolvedConstraints(
        names, lower, upper, tuple(lower_why), tuple(upper_why), tuple(rows), n_c
    )
    _diagnose(resolved, online, media, total_row)
    return resolved


def _lock_conflict(channel: str, current: float, bound: str) -> None:
    raise InfeasibleError(
        f"{channel} is locked at its current spend {money(current)}, but its {bound} "
        f"excludes that spend\nTry:\n"
        + numbered(
            [
                f"unlock {channel}",
                f"drop or loosen the {bound.split(' (')[0].split()[0]} bound on {channel}",
            ]
        )
    )


def _scenario_total(scenario: Scenario) -> float | None:
    if isinstance(scenario, FixedBudget):
        return scenario.total
    return scenario.max_total


def _total_row(scenario: Scenario, n: int) -> LinearRow | None:
    ones = np.ones(n)
    if isinstance(scenario, FixedBudget):
        t = scenario.total
        if scenario.objective == "revenue":
            return LinearRow(f"total budget {money(t)}", ones, t, t)
        return LinearRow(f"budget ceiling {money(t)}", ones, 0.0, t)
    if scenario.max_total is not None:
        return LinearRow(
            f"budget ceiling {money(scenario.max_total)}", ones, 0.0, scenario.max_total
        )
    return None


def _check_names(cons: Constraints, channels: tuple[str, ...]) -> None:
    known = set(channels)
    for where, names in (
        ("bounds", list(cons.bounds)),
        ("locked", list(cons.locked)),
        ("max_changes", list(cons.max_changes)),
        *((f"group {g.name!r}", list(g.channels)) for g in cons.groups),
    ):
        unknown = [c for c in names if c not in known]
        if unknown:
            raise PlanError(
                f"constraints {where} name unknown channel(s) {unknown}; "
                f"the channels are {list(channels)}"
            )


def _listing(idx: np.ndarray, values: np.ndarray, why: Sequence[str], names: Sequence[str]) -> str:
    order = sorted(idx, key=lambda i: -values[i])
    return ", ".join(f"{names[i]} {money(values[i])} ({why[i]})" for i in order)


def _diagnose(
    r: ResolvedConstraints, online: np.ndarray, media: np.ndarray, total_row: LinearRow | None
) -> None:
    """Raise InfeasibleError with the conflicting constraints named, or return."""
    lo, hi, names = r.lower, r.upper, r.names
    bad = np.flatnonzero(lo > hi * (1 + 1e-12) + 1e-9)
    if bad.size:
        lines = [
            f"{names[i]}: minimum {money(lo[i])} ({r.lower_why[i]}) exceeds maximum "
            f"{money(hi[i])} ({r.upper_why[i]})"
            for i in bad
        ]
        raise InfeasibleError(
            "channel bounds contradict each other:\n  "
            + "\n  ".join(lines)
            + "\nTry:\n"
            + numbered(["loosen or drop one of the two bounds named for each channel"])
        )
    all_idx = np.arange(len(names))
    if total_row is not None:
        t_lo, t_hi = total_row.low, total_row.high
        pos = all_idx[lo > 0]
        if lo.sum() > t_hi * (1 + 1e-9):
            raise InfeasibleError(
                f"sum of channel minimums {money(lo.sum())} exceeds the {total_row.label}: "
                f"{_listing(pos, lo, r.lower_why, names)}\nTry:\n"
                + numbered(
                    [
                        f"raise the budget to at least {money(lo.sum())}",
                        "unlock channels or lower their minimums ([budget.channels.NAME] "
                        "locked / min)",
                        "allow a larger max_change under [budget] (it sets minimums below "
                        "current spend)",
                    ]
                )
            )
        if hi.sum() < t_lo * (1 - 1e-9):
            raise InfeasibleError(
                f"sum of channel maximums {money(hi.sum())} is below the {total_row.label}: "
                f"{_listing(all_idx, hi, r.upper_why, names)}\nTry:\n"
                + numbered(
                    [
                        f"lower the budget to at most {money(hi.sum())}",
                        "raise channel maximums ([budget.channels.NAME] max) or allow a "
                        "larger max_change under [budget]",
                        'treat the total as a ceiling: objective = "profit" under [budget] '
                        "in the plan (in Python, FixedBudget(objective='profit'))",
                    ]
                )
            )
    _diagnose_share(r, online, media, total_row)
    _diagnose_groups(r)
    _final_lp(r)


def _share_range(lo: np.ndarray, hi: np.ndarray, on: np.ndarray, off: np.ndarray, t: float | None):
    """Smallest and largest achievable online share (total fixed at ``t`` or free)."""
    on_lo, on_hi, off_lo, off_hi = lo[on].sum(), hi[on].sum(), lo[off].sum(), hi[off].sum()
    if t is not None:
        # Media total is t minus whatever the retention variables take; bound loosely by
        # the media-only case when no retention is present.
        max_on = min(on_hi, t - off_lo)
        min_on = max(on_lo, t - off_hi)
        return min_on / t, max_on / t, max_on, min_on
    max_share = on_hi / (on_hi + off_lo) if on_hi + off_lo > 0 else 0.0
    min_share = on_lo / (on_lo + off_hi) if on_lo + off_hi > 0 else 1.0
    return min_share, max_share, on_hi, on_lo


def _diagnose_share(
    r: ResolvedConstraints, online: np.ndarray, media: np.ndarray, total_row: LinearRow | None
) -> None:
    share_rows = [row for row in r.rows if row.label.startswith("online share")]
    if not share_rows:
        return
    on, off = online, media & ~online
    has_retention = r.n_media < len(r.names)
    fixed = total_row is not None and total_row.low == total_row.high and not has_retention
    t = total_row.low if fixed and total_row is not None else None
    min_share, max_share, max_on, min_on = _share_range(r.lower, r.upper, on, off, t)
    idx_on, idx_off = np.flatnonzero(on), np.flatnonzero(off)
    on_hi, off_lo = r.upper[on].sum(), r.lower[off].sum()
    on_lo, off_hi = r.lower[on].sum(), r.upper[off].sum()
    of_total = f" of the {money(t)} total" if t is not None else ""
    for row in share_rows:
        want = float(row.label.split()[-1])
        if row.label.startswith("online share >=") and max_share < want - 1e-9:
            raise InfeasibleError(
                f"{row.label} impossible: at most {max_share:.3f} of media spend can go online "
                f"(at most {money(max_on)} online{of_total}). Online channels can take at most "
                f"{money(on_hi)}: {_listing(idx_on, r.upper, r.upper_why, r.names)}; offline "
                f"channels need at least {money(off_lo)}: "
                f"{_listing(idx_off, r.lower, r.lower_why, r.names)}\nTry:\n"
                + numbered(
                    [
                        f"lower the online share floor to {max_share:.3f} or less",
                        "allow a larger max_change or higher maximums on online channels",
                        "lower the minimums (or unlock) offline channels",
                    ]
                )
            )
        if row.label.startswith("online share <=") and min_share > want + 1e-9:
            raise InfeasibleError(
                f"{row.label} impossible: at least {min_share:.3f} of media spend must go online "
                f"(at least {money(min_on)} online{of_total}). Offline channels can take at most "
                f"{money(off_hi)}: {_listing(idx_off, r.upper, r.upper_why, r.names)}; online "
                f"channels need at least {money(on_lo)}: "
                f"{_listing(idx_on, r.lower, r.lower_why, r.names)}\nTry:\n"
                + numbered(
                    [
                        f"raise the online share ceiling to {min_share:.3f} or more",
                        "allow a larger max_change or higher maximums on offline channels",
                        "lower the minimums (or unlock) online channels",
                    ]
                )
            )


def _diagnose_groups(r: ResolvedConstraints) -> None:
    for row in r.rows:
        if not row.label.startswith("group"):
            continue
        idx = np.flatnonzero(row.coef)
        g_lo, g_hi = r.lower[idx].sum(), r.upper[idx].sum()
        if row.low > g_hi * (1 + 1e-9):
            raise InfeasibleError(
                f"{row.label} minimum {money(row.low)} exceeds the most its channels can take, "
                f"{money(g_hi)}: {_listing(idx, r.upper, r.upper_why, r.names)}\nTry:\n"
                + numbered(["lower the group minimum", "raise its channels' maximums"])
            )
        if row.high < g_lo * (1 - 1e-9):
            raise InfeasibleError(
                f"{row.label} maximum {money(row.high)} is below its channels' minimums, "
                f"{money(g_lo)}: {_listing(idx, r.lower, r.lower_why, r.names)}\nTry:\n"
                + numbered(["raise the group maximum", "lower (or unlock) its channels' minimums"])
            )


def _rows_feasible(r: ResolvedConstraints, rows: Sequence[LinearRow]) -> bool:
    """Whether some allocation within the variable bounds satisfies ``rows`` (an LP)."""
    a_ub, b_ub = [], []
    for row in rows:
        if np.isfinite(row.high):
            a_ub.append(row.coef)
            b_ub.append(row.high)
        if np.isfinite(row.low):
            a_ub.append(-row.coef)
            b_ub.append(-row.low)
    if not a_ub:
        return True
    if len(rows) == 1:  # one row over a box: its range is exact, no LP (and no scipy import)
        return _row_feasible(r, rows[0])
    from scipy.optimize import linprog  # at first use: validate's checks mostly need none

    scale = max(float(np.nanmax(np.where(np.isfinite(r.upper), r.upper, 0.0))), 1.0)
    res = linprog(
        np.zeros(len(r.names)),
        A_ub=np.array(a_ub),
        b_ub=np.array(b_ub) / scale,
        bounds=[
            (lo, hi if np.isfinite(hi) else None)
            for lo, hi in zip(r.lower / scale, r.upper / scale, strict=True)
        ],
        method="highs",
    )
    return res.status != 2


def _row_feasible(r: ResolvedConstraints, row: LinearRow) -> bool:
    """Whether ``row.low <= row.coef @ x <= row.high`` for some ``x`` within the bounds: the
    row's least and greatest values over the box, at the same scale and tolerance as the LP."""
    c = np.asarray(row.coef, dtype=float)
    lo, hi = np.asarray(r.lower, dtype=float), np.asarray(r.upper, dtype=float)
    nz = c != 0
    at_lo, at_hi = c[nz] * lo[nz], c[nz] * hi[nz]
    least = float(np.minimum(at_lo, at_hi).sum())
    most = float(np.maximum(at_lo, at_hi).sum())
    scale = max(float(np.nanmax(np.where(np.isfinite(hi), hi, 0.0))), 1.0)
    tol = 1e-7 * scale * max(1.0, float(np.abs(c).sum()))
    return most >= row.low - tol and least <= row.high + tol


def _final_lp(r: ResolvedConstraints) -> None:
    """Catch conflicts between several rows that the pairwise checks above cannot see.

    When the rows conflict, a deletion filter keeps only rows needed for the conflict
    (dropping each row whose removal leaves the rest infeasible), so the message names an
    irreducible set of conflicting constraints.
    """
    if _rows_feasible(r, r.rows):
        return
    needed = list(r.rows)
    for row in list(needed):
        rest = [x for x in needed if x is not row]
        if not _rows_feasible(r, rest):
            needed = rest
    labels = [row.label for row in needed]
    raise InfeasibleError(
        "no allocation satisfies these constraints together: "
        + "; ".join(labels)
        + " (with the channel bounds; drop any one of them and the rest can hold)\nTry:\n"
        + numbered(
            [
                "drop or loosen one of the constraints named above and re-run",
                "allow a larger max_change or wider channel bounds",
                "change the budget total",
            ]
        )
    )
