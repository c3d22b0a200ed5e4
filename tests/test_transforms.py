"""Adstock and saturation: naive-loop oracles on both backends, properties, gradients."""

from __future__ import annotations

import inspect
import math
import time

import numpy as np
import pytensor
import pytensor.tensor as pt
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from pytensor.graph.basic import Variable

from omnimmm import transforms as tr

RNG = np.random.default_rng(20240618)

# The graphs get the production rewrites but run on python implementations: C compilation
# of every fused graph would dominate the run time on a cold cache. The gradient check also
# runs in the default (compiled) mode under the slow marker.
PY_MODE = pytensor.compile.mode.Mode(linker="py", optimizer="fast_run")


def compile_fn(inputs, outputs):
    return pytensor.function(inputs, outputs, mode=PY_MODE)


# --------------------------------------------------------------------------- oracles


def naive_adstock(x: np.ndarray, w: np.ndarray) -> np.ndarray:
    """y[t, c] = sum_l w[c, l] x[t - l, c] by explicit loops over time, channel and lag."""
    x2 = x.reshape(len(x), -1)
    w2 = np.broadcast_to(w.reshape(-1, w.shape[-1]), (x2.shape[1], w.shape[-1]))
    y = np.zeros_like(x2, dtype=float)
    for c in range(x2.shape[1]):
        for t in range(x2.shape[0]):
            for lag in range(w2.shape[1]):
                if t - lag >= 0:
                    y[t, c] += w2[c, lag] * x2[t - lag, c]
    return y.reshape(x.shape)


def naive_weights(family: str, params: dict[str, float], l_max: int, kind: str) -> np.ndarray:
    """Lag weights of one channel from the textbook formulas, one lag at a time."""
    w = []
    for lag in range(l_max):
        if family == "geometric":
            w.append(params["alpha"] ** lag)
        elif family == "delayed":
            w.append(params["alpha"] ** ((lag - params["theta"]) ** 2))
        else:

            def surv(u: float) -> float:
                return math.exp(-((u / params["lam"]) ** params["k"]))

            w.append(surv(lag) - surv(lag + 1) if kind == "pdf" else surv(lag))
    w_arr = np.array(w)
    return w_arr / w_arr.sum()


FAMILY_PARAMS = {
    "geometric": {"alpha": [0.2, 0.5, 0.85]},
    "delayed": {"alpha": [0.3, 0.6, 0.8], "theta": [0.0, 2.0, 4.5]},
    "weibull": {"lam": [1.5, 3.0, 6.0], "k": [0.7, 1.0, 2.5]},
}
CASES = [
    ("geometric", "pdf"),
    ("delayed", "pdf"),
    ("weibull", "pdf"),
    ("weibull", "cdf"),
]


def _apply(family: str, x, params: dict, l_max: int, kind: str):
    if family == "weibull":
        return tr.weibull_adstock(x, params["lam"], params["k"], l_max=l_max, kind=kind)
    return tr.ADSTOCKS[family].fn(x, *(params[p] for p in tr.ADSTOCKS[family].params), l_max)


def _oracle(family: str, x: np.ndarray, params: dict, l_max: int, kind: str) -> np.ndarray:
    n_c = 1 if x.ndim == 1 else x.shape[1]
    per_channel = [
        naive_weights(
            family, {p: float(np.ravel(v)[c % np.size(v)]) for p, v in params.items()}, l_max, kind
        )
        for c in range(n_c)
    ]
    w = per_channel[0] if x.ndim == 1 else np.stack(per_channel)
    return naive_adstock(x, w)


# --------------------------------------------------------------------------- weights


