"""Score a geo RUN directory the way a user gets it: the gate, the automatic remedies and the
time from ``manifest.json``, the recovery from ``recommendation.json`` against the world's
``truth.json`` (:func:`score_geo_run.score`) and, for the negative control, how many region x
channel 90% intervals cover the NATIONAL truth ROI (a world where every region has the same
effects: the issue asks that they all do), with the misses by channel.

Run: ``.venv/bin/python benchmarks/score_geo_null.py RUN_DIR WORLD_DIR [--json OUT]``
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from score_geo_run import score


def null_cover(rec: dict[str, Any], truth: dict[str, Any]) -> dict[str, Any]:
    """Region x channel intervals (cells with spend) covering the national truth ROI."""
    nat = truth["roi_national"]
    n, inside, missed = 0, 0, {}
    for g in rec["geos"]:
        for c in g["channels"]:
            r = c["roi"]
            if r["mean"] is None or r["low"] is None:
                continue
            n += 1
            if r["low"] <= nat[c["name"]] <= r["high"]:
                inside += 1
            else:
                missed[c["name"]] = missed.get(c["name"], 0) + 1
    return {"null_cover_national": f"{inside}/{n}", "null_missed_by_channel": missed}


def run_facts(run: Path) -> dict[str, Any]:
    """Gate, remedies and seconds from the run's manifest.json."""
    m = json.loads((run / "manifest.json").read_text(encoding="utf-8"))
    attempts = m.get("remedies", {}).get("attempts", [])
    stages = m.get("stages", {})
    out: dict[str, Any] = {
        "gate": m.get("gate"),
        "attempts": [
            {k: a.get(k) for k in ("remedy", "settings", "rhat_max", "ess_bulk_min",
                                   "divergences", "passed", "seconds")}
            for a in attempts
        ],
        "wall_seconds": stages.get("wall_seconds"),
        # wall and CPU seconds of each stage (--profile runs; the CPU is the process's)
        "profile": {p["part"]: [p.get("seconds"), p.get("cpu_seconds")]
                    for p in stages.get("profile", []) if p.get("cpu_seconds") is not None},
    }  # fmt: skip
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("run")
    ap.add_argument("world")
    ap.add_argument("--json", default="")
    args = ap.parse_args()
    run, world = Path(args.run), Path(args.world)
    rec = json.loads((run / "recommendation.json").read_text(encoding="utf-8"))
    truth = json.loads((world / "truth.json").read_text(encoding="utf-8"))
    nat = truth["roi_national"]
    out = {**score(rec, truth), **null_cover(rec, truth)}
    out["national"] = {
        c["name"]: {"ape": round(abs(c["roi"]["mean"] / nat[c["name"]] - 1), 3),
                    "inside": c["roi"]["low"] <= nat[c["name"]] <= c["roi"]["high"]}
        for c in rec["channels"]
    }  # fmt: skip
    out.update(run_facts(run))
    text = json.dumps(out, indent=2, default=str)
    print(text)
    if args.json:
        Path(args.json).write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()
