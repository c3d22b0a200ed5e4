"""Journey attribution: recovery of incremental shares against the simulator's causal truth.

The default method (hazard model + counterfactual removal) is compared with the truth the
simulator computes by removing each channel's touches with the same random numbers, and
with last touch and Markov, which hand conversions that would have happened anyway to
whatever touched the customer. Negative control: ``email`` has no effect; its interval must
cover 0. The fast world is small, so its tolerances are wider than the slow world's.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from omnimmm.cli import app
from omnimmm.data.simulate_journeys import simulate_journeys
from omnimmm.journeys import causal
from omnimmm.journeys.attribute import AttributionSettings, attribute


def _errors(out: Path, truth: pd.DataFrame) -> dict[str, float]:
    doc = json.loads((out / "attribution.json").read_text())
    causal = pd.Series({c["name"]: c["share"] for c in doc["channels"]})
    methods = pd.read_csv(out / "attribution.csv")
    true = truth.set_index("name")["share"]
    err = {"hazard_removal": float((causal - true).abs().mean())}
    for m in ("last_touch", "markov_1", "markov_2", "markov_3", "shapley"):
        s = methods[methods.method == m].set_index("channel")["share"]
        err[m] = float((s - true).abs().mean())
    return err


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, pd.DataFrame]:
    world = simulate_journeys(n_customers=8000, days=90, seed=11)
    out = tmp_path_factory.mktemp("attr") / "out"
    attribute(world.touches, world.conversions, out,
              settings=AttributionSettings(n_bootstrap=20, max_rows=80_000,
                                           offline_channels=("direct_mail",)))  # fmt: skip
    return out, world.truth


def test_contract_and_shares_sum_to_one(small: tuple[Path, pd.DataFrame]) -> None:
    out, truth = small
    doc = json.loads((out / "attribution.json").read_text())
    assert doc["method"] == "hazard_removal"
    keys = {"name", "share", "low", "high", "incremental_conversions", "incremental_revenue",
            "cost_per_incremental_conversion"}  # fmt: skip
    assert all(keys <= set(c) for c in doc["channels"])
    assert sum(c["share"] for c in doc["channels"]) == pytest.approx(1.0)
    assert doc["baseline_conversions"] > 0
    for name in ("attribution.csv", "top_paths.csv", "crossings.csv", "report.html"):
        assert (out / name).stat().st_size > 0
    methods = pd.read_csv(out / "attribution.csv")
    assert set(methods.method) >= {"last_touch", "first_touch", "linear", "time_decay",
                                   "position_based", "markov_1", "markov_2", "markov_3",
                                   "shapley", "hazard_removal"}  # fmt: skip
    for _, g in methods.groupby("method"):
        assert g.share.sum() == pytest.approx(1.0)
    # The diagnostics keep their per-channel tables (they were written as null before).
    diag = json.loads((out / "attribution.json").read_text())["diagnostics"]
    names = set(truth["name"])
    assert set(diag["half_life_days"]) == names
    assert all(isinstance(v, float) for v in diag["half_life_days"].values())
    for weights in diag["half_life_weights"].values():
        assert sum(weights) == pytest.approx(1.0)
    # the sampled likelihood's inflation is measured (sandwich over model variance, >= 1)
    assert set(diag["likelihood_inflation"]) == names
    assert all(1.0 <= v < 3.0 for v in diag["likelihood_inflation"].values())
    # the replicates' own quantiles are kept; the reported ones reach 0 where the boundary
    # rule applies and are the replicates' otherwise
    at_zero = diag["main_effect_at_zero_in_bootstrap"]
    for c in json.loads((out / "attribution.json").read_text())["channels"]:
        lo, hi = diag["share_interval_of_replicates"][c["name"]]
        # the fixture's 20 replicates: the rule of causal._held_at_zero on their count
        if causal._held_at_zero(np.array([round(at_zero[c["name"]] * 20)]), 20)[0]:
            assert (c["low"], c["high"]) == (min(lo, 0.0), max(hi, 0.0))
        else:
            assert (c["low"], c["high"]) == pytest.approx((lo, hi))


def test_default_beats_path_methods_and_negative_control(small: tuple) -> None:
    out, truth = small
    err = _errors(out, truth)
    doc = json.loads((out / "attribution.json").read_text())
    email = next(c for c in doc["channels"] if c["name"] == "email")
    assert email["low"] <= 0.0 <= email["high"]
    assert err["last_touch"] >= 0.08 and err["markov_1"] >= 0.08
    assert err["hazard_removal"] <= err["last_touch"] / 2
    assert err["hazard_removal"] <= err["markov_1"] - 0.04
    # the strongest channel comes first, as in the truth. The next two (social 31.9%,
    # direct_mail 20.5%) come out swapped on this 8,000-customer world since the half-lives
    # are averaged over (25.9% and 28.2%; 33.5% and 22.9% with the former shortest-within-
    # 1.92 pick); the whole ranking is checked on the bigger world (slow tests)
    shares = pd.Series({c["name"]: c["share"] for c in doc["channels"]})
    assert shares.idxmax() == truth.set_index("name")["share"].idxmax()
    # 8,000 customers leave the small channels' shares noisy, but the intervals say so:
    # they hold the truth
    true = truth.set_index("name")["share"]
    inside = [c["low"] <= true[c["name"]] <= c["high"] for c in doc["channels"]]
    assert sum(inside) >= 4


def test_report_escapes_channel_names(tmp_path: Path) -> None:
    world = simulate_journeys(n_customers=1500, days=60, seed=2, truth=False)
    touches = world.touches.copy()
    touches["channel"] = touches["channel"].replace("email", "<script>alert(1)</script>")
    attribute(touches, world.conversions, tmp_path / "o",
              settings=AttributionSettings(n_bootstrap=2, max_rows=20_000))  # fmt: skip
    html = (tmp_path / "o" / "report.html").read_text()
    assert "<script>" not in html and "&lt;script&gt;" in html


def test_cli_attribute_and_named_errors(tmp_path: Path) -> None:
    world = simulate_journeys(n_customers=1500, days=60, seed=3, truth=False)
    world.touches.rename(columns={"channel": "src"}).to_csv(tmp_path / "t.csv", index=False)
    world.conversions.to_csv(tmp_path / "c.csv", index=False)
    runner = CliRunner()
    args = ["journeys", "attribute", "--touches", str(tmp_path / "t.csv"), "--conversions",
            str(tmp_path / "c.csv"), "--out", str(tmp_path / "o"), "--bootstrap", "2"]  # fmt: skip
    bad = runner.invoke(app, args)
    assert bad.exit_code == 3
    assert "no column 'channel'" in bad.output and "--touch-channel-col" in bad.output
    assert "Traceback" not in bad.output
    ok = runner.invoke(app, [*args, "--touch-channel-col", "src"])
    assert ok.exit_code == 0, ok.output
    assert (tmp_path / "o" / "attribution.json").is_file()
    conv = world.conversions.copy()
    conv["ts"] = conv["ts"].astype(str)
    conv.loc[5, "ts"] = "yesterday"
    conv.to_csv(tmp_path / "c2.csv", index=False)
    args[5] = str(tmp_path / "c2.csv")
    bad_ts = runner.invoke(app, [*args, "--touch-channel-col", "src"])
    assert bad_ts.exit_code == 3 and "'yesterday'" in bad_ts.output


def test_identity_keys_join_touches_of_one_person(tmp_path: Path) -> None:
    world = simulate_journeys(n_customers=800, days=60, seed=4, truth=False)
    t = world.touches.copy()
    # app touches carry the account id, store flyers only the phone; the phone links them
    phone = {cid: f"+86 138{int(cid[1:]):08d}" for cid in t.customer_id.unique()}
    t["account_id"] = t.customer_id.where(t.channel != "direct_mail")
    t["phone"] = t.customer_id.map(phone)
    t = t.drop(columns="customer_id")
    c = world.conversions.assign(account_id=world.conversions.customer_id,
                                 phone=world.conversions.customer_id.map(phone))  # fmt: skip
    c = c.drop(columns="customer_id")
    from omnimmm.journeys.inputs import load_journeys

    data = load_journeys(t, c)
    people = set(world.touches.customer_id) | set(world.conversions.customer_id)
    assert data.n_customers == len(people)
    keys = data.con.execute("select cust from customer_keys").df()["cust"]
    assert keys.str.fullmatch(r"C\d{8}").all()  # resolved ids, never the phone


def test_conversion_places_by_their_other_names() -> None:
    """Conversion channels named as users name them (App, 门店, offline, WEB ...) count as
    online or store; a value that is neither is refused, naming the column and the names."""
    from omnimmm.errors import DataError
    from omnimmm.journeys.inputs import load_journeys

    world = simulate_journeys(n_customers=300, days=40, seed=6, truth=False)
    c = world.conversions.copy()
    online = c["channel"] == "online"
    c["channel"] = np.where(online, np.resize([" App", "WEB", "线上", "mini_program"], len(c)),
                            np.resize(["门店", "Offline", "in-store", "POS "], len(c)))  # fmt: skip
    data = load_journeys(world.touches, c)
    got = data.con.execute("select place, count(*) from conversions group by place").fetchall()
    assert dict(got) == {"online": int(online.sum()), "store": int((~online).sum())}
    c.loc[c.index[3], "channel"] = "phone"
    with pytest.raises(DataError, match=r"column 'channel'.*门店.*'phone'"):
        load_journeys(world.touches, c)


def test_timestamps_are_read_as_the_lifecycle_reader_reads_them(tmp_path: Path) -> None:
    """Unix seconds, milliseconds and US-style dates in the files give the same journeys as
    ISO text; a value that is no time is refused, naming the column and the row."""
    from omnimmm.errors import DataError
    from omnimmm.journeys.inputs import load_journeys

    world = simulate_journeys(n_customers=300, days=40, seed=6, truth=False)
    t, c = world.touches.copy(), world.conversions.copy()
    t["ts"], c["ts"] = (
        pd.to_datetime(t["ts"]).dt.floor("min"),
        pd.to_datetime(c["ts"]).dt.floor("min"),
    )
    seconds = (t["ts"] - pd.Timestamp("1970-01-01")) // pd.Timedelta(seconds=1)
    millis = (c["ts"] - pd.Timestamp("1970-01-01")) // pd.Timedelta(milliseconds=1)
    layouts = {
        "iso": (t.assign(ts=t["ts"].dt.strftime("%Y-%m-%d %H:%M:%S")),
                c.assign(ts=c["ts"].dt.strftime("%Y-%m-%d %H:%M:%S"))),
        "epoch": (t.assign(ts=seconds), c.assign(ts=millis)),
        "us": (t.assign(ts=t["ts"].dt.strftime("%m/%d/%Y %H:%M")),
               c.assign(ts=c["ts"].dt.strftime("%m/%d/%Y %H:%M"))),
        # dates alone: DuckDB's sniffer types them DATE in its own layout
        "iso_day": (t.assign(ts=t["ts"].dt.strftime("%Y-%m-%d")),
                    c.assign(ts=c["ts"].dt.strftime("%Y-%m-%d"))),
        "us_day": (t.assign(ts=t["ts"].dt.strftime("%m/%d/%Y")),
                   c.assign(ts=c["ts"].dt.strftime("%m/%d/%Y"))),
    }  # fmt: skip
    got = {}
    for name, (touches, conversions) in layouts.items():
        touches.to_csv(tmp_path / f"t_{name}.csv", index=False)
        conversions.to_csv(tmp_path / f"c_{name}.csv", index=False)
        data = load_journeys(tmp_path / f"t_{name}.csv", tmp_path / f"c_{name}.csv")
        got[name] = [data.con.execute(f"select cid, ts from {table} order by cid, ts").df()
                     for table in ("touches", "conversions")]  # fmt: skip
    # zoned times (Parquet, or frames) keep their wall-clock time, as zoned text does
    zt, zc = (f.assign(ts=f["ts"].dt.tz_localize("Asia/Shanghai")) for f in (t, c))
    zt.to_parquet(tmp_path / "t_zoned.parquet")
    data = load_journeys(tmp_path / "t_zoned.parquet", zc)
    got["zoned"] = [data.con.execute(f"select cid, ts from {table} order by cid, ts").df()
                    for table in ("touches", "conversions")]  # fmt: skip
    for name, same in (("epoch", "iso"), ("us", "iso"), ("us_day", "iso_day"), ("zoned", "iso")):
        for a, b in zip(got[same], got[name], strict=True):
            pd.testing.assert_frame_equal(a, b)
    bad = layouts["us"][0].copy()
    bad.loc[bad.index[5], "ts"] = "soon"
    bad.to_csv(tmp_path / "t_bad.csv", index=False)
    with pytest.raises(DataError, match=r"column 'ts'.*data row 6 has 'soon'"):
        load_journeys(tmp_path / "t_bad.csv", tmp_path / "c_us.csv")


def test_journeys_never_import_pymc() -> None:
    code = ("import sys, omnimmm.journeys.attribute, omnimmm.journeys.board, "
            "omnimmm.journeys.stage\n"
            "bad = sorted(m for m in sys.modules if m.split('.')[0] in "
            "('pymc', 'pytensor', 'nutpie') or m.startswith('omnimmm.mmm'))\n"
            "assert not bad, bad")  # fmt: skip
    subprocess.run([sys.executable, "-c", code], check=True)


@pytest.fixture(scope="module")
def bigger(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, pd.DataFrame]:
    world = simulate_journeys(n_customers=60_000, days=120, seed=21)
    out = tmp_path_factory.mktemp("bigger") / "o"
    attribute(world.touches, world.conversions, out,
              settings=AttributionSettings(n_bootstrap=50))  # fmt: skip
    return out, world.truth


@pytest.mark.slow
def test_recovery_on_a_bigger_world(bigger: tuple[Path, pd.DataFrame]) -> None:
    """What holds on 60,000 customers (measured: default 1.0 point, last touch 22, Markov 16)."""
    out, truth = bigger
    err = _errors(out, truth)
    doc = json.loads((out / "attribution.json").read_text())
    email = next(c for c in doc["channels"] if c["name"] == "email")
    assert email["low"] <= 0.0 <= email["high"]
    assert err["last_touch"] >= 0.08 and err["markov_1"] >= 0.08
    assert err["hazard_removal"] <= err["last_touch"] / 2
    assert err["hazard_removal"] <= err["markov_1"] - 0.05


@pytest.mark.slow
def test_three_point_target_on_a_bigger_world(bigger: tuple[Path, pd.DataFrame]) -> None:
    """Issue 20's target on this world: within 3 points and the ranking right (measured
    with the fixed-effects model: 1.0 point; display 5.0% against email -0.2%, true 6.8%
    and 0%). It was an expected failure with the previous model (3.0 points, display
    below email)."""
    out, truth = bigger
    assert _errors(out, truth)["hazard_removal"] <= 0.03
    doc = json.loads((out / "attribution.json").read_text())
    shares = pd.Series({c["name"]: c["share"] for c in doc["channels"]})
    ranked = list(shares.sort_values(ascending=False).index)
    assert ranked == list(truth.sort_values("share", ascending=False).name)


def test_intervals_reach_zero_where_the_bootstrap_holds_the_main_effect_there() -> None:
    """A channel whose main effect is held at zero in at least 5% of the replicates (and in
    two at least) gets intervals that reach 0 from either side; the others keep the
    replicates' quantiles."""
    from omnimmm.journeys import causal

    table = pd.DataFrame({
        "name": ["a", "b", "c", "d"],
        "low": [0.004, -0.11, 0.20, 0.01], "high": [0.07, -0.002, 0.45, 0.09],
        "incremental_conversions_low": [3.0, -90.0, 150.0, 8.0],
        "incremental_conversions_high": [50.0, -1.0, 300.0, 60.0],
    })  # fmt: skip
    held = causal._held_at_zero(np.array([10, 5, 0, 4]), 100)
    assert held.tolist() == [True, True, False, False]
    # ten replicates: one at zero is 10% but proves little; two are needed
    assert causal._held_at_zero(np.array([1, 2, 0, 0]), 10).tolist() == [False, True, False, False]
    out = causal._reach_zero(table, held)
    assert out["low"].tolist() == [0.0, -0.11, 0.20, 0.01]
    assert out["high"].tolist() == [0.07, 0.0, 0.45, 0.09]
    assert out["incremental_conversions_low"].tolist() == [0.0, -90.0, 150.0, 8.0]
    assert out["incremental_conversions_high"].tolist() == [50.0, 0.0, 300.0, 60.0]
    assert table["low"].tolist()[0] == 0.004  # the input is left as it was


