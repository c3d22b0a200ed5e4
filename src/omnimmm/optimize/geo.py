"""Regions' responses as one :class:`~omnimmm.optimize.response.ResponseModel`, so the same
optimizer splits a budget across regions and channels at once (issue 19).

Decision variables
------------------
* a **local** channel (bought per region) has one variable per region, named
  ``"<region>/<channel>"``: what that region buys over the horizon;
* a **national** channel (one buy for the whole country) has one variable, named by the
  channel: the national total, which reaches region ``g`` as ``total * share[g]``. The shares
  are the regions' shares of the channel's last ``horizon_weeks`` (their whole history when
  that quarter was empty, equal shares when the channel never spent).

Region ``g``'s allocation is therefore a linear map of the variables, ``A_g = x @ M_g``, and
the value of ``x`` in a posterior draw is ``sum_g V_g(A_g)``, with gradient
``sum_g M_g @ grad V_g``. Each region's response carries its own inherited adstock and weekly
pattern, so the horizon value is the same carryover-aware value as a national plan's
(:mod:`omnimmm.optimize.response`). Draw ``d`` of every region is draw ``d`` of one joint
posterior (one hierarchical fit), so the regions' values are added draw by draw.

The plan's limits over these variables are :mod:`omnimmm.optimize.geo_limits`;
:func:`geo_tables` says what each region and region x channel gains and loses.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from omnimmm.errors import PlanError
from omnimmm.optimize.response import AdstockSaturationResponse

__all__ = ["GeoLayout", "GeoResponse", "geo_tables", "national_shares"]

SEP = "/"
_SCOPES = ("local", "national")


def national_shares(history: np.ndarray, horizon_weeks: int) -> np.ndarray:
    """Each region's share of each channel: last quarter's, else all history's, else equal.

    Parameters
    ----------
    history : array (T, G, C)
        Weekly spend by region and channel.
    horizon_weeks : int

    Returns
    -------
    array (G, C)
        Columns sum to 1.
    """
    h = np.asarray(history, dtype=float)
    n_g = h.shape[1]
    last = h[-horizon_weeks:].sum(axis=0)
    full = h.sum(axis=0)
    out = np.full(last.shape, 1.0 / n_g)
    for src in (full, last):  # last quarter wins where it has spend
        tot = src.sum(axis=0)
        ok = tot > 0
        out[:, ok] = src[:, ok] / tot[ok]
    return out


@dataclass(frozen=True, eq=False)
class GeoLayout:
    """The decision variables over regions (module docstring), without any response.

    Built from the data alone (:meth:`from_spend`), so the budget's constraints can be checked
    before a model is fitted; :class:`GeoResponse` builds the same layout from its regions.

    Attributes
    ----------
    geos, base_channels, kinds, scopes : tuple of str
        Regions; channels with their kinds and scopes.
    shares : array (G, C)
        Regions' shares of each channel (used for national channels).
    region_current : array (G, C)
        Each region's current spend per channel.
    """

    geos: tuple[str, ...]
    base_channels: tuple[str, ...]
    kinds_by_channel: tuple[str, ...]
    scopes: tuple[str, ...]
    shares: np.ndarray
    region_current: np.ndarray
    _map: np.ndarray = field(init=False, repr=False)
    _names: tuple[str, ...] = field(init=False, repr=False)
    _var_channel: tuple[int, ...] = field(init=False, repr=False)
    _var_geo: tuple[int, ...] = field(init=False, repr=False)

    @classmethod
    def from_spend(
        cls,
        spend: np.ndarray,
        geos: Sequence[str],
        channels: Sequence[str],
        kinds: Sequence[str],
        scopes: Sequence[str],
        horizon_weeks: int,
    ) -> GeoLayout:
        """The layout of a panel's weekly spend (T, G, C): current = the last horizon."""
        h = np.asarray(spend, dtype=float)
        return cls(
            tuple(geos), tuple(channels), tuple(kinds), tuple(scopes),
            national_shares(h, horizon_weeks), h[-horizon_weeks:].sum(axis=0),
        )  # fmt: skip

    def __post_init__(self) -> None:
        geos, chans, scopes = self.geos, self.base_channels, tuple(self.scopes)
        n_g, n_c = len(geos), len(chans)
        if len(scopes) != n_c or not set(scopes) <= set(_SCOPES):
            raise ValueError(f"scopes must give 'local' or 'national' per channel {chans}")
        shares = np.asarray(self.shares, dtype=float)
        nat = [c for c, sc in enumerate(scopes) if sc == "national"]
        if shares.shape != (n_g, n_c) or np.any(shares < 0):
            raise ValueError(f"shares must be non-negative with shape {(n_g, n_c)}")
        if nat and not np.allclose(shares[:, nat].sum(axis=0), 1.0, atol=1e-9):
            raise ValueError("shares of each national channel must sum to 1 over regions")
        names, var_c, var_g, rows = [], [], [], []
        for c, ch in enumerate(chans):
            if scopes[c] == "national":
                names.append(ch)
                var_c.append(c)
                var_g.append(-1)
                row = np.zeros((n_g, n_c))
                row[:, c] = shares[:, c]
                rows.append(row)
        for g, geo in enumerate(geos):
            for c, ch in enumerate(chans):
                if scopes[c] == "local":
                    names.append(f"{geo}{SEP}{ch}")
                    var_c.append(c)
                    var_g.append(g)
                    row = np.zeros((n_g, n_c))
                    row[g, c] = 1.0
                    rows.append(row)
        if len(set(names)) != len(names):
            dup = next(n for n in names if names.count(n) > 1)
            raise PlanError(
                f"budget line {dup!r} is both a national channel and a region/channel pair, or "
                "two regions and channels spell it alike; rename the region or the channel"
            )
        object.__setattr__(self, "scopes", scopes)
        object.__setattr__(self, "shares", shares)
        object.__setattr__(self, "_map", np.stack(rows))  # (V, G, C)
        object.__setattr__(self, "_names", tuple(names))
        object.__setattr__(self, "_var_channel", tuple(var_c))
        object.__setattr__(self, "_var_geo", tuple(var_g))

    @property
    def channels(self) -> tuple[str, ...]:
        """Variable names: national channels, then ``"<region>/<channel>"`` region by region."""
        return self._names

    @property
    def kinds(self) -> tuple[str, ...]:
        """Online/offline kind of each variable."""
        return tuple(self.kinds_by_channel[c] for c in self._var_channel)

    @property
    def current_allocation(self) -> np.ndarray:
        """Current spend per variable: national totals and each region's local spend."""
        cur = self.region_current
        return np.array(
            [
                cur[:, c].sum() if g < 0 else cur[g, c]
                for c, g in zip(self._var_channel, self._var_geo, strict=True)
            ]
        )

    def variable(self, name: str) -> tuple[str | None, str]:
        """``(region or None for a national total, channel)`` of a variable name."""
        i = self._names.index(name)
        g = self._var_geo[i]
        return (None if g < 0 else self.geos[g]), self.base_channels[self._var_channel[i]]

    def by_region(self, allocation: np.ndarray) -> np.ndarray:
        """Each region's spend per channel: (G, C), or (n, G, C) for (n, V)."""
        a = np.asarray(allocation, dtype=float)
        if a.shape[-1] != len(self._names):
            raise ValueError(f"allocation needs {len(self._names)} columns, got {a.shape}")
        return np.einsum("...v,vgc->...gc", a, self._map)

    def to_variables(self, weekly: np.ndarray) -> np.ndarray:
        """(..., G, C) per region and channel -> (..., V): national channels summed."""
        w = np.asarray(weekly, dtype=float)
        return np.stack(
            [
                w[..., :, c].sum(axis=-1) if g < 0 else w[..., g, c]
                for c, g in zip(self._var_channel, self._var_geo, strict=True)
            ],
            axis=-1,
        )

    def chain(self, grad_regions: np.ndarray) -> np.ndarray:
        """Gradient per region and channel (D, G, C) -> per variable (D, V)."""
        return np.einsum("dgc,vgc->dv", grad_regions, self._map)


