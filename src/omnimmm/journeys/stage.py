"""The journeys part of a quarterly run, without orchestration: :func:`journeys_stage`.

The run calls it when the plan has a ``[journeys]`` section; it writes
``<out_dir>/journeys/attribution/`` (as ``omnimmm journeys attribute``) and
``<out_dir>/journeys/board/`` (as ``omnimmm journeys kpis``) and returns a summary the
run's report can show, including the triangulation against the MMM: for every channel
both cover, the MMM's online ROI (mean and 90% interval, from ``recommendation.json``)
next to the journey model's incremental revenue per unit of touch cost and cost per
incremental conversion, and whether the journey figure falls outside the MMM interval.
"""

from __future__ import annotations

import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
from pydantic import ValidationError

from omnimmm.config import JourneysSpec, Plan
from omnimmm.data.outputs import write_files_atomic
from omnimmm.errors import PlanError
from omnimmm.journeys.attribute import AttributionSettings, run_attribution
from omnimmm.journeys.board import Rules, kpi_board

__all__ = ["journeys_stage", "rules_from_plan", "triangulate"]


def rules_from_plan(path: str | Path) -> Rules:
    """The ``[journeys.rules]`` of a plan file (defaults when absent); PlanError if invalid."""
    source = Path(path)
    try:
        raw = tomllib.loads(source.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise PlanError(f"{source}: cannot read the plan ({exc})") from None
    rules = raw.get("journeys", {}).get("rules", {})
    try:
        spec = JourneysSpec.model_validate({"touches": ".", "conversions": ".", "rules": rules})
    except ValidationError as exc:
        first = exc.errors()[0]
        key = ".".join(str(x) for x in first["loc"])
        raise PlanError(f"{source}: journeys.{key}: {first['msg']}") from None
    return Rules(spec.rules.handoff_min, spec.rules.usage_min)


def triangulate(table: pd.DataFrame, mmm_channels: list[dict[str, Any]]) -> pd.DataFrame:
    """Journey model against the MMM's online ROI, channel by channel.

    Parameters
    ----------
    table : pandas.DataFrame
        The causal table (``name, incremental_revenue, cost, cost_per_incremental_conversion``).
    mmm_channels : list of dict
        ``recommendation.json``'s ``channels`` (``name``, ``roi_by_outcome``).

    Returns
    -------
    pandas.DataFrame
        ``channel, mmm_online_roi, mmm_low, mmm_high, journey_roi,
        cost_per_incremental_conversion, verdict``.
    """
    rows = []
    mine = table.set_index("name")
    for ch in mmm_channels:
        name = ch.get("name")
        if name not in mine.index:
            continue
        online = next((v for k, v in ch.get("roi_by_outcome", {}).items() if "online" in k), None)
        if online is None:
            continue
        r = mine.loc[name]
        roi = r["incremental_revenue"] / r["cost"] if r["cost"] and r["cost"] > 0 else float("nan")
        lo, hi = online.get("low"), online.get("high")
        if pd.isna(roi) or lo is None or hi is None:
            verdict = "not comparable (no touch cost)"
        elif lo <= roi <= hi:
            verdict = "agree (journey ROI inside the MMM interval)"
        else:
            verdict = "disagree: journey ROI " + ("above" if roi > hi else "below") + " the MMM"
        rows.append({"channel": name, "mmm_online_roi": online.get("mean"), "mmm_low": lo,
                     "mmm_high": hi, "journey_roi": roi,
                     "cost_per_incremental_conversion": r["cost_per_incremental_conversion"],
                     "verdict": verdict})  # fmt: skip
    return pd.DataFrame(rows)


def journeys_stage(
    plan: Plan,
    out_dir: str | Path,
    say: Callable[[str], None],
    mmm_channels: list[dict[str, Any]] | None = None,
    seed: int | None = None,
) -> dict[str, Any]:
    """Attribution and KPI board of the plan's ``[journeys]`` section into ``out_dir/journeys``.

    Parameters
    ----------
    plan : Plan
        A plan with a ``journeys`` section.
    out_dir : path
        The run directory.
    say : callable
        Progress messages.
    mmm_channels : list of dict, optional
        ``recommendation.json``'s channels, for the triangulation.
    seed : int, optional
        Default: the plan's seed.

    Returns
    -------
    dict
        ``attribution`` (the attribution.json document), ``flags`` (records),
        ``triangulation`` (records), ``paths`` (the files written).
    """
    from omnimmm.journeys.inputs import load_journeys
    from omnimmm.journeys.kpis import KpiSettings
    from omnimmm.journeys.report import attribution_html

    spec = plan.journeys
    if spec is None:
        raise PlanError("the plan has no [journeys] section")
    base = Path(out_dir) / "journeys"
    say(f"journeys: reading {spec.touches.name} and {spec.conversions.name}")
    data = load_journeys(spec.touches, spec.conversions, redemptions=spec.redemptions)
    settings = AttributionSettings(n_bootstrap=spec.bootstrap,
                                   seed=plan.seed if seed is None else seed,
                                   lookback_days=spec.lookback_days,
                                   offline_channels=spec.offline_channels)  # fmt: skip
    say(f"journeys: attributing {data.n_conversions:,} conversions of {data.n_customers:,} "
        "customers")  # fmt: skip
    result = run_attribution(data, settings)
    doc = result.to_json()
    tri = triangulate(result.causal.table, mmm_channels or [])
    import json

    written = write_files_atomic(base / "attribution", {
        "attribution.json": json.dumps(doc, indent=2, ensure_ascii=False) + "\n",
        "attribution.csv": result.all_methods().to_csv(index=False, float_format="%.6g"),
        "top_paths.csv": result.paths.to_csv(index=False, float_format="%.6g"),
        "crossings.csv": result.crossings.to_csv(index=False, float_format="%.6g"),
        "triangulation.csv": tri.to_csv(index=False, float_format="%.6g"),
        "report.html": attribution_html(result),
    })  # fmt: skip
    say("journeys: KPI board")
    board = kpi_board(spec.touches, spec.conversions, base / "board",
                      redemptions=spec.redemptions,
                      settings=KpiSettings(spec.window_days, spec.repurchase_days,
                                           spec.offline_channels),
                      rules=Rules(spec.rules.handoff_min, spec.rules.usage_min), data=data)  # fmt: skip
    written += [base / "board" / n for n in ("kpis.csv", "flags.csv", "kpis.xlsx", "board.html")]
    return {"attribution": doc, "flags": board.flags.to_dict("records"),
            "triangulation": tri.to_dict("records"), "paths": [str(p) for p in written]}  # fmt: skip
