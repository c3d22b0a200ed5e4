"""Fit the geo model and read the posterior: ROI nationally and per region, contributions,
fitted outcomes, diagnostics for the quality gate, and per-region responses.

National ROI is the sum over regions of a channel's revenue (both outcomes) over the sum of
its spend, per draw; a region's ROI is its own. Intervals are 90% (5% and 95% quantiles).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from omnimmm.data.geo_panel import GeoPanel
from omnimmm.mmm.geo.forecast import geo_forecast
from omnimmm.mmm.geo.layout import BLOCKS, GeoLayout, geo_layout
from omnimmm.mmm.geo.posterior import GeoDraws, baseline_coef, geo_draws, saturated, weights
from omnimmm.mmm.geo.spec import GeoData, GeoModelSpec, geo_data
from omnimmm.mmm.geo.store import read_geo_dir, write_geo_dir
from omnimmm.mmm.warm import WarmStart, thinned
from omnimmm.optimize.response import AdstockSaturationResponse

__all__ = ["GATE", "GeoFit", "fit_geo", "load_geo", "posterior_points"]

#: The quality gate's thresholds (issue 19): R-hat, bulk ESS, divergence rate.
GATE = {"max_rhat": 1.01, "min_ess_bulk": 400.0, "max_divergence_rate": 0.001}
_LOW, _HIGH = 0.05, 0.95


def posterior_points(idata: Any, layout: GeoLayout) -> tuple[np.ndarray, np.ndarray]:
    """nutpie's draws as points of ``layout`` ``(chain, draw, n)``, and which diverged
    ``(chain, draw)``."""
    post = idata.posterior
    names = [b for b in BLOCKS if layout.size(b)]
    c_n, d_n = post.sizes["chain"], post.sizes["draw"]
    points = np.concatenate([post[b].values.reshape(c_n, d_n, -1) for b in names], axis=2)
    return points, np.asarray(idata.sample_stats["diverging"].values, dtype=bool)


def _param_names(layout: GeoLayout, panel: GeoPanel, features: tuple[str, ...]) -> list[str]:
    """Readable names of the point's coordinates, e.g. ``roi_geo_log[region_01, tv]``."""
    axes = {
        "log_roi": (panel.channels,),
        "roi_spread": (panel.channels,),
        "roi_geo_log": (panel.geos, panel.channels),
        "adstock_alpha": (panel.channels,),
        "half_sat": (panel.channels,),
        "hill_slope": (panel.channels,),
        "share_first": (panel.channels,),
        "level": (panel.geos, panel.outcomes),
        "coef_mean": (features, panel.outcomes),
        "coef_spread": (features, panel.outcomes),
        "level_step": (panel.outcomes,),
        "noise": (panel.geos, panel.outcomes),
    }
    names: list[str] = []
    for b in BLOCKS:
        if layout.size(b):
            for idx in np.ndindex(*layout.shapes[b]):
                names.append(f"{b}[{', '.join(axes[b][k][i] for k, i in enumerate(idx))}]")
    return names


def diagnose(points: np.ndarray, diverging: np.ndarray, names: list[str]) -> dict[str, Any]:
    """Convergence of the sampled points (chains, draws, n) for the gate.

    R-hat (rank-normalised) and bulk ESS are those of every sampled parameter (invariant to
    the monotone transforms between the sampler's and the model's scale).
    """
    import arviz as az
    import xarray as xr

    ds = xr.Dataset({"z": (("chain", "draw", "param"), points)})
    rhat = az.rhat(ds)["z"].values
    ess = az.ess(ds, method="bulk")["z"].values
    n_div = int(np.asarray(diverging).sum())
    n_draws = int(points.shape[0] * points.shape[1])
    rate = n_div / max(n_draws, 1)
    max_rhat = float(np.nanmax(rhat))
    min_ess = float(np.nanmin(ess))
    out: dict[str, Any] = {
        "max_rhat": max_rhat,
        "worst_rhat": names[int(np.nanargmax(rhat))],
        "min_ess_bulk": min_ess,
        "worst_ess": names[int(np.nanargmin(ess))],
        "divergences": n_div,
        "divergence_rate": rate,
        "chains": int(points.shape[0]),
        "draws": int(points.shape[1]),
    }
    out["passed"] = bool(
        max_rhat <= GATE["max_rhat"]
        and min_ess >= GATE["min_ess_bulk"]
        and rate <= GATE["max_divergence_rate"]
    )
    return out


