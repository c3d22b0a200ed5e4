"""Tests of plan loading: defaults, path resolution, readable errors, and the TOML round trip."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from conftest import MEDIA_PLAN_TOML
from omnimmm.config import Plan, dump_plan, load_plan, plan_from_dict
from omnimmm.errors import PlanError

# The minimal plan of DESIGN.md, verbatim.
DESIGN_PLAN = """\
[data]
path = "world.csv"                       # relative to the plan file
date = "date"
outcomes = ["online_revenue", "offline_revenue"]   # one or more
controls = ["price_index", "event_618"]            # optional

[[channels]]
name = "tv"
column = "tv_spend"
kind = "offline"                         # online | offline

[budget]
horizon_weeks = 13                       # the quarter to plan
total = 5000000.0                        # spend over the horizon (default: last horizon_weeks' spend)
max_change = 0.5                         # each channel within +-50% of its last-quarter spend
"""

FULL_PLAN = """\
seed = 11

[data]
path = "sub/world.csv"
outcomes = ["online_revenue", "offline_revenue"]
controls = ["price_index"]
events = ["event_618"]
format = "csv"

[[channels]]
name = "tv"
column = "tv_spend"
kind = "offline"
adstock = "weibull"
l_max = 8
saturation = "logistic"
roi_prior = { mean = 2.0, sd = 0.5 }

[[channels]]
name = "search"
column = "search_spend"
kind = "online"
coef_prior_sd = 0.3

[[channels]]
name = "天猫 旗舰店"
column = "tmall_spend"
kind = "online"

[budget]
horizon_weeks = 26
total = 1.5e7
max_change = 0.3
objective = "profit"
margin = 0.4
risk = "cvar"
risk_level = 0.05
online_share = [0.2, 0.7]

[budget.channels.tv]
min = 100000
max = 2000000

[budget.channels."天猫 旗舰店"]
locked = true

[model]
synergies = [["tv", "search"]]
trend = false
yearly_fourier = 2
sampler = "pymc"
chains = 2
draws = 500
tune = 700
target_accept = 0.95
holdout_weeks = 0
roi_prior_default = { online = { mean = 1.2, sd = 0.8 }, offline = { mean = 0.9, sd = 0.6 } }

[[calibration]]
channel = "search"
start = 2023-03-06
end = "2023-04-02"
spend_change = -50000.0
incremental_revenue = -120000.0
se = 30000.0
outcome = "online_revenue"

[[calibration]]
channel = "tv"
start = 2023-05-01
end = 2023-05-28
spend_change = 200000
incremental_revenue = 260000
se = 90000

[gate]
rhat_max = 1.05
ess_bulk_min = 200
divergence_rate_max = 0.01
allow_failure = true

