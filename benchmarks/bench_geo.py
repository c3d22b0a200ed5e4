"""Geo model (issue 19): recovery, speed and memory, against PyMC-Marketing's geo MMM.

Usage (from the repository root)::

    .venv/bin/python benchmarks/bench_geo.py                 # recovery seeds + 16x130 + peer
    .venv/bin/python benchmarks/bench_geo.py --big           # also 100 regions x 104 weeks
    .venv/bin/python benchmarks/bench_geo.py --no-peer       # omnimmm only

Every fit runs in its own child process, so that its peak memory (``ru_maxrss``) is its own
and the children share nothing. Scores, against the simulator's truth: national ROI MAPE
and how many channels' 90% intervals cover the truth; regional ROI MAPE (over region x
channel pairs with spend) and coverage; for the ``same_effects`` world (every region has the
national ROI) how many regional intervals cover the national truth. The section
``geo`` of ``benchmarks/RESULTS.md`` (or ``--section``) is rewritten with the results.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _results import machine_header, markdown_table, update_section

_GATE = {"rhat": 1.01, "ess": 400.0, "div_rate": 0.001}


def score(world: Any, nat: Any, geo: Any) -> dict[str, Any]:
    """Recovery of national and regional ROI (tables with mean, low, high) against truth."""
    chans = list(world.panel.channels)
    nat = nat.set_index("channel").loc[chans]
    truth = np.array([world.roi_national[c] for c in chans])
    ape = np.abs(nat["mean"].to_numpy() / truth - 1.0)
    inside = (nat["low"].to_numpy() <= truth) & (truth <= nat["high"].to_numpy())
    rows = geo.to_dict("records")
    g_true = np.array([world.roi_geo[(r["geo"], r["channel"])] for r in rows])
    ok = np.isfinite(g_true)
    g_mean = geo["mean"].to_numpy()[ok]
    g_ape = np.abs(g_mean / g_true[ok] - 1.0)
    g_in = (geo["low"].to_numpy()[ok] <= g_true[ok]) & (g_true[ok] <= geo["high"].to_numpy()[ok])
    out: dict[str, Any] = {
        "national_mape": float(ape.mean()),
        "national_inside": int(inside.sum()),
        "n_channels": len(chans),
        "national_missed": [c for c, i in zip(chans, inside, strict=True) if not i],
        "national_ape": {c: round(float(a), 3) for c, a in zip(chans, ape, strict=True)},
        "regional_mape": float(g_ape.mean()),
        "regional_coverage": float(g_in.mean()),
        "n_regional": int(ok.sum()),
    }
    if world.same_effects:
        nat_truth = {c: world.roi_national[c] for c in chans}
        t = np.array([nat_truth[r["channel"]] for r in rows])[ok]
        cover = (geo["low"].to_numpy()[ok] <= t) & (t <= geo["high"].to_numpy()[ok])
        out["null_cover_national"] = float(cover.mean())
        out["null_missed"] = int((~cover).sum())
    return out


def child_omnimmm(args: argparse.Namespace) -> dict[str, Any]:
    """One omnimmm fit (in the child process)."""
    from omnimmm.data.simulate_geo import simulate_geo_world
    from omnimmm.mmm.geo import GeoModelSpec, fit_geo

    world = simulate_geo_world(
        n_geos=args.geos, n_weeks=args.weeks, seed=args.seed, same_effects=args.same_effects
    )
    spec = GeoModelSpec(**json.loads(args.spec)) if args.spec else None
    t0 = time.perf_counter()
    extra = {"target_accept": args.target_accept} if args.target_accept else {}
    fit = fit_geo(
        world.panel,
        spec,
        chains=args.chains,
        draws=args.draws,
        tune=args.tune,
        seed=args.seed,
        **extra,
    )
    wall = time.perf_counter() - t0
    diag = fit.diagnostics()
    if args.save:
        fit.save(args.save)
    out = {"wall_s": wall, "timings": fit.timings, "diagnostics": diag}
    out.update(score(world, fit.roi_national(), fit.roi_geo()))
    return out


def child_pymc_marketing(args: argparse.Namespace) -> dict[str, Any]:
    """PyMC-Marketing's multidimensional MMM with ``dims=("geo",)`` on the summed outcomes."""
    import arviz as az

    from omnimmm.data.simulate_geo import simulate_geo_world

    world = simulate_geo_world(
        n_geos=args.geos, n_weeks=args.weeks, seed=args.seed, same_effects=args.same_effects
    )
    p = world.panel
    df = world.to_frame()
    df["revenue"] = df[list(p.outcomes)].sum(axis=1)
    df["t"] = np.tile(np.linspace(0.0, 1.0, p.n_weeks), (p.n_geos, 1)).T.reshape(-1)
    events = list(p.event_names)
    for e, name in enumerate(events):
        df[name] = np.repeat(p.event_matrix()[:, e], p.n_geos)
    controls = ["price_index", "t", *events]
    x = df[["date", "geo", *p.channels, *controls]]
    y = df["revenue"]
    t0 = time.perf_counter()
    mmm = peer_model(list(p.channels), controls)
    idata = peer_fit(mmm, x, y, args)
    wall = time.perf_counter() - t0
    post = idata.posterior
    names = [rv.name for rv in mmm.model.free_RVs if rv.name in post]
    ess = az.ess(post[names], method="bulk")
    rhat = az.rhat(post[names])
    div = int(idata.sample_stats["diverging"].sum())
    contrib = post["channel_contribution"]  # (chain, draw, date, geo, channel), scaled
    scale = idata.constant_data["target_scale"]
    if "geo" in scale.dims:
        contrib = contrib * scale
    else:
        contrib = contrib * float(np.asarray(scale).reshape(-1)[0])
    by_geo = contrib.sum("date").stack(sample=("chain", "draw"))  # (geo, channel, sample)
    spend = pd.DataFrame(p.spend.sum(axis=0), index=list(p.geos), columns=list(p.channels))
    rev = (
        by_geo.transpose("sample", "geo", "channel")
        .sel(geo=list(p.geos), channel=list(p.channels))
        .to_numpy()
    )
    nat, geo = roi_frames(rev, spend.to_numpy(), list(p.geos), list(p.channels))
    out = {
        "wall_s": wall,
        "diagnostics": {
            "max_rhat": float(max(float(rhat[v].max()) for v in names)),
            "min_ess_bulk": float(min(float(ess[v].min()) for v in names)),
            "divergences": div,
        },
    }
    out.update(score(world, nat, geo))
    return out


