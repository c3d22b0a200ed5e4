"""Geo model (issue 19): candidate default settings, world by world.

Each variant is a ``GeoModelSpec`` (as JSON keywords) and a ``target_accept``; each fit runs
in its own child process (``bench_geo.py --child omnimmm``), one after the other, on
``simulate_geo_world(16, 130, seed)`` (``n<seed>``: the same-effects world of that seed),
and leaves one JSON in ``--out`` named ``<variant>_s<seed>.json`` (a run that finds its JSON
there is skipped, so an interrupted benchmark resumes). ``--report`` writes the section
``geo_defaults`` of ``benchmarks/RESULTS.md``: one table per variant with every JSON found.

Usage (from the repository root)::

    nice -n 19 .venv/bin/python benchmarks/bench_geo_variants.py --variants ta08 ta09 \
        --seeds 0 1 2 3 4 11 12 13 n0
    .venv/bin/python benchmarks/bench_geo_variants.py --variants ta08 ta09 --report
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _results import machine_header, markdown_table, update_section
from bench_geo import run_child

#: name: (label, GeoModelSpec keywords, target_accept).
VARIANTS: dict[str, tuple[str, dict[str, Any], float]] = {
    "ta08": ("default settings (target_accept 0.8)", {}, 0.8),
    "ta09": ("target_accept 0.9, otherwise default", {}, 0.9),
    "wide": (
        "wider shape priors (half_sat_sd 1.0, slope_sd 0.6; default 0.7, 0.4), target_accept 0.8",
        {"half_sat_sd": 1.0, "slope_sd": 0.6},
        0.8,
    ),
}


def run(variant: str, seed: str, draws: int, out: Path) -> dict[str, Any]:
    """One fit of ``variant`` on world ``seed`` (``n0``: same effects), cached in ``out``."""
    path = out / f"{variant}_s{seed}.json"
    if path.is_file():
        return dict(json.loads(path.read_text()))
    _, spec, ta = VARIANTS[variant]
    kw: dict[str, Any] = {"seed": int(seed.lstrip("n")), "draws": draws, "tune": draws}
    kw.update({"same_effects": seed.startswith("n"), "target_accept": ta})
    if spec:
        kw["spec"] = json.dumps(spec)
    res = run_child("omnimmm", **kw)
    res["draws_per_chain"] = draws
    path.write_text(json.dumps(res, default=float))
    return res


def _row(seed: str, r: dict[str, Any]) -> list[str]:
    world = f"same effects {seed[1:]}" if seed.startswith("n") else seed
    if "error" in r:
        return [world, "error: " + r["error"][:60]] + [""] * 11
    d = r["diagnostics"]
    null = f"{r['n_regional'] - r['null_missed']}/{r['n_regional']}" if "null_missed" in r else ""
    return [
        world,
        str(r.get("draws_per_chain", 1000)),
        "pass" if d["passed"] else "FAIL",
        f"{d['max_rhat']:.3f}",
        f"{d['min_ess_bulk']:.0f}",
        str(d["divergences"]),
        f"{r['cpu_s']:.0f}",
        f"{r['national_mape']:.3f}",
        f"{r['national_inside']}/{r['n_channels']}",
        ", ".join(f"{c} {r['national_ape'][c]:.3f}" for c in r["national_missed"]) or "-",
        f"{r['regional_mape']:.3f}",
        f"{r['regional_coverage']:.3f}",
        null,
    ]


def _order(seed: str) -> tuple[int, int, str]:
    """Worlds in seed order, then the same-effects ones, then other runs (e.g. ``0-500``)."""
    if seed.isdigit():
        return 0, int(seed), seed
    return (1 if seed.startswith("n") else 2), 0, seed


def report(variants: list[str], out: Path, note: str) -> None:
    """Write the section ``geo_defaults`` from the JSONs in ``out``."""
    header = ["world (16x130)", "draws/chain", "gate", "max R-hat", "min ESS", "div", "CPU s",
              "nat MAPE", "nat in 90%", "missed (APE)", "reg MAPE", "reg cov",
              "null: reg cover nat truth"]  # fmt: skip
    parts = [
        "## Geo model defaults (issue 19): national coverage, divergences, candidate changes\n",
        machine_header(("omnimmm", "nutpie", "numba")),
    ]
    for v in variants:
        seeds = sorted((f.stem[len(v) + 2 :] for f in out.glob(f"{v}_s*.json")), key=_order)
        rows = [_row(s, json.loads((out / f"{v}_s{s}.json").read_text())) for s in seeds]
        if rows:
            parts.append(f"**{VARIANTS[v][0]}** (`{v}`)\n\n" + markdown_table(header, rows) + "\n")
    if note:
        parts.append(note)
    update_section("geo_defaults", "\n".join(parts))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=list(VARIANTS))
    ap.add_argument("--seeds", nargs="+", default=["0", "1", "2", "3", "4", "11", "12", "13", "n0"])
    ap.add_argument("--draws", type=int, default=1000, help="draws and tuning steps per chain")
    ap.add_argument("--out", default="/tmp/omnimmm_bench_geo_variants", help="one JSON per fit")
    ap.add_argument("--report", action="store_true", help="only write RESULTS from --out")
    ap.add_argument("--no-report", action="store_true", help="do not write RESULTS")
    ap.add_argument("--note", default="", help="a file whose text ends the section")
    args = ap.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    if not args.report:
        for v in args.variants:
            for s in args.seeds:
                r = run(v, s, args.draws, out)
                print(
                    v,
                    s,
                    {k: r.get(k) for k in ("cpu_s", "national_inside", "national_missed")},
                    flush=True,
                )
    if args.no_report:
        return
    note = Path(args.note).read_text() if args.note else ""
    report(args.variants, out, note)


if __name__ == "__main__":
    main()
