"""The computed answers of one run, as plain tables and dictionaries, and their storage.

:class:`RunResult` is what the pipeline computes and what every exporter reads: nothing in
the report layer fits or optimizes anything. It is stored in a run directory as
``result.json`` (scalars, intervals, messages) plus one CSV per table under ``tables/``, so
``omnimmm report DIR`` can render again without touching the model.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["TABLES", "RunResult", "load_result", "save_result"]

#: Tables of a run, in the order they are exported; each is a ``tables/<name>.csv``.
TABLES: tuple[str, ...] = (
    "allocation",
    "roi",
    "mroi",
    "synergy",
    "curves",
    "decomposition",
    "fit",
    "holdout",
    "baseline_forecasts",
    "holdout_scores",
    "holdout_parts",
    "weekly_spend",
    "value_by_outcome",
    "precheck",
    "ppc",
    "lifecycle_stages",
    "lifecycle_risk",
    "lifecycle_deciles",
    "lifecycle_metrics",
    "lifecycle_drivers",
    "retention_segments",
    "lifecycle_points",
    "lifecycle_campaigns",
    "journeys_triangulation",
    "journeys_flags",
)
#: Columns holding dates, parsed back when a result is loaded.
_DATE_COLUMNS = ("date",)
#: Columns holding names, kept as text whatever they look like ("NA", "1", ...).
_TEXT_COLUMNS = (
    "name",
    "channel",
    "kind",
    "outcome",
    "method",
    "variant",
    "group",
    "component",
    "pair",
    "series",
    "point",
    "stage",
    "segment",
    "target",
    "metric",
    "feature",
    "figure",
    "type",
    "method",
    "geo",
)


@dataclass
class RunResult:
    """Everything a report shows, computed once.

    Attributes
    ----------
    meta : dict
        Plan and run facts: ``plan_path``, ``channels`` (name, kind), ``outcomes``,
        ``weeks`` (first, last, n), ``horizon_weeks``, ``total``, ``max_change``,
        ``objective``, ``risk``, ``seed``, ``fast``, ``sampler`` settings, ``created``.
    horizon_value : dict
        ``current``, ``recommended`` and ``uplift``: ``{"mean", "low", "high"}``.
    diagnostics : dict
        Convergence summary (R-hat, ESS, divergences, ...) and ``holdout_mape``.
    gate : dict
        ``passed``, ``allowed`` (failure tolerated by the plan or fast mode), ``failures``,
        ``remedies``, ``thresholds``.
    holdout : dict
        ``weeks``, ``mape`` per outcome, ``best_baseline``, ``beats_baselines``.
    optimizer : dict
        ``binding`` constraints, ``solver`` info, ``scenario``.
    precheck_messages : list of str
        Pre-fit warnings (collinear, sparse or constant channels).
    tables : dict of str -> pandas.DataFrame
        The tables named in :data:`TABLES`.
    lifecycle : dict or None
        Lifecycle results when the plan has a lifecycle section.
    """

    meta: dict[str, Any]
    horizon_value: dict[str, dict[str, float]]
    diagnostics: dict[str, Any]
    gate: dict[str, Any]
    holdout: dict[str, Any]
    optimizer: dict[str, Any]
    precheck_messages: list[str] = field(default_factory=list)
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)
    lifecycle: dict[str, Any] | None = None

    def table(self, name: str) -> pd.DataFrame:
        """A table by name (an empty frame when the run has none)."""
        return self.tables.get(name, pd.DataFrame())

    @property
    def channels(self) -> list[dict[str, str]]:
        """Channels as ``{"name", "kind"}`` in plan order."""
        return list(self.meta["channels"])

    @property
    def outcomes(self) -> list[str]:
        """Outcome names in plan order."""
        return list(self.meta["outcomes"])


def _clean(value: Any) -> Any:
    """JSON-ready: numpy scalars to Python, NaN and infinities to None."""
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, Path):
        return str(value)
    return value


def save_result(result: RunResult, directory: str | Path) -> Path:
    """Write ``result.json`` and ``tables/*.csv`` into ``directory``; returns the JSON path."""
    out = Path(directory)
    (out / "tables").mkdir(parents=True, exist_ok=True)
    doc = {f.name: getattr(result, f.name) for f in fields(result) if f.name != "tables"}
    doc["tables"] = sorted(result.tables)
    path = out / "result.json"
    path.write_text(json.dumps(_clean(doc), indent=2, ensure_ascii=False), encoding="utf-8")
    for name, frame in result.tables.items():
        frame.to_csv(out / "tables" / f"{name}.csv", index=False)
    return path


def load_result(directory: str | Path) -> RunResult:
    """Read a result written by :func:`save_result`."""
    src = Path(directory)
    doc = json.loads((src / "result.json").read_text(encoding="utf-8"))
    tables = {}
    for name in doc.pop("tables"):
        frame = pd.read_csv(
            src / "tables" / f"{name}.csv",
            dtype=dict.fromkeys(_TEXT_COLUMNS, str),
            keep_default_na=False,
            na_values=[""],
        )
        for col in _DATE_COLUMNS:
            if col in frame.columns:
                frame[col] = pd.to_datetime(frame[col])
        tables[name] = frame
    return RunResult(**doc, tables=tables)
