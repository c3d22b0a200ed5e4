"""The MMM without sampling: graph pieces against references, analytics on a hand-built
posterior (golden and oracle values), and save/load of a fitted model."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pymc as pm
import pytest
import xarray as xr

from omnimmm.data.schema import Panel
from omnimmm.mmm import OmniMMM, load
from omnimmm.mmm.design import ChannelSpec, ModelSpec, Scaling, fit_scaling
from omnimmm.mmm.model import _correlated_normal
from omnimmm.mmm.posterior import complete_posterior
from omnimmm.mmm.response import channel_response, lagged


def _spec(adstocks=("geometric", "delayed"), outcomes=("y",), **kw) -> ModelSpec:
    channels = tuple(
        ChannelSpec(f"c{i}", "online", kind, 3 if kind == "geometric" else 5, "hill", 1.5, 1.0)
        for i, kind in enumerate(adstocks)
    )
    base = {"trend": False, "fourier_order": 0, "outcome_correlation": False}
    return ModelSpec(channels=channels, outcomes=tuple(outcomes), **{**base, **kw})


def test_lagged_product_equals_the_convolution():
    spec = _spec()
    layout = spec.layout()
    rng = np.random.default_rng(0)
    x = rng.gamma(2.0, 0.5, size=(40, 2))
    x[5:9, 1] = 0.0
    params = {
        "adstock_geometric_alpha": rng.uniform(0.1, 0.8, size=(3, 1)),
        "adstock_delayed_alpha": rng.uniform(0.1, 0.8, size=(3, 1)),
        "adstock_delayed_theta": rng.uniform(0.0, 3.0, size=(3, 1)),
        "saturation_hill_half_saturation": rng.uniform(0.5, 2.0, size=(3, 2)),
        "saturation_hill_slope": rng.uniform(0.8, 2.0, size=(3, 2)),
    }
    conv = channel_response(x[:, None, :, None], params, layout, np, 1)
    lags = lagged(x[:, None, :, None], layout.l_max_all)
    prod = channel_response(None, params, layout, np, 1, lags=lags)
    np.testing.assert_allclose(prod, conv, rtol=1e-12, atol=1e-14)
    assert prod.shape == (40, 3, 2, 1)


def test_chained_normals_have_the_multivariate_normal_density():
    rng = np.random.default_rng(1)
    y = rng.normal(size=(30, 3))
    mu = rng.normal(size=(30, 3))
    a = rng.normal(size=(3, 3))
    chol = np.linalg.cholesky(a @ a.T + 3 * np.eye(3))
    with pm.Model(coords={"week": range(30), "outcome": range(3)}) as chained:
        _correlated_normal(y, pm.math.constant(mu), pm.math.constant(chol), 3)
    with pm.Model() as reference:
        pm.MvNormal("y", mu=mu, chol=chol, observed=y)
    assert chained.compile_logp()({}) == pytest.approx(reference.compile_logp()({}), rel=1e-10)


# --------------------------------------------------------------------------- hand-built fit


def _panel(weeks: int = 30) -> Panel:
    rng = np.random.default_rng(2)
    dates = pd.date_range("2024-01-01", periods=weeks, freq="7D")
    spend = pd.DataFrame(
        {"c0": rng.uniform(50.0, 150.0, weeks), "c1": rng.uniform(0.0, 200.0, weeks)},
        index=dates,
    )
    spend.iloc[3:6, 1] = 0.0
    outcomes = pd.DataFrame({"y": rng.uniform(900.0, 1100.0, weeks)}, index=dates)
    return Panel(
        dates=dates,
        spend=spend,
        outcomes=outcomes,
        controls=pd.DataFrame(index=dates),
        channel_kinds={"c0": "online", "c1": "online"},
        source=Path("hand.csv"),
        data_hash="hand",
    )


def _hand_fitted(panel: Panel, slope: float = 1.0) -> tuple[OmniMMM, Scaling]:
    """A model 'fitted' with a posterior of 2 chains x 3 draws written by hand.

    No carryover (geometric alpha = 0 puts all weight on lag 0), Hill with half
    saturation 1 and the given slope, so ``h = s**k / (1 + s**k)`` of scaled spend ``s``.
    """
    spec = _spec(adstocks=("geometric", "geometric"))
    scaling = fit_scaling(panel, spec)
    roi = np.array([[[2.0, 0.5], [2.2, 0.6], [1.8, 0.4]], [[2.1, 0.5], [1.9, 0.5], [2.0, 0.6]]])
    post = xr.Dataset(
        {
            "adstock_geometric_alpha": (("chain", "draw", "channel_adstock_geometric"), np.zeros((2, 3, 2))),
            "saturation_hill_half_saturation": (("chain", "draw", "channel_saturation_hill"), np.ones((2, 3, 2))),
            "saturation_hill_slope": (("chain", "draw", "channel_saturation_hill"), np.full((2, 3, 2), slope)),
            "roi_total": (("chain", "draw", "channel_roi"), roi),
            "intercept": (("chain", "draw", "outcome"), np.full((2, 3, 1), 0.6)),
            "sigma": (("chain", "draw", "outcome"), np.full((2, 3, 1), 0.05)),
        },
        coords={"chain": [0, 1], "draw": [0, 1, 2], "outcome": ["y"]},
    )  # fmt: skip
    spend = panel.spend[spec.channel_names].to_numpy()
    post = complete_posterior(post, spec, scaling, spend)
    m = OmniMMM(spec=spec, max_draws=None)
    import arviz as az

    m._set_fitted(panel, scaling, az.InferenceData(posterior=post), {"compile": 0.0})
    return m, scaling


def test_roi_of_a_hand_built_posterior_is_the_roi_it_was_built_with():
    """The ROI parameterisation is exact: zeroing a channel removes roi x spend."""
    panel = _panel()
    m, _ = _hand_fitted(panel, slope=1.3)
    out = m.roi()
    draws = np.array([[2.0, 0.5], [2.2, 0.6], [1.8, 0.4], [2.1, 0.5], [1.9, 0.5], [2.0, 0.6]])
    np.testing.assert_allclose(out["mean"], draws.mean(axis=0), rtol=1e-10)
    np.testing.assert_allclose(out["low"], np.quantile(draws, 0.05, axis=0), rtol=1e-10)
    np.testing.assert_allclose(out["high"], np.quantile(draws, 0.95, axis=0), rtol=1e-10)
    np.testing.assert_allclose(out["spend"], panel.spend.sum().to_numpy())


def test_decomposition_adds_up_to_the_fitted_values_and_contributions_to_roi():
    panel = _panel()
    m, scaling = _hand_fitted(panel)
    dec = m.decomposition()
    total = dec.groupby("date")["value"].sum().to_numpy()
    np.testing.assert_allclose(total, m.fitted()["y"].to_numpy(), rtol=1e-10)
    intercept = dec[dec.component == "intercept"]["value"].to_numpy()
    np.testing.assert_allclose(intercept, 0.6 * scaling.outcome_scale[0])
    contrib = m.contributions().groupby("channel")["mean"].sum()
    np.testing.assert_allclose(contrib.to_numpy(), m.roi()["contribution"].to_numpy(), rtol=1e-10)


def test_mroi_matches_the_closed_form_derivative_of_the_hill_curve():
    """Oracle: with no carryover and slope 1, d/ds [s / (1 + s)] = 1 / (1 + s)**2."""
    panel = _panel()
    m, scaling = _hand_fitted(panel, slope=1.0)
    s = panel.spend.to_numpy() / np.asarray(scaling.spend_scale)
    # Per draw beta differs; average the exact marginal revenue over the draws.
    betas = m.idata_.posterior["beta"].to_numpy().reshape(6, 2)
    y_scale = scaling.outcome_scale[0]
    exact = np.array(
        [
            (betas[:, c][:, None] * y_scale * (1 / (1 + s[:, c]) ** 2) * s[:, c]).sum(axis=1).mean()
            / panel.spend.iloc[:, c].sum()
            for c in range(2)
        ]
    )
    got = m.mroi(step=1e-6)["mean"].to_numpy()
    np.testing.assert_allclose(got, exact, rtol=1e-4)
    assert np.all(got < m.roi()["mean"].to_numpy())  # diminishing returns


def test_save_and_load_round_trip_without_refitting(tmp_path):
    panel = _panel()
    m, _ = _hand_fitted(panel, slope=1.2)
    m.save(tmp_path / "model")
    back = load(tmp_path / "model")
    pd.testing.assert_frame_equal(back.roi(), m.roi())
    pd.testing.assert_frame_equal(back.decomposition(), m.decomposition())
    assert back.spec_ == m.spec_
    assert not hasattr(back, "model_")  # nothing was rebuilt or sampled


def test_centred_level_and_recovered_intercept_give_the_graphs_mean():
    """The model samples the centred ``level``; the intercept recovered after sampling
    makes the numpy mean function (used by every analysis) equal the graph's mean."""
    import tempfile

    from omnimmm.config import plan_from_dict
    from omnimmm.data.simulate import simulate_world
    from omnimmm.mmm.design import baseline_features
    from omnimmm.mmm.response import ResponseModel

    world = simulate_world(seed=4, weeks=104)
    with tempfile.TemporaryDirectory() as tmp:
        plan = plan_from_dict(world.plan, base_dir=tmp)
    panel = Panel.from_frame(world.panel, plan, source="world.csv")
    m = OmniMMM(plan)
    assert m.spec.synergies and m.spec.trend and m.spec.fourier_order  # every term is there
    model = m.build(panel, keep_mean=True)
    free = [rv.name for rv in model.free_RVs]
    assert "level" in free and "intercept" not in free
    with model:
        prior = pm.sample_prior_predictive(4, var_names=[*free, "mu"], random_seed=2).prior
    scaling = fit_scaling(panel, m.spec)
    spend = panel.spend[m.spec.channel_names].to_numpy(dtype=float)
    features = baseline_features(panel.dates, panel.controls, m.spec, scaling)
    with pytest.raises(ValueError, match="features"):
        complete_posterior(prior.drop_vars("mu"), m.spec, scaling, spend)
    post = complete_posterior(prior.drop_vars("mu"), m.spec, scaling, spend, features=features)
    rm = ResponseModel.from_posterior(post, m.spec, scaling, panel.spend)
    mean = rm.mean(spend, features) / np.asarray(scaling.outcome_scale)  # (T, D, O)
    graph = prior["mu"].stack(sample=("chain", "draw")).transpose("week", "sample", "outcome")
    np.testing.assert_allclose(mean, graph.to_numpy(), rtol=1e-9, atol=1e-9)
    # and the level is the mean fitted week
    np.testing.assert_allclose(mean.mean(axis=0), post["level"].to_numpy()[0], rtol=1e-9)
