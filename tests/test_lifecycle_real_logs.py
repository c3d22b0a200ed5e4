"""Purchase logs as real exports write them: currency text, keys that are phone numbers,
day-first dates in date order, spreadsheet habits. Each test pins a bug found by running
``omnimmm lifecycle score`` without column flags on such a layout."""

from __future__ import annotations

import numpy as np
import pandas as pd

from omnimmm.lifecycle.features import load_transactions


def _orders(n: int = 240, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    when = pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.integers(0, 300 * 24, n), unit="h")
    return pd.DataFrame(
        {
            "cust": [f"{i % 30 + 1}" for i in range(n)],
            "when": pd.Series(when).sort_values(ignore_index=True),
            "value": rng.gamma(2.0, 400.0, n).round(2),
        }
    )


def test_yuan_amounts_in_a_utf8_csv_are_money_as_in_any_other_encoding(tmp_path):
    # a Chinese export: "¥1,158.00" in 实付金额. The reader strips the sign and separators,
    # so role inference must see the column as an amount too, whatever the file's encoding
    # (it used to fall back to counting rows for UTF-8 and read money for GB18030)
    d = _orders()
    zh = pd.DataFrame({
        "会员ID": d["cust"], "下单时间": d["when"].dt.strftime("%Y-%m-%d %H:%M:%S"),
        "实付金额": d["value"].map(lambda v: f"¥{v:,.2f}"),
    })  # fmt: skip
    zh.to_csv(tmp_path / "utf8.csv", index=False)
    zh.to_csv(tmp_path / "gbk.csv", index=False, encoding="gb18030")
    for name in ("utf8.csv", "gbk.csv"):
        t = load_transactions(tmp_path / name)
        assert t.roles.columns["amount"] == "实付金额", name
        got = t.frame()["amount"].to_numpy()
        np.testing.assert_allclose(np.sort(got), np.sort(d["value"].to_numpy()))

