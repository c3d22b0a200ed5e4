"""The MMM's log density and gradient written out by hand, for nutpie.

pytensor turns the model of :func:`omnimmm.mmm.model.build_model` into about 135 distinct
operations, and its numba backend compiles about 800 functions for them and their
gradients: a first fit on a new machine spends about three minutes compiling, and every
new plan structure compiles again. Here the same log density and its gradient are one
numba function for every plan: the plan's structure is read from integer tables and the
data from arrays, so the function is compiled once per machine (numba's disk cache) and a
fit of any supported plan compiles nothing.

It is the same density, not an approximation: the same priors on the same unconstrained
parameter vector (nutpie's layout of the model's value variables, with PyMC's log, log-odds
and simplex transforms and their Jacobians), the same mean function and likelihood. The
priors' families and parameters are read from the PyMC model itself; the mean function's
structure from the spec. ``tests/test_mmm_density.py`` checks log density and gradient
against PyMC's at random points for every supported structure.

Supported: geometric, delayed and Weibull adstock with carryover shared across outcomes or
per outcome; Hill, logistic and Michaelis-Menten saturation; ROI and raw coefficient priors;
synergies; trend, Fourier, controls and festivals; lift tests; any number of outcomes, with
or without residual correlation (two: the written-out Cholesky factor; three or more:
LKJCholeskyCov with HalfNormal scales). :func:`density_tables` returns the reason instead
of tables for anything else (recorded deterministics, a prior-only model, a prior family
it does not know), and
:func:`omnimmm.mmm.compile.compile_nutpie` then compiles the PyMC graph as before.

Notation in the kernel (``T`` weeks, ``C`` channels, ``O`` outcomes, ``L`` lags, ``n``
free coordinates): ``z`` the unconstrained point, ``v`` its constrained values, ``gv`` the
gradient with respect to ``v`` of the likelihood, ``h`` the saturated adstocked spend
(``h[t, c, a]``: its last axis is the outcome with carryover per outcome, else of length
one).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numba
import numpy as np

from omnimmm.mmm.compile import _as_pointer
from omnimmm.mmm.design import ModelSpec
from omnimmm.transforms import SATURATIONS

KERNEL_VERSION = "1"  # interim: the density split (branch density) defines it for real

__all__ = ["DensityTables", "callbacks", "density_tables", "expand", "logp_and_grad", "user_data"]

# Prior kinds per unconstrained coordinate (parameters ``a``, ``b``).
_NORMAL = 0  # Normal(a, b), no transform
_LOGNORMAL = 1  # LogNormal(a, b), log transform
_HALFNORMAL = 2  # HalfNormal(loc a, scale b), log transform
_GAMMA = 3  # Gamma(shape a, rate b), log transform
_BETA = 4  # Beta(a, b), log-odds transform
_SIMPLEX = 5  # a coordinate of a Dirichlet's simplex block (see ``blocks``)
_CHOL_DIAG = 6  # LKJCholeskyCov: a diagonal entry of the packed factor, log transform
_CHOL_OFF = 7  # LKJCholeskyCov: an entry below the diagonal, no transform

_ADSTOCK = {"geometric": 0, "delayed": 1, "weibull": 2}
_SATURATION = {"hill": 0, "logistic": 1, "michaelis_menten": 2}
_FAMILIES = {
    ("NormalRV", None): _NORMAL,
    ("LogNormalRV", "log"): _LOGNORMAL,
    ("HalfNormalRV", "log"): _HALFNORMAL,
    ("GammaRV", "log"): _GAMMA,
    ("BetaRV", "logodds"): _BETA,
}
_LOG2PI = math.log(2.0 * math.pi)

# Columns of ``channels`` (int64, one row per channel).
(_C_ADSTOCK, _C_ALPHA, _C_THETA, _C_LMAX, _C_SAT, _C_SP1, _C_SP2, _C_ROI, _C_COEF,
 _C_PER_OUTCOME) = range(10)  # fmt: skip
# Expand kinds (rows of ``expand``: kind, source start, source size, target start, N).
_X_LOG, _X_LOGODDS, _X_SIMPLEX, _X_CHOL = range(4)


@dataclass(frozen=True)
class DensityTables:
    """Everything the kernel reads: the plan's structure as tables, and the data.

    Integer tables
    --------------
    kinds (n,)
        Prior kind of each unconstrained coordinate.
    blocks (B, 3)
        Dirichlet simplex blocks: first coordinate, number of categories ``N``, channel.
    channels (C, 10)
        Adstock kind, coordinate of ``alpha`` (Weibull: ``lam``), of ``theta_frac``
        (Weibull: ``k``; geometric: -1), number of lags,
        saturation kind, coordinates of its first and second parameter (-1), coordinate
        of the ROI (-1 for a raw coefficient; its shares are in ``blocks``), first
        coordinate of its coefficients (-1), and 1 if carryover is per outcome (the same
        for every channel; its adstock coordinates are then the first of ``O``
        consecutive ones), else 0.
    pairs (P, 2), gamma (P, O)
        Synergy channels and the coordinate of each synergy coefficient.
    base (F, O)
        Coordinate of each baseline coefficient (columns of ``features``).
    outcome (3, O)
        Coordinates of ``level`` and ``sigma`` (-1 for three or more correlated
        outcomes) per outcome; row 2: the two-outcome correlation's coordinate in column
        0, the first coordinate of the packed Cholesky factor ``chol_cov`` (three or more
        correlated outcomes; ``prior_a`` holds the LKJ ``eta``, ``prior_b`` the scales'
        HalfNormal sigmas at its diagonal) in column 1, -1 without.
    lift_c (K,)
        The channel of each lift test.
    expand (E, 5)
        How nutpie's expanded draw is made from the point (see :func:`_expand_kernel`),
        ``n_expanded`` long; ``shape_info`` names, slices and shapes its parts as
        nutpie's ``_make_functions`` does.

    Float tables and data
    ---------------------
    prior_a, prior_b (n,), alpha (B, N)
        Prior parameters; ``alpha`` the Dirichlet concentrations.
    channel_f (C, 2)
        Peak-lag scale of ``theta_frac`` (lags - 1 of the kind; 1 for Weibull) and the coefficient
        prior's scale.
    lags (T * C, L)
        Lagged scaled spend, row ``t * C + c``.
    features (T, F), y (T, O), ratio (C, O)
        Baseline features, scaled outcomes, spend total over outcome scale.
    lift_lags (K * T, L), lift_after (K, T), lift_f (K, 2 + O)
        Per lift test: the tested channel's lagged spend with the test's change (row
        ``k * T + t``), 1 from the test's first week on, and its observed incremental
        revenue, standard error (both over the sum of outcome scales) and weight per
        outcome (outcome scale over their sum, 0 for outcomes it did not measure).
    """

    kinds: np.ndarray
    blocks: np.ndarray
    channels: np.ndarray
    pairs: np.ndarray
    gamma: np.ndarray
    base: np.ndarray
    outcome: np.ndarray
    lift_c: np.ndarray
    expand: np.ndarray
    prior_a: np.ndarray
    prior_b: np.ndarray
    alpha: np.ndarray
    channel_f: np.ndarray
    lags: np.ndarray
    features: np.ndarray
    y: np.ndarray
    ratio: np.ndarray
    lift_lags: np.ndarray
    lift_f: np.ndarray
    lift_after: np.ndarray
    n_expanded: int
    shape_info: tuple[list[str], list[slice], list[tuple[int, ...]]]

    def arrays(self) -> tuple[np.ndarray, ...]:
        """The arrays in the kernel's argument order."""
        return tuple(getattr(self, f) for f in _ARRAY_FIELDS)


