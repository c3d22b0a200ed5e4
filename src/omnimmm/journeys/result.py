"""What an attribution run produces (:class:`AttributionResult`) and its settings, as plain
data: :mod:`omnimmm.journeys.attribute` fills it in and :mod:`omnimmm.journeys.report`
renders it, so neither needs the other."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from omnimmm.journeys.causal import CausalResult

__all__ = ["METHOD", "AttributionResult", "AttributionSettings"]

METHOD = "hazard_removal"


@dataclass(frozen=True)
class AttributionSettings:
    """Settings of an attribution run (CLI flags and the plan's ``[journeys]`` section)."""

    n_bootstrap: int = 100
    seed: int = 0
    lookback_days: int = 30
    half_life_days: float = 7.0
    max_customers: int = 200_000
    max_rows: int = 250_000
    offline_channels: tuple[str, ...] = ()


@dataclass(frozen=True, eq=False)
class AttributionResult:
    """Everything the attribution outputs are made of."""

    causal: CausalResult
    methods: pd.DataFrame
    paths: pd.DataFrame
    crossings: pd.DataFrame
    data: dict[str, Any]
    settings: AttributionSettings

    def to_json(self) -> dict[str, Any]:
        """The ``attribution.json`` document."""
        rows = []
        for r in self.causal.table.itertuples(index=False):
            rows.append({
                "name": r.name,
                "share": _num(r.share),
                "low": _num(r.low),
                "high": _num(r.high),
                "incremental_conversions": _num(r.incremental_conversions),
                "incremental_revenue": _num(r.incremental_revenue),
                "cost_per_incremental_conversion": _num(r.cost_per_incremental_conversion),
                "incremental_conversions_low": _num(r.incremental_conversions_low),
                "incremental_conversions_high": _num(r.incremental_conversions_high),
                "cost": _num(r.cost),
            })  # fmt: skip
        notes = list(self.data.get("notes", []))
        total = float(self.causal.table["incremental_conversions"].sum())
        if not total > 0:
            notes.append(
                f"the channels' summed incremental conversions are {total:,.0f} (not positive): "
                "no channel shows a measurable positive effect, so shares are undefined (null)"
            )
        return {
            "method": METHOD,
            "notes": notes,
            "channels": rows,
            "baseline_conversions": _num(self.causal.baseline_conversions),
            "data": self.data,
            "diagnostics": {k: _plain(v) for k, v in self.causal.diagnostics.items()},
            "settings": {k: _plain(v) for k, v in self.settings.__dict__.items()},
        }

    def all_methods(self) -> pd.DataFrame:
        """Causal shares (with intervals) followed by every comparison method."""
        t = self.causal.table
        causal = pd.DataFrame({"method": METHOD, "channel": t["name"], "share": t["share"],
                               "conversions": t["incremental_conversions"],
                               "low": t["low"], "high": t["high"]})  # fmt: skip
        return pd.concat([causal, self.methods], ignore_index=True)


def _num(x: Any) -> float | None:
    try:
        v = float(x)
    except (TypeError, ValueError):
        return None
    return v if math.isfinite(v) else None


def _plain(v: Any) -> Any:
    """``v`` as JSON: mappings with string keys, sequences (and arrays) as lists, numbers
    (non-finite as null)."""
    if isinstance(v, Mapping):
        return {str(k): _plain(x) for k, x in v.items()}
    if isinstance(v, np.ndarray):
        return [_plain(x) for x in v.tolist()]
    if isinstance(v, tuple | list):
        return [_plain(x) for x in v]
    if isinstance(v, bool | int | str) or v is None:
        return v
    return _num(v)
