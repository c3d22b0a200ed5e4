"""The one tabular reader (omnimmm.data.tables): the odd files users really have."""

from __future__ import annotations

import gzip
import zipfile

import duckdb
import pandas as pd
import pytest

from omnimmm.data.tables import TableFormat, read_frame, register_duckdb, sniff_table
from omnimmm.errors import DataError

ROWS = 'customer_id,ts,amount,store\n00123,2024-01-02,"3,860.00",上海\n7,2024-01-03,12.5,北京\n'


def _write(path, text, encoding="utf-8", delimiter=","):
    path.write_bytes(text.replace(",", delimiter).encode(encoding))
    return path


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gb18030", "utf-16"])
@pytest.mark.parametrize("delimiter", [",", ";", "\t", "|"])
def test_csv_encodings_and_delimiters(tmp_path, encoding, delimiter):
    text = "customer_id,ts,amount,store\n00123,2024-01-02,3860.00,上海\n7,2024-01-03,12.5,北京\n"
    path = _write(tmp_path / "t.csv", text, encoding, delimiter)
    fmt = sniff_table(path)
    assert fmt.kind == "csv"
    assert fmt.delimiter == delimiter
    assert fmt.encoding == encoding
    frame = read_frame(path)
    assert list(frame.columns) == ["customer_id", "ts", "amount", "store"]
    assert frame["customer_id"].tolist() == ["00123", "7"]  # leading zeros kept: text
    assert frame["amount"].tolist() == [3860.0, 12.5]
    assert frame["store"].tolist() == ["上海", "北京"]
    assert frame["ts"].tolist() == ["2024-01-02", "2024-01-03"]  # dates left as text


def test_columns_aligned_by_spaces(tmp_path):
    # CDNOW_master.txt's layout (as Lifetimes ships it): a header and leading spaces
    text = (" customer_id  date number_of_cds  dollar_value\n 00001 19970101  1   11.77\n"
            " 00002 19970112  1   12.00\n 00002 19970112  5   77.00\n")  # fmt: skip
    path = _write(tmp_path / "cdnow.txt", text)
    assert sniff_table(path).delimiter == r"\s+"
    frame = read_frame(path)
    assert list(frame.columns) == ["customer_id", "date", "number_of_cds", "dollar_value"]
    assert frame["customer_id"].tolist() == ["00001", "00002", "00002"]
    assert frame["dollar_value"].tolist() == [11.77, 12.0, 77.0]
    con = duckdb.connect()
    register_duckdb(con, path, "v", as_text=True)
    assert con.execute("SELECT customer_id, dollar_value FROM v").fetchall()[2] == (
        "00002",
        "77.00",
    )
    # one space-free column is not a table of spaces; a ragged one is not either
    assert sniff_table(_write(tmp_path / "one.txt", "amount\n1\n2\n")).delimiter == ","
    ragged = _write(tmp_path / "ragged.txt", "a b c\n1 2 3\n1 2\n")
    assert sniff_table(ragged).delimiter == ","


def test_thousands_separators_in_quoted_and_semicolon_csv(tmp_path):
    comma = _write(tmp_path / "c.csv", ROWS)
    assert sniff_table(comma).thousands == ","
    assert read_frame(comma)["amount"].tolist() == [3860.0, 12.5]
    assert read_frame(comma, as_text=True)["amount"].tolist() == ["3860.00", "12.5"]
    semi = tmp_path / "s.csv"
    semi.write_text("a;b\n1;3,860.00\n2;1,000,000\n", encoding="utf-8")
    assert read_frame(semi)["b"].tolist() == [3860.0, 1000000.0]


def test_decimal_comma_semicolon_csv(tmp_path):
    path = tmp_path / "eu.csv"
    path.write_text("date;tv\n2024-01-01;1.234,5\n2024-01-08;2,25\n", encoding="utf-8")
    fmt = sniff_table(path)
    assert (fmt.delimiter, fmt.decimal, fmt.thousands) == (";", ",", ".")
    assert read_frame(path)["tv"].tolist() == [1234.5, 2.25]
    # a tiny value in scientific notation, as pandas or a European Excel writes it
    path.write_text("date;tv\n2024-01-01;1.234,5\n2024-01-08;4,25e-06\n", encoding="utf-8")
    assert read_frame(path)["tv"].tolist() == [1234.5, 4.25e-06]


