"""Recovery: simulate from known parameters, fit, and check ROI comes back.

The fast tests fit small worlds with few draws (seconds of compile, seconds of sampling);
the ``slow`` ones fit the full default world and PyMC-Marketing's published example.
"""

from __future__ import annotations

import dataclasses
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from omnimmm.config import load_plan, plan_from_dict
from omnimmm.data import load_panel
from omnimmm.data.schema import Panel
from omnimmm.data.simulate import simulate_world
from omnimmm.mmm import ModelSpec, OmniMMM
from omnimmm.mmm.calibration import simulated_lift_tests

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data"
OUTCOMES = ("online_revenue", "offline_revenue")


def _fit(world, *, synergies=None, calibration=(), **sampler):
    with tempfile.TemporaryDirectory() as tmp:
        plan = plan_from_dict(world.plan, base_dir=tmp)
    panel = Panel.from_frame(world.panel, plan, source="world.csv")
    spec = ModelSpec.from_plan(plan)
    if synergies is not None:
        spec = dataclasses.replace(spec, synergies=tuple(synergies))
    spec = dataclasses.replace(spec, calibration=tuple(calibration))
    return OmniMMM(plan, spec=spec, **sampler).fit(panel)


def _scores(m, world) -> tuple[float, float, pd.DataFrame]:
    """Total-ROI MAPE, coverage of channel x outcome pairs by the 90% intervals, table."""
    roi, truth = m.roi(), world.truth.roi
    mape = float(np.mean(np.abs(roi["mean"] - truth["total"]) / truth["total"]))
    inside = [(roi[f"{o}_low"] <= truth[o]) & (truth[o] <= roi[f"{o}_high"]) for o in OUTCOMES]
    table = pd.DataFrame({"truth": truth["total"], "mean": roi["mean"], "low": roi["low"],
                          "high": roi["high"]})  # fmt: skip
    return mape, float(pd.concat(inside).mean()), table


def test_small_world_recovers_the_identified_channel_and_covers_the_rest():
    """Three flighted channels, low noise, few draws.

    TV runs in bursts and is identified: its ROI comes back within 15% and inside its
    90% interval. Print and radio switch on and off at low spend; the panel barely informs
    them (their posteriors stay near the ROI prior), so only honest coverage is asserted:
    every channel's true total ROI lies inside its 90% interval.
    """
    world = simulate_world(seed=3, channels=("tv", "print", "radio"), noise=0.02, synergy=False)
    m = _fit(world, chains=2, draws=200, tune=200, seed=1)
    _, _, table = _scores(m, world)
    tv = table.loc["tv"]
    assert abs(tv["mean"] - tv["truth"]) <= 0.15 * tv["truth"], table
    assert ((table["low"] <= table["truth"]) & (table["truth"] <= table["high"])).all(), table
    assert m.diagnostics_.divergences <= 5


@pytest.mark.slow
@pytest.mark.parametrize("seed", [0, 1])
def test_identified_world_meets_the_recovery_target(seed):
    """Issue 3's recovery target at default settings: MAPE <= 15%, >= 80% of pairs covered.

    The target is asserted on worlds whose panel carries the information it asks for: an
    oracle that knows every true shape and only estimates effect sizes
    (``oracle_roi_se``) would miss by at most 12% on average. On the default world that
    oracle misses by about 200%, so no estimator can promise 15% there; on it the target
    is met with one holdout experiment per channel (below), and without experiments the
    model is held to the bounds of the next test.

    Four channels with 1% noise: the oracle's expected ROI error is 8-11%; the model also
    has to learn the adstock and saturation shapes. Measured (4x500+500, sampler seed 1,
    hand-written density, six yearly harmonics, 2026-12-06): MAPE 9.1% and 11.3%, 7/8
    pairs covered on both world seeds (8.1% and 9.8%, 8/8, with three harmonics).
    """
    from omnimmm.mmm.calibration import oracle_roi_se

    world = simulate_world(seed=seed, channels=("search", "social", "tv", "outdoor"), noise=0.01)
    assert oracle_roi_se(world)["expected_ape"].mean() <= 0.12
    m = _fit(world, chains=4, draws=500, tune=500, seed=1)
    mape, coverage, table = _scores(m, world)
    print(f"\nseed {seed}: MAPE {mape:.1%}, coverage {coverage:.0%}\n{table}")
    assert mape <= 0.15, table
    assert coverage >= 0.8, table
    assert m.diagnostics_.divergences <= 20


