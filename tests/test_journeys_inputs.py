"""Journey inputs written by someone else's script: layouts of ids, timestamps, places and
values that our simulator never writes, read as the canonical files are (same journeys,
same attribution with the same seed) or refused with the file, column and row named."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from omnimmm.data.simulate_journeys import simulate_journeys
from omnimmm.journeys.attribute import AttributionSettings, attribute
from omnimmm.journeys.inputs import load_journeys


@pytest.fixture(scope="module")
def world() -> tuple[pd.DataFrame, pd.DataFrame]:
    w = simulate_journeys(n_customers=1500, days=60, seed=3, truth=False)
    return w.touches, w.conversions


def _journeys(touches: object, conversions: object) -> list[pd.DataFrame]:
    """Both tables as loaded, by customer key (not cid) so labelings can be compared."""
    data = load_journeys(touches, conversions)  # type: ignore[arg-type]
    return [data.con.execute(f"select k.cust, t.* exclude (cid) from {table} t join "
                             "customer_keys k using (cid) order by all").df()
            for table in ("touches", "conversions")]  # fmt: skip


def test_csv_ids_numeric_at_first_and_text_later_are_read_whole(tmp_path: Path) -> None:
    """DuckDB's sniffer types a column from its first rows: numeric ids for 20,000+ rows and
    then 'X...' ids failed in its reader with a traceback (and the raw id in it)."""
    n = 25_000
    touches = pd.DataFrame({"customer_id": [str(i % 900) for i in range(n)],
                            "ts": pd.Timestamp("2026-01-01") + pd.to_timedelta(
                                np.arange(n) % 60, unit="D"),
                            "channel": np.resize(["search", "social"], n)})  # fmt: skip
    touches.loc[touches.index[-50:], "customer_id"] = "+86 138 0013 8000"
    touches.to_csv(tmp_path / "t.csv", index=False)
    conv = pd.DataFrame({"customer_id": ["5", "+86 138 0013 8000"],
                         "ts": ["2026-02-01 10:00", "2026-02-02 11:00"], "value": [1.0, 2.0]})  # fmt: skip
    conv.to_csv(tmp_path / "c.csv", index=False)
    data = load_journeys(tmp_path / "t.csv", tmp_path / "c.csv")
    assert data.n_customers == 901 and data.n_touches == n
    got = data.con.execute("select count(distinct cid) from conversions c semi join touches t "
                           "using (cid)").fetchone()  # fmt: skip
    assert got == (2,)


def test_text_with_a_utc_offset_keeps_its_wall_clock_time(
    tmp_path: Path, world: tuple[pd.DataFrame, pd.DataFrame]
) -> None:
    """'2026-01-03T01:50:43+08:00' in a CSV is 01:50 on Jan 3 where it was written, as a
    zoned Parquet column is read; DuckDB's sniffer typed it TIMESTAMPTZ and moved it to UTC
    (the previous day), so every early touch changed day."""
    t, c = world
    for name, fmt in (("naive", "%Y-%m-%d %H:%M:%S"), ("zoned", "%Y-%m-%dT%H:%M:%S+08:00")):
        t.assign(ts=t["ts"].dt.strftime(fmt)).to_csv(tmp_path / f"t_{name}.csv", index=False)
        c.assign(ts=c["ts"].dt.strftime(fmt)).to_csv(tmp_path / f"c_{name}.csv", index=False)
    naive = _journeys(tmp_path / "t_naive.csv", tmp_path / "c_naive.csv")
    zoned = _journeys(tmp_path / "t_zoned.csv", tmp_path / "c_zoned.csv")
    for a, b in zip(naive, zoned, strict=True):
        pd.testing.assert_frame_equal(a, b)


def test_shuffled_rows_give_the_same_attribution_to_the_last_digit(
    tmp_path: Path, world: tuple[pd.DataFrame, pd.DataFrame]
) -> None:
    """The rows' order within a day set the order of the model's sums, and the mean order
    value was averaged in file order: a shuffled file changed digits with the same seed."""
    t, c = world
    settings = AttributionSettings(n_bootstrap=3, max_rows=20_000)
    attribute(t, c, tmp_path / "a", settings=settings)
    attribute(t.sample(frac=1.0, random_state=1), c.sample(frac=1.0, random_state=2),
              tmp_path / "b", settings=settings)  # fmt: skip
    a, b = (json.loads((tmp_path / d / "attribution.json").read_text()) for d in "ab")
    assert a == b
