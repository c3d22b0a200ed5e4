"""Classic buy-till-you-die models fitted by maximum likelihood: BG/NBD and Gamma-Gamma.

BG/NBD (Fader, Hardie & Lee 2005, "Counting your customers the easy way")
-------------------------------------------------------------------------
While alive a customer buys as a Poisson process with rate ``lambda ~ Gamma(r, alpha)``;
after each purchase they drop out with probability ``p ~ Beta(a, b)``. A customer is
summarised by ``x`` (repeat purchases after the first), ``t_x`` (time of the last purchase,
from the first) and ``T`` (time from the first purchase to the end of the history). The
likelihood of one customer is

    L = B(a, b+x)/B(a, b) * G(r+x) alpha^r / (G(r) (alpha+T)^(r+x))
        + [x > 0] B(a+1, b+x-1)/B(a, b) * G(r+x) alpha^r / (G(r) (alpha+t_x)^(r+x))

(equation 6 of the paper). On the CDNOW sample (2,357 customers, weeks) the paper reports
``r = 0.243, alpha = 4.414, a = 0.793, b = 2.426``; ``tests/test_lifecycle_btyd.py`` refits
that summary (shipped in ``tests/data``) and checks the estimates and the log-likelihood
(-9582.4).

Given a customer's history the model gives

* ``P(alive) = 1 / (1 + [x > 0] a/(b+x-1) ((alpha+T)/(alpha+t_x))^(r+x))``;
* ``P(at least one purchase in the next t) = P(alive) (1 - ((alpha+T)/(alpha+T+t))^(r+x))``
  (an alive customer's rate is ``Gamma(r+x, alpha+T)`` a posteriori and, in BG/NBD, dropping
  out only happens right after a purchase);
* the expected number of purchases in the next ``t`` (equation 10, Gauss hypergeometric).

Gamma-Gamma (Fader, Hardie & Lee 2005, "RFM and CLV"; Fader & Hardie 2013 note)
-------------------------------------------------------------------------------
Spend per purchase of a customer averages ``zbar`` over ``x`` purchases; each purchase is
``Gamma(p, nu)`` with ``nu ~ Gamma(q, gamma)``. The expected spend per purchase is
``(gamma + x zbar) p / (p x + q - 1)``. CDNOW estimates: ``p = 6.25, q = 3.74,
gamma = 15.44``.

Both estimators are scikit-learn shaped (settings in ``__init__``, ``fit`` returns self,
fitted state ends in ``_``) and fit on log-parameters with L-BFGS-B.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy.optimize import minimize
from scipy.special import betaln, gammaln, hyp2f1, psi

from omnimmm.errors import DataError, NotFittedError


def customer_weights(
    x: np.ndarray, T: np.ndarray, weights: np.ndarray | None, model: str
) -> tuple[np.ndarray, Callable[[np.ndarray], float], float]:
    """A BTYD fit's customer counts per row (ones without ``weights``), the weighted sum
    over rows, and the mean ``T`` that conditions the fit; ``model`` names it in errors.
    Without weights the sums are plain sums, the same as before weights existed."""
    w = np.ones_like(x) if weights is None else np.asarray(weights, dtype=float)
    if w.shape != x.shape or (w < 0).any():
        raise DataError(f"{model}: weights must be non-negative, one per customer row")

    def total(v: np.ndarray) -> float:
        return float(v.sum() if weights is None else w @ v)

    scale = float(np.mean(T) if weights is None else np.average(T, weights=w)) or 1.0
    return w, total, scale


@dataclass(frozen=True)
class BGNBDParams:
    """Fitted BG/NBD parameters (time in the units of the data)."""

    r: float
    alpha: float
    a: float
    b: float


def _check_rft(x: np.ndarray, t_x: np.ndarray, T: np.ndarray) -> None:
    if not (x.shape == t_x.shape == T.shape) or x.size == 0:
        raise DataError("BG/NBD: x, t_x and T must be non-empty arrays of the same length")
    if (x < 0).any() or (t_x < 0).any() or (t_x - 1e-9 > T).any():
        raise DataError("BG/NBD: needs x >= 0 and 0 <= t_x <= T for every customer")
    if ((x == 0) & (t_x > 0)).any():
        raise DataError("BG/NBD: a customer with no repeat purchase must have t_x = 0")


def bgnbd_log_likelihood(
    params: BGNBDParams | tuple[float, float, float, float],
    x: np.ndarray,
    t_x: np.ndarray,
    T: np.ndarray,
) -> np.ndarray:
    """Log-likelihood of each customer under BG/NBD (equation 6 of Fader, Hardie & Lee 2005)."""
    if isinstance(params, BGNBDParams):
        r, alpha, a, b = params.r, params.alpha, params.a, params.b
    else:
        r, alpha, a, b = params
    x = np.asarray(x, dtype=float)
    t_x = np.asarray(t_x, dtype=float)
    T = np.asarray(T, dtype=float)
    a1 = gammaln(r + x) - gammaln(r) + r * np.log(alpha)
    a2 = betaln(a, b + x) - betaln(a, b)
    a3 = -(r + x) * np.log(alpha + T)
    repeat = x > 0
    bx = np.where(repeat, b + x - 1, 1.0)
    a4 = np.where(
        repeat,
        betaln(a + 1, bx) - betaln(a, b) - (r + x) * np.log(alpha + t_x),
        -np.inf,
    )
    return a1 + np.logaddexp(a2 + a3, a4)


def bgnbd_log_likelihood_grad(
    params: tuple[float, float, float, float], x: np.ndarray, t_x: np.ndarray, T: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Each customer's BG/NBD log-likelihood and its gradient in ``(r, alpha, a, b)``
    (rows of shape ``(4, n)``), differentiated by hand: the digamma function for the
    Gamma and Beta terms, and the two terms of the sum weighted by their shares."""
    r, alpha, a, b = params
    ll = bgnbd_log_likelihood(params, x, t_x, T)
    repeat = x > 0
    bx = np.where(repeat, b + x - 1, 1.0)
    a1 = gammaln(r + x) - gammaln(r) + r * np.log(alpha)
    first = betaln(a, b + x) - betaln(a, b) - (r + x) * np.log(alpha + T)
    w1 = np.exp(first - (ll - a1))  # share of the "alive at T" term; 1 - w1 for the other
    w2 = np.where(repeat, 1.0 - w1, 0.0)
    ab = psi(a + b)
    d_r = psi(r + x) - psi(r) + np.log(alpha) - w1 * np.log(alpha + T)
    d_r -= w2 * np.log(alpha + np.where(repeat, t_x, 0.0))
    d_alpha = r / alpha - (r + x) * (w1 / (alpha + T) + w2 / (alpha + t_x))
    d_a = w1 * (ab - psi(a + b + x)) + w2 * (psi(a + 1) - psi(a + b + x) - psi(a) + ab)
    d_b = w1 * (psi(b + x) - psi(a + b + x)) + w2 * (psi(bx) - psi(a + b + x))
    d_b += ab - psi(b)
    return ll, np.vstack([d_r, d_alpha, d_a, d_b])