[festivals]
calendar = "none"
extra = ["12-12", "05-20"]
"""


def write(tmp_path: Path, text: str, data: str | None = "world.csv") -> Path:
    """Write ``plan.toml`` (and an empty data file at ``data``) under ``tmp_path``."""
    if data is not None:
        (tmp_path / data).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / data).write_text("date\n", encoding="utf-8")
    path = tmp_path / "plan.toml"
    path.write_text(text, encoding="utf-8")
    return path


def error_of(path: Path) -> str:
    with pytest.raises(PlanError) as info:
        load_plan(path)
    message = str(info.value)
    assert message.startswith(str(path)), message
    assert info.value.exit_code == 2
    return message


def test_design_minimal_plan_loads_with_documented_defaults(tmp_path, monkeypatch):
    path = write(tmp_path, DESIGN_PLAN)
    monkeypatch.chdir(Path(__file__).parent)  # relative paths follow the plan, not the cwd
    plan = load_plan(path)
    assert plan.data.path == (tmp_path / "world.csv").resolve()
    assert plan.data.path.is_absolute()
    assert plan.data.outcomes == ("online_revenue", "offline_revenue")
    assert plan.data.events == ()
    assert plan.data.file_format == "csv"
    (tv,) = plan.channels
    assert (tv.adstock, tv.adstock_kind, tv.l_max, tv.lag_max) == (None, "delayed", None, 13)
    assert tv.saturation == "hill" and tv.roi_prior is None
    assert plan.seed == 0
    assert plan.budget.total == 5_000_000.0 and plan.budget.horizon_weeks == 13
    assert plan.budget.max_change == 0.5 and plan.budget.channels == {}
    assert plan.model.sampler == "nutpie" and plan.model.holdout_weeks == 13
    assert plan.model.roi_prior_default.online.mean == 1.5
    assert plan.model.roi_prior_default.offline.mean == 1.0
    assert plan.gate.rhat_max == 1.01 and plan.gate.ess_bulk_min == 400
    assert plan.festivals.calendar == "china"


def test_online_channel_defaults_and_frozen(tmp_path):
    plan = load_plan(write(tmp_path, MEDIA_PLAN_TOML))
    search = plan.channel("search")
    assert (search.adstock_kind, search.lag_max) == ("geometric", 6)
    assert plan.channel_names == ("tv", "search", "social")
    with pytest.raises(ValueError, match="frozen"):
        plan.seed = 3  # type: ignore[misc]


def test_full_plan_values(tmp_path):
    plan = load_plan(write(tmp_path, FULL_PLAN, data="sub/world.csv"))
    assert plan.data.path == (tmp_path / "sub" / "world.csv").resolve()
    assert plan.channel("tv").lag_max == 8 and plan.channel("tv").adstock_kind == "weibull"
    assert plan.channel("tv").roi_prior.mean == 2.0
    assert plan.budget.channels["天猫 旗舰店"].locked
    assert plan.budget.channels["tv"].max == 2_000_000.0
    assert plan.budget.online_share == (0.2, 0.7)
    assert plan.model.synergies == (("tv", "search"),)
    assert plan.calibration[0].start == dt.date(2023, 3, 6)
    assert plan.calibration[0].end == dt.date(2023, 4, 2)  # from a string
    assert plan.calibration[1].outcome is None
    assert plan.festivals.extra == ("12-12", "05-20")


def test_round_trip_full_plan(tmp_path):
    plan = load_plan(write(tmp_path, FULL_PLAN, data="sub/world.csv"))
    (tmp_path / "saved").mkdir()
    out = dump_plan(plan, tmp_path / "saved" / "plan.toml")
    again = load_plan(out)
    assert again == plan
    assert again.to_toml_dict() == plan.to_toml_dict()
    assert tomllib.loads(out.read_text(encoding="utf-8"))["seed"] == 11


def test_round_trip_resolved_plan_writes_defaults_out(tmp_path):
    plan = load_plan(write(tmp_path, DESIGN_PLAN))
    resolved = plan.resolved()
    assert resolved != plan
    text = dump_plan(resolved, tmp_path / "resolved.toml").read_text(encoding="utf-8")
    assert 'adstock = "delayed"' in text and "l_max = 13" in text and 'format = "csv"' in text
    assert load_plan(tmp_path / "resolved.toml") == resolved


def test_config_import_is_light():
    code = (
        "import sys, omnimmm.config; "
        "heavy = {'pandas', 'numpy', 'pymc', 'pytensor'} & set(sys.modules); "
        "sys.exit(1 if heavy else 0)"
    )
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0


def test_missing_plan_file(tmp_path):
    message = error_of(tmp_path / "nope.toml")
    assert "plan file not found" in message


def test_invalid_toml_reports_line(tmp_path):
    path = write(tmp_path, DESIGN_PLAN.replace("[budget]", "[budget"))
    message = error_of(path)
    assert "not valid TOML" in message and "line 12" in message


def test_misspelled_key_names_path_and_suggests(tmp_path):
    text = MEDIA_PLAN_TOML.replace('kind = "online"\n', 'kindd = "online"\n', 1)
    message = error_of(write(tmp_path, text))
    assert 'channels[2].kindd (channel "search"): unknown key (did you mean "kind"?)' in message
    assert 'channels[2].kind (channel "search"): required key is missing' in message


def test_misspelled_section_suggests(tmp_path):
    message = error_of(write(tmp_path, DESIGN_PLAN.replace("[budget]", "[budgte]")))
    assert 'budgte: unknown key (did you mean "budget"?)' in message


def test_misspelled_nested_key(tmp_path):
    message = error_of(write(tmp_path, DESIGN_PLAN + "[model]\nholdout_week = 4\n"))
    assert 'model.holdout_week: unknown key (did you mean "holdout_weeks"?)' in message


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        ('kind = "offline"', 'kind = "tv"', ['channels[1].kind (channel "tv") = "tv"', "'online'"]),
        ("horizon_weeks = 13", 'horizon_weeks = "13"', ["budget.horizon_weeks", "integer"]),
        ("horizon_weeks = 13", "horizon_weeks = 60", ["budget.horizon_weeks = 60", "52"]),
        ("total = 5000000.0", "total = -1.0", ["budget.total = -1.0", "greater than 0"]),
        ("max_change = 0.5", "max_change = 11", ["budget.max_change = 11", "10"]),
        ("max_change = 0.5", 'max_change = "0.5"', ["budget.max_change", "valid number"]),
        (
            'outcomes = ["online_revenue", "offline_revenue"]',
            "outcomes = []",
            ["data.outcomes: needs at least 1 item"],
        ),
        ('path = "world.csv"', "path = 3", ["data.path = 3"]),
    ],
)
def test_wrong_values_name_key_value_and_accepted(tmp_path, old, new, expected):
    assert old in DESIGN_PLAN
    message = error_of(write(tmp_path, DESIGN_PLAN.replace(old, new)))
    for part in expected:
        assert part in message, message
    assert "pydantic" not in message and "errors.pydantic.dev" not in message


def test_bad_channel_item_is_not_also_reported_as_empty_channel_list(tmp_path):
    message = error_of(write(tmp_path, DESIGN_PLAN.replace('kind = "offline"', "kind = 1")))
    assert 'channels[1].kind (channel "tv") = 1 is not accepted' in message
    assert "needs at least" not in message


def test_missing_data_file_names_resolved_path(tmp_path):
    path = write(tmp_path, DESIGN_PLAN, data=None)
    message = error_of(path)
    assert str((tmp_path / "world.csv").resolve()) in message and "does not exist" in message


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        (
            'controls = ["price_index", "event_618"]',
            'controls = ["price_index", "tv_spend"]',
            'column "tv_spend" is used twice: data.controls[2] and channels[1].column',
        ),
        (
            'date = "date"',
            'date = "online_revenue"',
            'column "online_revenue" is used twice: data.date and data.outcomes[1]',
        ),
        (
            'outcomes = ["online_revenue", "offline_revenue"]',
            'outcomes = ["online_revenue", "online_revenue"]',
            "data.outcomes[1] and data.outcomes[2]",
        ),
    ],
)
def test_column_used_twice(tmp_path, old, new, expected):
    message = error_of(write(tmp_path, MEDIA_PLAN_TOML.replace(old, new)))
    assert expected in message


def test_duplicate_channel_names(tmp_path):
    text = MEDIA_PLAN_TOML.replace('name = "social"', 'name = "search"')
    message = error_of(write(tmp_path, text))
    assert 'channel name "search" is declared twice: channels[2].name and channels[3].name' in (
        message
    )


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        (
            '[model]\nsynergies = [["tv", "serch"]]\n',
            'model.synergies[1]: "serch" is not a declared channel (did you mean "search"?)',
        ),
        ('[model]\nsynergies = [["tv", "tv"]]\n', 'model.synergies[1] pairs channel "tv" with'),
        (
            '[model]\nsynergies = [["tv", "search"], ["search", "tv"]]\n',
            'model.synergies[2] repeats the synergy "search" x "tv"',
        ),
        (
            "[budget.channels.tvv]\nmax = 10.0\n",
            'budget.channels.tvv: "tvv" is not a declared channel (did you mean "tv"?)',
        ),
        (
            "[budget.channels.tv]\nmin = 5.0\nmax = 1.0\n",
            "budget.channels.tv: min (5) is larger than max (1)",
        ),
        ("[budget.channels.tv]\nlocked = true\nmin = 1.0\n", "a locked channel keeps"),
        ("[budget.channels.tv]\nlocked = 1\n", "budget.channels.tv.locked = 1"),
        ("online_share = [0.8, 0.2]\n", "online_share = (0.8, 0.2) must be a pair (low, high)"),
        (
            '[[calibration]]\nchannel = "social_media"\nstart = 2022-03-07\nend = 2022-04-03\n'
            "spend_change = 1.0\nincremental_revenue = 2.0\nse = 1.0\n",
            'calibration[1].channel: "social_media" is not a declared channel (did you mean "social"?)',
        ),
        (
            '[[calibration]]\nchannel = "tv"\nstart = 2022-03-07\nend = 2022-04-03\n'
            'spend_change = 1.0\nincremental_revenue = 2.0\nse = 1.0\noutcome = "store"\n',
            'calibration[1].outcome: "store" is not a declared outcome',
        ),
        (
            '[[calibration]]\nchannel = "tv"\nstart = 2022-05-07\nend = 2022-04-03\n'
            "spend_change = 1.0\nincremental_revenue = 2.0\nse = 1.0\n",
            "calibration[1]: start (2022-05-07) is after end (2022-04-03)",
        ),
        (
            '[[calibration]]\nchannel = "tv"\nstart = "March"\nend = 2022-04-03\n'
            "spend_change = 1.0\nincremental_revenue = 2.0\nse = 0.0\n",
            "calibration[1].start: 'March' is not a date; write it as YYYY-MM-DD",
        ),
        ('[festivals]\nextra = ["13-01"]\n', "festivals.extra[1]: '13-01' is not a month-day"),
    ],
)
def test_cross_reference_and_value_errors(tmp_path, extra, expected):
    if extra.startswith("online_share"):
        text = MEDIA_PLAN_TOML + extra  # still inside [budget]
    else:
        text = MEDIA_PLAN_TOML + "\n" + extra
    message = error_of(write(tmp_path, text))
    assert expected in message, message


def test_roi_prior_and_coef_prior_are_exclusive(tmp_path):
    text = MEDIA_PLAN_TOML.replace(
        'kind = "offline"\n',
        'kind = "offline"\nroi_prior = {mean = 2.0, sd = 1.0}\ncoef_prior_sd = 1.0\n',
    )
    message = error_of(write(tmp_path, text))
    assert 'channels[1] (channel "tv"): sets both roi_prior and coef_prior_sd' in message


def test_plan_from_dict_without_file_labels_plan():
    with pytest.raises(PlanError, match=r"^plan: channels: required key is missing"):
        plan_from_dict({"data": {"path": "x.csv", "outcomes": ["y"]}})
    plan = plan_from_dict(
        {
            "data": {"path": "x.csv", "outcomes": ["y"]},
            "channels": [{"name": "a", "column": "a", "kind": "online"}],
        },
        base_dir="/data",
    )
    assert isinstance(plan, Plan) and plan.data.path == Path("/data/x.csv").resolve()


LIFECYCLE_SECTION = """
[lifecycle]
transactions = "crm/orders.csv"
as_of = 2025-12-28
horizon_days = 60
contact_cost = 3.5

