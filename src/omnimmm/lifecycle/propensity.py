"""Churn and repurchase propensity: LightGBM as a calibrated scikit-learn classifier.

Training never uses a random split. :func:`rolling_training_set` stacks features and labels
from several cutoffs; :class:`PropensityModel` holds out the *latest* cutoff in its training
data (the "later fold") and splits that fold's customers at random into two halves:

* the boosting rounds are chosen by early stopping on the first half;
* the probability calibration (Platt scaling of the LightGBM margin by default, isotonic
  regression optionally) is fitted on the second half.

The trees never see the later fold, and the calibrator never sees the rows that chose the
number of trees, so neither step is scored on data it was fitted to. Validation proper is a
still later cutoff the model was not trained on (see :mod:`omnimmm.lifecycle.labels`).
"""

from __future__ import annotations

import inspect
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import lightgbm as lgb
import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.exceptions import NotFittedError as SklearnNotFittedError
from sklearn.impute import SimpleImputer
from sklearn.isotonic import IsotonicRegression
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import average_precision_score, brier_score_loss, roc_auc_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer, StandardScaler
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import validate_data

from omnimmm.errors import DataError, NotFittedError
from omnimmm.lifecycle.btyd_base import BTYDBase
from omnimmm.lifecycle.campaigns import (
    RESPONSE_DAYS,
    CampaignColumns,
    CampaignTable,
    load_campaigns,
)
from omnimmm.lifecycle.features import (
    DEFAULT_WINDOWS,
    ColumnMap,
    DateLike,
    TransactionTable,
    build_features,
    feature_columns,
    load_transactions,
)
from omnimmm.lifecycle.labels import make_labels
from omnimmm.lifecycle.rhythm import add_rhythm_features

Target = Literal["repurchase", "churn"]
RFM_COLUMNS: tuple[str, ...] = ("recency_days", "n_orders", "revenue")
#: LightGBM 4.7 replaced ``eval_set`` by ``eval_X``/``eval_y``; support both.
_EVAL_XY = "eval_X" in inspect.signature(lgb.LGBMModel.fit).parameters


#: Named LightGBM settings for :class:`PropensityModel` (``score_customers(model_preset=...)``,
#: ``omnimmm lifecycle score --fast``). ``default`` is the estimator's own defaults: steps of
#: 0.05 on half the rows per tree, 63 histogram bins, up to 1000 trees, stopping once 30
#: rounds have not improved the later fold's log loss by more than 0.0002. They serve a few
#: thousand and a few million training rows alike: on the simulator tests they match or beat
#: the earlier defaults (learning rate 0.03 on 80% of the rows, 255 bins, plain patience of
#: 50), and on 10 million synthetic transactions (2.3 million training rows, 2 threads) they
#: fit in 94 s (median of two, load near 5) with the same validation AUC (0.934), where the
#: earlier defaults ran to their 1000-tree ceiling in 279 s. ``fast`` takes larger steps (0.2),
#: at most 500 trees and 20 rounds of patience, for a quick look (it spells out the row
#: share and bins it shares with ``default``, so ``metrics.json`` shows them).
#: ``benchmarks/RESULTS.md`` (bench_lifecycle) lists the timings and their loads.
MODEL_PRESETS: dict[str, dict[str, float | int]] = {
    "default": {},
    "fast": {
        "learning_rate": 0.2,
        "subsample": 0.5,
        "max_bin": 63,
        "n_estimators": 500,
        "early_stopping_rounds": 20,
    },
}


