"""lc12: more levers for the BTYD base model on small real logs, paired, pre-declared.

Every variant below is the library's ``btyd_base`` recipe (:class:`BTYDBase`, the nine-input
L2 logistic fitted on the training cutoffs before the later fold, which is what
``score_customers`` picks on Complete Journey and the CDNOW sample) with one thing changed.
All are scored on the validation customers of ``score_customers(file, as_of, 90, out)``'s
cutoff plan (files as they come, roles inferred); the reference is the library as shipped,
so each difference is paired (standard deviation over 200 bootstrap resamples of the
validation customers, seed 0; for ten disjoint tenths of CDNOW master the mean over tenths,
its standard error across them, and how many tenths are at or above the library). AUC is
rank-only, so the Platt step of the recipe is left out (it cannot change a ranking).

The variants were declared before the run, one per direction of issue 21's brief:

* **Regularity / rhythm** (extra base input, ``log1p``): ``recency_gap_ratio`` (recency over
  the customer's median gap, the overdue ratio), ``gap_cv``, ``last_gap``, ``max_gap`` (the
  longest closed gap between purchase days), ``n_long_gaps`` (closed gaps of 45 days or
  more, half the horizon).
* **Frequency as a rate** (drifts less than a count when the log starts on a fixed day):
  ``n_days`` replaced by ``n_days / (tenure_days + 30)`` (``n_days->rate``), or added
  (``+day_rate``); ``+pnbd_rate`` = Pareto/NBD expected purchases over P(alive).
* **Monetary / volume**: ``+n_lines`` (receipt lines: orders x lines per order).
* **A recent-window BTYD input** (non-stationarity): Pareto/NBD and BG/NBD refitted at each
  cutoff on the last ``W`` days only (the clock restarts at the window start for customers
  older than it: x = purchase days in the window, t_x and T from the window start; younger
  customers as usual), their P(any purchase in 90 days) added (``+pnbd_w90``,
  ``+both_w90``, ``+pnbd_w180``, ``+both_w180``).
* **More training rows**: training cutoffs every 15 days over the same span (seven instead
  of four; the base on the six before the later fold), unweighted (``dense15``), with each
  customer's rows weighted by 1 / its number of rows (``dense15_w``, cluster weighting), and
  on all seven (``dense15_all``).
* **Regularisation**: the L2 strength ``C`` (1 in the library) at 0.1, 0.3, 3; the same
  penalty shrinking towards the BTYD models' own prediction instead of towards a constant
  (``offset C=0.3``: the mean of the Pareto/NBD and BG/NBD P(any) logits as an offset, the
  nine coefficients a penalised correction); ``C`` chosen per log and target on the
  training rows alone (``forward C``: fitted on the earliest training cutoff, scored by log
  loss on the later fold 90 days on, whose label windows do not overlap; grid 0.03-3,
  rescaled to the rows of the final fit).

Logs: Complete Journey as of 2017-12-31; the CDNOW sample and the ten CDNOW tenths as of
1998-06-30 (``--cdnow-as-of``, the dev date) and 1998-03-31 (``--fresh-as-of``, a period
used only to check what the dev date suggests). CDNOW files: extract
``lifetimes/datasets/CDNOW_master.txt`` and ``CDNOW_sample.txt`` from the ``Lifetimes``
0.11.3 wheel (MIT; nothing is downloaded at run time).

Usage::

    .venv/bin/python benchmarks/bench_btyd_lc12.py --cdnow /path/CDNOW_master.txt \
        --cdnow-sample /path/CDNOW_sample.txt [--no-write]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from unittest import mock

import numpy as np
import pandas as pd
from scipy.optimize import minimize
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import log_loss, roc_auc_score

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _results import finish_section, machine_header, markdown_table
from bench_btyd_variants import _cdnow_csvs, log_parser

from omnimmm.lifecycle import btyd_base
from omnimmm.lifecycle.btyd_base import BASE_COLUMNS, BTYDBase

REPO = Path(__file__).resolve().parents[1]
CJ = REPO.parent / "shared" / "data" / "completejourney" / "transactions_sample.csv"
PACKAGES = ("omnimmm", "lightgbm", "scikit-learn", "scipy", "numpy")
B = 200
GRID_C = (0.03, 0.1, 0.3, 1.0, 3.0)
LONG_GAP_DAYS = 45
WINDOWS = (90, 180)


def _build(path: Path, as_of: str, n_cutoffs: int = 4, step_days: int = 30) -> dict:
    from omnimmm.lifecycle.features import load_transactions
    from omnimmm.lifecycle.labels import check_history
    from omnimmm.lifecycle.propensity import rolling_training_set

    t = load_transactions(path)
    plan = check_history(t, as_of, 90, n_cutoffs=n_cutoffs, step_days=step_days)
    cache: dict = {}
    return {
        target: (
            rolling_training_set(t, plan.train, 90, target=target, cache=cache),
            rolling_training_set(t, [plan.validation], 90, target=target, cache=cache),
        )
        for target in ("repurchase", "churn")
    }


def _purchase_days(path: Path) -> pd.DataFrame:
    """Distinct (customer, day) pairs of a log, read with the library's role inference."""
    from omnimmm.lifecycle.features import load_transactions

    t = load_transactions(path)
    d = t.con.execute(f"SELECT DISTINCT customer_id, CAST(ts AS DATE) AS day FROM {t.table}").df()
    return d.assign(customer_id=d["customer_id"].astype(str), day=pd.to_datetime(d["day"]))


