"""``omnimmm import robyn|meridian|pymc-marketing FILE --out DIR``: a peer's input file, read as
its users bring it, written as an omnimmm panel (``world.csv``) and plan (``plan.toml``).

Where :mod:`omnimmm.data.peers` knows the peers' published example datasets column by
column, this module reads any file in a peer's *layout*, using the peer's own conventions
for the column roles, which the caller can override (:class:`Roles`):

=================  ==============================================================================
format             layout and roles
=================  ==============================================================================
``robyn``          Robyn's weekly data frame: ``DATE`` (or ``date``/``ds``), the ``dep_var``
                   (``revenue``, ``sales`` or ``conversions``), paid media spend ``*_S`` /
                   ``*_spend`` / ``*_cost`` (exposure columns ``*_I``, ``*_P``, impressions,
                   clicks are left out: omnimmm models spend), text columns (Robyn's
                   ``events``/factor variables) as one indicator per value, every other numeric
                   column (context and organic variables) a control.
``meridian``       Meridian's CSV: ``geo`` (optional), ``time``, ``*_spend``, ``*_impression``,
                   ``*_reach``/``*_frequency`` (left out), ``*_control`` and other numeric
                   columns as controls, ``conversions``/``kpi`` and ``revenue_per_conversion`` /
                   ``revenue_per_kpi`` (outcome revenue = kpi x revenue per kpi), ``population``.
                   A geo panel stays long (one row per geo and week, ``population`` kept) for
                   omnimmm's geo model, every channel bought per geo; ``Roles.national``
                   sums it to one national panel instead (controls population-weighted).
``pymc-marketing`` PyMC-Marketing's example layout: ``date_week`` (or ``date``), target ``y``,
                   channel columns ``x1``, ``x2``... (or given), ``event_*`` indicators as events,
                   the example's ``t`` and ``dayofyear`` helpers dropped (omnimmm has its own
                   trend and Fourier terms), other numeric columns controls. Channels get
                   PyMC-Marketing's default structure (geometric adstock over 8 weeks, logistic
                   saturation).
=================  ==============================================================================

Channel kinds (online/offline) are not in any peer's file: a channel whose name contains a
word such as TV, radio, OOH, print or mail is offline, every other online, unless
``Roles.offline`` / ``Roles.online`` say otherwise. Every choice made is listed in the
returned notes and at the top of the plan. The file is only read (CSV or Parquet), never
executed.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from omnimmm.data.peers import PeerChannel, PeerDataset, _assemble, _slug
from omnimmm.errors import DataError, PlanError

__all__ = ["FORMATS", "Imported", "Roles", "import_file", "write_imported"]

FORMATS = ("robyn", "meridian", "pymc-marketing")
OFFLINE_WORDS = frozenset(
    [
        "tv",
        "ooh",
        "print",
        "radio",
        "newspaper",
        "newspapers",
        "mail",
        "dm",
        "insert",
        "inserts",
        "outdoor",
        "billboard",
        "cinema",
        "magazine",
        "magazines",
        "catalog",
        "catalogue",
        "store",
        "instore",
    ]
)
_OURS = ("world.csv", "plan.toml")


@dataclass(frozen=True)
class Roles:
    """Column roles that override the peer's conventions (empty: use the conventions).

    Attributes
    ----------
    date, outcome : str or None
        The date column and the outcome column (Robyn's ``dep_var``, PyMC-Marketing's
        target; for Meridian the KPI column).
    spends : tuple of str
        Spend columns, one channel each.
    controls : tuple of str or None
        Control columns (None: every numeric column not otherwise used).
    offline, online : tuple of str
        Channel names (or spend columns) to declare offline / online.
    national : bool
        Sum a geo panel to one national panel instead of keeping it long for the geo model.
    """

    date: str | None = None
    outcome: str | None = None
    spends: tuple[str, ...] = ()
    controls: tuple[str, ...] | None = None
    offline: tuple[str, ...] = ()
    online: tuple[str, ...] = ()
    national: bool = False


@dataclass(frozen=True)
class Imported:
    """A peer file read into omnimmm's contract, with what was decided on the way."""

    dataset: PeerDataset
    notes: tuple[str, ...] = field(default_factory=tuple)


