"""Convergence diagnostics, the quality gate of DESIGN.md, and posterior predictive checks.

The gate: max R-hat <= 1.01, min bulk ESS >= 400, divergences <= 0.1% of draws, and a
holdout MAPE that is reported. A model that fails raises
:class:`omnimmm.errors.QualityGateError` naming each failed check with its measured value
and a numbered list of things to try (lifelines style), unless the plan allows failure.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

import numpy as np
import pandas as pd

from omnimmm.errors import QualityGateError, numbered

__all__ = ["DEFAULT_GATE", "Diagnostics", "GateResult", "convergence", "ppc", "quality_gate"]

#: Gate thresholds of DESIGN.md, used without a plan.
DEFAULT_GATE = SimpleNamespace(
    rhat_max=1.01, ess_bulk_min=400.0, divergence_rate_max=0.001, allow_failure=False
)

_APPROXIMATE = ("advi", "pathfinder")


@dataclass(frozen=True)
class Diagnostics:
    """Convergence summary of a fit.

    Attributes
    ----------
    rhat_max, ess_bulk_min, ess_tail_min : float
        Over every scalar of every posterior variable (NaN when not computable).
    divergences : int
        Divergent transitions after tuning.
    n_draws, n_chains : int
        Draws per chain and chains.
    sampler : str
        Sampler used; approximate fits (ADVI, pathfinder) cannot pass the gate.
    worst_rhat, worst_ess : str
        Variable with the largest R-hat and with the smallest bulk ESS.
    """

    rhat_max: float
    ess_bulk_min: float
    ess_tail_min: float
    divergences: int
    n_draws: int
    n_chains: int
    sampler: str
    worst_rhat: str = ""
    worst_ess: str = ""

    @property
    def divergence_rate(self) -> float:
        """Divergences as a share of all post-tuning draws."""
        return self.divergences / max(self.n_draws * self.n_chains, 1)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dictionary (NaN written as None)."""
        out = {
            "rhat_max": self.rhat_max,
            "ess_bulk_min": self.ess_bulk_min,
            "ess_tail_min": self.ess_tail_min,
            "divergences": self.divergences,
            "divergence_rate": self.divergence_rate,
            "n_draws": self.n_draws,
            "n_chains": self.n_chains,
            "sampler": self.sampler,
            "worst_rhat": self.worst_rhat,
            "worst_ess": self.worst_ess,
        }
        return {k: (None if isinstance(v, float) and np.isnan(v) else v) for k, v in out.items()}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Diagnostics:
        """Inverse of :meth:`to_dict`."""
        nan = float("nan")
        return cls(
            rhat_max=nan if d["rhat_max"] is None else d["rhat_max"],
            ess_bulk_min=nan if d["ess_bulk_min"] is None else d["ess_bulk_min"],
            ess_tail_min=nan if d["ess_tail_min"] is None else d["ess_tail_min"],
            divergences=d["divergences"],
            n_draws=d["n_draws"],
            n_chains=d["n_chains"],
            sampler=d["sampler"],
            worst_rhat=d.get("worst_rhat", ""),
            worst_ess=d.get("worst_ess", ""),
        )


_LABELS = {
    "roi_total": "ROI",
    "roi_share": "ROI share",
    "coef_raw": "media effect",
    "gamma": "synergy",
    "level": "base level",
    "trend": "trend",
    "fourier": "seasonality",
    "control_coef": "control effect",
    "festival_coef": "festival effect",
    "sigma": "noise",
    "noise_power": "noise growth with level",
    "noise_df": "noise tail weight (degrees of freedom)",
    "noise_season": "noise over the year",
    "lift": "lift-test effect",
}
_TRANSFORMS = ("_log__", "_logodds__", "_interval__", "_simplex__", "_cholesky-cov-packed__")


def _readable(var: str, ds: Any, flat_index: int) -> str:
    """A user-facing name for one element of a posterior variable: the channel, outcome or
    synergy it belongs to, not the sampler's internal name (``roi_total_log__``)."""
    base = var
    for suffix in _TRANSFORMS:
        base = base.removesuffix(suffix)
    da = ds[var]
    # the transformed variable often lacks dims: take them from the constrained one
    ref = ds[base] if base in ds.data_vars and ds[base].shape == da.shape else da
    parts = []
    if ref.ndim:
        for dim, k in zip(ref.dims, np.unravel_index(flat_index, ref.shape), strict=True):
            value = ref[dim].values[k] if dim in ref.coords else k
            kind = "channel" if str(dim).startswith("channel") else str(dim).replace("_", " ")
            parts.append(f"{kind} {value}")
    label = _LABELS.get(base, base.replace("_", " "))
    return label + (f" of {', '.join(parts)}" if parts else "")


