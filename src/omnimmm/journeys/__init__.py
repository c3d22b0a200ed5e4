"""Customer journeys: incrementality-based multi-touch attribution and the KPI board.

Light on import; never imports pymc (nor :mod:`omnimmm.mmm`). Submodules:

* :mod:`omnimmm.journeys.inputs` -- touches and conversions into DuckDB, checked, keyed by
  one customer (identity resolution when touches carry several keys).
* :mod:`omnimmm.journeys.causal` -- the default method: a purchase-hazard model and
  counterfactual removal of each channel, bootstrap intervals.
* :mod:`omnimmm.journeys.paths` -- paths to conversion and the classic methods (last/first
  touch, linear, time decay, position-based, Markov orders 1-3, Shapley).
* :mod:`omnimmm.journeys.attribute` -- ``omnimmm journeys attribute`` outputs.
* :mod:`omnimmm.journeys.kpis` / :mod:`omnimmm.journeys.board` -- the monthly KPI board.
* :mod:`omnimmm.journeys.stage` -- :func:`journeys_stage` for the quarterly run.

The simulator with causal truth is :mod:`omnimmm.data.simulate_journeys`.
"""
