"""``omnimmm portfolio`` on a real Dask cluster: a scheduler and two worker processes started
with the ``dask scheduler`` / ``dask worker`` command-line tools on the loopback interface.

Four small simulated markets and one broken one: every good market's recommendation equals
its own ``omnimmm run`` at the same seed, the broken market is reported with its reason,
and the command exits non-zero naming it.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from omnimmm.cli import app
from omnimmm.errors import PORTFOLIO_FAILED_EXIT, PlanError
from omnimmm.report.portfolio import portfolio_html
from omnimmm.run.portfolio import markets_of
from pipeline_world import plan_text, world_frame, write_world

runner = CliRunner()

#: The tiny plan of the pipeline tests made tinier still: 60 weeks, 2 chains x 40 draws, no
#: holdout refit, no synergy (each market's run takes a few seconds once warm).
TINY = {
    "draws = 100": "draws = 40",
    "tune = 100": "tune = 40",
    "holdout_weeks = 8": "holdout_weeks = 0",
    'synergies = [["tv", "search"]]\n': "",
}
GOOD = {"north": 21, "south": 22, "east": 23, "west": 24}
BAD_COLUMN = "tv<b>spend"


def _write_markets(base: Path) -> tuple[dict[str, Path], Path]:
    plans = {}
    for name, seed in GOOD.items():
        folder = base / name
        plan = write_world(folder, frame=world_frame(weeks=60, seed=seed), plan=plan_text(**TINY))
        if name == "west":  # named by its stem, not its folder
            plan = plan.rename(folder / "west.toml")
        plans[name] = plan
    broken = write_world(
        base / "broken",
        frame=world_frame(weeks=60, seed=25),
        plan=plan_text(**TINY, **{'column = "tv_spend"': f'column = "{BAD_COLUMN}"'}),
    )
    return plans, broken


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is not None:
        return
    with_group = os.getpgid(proc.pid) == proc.pid
    try:
        if with_group:
            os.killpg(proc.pid, signal.SIGTERM)
        else:
            proc.terminate()
        proc.wait(timeout=10)
    except (subprocess.TimeoutExpired, ProcessLookupError):
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL) if with_group else proc.kill()
            proc.wait(timeout=10)


@contextlib.contextmanager
def _cluster(base: Path) -> Iterator[tuple[str, list[subprocess.Popen[bytes]]]]:
    """A ``dask scheduler`` and two ``dask worker`` processes on 127.0.0.1; yields the
    scheduler's address and the processes (scheduler first), and always stops all three."""
    from distributed import Client

    dask = str(Path(sys.executable).parent / "dask")
    sched_file = base / "scheduler.json"
    logs = []
    procs: list[subprocess.Popen[bytes]] = []

    def start(args: list[str], log: str) -> None:
        fh = (base / log).open("wb")
        logs.append(fh)
        procs.append(
            subprocess.Popen(
                [dask, *args], stdout=fh, stderr=subprocess.STDOUT, start_new_session=True
            )
        )

    try:
        start(["scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard",
               "--scheduler-file", str(sched_file)], "scheduler.log")  # fmt: skip
        deadline = time.monotonic() + 60
        while not sched_file.exists() and time.monotonic() < deadline:
            time.sleep(0.2)
        assert sched_file.exists(), (base / "scheduler.log").read_text()
        address = json.loads(sched_file.read_text())["address"]
        for k in (1, 2):
            start(["worker", address, "--nworkers", "1", "--nthreads", "1", "--host",
                   "127.0.0.1", "--no-dashboard", "--memory-limit", "4GB", "--name",
                   f"w{k}"], f"worker{k}.log")  # fmt: skip
        with Client(address, timeout=30) as client:
            client.wait_for_workers(2, timeout=60)
        yield address, procs
    finally:
        for proc in reversed(procs):
            _stop(proc)
        for fh in logs:
            fh.close()


