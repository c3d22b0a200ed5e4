"""A national plan's ``[festivals] extra`` fixed days reach the model's baseline."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from omnimmm.config import load_plan
from omnimmm.data import load_panel
from omnimmm.mmm.design import ModelSpec, baseline_features, fit_scaling

DEMO = Path(__file__).resolve().parents[1] / "data" / "demo" / "plan.toml"


def test_extra_fixed_days_become_festival_features() -> None:
    plan = load_plan(DEMO)
    plan = plan.model_copy(
        update={"festivals": plan.festivals.model_copy(update={"extra": ("12-12",)})}
    )
    panel = load_panel(plan)
    spec = ModelSpec.from_plan(plan)
    assert spec.festival_extra == ("12-12",)
    assert ModelSpec.from_dict(spec.to_dict()) == spec  # a saved model keeps the day
    scaling = fit_scaling(panel, spec)
    assert "festival_12_12" in scaling.festivals
    dates = pd.DatetimeIndex(panel.dates)
    controls = panel.controls[list(spec.controls)] if spec.controls else None
    feats = baseline_features(dates, controls, spec, scaling)["festivals"]
    column = feats[:, list(scaling.festivals).index("festival_12_12")]
    holds = np.array([(d <= pd.Timestamp(d.year, 12, 12) < d + pd.Timedelta(days=7)) or
                      (d <= pd.Timestamp(d.year + 1, 12, 12) < d + pd.Timedelta(days=7))
                      for d in dates])  # fmt: skip
    assert column.sum() >= 2 and np.array_equal(column == 1.0, holds)


def test_a_model_saved_before_extra_days_loads_without_them() -> None:
    spec = ModelSpec.from_plan(load_plan(DEMO))
    saved = spec.to_dict()
    del saved["festival_extra"]
    assert ModelSpec.from_dict(saved).festival_extra == ()
