"""Model fitting of :mod:`omnimmm.lifecycle.distributed`: the propensity and spend models
trained with ``lightgbm.dask`` on the feature tables the bucket tasks wrote.

:func:`fit_model` follows :class:`~omnimmm.lifecycle.propensity.PropensityModel`'s recipe: the
trees on the earlier training cutoffs; the latest cutoff split at random into an
early-stopping half and a calibration half. Dask LightGBM has no early stopping, so a budget
of rounds is trained, the log loss of every round on the *whole* stop half is computed on the
workers, and the budget is doubled until the single-process rule (no gain above
``early_stopping_min_delta`` for ``early_stopping_rounds`` rounds) stops within it; the first
rounds are the same trees each time. The linear part of the margin and the RFM baseline are
fitted on at most :data:`SAMPLE_ROWS` rows drawn at random (all rows on small data); Platt or
isotonic calibration on the calibration half's margins.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from omnimmm.errors import DataError
from omnimmm.lifecycle.features import feature_columns
from omnimmm.lifecycle.labels import CutoffPlan
from omnimmm.lifecycle.propensity import (
    RFM_COLUMNS,
    PropensityModel,
    Target,
    evaluate,
    linear_model,
    rfm_baseline,
)
from omnimmm.lifecycle.score import _SHAP_ROWS
from omnimmm.lifecycle.value import SpendModel

#: Rows (at most) the linear part of the propensity margin and the RFM baseline are fitted on.
SAMPLE_ROWS = 1_000_000
#: Boosting rounds of the first Dask training; doubled until early stopping would stop.
FIRST_ROUNDS = 128
#: Training rows per worker the trees are trained on (see :func:`train_workers`): 3 million
#: rows of ~50 features are 1.2 GB of float64, held twice while LightGBM builds its dataset.
TRAIN_ROWS_PER_WORKER = 3_000_000
_LABELS = ("repurchase", "churn", "future_revenue")


@dataclass(frozen=True)
class Job:
    """What every bucket task needs: where things are and the cutoffs to compute."""

    scratch: str
    n_partitions: int
    optional: tuple[str, ...]
    #: (cutoff, horizon, labelled) for every feature table to build
    tables: tuple[tuple[pd.Timestamp, int, bool], ...]
    seed: int
    #: exclusive end of the history (the label windows must end before it)
    end: pd.Timestamp
    #: rows of each feature table, by (cutoff, horizon), once the tables are written
    rows: tuple[tuple[tuple[pd.Timestamp, int], int], ...] = ()
    #: training rows per worker the trees train on (see :func:`train_workers`)
    train_rows_per_worker: int = TRAIN_ROWS_PER_WORKER


def table_path(scratch: str, cutoff: pd.Timestamp, h: int, b: int) -> Path:
    """Where bucket ``b``'s feature table at ``cutoff`` (rhythm horizon ``h``) is written."""
    return Path(scratch) / "features" / f"{cutoff:%Y%m%d}_h{h}" / f"b{b:05d}.parquet"


def load_rows(job: Job, cutoffs: Sequence[pd.Timestamp], h: int, target: str | None, b: int,
              rows: str = "all", columns: Sequence[str] | None = None) -> pd.DataFrame:  # fmt: skip
    """Bucket ``b``'s feature rows at ``cutoffs`` with a ``target`` label; ``rows`` keeps
    ``all``, the early-stopping half (``stop``, ``_u < 0.5``) or the calibration half (``cal``).
    Only ``columns`` (and the target and ``_u``) are read when given."""
    read = (
        None
        if columns is None
        else list(dict.fromkeys([*columns, *([target] if target else []), "_u"]))
    )
    parts = [
        pd.read_parquet(p, columns=read)
        for c in cutoffs
        if (p := table_path(job.scratch, c, h, b)).exists()
    ]
    if not parts:
        return pd.DataFrame()
    f = pd.concat(parts, ignore_index=True) if len(parts) > 1 else parts[0]
    if target is not None:
        f = f[f[target].notna()]
    if rows == "stop":
        f = f[f["_u"] < 0.5]
    elif rows == "cal":
        f = f[f["_u"] >= 0.5]
    elif rows.startswith("share="):
        f = f[f["_u"] < float(rows[6:])]
    return f.reset_index(drop=True)


def _matrix(job: Job, cutoffs: Sequence[pd.Timestamp], h: int, target: str, b: int, rows: str,
            names: list[str], positive: bool = False) -> np.ndarray:  # fmt: skip
    """Features then the label as one float array (the label is the last column)."""
    f = load_rows(job, cutoffs, h, target, b, rows, names)
    if f.empty:
        return np.zeros((0, len(names) + 1))
    if positive:
        f = f[f[target] > 0]
    return np.column_stack([f[names].to_numpy(dtype=np.float64), f[target].to_numpy(float)])


