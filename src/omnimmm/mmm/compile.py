"""Compile a PyMC model for nutpie with its C callbacks cached on disk.

Given the model's spec, :func:`compile_nutpie` first tries the hand-written log density of
:mod:`omnimmm.mmm.density` (one numba function for every plan, no compile after the first
on a machine); what follows is the path for models it does not cover, and for any PyMC
model passed without a spec.

``nutpie.compile_pymc_model`` compiles the model's log density and gradient with
pytensor's numba backend, which caches its functions on disk, and then wraps them in two
numba ``cfunc`` callbacks for the Rust sampler. Those callbacks are closures, which numba
cannot cache, and compiling them links and re-optimises the whole model's code: on the
simulated world it is about 30 s of a 40 s compile, paid again on every fit.

:func:`compile_nutpie` builds the same callbacks from generated source whose cache key is
pytensor's own key of the compiled graph, so a later fit of the same graph, in any
process, loads them from pytensor's numba cache. Constants are part of that key; shared
variables (``pm.Data``) are not, only their types: the callbacks read them from nutpie's
``user_data`` pointer (a flat array of addresses and shapes, :class:`_SharedLayout`).
omnimmm's model keeps all its data and its ROI priors in shared variables
(:func:`omnimmm.mmm.model.build_model`), so a refit on other weeks of the same plan (the
holdout refit, next quarter's run) or with other ROI priors compiles in seconds. ``with_data`` swaps the data of a
compiled model without any compile.

Each compiled graph adds about 5 MB (the linked log-density callback) to pytensor's
cache directory (``~/.pytensor/numba`` by default, ``PYTENSOR_FLAGS=base_compiledir=...``
moves it); deleting the directory is safe, the next fit compiles again.

The callbacks follow nutpie's own (``nutpie.compile_pymc``, version pinned in
``uv.lock``): return codes 0 ok, -1 wrong dimension, 1 error, 3 non-finite gradient,
4 non-finite log density; the expand callback -2 on error.
"""

from __future__ import annotations

import dataclasses
import hashlib
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numba
import numpy as np
from nutpie.compile_pymc import CompiledPyMCModel

from omnimmm.mmm.density import HandCompiledModel, compile_model, density_tables
from omnimmm.mmm.nutpie_common import as_pointer, initial_point_fn

__all__ = ["compile_nutpie", "graph_keys", "loaded_from_cache", "log_density_of"]

#: Part of every cache key: bump it when the callbacks' code or contract changes.
_CACHE_VERSION = "3"

_LOGP_SRC = """
def omnimmm_logp_callback(dim, x_, out_, logp_, user_data_):
    if dim != n_dim:
        return -1
    try:
        x = carray(x_, (n_dim,))
        out = carray(out_, (n_dim,))
        logp = carray(logp_, ())
{unpack}
        logp_val, grad = inner(x{args})
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
{unpack}
        (values,) = inner(x{args})
        out[...] = values
    except Exception:
        return -2
    return 0
"""


@dataclass(frozen=True)
class _SharedLayout:
    """Where each shared array sits in the callbacks' ``user_data``: a flat uint64 array
    holding, per array, its address and then its shape."""

    names: tuple[str, ...]
    offsets: tuple[int, ...]
    ndims: tuple[int, ...]
    dtypes: tuple[str, ...]

    @classmethod
    def of(cls, arrays: Mapping[str, np.ndarray]) -> _SharedLayout:
        offsets, at = [], 0
        for a in arrays.values():
            offsets.append(at)
            at += 1 + a.ndim
        return cls(
            names=tuple(arrays),
            offsets=tuple(offsets),
            ndims=tuple(a.ndim for a in arrays.values()),
            dtypes=tuple(a.dtype.name for a in arrays.values()),
        )

    def user_data(self, arrays: Mapping[str, np.ndarray]) -> np.ndarray:
        """Addresses and shapes of ``arrays`` (which must outlive the returned array)."""
        out = np.zeros(max(1, sum(1 + n for n in self.ndims)), dtype=np.uint64)
        for name, at in zip(self.names, self.offsets, strict=True):
            a = arrays[name]
            out[at] = a.ctypes.data
            out[at + 1 : at + 1 + a.ndim] = a.shape
        return out

    def unpack(self, used: list[str]) -> tuple[str, str]:
        """Source lines binding the arrays ``used`` by a function, and its extra arguments."""
        if not used:
            return "", ""
        lines = [
            f"        ud = carray(as_pointer(user_data_), ({self.offsets[-1] + 1 + self.ndims[-1]},), np.uint64)"
        ]
        for k, name in enumerate(used):
            i = self.names.index(name)
            at, nd = self.offsets[i], self.ndims[i]
            shape = "".join(f"ud[{at + 1 + j}], " for j in range(nd))
            lines.append(
                f"        s{k} = carray(as_pointer(ud[{at}]), ({shape}), np.{self.dtypes[i]})"
            )
        return "\n".join(lines), "".join(f", s{k}" for k in range(len(used)))


