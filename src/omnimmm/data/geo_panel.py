"""A geo panel: weekly outcomes and spend for every region, as arrays.

One week axis shared by every region, one region axis, one channel axis. A national channel
(``scope = "national"``: one buy for the whole country) holds in each region's column the
region's share of that buy, so that the regions' columns add up to the national buy; a
local channel holds what was bought in the region. Reading a long file into a panel (and the
file-level checks: missing region-weeks, shares that do not add up) is
:mod:`omnimmm.data.geo_read`'s; here are the arrays and their shape and value checks only.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from omnimmm.errors import DataError

__all__ = ["GeoPanel"]

_KINDS = ("online", "offline")
_SCOPES = ("national", "local")


def _first_bad(mask: Any, dates: pd.DatetimeIndex, geos: tuple[str, ...]) -> str:
    """``"region X, week Y"`` of the first True in ``mask`` (week axis 0, region axis 1)."""
    t, g = (int(i) for i in np.argwhere(mask)[0][:2])
    return f"region {geos[g]!r}, week {dates[t].date().isoformat()}"


@dataclass(frozen=True)
class GeoPanel:
    """Weekly spend and outcomes of ``G`` regions over ``T`` shared weeks.

    Attributes
    ----------
    dates : pandas.DatetimeIndex
        ``T`` weekly dates, ascending, shared by every region.
    geos : tuple of str
        ``G`` region names.
    channels, kinds, scopes : tuple of str
        ``C`` channel names; ``"online"`` or ``"offline"``; ``"national"`` or ``"local"``.
    outcomes : tuple of str
        ``O`` outcome names (one or two, e.g. online and store revenue).
    spend : array (T, G, C)
        What was bought in the region (local channels) or the national buy times the
        region's share (national channels), in currency units.
    y : array (T, G, O)
        Outcomes, in currency units.
    controls : array (T, G, K)
        Control variables (``K`` may be 0), named by ``control_names``.
    population : array (G,)
        Region sizes, > 0 (ones when not given).
    events : array (T, E), optional
        National event dummies (festivals), named by ``event_names``.
    """

    dates: pd.DatetimeIndex
    geos: tuple[str, ...]
    channels: tuple[str, ...]
    kinds: tuple[str, ...]
    scopes: tuple[str, ...]
    outcomes: tuple[str, ...]
    spend: np.ndarray
    y: np.ndarray
    controls: np.ndarray
    control_names: tuple[str, ...]
    population: np.ndarray
    events: np.ndarray | None = None
    event_names: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        dates = pd.DatetimeIndex(self.dates)
        object.__setattr__(self, "dates", dates)
        for name in ("geos", "channels", "kinds", "scopes", "outcomes"):
            object.__setattr__(self, name, tuple(str(v) for v in getattr(self, name)))
        object.__setattr__(self, "control_names", tuple(str(v) for v in self.control_names))
        object.__setattr__(self, "event_names", tuple(str(v) for v in self.event_names))
        t_n, g_n, c_n = len(dates), len(self.geos), len(self.channels)
        if t_n < 2 or dates.hasnans or not dates.is_monotonic_increasing or not dates.is_unique:
            raise DataError(
                "GeoPanel: dates must be at least two distinct weekly dates in ascending "
                f"order, got {t_n} dates"
            )
        for name, values in (("geos", self.geos), ("channels", self.channels)):
            if not values or len(set(values)) != len(values):
                raise DataError(f"GeoPanel: {name} must be unique and non-empty, got {values}")
        if len(self.kinds) != c_n or not set(self.kinds) <= set(_KINDS):
            raise DataError(
                f"GeoPanel: kinds must give 'online' or 'offline' for each of the {c_n} "
                f"channels, got {self.kinds}"
            )
        if len(self.scopes) != c_n or not set(self.scopes) <= set(_SCOPES):
            raise DataError(
                f"GeoPanel: scopes must give 'national' or 'local' for each of the {c_n} "
                f"channels, got {self.scopes}"
            )
        if len(self.outcomes) not in (1, 2) or len(set(self.outcomes)) != len(self.outcomes):
            raise DataError(
                f"GeoPanel: outcomes must name one or two distinct outcomes, got {self.outcomes}"
            )
        k_n, o_n = len(self.control_names), len(self.outcomes)
        arrays = {
            "spend": (self.spend, (t_n, g_n, c_n)),
            "y": (self.y, (t_n, g_n, o_n)),
            "controls": (self.controls, (t_n, g_n, k_n)),
        }
        for name, (value, shape) in arrays.items():
            arr = np.asarray(value, dtype=np.float64)
            if arr.shape != shape:
                raise DataError(
                    f"GeoPanel: {name} must have shape (weeks, regions, "
                    f"{'channels' if name == 'spend' else name}) = {shape}, got {arr.shape}"
                )
            bad = ~np.isfinite(arr)
            if bad.any():
                raise DataError(
                    f"GeoPanel: {name} has a missing or infinite value at "
                    f"{_first_bad(bad.reshape(t_n, g_n, -1).any(axis=2), dates, self.geos)}"
                )
            object.__setattr__(self, name, arr)
        if (self.spend < 0).any():
            raise DataError(
                "GeoPanel: spend must be >= 0; negative at "
                f"{_first_bad((self.spend < 0).any(axis=2), dates, self.geos)}"
            )
        pop = np.asarray(self.population, dtype=np.float64)
        if pop.shape != (g_n,) or not np.all(np.isfinite(pop)) or np.any(pop <= 0):
            bad_g = [g for g, p in zip(self.geos, np.atleast_1d(pop), strict=False) if not (p > 0)]
            raise DataError(
                f"GeoPanel: population must be {g_n} finite numbers > 0 (one per region), "
                f"got shape {pop.shape}" + (f"; bad for region {bad_g[0]!r}" if bad_g else "")
            )
        object.__setattr__(self, "population", pop)
        if self.events is None:
            if self.event_names:
                raise DataError("GeoPanel: event_names given without events")
        else:
            ev = np.asarray(self.events, dtype=np.float64)
            if ev.shape != (t_n, len(self.event_names)) or not np.all(np.isfinite(ev)):
                raise DataError(
                    f"GeoPanel: events must be finite with shape (weeks, events) = "
                    f"{(t_n, len(self.event_names))}, got {ev.shape}"
                )
            object.__setattr__(self, "events", ev)

    @property
    def n_weeks(self) -> int:
        """Number of weeks ``T``."""
        return len(self.dates)

    @property
    def n_geos(self) -> int:
        """Number of regions ``G``."""
        return len(self.geos)

    def national_spend(self) -> np.ndarray:
        """Weekly spend summed over regions, shape (T, C)."""
        return self.spend.sum(axis=1)

    def national_y(self) -> np.ndarray:
        """Weekly outcomes summed over regions, shape (T, O)."""
        return self.y.sum(axis=1)

    def event_matrix(self) -> np.ndarray:
        """The event dummies, shape (T, E) (E = 0 without events)."""
        if self.events is None:
            return np.zeros((self.n_weeks, 0))
        return self.events
