"""Where the journey attribution's error on small worlds comes from (jn11_small in RESULTS.md).

Each ``WORLD:SEED`` is simulated (``--customers``, ``--days``; cached as Parquet in
``--cache``) and attributed by :func:`omnimmm.journeys.causal.fit_causal` (point
estimates, fit seed ``--fit-seed``, ``--max-rows``) under named variants of the model, so
one run decomposes the error of the shipped model:

* ``shipped``: the model as it is (``NONNEG = "main"`` since jn11).
* ``signed``: main effects free to be negative (``NONNEG = ""``, the model before jn11).
* ``nonneg`` / ``nonneg_drop``: ``NONNEG = "main"`` / ``"drop"`` (the pairs held at zero too).
* ``oracle``: every channel's half-life held at the grid value nearest the simulator's.
* ``oracle_exact``: the grid gets the true half-lives, and each channel is held at its own.
* ``no_pairs`` / ``all_pairs``: no interaction kept / every interaction kept.
* ``oracle_no_pairs``: both.
* ``all_rows``: every day of the window in the likelihood (no day sampling).
* ``prior=X``: ``PRIOR_PER_DOUBLING`` set to X.
* ``adjusted`` / ``unadjusted``: the half-life profiles divided by the sampled
  likelihood's inflation or not (``ADJUST_PROFILE``, on by default since jn13 in
  RESULTS.md).
* ``scaled=X``: the prior per doubling is X times (purchases in the likelihood / 5,000),
  a prior that scales with the data (see the RESULTS section).

``floor`` (printed per world, not a variant) is the removal computed with the simulator's
own parameters on the observed purchase days (``1 - p_c / p`` summed), i.e. the error an
estimator that knew the model exactly would make against the realised truth (thinning
noise and the effects through later history that removal on purchase days leaves out).

    nice -n 19 .venv/bin/python benchmarks/diag_journeys_small.py default:64 --variants shipped oracle

Writes nothing to RESULTS.md: it prints one line per world and variant (and ``--json``).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd

from omnimmm.data import simulate_journeys as sj
from omnimmm.journeys import causal
from omnimmm.journeys.inputs import load_journeys


def world(spec: str, cache: Path, n: int, days: int) -> tuple[pd.DataFrame, ...]:
    name, seed = spec.split(":")
    p = cache / f"{name}_{seed}_{n}_{days}"
    if not (p / "truth.parquet").is_file():
        w = sj.simulate_journeys(n_customers=n, days=days, seed=int(seed),
                                 **sj.world_settings(name))  # fmt: skip
        p.mkdir(parents=True, exist_ok=True)
        w.touches.to_parquet(p / "touches.parquet")
        w.conversions.to_parquet(p / "conversions.parquet")
        w.truth.to_parquet(p / "truth.parquet")
    return tuple(pd.read_parquet(p / f"{k}.parquet")
                 for k in ("touches", "conversions", "truth"))  # fmt: skip


def floor(spec: str, n: int, days: int) -> dict[str, float]:
    """Shares of the removal with the simulator's true parameters on the purchase days
    (expected thinning, ``1 - p_c / p``), replaying the simulator's random numbers."""
    name, seed = spec.split(":")
    kw = {"base_rate": 0.004, "intent_sd": 0.8, "store_lift": 1.5, "b_recent": -1.0,
          "b_loyal": 0.25, **sj.world_settings(name)}  # fmt: skip
    chans = kw.get("channels", sj.default_channels())
    names = [c.name for c in chans]
    prim = kw.get("priming", {("social", "search"): 0.8, ("direct_mail", "search"): 0.5})
    prim = {k: v for k, v in prim.items() if k[0] in names and k[1] in names}
    assert n <= sj._CHUNK
    root = np.random.SeedSequence(int(seed))
    rng = np.random.default_rng(root.spawn(1)[0])
    sd = kw["intent_sd"]
    log_intent = rng.normal(-0.5 * sd**2, sd, n)
    intent = np.exp(log_intent)
    rng.normal(0.0, 1.0, n)
    rates = np.stack([c.rate * intent**c.intent_power
                      / np.exp(0.5 * (c.intent_power * sd) ** 2 - 0.5 * c.intent_power * sd**2)
                      for c in chans], axis=1)  # fmt: skip
    counts = rng.poisson(rates[:, None, :], size=(n, days, len(chans))).astype(np.float64)
    u_buy = rng.random((n, days))
    a0 = np.log(kw["base_rate"] / (1 - kw["base_rate"]))
    base = a0 + log_intent
    decay = np.array([0.5 ** (1.0 / c.half_life) for c in chans])
    beta = np.array([c.beta for c in chans])
    index = {c: k for k, c in enumerate(names)}
    pairs = [(index[a], index[b], g) for (a, b), g in prim.items()]
    expo = np.zeros((n, len(chans)))
    n_bought, last = np.zeros(n), np.full(n, -(10**6))
    lost = np.zeros(len(chans))
    for t in range(days):
        expo = expo * decay + counts[:, t, :]
        s = 1.0 - np.exp(-expo)
        rest = base + kw["b_recent"] * (t - last <= 7) + kw["b_loyal"] * np.log1p(n_bought)

        def p_of(s_: np.ndarray, rest: np.ndarray = rest) -> np.ndarray:
            lg = rest + s_ @ beta
            for a, b, g in pairs:
                lg = lg + g * s_[:, a] * s_[:, b]
            return 1.0 / (1.0 + np.exp(-lg))

        p = p_of(s)
        now = u_buy[:, t] < p
        for c in range(len(chans)):
            s_c = s[now].copy()
            s_c[:, c] = 0.0
            lost[c] += float((1.0 - p_of(s_c, rest[now]) / p[now]).sum())
        n_bought += now
        last = np.where(now, t, last)
    return dict(zip(names, lost / lost.sum(), strict=True))


