"""Command-line front end. Thin: every command delegates to library functions.

User errors (:class:`omnimmm.errors.OmniError`) print a one-paragraph reason and exit with the
code documented in :mod:`omnimmm.errors`; they never print a traceback.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from omnimmm.console import EXAMPLES, error_line, lifecycle_score_lines, make_console, run_app
from omnimmm.errors import OmniError, UsageError

app = typer.Typer(
    name="omnimmm",
    help="Omnichannel marketing mix modeling, customer lifecycle and budget planning.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    epilog=EXAMPLES["omnimmm"],
)
lifecycle_app = typer.Typer(
    help="Customer lifecycle: identity, features, propensity scores.",
    epilog=EXAMPLES["lifecycle"],
)
app.add_typer(lifecycle_app, name="lifecycle")
journeys_app = typer.Typer(
    help="Customer journeys: incremental attribution and the KPI board.",
    epilog=EXAMPLES["journeys"],
)
app.add_typer(journeys_app, name="journeys")

console = make_console()
err_console = make_console(stderr=True)


def _fail(exc: OmniError) -> typer.Exit:
    err_console.print(error_line(exc))
    return typer.Exit(code=exc.exit_code)


def _version(value: bool) -> None:
    if value:
        from omnimmm.console import version_text

        console.print(version_text(), markup=False)
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Print the version."),
    ] = False,
) -> None:
    """Omnichannel marketing mix modeling, customer lifecycle and budget planning."""


_ROLE_HELP = {
    "customer_id": "Customer key column (inferred when absent: customer_id, member_id, ...).",
    "ts": "Timestamp column (inferred when absent: ts, timestamp, date, order_date, ...).",
    "amount": "Order or receipt value column (inferred when absent: amount, sales, ...).",
    "order_id": "Optional order id column; rows sharing one are one order.",
    "channel": "Optional channel column (online/offline).",
    "store_id": "Optional store column.",
    "coupon_used": "Optional coupon flag column (true/false).",
    "quantity": "Quantity column: the amount column is then a unit price (amount = quantity x "
    "price; inferred when no amount column exists).",
    "event": "Event-type column of an event log (view/cart/buy): only purchase rows are read "
    "(inferred when absent: event, event_type, behavior_type, ...). COLUMN=VALUE names the "
    "purchase value (behavior_type=4); 'none' reads every row as a purchase.",
}


def _col(role: str) -> object:
    return typer.Option(f"--{role.replace('_', '-')}-col", help=_ROLE_HELP[role])


_CAMPAIGN_ROLE_HELP = {
    "customer_id": "Customer key column of --campaigns.",
    "sent_at": "Contact date column of --campaigns.",
    "redeemed_at": "Optional redemption date column of --campaigns.",
    "treated": "Optional treated flag column of --campaigns (false = control, not contacted).",
}


def _camp_col(role: str) -> object:
    flag = f"--campaign-{role.replace('_', '-')}-col"
    return typer.Option(flag, help=_CAMPAIGN_ROLE_HELP[role])


@lifecycle_app.command("score", epilog=EXAMPLES["lifecycle score"])
def lifecycle_score(
    transactions: Annotated[Path, typer.Option(help="Transactions (CSV or Parquet).")],
    as_of: Annotated[str, typer.Option(help="Scoring date YYYY-MM-DD; later rows unused.")],
    horizon_days: Annotated[int, typer.Option(help="Repurchase (and churn) window, days.")],
    out: Annotated[Path, typer.Option(help="Directory for scores.csv and metrics.json.")],
    churn_horizon_days: Annotated[
        int | None, typer.Option(help="Churn window if not --horizon-days.")
    ] = None,
    customer_id_col: Annotated[str | None, _col("customer_id")] = None,
    ts_col: Annotated[str | None, _col("ts")] = None,
    amount_col: Annotated[str | None, _col("amount")] = None,
    order_id_col: Annotated[str | None, _col("order_id")] = None,
    channel_col: Annotated[str | None, _col("channel")] = None,
    store_id_col: Annotated[str | None, _col("store_id")] = None,
    coupon_used_col: Annotated[str | None, _col("coupon_used")] = None,
    quantity_col: Annotated[str | None, _col("quantity")] = None,
    event_col: Annotated[str | None, _col("event")] = None,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 0,
    n_jobs: Annotated[int, typer.Option(help="LightGBM threads.")] = 1,
    campaigns: Annotated[
        Path | None,
        typer.Option(
            help="Optional campaign/contact history (CSV or Parquet): customer_id, sent_at, "
            "optional redeemed_at and treated (false = control, not contacted). Adds contact "
            "and response features as of --as-of."
        ),
    ] = None,
    response_days: Annotated[
        int, typer.Option(help="Days after a contact in which a purchase counts as a response.")
    ] = 30,
    campaign_customer_id_col: Annotated[str, _camp_col("customer_id")] = "customer_id",
    campaign_sent_at_col: Annotated[str, _camp_col("sent_at")] = "sent_at",
    campaign_redeemed_at_col: Annotated[str, _camp_col("redeemed_at")] = "redeemed_at",
    campaign_treated_col: Annotated[str, _camp_col("treated")] = "treated",
    fast: Annotated[
        bool,
        typer.Option(
            "--fast",
            help="LightGBM preset for a quick look: learning rate 0.2 (default 0.05), "
            "<= 500 trees, early stop after 20 rounds.",
        ),
    ] = False,
    learning_rate: Annotated[
        float | None, typer.Option(help="LightGBM learning rate (default 0.05; --fast 0.2).")
    ] = None,
    n_trees: Annotated[
        int | None, typer.Option(help="Most trees early stopping may use (1000; --fast 500).")
    ] = None,
    early_stopping_rounds: Annotated[
        int | None, typer.Option(help="Stop after this many rounds without gain (30; --fast 20).")
    ] = None,
    min_rows_per_leaf: Annotated[
        int | None, typer.Option(help="LightGBM min_child_samples (default 100).")
    ] = None,
    n_cutoffs: Annotated[
        int | None,
        typer.Option(
            help="Training cutoffs (snapshots) per model; fewer need less history (default "
            "4, fewer when the history is short)."
        ),
    ] = None,
    step_days: Annotated[
        int | None,
        typer.Option(help="Days between training cutoffs; closer need less history (default 30)."),
    ] = None,
    min_history_days: Annotated[
        int | None,
        typer.Option(
            help="History required before the first training cutoff, days (default 90, less "
            "when the history is short)."
        ),
    ] = None,
    scheduler: Annotated[
        str | None,
        typer.Option(help="Score on this Dask cluster (tcp://host:8786); Parquet or CSV input."),
    ] = None,
    workers: Annotated[
        int | None, typer.Option(help="Score on a local Dask cluster of N worker processes.")
    ] = None,
) -> None:
    """Score churn and repurchase propensity of every customer as of a date."""
    from omnimmm.lifecycle.campaigns import CampaignColumns
    from omnimmm.lifecycle.score import score_customers

    model_params = {
        "learning_rate": learning_rate,
        "n_estimators": n_trees,
        "early_stopping_rounds": early_stopping_rounds,
        "min_child_samples": min_rows_per_leaf,
    }

    named = {"customer_id": customer_id_col, "ts": ts_col, "amount": amount_col,
             "order_id": order_id_col, "channel": channel_col, "store_id": store_id_col,
             "coupon_used": coupon_used_col, "quantity": quantity_col,
             "event": event_col}  # fmt: skip
    try:
        cols: dict[str, str | None] = {r: c for r, c in named.items() if c is not None}
        camp_cols = CampaignColumns(campaign_customer_id_col, campaign_sent_at_col,
                                    campaign_redeemed_at_col, campaign_treated_col)  # fmt: skip
        if scheduler or workers:
            from omnimmm.lifecycle.distributed import score_on_cluster

            res = score_on_cluster(transactions, as_of, horizon_days, out, scheduler=scheduler,
                                   workers=workers, columns=cols, campaigns=campaigns,
                                   churn_horizon_days=churn_horizon_days, seed=seed,
                                   model_preset="fast" if fast else "default",
                                   model_params=model_params, n_cutoffs=n_cutoffs,
                                   step_days=step_days,
                                   min_history_days=min_history_days)  # fmt: skip
        else:
            from omnimmm.lifecycle.memory import memory_warning

            warning = memory_warning(transactions)
            if warning:
                console.print(warning, highlight=False, markup=False)
            res = score_customers(transactions, as_of, horizon_days, out, columns=cols,
                                  churn_horizon_days=churn_horizon_days, seed=seed,
                                  n_jobs=n_jobs, campaigns=campaigns,
                                  response_days=response_days, campaign_columns=camp_cols,
                                  model_preset="fast" if fast else "default",
                                  model_params=model_params, n_cutoffs=n_cutoffs,
                                  step_days=step_days,
                                  min_history_days=min_history_days)  # fmt: skip
    except OmniError as exc:
        raise _fail(exc) from None
    used = res.metrics["columns"]
    console.print("columns used: " + ", ".join(f"{r}={c}" for r, c in used["columns"].items())
                  + ("" if used["how"] == "given" else
                     f" ({', '.join(r for r, h in used['how'].items() if h != 'given') or 'none'}"
                     " inferred; pass --<role>-col to change)"), highlight=False, markup=False)  # fmt: skip
    for note in [*used.get("notes", []), *res.metrics.get("rows_left_out", {}).get("notes", [])]:
        console.print(note, highlight=False, markup=False)
    for line in lifecycle_score_lines(res.metrics, len(res.scores), out):
        console.print(line, markup=False)


@lifecycle_app.command("campaigns", epilog=EXAMPLES["lifecycle campaigns"])
def lifecycle_campaigns(
    transactions: Annotated[Path, typer.Option(help="Transactions (CSV, Parquet or folder).")],
    campaigns: Annotated[
        Path, typer.Option(help="Campaign rows: campaign_id, customer key, optional treated.")
    ],
    out: Annotated[Path, typer.Option(help="Directory for campaigns.json and the CSV tables.")],
    descriptions: Annotated[
        Path | None,
        typer.Option(help="Per campaign: campaign_id, campaign_type, start_date, end_date."),
    ] = None,
    redemptions: Annotated[
        Path | None, typer.Option(help="Redemption rows: customer key, campaign_id.")
    ] = None,
    contact_cost: Annotated[float | None, typer.Option(help="Cost per contact.")] = None,
    face_value: Annotated[float | None, typer.Option(help="Cost per redemption.")] = None,
    folds: Annotated[int, typer.Option(help="Cross-fitting folds of the AIPW models.")] = 5,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 0,
) -> None:
    """Incremental spend and visits per campaign and campaign type (AIPW or holdout)."""
    from omnimmm.lifecycle.campaign_effects import campaign_effects

    try:
        doc = campaign_effects(transactions, campaigns, out, descriptions=descriptions,
                               redemptions=redemptions, contact_cost=contact_cost,
                               face_value=face_value, folds=folds, seed=seed)  # fmt: skip
    except OmniError as exc:
        raise _fail(exc) from None
    for row in doc["types"]:
        e, p = row["incremental_spend"], row["placebo_spend"]
        placebo = (
            "" if p is None else f"; placebo {p['mean']:.2f} [{p['low']:.2f}, {p['high']:.2f}]"
        )
        console.print(f"{row['type']}: {row['campaigns']} campaign(s), incremental spend per "
                      f"treated {e['mean']:.2f} [{e['low']:.2f}, {e['high']:.2f}]{placebo}",
                      highlight=False, markup=False)  # fmt: skip
    console.print(f"wrote {out / 'campaigns.json'}", highlight=False, markup=False)


@lifecycle_app.command(
    "points",
    epilog="Examples:\n\n"
    "  omnimmm lifecycle points --transactions orders.parquet --expiry-days 365 \\\n"
    "      --value-per-point 0.01 --out points\n"
    "  omnimmm lifecycle points --transactions orders.csv --as-of 2025-06-30 \\\n"
    "      --points-earned-col 获得积分 --points-redeemed-col 使用积分 --out points",
)
def lifecycle_points(
    transactions: Annotated[Path, typer.Option(help="Transactions with points per order.")],
    out: Annotated[Path, typer.Option(help="Directory for points.json and the CSV tables.")],
    as_of: Annotated[
        str | None, typer.Option(help="Cutoff date YYYY-MM-DD (default: last day in the file).")
    ] = None,
    expiry_days: Annotated[
        int | None, typer.Option(help="Days after earning that points expire (default: never).")
    ] = None,
    value_per_point: Annotated[
        float | None, typer.Option(help="Cost of one redeemed point (money figures need it).")
    ] = None,
    quarter_days: Annotated[int, typer.Option(help="Days of the redemption forecast.")] = 90,
    customer_id_col: Annotated[str | None, _col("customer_id")] = None,
    ts_col: Annotated[str | None, _col("ts")] = None,
    channel_col: Annotated[str | None, _col("channel")] = None,
    points_earned_col: Annotated[
        str | None, typer.Option(help="Points earned per order (inferred if absent).")
    ] = None,
    points_redeemed_col: Annotated[
        str | None, typer.Option(help="Points redeemed per order (inferred if absent).")
    ] = None,
    seed: Annotated[int, typer.Option(help="Bootstrap seed.")] = 0,
) -> None:
    """Points balance, breakage, next-quarter redemptions and online/store use."""
    from omnimmm.lifecycle.points_report import points_report

    named = {"customer_id": customer_id_col, "ts": ts_col, "channel": channel_col,
             "points_earned": points_earned_col, "points_redeemed": points_redeemed_col}  # fmt: skip
    try:
        doc = points_report(transactions, out, as_of=as_of, expiry_days=expiry_days,
                            value_per_point=value_per_point, quarter_days=quarter_days,
                            columns={r: c for r, c in named.items() if c is not None},
                            seed=seed)  # fmt: skip
    except OmniError as exc:
        raise _fail(exc) from None

    def fmt(d: dict) -> str:
        return (
            "n/a" if d["mean"] is None else f"{d['mean']:,.0f} [{d['low']:,.0f}, {d['high']:,.0f}]"
        )

    b, q = doc["breakage"], doc["redemption_next_quarter_points"]
    lines = [
        "columns used: " + ", ".join(f"{r}={c}" for r, c in doc["columns"].items()),
        f"outstanding balance (points): {fmt(doc['balance_points'])}",
        f"breakage: {b['mean']:.1%} [{b['low']:.1%}, {b['high']:.1%}] ({doc['breakage_basis']})",
        f"redeemed in the next {q['quarter_days']} days (points): from the balance "
        f"{fmt(q['from_balance'])}, total {fmt(q['total'])} ({q['interval']})",
    ]
    if doc["redemption_cost_next_quarter"] is not None:
        lines.append(
            f"redemption cost next quarter: {fmt(doc['redemption_cost_next_quarter']['total'])}"
        )
    for line in lines + [f"wrote {out / 'points.json'}"]:
        console.print(line, highlight=False, markup=False)


# --- journeys: thin wrappers over omnimmm.journeys ---

_JOURNEY_COLS = {
    "touch_customer_col": ("customer_id", "Customer column of --touches."),
    "touch_ts_col": ("ts", "Timestamp column of --touches."),
    "touch_channel_col": ("channel", "Channel column of --touches."),
    "touch_cost_col": ("cost", "Optional cost column of --touches."),
    "touch_campaign_col": ("campaign", "Optional campaign/benefit column of --touches."),
    "conversion_customer_col": ("customer_id", "Customer column of --conversions."),
    "conversion_ts_col": ("ts", "Timestamp column of --conversions."),
    "value_col": ("value", "Value column of --conversions."),
    "conversion_channel_col": ("channel", "Optional online/store column of --conversions."),
}


def _jcol(key: str) -> object:
    return typer.Option(f"--{key.replace('_', '-')}", help=_JOURNEY_COLS[key][1])


def _journey_columns(**cols: str) -> object:
    from omnimmm.journeys.inputs import JourneyColumns

    return JourneyColumns(cols["touch_customer_col"], cols["touch_ts_col"],
                          cols["touch_channel_col"], cols["touch_cost_col"],
                          cols["touch_campaign_col"], cols["conversion_customer_col"],
                          cols["conversion_ts_col"], cols["value_col"],
                          cols["conversion_channel_col"])  # fmt: skip


TouchesOpt = Annotated[Path, typer.Option(help="Touches (CSV, Parquet or Excel).")]
ConversionsOpt = Annotated[Path, typer.Option(help="Conversions/transactions (CSV, Parquet).")]
OfflineOpt = Annotated[
    str, typer.Option(help="Comma-separated touch channels that are offline (for crossings).")
]


@journeys_app.command("attribute", epilog=EXAMPLES["journeys attribute"])
def journeys_attribute(
    touches: TouchesOpt,
    conversions: ConversionsOpt,
    out: Annotated[Path, typer.Option(help="Folder for attribution.json/.csv, report.html.")],
    bootstrap: Annotated[int, typer.Option(help="Bootstrap refits for 90% intervals.")] = 100,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 0,
    lookback_days: Annotated[int, typer.Option(help="Path lookback before a conversion.")] = 30,
    offline_channels: OfflineOpt = "",
    touch_customer_col: Annotated[str, _jcol("touch_customer_col")] = "customer_id",
    touch_ts_col: Annotated[str, _jcol("touch_ts_col")] = "ts",
    touch_channel_col: Annotated[str, _jcol("touch_channel_col")] = "channel",
    touch_cost_col: Annotated[str, _jcol("touch_cost_col")] = "cost",
    touch_campaign_col: Annotated[str, _jcol("touch_campaign_col")] = "campaign",
    conversion_customer_col: Annotated[str, _jcol("conversion_customer_col")] = "customer_id",
    conversion_ts_col: Annotated[str, _jcol("conversion_ts_col")] = "ts",
    value_col: Annotated[str, _jcol("value_col")] = "value",
    conversion_channel_col: Annotated[str, _jcol("conversion_channel_col")] = "channel",
) -> None:
    """Incremental multi-touch attribution (hazard model) next to the classic methods."""
    from omnimmm.journeys.attribute import AttributionSettings, attribute

    cols = _journey_columns(**{k: v for k, v in locals().items() if k in _JOURNEY_COLS})
    offline = tuple(c.strip() for c in offline_channels.split(",") if c.strip())
    settings = AttributionSettings(n_bootstrap=bootstrap, seed=seed, lookback_days=lookback_days,
                                   offline_channels=offline)  # fmt: skip
    try:
        res = attribute(touches, conversions, out, columns=cols, settings=settings)  # type: ignore[arg-type]
    except OmniError as exc:
        raise _fail(exc) from None
    for r in res.causal.table.itertuples(index=False):
        console.print(f"{r.name:>16}  share {r.share:6.1%}  [{r.low:6.1%}, {r.high:6.1%}]",
                      highlight=False, markup=False)  # fmt: skip
    console.print(f"wrote {out / 'attribution.json'}, attribution.csv, report.html",
                  highlight=False)  # fmt: skip


@journeys_app.command("kpis", epilog=EXAMPLES["journeys kpis"])
def journeys_kpis(
    touches: TouchesOpt,
    conversions: ConversionsOpt,
    out: Annotated[Path, typer.Option(help="Folder for kpis.csv/.xlsx, flags.csv, board.html.")],
    redemptions: Annotated[
        Path | None,
        typer.Option(help="Optional coupon/benefit redemptions (customer, ts, campaign)."),
    ] = None,
    plan: Annotated[
        Path | None, typer.Option(help="Plan whose [journeys] / [journeys.rules] set the rules.")
    ] = None,
    window_days: Annotated[int, typer.Option(help="Cross-conversion and hand-off window.")] = 7,
    repurchase_days: Annotated[int, typer.Option(help="Repurchase window, days.")] = 30,
    handoff_min: Annotated[float | None, typer.Option(help="Flag hand-off below (0.15).")] = None,
    usage_min: Annotated[
        float | None, typer.Option(help="Flag benefit usage below (0.20).")
    ] = None,
    offline_channels: OfflineOpt = "",
    redemption_customer_col: Annotated[str, typer.Option(help="Customer column.")] = "customer_id",
    redemption_ts_col: Annotated[str, typer.Option(help="Redemption date column.")] = "ts",
    redemption_campaign_col: Annotated[str, typer.Option(help="Campaign column.")] = "campaign",
    touch_customer_col: Annotated[str, _jcol("touch_customer_col")] = "customer_id",
    touch_ts_col: Annotated[str, _jcol("touch_ts_col")] = "ts",
    touch_channel_col: Annotated[str, _jcol("touch_channel_col")] = "channel",
    touch_cost_col: Annotated[str, _jcol("touch_cost_col")] = "cost",
    touch_campaign_col: Annotated[str, _jcol("touch_campaign_col")] = "campaign",
    conversion_customer_col: Annotated[str, _jcol("conversion_customer_col")] = "customer_id",
    conversion_ts_col: Annotated[str, _jcol("conversion_ts_col")] = "ts",
    value_col: Annotated[str, _jcol("value_col")] = "value",
    conversion_channel_col: Annotated[str, _jcol("conversion_channel_col")] = "channel",
) -> None:
    """The monthly omnichannel KPI board (CSV, XLSX, HTML) with review flags."""
    from omnimmm.journeys.board import Rules, kpi_board
    from omnimmm.journeys.kpis import KpiSettings
    from omnimmm.journeys.stage import rules_from_plan

    cols = _journey_columns(**{k: v for k, v in locals().items() if k in _JOURNEY_COLS})
    offline = tuple(c.strip() for c in offline_channels.split(",") if c.strip())
    try:
        base = rules_from_plan(plan) if plan is not None else Rules()
        rules = Rules(
            handoff_min if handoff_min is not None else base.handoff_min,
            usage_min if usage_min is not None else base.usage_min,
        )
        res = kpi_board(touches, conversions, out, redemptions=redemptions, columns=cols,  # type: ignore[arg-type]
                        settings=KpiSettings(window_days, repurchase_days, offline), rules=rules,
                        redemption_columns=(redemption_customer_col, redemption_ts_col,
                                            redemption_campaign_col))  # fmt: skip
    except OmniError as exc:
        raise _fail(exc) from None
    console.print(f"{len(res.kpis):,} KPI rows, {len(res.flags):,} flags; wrote {out}",
                  highlight=False)  # fmt: skip


@app.command(epilog=EXAMPLES["validate"])
def validate(plan: Annotated[Path, typer.Argument(help="Plan file (TOML).")]) -> None:
    """Validate a plan, its media panel and its budget exactly as run does, then summarize."""
    from omnimmm.run.check import validate_command  # omnimmm.launch runs it without Typer

    status = validate_command(plan, console, err_console)
    if status:
        raise typer.Exit(code=status)


@app.command(epilog=EXAMPLES["simulate"])
def simulate(
    out: Annotated[Path, typer.Option(help="Directory to write world.csv, plan.toml, truth.")],
    seed: Annotated[int, typer.Option(help="Random seed; same seed, same bytes.")] = 0,
    weeks: Annotated[
        int, typer.Option(min=52, max=208, help="Number of weeks (104 to 208; geo: 52 to 208).")
    ] = 156,
    noise: Annotated[float, typer.Option(help="Noise sd relative to mean revenue.")] = 0.05,
    synergy: Annotated[bool, typer.Option(help="Include the TV x search synergy.")] = True,
    cross_effects: Annotated[bool, typer.Option(help="Online media lift stores and back.")] = True,
    geos: Annotated[
        int, typer.Option(min=0, max=500, help="Regions of a geo world (0: one national series).")
    ] = 0,
    same_effects: Annotated[
        bool, typer.Option(help="Geo world: every region has the national effects.")
    ] = False,
) -> None:
    """Write a simulated omnichannel world with its ground truth (a geo world with --geos N:
    long panel geo_panel.csv, plan.toml, truth.json; --noise/--synergy do not apply)."""
    from omnimmm.data.simulate import simulate_world, write_world

    try:
        if not geos and weeks < 104:
            raise UsageError(f"--weeks {weeks}: a national world needs 104 to 208 weeks")
        if geos:
            from omnimmm.data.geo_world_io import simulate_geo_files

            paths = simulate_geo_files(out, geos, weeks, seed, same_effects)
        else:
            world = simulate_world(
                seed=seed, weeks=weeks, noise=noise, synergy=synergy, cross_effects=cross_effects
            )
            paths = write_world(world, out)
    except OmniError as exc:
        raise _fail(exc) from None
    for p in paths:
        console.print(f"wrote {p}", highlight=False)


# --- quarterly run: run / fit / optimize / report (thin wrappers over omnimmm.run) ---

PlanArg = Annotated[Path, typer.Argument(help="Plan file (TOML).")]
OutOpt = Annotated[Path, typer.Option("--out", help="Run directory to write (atomically).")]
SeedOpt = Annotated[
    int | None, typer.Option(help="Seed of the MMM sampler and the optimizer (default: plan).")
]
FastOpt = Annotated[
    bool,
    typer.Option(
        help="Quick exploratory fit (2 chains, few draws); the quality gate is reported, "
        "not enforced."
    ),
]
RunDirArg = Annotated[Path, typer.Argument(help="A run directory written by run or fit.")]
ProfileOpt = Annotated[
    bool,
    typer.Option(
        help="Print where the seconds went (process start, validate, each stage, compile "
        "and sampling of each fit); the table is also in manifest.json under stages.profile."
    ),
]


def _say(message: str) -> None:
    console.print(f"[dim]{_clock()}[/] {escape(message)}")


def _clock() -> str:
    import datetime as dt

    return dt.datetime.now().strftime("%H:%M:%S")


def _summary(summary: object) -> None:
    console.print()
    for line in summary.lines():  # type: ignore[attr-defined]
        console.print(line, highlight=False, markup=False)
    console.print(f"done in {summary.seconds:.0f} s", highlight=False)  # type: ignore[attr-defined]


def _profile(out: Path) -> None:
    from omnimmm.run.timing import print_profile

    print_profile(out, console)


@app.command(epilog=EXAMPLES["run"])
def run(
    plan: PlanArg, out: OutOpt, seed: SeedOpt = None, fast: FastOpt = False,
    profile: ProfileOpt = False,
) -> None:  # fmt: skip
    """Fit (or reuse), gate, optimize and report: the quarterly run into --out DIR."""
    from omnimmm.run import drivers

    try:
        summary = drivers.run(
            plan, out, seed=seed, fast=fast, progress=_say, progressbar=console.is_terminal
        )
    except OmniError as exc:
        raise _fail(exc) from None
    _summary(summary)
    if profile:
        _profile(out)


@app.command(epilog=EXAMPLES["fit"])
def fit(
    plan: PlanArg, out: OutOpt, seed: SeedOpt = None, fast: FastOpt = False,
    profile: ProfileOpt = False,
) -> None:  # fmt: skip
    """Fit the MMM, check its quality gate and holdout, and save it into --out DIR."""
    from omnimmm.run import drivers

    try:
        summary = drivers.fit(
            plan, out, seed=seed, fast=fast, progress=_say, progressbar=console.is_terminal
        )
    except OmniError as exc:
        raise _fail(exc) from None
    _summary(summary)
    if profile:
        _profile(out)


@app.command(epilog=EXAMPLES["optimize"])
def optimize(directory: RunDirArg) -> None:
    """Recommend next quarter's budget from the fitted model in DIR and write the report."""
    from omnimmm.run import drivers

    try:
        summary = drivers.optimize(directory, progress=_say)
    except OmniError as exc:
        raise _fail(exc) from None
    _summary(summary)