def test_removal_effects_match_the_designs_with_the_channel_removed() -> None:
    """A removal changes only the channel's own columns (its exposure and its pairs): the
    contributions equal the linear predictor's drop when the design is rebuilt with the
    channel's touches gone, and the thinning sums follow from them."""
    import numpy as np

    from omnimmm.journeys import causal

    rng = np.random.default_rng(0)
    n, n_ch, n_h = 400, 3, len(causal.HALF_LIVES)
    expo = rng.gamma(1.0, 1.0, (n, n_ch, n_h)).astype(np.float32)
    rows = causal._Rows(expo=expo, recent=(rng.random(n) < 0.3).astype(float),
                        block=rng.integers(0, 3, n), cust=np.arange(n), fe=np.ones(n, bool),
                        event=rng.random(n) < 0.2, w=np.ones(n), conv=rng.integers(0, 3, n) * 1.0)  # fmt: skip
    half = np.array([0, 2, 5])
    X = causal._design(rows, half)
    beta = rng.normal(0, 0.3, X.shape[1])
    contrib = causal._contributions(X, beta, n_ch)
    lost, base = causal._effects(contrib, rows.conv)
    for c in range(n_ch):
        gone = causal._Rows(**{**rows.__dict__, "expo": np.where(
            np.arange(n_ch)[None, :, None] == c, 0.0, expo).astype(np.float32)})  # fmt: skip
        drop = X @ beta - causal._design(gone, half) @ beta
        assert contrib[:, c] == pytest.approx(drop)
        assert lost[c] == pytest.approx(rows.conv @ (1 - np.exp(-drop)))
    none = causal._Rows(**{**rows.__dict__, "expo": np.zeros_like(expo)})
    assert base == pytest.approx(rows.conv @ np.exp(causal._design(none, half) @ beta - X @ beta))