def _extra_at(days: pd.DataFrame, cutoff: pd.Timestamp) -> pd.DataFrame:
    """Per customer with history before the end of ``cutoff``: gap extremes and the
    recent-window BTYD P(any) (see the module docstring)."""
    from omnimmm.lifecycle.rhythm import fit_btyd

    end = cutoff + pd.Timedelta(days=1)
    d = days[days["day"] < end].sort_values(["customer_id", "day"])
    gap = d.groupby("customer_id")["day"].diff().dt.days
    g = d.assign(gap=gap).groupby("customer_id")
    out = pd.DataFrame({"max_gap": g["gap"].max()})
    out["n_long_gaps"] = g["gap"].agg(lambda s: float((s >= LONG_GAP_DAYS).sum()))
    first, last, n_all = g["day"].min(), g["day"].max(), g["day"].nunique()
    for w in WINDOWS:
        start = end - pd.Timedelta(days=w)
        n_in = d[d["day"] >= start].groupby("customer_id")["day"].nunique()
        n_in = n_in.reindex(first.index, fill_value=0)
        old = first < start
        origin = first.where(~old, start)
        x = np.where(old, n_in, n_all - 1).astype(float)
        t_x = np.where(n_in > 0, (last - origin).dt.days, 0).astype(float)
        T = ((end - origin).dt.total_seconds() / 86400).to_numpy()
        for name, model in fit_btyd(x, t_x, T).items():
            out[f"{name}_w{w}_p_any"] = model.p_any(90 / 7, x, t_x / 7, np.maximum(T, t_x) / 7)
    return out


def _with_extra(ts, extra: dict[pd.Timestamp, pd.DataFrame]) -> pd.DataFrame:
    X = ts.X.copy()
    cut = pd.to_datetime(pd.Series(ts.cutoff)).to_numpy()
    ids = pd.Series(ts.customer_id)
    cols = next(iter(extra.values())).columns
    vals = np.full((len(X), len(cols)), np.nan)
    for c, frame in extra.items():
        m = cut == np.datetime64(c)
        if m.any():
            vals[m] = frame.reindex(ids[m]).to_numpy(dtype=float)
    for j, col in enumerate(cols):
        X[col] = vals[:, j]
    X["n_lines"] = X["n_orders"] * X.get("lines_per_order", 1.0)
    X["day_rate"] = 1000 * X["n_days"] / (X["tenure_days"] + 30)
    X["pnbd_rate"] = 1000 * X["pnbd_expected"] / X["pnbd_p_alive"]
    return X


def _base(X, y, early, Xv, cols=BASE_COLUMNS, C=1.0, weight=None) -> np.ndarray:
    """Log-odds of :class:`BTYDBase` with ``cols`` and ``C``, fitted on ``early`` rows."""
    with mock.patch.object(btyd_base, "BASE_COLUMNS", tuple(cols)):
        b = BTYDBase(list(X.columns), C=C).fit(X.to_numpy(float)[early], y[early])
    if weight is None:
        return b.decision_function(Xv[X.columns].to_numpy(float))
    z = b._z(X.to_numpy(float)[early])
    m = LogisticRegression(C=C, max_iter=1000).fit(z, y[early], sample_weight=weight)
    return np.asarray(m.decision_function(b._z(Xv[X.columns].to_numpy(float))), dtype=float)


