"""Purchase logs as real exports write them: currency text, keys that are phone numbers,
day-first dates in date order, spreadsheet habits. Each test pins a bug found by running
``omnimmm lifecycle score`` without column flags on such a layout."""

from __future__ import annotations

import numpy as np
import pandas as pd

from omnimmm.lifecycle.features import load_transactions


def _orders(n: int = 240, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    when = pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.integers(0, 300 * 24, n), unit="h")
    return pd.DataFrame(
        {
            "cust": [f"{i % 30 + 1}" for i in range(n)],
            "when": pd.Series(when).sort_values(ignore_index=True),
            "value": rng.gamma(2.0, 400.0, n).round(2),
        }
    )


def test_yuan_amounts_in_a_utf8_csv_are_money_as_in_any_other_encoding(tmp_path):
    # a Chinese export: "¥1,158.00" in 实付金额. The reader strips the sign and separators,
    # so role inference must see the column as an amount too, whatever the file's encoding
    # (it used to fall back to counting rows for UTF-8 and read money for GB18030)
    d = _orders()
    zh = pd.DataFrame({
        "会员ID": d["cust"], "下单时间": d["when"].dt.strftime("%Y-%m-%d %H:%M:%S"),
        "实付金额": d["value"].map(lambda v: f"¥{v:,.2f}"),
    })  # fmt: skip
    zh.to_csv(tmp_path / "utf8.csv", index=False)
    zh.to_csv(tmp_path / "gbk.csv", index=False, encoding="gb18030")
    for name in ("utf8.csv", "gbk.csv"):
        t = load_transactions(tmp_path / name)
        assert t.roles.columns["amount"] == "实付金额", name
        got = t.frame()["amount"].to_numpy()
        np.testing.assert_allclose(np.sort(got), np.sort(d["value"].to_numpy()))


def _phone_keyed(tmp_path, key: str, spell) -> tuple[str, pd.DataFrame]:
    from omnimmm.data.simulate_customers import simulate_customers

    world = simulate_customers(n_customers=400, seed=5, start="2024-01-01", end="2025-08-31")
    tx, person = world.transactions, world.truth.transactions_person
    ids = pd.Series(person.unique())
    phone = dict(zip(ids, [spell(13_800_000_000 + 7919 * i) for i in range(len(ids))], strict=True))
    log = pd.DataFrame({key: person.map(phone), "ts": tx["ts"], "amount": tx["amount"]})
    path = tmp_path / "orders.csv"
    log.to_csv(path, index=False)
    return str(path), log


def test_a_customer_key_of_phone_numbers_is_hashed_whatever_its_name(tmp_path):
    # a member id that is the member's mobile (common in Chinese CRM exports) never reaches
    # scores.csv raw, whether the column is called 会员ID or member_id
    from omnimmm.lifecycle.privacy import find_raw_contacts
    from omnimmm.lifecycle.score import score_customers

    for key, spell in (("会员ID", lambda n: f"+86 {str(n)[:3]}-{str(n)[3:7]}-{str(n)[7:]}"),
                       ("member_id", str)):  # fmt: skip
        path, log = _phone_keyed(tmp_path, key, spell)
        res = score_customers(path, "2025-06-15", 60, tmp_path / key, model_preset="fast",
                              model_params={"n_estimators": 40})  # fmt: skip
        written = pd.read_csv(tmp_path / key / "scores.csv", dtype=str)
        assert res.metrics["customer_id_hashed"], key
        assert find_raw_contacts(written) == {}, key
        assert not written["customer_id"].isin(log[key]).any()
        text = (tmp_path / key / "metrics.json").read_text()
        assert not any(v in text for v in log[key].unique()[:50])


def test_day_first_dates_in_date_order_are_read_day_first(tmp_path):
    # a European export sorted by date: its first 5,000 rows are all from 1-12 January, which
    # read month first too; the layout must follow the whole column, not its first rows (it
    # was refused: '13/01/2024' "not a timestamp")
    when = pd.Timestamp("2024-01-01") + pd.to_timedelta(np.arange(8000) * 5, unit="min")
    when = when.append(pd.date_range("2024-01-13", "2024-12-28", periods=2000))
    log = pd.DataFrame({
        "customer_id": [f"c{i % 300}" for i in range(len(when))],
        "order_date": when.strftime("%d/%m/%Y %H:%M"), "amount": 10.0,
    })  # fmt: skip
    log.to_csv(tmp_path / "eu.csv", index=False)
    got = load_transactions(tmp_path / "eu.csv").frame()["ts"]
    expected = pd.Series(when.floor("min").sort_values(), name="ts")
    pd.testing.assert_series_equal(
        got.sort_values(ignore_index=True), expected, check_dtype=False, check_index=False
    )


