"""The lifecycle part of a quarterly run: scores, stages, risk, and retention segments.

The run's lifecycle stage, when the plan has a ``[lifecycle]`` section. Only aggregates
leave this module (stage counts, risk distributions, deciles, validation metrics, segment
economics): no customer identifier, raw or hashed, is written into a run directory. The
per-customer list is what ``omnimmm lifecycle score`` is for.

With ``lifecycle.campaigns`` (a retention campaign history) and ``joint_budget = true``, the
incremental revenue per contact of each segment is estimated from treated vs control
customers when the history has a randomised control group, else by the campaign
incrementality estimator (AIPW), and the segments enter the budget optimizer, so media and
retention compete for the same money.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from omnimmm.errors import DataError
from omnimmm.run.context import RunState

__all__ = ["LifecycleOutcome", "lifecycle_stage", "run_lifecycle"]

_BINS = np.linspace(0.0, 1.0, 11)


@dataclass
class LifecycleOutcome:
    """Aggregated lifecycle results and, for a joint budget, the retention segments."""

    info: dict[str, Any]
    tables: dict[str, pd.DataFrame]
    segments: list[Any] = field(default_factory=list)


def _read(path: Path, fmt: str | None) -> pd.DataFrame:
    from omnimmm.data.tables import read_frame

    return read_frame(path, what="campaign file (lifecycle.campaigns in the plan)")


def _check_metrics(report: dict[str, Any]) -> dict[str, Any]:
    """Flatten one target's validation report to scalars (AUC, AP, Brier, baseline)."""
    out: dict[str, Any] = {}

    def walk(prefix: str, value: Any) -> None:
        if isinstance(value, dict):
            for k, v in value.items():
                walk(f"{prefix}.{k}" if prefix else str(k), v)
        elif isinstance(value, int | float | str | bool) or value is None:
            out[prefix] = value

    walk("", report)
    return out


def run_lifecycle(plan: Any, seed: int, say: Any) -> LifecycleOutcome:
    """Score customers at the plan's as-of date and aggregate; estimate segment uplift.

    Raises
    ------
    DataError
        Bad transaction or campaign files, or a history too short for the horizon.
    """
    from omnimmm.lifecycle.features import load_transactions, require_amount
    from omnimmm.lifecycle.score import score_customers

    lc = plan.lifecycle
    source = str(lc.transactions)
    # columns the plan names are used as given, the others inferred from the file
    named = lc.columns.model_dump(exclude_unset=True)
    points_cols = {r: named.pop(r) for r in ("points_earned", "points_redeemed") if r in named}
    table = load_transactions(source, columns=named)
    require_amount(table, "the quarterly run's retention value")
    cols = table.columns
    if table.roles is not None:
        say("lifecycle: columns " + "; ".join(table.roles.describe().splitlines()))
    for note in table.notes:
        say(f"lifecycle: {note}")
    as_of = lc.as_of or (table.end - pd.Timedelta(days=1)).date()
    say(f"lifecycle: scoring customers as of {as_of} ({table.n_rows:,} transaction rows)")
    with tempfile.TemporaryDirectory() as tmp:
        res = score_customers(
            source,
            str(as_of),
            lc.horizon_days,
            tmp,
            columns=cols,
            churn_horizon_days=lc.churn_horizon_days,
            seed=seed,
        )
    scores = res.scores
    stages = (
        scores.groupby("stage", sort=False)
        .agg(
            customers=("p_repurchase", "size"),
            p_repurchase_mean=("p_repurchase", "mean"),
            p_churn_mean=("p_churn", "mean"),
            expected_revenue=("expected_revenue", "sum"),
        )
        .reindex(["new", "active", "at_risk", "lapsed"])
        .dropna(how="all")
        .reset_index()
    )
    risk = []
    for stage, g in scores.groupby("stage", sort=False):
        counts, _ = np.histogram(g["p_churn"].dropna(), bins=_BINS)
        for lo, hi, n in zip(_BINS[:-1], _BINS[1:], counts, strict=True):
            risk.append({"stage": str(stage), "p_churn_from": lo, "p_churn_to": hi, "customers": n})
    deciles = (
        scores.groupby("decile")
        .agg(
            customers=("p_repurchase", "size"),
            p_repurchase_mean=("p_repurchase", "mean"),
            expected_revenue=("expected_revenue", "sum"),
        )
        .reset_index()
    )
    metrics = pd.DataFrame(
        [
            {"target": t, "metric": k, "value": v}
            for t in ("repurchase", "churn")
            for k, v in _check_metrics(res.metrics.get(t, {})).items()
            if isinstance(v, int | float) and not isinstance(v, bool)
        ]
    )
    drivers = pd.DataFrame(
        [
            {"target": t, "rank": i, **row}
            for t in ("repurchase", "churn")
            for i, row in enumerate(res.metrics.get(t, {}).get("top_drivers", []), start=1)
        ],
        columns=["target", "rank", "feature", "mean_abs_shap", "mean_shap"],
    )
    info = {
        "as_of": str(as_of),
        "horizon_days": lc.horizon_days,
        "churn_horizon_days": lc.churn_horizon_days or lc.horizon_days,
        "customers": int(len(scores)),
        "expected_revenue": float(scores["expected_revenue"].sum()),
        "stages": {str(r["stage"]): int(r["customers"]) for _, r in stages.iterrows()},
        "contact_cost": float(lc.contact_cost),
        "joint_budget": False,
    }
    tables = {
        "lifecycle_stages": stages,
        "lifecycle_risk": pd.DataFrame(risk),
        "lifecycle_deciles": deciles,
        "lifecycle_metrics": metrics,
        "lifecycle_drivers": drivers,
    }
    points = _points(lc, source, {**named, **points_cols}, str(as_of), seed, say)
    if points is not None:
        info["points"], tables["lifecycle_points"] = points
    if lc.campaigns is not None:
        tables["lifecycle_campaigns"] = _campaign_types(lc, table, seed, say)
    segments: list[Any] = []
    if lc.campaigns is not None and lc.joint_budget:
        seg_table = _segment_economics(lc, source, cols, info["stages"], table, seed)
        tables["retention_segments"] = seg_table
        from omnimmm.optimize import segments_from_table

        segments = segments_from_table(seg_table)
        info["joint_budget"] = True
    return LifecycleOutcome(info=info, tables=tables, segments=segments)


