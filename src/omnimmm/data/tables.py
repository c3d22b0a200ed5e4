"""The package's one tabular reader: CSV, Parquet (file or folder) and Excel, sniffed.

Every command reads user tables through here, so the odd files users really have behave the
same everywhere and fail with one named paragraph instead of a parser's traceback:

- CSV in UTF-8, UTF-8 with a byte-order mark (what Excel writes), GB18030 (what Chinese
  Excel calls "CSV", a superset of GBK) or UTF-16 with a byte-order mark (Excel's "Unicode
  text"); delimiter ``,`` ``;`` tab or ``|``, or columns aligned by spaces (a ``.txt``
  export such as CDNOW's, when no delimiter splits the header); thousands separators
  (``"3,860.00"``) removed
  from numeric-looking cells; a semicolon file that writes decimals as ``1.234,5`` is read
  with decimal commas; gzipped (``orders.csv.gz``, or any name) and read as it is;
- Parquet, a single file or a folder of ``*.parquet`` files (hive partitions become columns);
- Excel ``.xlsx``/``.xlsm`` through openpyxl: the named sheet; else the first, or every
  sheet stacked in order when all of them have the first one's header (a log split into one
  sheet a year, as UCI's Online Retail II is).

Legacy Excel (``.xls``, ``.xlsb``), Numbers, OpenDocument, zip/bzip2/xz archives and HTML
files are recognised by their first bytes and rejected with what to save instead.

:func:`register_duckdb` gives the lifecycle's DuckDB path a view over the same table without
loading a big UTF-8 CSV or Parquet folder into pandas.
"""

from __future__ import annotations

import codecs
import csv
import gzip
import io
import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Literal, cast

import numpy as np
import pandas as pd

from omnimmm.data.cells import AMOUNT, STRIP, clean_numbers, infer_types, sniff_numbers
from omnimmm.data.duck import sql_ident as _q
from omnimmm.data.duck import sql_string
from omnimmm.errors import DataError

if TYPE_CHECKING:
    import duckdb

__all__ = [
    "TableFormat",
    "read_frame",
    "register_duckdb",
    "sniff_table",
    "wall_clock",
]

_SAMPLE_BYTES = 1 << 16
_DELIMITERS = (",", ";", "\t", "|")
#: The :attr:`TableFormat.delimiter` of a text table whose columns are separated by runs of
#: spaces (leading spaces ignored).
WHITESPACE = r"\s+"
_SAVE_AS = "save it as .xlsx or as CSV (UTF-8)"
_NOT_READ = {
    ".xls": f"legacy Excel (.xls) is not read: {_SAVE_AS}",
    ".xlsb": f"binary Excel (.xlsb) is not read: {_SAVE_AS}",
    ".numbers": "Apple Numbers files are not read: export it as .xlsx or as CSV (UTF-8)",
    ".ods": f"OpenDocument spreadsheets are not read: {_SAVE_AS}",
    ".json": "JSON is not read: save the table as CSV (UTF-8), Parquet or .xlsx",
    ".pkl": "pickle files are never read (they can run code): save the table as Parquet or CSV",
    ".pickle": "pickle files are never read (they can run code): save the table as Parquet or CSV",
}


@dataclass(frozen=True)
class TableFormat:
    """How a table file is read, as decided by :func:`sniff_table`.

    Attributes
    ----------
    kind
        ``"csv"``, ``"parquet"``, ``"parquet_dir"`` (a folder of Parquet files) or ``"excel"``.
    encoding
        Text encoding of a CSV (``"utf-8"``, ``"utf-8-sig"``, ``"gb18030"``, ``"utf-16"``);
        ``None`` otherwise.
    delimiter
        Field delimiter of a CSV: one of ``,`` ``;`` tab ``|``, or :data:`WHITESPACE` for
        columns separated by runs of spaces; ``None`` otherwise.
    thousands
        Thousands separator seen in numeric cells (``","``, or ``"."`` with decimal commas);
        ``None`` when none was seen in the sample.
    sheet
        Excel sheet read (the first by default); ``None`` otherwise.
    decimal
        Decimal mark of numeric text cells: ``","`` for files such as ``1.234,5;...``,
        otherwise ``"."``.
    compression
        ``"gzip"`` for a gzipped CSV (``orders.csv.gz``, read as it is); ``None`` otherwise.
    """

    kind: Literal["csv", "parquet", "parquet_dir", "excel"]
    encoding: str | None = None
    delimiter: str | None = None
    thousands: str | None = None
    sheet: str | None = None
    decimal: str = "."
    compression: Literal["gzip"] | None = None


