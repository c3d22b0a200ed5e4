"""Tests of the media-panel contract: reading CSV/Parquet and every validation error.

Each error test asserts the parts of the message a user needs: the file, the column, the
row as a spreadsheet numbers it (header = row 1) and/or the date, and what was expected.
"""

from __future__ import annotations

import hashlib
import tomllib

import numpy as np
import pandas as pd
import pytest

from conftest import MEDIA_PLAN_TOML, make_media_frame
from omnimmm.config import load_plan, plan_from_dict
from omnimmm.data import Panel, load_panel, min_weeks, summarize_panel
from omnimmm.errors import DataError


def load(plan_path):
    return load_panel(load_plan(plan_path))


def data_error(media_plan_files, frame=None, csv_text=None, plan=MEDIA_PLAN_TOML) -> str:
    path = media_plan_files(frame=frame, csv_text=csv_text, plan=plan)
    with pytest.raises(DataError) as info:
        load(path)
    message = str(info.value)
    assert message.startswith(str(path.parent / "world.csv")), message
    assert info.value.exit_code == 3
    return message


def test_good_panel_from_csv(media_plan_files):
    frame = make_media_frame()
    path = media_plan_files(frame=frame)
    panel = load(path)
    assert panel.n_weeks == 60 and panel.channels == ["tv", "search", "social"]
    assert panel.online == ["search", "social"] and panel.offline == ["tv"]
    assert panel.channel_kinds == {"tv": "offline", "search": "online", "social": "online"}
    assert panel.dates[0] == pd.Timestamp("2022-01-03") and panel.dates.name == "date"
    assert (panel.dates[1:] - panel.dates[:-1] == pd.Timedelta(days=7)).all()
    np.testing.assert_allclose(panel.spend["tv"], frame["tv_spend"])
    np.testing.assert_allclose(panel.outcomes["offline_revenue"], frame["offline_revenue"])
    assert list(panel.controls.columns) == ["price_index", "event_618"]
    assert panel.spend.dtypes.eq(float).all()
    csv = path.parent / "world.csv"
    assert panel.source == csv
    assert panel.data_hash == hashlib.sha256(csv.read_bytes()).hexdigest()


def test_parquet_gives_the_same_panel(media_plan_files, tmp_path):
    frame = make_media_frame()
    csv_panel = load(media_plan_files(frame=frame))
    parquet_frame = frame.assign(date=pd.to_datetime(frame["date"]))
    parquet_frame.to_parquet(tmp_path / "world.parquet", index=False)
    plan_text = MEDIA_PLAN_TOML.replace('path = "world.csv"', 'path = "world.parquet"')
    (tmp_path / "plan.toml").write_text(plan_text, encoding="utf-8")
    panel = load(tmp_path / "plan.toml")
    pd.testing.assert_frame_equal(panel.spend, csv_panel.spend, check_index_type=False)
    pd.testing.assert_frame_equal(panel.outcomes, csv_panel.outcomes, check_index_type=False)
    assert panel.data_hash != csv_panel.data_hash


def test_from_frame_in_memory_uses_same_rules():
    plan = plan_from_dict(tomllib.loads(MEDIA_PLAN_TOML), base_dir="/nowhere")
    frame = make_media_frame()
    panel = Panel.from_frame(frame, plan)
    assert panel.source == plan.data.path and len(panel.data_hash) == 64
    assert Panel.from_frame(frame, plan).data_hash == panel.data_hash
    frame.loc[4, "search_spend"] = -1.0
    with pytest.raises(DataError, match=r"/nowhere/world.csv: .*row 6"):
        Panel.from_frame(frame, plan)


def test_excel_style_csv_reads(media_plan_files):
    """BOM, padded headers, thousands separators, YYYY/MM/DD dates, trailing blank lines."""
    frame = make_media_frame()
    lines = [
        "\ufeff date , tv_spend,search_spend,social_spend,online_revenue,offline_revenue,"
        "price_index,event_618"
    ]
    for _, r in frame.iterrows():
        day = pd.Timestamp(r["date"]).strftime("%Y/%m/%d")
        lines.append(
            f'{day},"{r.tv_spend:,.2f}",{r.search_spend},{r.social_spend},{r.online_revenue},'
            f"{r.offline_revenue},{r.price_index},{r.event_618}"
        )
    panel = load(media_plan_files(csv_text="\n".join(lines) + "\n\n\n"))
    assert panel.n_weeks == 60
    np.testing.assert_allclose(panel.spend["tv"], frame["tv_spend"])


