"""Customer lifecycle: unified customer ids, point-in-time features, propensity and value.

Light re-exports only; this package never imports pymc. Submodules:

* :mod:`omnimmm.lifecycle.identity` -- one ``customer_id`` across app accounts, store
  memberships, phones, emails and devices (normalisation, union-find, match rates), and
  :func:`assign_customer_ids` to key campaign or contact rows by that id.
* :mod:`omnimmm.lifecycle.privacy` -- salted hashing and masking of phones and emails.
* :mod:`omnimmm.lifecycle.features` -- point-in-time features with DuckDB SQL, lifecycle stages.
* :mod:`omnimmm.lifecycle.campaigns` -- point-in-time contact and response features from a
  campaign history (joined onto the features when one is given).
* :mod:`omnimmm.lifecycle.labels` -- churn and repurchase labels, rolling cutoff plans and the
  longest horizon a history supports.
* :mod:`omnimmm.lifecycle.propensity` -- calibrated LightGBM classifiers (scikit-learn
  estimators), named LightGBM presets, the RFM logistic baseline, metrics and SHAP drivers.
* :mod:`omnimmm.lifecycle.value` -- expected revenue and per-segment uplift of campaigns.
* :mod:`omnimmm.lifecycle.score` -- end-to-end scoring behind ``omnimmm lifecycle score``.

The heavier submodules are not imported here, so ``import omnimmm.lifecycle`` stays light.
"""

from omnimmm.lifecycle.identity import (
    IdentityResult,
    assign_customer_ids,
    normalize_email,
    normalize_phone,
    pairwise_scores,
    resolve_identities,
)
from omnimmm.lifecycle.privacy import hash_identifier, mask_email, mask_phone, scrub_frame

__all__ = [
    "IdentityResult",
    "assign_customer_ids",
    "hash_identifier",
    "mask_email",
    "mask_phone",
    "normalize_email",
    "normalize_phone",
    "pairwise_scores",
    "resolve_identities",
    "scrub_frame",
]
