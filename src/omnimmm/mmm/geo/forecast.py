"""Forecast the weeks after a geo fit's: posterior predictive draws per region and outcome.

For each posterior draw, the weeks after the fitted ones get the model's mean on the fit's
scale, then the noise a new week would have:

- media: the panel's spend (fitted weeks and new ones) through the draw's adstock and
  saturation, so carryover runs from the fitted weeks into the new ones; effect sizes are
  the fit's (``beta`` from the fitted weeks' saturated totals), centred by the fitted
  weeks' media mean per region, as in :meth:`GeoFit.fitted`;
- baseline: the region's level and its coefficients (national plus the region's
  deviation, drawn from their conditional normal as in :meth:`GeoFit.fitted`) times the
  features of the new weeks on the fitted weeks' scale
  (:func:`omnimmm.mmm.geo.spec.baseline_design`: trend extrapolated, controls standardised
  with the fitted weeks' mean and sd);
- a moving baseline (``baseline = "local_level"``) keeps drifting past the data: each
  region's level walks on with weekly steps of variance ``level_step^2 / spacing``
  (``spacing`` the knots' distance in weeks), mean zero, so the interval widens with the
  horizon;
- noise: Normal(0, the region's residual sd), independent across weeks, regions and
  outcomes, so a national forecast is the sum of the regions' draws, draw by draw.
"""

from __future__ import annotations

import numpy as np

from omnimmm.data.geo_panel import GeoPanel
from omnimmm.errors import DataError
from omnimmm.mmm.geo.posterior import GeoDraws, baseline_coef, saturated, weights
from omnimmm.mmm.geo.spec import GeoData, GeoModelSpec, baseline_design
from omnimmm.mmm.timevarying import level_knots

__all__ = ["geo_forecast"]

_LOW, _HIGH = 0.05, 0.95


def _check_panel(old: GeoPanel, panel: GeoPanel) -> int:
    """The number of new weeks; DataError if ``panel`` does not extend ``old``."""
    for name in ("geos", "channels", "outcomes", "control_names", "event_names"):
        if getattr(panel, name) != getattr(old, name):
            raise DataError(
                f"geo forecast: the panel's {name} {getattr(panel, name)} differ from the "
                f"fitted panel's {getattr(old, name)}; forecast a panel with the fit's"
            )
    t_n = old.n_weeks
    if panel.n_weeks <= t_n or not panel.dates[:t_n].equals(old.dates):
        raise DataError(
            f"geo forecast: the panel must hold the {t_n} fitted weeks "
            f"({old.dates[0].date()} to {old.dates[-1].date()}) followed by the weeks to "
            f"forecast; got {panel.n_weeks} weeks from {panel.dates[0].date()}"
        )
    if not np.allclose(panel.population, old.population):
        raise DataError("geo forecast: the panel's population differs from the fitted panel's")
    return panel.n_weeks - t_n


def _step_scale(fitted: GeoPanel, spec: GeoModelSpec) -> float:
    """``1 / sqrt(spacing)``: a knot step's sd times it is the walk's weekly sd."""
    span = float((fitted.dates[-1] - fitted.dates[0]).days)
    spacing = span / 7.0 / (level_knots(span, spec.baseline_knot_weeks) - 1)
    return float(1.0 / np.sqrt(max(spacing, 1.0)))


def geo_forecast(
    fitted: GeoPanel,
    spec: GeoModelSpec,
    data: GeoData,
    draws: GeoDraws,
    draw_index: np.ndarray,
    panel: GeoPanel,
    seed: int = 0,
) -> dict[str, np.ndarray]:
    """Posterior predictive draws of the weeks of ``panel`` after the fitted ones
    (:meth:`omnimmm.mmm.geo.GeoFit.forecast` is the way in).

    Parameters
    ----------
    fitted : GeoPanel
        The fitted panel.
    spec : GeoModelSpec
    data : GeoData
        The fitted panel on the model's scale.
    draws : GeoDraws
        The posterior.
    draw_index : array of int
        The draws used.
    panel : GeoPanel
        The fitted weeks followed by the new ones: same regions, channels, outcomes,
        controls and events; the new weeks' spend and controls are what the forecast
        reads (their outcomes are not read).
    seed : int, default 0
        Seed of the regional baseline coefficients, the moving baseline's drift and the
        noise: the same seed gives the same numbers.

    Returns
    -------
    dict
        ``draws`` (D, H, G, O): predictive draws in currency units, residual noise
        included; ``mean``, ``low``, ``high`` (H, G, O): their mean and 90% interval.

    Raises
    ------
    DataError
        If ``panel`` does not start with the fitted weeks or has other regions, channels,
        outcomes, controls or events.
    """
    h_n = _check_panel(fitted, panel)
    t_n, dr = fitted.n_weeks, draws
    _, _, fc_all = baseline_design(panel, spec, t_n)
    fc_new = fc_all[t_n:]
    # the fitted weeks' spend is the fit's own; the new weeks' on the fit's scale
    new = panel.spend[t_n:] / (fitted.population[None, :, None] * data.unit[None, None, :])
    xs = np.concatenate([data.xs, new], axis=0)
    step_scale = _step_scale(fitted, spec) if data.n_walk else 0.0
    rng = np.random.default_rng([seed, 1921])
    _, g_n, _, o_n, _ = data.shape
    out = np.empty((len(draw_index), h_n, g_n, o_n))
    for k, d in enumerate(int(i) for i in draw_index):
        w = weights(dr.alpha[d], spec.l_max)
        h_all = saturated(xs, w, dr.half_sat[d], dr.slope[d])
        h_fit = h_all[:t_n]  # the fitted weeks' own (the new spend comes after them)
        beta = dr.beta(data, d, h_fit.sum(axis=0))
        rest_fit = np.einsum("tgc,gco->tgo", h_fit, beta)
        coef = baseline_coef(data, dr, d, rest_fit, rng)  # (G, J + W, O)
        rest_new = np.einsum("tgc,gco->tgo", h_all[t_n:], beta)
        base = np.einsum("tgj,gjo->tgo", fc_new, coef)
        mu = dr.level[d][None] + rest_new - rest_fit.mean(axis=0, keepdims=True) + base
        if data.n_walk:
            sd = dr.level_step[d] * step_scale  # (O,) weekly
            steps = rng.standard_normal((h_n, g_n, o_n)) * sd[None, None, :]
            mu = mu + np.cumsum(steps, axis=0)
        mu = mu + dr.noise[d][None] * rng.standard_normal((h_n, g_n, o_n))
        out[k] = mu * data.y_scale[None]
    return {
        "draws": out,
        "mean": out.mean(axis=0),
        "low": np.quantile(out, _LOW, axis=0),
        "high": np.quantile(out, _HIGH, axis=0),
    }
