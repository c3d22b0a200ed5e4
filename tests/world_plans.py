"""A simulated world's plan with ``[model]`` keys changed, and its panel (for MMM tests)."""

from __future__ import annotations

import tempfile
from typing import Any

from omnimmm.config import Plan, plan_from_dict
from omnimmm.data.schema import Panel


def plan_and_panel(world: Any, **model: Any) -> tuple[Plan, Panel]:
    """``world``'s plan with the ``[model]`` keys ``model`` set, and its panel."""
    raw = {**world.plan, "model": {**world.plan.get("model", {}), **model}}
    with tempfile.TemporaryDirectory() as tmp:
        plan = plan_from_dict(raw, base_dir=tmp)
    return plan, Panel.from_frame(world.panel, plan, source="world.csv")