def _offset_base(X, y, early, Xv, C: float) -> np.ndarray:
    """Nine-input base whose penalty shrinks towards the mean BTYD P(any) logit (offset)."""
    with mock.patch.object(btyd_base, "BASE_COLUMNS", BASE_COLUMNS):
        b = BTYDBase(list(X.columns)).fit(X.to_numpy(float)[early], y[early])
    z, zv = b._z(X.to_numpy(float)[early]), b._z(Xv[X.columns].to_numpy(float))
    used = [b.names[i] for i in b.columns_]
    k = [used.index(c) for c in ("pnbd_p_any", "bgnbd_p_any")]
    off, offv = z[:, k].mean(axis=1), zv[:, k].mean(axis=1)
    s = 2.0 * y[early] - 1.0

    def loss(p: np.ndarray) -> tuple[float, np.ndarray]:
        w, c = p[:-1], p[-1]
        m = off + z @ w + c
        g = -s / (1.0 + np.exp(s * m))
        value = C * np.logaddexp(0.0, -s * m).sum() + 0.5 * w @ w
        return value, np.concatenate([C * z.T @ g + w, [C * g.sum()]])

    p = minimize(loss, np.zeros(z.shape[1] + 1), jac=True, method="L-BFGS-B").x
    return offv + zv @ p[:-1] + p[-1]


def _forward_c(X, y, cutoff) -> float:
    """``C`` from :data:`GRID_C` by log loss on the later fold of a fit on the earliest
    training cutoff (label windows 90 days apart), rescaled to the final fit's rows."""
    cuts = np.sort(np.unique(cutoff))
    first, later, early = cutoff == cuts[0], cutoff == cuts[-1], cutoff != cuts[-1]
    vals = X.to_numpy(float)
    with mock.patch.object(btyd_base, "BASE_COLUMNS", BASE_COLUMNS):
        b = BTYDBase(list(X.columns)).fit(vals[early], y[early])
    z = b._z(vals)
    losses = []
    for c in GRID_C:
        m = LogisticRegression(C=c * early.sum() / first.sum(), max_iter=1000)
        p = m.fit(z[first], y[first]).predict_proba(z[later])[:, 1]
        losses.append(log_loss(y[later], p, labels=[0, 1]))
    return GRID_C[int(np.argmin(losses))]


def _variants(sets, dense, extra) -> dict[str, dict[str, np.ndarray]]:
    """Validation scores of every variant, per target."""
    out = {}
    for target, (tr, va) in sets.items():
        X, Xv = _with_extra(tr, extra), _with_extra(va, extra)
        y, early = tr.y, tr.cutoff != tr.cutoff.max()
        s: dict[str, np.ndarray] = {"library": _base(X, y, early, Xv)}
        for col in ("recency_gap_ratio", "gap_cv", "last_gap", "max_gap", "n_long_gaps"):
            s[f"+{col}"] = _base(X, y, early, Xv, BASE_COLUMNS + (col,))
        nine = tuple(c for c in BASE_COLUMNS if c != "n_days")
        s["n_days->rate"] = _base(X, y, early, Xv, nine + ("day_rate",))
        for col in ("day_rate", "pnbd_rate", "n_lines"):
            s[f"+{col}"] = _base(X, y, early, Xv, BASE_COLUMNS + (col,))
        for w in WINDOWS:
            s[f"+pnbd_w{w}"] = _base(X, y, early, Xv, BASE_COLUMNS + (f"pnbd_w{w}_p_any",))
            both = (f"pnbd_w{w}_p_any", f"bgnbd_w{w}_p_any")
            s[f"+both_w{w}"] = _base(X, y, early, Xv, BASE_COLUMNS + both)
        trd, vad = dense[target]
        assert (vad.customer_id == va.customer_id).all()
        e2 = trd.cutoff != trd.cutoff.max()
        ids = pd.Series(trd.customer_id[e2])
        w_ = (1.0 / ids.map(ids.value_counts())).to_numpy()
        s["dense15"] = _base(trd.X, trd.y, e2, vad.X)
        s["dense15_w"] = _base(trd.X, trd.y, e2, vad.X, weight=w_ * len(w_) / w_.sum())
        s["dense15_all"] = _base(trd.X, trd.y, np.ones(len(trd.y), bool), vad.X)
        for c in (0.1, 0.3, 3.0):
            s[f"C={c}"] = _base(X, y, early, Xv, C=c)
        s["offset C=0.3"] = _offset_base(X, y, early, Xv, 0.3)
        s["forward C"] = _base(X, y, early, Xv, C=_forward_c(X, y, tr.cutoff))
        out[target] = (va.y, s)
    return out


