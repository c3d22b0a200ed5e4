"""90-day repurchase and churn on real purchase logs, files as they come, against BG/NBD and RFM.

Each log is scored exactly as a new user would: ``omnimmm lifecycle score --transactions FILE
--as-of DATE --horizon-days 90`` with no column flags (the library call behind it,
``score_customers(path, as_of, 90, out)``), so the column roles are inferred. The validation
cutoff is 90 days before the as-of date; metrics.json holds the model's validation AUC, the
RFM logistic trained on the same rows and BG/NBD fitted on the history before the validation
cutoff (its probability of at least one purchase in the 90 days; churn = 1 - that).

Logs:

* Complete Journey (``../shared/data/completejourney/transactions_sample.csv``, read as it is:
  household_id, basket_id, sales_value, transaction_timestamp, ...), as of 2017-12-31.
* CDNOW master (23,570 customers, 1997-01..1998-06), shipped inside the PyPI package
  ``Lifetimes`` 0.11.3 (``lifetimes/datasets/CDNOW_master.txt``; MIT). Pass the file with
  ``--cdnow PATH`` (extract it from the wheel; nothing is downloaded). It is read as shipped
  (columns aligned by spaces: ``customer_id, date, number_of_cds, dollar_value``; dates as
  ``19970101``), as of 1998-06-30.
* CDNOW sample (2,357 of those customers, ``lifetimes/datasets/CDNOW_sample.txt`` of the same
  wheel, no header: master id, sample id, date, CDs, dollars), written to CSV with the sample
  id as ``customer_id``; a small real log, as of 1998-06-30.

Usage::

    .venv/bin/python benchmarks/bench_btyd.py --cdnow /path/to/CDNOW_master.txt \
        --cdnow-sample /path/to/CDNOW_sample.txt --seeds 0,1,2
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
import warnings
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _results import machine_header, markdown_table, update_section

REPO = Path(__file__).resolve().parents[1]
CJ = REPO.parent / "shared" / "data" / "completejourney" / "transactions_sample.csv"
PACKAGES = ("omnimmm", "duckdb", "pandas", "lightgbm", "scikit-learn", "scipy", "numpy")


def score(path: Path, as_of: str, seed: int, out: Path) -> tuple[dict, float]:
    from omnimmm.lifecycle.score import score_customers

    t0 = time.perf_counter()
    res = score_customers(path, as_of, 90, out, seed=seed)
    return json.loads((out / "metrics.json").read_text()) | {"_n": len(res.scores)}, (
        time.perf_counter() - t0
    )


def auc_se(auc: float, n: int, base_rate: float) -> float:
    """Hanley & McNeil (1982) standard error of an AUC with ``n * base_rate`` positives."""
    n1 = max(round(n * base_rate), 1)
    n2 = max(n - n1, 1)
    q1, q2 = auc / (2 - auc), 2 * auc**2 / (1 + auc)
    var = (auc * (1 - auc) + (n1 - 1) * (q1 - auc**2) + (n2 - 1) * (q2 - auc**2)) / (n1 * n2)
    return float(max(var, 0.0) ** 0.5)


def run_log(name: str, path: Path, as_of: str, seeds: list[int]) -> tuple[list[list[str]], str]:
    rows, runs = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for seed in seeds:
            runs.append(score(path, as_of, seed, Path(tmp) / f"out{seed}"))
    m0 = runs[0][0]
    recipes = {t: [r[0][t].get("recipe", "-") for r in runs] for t in ("repurchase", "churn")}
    for target, base in (("repurchase", "baseline_bgnbd"), ("churn", "baseline_rfm_logistic")):
        aucs = [r[0][target]["validation"]["roc_auc"] for r in runs]
        bg = m0[target]["baseline_bgnbd"]["roc_auc"]
        rfm = m0[target]["baseline_rfm_logistic"]["roc_auc"]
        pn = (m0[target].get("baseline_pareto_nbd") or {}).get("roc_auc")
        ref = bg if base == "baseline_bgnbd" else rfm
        med = statistics.median(aucs)
        n, rate = m0[target]["validation"]["n"], m0[target]["validation"]["base_rate"]
        se = auc_se(med, n, rate)
        rows.append([
            name, target, str(n), f"{rate:.3f}",
            " / ".join(f"{a:.4f}" for a in aucs) + f" (se {se:.4f})", f"{bg:.4f}",
            "n/a" if pn is None else f"{pn:.4f}", f"{rfm:.4f}",
            f"{med - ref:+.4f} vs {'BG/NBD' if base == 'baseline_bgnbd' else 'RFM'}",
            " / ".join(recipes[target]),
            " / ".join(
                f"{r[0][target]['recipes']['btyd_trees']['roc_auc']:.4f}"
                if "recipes" in r[0][target] else "-" for r in runs
            ),
        ])  # fmt: skip
    cols = ", ".join(f"{r} <- {c}" for r, c in m0["columns"]["columns"].items())
    wall = statistics.median(r[1] for r in runs)
    note = (
        f"{name}: columns inferred {cols}; validation cutoff "
        f"{m0['repurchase']['validation_cutoff']}, {m0['_n']:,} customers scored, median wall "
        f"{wall:.0f} s per run; top repurchase drivers "
        + ", ".join(d["feature"] for d in m0["repurchase"]["top_drivers"][:6])
        + "."
    )
    return rows, note


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--cj", type=Path, default=CJ)
    ap.add_argument("--cdnow", type=Path, default=None, help="CDNOW_master.txt from Lifetimes")
    ap.add_argument("--cdnow-sample", type=Path, default=None, help="CDNOW_sample.txt")
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--cdnow-seeds", default=None, help="seeds of the CDNOW master log")
    ap.add_argument("--no-write", action="store_true")
    args = ap.parse_args(argv)
    warnings.filterwarnings("ignore", category=UserWarning)
    seeds = [int(s) for s in args.seeds.split(",")]
    header = machine_header(PACKAGES)
    rows, notes = [], []
    if args.cj.exists():
        r, n = run_log("Complete Journey", args.cj, "2017-12-31", seeds)
        rows += r
        notes.append(n)
    if args.cdnow is not None and args.cdnow.exists():
        # read as shipped: columns aligned by spaces, with a header
        big = [int(s) for s in args.cdnow_seeds.split(",")] if args.cdnow_seeds else seeds
        r, n = run_log("CDNOW master", args.cdnow, "1998-06-30", big)
        rows += r
        notes.append(n)
    if args.cdnow_sample is not None and args.cdnow_sample.exists():
        with tempfile.TemporaryDirectory() as tmp:
            csv = Path(tmp) / "cdnow_sample.csv"
            raw = pd.read_csv(args.cdnow_sample, sep=r"\s+", dtype=str, header=None)
            raw = raw.iloc[:, 1:].set_axis(
                ["customer_id", "date", "number_of_cds", "dollar_value"], axis=1
            )
            raw.to_csv(csv, index=False)
            r, n = run_log("CDNOW sample", csv, "1998-06-30", seeds)
        rows += r
        notes.append(n)
    body = (
        "## Lifecycle on real logs as they come: 90 days against BG/NBD and RFM\n\n"
        "`benchmarks/bench_btyd.py`: `score_customers(file, as_of, 90, out, seed=s)` (the "
        "library call of `omnimmm lifecycle score --as-of DATE --horizon-days 90`) with no "
        "column flags. AUCs on the validation cutoff 90 days before the as-of date, one per "
        "seed; BG/NBD = probability of a purchase in the 90 days from BG/NBD fitted on the "
        "history before that cutoff; RFM = logistic on log recency, orders, revenue trained on "
        "the model's rows; Pareto/NBD likewise (its probability of a purchase in the 90 days, "
        "features pnbd_*). The last column is the median model AUC minus the issue's "
        "reference (BG/NBD for repurchase, RFM for churn); the targets are +0.01. se = Hanley "
        "& McNeil standard error of the median model AUC (the paired difference to a baseline "
        "on the same customers has a smaller one, not computed here). For each target "
        "score_customers fits two recipes on the training cutoffs, both starting from the "
        "BTYD base model (a logistic regression on the Pareto/NBD and BG/NBD predictions, "
        "decayed order counts and recency): `btyd_base` alone and `btyd_trees` (the base as "
        "LightGBM's init_score plus a regularised tree correction); the one with the lower "
        "log loss on the validation cutoff is reported and scores the customers. The last "
        "two columns give the recipe chosen and the AUC of `btyd_trees` per seed.\n\n"
        + header
        + "\n"
        + markdown_table(
            [
                "log",
                "target",
                "validation n",
                "base rate",
                "model AUC (seeds)",
                "BG/NBD AUC",
                "Pareto/NBD AUC",
                "RFM AUC",
                "median gain",
                "recipe chosen (seeds)",
                "BTYD + trees AUC (seeds)",
            ],
            rows,
        )  # fmt: skip
        + "\n\n"
        + "\n\n".join(notes)
        + "\n"
    )
    print(body)
    if not args.no_write:
        update_section("bench_btyd", body)
    return 0


if __name__ == "__main__":
    sys.exit(main())