@dataclass(frozen=True)
class _CompiledModel(CompiledPyMCModel):
    """nutpie's compiled model with our callbacks' ``user_data`` layout."""

    layout: _SharedLayout | None = None
    #: Why the hand-written density was not used (None when no spec was given).
    hand_written_not_used: str | None = None

    def with_data(self, **updates: Any) -> _CompiledModel:
        """The same compiled model on other values of its shared data (no recompile)."""
        shared = dict(self.shared_data)
        for name, value in updates.items():
            if name not in shared:
                raise KeyError(f"unknown shared variable: {name}")
            new = np.array(value, dtype=shared[name].dtype, order="C", copy=True)
            if new.ndim != shared[name].ndim:
                raise ValueError(f"shared variable {name} must have rank {shared[name].ndim}")
            new.flags.writeable = False
            shared[name] = new
        assert self.layout is not None
        # nutpie's fields, which mypy does not see (nutpie has no type hints).
        changes: dict[str, Any] = {
            "shared_data": shared,
            "user_data": self.layout.user_data(shared),
        }
        return dataclasses.replace(self, **changes)


def _graph_key(fn: Any) -> str | None:
    """pytensor's numba cache key of the compiled function ``fn`` (None if uncacheable)."""
    from pytensor.link.numba.cache import CACHED_SRC_FUNCTIONS

    py_func = getattr(fn.vm.jit_fn, "py_func", None)
    return None if py_func is None else CACHED_SRC_FUNCTIONS.get(py_func)


def _unwrapped(wrapper: Any) -> Any:
    """The graph's own numba function inside pytensor's caching wrapper.

    pytensor wraps the graph's function in ``def f(*args): return jitable_func(*args)``
    so that numba can cache it. The callback is cached itself, and calling the wrapper
    adds one more level of numba's linking: the whole graph's code optimised and compiled
    to machine code once more (4-7% of a first compile of the simulated world's model in
    two paired runs). The wrapper's cache key (the graph's) still keys the callback. The
    function returned has no CPython wrapper: only compiled code may call it.
    """
    py_func = getattr(wrapper, "py_func", None)
    inner = getattr(py_func, "__globals__", {}).get("jitable_func")
    if "return jitable_func(*args)" in getattr(py_func, "__source__", "") and hasattr(
        inner, "py_func"
    ):
        return inner
    return wrapper


def _callback(
    template: str,
    name: str,
    sig: Any,
    fn: Any,
    layout: _SharedLayout,
    env: dict[str, Any],
) -> Any:
    """A numba cfunc from ``template`` calling pytensor's compiled ``fn``, cached under
    the key of the compiled graph."""
    import nutpie
    import pytensor
    from pytensor.link.numba.cache import compile_numba_function_src

    inner_key = _graph_key(fn)
    if inner_key is None:
        raise LookupError("the compiled graph has no pytensor cache key")
    inner = _unwrapped(fn.vm.jit_fn)
    unpack, args = layout.unpack([v.name for v in fn.get_shared()])
    src = template.format(unpack=unpack, args=args)
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
    py_fn = compile_numba_function_src(
        src,
        name,
        global_env={
            "__name__": __name__,
            "np": np,
            "carray": numba.carray,
            "as_pointer": as_pointer,
            "inner": inner,
            **env,
        },
        cache_key=f"omnimmm_{name}_{key}",
    )
    return numba.cfunc(sig, cache=True)(py_fn)


def _pytensor_functions(model: Any) -> tuple[Any, ...]:
    """nutpie's pytensor functions of ``model`` (numba mode; graph rewritten, not compiled)."""
    from nutpie import compile_pymc as npc

    return npc._make_functions(
        model,
        mode="NUMBA",
        compute_grad=True,
        join_expanded=True,
        pymc_initial_point_fn=initial_point_fn(model),
    )


