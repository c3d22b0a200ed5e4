"""Adapters from peers' public MMM datasets to an omnimmm panel and plan.

Each adapter reads one dataset folder as shipped in ``../shared/data`` (see each folder's
``PROVENANCE.md``) and returns a :class:`PeerDataset`: the weekly panel with readable
column names, the channels with their online/offline kind, outcomes, controls and events,
and, where the data's generating process is published, the true ROI per channel.
:meth:`PeerDataset.write` puts ``world.csv`` and ``plan.toml`` into a folder, ready for
``omnimmm validate`` and the MMM.

=========================  =====================================================  ======
adapter                    data                                                   truth
=========================  =====================================================  ======
:func:`real_retailer`      anonymised US retailer, 209 weeks, 10 paid channels    none
:func:`pymc_marketing_...  PyMC-Marketing's ``mmm_example``, 179 weeks, 2 chan.   ROI
:func:`robyn_simulated`    Robyn's ``dt_simulated_weekly``, 208 weeks, 5 chan.    none
:func:`meridian_national`  Meridian's national simulated data, 156 weeks          none
=========================  =====================================================  ======

None of these markets is Chinese, so every plan sets ``[festivals] calendar = "none"``
and brings its own holidays as events where the data has them.

Run ``python -m omnimmm.data.peers NAME SOURCE_DIR OUT_DIR`` to write one of them.
"""

from __future__ import annotations

import json
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from omnimmm.errors import DataError

__all__ = [
    "ADAPTERS",
    "PeerChannel",
    "PeerDataset",
    "meridian_national",
    "pymc_marketing_example",
    "real_retailer",
    "robyn_simulated",
    "truth_roi_from_contributions",
]


@dataclass(frozen=True)
class PeerChannel:
    """One paid channel of a peer dataset.

    Attributes
    ----------
    name : str
        Channel name in the plan.
    kind : {"online", "offline"}
        Online or offline medium.
    source_column : str
        Spend column in the source file.
    options : dict
        Further ``[[channels]]`` keys for the plan (e.g. ``adstock``, ``l_max``).
    """

    name: str
    kind: str
    source_column: str
    options: dict[str, object] = field(default_factory=dict)

    @property
    def column(self) -> str:
        """Spend column in ``world.csv``."""
        return f"{self.name}_spend"


@dataclass(frozen=True)
class PeerDataset:
    """A peer dataset converted to omnimmm's panel contract.

    Attributes
    ----------
    name : str
        Short name, also the default folder name.
    world : pandas.DataFrame
        The panel as written to ``world.csv``: ``date`` first (then ``geo`` and
        ``population`` for a geo panel), outcomes, channel spends (``<channel>_spend``),
        controls and events.
    channels : tuple of PeerChannel
        Paid channels in plan order.
    outcomes, controls, events : tuple of str
        Column names of ``world`` by role.
    source : pathlib.Path
        File the data was read from.
    description : str
        One paragraph on origin, licence and mapping, written at the top of the plan.
    model : dict
        ``[model]`` keys for the plan.
    truth_roi : pandas.Series or None
        True ROI per channel (revenue per unit of spend over the whole panel), when the
        generating process is known.
    geo, population : str or None
        For a long geo panel (one row per region and week): the region column, and the
        column of each region's size when there is one. None for a national panel.
    """

    name: str
    world: pd.DataFrame
    channels: tuple[PeerChannel, ...]
    outcomes: tuple[str, ...]
    controls: tuple[str, ...]
    events: tuple[str, ...]
    source: Path
    description: str
    model: dict[str, object] = field(default_factory=dict)
    truth_roi: pd.Series | None = None
    geo: str | None = None
    population: str | None = None

    def plan_toml(self, data_path: str = "world.csv", seed: int = 0) -> str:
        """The plan as TOML text, with ``data_path`` relative to the plan file."""
        lines = [f"# {line}" for line in _wrap(self.description)]
        lines += [f"seed = {seed}", "", "[data]", f"path = {_toml(data_path)}", 'date = "date"']
        lines += [f"{key} = {_toml(value)}" for key, value in
                  (("geo", self.geo), ("population", self.population)) if value]  # fmt: skip
        lines.append(f"outcomes = {_toml(list(self.outcomes))}")
        if self.controls:
            lines.append(f"controls = {_toml(list(self.controls))}")
        if self.events:
            lines.append(f"events = {_toml(list(self.events))}")
        for ch in self.channels:
            lines += ["", "[[channels]]", f"name = {_toml(ch.name)}"]
            lines += [f"column = {_toml(ch.column)}", f"kind = {_toml(ch.kind)}"]
            lines += [f"{k} = {_toml(v)}" for k, v in ch.options.items()]
        lines += ["", "[budget]", "horizon_weeks = 13", "max_change = 0.5"]
        if self.model:
            lines += ["", "[model]"] + [f"{k} = {_toml(v)}" for k, v in self.model.items()]
        lines += ["", "[festivals]", 'calendar = "none"', ""]
        return "\n".join(lines)

    def write(self, out_dir: str | Path, data_path: str | None = None) -> tuple[Path, ...]:
        """Write ``plan.toml`` (and ``world.csv`` unless ``data_path`` points elsewhere).

        Parameters
        ----------
        out_dir : str or Path
            Folder to write into (created if missing).
        data_path : str, optional
            Path of an existing ``world.csv``-shaped file, relative to ``out_dir``, for
            the plan to point at instead of writing a copy next to it.

        Returns
        -------
        tuple of Path
            The files written; ``truth_roi.csv`` too when the truth is known.
        """
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        written = []
        if data_path is None:
            data_path = "world.csv"
            frame = self.world.assign(date=self.world["date"].dt.strftime("%Y-%m-%d"))
            frame.to_csv(out / data_path, index=False, float_format="%.10g")
            written.append(out / data_path)
        plan = out / "plan.toml"
        plan.write_text(self.plan_toml(data_path), encoding="utf-8")
        written.append(plan)
        if self.truth_roi is not None:
            truth = out / "truth_roi.csv"
            self.truth_roi.rename_axis("channel").rename("roi").to_csv(truth)
            written.append(truth)
        return tuple(written)


