"""Paired comparison of propensity variants on small real logs, with bootstrap standard errors.

``bench_btyd.py`` reports one validation AUC per log; on logs of ~2,000 customers a gain of
0.003 is inside its noise. This script trains candidate variants on exactly the rows and
cutoff plan of ``score_customers(path, as_of, 90, ...)`` (files as they come, roles inferred)
and scores them on the same validation customers, so each difference is paired:

* ``current``: the ``btyd_base`` recipe with the seven base inputs used before lc21d
  (:class:`PropensityModel` with the BTYD base alone, ``BASE_COLUMNS`` swapped in for the
  fit); ``trees``: the ``btyd_trees`` recipe with those inputs;
* ``base+n_days+p_alive``: the same with ``n_days`` and ``bgnbd_p_alive`` added (the
  library's default from lc21d on);
* ``X, chosen``: the recipe ``score_customers`` would pick for X (lower validation log loss
  of the base alone and the base + trees), i.e. what ``metrics.json`` reports;
* ``glm+n_days+p_alive``: the base inputs plus those two (logit of probabilities, ``log1p``
  of counts and days, median fill with missing indicators, standardised, L2 ``C = 1``),
  fitted on the same earlier rows as the base; ``gam``/``gam+n_days+p_alive``: the same
  with every input through a cubic B-spline basis;
* ``base9+gam_rf``, ``base9+gamma_gamma``: the nine-input base with a spline term on
  recency and purchase days, or with the log Gamma-Gamma expected order value
  (:class:`_BaseTerm`).

With ``--set blend`` (lc21e) the variants instead combine the library's two recipes (nine
base inputs, as shipped) rather than choose between them; the references are ``chosen``
(today's ``score_customers`` choice, lower validation log loss) and ``base`` (the
``btyd_base`` recipe):

* ``avg_p`` / ``avg_logit``: the mean of the two recipes' calibrated probabilities / logits;
* ``stack_later``: base log-odds + ``w`` x the trees' correction, ``w`` on a grid of 0, 0.05,
  .., 1 chosen by log loss (after Platt scaling) on the trees recipe's calibration rows, the
  half of the later training fold the trees did not early-stop on (honest: no validation
  label is used);
* ``stack_val``: the same with ``w`` chosen on the validation customers themselves (in
  sample, as ``chosen`` is); ``stack_val_cf`` / ``chosen_cf``: ``w`` / the recipe chosen on
  the other half of the validation customers (two random halves, cross-fitted);
* ``bag5``: the trees recipe averaged over seeds 0-4 (probabilities); ``base+bag5``: its mean
  with the base's probability;
* ``base+glm``, ``base+trees+glm``: the mean logit of the recipes and of the standardised
  logistic ``glm+n_days+p_alive``.

Each difference comes with the standard deviation of 200 paired bootstrap resamples of the
validation customers. Logs: Complete Journey as of 2017-12-31; the CDNOW sample and ten
disjoint tenths of the CDNOW master log (customer id mod 10, ~2,357 customers each, the size
of the sample) as of 1998-06-30 (``--cdnow-as-of``), so the small-log regime is repeated ten
times and the mean over tenths has its own standard error.

Usage::

    .venv/bin/python benchmarks/bench_btyd_variants.py --cdnow /path/CDNOW_master.txt \
        --cdnow-sample /path/CDNOW_sample.txt [--tenths 0,1,2] [--no-write] \
        [--section lc21d_propensity] [--set blend --section lc21e_blend]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
import warnings
from pathlib import Path
from unittest import mock

import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import log_loss, roc_auc_score
from sklearn.preprocessing import SplineTransformer

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _results import finish_section, machine_header, markdown_table

from omnimmm.lifecycle.btyd_base import BASE_COLUMNS

REPO = Path(__file__).resolve().parents[1]
CJ = REPO.parent / "shared" / "data" / "completejourney" / "transactions_sample.csv"
PACKAGES = ("omnimmm", "lightgbm", "scikit-learn", "scipy", "numpy")
PLUS = ("n_days", "bgnbd_p_alive")
#: The BTYD base's inputs before lc21d: today's ``BASE_COLUMNS`` without ``PLUS``.
BASE_7: tuple[str, ...] = tuple(c for c in BASE_COLUMNS if c not in PLUS)
#: Library variants: the recipes of score_customers with these base inputs.
LIBRARY: dict[str, tuple[str, ...]] = {"current": BASE_7, "base+n_days+p_alive": BASE_7 + PLUS}
#: The references each variant is compared with, paired, per variant set.
REFS: dict[str, tuple[str, ...]] = {
    "features": ("current", "base+n_days+p_alive", "BG/NBD", "RFM"),
    "blend": ("chosen", "base", "BG/NBD", "RFM"),
}
#: Heading of the RESULTS.md section, per variant set.
TITLE: dict[str, str] = {
    "features": "## Propensity variants on small real logs, paired\n\n",
    "blend": "## lc21e: blending the two recipes instead of choosing, paired\n\n",
}
#: What the variants of each set are, for the RESULTS.md section.
ABOUT: dict[str, str] = {
    "features": (
        "`current` is the `btyd_base` recipe with the seven base inputs used before lc21d; "
        "`X, chosen` is the recipe score_customers picks (lower validation log loss of base "
        "alone and base + trees); `glm`/`gam` are bench-only logistic variants (see the "
        "script's docstring)."
    ),
    "blend": (
        "`chosen` is the recipe score_customers picks today (lower validation log loss of "
        "`base`, the BTYD base alone, and `trees`, base + LightGBM); the other rows combine "
        "the two recipes instead (see the script's docstring, `--set blend`)."
    ),
}
#: Weights of the trees' correction searched by the stacks.
GRID = np.linspace(0.0, 1.0, 21)
SEEDS = (0, 1, 2, 3, 4)
#: Bench-only logistic variants: (inputs, cubic-spline GAM terms or linear).
GLMS: dict[str, tuple[tuple[str, ...], bool]] = {
    "glm+n_days+p_alive": (BASE_7 + PLUS, False),
    "gam": (BASE_7, True),
    "gam+n_days+p_alive": (BASE_7 + PLUS, True),
}
B = 200


def _tf(name: str, v: np.ndarray) -> np.ndarray:
    if name.endswith(("_p_any", "_p_alive")):
        p = np.clip(v, 1e-6, 1 - 1e-6)
        return np.log(p) - np.log1p(-p)
    return np.log1p(np.maximum(v, 0.0))


class _GLM:
    """The base model's inputs and transforms, plus extra columns (see the module docstring)."""

    def __init__(self, cols: list[str]) -> None:
        self.cols = cols

    def _raw(self, df: pd.DataFrame) -> np.ndarray:
        return np.column_stack([_tf(c, df[c].to_numpy(dtype=float)) for c in self.cols])

    def _z(self, df: pd.DataFrame) -> np.ndarray:
        z = self._raw(df)
        miss = ~np.isfinite(z)
        z = (np.where(miss, self.fill, z) - self.mu) / self.sd
        return np.column_stack([z, miss[:, self.flag].astype(float)])

    def _design(self, df: pd.DataFrame) -> np.ndarray:
        return self._z(df)

    def fit(self, df: pd.DataFrame, y: np.ndarray) -> _GLM:
        z = self._raw(df)
        miss = ~np.isfinite(z)
        med = np.nanmedian(np.where(miss, np.nan, z), axis=0)
        self.fill = np.where(np.isfinite(med), med, 0.0)
        z = np.where(miss, self.fill, z)
        self.mu, self.sd = z.mean(axis=0), z.std(axis=0) + 1e-9
        self.flag = np.flatnonzero(miss.any(axis=0))
        self._prepare(df)
        self.model = LogisticRegression(C=1.0, max_iter=2000).fit(self._design(df), y)
        return self

    def _prepare(self, df: pd.DataFrame) -> None:
        return None

    def score(self, df: pd.DataFrame) -> np.ndarray:
        return np.asarray(self.model.decision_function(self._design(df)), dtype=float)


