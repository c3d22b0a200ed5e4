"""Compile a PyMC model for nutpie with its C callbacks cached on disk.

``nutpie.compile_pymc_model`` compiles the model's log density and gradient with
pytensor's numba backend, which caches its functions on disk, and then wraps them in two
numba ``cfunc`` callbacks for the Rust sampler. Those callbacks are closures, which numba
cannot cache, and compiling them links and re-optimises the whole model's code: on the
simulated world it is about 30 s of a 40 s compile, paid again on every fit of the same
model.

:func:`compile_nutpie` builds the same callbacks from generated source whose cache key is
pytensor's own key of the compiled graph (which covers the graph and its constants, so
the data), so the second fit of a model, in any process, loads them from pytensor's
numba cache. A model with shared variables (``pm.Data``) or anything this module does not
recognise is handed to ``nutpie.compile_pymc_model`` unchanged.

Each model and dataset adds about 5 MB (the linked log-density callback) to pytensor's
cache directory (``~/.pytensor/numba`` by default, ``PYTENSOR_FLAGS=base_compiledir=...``
moves it); deleting the directory is safe, the next fit compiles again.

The callbacks follow nutpie's own (``nutpie.compile_pymc``, version pinned in
``uv.lock``): return codes 0 ok, -1 wrong dimension, 1 error, 3 non-finite gradient,
4 non-finite log density; the expand callback -2 on error.
"""

from __future__ import annotations

import hashlib
import warnings
from typing import Any

import numpy as np

__all__ = ["compile_nutpie"]

#: Part of every cache key: bump it when the callbacks' code or contract changes.
_CACHE_VERSION = "1"

_LOGP_SRC = """
def omnimmm_logp_callback(dim, x_, out_, logp_, user_data_):
    if dim != n_dim:
        return -1
    try:
        x = carray(x_, (n_dim,))
        out = carray(out_, (n_dim,))
        logp = carray(logp_, ())
        logp_val, grad = inner(x)
        logp[()] = logp_val
        out[...] = grad
        if not np.all(np.isfinite(out)):
            return 3
        if not np.isfinite(logp_val):
            return 4
    except Exception:
        return 1
    return 0
"""

_EXPAND_SRC = """
def omnimmm_expand_callback(dim, expanded, x_, out_, user_data_):
    if dim != n_dim:
        return -1
    if expanded != n_expanded:
        return -1
    try:
        x = carray(x_, (n_dim,))
        out = carray(out_, (n_expanded,))
        (values,) = inner(x)
        out[...] = values
    except Exception:
        return -2
    return 0
"""


def _callback(src: str, name: str, sig: Any, inner: Any, env: dict[str, Any]) -> Any:
    """A numba cfunc from ``src`` calling ``inner``, cached under the key of ``inner``."""
    import numba
    import nutpie
    import pytensor
    from pytensor.link.numba.cache import CACHED_SRC_FUNCTIONS, compile_numba_function_src

    inner_key = CACHED_SRC_FUNCTIONS.get(getattr(inner, "py_func", None))
    if inner_key is None:
        raise LookupError("the compiled graph has no pytensor cache key")
    parts = [
        _CACHE_VERSION,
        src,
        inner_key,
        repr(sorted(env.items())),
        numba.__version__,
        nutpie.__version__,
        pytensor.__version__,
    ]
    key = hashlib.sha256("\n".join(parts).encode()).hexdigest()
    fn = compile_numba_function_src(
        src,
        name,
        global_env={"__name__": __name__, "np": np, "carray": numba.carray, "inner": inner, **env},
        cache_key=f"omnimmm_{name}_{key}",
    )
    return numba.cfunc(sig, cache=True)(fn)


def compile_nutpie(model: Any) -> Any:
    """``nutpie.compile_pymc_model(model)`` (numba backend), with cached callbacks.

    Same initial points (support point with jitter), same functions, same result; only
    the two C callbacks come from the disk cache when the same model was compiled
    before.
    """
    import nutpie

    try:
        import numba
        from nutpie import compile_pymc as npc
        from pymc.initial_point import make_initial_point_fn
    except ImportError:  # pragma: no cover - nutpie's layout changed
        return nutpie.compile_pymc_model(model)

    initial_point_fn = npc._wrap_with_lock(
        make_initial_point_fn(
            model=model,
            default_strategy="support_point",
            jitter_rvs=set(model.free_RVs),
            return_transformed=True,
        )
    )
    n_dim, n_expanded, logp_pt, expand_pt, init_fn, shape_info = npc._make_functions(
        model,
        mode="NUMBA",
        compute_grad=True,
        join_expanded=True,
        pymc_initial_point_fn=initial_point_fn,
    )
    if logp_pt.get_shared() or expand_pt.get_shared():
        return nutpie.compile_pymc_model(model)
    f64p = numba.types.CPointer(numba.types.double)
    logp_sig = numba.types.int64(numba.types.uint64, f64p, f64p, f64p, numba.types.voidptr)
    expand_sig = numba.types.int64(
        numba.types.uint64, numba.types.uint64, f64p, f64p, numba.types.voidptr
    )
    try:
        with warnings.catch_warnings():
            # Only if numba finds something uncacheable: it then compiles without caching.
            warnings.filterwarnings("ignore", message="Cannot cache", category=Warning)
            logp_c = _callback(
                _LOGP_SRC, "omnimmm_logp_callback", logp_sig, logp_pt.vm.jit_fn, {"n_dim": n_dim}
            )
            expand_c = _callback(
                _EXPAND_SRC,
                "omnimmm_expand_callback",
                expand_sig,
                expand_pt.vm.jit_fn,
                {"n_dim": n_dim, "n_expanded": n_expanded},
            )
    except LookupError:
        return nutpie.compile_pymc_model(model)
    dims, coords = npc._prepare_dims_and_coords(model, shape_info)
    return npc.CompiledPyMCModel(
        _n_dim=n_dim,
        dims=dims,
        _coords=coords,
        _shapes={name: tuple(shape) for name, _, shape in zip(*shape_info, strict=True)},
        compiled_logp_func=logp_c,
        compiled_expand_func=expand_c,
        initial_point_func=init_fn,
        shared_data={},
        user_data=npc.make_user_data({}, {}),
        n_expanded=n_expanded,
        shape_info=shape_info,
        logp_func=logp_pt,
        expand_func=expand_pt,
    )
