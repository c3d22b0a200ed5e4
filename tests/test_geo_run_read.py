"""Reading a long geo panel (omnimmm.data.geo_read): the arrays it builds and one error per
kind of bad input, each naming the region and the week (and the row) at fault."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from omnimmm.config import plan_from_dict
from omnimmm.data.geo_read import geo_arrays
from omnimmm.errors import DataError, PlanError

GEOS = ("beijing", "shanghai", "chengdu")
WEEKS = 80


def _frame(seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    dates = pd.date_range("2023-01-02", periods=WEEKS, freq="7D")
    pop = {"beijing": 21.0, "shanghai": 24.0, "chengdu": 9.0}
    tv_buy = rng.uniform(50, 150, WEEKS)
    rows = []
    for g in GEOS:
        share = pop[g] / sum(pop.values())
        for t, d in enumerate(dates):
            rows.append(
                {"week": d.strftime("%Y-%m-%d"), "region": g, "pop": pop[g] * 1e6,
                 "tv": tv_buy[t] * share, "search": rng.uniform(5, 15) * share,
                 "social": rng.uniform(2, 8), "online": rng.uniform(500, 900),
                 "store": rng.uniform(800, 1200), "price": rng.normal(),
                 "cny": float(t % 52 == 5)}
            )  # fmt: skip
    return pd.DataFrame(rows)


def _plan(tmp_path: Path, **budget: object):
    return plan_from_dict(
        {
            "data": {
                "path": "geo.csv",
                "date": "week",
                "geo": "region",
                "population": "pop",
                "outcomes": ["online", "store"],
                "controls": ["price"],
                "events": ["cny"],
            },
            "channels": [
                {"name": "tv", "column": "tv", "kind": "offline", "scope": "national"},
                {"name": "search", "column": "search", "kind": "online"},
                {"name": "social", "column": "social", "kind": "online"},
            ],
            "budget": budget,
        },  # fmt: skip
        base_dir=tmp_path,
    )


def _error(tmp_path: Path, frame: pd.DataFrame, **budget: object) -> str:
    with pytest.raises(DataError) as info:
        geo_arrays(frame, _plan(tmp_path, **budget), tmp_path / "geo.csv")
    return str(info.value)


def test_arrays_in_any_row_order(tmp_path: Path) -> None:
    frame = _frame()
    a = geo_arrays(frame, _plan(tmp_path), "geo.csv")
    b = geo_arrays(frame.sample(frac=1.0, random_state=3), _plan(tmp_path), "geo.csv")
    assert a["geos"] == tuple(sorted(GEOS)) and a["scopes"] == ("national", "local", "local")
    assert a["spend"].shape == (WEEKS, 3, 3) and a["y"].shape == (WEEKS, 3, 2)
    assert a["controls"].shape == (WEEKS, 3, 1)
    assert a["event_names"] == ("cny", "spring_festival", "event_618", "double_11")
    assert a["events"].shape == (WEEKS, 4)
    np.testing.assert_allclose(a["population"], [21e6, 9e6, 24e6])
    first = frame[(frame.region == "shanghai")].iloc[7]
    assert a["spend"][7, 2, 1] == pytest.approx(first["search"])
    assert a["y"][7, 2, 1] == pytest.approx(first["store"])
    # rows shuffled: the same regions in the same (sorted) order, so the same model and fit
    assert b["geos"] == a["geos"]
    for key in ("spend", "y", "controls", "population", "events", "dates"):
        np.testing.assert_array_equal(a[key], b[key])


def test_regions_sort_by_name_numbers_by_value(tmp_path: Path) -> None:
    """Whatever order the rows come in (a panel sorted by date, then region, or by region
    first, or shuffled), the regions are sorted by name, digit runs by their number."""
    frame = _frame()
    frame["region"] = frame["region"].map({"beijing": "r10", "shanghai": "r2", "chengdu": "上海"})
    for order in (frame, frame.sort_values(["week", "region"]), frame[::-1]):
        assert geo_arrays(order, _plan(tmp_path), "geo.csv")["geos"] == ("r2", "r10", "上海")


def test_dates_written_the_chinese_way(tmp_path: Path) -> None:
    frame = _frame()
    a = geo_arrays(frame, _plan(tmp_path), "geo.csv")
    frame["week"] = pd.to_datetime(frame["week"]).map(lambda d: f"{d.year}年{d.month}月{d.day}日")
    b = geo_arrays(frame, _plan(tmp_path), "geo.csv")
    np.testing.assert_array_equal(a["dates"], b["dates"])


def test_duplicate_region_week(tmp_path: Path) -> None:
    frame = _frame()
    frame = pd.concat([frame, frame.iloc[[WEEKS + 4]]], ignore_index=True)
    msg = _error(tmp_path, frame)
    assert "region shanghai, week 2023-01-30 appears 2 times" in msg
    assert f"rows {WEEKS + 4 + 2}, {3 * WEEKS + 2}" in msg


def test_missing_region_week(tmp_path: Path) -> None:
    frame = _frame().drop(index=[2 * WEEKS + 10, 2 * WEEKS + 11])
    msg = _error(tmp_path, frame)
    assert "region chengdu has no row for 2 of the panel's 80 weeks" in msg
    assert "week 2023-03-13, 2023-03-20" in msg


def test_one_region_spelled_two_ways(tmp_path: Path) -> None:
    frame = _frame()
    frame.loc[WEEKS + 3, "region"] = "Shanghai"
    msg = _error(tmp_path, frame)
    assert '"Shanghai" (row 85) and "shanghai" (row 82) differ only in case' in msg


def test_gap_in_every_region(tmp_path: Path) -> None:
    frame = _frame()
    frame = frame[frame.week != "2023-03-13"]
    assert "between week 2023-03-06 and week 2023-03-20 (14 days later)" in _error(tmp_path, frame)


def test_a_region_dated_on_another_weekday(tmp_path: Path) -> None:
    """One region's weeks dated by their Sunday among regions dated by Monday, or one row
    mistyped by a day, is named as such (before: "no region has a row between ...")."""
    frame = _frame()
    sunday = frame.region == "chengdu"
    frame.loc[sunday, "week"] = (
        pd.to_datetime(frame.loc[sunday, "week"]) + pd.Timedelta(days=6)
    ).dt.strftime("%Y-%m-%d")
    msg = _error(tmp_path, frame)
    assert "row 162 (region chengdu) is dated 2023-01-08, a Sunday" in msg
    assert "region chengdu's weeks are dated on a Sunday, the other regions' on a Monday" in msg
    frame = _frame()
    frame.loc[WEEKS + 9, "week"] = "2023-03-07"  # shanghai's week 10, a Tuesday
    msg = _error(tmp_path, frame)
    assert "row 91 (region shanghai) is dated 2023-03-07, a Tuesday" in msg
    assert "the panel's weeks are dated on a Monday (1 row(s) off that weekday)" in msg


def test_week_ending_dates_place_festivals_in_their_weeks(tmp_path: Path) -> None:
    """A panel dated by week ends (Sundays) says so with data.week_dates = "end": the
    festival weeks are then those of the same Monday-to-Sunday weeks as in the panel dated
    by week starts (read as week starts, each festival would land a week early)."""
    frame = _frame()
    start = geo_arrays(frame, _plan(tmp_path), "geo.csv")
    ends = frame.assign(
        week=(pd.to_datetime(frame["week"]) + pd.Timedelta(days=6)).dt.strftime("%Y-%m-%d")
    )
    plan = _plan(tmp_path)
    plan = plan.model_copy(update={"data": plan.data.model_copy(update={"week_dates": "end"})})
    end = geo_arrays(ends, plan, "geo.csv")
    assert end["event_names"] == start["event_names"]
    np.testing.assert_array_equal(end["events"], start["events"])
    assert end["dates"][0] == pd.Timestamp("2023-01-08")
    naive = geo_arrays(ends, _plan(tmp_path), "geo.csv")["events"]
    assert not np.array_equal(naive, start["events"])
    with pytest.raises(PlanError, match="data.week_dates needs a long panel"):
        plan_from_dict(
            {"data": {"path": "x.csv", "outcomes": ["y"], "week_dates": "end"},
             "channels": [{"name": "tv", "column": "tv", "kind": "offline"}]},
            base_dir=tmp_path,
        )  # fmt: skip


def test_festival_extra_days_become_events(tmp_path: Path) -> None:
    """[festivals] extra = ["12-12"] marks the week holding 12 December each year (it was
    ignored: the geo model never saw the festival the plan named)."""
    plan = _plan(tmp_path)
    plan = plan.model_copy(
        update={"festivals": plan.festivals.model_copy(update={"extra": ("12-12",)})}
    )
    a = geo_arrays(_frame(), plan, "geo.csv")
    assert a["event_names"][-1] == "festival_12_12"
    marked = a["dates"][a["events"][:, -1] == 1.0]
    assert [str(d.date()) for d in marked] == ["2023-12-11"]  # 80 weeks from 2023-01-02


def test_national_total_rows_under_another_name(tmp_path: Path) -> None:
    """Rows of national totals called 全国 (not "national") are refused: as a region they
    would count every sale twice."""
    frame = _frame()
    total = frame.groupby("week", as_index=False).sum(numeric_only=True)
    total["region"], total["cny"] = "全国", frame.groupby("week")["cny"].first().to_numpy()
    msg = _error(tmp_path, pd.concat([frame, total], ignore_index=True))
    assert "region 全国's outcomes (online, store) are the sums of the other 3 regions'" in msg
    assert "week 2023-01-02, row 242" in msg


def test_region_without_data(tmp_path: Path) -> None:
    frame = _frame()
    frame.loc[frame.region == "chengdu", ["online", "store"]] = 0.0
    assert "region chengdu has no data" in _error(tmp_path, frame)


def test_empty_population_cells_say_what_a_population_cell_holds(tmp_path: Path) -> None:
    """A population given in each region's first row only: the message asks for the region's
    size in every row, not the spend columns' "write 0" (a population of 0 is refused)."""
    frame = _frame()
    frame.loc[frame.duplicated("region"), "pop"] = np.nan
    msg = _error(tmp_path, frame)
    assert 'column "pop" (data.population): region beijing, week 2023-01-09 (row 3)' in msg
    assert "the region's size, in every one of its rows" in msg and "write 0" not in msg


