"""Negative control for the synergy term (issue 3): fit a TV x search world without it.

The simulator's synergy is ``gamma[o] * h_tv(t) * h_search(t)`` (saturated media). TV runs
in bursts and search is always on, so the product is mostly TV's own curve scaled by
search's level (correlation 0.93-0.96 with TV's curve). Dropping the term therefore does
not wreck the fit: the synergy revenue moves into the main effects (least squares on the
true curves moves 0.87-1.14 times of it into TV's on ten seeds, and some into search's;
``h_tv h_s ~ mean(h_s) h_tv + mean(h_tv) h_s - const``, the baseline gives back the
excess). Each channel's counterfactual ROI (DESIGN.md counts the synergy in both
channels) stays about right. What goes wrong, as observed:

* the joint effect: the model without the term adds TV and search up, so switching both
  off removes more revenue than the model with the term says (the synergy counted twice);
* the fit: further from the noise-free truth, residuals following the missing product.

The default simulated synergy (about 5% of media revenue) is barely identified by 156
weeks (90% gamma intervals about +-1.8 M/wk for a true 0.4-1.5 M/wk, and the two models
give nearly the same ROI), so the Bayesian fits use the same worlds with the synergy three
times stronger (:func:`with_stronger_synergy`: same draws and noise, 11-15% of media
revenue). A fit takes 1.5-2 minutes on two shared cores (most of it nutpie's compile), so
they are ``slow``; the fast tests check the mechanism by least squares on the true saturations
and the synergy accounting on a hand-built posterior, with no sampling.

Run ``pytest tests/test_mmm_synergy_control.py -m slow -s`` to see the tables (truth vs
posterior mean and 90% interval of each model, per seed).
"""

from __future__ import annotations

import copy
import dataclasses
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from omnimmm.config import plan_from_dict
from omnimmm.data.schema import Panel
from omnimmm.data.simulate import OUTCOMES, World, simulate_world
from omnimmm.data.simulate_truth import Truth
from omnimmm.mmm import ModelSpec, OmniMMM
from omnimmm.mmm.calibration import simulated_baseline_terms

CHANNELS = ("search", "social", "tv", "outdoor")
PAIR = ("tv", "search")
NOISE = 0.02
STRENGTH = 3.0
SEEDS = (0, 1, 2)


# --------------------------------------------------------------------------- worlds


def with_stronger_synergy(world: World, factor: float) -> World:
    """The same world with every synergy coefficient multiplied by ``factor``.

    Spend, baseline, main effects and the noise draw are unchanged: the outcomes gain
    ``(factor - 1)`` times the synergy revenue, and the truth (ROI, contributions,
    parameters, expected outcomes) is rebuilt from the stronger response.
    """
    truth = world.truth
    media = truth.media
    h = media.saturate(media.adstocked(truth.spend))
    extra = np.zeros((len(h), len(OUTCOMES)))
    for p, (i, j) in enumerate(media.synergy_pairs):
        extra += (factor - 1.0) * (h[:, i] * h[:, j])[:, None] * media.gamma[p]
    stronger = dataclasses.replace(media, gamma=media.gamma * factor)
    params = copy.deepcopy(truth.params)
    for term in params["synergies"]:
        term["gamma"] = {o: g * factor for o, g in term["gamma"].items()}
    panel = world.panel.copy()
    panel[list(OUTCOMES)] = panel[list(OUTCOMES)].to_numpy() + extra
    expected = truth.expected + extra
    rebuilt = Truth.build(params, stronger, truth.spend, truth.expected.index, expected)
    return World(panel=panel, plan=world.plan, truth=rebuilt)


def _synergy_world(seed: int) -> World:
    return with_stronger_synergy(
        simulate_world(seed=seed, channels=CHANNELS, noise=NOISE, synergy=True), STRENGTH
    )


def _saturations(world: World) -> np.ndarray:
    media = world.truth.media
    return media.saturate(media.adstocked(world.truth.spend))


def _true_product(world: World) -> np.ndarray:
    h = _saturations(world)
    names = list(world.truth.media.channels)
    return h[:, names.index(PAIR[0])] * h[:, names.index(PAIR[1])]


def _joint_contribution(media, spend: np.ndarray, channels: list[str]) -> float:
    """Truth: revenue lost (all outcomes, all weeks) with both channels switched off."""
    off = spend.copy()
    for c in PAIR:
        off[:, channels.index(c)] = 0.0
    return float((media.media(spend) - media.media(off)).sum())


