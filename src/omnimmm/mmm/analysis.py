"""Answers from a fitted MMM, in currency units, with 90% credible intervals.

Every function takes a fitted :class:`omnimmm.mmm.OmniMMM` and evaluates its
:class:`~omnimmm.mmm.response.ResponseModel` (numpy, vectorised over posterior draws).
Definitions follow DESIGN.md:

* **Contribution** of channel ``c`` to outcome ``o`` over a window: predicted ``o`` with
  actual spend minus predicted ``o`` with ``c``'s spend set to zero over the window, summed
  from the window's first week to the end of the data (carryover included). Zeroing ``c``
  also removes every synergy term ``c`` takes part in, so with synergies the channel
  contributions add up to more than the media total; the decomposition therefore lists
  main effects and synergy terms separately.
* **ROI** = contribution over all outcomes / spend in the window; per-outcome likewise.
* **mROI** = extra revenue from the next ``step`` (1%) of spend in the window / that spend.

Intervals are the 5% and 95% posterior quantiles ("low", "high").
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from omnimmm.errors import DataError
from omnimmm.mmm.response import ResponseModel, adstock_weight_matrix

__all__ = [
    "HoldoutResult",
    "contributions",
    "decomposition",
    "fitted",
    "forecast",
    "head_panel",
    "holdout",
    "holdout_result",
    "mroi",
    "optimizer_arrays",
    "prepare_holdout_refit",
    "response_curves",
    "roi",
    "start_holdout_refit",
    "summarize",
    "synergy",
]

LOW, HIGH = 0.05, 0.95


def summarize(draws: np.ndarray, axis: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Posterior mean and 90% interval (5% and 95% quantiles) along ``axis``."""
    lo, hi = np.quantile(draws, [LOW, HIGH], axis=axis)
    return draws.mean(axis=axis), lo, hi


def _spend(m: Any) -> np.ndarray:
    return m.panel_.spend[list(m.response_.channels)].to_numpy(dtype=float)


def _window_start(
    dates: pd.DatetimeIndex, window: tuple[Any, Any] | None
) -> tuple[int, np.ndarray]:
    """First row and boolean row mask of a window of week dates (None: all weeks)."""
    if window is None:
        return 0, np.ones(len(dates), dtype=bool)
    lo, hi = (pd.Timestamp(w) for w in window)
    mask = np.asarray((dates >= lo) & (dates <= hi))
    if not mask.any():
        raise DataError(
            f"window {lo.date()} to {hi.date()} contains no week of the training data "
            f"({dates[0].date()} to {dates[-1].date()})"
        )
    return int(np.flatnonzero(mask)[0]), mask


def _channel_delta(
    resp: ResponseModel, x_a: np.ndarray, x_b: np.ndarray, x_actual: np.ndarray, start: int
) -> np.ndarray:
    """Per channel, revenue with its spend at ``x_a`` minus at ``x_b``, others at actual.

    Adstock and saturation act column by column, so one evaluation per spend matrix
    serves every channel. Summed over weeks ``start:``; returns ``(D, C, O)`` in currency.
    """
    h_a, h_b = resp.saturation(x_a)[start:], resp.saturation(x_b)[start:]
    if x_actual is x_a or x_actual is x_b:
        h_act = h_a if x_actual is x_a else h_b
    else:
        h_act = resp.saturation(x_actual)[start:]
    d = h_a - h_b  # (T', D, C, Oa)
    y = np.asarray(resp.scaling.outcome_scale)
    out = (d.sum(axis=0) * resp.params["beta"]) * y  # (D, C, O)
    for p, (a, b) in enumerate(resp.layout.pairs):
        g = resp.params["gamma"][:, p, :] * y  # (D, O)
        out[:, a, :] += (d[:, :, a, :] * h_act[:, :, b, :]).sum(axis=0) * g
        out[:, b, :] += (d[:, :, b, :] * h_act[:, :, a, :]).sum(axis=0) * g
    return out


def _per_channel_table(
    resp: ResponseModel, delta: np.ndarray, denom: np.ndarray, extra: dict[str, Any]
) -> pd.DataFrame:
    """Table of ``delta / denom`` per channel: total over outcomes and per outcome."""
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(denom[None, :, None] > 0, delta / denom[None, :, None], np.nan)
    out = pd.DataFrame(extra, index=pd.Index(resp.channels, name="channel"))
    mean, lo, hi = summarize(ratio.sum(axis=2), axis=0)
    out["mean"], out["low"], out["high"] = mean, lo, hi
    for k, o in enumerate(resp.outcomes):
        mean, lo, hi = summarize(ratio[:, :, k], axis=0)
        out[f"{o}_mean"], out[f"{o}_low"], out[f"{o}_high"] = mean, lo, hi
    return out