def test_a_region_that_opened_later_or_closed(tmp_path: Path) -> None:
    """A region whose first (or last) weeks are rows of zeros, as a stranger fills a region
    that opened later, is named with the weeks: the zeros would be modelled as real sales."""
    frame = _frame()
    late = (frame.region == "chengdu") & (frame.week < "2023-03-06")
    frame.loc[late, ["online", "store", "search", "social"]] = 0.0
    msg = _error(tmp_path, frame)
    assert "region chengdu sells nothing in its first 9 weeks" in msg
    assert "from week 2023-01-02 to week 2023-02-27, its first week with sales is 2023-03-06" in msg
    frame = _frame()
    frame.loc[(frame.region == "beijing") & (frame.week > "2024-06-01"), ["online", "store"]] = 0
    assert "region beijing sells nothing in its last 6 weeks" in _error(tmp_path, frame)
    frame = _frame()  # one week without sales is a week without sales
    frame.loc[WEEKS, ["online", "store"]] = 0.0
    geo_arrays(frame, _plan(tmp_path), "geo.csv")


def test_bad_cells_name_region_and_week(tmp_path: Path) -> None:
    frame = _frame().astype({"search": object})
    frame.loc[WEEKS + 3, "search"] = "12,5x"
    msg = _error(tmp_path, frame)
    assert 'region shanghai, week 2023-01-23 (row 85): the cell "12,5x" is not a number' in msg
    frame = _frame()
    frame.loc[5, "store"] = np.nan
    assert "region beijing, week 2023-02-06 (row 7): the cell is empty" in _error(tmp_path, frame)
    frame = _frame()
    frame.loc[2 * WEEKS + 1, "social"] = -3.0
    assert "negative spend at region chengdu, week 2023-01-09" in _error(tmp_path, frame)


