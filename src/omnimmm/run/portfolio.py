"""Many markets in one quarterly run on Dask: ``omnimmm portfolio PLAN... --out DIR``.

One market per plan (a national plan or a geo plan, ``[data] geo``). Each market is run by
:func:`omnimmm.run.drivers.run` on a Dask worker, exactly as ``omnimmm run PLAN --out
DIR/markets/<name>`` would run it (same seed, same files); the portfolio adds a table of the
markets and a one-page report::

    DIR/markets/<name>/   each market's run directory (only for markets that finished)
    DIR/portfolio.json    one row per market: name, status, message, spend, horizon value
    DIR/report.html       one row per market, linking to its report.html

A market's name is its plan file's stem, or its folder's name when the stem is ``plan``.
One market's bad data or failed gate is recorded in its row (``status`` ``invalid`` or
``gate_failed``, with the error's message) and does not stop the others; a bug in one is
``error``. A worker that dies mid-market has its market rescheduled on another worker
(Dask's ``retries``); the row records where it finally ran.

Where it runs: a ``LocalCluster`` of worker processes (one thread each) on this machine by
default, or an existing cluster with ``scheduler=tcp://host:port``; every worker must see
the plans, their data and ``DIR`` at the same paths (a shared file system) and run the
same omnimmm version (checked before any market starts).

Compiled code: the MMM's log density is one numba function cached on disk
(:func:`omnimmm.mmm.density.callbacks`), in ``NUMBA_CACHE_DIR`` when that is set (workers
inherit the environment of whoever started them), else next to omnimmm's sources. Each
market first loads it under a lock file next to that cache (:func:`warm_density`), so on a
machine with a cold cache one worker compiles and every other worker waits for it and then
loads the compiled code, instead of each compiling the same function at once.

The portfolio directory is written like a run directory (:mod:`omnimmm.run.rundir`): one
writer at a time, built in a hidden sibling folder and swapped onto ``DIR`` at the end, so
an interrupted portfolio leaves the previous ``DIR`` as it was. A market whose model,
data and plan are unchanged since the previous portfolio into ``DIR`` reuses its fit, as
``omnimmm run`` does.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import shutil
import socket
import tempfile
import time
import traceback
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from omnimmm.cluster import dask_client
from omnimmm.errors import DataError, InfeasibleError, PlanError, QualityGateError
from omnimmm.run.context import Progress, quiet
from omnimmm.run.rundir import clean_stale, lock, staging, write_json

__all__ = [
    "Market",
    "PortfolioSummary",
    "markets_of",
    "portfolio",
    "run_market",
    "warm_density",
]

PORTFOLIO_KIND = "omnimmm-portfolio"
PORTFOLIO_FORMAT = 1
#: Times a market is tried again after its worker died (or the task failed outside omnimmm).
RETRIES = 2
STATUSES = ("ok", "gate_failed", "invalid", "error")


@dataclass(frozen=True)
class Market:
    """One market of a portfolio: its name and plan file."""

    name: str
    plan: Path


def markets_of(plans: Sequence[str | Path]) -> list[Market]:
    """The markets of the given plan files, named by stem (folder name for ``plan.*``).

    Raises
    ------
    PlanError
        No plans, a plan file that does not exist, or two plans with the same market name.
    """
    if not plans:
        raise PlanError("omnimmm portfolio: give at least one plan file")
    markets: list[Market] = []
    seen: dict[str, Path] = {}
    for raw in plans:
        path = Path(raw)
        if not path.is_file():
            raise PlanError(f"{path}: plan file not found")
        path = path.resolve()
        name = path.parent.name if path.stem == "plan" else path.stem
        if not name or name.startswith("."):
            raise PlanError(f"{path}: gives the market name {name!r}, which cannot be a folder")
        if name in seen:
            raise PlanError(
                f"{path} and {seen[name]}: both give the market name {name!r} (a plan's stem, "
                "or its folder's name when the stem is 'plan'); rename one of them"
            )
        seen[name] = path
        markets.append(Market(name, path))
    return markets


# --------------------------------------------------------------------------- on the worker


def _density_lock_path() -> Path:
    cache = os.environ.get("NUMBA_CACHE_DIR")
    base = Path(cache) if cache else Path(tempfile.gettempdir())
    base.mkdir(parents=True, exist_ok=True)
    return base / f".omnimmm-density-{os.getuid() if hasattr(os, 'getuid') else 0}.lock"


def warm_density() -> dict[str, Any]:
    """Load (or, on a cold cache, compile) the MMM's density kernel under a per-machine lock.

    The first process on a machine with a cold numba cache compiles; the others block on
    the lock meanwhile and then load the compiled code from the disk cache.

    Returns
    -------
    dict
        ``host``, ``pid``, ``compiled`` (whether this process compiled it), ``wait_seconds``
        (time blocked on the lock) and ``seconds`` (loading or compiling).
    """
    import fcntl

    from omnimmm.mmm.density import callbacks

    t0 = time.perf_counter()
    fd = os.open(_density_lock_path(), os.O_RDWR | os.O_CREAT, 0o666)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        t1 = time.perf_counter()
        _, _, compiled = callbacks()
    finally:
        os.close(fd)  # releases the lock
    return {
        "host": socket.gethostname(),
        "pid": os.getpid(),
        "compiled": bool(compiled),
        "wait_seconds": round(t1 - t0, 3),
        "seconds": round(time.perf_counter() - t1, 3),
    }


def _status_of(exc: BaseException) -> str:
    if isinstance(exc, QualityGateError):
        return "gate_failed"
    if isinstance(exc, PlanError | DataError | InfeasibleError):
        return "invalid"
    return "error"


def _recommendation_row(out: Path) -> dict[str, Any]:
    rec = json.loads((out / "recommendation.json").read_text(encoding="utf-8"))
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    return {
        "current_total": float(sum(c["current_spend"] for c in rec["channels"])),
        "recommended_total": float(sum(c["recommended_spend"] for c in rec["channels"])),
        "horizon_value": rec["horizon_value"],
        "gate_passed": bool(manifest["gate"]["passed"]),
        "reused": bool(manifest["stages"]["reused"]),
        "fit": manifest["stages"].get("fits", {}).get("mmm"),
        **({"geos": len(rec["geos"])} if rec.get("geos") else {}),
    }


def run_market(
    name: str, plan: str, out: str, seed: int | None = None, fast: bool = False
) -> dict[str, Any]:
    """Run one market as ``omnimmm run PLAN --out OUT``; the task each Dask worker runs.

    Never raises for the market's own failures: bad plans or data, a failed gate and bugs
    are returned as the row's ``status`` and ``message``, so one market cannot stop the
    others (only a dying worker makes Dask run the task again).

    Returns
    -------
    dict
        The market's row of ``portfolio.json``.
    """
    from omnimmm.run.drivers import run

    t0 = time.perf_counter()
    row: dict[str, Any] = {
        "name": name, "plan": plan, "status": "ok", "message": "",
        "current_total": None, "recommended_total": None, "horizon_value": None,
        "report": None, "host": socket.gethostname(), "pid": os.getpid(),
    }  # fmt: skip
    target = Path(out)
    try:
        from omnimmm.config import load_plan

        if load_plan(plan).data.geo is None:  # a geo market fits the geo model, not the density
            row["density"] = warm_density()
        run(plan, target, seed=seed, fast=fast)
        row.update(_recommendation_row(target))
        row["report"] = f"markets/{name}/report.html"
    except Exception as exc:  # every failure becomes the market's row
        row["status"] = _status_of(exc)
        if row["status"] == "error":
            where = traceback.extract_tb(exc.__traceback__)[-1:]
            at = f" (at {where[0].filename}:{where[0].lineno})" if where else ""
            row["message"] = f"{type(exc).__name__}: {exc}{at}"
        else:
            row["message"] = str(exc)
        row["exit_code"] = int(getattr(exc, "exit_code", 1))
        # A market that fails leaves no run directory, not even its previous one.
        shutil.rmtree(target, ignore_errors=True)
    row["seconds"] = round(time.perf_counter() - t0, 3)
    return row


def _omnimmm_version() -> str:
    from importlib import metadata

    return metadata.version("omnimmm")


# --------------------------------------------------------------------------- the client side


@dataclass(frozen=True)
class PortfolioSummary:
    """What ``omnimmm portfolio`` did.

    Attributes
    ----------
    out : Path
        The portfolio directory written.
    doc : dict
        The content of ``portfolio.json``.
    seconds : float
        Wall time.
    """

    out: Path
    doc: dict[str, Any]
    seconds: float

    @property
    def total_error(self) -> str | None:
        """Why ``--total`` could not be split (None when it was, or was not asked for)."""
        error = self.doc.get("total_error")
        return None if error is None else str(error)

    @property
    def failed(self) -> list[dict[str, Any]]:
        """The rows of the markets that did not finish ``ok``."""
        return [r for r in self.doc["markets"] if r["status"] != "ok"]

    def lines(self) -> list[str]:
        """One line per market, then the total."""
        out = []
        for r in self.doc["markets"]:
            if r["status"] == "ok":
                out.append(
                    f"  {r['name']}: ok, spend {r['current_total']:,.0f} -> "
                    f"{r['recommended_total']:,.0f} ({r['seconds']:.0f} s)"
                )
            else:
                first = (r["message"] or "").strip().splitlines()[:1]
                out.append(f"  {r['name']}: {r['status']}: {first[0] if first else ''}")
        ok = len(self.doc["markets"]) - len(self.failed)
        out.append(f"{ok} of {len(self.doc['markets'])} markets ok; portfolio: {self.out}")
        return out


def _check_out(out: Path) -> Path | None:
    """The previous portfolio in ``out`` (None if none); refuse to replace anything else."""
    if out.exists() and not out.is_dir():
        raise PlanError(f"--out {out}: exists and is not a directory; choose another path")
    if not out.is_dir() or not any(out.iterdir()):
        return None
    try:
        kind = json.loads((out / "portfolio.json").read_text(encoding="utf-8")).get("kind")
    except (OSError, ValueError):
        kind = None
    if kind != PORTFOLIO_KIND:
        raise PlanError(
            f"--out {out}: the directory exists, is not empty and is not an omnimmm portfolio "
            "directory; it is never overwritten. Choose a new or empty directory"
        )
    return out


@contextlib.contextmanager
def _cluster(scheduler: str | None, workers: int | None, n_markets: int) -> Iterator[Any]:
    """A Dask client: on ``scheduler``, or on a new LocalCluster torn down afterwards."""
    n = workers or max(1, min(n_markets, os.cpu_count() or 1))
    hint = "leave --scheduler out to use a local cluster"
    with dask_client(scheduler, n, error=PlanError, local_hint=hint) as client:
        yield client


def _check_versions(client: Any, address: str) -> None:
    mine = _omnimmm_version()
    theirs = client.run(_omnimmm_version)
    wrong = {w: v for w, v in theirs.items() if v != mine}
    if wrong:
        listed = ", ".join(f"{w} has {v}" for w, v in sorted(wrong.items()))
        raise PlanError(
            f"--scheduler {address}: workers run another omnimmm version than this one "
            f"({mine}): {listed}. Install the same version on every worker"
        )


def _lost_row(market: Market, exc: BaseException) -> dict[str, Any]:
    """The row of a market whose task never returned (its workers kept dying)."""
    return {
        "name": market.name, "plan": str(market.plan), "status": "error",
        "message": f"the market's worker died {RETRIES + 1} times or the task was lost "
        f"({type(exc).__name__}: {exc}); see the Dask workers' logs (memory limit?)",
        "current_total": None, "recommended_total": None, "horizon_value": None,
        "report": None, "exit_code": 1, "seconds": None,
    }  # fmt: skip


def _progress_line(k: int, n: int, row: dict[str, Any]) -> str:
    where = f" on {row['host']}" if row.get("host") else ""
    took = f" in {row['seconds']:.0f} s" if row.get("seconds") is not None else ""
    head = f"[{k}/{n}] market {row['name']}: {row['status']}{took}{where}"
    if row["status"] == "ok":
        return f"{head}, spend {row['current_total']:,.0f} -> {row['recommended_total']:,.0f}"
    first = (row["message"] or "").strip().splitlines()[:1]
    return f"{head}: {first[0] if first else ''}"


def _split(doc: dict[str, Any], root: Path, work: Path, total: float, seed: int | None,
           say: Progress) -> None:  # fmt: skip
    """Add the ``--total`` split to ``doc`` and write ``portfolio_allocation.csv``."""
    import csv

    from omnimmm.errors import OmniError
    from omnimmm.run.portfolio_budget import split_total

    say(f"splitting the portfolio budget {total:,.0f} across the finished markets")
    try:
        table, value, notes = split_total(root, doc["markets"], total, seed=seed or 0)
    except OmniError as exc:
        doc["total_error"] = str(exc)
        say(f"the portfolio budget was not split: {exc}")
        return
    doc["portfolio_horizon_value"] = value
    doc["notes"] = notes
    for row in doc["markets"]:
        mine = [t for t in table if t["market"] == row["name"]]
        if mine:
            row["portfolio_total"] = float(sum(t["recommended"] for t in mine))
            row["portfolio_channels"] = {t["channel"]: t["recommended"] for t in mine}
    with (work / "portfolio_allocation.csv").open("w", encoding="utf-8", newline="") as fh:
        writer = csv.DictWriter(
            fh, ["market", "channel", "current", "recommended", "lower", "upper"]
        )
        writer.writeheader()
        writer.writerows(table)


def portfolio(
    plans: Sequence[str | Path],
    out: str | Path,
    *,
    scheduler: str | None = None,
    workers: int | None = None,
    seed: int | None = None,
    fast: bool = False,
    total: float | None = None,
    progress: Progress | None = None,
) -> PortfolioSummary:
    """Run every market's quarterly run on Dask into ``out`` (atomically); see the module.

    Parameters
    ----------
    plans
        One plan file per market.
    out
        The portfolio directory.
    scheduler
        Address of an existing Dask scheduler (``tcp://host:8786``); default a LocalCluster.
    workers
        Worker processes of the LocalCluster (default: one per market, at most one per core).
    seed
        Overrides every plan's seed, as ``omnimmm run --seed`` does.
    fast
        Quick sampler settings for every market, as ``omnimmm run --fast``.
    total
        A portfolio budget to split across the finished markets by their fitted response
        (:mod:`omnimmm.run.portfolio_budget`); each market's run keeps its own plan's budget.
    progress
        Called with a line as each market finishes.

    Returns
    -------
    PortfolioSummary
        Its ``failed`` rows say which markets failed and why; ``out`` is written either way.

    Raises
    ------
    PlanError
        No plans, missing plan files, duplicate market names, an ``out`` that is not a
        portfolio directory, an unreachable scheduler or mismatched workers.
    RunDirBusyError
        Another portfolio is writing ``out``.
    """
    from distributed import as_completed

    from omnimmm.report.portfolio import portfolio_html

    say = progress or quiet
    t0 = time.perf_counter()
    markets = markets_of(plans)
    if scheduler and workers:
        raise PlanError("give either --scheduler (an existing cluster) or --workers, not both")
    if workers is not None and workers < 1:
        raise PlanError(f"--workers {workers}: give at least 1 worker")
    out = Path(out)
    with lock(out, "portfolio"):
        clean_stale(out)
        previous = _check_out(out)
        with staging(out, seed_from=previous) as work:
            root = work / "markets"
            root.mkdir(exist_ok=True)
            names = {m.name for m in markets}
            for old in root.iterdir():
                if old.name not in names and not old.name.startswith("."):
                    shutil.rmtree(old) if old.is_dir() else old.unlink()
            with _cluster(scheduler, workers, len(markets)) as client:
                address = str(client.scheduler.address)
                _check_versions(client, address)
                n_workers = len(client.scheduler_info(n_workers=-1)["workers"])
                say(
                    f"{len(markets)} markets on {n_workers} Dask workers "
                    f"({'scheduler ' + address if scheduler else 'local cluster'})"
                )
                tag = uuid.uuid4().hex[:8]
                futures = {
                    client.submit(
                        run_market, m.name, str(m.plan), str(root / m.name), seed, fast,
                        key=f"omnimmm-market-{m.name}-{tag}", retries=RETRIES, pure=False,
                    ): m
                    for m in markets
                }  # fmt: skip
                rows: dict[str, dict[str, Any]] = {}
                for k, fut in enumerate(as_completed(list(futures), loop=client.loop), start=1):
                    market = futures[fut]
                    try:
                        row = fut.result()
                    except Exception as exc:  # the task never returned: workers died
                        row = _lost_row(market, exc)
                        shutil.rmtree(root / market.name, ignore_errors=True)
                    rows[market.name] = row
                    say(_progress_line(k, len(markets), row))
            doc = {
                "kind": PORTFOLIO_KIND,
                "format_version": PORTFOLIO_FORMAT,
                "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
                "scheduler": scheduler or "local",
                "scheduler_address": address,
                "workers": n_workers,
                "seed": seed,
                "fast": fast,
                "total": total,
                "seconds": round(time.perf_counter() - t0, 3),
                "markets": [rows[m.name] for m in markets],
            }
            if total is not None:
                _split(doc, root, work, total, seed, say)
            write_json(work / "portfolio.json", doc)
            (work / "report.html").write_text(portfolio_html(doc), encoding="utf-8")
    say(f"portfolio directory: {out.absolute()}")
    return PortfolioSummary(out, doc, time.perf_counter() - t0)
