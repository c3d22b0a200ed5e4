"""Budget by region (issue 19, item 4): the optimizer over regions on simulated geo worlds.

For each world (16 regions x 130 weeks, 100 regions x 104 weeks; 6 channels of which 2
national) the regions' true responses (``GeoWorld.response_kwargs``) are given ``D``
posterior-like draws (each draw scales the true coefficients by a log-normal factor, sd
0.15, and the half-saturation points by one of sd 0.1), then:

* ``optimize_budget`` over :class:`omnimmm.optimize.geo.GeoResponse` at the current total,
  ``max_change`` 0.5 per budget line: wall time (median of ``--repeats`` runs), budget
  lines, posterior-mean uplift over the current allocation;
* the same budget planned nationally (every channel one national total split by the
  regions' current shares: ``GeoResponse`` with every channel ``"national"``) and scored
  on the same responses, to show what planning by region adds;
* both scored on the *truth* (the undisturbed responses), the uplift an independent
  reader would see.

Run: ``nice -n 10 .venv/bin/python benchmarks/bench_geo_optimize.py [--draws 1000]``.
Writes the ``geo_optimize`` section of ``benchmarks/RESULTS.md``.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from omnimmm.data.simulate_geo import simulate_geo_world
from omnimmm.optimize import AdstockSaturationResponse, FixedBudget, optimize_budget
from omnimmm.optimize.geo import GeoResponse, geo_constraints

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _results import machine_header, markdown_table, update_section

HORIZON = 13


def _regions(world: Any, draws: int, seed: int) -> tuple[dict[str, Any], dict[str, Any]]:
    rng = np.random.default_rng(seed)
    kw = world.response_kwargs(HORIZON)
    truth, post = {}, {}
    for g, k in kw.items():
        truth[g] = AdstockSaturationResponse.from_arrays(**k)
        c = len(k["channels"])
        beta = k["beta"][None] * rng.lognormal(0.0, 0.15, (draws, c, 1))
        half = k["saturation_params"]["half_saturation"][None] * rng.lognormal(0, 0.1, (draws, c))
        slope = np.broadcast_to(k["saturation_params"]["slope"], (draws, c))
        post[g] = AdstockSaturationResponse.from_arrays(
            **{**k, "beta": beta, "saturation_params": {"half_saturation": half, "slope": slope}}
        )
    return truth, post


def _solve(resp: GeoResponse, scopes: tuple[str, ...], seed: int) -> tuple[np.ndarray, float, Any]:
    cons = geo_constraints(resp, max_change=0.5, geos={})
    t0 = time.perf_counter()
    res = optimize_budget(resp, FixedBudget(total=float(resp.current_allocation.sum())), cons,
                          seed=seed)  # fmt: skip
    x = res.allocation["recommended"].reindex(list(resp.channels)).to_numpy(dtype=float)
    return x, time.perf_counter() - t0, res


def run_world(n_geos: int, n_weeks: int, draws: int, repeats: int, seed: int) -> list[str]:
    world = simulate_geo_world(n_geos=n_geos, n_weeks=n_weeks, seed=seed)
    truth, post = _regions(world, draws, seed)
    scopes = world.panel.scopes
    geo = GeoResponse(post, scopes)
    national = GeoResponse(post, ("national",) * len(scopes))  # plan totals, keep the shares
    times = []
    for r in range(repeats):
        x, sec, res = _solve(geo, scopes, seed + r)
        times.append(sec)
    x_nat, sec_nat, _ = _solve(national, scopes, seed)
    cur_geo, cur_nat = geo.current_allocation, national.current_allocation
    by_region, nat_split = geo.by_region(x), national.by_region(x_nat)
    true = GeoResponse(truth, scopes)
    true_all = GeoResponse(truth, ("national",) * len(scopes), national.shares)

    def value(resp: GeoResponse, a: np.ndarray) -> float:
        return float(resp.horizon_value(a).mean())

    base = value(geo, cur_geo)
    v_geo, v_nat = value(geo, x), value(national, x_nat)
    t_base = value(true, cur_geo)
    t_geo = value(true, x)
    t_nat = value(true_all, x_nat)
    assert np.allclose(by_region.sum(), nat_split.sum())
    assert np.isclose(value(national, cur_nat), base, rtol=1e-9)
    return [
        f"{n_geos} x {n_weeks}",
        str(len(geo.channels)),
        str(draws),
        f"{statistics.median(times):.1f}",
        f"{sec_nat:.1f}",
        f"{100 * (v_geo / base - 1):+.2f}%",
        f"{100 * (v_nat / base - 1):+.2f}%",
        f"{100 * (t_geo / t_base - 1):+.2f}%",
        f"{100 * (t_nat / t_base - 1):+.2f}%",
        str(len(res.binding)),
    ]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--draws", type=int, default=1000)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--worlds", type=int, default=2, help="1: only the 16-region world")
    ap.add_argument("--no-write", action="store_true")
    a = ap.parse_args()
    rows = []
    for n_geos, n_weeks, repeats in ((16, 130, a.repeats), (100, 104, 1))[: a.worlds]:
        rows.append(run_world(n_geos, n_weeks, a.draws, repeats, a.seed))
        print(" | ".join(rows[-1]), flush=True)
    table = markdown_table(
        ["world (regions x weeks)", "budget lines", "draws", "by region (s, median)",
         "national plan (s)", "uplift by region (posterior)", "uplift national plan (posterior)",
         "uplift by region (truth)", "uplift national plan (truth)", "binding limits"],
        rows,
    )  # fmt: skip
    body = (
        "## Budget by region (issue 19): optimizer over regions\n\n"
        + machine_header(("omnimmm", "numpy", "scipy"))
        + f"\n`benchmarks/bench_geo_optimize.py --draws {a.draws} --repeats {a.repeats}`: "
        "6 channels (2 national), current total, max_change 0.5 per budget line; "
        "posterior = truth with log-normal draws (sd 0.15 on effects, 0.1 on saturation). "
        "'national plan' = every channel as one national total split by the regions' "
        "current shares.\n\n" + table + "\n"
    )
    print(body)
    if not a.no_write:
        update_section("geo_optimize", body)


if __name__ == "__main__":
    main()