def peer_model(channels: list[str], controls: list[str]) -> Any:
    """PyMC-Marketing's multidimensional MMM as both geo benchmarks set it up: one
    ``revenue`` target per date and geo, geometric adstock (8 weeks), logistic saturation,
    the given controls and 2 yearly Fourier modes, its default priors."""
    from pymc_marketing.mmm import GeometricAdstock, LogisticSaturation
    from pymc_marketing.mmm.multidimensional import MMM

    return MMM(
        date_column="date",
        channel_columns=channels,
        target_column="revenue",
        dims=("geo",),
        adstock=GeometricAdstock(l_max=8),
        saturation=LogisticSaturation(),
        control_columns=controls,
        yearly_seasonality=2,
    )


def peer_fit(mmm: Any, x: Any, y: Any, args: argparse.Namespace) -> Any:
    """``mmm.fit`` on nutpie with the benchmark's chains, draws, tuning steps and seed."""
    return mmm.fit(
        x,
        y,
        nuts_sampler="nutpie",
        chains=args.chains,
        draws=args.draws,
        tune=args.tune,
        random_seed=args.seed,
        progressbar=False,
    )


def roi_frames(
    rev: np.ndarray, spend: np.ndarray, geos: list[str], channels: list[str]
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """National and regional ROI (mean and 90% interval) of a peer's contribution draws.

    ``rev``: contributions in currency, (draw, geo, channel); ``spend``: (geo, channel).
    National ROI is summed contributions over summed spend (the issue's definition).
    """
    with np.errstate(divide="ignore", invalid="ignore"):
        roi_g = rev / spend[None]
    roi_n = rev.sum(axis=1) / spend.sum(axis=0)[None]

    def q(a: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        return a.mean(0), np.quantile(a, 0.05, 0), np.quantile(a, 0.95, 0)

    nm, nl, nh = q(roi_n)
    gm, gl, gh = q(roi_g)
    nat = pd.DataFrame({"channel": channels, "mean": nm, "low": nl, "high": nh})
    geo = pd.DataFrame(
        {
            "geo": np.repeat(geos, len(channels)),
            "channel": np.tile(channels, len(geos)),
            "mean": gm.reshape(-1),
            "low": gl.reshape(-1),
            "high": gh.reshape(-1),
        }
    )
    return nat, geo


_BENCHENV = Path(__file__).resolve().parent.parent / "benchenv" / "bin" / "python"


def run_child(tool: str, peer_python: str = "", **kw: Any) -> dict[str, Any]:
    """Run one fit in a child process; its result, with ``peak_mb`` its peak memory.

    PyMC-Marketing runs in ``peer_python`` (the bench dependency group's environment,
    ``benchenv``, when it exists), omnimmm in this interpreter.
    """
    python = peer_python if tool == "pymc-marketing" and peer_python else sys.executable
    cmd = [python, __file__, "--child", tool]
    for k, v in kw.items():
        if isinstance(v, bool):
            if v:
                cmd.append(f"--{k.replace('_', '-')}")
        else:
            cmd += [f"--{k.replace('_', '-')}", str(v)]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        return {"error": proc.stderr.strip().splitlines()[-1] if proc.stderr else "failed"}
    return dict(json.loads(proc.stdout.strip().splitlines()[-1]))


def _fmt_row(label: str, r: dict[str, Any]) -> list[str]:
    if "error" in r:
        return [label, "error: " + r["error"][:80]] + [""] * 7  # + CPU, load, peak, gate
    d = r["diagnostics"]
    return [
        label,
        f"{r['wall_s']:.0f}",
        f"{d['max_rhat']:.3f}",
        f"{d['min_ess_bulk']:.0f}",
        str(d["divergences"]),
        f"{r['national_mape']:.3f}",
        f"{r['national_inside']}/{r['n_channels']}",
        f"{r['regional_mape']:.3f}",
        f"{r['regional_coverage']:.2f}",
    ]


def _runs(args: argparse.Namespace) -> dict[str, dict[str, Any]]:
    """The runs of a benchmark, by name: the child's tool and options."""
    runs: dict[str, dict[str, Any]] = {}
    spec = {"spec": args.spec} if args.spec else {}
    for seed in args.seeds:
        runs[f"omnimmm 16x130 seed {seed}"] = {"tool": "omnimmm", "seed": seed, **spec}
    runs["omnimmm 16x130 same_effects seed 0"] = {
        "tool": "omnimmm",
        "seed": 0,
        "same_effects": True,
        **spec,
    }
    if not args.no_peer:
        runs[f"pymc-marketing 16x130 seed {args.seeds[0]} (4 x {args.peer_draws})"] = {
            "tool": "pymc-marketing", "seed": args.seeds[0], "draws": args.peer_draws,
            "tune": args.peer_draws,
        }  # fmt: skip
    if args.big:
        runs["omnimmm 100x104 seed 0"] = {
            "tool": "omnimmm", "geos": 100, "weeks": 104, "seed": 0, **spec,
        }  # fmt: skip
    return runs


def _report(args: argparse.Namespace, results: dict[str, dict[str, Any]]) -> None:
    header = ["run", "wall s", "CPU s", "load (start-end)", "peak MB", "gate", "max R-hat",
              "min ESS", "div", "nat MAPE", "nat in 90%", "reg MAPE", "reg cov"]  # fmt: skip
    rows = []
    for k, v in results.items():
        row = _fmt_row(k, v)
        row.insert(2, f"{v['cpu_s']:.0f}" if "cpu_s" in v else "")
        load = v.get("load")
        row.insert(3, f"{load[0]:.1f}-{load[1]:.1f}" if load else "")
        row.insert(4, f"{v['peak_mb']:.0f}" if v.get("peak_mb") else "")
        passed = v.get("diagnostics", {}).get("passed")
        row.insert(5, "" if passed is None else ("pass" if passed else "FAIL"))
        rows.append(row)
    notes = []
    for k, v in results.items():
        if "error" in v:
            continue
        line = f"- {k}: national APE {v['national_ape']}"
        if v["national_missed"]:
            line += f"; outside the 90% interval: {', '.join(v['national_missed'])}"
        if "null_cover_national" in v:
            line += (
                f"; same_effects: {v['null_cover_national']:.3f} of regional intervals cover "
                f"the national truth ({v['null_missed']} miss)"
            )
        if v.get("peak_mb"):
            line += f"; peak memory {v['peak_mb']:.0f} MB"
        if "timings" in v:
            t = v["timings"]
            line += f"; compile {t['compile']:.1f} s, sampling {t['sampling']:.0f} s"
        d = v["diagnostics"]
        if "worst_ess" in d:
            line += f"; lowest ESS {d['worst_ess']}, highest R-hat {d['worst_rhat']}"
        notes.append(line)
    body = (
        "## Geo model (issue 19): recovery and speed\n\n"
        "`benchmarks/bench_geo.py`: simulated geo worlds (`simulate_geo_world`: 6 channels of "
        "which 2 national, two outcomes, regions of log-normal size), omnimmm's hierarchical "
        "geo model at default settings (4 chains x 1000 draws, 1000 tuning) and "
        "PyMC-Marketing's multidimensional MMM (`dims=('geo',)`, summed outcomes, "
        f"4 x {args.peer_draws}). Gate: R-hat <= 1.01, bulk ESS >= 400, divergences <= 0.1%. "
        "One run each, run side by side on a shared machine: wall times are inflated by the "
        "load; CPU s (user + system of the fit's process) is the load-independent figure.\n\n"
        + machine_header(("omnimmm", "nutpie", "pymc", "pymc-marketing"))
        + "\n"
        + markdown_table(header, rows)
        + "\n\n"
        + "\n".join(notes)
        + ("\n\n" + args.note if args.note else "")
    )
    update_section(args.section, body)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--child", choices=("omnimmm", "pymc-marketing"))
    ap.add_argument("--geos", type=int, default=16)
    ap.add_argument("--weeks", type=int, default=130)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--chains", type=int, default=4)
    ap.add_argument("--draws", type=int, default=1000)
    ap.add_argument("--tune", type=int, default=1000)
    ap.add_argument("--same-effects", action="store_true")
    ap.add_argument("--target-accept", type=float, default=0.0, help="fit_geo's (0: its default)")
    ap.add_argument("--spec", default="", help="GeoModelSpec keywords as JSON (experiments)")
    ap.add_argument("--save", default="", help="save the fit there (child only)")
    ap.add_argument("--seeds", type=int, nargs="*", default=[0, 1, 2, 3, 4])
    ap.add_argument("--peer-draws", type=int, default=500)
    ap.add_argument(
        "--peer-python",
        default=str(_BENCHENV) if _BENCHENV.is_file() else "",
        help="interpreter with pymc-marketing (default: ./benchenv if present)",
    )
    ap.add_argument("--big", action="store_true", help="also 100 regions x 104 weeks")
    ap.add_argument("--no-peer", action="store_true")
    ap.add_argument("--jobs", type=int, default=1, help="runs side by side")
    ap.add_argument("--out", default="/tmp/omnimmm_bench_geo", help="one JSON per run")
    ap.add_argument("--report", action="store_true", help="only write RESULTS from --out")
    ap.add_argument("--no-write", action="store_true")
    ap.add_argument("--note", default="", help="a paragraph appended to the section")
    ap.add_argument("--section", default="geo", help="RESULTS.md section to write")
    args = ap.parse_args()
    if args.child:
        fn = child_omnimmm if args.child == "omnimmm" else child_pymc_marketing
        load0 = os.getloadavg()[0]
        res = fn(args)
        usage = resource.getrusage(resource.RUSAGE_SELF)
        res["peak_mb"] = usage.ru_maxrss / 1024.0
        res["cpu_s"] = usage.ru_utime + usage.ru_stime
        res["load"] = [load0, os.getloadavg()[0]]
        print(json.dumps(res, default=float))
        return

    from concurrent.futures import ThreadPoolExecutor

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    runs = _runs(args)

    def one(name: str) -> None:
        kw = dict(runs[name])
        res = run_child(kw.pop("tool"), peer_python=args.peer_python, **kw)
        (out / (name.replace(" ", "_") + ".json")).write_text(json.dumps(res, default=float))
        print(name, res, flush=True)

    if not args.report:
        with ThreadPoolExecutor(max_workers=max(args.jobs, 1)) as pool:
            list(pool.map(one, runs))
    results = {}
    for name in runs:
        f = out / (name.replace(" ", "_") + ".json")
        if f.is_file():
            results[name] = json.loads(f.read_text())
    known = {name.replace(" ", "_") for name in runs}
    for f in sorted(out.glob("*.json")):  # other runs put there by hand (e.g. shorter chains)
        if f.stem not in known:
            results[f.stem.replace("_", " ")] = json.loads(f.read_text())
    if not args.no_write and results:
        _report(args, results)


if __name__ == "__main__":
    main()
