"""Spend that is not in the outcome's currency: default ROI priors that cannot fit the data.

The default media prior is on ROI, revenue per unit of spend, in business units (the
kinds' defaults of ``[model.roi_prior_default]``, e.g. LogNormal with mean 1.5 and sd 1 for
online channels). It presumes that spend and outcome are in the same currency. Panels do
not always keep to that: PyMC-Marketing's example has "spend" scaled to [0, 1] against an
outcome of about 5,000 a week, others bring impressions, GRPs or spend in thousands against
revenue in units. Then the ROI prior pins every channel at an absurd share of the outcome
(0.05% of it on that example; a thousand times the outcome with impressions), the media
effects are whatever the prior says, and the baseline takes the rest: the forecast is the
baseline's.

:func:`resolve_roi_units` checks this on the training panel before the model is built.
Over the channels whose prior is their kind's default (a plan's own ``roi_prior`` or
``[model.roi_prior_default]`` is kept as written), it takes their spend totals times their
priors' 99th and 1st percentile ROIs: if even the 99th percentiles explain less than
:data:`SHARE_FLOOR` of the outcomes' total, or the 1st percentiles more than
:data:`SHARE_CEIL` of it, the priors cannot be right for these units. Those channels then
get the scale-free effect prior instead (the same as a plan's ``coef_prior_sd``:
``beta ~ HalfNormal(SCALE_FREE_SD)`` on the scaled effect, where 1 is an average week's
outcome at full saturation), and the returned note says so; the run prints it. On spend in
the outcome's currency nothing changes: media spend of 2-17% of revenue on the real
retailer, Robyn's and Meridian's panels lies far inside the bounds.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

from omnimmm.mmm.design import ModelSpec
from omnimmm.mmm.priors import lognormal_params

__all__ = ["SCALE_FREE_SD", "SHARE_CEIL", "SHARE_FLOOR", "resolve_roi_units"]

#: Below this share of the outcome at the priors' 99th percentile ROIs, spend is not in
#: the outcome's currency (media that could never explain 1% of sales would not be modelled).
SHARE_FLOOR = 0.01
#: Above this share at the priors' 1st percentile ROIs (media forced to exceed the whole
#: outcome), likewise.
SHARE_CEIL = 1.0
#: The scale-free prior's sd: ``HalfNormal`` on the effect of full saturation, in average
#: weeks of the outcome.
SCALE_FREE_SD = 1.0
_Z99 = 2.326


def _quantiles(mean: float, sd: float) -> tuple[float, float]:
    mu, sigma = lognormal_params(mean, sd)
    return math.exp(mu - _Z99 * sigma), math.exp(mu + _Z99 * sigma)


def resolve_roi_units(
    spec: ModelSpec, spend_total: np.ndarray, outcome_total: float
) -> tuple[ModelSpec, str | None]:
    """The spec with scale-free effect priors where the default ROI priors cannot fit.

    Parameters
    ----------
    spec : ModelSpec
    spend_total : numpy.ndarray of shape (C,)
        Each channel's spend over the training weeks, in ``spec.channels`` order.
    outcome_total : float
        All outcomes' total over the same weeks.

    Returns
    -------
    tuple of (ModelSpec, str or None)
        The spec (unchanged when the priors fit the units) and a note for the user when
        channels were switched, else None.
    """
    ix = [i for i, c in enumerate(spec.channels) if c.roi_default and c.coef_prior_sd is None]
    if not ix or not outcome_total > 0:
        return spec, None
    lo = hi = 0.0
    for i in ix:
        q01, q99 = _quantiles(spec.channels[i].roi_mean, spec.channels[i].roi_sd)
        lo += q01 * float(spend_total[i])
        hi += q99 * float(spend_total[i])
    lo, hi = lo / outcome_total, hi / outcome_total
    if hi >= SHARE_FLOOR and lo <= SHARE_CEIL:
        return spec, None
    names = [spec.channels[i].name for i in ix]
    share = float(np.sum(np.asarray(spend_total, dtype=float)[ix])) / outcome_total
    if hi < SHARE_FLOOR:
        why = (
            f"even at the 99th percentile of their default ROI priors they would explain "
            f"{hi:.2%} of it"
        )
    else:
        why = (
            f"even at the 1st percentile of their default ROI priors they would explain "
            f"{lo:.0%} of it"
        )
    channels = tuple(
        dataclasses.replace(c, coef_prior_sd=SCALE_FREE_SD) if i in ix else c
        for i, c in enumerate(spec.channels)
    )
    note = (
        f"the spend of {', '.join(names)} totals {share:.3g} times the outcome, so it is "
        f"probably not in the outcome's currency: {why}. Their ROI priors are replaced by "
        f"a scale-free effect prior (as coef_prior_sd = {SCALE_FREE_SD:g}); ROIs are "
        "reported per unit of the spend columns. Give each channel an roi_prior in these "
        "units (or spend in the outcome's currency) to keep ROI priors"
    )
    return dataclasses.replace(spec, channels=channels), note
