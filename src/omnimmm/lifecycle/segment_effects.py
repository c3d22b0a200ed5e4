"""Value of a retention contact per segment from a campaign history without a control group.

The joint media + retention budget needs, per lifecycle segment, the incremental revenue of
contacting one customer. With a randomised control group that is treated minus control
(:func:`omnimmm.lifecycle.value.estimate_uplift`). Without one, every past send is treated
as a targeted campaign and estimated with the doubly robust estimator of
:mod:`omnimmm.lifecycle.incrementality`: for each send (rows sharing ``campaign_id``, or
the send day when there is no id) and segment, the contacted customers of that segment are
compared with every customer the send did not reach, by cross-fitted AIPW on point-in-time
features at the day before the send, over ``[send day, send day + window_days)``. The
segment's value is the treated-weighted mean over sends (:func:`~omnimmm.lifecycle.
incrementality.pool`), its standard deviation the pooled standard error.

This rests on selection on observed purchase history (the features), as every
observational estimate does; the placebo of ``omnimmm lifecycle campaigns`` is the check.
"""

from __future__ import annotations

import pandas as pd

from omnimmm.errors import DataError
from omnimmm.lifecycle.features import TransactionTable
from omnimmm.lifecycle.incrementality import Effect, _design, _window_outcomes, aipw_att, pool

__all__ = ["has_control_group", "segment_values_aipw"]

#: Fewer contacted customers than this in a (send, segment) leave it out.
MIN_TREATED = 10


def has_control_group(campaigns: pd.DataFrame, treated_col: str = "treated") -> bool:
    """Whether the history marks a randomised control group (some rows not treated)."""
    if treated_col not in campaigns.columns:
        return False
    flag = campaigns[treated_col].astype(str).str.strip().str.lower()
    return bool(flag.isin(("false", "0", "f", "no")).any())


def segment_values_aipw(
    t: TransactionTable,
    campaigns: pd.DataFrame,
    *,
    window_days: int = 30,
    seed: int = 0,
    folds: int = 2,
    label: str = "campaign file",
) -> pd.DataFrame:
    """Incremental revenue per contacted customer of each segment, by AIPW.

    Parameters
    ----------
    t
        Loaded transactions (the same customer ids as ``campaigns``).
    campaigns
        One row per contacted customer and send: ``customer_id``, ``sent_at``, ``segment``,
        optional ``campaign_id``; rows with ``treated`` false are not allowed here.
    window_days
        Days after the send in which spend counts.

    Returns
    -------
    pandas.DataFrame
        ``segment, n_treated, value_per_contact_mean, value_per_contact_sd, sends, method``.

    Raises
    ------
    DataError
        Missing columns, unparsable send times, or no segment with an estimable send.
    """
    for col in ("customer_id", "sent_at", "segment"):
        if col not in campaigns.columns:
            raise DataError(f"{label}: no column '{col}'; columns found: {list(campaigns.columns)}")
    c = campaigns.copy()
    sent = pd.to_datetime(c["sent_at"], errors="coerce")
    if sent.isna().any():
        row = int(sent.isna().to_numpy().nonzero()[0][0])
        raise DataError(
            f"{label}: sent_at row {row + 2} ({c['sent_at'].iloc[row]!r}) is not a date"
        )
    c["day"] = sent.dt.normalize()
    c["send"] = c["campaign_id"].astype(str) if "campaign_id" in c.columns else c["day"].astype(str)
    c["customer_id"] = c["customer_id"].astype(str)
    effects: dict[str, list[Effect]] = {}
    for _, rows in c.groupby("send", sort=True):
        start = rows["day"].min()
        if start - pd.Timedelta(days=30) < t.start.normalize():
            continue  # no history to compare on before the first sends
        reached = set(rows["customer_id"])
        X, ids, _ = _design(t, start - pd.Timedelta(days=1), set(), set(), False)
        spend, _ = _window_outcomes(t, ids, start, start + pd.Timedelta(days=window_days))
        for seg, part in rows.groupby(rows["segment"].astype(str), sort=True):
            targeted = set(part["customer_id"])
            if len(targeted) < MIN_TREATED:
                continue
            # customers reached in another segment of the send are in neither arm
            keep = ~ids.isin(reached - targeted).to_numpy()
            treated = ids.isin(targeted).to_numpy() & keep
            if treated.sum() < MIN_TREATED or (keep & ~treated).sum() < MIN_TREATED:
                continue
            eff, _ = aipw_att(X[keep].reset_index(drop=True), spend[keep], treated[keep],
                              folds=folds, seed=seed)  # fmt: skip
            effects.setdefault(str(seg), []).append(eff)
    if not effects:
        raise DataError(
            f"{label}: no send has {MIN_TREATED}+ contacted customers of one segment with "
            "30 days of history before it, so the value of a retention contact cannot be "
            "estimated without a control group"
        )
    out = []
    for seg, items in sorted(effects.items()):
        e = pool(items)
        out.append({
            "segment": seg, "n_treated": e.n_treated, "value_per_contact_mean": e.mean,
            "value_per_contact_sd": e.se, "sends": len(items),
            "method": "AIPW (no control group)",
        })  # fmt: skip
    return pd.DataFrame(out)