def _fail(path: Path, what: str, problem: str) -> DataError:
    return DataError(f"{path}: {what}: {problem}")


# --- sniffing ---------------------------------------------------------------------------


def sniff_table(path: str | Path, *, what: str = "data file") -> TableFormat:
    """Decide how to read a table file or folder from its name and first bytes.

    Parameters
    ----------
    path
        A CSV, Parquet or Excel file, or a folder of Parquet files.
    what
        What the file is, for messages, e.g. ``"transactions file (--transactions)"``.

    Returns
    -------
    TableFormat

    Raises
    ------
    DataError
        Naming the file and ``what``: missing, empty, a format that is not read (``.xls``,
        ``.xlsb``, ``.numbers``, zip/bzip2/xz, HTML), text in no supported encoding, or a folder
        without Parquet files.
    """
    src = Path(path)
    if src.is_dir():
        if next(_parquet_files(src), None) is None:
            raise _fail(src, what, "a folder without .parquet files (expected a CSV, Parquet "
                        "or .xlsx file, or a folder of Parquet files)")  # fmt: skip
        return TableFormat("parquet_dir")
    if not src.is_file():
        raise _fail(src, what, "file not found (check the path; relative paths are read "
                    "from the folder of the plan, or the current folder for a flag)")  # fmt: skip
    suffix = src.suffix.lower()
    if suffix in _NOT_READ:
        raise _fail(src, what, _NOT_READ[suffix])
    try:
        with src.open("rb") as fh:
            head = fh.read(_SAMPLE_BYTES)
        gzipped = head.startswith(_GZIP)
        if gzipped:  # a gzipped CSV is read as it is; the sample is its start, unpacked
            with gzip.open(src, "rb") as fh:
                head = fh.read(_SAMPLE_BYTES)
    except (OSError, EOFError) as exc:
        raise _fail(
            src, what, f"cannot be opened ({getattr(exc, 'strerror', None) or exc})"
        ) from None
    if not head.strip():
        raise _fail(src, what, "the file is empty: expected a header row and data rows")
    if head.startswith(b"PAR1"):
        return TableFormat("parquet")
    if suffix in {".parquet", ".pq"}:
        raise _fail(src, what, "not a Parquet file (it lacks Parquet's PAR1 signature); "
                    "write it again with pandas.DataFrame.to_parquet or save it as CSV")  # fmt: skip
    binary = _binary_kind(head)
    if gzipped and (binary is not None or head.startswith(b"PAR1")):
        raise _fail(src, what, "a gzipped file that holds no CSV: decompress it first")
    if binary == "excel":
        return _sniff_excel(src, what, None)
    if binary is not None:
        raise _fail(src, what, binary)
    if suffix in {".xlsx", ".xlsm"}:
        raise _fail(src, what, f"named {suffix} but not an Excel workbook; {_SAVE_AS}")
    encoding, text = _decode_sample(src, what, head, complete=len(head) < _SAMPLE_BYTES)
    start = text.lstrip()[:200].lower()
    if start.startswith(("<html", "<!doctype", "<?xml", "<table")):
        raise _fail(src, what, "an HTML/XML page, not a table (some systems export those "
                    f"as .xls); open it in Excel and {_SAVE_AS}")  # fmt: skip
    rows = _sample_lines(text, complete=len(head) < _SAMPLE_BYTES)
    delimiter = _sniff_delimiter(rows)
    if delimiter == WHITESPACE:
        cells = [c for row in rows for c in row.split()]
    else:
        cells = [c for row in csv.reader(rows, delimiter=delimiter) for c in row[:]]
    thousands, decimal = sniff_numbers(cells, delimiter)
    return TableFormat("csv", encoding, delimiter, thousands, None, decimal,
                       "gzip" if gzipped else None)  # fmt: skip


_GZIP = b"\x1f\x8b"


def _open_text_bytes(src: Path, fmt: TableFormat) -> IO[bytes]:
    """The file's bytes, unpacked when it is gzipped."""
    return cast(IO[bytes], gzip.open(src, "rb") if fmt.compression == "gzip" else src.open("rb"))


