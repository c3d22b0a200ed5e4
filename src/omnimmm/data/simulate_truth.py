"""Ground truth of a simulated world: the media response, contributions, ROI, horizon value.

The simulator (:mod:`omnimmm.data.simulate`) draws a :class:`MediaResponse` and spend; this
module turns them into the quantities an MMM is judged against, using the definitions of
DESIGN.md on noise-free predictions:

* **Contribution** of channel ``c`` to outcome ``o`` in week ``t``: the media part of ``o``
  predicted with the actual spend minus the same with ``c``'s spend set to zero over the
  whole panel (so carryover and any synergy ``c`` takes part in are included). Only the
  media part differs between the two predictions, so the baseline cancels.
* **ROI** of ``c``: its contribution summed over the panel / its spend over the panel, per
  outcome and summed over outcomes (``total``).
* **Horizon value** of a next-quarter allocation: the media response over the horizon and
  the ``l_max`` weeks after it, with the horizon spend minus with zero horizon spend, both
  on top of the adstock inherited from the panel, summed over outcomes.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from omnimmm.errors import PlanError
from omnimmm.transforms import adstock, hill

__all__ = ["MediaResponse", "Truth"]


@dataclass(frozen=True, eq=False)
class MediaResponse:
    """The media part of every outcome as a function of spend.

    ``media[t, o] = sum_c beta[c, o] * h[t, c] + sum_p gamma[p, o] * h[t, i_p] * h[t, j_p]``
    with ``h[:, c] = hill(adstock(spend[:, c] / scale[c], weights[c]), half_saturation[c],
    slope[c])``.

    Attributes
    ----------
    channels, outcomes : tuple of str
        Names, in the order of the array axes.
    scale : ndarray of shape (C,)
        Spend (CNY per week) that maps to 1.0 before adstock.
    weights : ndarray of shape (C, L)
        Normalized adstock lag weights, zero-padded to a common number of lags ``L``.
    half_saturation, slope : ndarray of shape (C,)
        Hill parameters on the adstocked, scaled spend.
    beta : ndarray of shape (C, O)
        Revenue (CNY per week) at full saturation, per channel and outcome.
    synergy_pairs : tuple of (int, int)
        Channel index pairs with an interaction term.
    gamma : ndarray of shape (P, O)
        Revenue (CNY per week) of each interaction at full saturation of both channels.
    """

    channels: tuple[str, ...]
    outcomes: tuple[str, ...]
    scale: np.ndarray
    weights: np.ndarray
    half_saturation: np.ndarray
    slope: np.ndarray
    beta: np.ndarray
    synergy_pairs: tuple[tuple[int, int], ...]
    gamma: np.ndarray

    @property
    def n_lags(self) -> int:
        """Number of adstock lags ``L`` (the longest ``l_max`` over channels)."""
        return int(self.weights.shape[1])

    def adstocked(self, spend: np.ndarray) -> np.ndarray:
        """Adstocked, scaled spend of shape (T, C) from spend of shape (T, C) in CNY."""
        return np.asarray(adstock(np.asarray(spend, float) / self.scale, self.weights))

    def saturate(self, adstocked: np.ndarray) -> np.ndarray:
        """Hill transform of adstocked spend, any shape ending in C."""
        return np.asarray(hill(adstocked, self.half_saturation, self.slope))

    def response(self, saturated: np.ndarray) -> np.ndarray:
        """Media part of each outcome, shape ``saturated.shape[:-1] + (O,)``."""
        out = saturated @ self.beta
        for p, (i, j) in enumerate(self.synergy_pairs):
            out = out + (saturated[..., i] * saturated[..., j])[..., None] * self.gamma[p]
        return out

    def media(self, spend: np.ndarray) -> np.ndarray:
        """Media part of each outcome, shape (T, O), for spend of shape (T, C)."""
        return self.response(self.saturate(self.adstocked(spend)))

    def contributions(self, spend: np.ndarray) -> np.ndarray:
        """Weekly contribution of each channel to each outcome, shape (T, C, O).

        Computed literally as a counterfactual: for each channel the whole-panel spend
        column is set to zero and the media part recomputed.
        """
        spend = np.asarray(spend, float)
        actual = self.media(spend)
        out = np.empty((spend.shape[0], spend.shape[1], actual.shape[1]))
        for c in range(spend.shape[1]):
            zeroed = spend.copy()
            zeroed[:, c] = 0.0
            out[:, c, :] = actual - self.media(zeroed)
        return out


@dataclass(frozen=True, eq=False)
class Truth:
    """Everything the simulator knows that a model has to estimate.

    Attributes
    ----------
    params : dict
        Every parameter of the world (JSON-able; written to ``truth_params.json``).
    roi : pandas.DataFrame
        Index ``channel``; columns one per outcome and ``total``: contribution over the
        panel / spend over the panel.
    contributions : pandas.DataFrame
        Long table, one row per week and channel: ``date``, ``channel``, ``spend`` and one
        column per outcome with the weekly contribution in CNY.
    expected : pandas.DataFrame
        Noise-free outcomes per week (index ``date``), for checking fitted values.
    media : MediaResponse
        The response used for all of the above.
    spend : ndarray of shape (T, C)
        The panel's spend, the history :meth:`horizon_value` builds on.
    """

    params: dict[str, Any]
    roi: pd.DataFrame
    contributions: pd.DataFrame
    expected: pd.DataFrame
    media: MediaResponse = field(repr=False)
    spend: np.ndarray = field(repr=False)
    _cache: dict[tuple[int, bool], tuple[np.ndarray, ...]] = field(default_factory=dict, repr=False)

    @classmethod
    def build(
        cls,
        params: dict[str, Any],
        media: MediaResponse,
        spend: np.ndarray,
        dates: pd.DatetimeIndex,
        expected: pd.DataFrame,
    ) -> Truth:
        """Compute contributions and ROI of ``spend`` under ``media``."""
        contrib = media.contributions(spend)  # (T, C, O)
        n_t, n_c, _ = contrib.shape
        long = pd.DataFrame(
            {
                "date": np.repeat(dates.strftime("%Y-%m-%d").to_numpy(), n_c),
                "channel": np.tile(np.asarray(media.channels, dtype=object), n_t),
                "spend": spend.reshape(-1),
            }
        )
        for k, outcome in enumerate(media.outcomes):
            long[outcome] = contrib[:, :, k].reshape(-1)
        totals = spend.sum(axis=0)
        with np.errstate(divide="ignore", invalid="ignore"):
            per_outcome = np.where(totals[:, None] > 0, contrib.sum(axis=0) / totals[:, None], 0.0)
        roi = pd.DataFrame(per_outcome, index=pd.Index(media.channels, name="channel"))
        roi.columns = list(media.outcomes)
        roi["total"] = per_outcome.sum(axis=1)
        return cls(params, roi, long, expected, media, np.asarray(spend, float))

    @property
    def channels(self) -> tuple[str, ...]:
        """Channel names, the column order of :meth:`horizon_value_batch`."""
        return self.media.channels

    def current_allocation(self, horizon_weeks: int = 13) -> dict[str, float]:
        """Each channel's spend (CNY) over the last ``horizon_weeks`` weeks of the panel."""
        h = _check_horizon(horizon_weeks, self.spend.shape[0])
        totals = self.spend[-h:].sum(axis=0)
        return {c: float(v) for c, v in zip(self.channels, totals, strict=True)}

    def horizon_value(
        self, allocation: Mapping[str, float], horizon_weeks: int = 13, inherit: bool = True
    ) -> float:
        """Expected incremental revenue (CNY, all outcomes) of a next-quarter allocation.

        Parameters
        ----------
        allocation : mapping of str to float
            Total spend (CNY) over the horizon for every channel (all channels, no others).
        horizon_weeks : int, default 13
            Length of the horizon; the weekly pattern of the last ``horizon_weeks`` weeks
            is scaled to each total (flat if that channel spent nothing then).
        inherit : bool, default True
            Start from the adstock inherited from the panel (the DESIGN definition).
            ``False`` values the same plan in a world with no history.

        Returns
        -------
        float
            Response with the horizon spend minus response with zero horizon spend, over
            the horizon and the ``l_max`` weeks after it.
        """
        unknown = sorted(set(allocation) - set(self.channels))
        missing = [c for c in self.channels if c not in allocation]
        if unknown or missing:
            raise PlanError(
                f"allocation must give a total for exactly the channels {list(self.channels)}; "
                f"unknown: {unknown}, missing: {missing}"
            )
        row = np.array([[float(allocation[c]) for c in self.channels]])
        return float(self.horizon_value_batch(row, horizon_weeks, inherit)[0])

    def horizon_value_batch(
        self, allocations: np.ndarray, horizon_weeks: int = 13, inherit: bool = True
    ) -> np.ndarray:
        """:meth:`horizon_value` of many allocations at once.

        Parameters
        ----------
        allocations : ndarray of shape (n, C) or (C,)
            Horizon totals (CNY), columns in the order of :attr:`channels`.
        horizon_weeks, inherit
            As in :meth:`horizon_value`.

        Returns
        -------
        ndarray of shape (n,) (or a 0-d array for a single row of shape (C,))
        """
        alloc = np.asarray(allocations, dtype=float)
        n_c = len(self.channels)
        if alloc.shape[-1:] != (n_c,) or alloc.ndim > 2:
            raise PlanError(
                f"allocations must have shape (n, {n_c}) with columns {list(self.channels)}, "
                f"got {alloc.shape}"
            )
        if not np.all(np.isfinite(alloc)) or np.any(alloc < 0):
            raise PlanError("allocations must be finite and non-negative (CNY per channel)")
        base, unit, base_value = self._horizon_parts(horizon_weeks, inherit)
        adstocked = base + alloc[..., None, :] * unit  # (..., F, C)
        value = self.media.response(self.media.saturate(adstocked)).sum(axis=(-2, -1))
        return value - base_value

    def _horizon_parts(self, horizon_weeks: int, inherit: bool) -> tuple[np.ndarray, ...]:
        """Inherited adstock, adstock per unit of total spend, and the zero-spend value.

        ``base[f, c]`` is the adstocked spend in future week ``f`` from history alone;
        ``unit[f, c]`` the adstocked spend from spending 1 CNY in total over the horizon
        with the last quarter's weekly pattern. Adstock is linear, so an allocation ``A``
        adds ``A[c] * unit[:, c]``.
        """
        h = _check_horizon(horizon_weeks, self.spend.shape[0])
        key = (h, bool(inherit))
        if key not in self._cache:
            media = self.media
            n_future = h + media.n_lags
            last = self.spend[-h:]
            sums = last.sum(axis=0)
            pattern = np.where(sums > 0, last / np.where(sums > 0, sums, 1.0), 1.0 / h)
            future = np.zeros((n_future, len(self.channels)))
            future[:h] = pattern
            unit = media.adstocked(future)
            if inherit:
                history = np.vstack([self.spend, np.zeros((n_future, len(self.channels)))])
                base = media.adstocked(history)[-n_future:]
            else:
                base = np.zeros_like(unit)
            base_value = media.response(media.saturate(base)).sum()
            self._cache[key] = (base, unit, np.asarray(base_value))
        return self._cache[key]


def _check_horizon(horizon_weeks: int, n_weeks: int) -> int:
    if isinstance(horizon_weeks, bool) or not isinstance(horizon_weeks, int | np.integer):
        raise PlanError(f"horizon_weeks must be an integer, got {horizon_weeks!r}")
    if not 1 <= horizon_weeks <= n_weeks:
        raise PlanError(f"horizon_weeks must be between 1 and {n_weeks}, got {horizon_weeks}")
    return int(horizon_weeks)