def roi(m: Any, window: tuple[Any, Any] | None = None) -> pd.DataFrame:
    """ROI per channel (all outcomes and per outcome) over a window of weeks.

    Parameters
    ----------
    m : OmniMMM
        Fitted model.
    window : (start, end), optional
        Dates of the first and last week; default all training weeks.

    Returns
    -------
    pandas.DataFrame
        Index channel; ``spend``, ``contribution`` (posterior mean, all outcomes),
        ``mean``, ``low``, ``high`` (ROI) and ``<outcome>_mean/_low/_high``.
    """
    resp = m.response_
    x = _spend(m)
    start, mask = _window_start(m.panel_.dates, window)
    x_cf = np.where(mask[:, None], 0.0, x)
    delta = _channel_delta(resp, x, x_cf, x, start)
    spend = x[mask].sum(axis=0)
    extra = {"spend": spend, "contribution": delta.sum(axis=2).mean(axis=0)}
    return _per_channel_table(resp, delta, spend, extra)


def mroi(m: Any, window: tuple[Any, Any] | None = None, step: float = 0.01) -> pd.DataFrame:
    """Marginal ROI: revenue from the next ``step`` of each channel's spend / that spend.

    Each channel's spend in the window is raised by ``step`` (1% by default) with the
    others unchanged; the extra revenue (all outcomes, carryover to the end of the data)
    is divided by the extra spend. Same columns as :func:`roi`.
    """
    if not step > 0:
        raise ValueError(f"step must be > 0, got {step}")
    resp = m.response_
    x = _spend(m)
    start, mask = _window_start(m.panel_.dates, window)
    x_up = np.where(mask[:, None], x * (1.0 + step), x)
    delta = _channel_delta(resp, x_up, x, x, start)
    spend = x[mask].sum(axis=0)
    extra = {"spend": spend, "extra_spend": step * spend}
    return _per_channel_table(resp, delta, step * spend, extra)


def _contribution_draws(m: Any) -> np.ndarray:
    """Weekly counterfactual contributions ``(T, D, C, O)`` over the whole panel."""
    resp = m.response_
    main, syn = resp.media(_spend(m))
    if syn is not None:
        main = main.copy()
        for p, (a, b) in enumerate(resp.layout.pairs):
            main[:, :, a, :] += syn[:, :, p, :]
            main[:, :, b, :] += syn[:, :, p, :]
    return main


def contributions(m: Any) -> pd.DataFrame:
    """Weekly contribution of each channel to each outcome (whole-panel counterfactual).

    Returns
    -------
    pandas.DataFrame
        Long table: ``date``, ``channel``, ``outcome``, ``spend``, ``mean``, ``low``,
        ``high`` (currency per week).
    """
    resp = m.response_
    draws = _contribution_draws(m)
    mean, lo, hi = summarize(draws, axis=1)  # (T, C, O)
    n_t, n_c, n_o = mean.shape
    x = _spend(m)
    return pd.DataFrame(
        {
            "date": np.repeat(m.panel_.dates.to_numpy(), n_c * n_o),
            "channel": np.tile(np.repeat(np.asarray(resp.channels, dtype=object), n_o), n_t),
            "outcome": np.tile(np.asarray(resp.outcomes, dtype=object), n_t * n_c),
            "spend": np.repeat(x.reshape(-1), n_o),
            "mean": mean.reshape(-1),
            "low": lo.reshape(-1),
            "high": hi.reshape(-1),
        }
    )


def _components(m: Any) -> dict[tuple[str, str], np.ndarray]:
    """Posterior-mean components ``(T, O)`` keyed by (group, name)."""
    resp = m.response_
    feats = m.features(m.panel_.dates, m.panel_.controls)
    out = {("baseline", k): v.mean(axis=1) for k, v in resp.baseline(feats).items()}
    main, syn = resp.media(_spend(m))
    for c, name in enumerate(resp.channels):
        out[("channel", name)] = main[:, :, c, :].mean(axis=1)
    for p, (a, b) in enumerate(m.spec.synergies):
        out[("synergy", f"{a} x {b}")] = syn[:, :, p, :].mean(axis=1)
    return out