def _toml(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | np.integer):
        return str(int(value))
    if isinstance(value, float | np.floating):
        return repr(float(value))
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{k} = {_toml(v)}" for k, v in value.items()) + " }"
    raise TypeError(f"cannot write {type(value).__name__} to TOML")


def _wrap(text: str, width: int = 92) -> list[str]:
    out: list[str] = []
    for para in text.strip().split("\n"):
        line = ""
        for word in para.split():
            if line and len(line) + 1 + len(word) > width:
                out.append(line)
                line = word
            else:
                line = f"{line} {word}" if line else word
        out.append(line)
    return out


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")


def _read(folder: str | Path, filename: str, required: list[str]) -> tuple[pd.DataFrame, Path]:
    path = Path(folder) / filename
    if not path.is_file():
        raise DataError(f"{path}: file not found; expected the dataset folder as shipped")
    df = pd.read_csv(path)
    missing = [c for c in required if c not in df.columns]
    if missing:
        raise DataError(f"{path}: columns {missing} are missing (found {list(df.columns)})")
    return df, path


def _assemble(
    df: pd.DataFrame,
    date_col: str,
    outcomes: dict[str, pd.Series],
    channels: tuple[PeerChannel, ...],
    controls: dict[str, pd.Series],
    events: dict[str, pd.Series],
    path: Path,
) -> pd.DataFrame:
    dates = pd.to_datetime(df[date_col], format="%Y-%m-%d")
    steps = dates.diff().dropna().dt.days.unique()
    if len(steps) != 1 or steps[0] != 7:
        raise DataError(f"{path}: {date_col!r} is not a gap-free weekly series")
    cols: dict[str, pd.Series] = {"date": dates}
    cols.update(outcomes)
    cols.update({ch.column: df[ch.source_column].astype(float) for ch in channels})
    cols.update(controls)
    cols.update(events)
    return pd.DataFrame(cols).reset_index(drop=True)


def _merge_identical(dummies: pd.DataFrame, prefix: str) -> dict[str, pd.Series]:
    """One event per distinct indicator column; identical columns share one named event."""
    groups: dict[bytes, list[str]] = {}
    for c in dummies.columns:
        groups.setdefault(dummies[c].to_numpy(dtype=np.int8).tobytes(), []).append(c)
    out = {}
    for names in groups.values():
        first = dummies[names[0]]
        if first.nunique() < 2:
            continue
        out[prefix + _slug(names[0])] = first.astype(int)
    return out


# ---------------------------------------------------------------------------------------------
# real_retailer_weekly (sibylhe/mmm_stan, MIT)