[lifecycle.columns]
customer_id = "member_no"
ts = "paid_at"
"""


def test_lifecycle_section_resolves_paths_and_maps_columns(tmp_path):
    (tmp_path / "crm").mkdir()
    (tmp_path / "crm" / "orders.csv").write_text("member_no,paid_at,amount\n", encoding="utf-8")
    plan = load_plan(write(tmp_path, DESIGN_PLAN + LIFECYCLE_SECTION))
    life = plan.lifecycle
    assert life is not None
    assert life.transactions == (tmp_path / "crm" / "orders.csv").resolve()
    assert life.as_of == dt.date(2025, 12, 28) and life.horizon_days == 60
    assert life.churn_horizon_days is None and life.campaigns is None
    assert (life.columns.customer_id, life.columns.ts, life.columns.amount) == (
        "member_no",
        "paid_at",
        "amount",
    )
    assert life.contact_cost == 3.5
    (tmp_path / "saved").mkdir()
    assert load_plan(dump_plan(plan, tmp_path / "saved" / "plan.toml")) == plan


def test_plan_without_lifecycle_section_has_none(tmp_path):
    assert load_plan(write(tmp_path, DESIGN_PLAN)).lifecycle is None


def test_missing_transactions_file_names_key_and_path(tmp_path):
    message = error_of(write(tmp_path, DESIGN_PLAN + LIFECYCLE_SECTION))
    assert "lifecycle.transactions" in message
    assert str((tmp_path / "crm" / "orders.csv").resolve()) in message


def test_misspelled_lifecycle_column_role_suggests(tmp_path):
    text = DESIGN_PLAN + LIFECYCLE_SECTION.replace('ts = "paid_at"', 'timestamp = "paid_at"')
    message = error_of(write(tmp_path, text))
    assert "lifecycle.columns.timestamp: unknown key" in message
    assert "valid keys here: customer_id, ts, amount" in message


def test_an_unquoted_chinese_key_gets_a_hint(tmp_path: Path) -> None:
    """[budget.geos.上海] is not valid TOML (bare keys are ASCII): the error says to quote it."""
    (tmp_path / "geo.csv").write_text("date\n")
    plan = tmp_path / "plan.toml"
    plan.write_text(
        '[data]\npath = "geo.csv"\ngeo = "city"\noutcomes = ["y"]\n\n[[channels]]\n'
        'name = "tv"\ncolumn = "tv"\nkind = "offline"\n\n[budget.geos.上海]\nmax_change = 0.2\n',
        encoding="utf-8",
    )
    with pytest.raises(PlanError, match=r'must be quoted, e.g. \[budget.geos."上海"\]'):
        load_plan(plan)
