"""Lifecycle at scale (features and training) and on the real dunnhumby Complete Journey data.

``--part scale`` generates ``--rows`` synthetic transactions (10 million by default) of
``--customers`` customers (1 million) on the fly, writes them to a Parquet file in a temporary
directory and times:

* point-in-time features at one cutoff with DuckDB (:func:`omnimmm.lifecycle.features.
  build_features`, reading the Parquet file), median of ``--repeats`` runs;
* the same features with plain pandas (:func:`build_features_pandas`, also reading the file),
  median of ``--pandas-repeats`` runs, and checks both give the same table;
* training: the rolling training set (features and repurchase labels at ``--train-cutoffs``
  cutoffs 30 days apart) is built, then one calibrated :class:`PropensityModel` is fitted
  (early stopping and calibration on the latest cutoff), median of ``--repeats`` fits.

``--part completejourney`` scores the real households of ``../shared/data/completejourney``
(transactions_sample: 75,000 receipt lines of 2,377 households, 2017; see its PROVENANCE.md)
with :func:`omnimmm.lifecycle.score.score_customers` and reports its later-cutoff metrics,
once on transactions alone and once with the campaign contacts and coupon redemptions as
``campaigns=`` (point-in-time contact and response features).

Run with ``nice`` on a shared machine::

    nice -n 5 .venv/bin/python benchmarks/bench_lifecycle.py --part scale
    .venv/bin/python benchmarks/bench_lifecycle.py --part completejourney

Each part rewrites its own section of ``benchmarks/RESULTS.md`` (``bench_lifecycle`` and
``bench_lifecycle_completejourney``).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

# OpenMP threads that spin while waiting for a busy core make LightGBM many times slower on a
# shared machine; passive waiting must be chosen before lightgbm is loaded.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
sys.path.insert(0, str(Path(__file__).resolve().parent))
from _results import machine_header, markdown_table, update_section

REPO = Path(__file__).resolve().parents[1]
CJ = REPO.parent / "shared" / "data" / "completejourney"
PACKAGES = ("omnimmm", "duckdb", "pandas", "lightgbm", "scikit-learn", "numpy")
START = pd.Timestamp("2023-01-01")
DAYS = 730
#: LightGBM settings that can be timed at scale (``--settings``): the presets of
#: :data:`omnimmm.lifecycle.propensity.MODEL_PRESETS` (``default``: what ``omnimmm lifecycle
#: score`` uses; ``fast``: its ``--fast``) and, for comparison, the defaults before
#: 2026-11-29 (learning rate 0.03 on 80% of the rows per tree, 255 bins, patience 50).
CONFIGS = {
    "default": ("default settings", "default"),
    "fast": ("`fast` preset", "fast"),
    "old-default": (
        "defaults before 2026-11-29",
        {
            "learning_rate": 0.03,
            "subsample": 0.8,
            "max_bin": 255,
            "early_stopping_rounds": 50,
            "early_stopping_min_delta": 0.0,
        },
    ),
}


def synthetic_transactions(n_rows: int, n_customers: int, seed: int = 0) -> pd.DataFrame:
    """Transactions of customers who join, buy at their own rate and leave, over two years.

    Customer ``i`` joins on a uniform day, stays for an exponential lifetime (mean one year)
    and spreads its orders uniformly over its stay; the order counts are a multinomial draw
    of ``n_rows`` in proportion to rate x stay, with at least one order each.
    """
    rng = np.random.default_rng(seed)
    join = rng.uniform(0, DAYS - 1, n_customers)
    stay = np.minimum(rng.exponential(365.0, n_customers), DAYS - join)
    rate = rng.gamma(1.5, 1.0, n_customers)
    weight = rate * np.maximum(stay, 1.0)
    counts = 1 + rng.multinomial(n_rows - n_customers, weight / weight.sum())
    cust = np.repeat(np.arange(n_customers, dtype=np.int64), counts)
    day = join[cust] + rng.uniform(0, 1, n_rows) * stay[cust]
    ts = START.to_datetime64() + (day * 86400).astype("timedelta64[s]")
    online_pref = rng.beta(0.7, 0.7, n_customers)
    online = rng.random(n_rows) < online_pref[cust]
    home = rng.integers(0, 200, n_customers)
    store = np.where(online, -1, np.where(rng.random(n_rows) < 0.8, home[cust],
                                          rng.integers(0, 200, n_rows)))  # fmt: skip
    basket = rng.lognormal(np.log(200), 0.5, n_customers)
    amount = np.round(basket[cust] * rng.lognormal(0, 0.35, n_rows), 2)
    coupon = rng.random(n_rows) < rng.beta(0.6, 8.0, n_customers)[cust]
    store_names = pd.Series([f"S{i:03d}" for i in range(200)], dtype="str")
    return pd.DataFrame({
        "customer_id": pd.Series(cust, dtype="int64").map("C{:07d}".format).astype("str"),
        "ts": ts,
        "amount": amount,
        "order_id": pd.Series(np.arange(n_rows), dtype="int64").astype("str"),
        "channel": pd.Series(np.where(online, "online", "offline"), dtype="str"),
        "store_id": pd.Series(store_names.array.take(store, allow_fill=True), dtype="str"),
        "coupon_used": coupon,
    })  # fmt: skip


def _timed(fn, repeats: int) -> tuple[float, list[float], object]:
    times, out = [], None
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), times, out


def run_scale(args: argparse.Namespace) -> str:
    from sklearn.metrics import roc_auc_score

    from omnimmm.lifecycle.features import build_features, build_features_pandas
    from omnimmm.lifecycle.propensity import (
        RFM_COLUMNS,
        PropensityModel,
        evaluate,
        model_settings,
        rfm_baseline,
        rolling_training_set,
    )

    header = machine_header(PACKAGES)
    as_of = (START + pd.Timedelta(days=DAYS - 1 - 2 * args.horizon)).date().isoformat()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "transactions.parquet"
        t0 = time.perf_counter()
        frame = synthetic_transactions(args.rows, args.customers, args.seed)
        frame.to_parquet(path, index=False)
        del frame
        gen_s = time.perf_counter() - t0
        print(f"generated {args.rows:,} rows in {gen_s:.1f} s", flush=True)

        duck_s, duck_runs, feats = _timed(lambda: build_features(path, as_of), args.repeats)
        print(f"duckdb features: {duck_runs}", flush=True)
        pandas_s, pandas_runs, oracle = _timed(
            lambda: build_features_pandas(path, as_of), args.pandas_repeats
        )
        print(f"pandas features: {pandas_runs}", flush=True)
        same = _same_features(feats, oracle)
        n_feat_customers, n_features = len(feats), feats.shape[1] - 2
        del oracle

        step = 30
        cutoffs = [
            (pd.Timestamp(as_of) - pd.Timedelta(days=step * k)).date().isoformat()
            for k in reversed(range(args.train_cutoffs))
        ]
        t0 = time.perf_counter()
        train = rolling_training_set(path, cutoffs, args.horizon, target="repurchase")
        set_s = time.perf_counter() - t0
        print(f"training set {len(train.y):,} rows in {set_s:.1f} s", flush=True)
        val_cutoff = (pd.Timestamp(as_of) + pd.Timedelta(days=args.horizon)).date().isoformat()
        val = rolling_training_set(path, [val_cutoff], args.horizon, target="repurchase")
        rfm = list(RFM_COLUMNS)
        base = rfm_baseline().fit(train.X[rfm], train.y)
        base_auc = roc_auc_score(val.y, base.predict_proba(val.X[rfm])[:, 1])
        fits = []
        for key in args.settings.split(","):
            name, kw = CONFIGS[key]
            settings = model_settings(kw) if isinstance(kw, str) else kw
            model_kw = {"n_jobs": args.n_jobs} | settings
            load_before = os.getloadavg()[0]
            fit_s, fit_runs, model = _timed(
                lambda kw=model_kw: PropensityModel(**kw).fit(
                    train.X, train.y, cutoff=train.cutoff
                ),
                args.fit_repeats or args.repeats,
            )
            load = f"{load_before:.1f} -> {os.getloadavg()[0]:.1f}"
            m = evaluate(val.y, model.predict_proba(val.X)[:, 1])
            print(
                f"fit {name}: {fit_runs}, {model.n_iter_} trees, AUC {m['roc_auc']:.4f}, "
                f"ECE {m['ece']:.4f}, load {load}",
                flush=True,
            )
            fits.append((name, fit_s, fit_runs, model.n_iter_, m, load))

    ratio = pandas_s / duck_s
    rows = [
        ["features, DuckDB (omnimmm)", f"{duck_s:.1f}", ", ".join(f"{t:.1f}" for t in duck_runs),
         "<= 60 s: " + ("met" if duck_s <= 60 else "**missed**")],
        ["features, plain pandas", f"{pandas_s:.1f}", ", ".join(f"{t:.1f}" for t in pandas_runs),
         f"pandas / DuckDB = {ratio:.1f}x"],
        [f"training set ({args.train_cutoffs} cutoffs, features + labels)", f"{set_s:.1f}",
         f"{set_s:.1f}", "not part of the target"],
    ]  # fmt: skip
    for name, fit_s, fit_runs, n_trees, m, load in fits:
        rows.append([
            f"PropensityModel.fit, {name} ({n_trees} trees; validation AUC {m['roc_auc']:.3f}, "
            f"ECE {m['ece']:.4f}; 1-min load {load})",
            f"{fit_s:.1f}", ", ".join(f"{t:.1f}" for t in fit_runs),
            "<= 120 s: " + ("met" if fit_s <= 120 else "**missed**"),
        ])  # fmt: skip
    body = (
        "## Lifecycle at scale: features and training\n\n"
        f"`benchmarks/bench_lifecycle.py --part scale`: {args.rows:,} synthetic transactions "
        f"of {args.customers:,} customers over {DAYS} days (generated on the fly, "
        f"{gen_s:.0f} s, then read from Parquet by each run), features as of {as_of} for "
        f"{n_feat_customers:,} customers ({n_features} features, all windows, channel, store and "
        f"coupon features). Training: repurchase within {args.horizon} days, "
        f"{args.train_cutoffs} cutoffs 30 days apart (the latest for early stopping and Platt "
        f"calibration) = {len(train.y):,} rows x {train.X.shape[1]} features; LightGBM "
        f"{args.n_jobs} threads (OMP_WAIT_POLICY={os.environ.get('OMP_WAIT_POLICY')}), "
        f"{len(fits)} setting(s). Validation AUC on the later cutoff "
        f"{val_cutoff} ({len(val.y):,} customers; RFM logistic baseline {base_auc:.3f}). Run "
        "on a machine shared with other jobs (see the load averages); times are wall "
        "seconds.\n\n"
        + header
        + "\n"
        + markdown_table(["step", "median s", "runs (s)", "target"], rows)
        + f"\n\nDuckDB and pandas tables identical (rtol 1e-9): {same}.\n"
    )
    return body


def _same_features(a: pd.DataFrame, b: pd.DataFrame) -> bool:
    try:
        pd.testing.assert_frame_equal(a, b, check_exact=False, rtol=1e-9, atol=1e-9)
    except AssertionError as exc:
        print(f"features differ: {exc}", flush=True)
        return False
    return True


def completejourney_transactions(source: Path) -> pd.DataFrame:
    """Receipt lines as omnimmm transactions: household -> customer, basket -> order."""
    raw = pd.read_csv(source / "transactions_sample.csv")
    return pd.DataFrame({
        "customer_id": raw["household_id"].astype("int64").astype("str"),
        "ts": raw["transaction_timestamp"],
        "amount": raw["sales_value"].clip(lower=0.0),
        "order_id": raw["basket_id"].astype("int64").astype("str"),
        "store_id": raw["store_id"].astype("int64").astype("str"),
        "coupon_used": raw["coupon_disc"] > 0,
    })  # fmt: skip


def completejourney_campaigns(source: Path) -> pd.DataFrame:
    """Campaign contacts: a household in a campaign was contacted on its start date and
    redeemed on its first coupon redemption of that campaign (if any)."""
    members = pd.read_csv(source / "campaigns.csv")
    starts = pd.read_csv(source / "campaign_descriptions.csv")
    redemptions = pd.read_csv(source / "coupon_redemptions.csv")
    first = redemptions.groupby(["household_id", "campaign_id"], as_index=False)[
        "redemption_date"
    ].min()
    rows = members.merge(starts[["campaign_id", "start_date"]], on="campaign_id").merge(
        first, on=["household_id", "campaign_id"], how="left"
    )
    return pd.DataFrame({
        "customer_id": rows["household_id"].astype("int64").astype("str"),
        "sent_at": rows["start_date"],
        "redeemed_at": rows["redemption_date"],
    })  # fmt: skip


def run_completejourney(args: argparse.Namespace) -> str:
    from omnimmm.lifecycle.score import score_customers

    header = machine_header(PACKAGES)
    tx = completejourney_transactions(args.source)
    contacts = completejourney_campaigns(args.source)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "transactions.csv"
        tx.to_csv(path, index=False)
        t0 = time.perf_counter()
        res = score_customers(path, args.cj_as_of, args.cj_horizon, Path(tmp) / "out",
                              churn_horizon_days=args.cj_churn_horizon, n_jobs=args.n_jobs,
                              seed=args.seed)  # fmt: skip
        wall = time.perf_counter() - t0
        metrics = json.loads((Path(tmp) / "out" / "metrics.json").read_text())
        t0 = time.perf_counter()
        res_c = score_customers(path, args.cj_as_of, args.cj_horizon, Path(tmp) / "out_c",
                                churn_horizon_days=args.cj_churn_horizon, n_jobs=args.n_jobs,
                                seed=args.seed, campaigns=contacts)  # fmt: skip
        wall_c = time.perf_counter() - t0
    m = res.metrics
    rows = []
    runs = (("", m), (" + campaigns", res_c.metrics))
    for (suffix, mm), target in ((r, t) for r in runs for t in ("repurchase", "churn")):
        v, b = mm[target]["validation"], mm[target]["baseline_rfm_logistic"]
        rows.append([
            target + suffix, str(v["n"]), f"{v['base_rate']:.3f}", f"{v['roc_auc']:.3f}",
            f"{b['roc_auc']:.3f}", f"{v['pr_auc']:.3f}", f"{b['pr_auc']:.3f}",
            f"{v['brier']:.3f}", f"{b['brier']:.3f}", f"{v['ece']:.3f}",
            f"{v['lift_by_decile'][0]['lift']:.2f}",
        ])  # fmt: skip
    drivers = ", ".join(d["feature"] for d in m["repurchase"]["top_drivers"][:5])
    drivers_c = ", ".join(d["feature"] for d in res_c.metrics["repurchase"]["top_drivers"][:5])
    n_contacts = res_c.metrics["campaigns"]["contacts_before_as_of"]

    def auc(metrics: dict, target: str) -> str:
        return f"{metrics[target]['validation']['roc_auc']:.3f}"

    stages = ", ".join(f"{k} {v:,}" for k, v in m["stages"].items())
    s = res.scores
    body = (
        "## Lifecycle on dunnhumby The Complete Journey (real households)\n\n"
        "`benchmarks/bench_lifecycle.py --part completejourney`: "
        f"`{args.source.name}/transactions_sample.csv` ({len(tx):,} receipt lines, "
        f"{tx['customer_id'].nunique():,} households, {tx['order_id'].nunique():,} baskets, "
        "stores only) mapped household -> customer_id, transaction_timestamp -> ts, "
        "sales_value -> amount, basket_id -> order_id, store_id, coupon_disc > 0 -> coupon_used; "
        f"`omnimmm lifecycle score` as of {args.cj_as_of}, repurchase within {args.cj_horizon} "
        f"days, churn = no basket within {args.cj_churn_horizon} days ({wall:.0f} s wall). The file is a 5% random sample of receipt *lines*, so "
        "baskets and visit rhythms are thinned: the metrics describe the pipeline on real data, "
        "not what a full history would give. The campaigns have no random control group, so "
        "no uplift is estimated here.\n\n"
        + header
        + "\n"
        + markdown_table(
            [
                "target",
                "validation n",
                "base rate",
                "ROC AUC",
                "RFM AUC",
                "PR AUC",
                "RFM PR AUC",
                "Brier",
                "RFM Brier",
                "ECE",
                "top-decile lift",
            ],
            rows,
        )  # fmt: skip
        + f"\n\nValidation cutoff {m['repurchase']['validation_cutoff']} (trained on cutoffs "
        f"{', '.join(m['repurchase']['check_cutoffs'])}). Scored {len(s):,} households: {stages}; "
        f"mean p_repurchase {s['p_repurchase'].mean():.3f}, mean p_churn "
        f"{s['p_churn'].mean():.3f}, expected revenue over the horizon "
        f"{s['expected_revenue'].sum():,.0f}. Top repurchase drivers (mean |SHAP|): {drivers}. "
        f"metrics.json keys: {', '.join(metrics)}.\n\n"
        f"Rows `+ campaigns`: the same run with `campaigns=` ({wall_c:.0f} s wall) from "
        "`campaigns.csv` (a household in a campaign = one contact on the campaign's start "
        "date) and `coupon_redemptions.csv` (its first redemption in that campaign = "
        f"redeemed_at): {len(contacts):,} contacts, {n_contacts:,} sent before the as-of date. "
        "Contacts were targeted, not randomised, so these are predictive features, not "
        f"effects. Validation ROC AUC without -> with them: repurchase {auc(m, 'repurchase')} "
        f"-> {auc(res_c.metrics, 'repurchase')}, churn {auc(m, 'churn')} -> "
        f"{auc(res_c.metrics, 'churn')}. Top repurchase drivers with them: {drivers_c}.\n"
    )
    return body


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--part", choices=["scale", "completejourney"], required=True)
    ap.add_argument("--rows", type=int, default=10_000_000)
    ap.add_argument("--customers", type=int, default=1_000_000)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--fit-repeats", type=int, default=None, help="default: --repeats")
    ap.add_argument(
        "--settings",
        default="default,fast",
        help=f"comma-separated LightGBM settings to time, of {sorted(CONFIGS)}",
    )
    ap.add_argument("--pandas-repeats", type=int, default=1)
    ap.add_argument("--train-cutoffs", type=int, default=3)
    ap.add_argument("--horizon", type=int, default=60)
    ap.add_argument("--n-jobs", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--source", type=Path, default=CJ)
    ap.add_argument("--cj-as-of", default="2017-12-31")
    ap.add_argument("--cj-horizon", type=int, default=30)
    ap.add_argument("--cj-churn-horizon", type=int, default=60)
    ap.add_argument("--no-write", action="store_true", help="do not touch RESULTS.md")
    args = ap.parse_args(argv)
    warnings.filterwarnings("ignore", category=UserWarning)
    if args.part == "scale":
        body, section = run_scale(args), "bench_lifecycle"
    else:
        if not args.source.is_dir():
            print(f"Complete Journey data not found at {args.source}")
            return 1
        body, section = run_completejourney(args), "bench_lifecycle_completejourney"
    print(body)
    if not args.no_write:
        update_section(section, body)
    return 0


if __name__ == "__main__":
    sys.exit(main())
