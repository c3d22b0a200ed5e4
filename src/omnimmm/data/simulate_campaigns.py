"""Seeded purchase logs with targeted or randomised campaigns whose effects are known.

For the incrementality estimator (:mod:`omnimmm.lifecycle.incrementality`). Each person buys
as a Poisson process with a gamma-distributed weekly rate while alive (a constant weekly
dropout), spending gamma-distributed amounts around their own basket size. Campaigns run one
after another, each ``window_days`` long:

* **targeted** (``randomised=False``): the business draws the target list
  ``list_lead_days`` before the start from behaviour up to then, with probability
  ``expit(b0 + b_orders * log1p(orders in the 8 weeks before the list) + b_basket * z)``
  (``z`` = standardised log of the person's average order value so far), so targeted people
  would have bought more anyway: a naive targeted-vs-untargeted comparison is biased upwards.
  The business sees what the log shows (every order before the list, earlier campaigns'
  extra orders included), so targeting is ignorable given the purchase history, the
  assumption under which AIPW is unbiased. With ``hidden_basket=True`` it scores the
  person's latent basket size instead (an unobserved confounder: spend depends on it, and
  the average order value measures it with noise), the case a placebo test is there to
  catch;
* **randomised**: the same behavioural selection, then a random ``holdout_share`` of the
  selected is kept as a control group (``treated`` false).

During its window a campaign multiplies a treated person's purchase rate by ``1 + lift``.
Both potential outcomes of every treated person are simulated with the same random numbers
(the extra orders are drawn on top of the ones they would have made), so the truth is each
person's realised effect: ``truth`` holds the mean incremental spend and visits per treated
customer for every campaign.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.special import expit

__all__ = ["CampaignWorld", "simulate_campaign_world"]


@dataclass(frozen=True)
class CampaignWorld:
    """``transactions`` (customer_id, ts, amount, order_id), ``campaigns`` (campaign_id,
    customer_id, treated), ``descriptions`` (campaign_id, campaign_type, start_date,
    end_date) and ``truth`` (campaign_id, campaign_type, lift, att_spend, att_visits,
    n_treated)."""

    transactions: pd.DataFrame
    campaigns: pd.DataFrame
    descriptions: pd.DataFrame
    truth: pd.DataFrame


def simulate_campaign_world(
    n_customers: int = 3000,
    seed: int = 0,
    *,
    start: str = "2024-01-01",
    days: int = 420,
    campaign_starts: tuple[int, ...] = (180, 240, 300, 360),
    window_days: int = 28,
    lifts: tuple[float, ...] = (0.5, 0.0, 0.3, 0.8),
    randomised: bool = False,
    holdout_share: float = 0.3,
    b0: float = -2.0,
    b_orders: float = 1.2,
    b_basket: float = 0.5,
    weekly_dropout: float = 0.01,
    list_lead_days: int = 28,
    hidden_basket: bool = False,
) -> CampaignWorld:
    """Simulate a purchase log with campaigns (see the module docstring).

    Campaign ``k`` starts ``campaign_starts[k]`` days after ``start`` with lift ``lifts[k]``;
    its type is ``"Type A"``, ``"Type B"``, ... in order (one campaign per type here).
    """
    if len(campaign_starts) != len(lifts):
        raise ValueError("campaign_starts and lifts need the same length")
    rng = np.random.default_rng(seed)
    n = n_customers
    rate = rng.gamma(1.5, 0.25, n) / 7.0  # orders per day
    basket = np.exp(rng.normal(3.5, 0.4, n))
    life = rng.geometric(weekly_dropout / 7.0, n).astype(float)  # days alive
    first = rng.uniform(0, days * 0.6, n)
    death = first + life
    # base orders: a Poisson process on [first, min(death, days)) per person
    span = np.clip(np.minimum(death, days) - first, 0, None)
    counts = rng.poisson(rate * span)
    who = np.repeat(np.arange(n), counts)
    when = first[who] + rng.uniform(0, 1, counts.sum()) * span[who]
    who = np.concatenate([np.arange(n), who])  # everyone's first order
    when = np.concatenate([first, when])
    amount = rng.gamma(4.0, basket[who] / 4.0)
    rows = [pd.DataFrame({"person": who, "day": when, "amount": amount})]

    camp_rows, desc_rows, truth_rows = [], [], []
    for k, (s, lift) in enumerate(zip(campaign_starts, lifts, strict=True)):
        e = s + window_days
        listed = s - list_lead_days  # the target list is drawn from behaviour before this day
        seen = pd.concat(rows, ignore_index=True)  # the log so far, earlier campaigns' orders in
        seen = seen[seen["day"] < listed]
        recent = np.bincount(seen["person"][seen["day"] >= listed - 56], minlength=n)
        known = first < listed  # everyone known has an order (the first) before the list
        if hidden_basket:
            z = (np.log(basket) - 3.5) / 0.4
        else:
            orders = np.bincount(seen["person"], minlength=n)
            spent = np.bincount(seen["person"], weights=seen["amount"], minlength=n)
            aov = np.where(orders > 0, spent / np.maximum(orders, 1), np.exp(3.5))
            z = (np.log(aov) - 3.5) / 0.4
        score = expit(b0 + b_orders * np.log1p(recent) + b_basket * z)
        selected = known & (rng.uniform(size=n) < score)
        held = rng.uniform(size=n) < holdout_share if randomised else np.zeros(n, bool)
        treated = selected & ~held
        # extra orders of the treated while alive in the window: the campaign's effect
        alive_span = np.clip(np.minimum(death, e) - np.maximum(first, s), 0, None)
        extra = rng.poisson(rate * lift * alive_span) * treated
        ew = np.repeat(np.arange(n), extra)
        ed = np.maximum(first[ew], s) + rng.uniform(0, 1, extra.sum()) * alive_span[ew]
        ea = rng.gamma(4.0, basket[ew] / 4.0)
        rows.append(pd.DataFrame({"person": ew, "day": ed, "amount": ea}))
        cid = f"C{k + 1}"
        kind = f"Type {chr(ord('A') + k)}"
        ids = np.flatnonzero(selected)
        camp_rows.append(
            pd.DataFrame(
                {
                    "campaign_id": cid,
                    "customer_id": [f"P{i:06d}" for i in ids],
                    "treated": treated[ids],
                }
            )  # fmt: skip
        )
        day0 = pd.Timestamp(start)
        desc_rows.append({
            "campaign_id": cid, "campaign_type": kind,
            "start_date": (day0 + pd.Timedelta(days=s)).date().isoformat(),
            "end_date": (day0 + pd.Timedelta(days=e - 1)).date().isoformat(),
        })  # fmt: skip
        n_t = int(treated.sum())
        spend_extra = np.bincount(ew, weights=ea, minlength=n)
        truth_rows.append({
            "campaign_id": cid, "campaign_type": kind, "lift": lift,
            "att_spend": float(spend_extra[treated].sum() / max(n_t, 1)),
            "att_visits": float(extra[treated].sum() / max(n_t, 1)),
            "n_treated": n_t,
        })  # fmt: skip
    log = pd.concat(rows, ignore_index=True)
    log = log[log["day"] < days].sort_values(["day", "person"], kind="stable")
    ts = pd.Timestamp(start) + pd.to_timedelta(log["day"].to_numpy(), unit="D")
    tx = pd.DataFrame({
        "customer_id": [f"P{i:06d}" for i in log["person"]],
        "ts": ts.floor("s"),
        "amount": log["amount"].round(2).to_numpy(),
    }).reset_index(drop=True)  # fmt: skip
    tx["order_id"] = [f"O{i:08d}" for i in range(len(tx))]
    return CampaignWorld(
        tx,
        pd.concat(camp_rows, ignore_index=True),
        pd.DataFrame(desc_rows),
        pd.DataFrame(truth_rows),
    )