_ARRAY_FIELDS = (
    "kinds",
    "blocks",
    "channels",
    "pairs",
    "gamma",
    "base",
    "outcome",
    "lift_c",
    "prior_a",
    "prior_b",
    "alpha",
    "channel_f",
    "lags",
    "features",
    "y",
    "ratio",
    "lift_lags",
    "lift_after",
    "lift_f",
)


# --------------------------------------------------------------------------- tables


def _dist_params(model: Any) -> dict[str, list[np.ndarray]]:
    """Each free variable's distribution parameters, evaluated (no C compile)."""
    import pytensor

    rvs = list(model.free_RVs)
    outs, counts = [], []
    for rv in rvs:
        ps = list(rv.owner.op.dist_params(rv.owner))
        outs += ps
        counts.append(len(ps))
    values = pytensor.function([], outs, mode="FAST_COMPILE")() if outs else []
    result, at = {}, 0
    for rv, k in zip(rvs, counts, strict=True):
        result[rv.name] = [np.asarray(v, dtype=float) for v in values[at : at + k]]
        at += k
    return result


def _shared(model: Any, name: str) -> np.ndarray | None:
    var = model.named_vars.get(name)
    if var is None:
        return None
    return np.asarray(var.get_value(), dtype=float)


def _lkj_prior(rv: Any, n_o: int) -> tuple[float, np.ndarray] | str:
    """``eta`` and the residual scales' HalfNormal sigmas of an LKJCholeskyCov, or why not."""
    import pytensor

    n, eta, sd = rv.owner.op.dist_params(rv.owner)
    if type(sd.owner.op).__name__ != "HalfNormalRV":
        return f"LKJCholeskyCov with sd_dist {type(sd.owner.op).__name__}"
    loc, scale, eta_v, n_v = pytensor.function(
        [], [*sd.owner.op.dist_params(sd.owner), eta, n], mode="FAST_COMPILE"
    )()
    if int(n_v) != n_o or np.any(np.asarray(loc) != 0):
        return "LKJCholeskyCov other than one HalfNormal scale per outcome"
    return float(eta_v), np.broadcast_to(np.asarray(scale, dtype=float), (n_o,)).copy()


class _NotCovered(Exception):
    """The model is not one the kernel covers (the message says why)."""


def density_tables(model: Any, spec: ModelSpec) -> DensityTables | str:
    """The kernel's tables for ``model`` (built by ``build_model`` from ``spec``), or why not.

    Returns
    -------
    DensityTables or str
        The tables, or the reason the hand-written density does not cover this model.
    """
    try:
        return _tables(model, spec)
    except _NotCovered as exc:
        return str(exc)