def model_settings(preset: str = "default", **overrides: float | int | None) -> dict:
    """Keyword arguments for :class:`PropensityModel`: a preset, then explicit overrides.

    Overrides that are ``None`` are ignored (a CLI flag left unset); unknown names and
    out-of-range values raise a ``DataError`` naming the setting.
    """
    if preset not in MODEL_PRESETS:
        raise DataError(f"unknown model preset {preset!r}; choose one of {sorted(MODEL_PRESETS)}")
    allowed = set(inspect.signature(PropensityModel.__init__).parameters) - {"self"}
    unknown = sorted(set(overrides) - allowed)
    if unknown:
        raise DataError(f"unknown model setting(s) {unknown}; accepted: {sorted(allowed)}")
    kw = dict(MODEL_PRESETS[preset]) | {k: v for k, v in overrides.items() if v is not None}
    positive_int = ("n_estimators", "early_stopping_rounds", "min_child_samples", "num_leaves")
    for name in positive_int:
        if name in kw and (int(kw[name]) != kw[name] or kw[name] < 1):
            raise DataError(f"model setting {name} must be a whole number >= 1, got {kw[name]}")
    if "learning_rate" in kw and not 0 < kw["learning_rate"] <= 1:
        raise DataError(f"model setting learning_rate must be in (0, 1], got {kw['learning_rate']}")
    if "subsample" in kw and not 0 < kw["subsample"] <= 1:
        raise DataError(f"model setting subsample must be in (0, 1], got {kw['subsample']}")
    if kw.get("early_stopping_min_delta", 0) < 0:
        raise DataError(
            "model setting early_stopping_min_delta must be >= 0, got "
            f"{kw['early_stopping_min_delta']}"
        )
    return kw


class ModelNotFittedError(NotFittedError, SklearnNotFittedError):
    """A lifecycle model was used before ``fit``: both omnimmm's and scikit-learn's error."""


def eval_kwargs(X: pd.DataFrame, y: np.ndarray) -> dict:
    """Keyword arguments giving LightGBM's ``fit`` one evaluation set, in either API."""
    return {"eval_X": (X,), "eval_y": (y,)} if _EVAL_XY else {"eval_set": [(X, y)]}


