"""The hand-written log density is PyMC's: same values (up to a constant), same gradient,
same expanded draws, on every structure it covers; everything else falls back."""

from __future__ import annotations

import dataclasses
import tempfile

import numpy as np
import pytest

pytest.importorskip("nutpie")

from nutpie.compile_pymc import _compute_shapes

from omnimmm.config import plan_from_dict
from omnimmm.data.schema import Panel
from omnimmm.data.simulate import simulate_world
from omnimmm.mmm import OmniMMM
from omnimmm.mmm.compile import compile_nutpie, log_density_of
from omnimmm.mmm.density import density_tables, expand, logp_and_grad
from omnimmm.mmm.density.tables import _shapes
from omnimmm.mmm.design import LiftTest


@pytest.fixture(scope="module")
def world() -> tuple[OmniMMM, Panel]:
    w = simulate_world(seed=4, weeks=104)
    with tempfile.TemporaryDirectory() as tmp:
        plan = plan_from_dict(w.plan, base_dir=tmp)
    return OmniMMM(plan), Panel.from_frame(w.panel, plan, source="world.csv")


def _channels(spec, **changes):  # type: ignore[no-untyped-def]
    """``spec``'s channels with changes by channel index, e.g. ``{"0": {"l_max": 9}}``."""
    return tuple(
        dataclasses.replace(c, **changes.get(str(i), {})) for i, c in enumerate(spec.channels)
    )