@dataclass(frozen=True, eq=False)
class GeoResponse:
    """Per-region responses composed into one response over regions (module docstring).

    Parameters
    ----------
    regions : mapping of str -> ResponseModel
        One response per region, all over the same channels (in the same order), outcomes,
        horizon and posterior draws.
    scopes : sequence of {"local", "national"}
        Per channel.
    shares : array (G, C), optional
        Regions' shares of each national channel (columns of national channels must sum
        to 1); default: :func:`national_shares` of the responses' ``history_spend`` (their
        current allocations when they have none).
    """

    regions: Mapping[str, Any]
    scopes: Sequence[str]
    shares: np.ndarray | None = None
    layout: GeoLayout = field(init=False, repr=False)
    _stacked: Any = field(init=False, repr=False)

    def __post_init__(self) -> None:
        if not self.regions:
            raise PlanError("a geo budget needs at least one region with a fitted response")
        first = next(iter(self.regions.values()))
        chans, outs, weeks = tuple(first.channels), tuple(first.outcomes), first.horizon_weeks
        for name, r in self.regions.items():
            if tuple(r.channels) != chans or tuple(r.outcomes) != outs:
                raise ValueError(f"region {name!r} has other channels or outcomes than the first")
            if r.horizon_weeks != weeks or r.n_draws != first.n_draws:
                raise ValueError(f"region {name!r} has another horizon or number of draws")
        regions = list(self.regions.values())
        current = np.stack([np.asarray(r.current_allocation, dtype=float) for r in regions])
        if self.shares is not None:
            shares = np.asarray(self.shares, dtype=float)
        elif all(hasattr(r, "history_spend") for r in regions):
            hist = np.stack([np.asarray(r.history_spend, dtype=float) for r in regions], axis=1)
            shares = national_shares(hist, weeks)
        else:
            shares = national_shares(current[None], 1)
        layout = GeoLayout(
            tuple(self.regions), chans, tuple(first.kinds), tuple(self.scopes), shares, current
        )
        object.__setattr__(self, "scopes", layout.scopes)
        object.__setattr__(self, "shares", layout.shares)
        object.__setattr__(self, "layout", layout)
        object.__setattr__(self, "_stacked", _stack(regions))

    # ------------------------------------------------------------------ protocol

    @property
    def geos(self) -> tuple[str, ...]:
        """Region names, in order."""
        return self.layout.geos

    @property
    def base_channels(self) -> tuple[str, ...]:
        """The channels every region has (the national plan's channels)."""
        return self.layout.base_channels

    @property
    def channels(self) -> tuple[str, ...]:
        """Variable names: national channels, then ``"<region>/<channel>"`` region by region."""
        return self.layout.channels

    @property
    def kinds(self) -> tuple[str, ...]:
        """Online/offline kind of each variable."""
        return self.layout.kinds

    @property
    def outcomes(self) -> tuple[str, ...]:
        """Outcome names (values are summed over regions)."""
        return tuple(next(iter(self.regions.values())).outcomes)

    @property
    def n_draws(self) -> int:
        """Posterior draws (shared by every region)."""
        return int(next(iter(self.regions.values())).n_draws)

    @property
    def horizon_weeks(self) -> int:
        """The planned horizon in weeks."""
        return int(next(iter(self.regions.values())).horizon_weeks)

    @property
    def current_allocation(self) -> np.ndarray:
        """Current spend per variable: national totals and each region's local spend."""
        return self.layout.current_allocation

    def variable(self, name: str) -> tuple[str | None, str]:
        """``(region or None for a national total, channel)`` of a variable name."""
        return self.layout.variable(name)

    def by_region(self, allocation: np.ndarray) -> np.ndarray:
        """Each region's spend per channel: (G, C), or (n, G, C) for (n, V)."""
        return self.layout.by_region(allocation)

    def horizon_value_by_region(self, allocation: np.ndarray) -> np.ndarray:
        """Value per region and draw, all outcomes: (G, n_draws) for (V,)."""
        parts = self.by_region(allocation)
        return np.stack(
            [r.horizon_value(parts[..., g, :]) for g, r in enumerate(self.regions.values())],
            axis=-2,
        )

    def _flat(self, allocation: np.ndarray) -> np.ndarray:
        parts = self.by_region(allocation)
        return parts.reshape(*parts.shape[:-2], -1)

    def horizon_value(self, allocation: np.ndarray) -> np.ndarray:
        """Horizon value per draw: (n_draws,), or (n, n_draws) for (n, V)."""
        if self._stacked is not None:
            return self._stacked.horizon_value(self._flat(allocation))
        return self.horizon_value_by_region(allocation).sum(axis=-2)

    def horizon_value_by_outcome(self, allocation: np.ndarray) -> np.ndarray:
        """Value per draw and outcome: (n_draws, O), or (n, n_draws, O) for (n, V)."""
        if self._stacked is not None:
            return self._stacked.horizon_value_by_outcome(self._flat(allocation))
        parts = self.by_region(allocation)
        return np.sum(
            [
                r.horizon_value_by_outcome(parts[..., g, :])
                for g, r in enumerate(self.regions.values())
            ],
            axis=0,
        )

    def horizon_value_and_grad(self, allocation: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Value per draw (n_draws,) and its gradient (n_draws, V) by the chain rule."""
        if self._stacked is not None:
            value, grad = self._stacked.horizon_value_and_grad(self._flat(allocation))
            return value, self.layout.chain(grad.reshape(grad.shape[0], len(self.geos), -1))
        parts = self.by_region(allocation)
        value = np.zeros(self.n_draws)
        grad_a = np.zeros((self.n_draws, *parts.shape))  # (D, G, C)
        for g, r in enumerate(self.regions.values()):
            v, gr = r.horizon_value_and_grad(parts[g])
            value += v
            grad_a[:, g, :] = gr
        return value, self.layout.chain(grad_a)

    def weekly_spend(self, allocation: np.ndarray) -> np.ndarray:
        """Weekly spend (horizon_weeks, V): national totals summed over regions."""
        parts = self.by_region(allocation)
        weekly = np.stack(
            [r.weekly_spend(parts[g]) for g, r in enumerate(self.regions.values())], axis=1
        )  # (H, G, C)
        return self.layout.to_variables(weekly)

    def subset(self, draws: np.ndarray) -> GeoResponse:
        """The same regions on a subset of the shared draws (the solver's screening)."""
        idx = np.asarray(draws, dtype=int)
        if not all(hasattr(r, "subset") for r in self.regions.values()):
            raise AttributeError("subset")
        return GeoResponse(
            {k: r.subset(idx) for k, r in self.regions.items()}, self.scopes, self.shares
        )


def _stack(regions: Sequence[Any]) -> AdstockSaturationResponse | None:
    """All regions as one response whose channels are (region, channel) pairs, so that a
    value and its gradient are one vectorised evaluation instead of a loop over regions.

    Regions do not interact, so the stacked response's value is the sum of the regions'.
    Returns None unless every region is an :class:`AdstockSaturationResponse` with the same
    saturation family, lags and horizon (then :class:`GeoResponse` loops over regions).
    """
    if not regions or not all(isinstance(r, AdstockSaturationResponse) for r in regions):
        return None
    first = regions[0]
    if any(
        r.saturation != first.saturation
        or r.adstock_weights.shape != first.adstock_weights.shape
        or r.history_spend.shape != first.history_spend.shape
        or r.synergy_pairs != first.synergy_pairs
        for r in regions
    ):
        return None
    n_c = len(first.channels)
    pairs = tuple((a + g * n_c, b + g * n_c) for g in range(len(regions))
                  for a, b in first.synergy_pairs)  # fmt: skip
    return AdstockSaturationResponse(
        channels=tuple(f"{g}:{c}" for g in range(len(regions)) for c in first.channels),
        kinds=tuple(k for _ in regions for k in first.kinds),
        outcomes=first.outcomes,
        history_spend=np.concatenate([r.history_spend for r in regions], axis=1),
        adstock_weights=np.concatenate([r.adstock_weights for r in regions], axis=1),
        spend_scale=np.concatenate([r.spend_scale for r in regions]),
        saturation=first.saturation,
        saturation_params=tuple(
            np.concatenate([r.saturation_params[k] for r in regions], axis=1)
            for k in range(len(first.saturation_params))
        ),
        beta=np.concatenate([r.beta for r in regions], axis=1),
        synergy_pairs=pairs,
        synergy_gamma=np.concatenate([r.synergy_gamma for r in regions], axis=1),
        horizon_weeks=first.horizon_weeks,
    )


# --------------------------------------------------------------------------- answers


def _interval(draws: np.ndarray) -> tuple[float, float, float]:
    lo, hi = np.quantile(draws, [0.05, 0.95])
    return float(draws.mean()), float(lo), float(hi)


def geo_tables(response: GeoResponse, recommended: np.ndarray) -> dict[str, pd.DataFrame]:
    """Which regions gain and lose: spend and horizon value per region and region x channel.

    Parameters
    ----------
    response : GeoResponse
    recommended : array (V,)
        The recommended allocation over the response's variables.

    Returns
    -------
    dict of DataFrame
        ``geo_allocation``: one row per region (``geo, current_spend, recommended_spend,
        change, change_pct, value_current_mean/low/high, value_recommended_mean/low/high,
        uplift_mean/low/high``), biggest gain first; ``geo_channel_allocation``: one row per
        region x channel (``geo, channel, scope, current_spend, recommended_spend, change``).
    """
    cur_x = response.current_allocation
    rec_x = np.asarray(recommended, dtype=float)
    cur, rec = response.by_region(cur_x), response.by_region(rec_x)
    v_cur = response.horizon_value_by_region(cur_x)
    v_rec = response.horizon_value_by_region(rec_x)
    rows = []
    for g, geo in enumerate(response.geos):
        c_tot, r_tot = float(cur[g].sum()), float(rec[g].sum())
        row: dict[str, Any] = {
            "geo": geo,
            "current_spend": c_tot,
            "recommended_spend": r_tot,
            "change": r_tot - c_tot,
            "change_pct": (r_tot - c_tot) / c_tot if c_tot > 0 else np.nan,
        }
        for key, draws in (("value_current", v_cur[g]), ("value_recommended", v_rec[g]),
                           ("uplift", v_rec[g] - v_cur[g])):  # fmt: skip
            row[f"{key}_mean"], row[f"{key}_low"], row[f"{key}_high"] = _interval(draws)
        rows.append(row)
    by_geo = pd.DataFrame(rows).sort_values("change", ascending=False, kind="stable")
    cells = [
        {"geo": geo, "channel": ch, "scope": response.scopes[c],
         "current_spend": float(cur[g, c]), "recommended_spend": float(rec[g, c]),
         "change": float(rec[g, c] - cur[g, c])}
        for g, geo in enumerate(response.geos)
        for c, ch in enumerate(response.base_channels)
    ]  # fmt: skip
    return {
        "geo_allocation": by_geo.reset_index(drop=True),
        "geo_channel_allocation": pd.DataFrame(cells),
    }