def test_fixed_effects_likelihood_gradient_and_hessian() -> None:
    """The conditional (fixed-effects) log likelihood's gradient and Hessian agree with
    finite differences, with customer weights as the bootstrap uses them."""
    import numpy as np

    from omnimmm.journeys import causal

    rng = np.random.default_rng(1)
    n, n_cust = 300, 40
    cust = np.sort(rng.integers(0, n_cust, n))
    rows = causal._Rows(expo=np.zeros((n, 1, 1), np.float32), recent=np.zeros(n),
                        block=np.zeros(n, np.int64), cust=cust, fe=np.ones(n, bool),
                        event=rng.random(n) < 0.3, w=rng.uniform(1, 4, n), conv=np.zeros(n))  # fmt: skip
    st = causal._strata(rows, n_cust)
    X = rng.normal(size=(n, 3))
    b = rng.poisson(1.0, n_cust).astype(float)
    beta = rng.normal(0, 0.5, 3)
    ll, grad, hess, _ = causal._loglik(X, st, beta, b)
    eps = 1e-6
    for k in range(3):
        d = np.eye(3)[k] * eps
        up, g_up = causal._loglik(X, st, beta + d, b)[:2]
        dn, g_dn = causal._loglik(X, st, beta - d, b)[:2]
        assert (up - dn) / (2 * eps) == pytest.approx(grad[k], rel=1e-5, abs=1e-6)
        assert (g_up - g_dn) / (2 * eps) == pytest.approx(hess[:, k], rel=1e-4, abs=1e-5)