def _points(
    lc: Any, source: str, named: dict[str, Any], as_of: str, seed: int, say: Any
) -> tuple[dict[str, Any], pd.DataFrame] | None:
    """Points balance, breakage and next-quarter redemptions when the file carries points."""
    from omnimmm.lifecycle.points import points_ledger, points_summary, read_points

    frame = read_points(source, named, required=False)
    if frame is None:
        return None
    cutoff = pd.Timestamp(as_of) + pd.Timedelta(days=1)
    doc = points_summary(
        points_ledger(frame[0], cutoff, lc.points_expiry_days),
        value_per_point=lc.point_value,
        seed=seed,
    )
    q = doc["redemption_next_quarter_points"]
    rows = [
        ("outstanding balance (points)", doc["balance_points"]),
        ("breakage (share of a point never redeemed)", doc["breakage"]),
        ("realised breakage of expired cohorts", doc["realised_breakage"]),
        ("balance points expected never to be redeemed", doc["balance_never_redeemed_points"]),
        (f"points redeemed next quarter, from the balance ({q['interval']})", q["from_balance"]),
        (f"points redeemed next quarter, total ({q['interval']})", q["total"]),
    ]
    if doc["redemption_cost_next_quarter"] is not None:
        rows.append(("redemption cost next quarter", doc["redemption_cost_next_quarter"]["total"]))
    for side, label in (("earned_online", "online"), ("earned_offline", "in store")):
        cross = (doc["cross_channel"] or {}).get(side)
        if cross is not None:
            other = "share_redeemed_offline" if side == "earned_online" else "share_redeemed_online"
            where = "in store" if side == "earned_online" else "online"
            rows.append((f"points earned {label} redeemed {where} (share)",
                         {"mean": cross[other], "low": None, "high": None}))  # fmt: skip
    table = pd.DataFrame(
        [{"figure": k, "mean": v["mean"], "low": v["low"], "high": v["high"]} for k, v in rows]
    )
    say(f"lifecycle: points balance {doc['balance_points']['mean']:,.0f}, breakage "
        f"{doc['breakage']['mean']:.1%}")  # fmt: skip
    keep = ("expiry_days", "value_per_point", "breakage_basis", "points_unattributed")
    return {k: doc[k] for k in keep}, table


