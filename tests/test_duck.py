"""DuckDB spills of the single-process readers go to the system's temporary directory,
not to ``.tmp`` in the working directory (DuckDB's default for an in-memory database)."""

from __future__ import annotations

import tempfile
from pathlib import Path

from omnimmm.data import duck
from omnimmm.lifecycle.features import load_transactions


def _spill(con) -> None:
    """A query over the memory limit, so DuckDB writes temporary files."""
    con.execute(
        "create temp table t as select range as a, md5(range::varchar) as b from range(2000000)"
    )
    con.execute("select b, count(*) from t group by b order by 2 desc limit 1").fetchall()


def test_spill_goes_to_the_system_temp_directory_and_is_removed(tmp_path, monkeypatch):
    work = tmp_path / "project"
    work.mkdir()
    monkeypatch.chdir(work)
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "sys_tmp"))
    (tmp_path / "sys_tmp").mkdir()
    con = duck.connect(memory_limit="64MB", threads=1)
    spill = Path(con.execute("select current_setting('temp_directory')").fetchone()[0])
    assert spill.parent == tmp_path / "sys_tmp" and spill.name.startswith("omnimmm-duckdb-")
    _spill(con)
    assert spill.is_dir() and any(spill.iterdir())  # it did spill, there
    assert list(work.iterdir()) == []  # nothing in the working directory
    con.close()
    assert not spill.exists()


def test_each_connection_has_its_own_spill_directory():
    a, b = duck.connect(), duck.connect()
    get = "select current_setting('temp_directory')"
    assert a.execute(get).fetchone() != b.execute(get).fetchone()


def test_transaction_reader_uses_it(tmp_path):
    import pandas as pd

    f = tmp_path / "tx.csv"
    pd.DataFrame({"customer_id": ["a", "b"], "ts": ["2025-01-01", "2025-01-02"],
                  "amount": [1.0, 2.0]}).to_csv(f, index=False)  # fmt: skip
    table = load_transactions(f)
    spill = table.con.execute("select current_setting('temp_directory')").fetchone()[0]
    assert Path(spill).parent == Path(tempfile.gettempdir())