def _binary_kind(head: bytes) -> str | None:
    """``"excel"`` for an xlsx/xlsm zip, a problem text for other binary formats, else None."""
    if head.startswith(b"PK\x03\x04"):
        if b"xl/" in head or b"[Content_Types].xml" in head:
            return "excel"
        return "a zip archive, not a table: unzip it and give the CSV, Parquet or .xlsx inside"
    if head.startswith(b"\xd0\xcf\x11\xe0"):
        return f"legacy Excel (.xls) is not read: {_SAVE_AS}"
    if head.startswith(b"BZh") or head.startswith(b"\xfd7zXZ"):
        return "a bzip2/xz file: decompress it first (or gzip it) and give the CSV inside"
    if head.startswith(b"\x80") and head[1:2] in {b"\x02", b"\x03", b"\x04", b"\x05"}:
        return "a pickle, which is never read (it can run code): save it as Parquet or CSV"
    return None


def _decode_sample(src: Path, what: str, head: bytes, *, complete: bool) -> tuple[str, str]:
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        candidates: tuple[str, ...] = ("utf-16",)
    else:
        candidates = ("utf-8-sig" if head.startswith(codecs.BOM_UTF8) else "utf-8", "gb18030")
    for encoding in candidates:
        try:
            text = codecs.getincrementaldecoder(encoding)().decode(head, final=complete)
        except UnicodeDecodeError:
            continue
        if "\x00" in text:
            break
        return encoding, text
    raise _fail(src, what, "not text in UTF-8, GB18030 or UTF-16, nor an .xlsx or Parquet "
                "file; save it as CSV (UTF-8) or .xlsx")  # fmt: skip


def _sample_lines(text: str, *, complete: bool) -> list[str]:
    lines = text.splitlines()
    if not complete and len(lines) > 1:
        lines = lines[:-1]  # the last line may be cut off mid-way
    return [ln for ln in lines if ln.strip()][:200]


def _sniff_delimiter(lines: list[str]) -> str:
    """The delimiter that splits the header into most fields, rows agreeing with it; runs
    of spaces when none splits the header but spaces split every row alike."""
    best, best_score = ",", (0.0, 1)
    for d in _DELIMITERS:
        widths = [len(r) for r in csv.reader(lines, delimiter=d)]
        if not widths or widths[0] < 2:
            continue
        agree = sum(w == widths[0] for w in widths) / len(widths)
        score = (round(agree, 1), widths[0])
        if score > best_score:
            best, best_score = d, score
    if best_score[1] < 2 and len(lines) > 1:
        widths = [len(line.split()) for line in lines]
        if widths[0] >= 2 and all(w == widths[0] for w in widths):
            return WHITESPACE
    return best


def _wall_clock_columns(path: Path) -> str:
    """The select list of a Parquet file whose zoned timestamps become their wall-clock time
    in their own zone (a purchase at 00:30 Beijing time on 11 November stays on the 11th),
    whatever the machine's zone; ``*`` when it has none. Zoned text is read the same way
    (see ``omnimmm.lifecycle.roles``)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        schema = pq.read_schema(path)
    except (OSError, pa.ArrowException):
        return "*"  # DuckDB's read reports the file
    swaps = []
    for f in schema:
        zone = getattr(f.type, "tz", None) if pa.types.is_timestamp(f.type) else None
        if not zone:
            continue
        offset = re.fullmatch(r"([+-])(\d{2}):?(\d{2})", zone)
        if offset:  # a fixed offset (+08:00): DuckDB's zones are names
            minutes = (1 if offset[1] == "+" else -1) * (int(offset[2]) * 60 + int(offset[3]))
            wall = f"timezone('UTC', {_q(f.name)}) + INTERVAL {minutes} MINUTE"
        else:
            wall = f"timezone({sql_string(zone)}, {_q(f.name)})"
        swaps.append(f"{wall} AS {_q(f.name)}")
    return f"* REPLACE ({', '.join(swaps)})" if swaps else "*"


def wall_clock(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with every zoned datetime column as its wall-clock time in its own zone
    (what :func:`register_duckdb` does for Parquet), so DuckDB does not convert it to UTC."""
    zoned = [c for c in frame.columns if isinstance(frame[c].dtype, pd.DatetimeTZDtype)]
    if not zoned:
        return frame
    return frame.assign(**{str(c): frame[c].dt.tz_localize(None) for c in zoned})