def graph_keys(model: Any) -> tuple[str | None, str | None]:
    """pytensor's cache keys of ``model``'s log density and expand functions.

    Two models with the same keys share their compiled code: :func:`compile_nutpie`
    compiles the first and loads the second from the disk cache. Costs the graph rewrites
    (seconds), no numba compile.
    """
    _, _, logp_pt, expand_pt, _, _ = _pytensor_functions(model)
    return _graph_key(logp_pt), _graph_key(expand_pt)


def compile_nutpie(model: Any, spec: Any = None) -> Any:
    """``nutpie.compile_pymc_model(model)`` (numba backend), with cached callbacks.

    With ``spec`` (the :class:`omnimmm.mmm.design.ModelSpec` the model was built from),
    the log density and its gradient are the hand-written ones of
    :mod:`omnimmm.mmm.density` when it covers the model: nothing is compiled after the
    first fit on a machine, and a gradient costs a fraction of the graph's. Otherwise (no
    spec, or a model it does not cover) pytensor's graph is compiled: the same initial
    points (support point with jitter), same functions, same result as nutpie's own
    compile; only the two C callbacks come from the disk cache when the same graph was
    compiled before. With the data and the ROI priors in shared variables (``pm.Data``),
    the same graph means the same plan structure and array ranks, whatever the numbers
    and the number of weeks (:func:`graph_keys` tells).

    :func:`log_density_of` tells which of the two a compiled model uses.
    """
    import nutpie
    from nutpie import compile_pymc as npc

    if spec is not None:
        tables = density_tables(model, spec)
        if not isinstance(tables, str):
            return compile_model(model, tables)
        why_not = tables
    else:
        why_not = None

    n_dim, n_expanded, logp_pt, expand_pt, init_fn, shape_info = _pytensor_functions(model)
    shared_vars: dict[str, Any] = {}
    for var in [*logp_pt.get_shared(), *expand_pt.get_shared()]:
        if shared_vars.setdefault(var.name, var) is not var:
            raise ValueError(f"shared variables must have unique names: {var.name}")
    shared: dict[str, np.ndarray] = {}
    for name, var in shared_vars.items():
        value = np.array(var.get_value(), order="C", copy=True)
        if value.dtype.kind not in "fiub":
            return nutpie.compile_pymc_model(model)
        value.flags.writeable = False
        shared[name] = value
    layout = _SharedLayout.of(shared)
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
                _LOGP_SRC, "omnimmm_logp_callback", logp_sig, logp_pt, layout, {"n_dim": n_dim}
            )
            expand_c = _callback(
                _EXPAND_SRC,
                "omnimmm_expand_callback",
                expand_sig,
                expand_pt,
                layout,
                {"n_dim": n_dim, "n_expanded": n_expanded},
            )
    except LookupError:
        return nutpie.compile_pymc_model(model)
    dims, coords = npc._prepare_dims_and_coords(model, shape_info)
    return _CompiledModel(
        _n_dim=n_dim,
        dims=dims,
        _coords=coords,
        _shapes={name: tuple(shape) for name, _, shape in zip(*shape_info, strict=True)},
        compiled_logp_func=logp_c,
        compiled_expand_func=expand_c,
        initial_point_func=init_fn,
        shared_data=shared,
        user_data=layout.user_data(shared),
        n_expanded=n_expanded,
        shape_info=shape_info,
        logp_func=logp_pt,
        expand_func=expand_pt,
        layout=layout,
        hand_written_not_used=why_not,
    )


def log_density_of(compiled: Any) -> str:
    """Which log density ``compiled`` samples: ``"hand-written"``, or ``"pytensor"`` with
    the reason the hand-written one does not cover the model (when a spec was given)."""
    if isinstance(compiled, HandCompiledModel):
        return "hand-written"
    why = getattr(compiled, "hand_written_not_used", None)
    return f"pytensor ({why})" if why else "pytensor"


def loaded_from_cache(compiled: Any) -> bool:
    """Whether both callbacks of ``compiled`` came from the disk cache (no LLVM work);
    for the hand-written density, whether this compile compiled nothing."""
    if isinstance(compiled, HandCompiledModel):
        return not compiled.compiled_callbacks
    return all(
        getattr(f, "_cache_hits", 0) > 0
        for f in (compiled.compiled_logp_func, compiled.compiled_expand_func)
    )