def test_national_shares_that_do_not_add_up(tmp_path: Path) -> None:
    frame = _frame()
    frame.loc[WEEKS + 20, "tv"] *= 4  # shanghai's share of week 21's national buy jumps
    msg = _error(tmp_path, frame)
    assert "national channel tv" in msg and "region shanghai, week 2023-05-22" in msg
    frame = _frame()
    frame.loc[2 * WEEKS + 30, "tv"] = 0.0  # chengdu missing from one national buy
    assert "region chengdu, week 2023-07-31" in _error(tmp_path, frame)
    frame = _frame()  # a local channel may move freely between regions
    frame.loc[WEEKS + 20, "search"] *= 10
    geo_arrays(frame, _plan(tmp_path), "geo.csv")


def test_national_shares_accept_a_wobble_but_not_a_pattern(tmp_path: Path) -> None:
    frame = _frame()  # one region-week 2.5x its usual share: a split buy's ordinary wobble
    frame.loc[WEEKS + 20, "tv"] *= 2.5
    geo_arrays(frame, _plan(tmp_path), "geo.csv")
    frame.loc[[WEEKS + 40, WEEKS + 60], "tv"] *= 2.5  # three of 240 region-weeks: over 1%
    msg = _error(tmp_path, frame)
    assert "3 of 240 region-weeks off by more than a factor 2, 0 by more than 3" in msg
    frame = _frame()  # separate regional buys declared national: each region's own flights
    flights = np.random.default_rng(1).random(len(frame)) < 0.7
    frame["tv"] = frame["social"] * 1e3 * flights
    assert "national channel tv" in _error(tmp_path, frame)


