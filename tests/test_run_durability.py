"""A run directory survives kills and races: a run killed with SIGKILL at any point leaves the
previous DIR byte for byte as it was and the next run succeeds (cleaning up after the killed
one); a second run into the same DIR exits at once naming the first; a model whose files were
edited, or that was fitted by other code, is never reused.

These drive the real command line in a subprocess, as a user (or a scheduler that kills jobs)
would.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from omnimmm.errors import RunDirBusyError
from omnimmm.run.reuse import reusable
from omnimmm.run.rundir import clean_stale, lock

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals and flock")


def _tree_digest(folder: Path) -> str:
    digest = hashlib.sha256()
    for p in sorted(folder.rglob("*")):
        digest.update(p.relative_to(folder).as_posix().encode())
        if p.is_file():
            digest.update(p.read_bytes())
    return digest.hexdigest()


def _hidden(parent: Path, name: str) -> list[str]:
    return sorted(p.name for p in parent.iterdir() if p.name.startswith(f".{name}."))


def _start(*args: str) -> subprocess.Popen[str]:
    env = {**os.environ, "COLUMNS": "200"}
    return subprocess.Popen(
        [sys.executable, "-m", "omnimmm.cli", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
        start_new_session=True,  # its own process group: the kill reaches every child
    )


def _wait_for_line(proc: subprocess.Popen[str], needle: str, timeout: float = 300) -> list[str]:
    assert proc.stdout is not None
    seen: list[str] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        seen.append(line)
        if needle in line:
            return seen
    raise AssertionError(f"never printed {needle!r}; printed:\n{''.join(seen)}")


def _kill(proc: subprocess.Popen[str]) -> None:
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)


@pytest.fixture()
def previous_run(fitted_run: Path, tmp_path: Path) -> tuple[Path, Path, str]:
    run = tmp_path / "run"
    shutil.copytree(fitted_run, run)
    return run, fitted_run.parent / "inputs/plan.toml", _tree_digest(run)


def test_sigkill_mid_fit_keeps_the_previous_run(previous_run: tuple[Path, Path, str]) -> None:
    run, plan, digest = previous_run
    # Another seed: the model cannot be reused, so the run samples.
    proc = _start("run", str(plan), "--out", str(run), "--seed", "11")
    _wait_for_line(proc, "fitting the MMM")
    time.sleep(1.0)  # inside the sampler
    _kill(proc)
    assert _tree_digest(run) == digest
    assert any(".partial-" in n for n in _hidden(run.parent, run.name))  # the killed run's work

    # The next run into the same DIR succeeds and removes what the killed one left.
    again = _start("run", str(plan), "--out", str(run))
    out, _ = again.communicate(timeout=600)
    assert again.returncode == 0, out
    assert _hidden(run.parent, run.name) == []
    assert "reusing the fitted model" in out


def test_sigkill_mid_report_keeps_the_previous_run(previous_run: tuple[Path, Path, str]) -> None:
    run, plan, digest = previous_run
    proc = _start("run", str(plan), "--out", str(run))  # reuses the model: soon at the report
    _wait_for_line(proc, "writing recommendation.json")
    # Freeze it as soon as the first export is on disk in its work folder, then kill it.
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        work = [
            p for p in run.parent.glob(f".{run.name}.partial-*") if (p / "report.html").exists()
        ]
        if work:
            break
        time.sleep(0.005)
    os.killpg(proc.pid, signal.SIGSTOP)
    still_building = list(run.parent.glob(f".{run.name}.partial-*"))
    _kill(proc)
    assert still_building, "the run finished before it could be stopped; nothing was tested"
    assert _tree_digest(run) == digest

    removed = clean_stale(run)
    assert [p.name for p in removed] == [p.name for p in sorted(still_building)]
    assert _tree_digest(run) == digest


def test_second_run_into_the_same_directory_exits_at_once(
    previous_run: tuple[Path, Path, str],
) -> None:
    run, plan, _ = previous_run
    first = _start("run", str(plan), "--out", str(run))  # reuses its model: a few seconds
    _wait_for_line(first, "checking the plan")
    t0 = time.perf_counter()
    second = subprocess.run(
        [sys.executable, "-m", "omnimmm.cli", "run", str(plan), "--out", str(run)],
        capture_output=True,
        text=True,
        env={**os.environ, "COLUMNS": "200"},
        timeout=120,
    )
    waited = time.perf_counter() - t0
    assert second.returncode == 75, second.stderr
    assert f"process {first.pid}" in second.stderr
    assert "another omnimmm run is writing" in second.stderr
    assert waited < 30  # at once: it never waited for the first run's fit
    out, _ = first.communicate(timeout=600)
    assert first.returncode == 0, out
    assert "reusing the fitted model" in out
    assert _hidden(run.parent, run.name) == []


def test_lock_is_released_when_its_holder_dies(tmp_path: Path) -> None:
    out = tmp_path / "run"
    holder = subprocess.Popen(
        [sys.executable, "-c",
         "import sys, time; from pathlib import Path; from omnimmm.run.rundir import lock\n"
         f"with lock(Path({str(out)!r}), 'test'):\n    print('locked', flush=True); time.sleep(60)"],
        stdout=subprocess.PIPE, text=True, start_new_session=True,
    )  # fmt: skip
    assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
    with pytest.raises(RunDirBusyError, match=f"process {holder.pid}"), lock(out):
        pass
    os.killpg(holder.pid, signal.SIGKILL)
    holder.wait(timeout=30)
    with lock(out) as path:  # the kernel released the dead holder's lock
        assert path.exists()
    assert not path.exists()


def test_edited_or_truncated_model_is_never_reused(previous_run: tuple[Path, Path, str]) -> None:
    from omnimmm.run import prepare

    run, plan, _ = previous_run
    prep = prepare(plan)
    assert reusable(run, prep.fit_key, prep.panel.data_hash).ok

    posterior = run / "model/posterior.nc"
    data = posterior.read_bytes()
    posterior.write_bytes(data[: len(data) // 2])
    decision = reusable(run, prep.fit_key, prep.panel.data_hash)
    assert not decision.ok and "posterior.nc" in decision.reason and "sha256" in decision.reason

    done = subprocess.run(
        [sys.executable, "-m", "omnimmm.cli", "optimize", str(run)],
        capture_output=True, text=True, env={**os.environ, "COLUMNS": "200"}, timeout=300,
    )  # fmt: skip
    assert done.returncode == 3, done.stderr
    assert "posterior.nc" in done.stderr and "cannot be trusted" in done.stderr
    assert "Traceback" not in done.stderr


def test_model_fitted_by_other_code_is_not_reused(previous_run: tuple[Path, Path, str]) -> None:
    from omnimmm.run import prepare

    run, plan, _ = previous_run
    prep = prepare(plan)
    manifest = json.loads((run / "manifest.json").read_text())
    assert set(manifest["code"]) == {"omnimmm", "density_kernel"}
    for key, old in (("omnimmm", "0.0.1"), ("density_kernel", "0")):
        edited = {**manifest, "code": {**manifest["code"], key: old}}
        (run / "manifest.json").write_text(json.dumps(edited))
        decision = reusable(run, prep.fit_key, prep.panel.data_hash)
        assert (
            not decision.ok and "fitted by other code" in decision.reason and old in decision.reason
        )
