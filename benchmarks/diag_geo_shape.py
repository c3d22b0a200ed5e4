"""Geo model (issue 19): how much of a channel's national ROI error comes from its saturation
shape.

The geo model centres each region's media over its weeks (the level absorbs the mean), so
the data see ``beta x (h - mean h)`` and a region's ROI is ``beta x sum h / spend``: at a
given shape (adstock alpha, Hill K and slope) the ROI is a linear coefficient. This script
fits, per region, the unpooled least-squares regression of both outcomes on a free level and
the model's baseline features (:func:`omnimmm.mmm.geo.spec.geo_data`) and on each channel's
saturated spend at a FIXED shape, with the simulator's noise sd as weights; it reports the
national ROI (regions' revenue over their spend) and the weighted residual sum of squares
(chi2) at the true shape, and, with ``--fit DIR`` (a fit saved by
``bench_geo.py --child omnimmm --save DIR``), at the posterior median shape, whole and one
channel at a time. If the ROI at the true shape is right and the fitted shape fits better
(lower chi2), the national miss is the noise's pull on a weakly identified shape, not a
mismatch between the model and the simulator.

Usage (from the repository root)::

    .venv/bin/python benchmarks/diag_geo_shape.py --seed 2
    .venv/bin/python benchmarks/diag_geo_shape.py --seed 0 --fit /tmp/fit_s0
"""

from __future__ import annotations

import argparse

import numpy as np

from omnimmm.data.simulate_geo import GeoWorld, simulate_geo_world
from omnimmm.mmm.geo import GeoModelSpec, load_geo
from omnimmm.mmm.geo.spec import geo_data
from omnimmm.transforms import adstock, geometric_weights, hill


def roi_at_shape(
    world: GeoWorld, alpha: np.ndarray, half_sat: np.ndarray, slope: np.ndarray
) -> tuple[np.ndarray, np.ndarray, float]:
    """National ROI (C,), its standard error (C,) and the chi2 of the unpooled per-region
    regressions at this shape (the simulator's outcome shares and noise sd are used)."""
    p, prm = world.panel, world.params
    data = geo_data(p, GeoModelSpec())
    t_n, g_n, c_n = p.spend.shape
    j_n = data.fc.shape[2]
    w = geometric_weights(alpha, 8)
    est = np.zeros((g_n, c_n))
    var = np.zeros((g_n, c_n))
    chi2 = 0.0
    for g in range(g_n):
        h = hill(adstock(data.xs[:, g, :], w), half_sat, slope)  # (T, C)
        ratio = p.spend[:, g, :].sum(axis=0) / np.where(h.sum(axis=0) > 0, h.sum(axis=0), 1.0)
        rows, ys = [], []
        for o in range(p.y.shape[2]):
            x = np.zeros((t_n, p.y.shape[2] * (1 + j_n) + c_n))
            k = o * (1 + j_n)
            x[:, k] = 1.0
            x[:, k + 1 : k + 1 + j_n] = data.fc[:, g, :]
            x[:, -c_n:] = prm["share"][None, :, o] * ratio[None] * h
            sd = prm["noise_sd"][g, o]
            rows.append(x / sd)
            ys.append(p.y[:, g, o] / sd)
        xx, yy = np.vstack(rows), np.concatenate(ys)
        b, *_ = np.linalg.lstsq(xx, yy, rcond=None)
        chi2 += float(((yy - xx @ b) ** 2).sum())
        est[g] = b[-c_n:]
        var[g] = np.diag(np.linalg.pinv(xx.T @ xx))[-c_n:]
    spend = p.spend.sum(axis=0)
    nat = (est * spend).sum(axis=0) / spend.sum(axis=0)
    se = np.sqrt((var * spend**2).sum(axis=0)) / spend.sum(axis=0)
    return nat, se, chi2


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--same-effects", action="store_true")
    ap.add_argument("--fit", default="", help="a saved geo fit of the same world")
    args = ap.parse_args()
    world = simulate_geo_world(seed=args.seed, same_effects=args.same_effects)
    prm, chans = world.params, world.panel.channels
    truth = np.array([world.roi_national[c] for c in chans])
    true_shape = (prm["alpha"], prm["half_saturation"], prm["slope"])
    nat, se, chi2 = roi_at_shape(world, *true_shape)
    print(f"seed {args.seed}{' same effects' if args.same_effects else ''}")
    for c, name in enumerate(chans):
        z = (nat[c] - truth[c]) / se[c]
        print(
            f"  {name:13s} truth {truth[c]:.3f}  at true shape {nat[c]:.3f} +- {se[c]:.3f} (z {z:+.2f})"
        )
    print(f"  chi2 at the true shape {chi2:.1f}")
    if not args.fit:
        return
    fit = load_geo(args.fit)
    d = fit.draws
    fitted = tuple(np.median(a, axis=0) for a in (d.alpha, d.half_sat, d.slope))
    post = fit.roi_national_draws()
    nat_f, _, chi2_f = roi_at_shape(world, *fitted)
    print(f"  chi2 at the posterior median shape {chi2_f:.1f} ({chi2_f - chi2:+.1f})")
    for c, name in enumerate(chans):
        one = tuple(t.copy() for t in true_shape)
        for k in range(3):
            one[k][c] = fitted[k][c]
        nat_1, _, chi2_1 = roi_at_shape(world, *one)
        q = np.quantile(post[:, c], [0.05, 0.95])
        print(
            f"  {name:13s} posterior {np.median(post[:, c]):.3f} [{q[0]:.3f}, {q[1]:.3f}]; only "
            f"its shape at the posterior median: ROI {nat_1[c]:.3f}, chi2 {chi2_1 - chi2:+.1f}"
        )


if __name__ == "__main__":
    main()
