"""The gate's convergence statistics, computed for all scalars at once, are ArviZ's."""

from __future__ import annotations

import arviz as az
import numpy as np
import pytest
import xarray as xr

from omnimmm.mmm.diagnostics import convergence, rhat_ess


def _posterior(seed: int, draws: int) -> xr.Dataset:
    rng = np.random.default_rng(seed)
    chains = 4

    def ar1(shape: tuple[int, ...], phi: float) -> np.ndarray:
        x = np.zeros((chains, draws, *shape))
        eps = rng.normal(size=x.shape)
        for t in range(1, draws):
            x[:, t] = phi * x[:, t - 1] + eps[:, t]
        return x

    stuck = ar1((3,), 0.5)
    stuck[1] += 2.0  # one chain elsewhere: R-hat well above 1
    ties = np.round(rng.normal(size=(chains, draws, 2)), 1)  # many tied values
    return xr.Dataset(
        {
            "a": (("chain", "draw"), ar1((), 0.9)),
            "b": (("chain", "draw", "channel"), ar1((5,), 0.2)),
            "c": (("chain", "draw", "channel_x", "outcome"), ar1((2, 3), -0.3)),
            "stuck": (("chain", "draw", "s"), stuck),
            "ties": (("chain", "draw", "t"), ties),
        },
        coords={"channel": list("vwxyz"), "outcome": ["on", "off", "all"]},
    )


def _reference(post: xr.Dataset) -> tuple[np.ndarray, ...]:
    with np.errstate(divide="ignore", invalid="ignore"):
        stats = (az.rhat(post), az.ess(post, method="bulk"), az.ess(post, method="tail"))
    return tuple(
        np.concatenate([np.asarray(s[v].values, dtype=float).ravel() for v in post.data_vars])
        for s in stats
    )


def _flat(post: xr.Dataset) -> np.ndarray:
    blocks = [
        np.asarray(da.values, dtype=float).reshape(da.sizes["chain"], da.sizes["draw"], -1)
        for da in post.data_vars.values()
    ]
    return np.moveaxis(np.concatenate(blocks, axis=2), 2, 0)


@pytest.mark.parametrize(("seed", "draws"), [(0, 400), (1, 251)])
def test_rhat_ess_equal_arviz(seed: int, draws: int) -> None:
    post = _posterior(seed, draws)
    ref = _reference(post)
    got = rhat_ess(_flat(post))
    for g, r in zip(got, ref, strict=True):
        np.testing.assert_array_equal(np.isnan(g), np.isnan(r))
        ok = np.isfinite(r)
        np.testing.assert_allclose(g[ok], r[ok], rtol=1e-12, atol=0)
    assert np.nanmax(got[0]) > 1.1  # the stuck chain is caught


def test_rhat_ess_constant_and_nan_scalars() -> None:
    post = _posterior(2, 200)
    x = _flat(post)
    x[0] = 3.0  # constant
    x[1, 2, 17] = np.nan
    ref_post = post.copy(deep=True)
    ref_post["a"][:] = 3.0
    ref_post["b"][2, 17, 0] = np.nan
    got = rhat_ess(x)
    ref = _reference(ref_post)
    for g, r in zip(got, ref, strict=True):
        np.testing.assert_array_equal(np.isnan(g), np.isnan(r))
        ok = np.isfinite(r)
        np.testing.assert_allclose(g[ok], r[ok], rtol=1e-12, atol=0)


def test_convergence_names_the_worst_scalar() -> None:
    post = _posterior(3, 300)
    d = convergence(az.InferenceData(posterior=post))
    rhat, bulk, tail = _reference(post)
    assert d.rhat_max == pytest.approx(np.nanmax(rhat), rel=1e-12)
    assert d.ess_bulk_min == pytest.approx(np.nanmin(bulk), rel=1e-12)
    assert d.ess_tail_min == pytest.approx(np.nanmin(tail), rel=1e-12)
    assert d.worst_rhat.startswith("stuck of s ")
    assert "chain" not in d.worst_rhat and "draw" not in d.worst_rhat
