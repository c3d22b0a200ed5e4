"""Retention value per segment without a control group: AIPW in the joint budget."""

from __future__ import annotations

import pandas as pd
import pytest

from omnimmm.data.simulate_customers import simulate_customers
from omnimmm.lifecycle.features import ColumnMap, load_transactions
from omnimmm.lifecycle.incrementality import _window_outcomes, difference_in_means, pool
from omnimmm.lifecycle.segment_effects import has_control_group, segment_values_aipw
from omnimmm.optimize import segments_from_table


@pytest.fixture(scope="module")
def world():
    w = simulate_customers(1500, start="2023-01-02", end="2024-06-30", seed=7)
    tx = w.transactions.assign(customer_id=w.truth.transactions_person.to_numpy())
    camp = w.campaigns.assign(customer_id=w.truth.campaign_outcomes["person_id"].to_numpy())
    t = load_transactions(tx[["customer_id", "ts", "amount", "order_id", "channel"]],
                          columns=ColumnMap())  # fmt: skip
    return t, camp


def _randomised(t, camp, seg):
    effects = []
    for _, rows in camp[camp["segment"] == seg].groupby("campaign_id"):
        start = pd.Timestamp(rows["sent_at"].min()).normalize()
        if start - pd.Timedelta(days=30) < t.start.normalize():
            continue
        ids = rows["customer_id"].astype(str).reset_index(drop=True)
        spend, _ = _window_outcomes(t, ids, start, start + pd.Timedelta(days=30))
        effects.append(difference_in_means(spend, rows["treated"].to_numpy()))
    return pool(effects)


def test_run_stage_uses_aipw_when_the_history_has_no_control_group(world, tmp_path):
    from types import SimpleNamespace

    from omnimmm.run.stages.lifecycle import _segment_economics

    t, camp = world
    assert has_control_group(camp)
    contacted = camp[camp["treated"]].drop(columns=["treated"])
    assert not has_control_group(contacted)
    path = tmp_path / "campaigns.csv"
    contacted[["campaign_id", "customer_id", "sent_at", "segment"]].to_csv(path, index=False)
    lc = SimpleNamespace(campaigns=path, contact_cost=2.0)
    stages = {"active": 500, "at_risk": 300, "lapsed": 200, "new": 50}
    values = _segment_economics(lc, "unused", None, stages, t, 0)
    assert set(values["segment"]) <= {"active", "at_risk", "lapsed"} and len(values) >= 2
    assert (values["method"] == "AIPW (no control group)").all()
    assert (values["n_eligible"] == values["segment"].map(stages)).all()
    for _, row in values.iterrows():
        truth = _randomised(t, camp, row["segment"])  # same data, control group used
        gap = abs(row["value_per_contact_mean"] - truth.mean)
        assert gap < 2.58 * (row["value_per_contact_sd"] ** 2 + truth.se**2) ** 0.5
    assert len(segments_from_table(values)) == len(values)


def test_a_history_without_send_times_is_refused(world):
    t, camp = world
    bad = camp[camp["treated"]].drop(columns=["treated"]).assign(sent_at="soon")
    with pytest.raises(Exception, match="sent_at row 2"):
        segment_values_aipw(t, bad)


def test_run_report_has_the_campaign_table_by_type(world, tmp_path):
    from types import SimpleNamespace

    from omnimmm.report.benefits import campaign_rows
    from omnimmm.report.result import RunResult
    from omnimmm.run.stages.lifecycle import _campaign_types

    t, camp = world
    path = tmp_path / "campaigns.csv"
    camp[["customer_id", "sent_at", "segment", "treated"]].to_csv(path, index=False)
    said: list[str] = []
    table = _campaign_types(SimpleNamespace(campaigns=path), t, 0, said.append)
    assert set(table["type"]) <= {"active", "at_risk", "lapsed"} and len(table) >= 2
    assert table["method"].str.contains("randomised holdout").all()
    assert (table["spend_low"] <= table["spend_mean"]).all()
    assert table["placebo_mean"].notna().any()
    rows = campaign_rows(RunResult({}, {}, {}, {}, {}, {}, tables={"lifecycle_campaigns": table}))
    assert [r["type"] for r in rows] == list(table["type"])
    assert all(r["placebo_covers_zero"] in ("yes", "no", "") for r in rows)
    assert rows[0]["spend"].count("[") == 1
