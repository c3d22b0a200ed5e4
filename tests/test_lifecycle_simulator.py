"""The customer simulator: seeded, truth kept, messy identities, randomised campaigns, and
acquisition that follows media spend."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from omnimmm.data.simulate_customers import CustomerParams, simulate_customers
from omnimmm.errors import PlanError

START, END = "2024-01-01", "2025-06-29"


@pytest.fixture(scope="module")
def world():
    return simulate_customers(n_customers=1500, seed=11, start=START, end=END)


def test_same_seed_same_world_and_truth_aligned(world):
    again = simulate_customers(n_customers=1500, seed=11, start=START, end=END)
    pd.testing.assert_frame_equal(world.transactions, again.transactions)
    pd.testing.assert_frame_equal(world.campaigns, again.campaigns)
    other = simulate_customers(n_customers=1500, seed=12, start=START, end=END)
    assert not world.transactions["amount"].equals(other.transactions["amount"])
    assert world.truth.transactions_person.index.equals(world.transactions.index)
    assert world.truth.transactions_person.nunique() == 1500


def test_identities_are_fragmented_and_messy(world):
    tx = world.transactions
    phones = tx["phone"].dropna()
    assert phones.str.startswith("+86").any() and phones.str.contains(" ").any()
    assert phones.str.contains("-").any()
    emails = tx["email"].dropna()
    assert emails.str.contains("[A-Z]").any() and emails.str.contains(r"\s").any()
    assert set(tx["source"]) == {"app", "store"}
    persons = world.truth.persons
    assert 0.0 < persons["unlinked"].mean() < 0.3


def test_campaigns_have_a_random_control_group(world):
    c = world.campaigns
    share = c["treated"].mean()
    assert abs(share - CustomerParams().treat_share) < 0.03
    assert set(c["segment"]) == {"active", "at_risk", "lapsed"}
    # randomised: the control group looks like the treated group before the send
    by = c.groupby("treated")["segment"].value_counts(normalize=True).unstack()
    assert (by.loc[True] - by.loc[False]).abs().max() < 0.05
    assert (c.loc[~c["treated"], "coupon_value"] == 0).all()


def test_churn_follows_recency(world):
    p = CustomerParams()
    fresh, stale = p.hazard(1, 0.0, False, 1.0), p.hazard(20, 0.0, False, 1.0)
    assert stale > 2 * fresh
    churned = world.truth.persons["churned_at"].notna().mean()
    assert 0.2 < churned < 0.95


def test_acquisition_follows_media_spend():
    weeks = pd.date_range(START, END, freq="7D")
    spend = np.where(np.arange(len(weeks)) % 2 == 0, 300.0, 100.0)
    w = simulate_customers(n_customers=3000, seed=1, start=START, end=END, acquisition=spend)
    week = (w.truth.persons["acquired_at"] - pd.Timestamp(START)).dt.days // 7
    high, low = (week % 2 == 0).sum(), (week % 2 == 1).sum()
    assert high > 2 * low


def test_bad_arguments_are_named():
    with pytest.raises(PlanError, match="n_customers"):
        simulate_customers(n_customers=0)
    with pytest.raises(PlanError, match="fewer than 8 weeks"):
        simulate_customers(n_customers=10, start="2024-01-01", end="2024-01-20")