@app.command(epilog=EXAMPLES["report"])
def report(directory: RunDirArg) -> None:
    """Render report.html, report.xlsx and recommendation.json again from DIR's results."""
    from omnimmm.run import drivers

    try:
        summary = drivers.report(directory, progress=_say)
    except OmniError as exc:
        raise _fail(exc) from None
    _summary(summary)


@app.command(epilog=EXAMPLES["backtest"])
def backtest(
    plan: PlanArg,
    out: OutOpt,
    origins: Annotated[int, typer.Option(help="Rolling origins (refits).")] = 4,
    horizon: Annotated[int, typer.Option(help="Weeks forecast from each origin.")] = 13,
    seed: SeedOpt = None,
    fast: FastOpt = False,
) -> None:
    """Refit at K rolling origins, forecast H weeks from each, score against baselines."""
    from omnimmm.run.backtest import backtest as run_backtest

    try:
        summary = run_backtest(plan, out, origins=origins, horizon=horizon, seed=seed,
                               fast=fast, progress=_say, progressbar=console.is_terminal)  # fmt: skip
    except OmniError as exc:
        raise _fail(exc) from None
    _summary(summary)


@app.command(epilog=EXAMPLES["portfolio"])
def portfolio(
    plans: Annotated[list[Path], typer.Argument(help="One plan file (TOML) per market.")],
    out: Annotated[Path, typer.Option("--out", help="Portfolio directory (written atomically).")],
    scheduler: Annotated[
        str | None,
        typer.Option(
            help="Address of a running Dask scheduler (tcp://host:8786); default: "
            "a local cluster on this machine."
        ),
    ] = None,
    workers: Annotated[
        int | None, typer.Option(help="Local cluster worker processes (default: one per core).")
    ] = None,
    seed: SeedOpt = None,
    fast: FastOpt = False,
    total: Annotated[
        float | None,
        typer.Option(
            help="Portfolio budget over the horizon, split across markets by their "
            "fitted response (written to portfolio.json and portfolio_allocation.csv)."
        ),
    ] = None,
) -> None:
    """Run many markets' quarterly runs on Dask into --out DIR (DIR/markets/<name>/)."""
    from omnimmm.errors import PORTFOLIO_FAILED_EXIT
    from omnimmm.run.portfolio import portfolio as run_portfolio

    try:
        summary = run_portfolio(plans, out, scheduler=scheduler, workers=workers, seed=seed,
                                fast=fast, total=total, progress=_say)  # fmt: skip
    except OmniError as exc:
        raise _fail(exc) from None
    console.print()
    for line in summary.lines():
        console.print(line, highlight=False, markup=False)
    if summary.failed:
        names = ", ".join(r["name"] for r in summary.failed)
        err_console.print(f"error: {len(summary.failed)} market(s) failed: {names} "
                          f"(see {out / 'portfolio.json'})", highlight=False, markup=False)  # fmt: skip
        raise typer.Exit(code=PORTFOLIO_FAILED_EXIT)
    if summary.total_error:
        err_console.print(f"error: --total not split: {summary.total_error}", highlight=False,
                          markup=False)  # fmt: skip
        raise typer.Exit(code=PORTFOLIO_FAILED_EXIT)


