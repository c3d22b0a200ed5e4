"""Where the default journey attribution's error comes from, per world and channel.

For each ``WORLD:SEED`` a simulated world (20,000 customers, 120 days, cached as Parquet in
``--cache``) is attributed by :func:`omnimmm.journeys.causal.fit_causal` and each channel's
share, half-life (the weights' mode), half-life profile and weights are printed beside
the truth; with ``--oracle`` the half-lives are held at the grid values nearest the
simulator's true ones, which separates the half-life choice from the rest of the model's
error. With ``--bootstrap N`` the 90% intervals (half-lives redrawn per replicate) are scored:
channels whose true share falls inside, whether the no-effect channel's covers 0, and how
often each half-life was drawn. ``--set KEY=JSON`` overrides a simulator setting of every
world (e.g. ``log_until_last_purchase=false`` logs every touch, which separates the cut at
the last purchase from the rest). Usage::

    nice -n 19 .venv/bin/python benchmarks/diag_journeys.py other:1 mixed:1 --oracle
    nice -n 19 .venv/bin/python benchmarks/diag_journeys.py other:2 --bootstrap 30
    nice -n 19 .venv/bin/python benchmarks/diag_journeys.py mixed:1 --set log_until_last_purchase=false

Writes nothing to RESULTS.md: it prints.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import pandas as pd

from omnimmm.data.simulate_journeys import default_channels, simulate_journeys, world_settings
from omnimmm.journeys import causal
from omnimmm.journeys.inputs import load_journeys


def _world(
    spec: str, cache: Path, over: dict[str, object]
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    world, seed = spec.split(":")
    p = cache / "_".join([world, seed, *(f"{k}-{over[k]}" for k in sorted(over))])
    if not (p / "truth.parquet").is_file():
        w = simulate_journeys(n_customers=20_000, days=120, seed=int(seed),
                              **{**world_settings(world), **over})  # fmt: skip
        p.mkdir(parents=True, exist_ok=True)
        w.touches.to_parquet(p / "touches.parquet")
        w.conversions.to_parquet(p / "conversions.parquet")
        w.truth.to_parquet(p / "truth.parquet")
    return tuple(pd.read_parquet(p / f"{k}.parquet")  # type: ignore[return-value]
                 for k in ("touches", "conversions", "truth"))  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("worlds", nargs="+", help="WORLD:SEED, e.g. other:1")
    ap.add_argument("--oracle", action="store_true")
    ap.add_argument("--bootstrap", type=int, default=0)
    ap.add_argument("--cache", type=Path, default=Path("/tmp/omnimmm_journey_worlds"))
    ap.add_argument("--set", action="append", default=[], metavar="KEY=JSON")
    args = ap.parse_args()
    over = {k: json.loads(v) for k, v in (kv.split("=", 1) for kv in args.set)}
    grid = np.log(np.asarray(causal.HALF_LIVES))
    for spec in args.worlds:
        world, seed = spec.split(":")
        touches, conversions, truth_df = _world(spec, args.cache, over)
        data = load_journeys(touches, conversions)
        chans = world_settings(world).get("channels", default_channels())
        hl_true = {c.name: c.half_life for c in chans}
        choose = causal._choose_half_lives
        if args.oracle:
            fixed = np.array([int(np.argmin(np.abs(grid - np.log(hl_true[n]))))
                              for n in data.channels])  # fmt: skip

            def oracle(rows, st, n_ch, ridge, _choose=choose, _fixed=fixed):
                prof = _choose(rows, st, n_ch, ridge)
                one_hot = np.eye(len(causal.HALF_LIVES))[_fixed]  # all weight on the truth
                return causal._Profile(_fixed, prof.profile, one_hot, prof.cust_ll, prof.pen_ll)

            causal._choose_half_lives = oracle
        t = time.process_time()
        try:
            r = causal.fit_causal(data, n_bootstrap=args.bootstrap, seed=int(seed))
        finally:
            causal._choose_half_lives = choose
        tab = r.table.set_index("name")
        tr = truth_df.set_index("name")["share"].reindex(tab.index)
        err = 100 * float((tab["share"] - tr).abs().mean())
        rank = list(tab["share"].sort_values(ascending=False).index) == list(
            tr.sort_values(ascending=False).index)  # fmt: skip
        print(f"{spec}{' oracle' if args.oracle else ''}{' ' + str(over) if over else ''}: error {err:.1f} pts, ranking "
              f"{'right' if rank else 'wrong'}, {time.process_time() - t:.0f} s CPU")  # fmt: skip
        hl = r.diagnostics["half_life_days"]
        for n in tab.index:
            prof = " ".join(f"{v:.1f}" for v in r.diagnostics["half_life_profile"][n])
            prof += "  weights " + " ".join(
                f"{v:.2f}" for v in r.diagnostics["half_life_weights"][n])  # fmt: skip
            line = (f"  {n:12s} true {100 * tr[n]:5.1f} est {100 * tab.loc[n, 'share']:5.1f}"
                    f"  half-life true {hl_true[n]:4} used {hl[n]:4}  profile {prof}")  # fmt: skip
            if args.bootstrap:
                line += f"  90% {100 * tab.loc[n, 'low']:.0f}..{100 * tab.loc[n, 'high']:.0f}"
            print(line)
        if args.bootstrap:
            inside = int(((tab["low"] <= tr) & (tr <= tab["high"])).sum())
            null = all(tab.loc[n, "low"] <= 0 <= tab.loc[n, "high"] for n in tr[tr == 0].index)
            print(f"  truth in 90%: {inside}/{len(tr)}; no-effect interval covers 0: {null}")
            print(
                f"  half-lives chosen in the bootstrap: {r.diagnostics['half_life_in_bootstrap']}"
            )
        print(f"  interactions kept: {r.diagnostics['interactions_kept']}", flush=True)


if __name__ == "__main__":
    main()