def _parquet_files(folder: Path) -> Iterator[Path]:
    for p in sorted(folder.rglob("*.parquet")):
        if not any(part.startswith((".", "_")) for part in p.relative_to(folder).parts):
            yield p


def _sniff_excel(src: Path, what: str, sheet: str | None) -> TableFormat:
    book = _open_book(src, what)
    try:
        name = _sheet_name(book, src, what, sheet)
        cells = [
            v
            for row in book[name].iter_rows(max_row=200, values_only=True)
            for v in row
            if isinstance(v, str)
        ]
    finally:
        book.close()
    thousands, _ = sniff_numbers(cells, ",")
    return TableFormat("excel", None, None, thousands, name)


def _open_book(src: Path, what: str) -> Any:
    import zipfile

    import openpyxl

    try:
        return openpyxl.load_workbook(src, read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, OSError, ValueError, TypeError) as exc:
        raise _fail(src, what, f"not a readable .xlsx workbook ({exc}); {_SAVE_AS} "
                    "again") from None  # fmt: skip


def _sheet_name(book: Any, src: Path, what: str, sheet: str | None) -> str:
    names = list(book.sheetnames)
    if not names:
        raise _fail(src, what, "the workbook has no sheets")
    if sheet is None:
        return str(names[0])
    if sheet not in names:
        raise _fail(src, what, f"no sheet named {sheet!r}; sheets are {names}")
    return sheet


# --- reading into pandas ------------------------------------------------------------------


def read_frame(
    path: str | Path, *, what: str = "data file", as_text: bool = False, sheet: str | None = None
) -> pd.DataFrame:
    """Read a whole table into pandas (see the module docstring for the formats).

    Parameters
    ----------
    path
        A CSV, Parquet or ``.xlsx``/``.xlsm`` file, or a folder of Parquet files.
    what
        What the file is, for messages (``"media panel (data.path in plan.toml)"``).
    as_text
        Keep every cell as ``str`` (``""`` for empty), as the MMM panel reader needs to point
        at a bad cell; header names are kept as written, duplicates included.
    sheet
        Excel sheet to read (default: the first).

    Returns
    -------
    pandas.DataFrame
        Header whitespace stripped, trailing empty rows dropped, thousands separators removed
        from numeric-looking cells. Without ``as_text``, columns whose every non-empty cell is
        a number become numbers (text with leading zeros or a leading ``+``, such as ids and
        phone numbers, stays text), columns of only true/false become booleans; dates stay
        text for the caller to parse; empty cells are missing. Parquet keeps its stored types
        unless ``as_text``.

    Raises
    ------
    DataError
        Any file that cannot be read, naming the file, ``what`` and what to do.
    """
    src = Path(path)
    fmt = sniff_table(src, what=what)
    if fmt.kind in ("parquet", "parquet_dir"):
        frame = _read_parquet(src, what, fmt)
        return _as_text(frame) if as_text else frame
    if fmt.kind == "excel":
        if sheet is not None and sheet != fmt.sheet:
            fmt = _sniff_excel(src, what, sheet)
        cells = _excel_cells(src, what, fmt.sheet)
        if sheet is None:
            cells = _same_header_sheets(src, what, cells)
    else:
        cells = _csv_cells(src, what, fmt)
    cells = clean_numbers(cells, fmt.decimal)
    return cells if as_text else infer_types(cells)


def _csv_cells(src: Path, what: str, fmt: TableFormat) -> pd.DataFrame:
    with _open_text_bytes(src, fmt) as fh:
        raw = fh.read()
    encoding = fmt.encoding or "utf-8"
    try:
        text = raw.decode(encoding)
    except UnicodeDecodeError:
        # the sample was plain UTF-8 but a later row is not: Chinese Excel's GB18030
        try:
            text = raw.decode("gb18030")
        except UnicodeDecodeError as exc:
            raise _fail(src, what, f"not text in UTF-8 or GB18030 (byte {exc.start:,}); "
                        "save it as CSV (UTF-8) or .xlsx") from None  # fmt: skip
    text = re.sub(r"\A(?:[ \t]*\r?\n)+", "", text.removeprefix("\ufeff"))  # blank lines on top
    try:
        cells = pd.read_csv(
            io.StringIO(text),
            sep=fmt.delimiter or ",",
            header=None,
            dtype=str,
            keep_default_na=False,
            skip_blank_lines=False,
            engine="c",
        )
    except pd.errors.EmptyDataError:
        raise _fail(src, what, "the file is empty: expected a header row") from None
    except pd.errors.ParserError as exc:
        line = re.search(r"line (\d+)", str(exc))
        where = f"line {line.group(1)}" if line else "a row"
        raise _fail(src, what, f"not a readable CSV file: {where} has more fields than the header (delimiter "
                    f"{_show(fmt.delimiter)}); check for an unquoted delimiter inside a "
                    "value or a missing header column") from None  # fmt: skip
    return _with_header(cells)


