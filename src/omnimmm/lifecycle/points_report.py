"""``omnimmm lifecycle points``: the points programme's figures written to a directory.

``DIR/points.json`` holds :func:`omnimmm.lifecycle.points.points_summary` plus the roles
used; ``DIR/points_cohorts.csv`` the earning months (earned, redeemed, expired, open,
realised breakage) and ``DIR/points_curve.csv`` the weekly redemption hazard. No customer
id is written. Files go to a temporary directory first and are then moved into place.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd

from omnimmm.data.outputs import write_files_atomic
from omnimmm.errors import DataError
from omnimmm.lifecycle.points import cohort_table, points_ledger, points_summary, read_points

__all__ = ["points_report"]


def points_report(
    transactions: str | Path | pd.DataFrame,
    out_dir: str | Path,
    *,
    as_of: str | pd.Timestamp | None = None,
    expiry_days: int | None = None,
    value_per_point: float | None = None,
    quarter_days: int = 90,
    columns: dict[str, str | None] | None = None,
    seed: int = 0,
) -> dict[str, Any]:
    """Read the points columns of ``transactions``, summarise them as of the end of day
    ``as_of`` (default: the last day in the file) and write the outputs to ``out_dir``.

    Parameters
    ----------
    transactions
        CSV, Parquet, folder of Parquet files or a DataFrame with a customer key, timestamp,
        optional channel and points earned/redeemed per order (roles inferred).
    out_dir
        Directory for ``points.json``, ``points_cohorts.csv`` and ``points_curve.csv``.
    as_of
        Cutoff date; everything up to the end of that day is history.
    expiry_days
        The programme's expiry rule (days after earning); ``None`` if points never expire.
    value_per_point
        Cost to the business of one redeemed point; money figures are left out without it.
    quarter_days
        Length of the coming period for the redemption forecast.
    columns
        Columns the user named, by role (``points_earned``, ``points_redeemed``, ...).
    seed
        Seed of the bootstrap.

    Returns
    -------
    dict
        The document written to ``points.json``.
    """
    if quarter_days < 1:
        raise DataError(f"points: the forecast period must be at least 1 day, got {quarter_days}")
    frame, roles = read_points(transactions, columns)
    if as_of is None:
        day = frame["ts"].max().normalize()
    else:
        try:
            day = pd.Timestamp(as_of).normalize()
        except (ValueError, TypeError) as exc:
            raise DataError(f"points: --as-of {as_of!r} is not a date (YYYY-MM-DD)") from exc
    cutoff = day + pd.Timedelta(days=1)
    ledger = points_ledger(frame, cutoff, expiry_days)
    doc = points_summary(
        ledger, quarter_days=quarter_days, value_per_point=value_per_point, seed=seed
    )
    doc = {"as_of": str(day.date()), "columns": roles, **doc}
    curve = pd.DataFrame(doc["curve"])
    files = {
        "points.json": json.dumps(doc, indent=2, allow_nan=False, ensure_ascii=False),
        "points_cohorts.csv": cohort_table(ledger).to_csv(index=False),
        "points_curve.csv": curve.to_csv(index=False),
    }
    write_files_atomic(Path(out_dir), files)
    return doc
