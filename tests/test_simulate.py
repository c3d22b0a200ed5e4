"""Tests of the festival calendar and the ground-truth world simulator.

The truth is checked against naive recomputations from ``truth.params`` alone (python
loops for adstock, the Hill formula written out), so the vectorised code paths of the
simulator are tested against an independent reading of the documented model.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import math
import tomllib

import numpy as np
import pandas as pd
import pytest

from omnimmm.data.calendar import SPRING_FESTIVAL, festival_weeks, spring_festival_date
from omnimmm.data.simulate import CHANNELS, OUTCOMES, simulate_world, write_world
from omnimmm.errors import DataError, OmniError, PlanError

SEED = 20240618


@pytest.fixture(scope="module")
def world():
    return simulate_world(seed=SEED)


@pytest.fixture(scope="module")
def plain_world():
    """Same seed without synergy."""
    return simulate_world(seed=SEED, synergy=False)


# --------------------------------------------------------------------------- naive oracle


def naive_weights(p: dict) -> np.ndarray:
    lags = np.arange(p["l_max"], dtype=float)
    if p["adstock"] == "geometric":
        w = np.array([p["alpha"] ** lag for lag in lags])
    else:
        w = np.array([p["alpha"] ** ((lag - p["theta"]) ** 2) for lag in lags])
    return w / w.sum()


def naive_saturated(p: dict, spend: np.ndarray) -> np.ndarray:
    """hill(adstock(spend / scale)) with a python loop over weeks and lags."""
    w = naive_weights(p)
    x = spend / p["scale"]
    out = np.zeros(len(x))
    for t in range(len(x)):
        a = sum(w[lag] * x[t - lag] for lag in range(len(w)) if t - lag >= 0)
        a_s = a ** p["slope"]
        out[t] = a_s / (a_s + p["half_saturation"] ** p["slope"])
    return out


def naive_media(params: dict, spend: dict[str, np.ndarray]) -> np.ndarray:
    """Media part (T, O) of every outcome from the parameter dict alone."""
    h = {c: naive_saturated(params["channels"][c], spend[c]) for c in spend}
    n_t = len(next(iter(spend.values())))
    out = np.zeros((n_t, len(OUTCOMES)))
    for k, o in enumerate(OUTCOMES):
        for c in spend:
            out[:, k] += params["channels"][c]["beta"][o] * h[c]
        for syn in params["synergies"]:
            i, j = syn["channels"]
            out[:, k] += syn["gamma"][o] * h[i] * h[j]
    return out


def spend_of(world) -> dict[str, np.ndarray]:
    return {c: world.panel[f"{c}_spend"].to_numpy(float) for c in world.channels}


def sha256_dir(paths) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in paths}


# --------------------------------------------------------------------------- calendar


@pytest.mark.parametrize(
    ("year", "day"),
    [
        (2010, "2010-02-14"),
        (2015, "2015-02-19"),
        (2020, "2020-01-25"),
        (2023, "2023-01-22"),
        (2024, "2024-02-10"),
        (2025, "2025-01-29"),
        (2026, "2026-02-17"),
        (2033, "2033-01-31"),
        (2040, "2040-02-12"),
    ],
)
def test_spring_festival_known_dates(year, day):
    assert spring_festival_date(year) == dt.date.fromisoformat(day)


def test_spring_festival_table_is_complete_and_plausible():
    assert sorted(SPRING_FESTIVAL) == list(range(2010, 2041))
    for year, day in SPRING_FESTIVAL.items():
        assert day.year == year
        assert dt.date(year, 1, 21) <= day <= dt.date(year, 2, 20)
    # Consecutive new years are 12 or 13 lunar months apart (354-355 or 383-385 days).
    days = [SPRING_FESTIVAL[y] for y in sorted(SPRING_FESTIVAL)]
    gaps = {(b - a).days for a, b in zip(days, days[1:], strict=False)}
    assert gaps <= {354, 355, 383, 384, 385}


def test_festival_weeks_marks_the_right_weeks():
    dates = pd.date_range("2024-01-01", periods=52, freq="7D")
    f = festival_weeks(dates)
    assert list(f.columns) == ["spring_festival", "event_618", "double_11"]
    on = {col: [str(d.date()) for d in f.index[f[col] == 1.0]] for col in f}
    # CNY 2024-02-10 (Saturday) is in the week of Monday 2024-02-05; the week before is
    # the pre-festival shopping week.
    assert on["spring_festival"] == ["2024-01-29", "2024-02-05"]
    assert on["event_618"] == ["2024-06-17"]
    assert on["double_11"] == ["2024-11-11"]
    assert set(np.unique(f.to_numpy())) == {0.0, 1.0}


def test_festival_weeks_any_week_start_and_neutral_calendar():
    sundays = pd.date_range("2025-01-05", periods=52, freq="7D")  # weeks start on Sunday
    f = festival_weeks(sundays)
    assert [str(d.date()) for d in f.index[f["spring_festival"] == 1]] == [
        "2025-01-19",
        "2025-01-26",
    ]  # CNY 2025-01-29 falls in the week starting Sunday 2025-01-26
    assert [str(d.date()) for d in f.index[f["double_11"] == 1]] == ["2025-11-09"]
    none = festival_weeks(sundays, calendar="none")
    assert none.shape == (52, 0) and none.index.equals(sundays)


def test_festival_calendar_errors():
    with pytest.raises(PlanError, match="unknown festival calendar 'us'"):
        festival_weeks(pd.date_range("2024-01-01", periods=3, freq="7D"), calendar="us")
    with pytest.raises(DataError, match="2009"):
        festival_weeks(pd.date_range("2009-01-05", periods=3, freq="7D"))
    with pytest.raises(DataError, match="DatetimeIndex"):
        festival_weeks(["2024-01-01"])  # type: ignore[arg-type]


# --------------------------------------------------------------------------- knobs, shape


@pytest.mark.parametrize(
    ("knobs", "message"),
    [
        ({"weeks": 103}, "weeks must be between 104 and 208"),
        ({"weeks": 209}, "weeks must be between 104 and 208"),
        ({"weeks": 120.0}, "weeks must be an integer"),
        ({"noise": -0.01}, "noise must be between 0 and 0.5"),
        ({"noise": math.nan}, "noise must be between 0 and 0.5"),
        ({"seed": -1}, "seed must be a non-negative integer"),
        ({"channels": ["tv", "facebook"]}, "unknown: \\['facebook'\\]"),
        ({"channels": []}, "channels must be distinct names"),
        ({"channels": ["tv", "tv"]}, "channels must be distinct names"),
        ({"start": "2023-01-03"}, "start must be a Monday"),
        ({"start": "last spring"}, "start must be a date"),
        ({"start": "2038-01-04"}, "panel must lie within"),
        ({"synergy": "yes"}, "synergy must be True or False"),
    ],
)
def test_bad_knobs_raise_plan_error(knobs, message):
    with pytest.raises(PlanError, match=message) as info:
        simulate_world(**knobs)
    assert isinstance(info.value, OmniError) and info.value.exit_code == 2


def test_panel_shape_columns_and_units(world):
    panel = world.panel
    names = [spec.name for spec in CHANNELS]
    assert world.channels == tuple(names)
    assert list(panel.columns) == [
        "date",
        *(f"{c}_spend" for c in names),
        *OUTCOMES,
        "price_index",
        "spring_festival",
        "event_618",
        "double_11",
    ]
    assert len(panel) == 156 and not panel.isna().any().any()
    assert (panel["date"].dt.day_of_week == 0).all()
    assert (panel["date"].diff().dropna() == pd.Timedelta(days=7)).all()
    spend = panel[[f"{c}_spend" for c in names]]
    assert (spend >= 0).all().all()
    on_air_mean = spend[spend > 0].mean()
    assert on_air_mean.between(50e3, 1.2e6).all(), on_air_mean
    assert panel[list(OUTCOMES)].mean().between(5e6, 5e7).all()  # millions of CNY per week
    assert panel["price_index"].between(0.8, 1.1).all()


def test_flighting_patterns(world):
    panel = world.panel
    tv = panel["tv_spend"].to_numpy()
    assert (tv == 0).mean() > 0.3  # TV is off most weeks ...
    assert (tv > 0).mean() > 0.15  # ... and runs in bursts
    for c in ("search", "social", "display", "online_video"):
        assert (panel[f"{c}_spend"] > 0).all(), c
    # TV is on air in the four weeks up to every Spring Festival in the panel.
    cny_weeks = np.flatnonzero(panel["spring_festival"].to_numpy() == 1)[1::2]
    assert all(tv[max(w - 4, 0) : w + 1].sum() > 0 for w in cny_weeks)
    for c in ("print", "radio"):
        share_on = (panel[f"{c}_spend"] > 0).mean()
        assert 0.2 < share_on < 0.8, (c, share_on)
    # Search follows demand: more spend in Double 11 weeks than in an ordinary week.
    search = panel["search_spend"]
    assert search[panel["double_11"] == 1].mean() > 1.3 * search.median()


def test_same_seed_same_bytes_other_seed_other_data(tmp_path):
    a = write_world(simulate_world(seed=7), tmp_path / "a")
    b = write_world(simulate_world(seed=7), tmp_path / "b")
    c = write_world(simulate_world(seed=8), tmp_path / "c")
    assert [p.name for p in a] == [
        "world.csv",
        "plan.toml",
        "truth_roi.csv",
        "truth_contributions.csv",
        "truth_params.json",
    ]
    assert sha256_dir(a) == sha256_dir(b)
    assert sha256_dir(a)["world.csv"] != sha256_dir(c)["world.csv"]
    assert sorted(p.name for p in (tmp_path / "a").iterdir()) == sorted(p.name for p in a)


def test_written_plan_reads_back(world, tmp_path):
    paths = write_world(world, tmp_path)
    plan = tomllib.loads((tmp_path / "plan.toml").read_text())
    assert plan == world.plan
    assert plan["data"]["path"] == "world.csv" and (tmp_path / "world.csv").exists()
    assert plan["model"]["synergies"] == [["tv", "search"]]
    assert [ch["column"] for ch in plan["channels"]] == [f"{c}_spend" for c in world.channels]
    back = pd.read_csv(tmp_path / "world.csv", parse_dates=["date"])
    pd.testing.assert_frame_equal(back, world.panel, check_dtype=False)
    roi = pd.read_csv(tmp_path / "truth_roi.csv", index_col="channel")
    np.testing.assert_allclose(roi.to_numpy(), world.truth.roi.to_numpy(), atol=1e-6)
    assert len(paths) == 5


def test_loads_with_the_package_plan_reader(world, tmp_path):
    config = pytest.importorskip("omnimmm.config")
    write_world(world, tmp_path)
    plan = config.load_plan(tmp_path / "plan.toml")
    assert plan.seed == SEED
    assert plan.channel_names == world.channels
    assert plan.data.outcomes == OUTCOMES
    assert plan.data.path.resolve() == (tmp_path / "world.csv").resolve()
    assert plan.model.synergies == (("tv", "search"),)
    assert plan.budget.horizon_weeks == 13


def test_write_world_refuses_a_file_as_directory(world, tmp_path):
    target = tmp_path / "taken"
    target.write_text("not a directory")
    with pytest.raises(PlanError, match="not a directory"):
        write_world(world, target)


def test_subset_of_channels_shares_draws(world):
    small = simulate_world(seed=SEED, channels=["tv", "search"])
    assert small.channels == ("search", "tv")  # default order kept
    for c in small.channels:
        np.testing.assert_array_equal(small.panel[f"{c}_spend"], world.panel[f"{c}_spend"])
        assert small.truth.params["channels"][c] == world.truth.params["channels"][c]


def test_zero_noise_observes_the_expectation():
    w = simulate_world(seed=3, weeks=104, noise=0.0)
    np.testing.assert_allclose(w.panel[list(OUTCOMES)], w.truth.expected, atol=0.006)


# --------------------------------------------------------------------------- truth


def test_roi_matches_a_naive_recomputation(world):
    params = world.truth.params
    spend = spend_of(world)
    actual = naive_media(params, spend)
    for channel in ("tv", "radio", "search"):  # in the synergy, plain offline, plain online
        zeroed = {**spend, channel: np.zeros_like(spend[channel])}
        contribution = (actual - naive_media(params, zeroed)).sum(axis=0)
        roi = contribution / spend[channel].sum()
        truth = world.truth.roi.loc[channel]
        np.testing.assert_allclose(truth[list(OUTCOMES)], roi, rtol=1e-9)
        assert truth["total"] == pytest.approx(roi.sum(), rel=1e-9)


def baseline_from_params(world) -> np.ndarray:
    """Non-media part of each outcome, from the documented formula and the params."""
    p = world.truth.params["baseline"]
    dates = world.panel["date"]
    years = (dates - dates.iloc[0]).dt.days.to_numpy() / 365.25
    angle = 2 * np.pi * (dates.dt.day_of_year.to_numpy() - 1) / 365.25
    out = []
    for o in OUTCOMES:
        b = p[o]
        y = b["intercept"] * (1 + b["trend_per_year"] * years)
        for k in (1, 2):
            y = y + b["fourier"][f"sin_{k}"] * np.sin(k * angle)
            y = y + b["fourier"][f"cos_{k}"] * np.cos(k * angle)
        for event, effect in b["festivals"].items():
            y = y + effect * world.panel[event].to_numpy()
        y = y + b["price_index"] * (world.panel["price_index"].to_numpy() - 1)
        out.append(y)
    return np.column_stack(out)


def test_contributions_add_up_to_the_media_part_without_synergy(plain_world):
    truth = plain_world.truth
    media = truth.expected.to_numpy() - baseline_from_params(plain_world)
    summed = truth.contributions.groupby("date", sort=True)[list(OUTCOMES)].sum().to_numpy()
    np.testing.assert_allclose(summed, media, rtol=1e-9, atol=1e-3)
    assert plain_world.truth.params["synergies"] == []
    assert plain_world.plan["model"]["synergies"] == []


def test_synergy_is_counted_in_both_channels(world, plain_world):
    truth = world.truth
    media = truth.expected.to_numpy() - baseline_from_params(world)
    summed = truth.contributions.groupby("date", sort=True)[list(OUTCOMES)].sum().to_numpy()
    excess = summed - media  # the interaction, once too many: it belongs to tv and search
    spend = spend_of(world)
    syn = world.truth.params["synergies"][0]
    h_tv = naive_saturated(world.truth.params["channels"]["tv"], spend["tv"])
    h_search = naive_saturated(world.truth.params["channels"]["search"], spend["search"])
    for k, o in enumerate(OUTCOMES):
        np.testing.assert_allclose(excess[:, k], syn["gamma"][o] * h_tv * h_search, atol=1e-3)
    # Same draws otherwise: only tv and search change ROI when the synergy is removed.
    diff = world.truth.roi["total"] - plain_world.truth.roi["total"]
    assert (diff[["tv", "search"]] > 0.05).all()
    assert np.allclose(diff.drop(["tv", "search"]), 0.0)


def test_cross_effects_off_zeroes_only_the_cross_outcome():
    on = simulate_world(seed=SEED, synergy=False)
    off = simulate_world(seed=SEED, synergy=False, cross_effects=False)
    assert off.truth.roi.loc["search", "offline_revenue"] == 0.0
    assert off.truth.roi.loc["social", "offline_revenue"] == 0.0
    assert off.truth.roi.loc["tv", "online_revenue"] == 0.0
    assert on.truth.roi.loc["search", "offline_revenue"] > 0.3
    assert on.truth.roi.loc["tv", "online_revenue"] > 0.3
    # Home-outcome ROIs are unchanged: the switch removes cross effects and nothing else.
    pd.testing.assert_series_equal(
        on.truth.roi.loc[["search", "social"], "online_revenue"],
        off.truth.roi.loc[["search", "social"], "online_revenue"],
    )
    pd.testing.assert_frame_equal(on.panel.filter(like="_spend"), off.panel.filter(like="_spend"))


@pytest.mark.parametrize("seed", [0, 1, 2, SEED])
def test_rois_are_plausible_and_differ(seed):
    roi = simulate_world(seed=seed).truth.roi["total"]
    assert roi.between(0.3, 5.0).all(), roi.to_dict()
    assert roi.max() / roi.min() > 3
    assert roi["search"] > roi["display"] and roi["tv"] > roi["print"]


# --------------------------------------------------------------------------- horizon value


def test_horizon_value_matches_a_brute_force_extension(world):
    truth = world.truth
    h, n_c = 13, len(world.channels)
    rng = np.random.default_rng(0)
    alloc = np.array(list(truth.current_allocation(h).values())) * rng.uniform(0.5, 1.5, n_c)
    last = truth.spend[-h:]
    pattern = np.where(last.sum(0) > 0, last / np.maximum(last.sum(0), 1e-300), 1.0 / h)
    tail = 13  # the longest l_max: carryover after the horizon
    future = np.vstack([pattern * alloc, np.zeros((tail, n_c))])
    history = np.vstack([truth.spend, future])
    without = np.vstack([truth.spend, np.zeros_like(future)])
    params = truth.params
    names = world.channels
    value = (
        naive_media(params, dict(zip(names, history.T, strict=True)))
        - naive_media(params, dict(zip(names, without.T, strict=True)))
    )[-len(future) :].sum()
    assert truth.horizon_value(dict(zip(names, alloc, strict=True)), h) == pytest.approx(
        value, rel=1e-9
    )


def test_horizon_value_zero_monotone_and_batch(world):
    truth = world.truth
    current = truth.current_allocation()
    assert truth.horizon_value(dict.fromkeys(current, 0.0)) == 0.0
    base = np.array(list(current.values()))
    factors = np.linspace(0.0, 3.0, 13)
    values = truth.horizon_value_batch(factors[:, None] * base)
    assert values[0] == 0.0 and np.all(np.diff(values) > 0)
    # Diminishing returns: each extra step buys less.
    assert np.all(np.diff(values, 2) < 0)
    rows = np.random.default_rng(1).uniform(0.0, 2.0, size=(20, len(base))) * base
    scalar = [truth.horizon_value(dict(zip(current, r, strict=True))) for r in rows]
    np.testing.assert_allclose(truth.horizon_value_batch(rows), scalar, rtol=1e-12)


def test_inherited_adstock_changes_the_value(world):
    """Observed: history that is still saturating the channels lowers the incremental value.

    With Hill curves near their half-saturation, the carryover inherited from the last
    quarter moves the horizon along the concave part of the curve, so the same allocation
    adds less than it would in a world with no history (about 2% less for the demo seed).
    """
    truth = world.truth
    current = truth.current_allocation()
    with_history = truth.horizon_value(current)
    without = truth.horizon_value(current, inherit=False)
    assert with_history != pytest.approx(without, rel=1e-3)
    assert with_history < without


def test_horizon_has_an_interior_optimum(world):
    truth = world.truth
    current = truth.current_allocation()
    names = list(current)
    base = np.array(list(current.values()))
    i, j = names.index("search"), names.index("tv")
    share = np.linspace(0.0, 1.0, 21)
    rows = np.tile(base, (21, 1))
    rows[:, i] = share * (base[i] + base[j])
    rows[:, j] = (1 - share) * (base[i] + base[j])
    values = truth.horizon_value_batch(rows)
    assert 0 < values.argmax() < 20


def test_allocation_errors(world):
    truth = world.truth
    with pytest.raises(PlanError, match="missing: \\['radio'\\]"):
        truth.horizon_value({c: 1.0 for c in world.channels if c != "radio"})
    with pytest.raises(PlanError, match="non-negative"):
        truth.horizon_value_batch(-np.ones((1, len(world.channels))))
    with pytest.raises(PlanError, match="horizon_weeks"):
        truth.current_allocation(0)
