"""``omnimmm run`` on the real and peer panels with plain plans, at default settings.

A plain plan is what a new user writes first: the channels and their kinds, the dataset's
non-media columns as controls, ``holdout_weeks = 13`` and nothing else (every prior, the
seasonality, the sampler at its default; no festival calendar, the panels are not
Chinese). Panels (all in ``../shared/data``):

- ``real_retailer``: ``examples/real_retailer_plain/plan.toml`` (reads the shared file);
- ``robyn``: ``examples/robyn_plain/plan.toml`` (reads the shared file);
- ``pymc_marketing_cgp``: ``examples/cgp_plain/plan.toml``, PyMC-Marketing's mock
  consumer-goods panel, eight channels and its first target (reads the shared file);
- ``meridian_national``: ``national_all_channels.csv`` via
  :func:`omnimmm.data.peers.meridian_national` (revenue = conversions x revenue per
  conversion is computed, so the plan points at the converted copy in a temp folder);
- ``pymc_marketing``: ``mmm_example.csv`` via :func:`omnimmm.data.peers.pymc_marketing_example`
  with the default ROI priors (no expert coefficient prior).

For each panel the script runs the quarterly run (fit, gate, holdout, optimize, report)
into a temp folder and reports the exit status, the gate's figures and the holdout MAPE
against seasonal naive and ETS on the same weeks. Run::

    python benchmarks/bench_plain_plans.py [--only NAME ...] [--no-write]

It rewrites its section of ``benchmarks/RESULTS.md``.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
import tomllib
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _results import machine_header, markdown_table, update_section

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared" / "data"
PANELS = ("real_retailer", "robyn", "meridian_national", "pymc_marketing", "pymc_marketing_cgp")


def _plain_from_peer(dataset, folder: Path) -> Path:
    """Write a peer dataset and a plain plan for it (channels, kinds, controls, events)."""
    dataset.write(folder)
    raw = tomllib.loads((folder / "plan.toml").read_text(encoding="utf-8"))
    lines = ["seed = 0", "", "[data]", 'path = "world.csv"', 'date = "date"']
    lines.append("outcomes = [" + ", ".join(f'"{o}"' for o in raw["data"]["outcomes"]) + "]")
    for key in ("controls", "events"):
        if raw["data"].get(key):
            lines.append(f"{key} = [" + ", ".join(f'"{c}"' for c in raw["data"][key]) + "]")
    for c in raw["channels"]:
        lines += ["", "[[channels]]", f'name = "{c["name"]}"', f'column = "{c["column"]}"',
                  f'kind = "{c["kind"]}"']  # fmt: skip
    lines += ["", "[model]", "holdout_weeks = 13", "", "[festivals]", 'calendar = "none"', ""]
    path = folder / "plan.toml"
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


def plan_for(name: str, tmp: Path) -> Path:
    """The plain plan of one panel (written into ``tmp`` where a conversion is needed)."""
    from omnimmm.data import peers

    if name == "real_retailer":
        return REPO / "examples" / "real_retailer_plain" / "plan.toml"
    if name == "robyn":
        return REPO / "examples" / "robyn_plain" / "plan.toml"
    if name == "pymc_marketing_cgp":
        return REPO / "examples" / "cgp_plain" / "plan.toml"
    if name == "meridian_national":
        return _plain_from_peer(peers.meridian_national(SHARED / "meridian_national"), tmp)
    if name == "pymc_marketing":
        ds = peers.pymc_marketing_example(SHARED / "pymc_marketing_mmm_example", coef_prior_sd=None)
        return _plain_from_peer(ds, tmp)
    raise SystemExit(f"unknown panel {name!r}; expected one of {PANELS}")


def _toml_value(v: object) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, str):
        return json.dumps(v)
    return repr(v)


def variant_plan(plan: Path, model: dict, folder: Path) -> Path:
    """A copy of ``plan`` in ``folder`` with ``[model]`` keys set and the data path absolute."""
    raw = tomllib.loads(plan.read_text(encoding="utf-8"))
    data_path = (plan.parent / raw["data"]["path"]).resolve()
    lines = []
    section = None
    seen_model = False
    for line in plan.read_text(encoding="utf-8").splitlines():
        stripped = line.strip()
        if stripped.startswith("["):
            section = stripped.strip("[]")
        if section == "data" and stripped.startswith("path"):
            line = f"path = {json.dumps(str(data_path))}"
        if section == "model" and any(stripped.startswith(f"{k} ") for k in model):
            continue
        lines.append(line)
        if stripped == "[model]":
            seen_model = True
            lines += [f"{k} = {_toml_value(v)}" for k, v in model.items()]
    if not seen_model:
        lines += ["", "[model]", *(f"{k} = {_toml_value(v)}" for k, v in model.items())]
    out = folder / "plan.toml"
    out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return out


def backtest_variant(name: str, model: dict, out: Path) -> Path:
    """``omnimmm backtest`` (4 origins x 13 weeks) of one panel's plain plan with the
    ``[model]`` keys ``model`` set (and ``holdout_weeks = 13``), written to ``out`` unless
    ``out`` holds one already; returns ``out``."""
    from omnimmm.run.backtest import backtest

    if not (out / "backtest.json").is_file():
        with tempfile.TemporaryDirectory() as tmp_s:
            tmp = Path(tmp_s)
            (tmp / "in").mkdir()
            (tmp / "v").mkdir()
            plan = variant_plan(
                plan_for(name, tmp / "in"), {"holdout_weeks": 13, **model}, tmp / "v"
            )
            backtest(plan, out, origins=4, horizon=13)
    return out


def run_one(name: str, model: dict | None = None, keep: Path | None = None) -> dict:
    """Run the quarterly run on one panel (``[model]`` keys changed by ``model``).

    With ``keep``, the run's output folder is copied to ``keep / name`` (its tables, e.g.
    ``tables/holdout.csv`` and ``tables/holdout_parts.csv``, for a diagnosis).
    """
    from omnimmm import run as pipeline
    from omnimmm.errors import OmniError
    from omnimmm.report.result import load_result

    with tempfile.TemporaryDirectory() as tmp_s:
        tmp = Path(tmp_s)
        (tmp / "in").mkdir()
        plan = plan_for(name, tmp / "in")
        if model:
            (tmp / "v").mkdir()
            plan = variant_plan(plan, model, tmp / "v")
        t0 = time.perf_counter()
        try:
            pipeline.run(plan, tmp / "run")
            code = 0
        except OmniError as exc:
            return {"panel": name, "exit": exc.exit_code, "error": str(exc).split("\n")[0],
                    "seconds": time.perf_counter() - t0}  # fmt: skip
        if keep is not None:
            shutil.rmtree(keep / name, ignore_errors=True)
            shutil.copytree(tmp / "run", keep / name)
        res = load_result(tmp / "run")
        d = res.diagnostics
        h = res.holdout
        base = h["baseline_mape_mean"]
        best = min(base.values())
        return {
            "panel": name,
            "exit": code,
            "seconds": time.perf_counter() - t0,
            "rhat": d["rhat_max"],
            "ess": d["ess_bulk_min"],
            "divergences": d["divergences"],
            "gate": res.gate["passed"],
            "mape": h["mape_mean"],
            "seasonal_naive": base.get("seasonal_naive"),
            "ets": base.get("ets"),
            "improvement": 1 - h["mape_mean"] / best,
            "controls": h.get("control_extrapolation", []),
        }


def main(argv: list[str] | None = None) -> int:
    """Run every panel (or ``--only`` some) and write the RESULTS.md section."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--only", action="append", choices=PANELS)
    ap.add_argument("--no-write", action="store_true")
    ap.add_argument("--keep", type=Path, default=None, help="copy each run's folder here")
    args = ap.parse_args(argv)
    warnings.filterwarnings("ignore")
    header = machine_header(("omnimmm", "pymc", "nutpie", "statsmodels"))
    rows, notes = [], []
    for name in args.only or PANELS:
        r = run_one(name, keep=args.keep)
        print(r, flush=True)
        if r["exit"]:
            rows.append([name, str(r["exit"]), "-", "-", "-", "failed", "-", "-", "-", "-"])
            notes.append(f"{name}: {r['error']}")
            continue
        rows.append([
            name, "0", f"{r['rhat']:.3f}", f"{r['ess']:.0f}", str(r["divergences"]),
            "passed" if r["gate"] else "FAILED", f"{r['mape']:.1%}",
            f"{r['seasonal_naive']:.1%}", f"{r['ets']:.1%}", f"{r['improvement']:+.1%}",
        ])  # fmt: skip
        notes += [f"{name}: {c}" for c in r["controls"]]
    lines = [
        "## Plain plans on real and peer panels: `omnimmm run` at default settings",
        "",
        "`benchmarks/bench_plain_plans.py`: each panel with the plan a new user writes first "
        "(channels and kinds, the non-media columns as controls, `holdout_weeks = 13`, "
        "nothing else), the full quarterly run at the default sampler settings (4 chains x "
        "1000 draws after 1000 tuning steps, seed 0). Holdout MAPE: the model refitted "
        "without the last 13 weeks; the baselines fitted on the same weeks. Improvement: "
        "1 - MAPE / the better baseline's MAPE (the target is >= +10%).",
        "",
        header.rstrip(),
        "",
        markdown_table(
            [
                "panel",
                "exit",
                "max R-hat",
                "min ESS",
                "div.",
                "gate",
                "holdout MAPE",
                "seasonal naive",
                "ETS",
                "vs better",
            ],
            rows,
        ),  # fmt: skip
    ]
    if notes:
        lines += ["", *(f"- {n}" for n in notes)]
    section = "\n".join(lines)
    print(section)
    if not args.no_write and not args.only:
        print(f"updated {update_section('bench_plain_plans', section)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