def test_half_life_weights_follow_the_profile_and_the_prior() -> None:
    """A flat profile leaves only the prior: each doubling of the half-life costs
    ``PRIOR_PER_DOUBLING`` log-likelihood units. A profile that favours a long half-life by
    far more than the prior puts (nearly) all the weight there."""
    import numpy as np

    from omnimmm.journeys import causal

    n_h = len(causal.HALF_LIVES)
    flat = causal._weights(np.zeros(n_h))
    assert flat.sum() == pytest.approx(1.0)
    assert np.diff(np.log2(causal.HALF_LIVES)) == pytest.approx(1.0)  # the grid doubles
    assert flat[1:] / flat[:-1] == pytest.approx(np.exp(-causal.PRIOR_PER_DOUBLING))
    sharp = causal._weights(np.array([-40.0, -30, -20, -10, 0, -12]))
    assert int(np.argmax(sharp)) == 4 and sharp[4] > 0.99
    both = causal._weights(np.zeros((3, n_h)))  # one row per channel
    assert both == pytest.approx(np.tile(flat, (3, 1)))


def _toy_fit() -> tuple:
    """A small fixed-effects sample whose second channel acts at a 2-day half-life, fitted
    at the half-lives ``half``."""
    import numpy as np

    from omnimmm.journeys import causal

    rng = np.random.default_rng(3)
    n_cust, per = 300, 12
    n, n_ch, n_h = n_cust * per, 2, len(causal.HALF_LIVES)
    cust = np.repeat(np.arange(n_cust), per)
    expo = rng.gamma(0.6, 1.0, (n, n_ch, n_h)).astype(np.float32)  # unrelated across the grid
    eta = 0.9 * -np.expm1(-expo[:, 1, 2]) + 0.3 * -np.expm1(-expo[:, 0, 0])
    event = rng.random(n) < 0.15 * np.exp(eta)
    rows = causal._Rows(expo=expo, recent=np.zeros(n), block=np.zeros(n, np.int64), cust=cust,
                        fe=np.ones(n, bool), event=event, w=np.ones(n),
                        conv=event.astype(float))  # fmt: skip
    st = causal._strata(rows, n_cust)
    return rows, st, n_ch


