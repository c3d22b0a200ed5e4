"""Propensity models against an RFM baseline on the simulator, calibration, uplift against the
simulator's true effects, and the scikit-learn estimator contract."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.exceptions import NotFittedError as SklearnNotFittedError
from sklearn.metrics import roc_auc_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer
from sklearn.utils.estimator_checks import check_estimator

from omnimmm.data.simulate_customers import SEGMENTS, simulate_customers
from omnimmm.errors import OmniError
from omnimmm.lifecycle import resolve_identities
from omnimmm.lifecycle.features import load_transactions
from omnimmm.lifecycle.identity import assign_customer_ids
from omnimmm.lifecycle.labels import plan_cutoffs
from omnimmm.lifecycle.propensity import (
    RFM_COLUMNS,
    PropensityModel,
    evaluate,
    model_settings,
    rfm_baseline,
    rolling_training_set,
)
from omnimmm.lifecycle.value import SpendModel, campaign_outcomes, estimate_uplift

HORIZON = 60
AS_OF = "2025-06-28"
COLUMNS = ["customer_id", "ts", "amount", "order_id", "channel", "store_id", "coupon_used"]


@pytest.fixture(scope="module")
def world():
    return simulate_customers(n_customers=4000, seed=1, start="2023-01-02", end="2025-06-29")


@pytest.fixture(scope="module")
def identity(world):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        return resolve_identities(world.transactions)


@pytest.fixture(scope="module")
def tx(world, identity) -> pd.DataFrame:
    return world.transactions.assign(customer_id=identity.customer_id)


@pytest.fixture(scope="module")
def fitted(tx):
    """Both targets: LightGBM and the RFM logistic baseline on the same rolling cutoffs,
    scored on the later validation cutoff."""
    table = load_transactions(tx[COLUMNS])
    plan = plan_cutoffs(AS_OF, HORIZON, n_cutoffs=4, step_days=30)
    cache: dict = {}
    out = {}
    for target in ("repurchase", "churn"):
        train = rolling_training_set(table, plan.train, HORIZON, target=target, cache=cache)
        val = rolling_training_set(table, [plan.validation], HORIZON, target=target, cache=cache)
        model = PropensityModel(n_jobs=1).fit(train.X, train.y, cutoff=train.cutoff)
        rfm = list(RFM_COLUMNS)
        base = rfm_baseline().fit(train.X[rfm], train.y)
        out[target] = {
            "plan": plan,
            "train": train,
            "val": val,
            "model": model,
            "p": model.predict_proba(val.X)[:, 1],
            "p_base": base.predict_proba(val.X[rfm])[:, 1],
        }
    return out


def test_validation_is_later_than_every_training_label(fitted):
    r = fitted["repurchase"]
    plan, train = r["plan"], r["train"]
    last_label_day = pd.Timestamp(train.cutoff.max()) + pd.Timedelta(days=HORIZON)
    assert last_label_day <= plan.validation
    assert set(np.unique(r["val"].cutoff)) == {plan.validation}


@pytest.mark.parametrize("target", ["repurchase", "churn"])
def test_lightgbm_beats_the_rfm_logistic_baseline(fitted, target):
    r = fitted[target]
    y, p, pb = r["val"].y, r["p"], r["p_base"]
    m, mb = evaluate(y, p), evaluate(y, pb)
    rng = np.random.default_rng(0)
    diffs = []
    for _ in range(200):
        i = rng.integers(0, len(y), len(y))
        diffs.append(roc_auc_score(y[i], p[i]) - roc_auc_score(y[i], pb[i]))
    low, high = np.percentile(diffs, [2.5, 97.5])
    print(
        f"\n{target}: n={m['n']} base rate {m['base_rate']:.3f} | AUC {m['roc_auc']:.4f} vs RFM "
        f"{mb['roc_auc']:.4f} (diff 95% CI {low:.4f}..{high:.4f}) | PR AUC {m['pr_auc']:.4f} vs "
        f"{mb['pr_auc']:.4f} | Brier {m['brier']:.4f} vs {mb['brier']:.4f} | ECE {m['ece']:.4f} "
        f"vs {mb['ece']:.4f} | top-decile lift {m['lift_by_decile'][0]['lift']:.2f}"
    )
    assert m["roc_auc"] - mb["roc_auc"] >= 0.01
    assert low > 0.0
    assert m["brier"] < mb["brier"]


@pytest.mark.parametrize("target", ["repurchase", "churn"])
def test_calibration_error_is_reported_and_small(fitted, target):
    r = fitted[target]
    m = evaluate(r["val"].y, r["p"])
    assert m["ece"] < 0.04
    assert abs(m["mean_prediction"] - m["base_rate"]) < 0.03
    deciles = m["lift_by_decile"]
    assert len(deciles) == 10 and deciles[0]["lift"] > 1.5 > deciles[-1]["lift"]
    # an uncalibrated, squashed score has a larger error: the metric can fail
    assert evaluate(r["val"].y, 0.5 + 0.2 * (r["p"] - 0.5))["ece"] > m["ece"] + 0.02


def test_drivers_are_lightgbm_shap_values_adding_up_to_the_margin(fitted):
    r = fitted["churn"]
    X = r["val"].X.head(200)
    d = r["model"].drivers(X, top_k=3)
    assert list(d.importance.columns) == ["feature", "mean_abs_shap", "mean_shap"]
    assert set(d.importance["feature"]) == set(X.columns)
    # the strongest driver is a recency / frequency signal, raw or through BG/NBD, Pareto/NBD and decay
    top = d.importance["feature"].iloc[0]
    assert top in {"recency_days", "n_orders_90d", "n_orders_180d", "overdue_ratio",
                   "overdue_days", "n_orders_365d", "n_orders_30d", "revenue_90d",
                   "revenue_180d", "trend_orders", "gap_mean"} or top.startswith(
        ("bgnbd_", "pnbd_", "decay_", "recency_gap", "days_to_next", "last_gap")
    )  # fmt: skip
    # trees' SHAP and the linear part, weighted as in the margin, add up to the margin
    full = r["model"].drivers(X, top_k=X.shape[1])
    total = full.top.groupby("row")["contribution"].sum().to_numpy() + full.base_value
    margin = r["model"]._margin(X.to_numpy(dtype=float))
    np.testing.assert_allclose(total, margin, rtol=1e-6, atol=1e-6)
    assert (d.top.groupby("row").size() == 3).all()


def test_campaign_rows_get_the_customer_id_of_their_account_card_or_phone(world, tx, identity):
    """assign_customer_ids: account and membership ids give the resolver's customer; a row
    whose ids never bought is found by its phone; and the ids agree with the true person."""
    c = world.campaigns
    cid = assign_customer_ids(c, identity)
    acc = tx.dropna(subset=["account_id"]).drop_duplicates("account_id")
    mem = tx.dropna(subset=["member_id"]).drop_duplicates("member_id")
    by_records = (
        c["account_id"]
        .map(acc.set_index("account_id")["customer_id"])
        .fillna(c["member_id"].map(mem.set_index("member_id")["customer_id"]))
    )
    known = by_records.notna()
    assert known.mean() > 0.9
    assert (cid[known] == by_records[known]).all()
    assert cid[~known].notna().sum() > 0  # matched through the phone only
    person = pd.Series(world.truth.transactions_person.to_numpy(), index=tx.index)
    majority = person.groupby(identity.customer_id).agg(lambda s: s.mode().iloc[0])
    true = (
        c["account_id"].map(world.truth.person_of).fillna(c["member_id"].map(world.truth.person_of))
    )
    agree = (cid.map(majority) == true)[cid.notna()].mean()
    print(f"\ncampaign rows with a customer id: {cid.notna().mean():.4f}; same person: {agree:.4f}")
    assert agree > 0.99
    # a key the resolver never saw matches nobody
    stranger = pd.DataFrame({"member_id": ["M-none"], "phone": ["+86 100-0000-0001"]})
    assert assign_customer_ids(stranger, identity).isna().all()


@pytest.fixture(scope="module")
def uplift_resolved(world, tx, identity):
    """Per-segment uplift measured through the resolved customer ids (the real pipeline)."""
    c = world.campaigns
    camp = c.assign(customer_id=assign_customer_ids(c, identity)).dropna(subset=["customer_id"])
    window = 7 * world.truth.params.window_weeks
    outcomes = campaign_outcomes(camp, tx[COLUMNS], window_days=window)
    return outcomes, estimate_uplift(outcomes, level=0.9).to_frame().set_index("segment")


@pytest.fixture(scope="module")
def uplift_true_ids(world):
    """The same estimate with the simulator's true person behind every row and campaign."""
    tx = world.transactions.assign(customer_id=world.truth.transactions_person.to_numpy())
    person = world.truth.person_of
    c = world.campaigns
    camp = c.assign(customer_id=c["account_id"].map(person).fillna(c["member_id"].map(person)))
    window = 7 * world.truth.params.window_weeks
    outcomes = campaign_outcomes(camp, tx[COLUMNS], window_days=window)
    return estimate_uplift(outcomes, level=0.9).to_frame().set_index("segment")


