"""``omnimmm lifecycle score`` end to end, its bad-input errors, and the no-pymc boundary."""

from __future__ import annotations

import json
import subprocess
import sys
import warnings

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from omnimmm.cli import app
from omnimmm.data.simulate_customers import simulate_customers
from omnimmm.lifecycle import resolve_identities
from omnimmm.lifecycle.identity import assign_customer_ids

AS_OF = "2025-06-15"
RENAMED = {"customer_id": "cust", "ts": "when", "amount": "value"}
#: The campaign file's own column names, mapped back by flags.
CAMPAIGN_RENAMED = {"customer_id": "household", "sent_at": "contacted_on", "treated": "in_test"}
CAMPAIGN_FLAGS = ("--campaign-customer-id-col", "household", "--campaign-sent-at-col",
                  "contacted_on", "--campaign-treated-col", "in_test")  # fmt: skip


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """The same transactions twice: as simulated, and with every row after AS_OF changed."""
    world = simulate_customers(n_customers=1200, seed=3, start="2024-01-01", end="2025-08-31")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        identity = resolve_identities(world.transactions)
    cid = identity.customer_id
    cols = ["customer_id", "ts", "amount", "order_id", "channel", "store_id", "coupon_used"]
    tx = world.transactions.assign(customer_id=cid)[cols]
    # a guest purchase (no customer key) and a return (negative amount): left out and counted
    odd = tx.iloc[:2].copy()
    odd["customer_id"] = [None, odd["customer_id"].iloc[1]]
    odd["amount"] = [25.0, -25.0]
    tx = pd.concat([tx, odd], ignore_index=True)
    later = tx["ts"] >= pd.Timestamp(AS_OF) + pd.Timedelta(days=1)
    changed = tx.copy()
    changed.loc[later, "amount"] = 1.0
    changed.loc[later, "customer_id"] = changed.loc[later, "customer_id"].to_numpy()[::-1]
    d = tmp_path_factory.mktemp("lifecycle_cli")
    tx.rename(columns=RENAMED).to_csv(d / "tx.csv", index=False)
    changed.rename(columns=RENAMED).to_csv(d / "tx_changed.csv", index=False)
    camp = world.campaigns.assign(customer_id=assign_customer_ids(world.campaigns, identity))
    camp = camp.dropna(subset=["customer_id"])[["customer_id", "sent_at", "treated"]]
    camp.rename(columns=CAMPAIGN_RENAMED).to_csv(d / "campaigns.csv", index=False)
    sent_later = camp["sent_at"] >= pd.Timestamp(AS_OF) + pd.Timedelta(days=1)
    assert sent_later.any() and (~sent_later).any()
    camp_changed = camp.copy()
    camp_changed.loc[sent_later, "customer_id"] = camp.loc[sent_later, "customer_id"].to_numpy()[
        ::-1
    ]
    camp_changed.loc[sent_later, "treated"] = True
    camp_changed.rename(columns=CAMPAIGN_RENAMED).to_csv(d / "campaigns_changed.csv", index=False)
    return d


def _score(path, out, *extra):
    args = ["lifecycle", "score", "--transactions", str(path), "--as-of", AS_OF,
            "--horizon-days", "30", "--out", str(out), "--customer-id-col", "cust",
            "--ts-col", "when", "--amount-col", "value", *extra]  # fmt: skip
    return CliRunner().invoke(app, args)


@pytest.fixture(scope="module")
def scored(files):
    result = _score(files / "tx.csv", files / "out")
    return result, files / "out"


def test_score_writes_scores_and_metrics(scored):
    result, out = scored
    assert result.exit_code == 0, result.output
    assert "warning:" not in result.output  # a small log fits: no memory warning
    assert sorted(p.name for p in out.iterdir()) == ["metrics.json", "scores.csv"]
    scores = pd.read_csv(out / "scores.csv")
    assert list(scores.columns[:5]) == ["customer_id", "p_repurchase", "p_churn", "stage", "decile"]
    assert scores["customer_id"].is_unique
    assert scores["p_repurchase"].between(0, 1).all()
    assert set(scores["decile"]) == set(range(1, 11))
    assert set(scores["stage"]) <= {"new", "active", "at_risk", "lapsed"}
    lapsed = scores["stage"] == "lapsed"
    assert scores.loc[lapsed, "p_churn"].isna().all()
    assert scores.loc[~lapsed, "p_churn"].between(0, 1).all()
    top = scores.groupby("decile")["p_repurchase"].mean()
    assert top.is_monotonic_decreasing
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["as_of"] == AS_OF
    left = metrics["rows_left_out"]
    assert left["no_customer_key"] == left["negative_amount"] == 1, left
    assert "with no customer key in 'cust'" in result.output
    assert "with a negative amount in 'value'" in result.output
    for target in ("repurchase", "churn"):
        v = metrics[target]["validation"]
        assert {"roc_auc", "pr_auc", "brier", "ece", "lift_by_decile"} <= set(v)
        assert v["roc_auc"] > 0.7
        assert metrics[target]["validation_cutoff"] < AS_OF
        # 17 months of history: the default cutoff plan, not shortened
        assert metrics[target]["cutoff_plan"] == {"n_cutoffs": 4, "step_days": 30,
                                                  "min_history_days": 90}  # fmt: skip
        assert metrics[target]["cutoff_note"] is None
        assert "roc_auc" in metrics[target]["baseline_rfm_logistic"]
        # two recipes fitted on the training cutoffs; the lower validation log loss scores
        recipes = metrics[target]["recipes"]
        assert set(recipes) == {"btyd_trees", "btyd_base"}
        chosen = metrics[target]["recipe"]
        assert recipes[chosen]["log_loss"] == min(r["log_loss"] for r in recipes.values())
        assert recipes[chosen]["roc_auc"] == v["roc_auc"]
        assert recipes["btyd_base"]["n_trees"] == 0 < recipes["btyd_trees"]["n_trees"]


