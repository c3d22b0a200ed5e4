"""The single-process lifecycle path warns before a log that will not fit in memory."""

from __future__ import annotations

import numpy as np
import pandas as pd

from omnimmm.lifecycle import memory
from omnimmm.lifecycle.memory import BASE_BYTES, BYTES_PER_ROW, estimate_rows, memory_warning


def _tx(n: int, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame({
        "customer_id": rng.integers(0, n // 5 + 1, n).astype(str),
        "ts": pd.Timestamp("2025-01-01") + pd.to_timedelta(rng.integers(0, 300, n), unit="D"),
        "amount": rng.gamma(2.0, 80.0, n).round(2),
    })  # fmt: skip


def test_rows_of_a_parquet_folder_are_exact(tmp_path):
    (tmp_path / "tx" / "2025").mkdir(parents=True)
    _tx(1234).to_parquet(tmp_path / "tx" / "a.parquet", index=False)
    _tx(766, 1).to_parquet(tmp_path / "tx" / "2025" / "b.parquet", index=False)
    assert estimate_rows(tmp_path / "tx") == 2000
    assert estimate_rows(tmp_path / "tx" / "a.parquet") == 1234


def test_rows_of_a_csv_are_estimated_from_its_first_lines(tmp_path):
    small, big = tmp_path / "small.csv", tmp_path / "big.csv"
    _tx(300).to_csv(small, index=False)
    _tx(60_000).to_csv(big, index=False)  # larger than the 1 MB sample
    assert estimate_rows(small) == 300
    assert abs(estimate_rows(big) - 60_000) < 0.05 * 60_000


def test_unknown_or_unreadable_input_gives_no_estimate(tmp_path):
    (tmp_path / "x.xlsx").write_bytes(b"not really")
    (tmp_path / "broken.parquet").write_bytes(b"PAR1 nonsense")
    assert estimate_rows(tmp_path / "x.xlsx") is None
    assert estimate_rows(tmp_path / "broken.parquet") is None
    assert memory_warning(tmp_path / "broken.parquet", available=1) is None


def test_warning_when_the_estimate_exceeds_available_memory(tmp_path):
    path = tmp_path / "tx.parquet"
    _tx(1000).to_parquet(path, index=False)
    need = BASE_BYTES + 1000 * BYTES_PER_ROW
    assert memory_warning(path, available=need) is None
    msg = memory_warning(path, available=need - 1)
    assert msg is not None and "1,000 rows" in msg and "--workers" in msg and str(path) in msg


def test_available_memory_is_known_here():
    got = memory.available_memory()
    assert got is not None and got > 100_000_000
