"""The default attribution: a purchase-hazard model with customer fixed effects, and removal.

Model. A customer's daily purchase rate is ``alpha_i * exp(x_it' beta)``: ``alpha_i`` is the
customer's own, unmodelled propensity (intent), and ``x_it`` holds

* each channel's exposure, ``1 - exp(-e)`` of its touches decayed with the channel's own
  half-life (saturating: the first touches count most);
* the products of two channels' exposures (one channel priming another), kept only when
  the pair's customer-clustered ``|z|`` reaches ``Z_KEEP`` in the model with all pairs;
* the customer's own recent history: a purchase in the last 7 days (refractoriness);
* two-week calendar blocks (seasonality, campaigns common to everyone).

``beta`` is estimated conditionally on each customer's number of purchases (the Poisson
fixed-effects likelihood: each purchase day's probability among the customer's days at
risk is ``exp(x_it' beta) / sum_s exp(x_is' beta)``), so ``alpha_i`` drops out. Customers
whom a channel targets because they would buy anyway are compared only with themselves,
on days with and without the channel's exposure, whatever the distribution of intent; no
model of intent is needed. Each customer's days without a purchase are sampled (at most
``controls`` of them, weighted by the inverse sampling rate within the customer). History
terms that count purchases (purchases so far, "never bought yet", days since the last)
are left out: given a customer's number of purchases they are mechanically tied to the
timing of the purchases (the fixed-effects bias of dynamic panels) and, measured, they
pulled every slowly building exposure with them (email, no effect, 8-16% of the credit
on the default world; 2-0.3% without them). The first ``BURN_IN`` days (at most a fifth
of the period) are left out of the likelihood, while exposures build up from the start
of the log.

Each channel's half-life is not chosen but averaged over. The profile likelihood of the
main-effects model gives each value of ``HALF_LIVES`` a log likelihood (one channel at a
time, the others at their current values, two sweeps; divided by how much the sampled
days without a purchase inflate the likelihood's information on that channel, see
``_inflation``), and each value a weight
proportional to its likelihood times a prior that loses ``PRIOR_PER_DOUBLING`` (1.5)
log-likelihood units for each doubling of the half-life over 0.5 days; the prior's mode
(the weights' maximum) is where the other channels are held. A channel's incremental
conversions are the weighted mean of its removal in refits of the full model with the
channel at each half-life of weight at least ``MIN_WEIGHT`` (the interactions as selected
at the modes). Short half-lives are favoured because where the profile is flat a long one
makes the exposure nearly constant within a customer: its effect is then estimated from
little variation and its removal extrapolates far (a no-effect channel at 8-16 days got
-123% to +138% of the credit), and a no-effect channel aimed at high intent picks up the
build-up. The rule this replaces took the shortest half-life within 1.92 units of the
best: a jump at the threshold (``other`` world seed 5: the no-effect email 0.3 units
from the best at 8 days and 2.2 at 4 took 8 days and -62%, 20.9 points of error; 3.2
averaged). On tuning seeds 1, 2, 5 (``journeys20d`` in RESULTS.md) priors of 1-3 units
per doubling were alike (5.0-5.2 points mean over 13 worlds, the rule 6.4), and so were
two other smooth choices (one fit at the weights' mean log half-life, one fit with the
weight-mixed exposure); on fresh seeds 61-63 of five worlds (20,000 customers) the mean
error is 2.8 points against the rule's 3.4, on 8,000-customer worlds 7.5 against 7.1.
Taking the best half-life outright gave a mean error of 10 points on the default world's
seeds 1 and 5. Where the profile is flat the data cannot tell the half-lives apart and
the prior decides: a long-carryover channel with a flat profile (``other`` world's video,
10 days) still gets the weight of the short ones.

No negative main effects. A channel whose main effect comes out negative is held at zero
and the model refitted (repeated until none is; its pairs stay free), in the point fit, in
each half-life refit of the averaging and in each bootstrap replicate (``NONNEG``). On
small worlds the coefficients' noise is nearly all the error (8,000 customers: the removal
with the simulator's own parameters is within 0.4 points of the truth, the true
half-lives still leave 6.1-6.5 of 7.5 points) and weak or no-effect channels' negative
shares were a large part of it. Fresh seeds (``jn11_small`` in RESULTS.md): small worlds
4.52 -> 4.13 and 7.32 -> 6.83 points, 20,000 customers (five worlds, seeds 81-83) 3.75 ->
3.27, no-effect intervals covering 0 on 11/12 -> 11/12 and 13/15 -> 15/15.

Logs that end at the last purchase. When no buyer has a touch after their last purchase,
the touch log is taken to end there (as path exports do). A buyer's exposures after the
last purchase are unknown, and the window itself is chosen by the outcome (no purchase
after it). The fixed-effects likelihood then uses each buyer's days up to a week
(``RECENT_DAYS``) before the last purchase, and the purchases among them: for a rate
process the purchases in that window are distributed over its days as the model says,
whatever happens after it, so no touch has to be imputed and a channel without effect gets
no credit from the cut. The week is left out because the last purchase is less likely
right after another one (refractoriness): keeping those days made them look like days
without purchase at high exposure (display, true 7%, got -55% on one seed). Buyers with a
single purchase then carry no information on ``beta``; they still count in the
incremental sums. With full logs every buyer's whole period is at risk.

Incrementality. A purchase that happened at rate ``lambda`` would have happened at rate
``lambda_c`` with channel ``c``'s touches removed (its exposure and its pairs set to zero)
with probability ``lambda_c / lambda`` (the same coupling as replaying the world with the
same random numbers). Channel ``c``'s incremental conversions are the sum over all
observed purchase days of ``1 - exp(-(eta - eta_c))`` times the day's conversions; this
needs the exposures on purchase days only, which every log holds. Baseline conversions
remove every channel. Shares are each channel's part of the summed incremental
conversions (so they sum to 1); incremental revenue is incremental conversions times the
mean conversion value. Effects through the customer's later history (a purchase lost
today changes tomorrow's "recent purchase") are not propagated.

Intervals (90%): Poisson bootstrap over customers. Each replicate reweights every
customer (their likelihood terms and their purchase days) by one Poisson(1) draw, draws
each channel's half-life from its weights redone under the replicate's customer weights,
and refits by Newton from the point estimate, reselecting the channel pairs. The weights
are redone on each channel's profile rebuilt from the customers' log likelihood terms of
the point search's fits, reweighted (the refit under the replicate's weights would move
each profile value by a second-order amount); the replicates thus spread over the
half-lives as the weights do, and how often each half-life is drawn is in the
diagnostics. Holding the half-lives at their point choice made the intervals too narrow
where the profile is flat (truth inside 90%: 8/18 on the ``other`` world).
A channel whose main effect the bootstrap holds at zero (``NONNEG``) in at least
``AT_ZERO_SHARE`` (5%) of the replicates, and in at least ``AT_ZERO_MIN`` (2) of them, has
its intervals (share and incremental conversions) extended to reach 0. (With a small
bootstrap, 10 replicates, a single replicate would be 10%: one is not taken as evidence.) Its coefficient's bootstrap distribution then puts at
least that much mass at the boundary, so its 90% interval would contain a zero main
effect, and the bootstrap of an estimate held at a boundary understates how far its
quantiles reach (it is not consistent there). In those replicates the channel's removal
comes from its pairs alone and lands on one side of 0 by a sliver: no-effect channels'
intervals missed 0 by less than half a point on 4 of 30 fresh worlds (``jn12`` in
RESULTS.md). The replicates' own quantiles stay in the diagnostics
(``share_interval_of_replicates``), with how often each main effect was held at zero.
Above ``max_customers`` buyers a seeded sample of buyers is used and scaled up; customers
who never buy enter neither the likelihood (they carry no information given
``alpha_i``) nor the incremental sums (they have no purchase to lose).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp
from scipy.linalg import cho_factor, cho_solve
from threadpoolctl import threadpool_limits

from omnimmm.errors import DataError
from omnimmm.journeys.inputs import JourneyData

__all__ = ["HALF_LIVES", "CausalResult", "fit_causal"]

HALF_LIVES = (
    0.5,
    1.0,
    2.0,
    4.0,
    8.0,
    16.0,
)  # days: the grid each channel's half-life is chosen from
START_HALF_LIFE = 2  # index into HALF_LIVES every channel starts the search at
RECENT_DAYS = 7
Z_KEEP = 2.5  # an interaction stays in the model when its clustered |z| reaches this
DROPPED = 1e9  # the ridge that holds a dropped interaction at zero
MIN_CONTROLS, MAX_CONTROLS = 8, 60  # days without a purchase sampled per customer
BURN_IN = 21  # days left out of the likelihood at the start (at most a fifth of the log)
PRIOR_PER_DOUBLING = 1.5  # log likelihood units a half-life pays for each doubling over 0.5 d
NONNEG = "main"  # "main": a negative main effect held at zero; "drop": its pairs too; "": off
ADJUST_PROFILE = True  # profiles divided by the likelihood's inflation (see _inflation)
MIN_WEIGHT = 1e-3  # half-lives with less weight are left out of the averaged removal
DESIGNS_KEPT = 4  # designs of the bootstrap's half-life choices kept for reuse
AT_ZERO_SHARE = 0.05  # a main effect held at zero in this share of replicates: interval to 0
AT_ZERO_MIN = 2  # ... and in at least this many (one of a small bootstrap proves little)


@dataclass(frozen=True, eq=False)
class CausalResult:
    """Per-channel incremental conversions, revenue and shares with 90% intervals."""

    table: pd.DataFrame  # name, share, low, high, incremental_conversions(_low/_high), ...
    baseline_conversions: float
    diagnostics: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, eq=False)
class _Rows:
    """Customer-days: the fixed-effects sample and every purchase day of the sampled buyers."""

    expo: np.ndarray  # (R, C, H) float32 decayed touches, one per half-life of the grid
    recent: np.ndarray  # (R,) a purchase in the last RECENT_DAYS days
    block: np.ndarray  # (R,) calendar block
    cust: np.ndarray  # (R,) local customer index
    fe: np.ndarray  # (R,) bool: row of the fixed-effects likelihood
    event: np.ndarray  # (R,) bool: a purchase day counted as an event of the likelihood
    w: np.ndarray  # (R,) weight in the customer's sum over days (1 / sampling rate)
    conv: np.ndarray  # (R,) conversions that day (0 on sampled days without a purchase)


def _log_ends_at_purchase(data: JourneyData) -> bool:
    row = data.con.execute(
        "select count(*) filter (where t.ts > c.m), count(distinct t.cid) from touches t "
        "join (select cid, max(ts) as m from conversions group by cid) c using (cid)"
    ).fetchone()
    return bool(row and row[1] > 0 and row[0] == 0)


def _fetch(data: JourneyData) -> dict[str, Any]:
    """Buyers' touches per day and channel and their purchase days, from DuckDB, once."""
    con = data.con
    # ordered in full (not by day alone): the rows' order within a day sets the order of
    # the sums, so a shuffled file gave other digits with the same seed
    tch = con.execute("select t.cid, t.day, t.ch, count(*)::integer as n from touches t "
                      "semi join conversions c on t.cid = c.cid group by all "
                      "order by t.day, t.cid, t.ch").fetchnumpy()  # fmt: skip
    cvs = con.execute("select cid, day, count(*)::integer as n from conversions "
                      "group by cid, day order by day, cid").fetchnumpy()  # fmt: skip
    return {"tch": {k: np.asarray(v) for k, v in tch.items()},
            "cvs": {k: np.asarray(v) for k, v in cvs.items()},
            "truncated": _log_ends_at_purchase(data)}  # fmt: skip