def _paired(y: np.ndarray, s: dict[str, np.ndarray]) -> dict[str, tuple[float, float, float]]:
    """AUC, difference to the library and its bootstrap sd (200 resamples, seed 0)."""
    rng = np.random.default_rng(0)
    names = list(s)
    auc = {k: roc_auc_score(y, v) for k, v in s.items()}
    boots = []
    for _ in range(B):
        i = rng.integers(0, len(y), len(y))
        if y[i].min() != y[i].max():
            boots.append([roc_auc_score(y[i], s[k][i]) for k in names])
    bs = np.asarray(boots)
    return {
        k: (auc[k], auc[k] - auc["library"], float(np.std(bs[:, j] - bs[:, 0])))
        for j, k in enumerate(names)
    }


def _run_log(path: Path, as_of: str, log: Callable[[str], None]) -> dict:
    t0 = time.process_time()
    sets, dense = _build(path, as_of), _build(path, as_of, n_cutoffs=7, step_days=15)
    days = _purchase_days(path)
    tr, va = sets["repurchase"]
    cuts = sorted({pd.Timestamp(c) for c in tr.cutoff} | {pd.Timestamp(va.cutoff[0])})
    extra = {c: _extra_at(days, c) for c in cuts}
    res = {t: _paired(y, s) for t, (y, s) in _variants(sets, dense, extra).items()}
    log(f"{path.name} as of {as_of}: {time.process_time() - t0:.0f} s CPU")
    return res


#: Inputs of the in-period ceiling's wide logistic: the base's nine and every extra above.
CEILING_EXTRAS: tuple[str, ...] = (
    "recency_gap_ratio", "gap_cv", "last_gap", "max_gap", "n_long_gaps", "day_rate",
    "pnbd_rate", "n_lines", "pnbd_w90_p_any", "bgnbd_w90_p_any", "pnbd_w180_p_any",
    "bgnbd_w180_p_any", "pnbd_p_alive", "tenure_days", "aov", "revenue", "decay_revenue_45d",
)  # fmt: skip


def ceiling(path: Path, as_of: str) -> list[list[str]]:
    """In-period ceiling (``--ceiling``): logistic regressions cross-fitted (5 stratified
    folds x 3 seeds) on the validation customers themselves, so no change of period at all;
    inputs standardised after the base's transforms, median-filled."""
    from sklearn.model_selection import StratifiedKFold

    sets = _build(path, as_of)
    _, va = sets["repurchase"]
    extra = {pd.Timestamp(va.cutoff[0]): _extra_at(_purchase_days(path), va.cutoff[0])}
    X, y = _with_extra(va, extra), va.y
    rows = []
    for name, cols in (
        ("base 9", BASE_COLUMNS),
        ("base 9 + 17 extras", BASE_COLUMNS + CEILING_EXTRAS),
    ):
        z = np.column_stack([
            btyd_base._logit(X[c].to_numpy(float)) if btyd_base._is_probability(c)
            else np.log1p(np.maximum(X[c].to_numpy(float), 0.0))
            for c in cols
        ])  # fmt: skip
        z = np.where(np.isfinite(z), z, np.nanmedian(np.where(np.isfinite(z), z, np.nan), 0))
        z = (z - z.mean(0)) / (z.std(0) + 1e-9)
        for c in (0.03, 0.3, 1.0):
            aucs = []
            for seed in range(3):
                p = np.zeros(len(y))
                for a, b in StratifiedKFold(5, shuffle=True, random_state=seed).split(z, y):
                    m = LogisticRegression(C=c, max_iter=2000).fit(z[a], y[a])
                    p[b] = m.decision_function(z[b])
                aucs.append(roc_auc_score(y, p))
            rows.append([name, str(c), " / ".join(f"{a:.4f}" for a in aucs)])
    return rows


