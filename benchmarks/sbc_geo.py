"""Simulation-based calibration (SBC) of the geo model (issue 19).

Each replication draws every parameter FROM THE MODEL'S OWN PRIORS (the layout's prior
table, :func:`omnimmm.mmm.geo.layout.geo_layout` at ``GeoModelSpec()``), simulates the
scaled outcome from the model's own mean and noise (regional baseline coefficients
``coef_mean + coef_spread * z``, the deviations the density integrates out, drawn
explicitly), then samples the posterior with the same sampler ``fit_geo`` uses
(:func:`omnimmm.mmm.geo.sampler.run_nutpie` on the hand-written density), and records the
rank of each true value among the (thinned) posterior draws. If the density and the
sampler are right, every rank is uniform and every central 90% interval covers the truth in
90% of replications, whatever the priors.

Spend, dates, events and populations come from a small ``simulate_geo_world`` panel
(``--geos`` x ``--weeks``, ``--channels`` of which one national, two outcomes); its outcome
only fixes each region's scale ``y_scale`` (and so ``ratio``), which the replication keeps:
the simulated data live on the model's scaled outcome, so the prior the data were drawn
from is exactly the prior the fit uses. ``--mode fit_geo`` instead hands the simulated
outcome (times ``y_scale``) to :func:`omnimmm.mmm.geo.fit_geo` as a panel, so the fit
rescales it by its own mean week (the pipeline a user runs; the rescaling makes level,
noise and baseline priors data-dependent, so only the ROI and shape ranks are expected
uniform there).

Quantities ranked: national ROI per channel (regions' revenue summed over their spend
summed, :meth:`GeoFit.roi_national_draws`), every regional ROI, the national log-ROI
location, the regional spread, adstock alpha, Hill half-saturation and slope, the
outcome share, and the first region's level and noise.

Usage (from the repository root, niced)::

    PYTHONPATH=src nice -n 19 .venv/bin/python benchmarks/sbc_geo.py --reps 80 \
        --out /tmp/sbc_geo.json
    PYTHONPATH=src .venv/bin/python benchmarks/sbc_geo.py --report /tmp/sbc_geo.json
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

from omnimmm.data.simulate_geo import simulate_geo_world
from omnimmm.mmm.geo import GeoModelSpec
from omnimmm.mmm.geo.layout import (
    BETA,
    BLOCKS,
    GAMMA,
    HALFNORMAL,
    HIER,
    HIER_NC,
    LOGNORMAL,
    NORMAL,
    GeoLayout,
    geo_layout,
)
from omnimmm.mmm.geo.posterior import geo_draws, saturated, weights
from omnimmm.mmm.geo.spec import GeoData, geo_data


def prior_draw(layout: GeoLayout, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """One draw of every block from the layout's prior table, on its own scale
    (``roi_geo_log`` as the regional log ROI whatever the parametrisation)."""
    out: dict[str, np.ndarray] = {}
    for name in BLOCKS:
        size = layout.size(name)
        shape = layout.shapes[name]
        if size == 0:
            out[name] = np.zeros(shape)
            continue
        o = layout.offsets[name]
        a = layout.prior_a[o : o + size].reshape(shape)
        b = layout.prior_b[o : o + size].reshape(shape)
        kind = layout.block_kind(name)
        if kind == NORMAL:
            v = rng.normal(a, b)
        elif kind == LOGNORMAL:
            v = np.exp(rng.normal(a, b))
        elif kind == HALFNORMAL:
            v = np.abs(rng.normal(0.0, b))
        elif kind == GAMMA:
            v = rng.gamma(a, 1.0 / b)
        elif kind == BETA:
            v = rng.beta(a, b)
        elif kind in (HIER, HIER_NC):
            v = out["log_roi"][None] + out["roi_spread"][None] * rng.standard_normal(shape)
        else:  # pragma: no cover
            raise ValueError(kind)
        out[name] = np.asarray(v, float)
    return out


def simulate_scaled(
    data: GeoData, truth: dict[str, np.ndarray], l_max: int, rng: np.random.Generator
) -> np.ndarray:
    """The scaled outcome ``ys`` (T, G, O) of the model with parameters ``truth``."""
    t_n, g_n, c_n, o_n, j0 = data.shape
    h = saturated(
        data.xs, weights(truth["adstock_alpha"], l_max), truth["half_sat"], truth["hill_slope"]
    )
    s_tot = h.sum(axis=0)
    ok = (data.spend_total > 0) & (s_tot > 0)
    roi = np.exp(truth["roi_geo_log"])
    share = (
        np.stack([truth["share_first"], 1.0 - truth["share_first"]], axis=1)
        if o_n == 2
        else np.ones((c_n, 1))
    )
    beta = np.where(ok, roi / np.where(ok, s_tot, 1.0), 0.0)[:, :, None] * share[None] * data.ratio
    media = np.einsum("tgc,gco->tgo", h, beta)
    # Regional baseline coefficients: national mean plus a deviation of the pooled spread
    # (the density integrates these out); the moving baseline's steps likewise.
    j_n = data.fc.shape[2]
    steps = (
        np.repeat(truth["level_step"][None, :], j_n - j0, axis=0)
        if j_n > j0
        else np.zeros((0, o_n))
    )
    spread = np.concatenate([truth["coef_spread"], steps])
    mean = np.concatenate([truth["coef_mean"], np.zeros((j_n - j0, o_n))])
    coef = mean[None] + spread[None] * rng.standard_normal((g_n, j_n, o_n))
    base = np.einsum("tgj,gjo->tgo", data.fc, coef)
    mu = truth["level"][None] + media - media.mean(axis=0, keepdims=True) + base
    return mu + truth["noise"][None] * rng.standard_normal(mu.shape)


def quantities_truth(data: GeoData, truth: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    spend = data.spend_total
    roi = np.exp(truth["roi_geo_log"])
    q = {
        "roi_national": (roi * spend).sum(axis=0) / spend.sum(axis=0),
        "roi_geo": roi.reshape(-1),
        "log_roi": truth["log_roi"],
        "roi_spread": truth["roi_spread"],
        "adstock_alpha": truth["adstock_alpha"],
        "half_sat": truth["half_sat"],
        "hill_slope": truth["hill_slope"],
        "level_0": truth["level"][0],
        "noise_0": truth["noise"][0],
        "level": truth["level"].reshape(-1),
        "noise": truth["noise"].reshape(-1),
    }
    if data.ys.shape[2] == 2:
        q["share_first"] = truth["share_first"]
    return q


def quantities_draws(data: GeoData, layout: GeoLayout, points: np.ndarray) -> dict[str, np.ndarray]:
    o_n = data.ys.shape[2]
    d = geo_draws(points, layout, o_n)
    spend = data.spend_total
    q = {
        "roi_national": (d.roi * spend[None]).sum(axis=1) / spend.sum(axis=0)[None],
        "roi_geo": d.roi.reshape(d.roi.shape[0], -1),
        "log_roi": d.log_roi,
        "roi_spread": d.roi_spread,
        "adstock_alpha": d.alpha,
        "half_sat": d.half_sat,
        "hill_slope": d.slope,
        "level_0": d.level[:, 0],
        "noise_0": d.noise[:, 0],
        "level": d.level.reshape(d.level.shape[0], -1),
        "noise": d.noise.reshape(d.noise.shape[0], -1),
    }
    if o_n == 2:
        q["share_first"] = d.share[:, :, 0]
    return q


def one_rep(args: argparse.Namespace, r: int) -> dict:
    from omnimmm.mmm.geo.fit import posterior_points
    from omnimmm.mmm.geo.sampler import run_nutpie

    spec = GeoModelSpec(roi_centred=not args.noncentred)
    rng = np.random.default_rng([args.seed, r])
    world = simulate_geo_world(
        n_geos=args.geos,
        n_weeks=args.weeks,
        n_channels=args.channels,
        n_national=1,
        n_outcomes=2,
        seed=10_000 * args.seed + r,
    )
    panel = world.panel
    data = geo_data(panel, spec)
    _, g_n, _, o_n, j_n = data.shape
    layout = geo_layout(spec, panel.channels, panel.kinds, g_n, o_n, j_n)
    truth = prior_draw(layout, rng)
    ys = simulate_scaled(data, truth, spec.l_max, rng)
    sampler = {"chains": args.chains, "draws": args.draws, "tune": args.tune, "seed": r,
               "target_accept": args.target_accept, "cores": 1}  # fmt: skip
    t0 = time.process_time()
    if args.mode == "exact":
        sim = replace(data, ys=np.ascontiguousarray(ys))
        idata, _ = run_nutpie(sim, layout, progress=False, **sampler)
        points, diverging = posterior_points(idata, layout)
        div, fit_data = int(diverging.sum()), sim
    else:
        from omnimmm.mmm.geo import fit_geo

        y = ys * data.y_scale[None]  # the fit rescales by each region's mean week
        p2 = replace(panel, y=np.ascontiguousarray(y))
        fit = fit_geo(p2, spec, **sampler)
        points, div, fit_data = fit.points, int(fit.diverging.sum()), fit.data
    cpu = time.process_time() - t0
    thin = points[:, :: args.thin].reshape(-1, layout.n)
    qd = quantities_draws(fit_data, layout, thin)
    qt = quantities_truth(fit_data, truth)
    from arviz import ess

    ranks, cover, ess_min = {}, {}, {}
    for k, tv in qt.items():
        dv = qd[k].reshape(thin.shape[0], -1)
        tv = np.asarray(tv).reshape(-1)
        ranks[k] = (dv < tv[None]).sum(axis=0).tolist()
        lo, hi = np.quantile(dv, [0.05, 0.95], axis=0)
        cover[k] = ((lo <= tv) & (tv <= hi)).astype(int).tolist()
    full = quantities_draws(fit_data, layout, points.reshape(-1, layout.n))
    for k in ("roi_national", "hill_slope", "half_sat", "roi_spread"):
        arr = full[k].reshape(points.shape[0], points.shape[1], -1)
        ess_min[k] = float(min(ess(arr[:, :, i]) for i in range(arr.shape[2])))
    return {
        "rep": r,
        "n_draws": int(thin.shape[0]),
        "divergences": div,
        "cpu_s": cpu,
        "ranks": ranks,
        "cover": cover,
        "ess_min": ess_min,
        "truth_roi_national": qt["roi_national"].tolist(),
    }


def report(path: Path) -> str:
    recs = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    from scipy import stats

    n_draws = recs[0]["n_draws"]
    bins = 10
    lo_k = int(round(0.05 * n_draws))
    expect = (n_draws - 2 * lo_k + 1) / (n_draws + 1)
    lines = [
        f"{len(recs)} replications, {n_draws} thinned draws each (rank 0..{n_draws}); "
        f"divergent replications {sum(r['divergences'] > 0 for r in recs)}, "
        f"total divergences {sum(r['divergences'] for r in recs)}; "
        f"CPU s per fit median {np.median([r['cpu_s'] for r in recs]):.1f}",
        "",
        f"Coverage: the truth between the order statistics {lo_k} and {n_draws - lo_k + 1} "
        f"of the {n_draws} draws, i.e. rank in [{lo_k}, {n_draws - lo_k}], expected "
        f"{expect:.3f} under uniform ranks (np.quantile's 5%-95% of the same draws covers "
        "about 1 point less by construction, in brackets).",
        "",
        "| quantity | n | 90% coverage (+- SE over replications) [np.quantile] "
        "| rank histogram (10 bins) | chi2 p | KS p |",
        "|---|---|---|---|---|---|",
    ]
    keys = [k for k in recs[-1]["ranks"] if all(k in r["ranks"] for r in recs)]
    keys += [k for k in recs[-1]["ranks"] if k not in keys]
    for k in keys:
        sub = [r for r in recs if k in r["ranks"]]
        k_label = f"{k} (last {len(sub)} replications)" if len(sub) < len(recs) else k
        rk = np.concatenate([np.asarray(r["ranks"][k]) for r in sub])
        qcv = np.concatenate([np.asarray(r["cover"][k]) for r in sub])
        cv = ((rk >= lo_k) & (rk <= n_draws - lo_k)).astype(int)
        u = (rk + 0.5) / (n_draws + 1)
        hist = np.histogram(u, bins=bins, range=(0, 1))[0]
        chi = stats.chisquare(hist)
        ks = stats.kstest(u, "uniform")
        # The values of one replication share its data: the coverage's standard error is
        # taken over replications (each one's covered fraction), not over values.
        per = np.array(
            [
                np.mean(
                    (np.asarray(r["ranks"][k]) >= lo_k)
                    & (np.asarray(r["ranks"][k]) <= n_draws - lo_k)
                )
                for r in sub
            ]
        )
        se = per.std(ddof=1) / np.sqrt(len(per))
        lines.append(
            f"| {k_label} | {len(rk)} | {cv.mean():.3f} +- {se:.3f} ({cv.sum()}/{len(cv)}) "
            f"[{qcv.mean():.3f}] | "
            f"{' '.join(str(int(h)) for h in hist)} | {chi.pvalue:.3f} | {ks.pvalue:.3f} |"
        )
    ess_lo = {k: min(r["ess_min"][k] for r in recs) for k in recs[0]["ess_min"]}
    ess_med = {k: float(np.median([r["ess_min"][k] for r in recs])) for k in recs[0]["ess_min"]}
    lines.append("")
    lines.append(
        "min bulk ESS per replication (lowest channel): "
        + ", ".join(f"{k} median {ess_med[k]:.0f} / lowest {ess_lo[k]:.0f}" for k in ess_lo)
    )
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--reps", type=int, default=80)
    ap.add_argument("--start", type=int, default=0)
    ap.add_argument("--seed", type=int, default=12)
    ap.add_argument("--geos", type=int, default=5)
    ap.add_argument("--weeks", type=int, default=60)
    ap.add_argument("--channels", type=int, default=3)
    ap.add_argument("--chains", type=int, default=2)
    ap.add_argument("--draws", type=int, default=400)
    ap.add_argument("--tune", type=int, default=400)
    ap.add_argument("--thin", type=int, default=8)
    ap.add_argument("--target-accept", type=float, default=0.8)
    ap.add_argument("--mode", choices=("exact", "fit_geo"), default="exact")
    ap.add_argument(
        "--noncentred",
        action="store_true",
        help="sample the regional log ROI non-centred (the same model and priors)",
    )
    ap.add_argument("--out", type=Path, default=Path("sbc_geo.jsonl"))
    ap.add_argument("--report", type=Path)
    args = ap.parse_args()
    if args.report:
        print(report(args.report))
        return
    with args.out.open("a") as fh:
        for r in range(args.start, args.start + args.reps):
            rec = one_rep(args, r)
            fh.write(json.dumps(rec) + "\n")
            fh.flush()
            print(
                f"rep {r}: {rec['cpu_s']:.1f} CPU s, div {rec['divergences']}, "
                f"ESS {rec['ess_min']}",
                flush=True,
            )


if __name__ == "__main__":
    main()
