"""The input of :mod:`.distributed`: a folder of Parquet files, or one big Parquet or CSV file,
cut into *pieces* that the partition tasks read one each, so that no process holds a big file
and a single file is read by every worker, not by one.

* A Parquet file of more than ``piece_rows`` rows (and more than one row group) is cut at
  row-group boundaries into pieces of about ``piece_rows`` rows, from its footer alone. The
  task of a piece streams its row groups (one batch in memory at a time) to a Parquet file in
  the scratch folder and reads that as a file of a folder is read. A file written as a single
  row group cannot be cut: one task reads it (DuckDB streams it, spilling beyond its memory
  limit).
* A CSV file is streamed once by DuckDB, with its cells as text exactly as
  ``lifecycle score`` reads them (:func:`omnimmm.data.tables.register_duckdb`), to Parquet
  pieces of about ``piece_rows`` rows in file order (one task per CSV file; DuckDB's memory
  limit bounds it). A CSV that is not UTF-8 (GB18030, UTF-16) or has decimal commas is read
  through pandas by ``register_duckdb`` and is therefore held in memory while it is cut.

A piece's error messages name the user's file and the data row in it (the rows before the
piece are added), as one process would.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import duckdb

from omnimmm.data.duck import sql_string
from omnimmm.data.tables import register_duckdb
from omnimmm.errors import DataError

#: Rows (about) of one input piece: one partition task's share of a big file.
PIECE_ROWS = 2_000_000
#: Rows of the row groups a CSV is cut into (a piece is whole row groups).
CSV_ROW_GROUP = 100_000
#: Rows per batch when a piece's row groups are copied out of a big Parquet file.
BATCH_ROWS = 131_072
_PARQUET = (".parquet", ".pq")
_CSV = (".csv", ".txt", ".tsv")


@dataclass(frozen=True)
class Piece:
    """A part of one input file that one partition task reads."""

    #: the file the task reads (the user's file, or a CSV's Parquet piece in the scratch)
    path: str
    #: the user's file, for messages
    source: str
    #: data rows of ``source`` before this piece
    first_row: int = 0
    #: the row groups of ``path`` to read (all when empty)
    row_groups: tuple[int, ...] = ()
    #: rows of the piece (None: unknown until read)
    n_rows: int | None = None


def input_files(transactions: str | Path) -> list[Path]:
    """The files behind ``transactions``: a Parquet or CSV file, or a folder searched
    recursively for Parquet files."""
    path = Path(transactions)
    if path.is_file():
        if path.suffix.lower() not in _PARQUET and not is_csv(path):
            raise DataError(
                f"{path}: --scheduler/--workers reads Parquet (a file or a folder of them) or a "
                f"CSV file, not {path.suffix or 'a file without an extension'}; convert it "
                "(e.g. DuckDB COPY ... TO 'x.parquet') or score it without --scheduler"
            )
        return [path]
    if path.is_dir():
        files = sorted(p for p in path.rglob("*") if p.suffix.lower() in _PARQUET)
        if files:
            return files
        raise DataError(f"{path}: the folder holds no .parquet files")
    raise DataError(f"{path}: no such transactions file or folder")


def is_csv(path: Path) -> bool:
    """Whether ``path`` is read as a CSV file (by its extension; ``.csv.gz`` too)."""
    name = path.name.lower().removesuffix(".gz")
    return Path(name).suffix in _CSV


def parquet_pieces(path: str | Path, piece_rows: int = PIECE_ROWS) -> list[Piece]:
    """``path`` cut at row-group boundaries into pieces of about ``piece_rows`` rows (from its
    footer; one piece if it is small, has one row group or has no readable footer: the task
    that reads it then says what is wrong)."""
    import pyarrow.parquet as pq

    src = str(path)
    try:
        meta = pq.read_metadata(src)
    except Exception:  # not Parquet: the task that reads it (load_transactions) says so
        return [Piece(src, src)]
    if meta.num_rows <= piece_rows or meta.num_row_groups < 2:
        return [Piece(src, src, n_rows=meta.num_rows)]
    pieces: list[Piece] = []
    groups: list[int] = []
    rows = first = 0
    for g in range(meta.num_row_groups):
        groups.append(g)
        rows += meta.row_group(g).num_rows
        if rows >= piece_rows or g == meta.num_row_groups - 1:
            pieces.append(Piece(src, src, first, tuple(groups), rows))
            first += rows
            groups, rows = [], 0
    return pieces


def csv_pieces(path: str, index: int, scratch: str, piece_rows: int = PIECE_ROWS,
               memory: str = "1GB") -> list[Piece]:  # fmt: skip
    """Stream the CSV file ``path`` to Parquet pieces of about ``piece_rows`` rows in the
    scratch folder (``csv/c<index>/``), its cells as text as ``lifecycle score`` reads them."""
    out = Path(scratch) / "csv" / f"c{index:05d}"
    out.parent.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(
        config={"threads": 1, "memory_limit": memory, "temp_directory": scratch,
                "preserve_insertion_order": True}
    )  # fmt: skip
    try:
        view = "omni_csv_source"
        register_duckdb(con, path, view,
                        what="transactions file (--transactions or lifecycle.transactions)",
                        as_text=True)  # fmt: skip
        group = max(1, min(CSV_ROW_GROUP, piece_rows))
        per_file = max(1, round(piece_rows / group))
        try:
            con.execute(
                f"COPY (SELECT * FROM {view}) TO {sql_string(out)} (FORMAT PARQUET, "
                f"ROW_GROUP_SIZE {group}, ROW_GROUPS_PER_FILE {per_file})"
            )
        except duckdb.Error as exc:
            raise DataError(f"cannot read transactions from {path}: {exc}") from exc
    finally:
        con.close()
    return _numbered_pieces(out, path)


def _numbered_pieces(folder: Path, source: str) -> list[Piece]:
    """The Parquet files DuckDB wrote to ``folder`` (``data_0``, ``data_1`` ... in row order)
    as pieces of ``source``."""
    import pyarrow.parquet as pq

    def number(p: Path) -> int:
        digits = re.findall(r"\d+", p.stem)
        return int(digits[-1]) if digits else 0

    pieces, first = [], 0
    for p in sorted(folder.glob("*.parquet"), key=number):
        n = pq.read_metadata(p).num_rows
        pieces.append(Piece(str(p), source, first, (), n))
        first += n
    return pieces


def materialize(piece: Piece, target: Path) -> Path:
    """The file a partition task reads for ``piece``: its own file, or its row groups
    streamed to ``target`` (one batch of :data:`BATCH_ROWS` rows in memory at a time)."""
    if not piece.row_groups:
        return Path(piece.path)
    import pyarrow.parquet as pq

    target.parent.mkdir(parents=True, exist_ok=True)
    src = pq.ParquetFile(piece.path)
    with pq.ParquetWriter(target, src.schema_arrow) as writer:
        for batch in src.iter_batches(batch_size=BATCH_ROWS, row_groups=list(piece.row_groups)):
            writer.write_batch(batch)
    return target


def relabel(exc: DataError, piece: Piece, read: Path) -> DataError:
    """``exc`` raised while reading ``read`` for ``piece``, naming the user's file and the
    data row in it."""
    if str(read) == piece.source and piece.first_row == 0:
        return exc
    message = str(exc).replace(str(read), piece.source)
    message = re.sub(
        r"data row (\d+)", lambda m: f"data row {int(m.group(1)) + piece.first_row}", message
    )
    return DataError(message)