def test_gb18030_csv_with_chinese_header(media_plan_files, tmp_path):
    frame = make_media_frame().rename(columns={"tv_spend": "电视投放"})
    path = media_plan_files(plan=MEDIA_PLAN_TOML.replace('"tv_spend"', '"电视投放"'))
    frame.to_csv(tmp_path / "world.csv", index=False, encoding="gb18030")
    panel = load(path)
    np.testing.assert_allclose(panel.spend["tv"], frame["电视投放"])


def test_empty_file(media_plan_files):
    message = data_error(media_plan_files, csv_text="")
    assert "the file is empty" in message


def test_header_without_rows(media_plan_files):
    header = ",".join(make_media_frame().columns)
    message = data_error(media_plan_files, csv_text=header + "\n")
    assert "header but no data rows" in message


def test_missing_columns_listed_with_suggestions(media_plan_files):
    frame = make_media_frame().rename(columns={"tv_spend": "tv_spnd"}).drop(columns="event_618")
    message = data_error(media_plan_files, frame=frame)
    assert '"tv_spend" (plan key channels[1].column; did you mean "tv_spnd"?)' in message
    assert '"event_618" (plan key data.controls[2])' in message


def test_duplicated_column_header(media_plan_files):
    frame = make_media_frame()
    text = frame.assign(extra=frame["search_spend"]).to_csv(index=False)
    text = text.replace(",extra", ",search_spend", 1)
    message = data_error(media_plan_files, csv_text=text)
    assert 'column header "search_spend" appears 2 times (columns 3 (C) and 9 (I))' in message


def test_unparsable_date(media_plan_files):
    frame = make_media_frame()
    frame.loc[9, "date"] = "2022-03-1x"
    message = data_error(media_plan_files, frame=frame)
    assert 'column "date": row 11: "2022-03-1x" is not a date' in message
    assert "YYYY-MM-DD" in message


def test_missing_date(media_plan_files):
    frame = make_media_frame()
    frame.loc[3, "date"] = ""
    message = data_error(media_plan_files, frame=frame)
    assert 'column "date": row 5 has no date' in message


def test_blank_line_inside_the_data(media_plan_files):
    lines = make_media_frame().to_csv(index=False).splitlines()
    lines.insert(4, "")
    message = data_error(media_plan_files, csv_text="\n".join(lines))
    assert "row 5 has no date" in message


def test_duplicated_dates(media_plan_files):
    frame = make_media_frame()
    frame.loc[7, "date"] = frame.loc[6, "date"]
    message = data_error(media_plan_files, frame=frame)
    assert "date 2022-02-14 appears 2 times (rows 8, 9)" in message


def test_out_of_order_dates(media_plan_files):
    frame = make_media_frame()
    frame.loc[[10, 11], "date"] = frame.loc[[11, 10], "date"].to_numpy()
    message = data_error(media_plan_files, frame=frame)
    assert "out of order: row 13 (2022-03-14) comes after row 12 (2022-03-21)" in message


def test_gap_names_both_dates(media_plan_files):
    frame = make_media_frame().drop(index=20).reset_index(drop=True)
    message = data_error(media_plan_files, frame=frame)
    assert "a gap: 2022-05-16 (row 21) is followed by 2022-05-30 (row 22), 14 days later" in (
        message
    )
    assert "exactly 7 days" in message


def test_daily_data_is_not_weekly(media_plan_files):
    frame = make_media_frame()
    frame["date"] = pd.date_range("2022-01-03", periods=len(frame), freq="D").strftime("%Y-%m-%d")
    message = data_error(media_plan_files, frame=frame)
    assert "not weekly: 2022-01-03 (row 2) is followed by 2022-01-04 (row 3), 1 days later" in (
        message
    )