class _Spline(_GLM):
    """A GAM-like logistic: each standardised input through a natural-ish cubic B-spline
    basis (4 knots at quantiles, linear beyond the range), L2 ``C = 1``; missing flags as in
    :class:`_GLM`."""

    def _prepare(self, df: pd.DataFrame) -> None:
        z = self._z(df)
        k = len(self.cols)
        self.spline = SplineTransformer(
            n_knots=4, degree=3, knots="quantile", extrapolation="linear"
        ).fit(z[:, :k])

    def _design(self, df: pd.DataFrame) -> np.ndarray:
        z = self._z(df)
        k = len(self.cols)
        return np.column_stack([self.spline.transform(z[:, :k]), z[:, k:]])


class _BaseTerm:
    """The library's base (:class:`BTYDBase` with the nine inputs of ``base+n_days+p_alive``)
    with one more term, refitted as an L2 logistic (``C = 1``) on the base's own design:

    * ``"gam_rf"``: log1p recency and log1p purchase days through cubic B-splines (4 knots
      at quantiles, linear beyond the range) instead of linearly, a GAM-like term;
    * ``"gamma_gamma"``: log of the Gamma-Gamma expected order value (fitted on the base's
      rows' customers with two or more orders; orders and their mean value), the spend term.
    """

    def __init__(self, kind: str) -> None:
        self.kind = kind

    def _extra(self, df: pd.DataFrame) -> np.ndarray:
        x = df["n_orders"].to_numpy(dtype=float)
        m = df["aov"].to_numpy(dtype=float)
        x = np.where(np.isfinite(m) & (m > 0), x, 0.0)
        return np.log(self.gg.expected_spend(x, np.where(x > 0, m, 1.0)))

    def _design(self, df: pd.DataFrame) -> np.ndarray:
        z = self.base._z(df.to_numpy(dtype=float))
        if self.kind == "gam_rf":
            keep = [j for j in range(z.shape[1]) if j not in self.idx]
            return np.column_stack([z[:, keep], self.spline.transform(z[:, self.idx])])
        return np.column_stack([z, self._extra(df)])

    def fit(self, df: pd.DataFrame, y: np.ndarray) -> _BaseTerm:
        from omnimmm.lifecycle import btyd_base
        from omnimmm.lifecycle.btyd import GammaGamma

        with mock.patch.object(btyd_base, "BASE_COLUMNS", BASE_7 + PLUS):
            self.base = btyd_base.BTYDBase(list(df.columns)).fit(df.to_numpy(dtype=float), y)
        used = [self.base.names[i] for i in self.base.columns_]
        self.idx = [used.index("recency_days"), used.index("n_days")]
        z = self.base._z(df.to_numpy(dtype=float))
        self.spline = SplineTransformer(
            n_knots=4, degree=3, knots="quantile", extrapolation="linear"
        ).fit(z[:, self.idx])
        x, m = df["n_orders"].to_numpy(dtype=float), df["aov"].to_numpy(dtype=float)
        ok = (x > 1) & np.isfinite(m) & (m > 0)
        self.gg = GammaGamma().fit(x[ok], m[ok])
        self.model = LogisticRegression(C=1.0, max_iter=2000).fit(self._design(df), y)
        return self

    def score(self, df: pd.DataFrame) -> np.ndarray:
        return np.asarray(self.model.decision_function(self._design(df)), dtype=float)


