"""``omnimmm fit``, ``optimize``, ``report`` and ``run`` on a geo plan: the national commands'
contracts (the model written to DIR, reused when nothing changed, refused when its files or
data changed) and the geo holdout (per region, national sums, baselines per region and
summed). The simulator's truth stands in for the fit (``geo_truth``), so nothing samples."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from geo_truth import no_pilot, use_truth
from omnimmm.cli import app
from omnimmm.data.simulate_geo import simulate_geo_world

N_GEOS, N_WEEKS, SEED = 6, 80, 3
#: Appended to a plan whose test looks at no holdout (saves the refit and 24 ETS fits).
NO_HOLDOUT = "\n[model]\nholdout_weeks = 0\n"


@pytest.fixture
def sim(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Any]:
    no_pilot(monkeypatch)  # the fits are fakes: the pilot chooses the centred form
    res = CliRunner().invoke(
        app, ["simulate", "--out", str(tmp_path / "sim"), "--geos", str(N_GEOS), "--weeks",
              str(N_WEEKS), "--seed", str(SEED)],
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    return tmp_path / "sim", simulate_geo_world(n_geos=N_GEOS, n_weeks=N_WEEKS, seed=SEED)


def _invoke(*args: str) -> Any:
    return CliRunner().invoke(app, list(args))


def test_fit_then_optimize_then_report(
    sim: tuple[Path, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder, world = sim
    fits = use_truth(monkeypatch, world)
    out = tmp_path / "run"
    res = _invoke("fit", str(folder / "plan.toml"), "--out", str(out))
    assert res.exit_code == 0, res.output
    assert fits == [N_WEEKS, N_WEEKS - 13]  # the fit, then the holdout refit
    assert (out / "model" / "truth.json").is_file() and not (out / "recommendation.json").exists()
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["geo"] is True and "geo_model" in manifest["code"]
    assert list(manifest["model_files"]) == ["truth.json"]
    assert {"fit", "gate", "holdout", "analysis"} <= set(manifest["stages"]["seconds"])

    res = _invoke("optimize", str(out))
    assert res.exit_code == 0, res.output
    assert len(fits) == 2  # optimize reuses the saved model
    rec = json.loads((out / "recommendation.json").read_text())
    assert len(rec["geos"]) == N_GEOS and len(rec["channels"]) == 6
    assert rec["diagnostics"]["holdout_mape"] == pytest.approx(
        json.loads((out / "result.json").read_text())["holdout"]["mape_mean"]
    )
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["stages"]["reused"] is False and "optimize" in manifest["stages"]["seconds"]

    before = (out / "recommendation.json").read_bytes()
    (out / "recommendation.json").unlink()
    assert _invoke("report", str(out)).exit_code == 0
    assert (out / "recommendation.json").read_bytes() == before

    # the same plan and data again: the model (and its holdout) is reused, not refitted
    res = _invoke("run", str(folder / "plan.toml"), "--out", str(out))
    assert res.exit_code == 0, res.output
    assert len(fits) == 2 and "reusing the fitted geo model" in res.output
    again = json.loads((out / "manifest.json").read_text())
    assert again["stages"]["reused"] is True
    # how the reused model was sampled is kept: its attempts and the pilot's choice of form
    assert again["remedies"]["attempts"] == manifest["remedies"]["attempts"]
    assert again["stages"]["fits"]["roi_form"] == manifest["stages"]["fits"]["roi_form"]
    assert 'id="roi-form">Regional ROI sampled centred' in (out / "report.html").read_text()
    # a changed model file is never trusted
    (out / "model" / "truth.json").write_text("{}")
    res = _invoke("optimize", str(out))
    assert res.exit_code != 0 and "truth.json changed since the run wrote it" in res.output
    res = _invoke("run", str(folder / "plan.toml"), "--out", str(out))
    assert res.exit_code == 0 and len(fits) == 4 and "not reusing" in res.output


def test_geo_holdout_tables(
    sim: tuple[Path, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder, world = sim
    use_truth(monkeypatch, world)
    out = tmp_path / "run"
    assert _invoke("run", str(folder / "plan.toml"), "--out", str(out)).exit_code == 0
    ho = pd.read_csv(out / "tables" / "holdout.csv")
    assert list(ho.columns) == ["geo", "date", "outcome", "actual", "mean", "low", "high"]
    geos = list(world.panel.geos)
    assert list(dict.fromkeys(ho["geo"])) == ["national", *geos]
    nat = ho[ho["geo"] == "national"].set_index(["date", "outcome"])
    reg = ho[ho["geo"] != "national"].groupby(["date", "outcome"])[["actual", "mean"]].sum()
    np.testing.assert_allclose(nat.loc[reg.index, ["actual", "mean"]], reg, rtol=1e-9)
    assert len(nat) == 13 * 2
    np.testing.assert_allclose(  # the held-out weeks' actuals are the data's
        nat.xs("online_revenue", level="outcome")["actual"],
        world.panel.y[-13:, :, 0].sum(axis=1), rtol=1e-9,
    )  # fmt: skip
    # the national interval is the interval of the sum: narrower than the summed intervals
    width = ho[ho["geo"] != "national"].assign(w=lambda f: f["high"] - f["low"])
    summed = width.groupby(["date", "outcome"])["w"].sum()
    assert ((nat["high"] - nat["low"]).loc[summed.index] < summed).all()
    # the model here is the truth: its 90% intervals hold about 90% of the held-out weeks
    inside = ((ho["actual"] >= ho["low"]) & (ho["actual"] <= ho["high"])).mean()
    assert 0.75 <= inside <= 0.99
    base = pd.read_csv(out / "tables" / "baseline_forecasts.csv")
    assert set(base["method"]) == {"seasonal_naive", "ets"}
    b_nat = base[base["geo"] == "national"].set_index(["date", "outcome", "method"])["forecast"]
    b_reg = base[base["geo"] != "national"].groupby(["date", "outcome", "method"])["forecast"]
    np.testing.assert_allclose(b_nat.loc[b_reg.sum().index], b_reg.sum(), rtol=1e-9)
    scores = pd.read_csv(out / "tables" / "geo_holdout_scores.csv")
    assert set(scores["geo"]) == {"national", *geos}
    own = scores[scores["method"] == "omnimmm"]
    assert own["coverage"].between(0, 1).all()
    result = json.loads((out / "result.json").read_text())["holdout"]
    assert result["weeks"] == 13 and set(result["geo_mape_mean"]) == set(geos)
    assert result["mape_mean"] == pytest.approx(
        own[own["geo"] == "national"]["mape"].mean(), rel=1e-9
    )
    national = pd.read_csv(out / "tables" / "holdout_scores.csv")
    assert list(national.columns)[:3] == ["method", "outcome", "variant"]
    html = (out / "report.html").read_text()
    table = html[html.index('id="geo-holdout"') :].split("</table>")[0]
    assert table.count("<tr>") == 1 + 1 + N_GEOS  # header, national, regions
    from openpyxl import load_workbook

    assert "Regional holdout" in load_workbook(out / "report.xlsx", read_only=True).sheetnames


def test_a_region_called_national_is_refused(sim: tuple[Path, Any], tmp_path: Path) -> None:
    folder, _ = sim
    frame = pd.read_csv(folder / "geo_panel.csv")
    frame["geo"] = frame["geo"].replace("region_04", "National")
    frame.to_csv(folder / "geo_panel.csv", index=False)
    res = _invoke("validate", str(folder / "plan.toml"))
    assert res.exit_code == 3 and 'names the region "National"' in res.output


def test_channel_max_change_in_a_geo_plan(
    sim: tuple[Path, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder, world = sim
    use_truth(monkeypatch, world)
    plan = (folder / "plan.toml").read_text() + NO_HOLDOUT
    plan += (
        "\n[budget.channels.search]\nmax_change = 0.05\n"
        "\n[budget.channels.tv]\nmax_change = 0.02\n"
        "\n[budget.geos.region_02.channels.search]\nmax_change = 0.3\n"
    )
    (folder / "plan.toml").write_text(plan)
    out = tmp_path / "run"
    res = _invoke("run", str(folder / "plan.toml"), "--out", str(out))
    assert res.exit_code == 0, res.output
    cells = pd.read_csv(out / "tables" / "geo_channel_allocation.csv")
    search = cells[cells["channel"] == "search"].set_index("geo")
    ratio = search["recommended_spend"] / search["current_spend"]
    assert ratio.drop("region_02").between(0.95 - 1e-6, 1.05 + 1e-6).all()
    assert ratio["region_02"] >= 0.7 - 1e-6 and ratio["region_02"] <= 1.3 + 1e-6
    tv = cells[cells["channel"] == "tv"]
    tv_ratio = tv["recommended_spend"].sum() / tv["current_spend"].sum()
    assert 0.98 - 1e-6 <= tv_ratio <= 1.02 + 1e-6
    lines = pd.read_csv(out / "tables" / "geo_budget_lines.csv").set_index("name")
    cur = lines.loc["region_03/search", "current"]
    assert lines.loc["region_03/search", "upper"] == pytest.approx(1.05 * cur)
    (folder / "plan.toml").write_text(plan + "\n[budget.channels.social]\nlocked = true\n"
                                      "max_change = 0.1\n")  # fmt: skip
    res = _invoke("validate", str(folder / "plan.toml"))
    assert res.exit_code == 2 and "drop min, max and max_change" in res.output


def test_backtest_on_a_geo_plan(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    res = _invoke("simulate", "--out", str(tmp_path / "sim"), "--geos", "4", "--weeks", "104",
                  "--seed", "2")  # fmt: skip
    assert res.exit_code == 0, res.output
    world = simulate_geo_world(n_geos=4, n_weeks=104, seed=2)
    fits = use_truth(monkeypatch, world)
    from omnimmm.run.stages import geo as geo_stages

    pilots = no_pilot(monkeypatch, centred=False)
    truth_fit, calls = geo_stages.fit_model, []

    def spy(prep: Any, say: Any, settings: Any = None, warm_from: Any = None) -> Any:
        model = truth_fit(prep, say, settings, warm_from)
        calls.append((settings, warm_from, model))
        return model

    monkeypatch.setattr(geo_stages, "fit_model", spy)
    out = tmp_path / "bt"
    res = _invoke("backtest", str(tmp_path / "sim" / "plan.toml"), "--out", str(out),
                  "--origins", "2", "--horizon", "13")  # fmt: skip
    assert res.exit_code == 0, res.output
    assert fits == [78, 91]
    # one pilot (the first origin's); the second origin samples in its kept form and
    # settings, its chains starting where the first origin's ended
    assert len(pilots) == 1 and calls[0][1] is None
    assert calls[1][0] == calls[0][0] and calls[1][0]["roi_centred"] is False
    assert calls[1][1] is calls[0][2]
    bt = pd.read_csv(out / "tables" / "backtest.csv")
    assert list(bt.columns) == ["origin", "geo", "date", "outcome", "actual", "mean", "low", "high"]
    assert len(bt) == 2 * 13 * 2 * (4 + 1)
    nat = bt[bt["geo"] == "national"].set_index(["origin", "date", "outcome"])
    reg = bt[bt["geo"] != "national"].groupby(["origin", "date", "outcome"])[["actual", "mean"]]
    np.testing.assert_allclose(nat.loc[reg.sum().index, ["actual", "mean"]], reg.sum(), rtol=1e-9)
    np.testing.assert_allclose(  # the actuals are the data's held-out weeks
        np.sort(nat["actual"].to_numpy()),
        np.sort(world.panel.y[78:104].sum(axis=1).T.reshape(-1)), rtol=1e-9,
    )  # fmt: skip
    base = pd.read_csv(out / "tables" / "backtest_baselines.csv")
    assert list(base.columns) == ["origin", "geo", "date", "outcome", "method", "forecast"]
    doc = json.loads((out / "backtest.json").read_text())
    assert [o["origin"] for o in doc["origins"]] == [
        str(world.panel.dates[78].date()),
        str(world.panel.dates[91].date()),
    ]
    assert set(doc["overall"]["omnimmm"]) == {"mape", "smape", "bias", "coverage"}
    assert set(doc["geos"]) == set(world.panel.geos)
    assert 0.7 <= doc["overall"]["omnimmm"]["coverage"] <= 1.0  # the truth's own intervals
    assert [f["train_weeks"] for f in doc["fits"]] == [78, 91] and doc["settings"]["geo"] is True
    assert "<svg" in (out / "report.html").read_text()


def test_portfolio_total_splits_across_geo_markets(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two geo markets' runs, then the --total split over them: every region's and
    channel's limit of each plan holds, the split spends the total and loses no value."""
    from omnimmm.mmm import geo as geo_model
    from omnimmm.run.portfolio_budget import split_total

    worlds = {}
    for name, seed in (("east", 2), ("west", 5)):
        res = _invoke("simulate", "--out", str(tmp_path / name), "--geos", "3", "--weeks", "80",
                      "--seed", str(seed))  # fmt: skip
        assert res.exit_code == 0, res.output
        worlds[name] = simulate_geo_world(n_geos=3, n_weeks=80, seed=seed)
    plan = tmp_path / "east" / "plan.toml"
    plan.write_text(plan.read_text() + "\n[budget.geos.region_01]\nmax_change = 0.05\n")
    for name in worlds:
        path = tmp_path / name / "plan.toml"
        path.write_text(path.read_text() + NO_HOLDOUT)
    markets = tmp_path / "markets"
    for name, world in worlds.items():
        use_truth(monkeypatch, world)
        res = _invoke("run", str(tmp_path / name / "plan.toml"), "--out", str(markets / name))
        assert res.exit_code == 0, res.output

    def load(directory: Any) -> Any:
        from geo_truth import TruthGeoFit

        world = worlds[Path(directory).parent.name]
        return TruthGeoFit(world, world.panel.geos)

    monkeypatch.setattr(geo_model, "load_geo", load)
    rows = [{"name": n, "status": "ok"} for n in worlds]
    current = sum(
        sum(c["current_spend"] for c in json.loads((markets / n / "recommendation.json")
                                                  .read_text())["channels"])
        for n in worlds
    )  # fmt: skip
    table, value, _ = split_total(markets, rows, current, seed=0)
    frame = pd.DataFrame(table)
    assert frame["recommended"].sum() == pytest.approx(current, rel=1e-6)
    assert value["recommended"]["mean"] >= value["current"]["mean"] * (1 - 1e-9)
    east = frame[(frame["market"] == "east")].set_index("channel")
    assert "tv" in east.index and "region_01/search" in east.index
    r1 = east[east.index.str.startswith("region_01/")]
    assert (r1["recommended"] <= 1.05 * r1["current"] * (1 + 1e-6)).all()
    assert (r1["recommended"] >= 0.95 * r1["current"] * (1 - 1e-6)).all()
    assert (frame["recommended"] <= 1.5 * frame["current"] * (1 + 1e-6)).all()
    assert not (frame["recommended"] - frame["current"]).abs().lt(1e-6 * frame["current"]).all()


