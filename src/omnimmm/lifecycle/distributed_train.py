"""Model fitting of :mod:`omnimmm.lifecycle.distributed`: the propensity and spend models
trained with ``lightgbm.dask`` on the feature tables the bucket tasks wrote.

:func:`fit_models` follows :class:`~omnimmm.lifecycle.propensity.PropensityModel`'s recipe:
the model on the earlier training cutoffs; the latest cutoff split at random into an
early-stopping half and a calibration half. :func:`report` fits every recipe of
:data:`~omnimmm.lifecycle.score.RECIPES` (the BTYD base alone, the base with a tree
correction) and keeps the one with the lower validation log loss, as
:func:`~omnimmm.lifecycle.score.score_customers` does. The BTYD base
(:class:`~omnimmm.lifecycle.btyd_base.BTYDBase`), the linear part of the margin and the RFM
baseline are fitted on at most :data:`SAMPLE_ROWS` of the earlier rows drawn at random (all
rows on small data); the base's log-odds of the training rows are computed on the workers
that hold them and passed to ``DaskLGBMClassifier.fit`` as ``init_score``.

Dask LightGBM has no early stopping, so a budget of rounds is trained, the log loss of every
round (from the base's log-odds) on the *whole* stop half is computed on the workers, and the
budget is doubled until the single-process rule (no gain above ``early_stopping_min_delta``
for ``early_stopping_rounds`` rounds) stops within it; the first rounds are the same trees
each time. Platt or isotonic calibration on the calibration half's margins.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from omnimmm.errors import DataError
from omnimmm.lifecycle.btyd_base import BTYDBase
from omnimmm.lifecycle.features import feature_columns
from omnimmm.lifecycle.labels import CutoffPlan, require_both_classes
from omnimmm.lifecycle.propensity import (
    RFM_COLUMNS,
    PropensityModel,
    Target,
    evaluate,
    linear_model,
    rfm_baseline,
)
from omnimmm.lifecycle.score import _FIXED, _SHAP_ROWS, _top_drivers, recipe_settings
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


@dataclass(frozen=True)
class Matrix:
    """A training matrix on the workers: ``X``, ``y`` (and the base's log-odds ``init``) as
    dask arrays of one block per training worker that holds rows, ``n`` rows, the training
    ``workers`` in their order, and the worker each block was built on, in block order
    (``homes``; see :func:`_dask_matrix`)."""

    X: Any
    y: Any
    n: int
    init: Any
    workers: list[str]
    homes: tuple[str, ...] = ()

    def fit(self, model: Any, **kw: Any) -> Any:
        """``model.fit`` with every task it submits kept on :attr:`workers`, and the
        workers in that order as LightGBM's machines.

        ``lightgbm.dask`` gathers the blocks into parts with tasks of its own, which the
        scheduler may run on any worker; a part that lands on a worker outside the training
        set adds a LightGBM machine. It then ranks the machines in the order
        ``client.who_has`` lists the parts, which comes from a set of task keys and so
        changes from run to run; each machine's rank decides which features' bin edges it
        computes from its own rows. Kept on the training workers, and ranked in
        :attr:`workers` order (worker ``i`` holds the buckets ``b`` with ``b mod k = i``),
        the same data give the same trees.

        A part's task may still run on the other training worker (the scheduler steals
        work from a busy worker, and these parts are cheap to move), which would leave
        both parts on one worker and train on one machine instead of two. So the parts,
        which ``lightgbm.dask`` asks about in block order, are each reported on the worker
        their block was built on (:attr:`homes`); LightGBM then trains each part there,
        moving it back if it ran elsewhere.
        """
        import dask

        client = model.client
        listed = client.who_has
        rank = {w: i for i, w in enumerate(self.workers)}
        homes = self.homes

        def who_has(*args: Any, **kwargs: Any) -> dict[Any, Any]:
            got = listed(*args, **kwargs)
            asked = args[0] if args else kwargs.get("futures")
            if homes and isinstance(asked, list | tuple) and len(asked) == len(homes):
                at = {getattr(f, "key", f): w for f, w in zip(asked, homes, strict=True)}
                if set(at) == set(got):
                    got = {key: [at[key]] for key in got}
            return dict(sorted(got.items(), key=lambda kv: min(
                (rank.get(w, len(rank)) for w in kv[1]), default=len(rank))))  # fmt: skip

        client.who_has = who_has  # this fit's calls only; removed below
        try:
            with dask.annotate(workers=self.workers, allow_other_workers=False):
                return model.fit(self.X, self.y, init_score=self.init, **kw)
        finally:
            del client.who_has


def _stack(*blocks: np.ndarray) -> np.ndarray:
    return np.concatenate(blocks, axis=0)


def _dask_matrix(client: Any, job: Job, cutoffs: Sequence[pd.Timestamp], h: int, target: str,
                 rows: str, names: list[str], positive: bool = False,
                 base: BTYDBase | None = None) -> Matrix:  # fmt: skip
    """The rows of ``cutoffs`` as a :class:`Matrix` of one block per training worker of
    :func:`train_workers`: bucket ``b`` is built on worker ``b mod k``, and each worker's
    buckets are stacked in bucket order. The BTYD ``base``'s log-odds of the rows are computed
    where each block is (else ``None``).

    One block per worker, because ``lightgbm.dask`` joins a worker's blocks in the order the
    scheduler lists them, which varies from run to run (and bagging draws rows by position);
    with one block there is one order, so the same data give the same trees.
    """
    import operator

    import dask
    import dask.array as da

    n_b = job.n_partitions
    workers = train_workers(client, job, cutoffs, h)
    home = [workers[b % len(workers)] for b in range(n_b)]
    pinned = {"allow_other_workers": False, "pure": False}
    futures = [client.submit(_matrix, job, list(cutoffs), h, target, b, rows, names, positive,
                             workers=[w], **pinned)
               for b, w in zip(range(n_b), home, strict=True)]  # fmt: skip
    shapes = client.gather(client.map(np.shape, futures, pure=False))
    n = sum(shape[0] for shape in shapes)
    blocks, held = [], []  # one stacked block per worker with rows; (worker, its rows)
    for w in workers:
        mine = [(f, s[0]) for f, s, hw in zip(futures, shapes, home, strict=True)
                if hw == w and s[0] > 0]  # fmt: skip
        if mine:
            blocks.append(client.submit(_stack, *(f for f, _ in mine), workers=[w], **pinned))
            held.append((w, sum(r for _, r in mine)))
    if not blocks:
        return Matrix(None, None, 0, None, workers)
    width = next(s[1] for s in shapes if s[0] > 0)

    def on_each(fn: Any, parts: list[Any]) -> list[Any]:
        return [client.submit(fn, f, workers=[w], **pinned)
                for f, (w, _) in zip(parts, held, strict=True)]  # fmt: skip

    def array(parts: list[Any], cols: int | None) -> Any:
        return da.concatenate([
            da.from_delayed(dask.delayed(f), shape=(r,) if cols is None else (r, cols),
                            dtype=np.float64)
            for f, (_, r) in zip(parts, held, strict=True)
        ], axis=0)  # fmt: skip

    xs = on_each(operator.itemgetter((slice(None), slice(None, -1))), blocks)
    ys = on_each(operator.itemgetter((slice(None), -1)), blocks)
    init = None if base is None else array(on_each(base.decision_function, xs), None)
    return Matrix(
        array(xs, width - 1), array(ys, None), n, init, workers, tuple(w for w, _ in held)
    )


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


def _count(job: Job, cutoffs: list[pd.Timestamp], h: int, target: str, b: int) -> int:
    """Rows of bucket ``b`` at ``cutoffs`` with a ``target`` label."""
    return len(load_rows(job, cutoffs, h, target, b, "all", [target]))


def _predicted(job: Job, cutoffs: list[pd.Timestamp], h: int, target: str, rows: str,
               models: dict[str, PropensityModel], columns: list[str], margin: bool,
               b: int) -> pd.DataFrame:  # fmt: skip
    """``columns`` and, for each named model, ``p_<name>`` (or the uncalibrated
    ``margin_<name>``) of the bucket's rows; the models share their features."""
    names = next(iter(models.values())).feature_names_
    f = load_rows(job, cutoffs, h, target, b, rows, [*names, *columns])
    if f.empty:
        return pd.DataFrame()
    X = f[names]
    out = f[columns].copy()
    for key, model in models.items():
        if margin:
            out[f"margin_{key}"] = model._margin(X.to_numpy(dtype=np.float64))
        else:
            out[f"p_{key}"] = model.predict_proba(X)[:, 1]
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
            trees: Any, names: list[str], base: BTYDBase | None, b: int) -> np.ndarray:  # fmt: skip
    """Summed log loss of the bucket's rows after each boosting round, from the ``base``'s
    log-odds (or 0) as the trees' ``init_score`` (the early-stopping curve on every row of
    the half, not only on one worker's share)."""
    f = load_rows(job, cutoffs, h, target, b, rows, names)
    n = trees.booster_.current_iteration()
    if f.empty:
        return np.zeros(n + 1)
    X = f[names].to_numpy(dtype=np.float64)
    y = f[target].to_numpy(dtype=float)
    z = np.zeros(len(f)) if base is None else base.decision_function(X)
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


