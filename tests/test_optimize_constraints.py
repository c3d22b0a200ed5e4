"""Each constraint kind binds when it should and says so; conflicts fail before solving."""

from __future__ import annotations

import re

import numpy as np
import pytest

from omnimmm.data.simulate import simulate_world
from omnimmm.errors import InfeasibleError, PlanError
from omnimmm.optimize import (
    ChannelBounds,
    ChannelGroup,
    Constraints,
    FixedBudget,
    RevenueTarget,
    TargetROI,
    optimize_budget,
    response_from_world,
)


@pytest.fixture(scope="module")
def resp():
    return response_from_world(simulate_world())


@pytest.fixture(scope="module")
def free(resp):
    """The unconstrained optimum at the current budget (what each constraint must move)."""
    return optimize_budget(resp, FixedBudget(resp.current_allocation.sum()))


def rec(result) -> dict[str, float]:
    return result.recommended


class CountingResponse:
    """A response that counts how often it is evaluated."""

    def __init__(self, inner) -> None:
        self.inner, self.calls = inner, 0

    def __getattr__(self, name: str):
        attr = getattr(self.inner, name)
        if callable(attr) and name.startswith(("horizon_value", "weekly")):

            def counted(*args, **kwargs):
                self.calls += 1
                return attr(*args, **kwargs)

            return counted
        return attr


def test_free_optimum_is_what_the_constraint_cases_assume(resp, free) -> None:
    x = rec(free)
    # Search grows beyond +50%, display, print and radio drop to zero, the offline channels
    # (TV and outdoor) hold 10-15M together, most money goes online.
    assert x["search"] > 1.5 * resp.current_allocation[0]
    assert x["display"] == x["print"] == x["radio"] == 0.0
    assert 10e6 < x["tv"] + x["outdoor"] < 15e6
    assert 0.5 < _online(x) < 0.95


CASES = {
    # name: (constraints, check(x, current), expected binding label pattern)
    "absolute max": (
        Constraints(bounds={"search": ChannelBounds(max=10e6)}),
        lambda x, c: x["search"] == pytest.approx(10e6),
        r"^search at maximum 10\.00M \(bound\)$",
    ),
    "absolute min": (
        Constraints(bounds={"print": ChannelBounds(min=1e6)}),
        lambda x, c: x["print"] == pytest.approx(1e6),
        r"^print at minimum 1\.00M \(bound\)$",
    ),
    "relative max": (
        Constraints(bounds={"search": ChannelBounds(max=1.2, relative=True)}),
        lambda x, c: x["search"] == pytest.approx(1.2 * c["search"]),
        r"^search at maximum .* \(relative bound\)$",
    ),
    "relative min": (
        Constraints(bounds={"display": ChannelBounds(min=0.5, relative=True)}),
        lambda x, c: x["display"] == pytest.approx(0.5 * c["display"]),
        r"^display at minimum .* \(relative bound\)$",
    ),
    "max_change": (
        Constraints(max_change=0.3),
        lambda x, c: (
            all(0.7 * c[k] - 1 <= x[k] <= 1.3 * c[k] + 1 for k in c)
            and x["search"] == pytest.approx(1.3 * c["search"])
        ),
        r"^search at maximum .* \(max_change 0\.3\)$",
    ),
    "online share ceiling": (
        Constraints(online_share=(None, 0.5)),
        lambda x, c: _online(x) == pytest.approx(0.5, abs=1e-7),
        r"^online share <= 0\.5$",
    ),
    "online share floor": (
        Constraints(online_share=(0.95, None)),
        lambda x, c: _online(x) == pytest.approx(0.95, abs=1e-7),
        r"^online share >= 0\.95$",
    ),
    "locked": (
        Constraints(locked=("outdoor", "radio")),
        lambda x, c: x["outdoor"] == c["outdoor"] and x["radio"] == c["radio"],
        r"^outdoor at minimum .* \(locked\)$",
    ),
    "group minimum": (
        Constraints(
            groups=(ChannelGroup("offline", ("tv", "outdoor", "print", "radio"), min=16e6),)
        ),
        lambda x, c: x["tv"] + x["outdoor"] + x["print"] + x["radio"] == pytest.approx(16e6),
        r"^group 'offline' at its minimum 16\.00M$",
    ),
    "relative group maximum": (
        Constraints(groups=(ChannelGroup("core", ("search", "tv"), max=1.1, relative=True),)),
        lambda x, c: x["search"] + x["tv"] == pytest.approx(1.1 * (c["search"] + c["tv"])),
        r"^group 'core' at its maximum .*$",
    ),
}


def _online(x: dict[str, float]) -> float:
    on = sum(x[c] for c in ("search", "social", "display", "online_video"))
    return on / sum(x.values())


@pytest.mark.parametrize("case", list(CASES))
def test_constraint_binds_and_is_reported(resp, free, case: str) -> None:
    cons, check, pattern = CASES[case]
    result = optimize_budget(resp, FixedBudget(resp.current_allocation.sum()), cons)
    x = rec(result)
    assert check(x, result.current), (case, x)
    assert any(re.match(pattern, b) for b in result.binding), result.binding
    # A binding constraint costs value relative to the free optimum.
    assert result.horizon_value["recommended"].mean < free.horizon_value["recommended"].mean * (
        1 - 1e-4
    )
    assert result.to_dict()["binding_constraints"] == list(result.binding)