def decomposition(m: Any) -> pd.DataFrame:
    """Fitted values split into baseline parts, channel main effects and synergy terms.

    The components are posterior means and add up to :func:`fitted` exactly (the mean
    function is linear in its components).

    Returns
    -------
    pandas.DataFrame
        Long table: ``date``, ``outcome``, ``group`` (baseline, channel, synergy),
        ``component``, ``value`` (currency per week).
    """
    frames = []
    dates = m.panel_.dates.to_numpy()
    for (group, name), v in _components(m).items():
        for k, o in enumerate(m.response_.outcomes):
            frames.append(
                pd.DataFrame(
                    {"date": dates, "outcome": o, "group": group, "component": name,
                     "value": v[:, k]}
                )
            )  # fmt: skip
    return pd.concat(frames, ignore_index=True)


def fitted(m: Any) -> pd.DataFrame:
    """Posterior mean of the fitted values: index date, one column per outcome."""
    resp = m.response_
    feats = m.features(m.panel_.dates, m.panel_.controls)
    mean = resp.mean(_spend(m), feats).mean(axis=1)
    return pd.DataFrame(mean, index=m.panel_.dates, columns=list(resp.outcomes))


def response_curves(m: Any, multipliers: Sequence[float] | None = None) -> pd.DataFrame:
    """Revenue attributable to each channel when its spend is scaled, others unchanged.

    Parameters
    ----------
    m : OmniMMM
    multipliers : sequence of float, optional
        Factors applied to each channel's weekly spend over the training weeks; default
        0 to 2 in steps of 0.1.

    Returns
    -------
    pandas.DataFrame
        Long table: ``channel``, ``multiplier``, ``spend``, ``mean``, ``low``, ``high``
        (revenue over all outcomes, carryover within the data) and ``<outcome>_mean``.
    """
    resp = m.response_
    grid = np.linspace(0.0, 2.0, 21) if multipliers is None else np.asarray(multipliers, float)
    x = _spend(m)
    zero = np.zeros_like(x)
    rows = []
    for mult in grid:
        delta = _channel_delta(resp, x * mult, zero, x, 0)  # (D, C, O)
        mean, lo, hi = summarize(delta.sum(axis=2), axis=0)
        per_o = delta.mean(axis=0)
        for c, name in enumerate(resp.channels):
            row = {"channel": name, "multiplier": float(mult), "spend": float(mult * x[:, c].sum())}
            row.update(mean=mean[c], low=lo[c], high=hi[c])
            row.update({f"{o}_mean": per_o[c, k] for k, o in enumerate(resp.outcomes)})
            rows.append(row)
    return pd.DataFrame(rows)


def synergy(m: Any) -> pd.DataFrame:
    """Posterior of each declared synergy term, per outcome.

    Returns
    -------
    pandas.DataFrame
        ``pair``, ``outcome``, ``gamma_mean/_low/_high`` (revenue per week at full
        saturation of both channels) and ``revenue_mean/_low/_high`` (revenue the term
        adds over the training weeks); empty without synergies.

    Notes
    -----
    Read the interval, not the mean: on simulated worlds without synergy the 90% interval
    covers 0 on 31 of 34 seed x outcome fits, but the posterior mean is positive on 27 of
    them, because ROI priors below the pair's true ROIs shrink its main effects and the
    synergy term makes up part of the difference. With ROI priors centred on the truth the
    lean mostly goes (``benchmarks/bench_synergy_null.py``, RESULTS.md).
    """
    resp = m.response_
    if not resp.layout.pairs:
        return pd.DataFrame(columns=["pair", "outcome"])
    y = np.asarray(resp.scaling.outcome_scale)
    _, syn = resp.media(_spend(m))
    rows = []
    for p, (a, b) in enumerate(m.spec.synergies):
        g = resp.params["gamma"][:, p, :] * y  # (D, O)
        rev = syn[:, :, p, :].sum(axis=0)  # (D, O)
        for k, o in enumerate(resp.outcomes):
            gm, gl, gh = summarize(g[:, k], axis=0)
            rm, rl, rh = summarize(rev[:, k], axis=0)
            rows.append({"pair": f"{a} x {b}", "outcome": o, "gamma_mean": gm, "gamma_low": gl,
                         "gamma_high": gh, "revenue_mean": rm, "revenue_low": rl,
                         "revenue_high": rh})  # fmt: skip
    return pd.DataFrame(rows)


def _future_dates(m: Any, frame: pd.DataFrame) -> pd.DatetimeIndex:
    last = m.panel_.dates[-1]
    expected = pd.date_range(last + pd.Timedelta(days=7), periods=len(frame), freq="7D")
    if isinstance(frame.index, pd.DatetimeIndex):
        dates = frame.index
    elif "date" in frame.columns:
        dates = pd.DatetimeIndex(pd.to_datetime(frame["date"]))
    else:
        return expected
    if not dates.equals(expected):
        raise DataError(
            f"future weeks must follow the training data week by week, starting "
            f"{expected[0].date()}; got {dates[0].date()} to {dates[-1].date()}"
        )
    return expected


