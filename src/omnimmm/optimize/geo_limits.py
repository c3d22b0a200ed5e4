"""The plan's budget limits over regions (``[budget]``, ``[budget.channels.NAME]``,
``[budget.geos.NAME]``) as :class:`~omnimmm.optimize.scenarios.Constraints` over the budget
lines of :mod:`omnimmm.optimize.geo` (national totals, region x local channel).

Every line may have bounds and a ``max_change`` of its own: a national total takes its
channel's; a region's local channel takes the cell's (``[budget.geos.R.channels.C]``), else
the tighter of its region's and its channel's where both are set (both are limits the plan
states, so both hold), else whichever is set, else the plan-wide ``max_change``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from omnimmm.errors import PlanError
from omnimmm.optimize.geo import SEP, GeoLayout, GeoResponse
from omnimmm.optimize.scenarios import ChannelBounds, ChannelGroup, Constraints

__all__ = ["GeoLimits", "geo_constraints"]


def _limit(t: Any) -> tuple[float | None, float | None, bool, float | None]:
    """``(min, max, locked, max_change)`` of a 3- or 4-tuple (no limits for None)."""
    if t is None:
        return None, None, False, None
    lo, hi, lock, *rest = t
    return lo, hi, bool(lock), (rest[0] if rest else None)


@dataclass(frozen=True)
class GeoLimits:
    """One region's limits (``[budget.geos.NAME]`` of a plan).

    Attributes
    ----------
    min, max : float, optional
        Bounds on the region's local media spend over the horizon (national buys are split
        by their shares and bounded as national totals).
    max_change : float, optional
        Each of the region's local channels within ``current * (1 +- max_change)``, in place
        of the plan-wide ``max_change`` (see :func:`geo_constraints` for how it combines
        with a channel's own).
    channels : mapping of channel -> (min, max, locked[, max_change])
        Limits of one local channel in this region.
    """

    min: float | None = None
    max: float | None = None
    max_change: float | None = None
    channels: Mapping[str, Any] = field(default_factory=dict)


def _own_change(
    region: str | None, ch: str, channels: Mapping[str, Any], geos: Mapping[str, GeoLimits]
) -> float | None:
    """The ``max_change`` of one budget line other than the plan-wide one, or None.

    A national total: its channel's. A region's local channel: the cell's own
    (``[budget.geos.R.channels.C]``) if set; else the tighter of the region's and the
    channel's where both are set (each is a limit the plan states, so both hold); else
    whichever is set.
    """
    chan = _limit(channels.get(ch))[3]
    if region is None:
        return chan
    lim = geos.get(region)
    if lim is None:
        return chan
    cell = _limit(lim.channels.get(ch))[3]
    if cell is not None:
        return cell
    given = [m for m in (lim.max_change, chan) if m is not None]
    return min(given) if given else None


def geo_constraints(
    response: GeoResponse | GeoLayout,
    *,
    max_change: float | None,
    channels: Mapping[str, Any] | None = None,
    geos: Mapping[str, GeoLimits] | None = None,
    online_share: tuple[float | None, float | None] | None = None,
) -> Constraints:
    """The plan's budget limits as constraints over a :class:`GeoResponse`'s variables.

    Parameters
    ----------
    response : GeoResponse or GeoLayout
    max_change : float, optional
        Plan-wide: every budget line (a national total, a region's local channel) within
        ``current * (1 +- max_change)``, unless it has its own (below).
    channels : mapping of channel -> (min, max, locked[, max_change]), optional
        ``[budget.channels.NAME]``: ``min``/``max`` bound a national channel's total or a
        local channel's sum over regions (a channel group); ``locked`` holds every region at
        its current spend; ``max_change`` applies to the national total, or to each
        region's spend on a local channel.
    geos : mapping of region -> GeoLimits, optional
        ``[budget.geos.NAME]``.
    online_share : (low, high), optional

    Returns
    -------
    Constraints
        Per-line ``max_change`` in ``max_changes`` (labelled "its own" when binding).

    Raises
    ------
    PlanError
        A region or channel name the response does not have, naming the plan key.
    """
    channels = dict(channels or {})
    geos = dict(geos or {})
    base, names = response.base_channels, response.channels
    scope = dict(zip(base, response.scopes, strict=True))
    for ch in channels:
        if ch not in scope:
            raise PlanError(f"budget.channels.{ch}: no channel {ch!r}; channels: {list(base)}")
    for geo, lim in geos.items():
        if geo not in response.geos:
            raise PlanError(
                f"budget.geos.{geo}: the data have no region {geo!r}; regions: "
                f"{', '.join(response.geos)}"
            )
        for ch in lim.channels:
            if scope.get(ch) != "local":
                raise PlanError(f"budget.geos.{geo}.channels.{ch}: {ch!r} is not a local channel")
    bounds: dict[str, ChannelBounds] = {}
    changes: dict[str, float] = {}
    locked: list[str] = []
    for name in names:
        region, ch = response.variable(name)
        if region is None:
            lo, hi, lock, _ = _limit(channels.get(ch))
        else:
            cell = geos.get(region)
            lo, hi, lock, _ = _limit(None if cell is None else cell.channels.get(ch))
            lock = lock or _limit(channels.get(ch))[2]
        if lock:
            locked.append(name)
            continue
        own = _own_change(region, ch, channels, geos)
        if own is not None and own != max_change:
            changes[name] = own
        if lo is not None or hi is not None:
            bounds[name] = ChannelBounds(min=lo, max=hi)
    groups = []
    for ch, t in channels.items():
        lo, hi, _, _ = _limit(t)
        if scope[ch] == "local" and (lo is not None or hi is not None):
            members = tuple(f"{g}{SEP}{ch}" for g in response.geos)
            groups.append(ChannelGroup(f"{ch} (all regions)", members, min=lo, max=hi))
    for geo, lim in geos.items():
        if lim.min is not None or lim.max is not None:
            members = tuple(f"{geo}{SEP}{c}" for c in base if scope[c] == "local")
            if members:
                groups.append(ChannelGroup(f"region {geo}", members, min=lim.min, max=lim.max))
    return Constraints(
        bounds=bounds,
        max_change=max_change,
        online_share=online_share,
        locked=tuple(locked),
        groups=tuple(groups),
        max_changes=changes,
    )