def _variants(spec, dates):  # type: ignore[no-untyped-def]
    week = [str(d.date()) for d in dates]
    lifts = (
        # TV takes part in the TV x search synergy; social's test measured one outcome.
        LiftTest("tv", week[60], week[67], 2e6, 3e6, 6e5),
        LiftTest("social", week[80], week[85], -5e5, -4e5, 2e5, outcome=spec.outcomes[0]),
    )
    # Every adstock (geometric, delayed, Weibull) and saturation kind, ROI and raw priors.
    mixed = _channels(
        spec,
        **{
            "0": {"saturation": "logistic"},
            "1": {"saturation": "michaelis_menten", "coef_prior_sd": 0.5},
            "2": {"adstock": "delayed", "l_max": 9},
            "5": {"coef_prior_sd": 0.3},
            "6": {"adstock": "weibull", "l_max": 10},
            "7": {"adstock": "weibull", "l_max": 8},
        },
    )
    # One outcome with nothing but its level.
    bare = {
        "outcomes": spec.outcomes[:1],
        "synergies": (),
        "trend": False,
        "fourier_order": 0,
        "controls": (),
    }
    # Three uncorrelated outcomes with lift tests and the moving baseline.
    three_lifts_walk = {
        "outcomes": (*spec.outcomes, "app_revenue"),
        "outcome_correlation": False,
        "calibration": lifts,
        "baseline": "local_level",
    }
    variants = {
        # Two outcomes, correlated residuals, TV x search synergy, controls, festivals.
        "default": spec,
        "uncorrelated": dataclasses.replace(spec, outcome_correlation=False),
        "mixed-shapes-and-coefficient-priors": dataclasses.replace(spec, channels=mixed),
        "one-outcome-bare-baseline": dataclasses.replace(spec, **bare),
        "lift-tests": dataclasses.replace(spec, calibration=lifts),
        # Three ROI shares per channel (a 3-category simplex); see _panel_for.
        "three-outcomes-uncorrelated": dataclasses.replace(
            spec, outcomes=(*spec.outcomes, "app_revenue"), outcome_correlation=False
        ),
        "lift-tests-mixed-shapes": dataclasses.replace(spec, channels=mixed, calibration=lifts),
        # Carryover per outcome: h[t, c, o]; with every adstock kind, lift tests (one on a
        # synergy channel) and the synergy; and with three outcomes.
        "carryover-per-outcome-lift-tests-mixed-shapes": dataclasses.replace(
            spec, channels=mixed, calibration=lifts, share_carryover=False
        ),
        "carryover-per-outcome-three-outcomes": dataclasses.replace(
            spec,
            outcomes=(*spec.outcomes, "app_revenue"),
            outcome_correlation=False,
            share_carryover=False,
        ),
        # Three outcomes with correlated residuals: LKJCholeskyCov and the chained normals.
        "three-outcomes-correlated": dataclasses.replace(
            spec, outcomes=(*spec.outcomes, "app_revenue")
        ),
        "three-outcomes-correlated-lift-tests-per-outcome-carryover": dataclasses.replace(
            spec,
            outcomes=(*spec.outcomes, "app_revenue"),
            calibration=lifts,
            share_carryover=False,
        ),
        # The moving baseline (random walk on knots, non-centred): two correlated outcomes
        # with everything else; one outcome with nothing else; with lift tests and three
        # uncorrelated outcomes.
        "local-level": dataclasses.replace(spec, baseline="local_level", baseline_knot_weeks=8),
        "local-level-one-outcome-bare": dataclasses.replace(spec, **bare, baseline="local_level"),
        "local-level-three-outcomes-lift-tests": dataclasses.replace(
            spec, **three_lifts_walk, baseline_knot_weeks=26
        ),
        # Controls split into week-to-week and slow parts: more control columns than
        # controls (the world's price index has both, its festivals are indicators).
        "split-controls": dataclasses.replace(spec, control_form="split"),
        # Level noise (sd = sigma * level(mu) ** p): with the two-outcome correlation,
        # one bare outcome, three correlated outcomes (chained normals) and three
        # uncorrelated ones with the moving baseline and lift tests.
        "level-noise": dataclasses.replace(spec, noise="level"),
        "level-noise-one-outcome-bare": dataclasses.replace(spec, **bare, noise="level"),
        "level-noise-three-outcomes-correlated": dataclasses.replace(
            spec, outcomes=(*spec.outcomes, "app_revenue"), noise="level"
        ),
        "level-noise-three-outcomes-local-level-lift-tests": dataclasses.replace(
            spec, **three_lifts_walk, noise="level"
        ),
        # Seasonal noise (the sd's yearly shape): two correlated outcomes; one outcome
        # without a trend (the Fourier columns come first); with level noise, three
        # correlated outcomes.
        "seasonal-noise": dataclasses.replace(spec, seasonal_noise=True),
        "seasonal-noise-one-outcome-no-trend": dataclasses.replace(
            spec, outcomes=spec.outcomes[:1], synergies=(), trend=False, seasonal_noise=True
        ),
        "level-seasonal-noise-three-outcomes-correlated": dataclasses.replace(
            spec, outcomes=(*spec.outcomes, "app_revenue"), noise="level", seasonal_noise=True
        ),
        # Student-t noise: the two-outcome correlation, uncorrelated outcomes, three
        # correlated ones (chained conditionals), and with level and seasonal noise.
        "student-t": dataclasses.replace(spec, likelihood="student_t"),
        "student-t-uncorrelated": dataclasses.replace(
            spec, outcome_correlation=False, likelihood="student_t"
        ),
        "student-t-three-outcomes-correlated": dataclasses.replace(
            spec, outcomes=(*spec.outcomes, "app_revenue"), likelihood="student_t"
        ),
        "student-t-level-seasonal-noise": dataclasses.replace(
            spec, noise="level", seasonal_noise=True, likelihood="student_t"
        ),
    }
    assert set(variants) == set(_VARIANTS)
    return variants


def _pymc_reference(model):  # type: ignore[no-untyped-def]
    # The Python linker: no C compile, and a reference without pytensor's rewrites.
    logp = model.compile_logp(jacobian=True, mode="FAST_COMPILE")
    dlogp = model.compile_dlogp(jacobian=True, mode="FAST_COMPILE")
    ip = model.initial_point()
    names = [model.rvs_to_values[rv].name for rv in model.free_RVs]

    def point(z: np.ndarray) -> dict[str, np.ndarray]:
        out, at = {}, 0
        for name in names:
            size = ip[name].size
            out[name] = z[at : at + size].reshape(ip[name].shape)
            at += size
        return out

    return logp, dlogp, point, sum(ip[n].size for n in names)


