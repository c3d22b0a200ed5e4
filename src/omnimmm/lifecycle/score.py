"""End-to-end scoring behind ``omnimmm lifecycle score``.

Only transactions up to the end of the as-of date are read (the filter runs in SQL while
loading). For each target (repurchase over ``horizon_days``, churn over
``churn_horizon_days``) the cutoff plan of :mod:`omnimmm.lifecycle.labels` is used twice:

1. *check* models of both :data:`RECIPES` (the BTYD base model alone, and the base with a
   regularised LightGBM correction) are trained on the earlier cutoffs and scored on the
   later validation cutoff; the one with the lower log loss there is the recipe, and its
   metrics, next to an RFM-only logistic baseline trained on the same rows, go to
   ``metrics.json`` (``recipes`` gives both);
2. the *production* model, the chosen recipe moved forward by one horizon, scores every
   customer at the as-of date. The choice uses only labels that end by the as-of date.

Outputs (written to a temporary directory, then moved into place):

``scores.csv``
    ``customer_id, p_repurchase, p_churn, stage, decile, expected_revenue``. ``decile`` ranks
    ``p_repurchase`` (1 = most likely to buy). ``p_churn`` is empty for lapsed customers (churn
    is defined for customers not yet lapsed). If the customer key is a phone or e-mail column
    its values are replaced by their hashes.
``metrics.json``
    validation metrics per target, the baselines (an RFM-only logistic trained on the same
    rows; BG/NBD fitted on the history before the validation cutoff, its probability of a
    purchase within the horizon), the cutoffs, rows used, as-of, horizons and the columns used.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.metrics import log_loss

import omnimmm
from omnimmm.data.outputs import write_files_atomic
from omnimmm.lifecycle.campaigns import RESPONSE_DAYS, CampaignColumns, load_campaigns
from omnimmm.lifecycle.features import (
    ColumnMap,
    DateLike,
    TransactionTable,
    build_features,
    cutoff_end,
    feature_columns,
    load_transactions,
)
from omnimmm.lifecycle.identity import normalize_email, normalize_phone
from omnimmm.lifecycle.labels import (
    CHURN_STAGES,
    CutoffPlan,
    check_history,
    require_both_classes,
)
from omnimmm.lifecycle.privacy import find_raw_contacts, hash_identifier
from omnimmm.lifecycle.propensity import (
    RFM_COLUMNS,
    PropensityModel,
    Target,
    evaluate,
    model_settings,
    rfm_baseline,
    rolling_training_set,
)
from omnimmm.lifecycle.rhythm import add_rhythm_features
from omnimmm.lifecycle.value import SpendModel, expected_revenue

SCORE_COLUMNS: tuple[str, ...] = (
    "customer_id",
    "p_repurchase",
    "p_churn",
    "stage",
    "decile",
    "expected_revenue",
)
#: Rows whose SHAP values summarise the drivers in metrics.json (TreeSHAP is slow).
_SHAP_ROWS = 2000
#: The two propensity recipes ``score_customers`` fits for each target; the one with the
#: lower log loss on the validation cutoff scores the customers (its settings sit under
#: the user's ``model_preset`` and ``model_params``). Both start from the BTYD base model
#: (:mod:`omnimmm.lifecycle.btyd_base`); ``btyd_trees`` adds a strongly regularised
#: LightGBM correction (4 leaves, 200 rows a leaf, steps of 0.02), ``btyd_base`` keeps the
#: base alone. On Complete Journey and the CDNOW sample the correction lowers the later
#: fold's log loss yet ranks worse on the validation cutoff; on the full CDNOW log it adds
#: to the churn model (``benchmarks/RESULTS.md``, bench_btyd).
RECIPES: dict[str, dict[str, Any]] = {
    "btyd_trees": {
        "btyd_base": True,
        "num_leaves": 4,
        "min_child_samples": 200,
        "learning_rate": 0.02,
        "linear_weight": 0.0,
    },
    "btyd_base": {"btyd_base": True, "trees": False, "linear_weight": 0.0},
}
#: Settings of the run, not of a recipe (left out of ``metrics.json``'s recipe settings).
_FIXED: tuple[str, ...] = ("calibration", "random_state", "n_jobs")
_PII_NAME = re.compile(r"phone|mobile|email|e_mail|mail|tel|手机|电话|邮箱", re.IGNORECASE)


@dataclass(frozen=True)
class ScoreResult:
    """Scores, metrics and where they were written."""

    scores: pd.DataFrame
    metrics: dict[str, Any]
    out_dir: Path


def _is_pii_key(name: str, sample: pd.Series) -> bool:
    """Whether the customer key is a phone or e-mail: by its name, or by its values (a member
    id that is the member's mobile, as Chinese CRM exports often have it, under any name)."""
    if _PII_NAME.search(name) or sample.str.contains("@", regex=False).any():
        return True
    return bool(find_raw_contacts(pd.DataFrame({"key": sample.astype(str)})))


def _hash_ids(ids: pd.Series, salt: str) -> pd.Series:
    """Salted hashes of the normalised phone or e-mail (see :mod:`omnimmm.lifecycle.privacy`)."""
    normalize = normalize_email if ids.str.contains("@", regex=False).any() else normalize_phone
    codes, uniques = pd.factorize(ids)
    hashed = np.asarray([hash_identifier(normalize(u) or u, salt) for u in uniques], dtype=object)
    return pd.Series(hashed[codes], index=ids.index, dtype="str")


def recipe_settings(model_kw: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """:class:`PropensityModel` settings of each of :data:`RECIPES`: the recipe, then the
    user's settings (``model_kw``: preset and overrides) on top, then the run's calibration,
    seed and threads. Used by the single-process and the Dask path alike."""
    fixed = {k: model_kw[k] for k in _FIXED if k in model_kw}
    user = {k: v for k, v in model_kw.items() if k not in fixed}
    return {name: recipe | user | fixed for name, recipe in RECIPES.items()}


def _fit_target(
    t: TransactionTable,
    plan: CutoffPlan,
    target: Target,
    cache: dict,
    model_kw: dict[str, Any],
    seed: int = 0,
    campaigns: Any = None,
    response_days: int = RESPONSE_DAYS,
) -> tuple[PropensityModel, dict[str, Any], Any]:
    """Check models of each recipe on ``plan``; the production model of the recipe with the
    lower validation log loss on ``plan.shifted()``."""
    h = plan.horizon_days
    extra = {"campaigns": campaigns, "response_days": response_days}
    train = rolling_training_set(t, plan.train, h, target=target, cache=cache, **extra)
    val = rolling_training_set(t, [plan.validation], h, target=target, cache=cache, **extra)
    require_both_classes(train.y, target, plan.train, h, t.source)
    require_both_classes(val.y, target, [plan.validation], h, t.source)
    candidates: dict[str, Any] = {}
    for name, kw in recipe_settings(model_kw).items():
        model = PropensityModel(**kw).fit(train.X, train.y, cutoff=train.cutoff)
        p = model.predict_proba(val.X[train.X.columns])[:, 1]
        candidates[name] = (kw, model, evaluate(val.y, p), log_loss(val.y, p, labels=[0, 1]))
    chosen = min(candidates, key=lambda n: candidates[n][3])
    chosen_kw, check, metrics, _ = candidates[chosen]
    rfm = list(RFM_COLUMNS)
    base = rfm_baseline().fit(train.X[rfm], train.y)
    base_metrics = evaluate(val.y, base.predict_proba(val.X[rfm])[:, 1])
    bgnbd = None
    if "bgnbd_p_any" in val.X and val.X["bgnbd_p_any"].notna().all():
        # BG/NBD fitted at the validation cutoff on the history before it (see rhythm.py)
        p_any = val.X["bgnbd_p_any"].to_numpy(dtype=float)
        bg = evaluate(val.y, 1.0 - p_any if target == "churn" else p_any)
        bgnbd = {k: bg[k] for k in ("roc_auc", "pr_auc", "brier", "ece")}
    pnbd = None
    if "pnbd_p_any" in val.X and val.X["pnbd_p_any"].notna().all():
        p_any = val.X["pnbd_p_any"].to_numpy(dtype=float)
        pn = evaluate(val.y, 1.0 - p_any if target == "churn" else p_any)
        pnbd = {k: pn[k] for k in ("roc_auc", "pr_auc", "brier", "ece")}
    prod_plan = plan.shifted()
    prod_set = rolling_training_set(t, prod_plan.train, h, target=target, cache=cache, **extra)
    prod = PropensityModel(**chosen_kw).fit(prod_set.X, prod_set.y, cutoff=prod_set.cutoff)
    report = {
        "horizon_days": h,
        "validation": metrics,
        "recipe": chosen,
        "recipes": {
            name: {
                "roc_auc": c[2]["roc_auc"],
                "log_loss": c[3],
                "n_trees": c[1].n_iter_,
                "settings": {k: v for k, v in c[0].items() if k not in _FIXED},
            }
            for name, c in candidates.items()
        },
        "baseline_rfm_logistic": {
            k: base_metrics[k] for k in ("roc_auc", "pr_auc", "brier", "ece")
        },
        "baseline_bgnbd": bgnbd,
        "baseline_pareto_nbd": pnbd,
        "cutoff_plan": plan.settings,
        "cutoff_note": plan.note or None,
        "check_cutoffs": [str(c.date()) for c in plan.train],
        "validation_cutoff": str(plan.validation.date()),
        "production_cutoffs": [str(c.date()) for c in prod_plan.train],
        "n_train_rows": int(len(train.y)),
        "n_validation_rows": int(len(val.y)),
        "n_trees": check.n_iter_,
        "features": list(check.feature_names_),
        "top_drivers": _top_drivers(check, _sample(val.X[train.X.columns], _SHAP_ROWS, seed)),
    }
    return prod, report, prod_set


def _top_drivers(model: PropensityModel, X: pd.DataFrame, k: int = 10) -> list[dict]:
    """The ``k`` features with the largest mean |SHAP|, leaving out those the model does not
    use (the BTYD base alone reads nine columns)."""
    imp = model.drivers(X).importance
    return imp[imp["mean_abs_shap"] > 0].head(k).to_dict(orient="records")


def _contacts_before(camp: Any, stop: pd.Timestamp) -> int:
    sql = f"SELECT count(*) FROM {camp.table} WHERE sent_at < TIMESTAMP '{stop:%Y-%m-%d %H:%M:%S}'"
    return int(camp.con.execute(sql).fetchall()[0][0])


def _sample(X: pd.DataFrame, n: int, seed: int) -> pd.DataFrame:
    """At most ``n`` rows of ``X`` (SHAP summaries need a sample, not every customer)."""
    return X if len(X) <= n else X.sample(n=n, random_state=seed)


def _deciles(p: np.ndarray) -> np.ndarray:
    order = np.argsort(-p, kind="stable")
    rank = np.empty(len(p), dtype=np.int64)
    rank[order] = np.arange(len(p))
    return 1 + (rank * 10) // max(len(p), 1)


def _id_order(ids: pd.Series) -> np.ndarray:
    """Row order of ``scores.csv``: numeric ids by value (2 before 10), others as text."""
    text = ids.astype(str)
    if text.str.fullmatch(r"\d+").all():
        key = pd.DataFrame({"n": text.str.lstrip("0").str.len(), "s": text})  # no overflow
        return np.lexsort((key["s"].to_numpy(), key["n"].to_numpy()))
    return np.argsort(text.to_numpy(), kind="stable")


def _write_atomic(out_dir: Path, scores: pd.DataFrame, metrics: dict[str, Any]) -> None:
    write_files_atomic(out_dir, {
        "scores.csv": lambda p: scores.to_csv(p, index=False, float_format="%.6g"),
        "metrics.json": json.dumps(metrics, indent=2, default=str) + "\n",
    })  # fmt: skip


def score_customers(
    transactions: str | Path | pd.DataFrame,
    as_of: DateLike,
    horizon_days: int,
    out_dir: str | Path,
    *,
    columns: ColumnMap | dict[str, str | None] | None = None,
    churn_horizon_days: int | None = None,
    n_cutoffs: int | None = None,
    step_days: int | None = None,
    min_history_days: int | None = None,
    calibration: str = "sigmoid",
    seed: int = 0,
    n_jobs: int | None = 1,
    salt: str = "omnimmm",
    campaigns: str | Path | pd.DataFrame | None = None,
    campaign_columns: CampaignColumns | None = None,
    response_days: int = RESPONSE_DAYS,
    model_preset: str = "default",
    model_params: dict[str, Any] | None = None,
) -> ScoreResult:
    """Score every customer at ``as_of`` and write ``scores.csv`` and ``metrics.json``.

    Parameters
    ----------
    transactions
        CSV or Parquet path (or a DataFrame); rows after the end of ``as_of`` are never read
        into the model.
    as_of
        Scoring date (YYYY-MM-DD).
    horizon_days
        Repurchase window; also the churn window unless ``churn_horizon_days`` is given.
    out_dir
        Output directory (created; existing score files in it are replaced).
    columns
        Column mapping: a :class:`ColumnMap` used as it is, or the roles the user named (CLI
        flags or the plan's ``[lifecycle.columns]``) with the rest inferred from the file
        (:mod:`omnimmm.lifecycle.roles`); ``None`` infers all. ``metrics.json["columns"]``
        records the mapping used.
    n_cutoffs, step_days, min_history_days
        Rolling training cutoffs: how many, how far apart, and the history the first needs.
        Those left ``None`` start at 4, 30 and 90 and shrink when the history is too short
        for them (:func:`~omnimmm.lifecycle.labels.check_history`; ``metrics.json`` records
        the plan used per target, with a note when it was shortened).
    calibration
        ``sigmoid``, ``isotonic`` or ``none``.
    seed, n_jobs
        Random seed and LightGBM threads (1 by default: on a shared machine OpenMP threads
        that wait for busy cores can make LightGBM many times slower).
    salt
        Salt of the hashes that replace a phone or e-mail customer key (use a secret one).
    campaigns, campaign_columns, response_days
        Optional campaign or contact history keyed by the same customer ids (path or
        DataFrame), its column names, and the days after a contact in which a purchase
        counts as a response. Adds the point-in-time campaign features of
        :mod:`omnimmm.lifecycle.campaigns` (contacts sent after ``as_of`` are never read).
    model_preset, model_params
        LightGBM settings of the churn and repurchase models: a preset of
        :data:`~omnimmm.lifecycle.propensity.MODEL_PRESETS` (``"default"``, or ``"fast"``
        for millions of training rows), then explicit :class:`PropensityModel` settings,
        e.g. ``{"learning_rate": 0.1, "n_estimators": 400, "early_stopping_rounds": 30,
        "min_child_samples": 500}``. Both are recorded in ``metrics.json``.

    Raises
    ------
    DataError
        Bad columns or values, or a history too short for the horizon (the message gives the
        longest supported horizon).
    """
    out = Path(out_dir)
    stop = cutoff_end(as_of)
    t = load_transactions(transactions, columns=columns, until=stop)
    cols = t.columns or ColumnMap()
    churn_h = churn_horizon_days or horizon_days
    plans = {
        target: check_history(
            t,
            as_of,
            h,
            n_cutoffs=n_cutoffs,
            step_days=step_days,
            min_history_days=min_history_days,
        )
        for target, h in (("repurchase", horizon_days), ("churn", churn_h))
    }
    settings = model_settings(model_preset, **(model_params or {}))
    model_kw = {"calibration": calibration, "random_state": seed, "n_jobs": n_jobs} | settings
    camp = None if campaigns is None else load_campaigns(campaigns, t.con, columns=campaign_columns)
    cache: dict = {}
    rep, rep_report, rep_set = _fit_target(
        t, plans["repurchase"], "repurchase", cache, model_kw, seed, camp, response_days
    )
    churn, churn_report, _ = _fit_target(
        t, plans["churn"], "churn", cache, model_kw, seed, camp, response_days
    )

    feats = add_rhythm_features(
        build_features(t, as_of, campaigns=camp, response_days=response_days),
        t,
        as_of,
        horizon_days,
    )
    X = feats[feature_columns(feats)][list(rep.feature_names_)]
    p_rep = rep.predict_proba(X)[:, 1]
    eligible = feats["stage"].isin(CHURN_STAGES).to_numpy()
    p_churn = np.full(len(feats), np.nan)
    if eligible.any():
        p_churn[eligible] = churn.predict_proba(X[eligible])[:, 1]
    buyers = rep_set.future_revenue > 0
    spend_like = PropensityModel(**model_kw).get_params()  # the user's settings, no recipe
    spend = SpendModel.matching(spend_like, random_state=seed, n_jobs=n_jobs).fit(
        rep_set.X[buyers], rep_set.future_revenue[buyers]
    )
    ids = feats["customer_id"]
    hashed = _is_pii_key(cols.customer_id, ids.head(1000))
    scores = pd.DataFrame(
        {
            "customer_id": _hash_ids(ids, salt) if hashed else ids,
            "p_repurchase": p_rep,
            "p_churn": p_churn,
            "stage": feats["stage"],
            "decile": _deciles(p_rep),
            "expected_revenue": expected_revenue(p_rep, spend.predict(X)),
        }
    )[list(SCORE_COLUMNS)]
    metrics = {
        "omnimmm_version": omnimmm.__version__ if hasattr(omnimmm, "__version__") else None,
        "source": t.source,
        "as_of": str((stop - pd.Timedelta(days=1)).date()),
        "history_start": str(t.start.date()),
        "rows_used": t.n_rows,
        "rows_left_out": {**t.left_out, "notes": list(t.notes)},
        "customers_scored": int(len(scores)),
        "customer_id_hashed": hashed,
        "columns": t.roles.to_dict()
        if t.roles is not None
        else {
            "columns": {r: getattr(cols, r) for r in ("customer_id", "ts", "amount", *t.optional)},
            "how": "given",
        },
        "decile_of": "p_repurchase (1 = highest)",
        "stages": {
            s: int((feats["stage"] == s).sum()) for s in ("new", "active", "at_risk", "lapsed")
        },
        "repurchase": rep_report,
        "churn": churn_report,
        "expected_revenue_total": float(scores["expected_revenue"].sum()),
        "model": {"preset": model_preset, "settings": settings},
        "campaigns": None
        if camp is None
        else {
            "source": camp.source,
            "contacts_before_as_of": _contacts_before(camp, stop),
            "response_days": response_days,
        },
    }
    _write_atomic(out, scores.iloc[_id_order(scores["customer_id"])], metrics)
    return ScoreResult(scores=scores, metrics=metrics, out_dir=out)