def test_removal_is_the_weighted_mean_of_the_refits_at_each_half_life() -> None:
    """Golden check of the averaging: with the weights on two half-lives, a channel's
    removal is the weighted mean of its removals in full refits at those half-lives (and
    with all weight on one half-life, that refit's removal), not the removal at the mode."""
    import numpy as np

    from omnimmm.journeys import causal

    rows, st, n_ch = _toy_fit()
    n_h = len(causal.HALF_LIVES)
    half = np.array([0, 2])
    buy = rows.conv > 0

    def refit(h: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        X_all = causal._design(rows, h)
        pen = causal._penalty(X_all.shape[1], n_ch + 1, 1.0)
        beta, _ = causal._newton(X_all[st.rows], st, np.zeros(X_all.shape[1]), pen,
                                 np.ones(st.n_ev.size), tol=1e-10)  # fmt: skip
        # channels with a negative main effect held at zero (a no-op unless NONNEG is set)
        beta, _ = causal._nonneg(X_all[st.rows], st, beta, pen, np.ones(st.n_ev.size), n_ch,
                                 tol=1e-10)  # fmt: skip
        lost = causal._effects(causal._contributions(X_all[buy], beta, n_ch), rows.conv[buy])
        return beta, pen, lost[0]

    beta, pen, lost = refit(half)
    at = {h: refit(np.array([0, h]))[2][1] for h in (2, 4)}
    assert abs(at[4] - at[2]) > 0.05 * abs(at[2])  # the two half-lives disagree
    weights = np.zeros((n_ch, n_h))
    weights[0, 0] = 1.0
    weights[1, 2], weights[1, 4] = 0.3, 0.7
    prof = causal._Profile(half, [[0.0] * n_h] * n_ch, weights, np.zeros((n_ch, n_h, 1)),
                           np.zeros((n_ch, n_h)))  # fmt: skip
    out = causal._averaged_removals(rows, st, prof, beta, pen, buy, lost)
    assert out[0] == pytest.approx(lost[0])
    assert out[1] == pytest.approx(0.3 * at[2] + 0.7 * at[4], rel=1e-4)
    weights[1] = np.eye(n_h)[4]
    out = causal._averaged_removals(rows, st, prof, beta, pen, buy, lost)
    assert out[1] == pytest.approx(at[4], rel=1e-4)


def test_bootstrap_draws_half_lives_as_the_replicate_weights_say() -> None:
    """The bootstrap draws each channel's half-life from the weights of its reweighted
    profile: with a flat profile the draws follow the prior, with a sharp one its mode."""
    import numpy as np

    from omnimmm.journeys import causal

    n_h, n_cust = len(causal.HALF_LIVES), 50
    cust_ll = np.zeros((2, n_h, n_cust))
    cust_ll[1, 3] = 1.0  # 50 units better at 4 days for the second channel
    prof = causal._Profile(np.array([0, 3]), [[0.0] * n_h] * 2, np.zeros((2, n_h)), cust_ll,
                           np.zeros((2, n_h)))  # fmt: skip
    rng = np.random.default_rng(0)
    draws = np.array([causal._replicate_half_lives(prof, np.ones(n_cust), rng)
                      for _ in range(4000)])  # fmt: skip
    freq = np.bincount(draws[:, 0], minlength=n_h) / len(draws)
    assert freq == pytest.approx(causal._weights(np.zeros(n_h)), abs=0.03)
    assert (draws[:, 1] == 3).all()
    # a profile divided by its likelihood's inflation (ADJUST_PROFILE): 50 units over 25 is
    # 2 units, which the prior's 4.5 units for three doublings (0.5 to 4 days) outweigh
    cust_ll[1, 3], cust_ll[1, 1] = 1.0, 0.0
    inflated = causal._Profile(np.array([0, 3]), [[0.0] * n_h] * 2, np.zeros((2, n_h)),
                               cust_ll, np.zeros((2, n_h)), np.array([1.0, 25.0]))  # fmt: skip
    draws = np.array([causal._replicate_half_lives(inflated, np.ones(n_cust), rng)
                      for _ in range(4000)])  # fmt: skip
    lls = np.zeros(n_h)
    lls[3] = 50.0 / 25.0
    freq = np.bincount(draws[:, 1], minlength=n_h) / len(draws)
    assert freq == pytest.approx(causal._weights(lls), abs=0.03)
    assert freq[3] < 0.5
