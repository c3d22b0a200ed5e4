"""The geo (region) hierarchical MMM: one model over many regions (issue 19).

Each channel's ROI varies by region around a national one (log-normal, centred); its
adstock and saturation shape are shared, the saturation acting on spend per capita so that
its scale follows region size; each region has its own baseline (level, trend, yearly
seasonality, festivals, controls) whose coefficients are pooled around national ones (the
regional ones integrated out of the density); lift tests may name a region; two
outcomes share each channel's ROI through a cross-effect share. The log density and its
gradient are written by hand (:mod:`~omnimmm.mmm.geo.kernel`, checked against the PyMC
graph of :mod:`~omnimmm.mmm.geo.model`) and sampled with nutpie.

Modules, in the order of the data flow: ``spec`` (settings, scaled data), ``layout``
(parameters and priors), ``model`` (PyMC reference), ``kernel`` (log density, gradient),
``sampler`` (nutpie), ``posterior`` (draws to parameters), ``fit`` (fit_geo, GeoFit),
``store`` (save and load).
"""

from __future__ import annotations

from omnimmm.mmm.stack import import_sampling_stack

import_sampling_stack()  # before geo.fit imports PyMC: see omnimmm.mmm.stack

from omnimmm.mmm.geo.fit import GATE, GeoFit, fit_geo, load_geo  # noqa: E402
from omnimmm.mmm.geo.spec import GeoLiftTest, GeoModelSpec  # noqa: E402

__all__ = [
    "GATE",
    "GeoFit",
    "GeoLiftTest",
    "GeoModelSpec",
    "fit_geo",
    "load_geo",
    "truth_responses",
]


def truth_responses(world: object, horizon_weeks: int = 13) -> dict[str, object]:
    """A simulated world's true per-region responses (see
    :meth:`omnimmm.data.simulate_geo.GeoWorld.response_kwargs`)."""
    from omnimmm.data.simulate_geo import GeoWorld
    from omnimmm.optimize.response import AdstockSaturationResponse

    if not isinstance(world, GeoWorld):
        raise TypeError(f"truth_responses needs a GeoWorld, got {type(world).__name__}")
    return {
        g: AdstockSaturationResponse.from_arrays(**kw)
        for g, kw in world.response_kwargs(horizon_weeks).items()
    }
