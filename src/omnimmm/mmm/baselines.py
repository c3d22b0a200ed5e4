"""Classical baseline forecasts that every MMM holdout result is reported against.

A Bayesian MMM earns its keep only if it forecasts held-out weeks better than models that
know nothing about media. Two such baselines are computed per outcome, on the same split:

seasonal naive
    Each held-out week repeats the value of the same week one season (52 weeks) earlier,
    taken from the training data only; a holdout longer than a season cycles through the
    last observed season. With fewer than ``season_length`` training weeks there is no
    season to repeat, so the forecast falls back to the last observed value (plain naive);
    the ``variant`` column of :func:`holdout_baselines` says which one was used.
ETS
    statsmodels' Holt-Winters exponential smoothing (``ExponentialSmoothing``) with a
    damped additive trend and additive yearly seasonality when the training data cover at
    least two full seasons (two are needed to separate trend from season); with less, a
    damped additive trend without seasonality; with fewer than 10 weeks, simple exponential
    smoothing. Parameters are fitted by maximum likelihood on the training weeks only.

Accuracy is measured on the held-out weeks by MAPE, sMAPE (both as fractions: 0.05 means
5%), RMSE (in the outcome's units) and bias: how far the forecast's holdout total lies
from the actual total, signed (0.17 means the forecast runs 17% high). MAPE mixes week-to-week
misses with a level that is off; bias isolates the level.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd

from omnimmm.errors import DataError

__all__ = [
    "BaselineForecast",
    "accuracy",
    "bias",
    "ets_forecast",
    "holdout_baselines",
    "holdout_forecasts",
    "mape",
    "rmse",
    "seasonal_naive_forecast",
    "smape",
]

SEASON_WEEKS = 52
_MIN_TREND_WEEKS = 10


@dataclass(frozen=True)
class BaselineForecast:
    """Point forecast of one baseline method for one series.

    Attributes
    ----------
    values : numpy.ndarray
        Forecast for the ``horizon`` weeks after the history, in the series' units.
    variant : str
        Which form of the method was used (e.g. ``"seasonal 52"`` or ``"last value"``).
    """

    values: np.ndarray
    variant: str


def _as_arrays(actual: object, forecast: object) -> tuple[np.ndarray, np.ndarray]:
    a = np.asarray(actual, dtype=float).ravel()
    f = np.asarray(forecast, dtype=float).ravel()
    if a.shape != f.shape:
        raise ValueError(f"actual has {a.size} values but forecast has {f.size}")
    if a.size == 0:
        raise ValueError("cannot score an empty forecast")
    return a, f


def mape(actual: object, forecast: object) -> float:
    """Mean absolute percentage error, as a fraction (0.05 means 5%).

    Weeks whose actual value is zero have no percentage error and are left out; if every
    actual value is zero the result is NaN.

    Parameters
    ----------
    actual, forecast : array-like
        Observed and predicted values of the same length.

    Returns
    -------
    float
        ``mean(|actual - forecast| / |actual|)`` over weeks with a non-zero actual.
    """
    a, f = _as_arrays(actual, forecast)
    keep = a != 0
    if not keep.any():
        return float("nan")
    return float(np.mean(np.abs(a[keep] - f[keep]) / np.abs(a[keep])))


def smape(actual: object, forecast: object) -> float:
    """Symmetric MAPE, as a fraction in [0, 2]: ``mean(2|a - f| / (|a| + |f|))``.

    Weeks where actual and forecast are both zero count as a perfect forecast.
    """
    a, f = _as_arrays(actual, forecast)
    denom = np.abs(a) + np.abs(f)
    ratio = np.divide(2.0 * np.abs(a - f), denom, out=np.zeros_like(a), where=denom > 0)
    return float(np.mean(ratio))


def rmse(actual: object, forecast: object) -> float:
    """Root mean squared error, in the units of the series."""
    a, f = _as_arrays(actual, forecast)
    return float(np.sqrt(np.mean((a - f) ** 2)))


def bias(actual: object, forecast: object) -> float:
    """Signed error of the forecast's total, as a fraction of the actual total.

    ``sum(forecast) / sum(actual) - 1``: positive when the forecast runs high. NaN when the
    actual values sum to zero.
    """
    a, f = _as_arrays(actual, forecast)
    total = a.sum()
    if total == 0:
        return float("nan")
    return float(f.sum() / total - 1.0)


def accuracy(actual: object, forecast: object) -> dict[str, float]:
    """``mape``, ``smape``, ``rmse`` and ``bias`` of one forecast (see each function)."""
    return {
        "mape": mape(actual, forecast),
        "smape": smape(actual, forecast),
        "rmse": rmse(actual, forecast),
        "bias": bias(actual, forecast),
    }


def _check_history(history: np.ndarray, horizon: int) -> None:
    if horizon < 1:
        raise ValueError(f"horizon must be at least 1 week, got {horizon}")
    if history.size == 0:
        raise DataError("cannot forecast from an empty history")
    if not np.all(np.isfinite(history)):
        raise DataError("the history to forecast from contains missing or infinite values")


def seasonal_naive_forecast(
    history: object, horizon: int, season_length: int = SEASON_WEEKS
) -> BaselineForecast:
    """Repeat the last observed season; fall back to the last value with a shorter history.

    Parameters
    ----------
    history : array-like
        Training values in time order, one per week.
    horizon : int
        Number of weeks to forecast.
    season_length : int, default 52
        Weeks per season.

    Returns
    -------
    BaselineForecast
        ``values[h] = history[T - season_length + (h mod season_length)]`` with ``T`` the
        length of the history (variant ``"seasonal <season_length>"``), or
        ``history[-1]`` repeated when ``T < season_length`` (variant ``"last value"``).
    """
    y = np.asarray(history, dtype=float).ravel()
    _check_history(y, horizon)
    if y.size < season_length:
        return BaselineForecast(np.full(horizon, y[-1]), "last value")
    last_season = y[-season_length:]
    values = last_season[np.arange(horizon) % season_length]
    return BaselineForecast(values.copy(), f"seasonal {season_length}")


def ets_forecast(
    history: object, horizon: int, season_length: int = SEASON_WEEKS
) -> BaselineForecast:
    """Holt-Winters exponential smoothing fitted on the history, then forecast.

    Parameters
    ----------
    history : array-like
        Training values in time order, one per week.
    horizon : int
        Number of weeks to forecast.
    season_length : int, default 52
        Weeks per season; yearly seasonality needs ``2 * season_length`` weeks of history.

    Returns
    -------
    BaselineForecast
        Variant ``"damped trend + seasonal <m>"``, ``"damped trend"`` or ``"level only"``
        depending on the history length (see the module docstring).
    """
    from statsmodels.tsa.holtwinters import ExponentialSmoothing

    y = np.asarray(history, dtype=float).ravel()
    _check_history(y, horizon)
    if y.size >= 2 * season_length:
        kwargs = {
            "trend": "add",
            "damped_trend": True,
            "seasonal": "add",
            "seasonal_periods": season_length,
        }
        variant = f"damped trend + seasonal {season_length}"
    elif y.size >= _MIN_TREND_WEEKS:
        kwargs = {"trend": "add", "damped_trend": True}
        variant = "damped trend"
    elif y.size >= 2:
        kwargs = {}
        variant = "level only"
    else:
        return BaselineForecast(np.full(horizon, y[-1]), "last value")
    with warnings.catch_warnings():
        # statsmodels warns about optimizer convergence on short or flat series; the
        # forecast is still the best it found, and the score reports how good that is.
        warnings.simplefilter("ignore")
        fitted = ExponentialSmoothing(y, initialization_method="estimated", **kwargs).fit()
        values = np.asarray(fitted.forecast(horizon), dtype=float)
    return BaselineForecast(values, variant)


_METHODS = {"seasonal_naive": seasonal_naive_forecast, "ets": ets_forecast}


def _validate_outcomes(outcomes: pd.DataFrame, holdout_weeks: int) -> None:
    if not isinstance(outcomes.index, pd.DatetimeIndex):
        raise DataError(
            "holdout_baselines expects outcomes indexed by week date (a DatetimeIndex), "
            f"got a {type(outcomes.index).__name__}; set the date column as the index first"
        )
    if not outcomes.index.is_monotonic_increasing or outcomes.index.has_duplicates:
        raise DataError("outcome weeks must be unique and in increasing date order")
    if outcomes.shape[1] == 0:
        raise DataError("no outcome columns to forecast")
    n = len(outcomes)
    if not 1 <= holdout_weeks <= n - 2:
        raise DataError(
            f"holdout_weeks={holdout_weeks} must be between 1 and {n - 2} for {n} weeks of "
            "data (at least two weeks are needed to fit on)"
        )
    for col in outcomes.columns:
        values = pd.to_numeric(outcomes[col], errors="coerce").to_numpy(dtype=float)
        bad = ~np.isfinite(values)
        if bad.any():
            first = outcomes.index[int(np.argmax(bad))]
            raise DataError(
                f"outcome column {col!r} has {int(bad.sum())} missing or non-numeric values "
                f"(first in week {first.date()}); fill or drop them before forecasting"
            )


def holdout_forecasts(
    outcomes: pd.DataFrame, holdout_weeks: int = 26, season_length: int = SEASON_WEEKS
) -> pd.DataFrame:
    """Forecasts of every baseline method for the last ``holdout_weeks`` weeks.

    Parameters
    ----------
    outcomes : pandas.DataFrame
        One column per outcome, indexed by week (increasing ``DatetimeIndex``).
    holdout_weeks : int, default 26
        Weeks at the end held out; methods see only the weeks before them.
    season_length : int, default 52
        Weeks per season.

    Returns
    -------
    pandas.DataFrame
        Long table with columns ``date``, ``outcome``, ``method``, ``actual``, ``forecast``.
    """
    _validate_outcomes(outcomes, holdout_weeks)
    train, test = outcomes.iloc[:-holdout_weeks], outcomes.iloc[-holdout_weeks:]
    frames = []
    for outcome in outcomes.columns:
        history = train[outcome].to_numpy(dtype=float)
        for method, forecaster in _METHODS.items():
            fc = forecaster(history, holdout_weeks, season_length)
            frames.append(
                pd.DataFrame(
                    {
                        "date": test.index,
                        "outcome": outcome,
                        "method": method,
                        "variant": fc.variant,
                        "actual": test[outcome].to_numpy(dtype=float),
                        "forecast": fc.values,
                    }
                )
            )
    return pd.concat(frames, ignore_index=True)


def holdout_baselines(
    outcomes: pd.DataFrame,
    holdout_weeks: int = 26,
    season_length: int = SEASON_WEEKS,
    forecasts: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Holdout accuracy of the seasonal-naive and ETS baselines, per method and outcome.

    The last ``holdout_weeks`` weeks are held out; each method is fitted on the weeks
    before them and forecasts the held-out weeks in one go (no refitting inside the
    holdout), which is how an MMM holdout forecast is scored too.

    Parameters
    ----------
    outcomes : pandas.DataFrame
        One column per outcome, indexed by week (increasing ``DatetimeIndex``).
    holdout_weeks : int, default 26
        Weeks held out at the end.
    season_length : int, default 52
        Weeks per season.
    forecasts : pandas.DataFrame, optional
        :func:`holdout_forecasts` of the same arguments, when the caller has them already
        (each ETS fit costs a numerical optimisation).

    Returns
    -------
    pandas.DataFrame
        One row per (method, outcome) with columns ``method``, ``outcome``, ``variant``,
        ``mape``, ``smape`` (fractions), ``rmse`` (outcome units), ``bias`` (fraction,
        signed), ``train_weeks`` and ``holdout_weeks``.

    Raises
    ------
    omnimmm.errors.DataError
        If the index is not increasing weekly dates, values are missing, or the holdout
        leaves fewer than two training weeks.
    """
    if forecasts is None:
        fc = holdout_forecasts(outcomes, holdout_weeks, season_length)
    else:
        _validate_outcomes(outcomes, holdout_weeks)
        fc = forecasts
    rows = []
    for (method, outcome), g in fc.groupby(["method", "outcome"], sort=False):
        rows.append(
            {
                "method": method,
                "outcome": outcome,
                "variant": g["variant"].iloc[0],
                **accuracy(g["actual"], g["forecast"]),
                "train_weeks": len(outcomes) - holdout_weeks,
                "holdout_weeks": holdout_weeks,
            }
        )
    return pd.DataFrame(rows)