def _show(delimiter: str | None) -> str:
    return {"\t": "tab", None: "','", WHITESPACE: "spaces"}.get(delimiter, f"'{delimiter}'")


def _with_header(cells: pd.DataFrame) -> pd.DataFrame:
    blank = _blank_rows(cells)
    if not blank.all():
        cells = cells.iloc[int(np.argmin(blank)) :]  # blank rows above the header
    header = [str(h).strip() if h is not None else "" for h in cells.iloc[0]]
    body = cells.iloc[1:].reset_index(drop=True).fillna("")
    body.columns = pd.Index(header, dtype=object)
    filled = ~_blank_rows(body)
    last = len(filled) - int(filled[::-1].argmax()) if filled.any() else 0
    return body.iloc[:last]


def _blank_rows(cells: pd.DataFrame) -> np.ndarray:
    """Whether each row's cells are all empty or whitespace (missing counts as empty)."""
    blank = np.ones(len(cells), dtype=bool)
    for j in range(cells.shape[1]):
        col = cells.iloc[:, j].to_numpy(dtype=object)
        blank &= np.fromiter(
            (v is None or (isinstance(v, float) and v != v) or not str(v).strip() for v in col),
            dtype=bool,
            count=len(col),
        )
    return blank


def _excel_cells(src: Path, what: str, sheet: str | None) -> pd.DataFrame:
    book = _open_book(src, what)
    try:
        name = _sheet_name(book, src, what, sheet)
        rows = [[_excel_text(v) for v in row] for row in book[name].iter_rows(values_only=True)]
    finally:
        book.close()
    while rows and not any(v.strip() for v in rows[-1]):
        rows.pop()
    if not rows:
        raise _fail(src, what, f"sheet {name!r} is empty: expected a header row")
    width = max(len(r) for r in rows)
    cells = pd.DataFrame([r + [""] * (width - len(r)) for r in rows], dtype=object)
    empty = [j for j in range(width) if not any(str(v).strip() for v in cells[j])]
    cells = cells.drop(columns=empty)  # blank columns openpyxl reports past the table
    return _with_header(cells)


def _same_header_sheets(src: Path, what: str, first: pd.DataFrame) -> pd.DataFrame:
    """The first sheet's cells, with every later sheet's stacked below when all of them
    carry the same header (one table split over sheets); else the first sheet alone."""
    book = _open_book(src, what)
    try:
        names = list(book.sheetnames)[1:]
        heads = [next(book[n].iter_rows(max_row=1, values_only=True), ()) for n in names]
    finally:
        book.close()
    header = [str(c) for c in first.columns]
    same = [[_excel_text(v).strip() for v in h] for h in heads]
    if not names or any([v for v in h if v] != header for h in same):
        return first
    return pd.concat([first, *(_excel_cells(src, what, n) for n in names)], ignore_index=True)


def _excel_text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    if isinstance(value, pd.Timestamp | np.datetime64) or hasattr(value, "isoformat"):
        stamp = pd.Timestamp(value)  # type: ignore[arg-type]
        return str(stamp.date()) if stamp == stamp.normalize() else stamp.isoformat(sep=" ")
    return str(value)


def _as_text(frame: pd.DataFrame) -> pd.DataFrame:
    out = frame.copy()
    for j in range(out.shape[1]):
        out.isetitem(j, cast(Any, out.iloc[:, j].map(_excel_text).astype(object)))
    return out


def _read_parquet(src: Path, what: str, fmt: TableFormat) -> pd.DataFrame:
    import pyarrow.dataset as ds
    import pyarrow.parquet as pq

    try:
        if fmt.kind == "parquet_dir":
            files = [str(p) for p in _parquet_files(src)]
            table = ds.dataset(
                files, format="parquet", partitioning="hive", partition_base_dir=str(src)
            ).to_table()
        else:
            table = pq.read_table(src)
    except Exception as exc:  # pyarrow raises several types for bad files
        raise _fail(src, what, f"not a readable Parquet file ({exc}); write it again or "
                    "save it as CSV (UTF-8)") from None  # fmt: skip
    names = [str(n).strip() for n in table.column_names]
    frame = table.rename_columns([f"c{i}" for i in range(len(names))]).to_pandas(
        ignore_metadata=True
    )
    frame.columns = pd.Index(names, dtype=object)
    return frame


