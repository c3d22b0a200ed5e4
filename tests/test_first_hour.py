"""Issue 23, "the first hour": what a new user sees on the files and commands they try.

Each test runs the command (or the function behind it) on the kind of file users bring and
checks what is printed: no traceback, the file/key/flag named, the documented exit code.
"""

from __future__ import annotations

import dataclasses
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from omnimmm.cli import app
from omnimmm.errors import USAGE_EXIT, DataError

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "data" / "demo"
RETAILER = ROOT / "examples" / "real_retailer"
runner = CliRunner()


def omnimmm(*args: str, timeout: int = 300) -> subprocess.CompletedProcess:
    """The installed console script, piped (as in a log file or CI)."""
    exe = Path(sys.executable).with_name("omnimmm")
    return subprocess.run(
        [str(exe), *args], capture_output=True, text=True, timeout=timeout, cwd=ROOT
    )


@pytest.fixture
def cli(capsys):
    """What the console script does (``main`` -> ``run_app``), in this process: returns
    exit code, stdout and stderr like a finished subprocess (output is not a terminal)."""
    from omnimmm.console import run_app

    def invoke(*args: str) -> subprocess.CompletedProcess:
        capsys.readouterr()
        code = run_app(app, list(args))
        out = capsys.readouterr()
        return subprocess.CompletedProcess(list(args), code, out.out, out.err)

    return invoke


def _no_traceback(proc: subprocess.CompletedProcess) -> None:
    assert "Traceback" not in proc.stdout + proc.stderr, proc.stderr[-3000:]


def demo_plan(tmp_path: Path, data: Path | None = None, **lines: str) -> Path:
    text = (DEMO / "plan.toml").read_text(encoding="utf-8")
    text = text.replace('path = "world.csv"', f'path = "{(data or DEMO / "world.csv").as_posix()}"')
    for old, new in lines.items():
        assert old in text
        text = text.replace(old, new)
    path = tmp_path / "plan.toml"
    path.write_text(text, encoding="utf-8")
    return path


# --------------------------------------------------------------------------- 1, 4, 12: lifecycle


@pytest.fixture(scope="module")
def shop(tmp_path_factory) -> Path:
    """Transactions as shop systems export them: numeric member ids, Chinese store names,
    amounts with thousands separators; written as .xlsx and as GBK semicolon CSV."""
    rng = np.random.default_rng(5)
    rows = []
    for cid in range(1, 151):
        rate = rng.uniform(0.005, 0.04)
        day = pd.Timestamp("2023-01-01") + pd.Timedelta(days=int(rng.integers(0, 200)))
        while day < pd.Timestamp("2024-12-31"):
            amount = float(rng.gamma(2.0, 600.0))
            rows.append((cid, day.strftime("%Y-%m-%d %H:%M"), f"{amount:,.2f}",
                         rng.choice(["上海南京路店", "北京王府井店"])))  # fmt: skip
            day += pd.Timedelta(days=int(rng.geometric(rate)) + 1)
    tx = pd.DataFrame(rows, columns=["会员号", "ts", "amount", "门店"])
    d = tmp_path_factory.mktemp("shop")
    tx.to_excel(d / "orders.xlsx", index=False)
    text = tx.to_csv(sep=";", index=False)
    (d / "orders_gbk.csv").write_bytes(text.encode("gbk"))
    assert any("," in a for a in tx["amount"])  # "3,860.00"-style amounts are in there
    return d


def test_lifecycle_reader_takes_gbk_semicolon_csv_with_thousands(shop: Path) -> None:
    from omnimmm.lifecycle.features import ColumnMap, load_transactions

    cols = ColumnMap(customer_id="会员号")
    gbk = load_transactions(shop / "orders_gbk.csv", columns=cols).frame()
    xlsx = load_transactions(shop / "orders.xlsx", columns=cols).frame()
    assert len(gbk) == len(xlsx) > 1000
    assert gbk["amount"].max() > 1000 and gbk["amount"].notna().all()  # "3,860.00" read
    assert np.allclose(np.sort(gbk["amount"]), np.sort(xlsx["amount"]))
    assert set(gbk["customer_id"]) == {str(i) for i in range(1, 151)}