def test_loose_constraints_are_not_reported(resp, free) -> None:
    cons = Constraints(
        bounds={"search": ChannelBounds(max=30e6), "tv": ChannelBounds(min=1e6)},
        online_share=(0.2, 0.95),
        groups=(ChannelGroup("offline", ("tv", "outdoor"), max=20e6),),
    )
    result = optimize_budget(resp, FixedBudget(resp.current_allocation.sum()), cons)
    assert not any(re.search(r"\(bound\)|online share|group", b) for b in result.binding)
    np.testing.assert_allclose(
        result.allocation["recommended"], free.allocation["recommended"], rtol=1e-4, atol=1.0
    )


INFEASIBLE = {
    "minimums above budget": (
        FixedBudget(15e6),
        Constraints(max_change=0.2),
        ["sum of channel minimums", "total budget 15.00M", "max_change 0.2"],
    ),
    "maximums below budget": (
        FixedBudget(60e6),
        Constraints(max_change=0.1),
        ["sum of channel maximums", "total budget 60.00M", "max_change 0.1"],
    ),
    "bound against max_change": (
        FixedBudget(30e6),
        Constraints(max_change=0.2, bounds={"print": ChannelBounds(min=1e6)}),
        ["print", "minimum 1.00M (bound)", "max_change 0.2"],
    ),
    "min above max": (
        FixedBudget(30e6),
        Constraints(bounds={"tv": ChannelBounds(min=2.0, max=1.5, relative=True)}),
        ["tv", "relative bound"],
    ),
    "lock against bound": (
        FixedBudget(30e6),
        Constraints(locked=("search",), bounds={"search": ChannelBounds(max=5e6)}),
        ["search is locked", "maximum 5.00M (bound)"],
    ),
    "online floor against max_change": (
        FixedBudget(36e6),
        Constraints(max_change=0.2, online_share=(0.9, None)),
        ["online share >= 0.9", "max_change 0.2", "offline channels need at least"],
    ),
    "online ceiling against locked online": (
        FixedBudget(32e6),
        Constraints(locked=("search", "social", "online_video"), online_share=(None, 0.3)),
        ["online share <= 0.3", "locked"],
    ),
    "group minimum above its channels": (
        FixedBudget(32e6),
        Constraints(
            max_change=0.5,
            groups=(ChannelGroup("print+radio", ("print", "radio"), min=5e6),),
        ),
        ["group 'print+radio'", "max_change 0.5"],
    ),
    "group against share": (
        FixedBudget(32e6),
        Constraints(
            online_share=(0.8, None),
            groups=(ChannelGroup("tv+outdoor", ("tv", "outdoor"), min=10e6),),
        ),
        ["total budget 32.00M", "online share >= 0.8", "group 'tv+outdoor'"],
    ),
}


@pytest.mark.parametrize("case", list(INFEASIBLE))
def test_infeasible_constraints_fail_before_solving(resp, case: str) -> None:
    scenario, cons, names = INFEASIBLE[case]
    counting = CountingResponse(resp)
    with pytest.raises(InfeasibleError) as err:
        optimize_budget(counting, scenario, cons)
    assert counting.calls == 0, "the response was evaluated before the conflict was found"
    msg = str(err.value)
    for name in names:
        assert name in msg, (name, msg)
    assert "\nTry:\n  1. " in msg
    assert err.value.exit_code == 4


def test_unreachable_revenue_target_and_roi_target_say_what_is_reachable(resp) -> None:
    with pytest.raises(InfeasibleError, match=r"cannot be reached: the most .* allow is"):
        optimize_budget(resp, RevenueTarget(1e9), Constraints(max_change=0.5))
    with pytest.raises(
        InfeasibleError,
        match=r"(?s)reaches a total ROI of 50\b.*best found returns.*1\. lower the ROI target",
    ):
        optimize_budget(resp, TargetROI(50.0, kind="total"))


def test_unknown_channel_in_constraints_is_a_plan_error(resp) -> None:
    with pytest.raises(PlanError, match=r"unknown channel\(s\) \['tiktok'\]"):
        optimize_budget(resp, FixedBudget(1e7), Constraints(locked=("tiktok",)))
    with pytest.raises(PlanError, match="online_share"):
        Constraints(online_share=(0.8, 0.2))
    with pytest.raises(PlanError, match=r"bounds\['tv'\] must be a ChannelBounds"):
        Constraints(bounds={"tv": 5e6})
    assert Constraints(locked="tv").locked == ("tv",)


def test_conflict_names_only_the_constraints_that_conflict(resp) -> None:
    cons = Constraints(
        online_share=(0.8, None),
        groups=(
            ChannelGroup("tv+outdoor", ("tv", "outdoor"), min=10e6),
            ChannelGroup("print+radio", ("print", "radio"), max=5e6),  # harmless here
        ),
    )
    with pytest.raises(InfeasibleError) as err:
        optimize_budget(CountingResponse(resp), FixedBudget(32e6), cons)
    msg = str(err.value)
    for name in ("total budget 32.00M", "online share >= 0.8", "group 'tv+outdoor'"):
        assert name in msg
    assert "print+radio" not in msg