def _read(path: Path) -> pd.DataFrame:
    if not path.is_file():
        raise DataError(f"{path}: file not found")
    try:
        if path.suffix.lower() in (".parquet", ".pq"):
            df = pd.read_parquet(path)
        else:
            df = pd.read_csv(path)
    except (ValueError, OSError, UnicodeDecodeError) as exc:
        raise DataError(f"{path}: cannot be read as CSV or Parquet ({exc})") from None
    unnamed = [c for c in df.columns if str(c).startswith("Unnamed:") or str(c) == ""]
    return df.drop(columns=unnamed)


def _pick(df: pd.DataFrame, given: str | None, candidates: tuple[str, ...], role: str,
          path: Path, flag: str) -> str:  # fmt: skip
    if given is not None:
        if given not in df.columns:
            raise DataError(f"{path}: {flag} {given!r} is not a column; it has {list(df.columns)}")
        return given
    lower = {str(c).lower(): str(c) for c in df.columns}
    for cand in candidates:
        if cand.lower() in lower:
            return lower[cand.lower()]
    raise DataError(
        f"{path}: no {role} column found (looked for {', '.join(candidates)}); name it "
        f"with {flag}. The file has: {', '.join(map(str, df.columns))}"
    )


def _numeric(df: pd.DataFrame, col: str, path: Path) -> pd.Series:
    values = pd.to_numeric(df[col], errors="coerce")
    bad = values.isna() & df[col].notna()
    if bad.any():
        row = int(np.flatnonzero(bad.to_numpy())[0]) + 2
        raise DataError(
            f"{path}: column {col!r} row {row} is not a number: {df[col].iloc[row - 2]!r}"
        )
    if values.isna().any():
        row = int(np.flatnonzero(values.isna().to_numpy())[0]) + 2
        raise DataError(f"{path}: column {col!r} is empty at row {row}")
    return values.astype(float)


def _kind(name: str, column: str, roles: Roles) -> str:
    if name in roles.offline or column in roles.offline:
        return "offline"
    if name in roles.online or column in roles.online:
        return "online"
    return "offline" if set(name.split("_")) & OFFLINE_WORDS else "online"


def _channels(spends: list[str], suffix: re.Pattern[str], roles: Roles) -> tuple[PeerChannel, ...]:
    out = []
    seen: set[str] = set()
    for col in spends:
        name = _slug(suffix.sub("", col)) or _slug(col)
        if name in seen:
            name = _slug(col)
        seen.add(name)
        out.append(PeerChannel(name, _kind(name, col, roles), col))
    return tuple(out)


def _controls(df: pd.DataFrame, used: set[str], roles: Roles, path: Path,
              notes: list[str]) -> dict[str, pd.Series]:  # fmt: skip
    if roles.controls is not None:
        cols = list(roles.controls)
        missing = [c for c in cols if c not in df.columns]
        if missing:
            raise DataError(f"{path}: --controls {missing} are not columns")
    else:
        cols = [c for c in df.columns if c not in used and pd.api.types.is_numeric_dtype(df[c])]
    out: dict[str, pd.Series] = {}
    for c in cols:
        values = _numeric(df, c, path)
        if values.nunique() < 2:
            notes.append(f"control {c!r} is constant and was left out")
            continue
        out[_slug(c)] = values
    return out


def _indicators(df: pd.DataFrame, cols: list[str]) -> dict[str, pd.Series]:
    out = {}
    for c in cols:
        labels = df[c].fillna("na").astype(str).str.strip()
        for v in sorted(set(labels) - {"na", "none", "", "nan", "NA", "None"}):
            out[f"{_slug(c)}_{_slug(v)}"] = (labels == v).astype(int)
    return out


def _dates(df: pd.DataFrame, col: str, path: Path) -> pd.Series:
    dates = pd.to_datetime(df[col], errors="coerce")
    if dates.isna().any():
        row = int(np.flatnonzero(dates.isna().to_numpy())[0]) + 2
        raise DataError(
            f"{path}: date column {col!r} row {row} is not a date: {df[col].iloc[row - 2]!r}"
        )
    return dates.dt.strftime("%Y-%m-%d")


# --------------------------------------------------------------------------- the three layouts

_ROBYN_SPEND = re.compile(r"(_S|_[sS]pend|_[cC]ost)$")
_ROBYN_EXPOSURE = re.compile(r"(_I|_P|_[iI]mpressions?|_[cC]licks?|_[iI]mps|_GRP|_grp)$")