def test_lifecycle_score_on_excel(shop: Path, tmp_path: Path, cli) -> None:
    name = "orders.xlsx"
    out = tmp_path / "scores"
    proc = cli(
        "lifecycle", "score", "--transactions", str(shop / name), "--as-of", "2024-10-31",
        "--horizon-days", "60", "--out", str(out), "--customer-id-col", "会员号", "--fast",
    )  # fmt: skip
    _no_traceback(proc)
    assert proc.returncode == 0, proc.stderr
    # AUC to 3 decimals next to the RFM baseline, for both models
    assert re.search(r"repurchase: validation AUC \d\.\d{3}, RFM baseline \d\.\d{3}", proc.stdout)
    assert re.search(r"churn: validation AUC \d\.\d{3}, RFM baseline \d\.\d{3}", proc.stdout)
    assert not re.search(r"\d\.\d{6}", proc.stdout)
    ids = pd.read_csv(out / "scores.csv", dtype={"customer_id": str})["customer_id"]
    assert ids.astype(int).is_monotonic_increasing  # 1, 2, ..., 10, not 1, 10, 100, 2
    metrics = json.loads((out / "metrics.json").read_text())
    for target in ("repurchase", "churn"):
        auc = metrics[target]["validation"]["roc_auc"]
        base = metrics[target]["baseline_rfm_logistic"]["roc_auc"]
        line = next(ln for ln in proc.stdout.splitlines() if ln.strip().startswith(target))
        assert ("the RFM baseline scored higher" in line) == (base > auc)


def test_score_line_says_when_the_baseline_wins() -> None:
    from omnimmm.console import lifecycle_score_lines

    metrics = {
        "as_of": "2024-06-30",
        "repurchase": {
            "validation": {"roc_auc": 0.8152119589829849},
            "baseline_rfm_logistic": {"roc_auc": 0.8202},
        },
        "churn": {"validation": {"roc_auc": 0.9}, "baseline_rfm_logistic": {"roc_auc": 0.7}},
    }
    lines = lifecycle_score_lines(metrics, 1234, Path("out"))
    assert lines[1].startswith("  repurchase: validation AUC 0.815, RFM baseline 0.820 -- ")
    assert "the RFM baseline scored higher" in lines[1]
    assert lines[2] == "  churn: validation AUC 0.900, RFM baseline 0.700"


def test_lifecycle_xls_is_named_not_a_traceback(tmp_path: Path, cli) -> None:
    bad = tmp_path / "orders.xls"
    bad.write_bytes(b"\xd0\xcf\x11\xe0" + b"\x00" * 600)
    proc = cli("lifecycle", "score", "--transactions", str(bad), "--as-of", "2024-06-30",
                   "--horizon-days", "30", "--out", str(tmp_path / "o"))  # fmt: skip
    _no_traceback(proc)
    assert proc.returncode == 3
    assert proc.stderr.startswith(f"error: {bad}: transactions file (--transactions or ")
    assert "lifecycle.transactions): legacy Excel" in proc.stderr
    assert "save it as .xlsx or as CSV (UTF-8)" in proc.stderr


# --------------------------------------------------------------------------- 3: gate message


def test_gate_failure_names_channels_and_allow_failure() -> None:
    import arviz as az
    import xarray as xr

    from omnimmm.mmm.diagnostics import Diagnostics, _extreme, quality_gate

    rng = np.random.default_rng(0)
    draws = rng.normal(size=(2, 60, 3))
    draws[1, :, 1] += 4.0  # chains disagree on the second channel only
    post = xr.Dataset(
        {
            "roi_total_log__": (("chain", "draw", "roi_total_log___dim_0"), draws),
            "roi_total": (("chain", "draw", "channel_roi"), np.exp(draws)),
        },
        coords={"channel_roi": ["tv", "电视购物", "search"]},
    )
    rhat = az.rhat(post)
    flat = {v: np.asarray(rhat[v]).ravel() for v in rhat.data_vars}
    value, where = _extreme(flat, post.isel(chain=0, draw=0, drop=True), largest=True)
    assert value > 1.5
    assert where == "ROI of channel 电视购物"
    diag = Diagnostics(value, 50.0, 50.0, 0, 60, 2, "nutpie", where, where)
    gate = quality_gate(diag, SimpleNamespace(**{**vars(_gate()), "allow_failure": True}))
    assert "on the ROI of channel 电视购物" in gate.message
    assert "_log__" not in gate.message
    assert "allow_failure = true under [gate]" in gate.message