def _build_rows(
    data: JourneyData, fetched: dict[str, Any], max_customers: int, max_rows: int,
    rng: np.random.Generator,
) -> tuple[_Rows, dict[str, Any]]:  # fmt: skip
    """Every purchase day of (a sample of) the buyers, and for the customers in the
    likelihood a sample of their days without a purchase, with each channel's exposure at
    every half-life of the grid on those days."""
    n_days, n_ch, n_h = data.n_days, len(data.channels), len(HALF_LIVES)
    tch, cvs = fetched["tch"], fetched["cvs"]
    buyers = np.unique(cvs["cid"])
    chosen = np.sort(rng.choice(buyers, max_customers, replace=False)) \
        if buyers.size > max_customers else buyers  # fmt: skip
    n = chosen.size
    local = np.full(data.n_customers + 1, -1, np.int64)
    local[chosen] = np.arange(n)
    c_loc = local[cvs["cid"]]
    keep = c_loc >= 0
    c_loc, c_day, c_n = c_loc[keep], cvs["day"][keep].astype(np.int64), cvs["n"][keep]
    truncated = bool(fetched["truncated"])
    burn = min(BURN_IN, n_days // 5)
    last = np.full(n, -1, np.int64)
    np.maximum.at(last, c_loc, c_day)
    end = last - 1 - RECENT_DAYS if truncated else np.full(n, n_days - 1)  # window's last day
    in_win = (c_day <= end[c_loc]) & (c_day >= burn)
    n_ev = np.bincount(c_loc[in_win], minlength=n)
    n_free = np.maximum(end + 1 - burn, 0) - n_ev  # days without a purchase in the window
    fe_cust = (n_ev > 0) & (n_free > 0)
    n_fe = int(fe_cust.sum())
    if n_fe * MIN_CONTROLS > max_rows:  # a seeded sample of them in the likelihood
        drop = rng.choice(np.flatnonzero(fe_cust), n_fe - max_rows // MIN_CONTROLS,
                          replace=False)  # fmt: skip
        fe_cust[drop] = False
        n_fe = int(fe_cust.sum())
    controls = int(np.clip(max_rows // max(n_fe, 1), MIN_CONTROLS, MAX_CONTROLS))
    fe_ev = in_win & fe_cust[c_loc]
    # up to `controls` days without a purchase per customer, uniformly from the window
    key = rng.random((n, n_days), dtype=np.float32)
    key[c_loc, c_day] = np.inf
    key[(np.arange(n_days)[None, :] > end[:, None]) | ~fe_cust[:, None]] = np.inf
    key[:, :burn] = np.inf
    m = min(controls, n_days)
    pick = np.argpartition(key, m - 1, axis=1)[:, :m] if m < n_days else \
        np.tile(np.arange(n_days), (n, 1))  # fmt: skip
    ok = np.isfinite(np.take_along_axis(key, pick, axis=1)).ravel()
    del key
    k_cust = np.repeat(np.arange(n), m)[ok]
    k_day = pick.ravel()[ok]
    m_i = np.bincount(k_cust, minlength=n)
    cust = np.concatenate([c_loc, k_cust])
    day = np.concatenate([c_day, k_day])
    event = np.concatenate([fe_ev, np.zeros(k_cust.size, bool)])
    fe = np.concatenate([fe_ev, np.ones(k_cust.size, bool)])
    w = np.concatenate([np.ones(c_loc.size), n_free[k_cust] / np.maximum(m_i[k_cust], 1)])
    conv = np.concatenate([c_n, np.zeros(k_cust.size)]).astype(float)
    order = np.argsort(day, kind="stable")
    cust, day, event, fe, w, conv = (a[order] for a in (cust, day, event, fe, w, conv))
    t_loc = local[tch["cid"]]
    kt = t_loc >= 0
    t_loc, t_day = t_loc[kt], tch["day"][kt]
    t_ch, t_n = tch["ch"][kt].astype(np.int64), tch["n"][kt].astype(np.float32)
    t_ptr = np.searchsorted(t_day, np.arange(n_days + 1))
    r_ptr = np.searchsorted(day, np.arange(n_days + 1))
    c_sorted = np.argsort(c_day, kind="stable")
    c_ptr = np.searchsorted(c_day[c_sorted], np.arange(n_days + 1))
    decay = (0.5 ** (1.0 / np.asarray(HALF_LIVES))).astype(np.float32)
    e = np.zeros((n, n_ch, n_h), np.float32)
    expo = np.empty((cust.size, n_ch, n_h), np.float32)
    recent = np.empty(cust.size)
    prev = np.full(n, -(10**6))
    for t in range(n_days):
        e *= decay
        sl = slice(t_ptr[t], t_ptr[t + 1])
        e[t_loc[sl], t_ch[sl]] += t_n[sl, None]  # (customer, channel) unique within a day
        rs = slice(r_ptr[t], r_ptr[t + 1])
        expo[rs] = e[cust[rs]]
        recent[rs] = t - prev[cust[rs]] <= RECENT_DAYS
        prev[c_loc[c_sorted[c_ptr[t] : c_ptr[t + 1]]]] = t
    block_len = max(14, int(np.ceil(n_days / 26)))
    rows = _Rows(expo, recent, (day // block_len).astype(np.int64), cust, fe, event, w, conv)
    info = {"customers": int(data.n_customers), "buyers": int(buyers.size),
            "buyers_used": int(n), "buyers_in_likelihood": n_fe,
            "purchases_in_likelihood": int(fe_ev.sum()), "rows": int(cust.size),
            "controls_per_customer": controls, "burn_in_days": burn,
            "log_ends_at_last_purchase": truncated, "scale": buyers.size / max(n, 1)}  # fmt: skip
    return rows, info


def _main(rows: _Rows, half: np.ndarray, idx: np.ndarray | slice) -> np.ndarray:
    """Each channel's saturated exposure at its chosen half-life, ``(R, C)``."""
    e = rows.expo[idx][:, np.arange(rows.expo.shape[1]), half].astype(float)
    return -np.expm1(-e)


def _design(
    rows: _Rows, half: np.ndarray, idx: np.ndarray | slice = slice(None), pairs: bool = True
) -> np.ndarray:
    """Channels' exposures, their pairwise products (``pairs``), the recent-purchase flag
    and calendar blocks for the rows ``idx``."""
    n_blocks = int(rows.block.max()) + 1
    return _assemble(_main(rows, half, idx), rows.recent[idx], rows.block[idx], n_blocks, pairs)


def _assemble(
    s: np.ndarray, recent: np.ndarray, block: np.ndarray, n_blocks: int, pairs: bool = True
) -> np.ndarray:
    """The design from the saturated exposures ``s`` ``(R, C)``: see :func:`_design`."""
    n_ch = s.shape[1]
    inter = [s[:, a] * s[:, b] for a in range(n_ch) for b in range(a + 1, n_ch)] if pairs else []
    blocks = (block[:, None] == np.arange(1, n_blocks)[None, :]).astype(float)
    return np.column_stack([s, *inter, recent, blocks])


@dataclass(frozen=True, eq=False)
class _Strata:
    """The fixed-effects sample: rows, customers and purchase counts."""

    rows: np.ndarray  # indices into _Rows of the FE rows
    group: sp.csr_matrix  # (customers, FE rows) indicator
    cust: np.ndarray  # (FE rows,) local customer
    event: np.ndarray  # (FE rows,) float
    w: np.ndarray  # (FE rows,) weight within the customer's sum
    n_ev: np.ndarray  # (customers,) purchases of each customer in the likelihood


def _strata(rows: _Rows, n_cust: int) -> _Strata:
    idx = np.flatnonzero(rows.fe)
    cust = rows.cust[idx]
    group = sp.csr_matrix((np.ones(idx.size), (cust, np.arange(idx.size))),
                          shape=(n_cust, idx.size))  # fmt: skip
    event = rows.event[idx].astype(float)
    return _Strata(idx, group, cust, event, rows.w[idx], np.asarray(group @ event))


def _loglik(
    X: np.ndarray, st: _Strata, beta: np.ndarray, b: np.ndarray, ev: np.ndarray | None = None
) -> tuple[float, np.ndarray, np.ndarray, np.ndarray]:
    """Fixed-effects Poisson log likelihood with customer weights ``b``; its gradient,
    Hessian (negative definite) and the per-customer scores (rows: customers). ``ev`` is
    each customer's summed ``x`` over their events (:func:`_event_sums`), if at hand."""
    ll, grad, scores, px, a = _score(X, st, beta, b, ev)
    hess = -((X * a[:, None]).T @ X - (px * (st.n_ev * b)[:, None]).T @ px)
    return ll, grad, hess, scores


def _event_sums(X: np.ndarray, st: _Strata) -> np.ndarray:
    """Each customer's summed design rows over their events ``(customers, k)``: it does not
    depend on ``beta``, so a fit computes it once."""
    return _weighted_sums(st, st.event, X)


def _weighted_sums(st: _Strata, v: np.ndarray, X: np.ndarray) -> np.ndarray:
    """Each customer's sum of ``v * x`` over their rows, ``(customers, k)``: the customer
    indicator with ``v`` as its entries times ``X`` (no ``(rows, k)`` temporary)."""
    g = st.group
    return np.asarray(sp.csr_matrix((v[g.indices], g.indices, g.indptr), shape=g.shape) @ X)


def _score(
    X: np.ndarray, st: _Strata, beta: np.ndarray, b: np.ndarray, ev: np.ndarray | None
) -> tuple[float, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The log likelihood, gradient and customer scores of :func:`_loglik`, and what its
    Hessian needs: each customer's expected ``x`` and the rows' weights."""
    eta = X @ beta
    shift = float(eta.max())
    mu = st.w * np.exp(eta - shift)
    tot = st.group @ mu
    nb = st.n_ev * b
    pi = mu / np.maximum(tot[st.cust], 1e-300)
    ll = float(b[st.cust] @ (st.event * eta) - nb @ np.log(np.maximum(tot, 1e-300)))
    ll -= float(nb.sum()) * shift
    px = _weighted_sums(st, pi, X)  # (customers, k): each customer's expected x
    scores = (_event_sums(X, st) if ev is None else ev) - st.n_ev[:, None] * px
    return ll, b @ scores, scores, px, nb[st.cust] * pi


def _customer_ll(X: np.ndarray, st: _Strata, beta: np.ndarray) -> np.ndarray:
    """Each customer's term of the fixed-effects log likelihood (unit weights)."""
    eta = X @ beta
    shift = float(eta.max())
    tot = st.group @ (st.w * np.exp(eta - shift))
    return np.asarray(st.group @ (st.event * eta)) - st.n_ev * (
        np.log(np.maximum(tot, 1e-300)) + shift)  # fmt: skip


def _newton(
    X: np.ndarray, st: _Strata, beta: np.ndarray, ridge: np.ndarray, b: np.ndarray,
    iters: int = 30, tol: float = 1e-7, chord: bool = False,
) -> tuple[np.ndarray, float]:  # fmt: skip
    """Penalised maximum likelihood by Newton's method from ``beta``. With ``chord`` the
    Hessian of the first iteration is kept (refreshed only if a step grows): for starts
    near the optimum (a trial half-life, a bootstrap replicate) each further iteration
    costs a gradient, not a Hessian, and converges to the same point."""
    ev = _event_sums(X, st)
    ll, last_step, factor = -np.inf, np.inf, None
    for _ in range(iters):
        if factor is None:
            ll, grad, hess, _ = _loglik(X, st, beta, b, ev)
            factor = cho_factor(-hess + np.diag(ridge))
        else:
            ll, grad = _score(X, st, beta, b, ev)[:2]
        step = cho_solve(factor, grad - ridge * beta)
        beta = beta + step
        size = float(np.max(np.abs(step)))
        if size < tol:
            break
        if not chord or size > last_step:
            factor = None
        last_step = size
    return beta, ll - 0.5 * float(ridge @ beta**2)


def _variances(
    X: np.ndarray, st: _Strata, beta: np.ndarray, ridge: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """The coefficients' variances: the model's own (inverse penalised Hessian) and
    clustered by customer (sandwich)."""
    _, _, hess, scores = _loglik(X, st, beta, np.ones(st.n_ev.size))
    h_inv = np.linalg.inv(-hess + np.diag(ridge))
    return np.diag(h_inv), np.diag(h_inv @ (scores.T @ scores) @ h_inv)


def _cluster_se(X: np.ndarray, st: _Strata, beta: np.ndarray, ridge: np.ndarray) -> np.ndarray:
    """Standard errors clustered by customer (sandwich)."""
    return np.sqrt(np.maximum(_variances(X, st, beta, ridge)[1], 0.0))


@dataclass(frozen=True, eq=False)
class _Profile:
    """The half-life weights and what redoing them under customer weights needs."""

    half: np.ndarray  # (C,) index into HALF_LIVES: the weights' mode
    profile: list[list[float]]  # per channel: log likelihood per grid value minus its max
    weights: np.ndarray  # (C, H) each channel's weights over HALF_LIVES (rows sum to 1)
    cust_ll: np.ndarray  # (C, H, customers) customer terms of the last sweep's fits
    pen_ll: np.ndarray  # (C, H) the ridge term of those fits
    # (C,) the likelihood's inflation (see _inflation); the profiles are divided by it
    # with ADJUST_PROFILE (empty: no inflation known, i.e. ones)
    inflation: np.ndarray = field(default_factory=lambda: np.ones(0))


def _weights(lls: np.ndarray) -> np.ndarray:
    """Weights over ``HALF_LIVES`` from profile log likelihoods ``lls`` (last axis): the
    likelihood times a prior that loses ``PRIOR_PER_DOUBLING`` units per doubling."""
    lw = lls - PRIOR_PER_DOUBLING * np.log2(np.asarray(HALF_LIVES) / HALF_LIVES[0])
    w = np.exp(lw - lw.max(axis=-1, keepdims=True))
    return w / w.sum(axis=-1, keepdims=True)


def _inflation(X: np.ndarray, st: _Strata, beta: np.ndarray, pen: np.ndarray,
               n_ch: int) -> np.ndarray:  # fmt: skip
    """How much the sampled likelihood overstates its information on each channel's main
    effect: the clustered (sandwich) variance of the coefficient over the model's own, at
    least 1. The days without a purchase enter as a weighted sample (8 to 60 a customer),
    so the likelihood's differences carry that sample's noise as well: measured 1.04-1.08
    with 33 days a customer (20,000 customers), 1.4-1.9 with 8 (200,000 and more). With
    :data:`ADJUST_PROFILE` (the default) the profiles are divided by it, to put them in the
    units of a full likelihood, which the prior per doubling is written in: without it a
    no-effect channel's noise at a long half-life looked 1.4-1.9 times stronger on large
    logs than on small ones. Measured (``jn13`` in RESULTS.md): the 1,000,000-customer
    benchmark world 4.33 -> 3.26 points, three 200,000-customer worlds 1.84 -> 1.55, fresh
    20,000-customer worlds 3.83 -> 3.91, 8,000-customer worlds 5.48 -> 5.51. It is
    reported in the diagnostics (``likelihood_inflation``) either way."""
    model, sandwich = _variances(X, st, beta, pen)
    return np.maximum(sandwich[:n_ch] / np.maximum(model[:n_ch], 1e-300), 1.0)


def _divisor(prof: _Profile) -> np.ndarray:
    """What each channel's profile is divided by: its inflation with ADJUST_PROFILE."""
    if ADJUST_PROFILE and prof.inflation.size:
        return prof.inflation
    return np.ones(prof.half.size)


def _choose_half_lives(rows: _Rows, st: _Strata, n_ch: int, ridge: float) -> _Profile:
    """Each channel's half-life weights from the profile likelihood of the main-effects
    model, one channel at a time (the others at their modes so far), two sweeps; the trial
    fits swap one column of a design built once and start from the current fit. The last
    sweep's fits keep each customer's term of the log likelihood, so the bootstrap can redo
    the weights under its customer weights."""
    n_h = len(HALF_LIVES)
    half = np.full(n_ch, START_HALF_LIFE)
    sat = -np.expm1(-rows.expo[st.rows].astype(float))  # (R, C, H)
    X = _design(rows, half, st.rows, pairs=False)
    pen = _penalty(X.shape[1], n_ch, ridge)
    ones = np.ones(st.n_ev.size)
    profile: list[list[float]] = [[] for _ in range(n_ch)]
    cust_ll = np.zeros((n_ch, n_h, st.n_ev.size))
    pen_ll = np.zeros((n_ch, n_h))
    beta, _ = _newton(X, st, np.zeros(X.shape[1]), pen, ones, iters=12, tol=1e-5)
    for sweep in range(2):
        k = _inflation(X, st, beta, pen, n_ch)
        for c in range(n_ch):
            lls = np.empty(n_h)
            for h in range(n_h):
                X[:, c] = sat[:, c, h]
                b_h, lls[h] = _newton(X, st, beta, pen, ones, iters=40, tol=1e-5, chord=True)
                if sweep == 1:
                    cust_ll[c, h] = _customer_ll(X, st, b_h)
                    pen_ll[c, h] = 0.5 * float(pen @ b_h**2)
            if ADJUST_PROFILE:
                lls /= k[c]
            half[c] = int(np.argmax(_weights(lls)))
            profile[c] = [float(v - lls.max()) for v in lls]
            X[:, c] = sat[:, c, half[c]]
            beta, _ = _newton(X, st, beta, pen, ones, iters=40, tol=1e-5, chord=True)
    return _Profile(half, profile, _weights(np.asarray(profile)), cust_ll, pen_ll, k)


def _replicate_half_lives(prof: _Profile, b: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Each channel's half-life drawn from its weights redone with customer weights ``b``:
    each channel's profile is the weighted sum of the customers' log likelihood terms at the
    full sample's fits (the refit under the weights moves each value by a second-order
    amount)."""
    lls = np.einsum("chn,n->ch", prof.cust_ll, b) - prof.pen_ll
    w = _weights(lls / _divisor(prof)[:, None])
    return np.array([rng.choice(w.shape[1], p=w[c]) for c in range(w.shape[0])])


def _averaged_removals(
    rows: _Rows, st: _Strata, prof: _Profile, beta: np.ndarray, pen: np.ndarray,
    buy: np.ndarray, lost: np.ndarray,
) -> np.ndarray:  # fmt: skip
    """Each channel's conversions lost to its removal, averaged over its half-lives with the
    profile's weights: for every half-life of enough weight the model (interactions as
    selected) is refitted with the channel at that half-life and the others at their modes.
    ``lost`` holds the removals of the fit at the modes."""
    n_ch = prof.half.size
    conv = rows.conv[buy]
    out = np.zeros(n_ch)
    for c in range(n_ch):
        w = np.where(prof.weights[c] >= MIN_WEIGHT, prof.weights[c], 0.0)
        w /= w.sum()
        for h in np.flatnonzero(w):
            if h == prof.half[c]:
                out[c] += w[h] * lost[c]
                continue
            half = prof.half.copy()
            half[c] = h
            X_all = _design(rows, half)
            X_h, ones = X_all[st.rows], np.ones(st.n_ev.size)
            b_h, _ = _newton(X_h, st, beta, pen, ones, iters=40, tol=1e-5, chord=True)
            b_h, _ = _nonneg(X_h, st, b_h, pen, ones, n_ch, iters=40, tol=1e-5, chord=True)
            out[c] += w[h] * _effects(_contributions(X_all[buy], b_h, n_ch), conv)[0][c]
    return out


def _nonneg(
    X: np.ndarray, st: _Strata, beta: np.ndarray, pen: np.ndarray, b: np.ndarray, n_ch: int,
    **newton: Any,
) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    """With ``NONNEG``, the fit ``beta`` refitted with every channel whose main effect is
    negative held at zero (with ``"drop"`` its pairs too), repeated until none is; the fit
    and its penalty."""
    if not NONNEG:
        return beta, pen
    pairs = [(a, c) for a in range(n_ch) for c in range(a + 1, n_ch)]
    for _ in range(n_ch):
        neg = (beta[:n_ch] < 0) & (pen[:n_ch] < DROPPED)
        if not neg.any():
            break
        pen = pen.copy()
        pen[:n_ch][neg] = DROPPED
        if NONNEG == "drop":
            for k, (a, c) in enumerate(pairs):
                if neg[a] or neg[c]:
                    pen[n_ch + k] = DROPPED
        beta, _ = _newton(X, st, np.where(pen < DROPPED, beta, 0.0), pen, b, **newton)
    return beta, pen


def _penalty(k: int, n_effects: int, ridge: float) -> np.ndarray:
    """Ridge on the channel and pair columns (the first ``n_effects``), tiny on the rest."""
    pen = np.full(k, 1e-6)
    pen[:n_effects] = ridge
    return pen


def _contributions(X: np.ndarray, beta: np.ndarray, n_ch: int) -> np.ndarray:
    """``eta - eta_c`` per row for each channel's removal, and for all channels (last
    column): the channel's exposure and its pairs times their coefficients."""
    pairs = [(a, b) for a in range(n_ch) for b in range(a + 1, n_ch)]
    n_pairs = len(pairs)
    out = np.empty((X.shape[0], n_ch + 1))
    for c in range(n_ch):
        cols = [c] + [n_ch + k for k, pr in enumerate(pairs[:n_pairs]) if c in pr]
        out[:, c] = X[:, cols] @ beta[cols]
    out[:, n_ch] = X[:, : n_ch + n_pairs] @ beta[: n_ch + n_pairs]
    return out


def _effects(contrib: np.ndarray, conv: np.ndarray) -> tuple[np.ndarray, float]:
    """Conversions lost per removed channel, and those left with none (thinning)."""
    kept = np.exp(-contrib)
    lost = conv @ (1.0 - kept[:, :-1])
    return lost, float(conv @ kept[:, -1])


def _select(beta: np.ndarray, se: np.ndarray, inter: slice, pen: np.ndarray) -> np.ndarray:
    """The penalty with the interactions whose ``|z|`` is below ``Z_KEEP`` held at zero."""
    out = pen.copy()
    z = np.abs(beta[inter]) / np.maximum(se[inter], 1e-12)
    out[inter] = np.where(z >= Z_KEEP, pen[inter], DROPPED)
    return out


def fit_causal(
    data: JourneyData,
    n_bootstrap: int = 100,
    seed: int = 0,
    max_customers: int = 200_000,
    max_rows: int = 250_000,
    ridge: float = 1.0,
) -> CausalResult:
    """Fit the fixed-effects purchase-hazard model and remove each channel in turn.

    Parameters
    ----------
    data : JourneyData
    n_bootstrap : int
        Bootstrap refits over customers for the 90% intervals (0: none).
    seed : int
        Seeds the buyer and day sampling and the bootstrap.
    max_customers : int
        Buyers used (a seeded sample above this, scaled up).
    max_rows : int
        Rows of the likelihood the days without a purchase are sampled down to (between
        8 and 60 such days per customer).
    ridge : float
        L2 penalty on the channel and pair coefficients.

    Returns
    -------
    CausalResult
    """
    with threadpool_limits(limits=1):  # one BLAS thread: 3x faster than two on a busy box
        return _fit(data, n_bootstrap, seed, max_customers, max_rows, ridge)


def _fit(
    data: JourneyData, n_bootstrap: int, seed: int, max_customers: int, max_rows: int,
    ridge: float,
) -> CausalResult:  # fmt: skip
    rng = np.random.default_rng(seed)
    n_ch = len(data.channels)
    fetched = _fetch(data)
    rows, info = _build_rows(data, fetched, max_customers, max_rows, rng)
    del fetched
    n_cust = info["buyers_used"]
    st = _strata(rows, n_cust)
    if info["purchases_in_likelihood"] < 10:
        raise DataError(
            f"too few purchases to fit the attribution model: {info['purchases_in_likelihood']} "
            f"in its likelihood (at least 10 needed; {info['buyers']:,} buyers, "
            f"{data.n_conversions:,} conversions over {data.n_days} days). The model compares "
            "each buyer's purchase days with their other days after the first "
            f"{info['burn_in_days']}, so it needs buyers who buy more than once, or a longer "
            "log: 1. give a longer period of touches and conversions; 2. check that the "
            "customer ids of the two files are the same ids"
        )
    prof = _choose_half_lives(rows, st, n_ch, ridge)
    half, profile = prof.half, prof.profile
    X_all = _design(rows, half)
    X = X_all[st.rows]
    n_pairs = n_ch * (n_ch - 1) // 2
    inter = slice(n_ch, n_ch + n_pairs)
    pen = _penalty(X.shape[1], n_ch + n_pairs, ridge)
    ones = np.ones(n_cust)
    beta_all, _ = _newton(X, st, np.zeros(X.shape[1]), pen, ones)
    se = _cluster_se(X, st, beta_all, pen)
    pen_sel = _select(beta_all, se, inter, pen)
    beta, _ = _newton(X, st, np.where(pen_sel < DROPPED, beta_all, 0.0), pen_sel, ones)
    beta, _ = _nonneg(X, st, beta, pen_sel, ones, n_ch)
    buy = rows.conv > 0
    Xb, conv, cust_b = X_all[buy], rows.conv[buy], rows.cust[buy]
    scale = float(info["scale"])
    lost, base = _effects(_contributions(Xb, beta, n_ch), conv)
    lost = _averaged_removals(rows, st, prof, beta, pen_sel, buy, lost)
    inc, base = lost * scale, base * scale
    draws = np.empty((n_bootstrap, n_ch))
    kept = np.zeros(n_pairs)
    at_zero = np.zeros(n_ch)  # replicates holding each channel's main effect at zero
    halves = np.zeros((n_ch, len(HALF_LIVES)))
    n_blocks = int(rows.block.max()) + 1
    fe_b, buy_b = st.rows, np.flatnonzero(buy)
    point = tuple(int(h) for h in half)
    designs: dict[tuple[int, ...], tuple[np.ndarray, ...]] = {point: (X, Xb)}
    for r in range(n_bootstrap):
        b = rng.poisson(1.0, n_cust).astype(float)
        half_b = _replicate_half_lives(prof, b, rng)
        halves[np.arange(n_ch), half_b] += 1
        key = tuple(int(h) for h in half_b)
        if key not in designs:  # the few choices that recur are built once
            if len(designs) >= DESIGNS_KEPT:
                designs.pop(next(k for k in designs if k != point))
            designs[key] = tuple(_assemble(_main(rows, half_b, ix), rows.recent[ix],
                                           rows.block[ix], n_blocks) for ix in (fe_b, buy_b))  # fmt: skip
        X_r, Xb_r = designs[key]
        beta_b, _ = _newton(X_r, st, beta_all, pen, b, iters=20, tol=1e-5, chord=True)
        pen_b = _select(beta_b, se, inter, pen)
        kept += pen_b[inter] < DROPPED
        beta_b, _ = _newton(X_r, st, np.where(pen_b < DROPPED, beta_b, 0.0), pen_b, b,
                            iters=20, tol=1e-5, chord=True)  # fmt: skip
        beta_b, pen_nn = _nonneg(X_r, st, beta_b, pen_b, b, n_ch, iters=20, tol=1e-5,
                                 chord=True)  # fmt: skip
        at_zero += pen_nn[:n_ch] >= DROPPED
        draws[r] = _effects(_contributions(Xb_r, beta_b, n_ch), conv * b[cust_b])[0] * scale
    # summed in a fixed order: the order of the rows in the files must not change a digit
    value = data.con.execute("select avg(value order by value) from conversions").fetchone()
    mean_value = float(value[0]) if value and value[0] is not None else float("nan")
    cost = dict(data.con.execute("select ch, sum(cost order by cost) from touches "
                                 "group by ch").fetchall())  # fmt: skip
    table = _table(data, inc, draws, mean_value, cost)
    if n_bootstrap:
        info["share_interval_of_replicates"] = {
            n: [float(lo), float(hi)] for n, lo, hi in table[["name", "low", "high"]].itertuples(
                index=False)}  # fmt: skip
        info["main_effect_at_zero_in_bootstrap"] = {
            n: float(k / n_bootstrap) for n, k in zip(data.channels, at_zero, strict=True)}  # fmt: skip
        table = _reach_zero(table, _held_at_zero(at_zero, n_bootstrap))
    names = data.channels
    pairs = [f"{names[a]} x {names[c]}" for a in range(n_ch) for c in range(a + 1, n_ch)]
    info["half_life_days"] = {names[c]: HALF_LIVES[half[c]] for c in range(n_ch)}
    info["half_life_profile"] = {names[c]: profile[c] for c in range(n_ch)}
    info["likelihood_inflation"] = {names[c]: float(prof.inflation[c]) for c in range(n_ch)}
    info["half_life_weights"] = {names[c]: [float(v) for v in prof.weights[c]]
                                 for c in range(n_ch)}  # fmt: skip
    info["interactions_kept"] = [pr for k, pr in enumerate(pairs) if pen_sel[n_ch + k] < DROPPED]
    if n_bootstrap:
        info["interactions_kept_in_bootstrap"] = [
            (pr, float(k / n_bootstrap)) for pr, k in zip(pairs, kept, strict=True)]  # fmt: skip
        info["half_life_in_bootstrap"] = {
            names[c]: {str(HALF_LIVES[h]): float(halves[c, h] / n_bootstrap)
                       for h in range(len(HALF_LIVES)) if halves[c, h]}
            for c in range(n_ch)}  # fmt: skip
    info.update({"method": "hazard_fixed_effects", "bootstrap": n_bootstrap, "seed": seed,
                 "mean_conversion_value": mean_value,
                 "coefficients": int(X.shape[1])})  # fmt: skip
    return CausalResult(table, base, info)


def _held_at_zero(at_zero: np.ndarray, n_bootstrap: int) -> np.ndarray:
    """Channels whose main effect the bootstrap held at zero often enough for their
    intervals to reach 0: in ``AT_ZERO_SHARE`` of the replicates and ``AT_ZERO_MIN`` at least."""
    return (at_zero / n_bootstrap >= AT_ZERO_SHARE) & (at_zero >= AT_ZERO_MIN)


def _reach_zero(table: pd.DataFrame, at_boundary: np.ndarray) -> pd.DataFrame:
    """``table`` with the intervals of the channels ``at_boundary`` extended to reach 0."""
    out = table.copy()
    for lo, hi in (("low", "high"),
                   ("incremental_conversions_low", "incremental_conversions_high")):  # fmt: skip
        out.loc[at_boundary, lo] = np.fmin(out.loc[at_boundary, lo], 0.0)
        out.loc[at_boundary, hi] = np.fmax(out.loc[at_boundary, hi], 0.0)
    return out


def _table(
    data: JourneyData, inc: np.ndarray, draws: np.ndarray, mean_value: float,
    cost: dict[int, float],
) -> pd.DataFrame:  # fmt: skip
    total = inc.sum()
    share = inc / total if total > 0 else np.full(inc.size, np.nan)
    sums = draws.sum(1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        share_draws = np.where(sums > 0, draws / sums, np.nan)
    has = len(draws) > 0

    def q(a: np.ndarray, p: float) -> np.ndarray:
        if not has or np.all(np.isnan(a)):
            return np.full(inc.size, np.nan)
        return np.nanquantile(a, p, axis=0)

    spend = np.array([cost.get(c, 0.0) for c in range(inc.size)])
    with np.errstate(invalid="ignore", divide="ignore"):
        cpic = np.where((inc > 0) & data.has_cost, spend / inc, np.nan)
    return pd.DataFrame({
        "name": data.channels,
        "share": share,
        "low": q(share_draws, 0.05),
        "high": q(share_draws, 0.95),
        "incremental_conversions": inc,
        "incremental_conversions_low": q(draws, 0.05),
        "incremental_conversions_high": q(draws, 0.95),
        "incremental_revenue": inc * mean_value,
        "cost": spend if data.has_cost else np.full(inc.size, np.nan),
        "cost_per_incremental_conversion": cpic,
    })  # fmt: skip