#: (plan name, kind, source spend column) of the real retailer's 10 paid channels.
RETAILER_CHANNELS = (
    ("search", "online", "mdsp_sem"),
    ("social", "online", "mdsp_so"),
    ("display", "online", "mdsp_on"),
    ("digital_audio", "online", "mdsp_auddig"),
    ("digital_video", "online", "mdsp_viddig"),
    ("tv", "offline", "mdsp_vidtr"),
    ("radio", "offline", "mdsp_audtr"),
    ("direct_mail", "offline", "mdsp_dm"),
    ("insert", "offline", "mdsp_inst"),
    ("newspaper", "offline", "mdsp_nsp"),
)
RETAILER_CONTROLS = {
    "store_count": "st_ct",
    "markdown_pdm": "mrkdn_pdm",
    "markdown_valadd": "mrkdn_valadd_edw",
}


def real_retailer(folder: str | Path) -> PeerDataset:
    """The anonymised real retailer (``real_retailer_weekly/data.csv``).

    Mapping: the single KPI ``sales`` is the one outcome; the ten ``mdsp_*`` spend columns
    are the channels (search, social, display, digital audio and digital video online; TV,
    radio, direct mail, insert and newspaper offline); store count and the two markdown
    series are controls; the 22 ``hldy_*`` holiday dummies are events, identical columns
    merged (e.g. Thanksgiving and the day before fall in the same week), 19 in all.
    Impressions (``mdip_*``, including email, SMS and affiliates which have no spend), the
    macro series and the ``seas_*`` dummies are left out: the model has its own seasonality.

    Parameters
    ----------
    folder : str or Path
        The ``real_retailer_weekly`` folder.
    """
    source = [c for _, _, c in RETAILER_CHANNELS]
    df, path = _read(
        folder, "data.csv", ["wk_strt_dt", "sales", *source, *RETAILER_CONTROLS.values()]
    )
    channels = tuple(PeerChannel(n, k, c) for n, k, c in RETAILER_CHANNELS)
    holidays = df[[c for c in df.columns if c.startswith("hldy_")]]
    events = _merge_identical(holidays.rename(columns=lambda c: c[5:]), "holiday_")
    controls = {k: df[v].astype(float) for k, v in RETAILER_CONTROLS.items()}
    world = _assemble(
        df, "wk_strt_dt", {"sales": df["sales"].astype(float)}, channels, controls, events, path
    )
    description = (
        "Real retailer, weekly 2014-08-03..2018-07-29 (anonymised; sibylhe/mmm_stan data.csv, "
        "MIT licence, (c) 2021 Sibyl He; see ../shared/data/real_retailer_weekly/PROVENANCE.md)."
        "\nOne outcome (sales); 10 paid channels, online: search, social, display, digital "
        "audio, digital video; offline: TV, radio, direct mail, insert, newspaper. Controls: "
        "store count, markdowns; holiday weeks as events. Written by omnimmm.data.peers."
    )
    return PeerDataset(
        name="real_retailer",
        world=world,
        channels=channels,
        outcomes=("sales",),
        controls=tuple(controls),
        events=tuple(events),
        source=path,
        description=description,
        model={"holdout_weeks": 26},
    )


# ---------------------------------------------------------------------------------------------
# pymc_marketing_mmm_example (Apache-2.0), truth known


def truth_roi_from_contributions(truth: pd.DataFrame, channels: list[str]) -> pd.Series:
    """True ROI per channel from weekly true contributions: sum(contribution) / sum(spend).

    This is DESIGN.md's ROI over the whole panel. The data-generating process is additive
    and each channel's saturation is 0 at zero adstocked spend, so "predicted outcome with
    actual spend minus predicted outcome with the channel's spend set to zero over the
    window" is exactly the sum of the channel's ``<channel>_contribution`` column, which
    already credits carryover to the week it lands in. Carryover of the last weeks' spend
    past the end of the data is outside the window and not counted (it would add 0.5% to
    x1's ROI and 0.006% to x2's).

    Parameters
    ----------
    truth : pandas.DataFrame
        ``mmm_example_ground_truth.csv``: columns ``<c>`` (spend) and ``<c>_contribution``.
    channels : list of str
        Channel columns, e.g. ``["x1", "x2"]``.
    """
    roi = {c: truth[f"{c}_contribution"].sum() / truth[c].sum() for c in channels}
    return pd.Series(roi, name="roi", dtype=float)


