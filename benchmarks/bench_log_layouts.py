"""Files as they come: one real purchase log rewritten in the layouts other real logs have.

Complete Journey (``../shared/data/completejourney/transactions_sample.csv``) is rewritten as
the layouts of other public logs and scored the way a new user would, ``omnimmm lifecycle
score --transactions FILE --as-of DATE --horizon-days 90`` with no column flags (the library
call behind it). Each row of the table says how the columns were read, the rows left out,
and the 90-day repurchase AUC at the validation cutoff next to BG/NBD's and the RFM
logistic's on the same customers (``metrics.json``):

* ``as shipped``: the file itself (basket ids, money);
* ``no money``: the money columns dropped (a visits log: every purchase row counts 1);
* ``no basket id``: basket_id dropped, so every line is an order;
* ``event log``: REES46's layout (``user_id, event_time`` as ISO text ending in ``UTC``,
  ``event_type``, ``price``) with two view/cart events added per purchase line at random
  times near it;
* ``Unix time, no money``: Taobao's layout (``user_id, behavior_type, timestamp`` in Unix
  seconds) with pv/cart/fav rows added;
* ``short history``: as shipped, scored as of 2017-09-30 (273 days of history), where the
  default cutoff plan does not fit and a shorter one is used.

Usage::

    .venv/bin/python benchmarks/bench_log_layouts.py
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _results import machine_header, markdown_table, update_section

REPO = Path(__file__).resolve().parents[1]
CJ = REPO.parent / "shared" / "data" / "completejourney" / "transactions_sample.csv"
PACKAGES = ("omnimmm", "duckdb", "pandas", "lightgbm", "scikit-learn")
MONEY = ["sales_value", "retail_disc", "coupon_disc", "coupon_match_disc"]


def _with_other_events(buys: pd.DataFrame, ts: str, kinds: list[str], seed: int) -> pd.DataFrame:
    """``buys`` plus two non-purchase events per row, within two days of it, shuffled."""
    rng = np.random.default_rng(seed)
    other = buys.sample(frac=2.0, replace=True, random_state=seed).reset_index(drop=True)
    other["event"] = rng.choice(kinds, len(other))
    other[ts] = other[ts] + pd.to_timedelta(rng.integers(-2880, 2880, len(other)), unit="m")
    return pd.concat([buys, other], ignore_index=True).sample(frac=1.0, random_state=seed + 1)


def layouts(folder: Path) -> list[tuple[str, Path, str]]:
    """(name, file, as-of date) of every layout, written into ``folder``."""
    cj = pd.read_csv(CJ)
    when = pd.to_datetime(cj["transaction_timestamp"])
    files = {
        "as shipped": (CJ, "2017-12-31"),
        "short history": (CJ, "2017-09-30"),
    }
    path = folder / "no_money.csv"
    cj.drop(columns=MONEY).to_csv(path, index=False)
    files["no money"] = (path, "2017-12-31")
    path = folder / "no_basket.csv"
    cj.drop(columns="basket_id").to_csv(path, index=False)
    files["no basket id"] = (path, "2017-12-31")
    rees = pd.DataFrame({"user_id": cj["household_id"], "event_time": when,
                         "event": "purchase", "price": cj["sales_value"],
                         "product_id": cj["product_id"]})  # fmt: skip
    rees = _with_other_events(rees, "event_time", ["view", "cart"], 1)
    rees["event_time"] = rees["event_time"].dt.strftime("%Y-%m-%d %H:%M:%S UTC")
    path = folder / "rees46_layout.csv"
    rees.rename(columns={"event": "event_type"}).to_csv(path, index=False)
    files["event log"] = (path, "2017-12-31")
    taobao = pd.DataFrame({"user_id": cj["household_id"], "item_id": cj["product_id"],
                           "event": "buy", "timestamp": when})  # fmt: skip
    taobao = _with_other_events(taobao, "timestamp", ["pv", "cart", "fav"], 2)
    taobao["timestamp"] = (taobao["timestamp"] - pd.Timestamp("1970-01-01")) // pd.Timedelta(
        seconds=1
    )
    path = folder / "taobao_layout.csv"
    taobao.rename(columns={"event": "behavior_type"}).to_csv(path, index=False)
    files["Unix time, no money"] = (path, "2017-12-31")
    order = ["as shipped", "no money", "no basket id", "event log", "Unix time, no money",
             "short history"]  # fmt: skip
    return [(name, *files[name]) for name in order]


def main() -> None:
    from omnimmm.lifecycle.score import score_customers

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name, path, as_of in layouts(Path(tmp)):
            t0 = time.perf_counter()
            res = score_customers(path, as_of, 90, Path(tmp) / "out" / name.replace(" ", "_"))
            seconds = time.perf_counter() - t0
            m = res.metrics
            rep = m["repurchase"]
            cols = m["columns"]
            mapped = ", ".join(f"{r}={c}" for r, c in cols["columns"].items())
            left = {k: v for k, v in m["rows_left_out"].items() if k != "notes"}
            auc, bg = rep["validation"]["roc_auc"], rep["baseline_bgnbd"]["roc_auc"]
            rfm = m["churn"]["baseline_rfm_logistic"]["roc_auc"]
            plan = rep["cutoff_plan"]
            rows.append([
                name, mapped, json.dumps(left) if left else "-", f"{m['rows_used']:,}",
                f"{plan['n_cutoffs']} / {plan['min_history_days']}", f"{auc:.4f}",
                f"{bg:.4f} ({auc - bg:+.5f})",
                f"{m['churn']['validation']['roc_auc']:.4f} vs {rfm:.4f} "
                f"({m['churn']['validation']['roc_auc'] - rfm:+.5f})",
                f"{seconds:.1f}",
            ])  # fmt: skip
            print(rows[-1], flush=True)
    table = markdown_table(
        ["layout", "columns read", "rows left out", "rows used", "cutoffs / days before",
         "repurchase AUC", "BG/NBD (difference)", "churn AUC vs RFM (difference)", "seconds"],
        rows,
    )  # fmt: skip
    body = (
        "## Files as they come: Complete Journey in other logs' layouts (issue 21, session 14)\n\n"
        "`benchmarks/bench_log_layouts.py`: the same real log rewritten as other public logs "
        "lay theirs out, scored with no column flags (`score_customers(file, as_of, 90, out)`, "
        "seed 0). Before session 14 the no-money, event-log and Unix-time layouts were refused "
        "and the short history stopped with 'history is too short'.\n\n"
        + machine_header(PACKAGES)
        + "\n"
        + table
    )
    update_section("lc14_layouts", body)


if __name__ == "__main__":
    main()
