"""Writing a simulated geo world (:mod:`omnimmm.data.simulate_geo`) as a user would hold it:
the long panel, a geo plan that runs as it is, and the truth (``omnimmm simulate --geos N``).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from omnimmm.data.outputs import write_files_atomic
from omnimmm.data.toml_writer import dumps_toml
from omnimmm.errors import PlanError

__all__ = ["GEO_FILES", "geo_plan", "simulate_geo_files", "write_geo_world"]

#: The files :func:`write_geo_world` writes.
GEO_FILES = ("geo_panel.csv", "plan.toml", "truth.json")


def geo_plan(world: Any, data_file: str = "geo_panel.csv") -> dict[str, Any]:
    """The plan (TOML-able dict) that reads ``data_file`` (``world.to_frame()``) as a geo panel.

    Festivals come from the plan's ``[festivals]`` calendar (china), as in the simulator.
    """
    p = world.panel
    return {
        "seed": int(world.seed),
        "data": {
            "path": data_file,
            "date": "date",
            "geo": "geo",
            "population": "population",
            "outcomes": list(p.outcomes),
            "controls": list(p.control_names),
        },
        "channels": [
            {"name": c, "column": c, "kind": k, "scope": s}
            for c, k, s in zip(p.channels, p.kinds, p.scopes, strict=True)
        ],
        "budget": {"horizon_weeks": 13, "max_change": 0.5},
    }


def write_geo_world(world: Any, out_dir: str | os.PathLike[str]) -> list[Path]:
    """Write ``geo_panel.csv``, ``plan.toml`` and ``truth.json`` into ``out_dir``.

    ``truth.json`` holds :meth:`GeoWorld.truth_dict`: the national ROI per channel (sum over
    regions of contributions over spend), the ROI per region and channel, the parameters and
    populations. Files are written to a temporary folder inside ``out_dir`` and moved into
    place, so an interrupted run leaves no half-written file; same world, same bytes.

    Raises
    ------
    PlanError
        ``out_dir`` exists and is not a directory.
    """
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise PlanError(f"simulate: output path {out} exists and is not a directory")
    out.mkdir(parents=True, exist_ok=True)
    p = world.panel
    header = (
        f"Simulated geo world (omnimmm.data.simulate_geo), seed {world.seed}, {p.n_geos} "
        f"regions x {p.n_weeks} weeks, {len(p.channels)} channels "
        f"({sum(s == 'national' for s in p.scopes)} national), amounts in CNY.\n"
        "Ground truth (national and regional ROI): truth.json."
    )
    contents = {
        "geo_panel.csv": world.to_frame().to_csv(
            index=False, date_format="%Y-%m-%d", lineterminator="\n"
        ),
        "plan.toml": dumps_toml(geo_plan(world), header=header),
        "truth.json": json.dumps(world.truth_dict(), indent=2, allow_nan=False) + "\n",
    }
    return write_files_atomic(out, contents)


def simulate_geo_files(
    out_dir: str | os.PathLike[str], n_geos: int, n_weeks: int, seed: int, same_effects: bool
) -> list[Path]:
    """Simulate a geo world (6 channels, 2 national, two outcomes) and write it.

    Raises
    ------
    PlanError
        Fewer than 2 regions, or ``out_dir`` is a file.
    """
    from omnimmm.data.simulate_geo import simulate_geo_world

    if n_geos < 2:
        raise PlanError(f"simulate: --geos must be at least 2 regions, got {n_geos}")
    world = simulate_geo_world(n_geos=n_geos, n_weeks=n_weeks, seed=seed, same_effects=same_effects)
    return write_geo_world(world, out_dir)
