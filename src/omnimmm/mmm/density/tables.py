"""The hand-written density's tables: a PyMC model and its spec as the arrays the kernel reads.

:func:`density_tables` reads the priors' families and parameters from the PyMC model built by
:func:`omnimmm.mmm.model.build_model`, the mean function's structure from the spec, and the
data from the model's shared variables, and lays them out as :class:`DensityTables`: integer
tables of the plan's structure (which coordinate of nutpie's unconstrained point is which
parameter) and float arrays of priors and data. It returns the reason instead of tables for
a model the kernel does not cover. The constants below name the tables' codes and columns;
the kernel (:mod:`omnimmm.mmm.density.forward`, :mod:`omnimmm.mmm.density.gradient`) reads
them as compile-time constants.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from omnimmm.mmm.design import ModelSpec
from omnimmm.transforms import SATURATIONS

__all__ = ["DensityTables", "density_tables"]

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
        Coordinate of each baseline coefficient (columns of ``features``; the moving
        baseline's ramps are features too, its steps their coefficients).
    outcome (7, O)
        Coordinates of ``level`` and ``sigma`` (-1 for three or more correlated
        outcomes) per outcome; row 2: the two-outcome correlation's coordinate in column
        0, the first coordinate of the packed Cholesky factor ``chol_cov`` (three or more
        correlated outcomes; ``prior_a`` holds the LKJ ``eta``, ``prior_b`` the scales'
        HalfNormal sigmas at its diagonal) in column 1, -1 without; row 3: the
        coordinate of each outcome's ``noise_power`` (level noise), -1 for constant noise;
        rows 4-5 (seasonal noise, -1 without): the column of ``features`` where its first
        Fourier column is, and the coordinate of the outcome's first ``noise_season``
        coefficient (harmonic ``j``'s is ``O * j`` further); row 6: the coordinate of each
        outcome's ``noise_df_excess`` (Student-t noise: ``nu = NOISE_DF_MIN + excess``), -1
        for normal noise.
    lift_c (K,)
        The channel of each lift test.
    expand (E, 5)
        How nutpie's expanded draw is made from the point (see :func:`omnimmm.mmm.density.nutpie_glue.expand`),
        ``n_expanded`` long; ``shape_info`` names, slices and shapes its parts as
        nutpie's ``_make_functions`` does.

    Float tables and data
    ---------------------
    prior_a, prior_b (n,), alpha (B, N)
        Prior parameters; ``alpha`` the Dirichlet concentrations.
    channel_f (C, 2)
        Peak-lag scale of ``theta_frac`` (lags - 1 of the kind; 1 for Weibull) and the coefficient
        prior's scale.
    lags (C * L, T)
        Lagged scaled spend, row ``c * L + l`` (channel ``c``'s spend ``l`` weeks back),
        the weeks along the row.
    features (T, F), y (T, O), ratio (C, O)
        Baseline features, scaled outcomes, spend total over outcome scale.
    features_t (F, T)
        ``features`` transposed (the forward pass adds each feature to every week at once).
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
    features_t: np.ndarray
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
    "features_t",
)
#: Positions in :data:`_ARRAY_FIELDS` (and in the tuple of :meth:`DensityTables.arrays`,
#: which the kernel indexes with these constants).
(
    _KINDS,
    _BLOCKS,
    _CHANNELS,
    _PAIRS,
    _GAMMA,
    _BASE,
    _OUTCOME,
    _LIFT_C,
    _PRIOR_A,
    _PRIOR_B,
    _ALPHA,
    _CHANNEL_F,
    _LAGS,
    _FEATURES,
    _Y,
    _RATIO,
    _LIFT_LAGS,
    _LIFT_AFTER,
    _LIFT_F,
    _FEATURES_T,
) = range(len(_ARRAY_FIELDS))
#: dtype and rank of each array of :data:`_ARRAY_FIELDS`, as the kernel reads them.
_ARRAY_TYPES = (
    *((np.dtype(np.int64), 1), *[(np.dtype(np.int64), 2)] * 6, (np.dtype(np.int64), 1)),
    *((np.dtype(np.float64), 1), (np.dtype(np.float64), 1)),
    *[(np.dtype(np.float64), 2)] * 10,
)


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


def _shapes(model: Any) -> dict[str, tuple[int, ...]]:
    """Shapes of the free variables and their value variables, by name.

    Read from the variables' dims and the model's coordinates (a simplex value has one
    category fewer than its variable); nutpie's own ``_compute_shapes``, which compiles two
    PyTensor functions (about 0.3 s, before the chains can start), only where a variable's
    shape is neither in its dims nor static.
    """
    out: dict[str, tuple[int, ...]] = {}
    for rv in model.free_RVs:
        dims = model.named_vars_to_dims.get(rv.name)
        if dims:
            if any(d is None or d not in model.coords for d in dims):
                break
            shape = tuple(len(model.coords[d]) for d in dims)
        elif all(isinstance(d, int) for d in rv.type.shape):
            shape = tuple(int(d) for d in rv.type.shape)
        else:
            break
        transform = model.rvs_to_transforms.get(rv)
        value = model.rvs_to_values[rv]
        name = getattr(transform, "name", None)
        if name == "simplex":
            value_shape = (*shape[:-1], shape[-1] - 1)
        elif name in (None, "log", "logodds"):
            value_shape = shape
        else:
            break
        out[rv.name], out[value.name] = shape, value_shape
    else:
        return out
    from nutpie.compile_pymc import _compute_shapes

    return {k: tuple(int(d) for d in v) for k, v in _compute_shapes(model).items()}


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
    shapes = _shapes(model)
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
        family = _FAMILIES.get((op, tname))
        if family is None:
            return f"prior {op} with transform {tname} on {rv.name}"
        a, b = params[rv.name]
        if op == "GammaRV":
            b = 1.0 / b  # PyMC's GammaRV takes the scale
        kinds[s0 : s0 + size] = family
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
    for ad_kind, ad_ix in layout.adstock_kinds.items():
        l_kind = max(spec.channels[i].l_max for i in ad_ix)
        for j, c in enumerate(ad_ix):
            channels[c, _C_ADSTOCK] = _ADSTOCK[ad_kind]
            channels[c, _C_LMAX] = spec.channels[c].l_max
            if ad_kind == "weibull":  # Weibull pdf weights: scale lam, shape k
                channels[c, _C_ALPHA] = at(f"adstock_{ad_kind}_lam", j * n_a)
                channels[c, _C_THETA] = at(f"adstock_{ad_kind}_k", j * n_a)
                channel_f[c, 0] = 1.0
                continue
            channels[c, _C_ALPHA] = at(f"adstock_{ad_kind}_alpha", j * n_a)
            if ad_kind == "delayed":
                channels[c, _C_THETA] = at(f"adstock_{ad_kind}_theta_frac", j * n_a)
                channel_f[c, 0] = l_kind - 1
    for sat_kind, sat_ix in layout.saturation_groups:
        free = [p for p in SATURATIONS[sat_kind].params if f"saturation_{sat_kind}_{p}" in names]
        for j, c in enumerate(sat_ix):
            channels[c, _C_SAT] = _SATURATION[sat_kind]
            for col, p in zip((_C_SP1, _C_SP2), free, strict=False):
                channels[c, col] = at(f"saturation_{sat_kind}_{p}", j)
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
    cols: list[np.ndarray] = []
    base: list[list[int]] = []
    first_col: dict[str, int] = {}  # each feature block's first column in ``features``
    for feat, name in (
        ("t", "trend"),
        ("fourier", "fourier"),
        ("controls", "control_coef"),
        ("festivals", "festival_coef"),
        ("walk", "baseline_walk"),
    ):
        if name not in names:
            continue
        z = _shared(model, f"data_{feat}")
        assert z is not None
        z = z.reshape(len(y), -1)
        first_col[feat] = len(cols)
        for j in range(z.shape[1]):
            cols.append(z[:, j])
            base.append([at(name, j * n_o + o) for o in range(n_o)])
    outcome = np.full((7, n_o), -1, dtype=np.int64)
    outcome[0] = [at("level", o) for o in range(n_o)]
    if spec.likelihood == "student_t":
        outcome[6] = [at("noise_df_excess", o) for o in range(n_o)]
    if spec.noise == "level":
        outcome[3] = [at("noise_power", o) for o in range(n_o)]
    if spec.seasonal_noise:
        if "fourier" not in first_col:
            return "seasonal noise without the yearly terms"
        outcome[4] = first_col["fourier"]
        outcome[5] = [at("noise_season", o) for o in range(n_o)]
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
    features = np.ascontiguousarray(np.column_stack(cols) if cols else np.zeros((t_n, 0)))
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
        lags=np.ascontiguousarray(lags[:, :, 0, :].transpose(1, 2, 0).reshape(c_n * l_n, t_n)),
        features=features,
        features_t=np.ascontiguousarray(features.T),
        y=np.ascontiguousarray(y),
        ratio=np.ascontiguousarray(ratio),
        lift_lags=lift_lags,
        lift_f=lift_f,
        lift_after=lift_after,
        n_expanded=n_expanded,
        shape_info=(info_names, info_slices, info_shapes),
    )