def _show(label, table, truth, seg):
    row, true = table.loc[seg], truth.loc[seg]
    print(
        f"\n{label} {seg}: uplift {row['uplift']:.4f} [{row['uplift_low']:.4f}, "
        f"{row['uplift_high']:.4f}] truth {true['uplift_purchase']:.4f}; revenue/contact "
        f"{row['revenue_uplift']:.1f} [{row['revenue_uplift_low']:.1f}, "
        f"{row['revenue_uplift_high']:.1f}] truth {true['uplift_revenue']:.1f}"
    )
    return row, true


def test_purchase_uplift_per_segment_recovers_the_true_effect(world, uplift_resolved):
    _, table = uplift_resolved
    truth = world.truth.uplift_by_segment
    assert set(table.index) == set(SEGMENTS)
    for seg in SEGMENTS:
        row, true = _show("resolved ids", table, truth, seg)
        assert row["uplift_low"] <= true["uplift_purchase"] <= row["uplift_high"]
    # the effect is real where the simulator put one
    assert table.loc["at_risk", "uplift_low"] > 0.05


def test_revenue_uplift_per_segment_recovers_the_true_effect(world, uplift_true_ids):
    """Revenue per contact is checked with the true identities: through resolved ids the
    orders a person places under an unlinkable second identity are missed in both arms, which
    shrinks the revenue uplift (printed by the test above)."""
    truth = world.truth.uplift_by_segment
    for seg in SEGMENTS:
        row, true = _show("true ids", uplift_true_ids, truth, seg)
        assert row["revenue_uplift_low"] <= true["uplift_revenue"] <= row["revenue_uplift_high"]
        assert row["uplift_low"] <= true["uplift_purchase"] <= row["uplift_high"]


