"""Customer value over the horizon, and the incremental effect of retention campaigns.

Value
-----
Expected revenue of a customer over the horizon is ``p_repurchase x E[revenue | repurchase]``.
The second factor is learned from history by :class:`SpendModel`: at past cutoffs, among
customers who did buy within the horizon, LightGBM with a gamma loss maps the point-in-time
features to what they spent.

Uplift
------
Campaign history with a random control group identifies the effect of a retention action.
Within each segment, treated and control customers are compared directly (a two-model
estimate whose "models" are the segment means, which is unbiased under randomisation):
``uplift = treated rate - control rate`` with the standard error of a difference of two
proportions, and the incremental revenue per contacted customer likewise as a difference of
means with Welch's standard error. Intervals are normal at the requested level (90% default).
:class:`UpliftTable` is what the joint budget optimizer consumes; costs are not part of it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import lightgbm as lgb
import numpy as np
import pandas as pd
from scipy.stats import norm
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.utils.validation import validate_data

from omnimmm.errors import DataError
from omnimmm.lifecycle.features import (
    ColumnMap,
    TransactionTable,
    load_transactions,
    require_amount,
)
from omnimmm.lifecycle.propensity import ModelNotFittedError


class SpendModel(RegressorMixin, BaseEstimator):
    """Revenue over the horizon given at least one purchase (LightGBM, gamma loss).

    Fit it on the rows of a training set whose horizon revenue is positive. ``subsample``
    (share of rows per tree) and ``max_bin`` make trees cheaper on millions of rows;
    :meth:`matching` takes them and the step size from a propensity model's settings.
    """

    def __init__(
        self,
        n_estimators: int = 300,
        learning_rate: float = 0.05,
        num_leaves: int = 15,
        min_child_samples: int = 50,
        subsample: float = 1.0,
        max_bin: int = 255,
        n_jobs: int | None = None,
        random_state: int = 0,
    ) -> None:
        self.n_estimators = n_estimators
        self.learning_rate = learning_rate
        self.num_leaves = num_leaves
        self.min_child_samples = min_child_samples
        self.subsample = subsample
        self.max_bin = max_bin
        self.n_jobs = n_jobs
        self.random_state = random_state

    @classmethod
    def matching(cls, settings: dict[str, Any], **kw: Any) -> SpendModel:
        """A spend model following propensity-model ``settings`` (a ``get_params()`` dict):
        the same rows per tree, bins and step size, with as many trees as keep the total
        shrinkage (trees x step) of the defaults, at least 20."""
        total = 300 * 0.05
        lr = float(settings.get("learning_rate", 0.05))
        return cls(
            n_estimators=max(20, round(total / lr)),
            learning_rate=lr,
            subsample=float(settings.get("subsample", 1.0)),
            max_bin=int(settings.get("max_bin", 255)),
            **kw,
        )

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        tags.target_tags.positive_only = True
        return tags

    def fit(self, X: pd.DataFrame | np.ndarray, y: Sequence | np.ndarray) -> SpendModel:
        """Fit on features ``X`` and positive horizon revenue ``y``."""
        X, y = validate_data(self, X, y, ensure_all_finite="allow-nan", dtype=np.float64)
        y = np.asarray(y, dtype=np.float64)
        if np.any(y <= 0):
            raise ValueError("SpendModel needs positive revenue; fit it on buyers only")
        self.model_ = lgb.LGBMRegressor(
            objective="gamma",
            n_estimators=self.n_estimators,
            learning_rate=self.learning_rate,
            num_leaves=self.num_leaves,
            min_child_samples=self.min_child_samples,
            subsample=self.subsample,
            subsample_freq=1 if self.subsample < 1 else 0,
            max_bin=self.max_bin,
            n_jobs=self.n_jobs,
            random_state=self.random_state,
            verbose=-1,
        ).fit(X, y)
        return self

    def predict(self, X: pd.DataFrame | np.ndarray) -> np.ndarray:
        """Expected horizon revenue of a buyer."""
        if not hasattr(self, "model_"):
            raise ModelNotFittedError("this SpendModel is not fitted yet; call fit(X, y) first")
        X = validate_data(self, X, reset=False, ensure_all_finite="allow-nan", dtype=np.float64)
        return np.asarray(self.model_.predict(X), dtype=float)


def expected_revenue(p_repurchase: np.ndarray, spend_if_buying: np.ndarray) -> np.ndarray:
    """Expected revenue over the horizon: purchase probability times spend given a purchase."""
    return np.asarray(p_repurchase, dtype=float) * np.asarray(spend_if_buying, dtype=float)


@dataclass(frozen=True)
class SegmentUplift:
    """Effect of contacting one customer of a segment, from a randomised campaign.

    ``uplift`` is the conversion-rate difference (treated minus control); ``revenue_uplift``
    the incremental revenue per contacted customer. ``*_se`` are standard errors, ``*_low`` and
    ``*_high`` the interval at the table's level. Costs are not included.
    """

    segment: str
    n_eligible: int
    n_treated: int
    n_control: int
    treated_rate: float
    control_rate: float
    uplift: float
    uplift_se: float
    uplift_low: float
    uplift_high: float
    revenue_uplift: float
    revenue_uplift_se: float
    revenue_uplift_low: float
    revenue_uplift_high: float


@dataclass(frozen=True)
class UpliftTable:
    """Per-segment uplift at interval ``level``; ``skipped`` names segments without both a
    treated and a control group."""

    segments: tuple[SegmentUplift, ...]
    level: float
    skipped: tuple[str, ...] = ()

    def to_frame(self) -> pd.DataFrame:
        """One row per segment."""
        return pd.DataFrame([asdict(s) for s in self.segments])

    def get(self, segment: str) -> SegmentUplift:
        """The row of one segment."""
        for s in self.segments:
            if s.segment == segment:
                return s
        raise KeyError(f"no uplift estimate for segment {segment!r}")


def campaign_outcomes(
    campaigns: pd.DataFrame,
    transactions: str | Path | pd.DataFrame | TransactionTable,
    *,
    window_days: int = 30,
    customer_col: str = "customer_id",
    sent_col: str = "sent_at",
    columns: ColumnMap | None = None,
) -> pd.DataFrame:
    """Add ``converted`` and ``revenue`` to each campaign row from the transactions.

    A customer converts if they order in ``[sent_at, sent_at + window_days)``; ``revenue`` is
    what they spent in that window. Treated and control rows are measured the same way.
    """
    for col in (customer_col, sent_col):
        if col not in campaigns.columns:
            raise DataError(
                f"campaign table has no column '{col}'; columns found: {list(campaigns.columns)}"
            )
    t = load_transactions(transactions, columns=columns)
    require_amount(t, "a campaign's revenue")
    rows = pd.DataFrame(
        {
            "_row": np.arange(len(campaigns)),
            "_cid": campaigns[customer_col].astype(str).to_numpy(),
            "_sent": pd.to_datetime(campaigns[sent_col]).to_numpy(),
        }
    )
    view = "omni_campaign_rows"
    t.con.register(view, rows)
    try:
        hits = t.con.execute(
            f"""SELECT r._row, count(x.ts) AS n, coalesce(sum(x.amount), 0) AS revenue
                FROM {view} r LEFT JOIN {t.table} x
                  ON x.customer_id = r._cid AND x.ts >= r._sent
                 AND x.ts < r._sent + INTERVAL {int(window_days)} DAY
                GROUP BY r._row ORDER BY r._row"""
        ).df()
    finally:
        t.con.unregister(view)
    out = campaigns.copy()
    out["converted"] = (hits["n"].to_numpy() > 0).astype(np.int64)
    out["revenue"] = hits["revenue"].to_numpy(dtype=float)
    return out


def estimate_uplift(
    campaigns: pd.DataFrame,
    outcomes: pd.DataFrame | None = None,
    *,
    segment_col: str = "segment",
    treated_col: str = "treated",
    converted_col: str = "converted",
    revenue_col: str = "revenue",
    on: Sequence[str] = ("campaign_id", "customer_id"),
    eligible: Mapping[str, int] | None = None,
    level: float = 0.9,
) -> UpliftTable:
    """Per-segment uplift of a randomised retention campaign (see the module docstring).

    Parameters
    ----------
    campaigns
        One row per targeted customer (treated or random control) with a segment.
    outcomes
        Conversion and revenue per row, joined on the ``on`` columns both tables have; omit
        when ``campaigns`` already holds them (e.g. from :func:`campaign_outcomes`).
    eligible
        Customers now eligible per segment (for the optimizer); default: rows in the segment.
    level
        Interval coverage.
    """
    data = campaigns
    if outcomes is not None:
        keys = [k for k in on if k in campaigns.columns and k in outcomes.columns]
        if not keys:
            raise DataError(f"campaigns and outcomes share none of the key columns {list(on)}")
        data = campaigns.merge(outcomes, on=keys, how="left", validate="one_to_one")
    missing = [c for c in (segment_col, treated_col, converted_col) if c not in data.columns]
    if missing:
        raise DataError(
            f"campaign data has no column(s) {missing}; columns found: {list(data.columns)}"
        )
    treated = data[treated_col]
    if not treated.isin([0, 1, True, False]).all():
        raise DataError(f"campaign column '{treated_col}' must be true/false (or 1/0)")
    y = data[converted_col]
    if y.isna().any():
        raise DataError(f"{int(y.isna().sum())} campaign row(s) have no '{converted_col}' outcome")
    revenue = data[revenue_col] if revenue_col in data.columns else pd.Series(0.0, index=data.index)
    z = float(norm.ppf(0.5 + level / 2))
    frame = pd.DataFrame(
        {
            "segment": data[segment_col].astype(str),
            "t": treated.astype(bool),
            "y": y.astype(float),
            "r": revenue.astype(float).fillna(0.0),
        }
    )
    rows, skipped = [], []
    for segment, g in frame.groupby("segment", sort=True):
        a, b = g[g["t"]], g[~g["t"]]
        if len(a) < 2 or len(b) < 2:
            skipped.append(str(segment))
            continue
        p1, p0 = a["y"].mean(), b["y"].mean()
        se = float(np.sqrt(p1 * (1 - p1) / len(a) + p0 * (1 - p0) / len(b)))
        dr = a["r"].mean() - b["r"].mean()
        se_r = float(np.sqrt(a["r"].var(ddof=1) / len(a) + b["r"].var(ddof=1) / len(b)))
        rows.append(
            SegmentUplift(
                segment=str(segment),
                n_eligible=int((eligible or {}).get(str(segment), len(g))),
                n_treated=len(a),
                n_control=len(b),
                treated_rate=float(p1),
                control_rate=float(p0),
                uplift=float(p1 - p0),
                uplift_se=se,
                uplift_low=float(p1 - p0 - z * se),
                uplift_high=float(p1 - p0 + z * se),
                revenue_uplift=float(dr),
                revenue_uplift_se=se_r,
                revenue_uplift_low=float(dr - z * se_r),
                revenue_uplift_high=float(dr + z * se_r),
            )
        )
    return UpliftTable(tuple(rows), level, tuple(skipped))