@pytest.fixture(scope="module")
def dask_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A scheduler and two workers for the module (see :func:`_cluster`)."""
    with _cluster(tmp_path_factory.mktemp("dask")) as (address, _):
        yield address


def _spends(run_dir: Path) -> dict[str, float]:
    rec = json.loads((run_dir / "recommendation.json").read_text(encoding="utf-8"))
    return {c["name"]: float(c["recommended_spend"]) for c in rec["channels"]}


def _files(run_dir: Path) -> set[str]:
    return {str(p.relative_to(run_dir)) for p in run_dir.rglob("*") if p.is_file()}


def test_portfolio_on_dask_matches_each_markets_own_run(dask_cluster: str, tmp_path: Path) -> None:
    from omnimmm.run.drivers import run

    plans, broken = _write_markets(tmp_path / "in")
    out = tmp_path / "portfolio"
    args = ["portfolio", *map(str, plans.values()), str(broken), "--out", str(out)]
    current = sum(
        world_frame(weeks=60, seed=seed)[["tv_spend", "search_spend", "social_spend"]]
        .tail(8)
        .to_numpy()
        .sum()
        for seed in GOOD.values()
    )  # each market's spend over the last horizon (8 weeks)
    total = round(1.1 * current, 2)
    result = runner.invoke(app, [*args, "--scheduler", dask_cluster, "--total", str(total)])

    # Non-zero, naming the broken market and why.
    assert result.exit_code == PORTFOLIO_FAILED_EXIT, result.output
    text = " ".join(result.output.split())
    assert "broken" in text and BAD_COLUMN in text, result.output
    assert "Traceback" not in result.output

    doc = json.loads((out / "portfolio.json").read_text(encoding="utf-8"))
    assert doc["scheduler_address"] == dask_cluster
    rows = {r["name"]: r for r in doc["markets"]}
    assert list(rows) == [*GOOD, "broken"]
    assert rows["broken"]["status"] == "invalid"
    assert BAD_COLUMN in rows["broken"]["message"]
    assert rows["broken"]["current_total"] is None
    assert not (out / "markets" / "broken").exists()
    assert len({r["pid"] for r in rows.values()}) == 2  # both workers ran markets

    # The portfolio budget split across the good markets, each channel within its plan's +-50%.
    assert "total_error" not in doc
    assert sum(rows[n]["portfolio_total"] for n in GOOD) == pytest.approx(total, rel=1e-6)
    alloc = pd.read_csv(out / "portfolio_allocation.csv")
    assert set(alloc["market"]) == set(GOOD)
    assert (alloc["recommended"] <= alloc["current"] * 1.5 + 1e-6).all()
    assert (alloc["recommended"] >= alloc["current"] * 0.5 - 1e-6).all()

    html = (out / "report.html").read_text(encoding="utf-8")
    assert BAD_COLUMN not in html and "tv&lt;b&gt;spend" in html
    for name in GOOD:
        assert f'href="markets/{name}/report.html"' in html

    # Each good market against its own ``omnimmm run`` at the same seed.
    for name, plan in plans.items():
        row = rows[name]
        assert row["status"] == "ok", row
        market = out / "markets" / name
        ref = tmp_path / "ref" / name
        run(plan, ref)
        assert _files(market) == _files(ref)
        got, want = _spends(market), _spends(ref)
        assert got.keys() == want.keys()
        for channel, spend in want.items():
            assert got[channel] == pytest.approx(spend, rel=0.005), (name, channel)
        assert row["recommended_total"] == pytest.approx(sum(want.values()), rel=1e-9)
        assert row["horizon_value"]["recommended"]["mean"] > 0


def test_market_names_stems_folders_and_clashes(tmp_path: Path) -> None:
    a = tmp_path / "shanghai" / "plan.toml"
    b = tmp_path / "x" / "beijing.toml"
    c = tmp_path / "y" / "shanghai.toml"
    for p in (a, b, c):
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text("", encoding="utf-8")
    assert [m.name for m in markets_of([a, b])] == ["shanghai", "beijing"]
    with pytest.raises(PlanError, match="shanghai"):
        markets_of([a, c])
    with pytest.raises(PlanError, match="not found"):
        markets_of([tmp_path / "missing.toml"])


def test_portfolio_refuses_a_folder_it_did_not_write(tmp_path: Path) -> None:
    a = tmp_path / "north" / "plan.toml"
    a.parent.mkdir()
    a.write_text("", encoding="utf-8")
    out = tmp_path / "out"
    out.mkdir()
    (out / "notes.txt").write_text("mine", encoding="utf-8")
    result = runner.invoke(app, ["portfolio", str(a), "--out", str(out)])
    assert result.exit_code == 2, result.output
    assert "never overwritten" in " ".join(result.output.split())
    assert (out / "notes.txt").read_text(encoding="utf-8") == "mine"


def test_portfolio_report_escapes_every_string() -> None:
    evil = "<script>alert(1)</script>"
    doc = {
        "scheduler": evil,
        "created": "2026-01-01",
        "total": None,
        "markets": [
            {"name": evil, "status": "ok", "message": "", "current_total": 1.0,
             "recommended_total": 1.0, "report": f"markets/{evil}/report.html",
             "horizon_value": {"current": {"mean": 1.0}, "recommended": {"mean": 2.0}}},
            {"name": "b", "status": "error", "message": evil, "current_total": None,
             "recommended_total": None, "report": None, "horizon_value": None},
        ],
    }  # fmt: skip
    html = portfolio_html(doc)
    assert evil not in html
    assert html.count("&lt;script&gt;") == 4


@pytest.mark.slow
def test_a_worker_killed_mid_market_has_its_market_run_again(tmp_path: Path) -> None:
    from omnimmm.run.portfolio import portfolio

    plans, _ = _write_markets(tmp_path / "in")
    out = tmp_path / "portfolio"
    with _cluster(tmp_path) as (address, procs):
        done: dict[str, object] = {}
        thread = threading.Thread(
            target=lambda: done.update(s=portfolio(list(plans.values()), out, scheduler=address))
        )
        thread.start()
        # Wait until markets are being written, then SIGKILL the first worker (its nanny too).
        deadline = time.monotonic() + 120
        markets = out.parent
        while time.monotonic() < deadline and not any(
            p.name.startswith(".") and "partial" in p.name
            for q in markets.glob(".portfolio.partial-*/markets")
            for p in q.iterdir()
        ):
            time.sleep(0.2)
        time.sleep(2.0)
        os.killpg(procs[1].pid, signal.SIGKILL)
        thread.join(timeout=600)
        assert not thread.is_alive()
    summary = done["s"]
    rows = {r["name"]: r for r in summary.doc["markets"]}  # type: ignore[attr-defined]
    assert all(r["status"] == "ok" for r in rows.values()), rows
    assert len({r["pid"] for r in rows.values()}) >= 1
    for name in GOOD:
        assert (out / "markets" / name / "recommendation.json").is_file()