def test_uplift_without_the_random_assignment_misses_the_truth(world, uplift_resolved):
    """Negative control: shuffled treatment flags destroy the effect, and the interval then
    excludes the true at-risk uplift."""
    outcomes, _ = uplift_resolved
    rng = np.random.default_rng(0)
    shuffled = outcomes.assign(treated=rng.permutation(outcomes["treated"].to_numpy()))
    row = estimate_uplift(shuffled).get("at_risk")
    assert row.uplift_high < world.truth.uplift_by_segment.loc["at_risk", "uplift_purchase"]


def test_uplift_errors_name_the_missing_columns():
    with pytest.raises(OmniError, match="no column"):
        estimate_uplift(pd.DataFrame({"segment": ["a"], "treated": [True]}))


# --- scikit-learn estimator contract --------------------------------------------------------


@pytest.mark.parametrize(
    "estimator",
    [
        PropensityModel(n_estimators=20, min_child_samples=2, n_jobs=1),
        SpendModel(n_estimators=20, min_child_samples=2, n_jobs=1),
    ],
    ids=["PropensityModel", "SpendModel"],
)
def test_passes_scikit_learn_check_estimator(estimator):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        results = check_estimator(estimator, on_fail=None)
    failed = [
        (r["check_name"], str(r["exception"])[:200]) for r in results if r["status"] == "failed"
    ]
    assert failed == []
    assert sum(r["status"] == "passed" for r in results) > 40