@pytest.mark.parametrize(("family", "kind"), CASES)
def test_weights_match_formulas_and_sum_to_one(family, kind):
    params = {p: np.array(v) for p, v in FAMILY_PARAMS[family].items()}
    weights_fn = tr.ADSTOCKS[family].weights
    args = [params[p] for p in tr.ADSTOCKS[family].params]
    w = weights_fn(*args, 9, kind) if family == "weibull" else weights_fn(*args, 9)
    assert w.shape == (3, 9)
    for c in range(3):
        expected = naive_weights(family, {p: v[c] for p, v in params.items()}, 9, kind)
        np.testing.assert_allclose(w[c], expected, rtol=1e-12)
    np.testing.assert_allclose(w.sum(axis=-1), 1.0, rtol=1e-12)


def test_unnormalized_weights_keep_their_scale():
    np.testing.assert_allclose(tr.geometric_weights(0.5, 4, normalize=False), [1, 0.5, 0.25, 0.125])
    np.testing.assert_allclose(tr.weibull_weights(2.0, 1.0, 3, "cdf", normalize=False)[0], 1.0)
    # pdf weights are probabilities of the delay: they sum to F(l_max) < 1 before normalizing
    w = tr.weibull_weights(2.0, 1.5, 5, "pdf", normalize=False)
    np.testing.assert_allclose(w.sum(), 1 - math.exp(-((5 / 2.0) ** 1.5)), rtol=1e-12)


@pytest.mark.parametrize("theta", [0, 1, 3, 6])
def test_delayed_weights_peak_at_theta(theta):
    assert int(np.argmax(tr.delayed_weights(0.5, theta, 10))) == theta


def test_impulse_response_is_the_weights_and_is_causal():
    """A unit impulse at week 3 returns the weights from week 3 on and nothing before it."""
    x = np.zeros(12)
    x[3] = 1.0
    w = tr.geometric_weights(0.6, 5)
    y = tr.adstock(x, w)
    np.testing.assert_array_equal(y[:3], 0.0)
    np.testing.assert_allclose(y[3:8], w)
    np.testing.assert_array_equal(y[8:], 0.0)


# --------------------------------------------------------------------------- adstock vs loops


@pytest.mark.parametrize("ndim", [1, 2])
@pytest.mark.parametrize(("family", "kind"), CASES)
def test_adstock_numpy_matches_naive_loop(family, kind, ndim):
    x = RNG.gamma(2.0, 10.0, size=(40,) if ndim == 1 else (40, 3))
    params = {p: (np.array(v) if ndim == 2 else v[1]) for p, v in FAMILY_PARAMS[family].items()}
    y = _apply(family, x, params, 7, kind)
    assert isinstance(y, np.ndarray)
    assert y.shape == x.shape
    np.testing.assert_allclose(y, _oracle(family, x, params, 7, kind), rtol=1e-12)


@pytest.mark.parametrize("ndim", [1, 2])
@pytest.mark.parametrize(("family", "kind"), CASES)
def test_adstock_pytensor_matches_naive_loop(family, kind, ndim):
    x = RNG.gamma(2.0, 10.0, size=(30,) if ndim == 1 else (30, 3))
    values = {p: (np.array(v) if ndim == 2 else v[1]) for p, v in FAMILY_PARAMS[family].items()}
    x_sym = pt.vector("x") if ndim == 1 else pt.matrix("x")
    syms = {p: (pt.vector(p) if ndim == 2 else pt.scalar(p)) for p in values}
    y_sym = _apply(family, x_sym, syms, 6, kind)
    assert isinstance(y_sym, Variable)
    f = compile_fn([x_sym, *syms.values()], y_sym)
    y = f(x, *(values[p] for p in syms))
    np.testing.assert_allclose(y, _oracle(family, x, values, 6, kind), rtol=1e-10)


def test_series_shorter_than_lags_and_mixed_backends():
    x = np.array([1.0, 2.0])
    w = tr.geometric_weights(0.5, 6)
    np.testing.assert_allclose(tr.adstock(x, w), naive_adstock(x, w))
    # numpy spend with a symbolic parameter gives a symbolic result with the same values
    alpha = pt.scalar("alpha")
    y = tr.geometric_adstock(x, alpha, 6)
    assert isinstance(y, Variable)
    np.testing.assert_allclose(compile_fn([alpha], y)(0.5), naive_adstock(x, w))


