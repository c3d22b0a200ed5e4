"""The geo model's parameters: names, shapes, priors and their place in the sampler's point.

One table serves the PyMC reference graph (:mod:`omnimmm.mmm.geo.model`), the hand-written
density (:mod:`omnimmm.mmm.geo.kernel`) and the fit: each block is a named parameter with
its shape, its prior family and parameters, and the transform to the unconstrained point
nutpie samples (PyMC's: log for positive, log-odds for (0, 1) values).

The regional log ROI are centred by default, around the national one: no ridge when every
region's data pin its ROI (100 regions x 104 weeks). ``GeoModelSpec(roi_centred=False)``
samples standard normal deviations ``eta`` scaled by the channel's spread instead, without
the funnel a centred form makes near a small spread (the negative control's world, where
the regions share one ROI). The two forms are the same model: the spread's prior is
:attr:`GeoModelSpec.roi_spread_prior`'s (a zero-avoiding Gamma(2) by default, or a
half-normal) in both. The regional deviations of the baseline coefficients are not sampled:
they enter the mean linearly and the density integrates them out
(:mod:`omnimmm.mmm.geo.kernel`). Blocks, in order
(``G`` regions, ``C`` channels, ``O`` outcomes, ``J`` baseline features)::

    log_roi       (C,)      Normal(mu_c, sigma_c)       national ROI location, log scale
    roi_spread    (C,)      Gamma(2, 2 / roi_spread_sd) regional spread of log ROI
                            (roi_spread_prior "halfnormal": HalfNormal(roi_spread_sd))
    roi_geo_log   (G, C)    Normal(log_roi, spread)     roi[g, c] = exp(roi_geo_log)
                            (non-centred: eta ~ Normal(0, 1), log_roi + spread eta)
    adstock_alpha (C,)      Beta(2, 3)                  geometric carryover, shared
    half_sat      (C,)      LogNormal(0, half_sat_sd)   Hill K in per-capita units, shared
    hill_slope    (C,)      LogNormal(log 1.5, slope_sd) Hill slope, shared
    share_first   (C,)      Beta(1, 1)                  share of ROI in outcome 0 (O = 2)
    level         (G, O)    Normal(1, 0.3)              each region's mean week (scaled)
    coef_mean     (J, O)    Normal(0, coef_sd)          national baseline coefficients
    coef_spread   (J, O)    Gamma(2, 2 / mean)          their spread across regions
    level_step    (O,)      Gamma(2, 2 / mean)          moving baseline's step sd (or none)
    noise         (G, O)    HalfNormal                  residual sd per region
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from omnimmm.mmm.geo.spec import GeoModelSpec

__all__ = ["BLOCKS", "GeoLayout", "geo_layout"]

#: Prior kinds (the national density's codes, :func:`omnimmm.mmm.density.forward._priors`)
#: and the centred regional log ROI's, which the geo kernel handles itself.
#: ``HIER_NC``: the regional log ROI non-centred (the block holds standard normal ``eta``,
#: ``roi_geo_log = log_roi + spread * eta``; :attr:`GeoModelSpec.roi_centred` False).
NORMAL, LOGNORMAL, HALFNORMAL, GAMMA, BETA, HIER, HIER_NC = 0, 1, 2, 3, 4, 9, 10
_TRANSFORM = {
    NORMAL: None,
    LOGNORMAL: "log",
    HALFNORMAL: "log",
    GAMMA: "log",
    BETA: "logodds",
    HIER: None,
    HIER_NC: None,
}

BLOCKS = (
    "log_roi",
    "roi_spread",
    "roi_geo_log",
    "adstock_alpha",
    "half_sat",
    "hill_slope",
    "share_first",
    "level",
    "coef_mean",
    "coef_spread",
    "level_step",
    "noise",
)


@dataclass(frozen=True)
class GeoLayout:
    """Where each parameter block sits in the unconstrained point, and its prior.

    Attributes
    ----------
    shapes : dict of block to shape
    offsets : dict of block to first index
    kind, prior_a, prior_b : arrays (n,)
        Prior family code and parameters per coordinate.
    n : int
        Length of the point.
    """

    shapes: dict[str, tuple[int, ...]]
    offsets: dict[str, int]
    kind: np.ndarray
    prior_a: np.ndarray
    prior_b: np.ndarray
    n: int

    def block_kind(self, name: str) -> int:
        """The prior family code of block ``name``."""
        return int(self.kind[self.offsets[name]])

    def value_name(self, name: str) -> str:
        """PyMC's name of block ``name``'s value variable (e.g. ``noise_log__``)."""
        t = _TRANSFORM[self.block_kind(name)]
        return f"{name}_{t}__" if t else name

    def size(self, name: str) -> int:
        """Number of coordinates of block ``name``."""
        return math.prod(self.shapes[name])

    def take(self, z: np.ndarray, name: str) -> np.ndarray:
        """Block ``name`` of points ``z`` (..., n), unconstrained, shaped (..., *shape)."""
        o = self.offsets[name]
        return z[..., o : o + self.size(name)].reshape(*z.shape[:-1], *self.shapes[name])

    def constrained(self, z: np.ndarray, name: str) -> np.ndarray:
        """Block ``name`` of points ``z`` (..., n) on its own scale."""
        u = self.take(z, name)
        t = _TRANSFORM[self.block_kind(name)]
        if t == "log":
            return np.exp(u)
        if t == "logodds":
            return 1.0 / (1.0 + np.exp(-u))
        return u

    def index_table(self) -> np.ndarray:
        """The offsets in :data:`BLOCKS` order, then ``l_max`` and the number of baseline
        features with national coefficients (the kernel's ``ix``)."""
        tail = [self.shapes["l_max"][0], self.shapes["coef_mean"][0]]
        return np.array([self.offsets[b] for b in BLOCKS] + tail, np.int64)


def geo_layout(
    spec: GeoModelSpec,
    channels: tuple[str, ...],
    kinds: tuple[str, ...],
    g_n: int,
    o_n: int,
    j_n: int,
) -> GeoLayout:
    """The layout of a geo model with these dimensions and priors.

    Parameters
    ----------
    spec : GeoModelSpec
    channels, kinds : tuple of str
    g_n, o_n, j_n : int
        Regions, outcomes (1 or 2) and baseline features.

    Returns
    -------
    GeoLayout
    """
    c_n = len(channels)
    roi = np.array([spec.roi_prior(c, k) for c, k in zip(channels, kinds, strict=True)])
    # The spread's prior is the spec's whatever the parametrisation (centred or not): a
    # zero-avoiding Gamma(2) of mean roi_spread_sd, or a half-normal of that scale.
    spread_prior: tuple[str, tuple[int, ...], int, np.ndarray | float, np.ndarray | float] = (
        ("roi_spread", (c_n,), GAMMA, 2.0, 2.0 / spec.roi_spread_sd)
        if spec.roi_spread_prior == "gamma"
        else ("roi_spread", (c_n,), HALFNORMAL, 0.0, spec.roi_spread_sd)
    )
    blocks: list[tuple[str, tuple[int, ...], int, np.ndarray | float, np.ndarray | float]] = [
        ("log_roi", (c_n,), NORMAL, roi[:, 0], roi[:, 1]),
        spread_prior,
        ("roi_geo_log", (g_n, c_n), HIER if spec.roi_centred else HIER_NC, 0.0, 1.0),
        ("adstock_alpha", (c_n,), BETA, 2.0, 3.0),
        ("half_sat", (c_n,), LOGNORMAL, 0.0, spec.half_sat_sd),
        ("hill_slope", (c_n,), LOGNORMAL, math.log(1.5), spec.slope_sd),
        ("share_first", (c_n if o_n == 2 else 0,), BETA, 1.0, 1.0),
        ("level", (g_n, o_n), NORMAL, 1.0, 0.3),
        ("coef_mean", (j_n, o_n), NORMAL, 0.0, spec.coef_sd),
        ("coef_spread", (j_n, o_n), GAMMA, 2.0, 2.0 / spec.baseline_spread_sd),
        (
            "level_step",
            (o_n if spec.baseline == "local_level" else 0,),
            GAMMA,
            2.0,
            2.0 / spec.baseline_step_sd,
        ),
        ("noise", (g_n, o_n), HALFNORMAL, 0.0, spec.noise_sd),
    ]
    shapes: dict[str, tuple[int, ...]] = {}
    offsets: dict[str, int] = {}
    kind, pa, pb = [], [], []
    at = 0
    for name, shape, k, a, b in blocks:
        size = math.prod(shape)
        shapes[name] = shape
        offsets[name] = at
        kind.append(np.full(size, k, np.int64))
        pa.append(np.broadcast_to(np.asarray(a, float), shape).reshape(-1))
        pb.append(np.broadcast_to(np.asarray(b, float), shape).reshape(-1))
        at += size
    shapes["l_max"] = (spec.l_max,)
    return GeoLayout(
        shapes=shapes,
        offsets=offsets,
        kind=np.concatenate(kind),
        prior_a=np.ascontiguousarray(np.concatenate(pa)),
        prior_b=np.ascontiguousarray(np.concatenate(pb)),
        n=at,
    )