def forecast(
    m: Any,
    future_spend: pd.DataFrame,
    future_controls: pd.DataFrame | None = None,
    noise: bool = True,
) -> pd.DataFrame:
    """Forecast the outcomes of future weeks for planned spend.

    Parameters
    ----------
    m : OmniMMM
    future_spend : pandas.DataFrame
        One row per future week (index dates, a ``date`` column, or neither: the weeks
        right after the training data), one column per channel (currency).
    future_controls : pandas.DataFrame, optional
        Control and event columns for the same weeks (required if the model has controls).
    noise : bool, default True
        Include observation noise in the interval (a predictive interval); the mean is
        the same either way.

    Returns
    -------
    pandas.DataFrame
        Long table: ``date``, ``outcome``, ``mean``, ``low``, ``high``.
    """
    resp = m.response_
    missing = [c for c in resp.channels if c not in future_spend.columns]
    if missing:
        raise DataError(f"future_spend has no columns for channels {missing}")
    dates = _future_dates(m, future_spend)
    fut = future_spend[list(resp.channels)].to_numpy(dtype=float)
    if np.isnan(fut).any() or (fut < 0).any():
        raise DataError("future_spend must be non-negative numbers (no missing values)")
    if future_controls is not None:
        future_controls = future_controls.set_axis(dates, axis=0)
    feats = m.features(dates, future_controls)
    full = np.vstack([_spend(m), fut])
    media = resp.media_total(full)[-len(fut) :]
    draws = media + sum(resp.baseline(feats).values())
    mean = draws.mean(axis=1)
    # A moving baseline keeps moving past the data: mean zero (the mean holds the last
    # level), a spread that grows with the horizon. Its own stream, so that the noise
    # draws are those of a fixed baseline.
    draws = draws + resp.level_drift(len(fut), np.random.default_rng([m.spec.sampler.seed, 1]))
    if noise:
        rng = np.random.default_rng(m.spec.sampler.seed)
        draws = draws + resp.noise(len(fut), rng, draws, feats)
    lo, hi = np.quantile(draws, [LOW, HIGH], axis=1)
    frames = [
        pd.DataFrame({"date": dates, "outcome": o, "mean": mean[:, k], "low": lo[:, k],
                      "high": hi[:, k]})
        for k, o in enumerate(resp.outcomes)
    ]  # fmt: skip
    return pd.concat(frames, ignore_index=True)


@dataclass(frozen=True)
class HoldoutResult:
    """Holdout forecast: the model refitted without the last weeks, then forecasting them.

    Attributes
    ----------
    weeks : int
    mape : dict of str to float
        Mean absolute percentage error of the posterior-mean forecast, per outcome.
    table : pandas.DataFrame
        ``date``, ``outcome``, ``actual``, ``mean``, ``low``, ``high``.
    model : OmniMMM
        The refitted model.
    """

    weeks: int
    mape: dict[str, float]
    table: pd.DataFrame
    model: Any


def head_panel(panel: Any, n: int) -> Any:
    """The first ``n`` weeks of ``panel`` (a refit's training panel)."""
    return dataclasses.replace(
        panel,
        dates=panel.dates[:n],
        spend=panel.spend.iloc[:n],
        outcomes=panel.outcomes.iloc[:n],
        controls=panel.controls.iloc[:n],
        data_hash=f"{panel.data_hash}:head{n}",
    )


def holdout(m: Any, weeks: int | None = None, warm: bool = True) -> HoldoutResult:
    """Refit on all but the last ``weeks`` (default the plan's ``holdout_weeks``), forecast.

    The refit uses the same spec, priors and sampler settings; with ``warm`` (default) its
    chains start where ``m``'s ended and tune briefly (:mod:`omnimmm.mmm.warm`), when ``m``
    was fitted in this process with nutpie.
    """
    start = getattr(m, "warm_start_", None) if warm else None
    return holdout_result(start_holdout_refit(m, m.panel_, weeks, start), m.panel_)


def _holdout_head(m: Any, panel: Any, weeks: int | None) -> Any:
    n = int(weeks if weeks is not None else m.spec.holdout_weeks)
    if not 0 < n < panel.n_weeks:
        raise DataError(f"holdout needs 0 < weeks < {panel.n_weeks}, got {n}")
    return head_panel(panel, panel.n_weeks - n)