def test_rows_after_the_as_of_date_do_not_change_the_scores(files, scored):
    _, out = scored
    result = _score(files / "tx_changed.csv", files / "out_changed")
    assert result.exit_code == 0, result.output
    a = pd.read_csv(out / "scores.csv")
    b = pd.read_csv(files / "out_changed" / "scores.csv")
    pd.testing.assert_frame_equal(a, b)


def test_missing_column_exits_3_naming_file_column_and_flag(files, tmp_path):
    result = _score(files / "tx.csv", tmp_path / "out", "--amount-col", "revenue")
    assert result.exit_code == 3
    text = " ".join(result.output.split())
    assert "tx.csv" in text and "'revenue'" in text and "--amount-col" in text
    assert not (tmp_path / "out").exists()


def test_horizon_too_long_exits_3_with_the_longest_supported_horizon(files, tmp_path):
    result = CliRunner().invoke(app, [
        "lifecycle", "score", "--transactions", str(files / "tx.csv"), "--as-of", AS_OF,
        "--horizon-days", "400", "--out", str(tmp_path / "out"), "--customer-id-col", "cust",
        "--ts-col", "when", "--amount-col", "value",
    ])  # fmt: skip
    assert result.exit_code == 3
    text = " ".join(result.output.split())
    assert "too short for a 400-day horizon" in text
    assert "longest supported horizon is" in text
    assert not (tmp_path / "out").exists()


def test_unparsable_date_exits_3_naming_the_row(tmp_path):
    path = tmp_path / "bad.csv"
    rows = ["cust,when,value"] + [f"c{i % 7},2024-{1 + i % 12:02d}-15,{i}" for i in range(40)]
    rows[12] = "c1,yesterday,3"
    path.write_text("\n".join(rows) + "\n")
    result = _score(path, tmp_path / "out")
    assert result.exit_code == 3
    text = " ".join(result.output.split())
    assert "'when'" in text and "'yesterday'" in text and "data row 12" in text