@pytest.mark.parametrize(
    ("column", "plan_key"),
    [
        ("search_spend", "channels[2].column"),
        ("offline_revenue", "data.outcomes[2]"),
        ("price_index", "data.controls[1]"),
    ],
)
def test_non_numeric_value(media_plan_files, column, plan_key):
    frame = make_media_frame().astype({column: object})
    frame.loc[14, column] = "12k"
    message = data_error(media_plan_files, frame=frame)
    assert f'column "{column}" ({plan_key}): row 16 (date 2022-04-11): "12k" is not a number' in (
        message
    )


def test_negative_spend(media_plan_files):
    frame = make_media_frame()
    frame.loc[30, "tv_spend"] = -2500.0
    message = data_error(media_plan_files, frame=frame)
    assert 'column "tv_spend" (channel "tv"): negative spend -2500 in row 32' in message
    assert "date 2022-08-01" in message


@pytest.mark.parametrize(
    ("column", "kind"),
    [("social_spend", "spend"), ("online_revenue", "outcome"), ("price_index", "control")],
)
def test_missing_values(media_plan_files, column, kind):
    frame = make_media_frame().astype({column: object})
    frame.loc[[40, 45], column] = ["", "NA"]
    message = data_error(media_plan_files, frame=frame)
    assert f'column "{column}"' in message
    assert f"missing {kind} value in row 42 (date 2022-10-10), 2 missing in all" in message


def test_channel_with_zero_spend_everywhere(media_plan_files):
    frame = make_media_frame().assign(social_spend=0.0)
    message = data_error(media_plan_files, frame=frame)
    assert 'column "social_spend" (channel "social"): spend is zero in all 60 weeks' in message


def test_event_column_must_be_zero_or_one(media_plan_files):
    plan = MEDIA_PLAN_TOML.replace(
        'controls = ["price_index", "event_618"]',
        'controls = ["price_index"]\nevents = ["event_618"]',
    )
    frame = make_media_frame()
    frame.loc[2, "event_618"] = 2
    message = data_error(media_plan_files, frame=frame, plan=plan)
    assert 'column "event_618" (event): row 4 (date 2022-01-17) holds 2' in message


def test_too_few_weeks_states_the_rule(media_plan_files):
    assert min_weeks(3) == 52 and min_weeks(4) == 60 and min_weeks(10) == 120
    message = data_error(media_plan_files, frame=make_media_frame(weeks=51))
    assert "51 weeks is too short for 3 channel(s)" in message
    assert "max(52, 10 x channels + 20) = 52 weeks" in message
    assert load(media_plan_files(frame=make_media_frame(weeks=52))).n_weeks == 52


def test_calibration_window_outside_the_data(media_plan_files):
    plan = MEDIA_PLAN_TOML + (
        '\n[[calibration]]\nchannel = "tv"\nstart = 2021-03-01\nend = 2021-03-28\n'
        "spend_change = 1.0\nincremental_revenue = 1.0\nse = 1.0\n"
    )
    message = data_error(media_plan_files, plan=plan)
    assert "calibration[1] (channel tv) runs 2021-03-01 to 2021-03-28, outside the data" in message


def test_not_a_csv(media_plan_files, tmp_path):
    path = media_plan_files()
    (tmp_path / "world.csv").write_text("date,a\n2022-01-03,1\n2022-01-10,2,3,4\n")
    with pytest.raises(DataError, match="not a readable CSV file"):
        load(path)


def test_summary_reports_totals_and_shares(media_plan_files):
    frame = make_media_frame()
    panel = load(media_plan_files(frame=frame))
    text = summarize_panel(panel)
    tv, search, social = (frame[c].sum() for c in ("tv_spend", "search_spend", "social_spend"))
    total = tv + search + social
    assert "60 weeks, 2022-01-03 to 2023-02-20" in text
    assert f"total spend {total:,.0f}" in text
    assert f"online (2): {search + social:,.0f}, {100 * (search + social) / total:.1f}%" in text
    assert f"{tv:,.0f}" in text and f"{100 * tv / total:.1f}%" in text
    assert f"total {frame['online_revenue'].sum():,.0f}" in text
    assert "Controls: price_index, event_618" in text
    assert "," in f"{total:,.0f}"  # amounts are large enough to be grouped
