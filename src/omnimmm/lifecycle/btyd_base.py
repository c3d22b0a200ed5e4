"""The buy-till-you-die models' own prediction as the starting point of the propensity trees.

BG/NBD and Pareto/NBD, fitted at each cutoff on the history before it
(:mod:`omnimmm.lifecycle.rhythm`), give every customer a probability of at least one purchase
in the horizon (``bgnbd_p_any``, ``pnbd_p_any``), BG/NBD's probability of being still active
(``bgnbd_p_alive``) and Pareto/NBD's expected purchases. Their meaning does not drift from
one cutoff to the next the way raw counts and tenure do when a log starts on a fixed day (at
an early cutoff nobody can have more than a few months of tenure), and neither does that of
the time-decayed order counts and the recency, so a model built on them carries over from
the training cutoffs to the scoring date. The number of distinct purchase days (``n_days``,
BG/NBD's ``x + 1``) lets the base weigh frequency apart from what the two models' four
population parameters make of it.

:class:`BTYDBase` is an L2 logistic regression of the label on those few columns (logits of
the probabilities, ``log1p`` of the counts and days; ten coefficients at most), fitted on
the same rows as the trees. Its log-odds are LightGBM's ``init_score``: the boosting rounds
only learn where the other features correct it. On small real logs the full tree model
overfits the training cutoffs (its later-fold log loss improves while the validation AUC
falls below Pareto/NBD's), and this base alone ranks best: see ``benchmarks/RESULTS.md``
(bench_btyd), where :func:`omnimmm.lifecycle.score.score_customers` picks between the base
alone and the base with a tree correction on the validation cutoff. ``n_days`` and
``bgnbd_p_alive`` joined the inputs in lc21d: paired on the same customers they raised the
validation AUC on Complete Journey, the CDNOW sample and on average over ten disjoint tenths
of CDNOW master, both targets (``benchmarks/RESULTS.md``, lc21d_propensity).
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import numpy as np
from sklearn.linear_model import LogisticRegression

__all__ = ["BASE_COLUMNS", "BTYDBase"]

#: Feature columns of the base model, where present: probabilities enter as logits, the
#: others as ``log1p`` (counts and days are non-negative). The first two decide whether the
#: base is usable (:meth:`BTYDBase.usable`).
BASE_COLUMNS: tuple[str, ...] = (
    "pnbd_p_any",
    "bgnbd_p_any",
    "pnbd_expected",
    "decay_orders_14d",
    "decay_orders_45d",
    "decay_orders_120d",
    "recency_days",
    "n_days",
    "bgnbd_p_alive",
)
_EPS = 1e-6


def _is_probability(name: str) -> bool:
    """Probabilities (``*_p_any``, ``*_p_alive``) enter the base model as logits."""
    return name.endswith(("_p_any", "_p_alive"))


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, _EPS, 1.0 - _EPS)
    return np.log(p) - np.log1p(-p)


class BTYDBase:
    """L2 logistic regression on the BTYD predictions, decayed counts, recency and the
    number of purchase days.

    Parameters
    ----------
    names
        Feature names of the matrices passed to ``fit`` and ``decision_function``.
    C
        Inverse L2 strength (the inputs are log-odds, on one scale already).

    Attributes
    ----------
    columns_
        Indices of the columns used (those of :data:`BASE_COLUMNS` present in ``names``).
    fill_
        Value used for a missing input (the training median after the transform), per
        column.
    """

    def __init__(self, names: Sequence[str], C: float = 1.0) -> None:
        self.names = list(names)
        self.C = C

    @staticmethod
    def usable(names: Sequence[str], X: np.ndarray) -> bool:
        """True when ``X`` has ``pnbd_p_any`` or ``bgnbd_p_any`` with a value in most rows."""
        idx = [i for i, n in enumerate(names) if n in BASE_COLUMNS[:2]]
        return bool(idx) and bool(np.isfinite(X[:, idx]).any(axis=1).mean() > 0.5)

    def _transform(self, X: np.ndarray) -> np.ndarray:
        raw = np.asarray(X[:, self.columns_], dtype=float)
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(self.is_prob_, _logit(raw), np.log1p(np.maximum(raw, 0.0)))

    def _z(self, X: np.ndarray) -> np.ndarray:
        z = self._transform(X)
        return np.where(np.isfinite(z), z, self.fill_)

    def fit(self, X: np.ndarray, y: np.ndarray) -> BTYDBase:
        """Fit on rows ``X`` (all features, in ``names`` order) and binary ``y``."""
        self.columns_ = [i for i, n in enumerate(self.names) if n in BASE_COLUMNS]
        if not self.columns_:
            raise ValueError(f"no BTYD column among the features (need one of {BASE_COLUMNS})")
        self.is_prob_ = np.array([_is_probability(self.names[i]) for i in self.columns_])
        raw = self._transform(X)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # an all-NaN column: filled by 0
            med = np.nanmedian(np.where(np.isfinite(raw), raw, np.nan), axis=0)
        self.fill_ = np.where(np.isfinite(med), med, 0.0)
        z = self._z(X)
        self.mean_ = z.mean(axis=0)
        self.model_ = LogisticRegression(C=self.C, max_iter=1000).fit(z, y)
        return self

    def contributions(self, X: np.ndarray) -> tuple[np.ndarray, float]:
        """Each input column's share of the log-odds (coefficient x centred input, the exact
        SHAP values of a linear model) and the base value (log-odds at the training means)."""
        coef = self.model_.coef_[0]
        base = float(self.model_.intercept_[0] + self.mean_ @ coef)
        return (self._z(X) - self.mean_) * coef, base

    def decision_function(self, X: np.ndarray) -> np.ndarray:
        """Log-odds of the base model for rows ``X``."""
        return np.asarray(self.model_.decision_function(self._z(X)), dtype=float)