def _gate():
    from omnimmm.mmm.diagnostics import DEFAULT_GATE

    return DEFAULT_GATE


# --------------------------------------------------------------------------- 2, 10: report


def _result(**changes):
    sys.path.insert(0, str(Path(__file__).parent))
    from test_report import make_result

    result = make_result(names=("电视广告", "搜索"))
    return dataclasses.replace(result, **changes) if changes else result


def test_failed_model_headline_is_withheld() -> None:
    from omnimmm.report import render_html
    from omnimmm.report.sections import summary_lines

    ok = _result()
    failed_gate = {**ok.gate, "passed": False, "allowed": True,
                   "failures": ["max R-hat is 1.2 (on the ROI of channel 电视广告), above 1.01"],
                   "remedies": ["run longer: raise model.tune", "set allow_failure"]}  # fmt: skip
    failed = dataclasses.replace(ok, gate=failed_gate)
    html = render_html(failed)
    head = html[
        html.index('id="headline"') - 40 : html.index("</section>", html.index('id="headline"'))
    ]
    assert 'class="card withheld"' in head
    assert "No recommendation to act on: the model failed its quality gate." in head
    assert "not for decisions" in head
    assert "ROI of channel 电视广告" in head and "run longer: raise model.tune" in head
    assert "What the failed model would do" in head
    assert 'class="card withheld"' not in render_html(ok)
    lines = summary_lines(failed, Path("out"))
    assert any(ln.startswith("NOT FOR DECISIONS") for ln in lines)


def test_single_outcome_report_has_no_cross_effects_or_duplicate_roi() -> None:
    from omnimmm.report import render_html

    one = _result()
    one = dataclasses.replace(one, meta={**one.meta, "outcomes": ["online_revenue"]})
    html = render_html(one)
    assert "ROI on online_revenue" not in html
    assert "Bold: cross effects" not in html
    two = render_html(_result())
    assert "ROI on online_revenue" in two and "Bold: cross effects" in two


def test_single_outcome_xlsx_has_no_duplicate_roi_columns(tmp_path: Path) -> None:
    import openpyxl

    from omnimmm.report import write_xlsx

    one = _result()
    one = dataclasses.replace(one, meta={**one.meta, "outcomes": ["online_revenue"]})
    for result, name in ((one, "one.xlsx"), (_result(), "two.xlsx")):
        write_xlsx(result, tmp_path / name)
    header = [c.value for c in openpyxl.load_workbook(tmp_path / "one.xlsx")["ROI"][1]]
    assert "mean" in header and not any(str(h).startswith("online_revenue_") for h in header)
    header = [c.value for c in openpyxl.load_workbook(tmp_path / "two.xlsx")["ROI"][1]]
    assert "online_revenue_mean" in header  # two outcomes: the split is information


def test_report_font_stack_and_chart_width() -> None:
    from omnimmm.report import render_html

    html = render_html(_result())
    css = html[html.index("<style>") : html.index("</style>")]
    assert "Noto Sans CJK SC" in css and "Microsoft YaHei" in css and "PingFang SC" in css
    svgs = re.findall(r"<svg [^>]*>", html)
    assert svgs and all("Noto Sans CJK SC" in s and "max-width" not in s for s in svgs)
    assert "@media (max-width: 600px)" in css


# --------------------------------------------------------------------------- 5: budget.total


def test_validate_rejects_the_budget_run_rejects(tmp_path: Path, cli) -> None:
    plan = demo_plan(tmp_path, **{"horizon_weeks = 13": "horizon_weeks = 13\ntotal = 900000000"})
    checked = cli("validate", str(plan))
    ran = cli("run", str(plan), "--out", str(tmp_path / "run"), "--fast")
    for proc in (checked, ran):
        _no_traceback(proc)
        assert proc.returncode == 4
        assert proc.stderr.startswith(f"error: {plan}: [budget] total: sum of channel maximums")
        assert 'objective = "profit" under [budget]' in proc.stderr
        assert "Error:" not in proc.stderr
    assert checked.stderr == ran.stderr  # same check, same words
    assert not (tmp_path / "run").exists()


