"""The quarterly run end to end on a tiny world: contract, exports, atomicity, reuse, seeds.

One fitted run per session (``fitted_run``) serves most tests; tests that need a failure or
a changed plan copy it and rerun on top of the copy, which reuses the fitted model.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
from pathlib import Path

import pytest

from omnimmm import run as pipeline
from omnimmm.errors import QualityGateError
from omnimmm.report.sections import fmt_money, fmt_ratio
from omnimmm.run import drivers
from omnimmm.run.reuse import reusable
from pipeline_world import EVIL, plan_text, write_world

KEYS_CHANNEL = ["name", "kind", "current_spend", "recommended_spend", "roi", "roi_by_outcome",
                "mroi"]  # fmt: skip
KEYS_INTERVAL = ["mean", "low", "high"]


def _tree_digest(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def _copy_run(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst)
    return dst


def _no_leftovers(parent: Path) -> None:
    left = [p.name for p in parent.iterdir() if ".partial-" in p.name or ".old-" in p.name]
    assert left == []


def test_run_directory_has_the_contract_files(fitted_run: Path) -> None:
    for name in ("recommendation.json", "report.html", "report.xlsx", "manifest.json",
                 "plan.toml", "plan.original.toml", "model/posterior.nc", "result.json"):  # fmt: skip
        assert (fitted_run / name).is_file(), name
    manifest = json.loads((fitted_run / "manifest.json").read_text())
    assert manifest["seeds"]["mmm"] == 3
    data_hash = hashlib.sha256((fitted_run.parent / "inputs/world.csv").read_bytes()).hexdigest()
    assert manifest["data"]["sha256"] == data_hash
    assert manifest["versions"]["pymc"]
    assert manifest["gate"]["passed"] is False  # 200 draws cannot pass ESS >= 400
    assert manifest["gate"]["allowed"] is True


def test_holdout_refit_reuses_the_full_fits_compiled_model(fitted_run: Path) -> None:
    """The data are shared variables of the graph, so the refit on fewer weeks compiles to
    the same functions and loads them from the cache the full fit just wrote."""
    fits = json.loads((fitted_run / "manifest.json").read_text())["stages"]["fits"]
    assert fits["mmm"]["sampler"] == fits["holdout_refit"]["sampler"] == "nutpie"
    assert fits["holdout_refit"]["compile_cached"] is True
    # Faster than the full fit's compile, unless that one came from the cache as well.
    assert (
        fits["holdout_refit"]["compile"] < fits["mmm"]["compile"] or fits["mmm"]["compile_cached"]
    )
    # the refit's own convergence is recorded next to its timings
    refit = fits["holdout_refit"]
    assert refit["rhat_max"] >= 1.0 and refit["ess_bulk_min"] > 0 and refit["divergences"] >= 0


def test_recommendation_json_has_exactly_the_design_shape(fitted_run: Path) -> None:
    doc = json.loads((fitted_run / "recommendation.json").read_text())
    assert list(doc) == ["channels", "horizon_value", "diagnostics", "plan"]
    assert [c["name"] for c in doc["channels"]] == ["tv", "search", EVIL]
    for c in doc["channels"]:
        assert list(c) == KEYS_CHANNEL
        assert c["kind"] in ("online", "offline")
        assert list(c["roi"]) == KEYS_INTERVAL and list(c["mroi"]) == KEYS_INTERVAL
        assert list(c["roi_by_outcome"]) == ["online_revenue", "offline_revenue"]
        for iv in (c["roi"], c["mroi"], *c["roi_by_outcome"].values()):
            assert iv["low"] <= iv["mean"] <= iv["high"]
        # ROI over all outcomes is the sum of the per-outcome ROIs (same draws)
        by = c["roi_by_outcome"]
        assert c["roi"]["mean"] == pytest.approx(sum(v["mean"] for v in by.values()), rel=1e-9)
    assert list(doc["horizon_value"]) == ["current", "recommended"]
    assert list(doc["diagnostics"]) == ["rhat_max", "ess_bulk_min", "divergences", "holdout_mape"]
    assert isinstance(doc["diagnostics"]["divergences"], int)
    assert 0 < doc["diagnostics"]["holdout_mape"] < 1
    assert doc["plan"] == {
        "horizon_weeks": 8,
        "total": pytest.approx(sum(c["current_spend"] for c in doc["channels"])),
        "max_change": 0.5,
    }
    total_rec = sum(c["recommended_spend"] for c in doc["channels"])
    assert total_rec == pytest.approx(doc["plan"]["total"], rel=1e-6)
    for c in doc["channels"]:  # max_change = 0.5 holds
        assert 0.5 * c["current_spend"] - 1 <= c["recommended_spend"]
        assert c["recommended_spend"] <= 1.5 * c["current_spend"] + 1
    # the optimizer never recommends something worth less than the current plan
    hv = doc["horizon_value"]
    assert hv["recommended"]["mean"] >= hv["current"]["mean"] - 1e-6


def test_current_allocation_is_the_last_horizon_weeks_of_data(fitted_run: Path) -> None:
    import pandas as pd

    frame = pd.read_csv(fitted_run.parent / "inputs/world.csv")
    doc = json.loads((fitted_run / "recommendation.json").read_text())
    cols = {"tv": "tv_spend", "search": "search_spend", EVIL: "social_spend"}
    for c in doc["channels"]:
        assert c["current_spend"] == pytest.approx(frame[cols[c["name"]]].tail(8).sum())


def test_html_shows_the_json_numbers_and_escapes_names(fitted_run: Path) -> None:
    html = (fitted_run / "report.html").read_text(encoding="utf-8")
    doc = json.loads((fitted_run / "recommendation.json").read_text())
    for c in doc["channels"]:
        assert fmt_money(c["current_spend"]) in html
        assert fmt_money(c["recommended_spend"]) in html
        assert fmt_ratio(c["roi"]["mean"]) in html
        for iv in c["roi_by_outcome"].values():
            assert fmt_ratio(iv["mean"]) in html
    hv = doc["horizon_value"]
    assert fmt_money(hv["current"]["mean"]) in html
    assert fmt_money(hv["recommended"]["mean"]) in html
    uplift = hv["recommended"]["mean"] - hv["current"]["mean"]
    shown = re.search(r'id="uplift">([^<]+)<', html).group(1)
    assert float(shown.replace(",", "")) == pytest.approx(uplift, abs=1.0)
    assert f"{100 * doc['diagnostics']['holdout_mape']:.1f}%" in html
    # escaping: the evil channel name appears only escaped, nowhere as a tag
    assert "<script" not in html.lower()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    # self-contained: no external resources
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", html)
    assert "Quality gate FAILED" in html
    # which model structure the run fitted (the plan leaves [model] at its defaults)
    settings = re.search(r'id="model-settings">(.+?)</p>', html).group(1)
    assert "fixed baseline" in settings and "noise constant" in settings, settings
    assert "varying over the year" not in settings and "Student-t" not in settings


def test_xlsx_is_readable_and_numbers_are_numbers(fitted_run: Path) -> None:
    import openpyxl

    wb = openpyxl.load_workbook(fitted_run / "report.xlsx", read_only=True)
    assert wb.sheetnames[0] == "Cover"
    assert {"Recommendation", "ROI", "Holdout scores", "Response curves"} <= set(wb.sheetnames)
    doc = json.loads((fitted_run / "recommendation.json").read_text())
    rows = list(wb["Recommendation"].iter_rows(min_row=1, values_only=True))
    header, body = rows[0], rows[1:]  # tables start at A1
    by_name = {r[header.index("name")]: r for r in body}
    assert set(by_name) == {c["name"] for c in doc["channels"]}
    for c in doc["channels"]:
        row = by_name[c["name"]]
        rec = row[header.index("recommended")]
        assert isinstance(rec, int | float) and not isinstance(rec, bool)
        assert rec == pytest.approx(c["recommended_spend"])
    roi_rows = list(wb["ROI"].iter_rows(min_row=2, values_only=True))
    assert all(isinstance(r[1], int | float) for r in roi_rows)


def test_rerun_with_same_plan_reuses_the_model(fitted_run: Path, tmp_path: Path) -> None:
    run = _copy_run(fitted_run, tmp_path / "run")
    plan = fitted_run.parent / "inputs/plan.toml"
    before = json.loads((run / "recommendation.json").read_text())
    summary = pipeline.run(plan, run)
    assert summary.reused is True
    assert summary.seconds < 60
    assert json.loads((run / "recommendation.json").read_text()) == before
    _no_leftovers(tmp_path)


def test_changed_data_is_not_reused(fitted_run: Path, tmp_path: Path) -> None:
    from pipeline_world import world_frame

    frame = world_frame()
    frame.loc[3, "tv_spend"] += 1.0
    write_world(tmp_path / "inputs", frame=frame)
    prep = pipeline.prepare(tmp_path / "inputs/plan.toml")
    assert reusable(fitted_run, prep.fit_key, prep.panel.data_hash).ok is False
    same = pipeline.prepare(fitted_run.parent / "inputs/plan.toml")
    assert reusable(fitted_run, same.fit_key, same.panel.data_hash).ok is True
    other_seed = pipeline.prepare(fitted_run.parent / "inputs/plan.toml", seed=4)
    assert reusable(fitted_run, other_seed.fit_key, other_seed.panel.data_hash).ok is False


def test_failed_gate_leaves_the_previous_run_untouched(fitted_run: Path, tmp_path: Path) -> None:
    run = _copy_run(fitted_run, tmp_path / "run")
    digest = _tree_digest(run)
    inputs = tmp_path / "inputs"
    # remedies = 0: the automatic remedies (more draws) would make the tiny world pass
    no_remedies = {"allow_failure = false": "allow_failure = false\nremedies = 0"}
    plan = write_world(inputs, plan=plan_text(allow_failure=False, **no_remedies))
    with pytest.raises(QualityGateError) as err:
        pipeline.run(plan, run)  # refits (the data path differs), then the gate says no
    message = str(err.value)
    assert "bulk ESS" in message and "\n  1. " in message
    assert _tree_digest(run) == digest
    _no_leftovers(tmp_path)


def test_crash_mid_run_leaves_no_directory(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    plan = write_world(tmp_path / "inputs")

    def fit_stage(*args: object, **kwargs: object) -> None:
        raise RuntimeError("simulated crash while fitting")

    stages = tuple(fit_stage if s.__name__ == "fit_stage" else s for s in drivers.RUN_STAGES)
    monkeypatch.setattr(drivers, "RUN_STAGES", stages)
    with pytest.raises(RuntimeError):
        pipeline.run(plan, tmp_path / "out")
    assert not (tmp_path / "out").exists()
    _no_leftovers(tmp_path)


def test_crash_while_optimizing_keeps_previous_run(
    fitted_run: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    run = _copy_run(fitted_run, tmp_path / "run")
    digest = _tree_digest(run)

    def optimize_stage(*args: object, **kwargs: object) -> None:
        raise RuntimeError("simulated crash while optimizing")

    stages = tuple(
        optimize_stage if s.__name__ == "optimize_stage" else s for s in drivers.RUN_STAGES
    )
    monkeypatch.setattr(drivers, "RUN_STAGES", stages)
    with pytest.raises(RuntimeError):
        pipeline.run(fitted_run.parent / "inputs/plan.toml", run)
    assert _tree_digest(run) == digest
    _no_leftovers(tmp_path)


def test_never_overwrites_a_foreign_directory(tmp_path: Path) -> None:
    from omnimmm.errors import PlanError

    plan = write_world(tmp_path / "inputs")
    foreign = tmp_path / "mine"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("keep me")
    with pytest.raises(PlanError, match="never overwritten"):
        pipeline.run(plan, foreign)
    assert (foreign / "notes.txt").read_text() == "keep me"


def test_fit_then_optimize_then_report(fitted_run: Path, tmp_path: Path) -> None:
    run = _copy_run(fitted_run, tmp_path / "run")
    (run / "report.html").unlink()
    summary = pipeline.fit(fitted_run.parent / "inputs/plan.toml", run)
    assert summary.reused is True
    assert not (run / "recommendation.json").exists()  # fit alone recommends nothing
    pipeline.optimize(run)
    assert (run / "recommendation.json").is_file()
    before = (run / "recommendation.json").read_text()
    (run / "report.html").unlink()
    pipeline.report(run)
    assert (run / "report.html").is_file()
    assert (run / "recommendation.json").read_text() == before
    assert before == (fitted_run / "recommendation.json").read_text()


def test_same_seed_same_numbers(fitted_run: Path, tmp_path: Path) -> None:
    """A fresh fit with the same seed gives byte-identical recommendation.json."""
    plan = fitted_run.parent / "inputs/plan.toml"
    pipeline.run(plan, tmp_path / "again")
    again = (tmp_path / "again/recommendation.json").read_text()
    assert again == (fitted_run / "recommendation.json").read_text()


def test_optimize_after_editing_the_budget(fitted_run: Path, tmp_path: Path) -> None:
    from omnimmm.errors import PlanError

    run = _copy_run(fitted_run, tmp_path / "run")
    plan = run / "plan.toml"
    text = plan.read_text()
    assert "max_change = 0.5" in text
    plan.write_text(text.replace("max_change = 0.5", "max_change = 0.2"))
    pipeline.optimize(run)
    doc = json.loads((run / "recommendation.json").read_text())
    assert doc["plan"]["max_change"] == 0.2
    for c in doc["channels"]:
        assert c["recommended_spend"] <= 1.2 * c["current_spend"] + 1
        assert c["recommended_spend"] >= 0.8 * c["current_spend"] - 1
    plan.write_text(plan.read_text().replace("draws = 100", "draws = 150"))
    digest = _tree_digest(run)
    with pytest.raises(PlanError, match="only \\[budget\\] and \\[gate\\]"):
        pipeline.optimize(run)
    assert _tree_digest(run) == digest