# --------------------------------------------------------------------------- fast: oracle


def test_a_stronger_synergy_changes_only_the_synergy_and_what_it_touches():
    base = simulate_world(seed=0, channels=CHANNELS, noise=NOISE, synergy=True)
    strong = with_stronger_synergy(base, STRENGTH)
    gain = (STRENGTH - 1.0) * _true_product(base).sum() * base.truth.media.gamma[0].sum()
    added = strong.panel[list(OUTCOMES)].to_numpy() - base.panel[list(OUTCOMES)].to_numpy()
    np.testing.assert_allclose(added.sum(), gain, rtol=1e-9)
    spend = base.panel[[f"{c}_spend" for c in CHANNELS]].sum().to_numpy()
    in_pair = np.isin(CHANNELS, PAIR)
    got = (strong.truth.roi["total"] - base.truth.roi["total"])[list(CHANNELS)].to_numpy()
    np.testing.assert_allclose(got, np.where(in_pair, gain / spend, 0.0), atol=1e-12)


def _least_squares_synergy_share(world: World) -> float:
    """Synergy revenue estimated by least squares on the true saturations / its truth.

    How much synergy this panel's noise lets even the oracle see (1: all of it).
    """
    media = world.truth.media
    h, prod = _saturations(world), _true_product(world)
    x = np.column_stack([simulated_baseline_terms(world), h, prod])
    coef = np.linalg.lstsq(x, world.panel[list(OUTCOMES)].to_numpy(), rcond=None)[0]
    return float(coef[-1].sum() / media.gamma[0].sum())


@pytest.mark.parametrize("seed", range(5))
def test_without_the_term_least_squares_moves_the_synergy_into_tv(seed):
    """Oracle (true saturations, least squares, no sampling): the mechanism of the control.

    Observed on seeds 0-9 at 3x strength: the product correlates 0.93-0.96 with TV's
    saturation; without the product column, TV's main-effect revenue exceeds its true main
    effect by 0.87-1.14 times the synergy revenue, and the fit's residual SD grows by at
    most 9% (0-5% on seeds 0-4): the data barely object to the wrong model.
    """
    world = _synergy_world(seed)
    media = world.truth.media
    names = list(media.channels)
    h = _saturations(world)
    prod = _true_product(world)
    tv = names.index("tv")
    assert np.corrcoef(prod, h[:, tv])[0, 1] > 0.9

    y = world.panel[list(OUTCOMES)].to_numpy()
    base = simulated_baseline_terms(world)
    x = np.column_stack([base, h])
    coef = np.linalg.lstsq(x, y, rcond=None)[0]
    tv_main = coef[base.shape[1] + tv].sum() * h[:, tv].sum()
    synergy = prod.sum() * media.gamma[0].sum()
    absorbed = (tv_main - media.beta[tv].sum() * h[:, tv].sum()) / synergy
    assert 0.75 <= absorbed <= 1.25, absorbed

    x_full = np.column_stack([x, prod])
    rss = [np.sum((y - a @ np.linalg.lstsq(a, y, rcond=None)[0]) ** 2) for a in (x, x_full)]
    assert np.sqrt(rss[0] / rss[1]) < 1.2  # residual SD without the term / with it