def train_workers(client: Any, job: Job, cutoffs: Sequence[pd.Timestamp], h: int) -> list[str]:
    """The workers the trees train on: one per :attr:`Job.train_rows_per_worker` training
    rows (at least one, at most all). LightGBM's data-parallel training exchanges histograms
    between the workers at every split, so a worker more than the memory needs only adds
    network rounds (and, on a busy machine, waits for a process to be scheduled)."""
    counts = dict(job.rows)
    n = sum(counts.get((c, h), 0) for c in cutoffs)
    pool = sorted(client.scheduler_info()["workers"])
    k = min(len(pool), max(1, -(-n // max(job.train_rows_per_worker, 1))))
    return pool[:k]


def _dask_matrix(client: Any, job: Job, cutoffs: Sequence[pd.Timestamp], h: int, target: str,
                 rows: str, names: list[str], positive: bool = False) -> tuple[Any, Any, int]:  # fmt: skip
    """``X, y`` as dask arrays made of one block per bucket, kept on the workers of
    :func:`train_workers`, and their rows."""
    import operator

    import dask
    import dask.array as da

    n_b = job.n_partitions
    pin = {"workers": train_workers(client, job, cutoffs, h), "allow_other_workers": False}
    futures = client.map(_matrix, [job] * n_b, [list(cutoffs)] * n_b, [h] * n_b,
                         [target] * n_b, range(n_b), [rows] * n_b, [names] * n_b,
                         [positive] * n_b, pure=False, **pin)  # fmt: skip
    shapes = client.gather(client.map(np.shape, futures, pure=False))
    kept = [(f, shape) for f, shape in zip(futures, shapes, strict=True) if shape[0] > 0]
    n = sum(shape[0] for shape in shapes)
    if not kept:
        return None, None, 0
    xs = client.map(operator.itemgetter((slice(None), slice(None, -1))), [f for f, _ in kept],
                    pure=False, **pin)  # fmt: skip
    ys = client.map(operator.itemgetter((slice(None), -1)), [f for f, _ in kept], pure=False,
                    **pin)  # fmt: skip
    X = da.concatenate([da.from_delayed(dask.delayed(f), shape=(s[0], s[1] - 1), dtype=np.float64)
                        for f, (_, s) in zip(xs, kept, strict=True)], axis=0)  # fmt: skip
    y = da.concatenate([da.from_delayed(dask.delayed(f), shape=(s[0],), dtype=np.float64)
                        for f, (_, s) in zip(ys, kept, strict=True)], axis=0)  # fmt: skip
    return X, y, n


def gather(client: Any, fn: Any, job: Job, *args: Any) -> pd.DataFrame:
    """``fn(job, *args, b)`` on every bucket, concatenated on the client."""
    n = job.n_partitions
    futures = client.map(fn, [job] * n, *[[a] * n for a in args], range(n), pure=False)
    parts = [p for p in client.gather(futures) if len(p)]
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()


def _columns(job: Job, cutoffs: list[pd.Timestamp], h: int, target: str | None, rows: str,
             columns: list[str], b: int) -> pd.DataFrame:  # fmt: skip
    f = load_rows(job, cutoffs, h, target, b, rows, columns)
    return f[columns] if len(f) else pd.DataFrame(columns=columns)


def _predicted(job: Job, cutoffs: list[pd.Timestamp], h: int, target: str, rows: str,
               model: PropensityModel, columns: list[str], margin: bool, b: int) -> pd.DataFrame:  # fmt: skip
    """``columns`` and ``p`` (or the uncalibrated ``margin``) of the bucket's rows."""
    f = load_rows(job, cutoffs, h, target, b, rows, [*model.feature_names_, *columns])
    if f.empty:
        return pd.DataFrame()
    X = f[model.feature_names_]
    out = f[columns].copy()
    if margin:
        out["margin"] = model._margin(X.to_numpy(dtype=np.float64))
    else:
        out["p"] = model.predict_proba(X)[:, 1]
    return out


def _stop_round(curve: Sequence[float], rounds: int, min_delta: float) -> tuple[int, bool]:
    """Trees kept by LightGBM's ``early_stopping(rounds, min_delta)`` on this loss curve, and
    whether the rule stopped within it."""
    best, best_i = np.inf, 0
    for i, loss in enumerate(curve):
        if loss < best - min_delta or i == 0:
            best, best_i = loss, i
        elif i - best_i >= rounds:
            return best_i + 1, True
    return best_i + 1, False


def _losses(job: Job, cutoffs: list[pd.Timestamp], h: int, target: str, rows: str,
            trees: Any, names: list[str], b: int) -> np.ndarray:  # fmt: skip
    """Summed log loss of the bucket's rows after each boosting round (the early-stopping
    curve on every row of the half, not only on one worker's share)."""
    f = load_rows(job, cutoffs, h, target, b, rows, names)
    n = trees.booster_.current_iteration()
    if f.empty:
        return np.zeros(n + 1)
    X = f[names].to_numpy(dtype=np.float64)
    y = f[target].to_numpy(dtype=float)
    z = np.zeros(len(f))
    out = np.zeros(n + 1)
    for i in range(n):
        z += trees.booster_.predict(X, start_iteration=i, num_iteration=1, raw_score=True)
        out[i] = float(np.sum(np.logaddexp(0.0, z) - y * z))
    out[n] = len(f)
    return out


def _names(job: Job, cutoff: pd.Timestamp, h: int) -> list[str]:
    for b in range(job.n_partitions):
        path = table_path(job.scratch, cutoff, h, b)
        if path.exists():
            import pyarrow.parquet as pq

            cols = pq.read_schema(path).names
            return feature_columns(
                pd.DataFrame(columns=[c for c in cols if c not in (*_LABELS, "_u")])
            )
    raise DataError(f"no customers have history before {cutoff.date()}")


def fit_model(client: Any, job: Job, plan: CutoffPlan, target: Target,
               model_kw: dict[str, Any]) -> tuple[PropensityModel, pd.DataFrame]:  # fmt: skip
    """:class:`PropensityModel`'s recipe on the training cutoffs of ``plan``, trees on Dask."""
    from lightgbm.dask import DaskLGBMClassifier
    from sklearn.isotonic import IsotonicRegression
    from sklearn.linear_model import LogisticRegression

    h, later = plan.horizon_days, max(plan.train)
    earlier = [c for c in plan.train if c != later]
    names = _names(job, later, h)
    m = PropensityModel(**model_kw)
    calibrate = m.calibration != "none"
    X, y, n_early = _dask_matrix(client, job, earlier, h, target, "all", names)
    if n_early == 0:
        raise DataError(
            f"no customers before the latest training cutoff {later.date()}: the Dask path "
            "needs at least two training cutoffs with customers (--n-cutoffs)"
        )
    stop_rows = "stop" if calibrate else "all"
    stop_y = gather(client, _columns, job, [later], h, target, stop_rows, [target])
    n_stop = len(stop_y)
    early_stop = n_stop > 0 and stop_y[target].nunique() == 2
    # Dask LightGBM cannot stop early: train a round budget, read the curve, double it
    # until the single-process rule stops (the first rounds are the same trees each time)
    budget = min(m.n_estimators, FIRST_ROUNDS) if early_stop else m.n_estimators
    while True:
        trees = DaskLGBMClassifier(
            client=client, n_estimators=budget, learning_rate=m.learning_rate,
            num_leaves=m.num_leaves, min_child_samples=m.min_child_samples,
            subsample=m.subsample, subsample_freq=1 if m.subsample < 1 else 0,
            colsample_bytree=m.colsample_bytree, reg_lambda=m.reg_lambda, max_bin=m.max_bin,
            random_state=m.random_state, verbose=-1,
        )  # fmt: skip
        trees.fit(X, y)
        local = trees.to_local()
        if not early_stop:
            n_iter = budget
            break
        parts = client.gather(client.map(
            _losses, [job] * job.n_partitions, [[later]] * job.n_partitions,
            [h] * job.n_partitions, [target] * job.n_partitions,
            [stop_rows] * job.n_partitions, [local] * job.n_partitions,
            [names] * job.n_partitions, range(job.n_partitions), pure=False,
        ))  # fmt: skip
        total = np.sum(parts, axis=0)
        n_iter, stopped = _stop_round(
            total[:-1] / total[-1], m.early_stopping_rounds, m.early_stopping_min_delta
        )
        if stopped or budget >= m.n_estimators:
            break
        budget = min(m.n_estimators, 2 * budget)
    m.classes_ = np.array([0, 1])
    m.n_features_in_ = len(names)
    m.feature_names_in_ = np.asarray(names, dtype=object)
    m.feature_names_ = list(names)
    m.model_ = local
    m.n_iter_ = int(n_iter)
    share = min(1.0, SAMPLE_ROWS / n_early)
    sample = gather(client, _columns, job, earlier, h, target,
                     "all" if share >= 1.0 else f"share={share}", [*names, target])  # fmt: skip
    m.linear_ = None
    if m.linear_weight > 0:
        m.linear_ = linear_model(m.random_state).fit(
            sample[names].to_numpy(dtype=float), sample[target].to_numpy(dtype=np.int64)
        )
    m.calibrator_ = None
    n_cal = 0
    if calibrate:
        got = gather(client, _predicted, job, [later], h, target, "cal", m, [target], True)
        n_cal = len(got)
        if n_cal and got[target].nunique() == 2:
            z, yc = got["margin"].to_numpy(), got[target].to_numpy(dtype=np.int64)
            if m.calibration == "isotonic":
                iso = IsotonicRegression(out_of_bounds="clip", y_min=0.0, y_max=1.0)
                m.calibrator_ = iso.fit(z, yc)
            else:
                m.calibrator_ = LogisticRegression(C=1e6).fit(z.reshape(-1, 1), yc)
    m.n_train_, m.n_early_stop_, m.n_calibration_ = n_early, n_stop, n_cal
    return m, sample


def report(client: Any, job: Job, plan: CutoffPlan, target: Target, model_kw: dict[str, Any],
            seed: int) -> tuple[PropensityModel, dict[str, Any]]:  # fmt: skip
    """The check model's metrics on the validation cutoff, then the production model."""
    h = plan.horizon_days
    check, sample = fit_model(client, job, plan, target, model_kw)
    names = check.feature_names_
    rfm = list(RFM_COLUMNS)
    base = rfm_baseline().fit(sample[rfm], sample[target].to_numpy(dtype=np.int64))
    got = gather(client, _predicted, job, [plan.validation], h, target, "all", check,
                  [target, *rfm, "bgnbd_p_any", "pnbd_p_any"], False)  # fmt: skip
    y = got[target].to_numpy(dtype=np.int64)
    metrics = evaluate(y, got["p"].to_numpy())
    base_metrics = evaluate(y, base.predict_proba(got[rfm])[:, 1])
    baselines: dict[str, dict[str, float] | None] = {}
    for name in ("bgnbd", "pnbd"):  # fitted at the validation cutoff, as in score._fit_target
        baselines[name] = None
        if got[f"{name}_p_any"].notna().all():
            p_any = got[f"{name}_p_any"].to_numpy(dtype=float)
            bt = evaluate(y, 1.0 - p_any if target == "churn" else p_any)
            baselines[name] = {k: bt[k] for k in ("roc_auc", "pr_auc", "brier", "ece")}
    share = min(1.0, 2 * _SHAP_ROWS / max(len(got), 1))
    shap = gather(client, _columns, job, [plan.validation], h, target,
                   "all" if share >= 1.0 else f"share={share}", names)  # fmt: skip
    if len(shap) > _SHAP_ROWS:
        shap = shap.sample(n=_SHAP_ROWS, random_state=seed)
    prod_plan = plan.shifted()
    prod, _ = fit_model(client, job, prod_plan, target, model_kw)
    report = {
        "horizon_days": h,
        "validation": metrics,
        "baseline_rfm_logistic": {
            k: base_metrics[k] for k in ("roc_auc", "pr_auc", "brier", "ece")
        },
        "baseline_bgnbd": baselines["bgnbd"],
        "baseline_pareto_nbd": baselines["pnbd"],
        "check_cutoffs": [str(c.date()) for c in plan.train],
        "validation_cutoff": str(plan.validation.date()),
        "production_cutoffs": [str(c.date()) for c in prod_plan.train],
        "n_train_rows": int(check.n_train_ + check.n_early_stop_ + check.n_calibration_),
        "n_validation_rows": int(len(got)),
        "n_trees": check.n_iter_,
        "features": list(names),
        "top_drivers": check.drivers(shap).importance.head(10).to_dict(orient="records"),
    }
    return prod, report


def fit_spend(client: Any, job: Job, plan: CutoffPlan, rep: PropensityModel,
               seed: int) -> SpendModel:  # fmt: skip
    """:class:`SpendModel` on the buyers of the production training set, trees on Dask."""
    from lightgbm.dask import DaskLGBMRegressor

    names = rep.feature_names_
    X, y, n = _dask_matrix(client, job, plan.shifted().train, plan.horizon_days,
                           "future_revenue", "all", names, positive=True)  # fmt: skip
    if n == 0:
        raise DataError("no customer bought in any production training window")
    spend = SpendModel.matching(rep.get_params(), random_state=seed, n_jobs=1)
    reg = DaskLGBMRegressor(
        client=client, objective="gamma", n_estimators=spend.n_estimators,
        learning_rate=spend.learning_rate, num_leaves=spend.num_leaves,
        min_child_samples=spend.min_child_samples, subsample=spend.subsample,
        subsample_freq=1 if spend.subsample < 1 else 0, max_bin=spend.max_bin,
        random_state=seed, verbose=-1,
    ).fit(X, y)  # fmt: skip
    spend.model_ = reg.to_local()
    spend.n_features_in_ = len(names)
    spend.feature_names_in_ = np.asarray(names, dtype=object)
    return spend