# --------------------------------------------------------------------------- 6: panel readers


def test_panel_as_excel_and_semicolon_csv_validates(tmp_path: Path, cli) -> None:
    world = pd.read_csv(DEMO / "world.csv")
    world.to_excel(tmp_path / "world.xlsx", index=False)
    (tmp_path / "world_semi.csv").write_bytes(world.to_csv(sep=";", index=False).encode("gbk"))
    for name in ("world.xlsx", "world_semi.csv"):
        sub = tmp_path / name.replace(".", "_")
        sub.mkdir()
        plan = demo_plan(sub, tmp_path / name)
        proc = cli("validate", str(plan))
        _no_traceback(proc)
        assert proc.returncode == 0, proc.stderr
        assert "156 weeks" in proc.stdout
        from omnimmm.config import load_plan

        assert load_plan(plan).data.file_format == ("excel" if name.endswith("xlsx") else "csv")


def test_long_geo_panel_says_why_and_what_to_do(tmp_path: Path, cli) -> None:
    world = pd.read_csv(DEMO / "world.csv")
    geo = pd.concat([world.assign(geo=f"geo{g}") for g in range(40)], ignore_index=True)
    geo = geo.sort_values(["date", "geo"])
    geo.to_csv(tmp_path / "geo.csv", index=False)
    proc = cli("validate", str(demo_plan(tmp_path, tmp_path / "geo.csv")))
    _no_traceback(proc)
    assert proc.returncode == 3
    msg = proc.stderr
    assert "appears 40 times (rows 2, 3, 4, 5, 6, 7, 8, 9, ...)" in msg
    assert 'Every date has 40 rows (one per value of "geo")' in msg
    assert "long panel" in msg and "Sum spend and outcomes per week" in msg


def test_odd_panel_files_are_named_errors(tmp_path: Path, cli) -> None:
    (tmp_path / "world.xls").write_bytes(b"\xd0\xcf\x11\xe0" + b"\x00" * 100)
    (tmp_path / "world.numbers").write_bytes(b"PK\x03\x04" + b"\x00" * 100)
    for name, words in (("world.xls", "legacy Excel (.xls) is not read"),
                        ("world.numbers", "Apple Numbers files are not read")):  # fmt: skip
        sub = tmp_path / name.replace(".", "_")
        sub.mkdir()
        proc = cli("validate", str(demo_plan(sub, tmp_path / name)))
        _no_traceback(proc)
        assert proc.returncode == 3
        assert f"{tmp_path / name}: media panel (data.path in the plan): {words}" in proc.stderr


# --------------------------------------------------------------------------- 7: glitches


def test_plan_key_in_brackets_survives_printing(tmp_path: Path) -> None:
    tx = tmp_path / "tx.csv"
    tx.write_text("cust,ts,amount\n1,2024-01-01,5\n", encoding="utf-8")
    result = runner.invoke(app, ["lifecycle", "score", "--transactions", str(tx), "--as-of",
                                 "2024-06-30", "--horizon-days", "30", "--out",
                                 str(tmp_path / "o")])  # fmt: skip
    assert result.exit_code == 3
    text = " ".join(result.output.split())
    assert "(--customer-id-col or the plan's [lifecycle.columns] customer_id" in text


def test_role_clash_names_the_flags() -> None:
    from omnimmm.lifecycle.features import ColumnMap

    with pytest.raises(DataError) as err:
        ColumnMap(customer_id="member", order_id="member")
    assert "'member' is given to customer_id (--customer-id-col) and order_id (--order-id-col)" in (
        str(err.value)
    )


