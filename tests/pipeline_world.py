"""A tiny weekly world and plan for the pipeline, report and CLI tests (not a test module).

Three channels, two outcomes, 86 weeks with media effects built in; one channel is named
``<script>alert(1)</script>`` so every test of the exports also tests escaping. Sampling
is 2 chains x 100 draws with the quality gate allowed to fail (it will: 200 draws cannot
reach a bulk ESS of 400).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

EVIL = "<script>alert(1)</script>"

PLAN = """\
seed = 3

[data]
path = "world.csv"
date = "date"
outcomes = ["online_revenue", "offline_revenue"]
controls = ["price_index"]

[[channels]]
name = "tv"
column = "tv_spend"
kind = "offline"

[[channels]]
name = "search"
column = "search_spend"
kind = "online"

[[channels]]
name = "{evil}"
column = "social_spend"
kind = "online"

[budget]
horizon_weeks = 8
max_change = 0.5

[model]
synergies = [["tv", "search"]]
chains = 2
draws = 100
tune = 100
holdout_weeks = 8
yearly_fourier = 1

[gate]
allow_failure = {allow}

[festivals]
calendar = "none"
"""


def plan_text(allow_failure: bool = True, **replace: str) -> str:
    """The plan; ``replace`` maps an exact line of it to a new line (or block)."""
    text = PLAN.format(evil=EVIL, allow="true" if allow_failure else "false")
    for old, new in replace.items():
        assert old in text, old
        text = text.replace(old, new)
    return text


def world_frame(weeks: int = 86, seed: int = 11) -> pd.DataFrame:
    """Weekly spend with saturating effects on both outcomes plus noise."""
    rng = np.random.default_rng(seed)
    dates = pd.date_range("2023-01-02", periods=weeks, freq="7D")
    tv = rng.gamma(2.0, 60_000.0, weeks) * (rng.random(weeks) > 0.2)
    search = rng.gamma(4.0, 12_000.0, weeks)
    social = rng.gamma(3.0, 8_000.0, weeks)
    season = 1 + 0.08 * np.sin(2 * np.pi * np.arange(weeks) / 52)

    def sat(x: np.ndarray, half: float) -> np.ndarray:
        return x / (x + half)

    online = 900_000 * season + 250_000 * sat(search, 50_000) + 80_000 * sat(tv, 150_000)
    online += 90_000 * sat(social, 30_000)
    store = 1_600_000 * season + 300_000 * sat(tv, 150_000) + 60_000 * sat(social, 30_000)
    online *= rng.normal(1, 0.03, weeks)
    store *= rng.normal(1, 0.03, weeks)
    return pd.DataFrame(
        {
            "date": dates.strftime("%Y-%m-%d"),
            "tv_spend": tv.round(2),
            "search_spend": search.round(2),
            "social_spend": social.round(2),
            "online_revenue": online.round(2),
            "offline_revenue": store.round(2),
            "price_index": rng.normal(1.0, 0.02, weeks).round(4),
        }
    )


def write_world(folder: Path, frame: pd.DataFrame | None = None, plan: str | None = None) -> Path:
    """Write ``world.csv`` and ``plan.toml`` into ``folder``; returns the plan path."""
    folder.mkdir(parents=True, exist_ok=True)
    (world_frame() if frame is None else frame).to_csv(folder / "world.csv", index=False)
    path = folder / "plan.toml"
    path.write_text(plan_text() if plan is None else plan, encoding="utf-8")
    return path
