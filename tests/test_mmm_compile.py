"""The nutpie compile with cached callbacks samples exactly what nutpie's own compile does."""

from __future__ import annotations

import numpy as np
import pymc as pm
import pytensor
import pytensor.tensor as pt
import pytest

nutpie = pytest.importorskip("nutpie")

from omnimmm.mmm.compile import _unwrapped, compile_nutpie  # noqa: E402


def _regression(data: bool = False, n: int = 60, seed: int = 7) -> pm.Model:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 2))
    y = 1.0 + x @ np.array([0.5, -1.5]) + rng.normal(0.0, 0.3, size=n)
    with pm.Model(coords={"k": ["a", "b"]}) as model:
        xd, yd = x, y
        if data:
            # As omnimmm's model does: one shared row count declared on every array, so
            # that the compiled graph is the same in every process (see _data in
            # omnimmm.mmm.model).
            rows = pytensor.shared(np.int64(n), name="rows")
            xd = pt.specify_shape(pm.Data("x", x, shape=(None, 2)), (rows, 2))
            yd = pt.specify_shape(pm.Data("y_obs", y, shape=(None,)), (rows,))
        a = pm.Normal("a", 0.0, 2.0)
        b = pm.Normal("b", 0.0, 2.0, dims="k")
        s = pm.HalfNormal("s", 1.0)
        pm.Normal("y", a + pm.math.dot(xd, b), s, observed=yd)
    return model


def _sample(compiled: object) -> dict[str, np.ndarray]:
    idata = nutpie.sample(
        compiled, draws=60, tune=60, chains=2, seed=3, progress_bar=False, save_warmup=False
    )
    return {v: idata.posterior[v].to_numpy() for v in ("a", "b", "s")}


@pytest.mark.parametrize("data", [False, True], ids=["constants", "shared-data"])
def test_cached_compile_samples_the_same_draws_as_nutpie(data: bool) -> None:
    model = _regression(data)
    ours = _sample(compile_nutpie(model))
    theirs = _sample(nutpie.compile_pymc_model(model))
    for name in ours:
        np.testing.assert_array_equal(ours[name], theirs[name], err_msg=name)
    assert abs(float(ours["b"][..., 1].mean()) + 1.5) < 0.2  # it did fit


def test_callback_calls_the_graphs_function_not_pytensors_caching_wrapper() -> None:
    # One level less of numba linking on a first compile; if pytensor changes its
    # wrapper, _unwrapped falls back to the wrapper and this says so.
    x = pt.vector("x")
    fn = pytensor.function([x], pt.exp(x).sum(), mode="NUMBA")
    wrapper = fn.vm.jit_fn
    inner = _unwrapped(wrapper)
    assert inner is not wrapper
    assert "return jitable_func(*args)" in wrapper.py_func.__source__
    assert "def numba_funcified_fgraph(x)" in inner.py_func.__source__
    # (inner has no CPython wrapper: it is called from compiled code only.)


def test_second_compile_of_the_same_model_loads_the_callbacks_from_disk() -> None:
    model = _regression()
    compile_nutpie(model)
    again = compile_nutpie(model)
    assert again.compiled_logp_func._cache_hits == 1
    assert again.compiled_expand_func._cache_hits == 1
    assert again.compiled_logp_func._pyfunc.__name__ == "omnimmm_logp_callback"


def test_shared_data_model_on_other_data_reuses_the_compiled_callbacks() -> None:
    """Other numbers and another number of rows: the same graph, loaded from the cache,
    and it samples what nutpie's own compile samples on that data."""
    compile_nutpie(_regression(data=True))
    other = _regression(data=True, n=45, seed=11)
    compiled = compile_nutpie(other)
    assert compiled.compiled_logp_func._cache_hits == 1
    assert compiled.compiled_expand_func._cache_hits == 1
    assert set(compiled.shared_data) == {"x", "y_obs", "rows"}
    assert compiled.shared_data["x"].shape == (45, 2)
    ours = _sample(compiled)
    theirs = _sample(nutpie.compile_pymc_model(other))
    for name in ours:
        np.testing.assert_array_equal(ours[name], theirs[name], err_msg=name)


def test_with_data_swaps_the_data_without_recompiling() -> None:
    compiled = compile_nutpie(_regression(data=True))
    rng = np.random.default_rng(5)
    x = rng.normal(size=(80, 2))
    y = -2.0 + x @ np.array([1.0, 2.0]) + rng.normal(0.0, 0.1, size=80)
    swapped = compiled.with_data(x=x, y_obs=y, rows=80)
    assert swapped.compiled_logp_func is compiled.compiled_logp_func
    draws = _sample(swapped)
    np.testing.assert_allclose(draws["b"].mean(axis=(0, 1)), [1.0, 2.0], atol=0.1)
    assert abs(float(draws["a"].mean()) + 2.0) < 0.1
    with pytest.raises(ValueError, match="x must have rank 2"):
        compiled.with_data(x=np.ones(3))
    with pytest.raises(KeyError, match="unknown shared variable: z"):
        compiled.with_data(z=np.ones(3))


def test_roi_priors_and_weeks_do_not_change_the_compiled_graph(tmp_path) -> None:
    # A prior-sensitivity refit (ROI priors, raw coefficient priors) and a refit on fewer
    # weeks reuse the compiled model; a change of the plan's structure does not.
    from omnimmm.config import plan_from_dict
    from omnimmm.data.schema import Panel
    from omnimmm.data.simulate import simulate_world
    from omnimmm.mmm import OmniMMM
    from omnimmm.mmm.compile import graph_keys

    world = simulate_world(seed=0, channels=("search", "tv"), weeks=104)

    def keys(
        weeks: int = 104,
        roi_mean: float | None = None,
        coef_sd: float | None = None,
        synergy: bool = False,
    ):
        raw = dict(world.plan)
        raw["channels"] = [dict(c) for c in raw["channels"]]
        if roi_mean is not None:
            raw["channels"][0]["roi_prior"] = {"mean": roi_mean, "sd": 0.5}
        if coef_sd is not None:
            raw["channels"][1]["coef_prior_sd"] = coef_sd
        if not synergy:
            raw["model"] = {**raw.get("model", {}), "synergies": []}
        plan = plan_from_dict(raw, base_dir=tmp_path)
        panel = Panel.from_frame(world.panel.iloc[:weeks], plan, source="world.csv")
        return graph_keys(OmniMMM(plan).build(panel))

    base = keys()
    assert None not in base
    assert keys(roi_mean=3.0) == base
    assert keys(weeks=80, roi_mean=0.7) == base
    assert keys(coef_sd=0.3) == keys(coef_sd=0.6, roi_mean=2.0) != base
    assert keys(synergy=True)[0] != base[0]