def _trees(client: Any, job: Job, later: pd.Timestamp, h: int, target: str, stop_rows: str,
           early_stop: bool, names: list[str], data: Matrix, m: PropensityModel,
           base: BTYDBase | None) -> tuple[Any, int]:  # fmt: skip
    """``m``'s trees on the Dask training rows ``data`` (from the base's log-odds, if any),
    early-stopped on the later cutoff's ``stop_rows`` as LightGBM's rule would."""
    from lightgbm.dask import DaskLGBMClassifier

    n_b = job.n_partitions
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
        data.fit(trees)
        local = trees.to_local()
        if not early_stop:
            return local, budget
        parts = client.gather(client.map(
            _losses, [job] * n_b, [[later]] * n_b, [h] * n_b, [target] * n_b,
            [stop_rows] * n_b, [local] * n_b, [names] * n_b, [base] * n_b, range(n_b),
            pure=False,
        ))  # fmt: skip
        total = np.sum(parts, axis=0)
        n_iter, stopped = _stop_round(
            total[:-1] / total[-1], m.early_stopping_rounds, m.early_stopping_min_delta
        )
        if stopped or budget >= m.n_estimators:
            return local, n_iter
        budget = min(m.n_estimators, 2 * budget)


def fit_models(client: Any, job: Job, plan: CutoffPlan, target: Target,
               settings: Sequence[dict[str, Any]]) -> tuple[list[PropensityModel], pd.DataFrame]:  # fmt: skip
    """:class:`PropensityModel`'s recipe with each of ``settings`` on the training cutoffs of
    ``plan``, trees on Dask, and the sample of earlier rows the small models were fitted on.

    What the settings share is fitted once: the BTYD base (the same for every recipe that
    starts from it, as in one process, where each fits it on the same rows), the linear part
    and the Dask training matrix.
    """
    from sklearn.isotonic import IsotonicRegression
    from sklearn.linear_model import LogisticRegression

    h, later = plan.horizon_days, max(plan.train)
    earlier = [c for c in plan.train if c != later]
    names = _names(job, later, h)
    models = [PropensityModel(**kw) for kw in settings]
    n_b = job.n_partitions
    counts = client.map(_count, [job] * n_b, [earlier] * n_b, [h] * n_b, [target] * n_b,
                        range(n_b), pure=False)  # fmt: skip
    n_early = int(sum(client.gather(counts)))
    if n_early == 0:
        raise DataError(
            f"no customers before the latest training cutoff {later.date()}: the Dask path "
            "needs at least two training cutoffs with customers (--n-cutoffs)"
        )
    share = min(1.0, SAMPLE_ROWS / n_early)
    sample = gather(client, _columns, job, earlier, h, target,
                     "all" if share >= 1.0 else f"share={share}", [*names, target])  # fmt: skip
    xs, ys = sample[names].to_numpy(dtype=float), sample[target].to_numpy(dtype=np.int64)
    require_both_classes(ys, target, earlier, h, "the transactions")
    base = None
    if any(m.btyd_base for m in models) and BTYDBase.usable(names, xs):
        base = BTYDBase(names).fit(xs, ys)
    linear = None
    if any(m.linear_weight > 0 for m in models):
        linear = linear_model(models[0].random_state).fit(xs, ys)
    calibrate = {m.calibration != "none" for m in models}
    if len(calibrate) > 1:
        raise ValueError("the recipes fitted together must all calibrate, or none")
    stop_rows = "stop" if calibrate == {True} else "all"
    stop_y = gather(client, _columns, job, [later], h, target, stop_rows, [target])
    n_stop = len(stop_y)
    early_stop = n_stop > 0 and stop_y[target].nunique() == 2
    data: dict[bool, Matrix] = {}  # the training matrix, with or without base
    for m in models:
        if not 0.0 <= m.linear_weight <= 1.0:
            raise ValueError(f"linear_weight must be in [0, 1], not {m.linear_weight!r}")
        m.classes_ = np.array([0, 1])
        m.n_features_in_ = len(names)
        m.feature_names_in_ = np.asarray(names, dtype=object)
        m.feature_names_ = list(names)
        m.base_ = base if m.btyd_base else None
        m.linear_ = linear if m.linear_weight > 0 else None
        m.model_, m.n_iter_ = None, 0
        if m.trees or m.base_ is None:
            key = m.base_ is not None
            if key not in data:
                data[key] = _dask_matrix(client, job, earlier, h, target, "all", names,
                                         base=m.base_)  # fmt: skip
            m.model_, n_iter = _trees(client, job, later, h, target, stop_rows, early_stop,
                                      names, data[key], m, m.base_)  # fmt: skip
            m.n_iter_ = int(n_iter)
        m.calibrator_ = None
    n_cal = 0
    if calibrate == {True}:
        keyed = {f"r{i}": m for i, m in enumerate(models)}
        got = gather(client, _predicted, job, [later], h, target, "cal", keyed, [target], True)
        n_cal = len(got)
        if n_cal and got[target].nunique() == 2:
            yc = got[target].to_numpy(dtype=np.int64)
            for label, m in keyed.items():
                z = got[f"margin_{label}"].to_numpy()
                if m.calibration == "isotonic":
                    iso = IsotonicRegression(out_of_bounds="clip", y_min=0.0, y_max=1.0)
                    m.calibrator_ = iso.fit(z, yc)
                else:
                    m.calibrator_ = LogisticRegression(C=1e6).fit(z.reshape(-1, 1), yc)
    for m in models:
        m.n_train_, m.n_early_stop_, m.n_calibration_ = n_early, n_stop, n_cal
    return models, sample


