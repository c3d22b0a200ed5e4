"""Pareto/NBD: the published CDNOW estimates, an independent likelihood, predictions against
simulation, and recovery from simulated customers with a wrong-model control."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import integrate, stats

from omnimmm.errors import NotFittedError
from omnimmm.lifecycle.pareto_nbd import (
    ParetoNBD,
    ParetoNBDParams,
    _Pairs,
    pareto_nbd_log_likelihood,
)

CDNOW = Path(__file__).parent / "data" / "cdnow"
#: BTYD's pnbd.EstimateParameters on cdnowSummary (Fader, Hardie & Lee 2005 sample):
#: 0.553, 10.580, 0.606, 11.656 with log-likelihood -9594.976 (the surface is flat in beta:
#: a tighter optimiser lands on 11.668 for a gain of 0.00002)
PUBLISHED = {"r": 0.553, "alpha": 10.580, "s": 0.606, "beta": 11.66}


def test_cdnow_refit_gives_the_published_estimates():
    d = pd.read_csv(CDNOW / "cdnow_customers_summary.csv")
    x, t_x, T = d["frequency"], d["recency"], d["T"]
    m = ParetoNBD().fit(x, t_x, T)
    tol = {"r": 0.002, "alpha": 0.02, "s": 0.003, "beta": 0.03}
    for name, value in PUBLISHED.items():
        assert getattr(m.params_, name) == pytest.approx(value, abs=tol[name]), name
    assert m.log_likelihood_ == pytest.approx(-9594.976, abs=0.01)
    at_published = pareto_nbd_log_likelihood((0.5534, 10.5802, 0.6061, 11.6562), x, t_x, T)
    assert at_published.sum() == pytest.approx(-9594.976, abs=0.01)


@pytest.mark.parametrize("params", [(0.55, 1.2, 0.6, 1.5), (0.55, 2.0, 0.6, 1.0)])
def test_fit_evaluates_2f1_once_per_pair_to_the_same_numbers(params):
    """The fit evaluates A0's 2F1 terms once per distinct (x, t_x) and (x, T) pair: bit for
    bit the per-row likelihood, on whole-day rows where pairs repeat (both 2F1 branches)."""
    rng = np.random.default_rng(0)
    x = rng.poisson(2, 20_000).astype(float)
    T = rng.integers(1, 730, 20_000) / 7 / 50
    t_x = np.where(x > 0, np.floor(rng.uniform(0, 1, 20_000) * T * 350) / 350, 0.0)
    pairs = _Pairs.of(x, t_x, T)
    assert len(pairs.tx) < 0.5 * len(x) and len(pairs.T) < 0.5 * len(x)
    every = pareto_nbd_log_likelihood(params, x, t_x, T)
    assert np.isfinite(every).all()
    assert np.array_equal(pareto_nbd_log_likelihood(params, x, t_x, T, pairs=pairs), every)


@pytest.mark.parametrize(
    ("x", "t_x", "T", "params"),
    [(0, 0.0, 10.0, (2.0, 3.0, 1.5, 4.0)), (2, 4.0, 10.0, (2.0, 3.0, 1.5, 4.0)),
     (3, 7.5, 12.0, (0.8, 2.0, 1.2, 9.0))],  # alpha < beta takes the other branch
)  # fmt: skip
def test_log_likelihood_matches_integration_over_lambda_and_mu(x, t_x, T, params):
    """The closed form against the model's definition integrated numerically:
    lam^x mu/(lam+mu) e^(-(lam+mu) t_x) + lam^(x+1)/(lam+mu) e^(-(lam+mu) T)."""
    r, alpha, s, beta = params

    def integrand(mu: float, lam: float) -> float:
        tot = lam + mu
        like = lam**x * mu / tot * np.exp(-tot * t_x) + lam ** (x + 1) / tot * np.exp(-tot * T)
        return float(like * stats.gamma.pdf(lam, r, scale=1 / alpha)
                     * stats.gamma.pdf(mu, s, scale=1 / beta))  # fmt: skip

    value, _ = integrate.dblquad(integrand, 0, np.inf, 0, np.inf, epsabs=1e-12, epsrel=1e-7)
    ll = pareto_nbd_log_likelihood(params, np.array([x]), np.array([t_x]), np.array([T]))
    assert ll[0] == pytest.approx(np.log(value), abs=1e-5)


def _simulate(r, alpha, s, beta, n, seed, T_max=52.0, ahead=39.0):
    rng = np.random.default_rng(seed)
    lam = rng.gamma(r, 1 / alpha, n)
    death = rng.exponential(1 / rng.gamma(s, 1 / beta, n))
    T = rng.uniform(T_max / 3, T_max, n)
    x, t_x, future = np.zeros(n), np.zeros(n), np.zeros(n)
    now = np.zeros(n)
    active = np.ones(n, bool)
    while active.any():
        now = now + rng.exponential(1 / np.maximum(lam, 1e-12))
        active &= now < np.minimum(death, T + ahead)
        past = active & (now < T)
        x[past] += 1
        t_x[past] = now[past]
        future[active & (now >= T)] += 1
    return x, t_x, T, future, death > T


def test_predictions_match_the_posterior_by_simulation():
    m = ParetoNBD()
    m.params_ = ParetoNBDParams(r=0.8, alpha=5.0, s=0.9, beta=8.0)
    x, t_x, T = np.array([0.0, 3.0]), np.array([0.0, 20.0]), np.array([30.0, 30.0])
    rng = np.random.default_rng(0)
    n = 400_000
    for i in range(2):
        # given alive at T: lam ~ Gamma(r+x, alpha+T), mu ~ Gamma(s, beta+T), independent
        lam = rng.gamma(0.8 + x[i], 1 / (5.0 + T[i]), n)
        mu = rng.gamma(0.9, 1 / (8.0 + T[i]), n)
        life = rng.exponential(1 / mu)
        bought = rng.poisson(lam * np.minimum(life, 26.0))
        pa = m.p_alive(x[i : i + 1], t_x[i : i + 1], T[i : i + 1])[0]
        want_any, want_n = pa * (bought > 0).mean(), pa * bought.mean()
        got_any = m.p_any(26.0, x[i : i + 1], t_x[i : i + 1], T[i : i + 1])[0]
        got_n = m.expected_purchases(26.0, x[i : i + 1], t_x[i : i + 1], T[i : i + 1])[0]
        assert got_any == pytest.approx(want_any, abs=0.004)
        assert got_n == pytest.approx(want_n, rel=0.02)


def test_recovers_simulated_parameters_and_predicts_the_holdout():
    true = (0.6, 5.0, 0.8, 10.0)
    x, t_x, T, future, alive = _simulate(*true, n=5000, seed=4)
    m = ParetoNBD().fit(x, t_x, T)
    got = (m.params_.r, m.params_.alpha, m.params_.s, m.params_.beta)
    for est, want in zip(got, true, strict=True):
        assert est == pytest.approx(want, rel=0.35)
    pred = m.expected_purchases(39.0, x, t_x, T)
    assert pred.mean() == pytest.approx(future.mean(), rel=0.08)
    assert abs(m.p_alive(x, t_x, T).mean() - alive.mean()) < 0.04
    # negative control: almost no dropout (s/beta tiny) overpredicts the holdout badly
    wrong = ParetoNBD()
    wrong.params_ = ParetoNBDParams(m.params_.r, m.params_.alpha, 0.01, 1000.0)
    assert wrong.expected_purchases(39.0, x, t_x, T).mean() > 1.25 * future.mean()


def test_unfitted_model_says_so():
    with pytest.raises(NotFittedError, match="fit"):
        ParetoNBD().p_alive(np.array([1.0]), np.array([1.0]), np.array([2.0]))


def test_a_large_log_of_frequent_buyers_is_fitted_not_left_at_a_start_point():
    # daily-scale log, 20,000 customers, some with hundreds of purchases: the summed
    # likelihood's first L-BFGS-B step used to jump to the bounds' corner and stop there
    true = (0.8, 8.0, 0.5, 200.0)
    rng = np.random.default_rng(0)
    n = 20_000
    T = rng.uniform(100.0, 700.0, n)
    lam = rng.gamma(true[0], 1 / true[1], n)
    life = np.minimum(rng.exponential(1 / rng.gamma(true[2], 1 / true[3], n)), T)
    x = rng.poisson(lam * life).astype(float)
    # the last of x uniform purchase times over the customer's life
    t_x = np.where(x > 0, life * rng.beta(np.maximum(x, 1.0), 1.0), 0.0)
    assert x.max() > 200
    m = ParetoNBD().fit(x, t_x, T)
    got = (m.params_.r, m.params_.alpha, m.params_.s, m.params_.beta)
    assert got[0] != pytest.approx(np.exp(-0.5)) and got[2] != pytest.approx(np.exp(-0.5))
    for est, want in zip(got, true, strict=True):
        assert est == pytest.approx(want, rel=0.3)


def test_predictions_stay_finite_when_the_purchase_rate_is_nearly_homogeneous():
    # a Poisson-like log drives r and alpha to thousands: Gauss-Laguerre weights overflow there
    m = ParetoNBD()
    m.params_ = ParetoNBDParams(1600.0, 7300.0, 0.002, 4000.0)
    x, t_x, T = np.array([0.0, 5.0, 40.0]), np.array([0.0, 90.0, 380.0]), np.full(3, 400.0)
    p_any = m.p_any(90.0, x, t_x, T)
    assert np.isfinite(p_any).all() and ((p_any > 0) & (p_any < 1)).all()
    # against plain Monte Carlo over the posterior gamma of lambda (mu ~ 0 here)
    rng = np.random.default_rng(0)
    lam = rng.gamma(1600.0 + 40.0, 1 / (7300.0 + 400.0), 200_000)
    want = m.p_alive(x[2:], t_x[2:], T[2:])[0] * (1 - np.exp(-lam * 90.0)).mean()
    assert p_any[2] == pytest.approx(want, abs=2e-3)