def _interval(draws: np.ndarray, axis: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    return (
        np.nanmean(draws, axis=axis),
        np.nanquantile(draws, _LOW, axis=axis),
        np.nanquantile(draws, _HIGH, axis=axis),
    )


@dataclass(eq=False)
class GeoFit:
    """A fitted geo model: the panel, the settings and the posterior points.

    Build it with :func:`fit_geo` (or :func:`omnimmm.mmm.geo.load_geo`).

    Attributes
    ----------
    panel : GeoPanel
    spec : GeoModelSpec
    points : array (chains, draws, n)
        The sampled unconstrained points (layout: :mod:`omnimmm.mmm.geo.layout`).
    diverging : array (chains, draws) of bool
    timings : dict
        ``compile``, ``sampling`` and ``total`` seconds of the fit; ``tune`` (steps run),
        ``warm`` (started at an earlier fit's draws) and ``step_size`` (the adapted one).
    seed : int
    """

    panel: GeoPanel
    spec: GeoModelSpec
    points: np.ndarray
    diverging: np.ndarray
    timings: dict[str, Any] = field(default_factory=dict)
    seed: int = 0
    data: GeoData = field(init=False, repr=False)
    layout: GeoLayout = field(init=False, repr=False)
    draws: GeoDraws = field(init=False, repr=False)
    _diagnostics: dict[str, Any] | None = field(init=False, default=None, repr=False)

    def __post_init__(self) -> None:
        self.data = geo_data(self.panel, self.spec)
        _, g_n, _, o_n, j_n = self.data.shape
        self.layout = geo_layout(self.spec, self.panel.channels, self.panel.kinds, g_n, o_n, j_n)
        if self.points.shape[-1] != self.layout.n:
            raise ValueError(
                f"the posterior has {self.points.shape[-1]} parameters; this panel and spec "
                f"need {self.layout.n}"
            )
        flat = self.points.reshape(-1, self.layout.n)
        self.draws = geo_draws(flat, self.layout, o_n)

    # ------------------------------------------------------------------ ROI

    def roi_geo_draws(self) -> np.ndarray:
        """Regional ROI per draw (D, G, C); nan where the region never spent on it."""
        return np.where(self.data.spend_total[None] > 0, self.draws.roi, np.nan)

    def roi_national_draws(self) -> np.ndarray:
        """National ROI per draw (D, C): regional revenue summed over spend summed."""
        spend = self.data.spend_total
        return (self.draws.roi * spend[None]).sum(axis=1) / spend.sum(axis=0)[None]

    def roi_geo_outcome_draws(self) -> np.ndarray:
        """Regional ROI per draw split by outcome (D, G, C, O): revenue of each outcome per
        unit of spend (summing over outcomes gives :meth:`roi_geo_draws`)."""
        return self.roi_geo_draws()[..., None] * self.draws.share[:, None, :, :]

    def roi_national_outcome_draws(self) -> np.ndarray:
        """National ROI per draw split by outcome (D, C, O)."""
        spend = self.data.spend_total
        per = self.draws.roi[..., None] * self.draws.share[:, None, :, :]
        return (per * spend[None, :, :, None]).sum(axis=1) / spend.sum(axis=0)[None, :, None]

    def _outcome_columns(self, draws: np.ndarray) -> dict[str, np.ndarray]:
        """``<outcome>_mean/_low/_high`` columns from per-outcome draws (D, ..., O)."""
        mean, low, high = _interval(draws)
        cols: dict[str, np.ndarray] = {}
        for o, name in enumerate(self.panel.outcomes):
            cols[f"{name}_mean"] = mean[..., o].reshape(-1)
            cols[f"{name}_low"] = low[..., o].reshape(-1)
            cols[f"{name}_high"] = high[..., o].reshape(-1)
        return cols

    def roi_national(self) -> pd.DataFrame:
        """Each channel's national ROI: the sum over regions of its revenue (all outcomes)
        over the sum of its spend, per draw.

        Returns
        -------
        pandas.DataFrame
            Columns channel, mean, low, high (90%), then ``<outcome>_mean``, ``_low`` and
            ``_high`` per outcome (the ROI on that outcome alone).
        """
        mean, low, high = _interval(self.roi_national_draws())
        cols = {"channel": self.panel.channels, "mean": mean, "low": low, "high": high}
        return pd.DataFrame({**cols, **self._outcome_columns(self.roi_national_outcome_draws())})

    def roi_geo(self) -> pd.DataFrame:
        """Each region's ROI per channel.

        Returns
        -------
        pandas.DataFrame
            Columns geo, channel, mean, low, high (90%; nan where the region never spent
            on the channel), then ``<outcome>_mean``, ``_low`` and ``_high`` per outcome.
        """
        mean, low, high = _interval(self.roi_geo_draws())
        g_n, c_n = mean.shape
        cols = {
            "geo": np.repeat(np.asarray(self.panel.geos, dtype=object), c_n),
            "channel": np.tile(np.asarray(self.panel.channels, dtype=object), g_n),
            "mean": mean.reshape(-1),
            "low": low.reshape(-1),
            "high": high.reshape(-1),
        }
        return pd.DataFrame({**cols, **self._outcome_columns(self.roi_geo_outcome_draws())})

    # ------------------------------------------------------------------ draws of curves

    def _draw_index(self, max_draws: int | None) -> np.ndarray:
        d_n = self.draws.n_draws
        if max_draws is None or max_draws >= d_n:
            return np.arange(d_n)
        return np.unique(np.linspace(0, d_n - 1, max_draws).round().astype(int))

    def _media(self, d: int) -> tuple[np.ndarray, np.ndarray]:
        """Saturated spend h (T, G, C) and effects beta (G, C, O, scaled) of draw ``d``."""
        dr = self.draws
        w = weights(dr.alpha[d], self.spec.l_max)
        h = saturated(self.data.xs, w, dr.half_sat[d], dr.slope[d])
        return h, dr.beta(self.data, d, h.sum(axis=0))

    def contributions(self, max_draws: int | None = 200) -> dict[str, np.ndarray]:
        """Each channel's weekly revenue per region and outcome, in currency units.

        Parameters
        ----------
        max_draws : int or None, default 200
            Draws used (evenly spaced); None for all (memory D x T x G x C x O).

        Returns
        -------
        dict
            ``mean``, ``low``, ``high`` (90%), each (T, G, C, O).
        """
        idx = self._draw_index(max_draws)
        t_n, g_n, c_n, o_n, _ = self.data.shape
        out = np.empty((len(idx), t_n, g_n, c_n, o_n))
        for k, d in enumerate(idx):
            h, beta = self._media(int(d))
            out[k] = h[..., None] * (beta * self.data.y_scale[:, None, :])[None]
        mean, low, high = _interval(out)
        return {"mean": mean, "low": low, "high": high}

    def fitted(self, max_draws: int | None = 200) -> dict[str, np.ndarray]:
        """The model's mean of each outcome per week and region, in currency units.

        The regional baseline coefficients, integrated out of the density, are drawn from
        their conditional normal per draw (seeded by the fit's seed: the same numbers on
        every call).

        Returns
        -------
        dict
            ``mean``, ``low``, ``high`` (90% of the posterior mean), each (T, G, O), and
            ``observed`` (T, G, O).
        """
        idx = self._draw_index(max_draws)
        dr = self.draws
        rng = np.random.default_rng([self.seed, 1920])
        out = np.empty((len(idx), *self.data.ys.shape))
        for k, d in enumerate(idx):
            h, beta = self._media(int(d))
            rest = np.einsum("tgc,gco->tgo", h, beta)
            coef = baseline_coef(self.data, dr, int(d), rest, rng)
            base = np.einsum("tgj,gjo->tgo", self.data.fc, coef)  # centred features
            mu = dr.level[d][None] + rest - rest.mean(axis=0, keepdims=True) + base
            out[k] = mu * self.data.y_scale[None]
        mean, low, high = _interval(out)
        return {"mean": mean, "low": low, "high": high, "observed": self.panel.y}

    def forecast(
        self, panel: GeoPanel, *, max_draws: int | None = 200, seed: int = 0
    ) -> dict[str, np.ndarray]:
        """Posterior predictive draws of the weeks of ``panel`` after the fitted ones.

        Each draw's media (carryover from the fitted weeks' spend into the new weeks'),
        regional baseline on the fitted weeks' scale (trend extrapolated), the moving
        baseline's drift past the data if any, and residual noise per region (independent
        across regions: the national forecast is the regions' draws summed draw by draw);
        see :mod:`omnimmm.mmm.geo.forecast`.

        Parameters
        ----------
        panel : GeoPanel
            The fitted weeks followed by the weeks to forecast (same regions, channels,
            outcomes, controls and events); their spend and controls are read.
        max_draws : int or None, default 200
            Posterior draws used (evenly spaced); None for all.
        seed : int, default 0
            Seed of the predictive draws.

        Returns
        -------
        dict
            ``draws`` (D, H, G, O) in currency units; ``mean``, ``low``, ``high`` (H, G, O),
            their mean and 90% interval (``H`` the new weeks).

        Raises
        ------
        DataError
            If ``panel`` does not extend the fitted panel.
        """
        idx = self._draw_index(max_draws)
        return geo_forecast(self.panel, self.spec, self.data, self.draws, idx, panel, seed)

    # ------------------------------------------------------------------ gate, optimizer

    def diagnostics(self) -> dict[str, Any]:
        """``max_rhat``, ``min_ess_bulk``, ``divergences``, ``divergence_rate``, the worst
        parameters' names, and ``passed`` (the thresholds in :data:`GATE`)."""
        if self._diagnostics is None:
            names = _param_names(self.layout, self.panel, self.data.feature_names)
            self._diagnostics = diagnose(self.points, self.diverging, names)
        return dict(self._diagnostics)

    def warm_start(self, spec: GeoModelSpec | None = None) -> WarmStart | None:
        """Where this fit's chains ended, as the warm start of a refit of ``spec`` (default
        this fit's) on other weeks of the panel (:mod:`omnimmm.mmm.warm`): a holdout refit,
        the next backtest origin.

        Returns
        -------
        WarmStart or None
            Evenly thinned draws of every chain and the adapted step size. None when ``spec``
            samples the regional log ROI in the other form (the same block then holds other
            numbers: log ROIs centred, standard normal deviations non-centred), or when the
            fit recorded no step size (saved before it did).
        """
        step = self.timings.get("step_size")
        form = (spec or self.spec).roi_centred
        if step is None or not np.isfinite(step) or form != self.spec.roi_centred:
            return None
        names = tuple(b for b in BLOCKS if self.layout.size(b))
        return WarmStart(
            points=thinned(self.points),
            names=names,
            shapes=tuple(tuple(int(d) for d in self.layout.shapes[b]) for b in names),
            step_size=float(step),
        )

    def responses(
        self, horizon_weeks: int = 13, max_draws: int | None = 500
    ) -> dict[str, AdstockSaturationResponse]:
        """Each region's response to its spend, on the same posterior draws.

        Parameters
        ----------
        horizon_weeks : int, default 13
        max_draws : int or None, default 500
            Draws kept (evenly spaced; the same in every region).

        Returns
        -------
        dict of region name to AdstockSaturationResponse
            With the region's spend history (so its inherited carryover), spend scaled by
            population times the channel's spend unit, ``beta`` in currency units.
        """
        idx = self._draw_index(max_draws)
        dr = self.draws
        w = weights(dr.alpha[idx], self.spec.l_max)
        beta = np.stack([self._media(int(d))[1] for d in idx])  # (D, G, C, O)
        p = self.panel
        return {
            geo: AdstockSaturationResponse.from_arrays(
                channels=p.channels,
                kinds=p.kinds,
                outcomes=p.outcomes,
                history_spend=p.spend[:, g, :],
                adstock_weights=w,
                saturation="hill",
                saturation_params={"half_saturation": dr.half_sat[idx], "slope": dr.slope[idx]},
                beta=beta[:, g] * self.data.y_scale[g][None, None, :],
                spend_scale=p.population[g] * self.data.unit,
                horizon_weeks=horizon_weeks,
            )
            for g, geo in enumerate(p.geos)
        }

    def save(self, directory: str | os.PathLike[str]) -> Path:
        """Write the fit as a directory of netCDF and JSON, no pickles (see
        :mod:`omnimmm.mmm.geo.store`); returns the directory."""
        return write_geo_dir(self, directory)


def load_geo(directory: str | os.PathLike[str]) -> GeoFit:
    """Read a fit saved by :meth:`GeoFit.save`.

    Parameters
    ----------
    directory : path

    Returns
    -------
    GeoFit

    Raises
    ------
    DataError
        If the directory is not a saved geo fit.
    """
    return GeoFit(**read_geo_dir(directory))


def fit_geo(
    panel: GeoPanel,
    spec: GeoModelSpec | None = None,
    *,
    chains: int = 4,
    draws: int = 1000,
    tune: int = 1000,
    seed: int = 0,
    progress: bool = False,
    target_accept: float = 0.8,
    cores: int | None = None,
    low_rank: bool = True,
    warm_start: WarmStart | None = None,
) -> GeoFit:
    """Fit the hierarchical geo MMM to ``panel`` with nutpie on the hand-written density.

    Parameters
    ----------
    panel : GeoPanel
    spec : GeoModelSpec, optional
        Default settings when None.
    chains, draws, tune : int
        Sampler settings (defaults 4 x 1000 after 1000 tuning steps).
    seed : int
    progress : bool
        nutpie's progress bar.
    target_accept : float
    cores : int, optional
        Threads for the chains (nutpie's default: all).
    low_rank : bool, default True
        nutpie's low-rank modified mass matrix (see :func:`omnimmm.mmm.geo.sampler.run_nutpie`).
    warm_start : WarmStart, optional
        Start the chains where an earlier fit of the same model ended
        (:meth:`GeoFit.warm_start`) and tune a quarter of ``tune`` steps (at least 200);
        ignored when its layout differs. ``timings`` records ``tune`` and ``warm``.

    Returns
    -------
    GeoFit
    """
    import time

    from omnimmm.mmm.geo.sampler import run_nutpie

    spec = spec or GeoModelSpec()
    t0 = time.perf_counter()
    data = geo_data(panel, spec)
    _, g_n, _, o_n, j_n = data.shape
    layout = geo_layout(spec, panel.channels, panel.kinds, g_n, o_n, j_n)
    idata, timings = run_nutpie(
        data,
        layout,
        chains=chains,
        draws=draws,
        tune=tune,
        seed=seed,
        target_accept=target_accept,
        progress=progress,
        cores=cores,
        low_rank=low_rank,
        warm=warm_start,
    )
    points, diverging = posterior_points(idata, layout)
    timings["total"] = time.perf_counter() - t0
    return GeoFit(
        panel=panel,
        spec=spec,
        points=np.ascontiguousarray(points),
        diverging=diverging,
        timings=timings,
        seed=seed,
    )