def test_lifecycle_never_imports_pymc():
    code = (
        "import sys\n"
        "import omnimmm.lifecycle, omnimmm.lifecycle.features, omnimmm.lifecycle.labels\n"
        "import omnimmm.lifecycle.propensity, omnimmm.lifecycle.score, omnimmm.lifecycle.value\n"
        "import omnimmm.data.simulate_customers\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('pymc', 'pytensor', 'nutpie'))\n"
        "print(bad)\n"
        "sys.exit(1 if bad else 0)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_scores_hash_a_phone_customer_key(tmp_path):
    """A customer key that is a phone number never reaches scores.csv raw."""
    from omnimmm.lifecycle.privacy import find_raw_contacts
    from omnimmm.lifecycle.score import _hash_ids

    ids = pd.Series(["13800138000", "+86 138-0013-8000", "13912340000"])
    hashed = _hash_ids(ids, "salt")
    assert hashed[0] == hashed[1] != hashed[2]
    assert find_raw_contacts(pd.DataFrame({"customer_id": hashed})) == {}
    assert not np.isin(ids, hashed).any()


@pytest.mark.parametrize("as_of", ["yesterday", "31/12/2024", "2024-13-01"])
def test_bad_as_of_date_exits_3(files, tmp_path, as_of):
    result = CliRunner().invoke(app, [
        "lifecycle", "score", "--transactions", str(files / "tx.csv"), "--as-of", as_of,
        "--horizon-days", "30", "--out", str(tmp_path / "out"),
    ])  # fmt: skip
    assert result.exit_code == 3
    assert "is not a date (expected YYYY-MM-DD)" in " ".join(result.output.split())


FAST_FLAGS = ("--fast", "--n-trees", "60", "--min-rows-per-leaf", "50")


@pytest.fixture(scope="module")
def scored_campaigns(files):
    out = files / "out_campaigns"
    result = _score(files / "tx.csv", out, "--campaigns", str(files / "campaigns.csv"),
                    *CAMPAIGN_FLAGS, *FAST_FLAGS)  # fmt: skip
    return result, out


def test_campaigns_and_fast_settings_run_end_to_end(scored_campaigns):
    """--campaigns (its columns mapped by flags) adds contact features; --fast plus explicit
    flags set LightGBM."""
    result, out = scored_campaigns
    assert result.exit_code == 0, result.output
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["model"] == {
        "preset": "fast",
        "settings": {"learning_rate": 0.2, "subsample": 0.5, "max_bin": 63, "n_estimators": 60,
                     "early_stopping_rounds": 20, "min_child_samples": 50},
    }  # fmt: skip
    assert metrics["campaigns"]["contacts_before_as_of"] > 100
    for target in ("repurchase", "churn"):
        assert {"n_contacts", "n_responses", "contact_response_rate",
                "days_since_last_contact"} <= set(metrics[target]["features"])  # fmt: skip
        assert metrics[target]["n_trees"] <= 60
        assert metrics[target]["validation"]["roc_auc"] > 0.7
    scores = pd.read_csv(out / "scores.csv")
    assert scores["p_repurchase"].between(0, 1).all() and scores["customer_id"].is_unique


@pytest.mark.slow
def test_transaction_and_campaign_rows_after_as_of_do_not_change_the_scores(
    files, scored_campaigns
):
    _, out = scored_campaigns
    changed = _score(files / "tx_changed.csv", files / "out_campaigns_changed", "--campaigns",
                     str(files / "campaigns_changed.csv"), *CAMPAIGN_FLAGS,
                     *FAST_FLAGS)  # fmt: skip
    assert changed.exit_code == 0, changed.output
    pd.testing.assert_frame_equal(
        pd.read_csv(out / "scores.csv"),
        pd.read_csv(files / "out_campaigns_changed" / "scores.csv"),
    )


@pytest.mark.parametrize(
    ("flags", "missing", "flag"),
    [
        ((), "customer_id", "--campaign-customer-id-col"),
        (CAMPAIGN_FLAGS[:4] + ("--campaign-treated-col", "arm"), "arm", "--campaign-treated-col"),
        (CAMPAIGN_FLAGS + ("--campaign-redeemed-at-col", "used_on"), "used_on",
         "--campaign-redeemed-at-col"),
    ],
)  # fmt: skip
def test_unmapped_campaign_column_exits_3_naming_file_column_and_flag(
    files, tmp_path, flags, missing, flag
):
    """Unmapped required columns fail; so do optional ones named but absent (a treated
    column mapped wrongly must not turn the control group into contacts)."""
    result = _score(files / "tx.csv", tmp_path / "out", "--campaigns",
                    str(files / "campaigns.csv"), *flags, *FAST_FLAGS)  # fmt: skip
    assert result.exit_code == 3, result.output
    text = " ".join(result.output.split())
    assert "campaigns.csv" in text and f"'{missing}'" in text and flag in text
    assert not (tmp_path / "out").exists()


def test_bad_model_settings_exit_3_naming_the_setting(files, tmp_path):
    result = _score(files / "tx.csv", tmp_path / "out", "--learning-rate", "1.5")
    assert result.exit_code == 3
    assert "learning_rate must be in (0, 1]" in " ".join(result.output.split())
    assert not (tmp_path / "out").exists()


def test_score_warns_first_when_the_log_will_not_fit_in_memory(files, tmp_path, monkeypatch):
    monkeypatch.setattr("omnimmm.lifecycle.memory.available_memory", lambda: 1_000_000)
    result = _score(files / "tx.csv", tmp_path / "out", "--fast")
    assert result.exit_code == 0, result.output  # a warning, not a refusal
    first = result.output.splitlines()[0]
    assert first.startswith("warning: ") and "tx.csv" in first and "--workers" in first


def test_a_log_without_amounts_is_scored_counting_rows_and_refused_for_money(files, tmp_path):
    """Visits or a purchase log exported without values: propensities need no money, so the
    log is scored with every row counted 1 and says so; campaign ROI needs money and refuses."""
    tx = pd.read_csv(files / "tx.csv").drop(columns="value").rename(columns={"cust": "member_id"})
    tx.to_csv(tmp_path / "visits.csv", index=False)
    args = ["lifecycle", "score", "--transactions", str(tmp_path / "visits.csv"),
            "--as-of", AS_OF, "--horizon-days", "30", "--out", str(tmp_path / "out")]  # fmt: skip
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "every purchase row counts 1" in " ".join(result.output.split())
    metrics = json.loads((tmp_path / "out" / "metrics.json").read_text())
    assert metrics["columns"]["how"]["amount"] == "no amount column"
    assert metrics["repurchase"]["validation"]["roc_auc"] > 0.7
    assert "negative_amount" not in metrics["rows_left_out"]  # the return row is a visit now
    result = CliRunner().invoke(app, [
        "lifecycle", "campaigns", "--transactions", str(tmp_path / "visits.csv"),
        "--campaigns", str(files / "campaigns.csv"), "--out", str(tmp_path / "camp"),
    ])  # fmt: skip
    assert result.exit_code == 3, result.output
    text = " ".join(result.output.split())
    assert "visits.csv" in text and "--amount-col" in text and "ROI" in text
    assert not (tmp_path / "camp").exists()
