"""Baseline forecasts: oracles on series whose best forecast is known in closed form."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from omnimmm.errors import DataError
from omnimmm.mmm.baselines import (
    bias,
    ets_forecast,
    holdout_baselines,
    holdout_forecasts,
    mape,
    rmse,
    seasonal_naive_forecast,
    smape,
)


def _weekly(values: dict[str, np.ndarray]) -> pd.DataFrame:
    n = len(next(iter(values.values())))
    return pd.DataFrame(values, index=pd.date_range("2021-01-03", periods=n, freq="W-SUN"))


def _periodic(n: int, seed: int = 0) -> np.ndarray:
    season = np.random.default_rng(seed).uniform(50.0, 150.0, size=52)
    return np.tile(season, n // 52 + 1)[:n]


def test_metrics_match_hand_computation():
    a = np.array([100.0, 200.0, 0.0, 50.0])
    f = np.array([110.0, 150.0, 5.0, 50.0])
    # The zero actual has no percentage error and is skipped.
    assert mape(a, f) == pytest.approx((0.1 + 0.25 + 0.0) / 3)
    assert smape(a, f) == pytest.approx(np.mean([20 / 210, 100 / 350, 2.0, 0.0]))
    assert rmse(a, f) == pytest.approx(np.sqrt((100 + 2500 + 25 + 0) / 4))
    # Bias is the signed error of the total: (110 + 150 + 5 + 50) / 350 - 1.
    assert bias(a, f) == pytest.approx(315 / 350 - 1)
    assert bias([100.0, 100.0], [150.0, 50.0]) == 0.0  # week-to-week misses cancel
    assert np.isnan(bias([0.0, 0.0], [1.0, 2.0]))
    assert np.isnan(mape([0.0, 0.0], [1.0, 2.0]))
    with pytest.raises(ValueError, match="3 values but forecast has 2"):
        mape([1, 2, 3], [1, 2])


def test_seasonal_naive_is_exact_on_a_pure_52_week_cycle():
    y = _periodic(3 * 52 + 10)
    scores = holdout_baselines(_weekly({"revenue": y}), holdout_weeks=26)
    naive = scores.set_index("method").loc["seasonal_naive"]
    assert naive["variant"] == "seasonal 52"
    assert naive["mape"] < 1e-12
    assert naive["rmse"] < 1e-9
    assert abs(naive["bias"]) < 1e-12


def test_seasonal_naive_cycles_the_last_season_beyond_one_year():
    history = np.arange(60.0)
    fc = seasonal_naive_forecast(history, horizon=60)
    expected = np.concatenate([history[8:60], history[8:16]])
    np.testing.assert_array_equal(fc.values, expected)


def test_seasonal_naive_falls_back_to_last_value_on_short_history():
    fc = seasonal_naive_forecast(np.array([3.0, 4.0, 7.0]), horizon=5)
    assert fc.variant == "last value"
    np.testing.assert_array_equal(fc.values, np.full(5, 7.0))


def test_ets_tracks_trend_plus_season_and_beats_seasonal_naive_there():
    n = 3 * 52
    t = np.arange(n + 26, dtype=float)
    season = 20.0 * np.sin(2 * np.pi * t / 52)
    y = 500.0 + 2.0 * t + season
    scores = holdout_baselines(_weekly({"revenue": y}), holdout_weeks=26).set_index("method")
    assert scores.loc["ets", "variant"] == "damped trend + seasonal 52"
    # Seasonal naive misses exactly one year of trend (2 * 52 = 104 per week).
    assert scores.loc["seasonal_naive", "rmse"] == pytest.approx(104.0)
    assert scores.loc["ets", "mape"] < 0.02
    assert scores.loc["ets", "rmse"] < scores.loc["seasonal_naive", "rmse"] / 3


def test_ets_without_two_seasons_drops_seasonality_and_follows_a_line():
    y = 100.0 + 3.0 * np.arange(60, dtype=float)
    fc = ets_forecast(y, horizon=4)
    assert fc.variant == "damped trend"
    np.testing.assert_allclose(fc.values, 100.0 + 3.0 * np.arange(60, 64), rtol=0.02)
    assert ets_forecast(np.array([5.0, 6.0, 5.5]), 2).variant == "level only"


def test_one_row_per_method_and_outcome_scored_on_holdout_only():
    y1, y2 = _periodic(130, seed=1), _periodic(130, seed=2)
    y2[-13:] *= 1.5  # a shock inside the holdout: seasonal naive must pay for it
    outcomes = _weekly({"online_revenue": y1, "offline_revenue": y2})
    scores = holdout_baselines(outcomes, holdout_weeks=13)
    assert len(scores) == 4
    assert set(scores["outcome"]) == {"online_revenue", "offline_revenue"}
    assert (scores["train_weeks"] == 117).all()
    by = scores.set_index(["method", "outcome"])
    assert by.loc[("seasonal_naive", "online_revenue"), "mape"] < 1e-12
    assert by.loc[("seasonal_naive", "offline_revenue"), "mape"] == pytest.approx(1 / 3)
    fc = holdout_forecasts(outcomes, holdout_weeks=13)
    assert fc["date"].min() == outcomes.index[-13]
    assert len(fc) == 4 * 13


def test_bad_inputs_raise_data_errors_that_say_what_is_wrong():
    y = _periodic(80)
    with pytest.raises(DataError, match="DatetimeIndex"):
        holdout_baselines(pd.DataFrame({"revenue": y}), 10)
    with pytest.raises(DataError, match="holdout_weeks=79"):
        holdout_baselines(_weekly({"revenue": y}), 79)
    broken = y.copy()
    broken[5] = np.nan
    with pytest.raises(DataError, match=r"'revenue' has 1 missing.*2021-02-07"):
        holdout_baselines(_weekly({"revenue": broken}), 10)