def _tables(model: Any, spec: ModelSpec) -> DensityTables | str:
    layout = spec.layout()
    n_o = len(spec.outcomes)
    kinds_used = {k for k, _, _ in layout.adstock_groups}
    if kinds_used - set(_ADSTOCK):
        return f"adstock {sorted(kinds_used - set(_ADSTOCK))}"
    sat_used = {k for k, _ in layout.saturation_groups}
    if sat_used - set(_SATURATION):
        return f"saturation {sorted(sat_used - set(_SATURATION))}"
    if model.deterministics:
        return "recorded deterministics"
    y = _shared(model, "data_y")
    if y is None:
        return "no observed outcomes (prior-only model)"
    if model.potentials:
        return "potentials"

    # Nutpie's layout: the value variables of the free variables, in order, raveled.
    from nutpie.compile_pymc import _compute_shapes

    shapes = _compute_shapes(model)
    start: dict[str, int] = {}
    shape: dict[str, tuple[int, ...]] = {}
    n = 0
    names = {rv.name for rv in model.free_RVs}
    for rv in model.free_RVs:
        shp = tuple(int(s) for s in shapes[model.rvs_to_values[rv].name])
        start[rv.name], shape[rv.name] = n, shp
        n += int(np.prod(shp, dtype=int))
    params = _dist_params(model)

    kinds = np.full(n, -1, dtype=np.int64)
    prior_a, prior_b = np.zeros(n), np.zeros(n)
    blocks, alphas = [], []
    expand, n_expanded = [], n
    for rv in model.free_RVs:
        op = type(rv.owner.op).__name__
        transform = model.rvs_to_transforms.get(rv)
        tname = getattr(transform, "name", None)
        s0, size = start[rv.name], int(np.prod(shape[rv.name], dtype=int))
        if op == "DirichletRV" and tname == "simplex":
            (conc,) = params[rv.name]
            rows = shape[rv.name][0] if len(shape[rv.name]) == 2 else 1
            n_cat = shape[rv.name][-1] + 1
            conc = np.broadcast_to(conc, (rows, n_cat))
            for r in range(rows):
                blocks.append((s0 + r * (n_cat - 1), n_cat, -1))
                alphas.append(conc[r])
            kinds[s0 : s0 + size] = _SIMPLEX
            expand.append((_X_SIMPLEX, s0, size, n_expanded, n_cat))
            n_expanded += rows * n_cat
            continue
        if op == "_LKJCholeskyCovRV" and tname == "cholesky-cov-packed":
            got = _lkj_prior(rv, n_o)
            if isinstance(got, str):
                return got
            eta, sig = got
            kinds[s0 : s0 + size] = _CHOL_OFF
            prior_a[s0 : s0 + size] = eta
            for i in range(n_o):
                kinds[s0 + i * (i + 3) // 2] = _CHOL_DIAG
                prior_b[s0 + i * (i + 3) // 2] = sig[i]
            expand.append((_X_CHOL, s0, size, n_expanded, n_o))
            n_expanded += size
            continue
        kind = _FAMILIES.get((op, tname))
        if kind is None:
            return f"prior {op} with transform {tname} on {rv.name}"
        a, b = params[rv.name]
        if op == "GammaRV":
            b = 1.0 / b  # PyMC's GammaRV takes the scale
        kinds[s0 : s0 + size] = kind
        prior_a[s0 : s0 + size] = np.broadcast_to(a, shape[rv.name]).ravel()
        prior_b[s0 : s0 + size] = np.broadcast_to(b, shape[rv.name]).ravel()
        if tname is not None:
            expand.append((_X_LOG if tname == "log" else _X_LOGODDS, s0, size, n_expanded, 0))
            n_expanded += size
    # nutpie stores the constrained values of transformed variables after the point, in
    # the order of ``model.unobserved_value_vars``; it must be the free variables' order.
    joined = {model.rvs_to_values[rv].name for rv in model.free_RVs}
    rest = [v.name for v in model.unobserved_value_vars if v.name not in joined]
    transformed = [rv.name for rv in model.free_RVs if model.rvs_to_transforms.get(rv)]
    if rest != transformed or not set(rest) <= names:
        return "expanded variables not in the free variables' order"
    info_names = [model.rvs_to_values[rv].name for rv in model.free_RVs] + rest
    info_shapes = [shape[rv.name] for rv in model.free_RVs]
    info_shapes += [tuple(int(s) for s in shapes[name]) for name in rest]
    info_slices, at_ = [], 0
    for shp in info_shapes:
        size = int(np.prod(shp, dtype=int))
        info_slices.append(slice(at_, at_ + size))
        at_ += size
    if at_ != n_expanded:
        return "expanded size does not match the transformed variables"

    def at(name: str, index: int) -> int:
        if name not in start:
            raise _NotCovered(f"the model has no free variable {name!r} for its spec")
        return start[name] + index

    c_n = len(spec.channels)
    channels = np.full((c_n, 10), -1, dtype=np.int64)
    channel_f = np.zeros((c_n, 2))
    # Carryover per outcome: each channel's adstock parameters are a row of O values.
    per_outcome = 0 if layout.share_carryover else 1
    n_a = 1 if layout.share_carryover else n_o
    channels[:, _C_PER_OUTCOME] = per_outcome
    for kind, ix in layout.adstock_kinds.items():
        l_kind = max(spec.channels[i].l_max for i in ix)
        for j, c in enumerate(ix):
            channels[c, _C_ADSTOCK] = _ADSTOCK[kind]
            channels[c, _C_LMAX] = spec.channels[c].l_max
            if kind == "weibull":  # Weibull pdf weights: scale lam, shape k
                channels[c, _C_ALPHA] = at(f"adstock_{kind}_lam", j * n_a)
                channels[c, _C_THETA] = at(f"adstock_{kind}_k", j * n_a)
                channel_f[c, 0] = 1.0
                continue
            channels[c, _C_ALPHA] = at(f"adstock_{kind}_alpha", j * n_a)
            if kind == "delayed":
                channels[c, _C_THETA] = at(f"adstock_{kind}_theta_frac", j * n_a)
                channel_f[c, 0] = l_kind - 1
    for kind, ix in layout.saturation_groups:
        free = [p for p in SATURATIONS[kind].params if f"saturation_{kind}_{p}" in names]
        for j, c in enumerate(ix):
            channels[c, _C_SAT] = _SATURATION[kind]
            for col, p in zip((_C_SP1, _C_SP2), free, strict=False):
                channels[c, col] = at(f"saturation_{kind}_{p}", j)
    roi_ix = [i for i, c in enumerate(spec.channels) if c.coef_prior_sd is None]
    coef_ix = [i for i, c in enumerate(spec.channels) if c.coef_prior_sd is not None]
    for j, c in enumerate(roi_ix):
        channels[c, _C_ROI] = at("roi_total", j)
    if len(blocks) != (len(roi_ix) if n_o > 1 else 0):
        return "Dirichlet variables other than the ROI shares"
    for k, (s0, n_cat, _) in enumerate(blocks):
        # Blocks are the ROI shares' rows, in ``roi_ix`` order.
        blocks[k] = (s0, n_cat, roi_ix[k])
    csd = _shared(model, "data_coef_prior_sd")
    for j, c in enumerate(coef_ix):
        channels[c, _C_COEF] = at("coef_raw", j * n_o)
        assert csd is not None
        channel_f[c, 1] = csd[j, 0]

    pairs = np.asarray(layout.pairs, dtype=np.int64).reshape(-1, 2)
    gamma = np.array(
        [[at("gamma", p * n_o + o) for o in range(n_o)] for p in range(len(pairs))],
        dtype=np.int64,
    ).reshape(-1, n_o)
    cols, base = [], []
    for feat, name in (
        ("t", "trend"),
        ("fourier", "fourier"),
        ("controls", "control_coef"),
        ("festivals", "festival_coef"),
    ):
        if name not in names:
            continue
        z = _shared(model, f"data_{feat}")
        assert z is not None
        z = z.reshape(len(y), -1)
        for j in range(z.shape[1]):
            cols.append(z[:, j])
            base.append([at(name, j * n_o + o) for o in range(n_o)])
    outcome = np.full((3, n_o), -1, dtype=np.int64)
    outcome[0] = [at("level", o) for o in range(n_o)]
    if n_o > 2 and spec.outcome_correlation:
        outcome[2, 1] = at("chol_cov", 0)
    elif "sigma" in names:
        outcome[1] = [at("sigma", o) for o in range(n_o)]
    else:
        return "residual scale not in 'sigma'"
    if n_o == 2 and spec.outcome_correlation:
        outcome[2, 0] = at("rho_beta", 0)
    lags = _shared(model, "data_spend_lags")
    ratio = _shared(model, "data_roi_ratio")
    assert lags is not None and ratio is not None
    t_n, _, _, l_n = lags.shape
    n_cat_max = max((b[1] for b in blocks), default=1)
    alpha = np.ones((len(blocks), n_cat_max))
    for k, a in enumerate(alphas):
        alpha[k, : len(a)] = a
    if (kinds < 0).any():
        return "free coordinates without a prior kind"
    lift_c = np.zeros(0, dtype=np.int64)
    lift_lags, lift_after, lift_f = np.zeros((0, l_n)), np.zeros((0, t_n)), np.zeros((0, 2 + n_o))
    if "lift" in model.named_vars:
        pick = _shared(model, "data_lift_pick")
        if pick is None:
            return "lift tests without their tested channels (data_lift_pick)"
        k_lags = _shared(model, "data_lift_lags")
        after = _shared(model, "data_lift_after")
        measured = _shared(model, "data_lift_outcome")
        y_scale = _shared(model, "data_lift_outcome_scale")
        observed = _shared(model, "data_lift_observed")
        se = _shared(model, "data_lift_se")
        assert k_lags is not None and after is not None and measured is not None
        assert y_scale is not None and observed is not None and se is not None
        k_n = len(pick)
        if k_lags.shape != (k_n, t_n, l_n):
            return "lift-test lags not shaped (tests, weeks, lags)"
        lift_c = np.ascontiguousarray(pick.argmax(axis=1), dtype=np.int64)
        lift_lags = np.ascontiguousarray(k_lags.reshape(k_n * t_n, l_n))
        lift_after = np.ascontiguousarray(after.reshape(k_n, t_n))
        lift_f = np.ascontiguousarray(
            np.column_stack([observed, se, measured * y_scale[None] / y_scale.sum()])
        )
    return DensityTables(
        kinds=kinds,
        blocks=np.asarray(blocks, dtype=np.int64).reshape(-1, 3),
        channels=channels,
        pairs=pairs,
        gamma=gamma,
        base=np.asarray(base, dtype=np.int64).reshape(-1, n_o),
        outcome=outcome,
        lift_c=lift_c,
        expand=np.asarray(expand, dtype=np.int64).reshape(-1, 5),
        prior_a=prior_a,
        prior_b=prior_b,
        alpha=alpha,
        channel_f=channel_f,
        lags=np.ascontiguousarray(lags.reshape(t_n * c_n, l_n)),
        features=np.ascontiguousarray(np.column_stack(cols) if cols else np.zeros((t_n, 0))),
        y=np.ascontiguousarray(y),
        ratio=np.ascontiguousarray(ratio),
        lift_lags=lift_lags,
        lift_f=lift_f,
        lift_after=lift_after,
        n_expanded=n_expanded,
        shape_info=(info_names, info_slices, info_shapes),
    )


# --------------------------------------------------------------------------- kernel

# ``error_model="numpy"``: a division by zero gives inf or nan, which the callback reports
# to nutpie as a non-finite log density (the point is rejected, as with PyMC's graph),
# instead of a Python exception, which a C callback cannot raise.


@numba.njit(cache=True, error_model="numpy")
def _log1pexp(x: float) -> float:
    """``log(1 + exp(x))`` without overflow."""
    if x > 0:
        return x + math.log1p(math.exp(-x))
    return math.log1p(math.exp(x))


@numba.njit(cache=True, error_model="numpy")
def _sigmoid(x: float) -> float:
    if x >= 0:
        return 1.0 / (1.0 + math.exp(-x))
    e = math.exp(x)
    return e / (1.0 + e)


@numba.njit(cache=True, error_model="numpy")
def _simplex(z, s0, nc, out, o0):  # type: ignore[no-untyped-def]  # pragma: no cover
    """PyMC's simplex transform backwards: ``out[o0:o0 + nc] = softmax([u, -sum u])`` for
    ``u = z[s0:s0 + nc - 1]``; returns ``sum u``."""
    tot = 0.0
    for j in range(nc - 1):
        tot += z[s0 + j]
    mx = -tot
    for j in range(nc - 1):
        mx = max(mx, z[s0 + j])
    norm = math.exp(-tot - mx)
    for j in range(nc - 1):
        norm += math.exp(z[s0 + j] - mx)
    for j in range(nc):
        f = z[s0 + j] if j < nc - 1 else -tot
        out[o0 + j] = math.exp(f - mx) / norm
    return tot


@numba.njit(cache=True, error_model="numpy")
def _lkj_norm(eta, n):  # type: ignore[no-untyped-def]  # pragma: no cover - compiled
    """The LKJ density's log normalising constant, as PyMC writes it."""
    if eta == 1.0:
        res = 0.0
        for k in range(1, (n - 1) // 2 + 1):
            res += math.lgamma(2.0 * k)
        if n % 2 == 1:
            res += (
                0.25 * (n * n - 1) * math.log(math.pi)
                - 0.25 * (n - 1) ** 2 * math.log(2.0)
                - (n - 1) * math.lgamma((n + 1) // 2)
            )
        else:
            res += (
                0.25 * n * (n - 2) * math.log(math.pi)
                + 0.25 * (3 * n * n - 4 * n) * math.log(2.0)
                + n * math.lgamma(n / 2.0)
                - (n - 1) * math.lgamma(n)
            )
        return res
    res = -(n - 1) * math.lgamma(eta + 0.5 * (n - 1))
    for k in range(1, n):
        res += 0.5 * k * math.log(math.pi) + math.lgamma(eta + 0.5 * (n - 1 - k))
    return res


@numba.njit(cache=True, error_model="numpy")
def _saturation(kind, x, p1, p2):  # type: ignore[no-untyped-def]  # pragma: no cover
    """Saturation of ``x`` >= 0 and its slopes in ``x``, ``p1`` and ``p2``: Hill (K, s),
    logistic (lam), Michaelis-Menten (k); 0 with zero slopes at ``x = 0`` for Hill."""
    if kind == 0:
        if x <= 0:
            return 0.0, 0.0, 0.0, 0.0
        lr = math.log(x / p1)
        rs = math.exp(p2 * lr)
        q = 1.0 / ((1.0 + rs) * (1.0 + rs))
        return rs / (1.0 + rs), q * p2 * rs / x, -q * p2 * rs / p1, q * rs * lr
    if kind == 1:
        hv = math.tanh(0.5 * p1 * x)
        d = 0.5 * (1.0 - hv * hv)
        return hv, d * p1, d * x, 0.0
    den = (p1 + x) * (p1 + x)
    return x / (p1 + x), p1 / den, -x / den, 0.0


@numba.njit(cache=True, error_model="numpy", inline="always")
def _saturation_params(channels, v, c):  # type: ignore[no-untyped-def]  # pragma: no cover
    """Channel ``c``'s saturation kind and its two parameters (0 for a missing second)."""
    p2 = v[channels[c, _C_SP2]] if channels[c, _C_SP2] >= 0 else 0.0
    return channels[c, _C_SAT], v[channels[c, _C_SP1]], p2


@numba.njit(cache=True, error_model="numpy", inline="always")
def _adstock_saturation(x, w, lm, kind, p1, p2):  # type: ignore[no-untyped-def]  # pragma: no cover
    """Saturation (with its slopes, see :func:`_saturation`) of the first ``lm`` lagged
    spends ``x`` weighted by the adstock weights ``w``."""
    acc = 0.0
    for lag in range(lm):
        acc += x[lag] * w[lag]
    return _saturation(kind, acc, p1, p2)


@numba.njit(cache=True, error_model="numpy")
def _logp_grad_kernel(
    z,
    grad,
    kinds,
    blocks,
    channels,
    pairs,
    gamma_ix,
    base,
    outcome,
    lift_c,
    prior_a,
    prior_b,
    alpha,
    channel_f,
    lags,
    features,
    y,
    ratio,
    lift_lags,
    lift_after,
    lift_f,
):  # pragma: no cover - compiled; tested through logp_and_grad
    n = z.shape[0]
    t_n, o_n = y.shape
    c_n = channels.shape[0]
    l_n = lags.shape[1]
    f_n = features.shape[1]
    p_n = pairs.shape[0]
    # Carryover per outcome (the flag is the same for every channel): adstock column
    # a(o) = o of h, w and their slopes; shared: one column, a(o) = 0.
    n_a = o_n if c_n > 0 and channels[0, _C_PER_OUTCOME] else 1
    oa = np.zeros(o_n, dtype=np.int64)
    if n_a > 1:
        for o in range(o_n):
            oa[o] = o
    v = np.empty(n)
    dv = np.empty(n)
    gv = np.zeros(n)
    lp = 0.0

    # Priors with their transforms' Jacobians, on the unconstrained coordinates.
    for i in range(n):
        k = kinds[i]
        x = z[i]
        a = prior_a[i]
        b = prior_b[i]
        if k == 0 or k == 1:  # Normal; LogNormal through log (the Jacobian cancels log x)
            d = (x - a) / b
            lp += -0.5 * _LOG2PI - math.log(b) - 0.5 * d * d
            grad[i] = -d / b
            if k == 0:
                v[i] = x
                dv[i] = 1.0
            else:
                v[i] = math.exp(x)
                dv[i] = v[i]
        elif k == 2:  # HalfNormal through log
            e = math.exp(x)
            d = (e - a) / b
            lp += 0.5 * math.log(2.0 / math.pi) - math.log(b) - 0.5 * d * d + x
            grad[i] = -d / b * e + 1.0
            v[i] = e
            dv[i] = e
        elif k == 3:  # Gamma(shape a, rate b) through log
            e = math.exp(x)
            lp += a * math.log(b) - math.lgamma(a) + a * x - b * e
            grad[i] = a - b * e
            v[i] = e
            dv[i] = e
        elif k == 4:  # Beta(a, b) through log-odds
            s = _sigmoid(x)
            log_s = -_log1pexp(-x)
            log_1s = -_log1pexp(x)
            lp += math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * log_s + b * log_1s
            grad[i] = a * (1.0 - s) - b * s
            v[i] = s
            dv[i] = s * (1.0 - s)
        elif k == _CHOL_DIAG:  # the LKJ prior is below; here the log transform's Jacobian
            v[i] = math.exp(x)
            dv[i] = v[i]
            lp += x
            grad[i] = 1.0
        elif k == _CHOL_OFF:
            v[i] = x
            dv[i] = 1.0
            grad[i] = 0.0
        else:  # simplex coordinates: below
            v[i] = 0.0
            dv[i] = 0.0
            grad[i] = 0.0

    # LKJCholeskyCov (three or more correlated outcomes): the packed lower Cholesky factor
    # L of the residual covariance, row i at i (i + 1) / 2. With sd_i = |L[i, :]| and
    # cd_i = L[i, i] / sd_i: log p = norm + sum_i (2 eta - 2 + n - i) log cd_i
    # - i log sd_i + log HalfNormal(sd_i; sigma_i).
    ch0 = outcome[2, 1] if o_n > 1 else -1
    if ch0 >= 0:
        eta = prior_a[ch0]
        for i in range(o_n):
            r0 = ch0 + i * (i + 1) // 2
            ss = 0.0
            for j in range(i + 1):
                ss += v[r0 + j] * v[r0 + j]
            sdi = math.sqrt(ss)
            sig = prior_b[r0 + i]
            cf = 2.0 * eta - 2.0 + o_n - i
            lp += cf * (math.log(v[r0 + i]) - math.log(sdi)) - i * math.log(sdi)
            lp += 0.5 * math.log(2.0 / math.pi) - math.log(sig) - 0.5 * (sdi / sig) ** 2
            d_sd = -(cf + i) / sdi - sdi / (sig * sig)
            for j in range(i + 1):
                gv[r0 + j] += d_sd * v[r0 + j] / sdi
            gv[r0 + i] += cf / v[r0 + i]
        lp += _lkj_norm(eta, o_n)

    # Dirichlet blocks through PyMC's simplex transform: u (N - 1), full = [u, -sum u],
    # share = softmax(full); log|J| = log N + N sum(u) - N logsumexp([u + sum(u), 0]).
    share = np.ones((c_n, o_n))
    for bk in range(blocks.shape[0]):
        s0 = blocks[bk, 0]
        nc = blocks[bk, 1]
        c = blocks[bk, 2]
        tot = _simplex(z, s0, nc, share[c], 0)
        a_sum = 0.0
        lp_dir = 0.0
        for j in range(nc):
            a_sum += alpha[bk, j]
            lp_dir += (alpha[bk, j] - 1.0) * math.log(share[c, j]) - math.lgamma(alpha[bk, j])
        lp += lp_dir + math.lgamma(a_sum)
        # Dirichlet term: d/dfull_j = (alpha_j - 1) - share_j (sum alpha - N).
        d_last = (alpha[bk, nc - 1] - 1.0) - share[c, nc - 1] * (a_sum - nc)
        for j in range(nc - 1):
            grad[s0 + j] += (alpha[bk, j] - 1.0) - share[c, j] * (a_sum - nc) - d_last
        # Jacobian: softmax p over [u_j + sum(u)] and 0; d/du_i = N (p_last - p_i).
        m2 = 0.0
        for j in range(nc - 1):
            m2 = max(m2, z[s0 + j] + tot)
        se = math.exp(-m2)
        for j in range(nc - 1):
            se += math.exp(z[s0 + j] + tot - m2)
        lse = m2 + math.log(se)
        lp += math.log(nc) + nc * tot - nc * lse
        p_last = math.exp(-m2) / se
        for j in range(nc - 1):
            p_j = math.exp(z[s0 + j] + tot - m2) / se
            grad[s0 + j] += nc * (p_last - p_j)

    # Adstock weights (normalised over each channel's lags) and their parameter slopes,
    # per channel and adstock column ``a`` (``oa`` above).
    w = np.zeros((c_n, n_a, l_n))
    du_a = np.zeros((c_n, n_a, l_n))
    du_t = np.zeros((c_n, n_a, l_n))
    u_sum = np.zeros((c_n, n_a))
    for c in range(c_n):
        lm = channels[c, _C_LMAX]
        for a in range(n_a):
            al = v[channels[c, _C_ALPHA] + a]
            tot = 0.0
            if channels[c, _C_ADSTOCK] == 0:  # geometric: u_l = alpha ** l
                for lag in range(lm):
                    u = al**lag
                    w[c, a, lag] = u
                    du_a[c, a, lag] = lag * al ** (lag - 1) if lag > 0 else 0.0
                    tot += u
            elif channels[c, _C_ADSTOCK] == 2:
                # Weibull pdf: u_l = S(l) - S(l + 1), S(0) = 1, S(x) = exp(-(x / lam) ** k);
                # ``du_a`` and ``du_t`` hold the slopes in lam and k.
                lam = al
                kk = v[channels[c, _C_THETA] + a]
                s_prev = 1.0
                ds_lam = 0.0
                ds_k = 0.0
                for lag in range(lm):
                    lr = math.log((lag + 1.0) / lam)
                    rk = math.exp(kk * lr)
                    sv = math.exp(-rk)
                    d_lam = sv * kk * rk / lam
                    d_k = -sv * rk * lr
                    w[c, a, lag] = s_prev - sv
                    du_a[c, a, lag] = ds_lam - d_lam
                    du_t[c, a, lag] = ds_k - d_k
                    tot += s_prev - sv
                    s_prev = sv
                    ds_lam = d_lam
                    ds_k = d_k
            else:  # delayed: u_l = alpha ** ((l - theta) ** 2)
                th = v[channels[c, _C_THETA] + a] * channel_f[c, 0]
                la = math.log(al)
                for lag in range(lm):
                    q = (lag - th) * (lag - th)
                    u = math.exp(q * la)
                    w[c, a, lag] = u
                    du_a[c, a, lag] = q * u / al
                    du_t[c, a, lag] = -2.0 * (lag - th) * la * u
                    tot += u
            u_sum[c, a] = tot
            for lag in range(lm):
                w[c, a, lag] /= tot

    # Adstock and saturation, with the saturation's slopes in x and its two parameters.
    h = np.zeros((t_n, c_n, n_a))
    dh_x = np.zeros((t_n, c_n, n_a))
    dh_p1 = np.zeros((t_n, c_n, n_a))
    dh_p2 = np.zeros((t_n, c_n, n_a))
    for c in range(c_n):
        sk, p1, p2 = _saturation_params(channels, v, c)
        lm = channels[c, _C_LMAX]
        for a in range(n_a):
            for t in range(t_n):
                h[t, c, a], dh_x[t, c, a], dh_p1[t, c, a], dh_p2[t, c, a] = _adstock_saturation(
                    lags[t * c_n + c], w[c, a], lm, sk, p1, p2
                )

    # Effect sizes: through ROI, beta = roi * share * ratio / S with S = sum_t h.
    s_tot = np.zeros((c_n, n_a))
    for t in range(t_n):
        for c in range(c_n):
            for a in range(n_a):
                s_tot[c, a] += h[t, c, a]
    beta = np.zeros((c_n, o_n))
    for c in range(c_n):
        for o in range(o_n):
            if channels[c, _C_ROI] >= 0:
                a = oa[o]
                beta[c, o] = v[channels[c, _C_ROI]] * share[c, o] * ratio[c, o] / s_tot[c, a]
            else:
                beta[c, o] = v[channels[c, _C_COEF] + o] * channel_f[c, 1]

    # Mean, centred: mu = level + rest - mean_t(rest).
    rest = np.zeros((t_n, o_n))
    for t in range(t_n):
        for o in range(o_n):
            acc = 0.0
            a = oa[o]
            for c in range(c_n):
                acc += beta[c, o] * h[t, c, a]
            for p in range(p_n):
                acc += v[gamma_ix[p, o]] * h[t, pairs[p, 0], a] * h[t, pairs[p, 1], a]
            for f in range(f_n):
                acc += features[t, f] * v[base[f, o]]
            rest[t, o] = acc
    mu = np.empty((t_n, o_n))
    for o in range(o_n):
        m = 0.0
        for t in range(t_n):
            m += rest[t, o]
        m /= t_n
        for t in range(t_n):
            mu[t, o] = v[outcome[0, o]] + rest[t, o] - m

    # Likelihood and its slope r = dlogp/dmu.
    r = np.zeros((t_n, o_n))
    rho_at = outcome[2, 0]
    if ch0 >= 0:
        # Chained normals (model._correlated_normal): z = L^-1 (y - mu) by forward
        # substitution, log p = sum_k -log L[k, k] - z_k^2 / 2; back through it row by
        # row from the last (``zb`` the slope in z, then in the residual).
        zz = np.zeros(o_n)
        zb = np.zeros(o_n)
        for t in range(t_n):
            for kk in range(o_n):
                r0 = ch0 + kk * (kk + 1) // 2
                acc = y[t, kk] - mu[t, kk]
                for j in range(kk):
                    acc -= v[r0 + j] * zz[j]
                zz[kk] = acc / v[r0 + kk]
                lp += -0.5 * _LOG2PI - math.log(v[r0 + kk]) - 0.5 * zz[kk] * zz[kk]
                zb[kk] = -zz[kk]
            for kk in range(o_n - 1, -1, -1):
                r0 = ch0 + kk * (kk + 1) // 2
                lkk = v[r0 + kk]
                eb = zb[kk] / lkk
                r[t, kk] = -eb
                gv[r0 + kk] += (-zb[kk] * zz[kk] - 1.0) / lkk
                for j in range(kk):
                    gv[r0 + j] -= eb * zz[j]
                    zb[j] -= eb * v[r0 + j]
    elif rho_at < 0:
        for o in range(o_n):
            sd = v[outcome[1, o]]
            g_sd = 0.0
            for t in range(t_n):
                e = (y[t, o] - mu[t, o]) / sd
                lp += -0.5 * _LOG2PI - math.log(sd) - 0.5 * e * e
                r[t, o] = e / sd
                g_sd += (e * e - 1.0) / sd
            gv[outcome[1, o]] += g_sd
    else:
        # y0 ~ N(mu0, s0); y1 ~ N(mu1 + s1 rho z0, s1 sqrt(1 - rho^2)), z0 = (y0 - mu0) / s0.
        s0 = v[outcome[1, 0]]
        s1 = v[outcome[1, 1]]
        rho = 2.0 * v[rho_at] - 1.0
        c1 = math.sqrt(1.0 - rho * rho)
        sc = s1 * c1
        g0 = 0.0
        g1 = 0.0
        g_rho = 0.0
        for t in range(t_n):
            z0 = (y[t, 0] - mu[t, 0]) / s0
            e1 = y[t, 1] - mu[t, 1] - s1 * rho * z0
            q = e1 / (sc * sc)
            lp += -_LOG2PI - math.log(s0) - math.log(sc) - 0.5 * z0 * z0 - 0.5 * e1 * q
            r[t, 1] = q
            r[t, 0] = z0 / s0 - q * s1 * rho / s0
            dsc = -1.0 / sc + e1 * q / sc
            g0 += (z0 * z0 - 1.0) / s0 - q * s1 * rho * z0 / s0
            g1 += dsc * c1 + q * rho * z0
            g_rho += dsc * s1 * (-rho / c1) + q * s1 * z0
        gv[outcome[1, 0]] += g0
        gv[outcome[1, 1]] += g1
        gv[rho_at] += 2.0 * g_rho

    # Back through the centring: level takes sum_t r, the rest r - mean_t r.
    g = np.empty((t_n, o_n))
    for o in range(o_n):
        m = 0.0
        for t in range(t_n):
            m += r[t, o]
        gv[outcome[0, o]] += m
        m /= t_n
        for t in range(t_n):
            g[t, o] = r[t, o] - m
    gh = np.zeros((t_n, c_n, n_a))
    g_beta = np.zeros((c_n, o_n))
    for t in range(t_n):
        for o in range(o_n):
            go = g[t, o]
            a = oa[o]
            for f in range(f_n):
                gv[base[f, o]] += go * features[t, f]
            for c in range(c_n):
                g_beta[c, o] += go * h[t, c, a]
                gh[t, c, a] += go * beta[c, o]
            for p in range(p_n):
                pa = pairs[p, 0]
                pb = pairs[p, 1]
                gm = v[gamma_ix[p, o]]
                gv[gamma_ix[p, o]] += go * h[t, pa, a] * h[t, pb, a]
                gh[t, pa, a] += go * gm * h[t, pb, a]
                gh[t, pb, a] += go * gm * h[t, pa, a]
    # Lift tests: incremental[k] ~ Normal(sum_o w[k, o] inc[k, o], se[k]) with inc the
    # change of the tested channel's main and synergy effects, summed from the test on.
    gw = np.zeros((c_n, n_a, l_n))
    diff = np.zeros((t_n, n_a))
    dm_x = np.zeros((t_n, n_a))
    dm_p1 = np.zeros((t_n, n_a))
    dm_p2 = np.zeros((t_n, n_a))
    gd = np.zeros(o_n)
    for k in range(lift_c.shape[0]):
        c = lift_c[k]
        sk, p1, p2 = _saturation_params(channels, v, c)
        lm = channels[c, _C_LMAX]
        for a in range(n_a):
            for t in range(t_n):
                hm, dm_x[t, a], dm_p1[t, a], dm_p2[t, a] = _adstock_saturation(
                    lift_lags[k * t_n + t], w[c, a], lm, sk, p1, p2
                )
                diff[t, a] = (hm - h[t, c, a]) * lift_after[k, t]
        pred = 0.0
        for o in range(o_n):
            a = oa[o]
            inc = 0.0
            for t in range(t_n):
                inc += diff[t, a] * beta[c, o]
            for p in range(p_n):
                if pairs[p, 0] == c or pairs[p, 1] == c:
                    oth = pairs[p, 1] if pairs[p, 0] == c else pairs[p, 0]
                    for t in range(t_n):
                        inc += diff[t, a] * h[t, oth, a] * v[gamma_ix[p, o]]
            pred += lift_f[k, 2 + o] * inc
        se = lift_f[k, 1]
        e = (lift_f[k, 0] - pred) / se
        lp += -0.5 * _LOG2PI - math.log(se) - 0.5 * e * e
        rk = e / se
        for o in range(o_n):
            gi = rk * lift_f[k, 2 + o]
            if gi == 0.0:
                continue
            a = oa[o]
            for t in range(t_n):
                g_beta[c, o] += gi * diff[t, a]
            for p in range(p_n):
                if pairs[p, 0] == c or pairs[p, 1] == c:
                    oth = pairs[p, 1] if pairs[p, 0] == c else pairs[p, 0]
                    gm = v[gamma_ix[p, o]]
                    for t in range(t_n):
                        gv[gamma_ix[p, o]] += gi * diff[t, a] * h[t, oth, a]
                        gh[t, oth, a] += gi * gm * diff[t, a]
        for t in range(t_n):
            if lift_after[k, t] == 0.0:
                continue
            for a in range(o_n):
                gd[a] = 0.0
            for o in range(o_n):
                a = oa[o]
                gi = rk * lift_f[k, 2 + o]
                gd[a] += gi * beta[c, o]
                for p in range(p_n):
                    if pairs[p, 0] == c or pairs[p, 1] == c:
                        oth = pairs[p, 1] if pairs[p, 0] == c else pairs[p, 0]
                        gd[a] += gi * v[gamma_ix[p, o]] * h[t, oth, a]
            row = k * t_n + t
            for a in range(n_a):
                ga = gd[a] * lift_after[k, t]
                gh[t, c, a] -= ga
                gv[channels[c, _C_SP1]] += ga * dm_p1[t, a]
                if channels[c, _C_SP2] >= 0:
                    gv[channels[c, _C_SP2]] += ga * dm_p2[t, a]
                for lag in range(channels[c, _C_LMAX]):
                    gw[c, a, lag] += ga * dm_x[t, a] * lift_lags[row, lag]

    g_share = np.zeros((c_n, o_n))
    g_s = np.zeros(o_n)
    for c in range(c_n):
        if channels[c, _C_ROI] >= 0:
            roi = v[channels[c, _C_ROI]]
            for a in range(o_n):
                g_s[a] = 0.0
            for o in range(o_n):
                a = oa[o]
                gv[channels[c, _C_ROI]] += g_beta[c, o] * beta[c, o] / roi
                g_share[c, o] = g_beta[c, o] * roi * ratio[c, o] / s_tot[c, a]
                g_s[a] -= g_beta[c, o] * beta[c, o] / s_tot[c, a]
            for a in range(n_a):
                for t in range(t_n):
                    gh[t, c, a] += g_s[a]
        else:
            for o in range(o_n):
                gv[channels[c, _C_COEF] + o] += g_beta[c, o] * channel_f[c, 1]

    # Back through saturation and adstock.
    for c in range(c_n):
        lm = channels[c, _C_LMAX]
        for a in range(n_a):
            for t in range(t_n):
                go = gh[t, c, a]
                ga = go * dh_x[t, c, a]
                gv[channels[c, _C_SP1]] += go * dh_p1[t, c, a]
                if channels[c, _C_SP2] >= 0:
                    gv[channels[c, _C_SP2]] += go * dh_p2[t, c, a]
                row = t * c_n + c
                for lag in range(lm):
                    gw[c, a, lag] += ga * lags[row, lag]
            dot = 0.0
            for lag in range(lm):
                dot += gw[c, a, lag] * w[c, a, lag]
            ga_alpha = 0.0
            ga_theta = 0.0
            for lag in range(lm):
                gu = (gw[c, a, lag] - dot) / u_sum[c, a]
                ga_alpha += gu * du_a[c, a, lag]
                ga_theta += gu * du_t[c, a, lag]
            gv[channels[c, _C_ALPHA] + a] += ga_alpha
            if channels[c, _C_THETA] >= 0:
                gv[channels[c, _C_THETA] + a] += ga_theta * channel_f[c, 0]

    # ROI shares: back through the softmax of each simplex block.
    for bk in range(blocks.shape[0]):
        s0 = blocks[bk, 0]
        nc = blocks[bk, 1]
        c = blocks[bk, 2]
        dot = 0.0
        for j in range(nc):
            dot += share[c, j] * g_share[c, j]
        d_last = share[c, nc - 1] * (g_share[c, nc - 1] - dot)
        for j in range(nc - 1):
            grad[s0 + j] += share[c, j] * (g_share[c, j] - dot) - d_last

    for i in range(n):
        grad[i] += gv[i] * dv[i]
    return lp


@numba.njit(cache=True, error_model="numpy")
def _expand_kernel(z, out, expand):  # pragma: no cover - compiled; tested via expand()
    n = z.shape[0]
    for i in range(n):
        out[i] = z[i]
    for e in range(expand.shape[0]):
        kind = expand[e, 0]
        s0 = expand[e, 1]
        size = expand[e, 2]
        d0 = expand[e, 3]
        if kind == _X_LOG:
            for i in range(size):
                out[d0 + i] = math.exp(z[s0 + i])
        elif kind == _X_LOGODDS:
            for i in range(size):
                out[d0 + i] = _sigmoid(z[s0 + i])
        elif kind == _X_CHOL:  # packed Cholesky factor: exp on the diagonal
            for i in range(size):
                out[d0 + i] = z[s0 + i]
            for i in range(expand[e, 4]):
                out[d0 + i * (i + 3) // 2] = math.exp(z[s0 + i * (i + 3) // 2])
        else:
            nc = expand[e, 4]
            for r in range(size // (nc - 1)):
                _simplex(z, s0 + r * (nc - 1), nc, out, d0 + r * nc)


def logp_and_grad(tables: DensityTables, z: np.ndarray) -> tuple[float, np.ndarray]:
    """Log density and its gradient at the unconstrained point ``z`` (nutpie's layout)."""
    z = np.ascontiguousarray(z, dtype=float)
    grad = np.zeros_like(z)
    lp = _logp_grad_kernel(z, grad, *tables.arrays())
    return float(lp), grad


def expand(tables: DensityTables, z: np.ndarray) -> np.ndarray:
    """nutpie's expanded draw: the point, then the constrained values of transformed
    variables."""
    z = np.ascontiguousarray(z, dtype=float)
    out = np.empty(tables.n_expanded)
    _expand_kernel(z, out, tables.expand)
    return out


# --------------------------------------------------------------------------- callbacks


def user_data(tables: DensityTables) -> np.ndarray:
    """The callbacks' ``user_data``: addresses and extents of the tables' arrays, then the
    expand table's (the arrays must outlive it)."""
    arrays = [*tables.arrays(), tables.expand]
    out = np.zeros(3 * len(arrays), dtype=np.uint64)
    for k, (a, (dtype, ndim)) in enumerate(zip(arrays, _UNPACKED_AS, strict=True)):
        # The callbacks unpack array k with this dtype and rank (_i1, _i2, _f1, _f2).
        if not (a.flags.c_contiguous and a.dtype == dtype and a.ndim == ndim):
            name = (*_ARRAY_FIELDS, "expand")[k]
            raise ValueError(f"table {name} must be a contiguous {dtype} array of rank {ndim}")
        out[3 * k] = a.ctypes.data
        out[3 * k + 1 : 3 * k + 1 + a.ndim] = a.shape
    return out


_N_ARRAYS = len(_ARRAY_FIELDS) + 1
#: dtype and rank of each array in ``user_data`` (``_ARRAY_FIELDS``, then ``expand``), as
#: :func:`_logp_callback` and :func:`_expand_callback` read them.
_UNPACKED_AS = (
    *((np.dtype(np.int64), 1), *[(np.dtype(np.int64), 2)] * 6, (np.dtype(np.int64), 1)),
    *((np.dtype(np.float64), 1), (np.dtype(np.float64), 1)),
    *[(np.dtype(np.float64), 2)] * 9,
    (np.dtype(np.int64), 2),
)


@numba.njit(inline="always")
def _i1(ud, k):  # type: ignore[no-untyped-def]  # pragma: no cover - compiled
    return numba.carray(_as_pointer(ud[3 * k]), (ud[3 * k + 1],), np.int64)


@numba.njit(inline="always")
def _i2(ud, k):  # type: ignore[no-untyped-def]  # pragma: no cover - compiled
    return numba.carray(_as_pointer(ud[3 * k]), (ud[3 * k + 1], ud[3 * k + 2]), np.int64)


@numba.njit(inline="always")
def _f1(ud, k):  # type: ignore[no-untyped-def]  # pragma: no cover - compiled
    return numba.carray(_as_pointer(ud[3 * k]), (ud[3 * k + 1],), np.float64)


@numba.njit(inline="always")
def _f2(ud, k):  # type: ignore[no-untyped-def]  # pragma: no cover - compiled
    return numba.carray(_as_pointer(ud[3 * k]), (ud[3 * k + 1], ud[3 * k + 2]), np.float64)


def _logp_callback(dim, x_, out_, logp_, user_data_):  # type: ignore[no-untyped-def]
    """nutpie's log-density callback (contract of :mod:`omnimmm.mmm.compile`); the
    arrays in ``user_data`` in :data:`_ARRAY_FIELDS` order."""
    ud = numba.carray(_as_pointer(user_data_), (3 * _N_ARRAYS,), np.uint64)
    n = ud[1]
    if dim != n:
        return -1
    x = numba.carray(x_, (n,))
    out = numba.carray(out_, (n,))
    logp = numba.carray(logp_, ())
    lp = _logp_grad_kernel(
        x,
        out,
        _i1(ud, 0),
        _i2(ud, 1),
        _i2(ud, 2),
        _i2(ud, 3),
        _i2(ud, 4),
        _i2(ud, 5),
        _i2(ud, 6),
        _i1(ud, 7),
        _f1(ud, 8),
        _f1(ud, 9),
        _f2(ud, 10),
        _f2(ud, 11),
        _f2(ud, 12),
        _f2(ud, 13),
        _f2(ud, 14),
        _f2(ud, 15),
        _f2(ud, 16),
        _f2(ud, 17),
        _f2(ud, 18),
    )
    logp[()] = lp
    if not np.all(np.isfinite(out)):
        return 3
    if not np.isfinite(lp):
        return 4
    return 0


def _expand_callback(dim, expanded, x_, out_, user_data_):  # type: ignore[no-untyped-def]
    """nutpie's expand callback: the point, then transformed variables' values."""
    ud = numba.carray(_as_pointer(user_data_), (3 * _N_ARRAYS,), np.uint64)
    n = ud[1]
    if dim != n:
        return -1
    table = _i2(ud, _N_ARRAYS - 1)
    x = numba.carray(x_, (n,))
    out = numba.carray(out_, (expanded,))
    _expand_kernel(x, out, table)
    return 0


_COMPILED: dict[str, Any] = {}


def callbacks() -> tuple[Any, Any, bool]:
    """The two numba ``cfunc`` callbacks (compiled once per machine, then from the cache),
    and whether this call compiled them (False: from the disk cache, or made before in
    this process)."""
    if _COMPILED:
        return _COMPILED["logp"], _COMPILED["expand"], False
    f64p = numba.types.CPointer(numba.types.double)
    logp_sig = numba.types.int64(numba.types.uint64, f64p, f64p, f64p, numba.types.voidptr)
    expand_sig = numba.types.int64(
        numba.types.uint64, numba.types.uint64, f64p, f64p, numba.types.voidptr
    )
    _COMPILED["logp"] = numba.cfunc(logp_sig, cache=True)(_logp_callback)
    _COMPILED["expand"] = numba.cfunc(expand_sig, cache=True)(_expand_callback)
    compiled = any(getattr(f, "_cache_hits", 0) == 0 for f in _COMPILED.values())
    return _COMPILED["logp"], _COMPILED["expand"], compiled
