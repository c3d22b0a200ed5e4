"""Shared fixtures. Each helper is named for what it builds; add yours below the others."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

# --- media panel + plan (tests of config, data validation and ``omnimmm validate``) ---------

MEDIA_PLAN_TOML = """\
[data]
path = "world.csv"
date = "date"
outcomes = ["online_revenue", "offline_revenue"]
controls = ["price_index", "event_618"]

[[channels]]
name = "tv"
column = "tv_spend"
kind = "offline"

[[channels]]
name = "search"
column = "search_spend"
kind = "online"

[[channels]]
name = "social"
column = "social_spend"
kind = "online"

[budget]
horizon_weeks = 13
total = 5000000.0
max_change = 0.5
"""


def make_media_frame(weeks: int = 60, seed: int = 7) -> pd.DataFrame:
    """A small deterministic weekly panel matching :data:`MEDIA_PLAN_TOML` (dates as text)."""
    rng = np.random.default_rng(seed)
    dates = pd.date_range("2022-01-03", periods=weeks, freq="7D")
    return pd.DataFrame(
        {
            "date": dates.strftime("%Y-%m-%d"),
            "tv_spend": rng.gamma(2.0, 50_000.0, weeks).round(2),
            "search_spend": rng.gamma(3.0, 10_000.0, weeks).round(2),
            "social_spend": rng.gamma(2.0, 5_000.0, weeks).round(2),
            "online_revenue": rng.normal(1_000_000.0, 50_000.0, weeks).round(2),
            "offline_revenue": rng.normal(2_000_000.0, 80_000.0, weeks).round(2),
            "price_index": rng.normal(1.0, 0.02, weeks).round(4),
            "event_618": (dates.month == 6).astype(int) * (dates.day <= 21),
        }
    )


@pytest.fixture
def media_plan_files(tmp_path: Path) -> Callable[..., Path]:
    """Factory writing ``world.csv`` (or given text/frame) and ``plan.toml``; returns the plan.

    Call as ``media_plan_files(frame=None, plan=MEDIA_PLAN_TOML, csv_text=None)``.
    """

    def write(
        frame: pd.DataFrame | None = None,
        plan: str = MEDIA_PLAN_TOML,
        csv_text: str | None = None,
    ) -> Path:
        data = tmp_path / "world.csv"
        if csv_text is not None:
            data.write_text(csv_text, encoding="utf-8")
        else:
            (make_media_frame() if frame is None else frame).to_csv(data, index=False)
        plan_path = tmp_path / "plan.toml"
        plan_path.write_text(plan, encoding="utf-8")
        return plan_path

    return write


# --- one fitted quarterly run per session (tests of the pipeline, report and browser) -------


@pytest.fixture(scope="session")
def fitted_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real ``omnimmm run`` of the tiny world in ``tests/pipeline_world.py`` (2 chains x
    100 draws, gate allowed to fail); returns the run directory, next to ``inputs/``."""
    from omnimmm import run as pipeline
    from pipeline_world import write_world

    base = tmp_path_factory.mktemp("pipeline")
    plan = write_world(base / "inputs")
    pipeline.run(plan, base / "run")
    return base / "run"