_VARIANTS = (
    "default",
    "uncorrelated",
    "mixed-shapes-and-coefficient-priors",
    "one-outcome-bare-baseline",
    "lift-tests",
    "lift-tests-mixed-shapes",
    "three-outcomes-uncorrelated",
    "carryover-per-outcome-lift-tests-mixed-shapes",
    "carryover-per-outcome-three-outcomes",
    "three-outcomes-correlated",
    "three-outcomes-correlated-lift-tests-per-outcome-carryover",
    "local-level",
    "local-level-one-outcome-bare",
    "local-level-three-outcomes-lift-tests",
    "split-controls",
    "level-noise",
    "level-noise-one-outcome-bare",
    "level-noise-three-outcomes-correlated",
    "level-noise-three-outcomes-local-level-lift-tests",
    "seasonal-noise",
    "seasonal-noise-one-outcome-no-trend",
    "level-seasonal-noise-three-outcomes-correlated",
    "student-t",
    "student-t-uncorrelated",
    "student-t-three-outcomes-correlated",
    "student-t-level-seasonal-noise",
)


def _panel_for(spec, panel: Panel) -> Panel:  # type: ignore[no-untyped-def]
    """``panel``, with a third outcome (app revenue) when ``spec`` asks for it."""
    if "app_revenue" not in spec.outcomes:
        return panel
    rng = np.random.default_rng(5)
    first = panel.outcomes.iloc[:, 0]
    outcomes = panel.outcomes.assign(app_revenue=0.3 * first * rng.uniform(0.9, 1.1, len(first)))
    return dataclasses.replace(panel, outcomes=outcomes)


@pytest.mark.parametrize("variant", _VARIANTS)
def test_log_density_and_gradient_are_pymcs(world, variant: str) -> None:
    m, panel = world
    spec = _variants(m.spec, panel.dates)[variant]
    model = OmniMMM(spec=spec).build(_panel_for(spec, panel))
    tables = density_tables(model, spec)
    assert not isinstance(tables, str), tables
    # The layout's shapes, read from dims without a compile, are nutpie's.
    ref = _compute_shapes(model)
    got = _shapes(model)
    assert {v.name for v in model.value_vars} <= set(got)
    assert got == {k: tuple(int(d) for d in ref[k]) for k in got}
    logp, dlogp, point, n = _pymc_reference(model)
    assert len(tables.kinds) == n
    assert len(tables.lift_c) == (2 if spec.calibration else 0)  # no test left out
    assert (tables.channels[:, -1] == (0 if spec.share_carryover else 1)).all()
    rng = np.random.default_rng(11)
    values, refs = [], []
    for _ in range(4):
        z = rng.normal(scale=0.8, size=n)
        lp, grad = logp_and_grad(tables, z)
        ref_grad = dlogp(point(z))
        np.testing.assert_allclose(grad, ref_grad, rtol=1e-9, atol=1e-9 * np.abs(ref_grad).max())
        values.append(lp)
        refs.append(float(logp(point(z))))
    # PyMC evaluates a few prior constants (the Beta's normaliser of integer parameters,
    # the log of float32 scales) in single precision: the densities differ by a constant
    # of about 1e-6, which no sampler sees. Differences between points must agree. (Level
    # noise at random points can put a mean near zero and the density near -1e9, where
    # the sums' rounding alone is about 1e-13 of it.)
    assert abs(values[0] - refs[0]) < 1e-5 + 1e-12 * abs(refs[0])
    np.testing.assert_allclose(np.diff(values), np.diff(refs), rtol=1e-10, atol=1e-8)


