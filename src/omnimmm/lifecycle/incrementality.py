"""What a campaign added: incremental spend and visits per targeted customer, with intervals.

For each campaign the population is every customer with an order before its start. The
treated are the customers it targeted; the outcome is their spend (and visits, i.e. orders)
in ``[start, end]``. Covariates are the point-in-time features of
:func:`omnimmm.lifecycle.features.build_features` at the day before the start, so nothing
after the targeting decision enters.

Estimators
----------
randomised holdout
    When the campaign file marks a control group (``treated`` false: selected but not
    contacted), the effect on the treated is the plain difference of means, treated minus
    holdout, with Welch's standard error.
AIPW (targeted campaigns)
    Otherwise the average effect on the treated is estimated doubly robustly:

        psi = sum_i [T_i (Y_i - m0(X_i)) - (1 - T_i) e(X_i)/(1 - e(X_i)) (Y_i - m0(X_i))] / n_1

    with ``e`` a LightGBM propensity of being targeted and ``m0`` a LightGBM outcome model fitted
    on the untargeted, both cross-fitted (each fold predicted by models fitted on the other
    folds). Its standard error comes from the influence function; propensities are clipped to
    ``[0.01, 0.99]``.

Every estimate has a 90% interval (normal, ``+-1.645`` standard errors). Diagnostics: the
naive difference of means (biased when targeting followed behaviour), the propensity
quantiles of treated and untargeted customers, the share of treated with ``e > 0.95`` (no
comparable untargeted customers) and the effective number of controls. The **placebo**
re-runs the same estimator on the window of equal length just before the start, with the
covariates taken at the day before that window: a campaign cannot have changed spend before
it started, so its interval should cover 0.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import lightgbm as lgb
import numpy as np
import pandas as pd

from omnimmm.errors import DataError
from omnimmm.lifecycle.features import (
    TransactionTable,
    build_features,
    feature_columns,
)
from omnimmm.lifecycle.transactions import _sql_ts

Z90 = 1.6448536269514722
_CLIP = 0.01


@dataclass(frozen=True)
class Effect:
    """One estimate with its 90% interval."""

    mean: float
    se: float
    n_treated: int
    n_control: int

    @property
    def low(self) -> float:
        return self.mean - Z90 * self.se

    @property
    def high(self) -> float:
        return self.mean + Z90 * self.se

    def to_dict(self) -> dict:
        """``{"mean", "low", "high", "se", "n_treated", "n_control"}``."""
        return {
            "mean": self.mean,
            "low": self.low,
            "high": self.high,
            "se": self.se,
            "n_treated": self.n_treated,
            "n_control": self.n_control,
        }


def difference_in_means(y: np.ndarray, treated: np.ndarray) -> Effect:
    """Treated minus control mean with Welch's standard error."""
    y1, y0 = y[treated], y[~treated]
    if len(y1) < 2 or len(y0) < 2:
        raise DataError("a difference of means needs at least two treated and two controls")
    se = float(np.sqrt(y1.var(ddof=1) / len(y1) + y0.var(ddof=1) / len(y0)))
    return Effect(float(y1.mean() - y0.mean()), se, len(y1), len(y0))


def _lgbm(kind: str, seed: int) -> lgb.LGBMModel:
    kw: dict[str, Any] = {
        "n_estimators": 400,
        "learning_rate": 0.03,
        "num_leaves": 15,
        "min_child_samples": 20,
        "subsample": 0.8,
        "subsample_freq": 1,
        "colsample_bytree": 0.8,
        "reg_lambda": 1.0,
        "random_state": seed,
        "n_jobs": 1,
        "verbose": -1,
    }
    return lgb.LGBMClassifier(**kw) if kind == "propensity" else lgb.LGBMRegressor(**kw)


def aipw_att(
    X: pd.DataFrame, y: np.ndarray, treated: np.ndarray, *, folds: int = 2, seed: int = 0
) -> tuple[Effect, np.ndarray]:
    """Cross-fitted AIPW effect on the treated (module docstring) and the propensities."""
    n = len(y)
    t = treated.astype(bool)
    if t.sum() < 10 or (~t).sum() < 10:
        raise DataError("AIPW needs at least 10 treated and 10 untargeted customers")
    rng = np.random.default_rng(seed)
    fold = rng.permutation(np.arange(n) % folds)
    e = np.empty(n)
    m0 = np.empty(n)
    for k in range(folds):
        fit, pred = fold != k, fold == k
        prop = _lgbm("propensity", seed).fit(X[fit], t[fit].astype(int))
        e[pred] = prop.predict_proba(X[pred])[:, 1]
        ctrl = fit & ~t
        out = _lgbm("outcome", seed).fit(X[ctrl], y[ctrl])
        m0[pred] = out.predict(X[pred])
    e = np.clip(e, _CLIP, 1 - _CLIP)
    p1 = t.mean()
    resid = y - m0
    w = e / (1 - e)
    psi = float((t * resid - (~t) * w * resid).sum() / t.sum())
    phi = (t * (resid - psi) - (~t) * w * resid) / p1
    se = float(phi.std(ddof=1) / np.sqrt(n))
    return Effect(psi, se, int(t.sum()), int((~t).sum())), e


