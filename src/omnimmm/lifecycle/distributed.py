"""``omnimmm lifecycle score --scheduler ADDRESS``: the scoring of :mod:`.score` on Dask.

The transactions are a folder of Parquet files (any layout DuckDB reads), or one Parquet or
CSV file, however big; no process loads them whole. The work runs as Dask tasks on the cluster's workers, which must see the
input files and the scratch folder (a shared file system, or a local cluster):

1. **Partition.** One task per input piece (a file, or a part of a big file of about
   :data:`~omnimmm.lifecycle.distributed_input.PIECE_ROWS` rows: whole Parquet row groups,
   or a CSV streamed to Parquet pieces; see :mod:`.distributed_input`) loads it with
   :func:`~omnimmm.lifecycle.transactions.load_transactions` (the same parsing, the same checks and
   error messages, the as-of filter in SQL) and writes its rows, already typed, to
   ``n_partitions`` buckets by a hash of the customer key in one ``COPY ... PARTITION_BY``:
   every customer's whole history lands in one bucket, and every row is read once.
2. **BG/NBD and Pareto/NBD.** The rhythm features hold both models fitted at each cutoff on
   *every* customer. Each bucket returns its customers' ``(x, t_x, T)`` (the inputs
   :mod:`.rhythm` fits on) as distinct rows with customer counts (whole days); one task per
   cutoff fits one model of each on the counted rows (the same likelihood as on every
   customer; beyond :data:`~omnimmm.lifecycle.rhythm.BTYD_FIT_CUSTOMERS` of them on the same
   seeded sample as the single process, :func:`~omnimmm.lifecycle.rhythm.fit_btyd`), so those
   columns come from one fit on the whole customer base, not from per-bucket estimates.
3. **Features and labels.** One task per bucket runs the single-process feature code
   (:func:`~omnimmm.lifecycle.features.build_features`,
   :func:`~omnimmm.lifecycle.rhythm.add_rhythm_features` with the fitted models,
   :func:`~omnimmm.lifecycle.labels.make_labels`) at every cutoff on its customers alone,
   which is exact because every feature is a per-customer aggregate, and writes them to
   Parquet in the scratch folder.
4. **Models.** The recipes of :func:`~omnimmm.lifecycle.score.score_customers` (the BTYD
   base alone, or with a tree correction trained by ``lightgbm.dask`` from the base's
   log-odds; the lower validation log loss wins; see :mod:`.distributed_train`); the spend
   model is a ``lightgbm.dask`` gamma regressor.
5. **Scores.** Each bucket's customers are scored where their features are; the client
   gathers the score columns only, ranks deciles and writes ``scores.csv`` and
   ``metrics.json`` exactly as :func:`~omnimmm.lifecycle.score.score_customers` does.

Campaign features are not available here (pass no campaign history with ``--scheduler``).
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import os
import shutil
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pandas as pd

import omnimmm
from omnimmm.cluster import dask_client
from omnimmm.data import duck
from omnimmm.errors import DataError
from omnimmm.lifecycle.btyd import BGNBD
from omnimmm.lifecycle.distributed_input import (
    PIECE_ROWS,
    Piece,
    csv_pieces,
    input_files,
    is_csv,
    materialize,
    parquet_pieces,
    relabel,
)
from omnimmm.lifecycle.distributed_train import (
    _LABELS,
    SAMPLE_ROWS,
    TRAIN_ROWS_PER_WORKER,
    Job,
    fit_spend,
    gather,
    load_rows,
    report,
    table_path,
)
from omnimmm.lifecycle.features import (
    ColumnMap,
    DateLike,
    TransactionTable,
    _orders_sql,
    build_features,
    cutoff_end,
    left_out_notes,
    load_transactions,
)
from omnimmm.lifecycle.labels import CHURN_STAGES, check_history, make_labels
from omnimmm.lifecycle.pareto_nbd import ParetoNBD
from omnimmm.lifecycle.propensity import (
    PropensityModel,
    model_settings,
)
from omnimmm.lifecycle.rhythm import (
    BTYD_FIT_CUSTOMERS,
    BTYD_SAMPLE_SEED,
    add_rhythm_features,
    counted_rows,
    fit_btyd,
)
from omnimmm.lifecycle.score import (
    SCORE_COLUMNS,
    ScoreResult,
    _deciles,
    _hash_ids,
    _id_order,
    _is_pii_key,
    _write_atomic,
)
from omnimmm.lifecycle.transactions import _sample_roles, _sql_ts
from omnimmm.lifecycle.value import SpendModel, expected_revenue

#: DuckDB memory per task (it spills to the scratch folder beyond this).
DUCKDB_MEMORY = "1GB"
_log = logging.getLogger(__name__)
#: Transactions (about) per customer bucket when ``n_partitions`` is not given.
ROWS_PER_BUCKET = 400_000
BtydModels = dict[pd.Timestamp, dict[str, "BGNBD | ParetoNBD"]]


def _connect(scratch: str) -> duckdb.DuckDBPyConnection:
    return duckdb.connect(
        config={"threads": 1, "memory_limit": DUCKDB_MEMORY, "temp_directory": scratch}
    )


def _partition_file(piece: Piece, index: int, cols: ColumnMap, stop: pd.Timestamp,
                    scratch: str, n_partitions: int) -> dict[str, Any] | None:  # fmt: skip
    """Load one input piece as ``lifecycle score`` would load a file and write its rows,
    typed, to the buckets in one pass (``rows/f<index>/_bucket=<b>/*.parquet``)."""
    con = _connect(scratch)
    read = materialize(piece, Path(scratch) / "pieces" / f"p{index:06d}.parquet")
    try:
        try:
            t = load_transactions(read, columns=cols, until=stop, con=con)
        except DataError as exc:
            if "has no transactions" in str(exc):
                return None  # every row of this piece is after the as-of date
            raise relabel(exc, piece, read) from None
        target = Path(scratch) / "rows" / f"f{index:06d}"
        target.parent.mkdir(parents=True, exist_ok=True)
        con.execute(
            f"COPY (SELECT *, CAST(hash(customer_id) % {n_partitions} AS INTEGER) AS _bucket "
            f"FROM {t.table}) TO {duck.sql_string(target)} (FORMAT PARQUET, PARTITION_BY (_bucket))"
        )
        return {"n": t.n_rows, "start": t.start, "end": t.end, "optional": t.optional,
                "left_out": t.left_out, "removed": t.n_left_out}  # fmt: skip
    finally:
        con.close()
        if str(read) != piece.path:
            read.unlink(missing_ok=True)


def _pieces(client: Any, files: list[Path], scratch: str, piece_rows: int) -> list[Piece]:
    """Every input file as pieces (see :mod:`.distributed_input`): Parquet files cut from
    their footers here, CSV files streamed to Parquet pieces on the workers."""
    csvs = [p for p in files if is_csv(p)]
    futures = client.map(csv_pieces, [str(p) for p in csvs], range(len(csvs)), scratch=scratch,
                         piece_rows=piece_rows, memory=DUCKDB_MEMORY, pure=False)  # fmt: skip
    cut = dict(zip(csvs, client.gather(futures), strict=True))
    return [q for p in files for q in (cut[p] if p in cut else parquet_pieces(p, piece_rows))]


def _bucket_table(job: Job, b: int, con: duckdb.DuckDBPyConnection,
                  optional: tuple[str, ...] | None = None) -> TransactionTable | None:  # fmt: skip
    """Bucket ``b``'s rows (checked and typed when they were partitioned) as a table; only
    the ``optional`` columns given (default: all there are)."""
    files = sorted(Path(job.scratch).glob(f"rows/f*/_bucket={b}/*.parquet"))
    if not files:
        return None
    keep = job.optional if optional is None else tuple(c for c in optional if c in job.optional)
    listed = ", ".join(duck.sql_string(p) for p in files)
    con.execute(
        f"CREATE TEMP TABLE tx AS SELECT {', '.join(['customer_id', 'ts', 'amount', *keep])} "
        f"FROM read_parquet([{listed}], hive_partitioning = false)"
    )
    n, start = con.execute("SELECT count(*), min(ts) FROM tx").fetchall()[0]
    return TransactionTable(con=con, table="tx", source=f"customer bucket {b}", optional=keep,
                            n_rows=int(n), start=pd.Timestamp(start), end=job.end)  # fmt: skip


def _rft_counts(t: TransactionTable, cutoff: pd.Timestamp) -> dict[str, Any]:
    """Distinct ``(x, t_x days, T days)`` of the customers at ``cutoff`` and how many
    customers have each: the sufficient statistics of BG/NBD and Pareto/NBD, defined as in
    :mod:`.rhythm` (purchase days of the orders before the end of the cutoff day)."""
    stop = cutoff_end(cutoff)
    ep, day = f"epoch_us({_sql_ts(stop)})", "86400000000.0"
    return t.con.execute(
        f"""WITH o AS ({_orders_sql(t, stop)}),
        dd AS (SELECT DISTINCT customer_id, CAST(ts AS DATE) AS d FROM o),
        c AS (SELECT count(*) - 1 AS x, CAST(max(d) - min(d) AS DOUBLE) AS t_x_days,
                     ({ep} - epoch_us(CAST(min(d) AS TIMESTAMP))) / {day} AS t_days
              FROM dd GROUP BY customer_id)
        SELECT x, t_x_days, t_days, count(*) AS n FROM c GROUP BY ALL"""
    ).fetchnumpy()


def _bucket_summaries(job: Job, b: int) -> dict[pd.Timestamp, np.ndarray]:
    """Phase 2: the BG/NBD inputs of bucket ``b`` at every cutoff, as counted rows
    ``[x, t_x days, T days, customers]`` (a few thousand rows, whatever the bucket's size)."""
    con = _connect(job.scratch)
    try:
        t = _bucket_table(job, b, con, optional=("order_id",))
        if t is None:
            return {}
        out = {}
        for c in sorted({c for c, _, _ in job.tables}):
            got = _rft_counts(t, c)
            out[c] = np.column_stack([np.asarray(got[k], dtype=float)
                                      for k in ("x", "t_x_days", "t_days", "n")])  # fmt: skip
        return out
    finally:
        con.close()


def _fit_cutoff(parts: list[np.ndarray], max_customers: int = BTYD_FIT_CUSTOMERS,
                seed: int = BTYD_SAMPLE_SEED) -> dict[str, BGNBD | ParetoNBD]:  # fmt: skip
    """One BG/NBD and one Pareto/NBD on every customer at one cutoff, by
    :func:`.rhythm.fit_btyd` as the single process fits them.

    The likelihood is a sum over customers, so it is fitted on the distinct
    ``(x, t_x, T)`` rows weighted by their customer counts: the same fit as on every
    customer, on fewer rows. Beyond ``max_customers`` customers both paths fit on the same
    seeded sample of them (drawn from the sorted distinct rows' counts)."""
    rows = counted_rows(*np.concatenate(parts).T)
    return fit_btyd(rows["x"], rows["t_x_days"], rows["t_days"], rows["n"].to_numpy(float),
                    max_customers=max_customers, seed=seed)  # fmt: skip


def _cutoff_rows(summary: dict[pd.Timestamp, np.ndarray], cutoff: pd.Timestamp) -> np.ndarray:
    """One cutoff's counted rows of a bucket summary (none for an empty bucket)."""
    return summary.get(cutoff, np.zeros((0, 4)))


def _fit_btyd(client: Any, summaries: list[Any], cutoffs: list[pd.Timestamp]) -> BtydModels:
    """:func:`_fit_cutoff` at every cutoff, one task per cutoff, on the bucket ``summaries``
    (futures): the counted rows go from worker to worker, not through the client (at 5M
    customers they are about 1 GB over all cutoffs)."""
    fits = [
        client.submit(_fit_cutoff, [client.submit(_cutoff_rows, f, c, pure=False)
                                    for f in summaries],
                      pure=False)
        for c in cutoffs
    ]  # fmt: skip
    return dict(zip(cutoffs, client.gather(fits), strict=True))


def _bucket_features(job: Job, b: int, models: BtydModels) -> dict[tuple[pd.Timestamp, int], int]:
    """Phase 3: features (and labels where the window is observed) of bucket ``b``, the
    BG/NBD and Pareto/NBD columns from the models fitted on every customer."""
    con = _connect(job.scratch)
    try:
        t = _bucket_table(job, b, con)
        if t is None:
            return {}
        rows = {}
        for k, (c, h, labelled) in enumerate(job.tables):
            f = add_rhythm_features(build_features(t, c), t, c, h, models=models.get(c, {}))
            if labelled:
                lab = make_labels(t, c, h, features=f)
                f = f.merge(lab[["customer_id", *_LABELS]], on="customer_id", how="left")
            rng = np.random.default_rng([job.seed, b, k])
            f["_u"] = rng.random(len(f))  # early-stopping / calibration halves, sampling
            path = table_path(job.scratch, c, h, b)
            path.parent.mkdir(parents=True, exist_ok=True)
            f.to_parquet(path, index=False)
            rows[(c, h)] = len(f)
        return rows
    finally:
        con.close()


def _score_bucket(job: Job, cutoff: pd.Timestamp, h: int, rep: PropensityModel,
                  churn: PropensityModel, spend: SpendModel, b: int) -> pd.DataFrame:  # fmt: skip
    """Scores of bucket ``b``'s customers at the as-of date."""
    part = load_rows(job, [cutoff], h, None, b, "all",
                     ["customer_id", "stage", *rep.feature_names_])  # fmt: skip
    if part.empty:
        return part
    X = part[rep.feature_names_]
    p_rep = rep.predict_proba(X)[:, 1]
    eligible = part["stage"].isin(CHURN_STAGES).to_numpy()
    p_churn = np.full(len(part), np.nan)
    if eligible.any():
        p_churn[eligible] = churn.predict_proba(X[eligible])[:, 1]
    return pd.DataFrame(
        {"customer_id": part["customer_id"].to_numpy(), "p_repurchase": p_rep,
         "p_churn": p_churn, "stage": part["stage"].to_numpy(),
         "expected_revenue": expected_revenue(p_rep, spend.predict(X))}
    )  # fmt: skip


def _inputs(transactions: str | Path, columns: ColumnMap | dict[str, str | None] | None,
            scratch: str) -> tuple[list[Path], ColumnMap, Any]:  # fmt: skip
    files = input_files(transactions)
    if isinstance(columns, ColumnMap):
        return files, columns, None
    con = _connect(scratch)
    try:
        roles = _sample_roles(con, files[0], dict(columns or {}))
    finally:
        con.close()
    return files, ColumnMap.from_roles(roles), roles


@contextlib.contextmanager
def cluster_client(scheduler: str | None, workers: int | None) -> Iterator[Any]:
    """A Dask client on ``scheduler``, or on a new LocalCluster of ``workers`` single-threaded
    processes (default: one per core) that is closed afterwards."""
    if scheduler and workers:
        raise DataError("give either --scheduler (an existing cluster) or --workers, not both")
    n = workers or os.cpu_count() or 1
    with dask_client(
        scheduler, n, error=DataError, local_hint="use --workers N for a local cluster"
    ) as client:
        yield client


def score_on_cluster(
    transactions: str | Path,
    as_of: DateLike,
    horizon_days: int,
    out_dir: str | Path,
    *,
    scheduler: str | None = None,
    workers: int | None = None,
    campaigns: Any = None,
    **kw: Any,
) -> ScoreResult:
    """:func:`score_customers_dask` on ``scheduler`` or a local cluster of ``workers``
    (``omnimmm lifecycle score --scheduler/--workers``); ``kw`` as there."""
    if scheduler and workers:
        raise DataError("give either --scheduler (an existing cluster) or --workers, not both")
    if campaigns is not None:
        raise DataError(
            "--campaigns is not supported with --scheduler/--workers yet: score without a "
            "cluster to add campaign features, or leave --campaigns out"
        )
    if workers is not None and workers < 1:
        raise DataError(f"--workers must be at least 1, got {workers}")
    input_files(transactions)  # a bad path fails before a cluster starts
    with cluster_client(scheduler, workers) as client:
        return score_customers_dask(transactions, as_of, horizon_days, out_dir, client=client,
                                    **kw)  # fmt: skip


def score_customers_dask(
    transactions: str | Path,
    as_of: DateLike,
    horizon_days: int,
    out_dir: str | Path,
    *,
    client: Any,
    columns: ColumnMap | dict[str, str | None] | None = None,
    churn_horizon_days: int | None = None,
    n_cutoffs: int | None = None,
    step_days: int | None = None,
    min_history_days: int | None = None,
    calibration: str = "sigmoid",
    seed: int = 0,
    salt: str = "omnimmm",
    model_preset: str = "default",
    model_params: dict[str, Any] | None = None,
    n_partitions: int | None = None,
    scratch_dir: str | Path | None = None,
    train_rows_per_worker: int | None = None,
    piece_rows: int | None = None,
) -> ScoreResult:
    """Score every customer at ``as_of`` on a Dask cluster; the outputs of ``score_customers``.

    Parameters
    ----------
    transactions
        A Parquet or CSV file, or a folder of Parquet files (searched recursively). A big
        file is read in pieces by every worker (see :mod:`.distributed_input`).
    as_of, horizon_days, out_dir, columns, churn_horizon_days, n_cutoffs, step_days,
    min_history_days, calibration, seed, salt, model_preset, model_params
        As in :func:`omnimmm.lifecycle.score.score_customers`.
    client
        A ``distributed.Client``; its workers must see ``transactions`` and ``scratch_dir``.
    n_partitions
        Customer buckets (default: about :data:`ROWS_PER_BUCKET` rows each, at least two per
        worker).
    piece_rows
        Rows (about) of the pieces a big input file is cut into, one partition task each
        (default :data:`~omnimmm.lifecycle.distributed_input.PIECE_ROWS`).
    train_rows_per_worker
        Training rows per worker the trees are trained on (default
        :data:`~omnimmm.lifecycle.distributed_train.TRAIN_ROWS_PER_WORKER`): smaller
        training sets train on fewer workers (see
        :func:`~omnimmm.lifecycle.distributed_train.train_workers`).
    scratch_dir
        Folder for the bucketed rows and feature tables (a temporary folder next to
        ``out_dir`` by default; removed at the end).

    Returns
    -------
    ScoreResult
        ``metrics.json`` also records ``engine`` (scheduler, workers, partitions).

    Raises
    ------
    DataError
        As ``score_customers`` (the checks run on the workers, per input file), or an input
        that is not Parquet.
    """
    out = Path(out_dir)
    out.parent.mkdir(parents=True, exist_ok=True)
    scratch = Path(scratch_dir) if scratch_dir else out.parent
    scratch.mkdir(parents=True, exist_ok=True)
    work = tempfile.mkdtemp(prefix=f".{out.name}-dask-{uuid.uuid4().hex[:6]}-", dir=scratch)
    try:
        with client.as_current():  # dask.array and lightgbm.dask look for the current client
            return _score(client, transactions, as_of, horizon_days, out, work, columns,
                          churn_horizon_days, n_cutoffs, step_days, min_history_days,
                          calibration, seed, salt, model_preset, model_params,
                          n_partitions, train_rows_per_worker, piece_rows)  # fmt: skip
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _own_cpu_seconds() -> float:
    """CPU seconds (user + system) of this process so far."""
    import resource

    use = resource.getrusage(resource.RUSAGE_SELF)
    return use.ru_utime + use.ru_stime


class _Clock:
    """Wall seconds of each phase, and the CPU seconds of the client and the workers in it,
    for ``metrics.json`` (where the time of a run goes; a local cluster's scheduler runs in
    the client process)."""

    def __init__(self, client: Any) -> None:
        self.laps: dict[str, float] = {}
        self.cpu: dict[str, float] = {}
        self._client = client
        self._t = time.perf_counter()
        self._cpu = self._cpu_now()

    def _cpu_now(self) -> float:
        try:
            workers = sum(self._client.run(_own_cpu_seconds).values())
        except Exception:  # a worker lost between phases: its CPU is not counted
            workers = 0.0
        return _own_cpu_seconds() + workers

    def lap(self, name: str) -> None:
        now, cpu = time.perf_counter(), self._cpu_now()
        self.laps[name] = round(now - self._t, 3)
        self.cpu[name] = round(cpu - self._cpu, 1)
        self._t, self._cpu = now, cpu
        _log.info("phase %s done in %.1f s (%.1f CPU s)", name, self.laps[name], self.cpu[name])


def _score(client: Any, transactions: str | Path, as_of: DateLike, horizon_days: int, out: Path,
           work: str, columns: Any, churn_horizon_days: int | None, n_cutoffs: int | None,
           step_days: int | None, min_history_days: int | None, calibration: str, seed: int,
           salt: str,
           model_preset: str, model_params: dict[str, Any] | None,
           n_partitions: int | None, train_rows_per_worker: int | None,
           piece_rows: int | None) -> ScoreResult:  # fmt: skip
    clock = _Clock(client)
    stop = cutoff_end(as_of)
    files, cols, roles = _inputs(transactions, columns, work)
    n_workers = max(1, len(client.scheduler_info()["workers"]))
    pieces = _pieces(client, files, work, piece_rows or PIECE_ROWS)
    if n_partitions is None:
        if all(p.n_rows is not None for p in pieces):
            n_rows = sum(p.n_rows or 0 for p in pieces)
        else:  # a Parquet file without a readable footer (its task will say so)
            n_rows = sum(p.stat().st_size for p in files) // 20
        n_partitions = max(2 * n_workers, int(n_rows // ROWS_PER_BUCKET))
    parts = client.gather(client.map(_partition_file, pieces, range(len(pieces)), cols=cols,
                                     stop=stop, scratch=work, n_partitions=n_partitions,
                                     pure=False))  # fmt: skip
    clock.lap("partition")
    stats = [p for p in parts if p is not None]
    label = str(transactions)
    if not stats:
        raise DataError(f"{label} has no transactions before {stop.date()}")
    optional = stats[0]["optional"]
    left_out: Counter[str] = Counter()
    for st in stats:
        left_out.update(st["left_out"])
    read = sum(s["n"] + s["removed"] for s in stats)
    notes = left_out_notes(dict(left_out), read)
    whole = TransactionTable(
        con=duck.connect(), table="(distributed)", source=label, optional=optional,
        n_rows=sum(s["n"] for s in stats), start=min(s["start"] for s in stats),
        end=min(max(s["end"] for s in stats), stop), roles=roles, columns=cols,
        left_out=dict(left_out), notes=notes, n_left_out=read - sum(s["n"] for s in stats),
    )  # fmt: skip
    churn_h = churn_horizon_days or horizon_days
    plans = {
        target: check_history(
            whole,
            as_of,
            h,
            n_cutoffs=n_cutoffs,
            step_days=step_days,
            min_history_days=min_history_days,
        )  # fmt: skip
        for target, h in (("repurchase", horizon_days), ("churn", churn_h))
    }
    wanted: dict[tuple[pd.Timestamp, int], bool] = {}
    for plan in plans.values():
        for c in (*plan.train, plan.validation, *plan.shifted().train):
            wanted[(c, plan.horizon_days)] = True
    as_of_day = stop - pd.Timedelta(days=1)
    wanted.setdefault((as_of_day, horizon_days), False)
    job = Job(work, n_partitions, optional,
               tuple((c, h, lab) for (c, h), lab in sorted(wanted.items())), seed,
               whole.end)  # fmt: skip
    buckets = list(range(n_partitions))
    from distributed import wait

    summaries = client.map(_bucket_summaries, [job] * len(buckets), buckets, pure=False)
    wait(summaries)
    clock.lap("btyd_summaries")
    models = _fit_btyd(client, summaries, sorted({c for c, _, _ in job.tables}))
    del summaries
    clock.lap("btyd_fit")
    model_future = client.scatter(models, broadcast=True)
    counts = client.gather(client.map(_bucket_features, [job] * len(buckets), buckets,
                                      models=model_future, pure=False))  # fmt: skip
    table_rows = {key: sum(c.get(key, 0) for c in counts) for key in wanted}
    job = dataclasses.replace(job, rows=tuple(table_rows.items()),
                              train_rows_per_worker=train_rows_per_worker or TRAIN_ROWS_PER_WORKER)  # fmt: skip

    clock.lap("features")
    settings = model_settings(model_preset, **(model_params or {}))
    model_kw = {"calibration": calibration, "random_state": seed, "n_jobs": 1} | settings
    rep, rep_report = report(client, job, plans["repurchase"], "repurchase", model_kw, seed)
    clock.lap("repurchase_models")
    churn, churn_report = report(client, job, plans["churn"], "churn", model_kw, seed)
    clock.lap("churn_models")
    spend = fit_spend(client, job, plans["repurchase"], rep, seed)
    clock.lap("spend_model")
    got = gather(client, _score_bucket, job, as_of_day, horizon_days, rep, churn, spend)
    clock.lap("scoring")
    ids = got["customer_id"].astype(str)
    hashed = _is_pii_key(cols.customer_id, ids.head(1000))
    p_rep = got["p_repurchase"].to_numpy()
    scores = pd.DataFrame(
        {"customer_id": _hash_ids(ids, salt) if hashed else ids, "p_repurchase": p_rep,
         "p_churn": got["p_churn"].to_numpy(), "stage": got["stage"].to_numpy(),
         "decile": _deciles(p_rep), "expected_revenue": got["expected_revenue"].to_numpy()}
    )[list(SCORE_COLUMNS)]  # fmt: skip
    metrics = {
        "omnimmm_version": getattr(omnimmm, "__version__", None),
        "source": label,
        "as_of": str(as_of_day.date()),
        "history_start": str(whole.start.date()),
        "rows_used": whole.n_rows,
        "rows_left_out": {**whole.left_out, "notes": list(whole.notes)},
        "customers_scored": int(len(scores)),
        "customer_id_hashed": hashed,
        "columns": roles.to_dict()
        if roles is not None
        else {
            "columns": {r: getattr(cols, r) for r in ("customer_id", "ts", "amount", *optional)},
            "how": "given",
        },  # fmt: skip
        "decile_of": "p_repurchase (1 = highest)",
        "stages": {
            s: int((scores["stage"] == s).sum()) for s in ("new", "active", "at_risk", "lapsed")
        },  # fmt: skip
        "repurchase": rep_report,
        "churn": churn_report,
        "expected_revenue_total": float(scores["expected_revenue"].sum()),
        "model": {"preset": model_preset, "settings": settings},
        "campaigns": None,
        "engine": {
            "name": "dask",
            "scheduler": str(client.scheduler.address),
            "workers": n_workers,
            "partitions": n_partitions,
            "input_files": len(files),
            "input_pieces": len(pieces),
            "sample_rows_linear_and_rfm": SAMPLE_ROWS,
            "train_rows_per_worker": job.train_rows_per_worker,
            "btyd_fit_customers_max": BTYD_FIT_CUSTOMERS,
            "phase_seconds": clock.laps,
            "phase_cpu_seconds": clock.cpu,
        },
    }
    _write_atomic(out, scores.iloc[_id_order(scores["customer_id"])], metrics)
    return ScoreResult(scores=scores, metrics=metrics, out_dir=out)
