"""``omnimmm journeys attribute``: touches + conversions -> attribution.json, CSVs, report.html.

Outputs (written to a temporary folder beside ``out``, then moved in):

``attribution.json``
    The default (causal) method as the DESIGN contract says: ``{"method", "channels":
    [{"name", "share", "low", "high", "incremental_conversions", "incremental_revenue",
    "cost_per_incremental_conversion"}], "baseline_conversions"}``, plus ``data`` and
    ``diagnostics``. Shares are of the summed incremental conversions and sum to 1; low and
    high bound a 90% bootstrap interval.
``attribution.csv``
    Every method's shares: ``method, channel, share, conversions, low, high`` (intervals
    for the causal method only).
``top_paths.csv``, ``crossings.csv``
    The most converting paths; conversions by place and the channels on their paths.
``report.html``
    One self-contained page (no script, no network) of the above.

No customer id is written: every output is an aggregate over customers.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from omnimmm.journeys.causal import CausalResult, fit_causal
from omnimmm.journeys.inputs import JourneyColumns, JourneyData, Source, describe, load_journeys
from omnimmm.journeys.paths import build_paths, classic_shares, crossings, top_paths

__all__ = ["AttributionResult", "AttributionSettings", "attribute", "write_atomic"]

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
    if isinstance(v, tuple | list):
        return [_plain(x) for x in v]
    if isinstance(v, bool | int | str) or v is None:
        return v
    return _num(v)


def run_attribution(data: JourneyData, settings: AttributionSettings) -> AttributionResult:
    """Fit the causal model and every comparison method on loaded journeys."""
    causal = fit_causal(data, n_bootstrap=settings.n_bootstrap, seed=settings.seed,
                        max_customers=settings.max_customers, max_rows=settings.max_rows)  # fmt: skip
    build_paths(data, lookback_days=settings.lookback_days)
    methods = classic_shares(data, half_life_days=settings.half_life_days)
    return AttributionResult(causal, methods, top_paths(data),
                             crossings(data, settings.offline_channels), describe(data),
                             settings)  # fmt: skip


def write_atomic(out: Path, files: dict[str, str | bytes]) -> list[Path]:
    """Write ``files`` into a temporary folder beside ``out``, then move each into ``out``."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}-", dir=out.parent))
    try:
        for name, body in files.items():
            path = tmp / name
            if isinstance(body, bytes):
                path.write_bytes(body)
            else:
                path.write_text(body, encoding="utf-8")
        out.mkdir(parents=True, exist_ok=True)
        for name in files:
            os.replace(tmp / name, out / name)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return [out / name for name in files]


def attribute(
    touches: Source,
    conversions: Source,
    out: str | Path,
    columns: JourneyColumns | None = None,
    settings: AttributionSettings | None = None,
) -> AttributionResult:
    """Load journeys, attribute conversions by every method and write the outputs.

    Parameters
    ----------
    touches, conversions : path or pandas.DataFrame
    out : path
        Output folder.
    columns : JourneyColumns, optional
    settings : AttributionSettings, optional

    Returns
    -------
    AttributionResult
    """
    from omnimmm.journeys.report import attribution_html

    settings = settings or AttributionSettings()
    data = load_journeys(touches, conversions, columns)
    result = run_attribution(data, settings)
    write_atomic(Path(out), {
        "attribution.json": json.dumps(result.to_json(), indent=2, ensure_ascii=False) + "\n",
        "attribution.csv": result.all_methods().to_csv(index=False, float_format="%.6g"),
        "top_paths.csv": result.paths.to_csv(index=False, float_format="%.6g"),
        "crossings.csv": result.crossings.to_csv(index=False, float_format="%.6g"),
        "report.html": attribution_html(result),
    })  # fmt: skip
    return result