def _names(text: str | None) -> tuple[str, ...]:
    return tuple(t.strip() for t in (text or "").split(",") if t.strip())


@app.command("import", epilog=EXAMPLES["import"])
def import_(
    fmt: Annotated[
        str,
        typer.Argument(
            metavar="robyn|meridian|pymc-marketing", help="The peer whose file layout FILE has."
        ),
    ],
    file: Annotated[Path, typer.Argument(help="The peer's input file (CSV or Parquet).")],
    out: Annotated[Path, typer.Option("--out", help="Folder for world.csv and plan.toml.")],
    date: Annotated[str | None, typer.Option(help="Date column (default: the peer's).")] = None,
    outcome: Annotated[
        str | None, typer.Option(help="Outcome column (Robyn dep_var, Meridian kpi, target).")
    ] = None,
    spend: Annotated[str | None, typer.Option(help="Spend columns, comma-separated.")] = None,
    controls: Annotated[str | None, typer.Option(help="Control columns, comma-separated.")] = None,
    offline: Annotated[str | None, typer.Option(help="Channels to declare offline.")] = None,
    online: Annotated[str | None, typer.Option(help="Channels to declare online.")] = None,
    national: Annotated[
        bool,
        typer.Option(
            "--national",
            help="Sum a geo file (Meridian's geo column) to one national panel; by default "
            "it stays a long panel for the geo model.",
        ),
    ] = False,
) -> None:
    """Write a panel and plan for omnimmm run from a Robyn, Meridian or PyMC-Marketing file."""
    from omnimmm.data.importers import Roles, import_file, write_imported

    roles = Roles(date=date, outcome=outcome, spends=_names(spend),
                  controls=_names(controls) if controls is not None else None,
                  offline=_names(offline), online=_names(online), national=national)  # fmt: skip
    try:
        imported = import_file(fmt, file, roles)
        paths = write_imported(imported, out)
    except OmniError as exc:
        raise _fail(exc) from None
    for note in imported.notes:
        console.print(f"- {note}", highlight=False, markup=False)
    for p in paths:
        console.print(f"wrote {p}", highlight=False, markup=False)


def main() -> None:
    """Entry point of the ``omnimmm`` console script (usage errors exit 64, see errors)."""
    sys.exit(run_app(app))


if __name__ == "__main__":
    main()
