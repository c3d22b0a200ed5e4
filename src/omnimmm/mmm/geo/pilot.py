"""Which form to sample the regional log ROI in, read from a short pilot fit.

The centred form (each region's log ROI sampled around the national one) and the
non-centred form (standard normal deviations scaled by the spread) are the same model; the
sampler's geometry is what differs. The textbook rule for a normal hierarchy: centred when
each group's own data pin its parameter more tightly than the population spread, non-centred
when the prior (the spread) dominates. A centred fit in the second case sits in a funnel:
on Meridian's 40-geo example one of its chains was still in it after 28 minutes (4 x 1000),
where the non-centred fit needs about 18 leapfrog steps a draw.

:func:`choose_roi_form` fits the model non-centred for a few draws (2 chains x 100 after 100
tuning steps: seconds, as the form is robust where the choice matters) and measures, for
each region and channel, the posterior variance of its deviation from the national log ROI
over the mean squared spread: ``shrinkage = var(theta[g, c] - mu[c]) / E[tau[c]^2]``. With
the national value and spread known, that ratio is ``s^2 / (s^2 + tau^2)`` (``s`` the
region's own standard error): below 1/2 the region's data dominate. The choice is centred
when the median over channels of each channel's median over the regions that spent on it is
below :data:`CENTRED_BELOW`.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from omnimmm.data.geo_panel import GeoPanel
from omnimmm.mmm.geo.spec import GeoModelSpec

__all__ = ["CENTRED_BELOW", "PILOT", "RoiFormChoice", "choose_roi_form"]

#: The pilot's sampler settings.
PILOT = {"chains": 2, "draws": 100, "tune": 100}
#: Median shrinkage below which the regions' own data dominate, so the centred form suits.
CENTRED_BELOW = 0.5


@dataclass(frozen=True)
class RoiFormChoice:
    """The form chosen for the regional log ROI, and why.

    Attributes
    ----------
    centred : bool
    shrinkage : dict of str to float
        Per channel, the median over the regions that spent on it of ``var(theta - mu) /
        E[tau^2]`` in the pilot (0: the region's data decide alone; 1: the spread alone).
    seconds : float
        Wall seconds of the pilot fit.
    """

    centred: bool
    shrinkage: dict[str, float]
    seconds: float

    @property
    def median(self) -> float:
        """The median over channels of :attr:`shrinkage`: what decides."""
        return _median(self.shrinkage)

    def describe(self) -> str:
        """One line for the run's log."""
        form = "centred" if self.centred else "non-centred"
        side = "below" if self.centred else "at or above"
        return (
            f"regional ROI sampled {form}: in a {PILOT['chains']} x {PILOT['draws']} pilot "
            f"({self.seconds:.0f} s) the regions' shrinkage toward the national ROI has median "
            f"{self.median:.2f} over {len(self.shrinkage)} channels, {side} {CENTRED_BELOW:g}"
        )

    def as_dict(self) -> dict[str, Any]:
        """For ``manifest.json``."""
        return {
            "centred": self.centred,
            "median_shrinkage": round(self.median, 4),
            "shrinkage": {k: round(v, 4) for k, v in self.shrinkage.items()},
            "centred_below": CENTRED_BELOW,
            "pilot": dict(PILOT),
            "seconds": round(self.seconds, 3),
        }


def choose_roi_form(
    panel: GeoPanel, spec: GeoModelSpec, *, seed: int = 0, cores: int | None = None
) -> RoiFormChoice:
    """Pick the centred or the non-centred form for ``spec``'s model on ``panel``.

    Parameters
    ----------
    panel : GeoPanel
    spec : GeoModelSpec
        The model to fit (its ``roi_centred`` is ignored: the pilot samples non-centred).
    seed : int
    cores : int, optional
        Threads for the pilot's chains.

    Returns
    -------
    RoiFormChoice
    """
    from omnimmm.mmm.geo.fit import fit_geo

    t0 = time.perf_counter()
    pilot = fit_geo(
        panel, dataclasses.replace(spec, roi_centred=False), chains=PILOT["chains"],
        draws=PILOT["draws"], tune=PILOT["tune"], seed=seed, cores=cores,
    )  # fmt: skip
    d = pilot.draws
    deviation = np.log(d.roi) - d.log_roi[:, None, :]
    ratio = deviation.var(axis=0) / np.mean(d.roi_spread**2, axis=0)[None, :]
    spent = pilot.data.spend_total > 0  # every channel spends somewhere (geo_data checks)
    shrinkage = {
        name: float(np.median(ratio[spent[:, c], c])) for c, name in enumerate(panel.channels)
    }
    return RoiFormChoice(
        centred=_median(shrinkage) < CENTRED_BELOW,
        shrinkage=shrinkage,
        seconds=time.perf_counter() - t0,
    )


def _median(shrinkage: dict[str, float]) -> float:
    return float(np.median(list(shrinkage.values())))