# --- DuckDB ---------------------------------------------------------------------------------


def register_duckdb(
    con: duckdb.DuckDBPyConnection,
    path: str | Path,
    view: str,
    *,
    what: str = "data file",
    as_text: bool = False,
) -> TableFormat:
    """Make ``view`` a DuckDB view over a table without loading big files into pandas.

    Parquet (file or folder, hive partitions) is read by ``read_parquet``; a UTF-8 CSV by
    ``read_csv`` with the sniffed delimiter and thousands separators removed; anything else
    (GB18030 or UTF-16 CSV, decimal commas, Excel) through :func:`read_frame` and
    ``con.register``.

    Parameters
    ----------
    con
        The DuckDB connection.
    path
        The table file or Parquet folder.
    view
        Name of the view to create (replaced if it exists).
    what
        What the file is, for messages.
    as_text
        CSV and Excel cells as VARCHAR (ids keep leading zeros; the caller casts); Parquet
        keeps its stored types.

    Returns
    -------
    TableFormat
        The format used.

    Raises
    ------
    DataError
        The file cannot be read (see :func:`sniff_table`), or DuckDB cannot parse it.
    """
    import duckdb

    src = Path(path)
    fmt = sniff_table(src, what=what)
    if fmt.kind == "parquet":
        sql = f"SELECT {_wall_clock_columns(src)} FROM read_parquet({sql_string(src)})"
    elif fmt.kind == "parquet_dir":
        first = next(_parquet_files(src))
        sql = (f"SELECT {_wall_clock_columns(first)} FROM "
               f"read_parquet({sql_string(src / '**' / '*.parquet')}, hive_partitioning=true)")  # fmt: skip
    elif (
        fmt.kind == "csv"
        and fmt.encoding in ("utf-8", "utf-8-sig")
        and fmt.decimal == "."
        and fmt.delimiter != WHITESPACE  # DuckDB's reader takes one delimiter, not a pattern
    ):
        if not _all_utf8(src, fmt):
            return _register_frame(con, src, view, what, as_text)
        sql = _csv_sql(con, src, fmt, what, as_text)
    else:
        return _register_frame(con, src, view, what, as_text)
    try:
        con.execute(f"CREATE OR REPLACE TEMP VIEW {_q(view)} AS {sql}")
        # the first rows, so a ragged or mis-delimited file fails here, by name
        con.execute(f"SELECT count(*) FROM (SELECT * FROM {_q(view)} LIMIT 2000)").fetchall()
    except duckdb.Error as exc:
        raise _duckdb_failure(src, what, fmt, str(exc)) from None
    return fmt


def _duckdb_failure(src: Path, what: str, fmt: TableFormat, message: str) -> DataError:
    line = re.search(r"CSV Error on Line: (\d+)", message)
    if line and "Expected Number of Columns" in message:
        return _fail(src, what, f"not a readable CSV file: line {line.group(1)} has more or "
                     f"fewer fields than the header (delimiter {_show(fmt.delimiter)}); check "
                     "for an unquoted delimiter inside a value or a missing header column")  # fmt: skip
    first = message.strip().splitlines()[0] if message.strip() else "unknown error"
    return _fail(src, what, f"not a readable table ({first}); check the delimiter and "
                 f"quoting, or {_SAVE_AS}")  # fmt: skip