def _robyn(path: Path, roles: Roles) -> Imported:
    df = _read(path)
    notes: list[str] = []
    date = _pick(df, roles.date, ("DATE", "date", "ds", "week"), "date", path, "--date")
    outcome = _pick(df, roles.outcome, ("revenue", "sales", "conversions", "dep_var"),
                    "dep_var (outcome)", path, "--outcome")  # fmt: skip
    spends = list(roles.spends) or [c for c in df.columns if _ROBYN_SPEND.search(str(c))]
    if not spends:
        raise DataError(
            f"{path}: no paid media spend columns (*_S, *_spend); name them with --spend"
        )
    exposure = [c for c in df.columns if _ROBYN_EXPOSURE.search(str(c)) and c not in spends]
    if exposure:
        notes.append(f"exposure columns {exposure} left out (Robyn's paid_media_vars; omnimmm "
                     "models each channel from its spend)")  # fmt: skip
    text = [c for c in df.columns if c not in (date, outcome, *spends)
            and not pd.api.types.is_numeric_dtype(df[c])]  # fmt: skip
    events = _indicators(df, text)
    if text:
        notes.append(f"text columns {text} became one event indicator per value: {list(events)}")
    used = {date, outcome, *spends, *exposure, *text}
    controls = _controls(df, used, roles, path, notes)
    notes.append(f"controls (Robyn's context and organic variables): {list(controls)}")
    frame = df.assign(**{date: _dates(df, date, path)})
    channels = _channels(spends, _ROBYN_SPEND, roles)
    for ch in channels:
        frame[ch.source_column] = _numeric(df, ch.source_column, path)
    world = _assemble(frame, date, {_slug(outcome): _numeric(df, outcome, path)}, channels,
                      controls, events, path)  # fmt: skip
    return _done("robyn", path, world, channels, (_slug(outcome),), controls, events, notes, {})


_MERIDIAN_EXPOSURE = re.compile(r"_(impressions?|reach|frequency)$")


def _meridian(path: Path, roles: Roles) -> Imported:
    df = _read(path)
    notes: list[str] = []
    date = _pick(df, roles.date, ("time", "date"), "time", path, "--date")
    kpi = _pick(df, roles.outcome, ("conversions", "kpi", "revenue"), "kpi", path, "--outcome")
    rpk = next((c for c in ("revenue_per_conversion", "revenue_per_kpi") if c in df.columns), None)
    spends = list(roles.spends) or [c for c in df.columns if str(c).endswith("_spend")]
    if not spends:
        raise DataError(f"{path}: no *_spend columns; name them with --spend")
    geo = "geo" if "geo" in df.columns else None
    exposure = [c for c in df.columns if _MERIDIAN_EXPOSURE.search(str(c))
                and not str(c).startswith("Organic_")]  # fmt: skip
    if exposure:
        notes.append(f"impression, reach and frequency columns {exposure} left out (omnimmm "
                     "models each channel from its spend)")  # fmt: skip
    used = {date, kpi, *spends, *exposure, *(c for c in (rpk, geo, "population") if c)}
    frame = df.copy()
    frame[date] = _dates(df, date, path)
    for c in [kpi, *spends, *([rpk] if rpk else [])]:
        frame[c] = _numeric(df, c, path)
    outcome = "revenue" if rpk else _slug(kpi)
    frame[outcome] = frame[kpi] * frame[rpk] if rpk else frame[kpi]
    if rpk:
        notes.append(f"outcome revenue = {kpi} x {rpk} (Meridian's revenue KPI)")
    channels = _channels(spends, re.compile(r"_spend$"), roles)
    if geo is not None and frame[geo].nunique() > 1:
        if not roles.national:
            return _geo_panel(frame, geo, date, outcome, channels, used, roles, path, notes)
        frame = _national(frame, geo, date, [outcome, *spends], used, path, notes)
    controls = _controls(frame, used | {outcome}, roles, path, notes)
    world = _assemble(frame.reset_index(drop=True), date, {outcome: frame[outcome].reset_index(drop=True)},
                      channels, {k: v.reset_index(drop=True) for k, v in controls.items()}, {}, path)  # fmt: skip
    return _done("meridian", path, world, channels, (outcome,), controls, {}, notes, {})