class BGNBD:
    """BG/NBD model fitted by maximum likelihood.

    Parameters
    ----------
    penalty
        L2 penalty on the log-parameters (0 = plain maximum likelihood). A small value keeps
        ``a`` and ``b`` finite when a short history cannot tell them apart.
    """

    def __init__(self, penalty: float = 0.0) -> None:
        self.penalty = penalty

    def fit(
        self, x: np.ndarray, t_x: np.ndarray, T: np.ndarray, weights: np.ndarray | None = None
    ) -> BGNBD:
        """Estimate ``r, alpha, a, b`` from per-customer ``(x, t_x, T)``.

        ``weights`` (optional) counts the customers behind each row, so that distinct
        ``(x, t_x, T)`` rows with their counts give the fit of the whole customer list
        (the likelihood is a sum over customers).
        """
        x, t_x, T = (np.asarray(v, dtype=float) for v in (x, t_x, T))
        _check_rft(x, t_x, T)
        w, total, scale = customer_weights(x, T, weights, "BG/NBD")
        # fit on T/scale for conditioning, then rescale alpha

        def nll(theta: np.ndarray) -> tuple[float, np.ndarray]:
            p = np.exp(theta)
            ll, grad = bgnbd_log_likelihood_grad(tuple(p), x, t_x / scale, T / scale)
            value = float(-total(ll) + self.penalty * np.sum(theta**2))
            if not np.isfinite(value):
                return 1e300, np.zeros(4)
            d_theta = -np.array([total(g) for g in grad]) * p + 2 * self.penalty * theta
            return value, d_theta

        best = None
        for start in ([0.0, 0.0, 0.0, 0.0], [-1.0, -1.0, -0.5, 1.0]):
            res = minimize(nll, np.array(start), jac=True, method="L-BFGS-B",
                           bounds=[(-12, 12)] * 4)  # fmt: skip
            if best is None or res.fun < best.fun:
                best = res
        assert best is not None
        r, alpha, a, b = np.exp(best.x)
        self.params_ = BGNBDParams(float(r), float(alpha * scale), float(a), float(b))
        self.log_likelihood_ = float(total(bgnbd_log_likelihood(self.params_, x, t_x, T)))
        self.converged_ = bool(best.success)
        self.n_customers_ = int(round(w.sum()))
        return self

    def _p(self) -> BGNBDParams:
        if not hasattr(self, "params_"):
            raise NotFittedError("this BGNBD is not fitted yet; call fit(x, t_x, T) first")
        return self.params_

    def p_alive(self, x: np.ndarray, t_x: np.ndarray, T: np.ndarray) -> np.ndarray:
        """Probability each customer is still alive at the end of their history."""
        p = self._p()
        x, t_x, T = (np.asarray(v, dtype=float) for v in (x, t_x, T))
        bx = np.where(x > 0, p.b + x - 1, 1.0)
        log_odds = np.log(p.a / bx) + (p.r + x) * np.log((p.alpha + T) / (p.alpha + t_x))
        return np.where(x > 0, 1.0 / (1.0 + np.exp(log_odds)), 1.0)

    def p_any(self, t: float, x: np.ndarray, t_x: np.ndarray, T: np.ndarray) -> np.ndarray:
        """Probability of at least one purchase in the next ``t`` time units."""
        p = self._p()
        x, T = np.asarray(x, dtype=float), np.asarray(T, dtype=float)
        none_if_alive = np.exp((p.r + x) * np.log((p.alpha + T) / (p.alpha + T + t)))
        return self.p_alive(x, t_x, T) * (1.0 - none_if_alive)

    def expected_purchases(
        self, t: float, x: np.ndarray, t_x: np.ndarray, T: np.ndarray
    ) -> np.ndarray:
        """Expected purchases in the next ``t`` (equation 10 of Fader, Hardie & Lee 2005)."""
        p = self._p()
        x, t_x, T = (np.asarray(v, dtype=float) for v in (x, t_x, T))
        z = t / (p.alpha + T + t)
        f = hyp2f1(p.r + x, p.b + x, p.a + p.b + x - 1, z)
        head = (p.a + p.b + x - 1) / (p.a - 1) if p.a != 1 else np.inf
        num = 1.0 - ((p.alpha + T) / (p.alpha + T + t)) ** (p.r + x) * f
        bx = np.where(x > 0, p.b + x - 1, 1.0)
        den = 1.0 + np.where(x > 0, p.a / bx * ((p.alpha + T) / (p.alpha + t_x)) ** (p.r + x), 0.0)
        out = head * num / den
        # hyp2f1 can lose accuracy for extreme inputs; P(any) bounds the count from below
        return np.where(np.isfinite(out) & (out >= 0), out, np.nan)