def _hand_fitted_with_synergy(gamma: float) -> tuple[OmniMMM, np.ndarray, np.ndarray]:
    """Two channels, no carryover, ``h = s / (1 + s)``, one outcome, 2 x 3 draws by hand.

    Returns the model, the main-effect ROI draws (6, 2) and the synergy revenue draws (6,).
    """
    import arviz as az
    import xarray as xr

    from omnimmm.mmm.design import ChannelSpec, fit_scaling
    from omnimmm.mmm.posterior import complete_posterior

    rng = np.random.default_rng(5)
    dates = pd.date_range("2024-01-01", periods=30, freq="7D")
    spend = pd.DataFrame(
        {"a": rng.uniform(50.0, 150.0, 30), "b": rng.uniform(0.0, 200.0, 30)}, index=dates
    )
    spend.iloc[3:9, 0] = 0.0  # "a" flighted, "b" always on but varying
    panel = Panel(
        dates=dates,
        spend=spend,
        outcomes=pd.DataFrame({"y": rng.uniform(900.0, 1100.0, 30)}, index=dates),
        controls=pd.DataFrame(index=dates),
        channel_kinds={"a": "offline", "b": "online"},
        source=Path("hand.csv"),
        data_hash="hand",
    )
    channels = tuple(ChannelSpec(n, "online", "geometric", 2, "hill", 1.5, 1.0) for n in "ab")
    spec = ModelSpec(channels=channels, outcomes=("y",), synergies=(("a", "b"),), trend=False,
                     fourier_order=0, outcome_correlation=False)  # fmt: skip
    scaling = fit_scaling(panel, spec)
    roi = np.array([[[2.0, 0.5], [2.2, 0.6], [1.8, 0.4]], [[2.1, 0.5], [1.9, 0.5], [2.0, 0.6]]])
    gammas = gamma * np.array([[1.0, 0.8, 1.2], [0.9, 1.1, 1.0]])
    d3 = ("chain", "draw")
    post = xr.Dataset(
        {
            "adstock_geometric_alpha": ((*d3, "channel_adstock_geometric"), np.zeros((2, 3, 2))),
            "saturation_hill_half_saturation": ((*d3, "channel_saturation_hill"), np.ones((2, 3, 2))),
            "saturation_hill_slope": ((*d3, "channel_saturation_hill"), np.ones((2, 3, 2))),
            "roi_total": ((*d3, "channel_roi"), roi),
            "gamma": ((*d3, "synergy", "outcome"), gammas[:, :, None, None]),
            "intercept": ((*d3, "outcome"), np.full((2, 3, 1), 0.6)),
            "sigma": ((*d3, "outcome"), np.full((2, 3, 1), 0.05)),
        },
        coords={"chain": [0, 1], "draw": [0, 1, 2], "outcome": ["y"], "synergy": ["a:b"]},
    )  # fmt: skip
    x = spend.to_numpy()
    post = complete_posterior(post, spec, scaling, x)
    m = OmniMMM(spec=spec, max_draws=None)
    m._set_fitted(panel, scaling, az.InferenceData(posterior=post), {"compile": 0.0})
    h = (x / scaling.spend_scale) / (1.0 + x / scaling.spend_scale)
    revenue = gammas.reshape(6) * scaling.outcome_scale[0] * (h[:, 0] * h[:, 1]).sum()
    return m, roi.reshape(6, 2), revenue


def test_each_channel_of_a_synergy_is_credited_with_all_of_it():
    """Golden (hand-built posterior): what the control's joint-effect test relies on.

    DESIGN.md's counterfactual ROI of each channel of a pair includes the whole synergy
    revenue, so the sum of the two contributions exceeds their joint contribution
    (both switched off together) by exactly the synergy revenue; without the term the two
    are equal.
    """
    m, roi_main, revenue = _hand_fitted_with_synergy(gamma=0.05)
    spend = m.panel_.spend.sum().to_numpy()
    expected = roi_main + revenue[:, None] / spend[None, :]
    np.testing.assert_allclose(m.roi()["mean"].to_numpy(), expected.mean(axis=0), rtol=1e-10)
    syn = m.synergy()
    np.testing.assert_allclose(syn["revenue_mean"].iloc[0], revenue.mean(), rtol=1e-10)
    resp, x = m.response_, m.panel_.spend.to_numpy()
    joint = (resp.media_total(x) - resp.media_total(np.zeros_like(x))).sum(axis=(0, 2))
    both = m.roi()["contribution"].sum()
    np.testing.assert_allclose(both - joint.mean(), revenue.mean(), rtol=1e-10)


# --------------------------------------------------------------------------- slow: Bayesian


def _fit(world: World, synergies: tuple[tuple[str, str], ...]) -> OmniMMM:
    with tempfile.TemporaryDirectory() as tmp:
        plan = plan_from_dict(world.plan, base_dir=tmp)
    panel = Panel.from_frame(world.panel, plan, source="world.csv")
    spec = dataclasses.replace(ModelSpec.from_plan(plan), synergies=synergies)
    return OmniMMM(plan, spec=spec, chains=2, draws=400, tune=400, seed=1).fit(panel)


def _interval(draws: np.ndarray) -> dict[str, float]:
    lo, hi = np.quantile(draws, [0.05, 0.95])
    return {"mean": float(np.mean(draws)), "low": float(lo), "high": float(hi)}