def convergence(idata: Any, sampler: str = "nutpie") -> Diagnostics:
    """Compute R-hat, bulk/tail ESS and divergences over the posterior's varying quantities.

    The statistics are ArviZ's (``az.rhat`` rank-normalised split R-hat, ``az.ess`` bulk and
    tail), computed for all scalars at once by :func:`rhat_ess` (the same numbers, in a
    fraction of the time: ArviZ loops over scalars in Python).
    """
    post = idata.posterior
    n_chains, n_draws = int(post.sizes["chain"]), int(post.sizes["draw"])
    div = 0
    if "sample_stats" in idata.groups() and "diverging" in idata.sample_stats:
        div = int(np.asarray(idata.sample_stats["diverging"]).sum())
    if n_chains < 2 or n_draws < 4:
        nan = float("nan")
        return Diagnostics(nan, nan, nan, div, n_draws, n_chains, sampler)
    # Quantities that never move (a channel's fixed-zero cross effect, say) are not sampled:
    # they are left out, and numpy's 0/0 for their elements is not a warning the user
    # should see (their R-hat and ESS come out NaN and _extreme skips NaN).
    varying = [v for v, da in post.data_vars.items() if float(da.std()) > 0]
    post = post[varying]
    blocks = [
        np.asarray(da.transpose("chain", "draw", ...).values, dtype=float).reshape(
            n_chains, n_draws, -1
        )
        for da in post.data_vars.values()
    ]
    draws = np.moveaxis(np.concatenate(blocks, axis=2), 2, 0) if blocks else None
    if draws is None:
        nan = float("nan")
        return Diagnostics(nan, nan, nan, div, n_draws, n_chains, sampler)
    rhat, ess_bulk, ess_tail = rhat_ess(draws)
    sizes = np.cumsum([0] + [b.shape[2] for b in blocks])

    def per_var(values: np.ndarray) -> Any:
        return {v: values[sizes[i] : sizes[i + 1]] for i, v in enumerate(varying)}

    names = post.isel(chain=0, draw=0, drop=True)  # what each flat index names
    rhat_max, worst_rhat = _extreme(per_var(rhat), names, largest=True)
    ess_min, worst_ess = _extreme(per_var(ess_bulk), names, largest=False)
    tail_min, _ = _extreme(per_var(ess_tail), names, largest=False)
    return Diagnostics(
        rhat_max, ess_min, tail_min, div, n_draws, n_chains, sampler, worst_rhat, worst_ess
    )


def _extreme(values: dict[str, np.ndarray], ds: Any, largest: bool) -> tuple[float, str]:
    """The largest (or smallest) finite value over all variables and its readable name;
    ``values`` holds each variable's statistics flat, row-major over its non-sample
    dimensions in ``ds``'s order."""
    best, name = float("nan"), ""
    for var, vals in values.items():
        finite = np.isfinite(vals)
        if not finite.any():
            continue
        masked = np.where(finite, vals, -np.inf if largest else np.inf)
        i = int(np.argmax(masked) if largest else np.argmin(masked))
        v = float(masked[i])
        if np.isnan(best) or (v > best if largest else v < best):
            best, name = v, _readable(var, ds, i)
    return best, name


