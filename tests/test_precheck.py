"""Media pre-check: VIF and correlation flags on spends with a known dependence structure."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from omnimmm.errors import DataError
from omnimmm.mmm.precheck import precheck_spend


def _independent(n: int = 156, k: int = 4, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(rng.gamma(2.0, 1000.0, size=(n, k)), columns=[f"ch{i}" for i in range(k)])


def test_independent_channels_pass_with_vif_near_one():
    result = precheck_spend(_independent())
    assert result.ok
    assert result.vif.max() < 1.2
    assert result.collinear_pairs == () and result.high_vif == ()
    assert "no collinear" in result.message()


def test_vif_flags_a_near_linear_combination_and_not_the_independent_channel():
    spend = _independent(k=3)
    rng = np.random.default_rng(1)
    # "combo" is 0.5 * ch0 + 0.5 * ch1 plus 2% noise: no pair exceeds |r| = 0.8 by much,
    # but together ch0 and ch1 explain it almost perfectly.
    spend["combo"] = 0.5 * spend["ch0"] + 0.5 * spend["ch1"] + rng.normal(0, 20.0, len(spend))
    result = precheck_spend(spend, corr_threshold=0.9)
    assert result.collinear_pairs == ()
    assert "combo" in result.high_vif
    assert result.vif["combo"] > 100
    assert "ch2" not in result.collinear_channels
    assert result.vif["ch2"] < 1.2
    assert set(result.vif_partners["combo"]) == {"ch0", "ch1"}
    msg = result.message()
    assert "'combo' is nearly a linear combination of" in msg
    assert "merge the channels" in msg and "lift test" in msg and "longer data" in msg


def test_vif_equals_one_over_one_minus_r_squared_of_the_auxiliary_regression():
    spend = _independent(k=3, seed=3)
    spend["ch2"] += 0.7 * spend["ch0"]
    result = precheck_spend(spend)
    x = np.column_stack([np.ones(len(spend)), spend[["ch0", "ch1"]]])
    y = spend["ch2"].to_numpy()
    resid = y - x @ np.linalg.lstsq(x, y, rcond=None)[0]
    r2 = 1 - resid.var() / y.var()
    assert result.vif["ch2"] == pytest.approx(1 / (1 - r2), rel=1e-9)


def test_correlated_pair_is_flagged_with_its_correlation_and_threshold_is_a_parameter():
    spend = _independent(k=3, seed=4)
    rng = np.random.default_rng(5)
    spend["radio"] = spend["ch0"] * 0.3 + rng.normal(0, 120.0, len(spend))
    result = precheck_spend(spend)
    (a, b, r) = result.collinear_pairs[0]
    assert {a, b} == {"ch0", "radio"}
    assert r == pytest.approx(spend["ch0"].corr(spend["radio"]))
    assert "'ch0' and 'radio' move together" in result.message()
    assert precheck_spend(spend, corr_threshold=0.99, vif_threshold=1000).ok


def test_exact_combination_gives_infinite_vif():
    spend = _independent(k=2)
    spend["sum"] = spend["ch0"] + spend["ch1"]
    result = precheck_spend(spend)
    assert np.isinf(result.vif["sum"])
    assert "VIF inf" in result.message()


def test_zero_share_sparse_and_constant_channels():
    spend = _independent(n=100, k=2)
    spend["flight"] = 0.0
    spend.loc[:9, "flight"] = 500.0
    spend["sponsorship"] = 1000.0
    result = precheck_spend(spend)
    assert result.zero_share["flight"] == pytest.approx(0.9)
    assert result.zero_share["ch0"] == 0.0
    assert result.sparse_channels == ("flight",)
    assert result.constant_channels == ("sponsorship",)
    assert np.isnan(result.vif["sponsorship"])
    assert not result.ok
    assert "'flight' has no spend in 90% of weeks" in result.message()
    assert "'sponsorship' spends the same amount every week" in result.message()
    table = result.table()
    assert table.loc["flight", "sparse"] and not table.loc["ch0", "collinear"]


def test_missing_values_and_too_few_weeks_are_data_errors():
    spend = _independent(n=20, k=3)
    spend.loc[4, "ch1"] = np.nan
    with pytest.raises(DataError, match="'ch1' has 1 missing"):
        precheck_spend(spend)
    with pytest.raises(DataError, match="too few"):
        precheck_spend(_independent(n=4, k=3))
