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
  default cutoff plan does not fit and a shorter one is used;
* ``Ta Feng``: ``TRANSACTION_DT`` as ``1/28/2017`` (DuckDB's sniffer types it DATE in its
  own layout), ``CUSTOMER_ID``, ``AMOUNT``, attributes beside them;
* ``JD.com``: ``order_date`` and ``order_time`` (the same moment), ``quantity`` and
  ``final_unit_price`` beside the list price ``original_unit_price``;
* ``dunnhumby LGSR``: ``CUST_CODE`` beside ``CUST_PRICE_SENSITIVITY`` and ``CUST_LIFESTAGE``,
  ``SHOP_DATE`` as ``20170128``, ``SPEND``, ``BASKET_ID``;
* ``Tianchi, coded``: ``behavior_type`` 1-4 (4 a purchase), scored with the one flag it needs,
  ``--event-col behavior_type=4`` (without it the file is refused, by design).

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


def layouts(folder: Path) -> list[tuple[str, Path, str, dict[str, str]]]:
    """(name, file, as-of date, column flags) of every layout, written into ``folder``."""
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
    rng = np.random.default_rng(3)
    n = len(cj)
    tafeng = pd.DataFrame({"TRANSACTION_DT": [f"{t.month}/{t.day}/{t.year}" for t in when],
                           "CUSTOMER_ID": cj["household_id"], "AGE_GROUP": rng.choice(
                               ["<25", "25-29", "30-34", "35-39", ">65"], n),
                           "PIN_CODE": rng.choice([105, 106, 110, 114, 115], n),
                           "PRODUCT_ID": cj["product_id"], "AMOUNT": cj["sales_value"]})  # fmt: skip
    path = folder / "tafeng_layout.csv"
    tafeng.to_csv(path, index=False)
    files["Ta Feng"] = (path, "2017-12-31")
    qty = cj["quantity"].clip(lower=1)
    jd = pd.DataFrame({"sku_ID": cj["product_id"], "user_ID": cj["household_id"],
                       "order_ID": cj["basket_id"], "order_date": when.dt.strftime("%Y-%m-%d"),
                       "order_time": when.dt.strftime("%Y-%m-%d %H:%M:%S.0"), "quantity": qty,
                       "original_unit_price": (cj["sales_value"] / qty * 1.15).round(2),
                       "final_unit_price": (cj["sales_value"] / qty).round(2)})  # fmt: skip
    path = folder / "jd_layout.csv"
    jd.to_csv(path, index=False)
    files["JD.com"] = (path, "2017-12-31")
    lgsr = pd.DataFrame({"SHOP_DATE": when.dt.strftime("%Y%m%d"), "SHOP_HOUR": when.dt.hour,
                         "QUANTITY": cj["quantity"], "SPEND": cj["sales_value"],
                         "CUST_CODE": "CUST" + cj["household_id"].astype(str).str.zfill(10),
                         "CUST_PRICE_SENSITIVITY": rng.choice(["LA", "MM", "UM"], n),
                         "CUST_LIFESTAGE": rng.choice(["YA", "YF", "OA", "OF", "PE"], n),
                         "BASKET_ID": cj["basket_id"]})  # fmt: skip
    path = folder / "lgsr_layout.csv"
    lgsr.to_csv(path, index=False)
    files["dunnhumby LGSR"] = (path, "2017-12-31")
    coded = pd.read_csv(folder / "taobao_layout.csv")
    coded["behavior_type"] = coded["behavior_type"].map({"pv": 1, "fav": 2, "cart": 3, "buy": 4})
    coded["time"] = pd.to_datetime(coded.pop("timestamp"), unit="s").dt.strftime("%Y-%m-%d %H")
    path = folder / "tianchi_layout.csv"
    coded.to_csv(path, index=False)
    files["Tianchi, coded"] = (path, "2017-12-31")
    order = ["as shipped", "no money", "no basket id", "event log", "Unix time, no money",
             "short history", "Ta Feng", "JD.com", "dunnhumby LGSR", "Tianchi, coded"]  # fmt: skip
    flags: dict[str, dict[str, str]] = {"Tianchi, coded": {"event": "behavior_type=4"}}
    return [(name, *files[name], flags.get(name, {})) for name in order]


def main() -> None:
    from omnimmm.lifecycle.score import score_customers

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name, path, as_of, flags in layouts(Path(tmp)):
            t0 = time.perf_counter()
            out = Path(tmp) / "out" / name.replace(" ", "_").replace(",", "")
            res = score_customers(path, as_of, 90, out, columns=flags or None)
            seconds = time.perf_counter() - t0
            m = res.metrics
            rep = m["repurchase"]
            cols = m["columns"]
            mapped = ", ".join(f"{r}={c}" for r, c in cols["columns"].items())
            left = {k: v for k, v in m["rows_left_out"].items() if k != "notes"}
            auc, bg = rep["validation"]["roc_auc"], rep["baseline_bgnbd"]["roc_auc"]
            rfm = m["churn"]["baseline_rfm_logistic"]["roc_auc"]
            plan = rep["cutoff_plan"]
            flagged = " ".join(f"--{r.replace('_', '-')}-col {c}" for r, c in flags.items())
            rows.append([
                name + (f" (`{flagged}`)" if flagged else ""), mapped, json.dumps(left) if left else "-", f"{m['rows_used']:,}",
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
        "## Files as they come: Complete Journey in other logs' layouts (issue 21, sessions "
        "14-15)\n\n"
        "`benchmarks/bench_log_layouts.py`: the same real log rewritten as other public logs "
        "lay theirs out, scored with no column flags (`score_customers(file, as_of, 90, out)`, "
        "seed 0) except the coded Tianchi layout's one. Before session 14 the no-money, "
        "event-log and Unix-time layouts were refused and the short history stopped with "
        "'history is too short'; before session 15 the Ta Feng layout failed in DuckDB's typed "
        "read, JD's two time columns and LGSR's customer attributes were refused as rivals, "
        "and the coded Tianchi log was read with every view as a purchase.\n\n"
        + machine_header(PACKAGES)
        + "\n"
        + table
    )
    update_section("lc14_layouts", body)


if __name__ == "__main__":
    main()