def test_estimator_shape_fit_returns_self_and_fitted_attributes_end_in_underscore():
    rng = np.random.default_rng(0)
    X = pd.DataFrame(rng.normal(size=(600, 3)), columns=["a", "b", "c"])
    y = (X["a"] + rng.normal(size=600) > 0).astype(int).to_numpy()
    model = PropensityModel(n_estimators=50, n_jobs=1)
    before = set(vars(model))
    assert model.fit(X, y) is model
    new = set(vars(model)) - before
    assert new and all(name.endswith("_") for name in new)
    assert list(model.feature_names_in_) == ["a", "b", "c"]
    proba = model.predict_proba(X)
    assert proba.shape == (600, 2) and np.allclose(proba.sum(axis=1), 1.0)
    params = model.get_params()
    assert clone(model).get_params() == params and not hasattr(clone(model), "model_")
    pipe = make_pipeline(FunctionTransformer(), PropensityModel(n_estimators=30, n_jobs=1))
    assert pipe.fit(X, y).predict(X).shape == (600,)


@pytest.mark.parametrize("estimator", [PropensityModel(), SpendModel()], ids=["prop", "spend"])
def test_unfitted_models_raise_a_clear_error(estimator):
    X = np.zeros((3, 2))
    method = estimator.predict_proba if hasattr(estimator, "predict_proba") else estimator.predict
    with pytest.raises(SklearnNotFittedError, match="not fitted yet; call fit"):
        method(X)
    with pytest.raises(OmniError):
        estimator.predict(X)


def test_propensity_model_rejects_multiclass_and_a_single_cutoff():
    X = np.random.default_rng(0).normal(size=(60, 2))
    with pytest.raises(ValueError, match="Only binary classification"):
        PropensityModel(n_jobs=1).fit(X, np.arange(60) % 3)
    with pytest.raises(OmniError, match="at least two cutoffs"):
        PropensityModel(n_jobs=1).fit(X, np.arange(60) % 2, cutoff=["2024-01-01"] * 60)


def test_model_settings_presets_overrides_and_errors():
    assert model_settings() == {}
    fast = model_settings("fast", learning_rate=None, min_child_samples=400)
    assert fast["learning_rate"] == 0.2 and fast["min_child_samples"] == 400
    assert PropensityModel(**fast).get_params()["early_stopping_rounds"] == 20
    with pytest.raises(OmniError, match="unknown model preset 'quick'"):
        model_settings("quick")
    with pytest.raises(OmniError, match=r"unknown model setting\(s\) \['forest'\]"):
        model_settings(forest=10)
    with pytest.raises(OmniError, match="n_estimators must be a whole number >= 1"):
        model_settings(n_estimators=0)
    with pytest.raises(OmniError, match="early_stopping_min_delta must be >= 0"):
        model_settings(early_stopping_min_delta=-1e-3)