@dataclass(frozen=True)
class CampaignEstimate:
    """Effect of one campaign on spend and visits per targeted customer, with diagnostics."""

    campaign: str
    kind: str
    method: str
    start: pd.Timestamp
    end: pd.Timestamp
    spend: Effect
    visits: Effect
    naive_spend: Effect
    placebo_spend: Effect | None
    overlap: dict

    def to_dict(self) -> dict:
        """JSON-ready record."""
        return {
            "campaign": self.campaign,
            "type": self.kind,
            "method": self.method,
            "start": str(self.start.date()),
            "end": str(self.end.date()),
            "incremental_spend": self.spend.to_dict(),
            "incremental_visits": self.visits.to_dict(),
            "naive_spend_difference": self.naive_spend.to_dict(),
            "placebo_spend": None if self.placebo_spend is None else self.placebo_spend.to_dict(),
            "overlap": self.overlap,
        }


def _window_outcomes(
    t: TransactionTable, ids: pd.Series, start: pd.Timestamp, stop: pd.Timestamp
) -> tuple[np.ndarray, np.ndarray]:
    """Spend and orders of each id in ``[start, stop)``."""
    count = "count(DISTINCT order_id)" if "order_id" in t.optional else "count(*)"
    got = t.con.execute(
        f"SELECT customer_id, sum(amount) AS spend, {count} AS visits FROM {t.table} "
        f"WHERE ts >= {_sql_ts(start)} AND ts < {_sql_ts(stop)} GROUP BY customer_id"
    ).df()
    got["customer_id"] = got["customer_id"].astype(str)
    joined = pd.DataFrame({"customer_id": ids.astype(str)}).merge(got, how="left")
    return (
        joined["spend"].fillna(0.0).to_numpy(dtype=float),
        joined["visits"].fillna(0).to_numpy(dtype=float),
    )


def _overlap(e: np.ndarray, treated: np.ndarray) -> dict:
    w = e[~treated] / (1 - e[~treated])
    q = (0.05, 0.5, 0.95)
    return {
        "propensity_treated": dict(zip(("p05", "p50", "p95"), np.quantile(e[treated], q).tolist(), strict=True)),
        "propensity_untargeted": dict(zip(("p05", "p50", "p95"), np.quantile(e[~treated], q).tolist(), strict=True)),
        "share_treated_above_0_95": float((e[treated] > 0.95).mean()),
        "effective_controls": float(w.sum() ** 2 / (w**2).sum()) if len(w) else 0.0,
    }  # fmt: skip


def _design(
    t: TransactionTable,
    as_of: pd.Timestamp,
    targeted: set[str],
    holdout: set[str],
    randomised: bool,
) -> tuple[pd.DataFrame, pd.Series, np.ndarray]:
    """Features at ``as_of`` (the day before a window), ids and the treated flag."""
    feats = build_features(t, as_of)
    ids = feats["customer_id"].astype(str)
    if randomised:
        keep = ids.isin(targeted | holdout).to_numpy()
        feats, ids = feats[keep].reset_index(drop=True), ids[keep].reset_index(drop=True)
    X = feats[feature_columns(feats)].astype(float)
    return X, ids, ids.isin(targeted).to_numpy()


def estimate_campaign(
    t: TransactionTable,
    campaign: str,
    kind: str,
    start: pd.Timestamp,
    end: pd.Timestamp,
    targeted: set[str],
    holdout: set[str],
    *,
    seed: int = 0,
    folds: int = 2,
) -> CampaignEstimate:
    """Effect of one campaign (see the module docstring); ``end`` is the last day in it."""
    randomised = len(holdout) > 0
    stop = end.normalize() + pd.Timedelta(days=1)
    length = stop - start.normalize()
    as_of = start.normalize() - pd.Timedelta(days=1)
    X, ids, treated = _design(t, as_of, targeted, holdout, randomised)
    if treated.sum() == 0:
        raise DataError(f"campaign {campaign}: none of its customers bought before {start.date()}")
    spend, visits = _window_outcomes(t, ids, start.normalize(), stop)
    naive = difference_in_means(spend, treated)
    placebo = None
    if randomised:
        method = "difference in means (randomised holdout)"
        eff_s, eff_v = naive, difference_in_means(visits, treated)
        overlap: dict = {}
        pre_start = start.normalize() - length
        if pre_start >= t.start.normalize():
            pre_spend, _ = _window_outcomes(t, ids, pre_start, start.normalize())
            placebo = difference_in_means(pre_spend, treated)
    else:
        method = "AIPW (cross-fitted LightGBM propensity and outcome)"
        eff_s, e = aipw_att(X, spend, treated, folds=folds, seed=seed)
        eff_v, _ = aipw_att(X, visits, treated, folds=folds, seed=seed)
        overlap = _overlap(e, treated)
        pre_start = start.normalize() - length
        if pre_start - pd.Timedelta(days=30) >= t.start.normalize():
            Xp, ids_p, tp = _design(t, pre_start - pd.Timedelta(days=1), targeted, holdout, False)
            pre_spend, _ = _window_outcomes(t, ids_p, pre_start, start.normalize())
            if tp.sum() >= 10:
                placebo, _ = aipw_att(Xp, pre_spend, tp, folds=folds, seed=seed)
    return CampaignEstimate(
        str(campaign), str(kind), method, start, end, eff_s, eff_v, naive, placebo, overlap
    )


def pool(effects: list[Effect]) -> Effect:
    """Treated-weighted mean of independent campaign effects (one campaign type)."""
    n = np.array([e.n_treated for e in effects], dtype=float)
    w = n / n.sum()
    mean = float(sum(wi * e.mean for wi, e in zip(w, effects, strict=True)))
    se = float(np.sqrt(sum((wi * e.se) ** 2 for wi, e in zip(w, effects, strict=True))))
    return Effect(mean, se, int(n.sum()), int(sum(e.n_control for e in effects)))
