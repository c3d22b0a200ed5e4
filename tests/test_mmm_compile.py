"""The nutpie compile with cached callbacks samples exactly what nutpie's own compile does."""

from __future__ import annotations

import numpy as np
import pymc as pm
import pytest

nutpie = pytest.importorskip("nutpie")

from omnimmm.mmm.compile import compile_nutpie  # noqa: E402


def _regression(data: bool = False) -> pm.Model:
    rng = np.random.default_rng(7)
    x = rng.normal(size=(60, 2))
    y = 1.0 + x @ np.array([0.5, -1.5]) + rng.normal(0.0, 0.3, size=60)
    with pm.Model(coords={"k": ["a", "b"]}) as model:
        xd = pm.Data("x", x) if data else x
        a = pm.Normal("a", 0.0, 2.0)
        b = pm.Normal("b", 0.0, 2.0, dims="k")
        s = pm.HalfNormal("s", 1.0)
        pm.Normal("y", a + pm.math.dot(xd, b), s, observed=y)
    return model


def _sample(compiled: object) -> dict[str, np.ndarray]:
    idata = nutpie.sample(
        compiled, draws=60, tune=60, chains=2, seed=3, progress_bar=False, save_warmup=False
    )
    return {v: idata.posterior[v].to_numpy() for v in ("a", "b", "s")}


def test_cached_compile_samples_the_same_draws_as_nutpie() -> None:
    model = _regression()
    ours = _sample(compile_nutpie(model))
    theirs = _sample(nutpie.compile_pymc_model(model))
    for name in ours:
        np.testing.assert_array_equal(ours[name], theirs[name], err_msg=name)
    assert abs(float(ours["b"][..., 1].mean()) + 1.5) < 0.2  # it did fit


def test_second_compile_of_the_same_model_loads_the_callbacks_from_disk() -> None:
    model = _regression()
    compile_nutpie(model)
    again = compile_nutpie(model)
    assert again.compiled_logp_func._cache_hits == 1
    assert again.compiled_expand_func._cache_hits == 1
    assert again.compiled_logp_func._pyfunc.__name__ == "omnimmm_logp_callback"


def test_model_with_shared_data_uses_nutpies_own_compile() -> None:
    compiled = compile_nutpie(_regression(data=True))
    assert compiled.compiled_logp_func._pyfunc.__name__ != "omnimmm_logp_callback"
    assert set(compiled.shared_data) == {"x"}
