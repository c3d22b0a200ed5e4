"""The Pareto/NBD model (Schmittlein, Morrison & Colombo 1987) by maximum likelihood.

While alive a customer buys as a Poisson process with rate ``lambda ~ Gamma(r, alpha)``;
their lifetime is exponential with rate ``mu ~ Gamma(s, beta)``, independent of
``lambda``. Unlike BG/NBD, a customer can drop out at any time, not only right after a
purchase. With ``x`` repeat purchases, the last at ``t_x`` and the history ending at ``T``
(all from the first purchase), the likelihood of one customer is (Fader & Hardie 2005, "A
note on deriving the Pareto/NBD model and related expressions", equation 22)::

    L = G(r+x) alpha^r beta^s / G(r) * [ 1 / ((alpha+T)^(r+x) (beta+T)^s)
                                         + s / (r+s+x) * A0 ]

    A0 = F(t_x) - F(T),  F(u) = 2F1(r+s+x, b; r+s+x+1; |alpha-beta| / (m+u)) / (m+u)^(r+s+x)

with ``m = max(alpha, beta)`` and ``b = s+1`` if ``alpha >= beta``, else ``b = r+x``.

Given a customer's history:

* ``P(alive) = 1 / (1 + s/(r+s+x) (alpha+T)^(r+x) (beta+T)^s A0)``;
* expected purchases in the next ``t`` (equation 21 of the note)
  ``P(alive) (r+x)(beta+T) / ((alpha+T)(s-1)) [1 - ((beta+T)/(beta+T+t))^(s-1)]``
  (``log`` form at ``s = 1``);
* the probability of at least one purchase in the next ``t``: an alive customer has
  ``lambda ~ Gamma(r+x, alpha+T)`` and ``mu ~ Gamma(s, beta+T)`` a posteriori, independent,
  and makes none with probability ``mu/(lambda+mu) + lambda/(lambda+mu) exp(-(lambda+mu) t)``;
  its expectation is taken by Gauss-Laguerre quadrature.

On the CDNOW sample (2,357 customers, weeks) the BTYD package reports ``r = 0.553,
alpha = 10.580, s = 0.606, beta = 11.656`` with log-likelihood -9594.98;
``tests/test_lifecycle_pareto_nbd.py`` refits the same summary and checks both.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import minimize
from scipy.special import gammaln, hyp2f1, polygamma, psi, roots_genlaguerre, roots_hermitenorm

from omnimmm.errors import DataError, NotFittedError
from omnimmm.lifecycle.btyd import customer_weights

__all__ = ["ParetoNBD", "ParetoNBDParams", "pareto_nbd_log_likelihood"]

_NODES = 24


@dataclass(frozen=True)
class ParetoNBDParams:
    """Fitted Pareto/NBD parameters (time in the units of the data)."""

    r: float
    alpha: float
    s: float
    beta: float


def _check(x: np.ndarray, t_x: np.ndarray, T: np.ndarray) -> None:
    if not (x.shape == t_x.shape == T.shape) or x.size == 0:
        raise DataError("Pareto/NBD: x, t_x and T must be non-empty arrays of the same length")
    if (x < 0).any() or (t_x < 0).any() or (t_x - 1e-9 > T).any():
        raise DataError("Pareto/NBD: needs x >= 0 and 0 <= t_x <= T for every customer")


@dataclass(frozen=True)
class _Pairs:
    """The distinct ``(x, t_x)`` and ``(x, T)`` pairs of a fit's rows and where each row's
    pair is: ``A0``'s two ``2F1`` terms depend on one pair each, and there are far fewer
    distinct pairs than rows (whole days), so a fit evaluates them once per pair."""

    x_tx: np.ndarray
    tx: np.ndarray
    at_tx: np.ndarray
    x_T: np.ndarray
    T: np.ndarray
    at_T: np.ndarray

    @classmethod
    def of(cls, x: np.ndarray, t_x: np.ndarray, T: np.ndarray) -> _Pairs:
        """The pairs of rows ``(x, t_x, T)``."""
        a, at_a = np.unique(np.column_stack([x, t_x]), axis=0, return_inverse=True)
        b, at_b = np.unique(np.column_stack([x, T]), axis=0, return_inverse=True)
        return cls(a[:, 0], a[:, 1], at_a.ravel(), b[:, 0], b[:, 1], at_b.ravel())


def _log_f(
    r: float, alpha: float, s: float, beta: float, x: np.ndarray, u: np.ndarray
) -> np.ndarray:
    """``log F(u)`` of the module docstring for rows ``x``."""
    rsx = r + s + x
    m = max(alpha, beta)
    b = s + 1.0 if alpha >= beta else r + x
    d = abs(alpha - beta)
    return np.log(hyp2f1(rsx, b, rsx + 1.0, d / (m + u))) - rsx * np.log(m + u)


def _log_a0(
    r: float,
    alpha: float,
    s: float,
    beta: float,
    x: np.ndarray,
    t_x: np.ndarray,
    T: np.ndarray,
    pairs: _Pairs | None = None,
) -> np.ndarray:
    """``log A0`` of the module docstring, computed as a difference of logs (``2F1`` once
    per distinct pair with ``pairs``: the same numbers)."""
    # far from the optimum 2F1 can overflow: the result is then inf/nan and the fit moves on
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        if pairs is None:
            log_f_tx = _log_f(r, alpha, s, beta, x, t_x)
            log_f_T = _log_f(r, alpha, s, beta, x, T)
        else:
            log_f_tx = _log_f(r, alpha, s, beta, pairs.x_tx, pairs.tx)[pairs.at_tx]
            log_f_T = _log_f(r, alpha, s, beta, pairs.x_T, pairs.T)[pairs.at_T]
        return log_f_tx + np.log(-np.expm1(np.minimum(log_f_T - log_f_tx, -1e-300)))


def _gamma_nodes(shape: float) -> tuple[np.ndarray, np.ndarray]:
    """Quadrature nodes and weights (summing to 1) for a Gamma(``shape``, 1) variable.

    Generalised Gauss-Laguerre below shape 100; above it its weights overflow (they sum to
    ``Gamma(shape)``), so Gauss-Hermite on ``log G``, normal with ``log G``'s own mean and
    variance (digamma, trigamma), whose error shrinks like ``shape ** -1.5``.
    """
    if shape < 100.0:
        nodes, weights = roots_genlaguerre(_NODES, shape - 1.0)
        return nodes, weights / weights.sum()
    z, weights = roots_hermitenorm(_NODES)
    log_nodes = psi(shape) + np.sqrt(polygamma(1, shape)) * z
    return np.exp(log_nodes), weights / weights.sum()


def pareto_nbd_log_likelihood(
    params: ParetoNBDParams | tuple[float, float, float, float],
    x: np.ndarray,
    t_x: np.ndarray,
    T: np.ndarray,
    *,
    pairs: _Pairs | None = None,
) -> np.ndarray:
    """Log-likelihood of each customer under Pareto/NBD (see the module docstring);
    ``pairs`` (the fit's, of these very rows) only saves ``2F1`` evaluations."""
    if isinstance(params, ParetoNBDParams):
        r, alpha, s, beta = params.r, params.alpha, params.s, params.beta
    else:
        r, alpha, s, beta = params
    x, t_x, T = (np.asarray(v, dtype=float) for v in (x, t_x, T))
    head = gammaln(r + x) - gammaln(r) + r * np.log(alpha) + s * np.log(beta)
    alive = -(r + x) * np.log(alpha + T) - s * np.log(beta + T)
    died = np.log(s) - np.log(r + s + x) + _log_a0(r, alpha, s, beta, x, t_x, T, pairs)
    with np.errstate(invalid="ignore"):
        return head + np.logaddexp(alive, died)


class ParetoNBD:
    """Pareto/NBD model fitted by maximum likelihood (scikit-learn shaped).

    Parameters
    ----------
    penalty
        L2 penalty on the log-parameters (0 = plain maximum likelihood); a small value keeps
        the estimates finite on a short history.
    """

    def __init__(self, penalty: float = 0.0) -> None:
        self.penalty = penalty

    def fit(
        self, x: np.ndarray, t_x: np.ndarray, T: np.ndarray, weights: np.ndarray | None = None
    ) -> ParetoNBD:
        """Estimate ``r, alpha, s, beta`` from per-customer ``(x, t_x, T)``; ``weights``
        (optional) counts the customers behind each row, as in :meth:`BGNBD.fit`."""
        x, t_x, T = (np.asarray(v, dtype=float) for v in (x, t_x, T))
        _check(x, t_x, T)
        w, total, scale = customer_weights(x, T, weights, "Pareto/NBD")
        # fit on T/scale, then rescale alpha and beta

        # per customer: L-BFGS-B's first step is the raw gradient, which on a summed
        # likelihood of many customers jumps to the bounds' corner and stops there
        n_rows = max(float(w.sum()), 1.0)

        xs, ts = (t_x / scale, T / scale)
        pairs = _Pairs.of(x, xs, ts)  # the same for every evaluation

        def nll(theta: np.ndarray) -> float:
            ll = pareto_nbd_log_likelihood(tuple(np.exp(theta)), x, xs, ts, pairs=pairs)
            value = float(-total(ll) + self.penalty * np.sum(theta**2)) / n_rows
            return value if np.isfinite(value) else 1e300

        best = None
        # starts off alpha = beta, where the likelihood switches between two 2F1 forms
        for start in ([0.0, 0.0, 0.0, 0.5], [-0.5, -1.0, -0.5, 0.0]):
            res = minimize(nll, np.array(start), method="L-BFGS-B", bounds=[(-12, 12)] * 4,
                           options={"ftol": 1e-14, "gtol": 1e-9, "maxiter": 2000})  # fmt: skip
            if best is None or res.fun < best.fun:
                best = res
        assert best is not None
        r, alpha, s, beta = np.exp(best.x)
        self.params_ = ParetoNBDParams(
            float(r), float(alpha * scale), float(s), float(beta * scale)
        )
        self.log_likelihood_ = float(total(pareto_nbd_log_likelihood(self.params_, x, t_x, T)))
        self.converged_ = bool(np.isfinite(self.log_likelihood_))
        self.n_customers_ = int(round(w.sum()))
        return self

    def _p(self) -> ParetoNBDParams:
        if not hasattr(self, "params_"):
            raise NotFittedError("this ParetoNBD is not fitted yet; call fit(x, t_x, T) first")
        return self.params_

    def p_alive(self, x: np.ndarray, t_x: np.ndarray, T: np.ndarray) -> np.ndarray:
        """Probability each customer is still alive at the end of their history."""
        p = self._p()
        x, t_x, T = (np.asarray(v, dtype=float) for v in (x, t_x, T))
        log_odds = (
            np.log(p.s)
            - np.log(p.r + p.s + x)
            + (p.r + x) * np.log(p.alpha + T)
            + p.s * np.log(p.beta + T)
            + _log_a0(p.r, p.alpha, p.s, p.beta, x, t_x, T)
        )
        return 1.0 / (1.0 + np.exp(log_odds))

    def expected_purchases(
        self, t: float, x: np.ndarray, t_x: np.ndarray, T: np.ndarray
    ) -> np.ndarray:
        """Expected purchases in the next ``t`` time units."""
        p = self._p()
        x, T = np.asarray(x, dtype=float), np.asarray(T, dtype=float)
        ratio = np.log((p.beta + T + t) / (p.beta + T))
        # expected alive time in the window, times (beta + T): log form at s = 1
        k = p.s - 1.0
        life = ratio if abs(k) < 1e-8 else -np.expm1(-k * ratio) / k
        rate = (p.r + x) * (p.beta + T) / (p.alpha + T)
        return self.p_alive(x, t_x, T) * rate * life

    def p_any(self, t: float, x: np.ndarray, t_x: np.ndarray, T: np.ndarray) -> np.ndarray:
        """Probability of at least one purchase in the next ``t`` time units."""
        p = self._p()
        x, T = np.asarray(x, dtype=float), np.asarray(T, dtype=float)
        mu_nodes, mu_w = _gamma_nodes(p.s)
        none = np.empty(x.size)
        for xv in np.unique(x):
            lam_nodes, lam_w = _gamma_nodes(p.r + xv)
            idx = np.flatnonzero(x == xv)
            lam = lam_nodes[None, :, None] / (p.alpha + T[idx])[:, None, None]
            mu = mu_nodes[None, None, :] / (p.beta + T[idx])[:, None, None]
            total = lam + mu
            stay = mu / total + lam / total * np.exp(-total * t)
            none[idx] = np.einsum("nij,i,j->n", stay, lam_w, mu_w)
        return self.p_alive(x, t_x, T) * (1.0 - none)
