"""Adstock (carryover) and saturation (diminishing returns) as pure functions.

Every function here runs unchanged on numpy arrays and on pytensor tensors, so the MMM
(which needs symbolic graphs for NUTS), the simulator (numpy ground truth) and the budget
optimizer (gradients through the response) share one definition.

Backend rule
------------
If any argument is a pytensor variable the result is a pytensor variable; otherwise
everything is converted to numpy floating arrays and the result is a numpy array. Python
floats, numpy arrays and pytensor tensors can be mixed freely as parameters.

Shapes
------
Time is always axis 0 of ``x``: ``x`` has shape ``(T,)`` or ``(T, C)`` (more trailing
batch axes are allowed). Weights have shape ``(L,)`` or ``(C, L)``: lags on the last axis,
batch axes broadcast against the trailing axes of ``x``. Per-channel parameters of shape
``(C,)`` therefore apply column-wise to an ``(T, C)`` input.

Adstock is the causal convolution ``y[t] = sum_l w[l] * x[t - l]`` with spend before the
first row taken as zero. Carryover inherited from history is obtained by concatenating
history and future along time before calling :func:`adstock`.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass
from types import ModuleType
from typing import Any, Literal

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

__all__ = [
    "ADSTOCKS",
    "SATURATIONS",
    "AdstockKind",
    "SaturationKind",
    "adstock",
    "delayed_adstock",
    "delayed_weights",
    "geometric_adstock",
    "geometric_weights",
    "hill",
    "logistic_saturation",
    "michaelis_menten",
    "weibull_adstock",
    "weibull_weights",
]

WeibullKind = Literal["pdf", "cdf"]


# --------------------------------------------------------------------------- backend


def _is_symbolic(*args: Any) -> bool:
    """Whether any argument is a pytensor variable (then the pytensor backend is used).

    pytensor is imported only when a caller has already imported it (nothing can be a
    pytensor variable otherwise), so numpy-only users such as the optimizer stay light.
    """
    basic = sys.modules.get("pytensor.graph.basic")
    return basic is not None and any(isinstance(a, basic.Variable) for a in args)


def _backend(*args: Any) -> tuple[ModuleType, list[Any]]:
    """Pick numpy or pytensor from the inputs and convert every input to that backend.

    Returns the array namespace (``numpy`` or ``pytensor.tensor``) and the converted
    arguments in order. Integer inputs become floating so that powers and gradients
    behave.
    """
    if _is_symbolic(*args):
        import pytensor.tensor as pt
        from pytensor.graph.basic import Variable

        out = []
        for a in args:
            v = pt.as_tensor_variable(a) if isinstance(a, Variable) else pt.constant(_np_float(a))
            if not v.dtype.startswith("float"):
                v = pt.cast(v, "float64")
            out.append(v)
        return pt, out
    return np, [_np_float(a) for a in args]


def _np_float(a: Any) -> np.ndarray:
    arr = np.asarray(a)
    if not np.issubdtype(arr.dtype, np.floating):
        arr = arr.astype(np.float64)
    return arr


def _check_l_max(l_max: int) -> int:
    if isinstance(l_max, bool) or not isinstance(l_max, int | np.integer) or l_max < 1:
        raise ValueError(f"l_max must be a positive integer number of lags, got {l_max!r}")
    return int(l_max)


def _normalize(w: Any, normalize: bool) -> Any:
    return w / w.sum(axis=-1, keepdims=True) if normalize else w


# --------------------------------------------------------------------------- weights


def geometric_weights(alpha: Any, l_max: int, normalize: bool = True) -> Any:
    """Geometric decay weights ``w[l] = alpha ** l`` over lags ``0 .. l_max - 1``.

    Parameters
    ----------
    alpha : float, array of shape (C,) or pytensor tensor
        Retention rate per period, in ``[0, 1)``.
    l_max : int
        Number of lags (including lag 0).
    normalize : bool, default True
        Divide by the sum over lags so the weights sum to 1.

    Returns
    -------
    array or tensor of shape ``alpha.shape + (l_max,)``
    """
    l_max = _check_l_max(l_max)
    _, (a,) = _backend(alpha)
    lags = np.arange(l_max, dtype=np.float64)
    w = a[..., None] ** lags
    return _normalize(w, normalize)


def delayed_weights(alpha: Any, theta: Any, l_max: int, normalize: bool = True) -> Any:
    """Delayed-peak weights ``w[l] = alpha ** ((l - theta) ** 2)``, largest at lag ``theta``.

    Parameters
    ----------
    alpha : float, array of shape (C,) or pytensor tensor
        Retention rate in ``(0, 1)``; smaller means a sharper peak.
    theta : float, array of shape (C,) or pytensor tensor
        Lag of the peak effect, in periods (need not be an integer).
    l_max : int
        Number of lags (including lag 0).
    normalize : bool, default True
        Divide by the sum over lags so the weights sum to 1.

    Returns
    -------
    array or tensor of shape ``broadcast(alpha, theta).shape + (l_max,)``
    """
    l_max = _check_l_max(l_max)
    _, (a, th) = _backend(alpha, theta)
    lags = np.arange(l_max, dtype=np.float64)
    w = a[..., None] ** ((lags - th[..., None]) ** 2)
    return _normalize(w, normalize)


def weibull_weights(
    lam: Any, k: Any, l_max: int, kind: WeibullKind = "pdf", normalize: bool = True
) -> Any:
    """Weights shaped by a Weibull distribution of the delay, scale ``lam`` and shape ``k``.

    With survival ``S(u) = exp(-(u / lam) ** k)`` of a Weibull delay ``u`` (in periods):

    * ``kind="pdf"``: ``w[l] = S(l) - S(l + 1)``, the probability that the effect lands in
      period ``l`` (the density integrated over ``[l, l + 1)``; finite for every ``k > 0``).
      ``k > 1`` gives a delayed hump, ``k <= 1`` a monotone decay.
    * ``kind="cdf"``: ``w[l] = S(l) = 1 - F(l)``, the share of the effect still alive at lag
      ``l``; always starts at 1 and decays, faster or slower than geometric depending on
      ``k``.

    Parameters
    ----------
    lam : float, array of shape (C,) or pytensor tensor
        Weibull scale, in periods (> 0).
    k : float, array of shape (C,) or pytensor tensor
        Weibull shape (> 0).
    l_max : int
        Number of lags (including lag 0).
    kind : {"pdf", "cdf"}, default "pdf"
        Which curve gives the weights (see above).
    normalize : bool, default True
        Divide by the sum over lags so the weights sum to 1.

    Returns
    -------
    array or tensor of shape ``broadcast(lam, k).shape + (l_max,)``
    """
    l_max = _check_l_max(l_max)
    if kind not in ("pdf", "cdf"):
        raise ValueError(f"weibull kind must be 'pdf' or 'cdf', got {kind!r}")
    xp, (lam_, k_) = _backend(lam, k)
    # S(0) = 1 exactly; it is kept out of the power so that gradients at u = 0 stay finite.
    n = l_max if kind == "pdf" else l_max - 1
    u = np.arange(1, n + 1, dtype=np.float64)
    surv_pos = xp.exp(-((u / lam_[..., None]) ** k_[..., None]))
    one = xp.ones_like((lam_ * k_)[..., None])
    surv = xp.concatenate([one, surv_pos], axis=-1)
    w = surv[..., :-1] - surv[..., 1:] if kind == "pdf" else surv
    return _normalize(w, normalize)


# --------------------------------------------------------------------------- adstock


def adstock(x: Any, weights: Any) -> Any:
    """Causal convolution of ``x`` with lag weights: ``y[t] = sum_l w[l] * x[t - l]``.

    Spend before the first row is taken as zero. To carry over adstock inherited from
    history, concatenate history and future along axis 0 and slice the result.

    Parameters
    ----------
    x : array or pytensor tensor of shape (T,) or (T, C, ...)
        Spend with time along axis 0.
    weights : array or pytensor tensor of shape (L,) or (C, ..., L)
        Weight of each lag ``0 .. L - 1`` on the last axis; the leading axes broadcast
        against the trailing (non-time) axes of ``x``.

    Returns
    -------
    array or tensor of shape ``(T,) + broadcast(x.shape[1:], weights.shape[:-1])``
        numpy if both inputs are numpy-like, pytensor otherwise.
    """
    xp, (x_, w_) = _backend(x, weights)
    if x_.ndim < 1 or w_.ndim < 1:
        raise ValueError(
            f"adstock needs x with a time axis (ndim >= 1) and weights with a lag axis "
            f"(ndim >= 1); got x.ndim={x_.ndim}, weights.ndim={w_.ndim}"
        )
    # Align batch axes: x (T, *batch) against weights (*wbatch, L), right-aligned.
    extra = w_.ndim - x_.ndim
    if extra > 0:
        x_ = x_[(slice(None),) + (None,) * extra]
    if xp is np:
        return _adstock_numpy(x_, w_)
    return _adstock_pytensor(x_, w_)


def _adstock_numpy(x: np.ndarray, w: np.ndarray) -> np.ndarray:
    n_lags = w.shape[-1]
    pad = np.zeros((n_lags - 1, *x.shape[1:]), dtype=np.result_type(x, w))
    xpad = np.concatenate([pad, x], axis=0)
    # windows[t, ..., j] = xpad[t + j] = x[t - (L - 1 - j)]: lag L-1-j, a view (no copy).
    windows = sliding_window_view(xpad, n_lags, axis=0)
    return np.einsum("t...l,...l->t...", windows, w[..., ::-1], optimize=False)


def _static_n_lags(w: Any) -> int:
    import pytensor.tensor as pt
    from pytensor.tensor.exceptions import NotScalarConstantError

    n = w.type.shape[-1]
    if n is not None:
        return int(n)
    try:
        return int(pt.get_underlying_scalar_constant_value(w.shape[-1]))
    except NotScalarConstantError as err:
        raise ValueError(
            "adstock needs the number of lags (last axis of weights) to be known when the "
            "graph is built; build the weights with geometric_weights/delayed_weights/"
            "weibull_weights or wrap them in pt.specify_shape"
        ) from err


def _adstock_pytensor(x: Any, w: Any) -> Any:
    import pytensor.tensor as pt

    n_lags = _static_n_lags(w)
    n_t = x.shape[0]
    pad = pt.zeros((n_lags - 1, *(x.shape[i] for i in range(1, x.ndim))), dtype=x.dtype)
    xpad = pt.concatenate([pad, x], axis=0)
    # lagged[t, ..., l] = x[t - l]
    lagged = pt.stack(
        [xpad[n_lags - 1 - lag : n_lags - 1 - lag + n_t] for lag in range(n_lags)], axis=-1
    )
    return (lagged * w).sum(axis=-1)


def geometric_adstock(x: Any, alpha: Any, l_max: int = 8, normalize: bool = True) -> Any:
    """Adstock with geometric decay ``alpha ** l`` (see :func:`geometric_weights`)."""
    return adstock(x, geometric_weights(alpha, l_max, normalize))


def delayed_adstock(x: Any, alpha: Any, theta: Any, l_max: int = 13, normalize: bool = True) -> Any:
    """Adstock with a delayed peak at lag ``theta`` (see :func:`delayed_weights`)."""
    return adstock(x, delayed_weights(alpha, theta, l_max, normalize))


def weibull_adstock(
    x: Any,
    lam: Any,
    k: Any,
    l_max: int = 13,
    kind: WeibullKind = "pdf",
    normalize: bool = True,
) -> Any:
    """Adstock with Weibull-shaped lag weights (see :func:`weibull_weights`)."""
    return adstock(x, weibull_weights(lam, k, l_max, kind, normalize))


# --------------------------------------------------------------------------- saturation


def hill(x: Any, half_saturation: Any, slope: Any) -> Any:
    """Hill curve ``x**s / (x**s + K**s)``: 0 at 0, 1/2 at ``x = K``, bounded by 1.

    Computed as ``r**s / (1 + r**s)`` with ``r = x / K`` so large spends in currency units
    do not overflow. ``x`` must be non-negative; the derivative at exactly ``x = 0`` is
    returned as 0, so start gradient-based searches from positive spend.

    Parameters
    ----------
    x : array or pytensor tensor, shape (T,) or (T, C)
        (Adstocked) spend, >= 0.
    half_saturation : float, array of shape (C,) or tensor
        ``K`` > 0, the spend at which half of the maximum effect is reached.
    slope : float, array of shape (C,) or tensor
        ``s`` > 0; ``s > 1`` gives an S-curve, ``s <= 1`` a concave curve.
    """
    xp, (x_, k_, s_) = _backend(x, half_saturation, slope)
    # At exactly x = 0 the value is 0 and the derivative is taken as 0 (the true one-sided
    # derivative is 0 for s > 1 but infinite for s < 1). Evaluating the power at a safe
    # point there keeps gradients with respect to K and s finite where spend is zero,
    # which NUTS needs when a channel has weeks without (adstocked) spend.
    positive = x_ > 0
    rs = (xp.where(positive, x_, 1.0) / k_) ** s_
    return xp.where(positive, rs / (1.0 + rs), 0.0)


def logistic_saturation(x: Any, lam: Any) -> Any:
    """Logistic saturation ``(1 - exp(-lam x)) / (1 + exp(-lam x))``, 0 at 0, below 1.

    Evaluated as the identical ``tanh(lam x / 2)``, which is stable for large ``lam x``.

    Parameters
    ----------
    x : array or pytensor tensor, shape (T,) or (T, C)
        (Adstocked) spend, >= 0.
    lam : float, array of shape (C,) or tensor
        Steepness > 0 (per unit of ``x``).
    """
    xp, (x_, lam_) = _backend(x, lam)
    return xp.tanh(0.5 * lam_ * x_)


def michaelis_menten(x: Any, vmax: Any, k: Any) -> Any:
    """Michaelis-Menten curve ``vmax * x / (k + x)``: 0 at 0, tends to ``vmax``.

    Parameters
    ----------
    x : array or pytensor tensor, shape (T,) or (T, C)
        (Adstocked) spend, >= 0.
    vmax : float, array of shape (C,) or tensor
        The asymptote.
    k : float, array of shape (C,) or tensor
        Spend at which half of ``vmax`` is reached (> 0).
    """
    _, (x_, vmax_, k_) = _backend(x, vmax, k)
    return vmax_ * x_ / (k_ + x_)


# --------------------------------------------------------------------------- registries


@dataclass(frozen=True)
class AdstockKind:
    """An adstock family: its name, its function, its parameter names, its weights.

    ``fn(x, *params, l_max=..., normalize=...)`` applies the adstock;
    ``weights(*params, l_max, normalize)`` gives the lag weights alone.
    """

    name: str
    fn: Callable[..., Any]
    params: tuple[str, ...]
    weights: Callable[..., Any]


@dataclass(frozen=True)
class SaturationKind:
    """A saturation family: its name, its function ``fn(x, *params)``, its parameter names."""

    name: str
    fn: Callable[..., Any]
    params: tuple[str, ...]


ADSTOCKS: dict[str, AdstockKind] = {
    "geometric": AdstockKind("geometric", geometric_adstock, ("alpha",), geometric_weights),
    "delayed": AdstockKind("delayed", delayed_adstock, ("alpha", "theta"), delayed_weights),
    "weibull": AdstockKind("weibull", weibull_adstock, ("lam", "k"), weibull_weights),
}

SATURATIONS: dict[str, SaturationKind] = {
    "hill": SaturationKind("hill", hill, ("half_saturation", "slope")),
    "logistic": SaturationKind("logistic", logistic_saturation, ("lam",)),
    "michaelis_menten": SaturationKind("michaelis_menten", michaelis_menten, ("vmax", "k")),
}