def test_as_text_keeps_every_cell_and_drops_trailing_blank_lines(tmp_path):
    path = tmp_path / "p.csv"
    path.write_text(" date , tv ,tv\n2024-01-01,1,\n2024-01-08,,3\n,,\n\n", encoding="utf-8")
    frame = read_frame(path, as_text=True)
    assert list(frame.columns) == ["date", "tv", "tv"]  # duplicates kept for the panel check
    assert frame.to_numpy().tolist() == [["2024-01-01", "1", ""], ["2024-01-08", "", "3"]]


def test_typed_columns(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text(
        "id,phone,n,x,big,flag\n1,+8613800000000,1,1.5,12345678901234567890,TRUE\n2,,,2,1,false\n",
        encoding="utf-8",
    )
    frame = read_frame(path)
    assert frame["id"].dtype == "int64"
    assert frame["phone"].tolist()[0] == "+8613800000000"  # a phone number is not a number
    assert frame["n"].dtype == "Int64" and frame["n"].isna().tolist() == [False, True]
    assert frame["x"].tolist() == [1.5, 2.0]
    assert frame["big"].tolist() == ["12345678901234567890", "1"]  # too long for int64: text
    assert frame["flag"].tolist() == [True, False]


def test_excel_first_or_named_sheet(tmp_path):
    path = tmp_path / "book.xlsx"
    first = pd.DataFrame(
        {
            "customer_id": ["00123", "7"],
            "ts": pd.to_datetime(["2024-01-02", "2024-01-03 10:30"], format="ISO8601"),
            "amount": ["3,860.00", 12.5],
            "n": [1.0, 2.0],
        }
    )
    with pd.ExcelWriter(path, engine="openpyxl") as xl:
        first.to_excel(xl, sheet_name="orders", index=False)
        pd.DataFrame({"a": [1]}).to_excel(xl, sheet_name="other", index=False)
    fmt = sniff_table(path)
    assert (fmt.kind, fmt.sheet, fmt.thousands) == ("excel", "orders", ",")
    frame = read_frame(path)
    assert frame["customer_id"].tolist() == ["00123", "7"]
    assert frame["amount"].tolist() == [3860.0, 12.5]
    assert frame["ts"].tolist() == ["2024-01-02", "2024-01-03 10:30:00"]
    assert read_frame(path, as_text=True)["n"].tolist() == ["1", "2"]
    assert read_frame(path, sheet="other")["a"].tolist() == [1]
    with pytest.raises(DataError, match=r"no sheet named 'nope'; sheets are \['orders', 'other'\]"):
        read_frame(path, sheet="nope")
    # one log split into a sheet a year (UCI Online Retail II): the sheets are stacked
    years = tmp_path / "years.xlsx"
    with pd.ExcelWriter(years, engine="openpyxl") as xl:
        first.to_excel(xl, sheet_name="Year 2009-2010", index=False)
        first.assign(customer_id=["8", "9"]).to_excel(xl, sheet_name="Year 2010-2011", index=False)
    assert read_frame(years)["customer_id"].tolist() == ["00123", "7", "8", "9"]
    assert read_frame(years, sheet="Year 2010-2011")["customer_id"].tolist() == [8, 9]


def test_parquet_file_and_hive_folder(tmp_path):
    frame = pd.DataFrame({"customer_id": ["a", "b", "c"], "amount": [1.0, 2.0, 3.0]})
    frame.to_parquet(tmp_path / "one.parquet")
    assert sniff_table(tmp_path / "one.parquet").kind == "parquet"
    assert read_frame(tmp_path / "one.parquet")["amount"].tolist() == [1.0, 2.0, 3.0]
    assert read_frame(tmp_path / "one.parquet", as_text=True)["amount"].tolist() == [
        "1",
        "2",
        "3",
    ]
    folder = tmp_path / "tx"
    for year, part in ((2023, frame.iloc[:2]), (2024, frame.iloc[2:])):
        (folder / f"year={year}").mkdir(parents=True)
        part.to_parquet(folder / f"year={year}" / "part-0.parquet")
    (folder / "_SUCCESS").write_text("")
    assert sniff_table(folder) == TableFormat("parquet_dir")
    got = read_frame(folder).sort_values("customer_id")
    assert got["customer_id"].tolist() == ["a", "b", "c"]
    assert got["year"].astype(int).tolist() == [2023, 2023, 2024]
    con = duckdb.connect()
    register_duckdb(con, folder, "tx")
    rows = con.execute("SELECT customer_id, year FROM tx ORDER BY customer_id").fetchall()
    assert [(r[0], int(r[1])) for r in rows] == [("a", 2023), ("b", 2023), ("c", 2024)]


def _bad_files(tmp_path):
    (tmp_path / "empty.csv").write_bytes(b"\n  \n")
    (tmp_path / "legacy.xls").write_bytes(b"\xd0\xcf\x11\xe0junk")
    (tmp_path / "renamed.csv").write_bytes(b"\xd0\xcf\x11\xe0" + b"\x00" * 100)
    (tmp_path / "book.xlsb").write_bytes(b"PK\x03\x04junk")
    (tmp_path / "sheet.numbers").write_bytes(b"PK\x03\x04junk")
    (tmp_path / "page.xls").write_text("<html><table><tr><td>1</td></tr></table></html>")
    (tmp_path / "data.csv.bz2").write_bytes(b"BZh91AY&SY" + b"\x00" * 40)
    (tmp_path / "book.xlsx.gz").write_bytes(gzip.compress(b"PK\x03\x04[Content_Types].xml"))
    with zipfile.ZipFile(tmp_path / "archive.zip", "w") as z:
        z.writestr("inside.csv", "a,b\n1,2\n")
    (tmp_path / "binary.csv").write_bytes(bytes(range(256)) * 4)
    (tmp_path / "fake.parquet").write_text("a,b\n1,2\n")
    (tmp_path / "fake.xlsx").write_text("a,b\n1,2\n")
    (tmp_path / "nodata").mkdir()
    (tmp_path / "ragged.csv").write_text("a,b\n1,2\n3,4,5\n")
    return {
        "missing.csv": "file not found",
        "empty.csv": "the file is empty",
        "legacy.xls": r"legacy Excel \(.xls\) is not read: save it as .xlsx or as CSV \(UTF-8\)",
        "renamed.csv": r"legacy Excel \(.xls\) is not read",
        "book.xlsb": r"binary Excel \(.xlsb\) is not read",
        "sheet.numbers": "Apple Numbers files are not read",
        "page.xls": r"legacy Excel \(.xls\) is not read",
        "data.csv.bz2": "a bzip2/xz file: decompress it first",
        "book.xlsx.gz": "a gzipped file that holds no CSV: decompress it first",
        "archive.zip": "a zip archive, not a table: unzip it",
        "binary.csv": "not text in UTF-8, GB18030 or UTF-16",
        "fake.parquet": "not a Parquet file",
        "fake.xlsx": "named .xlsx but not an Excel workbook",
        "nodata": "a folder without .parquet files",
        "ragged.csv": "not a readable CSV file: line 3 has more (or fewer )?fields than the header",
    }


def test_bad_files_are_one_named_data_error(tmp_path):
    con = duckdb.connect()
    for name, expected in _bad_files(tmp_path).items():
        path = tmp_path / name
        for read in (
            lambda p: read_frame(p, what="transactions file (--transactions)"),
            lambda p: register_duckdb(con, p, "v", what="transactions file (--transactions)"),
        ):
            with pytest.raises(DataError) as err:
                read(path)
            message = str(err.value)
            assert message.startswith(f"{path}: transactions file (--transactions): "), message
            assert pytest.importorskip("re").search(expected, message), (name, message)
            assert "\n" not in message and "Traceback" not in message


def test_a_gzipped_csv_reads_as_the_csv_inside(tmp_path):
    text = 'customer_id;ts;amount\n001;1/28/2017;"1.234,50"\n002;2/13/2017;7,25\n'
    for name, data in (("plain.csv", text.encode()),
                       ("packed.csv.gz", gzip.compress(text.encode())),
                       ("packed_without_extension", gzip.compress(text.encode())),
                       ("gb18030.csv.gz", gzip.compress(text.replace("amount", "金额")
                                                        .encode("gb18030")))):  # fmt: skip
        (tmp_path / name).write_bytes(data)
    plain = read_frame(tmp_path / "plain.csv", as_text=True)
    assert sniff_table(tmp_path / "packed.csv.gz").compression == "gzip"
    for name in ("packed.csv.gz", "packed_without_extension", "gb18030.csv.gz"):
        got = read_frame(tmp_path / name, as_text=True)
        assert got.iloc[:, :2].equals(plain.iloc[:, :2]) and got.iloc[:, 2].tolist() == [
            "1234.50", "7.25"]  # fmt: skip
        for as_text in (True, False):
            con = duckdb.connect()
            register_duckdb(con, tmp_path / name, "v", as_text=as_text)
            rows = con.execute("SELECT * FROM v").fetchall()
            assert str(rows[0][0]) in (("001",) if as_text else ("001", "1"))
            assert len(rows) == 2 and str(rows[1][1]) == "2/13/2017", (name, as_text, rows)


def test_html_saved_as_csv_is_named(tmp_path):
    path = tmp_path / "export.csv"
    path.write_text("<!DOCTYPE html><html><body><table></table></body></html>")
    with pytest.raises(DataError, match="an HTML/XML page, not a table"):
        sniff_table(path)


@pytest.mark.parametrize("as_text", [False, True])
def test_register_duckdb_utf8_csv_reads_in_duckdb(tmp_path, as_text):
    path = _write(tmp_path / "t.csv", ROWS)
    con = duckdb.connect()
    fmt = register_duckdb(con, path, "tx", as_text=as_text)
    assert (fmt.kind, fmt.encoding, fmt.thousands) == ("csv", "utf-8", ",")
    rows = con.execute("SELECT customer_id, amount, store FROM tx").fetchall()
    # the view reads the file itself (not a pandas copy): a registered frame would not see
    # a later edit of the file
    amounts = [r[1] for r in rows]
    assert amounts == (["3860.00", "12.5"] if as_text else [3860.0, 12.5])
    if as_text:
        assert [r[0] for r in rows] == ["00123", "7"]
    assert [r[2] for r in rows] == ["上海", "北京"]


@pytest.mark.parametrize("kind", ["gb18030", "late_gb18030", "xlsx", "semicolon_bom"])
def test_register_duckdb_other_formats(tmp_path, kind):
    path = tmp_path / ("t.xlsx" if kind == "xlsx" else "t.csv")
    if kind == "gb18030":
        _write(path, ROWS, "gb18030")
    elif kind == "late_gb18030":  # ASCII for 64 KiB, Chinese only at the end: sniffed as UTF-8
        filler = "".join(f"{i},2024-01-01,1,x\n" for i in range(8000))
        path.write_bytes(("customer_id,ts,amount,store\n" + filler + "9,2024-01-02,2,北京\n")
                         .encode("gb18030"))  # fmt: skip
    elif kind == "xlsx":
        pd.DataFrame({"customer_id": ["00123"], "amount": ["3,860.00"]}).to_excel(path, index=False)
    else:
        semicolon = (
            'customer_id;ts;amount;store\n00123;2024-01-02;"3,860.00";上海\n7;2024-01-03;1;x\n'
        )
        path.write_bytes(semicolon.encode("utf-8-sig"))
    con = duckdb.connect()
    register_duckdb(con, path, "tx", as_text=True)
    frame = con.execute("SELECT * FROM tx").df()
    assert "customer_id" in frame.columns
    if kind == "late_gb18030":
        assert frame["store"].iloc[-1] == "北京"
    else:
        assert frame["customer_id"].iloc[0] == "00123"
        assert frame["amount"].iloc[0] == "3860.00"


def test_currency_signs_and_blank_rows_above_the_header(tmp_path):
    path = tmp_path / "money.csv"
    path.write_text('\n\ncustomer_id,amount\n001,"¥3,860.00"\n2,$12\n3,-€5.5\n4,1.5\n', "utf-8")
    frame = read_frame(path)
    assert list(frame.columns) == ["customer_id", "amount"]
    assert frame["amount"].tolist() == [3860.0, 12.0, -5.5, 1.5]
    assert read_frame(path, as_text=True)["amount"].tolist() == ["3860.00", "12", "-5.5", "1.5"]
    flat = tmp_path / "flat.csv"
    flat.write_text('customer_id,amount,note\n001,"¥3,860.00",$ sign\n2,$12,x\n', "utf-8")
    con = duckdb.connect()
    register_duckdb(con, flat, "tx", as_text=True)
    rows = con.execute("SELECT customer_id, amount, note FROM tx").fetchall()
    assert rows == [("001", "3860.00", "$ sign"), ("2", "12", "x")]  # text that is not money stays


def test_panel_from_a_parquet_folder(tmp_path):
    from omnimmm.data.io import file_sha256, read_table

    folder = tmp_path / "panel"
    folder.mkdir()
    pd.DataFrame({"date": ["2024-01-01"], "tv": [1.0]}).to_parquet(folder / "a.parquet")
    assert read_table(folder)["tv"].tolist() == [1.0]
    before = file_sha256(folder)
    pd.DataFrame({"date": ["2024-01-08"], "tv": [2.0]}).to_parquet(folder / "b.parquet")
    assert file_sha256(folder) != before  # the run's data hash sees a new file