class PropensityModel(ClassifierMixin, BaseEstimator):
    """Calibrated LightGBM binary classifier trained with a time-later holdout.

    Parameters
    ----------
    n_estimators, learning_rate, num_leaves, min_child_samples, subsample, colsample_bytree,
    reg_lambda, max_bin
        LightGBM settings (``n_estimators`` is the ceiling early stopping works under). The
        defaults are deliberately regularised (small trees, large leaves, half the rows per
        tree): on the simulated worlds they beat LightGBM's own defaults on the later
        validation cutoff. Half the rows and 63 bins also keep a tree cheap on millions of
        rows (see :data:`MODEL_PRESETS`).
    early_stopping_rounds, early_stopping_min_delta
        Stop when the later fold's log loss has not improved by more than
        ``early_stopping_min_delta`` for ``early_stopping_rounds`` rounds; the model keeps the
        trees up to the last round that did.
    validation_fraction
        Share of rows (the last ones, in the given order) used as the later fold when ``fit``
        gets no ``cutoff``.
    calibration
        ``"sigmoid"`` (Platt scaling of the margin; keeps the ranking), ``"isotonic"`` or
        ``"none"``.
    linear_weight
        Weight of an L2-regularised logistic regression (``C = 0.05`` on signed-log,
        standardised features, missing values imputed by the median with indicators) in the
        margin, ``(1 - w) * trees + w * linear``, fitted on the same earlier rows as the trees.
        On small real logs a tree model alone overfits the many correlated recency and
        frequency columns; the linear part holds the smooth monotone signal. On the Complete
        Journey and CDNOW logs (90 days) 0.5 gave validation AUC 0.836 and 0.841 against
        0.828 and 0.839 for the trees alone and 0.838 and 0.841 for the linear model alone
        (``benchmarks/bench_btyd.py``). 0 switches it off.
    btyd_base
        Start the trees from :class:`~omnimmm.lifecycle.btyd_base.BTYDBase` (a small
        logistic regression on the BG/NBD and Pareto/NBD predictions, decayed order counts,
        recency and purchase days, fitted on the same earlier rows) as LightGBM's
        ``init_score``, so the trees learn a correction of the classic models. Needs the
        ``pnbd_p_any`` or ``bgnbd_p_any`` column (:mod:`omnimmm.lifecycle.rhythm`); without
        it the trees start from zero as before.
    trees
        With ``btyd_base``, ``False`` keeps the base model alone (no boosting rounds).
    n_jobs, random_state
        Threads and seed.
    """

    def __init__(
        self,
        n_estimators: int = 1000,
        learning_rate: float = 0.05,
        num_leaves: int = 15,
        min_child_samples: int = 100,
        subsample: float = 0.5,
        colsample_bytree: float = 0.8,
        reg_lambda: float = 1.0,
        max_bin: int = 63,
        early_stopping_rounds: int = 30,
        early_stopping_min_delta: float = 2e-4,
        validation_fraction: float = 0.2,
        calibration: Literal["sigmoid", "isotonic", "none"] = "sigmoid",
        linear_weight: float = 0.5,
        btyd_base: bool = False,
        trees: bool = True,
        n_jobs: int | None = None,
        random_state: int = 0,
    ) -> None:
        self.n_estimators = n_estimators
        self.learning_rate = learning_rate
        self.num_leaves = num_leaves
        self.min_child_samples = min_child_samples
        self.subsample = subsample
        self.colsample_bytree = colsample_bytree
        self.reg_lambda = reg_lambda
        self.max_bin = max_bin
        self.early_stopping_rounds = early_stopping_rounds
        self.early_stopping_min_delta = early_stopping_min_delta
        self.validation_fraction = validation_fraction
        self.calibration = calibration
        self.linear_weight = linear_weight
        self.btyd_base = btyd_base
        self.trees = trees
        self.n_jobs = n_jobs
        self.random_state = random_state

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        tags.classifier_tags.multi_class = False
        return tags

    def _later_fold(self, n: int, cutoff: Sequence | np.ndarray | None) -> np.ndarray:
        later = np.zeros(n, dtype=bool)
        if cutoff is not None:
            c = np.asarray(pd.to_datetime(pd.Series(np.asarray(cutoff))).to_numpy())
            if len(c) != n:
                raise ValueError(f"cutoff has {len(c)} entries for {n} rows")
            later = c == c.max()
            if later.all():
                raise DataError(
                    "all training rows share one cutoff; the time-later fold needs at least "
                    "two cutoffs (pass several to rolling_training_set)"
                )
        else:
            k = round(self.validation_fraction * n)
            if k > 0:
                later[n - k :] = True
        return later

    def fit(
        self,
        X: pd.DataFrame | np.ndarray,
        y: Sequence | np.ndarray,
        *,
        cutoff: Sequence | np.ndarray | None = None,
    ) -> PropensityModel:
        """Fit the trees on earlier rows, early-stop and calibrate on the latest cutoff.

        Parameters
        ----------
        X, y
            Features and binary labels.
        cutoff
            Cutoff of each row; rows at the latest cutoff form the later fold. Without it the
            last ``validation_fraction`` of rows do.
        """
        if self.calibration not in ("sigmoid", "isotonic", "none"):
            raise ValueError(
                f"calibration must be sigmoid, isotonic or none, not {self.calibration!r}"
            )
        X, y = validate_data(self, X, y, ensure_all_finite="allow-nan", dtype=np.float64)
        check_classification_targets(y)
        self.classes_ = np.unique(y)
        if len(self.classes_) != 2:
            raise ValueError(
                "Only binary classification is supported by PropensityModel; y has "
                f"{len(self.classes_)} class(es)"
            )
        target = (y == self.classes_[1]).astype(np.int64)
        later = self._later_fold(len(target), cutoff)
        rng = np.random.default_rng(self.random_state)
        held = rng.permutation(np.flatnonzero(later))
        stop_rows, cal_rows = (
            (held, held[:0]) if self.calibration == "none" else np.array_split(held, 2)
        )
        train = ~later
        if train.sum() == 0 or len(np.unique(target[train])) < 2:
            train, stop_rows, cal_rows = np.ones(len(target), bool), held[:0], held[:0]
        names = list(getattr(self, "feature_names_in_", [f"x{i}" for i in range(X.shape[1])]))
        self.feature_names_ = [str(n) for n in names]
        model = lgb.LGBMClassifier(
            n_estimators=self.n_estimators,
            learning_rate=self.learning_rate,
            num_leaves=self.num_leaves,
            min_child_samples=self.min_child_samples,
            subsample=self.subsample,
            subsample_freq=1 if self.subsample < 1 else 0,
            colsample_bytree=self.colsample_bytree,
            reg_lambda=self.reg_lambda,
            max_bin=self.max_bin,
            n_jobs=self.n_jobs,
            random_state=self.random_state,
            verbose=-1,
        )
        self.base_ = None
        offset = np.zeros(len(target))
        values = np.asarray(X, dtype=float)
        if self.btyd_base and BTYDBase.usable(self.feature_names_, values):
            self.base_ = BTYDBase(self.feature_names_).fit(values[train], target[train])
            offset = self.base_.decision_function(values)
        fit_kw: dict = {}
        if len(stop_rows) and len(np.unique(target[stop_rows])) == 2:
            stop_frame = pd.DataFrame(X[stop_rows], columns=self.feature_names_)
            fit_kw = eval_kwargs(stop_frame, target[stop_rows]) | {
                "callbacks": [
                    lgb.early_stopping(
                        self.early_stopping_rounds,
                        verbose=False,
                        min_delta=self.early_stopping_min_delta,
                    )
                ],
            }
            if self.base_ is not None:
                fit_kw["eval_init_score"] = [offset[stop_rows]]
        if self.base_ is not None:
            fit_kw["init_score"] = offset[train]
        self.model_, self.n_iter_ = None, 0
        if self.trees or self.base_ is None:
            frame = pd.DataFrame(X[train], columns=self.feature_names_)
            model.fit(frame, target[train], **fit_kw)
            self.model_ = model
            self.n_iter_ = int(model.best_iteration_ or model.n_estimators_)
        self.linear_ = None
        if not 0.0 <= self.linear_weight <= 1.0:
            raise ValueError(f"linear_weight must be in [0, 1], not {self.linear_weight!r}")
        if self.linear_weight > 0:
            self.linear_ = linear_model(self.random_state).fit(X[train], target[train])
        self.calibrator_ = None
        if len(cal_rows) and len(np.unique(target[cal_rows])) == 2:
            margin = self._margin(np.asarray(X)[cal_rows])
            if self.calibration == "isotonic":
                iso = IsotonicRegression(out_of_bounds="clip", y_min=0.0, y_max=1.0)
                self.calibrator_ = iso.fit(margin, target[cal_rows])
            else:
                lr = LogisticRegression(C=1e6)
                self.calibrator_ = lr.fit(margin.reshape(-1, 1), target[cal_rows])
        self.n_train_, self.n_early_stop_, self.n_calibration_ = (
            int(train.sum()),
            len(stop_rows),
            len(cal_rows),
        )
        return self

    def _check(self) -> None:
        if not hasattr(self, "calibrator_"):
            raise ModelNotFittedError(
                "this PropensityModel is not fitted yet; call fit(X, y) before predicting"
            )

    def _margin(self, X: np.ndarray) -> np.ndarray:
        trees = np.zeros(len(X))
        if self.model_ is not None:
            frame = pd.DataFrame(X, columns=self.feature_names_)
            trees = np.asarray(
                self.model_.predict(frame, raw_score=True, num_iteration=self.n_iter_),
                dtype=float,
            )
        base = getattr(self, "base_", None)  # absent on models pickled before btyd_base
        if base is not None:
            trees = trees + base.decision_function(X)
        if self.linear_ is None:
            return trees
        w = self.linear_weight
        return (1.0 - w) * trees + w * np.asarray(self.linear_.decision_function(X), dtype=float)

    def predict_proba(self, X: pd.DataFrame | np.ndarray) -> np.ndarray:
        """Calibrated class probabilities, shape (n, 2)."""
        self._check()
        X = validate_data(self, X, reset=False, ensure_all_finite="allow-nan", dtype=np.float64)
        margin = self._margin(np.asarray(X))
        if self.calibrator_ is None:
            p = 1.0 / (1.0 + np.exp(-margin))
        elif isinstance(self.calibrator_, IsotonicRegression):
            p = self.calibrator_.predict(margin)
        else:
            p = self.calibrator_.predict_proba(margin.reshape(-1, 1))[:, 1]
        return np.column_stack([1.0 - p, p])

    def predict(self, X: pd.DataFrame | np.ndarray) -> np.ndarray:
        """Most likely class."""
        proba = self.predict_proba(X)
        return self.classes_[(proba[:, 1] >= 0.5).astype(int)]

    def drivers(self, X: pd.DataFrame | np.ndarray, *, top_k: int = 3) -> Drivers:
        """What pushes each prediction: LightGBM's own SHAP values (``pred_contrib=True``),
        plus, with a BTYD base, its coefficient x centred input per column, plus, with
        ``linear_weight > 0``, the linear part's coefficient x standardised value (a
        feature's missing-value indicator counts for that feature), weighted as in the
        margin.

        Contributions are on the uncalibrated log-odds scale; they add up, with the base
        value, to the margin before calibration.
        """
        self._check()
        X = validate_data(self, X, reset=False, ensure_all_finite="allow-nan", dtype=np.float64)
        frame = pd.DataFrame(X, columns=self.feature_names_)
        shap: np.ndarray = np.zeros((len(X), len(self.feature_names_)))
        base: np.ndarray = np.zeros(len(X))
        if self.model_ is not None:
            contrib = np.asarray(
                self.model_.booster_.predict(frame, pred_contrib=True, num_iteration=self.n_iter_)
            )
            shap, base = contrib[:, :-1], contrib[:, -1]
        start = getattr(self, "base_", None)
        if start is not None:
            part, value = start.contributions(np.asarray(X, dtype=float))
            shap[:, start.columns_] += part
            base = base + value
        if self.linear_ is not None:
            w = self.linear_weight
            z = np.asarray(self.linear_[:-1].transform(X), dtype=float)
            coef = self.linear_[-1].coef_[0]
            n = shap.shape[1]
            lin = z[:, :n] * coef[:n]
            flagged = self.linear_[1].indicator_
            if flagged is not None:
                for k, j in enumerate(flagged.features_):
                    lin[:, j] += z[:, n + k] * coef[n + k]
            shap = (1.0 - w) * shap + w * lin
            base = (1.0 - w) * base + w * float(self.linear_[-1].intercept_[0])
        names = np.array(self.feature_names_)
        importance = (
            pd.DataFrame(
                {
                    "feature": names,
                    "mean_abs_shap": np.abs(shap).mean(axis=0),
                    "mean_shap": shap.mean(axis=0),
                }
            )
            .sort_values("mean_abs_shap", ascending=False, kind="stable")
            .reset_index(drop=True)
        )
        k = min(top_k, shap.shape[1])
        order = np.argsort(-np.abs(shap), axis=1, kind="stable")[:, :k]
        rows = np.repeat(np.arange(len(shap)), k)
        cols = order.ravel()
        top = pd.DataFrame(
            {
                "row": rows,
                "rank": np.tile(np.arange(1, k + 1), len(shap)),
                "feature": names[cols],
                "value": X[rows, cols],
                "contribution": shap[rows, cols],
            }
        )
        return Drivers(
            importance=importance, top=top, base_value=float(base[0]) if len(base) else 0.0
        )