def pymc_marketing_example(folder: str | Path, coef_prior_sd: float | None = 1.0) -> PeerDataset:
    """PyMC-Marketing's ``mmm_example.csv`` with its exactly reproduced ground truth.

    Mapping: outcome ``y``; channels ``x1`` and ``x2`` (unitless spend in [0, 1], declared
    online); ``event_1`` and ``event_2`` as events. Both channels get the structure
    PyMC-Marketing's own example fits (geometric adstock over 8 weeks, logistic
    saturation) and, as there, two yearly Fourier terms and a trend. ``truth_roi`` comes
    from ``mmm_example_ground_truth.csv`` (see :func:`truth_roi_from_contributions`):
    about 4968 for x1 and 2275 for x2, in units of y per unit of x.

    Parameters
    ----------
    folder : str or Path
        The ``pymc_marketing_mmm_example`` folder.
    coef_prior_sd : float, optional
        Raw effect-size prior per channel instead of the default ROI prior. The spend is
        unitless, so currency ROI priors do not apply; a scale-free effect-size prior is
        what PyMC-Marketing's own example uses too.
    """
    df, path = _read(
        folder, "mmm_example.csv", ["date_week", "y", "x1", "x2", "event_1", "event_2"]
    )
    truth_df, _ = _read(
        folder, "mmm_example_ground_truth.csv", ["x1", "x2", "x1_contribution", "x2_contribution"]
    )
    for c in ("x1", "x2"):
        if not np.allclose(truth_df[c].to_numpy(), df[c].to_numpy(), rtol=0, atol=1e-12):
            raise DataError(f"{path}: column {c!r} differs from the ground-truth file's")
    options: dict[str, object] = {"adstock": "geometric", "l_max": 8, "saturation": "logistic"}
    if coef_prior_sd is not None:
        options["coef_prior_sd"] = float(coef_prior_sd)
    channels = tuple(PeerChannel(c, "online", c, dict(options)) for c in ("x1", "x2"))
    events = {e: df[e].astype(int) for e in ("event_1", "event_2")}
    world = _assemble(df, "date_week", {"y": df["y"].astype(float)}, channels, {}, events, path)
    description = (
        "PyMC-Marketing mmm_example.csv (simulated; Apache-2.0, pymc-labs/pymc-marketing; see "
        "../shared/data/pymc_marketing_mmm_example/PROVENANCE.md). Weekly 2018-04-02.."
        "2021-08-30, outcome y, channels x1 and x2 (unitless spend), two one-week events.\n"
        "True ROI (sum of true contribution / sum of spend) is in truth_roi.csv. "
        "Written by omnimmm.data.peers."
    )
    return PeerDataset(
        name="pymc_marketing_example",
        world=world,
        channels=channels,
        outcomes=("y",),
        controls=(),
        events=tuple(events),
        source=path,
        description=description,
        model={"yearly_fourier": 2},
        truth_roi=truth_roi_from_contributions(truth_df, ["x1", "x2"]),
    )


# ---------------------------------------------------------------------------------------------
# robyn_simulated_weekly (MIT)

ROBYN_CHANNELS = (
    ("tv", "offline", "tv_S"),
    ("ooh", "offline", "ooh_S"),
    ("print", "offline", "print_S"),
    ("facebook", "online", "facebook_S"),
    ("search", "online", "search_S"),
)


def robyn_simulated(folder: str | Path) -> PeerDataset:
    """Robyn's ``dt_simulated_weekly.csv``.

    Mapping: outcome ``revenue``; channels TV, OOH and print offline, Facebook and search
    online (their ``*_S`` spend columns; impressions and clicks are left out);
    ``competitor_sales_B`` and the organic ``newsletter`` as controls; the categorical
    ``events`` column becomes one indicator per event (``"na"`` means none).
    """
    source = [c for _, _, c in ROBYN_CHANNELS]
    df, path = _read(
        folder,
        "dt_simulated_weekly.csv",
        ["DATE", "revenue", *source, "competitor_sales_B", "newsletter", "events"],
    )
    channels = tuple(PeerChannel(n, k, c) for n, k, c in ROBYN_CHANNELS)
    labels = df["events"].fillna("na").astype(str)
    events = {f"event_{_slug(v)}": (labels == v).astype(int) for v in sorted(set(labels) - {"na"})}
    controls = {
        "competitor_sales": df["competitor_sales_B"].astype(float),
        "newsletter": df["newsletter"].astype(float),
    }
    world = _assemble(
        df, "DATE", {"revenue": df["revenue"].astype(float)}, channels, controls, events, path
    )
    description = (
        "Robyn dt_simulated_weekly.csv (simulated; MIT, facebookexperimental/Robyn; see "
        "../shared/data/robyn_simulated_weekly/PROVENANCE.md). Outcome revenue; TV, OOH, "
        "print offline; Facebook, search online; competitor sales and newsletter as "
        "controls. Written by omnimmm.data.peers."
    )
    return PeerDataset(
        name="robyn_simulated",
        world=world,
        channels=channels,
        outcomes=("revenue",),
        controls=tuple(controls),
        events=tuple(events),
        source=path,
        description=description,
    )