@pytest.mark.slow
def test_default_world_beats_the_oracle_bound_with_honest_intervals():
    """The default world at default settings: what the panel allows, and what we measure.

    Issue 3 asks for ROI MAPE <= 15% here; no estimator can promise that, because an
    oracle that knows every true shape would have an expected error of about 200% (small
    channels such as print move less revenue than the weekly noise). What the model must
    do instead: use its priors to land well inside that bound, and keep honest intervals.

    Coverage is counted over four sampler seeds: with one, the count of total ROIs inside
    their intervals is Monte Carlo noise around a few intervals that end next to their
    truth. Measured (4x500+500, hand-written density, 2026-11-29) on sampler seeds 1-10:
    MAPE 44.0-46.8%, 12/16 channel x outcome pairs covered on every seed, total ROIs
    covered 6, 7, 7, 6, 6, 7, 7, 7, 6, 7 of 8 (66/80; seeds 1-4: 26/32). TV (true ROI
    3.1) falls outside on every seed, pulled towards its kind's ROI prior (mean 1.0);
    when outdoor misses, its interval ends 0.1-1.5% below its truth (seeds 1, 5 and 9).
    One of the four pairs missed on every seed cannot be covered: print's online ROI is
    exactly 0 in this world (no cross effect), and media effects are positive in the
    model, so no 90% interval reaches 0. The pair coverage misses the issue's 80%; the
    thresholds below (the ratios this test asserted on one seed before) guard what was
    measured, they do not claim the target.
    """
    from omnimmm.mmm.calibration import oracle_roi_se

    world = simulate_world()
    bound = oracle_roi_se(world)["expected_ape"].mean()
    pairs, totals = [], []
    for seed in (1, 2, 3, 4):
        m = _fit(world, chains=4, draws=500, tune=500, seed=seed)
        mape, coverage, table = _scores(m, world)
        inside = (table["low"] <= table["truth"]) & (table["truth"] <= table["high"])
        print(f"\nseed {seed}: MAPE {mape:.1%} (oracle bound {bound:.0%}), pairs covered "
              f"{coverage:.0%}, total ROIs covered {int(inside.sum())}/8\n{table}")  # fmt: skip
        assert mape <= bound / 3, table
        assert m.diagnostics_.divergences == 0
        pairs.append(coverage)
        totals.append(inside.mean())
    assert np.mean(pairs) >= 0.7 and np.mean(totals) >= 0.75, (pairs, totals)


@pytest.mark.slow
def test_default_world_with_holdout_tests_meets_the_recovery_target():
    """Issue 3's target on the default world, with one experiment per channel.

    The panel alone cannot identify the default world (oracle bound about 200%), so each
    channel gets one simulated holdout: spend cut by 90% for 8 weeks, the revenue lost
    measured with a 15% standard error. Measured (4x500+500, seed 1, centred model): MAPE
    12.2%, 14/16 pairs and 8/8 total ROIs covered. With +50% raises instead (which measure
    the marginal return at heavy spend) the uncentred model gave MAPE 33.8%.
    """
    world = simulate_world()
    tests = simulated_lift_tests(world, lift=-0.9)
    m = _fit(world, calibration=tests, chains=4, draws=500, tune=500, seed=1)
    mape, coverage, table = _scores(m, world)
    print(f"\nMAPE {mape:.1%}, pairs covered {coverage:.0%}\n{table}")
    assert mape <= 0.15, table
    assert coverage >= 0.8, table


