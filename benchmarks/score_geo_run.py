"""Score a geo run's ``recommendation.json`` against a simulated world's ``truth.json``.

Reads only the two files, as the issue's independent check does: national ROI MAPE and how
many channels' 90% intervals cover the truth; regional ROI MAPE and the share of region x
channel intervals covering the truth (cells where the region spent on the channel).

Run: ``.venv/bin/python benchmarks/score_geo_run.py RUN_DIR/recommendation.json WORLD/truth.json``
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any


def score(rec: dict[str, Any], truth: dict[str, Any]) -> dict[str, Any]:
    """National and regional ROI errors and interval coverage."""
    nat = truth["roi_national"]
    errs, cover = [], 0
    for c in rec["channels"]:
        t, r = nat[c["name"]], c["roi"]
        errs.append(abs(r["mean"] - t) / abs(t))
        cover += int(r["low"] <= t <= r["high"])
    geo_truth = {(x["geo"], x["channel"]): x["roi"] for x in truth["roi_geo"]}
    g_errs, g_cover, g_n = [], 0, 0
    for g in rec["geos"]:
        for c in g["channels"]:
            t = geo_truth.get((g["name"], c["name"]))
            if t is None or c["roi"]["mean"] is None:
                continue
            g_n += 1
            g_errs.append(abs(c["roi"]["mean"] - t) / abs(t))
            g_cover += int(c["roi"]["low"] <= t <= c["roi"]["high"])
    return {
        "national_mape": sum(errs) / len(errs),
        "national_covered": f"{cover} of {len(errs)}",
        "regional_mape": sum(g_errs) / max(len(g_errs), 1),
        "regional_coverage": g_cover / max(g_n, 1),
        "regional_cells": g_n,
    }


def main() -> None:
    rec = json.loads(Path(sys.argv[1]).read_text(encoding="utf-8"))
    truth = json.loads(Path(sys.argv[2]).read_text(encoding="utf-8"))
    print(json.dumps(score(rec, truth), indent=2))


if __name__ == "__main__":
    main()