def test_early_stopping_min_delta_stops_once_gains_are_negligible():
    """Many rows and a small step: each round still gains a little, so plain patience runs
    long; a minimum gain per round stops it early at the same ranking quality."""
    rng = np.random.default_rng(0)
    n = 40_000
    X = rng.normal(size=(n, 4))
    y = (rng.random(n) < 1 / (1 + np.exp(-(X[:, 0] + 0.5 * X[:, 1] ** 2 - 0.5)))).astype(int)
    cutoff = np.repeat(["2024-01-01", "2024-02-01", "2024-03-01"], [15_000, 15_000, 10_000])
    kw = {"learning_rate": 0.05, "n_estimators": 400, "n_jobs": 1, "early_stopping_rounds": 30}
    plain = PropensityModel(**kw, early_stopping_min_delta=0.0).fit(X, y, cutoff=cutoff)
    tol = PropensityModel(**kw, early_stopping_min_delta=2e-4).fit(X, y, cutoff=cutoff)
    print(f"\nmin_delta 0: {plain.n_iter_} trees, 2e-4: {tol.n_iter_} trees")
    assert tol.n_iter_ < plain.n_iter_
    Xv = rng.normal(size=(20_000, 4))
    yv = rng.random(20_000) < 1 / (1 + np.exp(-(Xv[:, 0] + 0.5 * Xv[:, 1] ** 2 - 0.5)))
    auc_plain = roc_auc_score(yv, plain.predict_proba(Xv)[:, 1])
    auc_tol = roc_auc_score(yv, tol.predict_proba(Xv)[:, 1])
    assert auc_tol > auc_plain - 0.005


def test_spend_model_follows_the_propensity_settings():
    settings = PropensityModel(**model_settings("fast")).get_params()
    spend = SpendModel.matching(settings, n_jobs=1)
    assert (spend.learning_rate, spend.subsample, spend.max_bin) == (0.2, 0.5, 63)
    assert spend.n_estimators == 75  # the default 300 x 0.05 total shrinkage
    assert SpendModel.matching(PropensityModel().get_params()).n_estimators == 300


@pytest.mark.parametrize("trees", [True, False], ids=["base+trees", "base"])
def test_btyd_base_starts_the_trees_and_its_drivers_add_up(fitted, trees):
    """With ``btyd_base`` the margin is the BTYD logistic base plus the trees' correction
    (LightGBM's init_score); without trees it is the base alone. Either way the drivers add
    up to the margin and the model ranks at least as well as Pareto/NBD's own probability
    (the base is fitted on it) on the later validation cutoff."""
    r = fitted["repurchase"]
    train, val = r["train"], r["val"]
    m = PropensityModel(btyd_base=True, trees=trees, linear_weight=0.0, n_jobs=1)
    m.fit(train.X, train.y, cutoff=train.cutoff)
    assert m.base_ is not None and (m.model_ is not None) == trees
    X = val.X.to_numpy(dtype=float)
    base = m.base_.decision_function(X)
    margin = m._margin(X)
    if trees:
        assert m.n_iter_ >= 1
        trees_part = m.model_.predict(val.X, raw_score=True, num_iteration=m.n_iter_)
        np.testing.assert_allclose(margin, base + trees_part, rtol=1e-10)
    else:
        np.testing.assert_allclose(margin, base, rtol=1e-10)
    d = m.drivers(val.X.head(200))
    per_row = d.top.groupby("row")["contribution"].size()
    assert (per_row == 3).all()
    full = m.drivers(val.X.head(50), top_k=val.X.shape[1])
    total = full.top.groupby("row")["contribution"].sum().to_numpy() + full.base_value
    np.testing.assert_allclose(total, margin[:50], atol=1e-6)
    auc = roc_auc_score(val.y, m.predict_proba(val.X)[:, 1])
    assert auc >= roc_auc_score(val.y, val.X["pnbd_p_any"]) - 0.005


def test_btyd_base_is_skipped_without_btyd_columns(fitted):
    r = fitted["repurchase"]
    keep = [c for c in r["train"].X.columns if not c.startswith(("bgnbd_", "pnbd_"))]
    m = PropensityModel(btyd_base=True, trees=False, n_jobs=1)
    m.fit(r["train"].X[keep], r["train"].y, cutoff=r["train"].cutoff)
    assert m.base_ is None and m.model_ is not None  # the trees start from zero as before