def report(client: Any, job: Job, plan: CutoffPlan, target: Target, model_kw: dict[str, Any],
            seed: int) -> tuple[PropensityModel, dict[str, Any]]:  # fmt: skip
    """Check models of each recipe of :data:`~omnimmm.lifecycle.score.RECIPES`, their
    metrics on the validation cutoff, then the production model of the recipe with the
    lower validation log loss (the rule of :func:`~omnimmm.lifecycle.score.score_customers`)."""
    from sklearn.metrics import log_loss

    h = plan.horizon_days
    recipes = recipe_settings(model_kw)
    checks, sample = fit_models(client, job, plan, target, list(recipes.values()))
    by_name = dict(zip(recipes, checks, strict=True))
    names = checks[0].feature_names_
    rfm = list(RFM_COLUMNS)
    base = rfm_baseline().fit(sample[rfm], sample[target].to_numpy(dtype=np.int64))
    got = gather(client, _predicted, job, [plan.validation], h, target, "all", by_name,
                  [target, *rfm, "bgnbd_p_any", "pnbd_p_any"], False)  # fmt: skip
    y = got[target].to_numpy(dtype=np.int64)
    require_both_classes(y, target, [plan.validation], h, "the transactions")
    scored = {
        name: (evaluate(y, got[f"p_{name}"].to_numpy()),
               float(log_loss(y, got[f"p_{name}"].to_numpy(), labels=[0, 1])))
        for name in recipes
    }  # fmt: skip
    chosen = min(scored, key=lambda n: scored[n][1])
    check, metrics = by_name[chosen], scored[chosen][0]
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
    (prod,), _ = fit_models(client, job, prod_plan, target, [recipes[chosen]])
    report = {
        "horizon_days": h,
        "validation": metrics,
        "recipe": chosen,
        "recipes": {
            name: {
                "roc_auc": scored[name][0]["roc_auc"],
                "log_loss": scored[name][1],
                "n_trees": by_name[name].n_iter_,
                "settings": {k: v for k, v in recipes[name].items() if k not in _FIXED},
            }
            for name in recipes
        },
        "baseline_rfm_logistic": {
            k: base_metrics[k] for k in ("roc_auc", "pr_auc", "brier", "ece")
        },
        "baseline_bgnbd": baselines["bgnbd"],
        "baseline_pareto_nbd": baselines["pnbd"],
        "cutoff_plan": plan.settings,
        "cutoff_note": plan.note or None,
        "check_cutoffs": [str(c.date()) for c in plan.train],
        "validation_cutoff": str(plan.validation.date()),
        "production_cutoffs": [str(c.date()) for c in prod_plan.train],
        "n_train_rows": int(check.n_train_ + check.n_early_stop_ + check.n_calibration_),
        "n_validation_rows": int(len(got)),
        "n_trees": check.n_iter_,
        "features": list(names),
        "top_drivers": _top_drivers(check, shap),
    }
    return prod, report


def fit_spend(client: Any, job: Job, plan: CutoffPlan, rep: PropensityModel,
               seed: int) -> SpendModel:  # fmt: skip
    """:class:`SpendModel` on the buyers of the production training set, trees on Dask."""
    from lightgbm.dask import DaskLGBMRegressor

    names = rep.feature_names_
    data = _dask_matrix(client, job, plan.shifted().train, plan.horizon_days,
                        "future_revenue", "all", names, positive=True)  # fmt: skip
    if data.n == 0:
        raise DataError("no customer bought in any production training window")
    spend = SpendModel.matching(rep.get_params(), random_state=seed, n_jobs=1)
    reg = data.fit(DaskLGBMRegressor(
        client=client, objective="gamma", n_estimators=spend.n_estimators,
        learning_rate=spend.learning_rate, num_leaves=spend.num_leaves,
        min_child_samples=spend.min_child_samples, subsample=spend.subsample,
        subsample_freq=1 if spend.subsample < 1 else 0, max_bin=spend.max_bin,
        random_state=seed, verbose=-1,
    ))  # fmt: skip
    spend.model_ = reg.to_local()
    spend.n_features_in_ = len(names)
    spend.feature_names_in_ = np.asarray(names, dtype=object)
    return spend
