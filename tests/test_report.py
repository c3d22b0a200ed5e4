"""The report layer on a hand-built result (no sampling): JSON contract, escaping, XLSX, storage."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from omnimmm.report import (
    RunResult,
    build_recommendation,
    load_result,
    render_html,
    save_result,
    write_xlsx,
)
from omnimmm.report.sections import fmt_pct, fmt_ratio, summary_lines

EVIL = "<script>alert(1)</script>"
OUTCOMES = ["online_revenue", '<img src=x onerror="alert(2)">']


def make_result(names: tuple[str, str] = ("tv", EVIL)) -> RunResult:
    """Two channels, two outcomes, numbers chosen by hand so every table is consistent."""
    dates = pd.date_range("2024-01-01", periods=30, freq="7D")
    a, b = names
    roi = pd.DataFrame(
        {
            "channel": [a, b],
            "spend": [1_000_000.0, 500_000.0],
            "contribution": [2_500_000.0, 600_000.0],
            "mean": [2.5, 1.2],
            "low": [1.5, 0.4],
            "high": [3.6, 2.1],
        }
    )
    for o, share in zip(OUTCOMES, (0.3, 0.7), strict=True):
        roi[f"{o}_mean"] = roi["mean"] * share
        roi[f"{o}_low"] = roi["low"] * share
        roi[f"{o}_high"] = roi["high"] * share
    mroi = roi.copy()
    mroi[["mean", "low", "high"]] = mroi[["mean", "low", "high"]] * 0.5
    alloc = pd.DataFrame(
        {
            "name": [a, b],
            "kind": ["offline", "online"],
            "current": [300_000.0, 200_000.0],
            "recommended": [360_000.0, 140_000.0],
            "change": [60_000.0, -60_000.0],
            "lower": [150_000.0, 100_000.0],
            "upper": [450_000.0, 300_000.0],
            "mroi_current_mean": [1.8, 0.7],
            "mroi_current_low": [1.0, 0.2],
            "mroi_current_high": [2.7, 1.3],
            "mroi_recommended_mean": [1.4, 1.0],
            "mroi_recommended_low": [0.8, 0.4],
            "mroi_recommended_high": [2.2, 1.7],
        }
    )
    curves = []
    for name, cur, rec in ((a, 300_000.0, 360_000.0), (b, 200_000.0, 140_000.0)):
        grid = np.linspace(0, 2 * cur, 9)
        for s, point in [*((g, "") for g in grid), (cur, "current"), (rec, "recommended")]:
            v = 3 * cur * (1 - np.exp(-s / cur))
            curves.append({"channel": name, "spend": s, "mean": v, "low": 0.7 * v,
                           "high": 1.3 * v, "point": point})  # fmt: skip
    dec = []
    for o in OUTCOMES:
        for group, comp, level in (("baseline", "intercept", 1e6), ("channel", a, 2e5),
                                   ("channel", b, 5e4), ("synergy", f"{a} x {b}", 1e4)):  # fmt: skip
            dec += [{"date": d, "outcome": o, "group": group, "component": comp,
                     "value": level * (1 + 0.1 * np.sin(i))} for i, d in enumerate(dates)]  # fmt: skip
    fit = pd.concat(
        [pd.DataFrame({"date": dates, "outcome": o, "actual": 1e6 + 1e4 * np.arange(30),
                       "fitted": 1e6 + 1e4 * np.arange(30) + 5e3}) for o in OUTCOMES],
        ignore_index=True,
    )  # fmt: skip
    ho_dates = dates[-6:]
    holdout = pd.concat(
        [pd.DataFrame({"date": ho_dates, "outcome": o, "actual": 1.2e6, "mean": 1.1e6,
                       "low": 1.0e6, "high": 1.3e6}) for o in OUTCOMES],
        ignore_index=True,
    )  # fmt: skip
    base = pd.concat(
        [pd.DataFrame({"date": ho_dates, "outcome": o, "method": m, "forecast": f})
         for o in OUTCOMES for m, f in (("seasonal_naive", 1.0e6), ("ets", 1.05e6))],
        ignore_index=True,
    )  # fmt: skip
    scores = pd.DataFrame(
        {"method": ["omnimmm"] * 2 + ["seasonal_naive"] * 2 + ["ets"] * 2,
         "outcome": OUTCOMES * 3, "variant": "", "mape": [0.083, 0.083, 0.167, 0.167, 0.125, 0.125],
         "smape": 0.1, "rmse": 1e5, "bias": [0.031, -0.012, 0.16, 0.16, -0.08, -0.08]}
    )  # fmt: skip
    return RunResult(
        meta={
            "plan_path": "/plans/q3 <b>plan</b>.toml",
            "data_path": "/data/world.csv",
            "channels": [{"name": a, "kind": "offline"}, {"name": b, "kind": "online"}],
            "outcomes": OUTCOMES,
            "synergies": [[a, b]],
            "weeks": {"first": "2024-01-01", "last": "2024-07-22", "n": 30},
            "horizon_weeks": 8,
            "total": 500_000.0,
            "total_from_plan": False,
            "max_change": 0.5,
            "objective": "revenue",
            "margin": 1.0,
            "risk": "mean",
            "risk_level": 0.1,
            "online_share": None,
            "seed": 3,
            "fast": False,
            "sampler": {"chains": 2, "draws": 100, "tune": 100, "seed": 3, "sampler": "nutpie"},
            "n_draws_analysis": 200,
            "created": "2026-01-01",
        },
        horizon_value={
            "current": {"mean": 1_200_000.0, "low": 900_000.0, "high": 1_500_000.0},
            "recommended": {"mean": 1_290_000.0, "low": 950_000.0, "high": 1_610_000.0},
            "uplift": {"mean": 90_000.0, "low": 20_000.0, "high": 150_000.0},
        },
        diagnostics={
            "rhat_max": 1.004,
            "ess_bulk_min": 812.0,
            "ess_tail_min": 700.0,
            "divergences": 0,
            "n_draws": 1000,
            "n_chains": 4,
            "holdout_mape": 0.083,
        },  # fmt: skip
        gate={
            "passed": True,
            "allowed": False,
            "fast": False,
            "failures": [],
            "remedies": [],
            "message": "",
            "thresholds": {"rhat_max": 1.01, "ess_bulk_min": 400.0, "divergence_rate_max": 0.001},
        },  # fmt: skip
        holdout={
            "weeks": 6,
            "mape": dict.fromkeys(OUTCOMES, 0.083),
            "mape_mean": 0.083,
            "baseline_mape_mean": {"seasonal_naive": 0.167, "ets": 0.125},
            "best_baseline": "ets",
            "beats_baselines": True,
            "first_week": "2024-06-17",
        },  # fmt: skip
        optimizer={"binding": [f"{a}: max_change 0.5"], "solver": {}, "scenario": {}},
        precheck_messages=[f"{EVIL} spends nothing in 85% of weeks"],
        tables={
            "allocation": alloc,
            "roi": roi,
            "mroi": mroi,
            "synergy": pd.DataFrame(
                [
                    {
                        "pair": f"{a} x {b}",
                        "outcome": o,
                        "revenue_mean": 1e5,
                        "revenue_low": 1e4,
                        "revenue_high": 2e5,
                    }
                    for o in OUTCOMES
                ]
            ),  # fmt: skip
            "curves": pd.DataFrame(curves),
            "decomposition": pd.DataFrame(dec),
            "fit": fit,
            "holdout": holdout,
            "baseline_forecasts": base,
            "holdout_scores": scores,
        },
    )


def test_json_contract_from_a_known_result() -> None:
    doc = build_recommendation(make_result())
    assert list(doc) == ["channels", "horizon_value", "diagnostics", "plan"]
    tv = doc["channels"][0]
    assert tv == {
        "name": "tv",
        "kind": "offline",
        "current_spend": 300_000.0,
        "recommended_spend": 360_000.0,
        "roi": {"mean": 2.5, "low": 1.5, "high": 3.6},
        "roi_by_outcome": {
            OUTCOMES[0]: {
                "mean": pytest.approx(0.75),
                "low": pytest.approx(0.45),
                "high": pytest.approx(1.08),
            },
            OUTCOMES[1]: {
                "mean": pytest.approx(1.75),
                "low": pytest.approx(1.05),
                "high": pytest.approx(2.52),
            },
        },  # fmt: skip
        "mroi": {"mean": 1.8, "low": 1.0, "high": 2.7},
    }
    assert doc["channels"][1]["name"] == EVIL  # JSON keeps the name as given
    assert doc["horizon_value"]["recommended"] == {"mean": 1_290_000.0, "low": 950_000.0,
                                                   "high": 1_610_000.0}  # fmt: skip
    assert doc["diagnostics"] == {"rhat_max": 1.004, "ess_bulk_min": 812.0, "divergences": 0,
                                  "holdout_mape": 0.083}  # fmt: skip
    assert doc["plan"] == {"horizon_weeks": 8, "total": 500_000.0, "max_change": 0.5}


def test_missing_diagnostics_become_null_not_nan() -> None:
    result = make_result()
    result.diagnostics["rhat_max"] = float("nan")
    text = json.dumps(build_recommendation(result), allow_nan=False)
    assert '"rhat_max": null' in text


def test_every_user_string_is_escaped() -> None:
    html = render_html(make_result())
    assert "<script" not in html.lower()
    assert "<img" not in html.lower()
    assert "<b>plan</b>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "&lt;img src=x onerror=" in html


def test_headline_numbers_and_verdicts() -> None:
    html = render_html(make_result())
    assert 'id="uplift">90,000<' in html
    assert "[20,000, 150,000]" in html
    assert "Quality gate passed" in html
    assert "+7.5%" in html  # 90,000 on 1,200,000
    assert "The model beats the baselines." in html
    assert "<td>+3.1%</td></tr>" in html  # the model's holdout bias, signed
    for v in ("360,000", "140,000", fmt_ratio(2.5), fmt_ratio(1.2), fmt_pct(0.083)):
        assert v in html


def test_failed_gate_is_the_first_thing_said() -> None:
    result = make_result()
    result.gate.update(passed=False, allowed=True, fast=True,
                       failures=["min bulk ESS is 35 (on beta), below 400"],
                       remedies=["run longer", "tighten priors"])  # fmt: skip
    result.holdout["beats_baselines"] = False
    html = render_html(result)
    gate_at = html.index("Quality gate FAILED")
    assert gate_at < html.index('id="headline"')
    assert "<li>run longer</li>" in html
    assert "does not beat the simple baselines" in html
    lines = summary_lines(result, Path("out"))
    assert lines[0].startswith("quality gate: FAILED (fast mode)")
    assert "does NOT beat" in lines[1]


def test_xlsx_cover_and_numeric_sheets(tmp_path: Path) -> None:
    import openpyxl

    path = write_xlsx(make_result(), tmp_path / "r.xlsx")
    wb = openpyxl.load_workbook(path)
    assert wb.sheetnames[0] == "Cover"
    cover = {r[0]: r[1:] for r in wb["Cover"].iter_rows(values_only=True) if r[0]}
    assert cover["budget over the horizon"][0] == 500_000.0
    assert cover["uplift"][:3] == (90_000.0, 20_000.0, 150_000.0)
    rows = list(wb["Recommendation"].iter_rows(min_row=1, values_only=True))
    header = rows[0]  # tables start at A1: header in row 1
    assert rows[2][header.index("name")] == EVIL  # stored as text, not markup
    assert rows[1][header.index("recommended")] == 360_000.0
    fit = list(wb["Fit"].iter_rows(min_row=2, max_row=2, values_only=True))[0]
    assert fit[0].year == 2024 and isinstance(fit[2], int | float)


def test_result_round_trips_through_a_directory(tmp_path: Path) -> None:
    result = make_result(names=("NA", "1"))  # names that pandas would turn into NaN or 1
    save_result(result, tmp_path)
    back = load_result(tmp_path)
    assert back.meta == json.loads(json.dumps(result.meta))
    assert list(back.table("allocation")["name"]) == ["NA", "1"]
    assert build_recommendation(back) == build_recommendation(result)
    assert render_html(back) == render_html(result)
