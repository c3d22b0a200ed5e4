"""Journey inputs written by someone else's script: layouts of ids, timestamps, places and
values that our simulator never writes, read as the canonical files are (same journeys,
same attribution with the same seed) or refused with the file, column and row named."""

from __future__ import annotations

import json
import re
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


def test_rows_without_a_customer_and_refunds_are_left_out_with_a_note(
    world: tuple[pd.DataFrame, pd.DataFrame],
) -> None:
    """Anonymous store receipts and refunds (negative values) are left out and counted, as
    the lifecycle reader does, rather than refusing the file; most rows without a customer
    mean the wrong column and are refused."""
    from omnimmm.errors import DataError

    t, c = world
    extra = c.iloc[:30].copy()
    extra.loc[extra.index[:10], "customer_id"] = None
    extra.loc[extra.index[10:], "value"] = -extra["value"].iloc[10:]
    anon = t.iloc[:5].assign(customer_id="")
    got = _journeys(pd.concat([t, anon]), pd.concat([c, extra]))
    want = _journeys(t, c)
    for a, b in zip(want, got, strict=True):
        pd.testing.assert_frame_equal(a, b)
    notes = load_journeys(pd.concat([t, anon]), pd.concat([c, extra])).notes
    assert any("left out 5 of" in n and "no customer id" in n for n in notes)
    assert any("left out 10 of" in n and "no customer id" in n for n in notes)
    assert any("left out 20 of" in n and "negative value" in n for n in notes)
    with pytest.raises(DataError, match=r"column 'customer_id'.*Is 'customer_id' the right"):
        load_journeys(t, c.assign(customer_id=np.where(np.arange(len(c)) % 3, None, "x")))


def test_a_conversion_without_a_place_is_not_counted_as_a_store_purchase(
    world: tuple[pd.DataFrame, pd.DataFrame],
) -> None:
    t, c = world
    c = c.assign(channel=c["channel"].astype(object))
    c.loc[c.index[::4], "channel"] = None
    data = load_journeys(t, c)
    got = dict(data.con.execute("select place, count(*) from conversions group by 1").fetchall())
    want = c["channel"].value_counts()
    assert got == {"online": want["online"], "store": want["store"], None: len(c[::4])}
    assert any("have no place in 'channel'" in n for n in data.notes)


def test_ids_spelled_otherwise_in_the_other_file_are_the_same_customers(
    tmp_path: Path, world: tuple[pd.DataFrame, pd.DataFrame]
) -> None:
    """Ids written as integers in one file and zero-padded, as floats ('12.0') or as +86
    phone numbers in the other matched no one: every buyer looked untouched. They are
    matched as numbers (with a note), redemptions too; ids that already match are kept."""
    t, c = world
    n_t, n_c = (f["customer_id"].str[1:].astype(int) for f in (t, c))
    t.assign(customer_id=n_t).to_parquet(tmp_path / "t.parquet")  # integers
    want = _journeys(tmp_path / "t.parquet", c.assign(customer_id=n_c))
    zero_padded, floats = c["customer_id"].str[1:], n_c.astype(float).map(lambda v: f"{v:.1f}")
    for spelled in (zero_padded, floats):  # 0000123, 123.0
        got = _journeys(tmp_path / "t.parquet", c.assign(customer_id=spelled))
        for a, b in zip(want, got, strict=True):
            pd.testing.assert_frame_equal(a, b)
    phone = {i: f"+86 138 {i // 10_000:04d} {i % 10_000:04d}" for i in range(10**6)}.get
    data = load_journeys(t.assign(customer_id=n_t.map(phone)),
                         c.assign(customer_id=n_c.map(phone).str.replace(" ", "").str[3:]),
                         redemptions=c.iloc[:20].assign(customer_id=n_c.iloc[:20].map(phone),
                                                        campaign="coupon"))  # fmt: skip
    assert data.ids_as_numbers and any("matched as numbers" in n for n in data.notes)
    row = data.con.execute("select count(distinct cid) from conversions semi join touches "
                           "using (cid)").fetchone()  # fmt: skip
    assert row == (c.loc[c.customer_id.isin(t.customer_id), "customer_id"].nunique(),)
    assert data.con.execute("select count(*) from redemptions").fetchone() == (20,)
    same = load_journeys(t, c)
    assert not same.ids_as_numbers and not same.notes


def test_the_spelling_of_the_ids_does_not_change_the_attribution(
    tmp_path: Path, world: tuple[pd.DataFrame, pd.DataFrame]
) -> None:
    """Customers are numbered (and so sampled by the seed) in an order that 7, 0000007 and
    U0000007 share: integer ids gave other digits than the same ids zero-padded."""
    t, c = world
    settings = AttributionSettings(n_bootstrap=3, max_rows=20_000)
    attribute(t, c, tmp_path / "a", settings=settings)
    attribute(t.assign(customer_id=t["customer_id"].str[1:].astype(int)),
              c.assign(customer_id=c["customer_id"].str[1:].astype(int)), tmp_path / "b",
              settings=settings)  # fmt: skip
    a, b = (json.loads((tmp_path / d / "attribution.json").read_text()) for d in "ab")
    assert a == b


def test_files_whose_ids_never_match_and_too_few_purchases_are_refused(
    tmp_path: Path, world: tuple[pd.DataFrame, pd.DataFrame]
) -> None:
    """Conversions none of whose buyers has a touch gave null shares and exit 0; too few
    repeat purchases raised a ValueError with a traceback. Both are data errors (exit 3),
    and nothing is written."""
    from typer.testing import CliRunner

    from omnimmm.cli import app

    t, c = world
    t.to_csv(tmp_path / "t.csv", index=False)
    c.assign(customer_id="Q" + c["customer_id"]).to_csv(tmp_path / "c_other.csv", index=False)
    few = c[c["customer_id"].isin(c["customer_id"].drop_duplicates().iloc[:15])]
    few.drop_duplicates("customer_id").to_csv(tmp_path / "c_few.csv", index=False)
    runner = CliRunner()
    for name, message in (("c_other", r"none of its [\d,]+ buyers has a touch"),
                          ("c_few", r"too few purchases to fit")):  # fmt: skip
        res = runner.invoke(app, ["journeys", "attribute", "--touches", str(tmp_path / "t.csv"),
                                  "--conversions", str(tmp_path / f"{name}.csv"), "--out",
                                  str(tmp_path / name), "--bootstrap", "2"])  # fmt: skip
        assert res.exit_code == 3, res.output
        assert "Traceback" not in res.output and re.search(message, " ".join(res.output.split()))
        assert not (tmp_path / name).exists()


def test_rows_exported_twice_count_once_and_same_day_rows_all_count(
    world: tuple[pd.DataFrame, pd.DataFrame],
) -> None:
    """A row repeating another in every column, to the second, is a log exported twice (it
    counted as a second touch or order); rows stamped with the date alone all count."""
    t, c = world
    got = _journeys(pd.concat([t, t.iloc[:40]]), pd.concat([c, c.iloc[:7]]))
    for a, b in zip(_journeys(t, c), got, strict=True):
        pd.testing.assert_frame_equal(a, b)
    days = t.assign(ts=t["ts"].dt.normalize())
    data = load_journeys(pd.concat([days, days.iloc[:40]]), c)
    assert data.n_touches == len(t) + 40 and not data.notes