@pytest.mark.slow
@pytest.mark.skipif(not SHARED.is_dir(), reason=f"peer datasets not found at {SHARED}")
def test_pymc_marketing_example_roi_of_both_channels_within_15_percent(tmp_path):
    from omnimmm.data.peers import pymc_marketing_example

    pymc_marketing_example(SHARED / "pymc_marketing_mmm_example").write(tmp_path)
    plan = load_plan(tmp_path / "plan.toml")
    truth = pd.read_csv(tmp_path / "truth_roi.csv", index_col="channel")["roi"]
    m = OmniMMM(plan, chains=4, draws=500, tune=500, seed=1).fit(load_panel(plan))
    roi = m.roi()["mean"]
    err = (roi - truth).abs() / truth
    assert (err <= 0.15).all(), pd.DataFrame({"truth": truth, "roi": roi, "err": err})


def test_oracle_roi_se_matches_the_spread_of_least_squares_over_noise_redraws():
    """The oracle bound is the real sampling spread of the known-shape estimator.

    The noise-free outcomes of a world are redrawn with fresh correlated noise 400 times;
    each time both outcomes are fitted by least squares on the true saturated media and
    the baseline terms, and each channel's total ROI computed. The spread of those ROIs
    must match ``oracle_roi_se`` (within Monte Carlo error), and the bound must scale
    with the noise.
    """
    from omnimmm.mmm.calibration import oracle_roi_se, simulated_baseline_terms

    world = simulate_world(seed=2, channels=("search", "social", "tv", "radio"), noise=0.02)
    oracle = oracle_roi_se(world)
    media, params = world.truth.media, world.truth.params
    spend = np.asarray(world.truth.spend, dtype=float)
    h = media.saturate(media.adstocked(spend))
    base = simulated_baseline_terms(world)
    x = np.column_stack([base, h] + [h[:, i] * h[:, j] for i, j in media.synergy_pairs])
    sd = np.array([params["noise_model"]["sd"][o] for o in OUTCOMES])
    chol = np.linalg.cholesky(np.array([[1.0, 0.5], [0.5, 1.0]]))
    rng = np.random.default_rng(0)
    expected = world.truth.expected[list(OUTCOMES)].to_numpy()
    rois = []
    for _ in range(400):
        y = expected + rng.standard_normal(expected.shape) @ chol.T * sd
        coef = np.linalg.lstsq(x, y, rcond=None)[0][base.shape[1] : base.shape[1] + h.shape[1]]
        rois.append(coef.sum(axis=1) * h.sum(axis=0) / spend.sum(axis=0))
    spread = pd.Series(np.std(rois, axis=0), index=media.channels)
    ratio = spread / oracle["se"]
    assert ratio.between(0.85, 1.15).all(), pd.DataFrame({"mc": spread, "oracle": oracle["se"]})
    doubled = oracle_roi_se(
        simulate_world(seed=2, channels=("search", "social", "tv", "radio"), noise=0.04)
    )
    np.testing.assert_allclose(doubled["se"], 2 * oracle["se"], rtol=0.05)


def test_simulated_holdout_measures_the_revenue_the_cut_spend_earned():
    world = simulate_world(seed=4, channels=("search", "tv"))
    exact = simulated_lift_tests(world, rel_se=0.0)  # default: a 90% holdout
    media, spend = world.truth.media, np.asarray(world.truth.spend, dtype=float)
    dates = pd.DatetimeIndex(world.panel["date"])
    for test, c in zip(exact, (0, 1), strict=True):
        rows = np.flatnonzero((dates >= test.start) & (dates <= test.end))
        assert len(rows) == 8 and test.spend_change == pytest.approx(-0.9 * spend[rows, c].sum())
        cut = spend.copy()
        cut[rows, c] *= 0.1
        lost = (media.media(cut) - media.media(spend))[rows[0] :].sum()
        assert test.incremental_revenue == pytest.approx(lost) and lost < 0
    noisy = simulated_lift_tests(world, seed=3)
    assert [t.se for t in noisy] == pytest.approx(
        [0.15 * abs(t.incremental_revenue) for t in exact]
    )
    with pytest.raises(ValueError, match="lift must be above -1"):
        simulated_lift_tests(world, lift=-1.0)