def _national(frame: pd.DataFrame, geo: str, date: str, summed: list[str], used: set[str],
              path: Path, notes: list[str]) -> pd.DataFrame:  # fmt: skip
    """A geo panel summed to national: sums of outcome, spend and organic exposure, other
    controls averaged over geos weighted by population (plain mean without it)."""
    n_geo = frame[geo].nunique()
    counts = frame.groupby(date)[geo].nunique()
    if (counts != n_geo).any():
        week = counts.index[counts != n_geo][0]
        raise DataError(f"{path}: week {week} has {counts[week]} of the {n_geo} geos; a geo "
                        "panel needs every geo every week to be summed to national")  # fmt: skip
    other = [c for c in frame.columns if c not in used and c not in summed and c not in (geo, date)
             and pd.api.types.is_numeric_dtype(frame[c])]  # fmt: skip
    organic = [c for c in other if str(c).startswith("Organic_")]
    averaged = [c for c in other if c not in organic]
    weights = (frame["population"].astype(float) if "population" in frame.columns
               else pd.Series(1.0, index=frame.index))  # fmt: skip
    grouped = frame.groupby(date, sort=True)
    out = grouped[[*summed, *organic]].sum()
    for c in averaged:
        out[c] = (frame[c] * weights).groupby(frame[date]).sum() / weights.groupby(
            frame[date]
        ).sum()
    notes.append(
        f"geo panel of {n_geo} geos summed to one national panel (outcome, spend and organic "
        f"exposure summed; controls {averaged} population-weighted means), as --national "
        "asks: geo-level effects and pooling across geos are not estimated"
    )
    return out.reset_index()


def _geo_panel(frame: pd.DataFrame, geo: str, date: str, outcome: str,
               channels: tuple[PeerChannel, ...], used: set[str], roles: Roles, path: Path,
               notes: list[str]) -> Imported:  # fmt: skip
    """A geo panel kept long for the geo model: one row per geo and week, sorted so.

    Meridian buys every channel per geo, so each channel's column is what was bought there
    (no ``scope = "national"``). Missing geo-weeks, duplicate rows and a population that
    changes are left to the geo reader, which names the geo and week.
    """
    population = "population" if "population" in frame.columns else None
    controls = _controls(frame, used | {outcome}, roles, path, notes)
    cols: dict[str, pd.Series] = {
        "date": pd.to_datetime(frame[date], format="%Y-%m-%d"),
        "geo": frame[geo].astype(str).str.strip(),
    }
    if population is not None:
        cols["population"] = _numeric(frame, population, path)
    cols[outcome] = frame[outcome]
    cols.update({ch.column: frame[ch.source_column].astype(float) for ch in channels})
    cols.update(controls)
    world = pd.DataFrame(cols).sort_values(["geo", "date"], kind="stable").reset_index(drop=True)
    n_geo = world["geo"].nunique()
    notes.append(
        f"geo panel of {n_geo} geos kept long, one row per geo and week, for omnimmm's geo "
        "model ([data] geo): each channel's effect varies by geo around a national one, every "
        "channel bought per geo. --national sums the geos to one national panel instead"
    )
    if population is None:
        notes.append(
            "no population column: the geo model takes every geo as the same size "
            "when it scales saturation (add one to [data] population)"
        )
    return _done("meridian", path, world, channels, (outcome,), controls, {}, notes, {},
                 geo="geo", population="population" if population else None)  # fmt: skip


_PYMC_DROP = ("t", "dayofyear", "day_of_year", "trend")