def rhat_ess(draws: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """ArviZ's rank-normalised split R-hat and bulk and tail ESS of many scalars at once.

    Parameters
    ----------
    draws : numpy.ndarray
        ``(K, chain, draw)``: K scalar quantities (at least 2 chains and 4 draws).

    Returns
    -------
    tuple of numpy.ndarray
        ``rhat``, ``ess_bulk``, ``ess_tail``, each ``(K,)``; NaN for a quantity with a NaN
        draw (as ArviZ). ``az.rhat(method="rank")``, ``az.ess(method="bulk")`` and
        ``az.ess(method="tail")`` (Vehtari et al. 2021) with the same formulas, the
        expensive steps (ranks, normal quantiles, autocovariances) done for all K in one
        call each; they agree with ArviZ to rounding (``tests/test_diagnostics_fast.py``).
    """
    from arviz.stats.stats_utils import quantile as r_quantile

    x = np.asarray(draws, dtype=float)
    split = _split_chains(x)
    bad = np.isnan(x).reshape(len(x), -1).any(axis=1)
    flat = split.reshape(len(x), -1)
    z_bulk = _z_scale(flat).reshape(split.shape)
    folded = np.abs(flat - np.median(flat, axis=1, keepdims=True))
    z_tail = _z_scale(folded).reshape(split.shape)
    with np.errstate(divide="ignore", invalid="ignore"):
        rhat = np.maximum(_rhat(z_bulk), _rhat(z_tail))
        ess_bulk = _ess(z_bulk)
        below = np.empty((2, *split.shape))
        for k in range(len(x)):
            if bad[k]:
                below[:, k] = np.nan
                continue
            (low,) = r_quantile(x[k], 0.05)
            (high,) = r_quantile(x[k], 0.95)
            below[0, k] = _split_chains(x[k][None] <= low)[0]
            below[1, k] = _split_chains(x[k][None] <= high)[0]
        ess_tail = np.minimum(_ess(below[0]), _ess(below[1]))
    nan = np.full(len(x), np.nan)
    return np.where(bad, nan, rhat), np.where(bad, nan, ess_bulk), np.where(bad, nan, ess_tail)


def _split_chains(x: np.ndarray) -> np.ndarray:
    """``(K, chain, draw)`` -> ``(K, 2 * chain, draw // 2)``: each chain's first and last
    halves as chains of their own (the middle draw of an odd count dropped)."""
    half = x.shape[2] // 2
    return np.concatenate([x[:, :, :half], x[:, :, x.shape[2] - half :]], axis=1)


def _z_scale(flat: np.ndarray) -> np.ndarray:
    """Rank-normalised values of each row: average ranks, Blom's offset, normal quantile
    (``scipy.special.ndtri``, which ``scipy.stats.norm.ppf`` evaluates)."""
    from scipy import special

    c = 3 / 8
    return np.asarray(special.ndtri((_average_ranks(flat) - c) / (flat.shape[1] - 2 * c + 1)))


def _average_ranks(x: np.ndarray) -> np.ndarray:
    """``scipy.stats.rankdata(x, method="average", axis=1)``: ranks 1..n along each row.
    Continuous draws have no ties, and then one argsort per row gives the ranks (scipy's
    general routine takes most of the diagnostics' time); with a tie, scipy's routine."""
    order = np.argsort(x, axis=1)
    xs = np.take_along_axis(x, order, axis=1)
    if (xs[:, 1:] == xs[:, :-1]).any():
        from scipy import stats

        return np.asarray(stats.rankdata(x, method="average", axis=1), dtype=float)
    ranks = np.empty(x.shape)
    np.put_along_axis(
        ranks, order, np.broadcast_to(np.arange(1.0, x.shape[1] + 1), x.shape), axis=1
    )
    return ranks


def _svar(x: np.ndarray, ddof: int) -> np.ndarray:
    """Variance along the last axis as ArviZ's ``stats_variance_1d`` (running sums, in
    order), so the numbers are its numbers."""
    n = x.shape[-1]
    s1 = np.add.accumulate(x, axis=-1)[..., -1]
    s2 = np.add.accumulate(x * x, axis=-1)[..., -1]
    return (s2 / n - (s1 / n) ** 2) * (n / (n - ddof))


def _rhat(z: np.ndarray) -> np.ndarray:
    """Split R-hat of ``(K, chain, draw)`` (ArviZ's ``_rhat`` per quantity)."""
    n = z.shape[2]
    between = n * _svar(z.mean(axis=2), ddof=1)
    within = _svar(z, ddof=1).mean(axis=1)
    return np.sqrt((between / within + n - 1) / n)


def _ess(x: np.ndarray) -> np.ndarray:
    """ESS of ``(K, chain, draw)`` with Geyer's initial monotone sequence (ArviZ's ``_ess``
    per quantity; the autocovariances of all quantities in one FFT)."""
    from scipy.fft import next_fast_len

    k_n, m_chain, n = x.shape
    centred = x - x.mean(axis=2, keepdims=True)
    m = next_fast_len(2 * n)
    f = np.fft.rfft(centred, n=m, axis=2)
    f *= np.conjugate(f)
    acov = np.fft.irfft(f, n=m, axis=2)[:, :, :n] / n
    mean_acov = acov.mean(axis=1)  # (K, n)
    mean_var = mean_acov[:, 0] * n / (n - 1.0)
    var_plus = mean_var * (n - 1.0) / n
    if m_chain > 1:
        var_plus = var_plus + _svar(x.mean(axis=2), ddof=1)
    rho = 1.0 - (mean_var[:, None] - mean_acov) / var_plus[:, None]
    constant = (x.max(axis=(1, 2)) - x.min(axis=(1, 2))) < np.finfo(float).resolution
    out = np.empty(k_n)
    for k in range(k_n):
        out[k] = float(m_chain * n) if constant[k] else _geyer(rho[k], m_chain * n)
    return out


def _geyer(rho: np.ndarray, size: int) -> float:
    """ESS from one quantity's autocorrelations ``rho`` (lag 0, 1, ...; ArviZ's loop)."""
    n = rho.shape[0]
    rho_t = np.zeros(n)
    even, odd = 1.0, float(rho[1])
    rho_t[0], rho_t[1] = even, odd
    t = 1
    while t < (n - 3) and (even + odd) > 0.0:
        even, odd = float(rho[t + 1]), float(rho[t + 2])
        if (even + odd) >= 0:
            rho_t[t + 1], rho_t[t + 2] = even, odd
        t += 2
    max_t = t - 2
    if even > 0:
        rho_t[max_t + 1] = even
    t = 1
    while t <= max_t - 2:
        if (rho_t[t + 1] + rho_t[t + 2]) > (rho_t[t - 1] + rho_t[t]):
            rho_t[t + 1] = (rho_t[t - 1] + rho_t[t]) / 2.0
            rho_t[t + 2] = rho_t[t + 1]
        t += 2
    tau = -1.0 + 2.0 * np.sum(rho_t[: max_t + 1]) + np.sum(rho_t[max_t + 1 : max_t + 2])
    tau = max(tau, 1 / np.log10(size))
    return float("nan") if np.isnan(rho_t).any() else size / tau


@dataclass(frozen=True)
class GateResult:
    """Outcome of the quality gate: which checks failed and what to try."""

    passed: bool
    failures: tuple[str, ...]
    remedies: tuple[str, ...]
    diagnostics: Diagnostics
    holdout_mape: dict[str, float] = field(default_factory=dict)

    @property
    def message(self) -> str:
        """One paragraph: failed checks, then numbered remedies."""
        if self.passed:
            return "the model passed its quality gate"
        text = "the fitted model failed its quality gate: " + "; ".join(self.failures) + "."
        return text + "\nThings to try:\n" + numbered(list(self.remedies))


def _remedies(failed: set[str], diag: Diagnostics, spec: Any) -> list[str]:
    s = spec.sampler if spec is not None else None
    tune = s.tune if s is not None else 1000
    draws = s.draws if s is not None else 1000
    out = []
    if "approximate" in failed:
        out.append(
            "fit with MCMC (model.sampler = 'nutpie'); ADVI/pathfinder are for exploration only"
        )
    if failed & {"rhat", "ess"}:
        out.append(
            f"run longer: raise model.tune (now {tune}) to {max(2 * tune, 1000)} and "
            f"model.draws (now {draws}) to {max(2 * draws, 1000)}, with 4 chains"
        )
    if "divergences" in failed:
        out.append("raise model.target_accept to 0.95 or 0.99 (smaller, safer steps)")
    if failed - {"approximate"}:
        worst = diag.worst_rhat if "rhat" in failed else diag.worst_ess
        where = f" (worst: the {worst})" if worst else ""
        out += [
            "tighten priors: give channels an roi_prior from experiments or "
            f"benchmarks, especially the poorly identified ones{where}",
            "use fewer channels: merge or drop channels whose spend moves together "
            "(see the pre-fit variance-inflation check), or drop declared synergies",
            "use longer data (more weeks, or more variation in spend)",
        ]
    out.append(
        "to read a failed fit's numbers anyway, set allow_failure = true under [gate] in the "
        "plan: the run then finishes and its report marks every figure as not for decisions"
    )
    return out


def quality_gate(
    diag: Diagnostics,
    gate: Any = None,
    holdout_mape: dict[str, float] | None = None,
    spec: Any = None,
) -> GateResult:
    """Check the gate; raise :class:`QualityGateError` on failure unless allowed.

    Parameters
    ----------
    diag : Diagnostics
    gate : object with ``rhat_max``, ``ess_bulk_min``, ``divergence_rate_max``,
        ``allow_failure`` (the plan's ``[gate]``); default :data:`DEFAULT_GATE`.
    holdout_mape : dict, optional
        Holdout MAPE per outcome, reported (the gate states it, it has no threshold).
    spec : ModelSpec, optional
        Used to make the remedies concrete (current tune and draws).

    Returns
    -------
    GateResult
        When the gate passes, or fails with ``allow_failure``.
    """
    gate = gate if gate is not None else DEFAULT_GATE
    failures, failed = [], set()
    if diag.sampler in _APPROXIMATE:
        failures.append(f"{diag.sampler} is an approximate fit without MCMC diagnostics")
        failed.add("approximate")
    elif not diag.rhat_max <= gate.rhat_max:
        failures.append(
            f"max R-hat is {diag.rhat_max:.3f} (on the {diag.worst_rhat or 'n/a'}), above "
            f"{gate.rhat_max}"
        )
        failed.add("rhat")
    if diag.sampler not in _APPROXIMATE and not diag.ess_bulk_min >= gate.ess_bulk_min:
        failures.append(
            f"min bulk ESS is {diag.ess_bulk_min:.0f} (on the {diag.worst_ess or 'n/a'}), below "
            f"{gate.ess_bulk_min:.0f}"
        )
        failed.add("ess")
    if diag.divergence_rate > gate.divergence_rate_max:
        failures.append(
            f"{diag.divergences} divergent transitions ({100 * diag.divergence_rate:.2f}% of "
            f"draws), above {100 * gate.divergence_rate_max:.2f}%"
        )
        failed.add("divergences")
    result = GateResult(
        passed=not failures,
        failures=tuple(failures),
        remedies=tuple(_remedies(failed, diag, spec)),
        diagnostics=diag,
        holdout_mape=dict(holdout_mape or {}),
    )
    if failures and not gate.allow_failure:
        raise QualityGateError(result.message)
    return result


def ppc(model: Any, seed: int = 0) -> pd.DataFrame:
    """Posterior predictive checks of a fitted :class:`OmniMMM` on its training weeks.

    Simulates replicated outcomes from the posterior (mean function plus the fitted,
    correlated noise) and compares them with the observed ones.

    Returns
    -------
    pandas.DataFrame
        Index outcome; ``coverage_50`` and ``coverage_90`` (share of weeks inside the
        central 50% / 90% predictive interval; near 0.5 / 0.9 if calibrated), ``r2`` and
        ``mape`` of the posterior mean fit, ``p_value_sd`` (share of replicated series
        whose standard deviation exceeds the observed one; near 0 or 1 flags misfit).
    """
    resp = model.response_
    panel = model.panel_
    feats = model.features(panel.dates, panel.controls)
    mean = resp.mean(panel.spend[list(resp.channels)].to_numpy(), feats)  # (T, D, O)
    rep = mean + resp.noise(mean.shape[0], np.random.default_rng(seed), mean, feats)
    y = panel.outcomes[list(resp.outcomes)].to_numpy(dtype=float)
    rows = {}
    for k, o in enumerate(resp.outcomes):
        q = np.quantile(rep[:, :, k], [0.05, 0.25, 0.75, 0.95], axis=1)
        fit = mean[:, :, k].mean(axis=1)
        yo = y[:, k]
        rows[o] = {
            "coverage_50": float(np.mean((yo >= q[1]) & (yo <= q[2]))),
            "coverage_90": float(np.mean((yo >= q[0]) & (yo <= q[3]))),
            "r2": float(1 - np.sum((yo - fit) ** 2) / np.sum((yo - yo.mean()) ** 2)),
            "mape": float(np.mean(np.abs(yo - fit) / np.abs(yo))),
            "p_value_sd": float(np.mean(rep[:, :, k].std(axis=0) > yo.std())),
        }
    return pd.DataFrame.from_dict(rows, orient="index").rename_axis("outcome")