def test_one_dimensional_spend_with_per_channel_weights_broadcasts():
    x = RNG.gamma(2.0, size=20)
    w = tr.geometric_weights(np.array([0.1, 0.9]), 4)
    y = tr.adstock(x, w)
    assert y.shape == (20, 2)
    np.testing.assert_allclose(y[:, 1], naive_adstock(x, w[1]))


def test_numpy_path_is_fast():
    x = RNG.gamma(2.0, size=(1000, 12))
    alpha = RNG.uniform(0.1, 0.9, size=12)
    tr.geometric_adstock(x, alpha, 13)
    best = min(_timed(lambda: tr.geometric_adstock(x, alpha, 13)) for _ in range(30))
    assert best < 2e-3, f"geometric_adstock on (1000, 12), L=13 took {best * 1e3:.2f} ms"


def _timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def test_bad_arguments_are_rejected():
    with pytest.raises(ValueError, match="l_max"):
        tr.geometric_weights(0.5, 0)
    with pytest.raises(ValueError, match="kind"):
        tr.weibull_weights(2.0, 1.0, 5, kind="pmf")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="ndim"):
        tr.adstock(np.float64(1.0), np.ones(3))
    with pytest.raises(ValueError, match="number of lags"):
        tr.adstock(pt.vector("x"), pt.vector("w"))


# --------------------------------------------------------------------------- saturation


SATURATION_CASES = [
    ("hill", {"half_saturation": 40.0, "slope": 2.5}, lambda x, p: x**2.5 / (x**2.5 + 40.0**2.5)),
    ("logistic", {"lam": 0.03}, lambda x, p: (1 - np.exp(-0.03 * x)) / (1 + np.exp(-0.03 * x))),
    ("michaelis_menten", {"vmax": 7.0, "k": 25.0}, lambda x, p: 7.0 * x / (25.0 + x)),
]


@pytest.mark.parametrize(("name", "params", "closed_form"), SATURATION_CASES)
def test_saturation_matches_closed_form_on_both_backends(name, params, closed_form):
    kind = tr.SATURATIONS[name]
    x = np.concatenate([[0.0], RNG.gamma(2.0, 30.0, size=50)])
    expected = closed_form(x, params)
    y_np = kind.fn(x, **params)
    assert isinstance(y_np, np.ndarray)
    np.testing.assert_allclose(y_np, expected, rtol=1e-12, atol=1e-15)
    x_sym = pt.vector("x")
    syms = {p: pt.scalar(p) for p in params}
    f = compile_fn([x_sym, *syms.values()], kind.fn(x_sym, **syms))
    np.testing.assert_allclose(f(x, *params.values()), expected, rtol=1e-12, atol=1e-15)


def test_saturation_per_channel_parameters_apply_column_wise():
    x = RNG.gamma(2.0, 30.0, size=(10, 3))
    k = np.array([10.0, 50.0, 200.0])
    s = np.array([0.8, 1.0, 3.0])
    y = tr.hill(x, k, s)
    for c in range(3):
        np.testing.assert_allclose(y[:, c], x[:, c] ** s[c] / (x[:, c] ** s[c] + k[c] ** s[c]))
    x_sym, k_sym = pt.matrix("x"), pt.vector("k")
    f = compile_fn([x_sym, k_sym], tr.michaelis_menten(x_sym, 5.0, k_sym))
    np.testing.assert_allclose(f(x, k), 5.0 * x / (k + x))


def test_hill_survives_large_currency_amounts():
    y = tr.hill(np.array([1e12, 1e15]), 1e9, 8.0)
    assert np.all(np.isfinite(y))
    np.testing.assert_allclose(y, 1.0)


# --------------------------------------------------------------------------- properties

spend = arrays(np.float64, st.integers(1, 30), elements=st.floats(0, 1e4, allow_subnormal=False))
alphas = st.floats(0.0, 0.95)
l_maxes = st.integers(1, 10)