def _csv_sql(
    con: duckdb.DuckDBPyConnection, src: Path, fmt: TableFormat, what: str, as_text: bool
) -> str:
    """read_csv with the header's own names and no dialect guessing: DuckDB's sniffer can
    return no rows for a small ragged file instead of failing. Types come from its sniffer
    unless ``as_text`` (or it cannot sniff)."""
    import duckdb

    names = _csv_header(src, fmt, what)
    delim = sql_string(fmt.delimiter or ",")
    dialect = f"delim={delim}, quote='\"', escape='\"'"
    if fmt.compression:  # named explicitly: DuckDB infers it only from a .gz name
        dialect += f", compression={sql_string(fmt.compression)}"
    types = ["VARCHAR"] * len(names)
    if not as_text:
        extra = ", thousands=','" if fmt.thousands == "," else ""
        try:
            options = f"{sql_string(src)}, {dialect}, header=true{extra}"
            sniffed = con.execute(f"DESCRIBE SELECT * FROM read_csv({options})").fetchall()
            if len(sniffed) == len(names):
                types = [str(row[1]) for row in sniffed]
            if any(t.upper().startswith(("DATE", "TIMESTAMP")) for t in types):
                types = _iso_dates_only(con, options, types)
        except duckdb.Error:
            pass  # read as text; the explicit read below reports the bad row
    columns = ", ".join(
        f"{sql_string(n)}: {sql_string(t)}" for n, t in zip(names, types, strict=True)
    )
    extra = ", thousands=','" if fmt.thousands == "," and not as_text else ""
    base = (
        f"read_csv({sql_string(src)}, {dialect}, header=false, skip=1, auto_detect=false, "
        f"columns={{{columns}}}{extra})"
    )
    if not as_text:
        return f"SELECT * FROM {base}"
    # text cells: strip thousands separators and currency signs of amounts ("¥3,860.00")
    pattern, strip = sql_string(AMOUNT.pattern), sql_string(STRIP.pattern)
    star = f"COLUMNS(*) IS NOT NULL AND regexp_full_match(COLUMNS(*), {pattern})"
    return (
        f"SELECT CASE WHEN {star} THEN regexp_replace(COLUMNS(*), {strip}, '', 'g') "
        f"ELSE COLUMNS(*) END FROM {base}"
    )


def _iso_dates_only(con: duckdb.DuckDBPyConnection, options: str, types: list[str]) -> list[str]:
    """Sniffed DATE/TIMESTAMP columns stay typed only when the sniffer read them as ISO text;
    others (``1/28/2017``) are read as text, since the explicit read below would parse them
    as ISO and fail, and the sniffer's day/month order comes from a sample. Callers parse
    text dates by the layout their values show (``omnimmm.lifecycle.transactions``)."""
    row = con.execute(f"SELECT DateFormat, TimestampFormat FROM sniff_csv({options})").fetchall()
    date_fmt, ts_fmt = row[0] if row else (None, None)
    iso = (None, "%Y-%m-%d", "%Y-%m-%d %H:%M:%S")
    out = []
    for t in types:
        kind = t.upper()
        non_iso = (kind == "DATE" and date_fmt not in iso) or (
            kind.startswith("TIMESTAMP") and ts_fmt not in iso
        )
        out.append("VARCHAR" if non_iso else t)
    return out


def _csv_header(src: Path, fmt: TableFormat, what: str) -> list[str]:
    with _open_text_bytes(src, fmt) as fh:
        head = fh.read(_SAMPLE_BYTES)
    text = codecs.getincrementaldecoder(fmt.encoding or "utf-8")().decode(head)
    first = next(csv.reader(text.splitlines()[:1] or [""], delimiter=fmt.delimiter or ","), [])
    names = [h.strip() or f"column{i}" for i, h in enumerate(first)]
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        raise _fail(src, what, f"column name(s) {dup} appear more than once in the header; "
                    "rename them so each column has its own name")  # fmt: skip
    return names


def _all_utf8(src: Path, fmt: TableFormat) -> bool:
    decoder = codecs.getincrementaldecoder("utf-8")()
    try:
        with _open_text_bytes(src, fmt) as fh:
            while chunk := fh.read(1 << 22):
                decoder.decode(chunk)
            decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return False
    return True


def _register_frame(
    con: duckdb.DuckDBPyConnection, src: Path, view: str, what: str, as_text: bool
) -> TableFormat:
    frame = read_frame(src, what=what, as_text=as_text)
    names = [str(c) for c in frame.columns]
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        raise _fail(src, what, f"column name(s) {dup} appear more than once in the header; "
                    "rename them so each column has its own name")  # fmt: skip
    frame.columns = pd.Index([n or f"column{i}" for i, n in enumerate(names)], dtype=object)
    holder = f"omni_frame_{uuid.uuid4().hex[:12]}"
    con.register(holder, wall_clock(frame))
    con.execute(f"CREATE OR REPLACE TEMP VIEW {_q(view)} AS SELECT * FROM {_q(holder)}")
    return sniff_table(src, what=what)
