"""Complete Journey (real, CC0): direct-mail campaigns and coupon redemptions give a
benefit-usage table and the KPI board renders."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from omnimmm.journeys.board import kpi_board

CJ = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "completejourney"
pytestmark = pytest.mark.skipif(not (CJ / "campaigns.csv").is_file(), reason="no Complete Journey")


def test_complete_journey_benefit_usage_and_board(tmp_path: Path) -> None:
    desc = pd.read_csv(CJ / "campaign_descriptions.csv")
    camp = pd.read_csv(CJ / "campaigns.csv").merge(desc, on="campaign_id")
    touches = pd.DataFrame({
        "customer_id": camp["household_id"].astype(str),
        "ts": camp["start_date"],
        "channel": "direct_mail_" + camp["campaign_type"].str.replace("Type ", "").str.lower(),
        "campaign": camp["campaign_id"].astype(str),
    })  # fmt: skip
    tx = pd.read_csv(CJ / "transactions_sample.csv")
    baskets = tx.groupby(["household_id", "basket_id"], as_index=False).agg(
        ts=("transaction_timestamp", "min"), value=("sales_value", "sum")
    )
    conversions = pd.DataFrame({"customer_id": baskets["household_id"].astype(str),
                                "ts": baskets["ts"], "value": baskets["value"],
                                "channel": "store"})  # fmt: skip
    red = pd.read_csv(CJ / "coupon_redemptions.csv")
    redemptions = pd.DataFrame({"customer_id": red["household_id"].astype(str),
                                "ts": red["redemption_date"],
                                "campaign": red["campaign_id"].astype(str)})  # fmt: skip
    res = kpi_board(touches, conversions, tmp_path / "board", redemptions=redemptions)
    usage = res.kpis[res.kpis.kpi == "benefit_usage"]
    assert usage["channel"].nunique() >= 20  # campaigns with recipients
    assert usage["denominator"].sum() == len(camp.drop_duplicates(["campaign_id", "household_id"]))
    assert (
        0
        < usage["numerator"].sum()
        <= red.drop_duplicates(["campaign_id", "household_id"]).shape[0]
    )
    assert ((usage.value >= 0) & (usage.value <= 1)).all()
    html = (tmp_path / "board" / "board.html").read_text()
    assert "<svg" in html and "benefit usage" in html.lower()
    for name in ("kpis.csv", "kpis.xlsx", "flags.csv"):
        assert (tmp_path / "board" / name).stat().st_size > 0
    # usage below 20% is flagged for review
    low = usage[usage.value < 0.2]
    assert (res.flags.kpi == "benefit_usage").sum() == len(low)
