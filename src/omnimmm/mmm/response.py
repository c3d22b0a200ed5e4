"""The MMM's mean function, written once for pytensor (the model) and numpy (the analysis).

The functions at the top take a backend namespace ``xp`` (``numpy`` or
``pytensor.tensor``) and arrays whose parameter axes may carry leading batch (posterior
draw) axes ``*B``: on pytensor ``B`` is empty, on numpy it is ``(draws,)``. The same code
therefore builds the PyMC graph and evaluates the fitted model on any spend matrix, and a
test checks that both agree on the posterior.

Shapes (``T`` weeks, ``C`` channels, ``O`` outcomes, ``Oa`` = 1 when carryover is shared
across outcomes else ``O``, ``P`` synergy pairs):

* scaled spend ``x``: ``(T, *1, C, 1)``
* saturated adstocked spend ``h``: ``(T, *B, C, Oa)``, in ``[0, 1)``
* main media effect: ``(T, *B, C, O)``; synergy effect: ``(T, *B, P, O)``; baseline
  components: ``(T, *B, O)``; all on the scaled outcome.

:class:`ResponseModel` holds (thinned) posterior draws and evaluates everything in
currency units, vectorised over draws. It is what the analysis and the budget optimizer
use: ``horizon_value(allocations)`` is the optimizer's response function (DESIGN.md).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from types import ModuleType
from typing import Any

import numpy as np
import pandas as pd

from omnimmm.mmm.design import NOISE_HARMONICS, ChannelLayout, ModelSpec, Scaling
from omnimmm.mmm.timevarying import level_knots
from omnimmm.transforms import ADSTOCKS, SATURATIONS, adstock

#: Spend matrices whose media effects a response model keeps (see ResponseModel._remember).
_MEMO_SIZE = 4

__all__ = [
    "FIXED_PARAMS",
    "NOISE_FLOOR",
    "ResponseModel",
    "baseline_terms",
    "adstock_weight_matrix",
    "channel_response",
    "lagged",
    "media_terms",
    "noise_factor",
    "noise_scale",
    "param_names",
    "saturate",
]

#: Parameters held fixed (absorbed by the effect size), by posterior name.
FIXED_PARAMS: dict[str, float] = {"saturation_michaelis_menten_vmax": 1.0}

BASELINE_PARAMS = (
    "intercept",
    "trend",
    "fourier",
    "control_coef",
    "festival_coef",
    "baseline_walk",
)


#: ``[model] noise = "level"``: below about this level (in mean weeks of the scaled outcome)
#: the noise scale stops following the mean down (``level(m) = (m + sqrt(m^2 +
#: NOISE_FLOOR^2)) / 2``).
NOISE_FLOOR = 0.1


def noise_scale(mu: Any, power: Any, xp: ModuleType = np) -> Any:
    """The level noise's factor ``level(mu) ** power`` (``mu`` on the scaled outcome, the
    mean week 1; ``power`` per outcome, broadcast on the last axis).

    ``xp`` is ``numpy`` or ``pytensor.tensor``: the same formula in the graph and after
    sampling (:mod:`omnimmm.mmm.density.forward` writes it out by hand)."""
    level = 0.5 * (mu + xp.sqrt(mu * mu + NOISE_FLOOR * NOISE_FLOOR))
    return xp.exp(power * xp.log(level))


def noise_factor(
    mu: Any, power: Any, fourier: Any, season: Any, nb: int, xp: ModuleType = np
) -> Any:
    """Each week's noise scale ``g`` ``(T, *B, O)``: ``level(mu) ** power`` (level noise)
    times ``exp(fourier[t, :2K] @ season)`` (seasonal noise, ``K`` =
    :data:`~omnimmm.mmm.design.NOISE_HARMONICS`); 1 for constant noise.

    ``mu`` ``(T, *B, O)`` on the scaled outcome; ``power`` ``(*B, O)`` and ``season`` ``(*B,
    2K, O)`` or None; ``fourier`` the weeks' ``(T, 2 * order)`` yearly columns; ``nb`` the
    number of batch axes ``B`` (draws after sampling, none in the graph). The same formula
    in the PyMC graph and after sampling."""
    g = 1.0
    if power is not None:
        g = noise_scale(mu, power[None], xp)
    if season is not None:
        f = fourier[:, : 2 * NOISE_HARMONICS][(slice(None), *(None,) * nb, slice(None), None)]
        g = g * xp.exp((f * season[None]).sum(axis=-2))
    return g


def param_names(layout: ChannelLayout) -> list[str]:
    """Posterior variable names the mean function reads (besides fixed ones)."""
    names = []
    for kind in layout.adstock_kinds:
        names += [f"adstock_{kind}_{p}" for p in ADSTOCKS[kind].params]
    for kind in layout.saturation_kinds:
        names += [f"saturation_{kind}_{p}" for p in SATURATIONS[kind].params]
    names = [n for n in names if n not in FIXED_PARAMS]
    names.append("beta")
    if layout.pairs:
        names.append("gamma")
    return names


def _param(params: Mapping[str, Any], name: str) -> Any:
    return params[name] if name in params else FIXED_PARAMS[name]


def _take(xp: ModuleType, a: Any, idx: Sequence[int] | np.ndarray, axis: int) -> Any:
    return xp.take(a, np.asarray(idx, dtype=np.int64), axis=axis)


def _pad_lags(xp: ModuleType, w: Any, n: int) -> Any:
    if n == 0:
        return w
    z = xp.zeros_like(w[..., :1])
    return xp.concatenate([w] + [z] * n, axis=-1)


def adstock_weight_matrix(
    params: Mapping[str, Any], layout: ChannelLayout, xp: ModuleType, nb: int
) -> Any:
    """Lag weights of every channel, ``(*B, C, Oa, L)`` with ``L = layout.l_max_all``.

    Parameters are read by posterior name with shapes ``(*B, n_kind)`` (shared carryover)
    or ``(*B, n_kind, O)``; shorter lag windows are zero-padded.
    """
    kinds = layout.adstock_kinds
    weights, order = [], []
    for kind, l_max, ix in layout.adstock_groups:
        pos = [kinds[kind].index(i) for i in ix]
        ps = []
        for p in ADSTOCKS[kind].params:
            v = _param(params, f"adstock_{kind}_{p}")
            if pos != list(range(len(kinds[kind]))):  # a subset of the kind's channels
                v = _take(xp, v, pos, nb)
            ps.append(v[..., None] if layout.share_carryover else v)
        w = ADSTOCKS[kind].weights(*ps, l_max=l_max, normalize=True)
        weights.append(_pad_lags(xp, w, layout.l_max_all - l_max))
        order += list(ix)
    w_all = weights[0] if len(weights) == 1 else xp.concatenate(weights, axis=-3)
    if order != sorted(order):
        w_all = _take(xp, w_all, np.argsort(order), -3)
    return w_all


def lagged(x: np.ndarray, n_lags: int) -> np.ndarray:
    """Lagged copies of ``x`` (time on axis 0) on a new last axis: ``out[t, ..., l] = x[t - l]``.

    Spend before the first row is zero, so ``(lagged(x, L) * w).sum(-1)`` equals
    ``adstock(x, w)`` for weights with ``L`` lags.
    """
    x = np.asarray(x, dtype=float)
    out = np.zeros((*x.shape, n_lags))
    for lag in range(n_lags):
        out[lag:, ..., lag] = x[: x.shape[0] - lag]
    return out


def channel_response(
    x: Any,
    params: Mapping[str, Any],
    layout: ChannelLayout,
    xp: ModuleType,
    nb: int,
    lags: Any = None,
) -> Any:
    """Adstock then saturation of every channel: ``h`` of shape ``(T, *B, C, Oa)``.

    Parameters
    ----------
    x : array or tensor of shape (T, *1, C, 1)
        Scaled spend (currency / spend scale), ``nb`` singleton axes after time.
    params : mapping
        Adstock and saturation parameters by posterior name, each of shape
        ``(*B, n_kind)`` or, for unshared carryover, ``(*B, n_kind, O)``.
    layout : ChannelLayout
    xp : module
        ``numpy`` or ``pytensor.tensor``.
    nb : int
        Number of batch axes ``B`` of the parameters.
    lags : array of shape (T, *1, C, 1, L), optional
        ``lagged(x, layout.l_max_all)``; when given the adstock is a product with the lag
        weights instead of a convolution (what the PyMC model uses).
    """
    w_all = adstock_weight_matrix(params, layout, xp, nb)
    # With precomputed lagged spend the adstock is one product and a sum over lags, which
    # keeps the PyMC graph (and nutpie's compile time) small.
    a = adstock(x, w_all) if lags is None else (lags * w_all).sum(axis=-1)
    return saturate(a, params, layout, xp)


def saturate(a: Any, params: Mapping[str, Any], layout: ChannelLayout, xp: ModuleType) -> Any:
    """Saturation of adstocked spend ``a`` ``(T, *B, C, Oa)`` channel by channel."""
    hs, order = [], []
    for kind, ix in layout.saturation_groups:
        a_g = a if len(ix) == len(layout.channels) else _take(xp, a, ix, -2)
        ps = []
        for p in SATURATIONS[kind].params:
            v = _param(params, f"saturation_{kind}_{p}")
            ps.append(v if np.isscalar(v) else v[..., None])
        hs.append(SATURATIONS[kind].fn(a_g, *ps))
        order += list(ix)
    h = hs[0] if len(hs) == 1 else xp.concatenate(hs, axis=-2)
    if order != sorted(order):
        h = _take(xp, h, np.argsort(order), -2)
    return h


def media_terms(h: Any, beta: Any, gamma: Any, layout: ChannelLayout, xp: ModuleType) -> Any:
    """Main effects ``(T, *B, C, O)`` and synergy effects ``(T, *B, P, O)`` (or None).

    ``beta`` has shape ``(*B, C, O)``, ``gamma`` ``(*B, P, O)`` (ignored without pairs).
    """
    main = h * beta
    if not layout.pairs:
        return main, None
    # Basic slices (no gather ops in the PyMC graph): pairs are few.
    prods = [h[..., a : a + 1, :] * h[..., b : b + 1, :] for a, b in layout.pairs]
    syn = (prods[0] if len(prods) == 1 else xp.concatenate(prods, axis=-2)) * gamma
    return main, syn


def baseline_terms(
    features: Mapping[str, np.ndarray], params: Mapping[str, Any], nb: int
) -> dict[str, Any]:
    """Baseline components on the scaled outcome, each broadcastable to ``(T, *B, O)``.

    Keys: ``intercept``, ``trend``, ``seasonality``, ``controls``, ``festivals``, ``level``
    (the moving baseline's drift from its first knot; present only when ``params`` has
    them).
    """
    new = (None,) * nb
    out: dict[str, Any] = {}
    if "intercept" in params:
        out["intercept"] = params["intercept"][None]
    if "trend" in params:
        out["trend"] = features["t"][(slice(None), *new, None)] * params["trend"][None]
    for comp, feat, name in (
        ("seasonality", "fourier", "fourier"),
        ("controls", "controls", "control_coef"),
        ("festivals", "festivals", "festival_coef"),
        ("level", "walk", "baseline_walk"),
    ):
        if name not in params:
            continue
        z = features[feat]
        # Indexing, not reshape, so that ``z`` may be a tensor whose number of weeks is
        # not fixed in the graph (the PyMC model's shared data).
        if not _static_width(z):
            continue
        coef = params[name]
        if isinstance(z, np.ndarray) and isinstance(coef, np.ndarray):
            # (T, K) x (*B, K, O) -> (T, *B, O) without the (T, *B, K, O) product
            out[comp] = np.tensordot(z, coef, axes=([1], [coef.ndim - 2]))
        else:
            zz = z[(slice(None), *new, slice(None), None)]
            out[comp] = (zz * coef[None]).sum(axis=-2)
    return out


def _static_width(z: Any) -> int:
    """Number of columns of a (T, K) array or of a tensor with a static second axis."""
    width = getattr(getattr(z, "type", None), "shape", z.shape)[1]
    if width is None:
        raise ValueError("baseline features need a static number of columns")
    return int(width)


class ResponseModel:
    """Posterior draws of the fitted mean function, evaluated with numpy in currency units.

    Parameters
    ----------
    spec : ModelSpec
    scaling : Scaling
    params : dict of str to numpy.ndarray
        Posterior draws, draw axis first (see :func:`param_names` and
        :data:`BASELINE_PARAMS`; ``sigma`` (O,) and optionally ``chol`` (O, O),
        ``noise_power`` (O,), ``noise_season`` and ``noise_df`` (O,) per draw).
    history : pandas.DataFrame
        Training spend (dates x channels, currency), used for inherited carryover.
    horizon_weeks : int, default 13
        Planning horizon for :meth:`horizon_value` and :meth:`current_allocation`.
    """

    def __init__(
        self,
        spec: ModelSpec,
        scaling: Scaling,
        params: Mapping[str, np.ndarray],
        history: pd.DataFrame,
        horizon_weeks: int = 13,
    ) -> None:
        self.spec = spec
        self.scaling = scaling
        self.layout = spec.layout()
        self.params = {k: np.asarray(v, dtype=float) for k, v in params.items()}
        self.history = history[spec.channel_names].astype(float)
        self.horizon_weeks = int(horizon_weeks)
        self._spend_scale = np.asarray(scaling.spend_scale)
        self._y_scale = np.asarray(scaling.outcome_scale)
        # The analysis asks for the media effects of the same spend (the training weeks)
        # again and again (ROI, mROI, decomposition, fit, checks): the last few are kept,
        # read-only, by the spend's bytes.
        self._memo: dict[tuple[str, bytes], Any] = {}

    @classmethod
    def from_posterior(
        cls,
        posterior: Any,
        spec: ModelSpec,
        scaling: Scaling,
        history: pd.DataFrame,
        max_draws: int | None = 1000,
        horizon_weeks: int = 13,
    ) -> ResponseModel:
        """Build from an xarray posterior (chain, draw, ...), thinned to ``max_draws``.

        Thinning keeps every k-th draw of the stacked chains, so it is deterministic.
        """
        stacked = posterior.stack(sample=("chain", "draw"))
        n = stacked.sizes["sample"]
        step = 1 if max_draws is None or n <= max_draws else int(np.ceil(n / max_draws))
        noise = ["sigma", "chol", "noise_power", "noise_season", "noise_df"]
        names = param_names(spec.layout()) + [*BASELINE_PARAMS, *noise]
        params = {}
        for name in names:
            if name in stacked:
                da = stacked[name].transpose("sample", ...)
                params[name] = da.to_numpy()[::step]
        return cls(spec, scaling, params, history, horizon_weeks)

    # ------------------------------------------------------------------ evaluation

    @property
    def n_draws(self) -> int:
        """Number of posterior draws held."""
        return int(self.params["beta"].shape[0])

    @property
    def channels(self) -> tuple[str, ...]:
        """Channel names, the column order of every spend matrix."""
        return tuple(self.spec.channel_names)

    @property
    def outcomes(self) -> tuple[str, ...]:
        """Outcome names."""
        return tuple(self.spec.outcomes)

    def _remember(self, kind: str, spend: np.ndarray, make: Any) -> Any:
        """``make()``, or what it gave before for the same ``kind`` and spend (read-only)."""
        x = np.ascontiguousarray(spend, dtype=float)
        key = (kind, repr(x.shape).encode() + hashlib.blake2b(x.tobytes()).digest())
        if key not in self._memo:
            value = make()
            for arr in value if isinstance(value, tuple) else (value,):
                if isinstance(arr, np.ndarray):
                    arr.flags.writeable = False
            if len(self._memo) >= _MEMO_SIZE:
                self._memo.pop(next(iter(self._memo)))
            self._memo[key] = value
        return self._memo[key]

    def saturation(self, spend: np.ndarray) -> np.ndarray:
        """``h`` of shape ``(T, D, C, Oa)`` for a spend matrix ``(T, C)`` in currency
        (read-only: the same array for the same spend)."""

        def make() -> np.ndarray:
            x = np.asarray(spend, dtype=float) / self._spend_scale
            x = x[:, None, :, None]
            return np.asarray(channel_response(x, self.params, self.layout, np, 1))

        return self._remember("h", spend, make)

    def media(self, spend: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        """Main ``(T, D, C, O)`` and synergy ``(T, D, P, O)`` effects in currency
        (read-only: the same arrays for the same spend)."""

        def make() -> tuple[np.ndarray, np.ndarray | None]:
            h = self.saturation(spend)
            beta, gamma = self.params["beta"], self.params.get("gamma")
            main, syn = media_terms(h, beta, gamma, self.layout, np)
            main = main * self._y_scale
            return main, (None if syn is None else syn * self._y_scale)

        return self._remember("media", spend, make)

    def media_total(self, spend: np.ndarray) -> np.ndarray:
        """All media effects summed over channels and pairs: ``(T, D, O)`` in currency."""
        main, syn = self.media(spend)
        total = main.sum(axis=-2)
        return total if syn is None else total + syn.sum(axis=-2)

    def baseline(self, features: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Baseline components ``(T, D, O)`` in currency (see :func:`baseline_terms`)."""
        n_t = len(features["t"])
        shape = (n_t, self.n_draws, len(self.spec.outcomes))
        terms = baseline_terms(features, self.params, 1)
        return {k: np.broadcast_to(v * self._y_scale, shape) for k, v in terms.items()}

    def mean(self, spend: np.ndarray, features: Mapping[str, np.ndarray]) -> np.ndarray:
        """Fitted mean ``(T, D, O)`` in currency for spend ``(T, C)`` and baseline features."""
        total = self.media_total(spend)
        for v in self.baseline(features).values():
            total = total + v
        return total

    def noise(
        self,
        n_t: int,
        rng: np.random.Generator,
        mean: np.ndarray | None = None,
        features: Mapping[str, np.ndarray] | None = None,
    ) -> np.ndarray:
        """Draws of the observation noise ``(T, D, O)`` in currency (correlated if fitted).

        With level noise (``[model] noise = "level"``) each draw's noise grows with its own
        expected outcome ``mean`` ``(T, D, O)`` in currency, which is then required; with
        seasonal noise (``seasonal_noise``) it follows the weeks' yearly terms, so the
        weeks' baseline ``features`` are required. With Student-t noise (``likelihood =
        "student_t"``) the whitened draws are Student-t with each draw's ``noise_df``."""
        shape = (n_t, self.n_draws, len(self.spec.outcomes))
        df = self.params.get("noise_df")
        z = rng.standard_normal(shape) if df is None else rng.standard_t(np.broadcast_to(df, shape))
        if "chol" in self.params:
            eps = np.einsum("dij,tdj->tdi", self.params["chol"], z)
        else:
            eps = z * self.params["sigma"]
        power, season = self.params.get("noise_power"), self.params.get("noise_season")
        if power is not None and mean is None:
            raise ValueError("level noise needs each draw's expected outcome (mean=)")
        if season is not None and features is None:
            raise ValueError("seasonal noise needs the weeks' baseline features (features=)")
        if power is not None or season is not None:
            mu = None if mean is None else mean / self._y_scale
            fourier = None if features is None else features["fourier"][:n_t]
            eps = eps * noise_factor(mu, power, fourier, season, 1)
        return eps * self._y_scale

    def level_drift(self, n_t: int, rng: np.random.Generator) -> np.ndarray:
        """Draws of the moving baseline's drift over ``n_t`` weeks past the data ``(T, D, O)``.

        The random walk goes on past the last knot: week ``k`` after the data has moved by
        a sum of ``k`` weekly steps of variance ``tau^2 / w`` (``w`` the knot spacing in
        weeks), with ``tau`` each draw's root mean square step over the training knots, so
        the walk keeps moving as much as it moved while fitted (little where the data held
        it still). Mean zero: the forecast holds the last level and its interval widens
        with the horizon. Zeros for a fixed baseline. In currency.
        """
        n_o = len(self.spec.outcomes)
        if "baseline_walk" not in self.params or n_t == 0:
            return np.zeros((n_t, self.n_draws, n_o))
        knots = level_knots(self.scaling.t_span_days, self.spec.baseline_knot_weeks)
        spacing = self.scaling.t_span_days / 7.0 / (knots - 1)
        steps = self.params["baseline_walk"]  # (D, K - 1, O)
        tau = np.sqrt((steps**2).mean(axis=1)) / np.sqrt(spacing)  # (D, O) per week
        walk = np.cumsum(rng.standard_normal((n_t, self.n_draws, n_o)), axis=0)
        return walk * tau * self._y_scale

    # ------------------------------------------------------------------ horizon value

    @property
    def kinds(self) -> tuple[str, ...]:
        """``"online"`` or ``"offline"`` per channel."""
        return tuple(c.kind for c in self.spec.channels)

    @property
    def current_allocation(self) -> np.ndarray:
        """Each channel's spend over the last ``horizon_weeks`` of history, shape (C,)."""
        return self.history.iloc[-self.horizon_weeks :].to_numpy().sum(axis=0)

    def weekly_spend(self, allocation: np.ndarray) -> np.ndarray:
        """Weekly spend ``(..., H, C)`` for totals ``(..., C)``.

        Each channel follows its last-quarter weekly pattern scaled to its total, flat
        where the last quarter had no spend.
        """
        last = self.history.iloc[-self.horizon_weeks :].to_numpy()
        tot = last.sum(axis=0)
        share = np.where(tot > 0, last / np.where(tot > 0, tot, 1.0), 1.0 / self.horizon_weeks)
        alloc = np.asarray(allocation, dtype=float)
        return alloc[..., None, :] * share

    def horizon_value_by_outcome(self, allocation: Any) -> np.ndarray:
        """Horizon value per draw and outcome: ``(D, O)``, or ``(K, D, O)`` for (K, C).

        Expected incremental revenue caused by a horizon allocation, including the
        carryover after the horizon and the adstock inherited from history (DESIGN.md
        "Horizon value"); incremental against zero spend in the horizon.

        Parameters
        ----------
        allocation : mapping of channel to total, array (C,) or array (K, C)
            Total spend per channel over the next ``horizon_weeks``, in currency.
        """
        if isinstance(allocation, Mapping):
            allocation = [float(allocation.get(c, 0.0)) for c in self.channels]
        alloc = np.asarray(allocation, dtype=float)
        single = alloc.ndim == 1
        alloc = np.atleast_2d(alloc)
        if alloc.ndim != 2 or alloc.shape[1] != len(self.channels):
            raise ValueError(
                f"allocations need {len(self.channels)} columns ({self.channels}), "
                f"got shape {np.shape(allocation)}"
            )
        lag = self.layout.l_max_all - 1
        hist = self.history.to_numpy()[len(self.history) - lag :]
        tail = np.zeros((lag, len(self.channels)))
        zero_future = np.zeros((self.horizon_weeks, len(self.channels)))
        base = self.media_total(np.vstack([hist, zero_future, tail]))[len(hist) :].sum(axis=0)
        out = np.empty((alloc.shape[0], self.n_draws, len(self.spec.outcomes)))
        for k, fut in enumerate(self.weekly_spend(np.maximum(alloc, 0.0))):
            full = np.vstack([hist, fut, tail])
            out[k] = self.media_total(full)[len(hist) :].sum(axis=0) - base
        return out[0] if single else out

    def horizon_value(self, allocation: Any) -> np.ndarray:
        """Horizon value summed over outcomes: ``(D,)``, or ``(K, D)`` for (K, C)."""
        return self.horizon_value_by_outcome(allocation).sum(axis=-1)
