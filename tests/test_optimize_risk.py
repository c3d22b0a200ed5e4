"""Risk-aware objectives on a posterior with spread, and exact gradients of every objective."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import norm

from omnimmm.optimize import (
    AdstockSaturationResponse,
    Constraints,
    FixedBudget,
    optimize_budget,
    risk_functional,
)
from omnimmm.optimize.risk import risk_values, risk_weights
from omnimmm.transforms import geometric_weights

H = 13


def spread_posterior(n_draws: int = 400, seed: int = 0) -> AdstockSaturationResponse:
    """Four channels: two with a well-known effect, two whose effect is very uncertain.

    The uncertain ones have the higher posterior mean coefficient, so the mean objective
    leans on them and a cautious one should not.
    """
    rng = np.random.default_rng(seed)
    c = 4
    hist = np.full((26, c), 1e5)
    sure = rng.normal(1.0e6, 0.03e6, (n_draws, 2))
    unsure = 1.15e6 * rng.lognormal(-0.5 * 0.8**2, 0.8, (n_draws, 2))
    beta = np.concatenate([sure, unsure], axis=1)[:, :, None] * np.array([0.6, 0.4])
    return AdstockSaturationResponse.from_arrays(
        channels=["sure_a", "sure_b", "unsure_a", "unsure_b"],
        kinds=["online", "offline", "online", "offline"],
        outcomes=["online_revenue", "offline_revenue"],
        history_spend=hist,
        adstock_weights=geometric_weights(np.full(c, 0.5), 6),
        saturation="hill",
        saturation_params={"half_saturation": np.full(c, 1.0), "slope": np.full(c, 1.0)},
        beta=beta,
        spend_scale=np.full(c, 1e5),
        horizon_weeks=H,
    )


@pytest.fixture(scope="module")
def posterior():
    return spread_posterior()


@pytest.fixture(scope="module")
def by_risk(posterior):
    total = posterior.current_allocation.sum()
    return {
        risk: optimize_budget(posterior, FixedBudget(total), risk=risk, risk_level=0.1)
        for risk in ("mean", "quantile", "cvar")
    }


@pytest.mark.parametrize("risk", ["quantile", "cvar"])
def test_risk_aware_allocation_is_more_conservative_than_the_mean(posterior, by_risk, risk):
    mean, cautious = by_risk["mean"], by_risk[risk]
    unsure = ["unsure_a", "unsure_b"]
    x_mean = mean.allocation.loc[unsure, "recommended"].sum()
    x_risk = cautious.allocation.loc[unsure, "recommended"].sum()
    total = posterior.current_allocation.sum()
    # Clearly less money on the channels whose effect is uncertain...
    assert x_risk < x_mean - 0.05 * total, (x_mean, x_risk)
    # ...a better bad case and a lower average: each wins on its own objective.
    assert cautious.horizon_value["recommended"].low > mean.horizon_value["recommended"].low
    assert cautious.horizon_value["recommended"].mean < mean.horizon_value["recommended"].mean
    own = [risk_values(r.draws_recommended[None], risk, 0.1)[0] for r in (mean, cautious)]
    assert own[1] > own[0]
    assert cautious.scenario["risk"] == risk and cautious.solver.mroi_equal


def test_tail_functionals_match_closed_forms_on_normal_draws() -> None:
    z = np.random.default_rng(1).standard_normal(20_000) * 2.0 + 10.0
    q = risk_values(z[None], "quantile", 0.1)[0]
    assert q == pytest.approx(10.0 + 2.0 * norm.ppf(0.1), abs=0.05)
    assert q == pytest.approx(np.quantile(z, 0.1), abs=0.01)
    cvar = risk_values(z[None], "cvar", 0.1)[0]
    assert cvar == pytest.approx(10.0 - 2.0 * norm.pdf(norm.ppf(0.1)) / 0.1, abs=0.05)
    assert cvar == pytest.approx(np.sort(z)[:2000].mean(), rel=1e-12)
    for risk in ("mean", "quantile", "cvar"):
        assert risk_weights(1000, risk, 0.1).sum() == pytest.approx(1.0)


@pytest.mark.parametrize("risk", ["mean", "quantile", "cvar"])
def test_objective_gradient_matches_finite_differences(posterior, risk: str) -> None:
    rng = np.random.default_rng(2)
    x = posterior.current_allocation * rng.uniform(0.5, 1.5, 4)

    def f(a: np.ndarray) -> float:
        v, g = posterior.horizon_value_and_grad(a)
        return risk_functional(v, g, risk, 0.1)[0]

    _, grad = risk_functional(*posterior.horizon_value_and_grad(x), risk, 0.1)
    step = 1e-4 * x
    fd = np.array(
        [
            (f(x + step[i] * np.eye(4)[i]) - f(x - step[i] * np.eye(4)[i])) / (2 * step[i])
            for i in range(4)
        ]
    )
    np.testing.assert_allclose(grad, fd, rtol=2e-4)


def test_mean_objective_ignores_spread_a_single_draw_cannot_tell(posterior) -> None:
    """With one draw every functional is that draw: the allocations coincide."""
    one = posterior.subset(np.array([7]))
    total = one.current_allocation.sum()
    xs = [
        optimize_budget(one, FixedBudget(total), Constraints(max_change=0.9), risk=r)
        .allocation["recommended"]
        .to_numpy()
        for r in ("mean", "quantile", "cvar")
    ]
    np.testing.assert_allclose(xs[0], xs[1], rtol=1e-6)
    np.testing.assert_allclose(xs[0], xs[2], rtol=1e-6)


def test_screening_on_fewer_draws_gives_the_same_answer(posterior) -> None:
    total = posterior.current_allocation.sum()
    screened = optimize_budget(posterior, FixedBudget(total), risk="cvar", screen_draws=50)
    full = optimize_budget(posterior, FixedBudget(total), risk="cvar", screen_draws=0)
    np.testing.assert_allclose(
        screened.allocation["recommended"], full.allocation["recommended"], rtol=2e-3
    )
    assert screened.solver.objective >= full.solver.objective * (1 - 1e-6)


def test_no_small_reallocation_improves_a_tail_optimum(posterior, by_risk) -> None:
    """The direct optimality check used where a tail functional has a kink."""
    from omnimmm.optimize.objective import Evaluator, Objective
    from omnimmm.optimize.scenarios import check_feasible
    from omnimmm.optimize.summary import transfer_improves

    total = posterior.current_allocation.sum()
    scen = FixedBudget(total)
    rc = check_feasible(posterior.channels, posterior.kinds, posterior.current_allocation, scen)
    obj = Objective(Evaluator(posterior, None), scen, "cvar", 0.1, total, 1.0)
    x = by_risk["cvar"].allocation["recommended"].to_numpy()
    for pair in [(0, 2), (2, 0), (1, 3), (3, 1)]:
        assert not transfer_improves(x, pair, rc, obj), pair
    # Away from the optimum (too much on an uncertain channel) moving money back pays.
    y = x.copy()
    y[2] += 0.2 * total
    y[0] -= 0.2 * total
    assert transfer_improves(y, (2, 0), rc, obj)


def test_subset_keeps_exactly_the_chosen_draws(posterior) -> None:
    idx = np.array([3, 10, 50, 399])
    x = posterior.current_allocation * np.array([0.5, 1.5, 1.0, 2.0])
    sub = posterior.subset(idx)
    assert sub.n_draws == 4
    np.testing.assert_array_equal(sub.horizon_value(x), posterior.horizon_value(x)[idx])
    v, g = posterior.horizon_value_and_grad(x)
    sv, sg = sub.horizon_value_and_grad(x)
    np.testing.assert_array_equal(sv, v[idx])
    np.testing.assert_array_equal(sg, g[idx])


def test_value_by_outcome_has_intervals_that_add_up(posterior, by_risk) -> None:
    """Each outcome's expected revenue comes with its 90% interval from the same draws."""
    res = by_risk["mean"]
    table = res.value_by_outcome
    for tag in ("current", "recommended"):
        assert (table[f"{tag}_low"] < table[tag]).all()
        assert (table[tag] < table[f"{tag}_high"]).all()
        assert table[tag].sum() == pytest.approx(res.horizon_value[tag].mean, rel=1e-9)
        by_draw = posterior.horizon_value_by_outcome(res.allocation[tag].to_numpy())
        np.testing.assert_allclose(table[f"{tag}_low"], np.quantile(by_draw, 0.05, axis=0))
    out = res.to_dict()["value_by_outcome"]
    assert set(out[table.index[0]]["recommended"]) == {"mean", "low", "high"}
