"""The geo model's settings and its data on the model's scale.

Scaling (every array the density reads, from a :class:`~omnimmm.data.geo_panel.GeoPanel`):

- outcomes: ``ys[t, g, o] = y[t, g, o] / y_scale[g, o]``, ``y_scale`` the region's mean
  week, so every region's baseline level is about 1 whatever its size;
- spend: ``xs[t, g, c] = spend[t, g, c] / (population[g] * unit[c])``, spend per capita in
  units of the channel's mean per-capita spend over the region-weeks it ran, so one
  saturation curve per channel serves every region and its scale follows region size;
- baseline features ``feat[t, g, j]``: a linear trend, Fourier modes of the year, the
  national events and the controls (standardised over all region-weeks);
- ``ratio[g, c, o] = spend_total[g, c] / y_scale[g, o]`` turns an ROI into an effect size
  (0 where the region never spent on the channel: there is nothing to identify);
- ``fc`` the features centred per region (the mean is centred per region) and ``ftf[g]``
  their cross-products, which the density's integral over the regional baseline
  deviations reads;
- ``lift`` one row per lift test: channel, outcome (-1 for all), measured ROI, its
  standard error, then the regions' weights (one-hot for a region's test, the regions'
  shares of the channel's spend for a national one).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from omnimmm.data.geo_panel import GeoPanel
from omnimmm.errors import DataError, PlanError
from omnimmm.mmm.priors import lognormal_params
from omnimmm.mmm.timevarying import level_ramps

__all__ = ["GeoData", "GeoLiftTest", "GeoModelSpec", "baseline_design", "geo_data"]

#: ROI prior (mean, sd) by channel kind when the spec gives none: the national model's.
_ROI_DEFAULT = {"online": (1.5, 1.0), "offline": (1.0, 1.0)}


@dataclass(frozen=True)
class GeoLiftTest:
    """A lift test (geo experiment) read as a channel's ROI in one region or nationally.

    The model adds ``Normal(roi | model's ROI, se)``: the model's ROI is the region's (sum
    of the channel's revenue there over its spend there, as :meth:`GeoFit.roi_geo`) or, with
    ``geo`` None, the national one (revenue summed over regions over spend summed, as
    :meth:`GeoFit.roi_national`); on ``outcome`` only, or on all outcomes if None. A test
    that measured incremental revenue for a spend change gives ``roi = revenue / change``
    and ``se = revenue's se / |change|``; it is treated as the channel's average ROI over
    the data (what the model's ROI is), not as a marginal one.

    Attributes
    ----------
    channel : str
    roi : float
    se : float
        > 0.
    geo : str, optional
        The region the test ran in; None for a national test.
    outcome : str, optional
    """

    channel: str
    roi: float
    se: float
    geo: str | None = None
    outcome: str | None = None


@dataclass(frozen=True)
class GeoModelSpec:
    """Settings of the geo model (frozen; every field has a default).

    Attributes
    ----------
    l_max : int
        Adstock lags (geometric adstock, lag 0 included).
    fourier_order : int
        Yearly Fourier modes of the baseline (sine and cosine each).
    trend : bool
        A linear trend in each region's baseline.
    roi_priors : dict of channel to (mean, sd), optional
        Prior on a channel's national ROI (log-normal); others use their kind's default
        (online 1.5 +- 1.0, offline 1.0 +- 1.0, as the national model).
    roi_spread_sd : float
        Scale of the prior on each channel's spread of regional ROI around the national
        one (log scale): 0.3 lets regions differ by up to about +-30%. The mean of the
        Gamma(2) prior (``roi_spread_prior = "gamma"``, the default) or the scale of the
        half-normal one.
    roi_spread_prior : {"gamma", "halfnormal"}, default "gamma"
        Prior family of the regional ROI spread, whatever the parametrisation
        (``roi_centred``): Gamma(2) with mean ``roi_spread_sd`` (zero-avoiding) or
        HalfNormal(``roi_spread_sd``) (the regions may share one ROI, spread 0). With the
        same family, ``roi_centred`` True and False are the same model sampled two ways.
    baseline_spread_sd : float
        Mean of the Gamma(2) prior on the spread of each baseline coefficient across
        regions (scaled outcome). The regional coefficients themselves are integrated out
        of the density (:mod:`omnimmm.mmm.geo.kernel`).
    coef_sd : float
        Prior sd of the national baseline coefficients (on the scaled outcome).
    noise_sd : float
        Scale of the half-normal prior on each region's residual sd (scaled outcome).
    lift_tests : tuple of GeoLiftTest
        Lift tests naming a region (or national ones), added to the likelihood.
    baseline : {"fixed", "local_level"}
        ``"local_level"``: each region's level drifts as a random walk on knots about every
        ``baseline_knot_weeks`` weeks (linear between knots, as the national model's
        ``[model] baseline = "local_level"``), its steps Normal(0, step[o]) with one step sd
        per outcome pooled over the regions (Gamma(2) prior of mean ``baseline_step_sd``,
        scaled outcome). The steps enter linearly and are integrated out like the regional
        baseline coefficients.
    baseline_step_sd : float
    baseline_knot_weeks : int
    roi_centred : bool, default True
        How the regional log ROI are sampled (the model, priors included, is the same
        either way). True (the default) samples them centred around the national one: no
        ridge when every region's data identify its ROI well (100 regions x 104 weeks:
        R-hat 1.006 centred, 1.024 and a failed gate non-centred). False samples them as
        standard normal deviations scaled by the spread: no funnel when the regions barely
        differ (the same-effects world). A geo run chooses the form with a short pilot fit
        (:func:`omnimmm.mmm.geo.pilot.choose_roi_form`), and switches to False as an
        automatic remedy when a centred fit fails the gate in these parameters
        (:func:`omnimmm.run.stages.geo.roi_form_remedy`).
    half_sat_sd : float
        Log-scale sd of the LogNormal(0, .) prior on each channel's Hill half-saturation
        (in units of the channel's mean per-capita spend on the weeks it ran). Widening
        it and ``slope_sd`` to 1.0 and 0.6 left the national misses as they were (seeds 0
        and 12; benchmarks/RESULTS.md, section geo_defaults): not the default.
    slope_sd : float
        Log-scale sd of the LogNormal(log 1.5, .) prior on each channel's Hill slope.
    """

    l_max: int = 8
    fourier_order: int = 2
    trend: bool = True
    roi_priors: dict[str, tuple[float, float]] | None = None
    roi_spread_sd: float = 0.3
    roi_spread_prior: str = "gamma"
    baseline_spread_sd: float = 0.05
    coef_sd: float = 0.5
    noise_sd: float = 0.2
    lift_tests: tuple[GeoLiftTest, ...] = ()
    baseline: str = "fixed"
    baseline_step_sd: float = 0.05
    baseline_knot_weeks: int = 13
    roi_centred: bool = True
    half_sat_sd: float = 0.7
    slope_sd: float = 0.4

    def __post_init__(self) -> None:
        if self.roi_spread_prior not in ("gamma", "halfnormal"):
            raise ValueError(
                f"roi_spread_prior must be 'gamma' or 'halfnormal', got {self.roi_spread_prior!r}"
            )
        if self.l_max < 1 or self.fourier_order < 0:
            raise ValueError(f"l_max must be >= 1 and fourier_order >= 0, got {self}")
        if self.baseline not in ("fixed", "local_level") or self.baseline_knot_weeks < 2:
            raise ValueError(
                f"baseline must be 'fixed' or 'local_level' and baseline_knot_weeks >= 2, got "
                f"{self.baseline!r}, {self.baseline_knot_weeks}"
            )
        names = (
            "roi_spread_sd",
            "baseline_spread_sd",
            "coef_sd",
            "noise_sd",
            "baseline_step_sd",
            "half_sat_sd",
            "slope_sd",
        )
        for name in names:
            if not getattr(self, name) > 0:
                raise ValueError(f"GeoModelSpec.{name} must be > 0")

    def roi_prior(self, channel: str, kind: str) -> tuple[float, float]:
        """``(mu, sigma)`` of the log-normal prior on ``channel``'s national ROI."""
        mean, sd = (self.roi_priors or {}).get(channel, _ROI_DEFAULT[kind])
        return lognormal_params(mean, sd)


@dataclass(frozen=True)
class GeoData:
    """The panel on the model's scale (see the module docstring).

    Attributes
    ----------
    xs : array (T, G, C)
    ys : array (T, G, O)
    feat : array (T, G, J)
    ratio : array (G, C, O)
    y_scale : array (G, O)
    unit : array (C,)
    spend_total : array (G, C)
    feature_names : tuple of str
    fc : array (T, G, J + W)
        ``feat`` centred per region, then the ``W`` ramps of the moving baseline (none when
        it is fixed), centred.
    ftf : array (G, J + W, J + W)
        ``fc[:, g]' fc[:, g]``.
    lift : array (K, 4 + G)
        The lift tests (see the module docstring).
    """

    xs: np.ndarray
    ys: np.ndarray
    feat: np.ndarray
    ratio: np.ndarray
    y_scale: np.ndarray
    unit: np.ndarray
    spend_total: np.ndarray
    feature_names: tuple[str, ...]
    fc: np.ndarray
    ftf: np.ndarray
    lift: np.ndarray

    @property
    def shape(self) -> tuple[int, int, int, int, int]:
        """``(T, G, C, O, J)``."""
        t_n, g_n, c_n = self.xs.shape
        return t_n, g_n, c_n, self.ys.shape[2], self.feat.shape[2]

    @property
    def n_walk(self) -> int:
        """Ramps of the moving baseline (0 when it is fixed)."""
        return int(self.fc.shape[2] - self.feat.shape[2])


def _fourier(dates: np.ndarray, order: int) -> tuple[np.ndarray, list[str]]:
    day = (dates - np.datetime64("2000-01-03", "D")).astype("timedelta64[D]").astype(float)
    phase = 2.0 * np.pi * day / 365.25
    cols, names = [], []
    for k in range(1, order + 1):
        cols += [np.sin(k * phase), np.cos(k * phase)]
        names += [f"sin_{k}", f"cos_{k}"]
    return np.stack(cols, axis=1) if cols else np.zeros((len(dates), 0)), names


def geo_data(panel: GeoPanel, spec: GeoModelSpec) -> GeoData:
    """Scale ``panel`` for the model (see the module docstring).

    Parameters
    ----------
    panel : GeoPanel
    spec : GeoModelSpec

    Returns
    -------
    GeoData

    Raises
    ------
    DataError
        If a channel never spends, or a region's outcome has a mean week <= 0.
    """
    t_n = panel.n_weeks
    per_capita = panel.spend / panel.population[None, :, None]
    unit = np.empty(len(panel.channels))
    for c, name in enumerate(panel.channels):
        on = per_capita[:, :, c] > 0
        if not on.any():
            raise DataError(
                f"geo panel: channel {name!r} has no spend in any region and week; drop it "
                "from the plan or check its column"
            )
        unit[c] = per_capita[:, :, c][on].mean()
    y_scale = panel.y.mean(axis=0)
    if np.any(y_scale <= 0):
        g, o = (int(i) for i in np.argwhere(y_scale <= 0)[0])
        raise DataError(
            f"geo panel: outcome {panel.outcomes[o]!r} of region {panel.geos[g]!r} has a mean "
            "week <= 0; the model needs positive outcomes in every region"
        )
    feat, names, fc = baseline_design(panel, spec, t_n)
    spend_total = panel.spend.sum(axis=0)
    return GeoData(
        xs=np.ascontiguousarray(per_capita / unit[None, None, :]),
        ys=np.ascontiguousarray(panel.y / y_scale[None]),
        feat=feat,
        ratio=np.ascontiguousarray(spend_total[:, :, None] / y_scale[:, None, :]),
        y_scale=y_scale,
        unit=unit,
        spend_total=spend_total,
        feature_names=names,
        fc=fc,
        ftf=np.ascontiguousarray(np.einsum("tgj,tgk->gjk", fc, fc)),
        lift=_lift_rows(panel, spec, spend_total),
    )


def baseline_design(
    panel: GeoPanel, spec: GeoModelSpec, n_fit: int
) -> tuple[np.ndarray, tuple[str, ...], np.ndarray]:
    """The baseline features of every week of ``panel``, scaled on its first ``n_fit`` weeks.

    The weeks after ``n_fit`` (a forecast's) get the fitted weeks' scaling: the trend runs
    on past +0.5, controls are standardised with the fitted weeks' mean and sd, events and
    controls constant over the fitted weeks are left out, the centring per region is the
    fitted weeks' mean, and the moving baseline's ramps are 1 past the last knot (the
    forecast holds the last level).

    Parameters
    ----------
    panel : GeoPanel
    spec : GeoModelSpec
    n_fit : int
        The fitted weeks (the first ``n_fit`` of ``panel``).

    Returns
    -------
    tuple
        ``feat`` (T, G, J), the feature names (J,), and ``fc`` (T, G, J + W): ``feat``
        centred per region, then the ``W`` ramps of the moving baseline, centred.
    """
    t_n, g_n = panel.n_weeks, panel.n_geos
    fit = slice(0, n_fit)
    cols: list[np.ndarray] = []
    names: list[str] = []
    if spec.trend:
        tt = -0.5 + np.arange(t_n) / max(n_fit - 1, 1)
        cols.append(np.broadcast_to(tt[:, None], (t_n, g_n)))
        names.append("trend")
    four, four_names = _fourier(panel.dates.values.astype("datetime64[D]"), spec.fourier_order)
    for j, name in enumerate(four_names):
        cols.append(np.broadcast_to(four[:, j, None], (t_n, g_n)))
        names.append(name)
    events = panel.event_matrix()
    for e, name in enumerate(panel.event_names):
        if np.ptp(events[fit, e]) > 0:
            cols.append(np.broadcast_to(events[:, e, None], (t_n, g_n)))
            names.append(name)
    for k, name in enumerate(panel.control_names):
        x = panel.controls[:, :, k]
        sd = x[fit].std()
        if sd > 0:
            cols.append((x - x[fit].mean()) / sd)
            names.append(name)
    feat = np.stack(cols, axis=2) if cols else np.zeros((t_n, g_n, 0))
    feat = np.ascontiguousarray(feat, dtype=np.float64)
    fc = feat - feat[fit].mean(axis=0, keepdims=True)
    if spec.baseline == "local_level":
        dates = panel.dates
        span = float((dates[n_fit - 1] - dates[0]).days)
        t = (dates - dates[0]).days.to_numpy(dtype=float) / max(span, 1.0)
        ramps = level_ramps(t, span, spec.baseline_knot_weeks)
        ramps = ramps - ramps[fit].mean(axis=0, keepdims=True)
        fc = np.concatenate([fc, np.broadcast_to(ramps[:, None, :], (t_n, g_n, ramps.shape[1]))], 2)
    return feat, tuple(names), np.ascontiguousarray(fc)


def _lift_rows(panel: GeoPanel, spec: GeoModelSpec, spend_total: np.ndarray) -> np.ndarray:
    """The lift tests as the density's rows (see the module docstring)."""
    g_n = panel.n_geos
    rows = np.zeros((len(spec.lift_tests), 4 + g_n))
    for k, test in enumerate(spec.lift_tests):
        where = f"lift test {k + 1} (channel {test.channel!r}, geo {test.geo!r})"
        if test.channel not in panel.channels:
            raise PlanError(
                f"{where}: unknown channel; the geo panel has {', '.join(panel.channels)}"
            )
        c = panel.channels.index(test.channel)
        if test.outcome is not None and test.outcome not in panel.outcomes:
            raise PlanError(
                f"{where}: unknown outcome {test.outcome!r}; expected one of "
                f"{', '.join(panel.outcomes)} or none (all outcomes)"
            )
        if not (np.isfinite(test.roi) and np.isfinite(test.se) and test.se > 0):
            raise PlanError(f"{where}: needs a finite roi and se > 0, got {test.roi}, {test.se}")
        if test.geo is None:
            total = spend_total[:, c].sum()
            rows[k, 4:] = spend_total[:, c] / total
        elif test.geo in panel.geos:
            rows[k, 4 + panel.geos.index(test.geo)] = 1.0
        else:
            raise PlanError(
                f"{where}: unknown region; the panel has {g_n} regions: "
                f"{', '.join(panel.geos[:8])}{', ...' if g_n > 8 else ''}"
            )
        rows[k, 0] = c
        rows[k, 1] = -1 if test.outcome is None else panel.outcomes.index(test.outcome)
        rows[k, 2] = test.roi
        rows[k, 3] = test.se
    return rows