# ---------------------------------------------------------------------------------------------
# meridian_national (Apache-2.0)

MERIDIAN_FILES = {
    "all_channels": "national_all_channels.csv",
    "media": "national_media.csv",
    "media_rf": "national_media_rf.csv",
}


def meridian_national(
    folder: str | Path,
    variant: str = "all_channels",
    kinds: dict[str, str] | None = None,
) -> PeerDataset:
    """One of Meridian's national simulated datasets.

    Mapping: revenue = ``conversions * revenue_per_conversion`` is the outcome (Meridian's
    revenue KPI); each ``ChannelN_spend`` is a channel ``channelN``; every ``*_control``
    column, ``Promo`` (a non-media treatment) and organic impressions are controls.
    Reach and frequency columns of the ``media_rf`` variant are left out (the channel is
    modelled from its spend). Meridian's channels are anonymous, so their kind is a
    choice: all ``"online"`` unless ``kinds`` says otherwise.

    Parameters
    ----------
    folder : str or Path
        The ``meridian_national`` folder.
    variant : {"all_channels", "media", "media_rf"}
        Which of the three files.
    kinds : dict, optional
        Channel name (``"channel0"``...) to ``"online"``/``"offline"``.
    """
    if variant not in MERIDIAN_FILES:
        raise DataError(
            f"unknown Meridian variant {variant!r}; expected one of {list(MERIDIAN_FILES)}"
        )
    df, path = _read(
        folder, MERIDIAN_FILES[variant], ["time", "conversions", "revenue_per_conversion"]
    )
    kinds = kinds or {}
    spend_cols = [c for c in df.columns if re.fullmatch(r"Channel\d+_spend", c)]
    channels = tuple(
        PeerChannel(n, kinds.get(n, "online"), c)
        for c in spend_cols
        for n in [c.removesuffix("_spend").lower()]
    )
    unknown = set(kinds) - {ch.name for ch in channels}
    if unknown:
        raise DataError(f"kinds names channels {sorted(unknown)} not in {path.name}")
    control_cols = [
        c for c in df.columns if c.endswith("_control") or c == "Promo" or c.startswith("Organic_")
    ]
    controls = {_slug(c.removesuffix("_control")): df[c].astype(float) for c in control_cols}
    revenue = (df["conversions"] * df["revenue_per_conversion"]).astype(float)
    world = _assemble(df, "time", {"revenue": revenue}, channels, controls, {}, path)
    description = (
        f"Meridian {path.name} (simulated; Apache-2.0, google/meridian; see "
        "../shared/data/meridian_national/PROVENANCE.md). Outcome revenue = conversions x "
        "revenue_per_conversion; anonymous channels, declared online unless stated; "
        "controls as in the file. Written by omnimmm.data.peers."
    )
    return PeerDataset(
        name=f"meridian_{variant}",
        world=world,
        channels=channels,
        outcomes=("revenue",),
        controls=tuple(controls),
        events=(),
        source=path,
        description=description,
    )


ADAPTERS = {
    "real_retailer": real_retailer,
    "pymc_marketing_example": pymc_marketing_example,
    "robyn_simulated": robyn_simulated,
    "meridian_national": meridian_national,
}


def main(argv: list[str] | None = None) -> int:
    """``python -m omnimmm.data.peers NAME SOURCE_DIR OUT_DIR``: write one dataset."""
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 3 or args[0] not in ADAPTERS:
        print(f"usage: python -m omnimmm.data.peers {{{','.join(ADAPTERS)}}} SOURCE_DIR OUT_DIR")
        return 2
    name, source, out = args
    for p in ADAPTERS[name](source).write(out):
        print(f"wrote {p}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