def test_a_column_passed_over_for_a_required_role_is_named_in_the_mapping():
    # the canonical or a known name wins over another column that could also fill the role
    # (customer_id beside member_id; order_date beside ship_date): the mapping printed and
    # written to metrics.json says which was passed over and the flag that picks it
    from omnimmm.lifecycle.roles import infer_roles

    d = _orders()
    log = pd.DataFrame({
        "customer_id": d["cust"], "member_id": "M" + d["cust"].str[::-1],
        "order_date": d["when"].dt.strftime("%Y-%m-%d"),
        "ship_date": (d["when"] + pd.Timedelta(days=2)).dt.strftime("%Y-%m-%d"),
        "sales": d["value"],
    })  # fmt: skip
    m = infer_roles(log)
    assert m.columns["customer_id"] == "customer_id" and m.columns["ts"] == "order_date"
    notes = "\n".join(m.notes)
    assert "['member_id']" in notes and "--customer-id-col" in notes
    assert "['ship_date']" in notes and "--ts-col" in notes
    # nothing to say when no other column could be it
    assert not infer_roles(log.drop(columns=["member_id", "ship_date"])).notes


def test_a_phone_or_email_column_is_the_customer_key_of_a_log_without_one(tmp_path):
    # the contract's identity keys include phone and email: a log keyed by one of them alone
    # is scored on it (hashed on output), and one with both is refused naming both and the flag
    import pytest

    from omnimmm.errors import DataError
    from omnimmm.lifecycle.roles import infer_roles

    d = _orders()
    phones = "1380013" + d["cust"].str.zfill(4)
    for key, values in (("手机号", phones), ("email", "u" + d["cust"] + "@qq.com")):
        m = infer_roles(pd.DataFrame({key: values, "pay_time": d["when"], "金额": d["value"]}))
        assert m.columns["customer_id"] == key and m.how["customer_id"] == "contact key"
        assert any("--customer-id-col" in n for n in m.notes)
    both = pd.DataFrame({"phone": phones, "email": "u" + d["cust"] + "@qq.com",
                         "ts": d["when"], "amount": d["value"]})  # fmt: skip
    with pytest.raises(DataError, match=r"\['phone', 'email'\].*--customer-id-col"):
        infer_roles(both, label="orders.csv")


def test_integer_keys_stored_as_floats_keep_their_integer_text(tmp_path):
    # UCI Online Retail's CustomerID has blanks, so pandas writes 17850.0 and Parquet stores a
    # double: the key must read 17850 as in the integer file, or scores.csv does not join back
    d = _orders()
    ids = (d["cust"].astype(int) + 17_000).astype("Int64")
    ids[::25] = pd.NA  # guest checkouts
    log = pd.DataFrame({"CustomerID": ids, "InvoiceDate": d["when"], "Sales": d["value"]})
    log.to_parquet(tmp_path / "int.parquet", index=False)
    log.astype({"CustomerID": "float64"}).to_parquet(tmp_path / "float.parquet", index=False)
    log.astype({"CustomerID": "float64"}).to_csv(tmp_path / "float.csv", index=False)
    frames = [load_transactions(tmp_path / f).frame() for f in ("int.parquet", "float.parquet",
                                                                "float.csv")]  # fmt: skip
    assert set(frames[0]["customer_id"]) == {str(v) for v in ids.dropna()}
    for other in frames[1:]:
        pd.testing.assert_frame_equal(other, frames[0])


