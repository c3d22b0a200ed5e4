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
import numpy as np
import pandas as pd

from omnimmm.errors import DataError, numbered
from omnimmm.lifecycle.features import (
    ColumnMap,
    DateLike,
    TransactionTable,
    build_features,
    cutoff_end,
    load_transactions,
)
from omnimmm.lifecycle.transactions import _sql_ts

CHURN_STAGES: tuple[str, ...] = ("new", "active", "at_risk")


#: The cutoff plan's settings when the user gives none: training cutoffs, days between them,
#: days of history before the first.
DEFAULT_PLAN: dict[str, int] = {"n_cutoffs": 4, "step_days": 30, "min_history_days": 90}
#: Shorter plans tried in turn when the history is too short for the default and the user
#: did not set the values: fewer cutoffs first (each customer keeps 90 days of history to be
#: described by), then less history before the first. Two cutoffs at least: the propensity
#: model stops its boosting on the later one. A log of a year or more never gets here at a
#: 90-day horizon; a shorter one is scored on what it has, and says so.
SHORTER_PLANS: tuple[tuple[int, int], ...] = ((3, 90), (2, 90), (2, 60), (2, 30))


@dataclass(frozen=True)
class CutoffPlan:
    """As-of dates of a rolling training set and its later validation cutoff."""

    train: tuple[pd.Timestamp, ...]
    validation: pd.Timestamp
    horizon_days: int
    #: The settings it was built with and, when a short history made :func:`check_history`
    #: shorten the default plan, a sentence saying so.
    settings: dict[str, int] | None = None
    note: str = ""

    def shifted(self) -> CutoffPlan:
        """The same recipe moved forward by one horizon (for the production model)."""
        step = pd.Timedelta(days=self.horizon_days)
        return CutoffPlan(tuple(c + step for c in self.train), self.validation + step,
                          self.horizon_days, self.settings, self.note)  # fmt: skip


def plan_cutoffs(
    as_of: DateLike,
    horizon_days: int,
    *,
    n_cutoffs: int = DEFAULT_PLAN["n_cutoffs"],
    step_days: int = DEFAULT_PLAN["step_days"],
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
    n_cutoffs: int = DEFAULT_PLAN["n_cutoffs"],
    step_days: int = DEFAULT_PLAN["step_days"],
    min_history_days: int = DEFAULT_PLAN["min_history_days"],
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
    n_cutoffs: int | None = None,
    step_days: int | None = None,
    min_history_days: int | None = None,
) -> CutoffPlan:
    """The cutoff plan, or a DataError saying the history is too short and what would fit.

    Settings left ``None`` start at :data:`DEFAULT_PLAN`; when that does not fit the history,
    the plans of :data:`SHORTER_PLANS` are tried in turn (only in the settings left ``None``)
    and the first that fits is returned with a ``note``. Settings the user gave are kept.
    """
    given = {"n_cutoffs": n_cutoffs, "step_days": step_days, "min_history_days": min_history_days}
    first = {k: DEFAULT_PLAN[k] if v is None else v for k, v in given.items()}
    tries = [first] + [
        {
            **first,
            **{k: v for k, v in (("n_cutoffs", n), ("min_history_days", m)) if given[k] is None},
        }  # fmt: skip
        for n, m in SHORTER_PLANS
    ]
    for settings in tries:
        if _fits_history(transactions, as_of, horizon_days, settings):
            break
    else:
        settings = tries[-1]  # nothing fits: the refusal explains the shortest plan tried
    plan = _checked_plan(transactions, as_of, horizon_days, settings)
    if settings == first:
        return CutoffPlan(plan.train, plan.validation, horizon_days, settings)
    have = (cutoff_end(as_of) - transactions.start.normalize()).days
    note = (
        f"history of {have} days is too short for the default plan at a {horizon_days}-day "
        f"horizon ({first['n_cutoffs']} training cutoffs, {first['min_history_days']} days of "
        f"history before the first): trained on {settings['n_cutoffs']} cutoff(s) with "
        f"{settings['min_history_days']} days of history before the first (set --n-cutoffs "
        "and --min-history-days to choose)"
    )
    return CutoffPlan(plan.train, plan.validation, horizon_days, settings, note)


def _fits_history(
    transactions: TransactionTable, as_of: DateLike, horizon_days: int, settings: dict[str, int]
) -> bool:
    """Whether the history holds the plan of ``settings`` (see :data:`DEFAULT_PLAN`)."""
    n_cutoffs, step_days = settings["n_cutoffs"], settings["step_days"]
    plan = plan_cutoffs(as_of, horizon_days, n_cutoffs=n_cutoffs, step_days=step_days)
    before = pd.Timedelta(days=settings["min_history_days"])
    return bool(transactions.start.normalize() <= plan.train[0] + pd.Timedelta(days=1) - before)


def _checked_plan(
    transactions: TransactionTable, as_of: DateLike, horizon_days: int, settings: dict[str, int]
) -> CutoffPlan:
    """The plan of ``settings``, or the DataError of a history too short for it."""
    n_cutoffs, step_days = settings["n_cutoffs"], settings["step_days"]
    min_history_days = settings["min_history_days"]
    stop = cutoff_end(as_of)
    if stop > transactions.end:
        last = (transactions.end - pd.Timedelta(days=1)).date()
        raise DataError(
            f"{transactions.source}: the as-of date {(stop - pd.Timedelta(days=1)).date()} is after "
            f"the last transaction day {last}; pick an as-of date on or before {last}"
        )
    plan = plan_cutoffs(as_of, horizon_days, n_cutoffs=n_cutoffs, step_days=step_days)
    if not _fits_history(transactions, as_of, horizon_days, settings):
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


def require_both_classes(
    y: np.ndarray, target: str, cutoffs: tuple[pd.Timestamp, ...] | list[pd.Timestamp],
    horizon_days: int, source: str,
) -> None:  # fmt: skip
    """Refuse labels of one class: a propensity model needs customers who did and who did not.

    Raises
    ------
    DataError
        Naming the target, the cutoffs, what every customer did and what would help.
    """
    seen = set(np.unique(np.asarray(y)).tolist())
    if len(seen) >= 2:
        return
    did = {"repurchase": ("bought again", "did not buy again"),
           "churn": ("stopped buying", "bought again")}[target]  # fmt: skip
    what = did[0] if seen == {1} else did[1] if seen == {0} else "had no label"
    days = ", ".join(str(c.date()) for c in cutoffs)
    raise DataError(
        f"{source}: at the cutoff(s) {days} every customer {what} within {horizon_days} days, "
        f"so the {target} labels have one class and no propensity can be learnt from them.\n"
        + numbered(
            [
                "use a longer or shorter --horizon-days",
                "load a longer history or more customers (a log where everyone buys every few "
                "days, or nobody comes back, has nothing to rank)",
            ]
        )
    )


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