def test_roi_by_outcome_and_regional_lift_tests(
    sim: tuple[Path, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from geo_truth import TruthGeoFit
    from omnimmm.mmm import geo as geo_model

    folder, world = sim
    seen: list[Any] = []

    def fit_geo(panel: Any, spec: Any, **kw: Any) -> TruthGeoFit:
        seen.append(spec)  # the run's own fit_model builds the spec from the plan
        return TruthGeoFit(world, world.panel.geos, panel)

    monkeypatch.setattr(geo_model, "fit_geo", fit_geo)
    plan = (
        (folder / "plan.toml").read_text()
        + NO_HOLDOUT
        + (
            '\n[[calibration]]\nchannel = "search"\ngeo = "region_02"\nstart = 2023-03-06\n'
            "end = 2023-04-03\nspend_change = 200000.0\nincremental_revenue = 500000.0\n"
            "se = 100000.0\n"
            '\n[[calibration]]\nchannel = "tv"\nstart = 2023-03-06\nend = 2023-04-03\n'
            "spend_change = -1000000.0\nincremental_revenue = -900000.0\nse = 300000.0\n"
            'outcome = "store_revenue"\n'
        )
    )
    (folder / "plan.toml").write_text(plan)
    out = tmp_path / "run"
    res = _invoke("run", str(folder / "plan.toml"), "--out", str(out))
    assert res.exit_code == 0, res.output
    tests = seen[0].lift_tests
    assert [(t.channel, t.geo, t.outcome) for t in tests] == [
        ("search", "region_02", None),
        ("tv", None, "store_revenue"),
    ]
    assert tests[0].roi == pytest.approx(2.5) and tests[0].se == pytest.approx(0.5)
    assert tests[1].roi == pytest.approx(0.9) and tests[1].se == pytest.approx(0.3)
    rec = json.loads((out / "recommendation.json").read_text())
    for c in rec["channels"]:  # per-outcome ROI: the truth's, adding up to the ROI
        parts = c["roi_by_outcome"]
        assert sum(v["mean"] for v in parts.values()) == pytest.approx(c["roi"]["mean"], rel=1e-9)
    cell = rec["geos"][1]["channels"][2]
    assert set(cell["roi_by_outcome"]) == set(world.panel.outcomes)
    assert sum(v["mean"] for v in cell["roi_by_outcome"].values()) == pytest.approx(
        cell["roi"]["mean"], rel=1e-9
    )
    bad = plan.replace('geo = "region_02"', 'geo = "region_99"')
    (folder / "plan.toml").write_text(bad)
    res = _invoke("validate", str(folder / "plan.toml"))
    assert res.exit_code == 2 and "calibration[1].geo = 'region_99'" in res.output


def test_a_national_plans_lift_test_cannot_name_a_region(sim: tuple[Path, Any]) -> None:
    folder, _ = sim
    plan = (folder / "plan.toml").read_text().replace('geo = "geo"\n', "")
    plan = plan.replace('population = "population"\n', "").replace('scope = "national"\n', "")
    plan += (
        '\n[[calibration]]\nchannel = "search"\ngeo = "region_02"\nstart = 2023-03-06\n'
        "end = 2023-04-03\nspend_change = 200000.0\nincremental_revenue = 500000.0\n"
        "se = 100000.0\n"
    )
    (folder / "plan.toml").write_text(plan)
    res = _invoke("validate", str(folder / "plan.toml"))
    assert res.exit_code == 2 and "calibration[1].geo needs a long panel" in res.output


@pytest.mark.slow
def test_real_geo_fit_then_optimize_then_reuse(sim: tuple[Path, Any], tmp_path: Path) -> None:
    """The real geo model at --fast: fit writes it, optimize plans on it, a second run reuses
    it (29 s CPU for the fit of 6 regions x 80 weeks at load 6-9)."""
    folder, world = sim
    out = tmp_path / "run"
    res = _invoke("fit", str(folder / "plan.toml"), "--out", str(out), "--fast")
    assert res.exit_code == 0, res.output
    fitted = json.loads((out / "manifest.json").read_text())
    res = _invoke("optimize", str(out))
    assert res.exit_code == 0, res.output
    rec = json.loads((out / "recommendation.json").read_text())
    assert len(rec["geos"]) == N_GEOS
    for c in rec["channels"]:
        parts = c["roi_by_outcome"]
        assert sum(v["mean"] for v in parts.values()) == pytest.approx(c["roi"]["mean"], rel=1e-6)
    assert rec["horizon_value"]["recommended"]["mean"] >= rec["horizon_value"]["current"]["mean"]
    res = _invoke("run", str(folder / "plan.toml"), "--out", str(out), "--fast")
    assert res.exit_code == 0 and "reusing the fitted geo model" in res.output
    again = json.loads((out / "manifest.json").read_text())
    assert again["model_files"] == fitted["model_files"] and again["stages"]["reused"] is True


def test_a_portfolio_market_may_be_a_geo_plan(
    sim: tuple[Path, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What each Dask worker runs for a market (run_market), on a geo plan."""
    from omnimmm.run.portfolio import run_market

    folder, world = sim
    use_truth(monkeypatch, world)
    (folder / "plan.toml").write_text((folder / "plan.toml").read_text() + NO_HOLDOUT)
    row = run_market("geo", str(folder / "plan.toml"), str(tmp_path / "markets" / "geo"))
    assert row["status"] == "ok", row["message"]
    assert row["geos"] == N_GEOS and "density" not in row  # no national density warmed
    rec = json.loads((tmp_path / "markets" / "geo" / "recommendation.json").read_text())
    assert row["recommended_total"] == pytest.approx(
        sum(c["recommended_spend"] for c in rec["channels"])
    )


def test_plan_model_settings_reach_the_geo_model(
    sim: tuple[Path, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The moving baseline goes to the geo model where it has it (else a plan error before
    sampling); a control form the geo model does not honour stops the plan."""
    import dataclasses

    from geo_truth import TruthGeoFit
    from omnimmm.errors import PlanError
    from omnimmm.mmm import geo as geo_model
    from omnimmm.run.stages.geo import fit_model, prepare_geo

    folder, world = sim
    seen: list[Any] = []
    monkeypatch.setattr(geo_model, "fit_geo", lambda panel, spec, **kw: seen.append(spec)
                        or TruthGeoFit(world, world.panel.geos, panel))  # fmt: skip
    text = (folder / "plan.toml").read_text()
    (folder / "plan.toml").write_text(
        text + '\n[model]\nbaseline = "local_level"\nbaseline_step_sd = 0.08\n'
    )
    prep = prepare_geo(folder / "plan.toml")
    if "baseline" in {f.name for f in dataclasses.fields(geo_model.GeoModelSpec)}:
        fit_model(prep, lambda _: None)
        spec = seen[0]
        assert (spec.baseline, spec.baseline_step_sd, spec.baseline_knot_weeks) == (
            "local_level",
            0.08,
            13,
        )
    else:
        with pytest.raises(PlanError, match="model.baseline"):
            fit_model(prep, lambda _: None)
        assert not seen
    (folder / "plan.toml").write_text(text + '\n[model]\ncontrol_form = "deviation"\n')
    res = _invoke("validate", str(folder / "plan.toml"))
    assert res.exit_code == 2 and 'model.control_form = "deviation"' in res.output
    (folder / "plan.toml").write_text(text + '\n[model]\nnoise = "level"\n')
    res = _invoke("validate", str(folder / "plan.toml"))
    assert res.exit_code == 2 and 'model.noise = "level"' in res.output
    (folder / "plan.toml").write_text(text + "\n[model]\nseasonal_noise = true\n")
    res = _invoke("validate", str(folder / "plan.toml"))
    assert res.exit_code == 2 and "model.seasonal_noise = true" in res.output
    (folder / "plan.toml").write_text(text + '\n[model]\nlikelihood = "student_t"\n')
    res = _invoke("validate", str(folder / "plan.toml"))
    assert res.exit_code == 2 and 'model.likelihood = "student_t"' in res.output


def test_validate_says_how_weeks_are_dated(sim: tuple[Path, Any]) -> None:
    """A panel dated by Sundays is read as weeks starting on Sunday, and validate says so
    with the key that reads them as week ends (festival weeks follow it)."""
    folder, _ = sim
    frame = pd.read_csv(folder / "geo_panel.csv")
    frame["date"] = (pd.to_datetime(frame["date"]) + pd.Timedelta(days=6)).dt.strftime("%Y-%m-%d")
    frame.to_csv(folder / "geo_panel.csv", index=False)
    res = _invoke("validate", str(folder / "plan.toml"))
    assert res.exit_code == 0, res.output
    assert "weeks Sunday to Saturday, dated by their first day" in res.output
    assert 'if the Sunday dates are week ends, set data.week_dates = "end"' in res.output
    text = (folder / "plan.toml").read_text()
    (folder / "plan.toml").write_text(
        text.replace('geo = "geo"\n', 'geo = "geo"\nweek_dates = "end"\n')
    )
    res = _invoke("validate", str(folder / "plan.toml"))
    assert "weeks Monday to Sunday, dated by their last day" in res.output
    assert "if the" not in res.output and "no data.population" not in res.output


def test_validate_notes_a_missing_population(sim: tuple[Path, Any]) -> None:
    """Without data.population, regions of different sizes are modelled as equal in size:
    validate says so, with how far the regions' sales differ."""
    folder, _ = sim
    text = (folder / "plan.toml").read_text()
    (folder / "plan.toml").write_text(text.replace('population = "population"\n', ""))
    res = _invoke("validate", str(folder / "plan.toml"))
    assert res.exit_code == 0, res.output
    assert re.search(r"no data.population: regions whose sales differ [\d.]+-fold", res.output)


def test_plan_model_keys_a_geo_fit_would_ignore(sim: tuple[Path, Any]) -> None:
    """[model.roi_prior_default] reaches the geo model (for the channels of that kind without
    their own roi_prior); coef_prior_sd, another sampler or share_carryover = false, which the
    geo model cannot honour, stop the plan instead of being ignored."""
    from omnimmm.run.stages.geo import model_spec, prepare_geo

    folder, _ = sim
    text = (folder / "plan.toml").read_text()
    assert model_spec(prepare_geo(folder / "plan.toml")).roi_priors is None
    (folder / "plan.toml").write_text(
        text + "\n[model.roi_prior_default]\nonline = { mean = 3.0, sd = 0.5 }\n"
    )
    priors = model_spec(prepare_geo(folder / "plan.toml")).roi_priors
    assert priors == {"online_video": (3.0, 0.5), "search": (3.0, 0.5), "social": (3.0, 0.5),
                      "display": (3.0, 0.5)}  # fmt: skip
    for extra, key in (
        ('\n[model]\nsampler = "advi"\n', 'model.sampler = "advi"'),
        ("\n[model]\nshare_carryover = false\n", "model.share_carryover = false"),
    ):
        (folder / "plan.toml").write_text(text + extra)
        res = _invoke("validate", str(folder / "plan.toml"))
        assert res.exit_code == 2 and key in res.output, res.output
    plan = text.replace('name = "search"\n', 'name = "search"\ncoef_prior_sd = 0.5\n', 1)
    (folder / "plan.toml").write_text(plan)
    res = _invoke("validate", str(folder / "plan.toml"))
    assert res.exit_code == 2 and "channels[3].coef_prior_sd" in res.output, res.output


@pytest.mark.parametrize("mixed", [True, False])
def test_a_failed_geo_gate_is_refitted_with_safer_settings(
    sim: tuple[Path, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, mixed: bool
) -> None:
    """The national run's automatic remedies on the geo fit: divergences at the geo model's
    target_accept 0.8 -> refit at 0.95 with doubled tuning, which passes; the holdout refit
    samples with the kept settings, warm from the kept fit. The remedy starts warm from the
    failed attempt when that attempt failed on divergences alone (its chains ``mixed``),
    cold when its chains also disagreed (R-hat)."""
    from geo_truth import TruthGeoFit
    from omnimmm.mmm import geo as geo_model

    folder, world = sim
    calls: list[dict[str, Any]] = []

    class Diverging(TruthGeoFit):
        def __init__(self, panel: Any, accept: float) -> None:
            super().__init__(world, world.panel.geos, panel)
            self.accept = accept

        def diagnostics(self) -> dict[str, Any]:
            bad = self.accept < 0.9
            d = {**super().diagnostics(), "divergences": 40 if bad else 0,
                 "divergence_rate": 0.01 if bad else 0.0}  # fmt: skip
            return d if mixed or not bad else {**d, "max_rhat": 1.05}

        def warm_start(self, spec: Any = None) -> str:
            return f"draws at {self.accept}"

    def fit_geo(panel: Any, spec: Any, **kw: Any) -> TruthGeoFit:
        calls.append(kw)
        fit = Diverging(panel, kw["target_accept"])
        fit.timings = {"warm": kw["warm_start"] is not None}  # as fit_geo records it
        return fit

    monkeypatch.setattr(geo_model, "fit_geo", fit_geo)
    out = tmp_path / "run"
    res = _invoke("run", str(folder / "plan.toml"), "--out", str(out))
    assert res.exit_code == 0, res.output
    draws = 1000 if mixed else 2000  # an R-hat failure doubles the draws too
    assert [(c["target_accept"], c["tune"], c["draws"]) for c in calls] == [
        (0.8, 1000, 1000), (0.95, 2000, draws), (0.95, 2000, draws)]  # fmt: skip
    assert [c["warm_start"] for c in calls] == [
        None, "draws at 0.8" if mixed else None, "draws at 0.95"]  # fmt: skip
    manifest = json.loads((out / "manifest.json").read_text())
    attempts = manifest["remedies"]["attempts"]
    assert [a["passed"] for a in attempts] == [False, True] and manifest["gate"]["passed"]
    assert [a["warm_start"] for a in attempts] == [False, mixed]
    result = json.loads((out / "result.json").read_text())
    assert result["meta"]["sampler"]["tune"] == 2000
    said = result["gate"]["automatic_remedies"][1]
    assert ("started warm from the attempt before, 500 tuning steps run" in said) is mixed


def test_a_funnel_in_the_regional_roi_is_refitted_non_centred_first(
    sim: tuple[Path, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A centred fit failing in the regional ROI spread is refitted with the regional log ROI
    non-centred at the SAME sampler settings (the same model: the spread's prior is not
    changed), which passes; the holdout refit samples non-centred too, and the manifest and
    the kept fit's spec say so."""
    from geo_truth import TruthGeoFit
    from omnimmm.mmm import geo as geo_model

    folder, world = sim
    specs: list[Any] = []
    calls: list[dict[str, Any]] = []

    class Funnel(TruthGeoFit):
        def __init__(self, panel: Any, centred: bool) -> None:
            super().__init__(world, world.panel.geos, panel)
            self.centred = centred

        def diagnostics(self) -> dict[str, Any]:
            if not self.centred:
                return super().diagnostics()
            return {**super().diagnostics(), "max_rhat": 1.015, "min_ess_bulk": 322.0,
                    "worst_rhat": "roi_spread[tv]", "worst_ess": "roi_spread[tv]"}  # fmt: skip

    def fit_geo(panel: Any, spec: Any, **kw: Any) -> TruthGeoFit:
        specs.append(spec)
        calls.append(kw)
        return Funnel(panel, spec.roi_centred)

    monkeypatch.setattr(geo_model, "fit_geo", fit_geo)
    out = tmp_path / "run"
    res = _invoke("run", str(folder / "plan.toml"), "--out", str(out))
    assert res.exit_code == 0, res.output
    assert [s.roi_centred for s in specs] == [True, False, False]  # fit, remedy, holdout
    assert {s.roi_spread_prior for s in specs} == {"gamma"}
    assert [(c["target_accept"], c["tune"], c["draws"]) for c in calls] == [(0.8, 1000, 1000)] * 3
    attempts = json.loads((out / "manifest.json").read_text())["remedies"]["attempts"]
    assert [a["passed"] for a in attempts] == [False, True]
    assert attempts[1]["settings"]["roi_centred"] is False
    assert "non-centred" in attempts[1]["remedy"] and "non-centred" in res.output
    line = re.search(r'id="roi-form">(.*?)</p>', (out / "report.html").read_text(), re.S)
    assert line and "median of 0.20" in line[1] and "a remedy switched the form" in line[1]


def test_a_pilot_that_finds_weak_regions_starts_non_centred(
    sim: tuple[Path, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """When the pilot finds the regions' own data weaker than their spread, the first fit
    samples the regional log ROI non-centred (no centred attempt to fail first), the
    holdout refit keeps that form without a second pilot, and the manifest says why."""
    from geo_truth import TruthGeoFit
    from omnimmm.mmm import geo as geo_model

    folder, world = sim
    asked = no_pilot(monkeypatch, centred=False)
    specs: list[Any] = []

    def fit_geo(panel: Any, spec: Any, **kw: Any) -> TruthGeoFit:
        specs.append(spec)
        return TruthGeoFit(world, world.panel.geos, panel)

    monkeypatch.setattr(geo_model, "fit_geo", fit_geo)
    out = tmp_path / "run"
    res = _invoke("run", str(folder / "plan.toml"), "--out", str(out))
    assert res.exit_code == 0, res.output
    assert [s.roi_centred for s in specs] == [False, False]  # fit, holdout refit
    assert len(asked) == 1 and asked[0].n_weeks == N_WEEKS
    manifest = json.loads((out / "manifest.json").read_text())
    form = manifest["stages"]["fits"]["roi_form"]
    assert form["centred"] is False and form["median_shrinkage"] == 0.9
    assert set(form["shrinkage"]) == set(world.panel.channels)
    attempts = manifest["remedies"]["attempts"]
    assert len(attempts) == 1 and attempts[0]["settings"]["roi_centred"] is False
    assert "sampled non-centred" in " ".join(res.output.split())
    report = (out / "report.html").read_text()
    line = re.search(r'<p class="small muted" id="roi-form">(.*?)</p>', report, re.S)
    assert line and "sampled non-centred" in line[1] and "median of 0.90 over" in line[1]
    assert "remedy switched" not in line[1]


@pytest.mark.parametrize("fixable", [True, False])
def test_a_geo_backtest_origin_that_fails_the_gate_is_remedied_and_reported(
    sim: tuple[Path, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fixable: bool
) -> None:
    """A backtest origin whose geo refit diverges is refitted with the run's remedies
    (target_accept 0.95 after 0.8); one that never passes is reported in ``fits[]``, and
    the backtest still writes its tables (it reports the gate, as the national one does)."""
    from geo_truth import TruthGeoFit
    from omnimmm.mmm import geo as geo_model

    folder, world = sim
    calls: list[float] = []

    class Diverging(TruthGeoFit):
        def __init__(self, panel: Any, accept: float) -> None:
            super().__init__(world, world.panel.geos, panel)
            self.bad = accept < 0.9 or not fixable

        def diagnostics(self) -> dict[str, Any]:
            return {**super().diagnostics(), "divergences": 40 if self.bad else 0,
                    "divergence_rate": 0.01 if self.bad else 0.0}  # fmt: skip

    def fit_geo(panel: Any, spec: Any, **kw: Any) -> TruthGeoFit:
        calls.append(kw["target_accept"])
        return Diverging(panel, kw["target_accept"])

    monkeypatch.setattr(geo_model, "fit_geo", fit_geo)
    monkeypatch.setattr(geo_model.GeoFit, "forecast", TruthGeoFit.forecast, raising=False)
    out = tmp_path / "bt"
    res = _invoke("backtest", str(folder / "plan.toml"), "--out", str(out), "--origins", "1",
                  "--horizon", "2")  # fmt: skip
    assert res.exit_code == 0, res.output
    fit = json.loads((out / "backtest.json").read_text())["fits"][0]
    assert fit["gate_passed"] is fixable
    assert [r["settings"]["target_accept"] for r in fit["remedies"]][:1] == [0.95]
    assert calls[:2] == [0.8, 0.95] and (len(calls) == 2) is fixable
    assert (out / "tables" / "backtest.csv").is_file()
