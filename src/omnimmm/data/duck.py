"""DuckDB connections for the single-process readers (transactions, touches, KPI board).

DuckDB's in-memory database spills to ``.tmp`` in the *current working directory* once a
query outgrows its memory limit (80% of RAM by default). On a log too big for the machine
that is tens of gigabytes in the user's project folder (52 GB at 50M transactions here),
left behind if the process is killed. :func:`connect` points the spill at a directory of
its own under the system's temporary directory (``TMPDIR``), which DuckDB creates only
when it spills and removes when the connection closes.
"""

from __future__ import annotations

import os
import tempfile
import uuid
from pathlib import Path
from typing import Any

import duckdb

__all__ = ["connect", "spill_directory", "sql_ident", "sql_string"]


def sql_string(value: object) -> str:
    """``value`` (a path, a name, a pattern) as a SQL string literal, quotes doubled."""
    return "'" + str(value).replace("'", "''") + "'"


def sql_ident(name: str) -> str:
    """A column or table name as a quoted SQL identifier, double quotes doubled."""
    return '"' + name.replace('"', '""') + '"'


def spill_directory() -> Path:
    """A fresh path (not created) under the system's temporary directory."""
    name = f"omnimmm-duckdb-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    return Path(tempfile.gettempdir()) / name


def connect(**config: Any) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB connection that spills to :func:`spill_directory`; ``config``
    adds or overrides settings (``threads``, ``memory_limit``, ...)."""
    return duckdb.connect(config={"temp_directory": str(spill_directory()), **config})
