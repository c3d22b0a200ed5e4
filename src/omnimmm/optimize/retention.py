"""Retention spend on lifecycle segments, competing with media for the same budget.

Each segment has ``N`` eligible customers ranked by expected uplift, a cost per contact
and an average incremental value per contacted customer ``v`` (mean and standard
deviation: treated minus randomised control, :mod:`omnimmm.lifecycle.value`, or, for a
history without a control group, the AIPW estimates of
:mod:`omnimmm.lifecycle.segment_effects`; the run's retention table says which). Going down the ranked list the value of
the next contact decays exponentially; with ``n`` customers contacted (spend ``n * cost``)
the segment returns

    R(n) = v * N * (1 - exp(-u n / N)) / (1 - exp(-u))

so that contacting everyone returns exactly ``N * v`` (the lifecycle estimate) and the
best-ranked customer is worth ``concentration * v``, where ``u > 0`` solves
``u / (1 - exp(-u)) = concentration``. ``concentration = 1`` is the flat (linear) case.

Posterior draws of ``v`` are taken as normal with the given mean and standard deviation
(independent of the media draws), so risk-aware objectives see retention uncertainty too.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from omnimmm.errors import DataError

__all__ = ["RetentionBlock", "RetentionSegment", "segments_from_table"]

TABLE_COLUMNS = (
    "segment",
    "n_eligible",
    "value_per_contact_mean",
    "value_per_contact_sd",
    "cost_per_contact",
)


@dataclass(frozen=True)
class RetentionSegment:
    """One lifecycle segment that retention money can be spent on.

    Parameters
    ----------
    name : str
    n_eligible : float
        Customers who can be contacted.
    cost_per_contact : float
        Cost of contacting one customer (currency units).
    value_per_contact_mean, value_per_contact_sd : float
        Average incremental revenue per contacted customer over the whole segment, and its
        uncertainty.
    concentration : float, default 2.0
        Value of the best-ranked contact relative to the segment average (>= 1).
    current_spend : float, default 0.0
        What is spent on the segment now (for the current-vs-recommended comparison).
    """

    name: str
    n_eligible: float
    cost_per_contact: float
    value_per_contact_mean: float
    value_per_contact_sd: float = 0.0
    concentration: float = 2.0
    current_spend: float = 0.0

    def __post_init__(self) -> None:
        where = f"retention segment {self.name!r}"
        for key in ("n_eligible", "cost_per_contact"):
            v = getattr(self, key)
            if not (math.isfinite(v) and v > 0):
                raise DataError(f"{where}: {key} must be a positive number, got {v!r}")
        if not math.isfinite(self.value_per_contact_mean):
            raise DataError(f"{where}: value_per_contact_mean must be finite")
        if not (math.isfinite(self.value_per_contact_sd) and self.value_per_contact_sd >= 0):
            raise DataError(f"{where}: value_per_contact_sd must be >= 0")
        if not (math.isfinite(self.concentration) and self.concentration >= 1):
            raise DataError(f"{where}: concentration must be >= 1, got {self.concentration!r}")
        if not 0 <= self.current_spend <= self.max_spend * (1 + 1e-9):
            raise DataError(
                f"{where}: current_spend {self.current_spend} must lie in [0, "
                f"n_eligible * cost_per_contact = {self.max_spend}]"
            )

    @property
    def max_spend(self) -> float:
        """Spend that contacts every eligible customer."""
        return self.n_eligible * self.cost_per_contact

    @property
    def decay(self) -> float:
        """The decay ``u`` of the ranked value curve (0 for a flat curve)."""
        c = self.concentration
        if c <= 1 + 1e-12:
            return 0.0
        from scipy.optimize import brentq  # scipy.optimize: not at import (validate)

        return float(brentq(lambda u: u / -math.expm1(-u) - c, 1e-12, c + 10.0, xtol=1e-14))


def segments_from_table(table: pd.DataFrame, concentration: float = 2.0) -> list[RetentionSegment]:
    """Segments from a table with columns segment, n_eligible, value_per_contact_mean,
    value_per_contact_sd, cost_per_contact (optional: concentration, current_spend).

    Raises
    ------
    DataError
        Naming the missing column or the row whose values are invalid.
    """
    missing = [c for c in TABLE_COLUMNS if c not in table.columns]
    if missing:
        raise DataError(
            f"retention table is missing column(s) {missing}; expected {list(TABLE_COLUMNS)}"
        )
    if table["segment"].duplicated().any():
        dup = table.loc[table["segment"].duplicated(), "segment"].tolist()
        raise DataError(f"retention table has duplicate segment(s) {dup}")
    out = []
    for i, row in enumerate(table.to_dict("records")):
        try:
            out.append(
                RetentionSegment(
                    name=str(row["segment"]),
                    n_eligible=float(row["n_eligible"]),
                    cost_per_contact=float(row["cost_per_contact"]),
                    value_per_contact_mean=float(row["value_per_contact_mean"]),
                    value_per_contact_sd=float(row["value_per_contact_sd"]),
                    concentration=float(row.get("concentration", concentration)),
                    current_spend=float(row.get("current_spend", 0.0)),
                )
            )
        except DataError as err:
            raise DataError(f"retention table row {i}: {err}") from err
    return out


@dataclass(frozen=True, eq=False)
class RetentionBlock:
    """Value of retention spends per draw, with gradients (what the solver evaluates).

    Attributes
    ----------
    segments : tuple of RetentionSegment
    value_draws : array (D, S)
        Average value per contact per draw and segment.
    """

    segments: tuple[RetentionSegment, ...]
    value_draws: np.ndarray

    @classmethod
    def build(
        cls, segments: Sequence[RetentionSegment], n_draws: int, seed: int = 0
    ) -> RetentionBlock:
        """Draw ``n_draws`` values per segment (normal with the segment's mean and sd)."""
        segs = tuple(segments)
        names = [s.name for s in segs]
        if len(set(names)) != len(names):
            raise DataError(f"retention segment names must be unique, got {names}")
        rng = np.random.default_rng([seed, 7919])
        mean = np.array([s.value_per_contact_mean for s in segs])
        sd = np.array([s.value_per_contact_sd for s in segs])
        if n_draws == 1:
            draws = mean[None, :]
        else:
            z = rng.standard_normal((n_draws, len(segs)))
            draws = mean + sd * z
        return cls(segs, draws)

    def subset(self, draws: np.ndarray) -> RetentionBlock:
        """The same segments on a subset of draws (indices into the draw axis)."""
        return RetentionBlock(self.segments, self.value_draws[np.asarray(draws, dtype=int)])

    @property
    def names(self) -> tuple[str, ...]:
        """Segment names."""
        return tuple(s.name for s in self.segments)

    @property
    def max_spend(self) -> np.ndarray:
        """Most that can be spent per segment, shape (S,)."""
        return np.array([s.max_spend for s in self.segments])

    @property
    def current(self) -> np.ndarray:
        """Current spend per segment, shape (S,)."""
        return np.array([s.current_spend for s in self.segments])

    def _curve(self, spend: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Value per unit of average value ``v`` and its slope per currency, for (..., S)."""
        n_elig = np.array([s.n_eligible for s in self.segments])
        cost = np.array([s.cost_per_contact for s in self.segments])
        u = np.array([s.decay for s in self.segments])
        z = np.clip(np.asarray(spend, float) / (cost * n_elig), 0.0, 1.0)
        flat = u < 1e-9
        u_safe = np.where(flat, 1.0, u)
        norm = -np.expm1(-u_safe)
        shape = np.where(flat, z, -np.expm1(-u_safe * z) / norm)
        slope = np.where(flat, 1.0, u_safe * np.exp(-u_safe * z) / norm)
        inside = np.asarray(spend, float) < cost * n_elig
        return n_elig * shape, np.where(inside, slope / cost, 0.0)

    def contacts(self, spend: np.ndarray) -> np.ndarray:
        """Customers contacted per segment for a spend vector (S,)."""
        cost = np.array([s.cost_per_contact for s in self.segments])
        n_elig = np.array([s.n_eligible for s in self.segments])
        return np.minimum(np.asarray(spend, float) / cost, n_elig)

    def value_by_segment(self, spend: np.ndarray) -> np.ndarray:
        """Incremental value per draw and segment: (S,) -> (D, S), (n, S) -> (n, D, S)."""
        shape, _ = self._curve(spend)
        if shape.ndim == 1:
            return self.value_draws * shape
        return self.value_draws[None] * shape[:, None, :]

    def value_and_grad(self, spend: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Total retention value per draw (D,) and its gradient (D, S) w.r.t. spends."""
        shape, slope = self._curve(spend)
        return self.value_draws @ shape, self.value_draws * slope
