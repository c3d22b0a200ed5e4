"""A simulated geo world with known truth: regions of different sizes, national and local
channels, two outcomes with cross effects.

Each region ``g`` has a population ``pop[g]`` (log-normal). A national channel is one
weekly buy split over regions by a share near the region's population share (the column a
panel holds); a local channel is bought per region, at a per-capita level of its own.
Media act through geometric adstock and Hill saturation of the spend per capita (so a
region's saturation scale follows its size), both shared per channel. Effects are stated
as ROI: the channel's national ROI ``roi[c]`` and each region's
``roi[g, c] = roi[c] * exp(tau * eta[g, c])``; the revenue of channel ``c`` in region ``g``
over the simulated weeks is exactly ``roi[g, c]`` times its spend there, split between the
outcomes by the channel's cross-effect share (online channels mostly online revenue,
offline channels mostly store revenue, each some of the other). ``same_effects=True`` sets
``tau = 0``: every region has the national ROI (the negative control).

The baseline of each region: a level proportional to its population, a trend, a yearly
seasonality (two Fourier modes) and festival effects around national values, a regional
price control, and noise relatively larger in small regions.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from omnimmm.data.calendar import festival_weeks
from omnimmm.data.geo_panel import GeoPanel
from omnimmm.transforms import adstock, geometric_weights, hill

__all__ = ["GeoWorld", "simulate_geo_world"]

#: Channel templates: name, kind, adstock retention, Hill half-saturation (in units of the
#: channel's mean weekly spend per capita), Hill slope, national ROI. National channels are
#: taken from the first list, local ones from the second.
_NATIONAL = (
    ("tv", "offline", 0.6, 1.0, 1.6, 1.6),
    ("online_video", "online", 0.4, 0.8, 1.3, 2.2),
    ("radio_national", "offline", 0.3, 1.2, 1.8, 1.1),
)
_LOCAL = (
    ("search", "online", 0.15, 0.9, 1.4, 2.8),
    ("social", "online", 0.3, 1.1, 1.2, 1.9),
    ("outdoor", "offline", 0.5, 0.7, 2.0, 1.2),
    ("display", "online", 0.25, 1.3, 1.5, 0.9),
    ("local_radio", "offline", 0.35, 1.0, 1.7, 1.4),
    ("flyers", "offline", 0.1, 0.8, 1.5, 1.7),
)
#: Share of an online (offline) channel's revenue that goes to the first outcome.
_ONLINE_SHARE = {"online": 0.7, "offline": 0.3}
_OUTCOMES = ("online_revenue", "store_revenue")
_N_LAGS = 8
#: Spread of the regional ROI around the national one (log scale).
_TAU = 0.3
#: Share of revenue driven by media, roughly.
_MEDIA_SHARE = 0.25


@dataclass(frozen=True)
class GeoWorld:
    """A simulated geo panel and the truth that generated it.

    Attributes
    ----------
    panel : GeoPanel
    roi_national : dict of str to float
        Each channel's sum over regions of its contributions (both outcomes) over its spend.
    roi_geo : dict of (str, str) to float
        Each (region, channel)'s contribution over spend (nan where it spent nothing).
    contributions : array (T, G, C, O)
        Each channel's revenue per week, region and outcome, in currency units.
    params : dict
        The true parameters: ``alpha`` (C,), ``half_saturation`` and ``slope`` (C,) in units
        of ``spend_unit`` per capita, ``spend_unit`` (C,), ``roi`` (G, C), ``roi_location``
        (C,), ``tau``, ``share`` (C, O), ``beta`` (G, C, O) (revenue per unit of saturated
        signal), ``baseline`` (T, G, O), ``noise_sd`` (G, O).
    same_effects : bool
    seed : int
    """

    panel: GeoPanel
    roi_national: dict[str, float]
    roi_geo: dict[tuple[str, str], float]
    contributions: np.ndarray
    params: dict[str, Any] = field(repr=False)
    same_effects: bool = False
    seed: int = 0

    def to_frame(self) -> pd.DataFrame:
        """The long table: ``date, geo, population, <channels>, <outcomes>, <controls>``,
        one row per week and region (weeks outer, regions inner)."""
        p = self.panel
        t_n, g_n = p.n_weeks, p.n_geos
        cols: dict[str, Any] = {
            "date": np.repeat(p.dates.values, g_n),
            "geo": np.tile(np.asarray(p.geos, dtype=object), t_n),
            "population": np.tile(p.population, t_n),
        }
        for c, name in enumerate(p.channels):
            cols[name] = p.spend[:, :, c].reshape(-1)
        for o, name in enumerate(p.outcomes):
            cols[name] = p.y[:, :, o].reshape(-1)
        for k, name in enumerate(p.control_names):
            cols[name] = p.controls[:, :, k].reshape(-1)
        return pd.DataFrame(cols)

    def truth_dict(self) -> dict[str, Any]:
        """The truth as plain JSON-ready values (ROI nationally and per region, parameters
        per channel)."""
        p = self.panel
        prm = self.params
        return {
            "seed": self.seed,
            "same_effects": self.same_effects,
            "roi_national": dict(self.roi_national),
            "roi_geo": [
                {"geo": g, "channel": c, "roi": None if np.isnan(v) else float(v)}
                for (g, c), v in self.roi_geo.items()
            ],
            "channels": [
                {
                    "name": c,
                    "kind": p.kinds[i],
                    "scope": p.scopes[i],
                    "alpha": float(prm["alpha"][i]),
                    "half_saturation_per_capita": float(
                        prm["half_saturation"][i] * prm["spend_unit"][i]
                    ),
                    "slope": float(prm["slope"][i]),
                    "share": {o: float(prm["share"][i, k]) for k, o in enumerate(p.outcomes)},
                }
                for i, c in enumerate(p.channels)
            ],
            "population": {g: float(v) for g, v in zip(p.geos, p.population, strict=True)},
        }

    def response_kwargs(self, horizon_weeks: int = 13) -> dict[str, dict[str, Any]]:
        """Each region's true response to spend (one draw), as the keyword arguments of
        :meth:`omnimmm.optimize.response.AdstockSaturationResponse.from_arrays`.

        ``data`` sits below the optimizer and cannot build the responses itself; build them
        with ``{g: AdstockSaturationResponse.from_arrays(**kw) for g, kw in
        world.response_kwargs(13).items()}`` (or :func:`omnimmm.mmm.geo.truth_responses`).

        Parameters
        ----------
        horizon_weeks : int, default 13

        Returns
        -------
        dict of region name to dict
            Per region: its own spend history; spend is scaled by the region's population
            times the channel's spend unit before saturation; ``beta`` is revenue per unit
            of saturated signal.
        """
        p = self.panel
        prm = self.params
        w = geometric_weights(prm["alpha"], _N_LAGS)
        return {
            geo: {
                "channels": p.channels,
                "kinds": p.kinds,
                "outcomes": p.outcomes,
                "history_spend": p.spend[:, g, :],
                "adstock_weights": w,
                "saturation": "hill",
                "saturation_params": {
                    "half_saturation": prm["half_saturation"],
                    "slope": prm["slope"],
                },
                "beta": prm["beta"][g],
                "spend_scale": p.population[g] * prm["spend_unit"],
                "horizon_weeks": horizon_weeks,
            }
            for g, geo in enumerate(p.geos)
        }


def _flight(rng: np.random.Generator, t_n: int, on_rate: float) -> np.ndarray:
    """A weekly on/off flighting pattern with bursts, mean about 1 over the weeks on."""
    on = rng.random(t_n) < on_rate
    # Bursts: runs of a few weeks on.
    for t in range(1, t_n):
        if on[t - 1] and rng.random() < 0.5:
            on[t] = True
    level = rng.lognormal(0.0, 0.35, t_n)
    return np.where(on, level, 0.0)


def simulate_geo_world(
    n_geos: int = 16,
    n_weeks: int = 130,
    n_channels: int = 6,
    n_national: int = 2,
    n_outcomes: int = 2,
    seed: int = 0,
    same_effects: bool = False,
) -> GeoWorld:
    """Simulate a geo panel with known regional and national ROI.

    Parameters
    ----------
    n_geos : int, default 16
        Regions (at least 2).
    n_weeks : int, default 130
        Weeks (at least 2 x 8 lags).
    n_channels : int, default 6
        Channels, of which ``n_national`` are national (at most 3 national, 6 local).
    n_national : int, default 2
    n_outcomes : {1, 2}, default 2
        Online revenue, and store revenue if 2.
    seed : int, default 0
    same_effects : bool, default False
        Every region has the national ROI (the negative control).

    Returns
    -------
    GeoWorld
    """
    n_local = n_channels - n_national
    if n_geos < 2 or n_weeks < 2 * _N_LAGS or n_outcomes not in (1, 2):
        raise ValueError(
            f"need n_geos >= 2, n_weeks >= {2 * _N_LAGS} and n_outcomes 1 or 2; got "
            f"{n_geos}, {n_weeks}, {n_outcomes}"
        )
    if not (0 <= n_national <= len(_NATIONAL) and 0 <= n_local <= len(_LOCAL)) or n_channels < 1:
        raise ValueError(
            f"n_national must be 0..{len(_NATIONAL)} and n_channels - n_national 0.."
            f"{len(_LOCAL)}; got {n_national} national of {n_channels}"
        )
    rng = np.random.default_rng([seed, 19])
    templates = _NATIONAL[:n_national] + _LOCAL[:n_local]
    channels = tuple(t[0] for t in templates)
    kinds = tuple(t[1] for t in templates)
    scopes = ("national",) * n_national + ("local",) * n_local
    alpha = np.array([t[2] for t in templates])
    half_sat = np.array([t[3] for t in templates])
    slope = np.array([t[4] for t in templates])
    roi_loc = np.array([t[5] for t in templates]) * rng.lognormal(0.0, 0.15, n_channels)
    outcomes = _OUTCOMES[:n_outcomes]
    share = np.ones((n_channels, 1))
    if n_outcomes == 2:
        s0 = np.array([_ONLINE_SHARE[k] for k in kinds]) + rng.uniform(-0.1, 0.1, n_channels)
        share = np.stack([s0, 1.0 - s0], axis=1)

    g_n, t_n, c_n = n_geos, n_weeks, n_channels
    geos = tuple(f"region_{g + 1:02d}" for g in range(g_n))
    pop = np.round(rng.lognormal(np.log(2.0e6), 0.8, g_n), -3) + 5.0e4
    pop_share = pop / pop.sum()
    dates = pd.date_range("2023-01-02", periods=t_n, freq="W-MON")

    # Spend per capita, in units of each channel's mean per-capita spend (on weeks on).
    per_capita = np.zeros((t_n, g_n, c_n))
    for c in range(c_n):
        if scopes[c] == "national":
            buy = _flight(rng, t_n, 0.45)
            tilt = rng.lognormal(0.0, 0.25, g_n)  # a market's weight beyond its size
            weekly = rng.lognormal(0.0, 0.15, (t_n, g_n))
            shares = pop_share * tilt * weekly
            shares /= shares.sum(axis=1, keepdims=True)
            per_capita[:, :, c] = buy[:, None] * shares / pop_share
        else:
            level = rng.lognormal(0.0, 0.45, g_n)
            for g in range(g_n):
                per_capita[:, g, c] = level[g] * _flight(rng, t_n, 0.55)
    for c in range(c_n):
        on = per_capita[:, :, c] > 0
        if on.any():
            per_capita[:, :, c] /= per_capita[:, :, c][on].mean()

    # Saturated signal per region and channel, and effects in ROI terms.
    w = geometric_weights(alpha, _N_LAGS)  # (C, L)
    h = np.empty_like(per_capita)
    for g in range(g_n):
        ad = adstock(per_capita[:, g, :], w)  # (T, C)
        h[:, g, :] = hill(ad, half_sat, slope)
    tau = 0.0 if same_effects else _TAU
    eta = rng.standard_normal((g_n, c_n))
    roi = roi_loc[None, :] * np.exp(tau * eta)

    # Baseline revenue per capita and week, per outcome; media spend scaled to a share.
    base_pc = np.array([6.0, 10.0])[:n_outcomes] if n_outcomes == 2 else np.array([16.0])
    base_level = pop[:, None] * base_pc[None, :] * rng.lognormal(0.0, 0.15, (g_n, n_outcomes))
    # Spend unit per capita so that media revenue is about _MEDIA_SHARE of the total.
    media_per_unit = (roi_loc * per_capita.mean(axis=(0, 1))).sum()
    unit_scalar = _MEDIA_SHARE / (1 - _MEDIA_SHARE) * base_pc.sum() / media_per_unit
    spend_unit = unit_scalar * rng.lognormal(0.0, 0.3, c_n)
    spend = per_capita * pop[None, :, None] * spend_unit[None, None, :]
    spend = np.round(spend, 2)
    spend_tot = spend.sum(axis=0)  # (G, C)
    s_tot = h.sum(axis=0)  # (G, C)
    with np.errstate(invalid="ignore", divide="ignore"):
        beta_gc = np.where(s_tot > 0, roi * spend_tot / np.where(s_tot > 0, s_tot, 1.0), 0.0)
    beta = beta_gc[:, :, None] * share[None, :, :]  # (G, C, O)
    contrib = h[:, :, :, None] * beta[None, :, :, :]  # (T, G, C, O)

    # Baseline: trend, seasonality, festivals and a regional price control.
    tt = np.arange(t_n) / 52.0
    trend = rng.normal(0.03, 0.03, (g_n, n_outcomes))
    season_nat = rng.normal(0.0, 0.06, (4, n_outcomes))
    season = season_nat[None] + rng.normal(0.0, 0.02, (g_n, 4, n_outcomes))
    four = np.stack(
        [
            np.sin(2 * np.pi * tt),
            np.cos(2 * np.pi * tt),
            np.sin(4 * np.pi * tt),
            np.cos(4 * np.pi * tt),
        ],
        axis=1,
    )
    fest = festival_weeks(dates, "china")
    event_names = tuple(fest.columns)
    events = fest.to_numpy(dtype=float)
    ev_nat = rng.uniform(0.05, 0.25, (len(event_names), n_outcomes))
    ev = ev_nat[None] * rng.lognormal(0.0, 0.2, (g_n, len(event_names), n_outcomes))
    price = np.empty((t_n, g_n))
    price[0] = rng.normal(0.0, 1.0, g_n)
    for t in range(1, t_n):
        price[t] = 0.7 * price[t - 1] + rng.normal(0.0, 0.7, g_n)
    price_coef = -0.03
    rel = (
        1.0
        + trend[None] * (tt[:, None, None] - tt.mean())
        + np.einsum("tk,gko->tgo", four, season)
        + np.einsum("te,geo->tgo", events, ev)
        + price_coef * price[:, :, None]
    )
    baseline = base_level[None] * rel
    noise_sd = 0.04 * (pop.mean() / pop)[:, None] ** 0.25 * base_level
    noise = rng.standard_normal((t_n, g_n, n_outcomes)) * noise_sd[None]
    y = baseline + contrib.sum(axis=2) + noise

    panel = GeoPanel(
        dates=dates,
        geos=geos,
        channels=channels,
        kinds=kinds,
        scopes=scopes,
        outcomes=outcomes,
        spend=spend,
        y=y,
        controls=price[:, :, None],
        control_names=("price_index",),
        population=pop,
        events=events,
        event_names=event_names,
    )
    revenue = contrib.sum(axis=(0, 3))  # (G, C)
    roi_national = {
        ch: float(revenue[:, c].sum() / spend_tot[:, c].sum()) for c, ch in enumerate(channels)
    }
    roi_geo = {
        (geo, ch): float(revenue[g, c] / spend_tot[g, c]) if spend_tot[g, c] > 0 else float("nan")
        for g, geo in enumerate(geos)
        for c, ch in enumerate(channels)
    }
    params = {
        "alpha": alpha,
        "half_saturation": half_sat,
        "slope": slope,
        "spend_unit": spend_unit,
        "roi": roi,
        "roi_location": roi_loc,
        "tau": tau,
        "share": share,
        "beta": beta,
        "baseline": baseline,
        "noise_sd": noise_sd,
    }
    return GeoWorld(
        panel=panel,
        roi_national=roi_national,
        roi_geo=roi_geo,
        contributions=contrib,
        params=params,
        same_effects=same_effects,
        seed=seed,
    )