def main(argv: list[str] | None = None) -> int:
    ap = log_parser(__doc__.split("\n\n")[0], "lc12_propensity")
    ap.add_argument("--fresh-as-of", default="1998-03-31")
    ap.add_argument("--ceiling", action="store_true", help="only the CJ in-period ceiling")
    args = ap.parse_args(argv)
    warnings.filterwarnings("ignore")
    if args.ceiling:
        rows = ceiling(args.cj, "2017-12-31")
        print(markdown_table(["inputs", "C", "AUC (seeds 0/1/2)"], rows))
        return 0
    header = machine_header(PACKAGES)
    t0 = time.process_time()
    results: dict[tuple[str, str], dict] = {}
    with tempfile.TemporaryDirectory() as tmp:
        if args.cj.exists():
            results[("Complete Journey", "2017-12-31")] = _run_log(args.cj, "2017-12-31", print)
        for as_of in (args.cdnow_as_of, args.fresh_as_of):
            ns = argparse.Namespace(**vars(args) | {"cdnow_as_of": as_of})
            sub = Path(tmp) / as_of
            sub.mkdir()
            for name, path, when in _cdnow_csvs(ns, sub):
                results[(name, when)] = _run_log(path, when, print)
    variants = list(next(iter(results.values()))["repurchase"])
    groups: list[tuple[str, str, str]] = []  # (label, as_of, target)
    for (name, when), _ in results.items():
        if not name.startswith("CDNOW master"):
            for target in ("repurchase", "churn"):
                if name == "Complete Journey" and target == "churn":
                    continue  # every CJ customer is eligible: churn = 1 - repurchase
                groups.append((name, when, target))
    dates = sorted({w for n, w in results if n.startswith("CDNOW master")}, reverse=True)
    for when in dates:
        for target in ("repurchase", "churn"):
            groups.append(("tenths", when, target))
    rows = []
    for v in variants:
        row = [v]
        for name, when, target in groups:
            if name == "tenths":
                part = [
                    r[target][v]
                    for (n, w), r in results.items()
                    if n.startswith("CDNOW master") and w == when
                ]
                if v == "library":
                    row.append(f"{np.mean([p[0] for p in part]):.4f} (mean AUC)")
                    continue
                d = np.asarray([p[1] for p in part])
                se = d.std(ddof=1) / np.sqrt(len(d)) if len(d) > 1 else float("nan")
                row.append(f"{d.mean():+.4f} ({se:.4f}; {int((d >= 0).sum())}/{len(d)})")
            else:
                auc, diff, sd = results[(name, when)][target][v]
                row.append(f"{auc:.4f}" if v == "library" else f"{diff:+.4f} ({sd:.4f})")
        rows.append(row)
    short = {"Complete Journey": "CJ", "CDNOW sample": "sample", "tenths": "tenths"}
    cols = ["variant"] + [f"{short[n]} {w[2:]} {t[:3]}" for n, w, t in groups]
    table = markdown_table(cols, rows)
    intro = (
        "## lc12: more levers for the BTYD base on small real logs, paired\n\n"
        "`benchmarks/bench_btyd_lc12.py` (see its docstring for every variant, declared "
        "before the run). Each cell: difference in validation AUC to the library's "
        "`btyd_base` recipe as shipped (row `library`: its AUC), with the sd of 200 paired "
        "bootstrap resamples of the validation customers (seed 0); for the ten CDNOW "
        "tenths the mean difference, its se across tenths and the tenths at or above. "
        "Columns: log, as-of date (yy-mm-dd), target (rep = repurchase, chu = churn; "
        "CJ churn = 1 - repurchase, same AUCs)."
    )
    cpu = time.process_time() - t0
    return finish_section(args.section, intro, header, cpu, table, write=not args.no_write)


if __name__ == "__main__":
    sys.exit(main())