@settings(max_examples=60, deadline=None)
@given(
    x=spend,
    alpha=alphas,
    theta=st.floats(0, 6),
    lam=st.floats(0.5, 8),
    k=st.floats(0.3, 4),
    l_max=l_maxes,
    kind=st.sampled_from(["pdf", "cdf"]),
)
def test_normalized_adstock_conserves_total_spend(x, alpha, theta, lam, k, l_max, kind):
    padded = np.concatenate([x, np.zeros(l_max - 1)])
    for y in (
        tr.geometric_adstock(padded, alpha, l_max),
        tr.delayed_adstock(padded, max(alpha, 0.05), theta, l_max),
        tr.weibull_adstock(padded, lam, k, l_max, kind),
    ):
        np.testing.assert_allclose(y.sum(), x.sum(), rtol=1e-9, atol=1e-9)


@settings(max_examples=60, deadline=None)
@given(
    x=arrays(
        np.float64,
        st.tuples(st.integers(1, 25), st.just(2)),
        elements=st.floats(-1e3, 1e3, allow_subnormal=False),
    ),
    y=arrays(
        np.float64,
        st.tuples(st.integers(1, 25), st.just(2)),
        elements=st.floats(-1e3, 1e3, allow_subnormal=False),
    ),
    a=st.floats(-10, 10),
    b=st.floats(-10, 10),
    alpha=alphas,
    l_max=l_maxes,
)
def test_adstock_is_linear(x, y, a, b, alpha, l_max):
    n = min(len(x), len(y))
    x, y = x[:n], y[:n]
    w = tr.geometric_weights(np.array([alpha, 0.5]), l_max)
    lhs = tr.adstock(a * x + b * y, w)
    rhs = a * tr.adstock(x, w) + b * tr.adstock(y, w)
    np.testing.assert_allclose(lhs, rhs, rtol=1e-9, atol=1e-6)


@settings(max_examples=60, deadline=None)
@given(
    x=arrays(np.float64, st.integers(2, 40), elements=st.floats(0, 1e6, allow_subnormal=False)),
    half=st.floats(1e-2, 1e5),
    slope=st.floats(0.2, 5),
    lam=st.floats(1e-6, 10),
    vmax=st.floats(0.01, 1e4),
    k=st.floats(1e-2, 1e5),
)
def test_saturation_monotone_bounded_and_zero_at_zero(x, half, slope, lam, vmax, k):
    xs = np.sort(x)
    for y, bound in (
        (tr.hill(xs, half, slope), 1.0),
        (tr.logistic_saturation(xs, lam), 1.0),
        (tr.michaelis_menten(xs, vmax, k), vmax),
    ):
        assert np.all(np.diff(y) >= -1e-12 * bound)
        assert np.all((y >= 0) & (y <= bound * (1 + 1e-12)))
    zero = np.zeros(1)
    assert tr.hill(zero, half, slope)[0] == 0.0
    assert tr.logistic_saturation(zero, lam)[0] == 0.0
    assert tr.michaelis_menten(zero, vmax, k)[0] == 0.0


@pytest.mark.parametrize(("family", "kind"), CASES)
def test_zero_spend_gives_zero_adstock(family, kind):
    x = np.zeros((15, 3))
    params = {p: np.array(v) for p, v in FAMILY_PARAMS[family].items()}
    np.testing.assert_array_equal(_apply(family, x, params, 8, kind), 0.0)


# --------------------------------------------------------------------------- gradients


def _response_np(x: np.ndarray, alpha: np.ndarray) -> float:
    return float(tr.hill(tr.geometric_adstock(x, alpha, 6), 3.0, 1.7).sum())