def _build_sets(path: Path, as_of: str) -> dict:
    from omnimmm.lifecycle.features import load_transactions
    from omnimmm.lifecycle.labels import check_history
    from omnimmm.lifecycle.propensity import rolling_training_set

    t = load_transactions(path)
    plan = check_history(t, as_of, 90)
    cache: dict = {}
    out = {}
    for target in ("repurchase", "churn"):
        tr = rolling_training_set(t, plan.train, 90, target=target, cache=cache)
        va = rolling_training_set(t, [plan.validation], 90, target=target, cache=cache)
        out[target] = (tr, va)
    return out


def _library(cols: tuple[str, ...], X, y, cutoff, Xv, yv) -> dict[str, tuple[np.ndarray, float]]:
    """Both recipes of ``score_customers`` with ``cols`` as the BTYD base's inputs: the
    library's own ``PropensityModel`` / ``BTYDBase``, only ``BASE_COLUMNS`` swapped."""
    from omnimmm.lifecycle import btyd_base
    from omnimmm.lifecycle.propensity import PropensityModel
    from omnimmm.lifecycle.score import RECIPES

    out = {}
    with mock.patch.object(btyd_base, "BASE_COLUMNS", cols):
        for recipe in ("btyd_base", "btyd_trees"):
            kw = RECIPES[recipe] | {"calibration": "sigmoid", "random_state": 0, "n_jobs": 1}
            m = PropensityModel(**kw).fit(X, y, cutoff=cutoff)
            p = m.predict_proba(Xv)[:, 1]
            out[recipe] = (p, float(log_loss(yv, p, labels=[0, 1])))
    return out