def _pymc_marketing(path: Path, roles: Roles) -> Imported:
    df = _read(path)
    notes: list[str] = []
    date = _pick(df, roles.date, ("date_week", "date", "week", "Weeks"), "date", path, "--date")
    outcome = _pick(df, roles.outcome, ("y", "target", "sales", "revenue"), "target", path,
                    "--outcome")  # fmt: skip
    spends = list(roles.spends) or [c for c in df.columns if re.fullmatch(r"x\d+", str(c))]
    if not spends:
        raise DataError(f"{path}: no channel columns x1, x2, ...; name them with --spend")
    event_cols = [c for c in df.columns if str(c).startswith("event") and c not in spends]
    dropped = [c for c in df.columns if str(c) in _PYMC_DROP and roles.controls is None]
    if dropped:
        notes.append(f"{dropped} dropped: omnimmm builds its own trend and yearly Fourier terms")
    events = {}
    for c in event_cols:
        values = _numeric(df, c, path)
        if values.isin([0, 1]).all() and values.nunique() == 2:
            events[_slug(c)] = values.astype(int)
    used = {date, outcome, *spends, *dropped, *event_cols}
    controls = _controls(df, used, roles, path, notes)
    frame = df.assign(**{date: _dates(df, date, path)})
    options: dict[str, object] = {"adstock": "geometric", "l_max": 8, "saturation": "logistic"}
    spend_max = max(float(_numeric(df, c, path).max()) for c in spends)
    if spend_max < 100:
        options["coef_prior_sd"] = 1.0
        notes.append(f"spend is scaled (largest value {spend_max:.3g}), so channels get a "
                     "scale-free effect-size prior instead of currency ROI priors")  # fmt: skip
    channels = tuple(
        PeerChannel(ch.name, ch.kind, ch.source_column, dict(options))
        for ch in _channels(spends, re.compile(r"$^"), roles)
    )
    notes.append("channels get PyMC-Marketing's default structure: geometric adstock "
                 "(l_max 8), logistic saturation")  # fmt: skip
    for ch in channels:
        frame[ch.source_column] = _numeric(df, ch.source_column, path)
    world = _assemble(frame, date, {_slug(outcome): _numeric(df, outcome, path)}, channels,
                      controls, events, path)  # fmt: skip
    return _done("pymc-marketing", path, world, channels, (_slug(outcome),), controls, events,
                 notes, {"yearly_fourier": 2})  # fmt: skip


def _done(fmt: str, path: Path, world: pd.DataFrame, channels: tuple[PeerChannel, ...],
          outcomes: tuple[str, ...], controls: dict[str, pd.Series], events: dict[str, pd.Series],
          notes: list[str], model: dict[str, object], geo: str | None = None,
          population: str | None = None) -> Imported:  # fmt: skip
    kinds = ", ".join(f"{c.name} ({c.kind})" for c in channels)
    notes.append(f"channels: {kinds}; kinds from the channel names, change them in the plan")
    description = (
        f"Imported from {path.name} ({fmt} layout) by omnimmm import. Check the choices "
        "below, then run omnimmm validate.\n" + "\n".join(f"- {n}" for n in notes)
    )
    ds = PeerDataset(
        name=_slug(path.stem), world=world, channels=channels, outcomes=outcomes,
        controls=tuple(controls), events=tuple(events), source=path, description=description,
        model=model, geo=geo, population=population,
    )  # fmt: skip
    return Imported(ds, tuple(notes))


def import_file(fmt: str, path: str | Path, roles: Roles | None = None) -> Imported:
    """Read a peer's input file as an omnimmm panel and plan (in memory).

    Parameters
    ----------
    fmt
        ``"robyn"``, ``"meridian"`` or ``"pymc-marketing"``.
    path
        The file (CSV or Parquet).
    roles
        Column roles that override the peer's conventions.

    Returns
    -------
    Imported

    Raises
    ------
    PlanError
        An unknown format.
    DataError
        A missing file, a role with no column, a non-numeric value, a non-weekly date.
    """
    readers = {"robyn": _robyn, "meridian": _meridian, "pymc-marketing": _pymc_marketing}
    if fmt not in readers:
        raise PlanError(f"unknown format {fmt!r}; expected one of {', '.join(FORMATS)}")
    return readers[fmt](Path(path), roles or Roles())


def write_imported(imported: Imported, out: str | Path) -> tuple[Path, ...]:
    """Write ``world.csv`` and ``plan.toml`` into ``out`` (built aside, then moved in).

    ``out`` must be new, empty, or hold only an earlier import's two files.

    Raises
    ------
    PlanError
        ``out`` holds other files.
    """
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise PlanError(f"--out {out}: exists and is not a directory")
    if out.is_dir():
        other = sorted(p.name for p in out.iterdir() if p.name not in _OURS)
        if other:
            raise PlanError(f"--out {out}: holds other files ({', '.join(other[:5])}); "
                            "choose a new or empty directory")  # fmt: skip
    out.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".import-", dir=out))
    try:
        imported.dataset.write(tmp)
        written = []
        for name in _OURS:
            os.replace(tmp / name, out / name)
            written.append(out / name)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return tuple(written)
