"""Which form the geo run's pilot picks for the regional log ROI, on the simulator's worlds.

For each world, :func:`omnimmm.mmm.geo.pilot.choose_roi_form` (2 chains x 100 draws after 100
tuning steps, non-centred) on the whole panel at default settings: the median shrinkage of
the regions' log ROI toward the national one per channel, the median over channels, and the
form chosen (centred below 0.5). Worlds: ``simulate_geo_world(16, 130, seed)`` for the
ordinary seeds (regional effects differ), the same with ``same_effects=True`` (the negative
control: one ROI for every region), and optionally the 100 x 104 store-cluster world.

Run::

    python benchmarks/diag_geo_pilot.py [--seeds 0 1 2] [--same 0 22 23] [--big] [--no-write]

It rewrites its section of ``benchmarks/RESULTS.md``.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _results import machine_header, markdown_table, update_section


def one(label: str, n_geos: int, n_weeks: int, seed: int, same: bool) -> list[str]:
    """The table row of one world."""
    from omnimmm.data.simulate_geo import simulate_geo_world
    from omnimmm.mmm.geo import GeoModelSpec
    from omnimmm.mmm.geo.pilot import choose_roi_form

    world = simulate_geo_world(n_geos=n_geos, n_weeks=n_weeks, seed=seed, same_effects=same)
    t0 = time.process_time()
    choice = choose_roi_form(world.panel, GeoModelSpec(), seed=0)
    cpu = time.process_time() - t0
    per = ", ".join(f"{k} {v:.2f}" for k, v in choice.shrinkage.items())
    form = "centred" if choice.centred else "non-centred"
    row = [label, f"{n_geos} x {n_weeks}", per, f"{choice.median:.2f}", form, f"{cpu:.0f}"]
    print(row, flush=True)
    return row


def main(argv: list[str] | None = None) -> int:
    """Run the pilots and write the RESULTS.md section."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seeds", type=int, nargs="*", default=[0, 1, 2, 3, 4, 11, 12, 13, 91])
    ap.add_argument("--same", type=int, nargs="*", default=[0, 22, 23])
    ap.add_argument("--big", action="store_true", help="also the 100 x 104 world (seed 0)")
    ap.add_argument("--no-write", action="store_true")
    args = ap.parse_args(argv)
    header = machine_header(("omnimmm", "nutpie", "numba"))
    rows = [one(f"seed {s}", 16, 130, s, False) for s in args.seeds]
    rows += [one(f"same effects {s}", 16, 130, s, True) for s in args.same]
    if args.big:
        rows.append(one("seed 0", 100, 104, 0, False))
    table = markdown_table(
        ["world", "regions x weeks", "shrinkage by channel", "median", "form", "pilot CPU s"], rows
    )
    text = "\n".join(
        ["## Geo pilot: the regional ROI's sampling form on simulated worlds (issue 19)", "",
         __doc__.split("\n\n")[1].replace("\n", " "), "", header, "", table]
    )  # fmt: skip
    print(text)
    if not args.no_write:
        update_section("geo_pilot", text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