def _measure(m: OmniMMM, world: World) -> dict[str, dict[str, float]]:
    """Posterior mean and 90% interval of what the control compares, in currency."""
    resp = m.response_
    channels = list(resp.channels)
    spend = m.panel_.spend[channels].to_numpy(dtype=float)
    roi = m.roi()
    out = {f"roi {c}": roi.loc[c, ["mean", "low", "high"]].astype(float).to_dict() for c in PAIR}
    off = spend.copy()
    for c in PAIR:
        off[:, channels.index(c)] = 0.0
    joint = (resp.media_total(spend) - resp.media_total(off)).sum(axis=(0, 2))  # (D,)
    out["joint tv+search (M)"] = _interval(joint / 1e6)
    main, syn = resp.media(spend)
    synergy = np.zeros(resp.n_draws) if syn is None else syn.sum(axis=(0, 2, 3))
    out["synergy revenue (M)"] = _interval(synergy / 1e6)
    y_scale = np.asarray(resp.scaling.outcome_scale)
    for k, o in enumerate(OUTCOMES):
        g = resp.params["gamma"][:, 0, k] * y_scale[k] if syn is not None else np.full(1, np.nan)
        out[f"gamma {o} (M/wk)"] = _interval(g / 1e6)
    fitted = m.fitted()[list(OUTCOMES)].to_numpy()
    expected = world.truth.expected[list(OUTCOMES)].to_numpy()
    resid = m.panel_.outcomes[list(OUTCOMES)].to_numpy() - fitted
    prod = _true_product(world)
    rmse = float(np.sqrt(np.mean((fitted - expected) ** 2)))
    out["rmse vs noise-free (k)"] = {"mean": rmse / 1e3}
    corr = np.mean([np.corrcoef(resid[:, k], prod)[0, 1] for k in range(len(OUTCOMES))])
    out["corr(residual, h_tv h_s)"] = {"mean": float(corr)}
    out["max R-hat"] = {"mean": float(m.diagnostics_.rhat_max)}
    return out


def _truth_row(world: World) -> dict[str, float]:
    truth = world.truth
    names = list(truth.media.channels)
    gammas = {}
    for k, o in enumerate(OUTCOMES):
        g = truth.media.gamma[0, k] if len(truth.media.synergy_pairs) else 0.0
        gammas[f"gamma {o} (M/wk)"] = g / 1e6
    gamma_total = truth.media.gamma[0].sum() if len(truth.media.synergy_pairs) else 0.0
    return {
        **{f"roi {c}": float(truth.roi.loc[c, "total"]) for c in PAIR},
        "joint tv+search (M)": _joint_contribution(truth.media, truth.spend, names) / 1e6,
        "synergy revenue (M)": float(_true_product(world).sum() * gamma_total) / 1e6,
        **gammas,
    }


def _table(world: World, fits: dict[str, dict[str, dict[str, float]]]) -> pd.DataFrame:
    columns = {"truth": pd.Series(_truth_row(world), dtype=float)}
    for label, measured in fits.items():
        for stat in ("mean", "low", "high"):
            columns[f"{label} {stat}"] = pd.Series(
                {k: v.get(stat, np.nan) for k, v in measured.items()}, dtype=float
            )
    return pd.DataFrame(columns).loc[list(next(iter(fits.values())))]


def _inside(measured: dict[str, float], value: float) -> bool:
    return measured["low"] <= value <= measured["high"]


def _show(title: str, table: pd.DataFrame) -> None:
    print(f"\n{title}\n{table.to_string(float_format='{:.3f}'.format)}")


@pytest.fixture(scope="module")
def synergy_fits() -> dict[int, tuple[World, pd.DataFrame, dict]]:
    """Per seed: the 3x-synergy world, the printed table, and both models' measurements."""
    out = {}
    for seed in SEEDS:
        world = _synergy_world(seed)
        fits = {
            "with": _measure(_fit(world, (PAIR,)), world),
            "without": _measure(_fit(world, ()), world),
        }
        table = _table(world, fits)
        _show(f"seed {seed}, synergy x{STRENGTH:g}, noise {NOISE}:", table)
        out[seed] = (world, table, fits)
    return out