@pytest.mark.parametrize(
    "variant",
    [
        "mixed-shapes-and-coefficient-priors",
        "three-outcomes-correlated",
        "local-level",
        "level-noise",
    ],
)
def test_expanded_draw_is_the_constrained_values(world, variant: str) -> None:
    m, panel = world
    spec = _variants(m.spec, panel.dates)[variant]
    model = OmniMMM(spec=spec).build(_panel_for(spec, panel))
    tables = density_tables(model, spec)
    assert not isinstance(tables, str)
    _, _, point, n = _pymc_reference(model)
    z = np.random.default_rng(3).normal(size=n)
    names, slices, _ = tables.shape_info
    k = len(model.free_RVs)
    constrained = {v.name: v for v in model.unobserved_value_vars}
    values = model.compile_fn(
        [constrained[name] for name in names[k:]],
        inputs=model.value_vars,
        point_fn=False,
        on_unused_input="ignore",
    )(*point(z).values())
    out = expand(tables, z)
    np.testing.assert_array_equal(out[:n], z)
    assert len(out) == slices[-1].stop
    for name, sl, value in zip(names[k:], slices[k:], values, strict=True):
        np.testing.assert_allclose(out[sl], np.ravel(value), rtol=1e-12, err_msg=name)


def test_models_it_does_not_cover_fall_back_with_the_reason(world) -> None:
    from omnimmm.mmm.model import build_model

    m, panel = world
    spec = m.spec
    scaling, features = m._design(panel)
    spend = panel.spend[spec.channel_names].to_numpy(dtype=float)
    model = build_model(spec, scaling, panel.dates, spend, None, features)
    assert density_tables(model, spec) == "no observed outcomes (prior-only model)"
    model = OmniMMM(spec=spec).build(panel, keep_mean=True)
    assert density_tables(model, spec) == "recorded deterministics"
    # A spec other than the model's: a reason, not a wrong density.
    model = OmniMMM(spec=dataclasses.replace(spec, synergies=())).build(panel)
    assert density_tables(model, spec) == "the model has no free variable 'gamma' for its spec"


def test_a_fit_samples_the_hand_written_density(world) -> None:
    m, panel = world
    fitted = OmniMMM(spec=m.spec, chains=2, draws=150, tune=150, seed=2).fit(panel)
    assert fitted.timings_["log_density"] == "hand-written"
    assert fitted.diagnostics_.divergences == 0
    model = OmniMMM(spec=m.spec).build(panel)
    assert log_density_of(compile_nutpie(model, m.spec)) == "hand-written"


def test_the_two_passes_compile_for_the_types_the_callback_passes(world) -> None:
    """A first compile builds the backward pass in a child process for the argument types
    of :mod:`omnimmm.mmm.density.two_cores`; the callback finds it in the disk cache only
    if those are exactly the types it calls the passes with: the tables' arrays, then
    what the forward pass returns."""
    import numba

    from omnimmm.mmm.density import kernel, two_cores
    from omnimmm.mmm.density import tables as density_tables_module

    m, panel = world
    tables = density_tables(OmniMMM(spec=m.spec).build(panel), m.spec)
    assert not isinstance(tables, str)
    z = np.zeros(len(tables.kinds))
    args = tuple(numba.typeof(a) for a in (z, np.zeros_like(z), tables.arrays()))
    assert args == two_cores.FORWARD_ARGS
    kernel._forward_pass.compile(args)  # from the disk cache after a first fit
    lp, state = kernel._forward_pass.overloads[args].signature.return_type
    assert (args[1], args[2], lp, state) == two_cores.BACKWARD_ARGS
    # The kernel reads the tables by position: the positions name the fields.
    for name in density_tables_module._ARRAY_FIELDS:
        assert getattr(density_tables_module, f"_{name.upper()}") == (
            density_tables_module._ARRAY_FIELDS.index(name)
        )
