"""Where a no-effect channel's pull to long half-lives comes from (jn13 in RESULTS.md).

Each ``WORLD:CUSTOMERS:SEED[:OPTION]`` is simulated without truth (``truth=False``) and
fitted by :func:`omnimmm.journeys.causal.fit_causal` (point estimates); the line printed
gives the no-effect email's half-life profile (log likelihood at each grid value minus
the best), each channel's measured likelihood inflation (sandwich over model variance of
its main effect) and the shares. Worlds, all 120 days with full logs:

* ``two``: search (effect, aimed at intent) and email (none); no priming, no
  refractoriness, no loyalty.
* ``two_recent`` / ``two_loyal``: the same with the default refractoriness / loyalty.
* ``five``: the default world's five channels, no priming, no history terms.
* ``five_primed``: the same with the default priming.
* ``default_full``: the default world with every touch logged.

Options: ``all_rows`` (every day of every buyer in the likelihood), ``controls=N`` (every
buyer, ``N`` days without a purchase each), ``adjusted`` (``ADJUST_PROFILE``). Without
``adjusted`` the profiles are the sampled likelihood's own (``ADJUST_PROFILE`` off, whatever
the library's default), as this diagnosis needs.

    PYTHONPATH=src nice -n 19 .venv/bin/python benchmarks/diag_journeys_inflation.py \\
        five_primed:200000:1 five_primed:200000:1:all_rows two_recent:200000:1
"""

from __future__ import annotations

import argparse
import time

from omnimmm.data import simulate_journeys as sj
from omnimmm.journeys import causal
from omnimmm.journeys.inputs import load_journeys


def settings(name: str) -> dict:
    """Keyword arguments of :func:`simulate_journeys` for the worlds listed above."""
    two = (sj.JourneyChannel("search", "online", 0.03, 1.0, 2.0, intent_power=1.0),
           sj.JourneyChannel("email", "online", 0.08, 0.0, 3.0))  # fmt: skip
    plain = {"priming": {}, "b_recent": 0.0, "b_loyal": 0.0, "log_until_last_purchase": False}
    worlds = {
        "two": {**plain, "channels": two},
        "two_recent": {**plain, "channels": two, "b_recent": -1.0},
        "two_loyal": {**plain, "channels": two, "b_loyal": 0.25},
        "five": {**plain, "channels": sj.default_channels()},
        "five_primed": {**{k: v for k, v in plain.items() if k != "priming"}},
        "default_full": {"log_until_last_purchase": False},
    }
    if name not in worlds:
        raise SystemExit(f"unknown world {name!r}; known: {', '.join(worlds)}")
    return worlds[name]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("specs", nargs="+", help="WORLD:CUSTOMERS:SEED[:OPTION]")
    args = ap.parse_args()
    for spec in args.specs:
        name, n, seed, *opt = spec.split(":")
        option = opt[0] if opt else ""
        max_rows = 250_000
        causal.MAX_CONTROLS, causal.ADJUST_PROFILE = 60, option == "adjusted"
        if option == "all_rows":
            causal.MAX_CONTROLS, max_rows = 10**6, 10**9
        elif option.startswith("controls="):
            causal.MAX_CONTROLS, max_rows = int(option.split("=")[1]), 10**9
        t = time.process_time()
        w = sj.simulate_journeys(n_customers=int(n), days=120, seed=int(seed), truth=False,
                                 **settings(name))  # fmt: skip
        r = causal.fit_causal(load_journeys(w.touches, w.conversions), n_bootstrap=0,
                              seed=0, max_rows=max_rows)  # fmt: skip
        d = r.diagnostics
        print(
            f"{spec}: {time.process_time() - t:.0f} CPU s, purchases in the likelihood "
            f"{d['purchases_in_likelihood']}, days without a purchase per buyer "
            f"{d['controls_per_customer']}; email profile "
            + " ".join(f"{v:+.1f}" for v in d["half_life_profile"]["email"])
            + "; inflation " + " ".join(f"{k} {v:.2f}" for k, v in d["likelihood_inflation"].items())
            + "; shares " + " ".join(f"{k} {100 * v:.1f}" for k, v in
                                      r.table.set_index("name")["share"].items()),
            flush=True,
        )  # fmt: skip
    causal.MAX_CONTROLS, causal.ADJUST_PROFILE = 60, False


if __name__ == "__main__":
    main()
