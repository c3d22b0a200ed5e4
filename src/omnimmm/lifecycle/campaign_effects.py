"""``omnimmm lifecycle campaigns``: incremental spend and visits per campaign and campaign type,
redemption, cost and ROI, written to a directory.

Inputs
------
transactions
    As for ``lifecycle score`` (columns inferred unless named; see :mod:`omnimmm.lifecycle.roles`).
campaigns
    One row per customer a campaign selected: a campaign id (``campaign_id``/``campaign``),
    a customer key (the transactions' key names: ``customer_id``, ``household_id``, ...),
    optionally ``treated`` (false = randomised holdout, selected but not contacted), and the
    campaign's ``campaign_type``, ``start_date`` and ``end_date`` unless ``descriptions`` has
    them.
descriptions (optional)
    One row per campaign: ``campaign_id``, ``campaign_type``, ``start_date``, ``end_date``,
    optionally ``contact_cost`` and ``face_value`` (cost per contact and per redemption).
redemptions (optional)
    One row per redemption: customer key and ``campaign_id``; the redemption rate is the share
    of treated customers with at least one.

Outputs (written to a temporary directory, then moved into place; no customer ids)
-------
``campaigns.json``
    ``{"campaigns": [...], "types": [...], "columns": {...}, "definitions": {...}}`` with each
    campaign's method, incremental spend and visits per treated customer (mean, 90% interval),
    the naive difference, the placebo, overlap diagnostics, redemption rate, cost and ROI;
    ``types`` pools campaigns of one type (treated-weighted).
``campaigns.csv``, ``campaign_types.csv``
    the same as flat tables.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from omnimmm.data.outputs import write_files_atomic
from omnimmm.data.tables import read_frame
from omnimmm.errors import DataError
from omnimmm.lifecycle.features import ColumnMap, load_transactions, require_amount
from omnimmm.lifecycle.incrementality import CampaignEstimate, Effect, estimate_campaign, pool
from omnimmm.lifecycle.roles import ALIASES

_CAMPAIGN_ID = ("campaign_id", "campaign", "campaign_key", "活动id", "活动编号")


def _norm(name: object) -> str:
    return "".join(ch for ch in str(name).lower() if ch.isalnum())


def _find(frame: pd.DataFrame, names: tuple[str, ...], what: str, label: str) -> str | None:
    wanted = {_norm(n) for n in names}
    hits = [c for c in frame.columns if _norm(c) in wanted]
    if len(hits) > 1:
        raise DataError(f"{label}: {len(hits)} columns could be the {what}: {hits}; keep one")
    return hits[0] if hits else None


def _need(frame: pd.DataFrame, names: tuple[str, ...], what: str, label: str) -> str:
    col = _find(frame, names, what, label)
    if col is None:
        raise DataError(
            f"{label}: no {what} column (expected one of {list(names)[:6]}); columns found: "
            f"{list(frame.columns)}"
        )
    return col


def _flag(values: pd.Series) -> np.ndarray:
    text = values.astype(str).str.strip().str.lower()
    return text.isin(["true", "1", "t", "yes", "y", "1.0"]).to_numpy()


def _campaign_table(
    campaigns: pd.DataFrame, descriptions: pd.DataFrame | None, labels: tuple[str, str]
) -> pd.DataFrame:
    """Canonical rows: campaign_id, customer_id, treated, campaign_type, start, end."""
    c_label, d_label = labels
    out = pd.DataFrame(
        {
            "campaign_id": campaigns[_need(campaigns, _CAMPAIGN_ID, "campaign id", c_label)]
            .astype(str)
            .str.strip(),
            "customer_id": campaigns[
                _need(campaigns, ALIASES["customer_id"], "customer key", c_label)
            ].astype(str),
        }
    )
    treated = _find(campaigns, ("treated", "contacted", "is_treated"), "treated flag", c_label)
    out["treated"] = _flag(campaigns[treated]) if treated else True
    info = campaigns if descriptions is None else descriptions
    i_label = c_label if descriptions is None else d_label
    cols = {
        "campaign_type": _find(info, ("campaign_type", "type", "活动类型"), "type", i_label),
        "start": _need(info, ("start_date", "start", "starts", "开始日期"), "start date", i_label),
        "end": _need(info, ("end_date", "end", "ends", "结束日期"), "end date", i_label),
        "contact_cost": _find(info, ("contact_cost",), "contact cost", i_label),
        "face_value": _find(info, ("face_value", "coupon_value"), "face value", i_label),
    }
    meta = pd.DataFrame(
        {
            "campaign_id": info[_need(info, _CAMPAIGN_ID, "campaign id", i_label)]
            .astype(str)
            .str.strip()
        }
    )
    for key, col in cols.items():
        meta[key] = info[col] if col else (np.nan if key != "campaign_type" else "all")
    meta = meta.drop_duplicates("campaign_id")
    for key in ("start", "end"):
        meta[key] = pd.to_datetime(meta[key], errors="coerce")
        bad = meta[meta[key].isna()]
        if len(bad):
            raise DataError(
                f"{i_label}: campaign {bad['campaign_id'].iloc[0]} has no readable {key} date; "
                "expected YYYY-MM-DD"
            )
    merged = out.merge(meta, on="campaign_id", how="left")
    missing = merged[merged["start"].isna()]["campaign_id"].unique()
    if len(missing):
        raise DataError(f"{c_label}: campaign(s) {list(missing[:5])} have no start/end dates")
    return merged


def _economics(est: Effect, n_treated: int, redeemed: int, contact: float, face: float) -> dict:
    rate = redeemed / n_treated if n_treated else float("nan")
    cost = (0.0 if np.isnan(contact) else contact) + (0.0 if np.isnan(face) else face) * rate
    if not cost > 0:
        return {"redemption_rate": rate, "cost_per_treated": None, "roi": None}
    roi = {k: v / cost for k, v in (("mean", est.mean), ("low", est.low), ("high", est.high))}
    return {"redemption_rate": rate, "cost_per_treated": cost, "roi": roi}


def campaign_effects(
    transactions: str | Path | pd.DataFrame,
    campaigns: str | Path | pd.DataFrame,
    out_dir: str | Path,
    *,
    descriptions: str | Path | pd.DataFrame | None = None,
    redemptions: str | Path | pd.DataFrame | None = None,
    columns: ColumnMap | dict[str, str | None] | None = None,
    contact_cost: float | None = None,
    face_value: float | None = None,
    seed: int = 0,
    folds: int = 5,
) -> dict[str, Any]:
    """Estimate every campaign's effect and write ``DIR/campaigns.json`` and the CSV tables.

    ``contact_cost`` and ``face_value`` (cost per contact and per redemption) apply to every
    campaign that ``descriptions`` gives none for. Returns the JSON document.
    """

    def frame(src: str | Path | pd.DataFrame, what: str) -> tuple[pd.DataFrame, str]:
        if isinstance(src, pd.DataFrame):
            return src, what
        return read_frame(src, what=what), str(src)

    t = load_transactions(transactions, columns=columns)
    require_amount(t, "a campaign's incremental spend and ROI")
    camp, c_label = frame(campaigns, "campaigns file (--campaigns)")
    desc, d_label = (None, "") if descriptions is None else frame(descriptions, "descriptions")
    rows = _campaign_table(camp, desc, (c_label, d_label))
    redeemers: dict[str, set[str]] = {}
    if redemptions is not None:
        red, r_label = frame(redemptions, "redemptions file (--redemptions)")
        rc = _need(red, _CAMPAIGN_ID, "campaign id", r_label)
        rk = _need(red, ALIASES["customer_id"], "customer key", r_label)
        for rid, grp in red.groupby(red[rc].astype(str).str.strip()):
            redeemers[str(rid)] = set(grp[rk].astype(str))
    estimates: list[tuple[CampaignEstimate, dict]] = []
    skipped: list[dict] = []
    for cid, grp in rows.groupby("campaign_id", sort=True):
        first = grp.iloc[0]
        try:
            est = estimate_campaign(
                t, str(cid), str(first["campaign_type"]), first["start"], first["end"],
                set(grp.loc[grp["treated"], "customer_id"]),
                set(grp.loc[~grp["treated"], "customer_id"]), seed=seed, folds=folds,
            )  # fmt: skip
        except DataError as exc:
            skipped.append({"campaign": str(cid), "reason": str(exc)})
            continue
        treated_ids = set(grp.loc[grp["treated"], "customer_id"])
        contact = first["contact_cost"] if pd.notna(first["contact_cost"]) else contact_cost
        face = first["face_value"] if pd.notna(first["face_value"]) else face_value
        econ = _economics(
            est.spend,
            est.spend.n_treated,
            len(treated_ids & redeemers.get(str(cid), set())),
            float("nan") if contact is None else float(contact),
            float("nan") if face is None else float(face),
        )
        if redemptions is None:
            econ["redemption_rate"] = None
        estimates.append((est, econ))
    by_type: dict[str, list[tuple[CampaignEstimate, dict]]] = {}
    for est, econ in estimates:
        by_type.setdefault(est.kind, []).append((est, econ))
    types = []
    for kind, items in sorted(by_type.items()):
        spend = pool([e.spend for e, _ in items])
        placebos = [e.placebo_spend for e, _ in items if e.placebo_spend is not None]
        types.append({
            "type": kind, "campaigns": len(items),
            "incremental_spend": spend.to_dict(),
            "incremental_visits": pool([e.visits for e, _ in items]).to_dict(),
            "naive_spend_difference": pool([e.naive_spend for e, _ in items]).to_dict(),
            "placebo_spend": pool(placebos).to_dict() if placebos else None,
        })  # fmt: skip
    campaigns_out = [e.to_dict() | econ for e, econ in estimates]
    doc: dict[str, Any] = {
        "definitions": {
            "incremental_spend": "spend per treated customer in the campaign window caused by "
            "the campaign (effect on the treated), 90% interval",
            "placebo_spend": "the same estimator on the equal-length window before the start; "
            "should cover 0",
        },
        "columns": None if t.roles is None else t.roles.to_dict(),
        "campaigns": campaigns_out,
        "types": types,
        "skipped": skipped,
    }
    flat = pd.DataFrame([_flat(d) for d in campaigns_out])
    flat_types = pd.DataFrame([_flat(d) for d in types])
    write_files_atomic(
        Path(out_dir),
        {
            "campaigns.json": json.dumps(doc, indent=2, default=str) + "\n",
            "campaigns.csv": flat.to_csv(index=False, float_format="%.6g"),
            "campaign_types.csv": flat_types.to_csv(index=False, float_format="%.6g"),
        },
    )
    return doc


def _flat(d: dict) -> dict:
    out: dict[str, Any] = {}
    for k, v in d.items():
        if isinstance(v, dict):
            for kk, vv in v.items():
                if not isinstance(vv, dict):
                    out[f"{k}_{kk}"] = vv
        elif v is not None:
            out[k] = v
    return out
