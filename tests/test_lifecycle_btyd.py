"""BG/NBD and Gamma-Gamma: published CDNOW estimates, an independent likelihood, recovery from
simulated customers, and the point-in-time rhythm features built on them."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import integrate, stats

from omnimmm.lifecycle.btyd import (
    BGNBD,
    GammaGamma,
    bgnbd_log_likelihood,
    bgnbd_log_likelihood_grad,
)
from omnimmm.lifecycle.features import load_transactions
from omnimmm.lifecycle.rhythm import RHYTHM_COLUMNS, rhythm_features

CDNOW = Path(__file__).parent / "data" / "cdnow"
PUBLISHED = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}


def test_cdnow_refit_gives_the_published_estimates():
    d = pd.read_csv(CDNOW / "cdnow_customers_summary.csv")
    m = BGNBD().fit(d["frequency"], d["recency"], d["T"])
    for name, value in PUBLISHED.items():
        assert getattr(m.params_, name) == pytest.approx(value, abs=0.0006), name
    assert m.log_likelihood_ == pytest.approx(-9582.4, abs=0.05)
    # the paper's worked example: x=2, t_x=30.43, T=38.86 expects 1.226 purchases in 39 weeks
    e = m.expected_purchases(39.0, np.array([2]), np.array([30.43]), np.array([38.86]))
    assert e[0] == pytest.approx(1.226, abs=0.001)
    g = pd.read_csv(CDNOW / "cdnow_customers_summary_with_transactions.csv")
    gg = GammaGamma().fit(g["x"], g["zbar"])
    assert (gg.params_.p, gg.params_.q, gg.params_.gamma) == pytest.approx(
        (6.25, 3.74, 15.44), abs=0.015
    )


@pytest.mark.parametrize(
    "params", [(0.243, 4.414, 0.793, 2.426), (1.5, 0.3, 3.0, 0.2), (0.05, 20.0, 0.1, 8.0)]
)
def test_analytic_gradient_matches_central_differences(params):
    """The fit's hand-written gradient against central differences of the likelihood, per
    customer, at the CDNOW estimates and far from them (both terms of the sum dominant)."""
    d = pd.read_csv(CDNOW / "cdnow_customers_summary.csv")
    x, t_x, T = (d[c].to_numpy(float) for c in ("frequency", "recency", "T"))
    ll, grad = bgnbd_log_likelihood_grad(params, x, t_x, T)
    assert np.array_equal(ll, bgnbd_log_likelihood(params, x, t_x, T))
    for k in range(4):
        step = np.zeros(4)
        step[k] = 1e-6 * params[k]
        up = bgnbd_log_likelihood(tuple(np.add(params, step)), x, t_x, T)
        down = bgnbd_log_likelihood(tuple(np.subtract(params, step)), x, t_x, T)
        numeric = (up - down) / (2 * step[k])
        assert np.allclose(grad[k], numeric, rtol=1e-5, atol=1e-6), k


@pytest.mark.parametrize(("x", "t_x", "T"), [(0, 0.0, 10.0), (1, 4.0, 10.0), (3, 7.5, 12.0)])
def test_log_likelihood_matches_integration_over_lambda_and_p(x, t_x, T):
    """Equation 6 against the model's definition integrated numerically: the likelihood is
    E[(1-p)^x lam^x e^(-lam T) + [x>0] p (1-p)^(x-1) lam^x e^(-lam t_x)] over
    lam ~ Gamma(r, alpha), p ~ Beta(a, b)."""
    r, alpha, a, b = 2.0, 3.0, 2.0, 3.0
    lam = np.linspace(0.0, 30.0, 3001)[:, None]
    p = np.linspace(0.0, 1.0, 1001)[None, :]
    alive = (1 - p) ** x * lam**x * np.exp(-lam * T)
    dead = p * (1 - p) ** max(x - 1, 0) * lam**x * np.exp(-lam * t_x) if x > 0 else 0.0
    density = stats.gamma.pdf(lam, r, scale=1 / alpha) * stats.beta.pdf(p, a, b)
    value = integrate.simpson(integrate.simpson((alive + dead) * density, x=p[0]), x=lam[:, 0])
    ll = bgnbd_log_likelihood((r, alpha, a, b), np.array([x]), np.array([t_x]), np.array([T]))
    assert ll[0] == pytest.approx(np.log(value), abs=1e-5)


def _simulate(r, alpha, a, b, n, seed, T_max=52.0):
    rng = np.random.default_rng(seed)
    lam = rng.gamma(r, 1 / alpha, n)
    p = rng.beta(a, b, n)
    T = rng.uniform(T_max / 3, T_max, n)
    x, t_x = np.zeros(n), np.zeros(n)
    now, alive = np.zeros(n), np.ones(n, bool)
    alive_at_T = np.ones(n, bool)
    while alive.any():
        now = now + rng.exponential(1 / np.maximum(lam, 1e-12))
        buy = alive & (now < T)
        x[buy] += 1
        t_x[buy] = now[buy]
        drop = buy & (rng.random(n) < p)
        alive_at_T[drop] = False
        alive = buy & ~drop
    return x, t_x, T, alive_at_T


@pytest.mark.parametrize("seed", [1, 2])
def test_recovers_simulated_parameters_and_p_alive(seed):
    true = (0.5, 4.0, 0.7, 3.0)
    x, t_x, T, alive = _simulate(*true, n=6000, seed=seed)
    m = BGNBD().fit(x, t_x, T)
    got = (m.params_.r, m.params_.alpha, m.params_.a, m.params_.b)
    for est, want in zip(got, true, strict=True):
        assert est == pytest.approx(want, rel=0.3)
    # P(alive) is calibrated against who really was alive; the wrong model is not
    pa = m.p_alive(x, t_x, T)
    repeat = x > 0
    assert abs(pa[repeat].mean() - alive[repeat].mean()) < 0.03
    wrong = BGNBD()
    wrong.params_ = type(m.params_)(r=0.5, alpha=4.0, a=3.0, b=0.7)  # dropout swapped
    assert abs(wrong.p_alive(x, t_x, T)[repeat].mean() - alive[repeat].mean()) > 0.1


@pytest.fixture(scope="module")
def tx() -> pd.DataFrame:
    rng = np.random.default_rng(3)
    n = 4000
    start = pd.Timestamp("2024-01-01")
    ts = start + pd.to_timedelta(rng.uniform(0, 400, n), unit="D")
    return pd.DataFrame(
        {
            "customer_id": [f"c{k}" for k in rng.integers(0, 300, n)],
            "ts": ts.strftime("%Y-%m-%d %H:%M:%S"),
            "amount": rng.gamma(2.0, 15.0, n).round(2),
        }
    )


def test_rhythm_features_do_not_see_rows_after_the_cutoff(tx):
    as_of = "2024-09-30"
    stop = pd.Timestamp(as_of) + pd.Timedelta(days=1)
    before = rhythm_features(load_transactions(tx), as_of, 90)
    later = pd.to_datetime(tx["ts"]) >= stop
    tx2 = tx.copy()
    tx2.loc[later, "amount"] *= 7
    tx2.loc[later, "customer_id"] = tx2.loc[later, "customer_id"].to_numpy()[::-1]
    extra = pd.DataFrame({"customer_id": ["new1", "c1"], "ts": ["2024-10-01", "2025-01-05"],
                          "amount": [5.0, 9.0]})  # fmt: skip
    after = rhythm_features(load_transactions(pd.concat([tx2, extra])), as_of, 90)
    pd.testing.assert_frame_equal(before, after)
    assert list(before.columns) == ["customer_id", *RHYTHM_COLUMNS]
    assert before["bgnbd_p_any"].between(0, 1).all() and before["bgnbd_p_alive"].notna().all()
    assert before["pnbd_p_any"].between(0, 1).all() and before["pnbd_p_alive"].between(0, 1).all()
    # the decayed count agrees with a direct computation for one customer
    c = before["customer_id"].iloc[0]
    rows = pd.to_datetime(tx.loc[tx["customer_id"] == c, "ts"])
    age = (stop - rows[rows < stop]) / pd.Timedelta(days=1)
    assert before["decay_orders_45d"].iloc[0] == pytest.approx(np.exp(-age / 45).sum())


def test_btyd_base_reads_probabilities_as_logits_and_days_as_log1p():
    """Simulated truth: the label's log-odds are logit(bgnbd_p_alive) + 0.5 log1p(n_days) - 1;
    the base recovers both slopes on its transformed inputs, and a column it does not use
    (negative control: an independent probability) gets a slope near 0."""
    from omnimmm.lifecycle.btyd_base import BASE_COLUMNS, BTYDBase

    rng = np.random.default_rng(3)
    n = 40_000
    names = ["bgnbd_p_any", "bgnbd_p_alive", "n_days", "revenue"]
    p_alive = rng.uniform(0.02, 0.98, n)
    n_days = rng.poisson(3.0, n) + 1.0
    X = np.column_stack([rng.uniform(0.02, 0.98, n), p_alive, n_days, rng.gamma(2.0, 50.0, n)])
    eta = np.log(p_alive / (1 - p_alive)) + 0.5 * np.log1p(n_days) - 1.0
    y = (rng.random(n) < 1 / (1 + np.exp(-eta))).astype(int)
    base = BTYDBase(names, C=100.0).fit(X, y)
    assert {"n_days", "bgnbd_p_alive"} <= set(BASE_COLUMNS)
    assert [names[i] for i in base.columns_] == names[:3]  # revenue is not a base input
    assert base.is_prob_.tolist() == [True, True, False]
    coef = dict(zip(names[:3], base.model_.coef_[0], strict=True))
    assert coef["bgnbd_p_alive"] == pytest.approx(1.0, abs=0.06)
    assert coef["n_days"] == pytest.approx(0.5, abs=0.08)
    assert abs(coef["bgnbd_p_any"]) < 0.05