def test_short_history_names_real_flags(tmp_path: Path) -> None:
    tx = tmp_path / "tx.csv"
    days = pd.date_range("2024-01-01", periods=120, freq="D")
    pd.DataFrame({"customer_id": np.arange(120) % 7, "ts": days, "amount": 10.0}).to_csv(
        tx, index=False
    )

    def score(as_of: str) -> str:
        result = runner.invoke(app, ["lifecycle", "score", "--transactions", str(tx), "--as-of",
                                     as_of, "--horizon-days", "30", "--out",
                                     str(tmp_path / "o")])  # fmt: skip
        assert result.exit_code == 3, result.output
        return " ".join(result.output.split())

    # 99 days: too short even for the shortest plan tried (2 cutoffs, 30 days of history)
    text = score("2024-04-08")
    assert "--n-cutoffs, now 2; --step-days, now 30" in text
    assert "--min-history-days, now 30" in text
    # 120 days fit that plan, but every customer buys weekly: labels of one class, refused
    text = score("2024-04-29")
    assert "every customer bought again within 30 days" in text and "one class" in text
    assert not (tmp_path / "o").exists()
    help_text = runner.invoke(app, ["lifecycle", "score", "--help"]).output
    for flag in ("--n-cutoffs", "--step-days", "--min-history-days"):
        assert flag in help_text


# --------------------------------------------------------------------------- 8, 9: run dir


def test_plan_toml_is_the_plan_as_used(tmp_path: Path) -> None:
    import tomllib

    from omnimmm import run as pipeline
    from omnimmm.run.drivers import write_plan_stage

    plan = demo_plan(tmp_path)
    prep = pipeline.prepare(plan, fast=True)
    write_plan_stage(pipeline.RunState(prep=prep, work=tmp_path))
    used = tomllib.loads((tmp_path / "plan.toml").read_text(encoding="utf-8"))
    assert used["data"]["format"] == "csv"
    assert all("adstock" in c and "l_max" in c for c in used["channels"])
    s = pipeline.FAST_SAMPLER
    assert (used["model"]["chains"], used["model"]["draws"], used["model"]["tune"]) == (
        s["chains"], s["draws"], s["tune"])  # fmt: skip
    # the stored plan still identifies the same fit (omnimmm optimize DIR re-reads it)
    assert pipeline.prepare(tmp_path / "plan.toml", fast=True).fit_key == prep.fit_key


def test_report_command_names_the_run_directory(fitted_run: Path, tmp_path: Path) -> None:
    run = tmp_path / "run"
    shutil.copytree(fitted_run, run)
    result = runner.invoke(app, ["report", str(run)])
    assert result.exit_code == 0, result.output
    assert f"report.xlsx into {run}" in result.output
    assert ".partial-" not in result.output


def test_console_output_is_not_hard_wrapped_when_piped(cli) -> None:
    proc = cli("validate", str(RETAILER / "plan.toml"))
    _no_traceback(proc)
    assert proc.returncode == 0, proc.stderr
    events = next(ln for ln in proc.stdout.splitlines() if ln.startswith("Controls:"))
    assert len(events) > 200 and "holiday_christmas_day" in events  # one line, not wrapped


# --------------------------------------------------------------------------- 11: report.xlsx


def test_xlsx_tables_start_at_a1_with_formats(fitted_run: Path) -> None:
    import openpyxl

    book = fitted_run / "report.xlsx"
    for sheet in ("Recommendation", "ROI", "Holdout scores"):
        frame = pd.read_excel(book, sheet_name=sheet)
        assert not any(str(c).startswith("Unnamed") for c in frame.columns), sheet
        assert len(frame) >= 1
    wb = openpyxl.load_workbook(book)
    cover = {r[0].value: r[1] for r in wb["Cover"].iter_rows(min_col=1, max_col=2) if r[0].value}
    assert cover["horizon (weeks)"].number_format == "#,##0"
    assert cover["max change per channel"].number_format == "0.0%"
    assert cover["holdout MAPE (mean over outcomes)"].number_format == "0.0%"
    ws = wb["Holdout scores"]
    header = [c.value for c in ws[1]]
    assert ws.cell(2, header.index("mape") + 1).number_format == "0.0%"
    ws = wb["Recommendation"]
    header = [c.value for c in ws[1]]
    assert ws.cell(2, header.index("current") + 1).number_format == "#,##0"
    assert ws.cell(2, header.index("mroi_current_mean") + 1).number_format == "0.00"


# --------------------------------------------------------------------------- 12: CLI