def _variants(tr, va, target: str) -> dict[str, np.ndarray]:
    from omnimmm.lifecycle.propensity import RFM_COLUMNS, rfm_baseline

    X, Xv = tr.X, va.X[tr.X.columns]
    p = {}
    for name, cols in LIBRARY.items():
        fits = _library(cols, X, tr.y, tr.cutoff, Xv, va.y)
        p[name] = fits["btyd_base"][0]
        chosen = min(fits, key=lambda r: fits[r][1])  # score_customers' choice (log loss)
        p[f"{name}, chosen"] = fits[chosen][0]
        if name == "current":
            p["trees"] = fits["btyd_trees"][0]
    p["BG/NBD"] = va.X["bgnbd_p_any"].to_numpy(dtype=float)
    if target == "churn":
        p["BG/NBD"] = 1.0 - p["BG/NBD"]
    rfm = list(RFM_COLUMNS)
    p["RFM"] = rfm_baseline().fit(X[rfm], tr.y).predict_proba(Xv[rfm])[:, 1]
    early = tr.cutoff != tr.cutoff.max()  # the base's rows (the later fold is held out)
    for name, (cols, spline) in GLMS.items():
        glm = (_Spline if spline else _GLM)([c for c in cols if c in X])
        p[name] = glm.fit(X[early], tr.y[early]).score(Xv)
    for kind in ("gam_rf", "gamma_gamma"):
        p[f"base9+{kind}"] = _BaseTerm(kind).fit(X[early], tr.y[early]).score(Xv)
    return p


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, 1e-9, 1 - 1e-9)
    return np.log(p) - np.log1p(-p)


def _recipe(name: str, X, y, cutoff, seed: int = 0):
    from omnimmm.lifecycle.propensity import PropensityModel
    from omnimmm.lifecycle.score import RECIPES

    kw = RECIPES[name] | {"calibration": "sigmoid", "random_state": seed, "n_jobs": 1}
    return PropensityModel(**kw).fit(X, y, cutoff=cutoff)


def _platt_loss(s: np.ndarray, y: np.ndarray) -> float:
    lr = LogisticRegression(C=1e6).fit(s.reshape(-1, 1), y)
    return float(log_loss(y, lr.predict_proba(s.reshape(-1, 1))[:, 1], labels=[0, 1]))


def _best_w(b: np.ndarray, t: np.ndarray, y: np.ndarray) -> float:
    """The weight of the trees' correction with the lowest Platt-scaled log loss."""
    return float(GRID[int(np.argmin([_platt_loss(b + w * t, y) for w in GRID]))])


def _halves(n: int) -> np.ndarray:
    return np.random.default_rng(1).permutation(n) % 2 == 0