@pytest.mark.parametrize(
    "mode",
    [
        pytest.param(PY_MODE, id="py"),
        # the default C-compiled mode the optimizer uses; ~50 s on a cold compile cache
        pytest.param(None, id="c", marks=pytest.mark.slow),
    ],
)
def test_pytensor_gradient_matches_finite_differences(mode):
    x = RNG.gamma(2.0, 1.5, size=(20, 2))
    x[:4, 0] = 0.0  # a channel that starts late: gradients must stay finite at zero spend
    alpha = np.array([0.35, 0.7])
    x_sym, a_sym = pt.matrix("x"), pt.vector("alpha")
    response = tr.hill(tr.geometric_adstock(x_sym, a_sym, 6), 3.0, 1.7).sum()
    grad_fn = pytensor.function([x_sym, a_sym], pytensor.grad(response, [x_sym, a_sym]), mode=mode)
    g_x, g_alpha = grad_fn(x, alpha)
    assert np.all(np.isfinite(g_x)) and np.all(np.isfinite(g_alpha))

    eps = 1e-6
    fd_alpha = np.array(
        [
            (_response_np(x, alpha + eps * e) - _response_np(x, alpha - eps * e)) / (2 * eps)
            for e in np.eye(2)
        ]
    )
    np.testing.assert_allclose(g_alpha, fd_alpha, rtol=1e-6, atol=1e-8)
    fd_x = np.zeros_like(x)
    for idx in np.ndindex(x.shape):
        if x[idx] == 0.0:
            continue  # one-sided point of the domain; checked for finiteness above
        bump = np.zeros_like(x)
        bump[idx] = eps
        fd_x[idx] = (_response_np(x + bump, alpha) - _response_np(x - bump, alpha)) / (2 * eps)
    mask = x != 0.0
    np.testing.assert_allclose(g_x[mask], fd_x[mask], rtol=1e-6, atol=1e-8)
    # negative control: the gradient of a different curve does not pass the same check
    other = compile_fn(
        [x_sym, a_sym],
        pytensor.grad(tr.hill(tr.geometric_adstock(x_sym, a_sym, 6), 3.0, 1.2).sum(), a_sym),
    )(x, alpha)
    assert not np.allclose(other, fd_alpha, rtol=1e-3)


def test_gradients_of_other_families_are_finite_at_zero_spend():
    x_sym = pt.matrix("x")
    lam, k, theta = pt.vector("lam"), pt.vector("k"), pt.vector("theta")
    y = (
        tr.weibull_adstock(x_sym, lam, k, 5, "pdf")
        + tr.weibull_adstock(x_sym, lam, k, 5, "cdf")
        + tr.delayed_adstock(x_sym, 0.5, theta, 5)
    )
    out = (tr.hill(y, 2.0, k) + tr.logistic_saturation(y, lam) + tr.michaelis_menten(y, 1, k)).sum()
    grads = compile_fn([x_sym, lam, k, theta], pytensor.grad(out, [lam, k, theta]))(
        np.zeros((6, 2)) + np.array([0.0, 1.0]), [2.0, 3.0], [0.6, 1.5], [1.0, 2.0]
    )
    assert all(np.all(np.isfinite(g)) for g in grads)


# --------------------------------------------------------------------------- registries


def test_registries_name_functions_and_their_parameters():
    assert set(tr.ADSTOCKS) == {"geometric", "delayed", "weibull"}
    assert set(tr.SATURATIONS) == {"hill", "logistic", "michaelis_menten"}
    for registry in (tr.ADSTOCKS, tr.SATURATIONS):
        for key, part in registry.items():
            assert part.name == key
            names = list(inspect.signature(part.fn).parameters)
            assert tuple(names[1 : 1 + len(part.params)]) == part.params
    for part in tr.ADSTOCKS.values():
        names = list(inspect.signature(part.weights).parameters)
        assert tuple(names[: len(part.params)]) == part.params
    with pytest.raises(AttributeError):
        tr.ADSTOCKS["geometric"].name = "other"  # type: ignore[misc]


def test_module_does_not_import_pymc():
    source = inspect.getsource(tr)
    assert "import pymc" not in source and "from pymc" not in source
