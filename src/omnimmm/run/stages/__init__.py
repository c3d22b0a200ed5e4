"""The stages of the quarterly run, one module each, in the order a run calls them:
validate (plan, panel, pre-checks, feasibility), lifecycle, fit (or reuse), gate, holdout,
analysis, optimize, export. Every stage but validate is ``stage(state: RunState) -> None``."""
