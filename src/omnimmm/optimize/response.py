"""Response models: what a next-quarter allocation is worth, per posterior draw.

The optimizer only talks to the small :class:`ResponseModel` protocol, so it can be driven
by the Bayesian MMM's posterior, by the simulator's ground truth, or by anything else that
prices an allocation. :class:`AdstockSaturationResponse` is the reference implementation
for the additive adstock -> saturation -> coefficient family shared by the MMM and the
simulator.

Horizon value (DESIGN.md)
-------------------------
Expected incremental revenue, summed over all outcomes, caused by the horizon's spend,
including its carryover after the horizon, given the adstock already inherited from
history. Each channel's weekly spend follows its weekly pattern over the last
``horizon_weeks`` of history scaled to its total (flat where that quarter was all zero).

For a model whose mean is ``baseline + sum_c beta_c h_c(t) + sum_p gamma_p h_a(t) h_b(t)``
with ``h_c = saturation(adstock(spend_c) / scale_c)`` the baseline cancels, and the value is
the sum over the horizon plus ``L - 1`` tail weeks of the difference between the mean with
history + future spend and the mean with history + zero future spend.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, runtime_checkable

import numpy as np

from omnimmm.transforms import adstock, hill, logistic_saturation, michaelis_menten

__all__ = [
    "AdstockSaturationResponse",
    "ResponseModel",
    "response_from_world",
    "SaturationName",
    "weekly_pattern",
]

SaturationName = Literal["hill", "logistic", "michaelis_menten"]
SATURATION_PARAMS: dict[str, tuple[str, ...]] = {
    "hill": ("half_saturation", "slope"),
    "logistic": ("lam",),
    "michaelis_menten": ("k",),
}
_TINY = 1e-12
_CHUNK_ELEMENTS = 4_000_000


@runtime_checkable
class ResponseModel(Protocol):
    """What the optimizer needs from a model: the value of an allocation, per draw.

    Allocations are totals per channel over the horizon, in currency units, ordered as
    ``channels``. Values are horizon values (see module docstring) per posterior draw.
    """

    @property
    def channels(self) -> tuple[str, ...]:
        """Channel names, in the order of allocation vectors."""
        ...

    @property
    def kinds(self) -> tuple[str, ...]:
        """``"online"`` or ``"offline"`` per channel."""
        ...

    @property
    def outcomes(self) -> tuple[str, ...]:
        """Outcome names (e.g. online and store revenue)."""
        ...

    @property
    def n_draws(self) -> int:
        """Number of posterior draws every value is reported on."""
        ...

    @property
    def horizon_weeks(self) -> int:
        """Length of the planned horizon in weeks."""
        ...

    @property
    def current_allocation(self) -> np.ndarray:
        """Each channel's spend over the last ``horizon_weeks`` of history, shape (C,)."""
        ...

    def horizon_value(self, allocation: np.ndarray) -> np.ndarray:
        """Horizon value per draw: (C,) -> (n_draws,), or (n, C) -> (n, n_draws)."""
        ...

    def horizon_value_by_outcome(self, allocation: np.ndarray) -> np.ndarray:
        """Horizon value per draw and outcome: (C,) -> (n_draws, O), (n, C) -> (n, n_draws, O)."""
        ...

    def horizon_value_and_grad(self, allocation: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Values (n_draws,) and exact gradients (n_draws, C) with respect to the totals."""
        ...

    def weekly_spend(self, allocation: np.ndarray) -> np.ndarray:
        """Weekly spend over the horizon implied by an allocation, shape (horizon_weeks, C)."""
        ...


def weekly_pattern(history_spend: np.ndarray, horizon_weeks: int) -> np.ndarray:
    """Each channel's share of its last-``horizon_weeks`` spend falling in each week.

    Parameters
    ----------
    history_spend : array of shape (T_h, C)
        Weekly spend in currency units, oldest first.
    horizon_weeks : int
        Number of weeks of the planned horizon (and of the reference quarter).

    Returns
    -------
    array of shape (horizon_weeks, C)
        Columns sum to 1; flat ``1 / horizon_weeks`` where a channel spent nothing.
    """
    last = np.asarray(history_spend, dtype=float)[-horizon_weeks:]
    totals = last.sum(axis=0)
    flat = np.full_like(last, 1.0 / horizon_weeks)
    with np.errstate(invalid="ignore", divide="ignore"):
        pattern = np.where(totals > 0, last / np.where(totals > 0, totals, 1.0), flat)
    return pattern


def _saturate(name: str, x: np.ndarray, params: tuple[np.ndarray, ...]) -> np.ndarray:
    if name == "hill":
        return hill(x, params[0], params[1])
    if name == "logistic":
        return logistic_saturation(x, params[0])
    return michaelis_menten(x, 1.0, params[0])


def _saturate_and_slope(
    name: str, x: np.ndarray, params: tuple[np.ndarray, ...]
) -> tuple[np.ndarray, np.ndarray]:
    """Saturation value and its derivative with respect to ``x`` (same shapes as ``x``)."""
    if name == "hill":
        k, s = params
        r = np.maximum(x / k, _TINY)
        rs1 = r ** (s - 1.0)
        rs = rs1 * r
        return rs / (1.0 + rs), s * rs1 / ((1.0 + rs) ** 2 * k)
    if name == "logistic":
        (lam,) = params
        t = np.tanh(0.5 * lam * x)
        return t, 0.5 * lam * (1.0 - t * t)
    (k,) = params
    return x / (k + x), k / (k + x) ** 2


@dataclass(frozen=True, eq=False)
class AdstockSaturationResponse:
    """Additive adstock -> saturation response, vectorised over posterior draws.

    Build it with :meth:`from_arrays`, which validates shapes and promotes single-draw
    parameters; the fields below are the validated arrays. ``D`` draws, ``C`` channels,
    ``O`` outcomes, ``L`` lags, ``P`` synergy pairs.

    Attributes
    ----------
    channels, kinds, outcomes : tuple of str
        Names; kinds are ``"online"`` or ``"offline"``.
    history_spend : array (T_h, C)
        Weekly spend in currency units, oldest first; its last ``horizon_weeks`` rows define
        the current allocation and each channel's weekly pattern.
    adstock_weights : array (D, C, L)
        Lag weights applied to spend (any adstock family expressed as weights).
    spend_scale : array (C,)
        Adstocked spend is divided by this before saturation.
    saturation : {"hill", "logistic", "michaelis_menten"}
        Saturation family (Michaelis-Menten with ``vmax = 1``: the coefficient carries it).
    saturation_params : tuple of arrays (D, C)
        ``(half_saturation, slope)`` for hill, ``(lam,)`` for logistic, ``(k,)`` for
        Michaelis-Menten, in scaled units.
    beta : array (D, C, O)
        Revenue per unit of saturated signal, per outcome.
    synergy_pairs : tuple of (int, int)
        Channel index pairs ``(a, b)`` with an interaction ``gamma * h_a(t) * h_b(t)``.
    synergy_gamma : array (D, P, O)
        Interaction coefficients.
    horizon_weeks : int
        Weeks in the planned horizon.
    """

    channels: tuple[str, ...]
    kinds: tuple[str, ...]
    outcomes: tuple[str, ...]
    history_spend: np.ndarray
    adstock_weights: np.ndarray
    spend_scale: np.ndarray
    saturation: SaturationName
    saturation_params: tuple[np.ndarray, ...]
    beta: np.ndarray
    synergy_pairs: tuple[tuple[int, int], ...]
    synergy_gamma: np.ndarray
    horizon_weeks: int
    _pattern: np.ndarray = field(init=False, repr=False)
    _unit: np.ndarray = field(init=False, repr=False)
    _base: np.ndarray = field(init=False, repr=False)
    _h0: np.ndarray = field(init=False, repr=False)

    # ------------------------------------------------------------------ construction

    @classmethod
    def from_arrays(
        cls,
        *,
        channels: Sequence[str],
        kinds: Sequence[str],
        outcomes: Sequence[str],
        history_spend: np.ndarray,
        adstock_weights: np.ndarray,
        saturation: SaturationName,
        saturation_params: Mapping[str, np.ndarray],
        beta: np.ndarray,
        spend_scale: np.ndarray | None = None,
        synergy_pairs: Sequence[tuple[str, str]] = (),
        synergy_gamma: np.ndarray | None = None,
        horizon_weeks: int = 13,
    ) -> AdstockSaturationResponse:
        """Validate arrays and build a response (the constructor the MMM should use).

        Parameters
        ----------
        channels : sequence of str, length C
        kinds : sequence of {"online", "offline"}, length C
        outcomes : sequence of str, length O
        history_spend : array (T_h, C)
            Observed weekly spend in currency units; ``T_h >= horizon_weeks``.
        adstock_weights : array (D, C, L) or (C, L)
            Lag weights (lag 0 first) applied to spend. Use
            :func:`omnimmm.transforms.geometric_weights` and friends to build them.
        saturation : {"hill", "logistic", "michaelis_menten"}
        saturation_params : mapping of name -> array (D, C) or (C,)
            ``half_saturation`` and ``slope`` (hill), ``lam`` (logistic) or ``k``
            (Michaelis-Menten), in units of ``adstocked spend / spend_scale``.
        beta : array (D, C, O) or (C, O)
            Revenue per unit of saturated signal (for Michaelis-Menten this is ``vmax``).
        spend_scale : array (C,), optional
            Divisor applied to adstocked spend before saturation; default 1.
        synergy_pairs : sequence of (channel, channel)
            Declared interactions, by channel name.
        synergy_gamma : array (D, P, O) or (P, O), optional
            Interaction coefficients; required when ``synergy_pairs`` is not empty.
        horizon_weeks : int, default 13

        Returns
        -------
        AdstockSaturationResponse

        Raises
        ------
        ValueError
            When a shape, a name or a value is inconsistent; the message names the argument.
        """
        channels = tuple(channels)
        kinds = tuple(kinds)
        outcomes = tuple(outcomes)
        n_c, n_o = len(channels), len(outcomes)
        if len(set(channels)) != n_c or n_c == 0:
            raise ValueError(f"channels must be unique and non-empty, got {channels}")
        if len(kinds) != n_c or not set(kinds) <= {"online", "offline"}:
            raise ValueError(
                f"kinds must give 'online' or 'offline' for each of the {n_c} channels, got {kinds}"
            )
        if n_o == 0:
            raise ValueError("outcomes must name at least one outcome")
        if (
            isinstance(horizon_weeks, bool)
            or int(horizon_weeks) != horizon_weeks
            or horizon_weeks < 1
        ):
            raise ValueError(f"horizon_weeks must be a positive integer, got {horizon_weeks!r}")
        horizon_weeks = int(horizon_weeks)

        hist = np.asarray(history_spend, dtype=float)
        if hist.ndim != 2 or hist.shape[1] != n_c:
            raise ValueError(f"history_spend must have shape (T_h, {n_c}), got {hist.shape}")
        if hist.shape[0] < horizon_weeks:
            raise ValueError(
                f"history_spend has {hist.shape[0]} weeks, fewer than horizon_weeks={horizon_weeks}"
            )
        if not np.all(np.isfinite(hist)) or np.any(hist < 0):
            raise ValueError("history_spend must be finite and non-negative")

        w = _promote(adstock_weights, 3, "adstock_weights")
        n_d = w.shape[0]
        if w.shape[1] != n_c or w.shape[2] < 1:
            raise ValueError(f"adstock_weights must have shape (D, {n_c}, L), got {w.shape}")
        if np.any(w < 0):
            raise ValueError("adstock_weights must be non-negative")

        b = _promote(beta, 3, "beta")
        n_d = _common_draws(n_d, b.shape[0], "beta")
        if b.shape[1:] != (n_c, n_o):
            raise ValueError(f"beta must have shape (D, {n_c}, {n_o}), got {b.shape}")

        if saturation not in SATURATION_PARAMS:
            raise ValueError(
                f"saturation must be one of {sorted(SATURATION_PARAMS)}, got {saturation!r}"
            )
        names = SATURATION_PARAMS[saturation]
        missing = set(names) - set(saturation_params)
        extra = set(saturation_params) - set(names)
        if missing or extra:
            raise ValueError(
                f"saturation_params for {saturation!r} must be exactly {names}; "
                f"missing {sorted(missing)}, unexpected {sorted(extra)}"
            )
        sat = []
        for name in names:
            p = _promote(saturation_params[name], 2, f"saturation_params[{name!r}]")
            n_d = _common_draws(n_d, p.shape[0], f"saturation_params[{name!r}]")
            if p.shape[1] != n_c:
                raise ValueError(
                    f"saturation_params[{name!r}] must have shape (D, {n_c}), got {p.shape}"
                )
            if not np.all(p > 0):
                raise ValueError(f"saturation_params[{name!r}] must be > 0")
            sat.append(p)

        scale = np.ones(n_c) if spend_scale is None else np.asarray(spend_scale, dtype=float)
        if scale.shape != (n_c,) or not np.all(scale > 0):
            raise ValueError(f"spend_scale must be {n_c} positive numbers, got {scale}")

        index = {c: i for i, c in enumerate(channels)}
        pairs = []
        for pair in synergy_pairs:
            a, bb = pair
            if a not in index or bb not in index or a == bb:
                raise ValueError(f"synergy pair {pair} must name two different known channels")
            pairs.append((index[a], index[bb]))
        if pairs:
            if synergy_gamma is None:
                raise ValueError("synergy_gamma is required when synergy_pairs are given")
            g = _promote(synergy_gamma, 3, "synergy_gamma")
            n_d = _common_draws(n_d, g.shape[0], "synergy_gamma")
            if g.shape[1:] != (len(pairs), n_o):
                raise ValueError(
                    f"synergy_gamma must have shape (D, {len(pairs)}, {n_o}), got {g.shape}"
                )
        else:
            g = np.zeros((1, 0, n_o))

        def full(a: np.ndarray) -> np.ndarray:
            return np.ascontiguousarray(np.broadcast_to(a, (n_d, *a.shape[1:])))

        return cls(
            channels=channels,
            kinds=kinds,
            outcomes=outcomes,
            history_spend=hist,
            adstock_weights=full(w),
            spend_scale=scale,
            saturation=saturation,
            saturation_params=tuple(full(p) for p in sat),
            beta=full(b),
            synergy_pairs=tuple(pairs),
            synergy_gamma=full(g),
            horizon_weeks=horizon_weeks,
        )

    def __post_init__(self) -> None:
        n_lags = self.adstock_weights.shape[-1]
        h = self.horizon_weeks
        window = h + n_lags - 1
        pattern = weekly_pattern(self.history_spend, h)
        # Future spend of one currency unit per channel, then the tail of zeros.
        unit_spend = np.concatenate([pattern, np.zeros((n_lags - 1, pattern.shape[1]))])
        unit = np.moveaxis(adstock(unit_spend, self.adstock_weights), 0, 1)  # (D, W, C)
        # Adstock inherited from history: the last L - 1 weeks followed by zeros.
        tail = self.history_spend[-(n_lags - 1) :] if n_lags > 1 else self.history_spend[:0]
        past = np.concatenate([tail, np.zeros((window, len(self.channels)))])
        base = np.moveaxis(adstock(past, self.adstock_weights), 0, 1)[:, tail.shape[0] :]
        scale = self.spend_scale
        object.__setattr__(self, "_pattern", pattern)
        object.__setattr__(self, "_unit", unit / scale)
        object.__setattr__(self, "_base", base / scale)
        object.__setattr__(
            self, "_h0", _saturate(self.saturation, base / scale, self._sat_params(None))
        )

    # ------------------------------------------------------------------ protocol

    @property
    def n_draws(self) -> int:
        """Number of posterior draws."""
        return int(self.adstock_weights.shape[0])

    @property
    def current_allocation(self) -> np.ndarray:
        """Each channel's spend over the last ``horizon_weeks`` of history, shape (C,)."""
        return self.history_spend[-self.horizon_weeks :].sum(axis=0)

    def subset(self, draws: np.ndarray) -> AdstockSaturationResponse:
        """The same response on a subset of posterior draws (indices into the draw axis).

        Optional for a :class:`ResponseModel`: the solver uses it, when present, to search
        from many starts on a few draws before polishing on all of them.
        """
        idx = np.asarray(draws, dtype=int)
        return AdstockSaturationResponse(
            channels=self.channels,
            kinds=self.kinds,
            outcomes=self.outcomes,
            history_spend=self.history_spend,
            adstock_weights=self.adstock_weights[idx],
            spend_scale=self.spend_scale,
            saturation=self.saturation,
            saturation_params=tuple(p[idx] for p in self.saturation_params),
            beta=self.beta[idx],
            synergy_pairs=self.synergy_pairs,
            synergy_gamma=self.synergy_gamma[idx],
            horizon_weeks=self.horizon_weeks,
        )

    @property
    def pattern(self) -> np.ndarray:
        """Weekly pattern (horizon_weeks, C) each channel's total is spread with."""
        return self._pattern.copy()

    def weekly_spend(self, allocation: np.ndarray) -> np.ndarray:
        """Weekly spend (horizon_weeks, C) of an allocation: ``total_c * pattern_c``."""
        return self._pattern * self._check_alloc(allocation)[None, :]

    def horizon_value(self, allocation: np.ndarray) -> np.ndarray:
        """Horizon value per draw, summed over outcomes.

        Parameters
        ----------
        allocation : array (C,) or (n, C)
            Spend totals over the horizon.

        Returns
        -------
        array (n_draws,) or (n, n_draws)
        """
        return self.horizon_value_by_outcome(allocation).sum(axis=-1)

    def horizon_value_by_outcome(self, allocation: np.ndarray) -> np.ndarray:
        """Horizon value per draw and outcome: (n_draws, O), or (n, n_draws, O) for (n, C)."""
        alloc = np.asarray(allocation, dtype=float)
        if alloc.ndim == 1:
            return self._by_outcome(self._check_alloc(alloc)[None])[0]
        if alloc.ndim != 2:
            raise ValueError(f"allocation must have shape (C,) or (n, C), got {alloc.shape}")
        if alloc.shape[1] != len(self.channels) or not np.all(np.isfinite(alloc)):
            raise ValueError(
                f"allocations must be finite with one column per channel {self.channels}, "
                f"got shape {alloc.shape}"
            )
        alloc = np.maximum(alloc, 0.0)
        per_row = self._base.size
        step = max(1, _CHUNK_ELEMENTS // max(per_row, 1))
        parts = [self._by_outcome(alloc[i : i + step]) for i in range(0, len(alloc), step)]
        if not parts:
            return np.zeros((0, self.n_draws, len(self.outcomes)))
        return np.concatenate(parts)

    def horizon_value_and_grad(self, allocation: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Horizon value per draw and its exact gradient with respect to the totals.

        Adstock is linear in spend, so the adstocked signal is ``base + total_c * unit_c``
        and the chain rule goes through the saturation slope only.

        Returns
        -------
        values : array (n_draws,)
        grads : array (n_draws, C)
        """
        a = self._check_alloc(allocation)
        x = self._base + a * self._unit
        h, dh = _saturate_and_slope(self.saturation, x, self._sat_params(None))
        b_sum = self.beta.sum(axis=-1)  # (D, C)
        value = np.einsum("dc,dc->d", b_sum, (h - self._h0).sum(axis=1))
        dxa = dh * self._unit  # d h / d total, (D, W, C)
        grad = b_sum * dxa.sum(axis=1)
        if self.synergy_pairs:
            g_sum = self.synergy_gamma.sum(axis=-1)  # (D, P)
            ia, ib = self._pair_index()
            inter = h[:, :, ia] * h[:, :, ib] - self._h0[:, :, ia] * self._h0[:, :, ib]
            value = value + np.einsum("dp,dp->d", g_sum, inter.sum(axis=1))
            da = g_sum * (dxa[:, :, ia] * h[:, :, ib]).sum(axis=1)
            db = g_sum * (h[:, :, ia] * dxa[:, :, ib]).sum(axis=1)
            for p, (i, j) in enumerate(self.synergy_pairs):
                grad[:, i] += da[:, p]
                grad[:, j] += db[:, p]
        return value, grad

    # ------------------------------------------------------------------ internals

    def _sat_params(self, extra_axes: int | None) -> tuple[np.ndarray, ...]:
        """Saturation parameters shaped (D, 1, C) to broadcast over weeks (and batch)."""
        out = tuple(p[:, None, :] for p in self.saturation_params)
        if extra_axes:
            out = tuple(p[None] for p in out)
        return out

    def _pair_index(self) -> tuple[np.ndarray, np.ndarray]:
        ia = np.array([p[0] for p in self.synergy_pairs], dtype=int)
        ib = np.array([p[1] for p in self.synergy_pairs], dtype=int)
        return ia, ib

    def _by_outcome(self, alloc: np.ndarray) -> np.ndarray:
        """Values (n, D, O) for allocations (n, C)."""
        x = self._base[None] + alloc[:, None, None, :] * self._unit[None]
        h = _saturate(self.saturation, x, self._sat_params(1))
        gain = (h - self._h0[None]).sum(axis=2)  # (n, D, C)
        out = np.einsum("ndc,dco->ndo", gain, self.beta)
        if self.synergy_pairs:
            ia, ib = self._pair_index()
            inter = h[..., ia] * h[..., ib] - (self._h0[..., ia] * self._h0[..., ib])[None]
            out = out + np.einsum("ndp,dpo->ndo", inter.sum(axis=2), self.synergy_gamma)
        return out

    def _check_alloc(self, allocation: np.ndarray) -> np.ndarray:
        a = np.asarray(allocation, dtype=float)
        if a.shape != (len(self.channels),):
            raise ValueError(
                f"allocation must have one total per channel {self.channels}, got shape {a.shape}"
            )
        if not np.all(np.isfinite(a)):
            raise ValueError(f"allocation must be finite, got {a}")
        # Solvers may step a hair below zero; spend is clipped, never negative.
        return np.maximum(a, 0.0)


def _promote(a: np.ndarray, ndim: int, name: str) -> np.ndarray:
    arr = np.asarray(a, dtype=float)
    if arr.ndim == ndim - 1:
        arr = arr[None]
    if arr.ndim != ndim:
        raise ValueError(f"{name} must have {ndim} (or {ndim - 1}) dimensions, got {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} must be finite")
    return arr


def _common_draws(n_d: int, other: int, name: str) -> int:
    if other == n_d or other == 1:
        return n_d
    if n_d == 1:
        return other
    raise ValueError(f"{name} has {other} draws but other arrays have {n_d}")


def response_from_world(world: Any, horizon_weeks: int = 13) -> AdstockSaturationResponse:
    """The simulator's true response as a single-draw :class:`AdstockSaturationResponse`.

    Reads only the documented, JSON-able ``world.truth.params`` (adstock weights, scale,
    Hill parameters, coefficients, synergies) and the spend columns of ``world.panel``, so
    that comparing with ``world.truth.horizon_value`` is an independent check of both
    implementations.

    Parameters
    ----------
    world : omnimmm.data.simulate.World
        A simulated world.
    horizon_weeks : int, default 13

    Returns
    -------
    AdstockSaturationResponse
        One draw (the truth).
    """
    params = world.truth.params
    outcomes = tuple(params["outcomes"])
    chan = params["channels"]
    names = tuple(chan)
    n_lags = max(len(chan[c]["adstock_weights"]) for c in names)
    weights = np.zeros((len(names), n_lags))
    for i, c in enumerate(names):
        w = chan[c]["adstock_weights"]
        weights[i, : len(w)] = w
    beta = np.array([[chan[c]["beta"][o] for o in outcomes] for c in names])
    pairs = [tuple(s["channels"]) for s in params.get("synergies", [])]
    gamma = np.array([[s["gamma"][o] for o in outcomes] for s in params.get("synergies", [])])
    history = world.panel[[chan[c]["column"] for c in names]].to_numpy(dtype=float)
    return AdstockSaturationResponse.from_arrays(
        channels=names,
        kinds=[chan[c]["kind"] for c in names],
        outcomes=outcomes,
        history_spend=history,
        adstock_weights=weights,
        saturation="hill",
        saturation_params={
            "half_saturation": np.array([chan[c]["half_saturation"] for c in names]),
            "slope": np.array([chan[c]["slope"] for c in names]),
        },
        beta=beta,
        spend_scale=np.array([chan[c]["scale"] for c in names]),
        synergy_pairs=pairs,
        synergy_gamma=gamma.reshape(len(pairs), len(outcomes)) if pairs else None,
        horizon_weeks=horizon_weeks,
    )