def _blend_variants(tr, va, target: str) -> dict[str, np.ndarray]:
    """The lc21e variants (``--set blend``; see the module docstring)."""
    from omnimmm.lifecycle.propensity import RFM_COLUMNS, rfm_baseline

    X, Xv = tr.X, va.X[tr.X.columns]
    yv = va.y
    base = _recipe("btyd_base", X, tr.y, tr.cutoff)
    trees = [_recipe("btyd_trees", X, tr.y, tr.cutoff, seed) for seed in SEEDS]
    pb, pt = base.predict_proba(Xv)[:, 1], trees[0].predict_proba(Xv)[:, 1]
    loss = {"base": log_loss(yv, pb, labels=[0, 1]), "trees": log_loss(yv, pt, labels=[0, 1])}
    p = {"chosen": pb if loss["base"] <= loss["trees"] else pt, "base": pb, "trees": pt}
    p["avg_p"] = (pb + pt) / 2
    p["avg_logit"] = (_logit(pb) + _logit(pt)) / 2
    # The trees recipe's margin split into the base's log-odds and the trees' correction.
    m = trees[0]
    vals, vvals = X.to_numpy(dtype=float), Xv.to_numpy(dtype=float)
    b, t = m.base_.decision_function(vvals), m._margin(vvals) - m.base_.decision_function(vvals)
    later = m._later_fold(len(tr.y), tr.cutoff)
    held = np.random.default_rng(m.random_state).permutation(np.flatnonzero(later))
    cal = np.array_split(held, 2)[1]  # PropensityModel's calibration rows
    bc = m.base_.decision_function(vals[cal])
    tc = m._margin(vals[cal]) - bc
    w_later = _best_w(bc, tc, tr.y[cal])
    p["stack_later"] = b + w_later * t
    p["stack_val"] = b + _best_w(b, t, yv) * t
    half = _halves(len(yv))
    cf, ccf = np.empty(len(yv)), np.empty(len(yv))
    for h in (half, ~half):
        w = _best_w(b[~h], t[~h], yv[~h])
        cf[h] = b[h] + w * t[h]
        lb = log_loss(yv[~h], pb[~h], labels=[0, 1])
        lt = log_loss(yv[~h], pt[~h], labels=[0, 1])
        ccf[h] = _logit(pb[h] if lb <= lt else pt[h])  # logits: the halves share a scale
    p["stack_val_cf"], p["chosen_cf"] = cf, ccf
    p["bag5"] = np.mean([mm.predict_proba(Xv)[:, 1] for mm in trees], axis=0)
    p["base+bag5"] = (pb + p["bag5"]) / 2
    early = tr.cutoff != tr.cutoff.max()  # the base's rows (the later fold is held out)
    glm = _GLM([c for c in BASE_7 + PLUS if c in X]).fit(X[early], tr.y[early]).score(Xv)
    p["base+glm"] = (_logit(pb) + glm) / 2
    p["base+trees+glm"] = (_logit(pb) + _logit(pt) + glm) / 3
    p["BG/NBD"] = va.X["bgnbd_p_any"].to_numpy(dtype=float)
    if target == "churn":
        p["BG/NBD"] = 1.0 - p["BG/NBD"]
    rfm = list(RFM_COLUMNS)
    p["RFM"] = rfm_baseline().fit(X[rfm], tr.y).predict_proba(Xv[rfm])[:, 1]
    print(f"  w chosen on the later fold: {w_later:.2f}; validation log loss {loss}", flush=True)
    return p


def _paired(
    y: np.ndarray, p: dict[str, np.ndarray], refs: tuple[str, ...], seed: int = 0
) -> dict[str, tuple]:
    """AUC of each variant, and its difference to each of ``refs`` with bootstrap sd."""
    rng = np.random.default_rng(seed)
    names = list(p)
    auc = {k: roc_auc_score(y, v) for k, v in p.items()}
    boots = []
    for _ in range(B):
        i = rng.integers(0, len(y), len(y))
        if y[i].min() == y[i].max():
            continue
        boots.append([roc_auc_score(y[i], p[k][i]) for k in names])
    bs = np.asarray(boots)
    out = {}
    for j, k in enumerate(names):
        diffs = {}
        for ref in refs:
            r = names.index(ref)
            diffs[ref] = (auc[k] - auc[ref], float(np.std(bs[:, j] - bs[:, r])))
        out[k] = (auc[k], diffs)
    return out


def _cdnow_csvs(args, tmp: Path) -> list[tuple[str, Path, str]]:
    logs = []
    if args.cdnow_sample is not None and args.cdnow_sample.exists():
        raw = pd.read_csv(args.cdnow_sample, sep=r"\s+", dtype=str, header=None).iloc[:, 1:]
        cols = ["customer_id", "date", "number_of_cds", "dollar_value"]
        raw.set_axis(cols, axis=1).to_csv(tmp / "cdnow_sample.csv", index=False)
        logs.append(("CDNOW sample", tmp / "cdnow_sample.csv", args.cdnow_as_of))
    if args.cdnow is not None and args.cdnow.exists():
        m = pd.read_csv(args.cdnow, sep=r"\s+", dtype=str)
        ids = m["customer_id"].astype(int)
        for k in (int(s) for s in args.tenths.split(",")):
            m[ids % 10 == k].to_csv(tmp / f"tenth{k}.csv", index=False)
            logs.append((f"CDNOW master tenth {k}", tmp / f"tenth{k}.csv", args.cdnow_as_of))
    return logs