@contextlib.contextmanager
def variant(v: str, hl_true: dict[str, float], names: list[str]) -> Iterator[dict]:
    """Patch the causal module for variant ``v``; yields extra fit_causal keyword args."""
    saved = {k: getattr(causal, k) for k in ("HALF_LIVES", "Z_KEEP", "PRIOR_PER_DOUBLING",
                                             "_choose_half_lives", "_weights",
                                             "MIN_CONTROLS", "MAX_CONTROLS", "_build_rows",
                                             "NONNEG", "ADJUST_PROFILE")}  # fmt: skip
    kw: dict = {}
    try:
        for part in v.split("+"):
            base = part.split("=")[0]
            if base in ("oracle", "oracle_no_pairs", "oracle_exact"):
                if base == "oracle_exact":
                    grid = sorted(set(causal.HALF_LIVES) | {float(h) for h in hl_true.values()})
                    causal.HALF_LIVES = tuple(grid)
                lg = np.log(np.asarray(causal.HALF_LIVES))
                fixed = np.array([int(np.argmin(np.abs(lg - np.log(hl_true[c])))) for c in names])
                choose = saved["_choose_half_lives"]

                def oracle(rows, st, n_ch, ridge, choose=choose, fixed=fixed):  # type: ignore[no-untyped-def]
                    prof = choose(rows, st, n_ch, ridge)
                    one_hot = np.eye(len(causal.HALF_LIVES))[fixed]
                    return causal._Profile(fixed, prof.profile, one_hot, prof.cust_ll, prof.pen_ll)

                causal._choose_half_lives = oracle
            if base in ("no_pairs", "oracle_no_pairs"):
                causal.Z_KEEP = np.inf
            if base == "all_pairs":
                causal.Z_KEEP = 0.0
            if base == "all_rows":
                kw["max_rows"] = 10**9
                causal.MAX_CONTROLS = 10**6
            if base == "ridge":
                kw["ridge"] = float(part.split("=")[1])
            if base == "no_recent":
                build = saved["_build_rows"]

                def no_recent(*a, build=build, **k):  # type: ignore[no-untyped-def]
                    rows, info = build(*a, **k)
                    rows.recent[:] = 0.0
                    return rows, info

                causal._build_rows = no_recent
            if base == "adjusted":  # profiles divided by the sampled likelihood's inflation
                causal.ADJUST_PROFILE = True
            if base == "unadjusted":  # the profiles as the sampled likelihood gives them
                causal.ADJUST_PROFILE = False
            if base == "signed":
                causal.NONNEG = ""
            if base == "nonneg":
                causal.NONNEG = "main"
            if base == "nonneg_drop":
                causal.NONNEG = "drop"
            if base == "pfull":  # the prior scaled by the purchases in the likelihood
                full, build = float(part.split("=")[1]), causal._build_rows

                def scaled(*a, build=build, full=full, **k):  # type: ignore[no-untyped-def]
                    rows, info = build(*a, **k)
                    ev = info["purchases_in_likelihood"]
                    causal.PRIOR_PER_DOUBLING = saved["PRIOR_PER_DOUBLING"] * min(1.0, ev / full)
                    return rows, info

                causal._build_rows = scaled
            if base == "prior":
                causal.PRIOR_PER_DOUBLING = float(part.split("=")[1])
        yield kw
    finally:
        for k, val in saved.items():
            setattr(causal, k, val)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("worlds", nargs="+")
    ap.add_argument("--variants", nargs="+", default=["shipped"])
    ap.add_argument("--customers", type=int, default=8000)
    ap.add_argument("--days", type=int, default=90)
    ap.add_argument("--max-rows", type=int, default=80_000)
    ap.add_argument("--fit-seed", type=int, default=0, help="-1: the world seed")
    ap.add_argument("--floor", action="store_true")
    ap.add_argument("--bootstrap", type=int, default=0)
    ap.add_argument("--cache", type=Path, default=Path("/tmp/jn11_worlds"))
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    out = []
    for spec in args.worlds:
        touches, conversions, truth = world(spec, args.cache, args.customers, args.days)
        tr = truth.set_index("name")["share"]
        chans = sj.world_settings(spec.split(":")[0]).get("channels", sj.default_channels())
        hl_true = {c.name: c.half_life for c in chans}
        if args.floor:
            fl = pd.Series(floor(spec, args.customers, args.days)).reindex(tr.index)
            err = 100 * float((fl - tr).abs().mean())
            print(f"{spec} floor: error {err:.2f}  " + " ".join(
                f"{k} {100 * tr[k]:.1f}/{100 * fl[k]:.1f}" for k in tr.index), flush=True)  # fmt: skip
            out.append({"world": spec, "variant": "floor", "error": err,
                        "shares": fl.to_dict(), "truth": tr.to_dict()})  # fmt: skip
        data = load_journeys(touches, conversions)
        for v in args.variants:
            t = time.process_time()
            fit_seed = int(spec.split(":")[1]) if args.fit_seed < 0 else args.fit_seed
            with variant(v, hl_true, list(data.channels)) as kw:
                r = causal.fit_causal(data, n_bootstrap=args.bootstrap, seed=fit_seed,
                                      max_rows=kw.get("max_rows", args.max_rows),
                                      ridge=kw.get("ridge", 1.0))  # fmt: skip
            s = r.table.set_index("name")["share"].reindex(tr.index)
            err = 100 * float((s - tr).abs().mean())
            rank = list(s.sort_values(ascending=False).index) == list(
                tr.sort_values(ascending=False).index)  # fmt: skip
            print(f"{spec} {v}: error {err:.2f} {'(r)' if rank else '   '} "
                  f"{time.process_time() - t:.0f}s  " + " ".join(
                      f"{k} {100 * tr[k]:.1f}/{100 * s[k]:.1f}@{r.diagnostics['half_life_days'][k]}"
                      for k in tr.index)
                  + f"  pairs {r.diagnostics['interactions_kept']}"
                  + f"  ev {r.diagnostics['purchases_in_likelihood']}", flush=True)  # fmt: skip
            cover = {}
            if args.bootstrap:
                tab = r.table.set_index("name").reindex(tr.index)
                inside = int(((tab["low"] <= tr) & (tr <= tab["high"])).sum())
                null = all(tab.loc[n, "low"] <= 0 <= tab.loc[n, "high"] for n in tr[tr == 0].index)
                # the replicates' own quantiles, before the boundary rule reaches them to 0
                raw = pd.DataFrame(r.diagnostics["share_interval_of_replicates"],
                                   index=["low", "high"]).T.reindex(tr.index)  # fmt: skip
                raw_inside = int(((raw["low"] <= tr) & (tr <= raw["high"])).sum())
                raw_null = all(raw.loc[n, "low"] <= 0 <= raw.loc[n, "high"]
                               for n in tr[tr == 0].index)  # fmt: skip
                cover = {"inside": inside, "channels": len(tr), "null": bool(null),
                         "width": float((tab["high"] - tab["low"]).mean()),
                         "raw_inside": raw_inside, "raw_null": bool(raw_null),
                         "raw_width": float((raw["high"] - raw["low"]).mean()),
                         "at_zero": r.diagnostics["main_effect_at_zero_in_bootstrap"]}  # fmt: skip
                print(f"  90%: truth inside {inside}/{len(tr)} (replicates' {raw_inside}), "
                      f"no-effect covers 0: {null} (replicates' {raw_null})  "
                      + " ".join(f"{n} {100 * tab.loc[n, 'low']:.0f}..{100 * tab.loc[n, 'high']:.0f}"
                                 f" ({100 * raw.loc[n, 'low']:.1f}..{100 * raw.loc[n, 'high']:.1f},"
                                 f" at 0 {cover['at_zero'][n]:.2f})"
                                 for n in tr.index), flush=True)  # fmt: skip
            out.append({"world": spec, "variant": v, "error": err, "rank": rank, **cover,
                        "shares": s.to_dict(), "truth": tr.to_dict(),
                        "weights": r.diagnostics["half_life_weights"],
                        "profile": r.diagnostics["half_life_profile"],
                        "events": r.diagnostics["purchases_in_likelihood"]})  # fmt: skip
    print("summary: variant, mean error, ranking right, mean signed error per channel (pts)")
    frame = pd.DataFrame(out)
    for v, g in frame.groupby("variant", sort=False):
        signed = pd.DataFrame([{k: 100 * (r["shares"][k] - r["truth"][k]) for k in r["truth"]}
                               for r in g.to_dict("records")])  # fmt: skip
        ranks = int(g["rank"].sum()) if "rank" in g and v != "floor" else 0
        cov = ""
        if "inside" in g and g["inside"].notna().all():
            cov = (f"in90 {int(g['inside'].sum())}/{int(g['channels'].sum())} "
                   f"null {int(g['null'].sum())}/{len(g)} width {100 * g['width'].mean():.1f} "
                   f"(replicates' in90 {int(g['raw_inside'].sum())} "
                   f"null {int(g['raw_null'].sum())} width {100 * g['raw_width'].mean():.1f})  ")  # fmt: skip
        print(
            f"  {v:28s} {g['error'].mean():6.2f}  {ranks}/{len(g)}  {cov}"
            + " ".join(f"{k} {signed[k].mean():+.1f}" for k in signed.columns),
            flush=True,
        )
    if args.json:
        args.json.write_text(json.dumps(out, indent=1, default=float))


if __name__ == "__main__":
    main()