def test_excel_serial_dates_in_a_column_named_as_a_date_are_read(tmp_path):
    # a sheet saved as CSV or Parquet without its date format keeps Excel's serial days
    # (42763.79 = 2017-01-28 19:00): read by name, like Unix time, at the nearest second
    d = _orders()
    when = d["when"] + pd.to_timedelta(np.arange(len(d)) % 60, unit="s")
    serial = (when - pd.Timestamp("1899-12-30")) / pd.Timedelta(days=1)
    log = pd.DataFrame({"cust": d["cust"], "order_date": serial.round(6), "sales": d["value"]})
    log.to_csv(tmp_path / "sheet.csv", index=False)
    log.to_parquet(tmp_path / "sheet.parquet", index=False)
    whole = log.assign(order_date=serial.astype(int))
    whole.to_csv(tmp_path / "days.csv", index=False)
    for name, expected in (("sheet.csv", when), ("sheet.parquet", when),
                           ("days.csv", when.dt.normalize())):  # fmt: skip
        t = load_transactions(tmp_path / name)
        assert t.roles.columns["ts"] == "order_date", name
        got = t.frame()["ts"].sort_values(ignore_index=True)
        assert (got == expected.sort_values(ignore_index=True)).all(), name


def test_a_timestamp_column_mixing_iso_and_one_other_layout_is_read(tmp_path):
    # an export whose date format changed along the way: each value is ISO or 12/31/2024
    # 20:00 (never both), so every row has one reading; day-first and month-first mixed
    # have two, and the refusal names the column and its values
    import pytest

    from omnimmm.errors import DataError

    d = _orders(600)
    iso = d["when"].dt.strftime("%Y-%m-%d %H:%M:%S")
    us = d["when"].dt.strftime("%m/%d/%Y %H:%M")
    eu = d["when"].dt.strftime("%d/%m/%Y %H:%M")
    half = np.arange(len(d)) % 2 == 0
    few = np.arange(len(d)) % 20 == 0  # 5% of rows, past the share one layout must parse
    for name, when in (("half.csv", iso.where(half, us)), ("few.csv", iso.where(~few, eu))):
        pd.DataFrame({"cust": d["cust"], "order_time": when, "sales": d["value"]}).to_csv(
            tmp_path / name, index=False
        )
        got = load_transactions(tmp_path / name).frame()["ts"]
        assert (got.to_numpy() == d["when"].dt.floor("min").to_numpy()).all(), name
    both = pd.DataFrame({"cust": d["cust"], "order_time": us.where(half, eu), "sales": 1.0})
    both.to_csv(tmp_path / "both.csv", index=False)
    with pytest.raises(DataError, match=r"'order_time'.*(day|month)"):
        load_transactions(tmp_path / "both.csv")


def test_a_decimal_comma_export_reads_amounts_in_scientific_notation(tmp_path):
    # a German Excel export (';', decimal comma) writes a rounding residue as 4,44089E-16: one
    # such cell refused the whole log as "not numeric"
    d = _orders()
    log = pd.DataFrame({"Kunde ID": d["cust"], "Datum": d["when"].dt.strftime("%d.%m.%Y"),
                        "Umsatz": d["value"].map(lambda v: f"{v:.2f}".replace(".", ","))})  # fmt: skip
    log.loc[7, "Umsatz"] = "4,44089E-16"
    log.to_csv(tmp_path / "de.csv", sep=";", index=False, encoding="utf-8-sig")
    got = load_transactions(tmp_path / "de.csv", columns={"customer_id": "Kunde ID",
                                                          "amount": "Umsatz"}).frame()  # fmt: skip
    assert len(got) == len(d) and abs(got["amount"].iloc[7]) < 1e-12
    np.testing.assert_allclose(got["amount"].sum(), d["value"].drop(7).sum(), rtol=1e-9)


def test_an_amount_column_whose_values_are_not_numbers_is_named_in_the_row_count_note():
    # '1158.00元' is not read as money: the log is scored on purchase counts, and the note says
    # which column was passed over and what it holds (it only listed every column name)
    from omnimmm.lifecycle.roles import ROW_COUNT, infer_roles

    d = _orders()
    zh = pd.DataFrame({"会员ID": d["cust"], "下单时间": d["when"],
                       "实付金额": d["value"].map(lambda v: f"{v:.2f}元")})  # fmt: skip
    m = infer_roles(zh)
    assert m.columns["amount"] == ROW_COUNT
    note = next(n for n in m.notes if n.startswith("amount:"))
    assert "'实付金额'" in note and "元" in note and "not numbers" in note
