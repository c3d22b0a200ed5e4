"""A plan with a [lifecycle] section: scores and stages in the report, retention segments in
the joint budget, and no customer identifier anywhere in the run directory."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pandas as pd
import pytest

from omnimmm import run as pipeline
from pipeline_world import plan_text


def _customer_files(folder: Path) -> tuple[Path, Path, set[str]]:
    """Simulated transactions with a resolved customer_id, and campaigns keyed the same way."""
    from omnimmm.data.simulate_customers import simulate_customers
    from omnimmm.lifecycle import resolve_identities

    world = simulate_customers(n_customers=700, start="2023-01-02", end="2024-09-29", seed=5)
    tx = world.transactions
    ids = resolve_identities(tx)
    tx = tx.assign(customer_id=ids.customer_id).dropna(subset=["customer_id"])
    by_account = tx.dropna(subset=["account_id"]).groupby("account_id")["customer_id"].first()
    by_member = tx.dropna(subset=["member_id"]).groupby("member_id")["customer_id"].first()
    camp = world.campaigns.copy()
    camp["customer_id"] = (
        camp["account_id"].map(by_account).fillna(camp["member_id"].map(by_member))
    )
    camp = camp.dropna(subset=["customer_id"]).drop_duplicates(["campaign_id", "customer_id"])
    cols = ["customer_id", "ts", "amount", "order_id", "channel", "store_id", "coupon_used"]
    tx[cols].to_csv(folder / "transactions.csv", index=False)
    camp[["campaign_id", "customer_id", "sent_at", "segment", "treated"]].to_csv(
        folder / "campaigns.csv", index=False
    )
    return folder / "transactions.csv", folder / "campaigns.csv", set(tx["customer_id"])


@pytest.fixture(scope="module")
def lifecycle_run(fitted_run: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple:
    base = tmp_path_factory.mktemp("lifecycle")
    inputs = fitted_run.parent / "inputs"
    _, _, customers = _customer_files(base)
    plan = base / "plan.toml"
    text = plan_text().replace('path = "world.csv"', f'path = "{inputs / "world.csv"}"')
    text += (
        '\n[lifecycle]\ntransactions = "transactions.csv"\ncampaigns = "campaigns.csv"\n'
        "horizon_days = 60\ncontact_cost = 2.0\n"
    )
    plan.write_text(text, encoding="utf-8")
    run = base / "run"
    shutil.copytree(fitted_run, run)
    summary = pipeline.run(plan, run)
    return run, summary, customers


def test_lifecycle_adds_stages_and_a_joint_budget(lifecycle_run: tuple) -> None:
    run, summary, _ = lifecycle_run
    assert summary.reused is True  # the lifecycle section does not change the MMM fit
    alloc = summary.result.table("allocation")
    retention = alloc[alloc["kind"] == "retention"]
    assert len(retention) >= 1
    media = alloc[alloc["kind"] != "retention"]
    total = float(summary.result.meta["total"])
    assert media["recommended"].sum() + retention["recommended"].sum() == pytest.approx(total)
    stages = summary.result.table("lifecycle_stages")
    assert stages["customers"].sum() == summary.result.lifecycle["customers"]
    html = (run / "report.html").read_text(encoding="utf-8")
    assert "Customer lifecycle" in html and "Retention budget" in html
    campaigns = summary.result.table("lifecycle_campaigns")
    assert len(campaigns) >= 1  # the plan's campaign history is estimated and reported
    assert "Campaign incrementality" in html
    doc = json.loads((run / "recommendation.json").read_text())
    assert [c["name"] for c in doc["channels"]] == list(media["name"])  # contract: media only


def test_no_customer_identifier_is_written(lifecycle_run: tuple) -> None:
    run, _, customers = lifecycle_run
    pattern = re.compile(r"C\d{8}")
    for path in run.rglob("*"):
        if path.is_file() and path.suffix in {".json", ".csv", ".html", ".toml"}:
            text = path.read_text(encoding="utf-8", errors="ignore")
            found = set(pattern.findall(text)) & customers
            assert not found, (path.name, sorted(found)[:3])


def test_lifecycle_tables_round_trip(lifecycle_run: tuple) -> None:
    run, summary, _ = lifecycle_run
    for name in ("lifecycle_stages", "lifecycle_risk", "retention_segments"):
        frame = pd.read_csv(run / "tables" / f"{name}.csv")
        assert len(frame) == len(summary.result.table(name))


def test_report_names_the_drivers_of_both_propensity_models(lifecycle_run: tuple) -> None:
    run, summary, _ = lifecycle_run
    drivers = summary.result.table("lifecycle_drivers")
    assert set(drivers["target"]) == {"repurchase", "churn"}
    assert (drivers["mean_abs_shap"] > 0).all()
    html = (run / "report.html").read_text(encoding="utf-8")
    assert "What drives the scores" in html
    top = drivers[(drivers["target"] == "churn") & (drivers["rank"] == 1)]["feature"].item()
    assert f'<td class="l">{top}</td>' in html
    assert len(pd.read_csv(run / "tables" / "lifecycle_drivers.csv")) == len(drivers)


def test_a_log_without_amounts_stops_the_run_naming_the_flag(
    fitted_run: Path, tmp_path: Path
) -> None:
    """The quarterly run values retention in money: a log whose rows would only be counted
    (no amount column) stops it before any fit, naming the file and the way to name one."""
    from omnimmm.errors import DataError

    tx, _, _ = _customer_files(tmp_path)
    pd.read_csv(tx).drop(columns="amount").to_csv(tx, index=False)
    plan = tmp_path / "plan.toml"
    inputs = fitted_run.parent / "inputs"
    text = plan_text().replace('path = "world.csv"', f'path = "{inputs / "world.csv"}"')
    plan.write_text(text + '\n[lifecycle]\ntransactions = "transactions.csv"\n', encoding="utf-8")
    run = tmp_path / "run"
    shutil.copytree(fitted_run, run)
    with pytest.raises(DataError, match=r"(?s)transactions\.csv.*retention value.*--amount-col"):
        pipeline.run(plan, run)
