"""Will one process hold this log? A warning before ``omnimmm lifecycle score`` starts.

The single-process path keeps every row in an in-memory DuckDB table and every training
cutoff's feature table in pandas, so its peak memory grows with the log. Measured
(``benchmarks/RESULTS.md``, ``bench_lifecycle_dask``; about 10 transactions a customer):
1.31 GB peak at 1M rows, 5.26 GB at 5M, and killed by the kernel's out-of-memory killer at
23.4 GB on 50M rows after 22 minutes, without a word before. :func:`memory_warning` reads
the log's row count (Parquet metadata, or a CSV's size over its first lines' length),
estimates the peak at :data:`BASE_BYTES` plus :data:`BYTES_PER_ROW` a row, and says so
when that exceeds the memory the system has available, pointing to ``--workers`` (the
Dask path, which holds one bucket of customers per task).
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["BASE_BYTES", "BYTES_PER_ROW", "available_memory", "estimate_rows", "memory_warning"]

#: Peak memory of the single-process path beyond its rows: the interpreter and libraries.
BASE_BYTES = 500_000_000
#: Peak memory per transaction row: (5.26 GB - 0.5 GB) / 5M rows at 10 rows a customer.
BYTES_PER_ROW = 950
_CSV_SAMPLE = 1 << 20


def available_memory() -> int | None:
    """Bytes the system can give a new process without swapping (``MemAvailable`` on
    Linux, else physical memory), or None when the system does not say."""
    try:
        with open("/proc/meminfo", encoding="ascii") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return int(os.sysconf("SC_PAGE_SIZE")) * int(os.sysconf("SC_PHYS_PAGES"))
    except (ValueError, OSError, AttributeError):
        return None


def estimate_rows(path: Path) -> int | None:
    """Rows of a Parquet file or folder (exact, from the metadata) or of a CSV file (its
    size over the mean length of its first lines); None for anything else or unreadable."""
    from omnimmm.lifecycle.distributed_input import input_files, is_csv

    path = Path(path)
    try:
        files = input_files(path)  # the Dask path's reading of the same argument
        if not is_csv(files[0]):
            import pyarrow.parquet as pq

            return sum(pq.ParquetFile(f).metadata.num_rows for f in files)
        if path.is_file():
            size = path.stat().st_size
            with open(path, "rb") as f:
                head = f.read(_CSV_SAMPLE)
            lines = head.count(b"\n")
            if size <= len(head) or lines < 2:
                return max(lines - 1, 0)
            return int(size / (len(head) / lines))
    except Exception:  # unreadable or corrupt: the reader itself reports it properly
        return None
    return None


def memory_warning(path: Path, available: int | None = None) -> str | None:
    """A warning when one process would likely need more memory than is available for
    the log at ``path``; None when it fits or either number is unknown."""
    rows = estimate_rows(path)
    available = available_memory() if available is None else available
    if rows is None or available is None:
        return None
    need = BASE_BYTES + BYTES_PER_ROW * rows
    if need <= available:
        return None
    return (
        f"warning: {path} has about {rows:,} rows; one process needs about "
        f"{need / 1e9:.0f} GB for it (measured: about 1 GB per million rows), and this "
        f"machine has {available / 1e9:.0f} GB available. It may be killed for lack of "
        "memory: score on Dask with --workers N (this machine) or --scheduler ADDRESS, "
        "which holds one bucket of customers per task."
    )