@dataclass(frozen=True)
class Drivers:
    """SHAP summary: ``importance`` (feature, mean_abs_shap, mean_shap) sorted by mean |SHAP|,
    ``top`` (row, rank, feature, value, contribution) for each row's strongest drivers, and
    the model's ``base_value`` (log-odds)."""

    importance: pd.DataFrame
    top: pd.DataFrame
    base_value: float


@dataclass(frozen=True)
class TrainingSet:
    """Stacked features and labels over cutoffs, one row per customer and cutoff."""

    X: pd.DataFrame
    y: np.ndarray
    cutoff: np.ndarray
    customer_id: np.ndarray
    future_revenue: np.ndarray
    stage: np.ndarray


def rolling_training_set(
    transactions: str | Path | pd.DataFrame | TransactionTable,
    cutoffs: Sequence[DateLike],
    horizon_days: int,
    *,
    target: Target = "repurchase",
    windows: tuple[int, ...] = DEFAULT_WINDOWS,
    columns: ColumnMap | None = None,
    cache: dict[Any, pd.DataFrame] | None = None,
    campaigns: str | Path | pd.DataFrame | CampaignTable | None = None,
    campaign_columns: CampaignColumns | None = None,
    response_days: int = RESPONSE_DAYS,
    rhythm: bool = True,
) -> TrainingSet:
    """Features at each cutoff joined to the labels of the following ``horizon_days``.

    For ``target="churn"`` only customers not yet lapsed at their cutoff are kept. ``cache``
    (a dict, filled as it goes) reuses features of cutoffs already computed; use one cache per
    campaign history. With ``campaigns`` the features include the point-in-time campaign
    features of :mod:`omnimmm.lifecycle.campaigns` at each cutoff.
    """
    t = load_transactions(transactions, columns=columns)
    if campaigns is not None:
        campaigns = load_campaigns(campaigns, t.con, columns=campaign_columns)
    cache = {} if cache is None else cache
    parts = []
    for c in cutoffs:
        key = pd.Timestamp(c)
        if key not in cache:
            cache[key] = build_features(
                t, c, windows=windows, campaigns=campaigns, response_days=response_days
            )
        feats = cache[key]
        if rhythm:
            rkey = (key, "rhythm", horizon_days)
            if rkey not in cache:
                cache[rkey] = add_rhythm_features(feats, t, c, horizon_days)
            feats = cache[rkey]
        labels = make_labels(t, c, horizon_days, features=feats)
        joined = feats.merge(
            labels[["customer_id", target, "future_revenue"]], on="customer_id", how="inner"
        )
        joined = joined[joined[target].notna()]
        parts.append(joined.assign(_cutoff=pd.Timestamp(c)))
    data = pd.concat(parts, ignore_index=True)
    if data.empty:
        raise DataError(f"{t.source}: no customers to train on at cutoffs {list(cutoffs)}")
    return TrainingSet(
        X=data[feature_columns(data.drop(columns=[target, "future_revenue", "_cutoff"]))],
        y=data[target].to_numpy(dtype=np.int64),
        cutoff=data["_cutoff"].to_numpy(),
        customer_id=data["customer_id"].to_numpy(dtype=str),
        future_revenue=data["future_revenue"].to_numpy(dtype=float),
        stage=data["stage"].to_numpy(dtype=str),
    )


