"""Purchase-rhythm features at a cutoff: time-decayed activity, inter-purchase times and the
BG/NBD model's view of each customer, all point in time.

They are added to :func:`omnimmm.lifecycle.features.build_features` by
:func:`add_rhythm_features` for the propensity models. As there, only orders with
``ts < T`` (``T`` = the end of the as-of day) are read, and the cutoff filter is the first
thing the SQL does; the BG/NBD model is fitted at each cutoff on that history alone, so its
parameters never see a later row (``tests/test_lifecycle_btyd.py`` rewrites every later row and
checks these columns do not move).

Columns
-------
decay_orders_{14,45,120}d
    orders weighted by ``exp(-age / tau)`` (age in days before ``T``): recent activity with no
    hard window edge.
decay_revenue_45d
    revenue weighted the same way with ``tau = 45``.
n_days, gap_median, last_gap, recent_gap_mean, gap_cv, recency_gap_ratio, days_to_next
    distinct purchase days; the median gap between consecutive purchase days, the last gap,
    the mean of the last two, the gaps' coefficient of variation, recency over the median
    gap and the median gap minus recency (negative when overdue).
bgnbd_p_alive, bgnbd_p_any, bgnbd_expected
    BG/NBD (:class:`omnimmm.lifecycle.btyd.BGNBD`, fitted on purchase *days* of every
    customer at this cutoff, in weeks): the probability the customer is still active, of at
    least one purchase within ``horizon_days``, and the expected number of purchase days in it.
pnbd_p_alive, pnbd_p_any, pnbd_expected
    the same three from Pareto/NBD (:class:`omnimmm.lifecycle.pareto_nbd.ParetoNBD`), whose
    customers can drop out between purchases, fitted on the same rows.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from omnimmm.lifecycle.btyd import BGNBD
from omnimmm.lifecycle.features import (
    DateLike,
    TransactionTable,
    _orders_sql,
    cutoff_end,
)
from omnimmm.lifecycle.pareto_nbd import ParetoNBD
from omnimmm.lifecycle.transactions import _sql_ts

DECAY_DAYS: tuple[int, ...] = (14, 45, 120)
#: Fewer customers than this at a cutoff leave the BG/NBD columns empty (no stable fit).
MIN_BGNBD_CUSTOMERS = 30
#: Customers (at most) BG/NBD and Pareto/NBD are fitted on at one cutoff (see fit_btyd).
BTYD_FIT_CUSTOMERS = 250_000
#: Seed of that sample: fixed, not the run's seed, so that the single process and the Dask
#: path (which fits on bucket counts, far from the run's other random draws) draw the same
#: customers and give the same columns.
BTYD_SAMPLE_SEED = 0
RHYTHM_COLUMNS: tuple[str, ...] = (
    *(f"decay_orders_{d}d" for d in DECAY_DAYS),
    "decay_revenue_45d",
    "n_days",
    "gap_median",
    "last_gap",
    "recent_gap_mean",
    "gap_cv",
    "recency_gap_ratio",
    "days_to_next",
    "bgnbd_p_alive",
    "bgnbd_p_any",
    "bgnbd_expected",
    "pnbd_p_alive",
    "pnbd_p_any",
    "pnbd_expected",
)


#: Fitted BTYD models by column prefix (``"bgnbd"``, ``"pnbd"``).
BtydModels = Mapping[str, "BGNBD | ParetoNBD"]


def rhythm_features(
    t: TransactionTable,
    as_of: DateLike,
    horizon_days: int,
    *,
    models: BtydModels | None = None,
) -> pd.DataFrame:
    """The columns of the module docstring, one row per customer with an order before ``T``.

    Parameters
    ----------
    t
        Loaded transactions (:func:`omnimmm.lifecycle.transactions.load_transactions`).
    as_of
        Cutoff date; only orders before the end of that day are read.
    horizon_days
        Window of ``bgnbd_p_any`` and ``bgnbd_expected``.
    models
        BG/NBD and Pareto/NBD already fitted at this cutoff, used instead of fitting them on
        ``t``'s customers (the Dask path fits them once on every customer and scores one
        bucket of customers at a time); a model left out leaves its columns empty.
    """
    stop = cutoff_end(as_of)
    ep, day = f"epoch_us({_sql_ts(stop)})", "86400000000.0"
    decay = [f"sum(exp(-age / {d}.0)) AS decay_orders_{d}d" for d in DECAY_DAYS]
    query = f"""
        WITH o AS ({_orders_sql(t, stop)}),
        a AS (SELECT customer_id, amount, ({ep} - epoch_us(ts)) / {day} AS age FROM o),
        dd AS (SELECT DISTINCT customer_id, CAST(ts AS DATE) AS d FROM o),
        g AS (SELECT customer_id, d,
                     CAST(d - lag(d) OVER w AS DOUBLE) AS gap,
                     row_number() OVER (PARTITION BY customer_id ORDER BY d DESC) AS k
              FROM dd WINDOW w AS (PARTITION BY customer_id ORDER BY d)),
        gs AS (SELECT customer_id, count(*) AS n_days,
                      CAST(max(d) - min(d) AS DOUBLE) AS t_x_days,
                      ({ep} - epoch_us(CAST(min(d) AS TIMESTAMP))) / {day} AS t_days,
                      ({ep} - epoch_us(CAST(max(d) AS TIMESTAMP))) / {day} AS recency_day,
                      median(gap) AS gap_median,
                      max(gap) FILTER (WHERE k = 1) AS last_gap,
                      avg(gap) FILTER (WHERE k <= 2) AS recent_gap_mean,
                      stddev_samp(gap) / nullif(avg(gap), 0) AS gap_cv
               FROM g GROUP BY customer_id),
        ag AS (SELECT customer_id, {", ".join(decay)},
                      sum(amount * exp(-age / 45.0)) AS decay_revenue_45d
               FROM a GROUP BY customer_id)
        SELECT * FROM ag JOIN gs USING (customer_id) ORDER BY customer_id
    """
    raw = t.con.execute(query).df()
    raw["customer_id"] = raw["customer_id"].astype(str)
    f = raw.copy()
    for col in f.columns.drop("customer_id"):
        f[col] = pd.to_numeric(f[col]).astype("float64")
    with np.errstate(divide="ignore", invalid="ignore"):
        f["recency_gap_ratio"] = (f["recency_day"] / f["gap_median"]).where(f["gap_median"] > 0)
        f["days_to_next"] = f["gap_median"] - f["recency_day"]
    f = _bgnbd_columns(f, horizon_days, models)
    f = f.drop(columns=["t_x_days", "t_days", "recency_day"])
    return f[["customer_id", *RHYTHM_COLUMNS]].reset_index(drop=True)


def _bgnbd_columns(
    f: pd.DataFrame, horizon_days: int, fitted: BtydModels | None = None
) -> pd.DataFrame:
    """BG/NBD fitted at this cutoff on purchase days (weeks), and its three predictions
    (from the ``fitted`` models instead when given)."""
    x = f["n_days"].to_numpy() - 1.0
    t_x = f["t_x_days"].to_numpy() / 7.0
    T = np.maximum(f["t_days"].to_numpy() / 7.0, t_x)
    for model_name in ("bgnbd", "pnbd"):
        for col in ("p_alive", "p_any", "expected"):
            f[f"{model_name}_{col}"] = np.nan
    h = horizon_days / 7.0
    models = dict(fitted) if fitted is not None else fit_btyd(x, f["t_x_days"], f["t_days"])
    for name, model in models.items():
        f[f"{name}_p_alive"] = model.p_alive(x, t_x, T)
        f[f"{name}_p_any"] = model.p_any(h, x, t_x, T)
        f[f"{name}_expected"] = model.expected_purchases(h, x, t_x, T)
    return f


def counted_rows(
    x: np.ndarray, t_x_days: np.ndarray, t_days: np.ndarray, counts: np.ndarray
) -> pd.DataFrame:
    """Distinct ``(x, t_x_days, t_days)`` rows, sorted, with their summed customer ``n``."""
    rows = pd.DataFrame({"x": x, "t_x_days": t_x_days, "t_days": t_days, "n": counts})
    return rows.groupby(["x", "t_x_days", "t_days"], as_index=False, sort=True).agg(n=("n", "sum"))


def fit_btyd(
    x: np.ndarray | pd.Series,
    t_x_days: np.ndarray | pd.Series,
    t_days: np.ndarray | pd.Series,
    weights: np.ndarray | None = None,
    *,
    max_customers: int = BTYD_FIT_CUSTOMERS,
    seed: int = BTYD_SAMPLE_SEED,
) -> dict[str, BGNBD | ParetoNBD]:
    """BG/NBD and Pareto/NBD fitted at one cutoff, in weeks, as the rhythm columns use them.

    Parameters
    ----------
    x, t_x_days, t_days
        Repeat purchase days, days from the first to the last purchase day and from the
        first purchase day to the end of the cutoff day, one row per customer, or (with
        ``weights``) per distinct row.
    weights
        Customers behind each row (the Dask path's bucket counts); ``None``: one each.
    max_customers, seed
        Beyond ``max_customers`` customers both models are fitted on a random
        ``max_customers`` of them, drawn without replacement from the distinct rows' counts
        (sorted, so the same customers whether the rows come per customer or counted):
        four population parameters are pinned down long before that, and the fit's cost
        grows with the rows. At or below it the fit is on every customer, as given.

    Returns
    -------
    dict
        ``{"bgnbd": BGNBD, "pnbd": ParetoNBD}``; empty with fewer than
        :data:`MIN_BGNBD_CUSTOMERS` customers or no repeat purchase (the columns stay NaN).
    """
    x, t_x_days, t_days = (np.asarray(v, dtype=float) for v in (x, t_x_days, t_days))
    w = None if weights is None else np.asarray(weights, dtype=float)
    n_customers = len(x) if w is None else float(w.sum())
    if n_customers > max_customers:
        rows = counted_rows(x, t_x_days, t_days, np.ones(len(x)) if w is None else w)
        n = rows["n"].to_numpy(dtype=np.int64)
        rng = np.random.default_rng(seed)
        rows["n"] = rng.multivariate_hypergeometric(n, max_customers, method="marginals")
        rows = rows[rows["n"] > 0]
        x, t_x_days, t_days = (rows[k].to_numpy() for k in ("x", "t_x_days", "t_days"))
        w = rows["n"].to_numpy(dtype=float)
        n_customers = float(w.sum())
    t_x = t_x_days / 7.0
    T = np.maximum(t_days / 7.0, t_x)
    if n_customers < MIN_BGNBD_CUSTOMERS or not (x > 0).any():
        return {}
    return {
        "bgnbd": BGNBD(penalty=1e-3).fit(x, t_x, T, weights=w),
        "pnbd": ParetoNBD(penalty=1e-3).fit(x, t_x, T, weights=w),
    }


def add_rhythm_features(
    features: pd.DataFrame,
    t: TransactionTable,
    as_of: DateLike,
    horizon_days: int,
    *,
    models: BtydModels | None = None,
) -> pd.DataFrame:
    """``features`` (from ``build_features`` at the same cutoff) with the rhythm columns
    joined on ``customer_id``; the row order and the existing columns are kept. ``models``
    as in :func:`rhythm_features`."""
    extra = rhythm_features(t, as_of, horizon_days, models=models)
    out = features.merge(extra, on="customer_id", how="left", validate="one_to_one")
    return out