@pytest.mark.slow
def test_the_synergy_model_covers_the_synergy_and_finds_it_where_the_data_show_it(
    synergy_fits,
):
    """Observed (2 chains x 400 draws): both outcomes' gamma intervals cover the truth on
    every seed. The synergy revenue interval lies above 0 on seeds 0 and 2; on seed 1 it
    is 28 M [-10, 78] for a true 93 M, but there even least squares on the true
    saturations recovers only about 6% of the synergy (1.3x on seeds 0 and 2): that
    panel's noise hides it. So the model must find the synergy wherever the oracle sees
    at least half of it.
    """
    for world, table, fits in synergy_fits.values():
        truth, with_ = _truth_row(world), fits["with"]
        for o in OUTCOMES:
            key = f"gamma {o} (M/wk)"
            assert _inside(with_[key], truth[key]), (key, table.to_string())
        if _least_squares_synergy_share(world) >= 0.5:
            revenue = with_["synergy revenue (M)"]
            assert revenue["low"] > 0, table.to_string()
            assert _inside(revenue, truth["synergy revenue (M)"]), table.to_string()


@pytest.mark.slow
def test_without_the_term_tv_and_search_are_each_credited_with_the_synergy(synergy_fits):
    """Observed: switching TV and search off together removes 33-86 M more revenue in the
    model without the term than in the model with it (true synergy: 93-114 M). The model
    without the term adds the two channels' effects, so the synergy each one absorbed is
    counted twice; TV's own ROI barely moves (4.08 vs 4.40, 4.03 vs 4.04, 4.68 vs 4.70)
    and stays inside its interval in both models.
    """
    for _, table, fits in synergy_fits.values():
        joint = "joint tv+search (M)"
        assert fits["without"][joint]["mean"] > fits["with"][joint]["mean"], table.to_string()


@pytest.mark.slow
def test_without_the_term_the_fit_is_worse_where_the_product_is(synergy_fits):
    """Observed: fitted values further from the noise-free truth on every seed (RMSE 167
    vs 144, 140 vs 134, 161 vs 147 thousand per week), and residuals correlate with the
    missing product twice as much on average (0.059 vs 0.030; per seed 0.072 vs 0.030,
    0.032 vs 0.028, 0.074 vs 0.033)."""
    corr = {"with": [], "without": []}
    for _, table, fits in synergy_fits.values():
        key = "rmse vs noise-free (k)"
        assert fits["without"][key]["mean"] > fits["with"][key]["mean"], table.to_string()
        for label in corr:
            corr[label].append(fits[label]["corr(residual, h_tv h_s)"]["mean"])
    assert np.mean(corr["without"]) > np.mean(corr["with"]), corr


@pytest.fixture(scope="module")
def null_fits() -> dict[int, tuple[World, pd.DataFrame, dict]]:
    """Per seed: a world without synergy fitted by the model that declares TV x search."""
    out = {}
    for seed in SEEDS:
        world = simulate_world(seed=seed, channels=CHANNELS, noise=NOISE, synergy=False)
        measured = _measure(_fit(world, (PAIR,)), world)
        table = _table(world, {"with": measured})
        _show(f"seed {seed}, no synergy in the world, the model declares tv x search:", table)
        out[seed] = (world, table, measured)
    return out


@pytest.mark.slow
def test_on_worlds_without_synergy_the_online_synergy_interval_covers_zero(null_fits):
    """The other direction, only half of it holds on these seeds. Observed: the online
    gamma interval covers 0 on every seed, the store (offline) gamma is 1.93 M/wk
    [-0.04, 3.85], -0.48 [-2.93, 1.85] and 2.35 [0.35, 4.64] on seeds 0-2.

    Over 17 seeds (``benchmarks/bench_synergy_null.py``, RESULTS.md) the intervals cover
    0 on 17/17 (online) and 14/17 (store) seeds, about what 90% intervals should; but the
    posterior means are positive on 15/17 and 12/17 seeds (averages +0.57 and +0.70
    M/week, a third of the intervals' half-width): a small positive bias of the point
    estimate, not a calibration failure. Its cause is the default ROI priors (means 1.5
    online, 1.0 offline) shrinking TV's and search's main effects, whose true ROIs are
    2.5-3.5: with the priors centred on the truth (``--roi-prior truth``) the averages are
    +0.12 and +0.14 M/week and 11/17 and 8/17 means are positive. Only the online side is
    asserted here.
    """
    for _, table, measured in null_fits.values():
        assert _inside(measured["gamma online_revenue (M/wk)"], 0.0), table.to_string()
