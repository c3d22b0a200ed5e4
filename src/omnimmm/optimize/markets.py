"""Several markets' responses as one :class:`~omnimmm.optimize.response.ResponseModel`, so the
same optimizer splits a portfolio budget across markets and their channels at once.

Markets do not interact: the portfolio's horizon value in a posterior draw is the sum of
the markets' values, and its gradient is theirs side by side. Channels are named
``"<market>/<channel>"``. Draw ``d`` of the portfolio pairs draw ``d`` of every market (the
markets' posteriors are independent fits, so any pairing is a draw of the joint posterior);
markets with more draws are cut to the smallest count.

``weights`` scale each market's value (and gradient): with every market's ``budget.margin``
they turn revenue into gross profit, so that ``objective = "profit"`` weighs a market's
revenue by its own margin when the optimizer trades it against spend.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from omnimmm.errors import PlanError

__all__ = ["MarketsResponse", "market_of"]

SEP = "/"


def market_of(channel: str) -> tuple[str, str]:
    """``("market", "channel")`` of a portfolio channel name ``"market/channel"``."""
    market, _, name = channel.partition(SEP)
    return market, name


@dataclass(frozen=True)
class MarketsResponse:
    """Markets' response models side by side (see the module docstring).

    Parameters
    ----------
    markets : mapping of str -> ResponseModel
        One response model per market, all over the same horizon.
    weights : mapping of str -> float, optional
        A positive factor per market on its value (e.g. its profit margin); 1 if omitted.
    """

    markets: Mapping[str, Any]
    weights: Mapping[str, float] | None = None
    _slices: dict[str, slice] = field(init=False, repr=False)
    _draws: int = field(init=False, repr=False)

    def __post_init__(self) -> None:
        if not self.markets:
            raise PlanError("a portfolio budget needs at least one market with a fitted model")
        weeks = {name: int(m.horizon_weeks) for name, m in self.markets.items()}
        if len(set(weeks.values())) > 1:
            listed = ", ".join(f"{k}: {v}" for k, v in weeks.items())
            raise PlanError(
                "a portfolio budget is split over one horizon, but the markets' plans plan "
                f"different horizons (budget.horizon_weeks: {listed}); make them equal"
            )
        slices, start = {}, 0
        for name, m in self.markets.items():
            if SEP in name:
                raise PlanError(f"market name {name!r} must not contain {SEP!r}")
            slices[name] = slice(start, start + len(m.channels))
            start += len(m.channels)
        for name, w in (self.weights or {}).items():
            if name not in self.markets or not (np.isfinite(w) and w > 0):
                raise PlanError(f"market weight {name!r}: {w!r} must be a positive number "
                                "for one of the markets")  # fmt: skip
        object.__setattr__(self, "_slices", slices)
        object.__setattr__(self, "_draws", min(int(m.n_draws) for m in self.markets.values()))

    @property
    def channels(self) -> tuple[str, ...]:
        """``"<market>/<channel>"`` for every market's channels, market by market."""
        return tuple(f"{k}{SEP}{c}" for k, m in self.markets.items() for c in m.channels)

    @property
    def kinds(self) -> tuple[str, ...]:
        """Online/offline kind of each channel."""
        return tuple(kind for m in self.markets.values() for kind in m.kinds)

    @property
    def outcomes(self) -> tuple[str, ...]:
        """``"<market>/<outcome>"`` for every market's outcomes."""
        return tuple(f"{k}{SEP}{o}" for k, m in self.markets.items() for o in m.outcomes)

    @property
    def n_draws(self) -> int:
        """Posterior draws shared by all markets (the smallest count)."""
        return self._draws

    @property
    def horizon_weeks(self) -> int:
        """The common horizon."""
        return int(next(iter(self.markets.values())).horizon_weeks)

    @property
    def current_allocation(self) -> np.ndarray:
        """Every market's current allocation, side by side."""
        return np.concatenate([m.current_allocation for m in self.markets.values()])

    def slices(self) -> dict[str, slice]:
        """Each market's columns in an allocation."""
        return dict(self._slices)

    def _parts(self, allocation: np.ndarray) -> list[tuple[Any, np.ndarray, float]]:
        a = np.asarray(allocation, dtype=float)
        if a.shape[-1] != len(self.channels):
            raise ValueError(f"allocation needs {len(self.channels)} columns, got {a.shape}")
        w = self.weights or {}
        return [(m, a[..., self._slices[k]], float(w.get(k, 1.0))) for k, m in self.markets.items()]

    def horizon_value(self, allocation: np.ndarray) -> np.ndarray:
        """Portfolio horizon value per draw: (n_draws,), or (n, n_draws) for (n, C)."""
        return np.sum(
            [w * m.horizon_value(a)[..., : self._draws] for m, a, w in self._parts(allocation)],
            axis=0,
        )

    def horizon_value_by_outcome(self, allocation: np.ndarray) -> np.ndarray:
        """Value per draw and market outcome: (n_draws, O), or (n, n_draws, O)."""
        return np.concatenate(
            [
                w * m.horizon_value_by_outcome(a)[..., : self._draws, :]
                for m, a, w in self._parts(allocation)
            ],
            axis=-1,
        )

    def horizon_value_and_grad(self, allocation: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Portfolio value per draw (n_draws,) and its gradient (n_draws, C)."""
        values, grads = [], []
        for m, a, w in self._parts(allocation):
            v, g = m.horizon_value_and_grad(a)
            values.append(w * v[: self._draws])
            grads.append(w * g[: self._draws])
        return np.sum(values, axis=0), np.concatenate(grads, axis=1)

    def weekly_spend(self, allocation: np.ndarray) -> np.ndarray:
        """Weekly spend (horizon_weeks, C) of an allocation."""
        return np.concatenate([m.weekly_spend(a) for m, a, _ in self._parts(allocation)], axis=1)

    def subset(self, draws: np.ndarray) -> MarketsResponse:
        """The same markets on a subset of the shared draws (used by the solver's screening)."""
        idx = np.asarray(draws, dtype=int)
        if not all(hasattr(m, "subset") for m in self.markets.values()):
            raise AttributeError("subset")
        return MarketsResponse({k: m.subset(idx) for k, m in self.markets.items()}, self.weights)


def split_by_market(
    response: MarketsResponse, allocation: Sequence[float] | np.ndarray
) -> dict[str, np.ndarray]:
    """Each market's part of a portfolio allocation."""
    a = np.asarray(allocation, dtype=float)
    return {k: a[s] for k, s in response.slices().items()}