def _signed_log(a: np.ndarray) -> np.ndarray:
    return np.sign(a) * np.log1p(np.abs(a))


def linear_model(random_state: int = 0):
    """The L2 logistic regression blended into :class:`PropensityModel` (``linear_weight``):
    signed log, median imputation with missing-value indicators, standardisation, ``C=0.05``."""
    return make_pipeline(
        FunctionTransformer(_signed_log),
        SimpleImputer(strategy="median", add_indicator=True, keep_empty_features=True),
        StandardScaler(),
        LogisticRegression(C=0.05, max_iter=3000, random_state=random_state),
    )


def rfm_baseline(random_state: int = 0):
    """RFM-only logistic regression (log recency, log orders, log revenue), the baseline that
    the LightGBM model must beat. Fit it on ``X[list(RFM_COLUMNS)]``."""
    return make_pipeline(
        FunctionTransformer(np.log1p),
        StandardScaler(),
        LogisticRegression(random_state=random_state),
    )


def evaluate(y: Sequence | np.ndarray, p: Sequence | np.ndarray, *, n_bins: int = 10) -> dict:
    """Discrimination and calibration of probabilities ``p`` for binary outcomes ``y``.

    Returns
    -------
    dict
        ``n``, ``base_rate``, ``mean_prediction``, ``roc_auc``, ``pr_auc`` (average
        precision), ``brier``, ``ece`` (expected calibration error over ``n_bins`` equal-width
        probability bins: the row-weighted mean of |observed rate - mean prediction|) and
        ``lift_by_decile`` (decile 1 = highest scores: n, mean prediction, observed rate,
        lift = rate / base rate). AUCs are None when ``y`` has one class.
    """
    y = np.asarray(y, dtype=float)
    p = np.asarray(p, dtype=float)
    if y.shape != p.shape or y.size == 0:
        raise ValueError(f"y and p must be non-empty and the same length ({y.size}, {p.size})")
    base = float(y.mean())
    two = len(np.unique(y)) == 2
    bins = np.clip((p * n_bins).astype(int), 0, n_bins - 1)
    ece = sum(
        abs(y[bins == b].mean() - p[bins == b].mean()) * (bins == b).mean()
        for b in range(n_bins)
        if (bins == b).any()
    )
    order = np.argsort(-p, kind="stable")
    deciles = []
    for d, idx in enumerate(np.array_split(order, 10), start=1):
        if len(idx) == 0:
            continue
        rate = float(y[idx].mean())
        deciles.append(
            {
                "decile": d,
                "n": len(idx),
                "mean_prediction": float(p[idx].mean()),
                "rate": rate,
                "lift": rate / base if base > 0 else None,
            }
        )
    return {
        "n": int(y.size),
        "base_rate": base,
        "mean_prediction": float(p.mean()),
        "roc_auc": float(roc_auc_score(y, p)) if two else None,
        "pr_auc": float(average_precision_score(y, p)) if two else None,
        "brier": float(brier_score_loss(y, p)),
        "ece": float(ece),
        "lift_by_decile": deciles,
    }
