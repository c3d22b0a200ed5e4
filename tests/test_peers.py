"""Peer dataset adapters: each writes a plan and panel omnimmm validates, mapped as documented.

The datasets live beside the repository in ``../shared/data`` (CI has them there); without
that folder these tests are skipped.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from omnimmm.config import load_plan
from omnimmm.data import load_panel
from omnimmm.data.peers import (
    meridian_national,
    pymc_marketing_example,
    real_retailer,
    robyn_simulated,
    truth_roi_from_contributions,
)
from omnimmm.errors import DataError

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data"
pytestmark = pytest.mark.skipif(
    not SHARED.is_dir(), reason=f"peer datasets not found at {SHARED} (../shared/data)"
)


def _roundtrip(dataset, tmp_path):
    dataset.write(tmp_path)
    plan = load_plan(tmp_path / "plan.toml")
    return plan, load_panel(plan)


def test_real_retailer_maps_ten_channels_by_kind_and_one_outcome(tmp_path):
    ds = real_retailer(SHARED / "real_retailer_weekly")
    plan, panel = _roundtrip(ds, tmp_path)
    assert panel.n_weeks == 209
    assert plan.data.outcomes == ("sales",)
    assert set(panel.online) == {"search", "social", "display", "digital_audio", "digital_video"}
    assert set(panel.offline) == {"tv", "radio", "direct_mail", "insert", "newspaper"}
    assert plan.festivals.calendar == "none"
    assert {"store_count", "markdown_pdm", "markdown_valadd"} <= set(plan.data.controls)
    # 22 holiday dummies, of which 3 duplicate another week-for-week: 19 events.
    assert len(plan.data.events) == 19 and "holiday_black_friday" in plan.data.events
    raw = pd.read_csv(SHARED / "real_retailer_weekly" / "data.csv")
    # Values pass through unchanged (spend and sales to the cent).
    np.testing.assert_allclose(panel.spend["tv"].to_numpy(), raw["mdsp_vidtr"], rtol=1e-9)
    np.testing.assert_allclose(panel.spend["search"].sum(), raw["mdsp_sem"].sum(), rtol=1e-9)
    np.testing.assert_allclose(panel.outcomes["sales"].to_numpy(), raw["sales"], rtol=1e-9)
    holidays = raw.filter(like="hldy_")
    assert (panel.controls[list(plan.data.events)].sum(axis=1) > 0).sum() == (
        holidays.sum(axis=1) > 0
    ).sum()


def test_pymc_marketing_truth_roi_is_the_sum_of_true_contributions_over_spend(tmp_path):
    folder = SHARED / "pymc_marketing_mmm_example"
    ds = pymc_marketing_example(folder)
    plan, panel = _roundtrip(ds, tmp_path)
    assert panel.n_weeks == 179 and plan.channel_names == ("x1", "x2")
    assert plan.channel("x1").adstock == "geometric" and plan.channel("x1").l_max == 8
    truth = pd.read_csv(tmp_path / "truth_roi.csv", index_col="channel")["roi"]
    # The published totals of PROVENANCE.md: 4967.8 and 2274.9 per unit of x.
    assert truth["x1"] == pytest.approx(4967.8, abs=0.05)
    assert truth["x2"] == pytest.approx(2274.9, abs=0.05)


def test_truth_roi_matches_the_documented_counterfactual():
    """Re-derive x1's contribution from the documented DGP and zero it out (DESIGN.md)."""
    gt = pd.read_csv(SHARED / "pymc_marketing_mmm_example" / "mmm_example_ground_truth.csv")

    def media(x, alpha, lam, beta):
        w = alpha ** np.arange(8)
        w = w / w.sum()
        ad = np.array([sum(w[k] * x[t - k] for k in range(8) if t >= k) for t in range(len(x))])
        return 1000.0 * beta * (1 - np.exp(-lam * ad)) / (1 + np.exp(-lam * ad))

    x1 = gt["x1"].to_numpy()
    with_spend, without = media(x1, 0.4, 4.0, 3.0), media(np.zeros_like(x1), 0.4, 4.0, 3.0)
    np.testing.assert_allclose(with_spend, gt["x1_contribution"], atol=1e-8)
    roi = truth_roi_from_contributions(gt, ["x1", "x2"])
    assert roi["x1"] == pytest.approx((with_spend - without).sum() / x1.sum(), rel=1e-12)


def test_robyn_and_meridian_convert_for_interop(tmp_path):
    plan, panel = _roundtrip(robyn_simulated(SHARED / "robyn_simulated_weekly"), tmp_path / "r")
    assert panel.n_weeks == 208
    assert set(panel.offline) == {"tv", "ooh", "print"}
    assert set(panel.online) == {"facebook", "search"}
    assert plan.data.events == ("event_event1", "event_event2")
    assert panel.controls[list(plan.data.events)].to_numpy().sum() == 2

    ds = meridian_national(SHARED / "meridian_national", kinds={"channel3": "offline"})
    plan, panel = _roundtrip(ds, tmp_path / "m")
    raw = pd.read_csv(SHARED / "meridian_national" / "national_all_channels.csv")
    assert panel.channels == [f"channel{i}" for i in range(5)]
    assert panel.offline == ["channel3"]
    np.testing.assert_allclose(
        panel.outcomes["revenue"].to_numpy(),
        raw["conversions"] * raw["revenue_per_conversion"],
        rtol=1e-9,
    )
    assert {"competitor_sales", "sentiment_score", "promo"} <= set(plan.data.controls)
    rf_plan, _ = _roundtrip(
        meridian_national(SHARED / "meridian_national", variant="media_rf"), tmp_path / "rf"
    )
    assert len(rf_plan.channels) == 4


def test_plan_can_point_at_data_elsewhere_and_errors_name_the_file(tmp_path):
    ds = robyn_simulated(SHARED / "robyn_simulated_weekly")
    ds.write(tmp_path / "data")
    written = ds.write(tmp_path / "plan", data_path="../data/world.csv")
    assert [p.name for p in written] == ["plan.toml"]
    assert load_panel(load_plan(tmp_path / "plan" / "plan.toml")).n_weeks == 208
    with pytest.raises(DataError, match=r"data\.csv: file not found"):
        real_retailer(tmp_path)
    with pytest.raises(DataError, match="unknown Meridian variant"):
        meridian_national(SHARED / "meridian_national", variant="geo")


@pytest.mark.parametrize(
    ("example", "adapter", "folder"),
    [
        ("real_retailer", real_retailer, "real_retailer_weekly"),
        ("pymc_marketing_example", pymc_marketing_example, "pymc_marketing_mmm_example"),
    ],
)
def test_shipped_examples_are_what_the_adapters_write(tmp_path, example, adapter, folder):
    shipped = Path(__file__).resolve().parents[1] / "examples" / example
    written = adapter(SHARED / folder).write(tmp_path)
    for path in written:
        assert (shipped / path.name).read_bytes() == path.read_bytes(), path.name
