"""Outcome labels after a cutoff, and the rolling-cutoff plan that keeps validation later.

Labels at an as-of date ``D`` look at the ``horizon_days`` after the end of ``D``: with
``T = D + 1 day`` (see :mod:`omnimmm.lifecycle.features`), the label window is
``[T, T + horizon_days)``.

repurchase
    1 if a customer with history before ``T`` orders at least once in the window.
churn
    among customers who are not yet lapsed at ``T`` (stages new, active, at_risk), 1 if they
    do not order in the window; empty for lapsed customers, who have already gone.

Cutoff plan
-----------
For a scoring date ``A`` and horizon ``h`` the validation cutoff is ``A - h`` (its labels end
exactly at ``A``) and the training cutoffs are ``A - 2h - k * step`` for ``k = 0..n-1``, so every
training label window ends before the validation window starts: nothing the check model
learns comes from the period it is checked on. The production model uses the same recipe
shifted forward by ``h`` (training cutoffs ``A - h - k * step``) and scores at ``A``. The
earliest cutoff needs ``min_history_days`` of history before it, which fixes the longest
horizon a given history supports (:func:`max_supported_horizon`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import duckdb
import pandas as pd

from omnimmm.errors import DataError, numbered
from omnimmm.lifecycle.features import (
    ColumnMap,
    DateLike,
    TransactionTable,
    _sql_ts,
    build_features,
    cutoff_end,
    load_transactions,
)

CHURN_STAGES: tuple[str, ...] = ("new", "active", "at_risk")


@dataclass(frozen=True)
class CutoffPlan:
    """As-of dates of a rolling training set and its later validation cutoff."""

    train: tuple[pd.Timestamp, ...]
    validation: pd.Timestamp
    horizon_days: int

    def shifted(self) -> CutoffPlan:
        """The same recipe moved forward by one horizon (for the production model)."""
        step = pd.Timedelta(days=self.horizon_days)
        return CutoffPlan(
            tuple(c + step for c in self.train), self.validation + step, self.horizon_days
        )


def plan_cutoffs(
    as_of: DateLike, horizon_days: int, *, n_cutoffs: int = 4, step_days: int = 30
) -> CutoffPlan:
    """Training and validation cutoffs for scoring at ``as_of`` (see the module docstring)."""
    if horizon_days < 1 or n_cutoffs < 1 or step_days < 1:
        raise DataError(
            f"the horizon (--horizon-days {horizon_days}), the number of training cutoffs "
            f"(--n-cutoffs {n_cutoffs}) and the days between them (--step-days {step_days}) "
            "must all be positive"
        )
    day = cutoff_end(as_of) - pd.Timedelta(days=1)
    h = pd.Timedelta(days=horizon_days)
    train = tuple(
        day - 2 * h - pd.Timedelta(days=k * step_days) for k in reversed(range(n_cutoffs))
    )
    return CutoffPlan(train, day - h, horizon_days)


def max_supported_horizon(
    start: DateLike,
    as_of: DateLike,
    *,
    n_cutoffs: int = 4,
    step_days: int = 30,
    min_history_days: int = 90,
) -> int:
    """Longest horizon (days) whose cutoff plan fits in history from ``start`` to ``as_of``.

    Returns 0 or less when not even a one-day horizon fits.
    """
    span = (cutoff_end(as_of) - pd.Timestamp(start).normalize()) / pd.Timedelta(days=1)
    return int((span - min_history_days - (n_cutoffs - 1) * step_days) // 2)


def check_history(
    transactions: TransactionTable,
    as_of: DateLike,
    horizon_days: int,
    *,
    n_cutoffs: int = 4,
    step_days: int = 30,
    min_history_days: int = 90,
) -> CutoffPlan:
    """The cutoff plan, or a DataError saying the history is too short and what would fit."""
    stop = cutoff_end(as_of)
    if stop > transactions.end:
        last = (transactions.end - pd.Timedelta(days=1)).date()
        raise DataError(
            f"{transactions.source}: the as-of date {(stop - pd.Timedelta(days=1)).date()} is after "
            f"the last transaction day {last}; pick an as-of date on or before {last}"
        )
    plan = plan_cutoffs(as_of, horizon_days, n_cutoffs=n_cutoffs, step_days=step_days)
    first_needed = plan.train[0] + pd.Timedelta(days=1) - pd.Timedelta(days=min_history_days)
    if transactions.start.normalize() > first_needed:
        longest = max_supported_horizon(
            transactions.start,
            as_of,
            n_cutoffs=n_cutoffs,
            step_days=step_days,
            min_history_days=min_history_days,
        )
        have = (stop - transactions.start.normalize()).days
        need = min_history_days + (n_cutoffs - 1) * step_days + 2 * horizon_days
        fits = (
            f"the longest supported horizon is {longest} days"
            if longest >= 1
            else "no horizon fits"
        )
        raise DataError(
            f"{transactions.source}: history is too short for a {horizon_days}-day horizon. "
            f"It covers {have} days ({transactions.start.date()} to {stop.date()} exclusive); "
            f"{n_cutoffs} training cutoffs {step_days} days apart, a later validation cutoff "
            f"and {min_history_days} days of history before the first cutoff need "
            f"{min_history_days} + {(n_cutoffs - 1) * step_days} + 2 x {horizon_days} = {need} "
            f"days, so {fits}.\n"
            + numbered(
                [
                    f"use --horizon-days {max(longest, 1)} or less",
                    f"use fewer or closer training cutoffs (--n-cutoffs, now {n_cutoffs}; "
                    f"--step-days, now {step_days}) or less history before the first "
                    f"(--min-history-days, now {min_history_days})",
                    "load a longer transaction history",
                ]
            )
        )
    return plan


def make_labels(
    transactions: str | Path | pd.DataFrame | TransactionTable,
    as_of: DateLike,
    horizon_days: int,
    *,
    columns: ColumnMap | None = None,
    features: pd.DataFrame | None = None,
    con: duckdb.DuckDBPyConnection | None = None,
) -> pd.DataFrame:
    """Repurchase and churn labels for every customer with history at ``as_of``.

    Parameters
    ----------
    transactions
        Path, DataFrame or loaded table; it must cover the whole label window.
    as_of, horizon_days
        Cutoff date and label window length (see the module docstring).
    features
        Features at ``as_of`` if already computed (for the customer list and stages).

    Returns
    -------
    pandas.DataFrame
        ``customer_id, stage, repurchase, churn, future_orders, future_revenue`` sorted by
        customer; ``churn`` is NaN for lapsed customers.

    Raises
    ------
    DataError
        When the data end before the label window does.
    """
    t = load_transactions(transactions, columns=columns, con=con)
    stop = cutoff_end(as_of)
    end = stop + pd.Timedelta(days=horizon_days)
    if end > t.end:
        room = (t.end - stop).days
        raise DataError(
            f"{t.source}: a {horizon_days}-day label window after {as_of} ends on {end.date()} "
            f"but transactions end on {t.end.date()} (exclusive); at this cutoff the longest "
            f"window the data cover is {max(room, 0)} days"
        )
    if features is None:
        features = build_features(t, as_of)
    count = "count(DISTINCT order_id)" if "order_id" in t.optional else "count(*)"
    future = t.con.execute(
        f"SELECT customer_id, {count} AS future_orders, sum(amount) AS future_revenue "
        f"FROM {t.table} WHERE ts >= {_sql_ts(stop)} AND ts < {_sql_ts(end)} "
        "GROUP BY customer_id"
    ).df()
    future["customer_id"] = future["customer_id"].astype(str)
    out = features[["customer_id", "stage"]].merge(future, on="customer_id", how="left")
    out["future_orders"] = out["future_orders"].fillna(0).astype("int64")
    out["future_revenue"] = out["future_revenue"].fillna(0.0).astype("float64")
    out["repurchase"] = (out["future_orders"] > 0).astype("int64")
    eligible = out["stage"].isin(CHURN_STAGES)
    out["churn"] = (1.0 - out["repurchase"]).where(eligible)
    cols = ["customer_id", "stage", "repurchase", "churn", "future_orders", "future_revenue"]
    return out[cols].sort_values("customer_id", kind="stable").reset_index(drop=True)