@dataclass(frozen=True)
class GammaGammaParams:
    """Fitted Gamma-Gamma spend parameters."""

    p: float
    q: float
    gamma: float


def gamma_gamma_log_likelihood(
    params: GammaGammaParams | tuple[float, float, float], x: np.ndarray, zbar: np.ndarray
) -> np.ndarray:
    """Log-likelihood of each customer's mean spend ``zbar`` over ``x >= 1`` purchases
    (up to the constant that does not depend on the parameters, as in lifetimes and
    Fader & Hardie's note: the Jacobian of the mean is included)."""
    if isinstance(params, GammaGammaParams):
        p, q, g = params.p, params.q, params.gamma
    else:
        p, q, g = params
    x = np.asarray(x, dtype=float)
    z = np.asarray(zbar, dtype=float)
    return (
        gammaln(p * x + q)
        - gammaln(p * x)
        - gammaln(q)
        + q * np.log(g)
        + (p * x - 1) * np.log(z)
        + p * x * np.log(x)
        - (p * x + q) * np.log(x * z + g)
    )


class GammaGamma:
    """Gamma-Gamma model of spend per purchase, fitted by maximum likelihood."""

    def fit(self, x: np.ndarray, zbar: np.ndarray) -> GammaGamma:
        """Estimate ``p, q, gamma`` from customers with ``x >= 1`` purchases and mean spend
        ``zbar > 0`` (others are ignored)."""
        x, z = np.asarray(x, dtype=float), np.asarray(zbar, dtype=float)
        keep = (x >= 1) & (z > 0) & np.isfinite(z)
        if keep.sum() < 10:
            raise DataError("Gamma-Gamma: needs at least 10 customers with positive spend")
        x, z = x[keep], z[keep]
        scale = float(np.mean(z))

        def nll(theta: np.ndarray) -> float:
            return float(-gamma_gamma_log_likelihood(np.exp(theta), x, z / scale).sum())

        res = minimize(nll, np.zeros(3), method="L-BFGS-B", bounds=[(-10, 10)] * 3)
        p, q, g = np.exp(res.x)
        self.params_ = GammaGammaParams(float(p), float(q), float(g * scale))
        self.converged_ = bool(res.success)
        return self

    def expected_spend(self, x: np.ndarray, zbar: np.ndarray) -> np.ndarray:
        """Expected spend per future purchase; the population mean where ``x = 0``."""
        if not hasattr(self, "params_"):
            raise NotFittedError("this GammaGamma is not fitted yet; call fit(x, zbar) first")
        p, q, g = self.params_.p, self.params_.q, self.params_.gamma
        x = np.asarray(x, dtype=float)
        z = np.nan_to_num(np.asarray(zbar, dtype=float))
        return (g + x * z) * p / (p * x + q - 1)