def prepare_holdout_refit(m: Any, panel: Any, weeks: int | None) -> Any:
    """Build and compile the holdout refit of ``m`` (see :func:`start_holdout_refit`)
    without sampling it, e.g. while ``m``'s own chains sample; returns the
    :class:`~omnimmm.mmm.fit.PreparedFit` to pass to :func:`start_holdout_refit`."""
    refit = type(m)(m.plan, spec=m.spec, priors=m.priors, max_draws=m.max_draws)
    return refit.prepare(_holdout_head(m, panel, weeks))


def start_holdout_refit(
    m: Any, panel: Any, weeks: int | None, warm_start: Any, prepared: Any = None
) -> Any:
    """Start the holdout refit of ``m`` on all but the last ``weeks`` of ``panel``.

    ``m`` needs its settings only (it may still be finishing its own fit); ``warm_start``
    (a :class:`~omnimmm.mmm.warm.WarmStart` or None) starts the chains where an earlier fit
    ended; ``prepared``: :func:`prepare_holdout_refit`'s model (used when it still fits).
    Returns the refit's :class:`~omnimmm.mmm.fit.PendingFit` (nutpie samples it in the
    background); :func:`holdout_result` finishes it.
    """
    head = _holdout_head(m, panel, weeks)
    # The estimator's own class, so this module needs no import of it (fit imports analysis).
    refit = type(m)(m.plan, spec=m.spec, priors=m.priors, max_draws=m.max_draws)
    return refit.fit_start(head, warm_start=warm_start, prepared=prepared)


def holdout_result(pending: Any, panel: Any) -> HoldoutResult:
    """Wait for a refit :func:`start_holdout_refit` started on ``panel``; its forecast of the
    weeks it left out and their MAPE per outcome."""
    refit = pending.wait()
    n = panel.n_weeks - refit.panel_.n_weeks
    tail = slice(panel.n_weeks - n, None)
    fc = forecast(refit, panel.spend.iloc[tail], panel.controls.iloc[tail])
    actual = panel.outcomes.iloc[tail]
    fc["actual"] = np.concatenate([actual[o].to_numpy() for o in refit.response_.outcomes])
    mape = {
        str(o): float(np.mean(np.abs(g["actual"] - g["mean"]) / np.abs(g["actual"])))
        for o, g in fc.groupby("outcome", sort=False)
    }
    table = fc[["date", "outcome", "actual", "mean", "low", "high"]]
    return HoldoutResult(weeks=n, mape=mape, table=table, model=refit)


def optimizer_arrays(m: Any) -> dict[str, Any]:
    """Keyword arguments for ``omnimmm.optimize.response.AdstockSaturationResponse.from_arrays``.

    Needs one saturation family for all channels and carryover shared across outcomes
    (the defaults); otherwise use ``m.response_.horizon_value`` directly.

    Returns
    -------
    dict
        ``channels``, ``kinds``, ``outcomes``, ``history_spend`` (T, C),
        ``adstock_weights`` (D, C, L), ``spend_scale`` (C,), ``saturation``,
        ``saturation_params`` {name: (D, C)}, ``beta`` (D, C, O) and ``synergy_gamma``
        (D, P, O) in currency per week, ``synergy_pairs``, ``horizon_weeks``.
    """
    resp = m.response_
    layout = resp.layout
    kinds = list(layout.saturation_kinds)
    if len(kinds) != 1 or not layout.share_carryover:
        raise ValueError(
            "optimizer_arrays needs one saturation family for every channel and shared "
            "carryover; use the model's response_.horizon_value instead"
        )
    sat = kinds[0]
    params = {
        k.removeprefix(f"saturation_{sat}_"): v
        for k, v in resp.params.items()
        if k.startswith(f"saturation_{sat}_")
    }
    y = np.asarray(resp.scaling.outcome_scale)
    n_o = len(resp.outcomes)
    gamma = resp.params.get("gamma", np.zeros((resp.n_draws, 0, n_o)))
    return {
        "channels": resp.channels,
        "kinds": resp.kinds,
        "outcomes": resp.outcomes,
        "history_spend": _spend(m),
        "adstock_weights": adstock_weight_matrix(resp.params, layout, np, 1)[:, :, 0, :],
        "spend_scale": np.asarray(resp.scaling.spend_scale),
        "saturation": sat,
        "saturation_params": params,
        "beta": resp.params["beta"] * y,
        "synergy_pairs": tuple(m.spec.synergies),
        "synergy_gamma": gamma * y,
        "horizon_weeks": resp.horizon_weeks,
    }