def log_parser(description: str, section: str) -> argparse.ArgumentParser:
    """The arguments every real-log propensity bench takes: the logs and the section."""
    ap = argparse.ArgumentParser(description=description)
    ap.add_argument("--cj", type=Path, default=CJ)
    ap.add_argument("--cdnow", type=Path, default=None, help="CDNOW_master.txt from Lifetimes")
    ap.add_argument("--cdnow-sample", type=Path, default=None, help="CDNOW_sample.txt")
    ap.add_argument("--tenths", default="0,1,2,3,4,5,6,7,8,9")
    ap.add_argument("--cdnow-as-of", default="1998-06-30", help="as-of date of the CDNOW logs")
    ap.add_argument("--no-write", action="store_true")
    ap.add_argument("--section", default=section, help="RESULTS.md section")
    return ap


def main(argv: list[str] | None = None) -> int:
    ap = log_parser(__doc__.split("\n\n")[0], "bench_btyd_variants")
    ap.add_argument("--skip-cj", action="store_true")
    ap.add_argument("--set", choices=sorted(REFS), default="features", help="variant set")
    args = ap.parse_args(argv)
    refs = REFS[args.set]
    variants = _blend_variants if args.set == "blend" else _variants
    warnings.filterwarnings("ignore")
    header = machine_header(PACKAGES)
    t0 = time.process_time()
    results: list[tuple[str, str, dict]] = []
    with tempfile.TemporaryDirectory() as tmp:
        use_cj = args.cj.exists() and not args.skip_cj
        logs = [("Complete Journey", args.cj, "2017-12-31")] if use_cj else []
        logs += _cdnow_csvs(args, Path(tmp))
        for name, path, as_of in logs:
            for target, (tr, va) in _build_sets(path, as_of).items():
                res = _paired(va.y, variants(tr, va, target), refs)
                results.append((name, target, res))
                print(name, target, {k: round(v[0], 4) for k, v in res.items()}, flush=True)
    rows = []
    for name, target, res in results:
        if name.startswith("CDNOW master"):
            continue
        for k, (auc, d) in res.items():
            rows.append([name, target, k, f"{auc:.4f}"] + [
                "-" if r == k else f"{d[r][0]:+.4f} ({d[r][1]:.4f})"
                for r in refs
            ])  # fmt: skip
    tenth_rows = []
    for target in ("repurchase", "churn"):
        part = [r for n, t, r in results if n.startswith("CDNOW master") and t == target]
        if not part:
            continue
        for k in part[0]:
            vals = {r: np.array([x[k][1][r][0] for x in part]) for r in refs}
            n = len(part)
            tenth_rows.append([f"{n} CDNOW tenths", target, k, f"{np.mean([x[k][0] for x in part]):.4f}"] + [
                "-" if r == k else f"{vals[r].mean():+.4f} ({vals[r].std(ddof=1) / np.sqrt(n):.4f}; "
                f"{int((vals[r] >= 0).sum())}/{n} >= 0)"
                for r in refs
            ])  # fmt: skip
    table = markdown_table(
        ["log", "target", "variant", "AUC"] + [f"vs {r} (sd)" for r in refs],
        rows + tenth_rows,
    )
    intro = (
        TITLE[args.set]
        + "`benchmarks/bench_btyd_variants.py`: every variant trained on the rows and cutoff plan "
        "of `score_customers(file, as_of, 90, out)` (roles inferred) and scored on the same "
        "validation customers. In brackets: the standard deviation of the difference over "
        f"{B} paired bootstrap resamples of those customers; for the CDNOW tenths the mean over "
        "tenths, its standard error across them and how many tenths are at or above the "
        "reference. " + ABOUT[args.set]
    )
    cpu = time.process_time() - t0
    return finish_section(args.section, intro, header, cpu, table, write=not args.no_write)


if __name__ == "__main__":
    sys.exit(main())