def _campaign_types(lc: Any, table: Any, seed: int, say: Any) -> pd.DataFrame:
    """Incremental spend per treated customer by campaign type (``omnimmm lifecycle
    campaigns``' estimator: holdout difference or AIPW, with the placebo). A retention
    history (``sent_at``, ``segment``, no dates) counts each send and segment as a campaign
    of type = segment over the 30 days after the send."""
    from omnimmm.lifecycle.campaign_effects import campaign_effects

    camp = _read(Path(lc.campaigns), None)
    names = {str(c).strip().lower() for c in camp.columns}
    if not names & {"start_date", "start"} and {"sent_at", "segment"} <= names:
        day = pd.to_datetime(camp["sent_at"], errors="coerce").dt.normalize()
        if day.isna().any():
            raise DataError(f"{lc.campaigns}: sent_at has values that are not dates")
        send = (
            camp["campaign_id"].astype(str)
            if "campaign_id" in camp.columns
            else day.dt.strftime("%Y-%m-%d")
        )
        rows = pd.DataFrame({
            "campaign_id": send + ":" + camp["segment"].astype(str),
            "customer_id": camp["customer_id"].astype(str),
            "campaign_type": camp["segment"].astype(str),
            "start_date": day,
            "end_date": day + pd.Timedelta(days=29),
        })  # fmt: skip
        if "treated" in camp.columns:
            rows["treated"] = camp["treated"].to_numpy()
        camp = rows
    say("lifecycle: campaign incrementality by type")
    with tempfile.TemporaryDirectory() as tmp:
        doc = campaign_effects(table, camp, Path(tmp) / "campaigns", seed=seed, folds=2)
    methods: dict[str, set[str]] = {}
    for c in doc["campaigns"]:
        methods.setdefault(str(c["type"]), set()).add(str(c["method"]))
    out = []
    for row in doc["types"]:
        spend, visits, naive = (row[k] for k in ("incremental_spend", "incremental_visits",
                                                 "naive_spend_difference"))  # fmt: skip
        placebo = row["placebo_spend"] or {}
        out.append({
            "type": str(row["type"]), "campaigns": int(row["campaigns"]),
            "treated": int(spend["n_treated"]),
            "method": "; ".join(sorted(methods.get(str(row["type"]), set()))),
            "spend_mean": spend["mean"], "spend_low": spend["low"], "spend_high": spend["high"],
            "visits_mean": visits["mean"], "visits_low": visits["low"],
            "visits_high": visits["high"], "naive_mean": naive["mean"],
            "placebo_mean": placebo.get("mean"), "placebo_low": placebo.get("low"),
            "placebo_high": placebo.get("high"),
        })  # fmt: skip
    return pd.DataFrame(out)


def _segment_economics(
    lc: Any, source: str, cols: Any, stages: dict[str, int], table: Any, seed: int
) -> pd.DataFrame:
    """Per campaign segment: customers now eligible, value per contact (mean, sd), cost.

    With a randomised control group in the history: treated minus control. Without one:
    the campaign incrementality estimates (AIPW, :mod:`omnimmm.lifecycle.segment_effects`).
    """
    from omnimmm.lifecycle.segment_effects import has_control_group, segment_values_aipw
    from omnimmm.lifecycle.value import campaign_outcomes, estimate_uplift

    campaigns = _read(Path(lc.campaigns), None)
    if not has_control_group(campaigns):
        label = f"{lc.campaigns}: campaign file (lifecycle.campaigns in the plan)"
        values = segment_values_aipw(table, campaigns, seed=seed, label=label)
        sizes = pd.Series(stages, dtype=float)
        values = values[values["segment"].isin(sizes.index)]
        if values.empty:
            raise DataError(
                f"{label}: none of its segments {sorted(campaigns['segment'].astype(str).unique())}"
                f" is a lifecycle stage now ({sorted(stages)}), so no retention segment can be "
                "budgeted"
            )
        return pd.DataFrame(
            {
                "segment": values["segment"].astype(str),
                "n_eligible": values["segment"].map(sizes).astype(float),
                "value_per_contact_mean": values["value_per_contact_mean"].astype(float),
                "value_per_contact_sd": values["value_per_contact_sd"].clip(lower=1e-9),
                "cost_per_contact": float(lc.contact_cost),
                "treated_rate": float("nan"),
                "control_rate": float("nan"),
                "method": values["method"],
            }
        ).reset_index(drop=True)
    for col in ("customer_id", "sent_at", "segment", "treated"):
        if col not in campaigns.columns:
            raise DataError(
                f"{lc.campaigns}: campaign file (lifecycle.campaigns in the plan) has no "
                f"column '{col}'; columns found: {list(campaigns.columns)}"
            )
    # An order in [sent_at, sent_at + 30 days) converts; its amount is the revenue.
    outcomes = campaign_outcomes(campaigns, source, columns=cols)
    outcomes["treated"] = outcomes["treated"].astype(bool)
    eligible = {s: n for s, n in stages.items() if s in set(campaigns["segment"].astype(str))}
    uplift = estimate_uplift(outcomes, eligible=eligible or None).to_frame()
    if uplift.empty:
        raise DataError(
            f"{lc.campaigns}: no segment has both treated and control customers, so the "
            "value of a retention contact cannot be estimated"
        )
    return pd.DataFrame(
        {
            "segment": uplift["segment"].astype(str),
            "n_eligible": uplift["n_eligible"].astype(float),
            "value_per_contact_mean": uplift["revenue_uplift"].astype(float),
            "value_per_contact_sd": uplift["revenue_uplift_se"].astype(float).clip(lower=1e-9),
            "cost_per_contact": float(lc.contact_cost),
            "treated_rate": uplift["treated_rate"].astype(float),
            "control_rate": uplift["control_rate"].astype(float),
            "method": "difference in means (randomised control)",
        }
    )


def lifecycle_stage(state: RunState) -> None:
    """Score the plan's customers into ``state.lifecycle`` (nothing without ``[lifecycle]``)."""
    if state.prep.plan.lifecycle is None:
        return
    state.lifecycle = run_lifecycle(state.prep.plan, state.prep.seed, state.say)
