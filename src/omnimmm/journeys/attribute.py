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
from pathlib import Path

from omnimmm.data.outputs import write_files_atomic
from omnimmm.journeys.causal import fit_causal
from omnimmm.journeys.inputs import JourneyColumns, JourneyData, Source, describe, load_journeys
from omnimmm.journeys.paths import build_paths, classic_shares, crossings, top_paths
from omnimmm.journeys.report import attribution_html
from omnimmm.journeys.result import METHOD, AttributionResult, AttributionSettings

__all__ = ["METHOD", "AttributionResult", "AttributionSettings", "attribute"]


def run_attribution(data: JourneyData, settings: AttributionSettings) -> AttributionResult:
    """Fit the causal model and every comparison method on loaded journeys."""
    causal = fit_causal(data, n_bootstrap=settings.n_bootstrap, seed=settings.seed,
                        max_customers=settings.max_customers, max_rows=settings.max_rows)  # fmt: skip
    build_paths(data, lookback_days=settings.lookback_days)
    methods = classic_shares(data, half_life_days=settings.half_life_days)
    return AttributionResult(causal, methods, top_paths(data),
                             crossings(data, settings.offline_channels), describe(data),
                             settings)  # fmt: skip


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
    settings = settings or AttributionSettings()
    data = load_journeys(touches, conversions, columns)
    result = run_attribution(data, settings)
    write_files_atomic(Path(out), {
        "attribution.json": json.dumps(result.to_json(), indent=2, ensure_ascii=False) + "\n",
        "attribution.csv": result.all_methods().to_csv(index=False, float_format="%.6g"),
        "top_paths.csv": result.paths.to_csv(index=False, float_format="%.6g"),
        "crossings.csv": result.crossings.to_csv(index=False, float_format="%.6g"),
        "report.html": attribution_html(result),
    })  # fmt: skip
    return result