def test_national_shares_that_wobble_widen_what_counts_as_off(tmp_path: Path) -> None:
    """Delivered impressions wobble around each region's share every week (here by a
    log-normal factor of sd 0.35: about 1 in 20 region-weeks beyond 1.8x): accepted. A region
    missing from a live buy is still refused, and so is a wobble too wide to be one buy."""
    rng = np.random.default_rng(5)
    frame = _frame()
    frame["tv"] *= rng.lognormal(0.0, 0.35, len(frame))
    geo_arrays(frame, _plan(tmp_path), "geo.csv")
    missing = frame.copy()
    missing.loc[WEEKS + 20, "tv"] = 0.0  # shanghai missing from week 21's buy
    assert "region shanghai, week 2023-05-22" in _error(tmp_path, missing)
    frame = _frame()
    frame["tv"] *= rng.lognormal(0.0, 1.0, len(frame))
    msg = _error(tmp_path, frame)
    assert "national channel tv" in msg and "by a typical factor" in msg


def test_national_total_repeated_in_every_region_is_refused(tmp_path: Path) -> None:
    """A stranger may write a national buy's total in every region's row: its shares are
    then equal every week and would pass the share checks, while the sum over regions counts
    the buy once per region (ROI 3x too small here). Refused, naming the column, a week and
    its rows; an equal split is accepted where the population gives equal sizes."""
    frame = _frame()
    frame["tv"] = frame.groupby("week")["tv"].transform("sum")
    msg = _error(tmp_path, frame)
    assert 'column "tv" (national channel tv): holds the same amount in every region' in msg
    assert "week 2023-01-02" in msg and "rows 2, 162, 82" in msg and "3 times over" in msg
    plan = _plan(tmp_path)
    no_pop = plan.model_copy(update={"data": plan.data.model_copy(update={"population": None})})
    with pytest.raises(DataError, match="gives no data.population"):
        geo_arrays(frame, no_pop, "geo.csv")
    one = _frame()  # the total written in the first region's rows only
    one["tv"] = np.where(one.region == "beijing", one.groupby("week")["tv"].transform("sum"), 0.0)
    msg = _error(tmp_path, one)
    assert "national channel tv): only region beijing has any of it" in msg
    frame["pop"] = 1e6  # equal sizes: an equal split is the population share
    a = geo_arrays(frame, plan, "geo.csv")
    assert a["spend"][0, 0, 0] == a["spend"][0, 2, 0]


def test_simulated_geo_worlds_pass_their_own_reader(tmp_path: Path) -> None:
    from omnimmm.config import load_plan
    from omnimmm.data.geo_read import load_geo_panel
    from omnimmm.data.geo_world_io import simulate_geo_files

    # seed 21: one region-week of online_video 2.05x its usual share (refused before)
    simulate_geo_files(tmp_path, 16, 130, 21, same_effects=False)
    assert load_geo_panel(load_plan(tmp_path / "plan.toml")).panel.spend.shape == (130, 16, 6)


def test_population(tmp_path: Path) -> None:
    frame = _frame()
    frame.loc[WEEKS + 40, "pop"] *= 3
    msg = _error(tmp_path, frame)
    assert "region shanghai's population changes wildly" in msg and "2023-10-09" in msg
    frame = _frame()
    frame.loc[frame.region == "beijing", "pop"] *= np.linspace(1.0, 1.2, WEEKS)
    a = geo_arrays(frame, _plan(tmp_path), "geo.csv")  # slow growth is averaged
    assert a["population"][0] == pytest.approx(21e6 * 1.1)
    frame.loc[3, "pop"] = 0.0
    assert "region beijing, week 2023-01-23 (row 5) holds 0" in _error(tmp_path, frame)


def test_events_are_national_and_binary(tmp_path: Path) -> None:
    frame = _frame()
    frame.loc[WEEKS + 5, "cny"] = 0.0
    assert "region shanghai, week 2023-02-06" in _error(tmp_path, frame)


def test_budget_geos_name_regions_of_the_data(tmp_path: Path) -> None:
    msg = _error(tmp_path, _frame(), geos={"shangai": {"max_change": 0.2}})
    assert "budget.geos.shangai" in msg and 'did you mean "shanghai"' in msg


def test_missing_columns_and_plan_keys(tmp_path: Path) -> None:
    msg = _error(tmp_path, _frame().drop(columns=["region"]))
    assert '"region" (plan key data.geo)' in msg
    msg = _error(tmp_path, _frame().rename(columns={"region": "Region", "search": "serach"}))
    assert '"region" (plan key data.geo) (the file has "Region")' in msg
    assert '"search" (plan key channels[2].column (channel search)) (the file has "serach")' in msg
    with pytest.raises(PlanError, match="needs data.geo"):
        plan_from_dict(
            {"data": {"path": "x.csv", "outcomes": ["y"]},
             "channels": [{"name": "tv", "column": "tv", "kind": "offline", "scope": "national"}]},
            base_dir=tmp_path,
        )  # fmt: skip
