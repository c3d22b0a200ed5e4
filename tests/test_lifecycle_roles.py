"""Role inference of transaction columns (files as they come) and the readers behind it."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from omnimmm.errors import DataError
from omnimmm.lifecycle.features import ColumnMap, build_features, load_transactions
from omnimmm.lifecycle.roles import QUANTITY, ROW_COUNT, infer_roles
from omnimmm.lifecycle.timestamps import ts_format


def _log(n: int = 60, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    days = pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.integers(0, 200, n), unit="D")
    return pd.DataFrame(
        {
            "cust": [f"c{i % 12}" for i in range(n)],
            "when": days.strftime("%Y-%m-%d %H:%M:%S"),
            "value": rng.gamma(2.0, 20.0, n).round(2),
        }
    )


def test_complete_journey_header_is_mapped_without_flags():
    d = _log()
    cj = pd.DataFrame(
        {
            "household_id": np.arange(60) % 9 + 1,
            "store_id": np.arange(60) % 4 + 300,
            "basket_id": np.arange(60) + 31_000_000_000,
            "product_id": np.arange(60) + 900_000,
            "quantity": 1.0,
            "sales_value": d["value"],
            "retail_disc": 0.5,
            "week": np.arange(60) % 52 + 1,
            "transaction_timestamp": d["when"],
        }
    )
    m = infer_roles(cj)
    assert m.columns == {
        "customer_id": "household_id",
        "ts": "transaction_timestamp",
        "amount": "sales_value",
        "order_id": "basket_id",
        "store_id": "store_id",
    }
    assert m.how["store_id"] == "canonical name" and m.how["ts"] == "alias"
    assert "transaction_timestamp" in m.describe() and "--ts-col" in m.describe()


def test_chinese_and_spaced_names_are_mapped():
    d = _log()
    zh = pd.DataFrame({"会员ID": d["cust"], "下单时间": d["when"], "实付金额": d["value"]})
    assert infer_roles(zh).columns == {
        "customer_id": "会员ID",
        "ts": "下单时间",
        "amount": "实付金额",
    }
    en = pd.DataFrame({"Customer ID": d["cust"], "timestamp": d["when"], "Order Value": d["value"]})
    assert infer_roles(en).columns == {
        "customer_id": "Customer ID",
        "ts": "timestamp",
        "amount": "Order Value",
    }


def test_two_candidates_for_a_required_role_are_refused_with_the_flag():
    d = _log()
    two = d.rename(columns={"cust": "customer_id", "value": "amount", "when": "order_date"})
    two["date"] = two["order_date"]
    with pytest.raises(DataError) as err:
        infer_roles(two, label="tx.csv")
    msg = str(err.value)
    assert "tx.csv" in msg and "order_date" in msg and "'date'" in msg and "--ts-col" in msg
    # naming one settles it; an optional role with two candidates is left unused and said so
    two["order_id"], two["invoice_no"] = "a", "b"
    two["basket_id"] = np.arange(len(two))
    two["receipt_id"] = np.arange(len(two))
    m = infer_roles(two.drop(columns="order_id"), {"ts": "date"})
    assert m.columns["ts"] == "date" and m.how["ts"] == "given"
    assert "order_id" not in m.columns and any("--order-id-col" in n for n in m.notes)


def test_values_decide_between_names_and_a_missing_amount_is_explained():
    d = _log()
    # 'date' holds no dates here, 'stamp' does: the timestamp is found by its values
    f = pd.DataFrame(
        {"member_id": d["cust"], "date": "n/a", "stamp": d["when"], "sales": d["value"]}
    )
    assert infer_roles(f).columns["ts"] == "stamp"
    retail = pd.DataFrame(
        {"Customer ID": d["cust"], "InvoiceDate": "12/1/2010 8:26", "Quantity": 2, "Country": 1}
    )
    # no amount and no unit price: every row counts 1, and the mapping says so
    counted = infer_roles(retail)
    assert counted.columns["amount"] == ROW_COUNT and "quantity" not in counted.columns
    assert counted.how["amount"] == "no amount column"
    assert any("every purchase row counts 1" in n and "--amount-col" in n for n in counted.notes)
    with pytest.raises(DataError, match="no column 'kunde'.*--customer-id-col"):
        infer_roles(retail, {"customer_id": "kunde"})
    # CDNOW_sample.txt has no header row: its first row of data is taken for one
    headless = pd.DataFrame([["00004", "0001", "19970118", "2", "29.73"]],
                            columns=["00004", "0001", "19970101", "2", "29.33"])  # fmt: skip
    with pytest.raises(DataError, match="looks like data, not a header"):
        infer_roles(headless)


def test_a_line_level_log_gets_quantity_times_unit_price(tmp_path):
    # UCI Online Retail's header: no amount column, a quantity and a unit price per line
    retail = pd.DataFrame(
        {"Invoice": ["489434", "489434", "C489449", "489450", "489451"],
         "StockCode": ["85048", "79323P", "22087", "21871", "21523"],
         "Quantity": [12, 3, -12, 2, 1], "InvoiceDate": ["12/1/2009 7:45"] * 3 + ["12/2/2009 9:00"] * 2,
         "Price": [6.95, 2.10, 2.10, 1.25, 5.95],
         "Customer ID": [13085.0, 13085.0, 13085.0, None, 12346.0], "Country": "United Kingdom"}
    )  # fmt: skip
    m = infer_roles(retail)
    assert m.columns["amount"] == "Price" and m.columns["quantity"] == "Quantity"
    assert m.how["amount"] == "unit price" and any("'Quantity' x 'Price'" in n for n in m.notes)
    path = tmp_path / "online_retail.csv"
    retail.to_csv(path, index=False)
    t = load_transactions(path)
    rows = t.frame().sort_values("amount")
    # the return (negative quantity) and the guest line (no customer key) are left out, counted
    assert rows["amount"].round(2).tolist() == [5.95, 6.30, 83.40]
    assert rows["order_id"].tolist() == ["489451", "489434", "489434"]
    assert t.left_out == {"no_customer_key": 1, "negative_amount": 1} and len(t.notes) == 2
    assert t.n_left_out == 2 and t.n_rows == 3
    assert "'Price' x 'Quantity'" in t.notes[1]
    # a unit price alone is one unit a row; a file with an amount never multiplies it
    alone = infer_roles(retail.drop(columns="Quantity"))
    assert alone.columns["amount"] == "Price" and "quantity" not in alone.columns
    assert any("one unit a row" in n for n in alone.notes)
    priced = retail.assign(sales_value=1.0)
    assert "quantity" not in infer_roles(priced).columns
    # H&M's log: a price per article and a sales channel code, which is no amount
    hm = pd.DataFrame({"t_dat": ["2018-09-20", "2018-09-21"], "customer_id": ["a", "b"],
                       "article_id": [663713001, 541518023], "price": [0.0508, 0.0305],
                       "sales_channel_id": [2, 1]})  # fmt: skip
    assert infer_roles(hm).columns == {"customer_id": "customer_id", "ts": "t_dat",
                                       "amount": "price"}  # fmt: skip
    # sales_channel_id is a code, not an amount: without the price the rows are counted
    assert infer_roles(hm.drop(columns="price")).columns["amount"] == ROW_COUNT
    # named by the user: the quantity makes the (inferred) amount a unit price
    given = infer_roles(retail.rename(columns={"Quantity": "Menge"}), {"quantity": "Menge"})
    assert given.columns["quantity"] == "Menge" and given.columns["amount"] == "Price"
    assert ColumnMap.from_mapping({"quantity": "Menge", "amount": "Price"}).quantity == "Menge"


def test_rows_without_a_key_or_with_a_negative_amount_are_refused_when_they_dominate():
    frame = pd.DataFrame({"customer_id": ["a", None, None], "ts": ["2024-01-01"] * 3,
                          "amount": [1.0, 2.0, 3.0]})  # fmt: skip
    with pytest.raises(DataError, match=r"2 of 3 row\(s\) have no customer key.*under 50%"):
        load_transactions(frame)
    t = load_transactions(frame.assign(customer_id=["a", "b", None]))
    assert t.n_rows == 2 and t.left_out == {"no_customer_key": 1}
    # no rows before the cut: the load says so, not that half the (zero) rows lack a key
    with pytest.raises(DataError, match="has no transactions before"):
        load_transactions(frame.assign(customer_id=["a", "b", None]), until="2023-06-01")


@pytest.mark.parametrize(
    ("values", "fmt"),
    [
        (["2024-06-18", "2024-06-18 20:15:00"], "iso"),
        (["19970101", "19971231"], "%Y%m%d"),
        (["12/1/2010 8:26", "12/13/2010 18:02"], "%m/%d/%Y %H:%M"),
        (["13/01/2024", "01/02/2024"], "%d/%m/%Y"),
        (["2024年6月18日"], "%Y年%m月%d日"),
        (["hello", "2024-01-01"], None),
        (["12345678"], None),
    ],
)
def test_timestamp_layouts(values, fmt):
    assert ts_format(values) == fmt


def test_non_iso_timestamps_and_a_parquet_folder_load(tmp_path):
    d = _log()
    raw = pd.DataFrame(
        {
            "customer_id": d["cust"],
            "date": pd.to_datetime(d["when"]).dt.strftime("%Y%m%d").astype(int),
            "dollar_value": d["value"],
        }
    )
    path = tmp_path / "cdnow.csv"
    raw.to_csv(path, index=False)
    t = load_transactions(path)
    assert t.roles is not None and t.roles.columns["ts"] == "date" and t.n_rows == len(raw)
    assert t.start == pd.to_datetime(d["when"]).dt.normalize().min()
    # the same log as Lifetimes ships CDNOW_master.txt: columns aligned by spaces
    txt = tmp_path / "cdnow.txt"
    txt.write_text(raw.to_string(index=False))
    spaced = load_transactions(txt)
    assert spaced.roles is not None and spaced.roles.columns["amount"] == "dollar_value"
    pd.testing.assert_frame_equal(spaced.frame(), t.frame())
    folder = tmp_path / "tx"
    for month, part in d.assign(m=pd.to_datetime(d["when"]).dt.month).groupby("m"):
        (folder / f"month={month}").mkdir(parents=True)
        part.drop(columns="m").to_parquet(folder / f"month={month}" / "part-0.parquet")
    feats = build_features(folder, "2024-12-31")
    direct = build_features(
        d, "2024-12-31", columns=ColumnMap(customer_id="cust", ts="when", amount="value")
    )
    pd.testing.assert_frame_equal(feats, direct)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(DataError, match="a folder without .parquet files"):
        load_transactions(empty)


def test_unix_time_and_a_zone_suffix_are_timestamps_by_name_only(tmp_path):
    d = _log()
    when = pd.to_datetime(d["when"])
    seconds = (when - pd.Timestamp("1970-01-01")) // pd.Timedelta(seconds=1)
    # Taobao's log: Unix seconds in 'timestamp'; RetailRocket's: milliseconds
    for scale, unit in ((1, "s"), (1000, "ms")):
        f = pd.DataFrame({"user_id": d["cust"], "timestamp": seconds * scale, "sales": d["value"]})
        assert infer_roles(f).columns["ts"] == "timestamp"
        path = tmp_path / f"epoch_{unit}.csv"
        f.to_csv(path, index=False)
        got = load_transactions(path).frame().sort_values(["customer_id", "ts"])
        want = when.sort_values().reset_index(drop=True)
        assert sorted(got["ts"]) == list(want), unit
    # numbers in the same range under another name are ids, not times
    ids = pd.DataFrame({"user_id": d["cust"], "when": d["when"], "sales": d["value"],
                        "order_ref": seconds.to_numpy()})  # fmt: skip
    assert infer_roles(ids).columns["ts"] == "when"
    with pytest.raises(DataError, match="no column looks like a timestamp"):
        infer_roles(ids.drop(columns="when").rename(columns={"order_ref": "ref"}))
    # REES46's event_time: ISO text with a zone name; the wall-clock time is kept
    utc = pd.DataFrame({"user_id": d["cust"], "event_time": when.dt.strftime("%Y-%m-%d %H:%M:%S UTC"),
                        "sales": d["value"]})  # fmt: skip
    assert ts_format(utc["event_time"].tolist()) == "iso"
    utc.to_csv(tmp_path / "utc.csv", index=False)
    assert sorted(load_transactions(tmp_path / "utc.csv").frame()["ts"]) == sorted(when)


def test_an_event_log_is_read_as_its_purchases(tmp_path):
    d = _log()
    n = len(d)
    events = np.where(np.arange(n) % 3 == 0, "buy", np.where(np.arange(n) % 3 == 1, "pv", "cart"))
    taobao = pd.DataFrame({"user_id": d["cust"], "item_id": np.arange(n) + 10_000,
                           "behavior_type": events, "ts_text": d["when"]})  # fmt: skip
    m = infer_roles(taobao)
    assert m.columns["event"] == "behavior_type" and m.columns["amount"] == ROW_COUNT
    path = tmp_path / "taobao.csv"
    taobao.to_csv(path, index=False)
    t = load_transactions(path)
    assert t.n_rows == int((events == "buy").sum())
    assert t.left_out == {"not_a_purchase": int((events != "buy").sum())}
    assert t.n_left_out == t.left_out["not_a_purchase"]
    assert any("whose event is not a purchase in 'behavior_type'" in note for note in t.notes)
    assert sorted(t.frame()["ts"]) == sorted(pd.to_datetime(d["when"][events == "buy"]))
    # an 'event' column holding no purchase (festival names) is not an event type
    festival = pd.DataFrame({"customer_id": d["cust"], "ts": d["when"], "amount": d["value"],
                             "event": "618"})  # fmt: skip
    assert "event" not in infer_roles(festival).columns
    festival.to_csv(tmp_path / "festival.csv", index=False)
    assert load_transactions(tmp_path / "festival.csv").n_rows == n
    # a bad value is shown from a purchase row, by its row in the file; a view's is not read
    odd = taobao.assign(amount=np.where(events == "buy", "12.5", ""))
    odd.loc[3, "amount"] = "n/a"  # row 3 is a purchase
    odd.loc[4, "ts_text"] = "soon"  # row 4 is a view
    odd.to_csv(tmp_path / "odd.csv", index=False)
    with pytest.raises(DataError, match=r"'amount'.*'n/a' at data row 4\b"):
        load_transactions(tmp_path / "odd.csv")
    # named by the user but holding no purchase: refused, with the values it does hold
    with pytest.raises(DataError, match=r"'event'.*holds no purchase, only \['618'\]"):
        load_transactions(tmp_path / "festival.csv", columns={"event": "event"})


def test_an_event_log_coded_as_numbers_is_refused_until_its_purchase_code_is_named(tmp_path):
    # Tianchi's mobile-recommendation log: behavior_type 1 view, 2 favourite, 3 cart, 4 buy
    d = _log()
    n = len(d)
    codes = (np.arange(n) % 4) + 1
    hours = pd.to_datetime(d["when"]) + pd.to_timedelta(np.arange(n) % 24, unit="h")
    tianchi = pd.DataFrame({"user_id": d["cust"], "item_id": np.arange(n) + 10_000,
                            "behavior_type": codes,
                            "time": hours.dt.strftime("%Y-%m-%d %H")})  # fmt: skip
    path = tmp_path / "tianchi.csv"
    tianchi.to_csv(path, index=False)
    # read as it stands, every view would count as a purchase: refused, with the way out
    with pytest.raises(DataError, match=r"'behavior_type'.*numbers \['1', '2', '3', '4'\]"
                       r"(?s:.*)--event-col 'behavior_type=4'(?s:.*)--event-col none"):  # fmt: skip
        load_transactions(path)
    t = load_transactions(path, columns={"event": "behavior_type=4"})
    assert t.n_rows == int((codes == 4).sum())
    assert t.left_out == {"not_a_purchase": int((codes != 4).sum())}
    assert any("not a purchase in 'behavior_type'" in note for note in t.notes)
    assert sorted(t.frame()["ts"]) == sorted(hours[codes == 4])  # hour stamps, 2014-12-06 02
    assert load_transactions(path, columns={"event": "behavior_type=3, 4"}).n_rows == int(
        (codes >= 3).sum()
    )
    # 'none': every row is a purchase, the column is not an event type
    assert load_transactions(path, columns={"event": "none"}).n_rows == n
    # a value that no row holds: refused, naming what the column holds
    with pytest.raises(DataError, match=r"holds no purchase, only .*'behavior_type=VALUE'"):
        load_transactions(path, columns={"event": "behavior_type=buy"})
    with pytest.raises(DataError, match=r"COLUMN=VALUE"):
        load_transactions(path, columns={"event": "behavior_type="})
    # a 0/1 flag named 'event' (an event day) is no event type: unused, with a note
    flagged = infer_roles(tianchi.assign(behavior_type=codes % 2))
    assert "event" not in flagged.columns and any("named as one" in n for n in flagged.notes)
    # text values that are not purchases leave the column unused, with a note
    promo = tianchi.assign(behavior_type=np.where(codes == 4, "flash sale", "member day"))
    m = infer_roles(promo)
    assert "event" not in m.columns
    assert any("'behavior_type' is named as one" in note for note in m.notes)


def test_ta_feng_layout_with_us_dates_that_duckdb_types_as_dates(tmp_path):
    # Ta Feng grocery: TRANSACTION_DT as 1/28/2001; DuckDB's sniffer types such a column
    # DATE in its own layout, which the typed read then parsed as ISO and failed on
    d = _log()
    when = pd.to_datetime(d["when"]).dt.normalize()
    tafeng = pd.DataFrame({"TRANSACTION_DT": [f"{t.month}/{t.day}/{t.year}" for t in when],
                           "CUSTOMER_ID": d["cust"], "AGE_GROUP": "35-39", "PIN_CODE": 115,
                           "PRODUCT_ID": np.arange(len(d)) + 4_710_000,
                           "AMOUNT": d["value"]})  # fmt: skip
    path = tmp_path / "tafeng.csv"
    tafeng.to_csv(path, index=False)
    t = load_transactions(path)
    assert t.roles.columns["ts"] == "TRANSACTION_DT" and t.roles.how["ts"] == "name hint"
    assert sorted(t.frame()["ts"]) == sorted(when)


def test_rivals_that_are_not_rivals_are_told_apart_and_real_ones_still_refused():
    d = _log()
    n = len(d)
    when = pd.to_datetime(d["when"]) + pd.to_timedelta(np.arange(n) % 24, unit="h")
    # dunnhumby's "Let's get sort of real": CUST_CODE beside attributes of the customer
    lgsr = pd.DataFrame({"SHOP_DATE": when.dt.strftime("%Y%m%d"), "SPEND": d["value"],
                         "CUST_CODE": "CUST" + d["cust"].str[1:].str.zfill(10),
                         "CUST_PRICE_SENSITIVITY": np.resize(["LA", "MM", "UM"], n),
                         "CUST_LIFESTAGE": np.resize(["YA", "OF", "PE", "YF"], n),
                         "BASKET_ID": np.arange(n) + 994_100_000})  # fmt: skip
    m = infer_roles(lgsr)
    assert m.columns["customer_id"] == "CUST_CODE" and m.columns["ts"] == "SHOP_DATE"
    assert any("'CUST_CODE' rather than" in note for note in m.notes)
    # JD.com's orders: the same moment as a date and as a date and time; a price paid
    jd = pd.DataFrame({"user_ID": d["cust"], "order_ID": np.arange(n),
                       "order_date": when.dt.strftime("%Y-%m-%d"),
                       "order_time": when.dt.strftime("%Y-%m-%d %H:%M:%S.0"),
                       "quantity": 2, "original_unit_price": d["value"] * 1.2,
                       "final_unit_price": d["value"]})  # fmt: skip
    m = infer_roles(jd)
    assert m.columns["ts"] == "order_time" and m.columns["amount"] == "final_unit_price"
    assert m.columns[QUANTITY] == "quantity"
    assert any("hold the same days" in note for note in m.notes)
    # rivals stay rivals: two moments (bought, delivered), two keys that end like keys
    olist = jd.assign(order_date=(when + pd.Timedelta(days=3)).dt.strftime("%Y-%m-%d"))
    with pytest.raises(DataError, match=r"2 columns could be the timestamp"):
        infer_roles(olist)
    two_keys = lgsr.assign(CUST_NO=np.random.default_rng(1).permutation(lgsr["CUST_CODE"]))
    with pytest.raises(DataError, match=r"could be the customer key: \['CUST_CODE'"):
        infer_roles(two_keys)
    # one customer numbered twice (BTYD's cdnowElog.csv): either key groups the same rows
    elog = pd.DataFrame({"masterCustId": d["cust"].str[1:].astype(int) + 1000,
                         "sampleCustId": d["cust"].str[1:].astype(int) + 1,
                         "date": when.dt.strftime("%Y%m%d"), "cds": 1, "sales": d["value"]})  # fmt: skip
    m = infer_roles(elog)
    assert m.columns["customer_id"] == "masterCustId" and m.columns["amount"] == "sales"
    assert any("one to one" in note for note in m.notes)


def test_zoned_timestamps_keep_their_wall_clock_time_whatever_the_machine(tmp_path):
    # a Double 11 purchase at 00:30 Beijing time is on 11 November, not on the 10th (UTC)
    d = _log()
    when = pd.to_datetime(d["when"]) + pd.Timedelta(minutes=30)
    when.iloc[0] = pd.Timestamp("2024-11-11 00:30")
    frames = {
        "named zone": d.assign(when=when.dt.tz_localize("Asia/Shanghai")),
        "fixed offset": d.assign(when=pd.to_datetime(when.dt.strftime("%Y-%m-%d %H:%M+08:00"))),
    }
    for name, frame in frames.items():
        path = tmp_path / f"{name.replace(' ', '_')}.parquet"
        frame.to_parquet(path)
        for source in (path, frame):
            got = load_transactions(source).frame()["ts"]
            assert sorted(got) == sorted(when), (name, type(source))
            assert pd.Timestamp("2024-11-11 00:30") in set(got)


def test_a_column_named_only_id_is_the_customer_key_when_its_values_repeat():
    # lifetimes' example_transactions.csv: date, id (the customer), nothing else
    d = _log()
    log = pd.DataFrame({"date": d["when"], "id": d["cust"].str[1:].astype(int)})
    m = infer_roles(log)
    assert m.columns["customer_id"] == "id" and m.how["customer_id"] == "plain id"
    assert any("named only 'id' whose values repeat" in note for note in m.notes)
    # PyMC-Marketing's CDNOW example: _id, id, date, cds_bought, spent
    pmm = log.assign(_id=log["id"] + 1000, cds_bought=1, spent=d["value"])
    assert infer_roles(pmm).columns == {"customer_id": "id", "ts": "date", "amount": "spent"}
    # a row's own id never repeats: not a customer key, so the log is refused as before
    with pytest.raises(DataError, match="no column looks like a customer key"):
        infer_roles(log.assign(id=np.arange(len(log))))
    # another customer candidate wins over a plain id
    assert infer_roles(log.assign(member_id=d["cust"])).columns["customer_id"] == "member_id"


def test_a_gzipped_log_is_read_as_it_is(tmp_path):
    import gzip

    from omnimmm.lifecycle.distributed_input import input_files, is_csv

    d = _log()
    log = pd.DataFrame({"member_id": d["cust"], "order_date": d["when"], "sales": d["value"]})
    log.to_csv(tmp_path / "orders.csv", index=False)
    packed = tmp_path / "orders.csv.gz"
    packed.write_bytes(gzip.compress((tmp_path / "orders.csv").read_bytes()))
    plain, got = load_transactions(tmp_path / "orders.csv"), load_transactions(packed)
    assert got.roles.columns == plain.roles.columns
    pd.testing.assert_frame_equal(got.frame(), plain.frame())
    assert is_csv(packed) and input_files(packed) == [packed]  # the Dask path streams it too


def test_a_unique_customer_key_wins_over_a_per_order_customer_id():
    # Olist's orders joined with its customers: customer_id is one per order
    olist = pd.DataFrame({
        "order_id": ["o1", "o2", "o3"], "customer_id": ["c1", "c2", "c3"],
        "order_purchase_timestamp": ["2017-10-02 10:56:33", "2018-07-24 20:41:37",
                                     "2018-08-08 08:38:49"],
        "customer_unique_id": ["u1", "u2", "u1"], "customer_city": "sao paulo",
        "payment_value": [38.71, 141.46, 179.12],
    })  # fmt: skip
    m = infer_roles(olist)
    assert m.columns["customer_id"] == "customer_unique_id" and m.how["customer_id"] == "unique key"
    assert any("rather than ['customer_id']" in n for n in m.notes)
    assert (
        infer_roles(olist, {"customer_id": "customer_id"}).columns["customer_id"] == "customer_id"
    )
    assert (
        infer_roles(olist.drop(columns="customer_unique_id")).columns["customer_id"]
        == "customer_id"
    )