def test_version_help_examples_and_usage_exit_code(cli) -> None:
    import omnimmm as pkg

    proc = cli("--version")
    assert proc.returncode == 0 and proc.stdout.startswith(f"omnimmm {pkg.__version__}")
    for cmd in (["validate"], ["run"], ["fit"], ["optimize"], ["report"], ["simulate"],
                ["lifecycle", "score"]):  # fmt: skip
        out = runner.invoke(app, [*cmd, "--help"]).output
        assert "Examples:" in out and "omnimmm " + cmd[0] in out, cmd
    bad = omnimmm("run", "plan.toml", "--bogus")
    assert bad.returncode == USAGE_EXIT == 64
    assert "error: no such option: --bogus" in bad.stderr
    assert "Traceback" not in bad.stderr
    missing = cli("validate")
    assert missing.returncode == 64 and "error: missing argument" in missing.stderr.lower()


def test_wrong_arguments_are_usage_errors_not_plan_errors(tmp_path: Path, cli) -> None:
    taken = tmp_path / "taken.txt"
    taken.write_text("x")
    tx = tmp_path / "tx.csv"
    tx.write_text("customer_id,ts,amount\n1,2024-01-01,5\n")
    cases = {
        ("optimize", str(tmp_path)): f"error: {tmp_path}: not an omnimmm run directory",
        ("report", str(tmp_path)): f"error: {tmp_path}: not an omnimmm run directory",
        ("run", str(DEMO / "plan.toml"), "--out", str(taken)): f"error: --out {taken}: exists",
        ("simulate", "--weeks", "10", "--out", str(tmp_path / "s")): "'--weeks'",
        ("lifecycle", "score", "--transactions", str(tx), "--as-of", "2024-01-01",
         "--horizon-days", "0", "--out", str(tmp_path / "o")): "--horizon-days",
    }  # fmt: skip
    for args, words in cases.items():
        proc = cli(*args)
        _no_traceback(proc)
        assert words in proc.stderr, (args, proc.stderr)
        assert proc.returncode in (64, 3), (args, proc.returncode)
        assert proc.returncode == (3 if args[0] == "lifecycle" else 64)


# --------------------------------------------------------------------------- README


def test_readme_bring_your_own_data_plan_validates(tmp_path: Path, cli) -> None:
    """The README's worked example, on the real retailer file as published."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index("## Bring your own data") :]
    plan = section[
        section.index("```toml\n") + 8 : section.index("```", section.index("```toml") + 7)
    ]
    data = ROOT / "../shared/data/real_retailer_weekly/data.csv"
    if not data.exists():
        pytest.skip("../shared/data is not available")
    path = tmp_path / "retailer.toml"
    path.write_text(plan.replace('"../shared/data/', f'"{(ROOT / "../shared/data").resolve()}/'))
    proc = cli("validate", str(path))
    _no_traceback(proc)
    assert proc.returncode == 0, proc.stderr
    assert "209 weeks, 2014-08-03 to 2018-07-29" in proc.stdout
    assert "Channels: 6" in proc.stdout


def test_run_summary_and_report_say_when_the_rfm_baseline_wins() -> None:
    from omnimmm.report.sections import lifecycle_vs_baseline, summary_lines

    base = _result()
    metrics = pd.DataFrame(
        {
            "target": ["repurchase"] * 2 + ["churn"] * 2,
            "metric": ["validation.roc_auc", "baseline_rfm_logistic.roc_auc"] * 2,
            "value": [0.8152119589829849, 0.8202, 0.91, 0.70],
        }
    )
    result = dataclasses.replace(base, tables={**base.tables, "lifecycle_metrics": metrics})
    rows = lifecycle_vs_baseline(result)
    assert rows == [
        {"target": "repurchase", "auc": "0.815", "baseline": "0.820", "loses": True},
        {"target": "churn", "auc": "0.910", "baseline": "0.700", "loses": False},
    ]
    lines = summary_lines(result, Path("out"))
    assert (
        "lifecycle repurchase: validation AUC 0.815, RFM baseline 0.820 -- the RFM baseline "
        "scored higher" in lines
    )
    assert "lifecycle churn: validation AUC 0.910, RFM baseline 0.700" in lines
