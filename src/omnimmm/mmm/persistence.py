"""Save a fitted MMM as a plain directory and load it back without refitting.

Directory layout (every file is an open format; nothing is pickled)::

    manifest.json    format version, package versions, data hash, seed, dates, timings,
                     diagnostics
    plan.toml        the plan the model was fitted with (when it came from a plan)
    config.json      the resolved model spec, baseline priors, analysis settings
    scaling.json     scaling constants fitted on the training data
    posterior.nc     posterior draws and sample stats (ArviZ NetCDF)
    panel.parquet    the training panel (spend per channel, outcomes, controls)

:func:`load_state` reads them back into a :class:`FittedState`, from which
``omnimmm.mmm.load`` rebuilds the :class:`~omnimmm.mmm.OmniMMM`: the same
posterior, scaling and data give the same ROI, contributions and forecasts.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import platform
import tomllib
from importlib import metadata
from pathlib import Path
from typing import Any

import arviz as az
import pandas as pd

from omnimmm.errors import DataError
from omnimmm.mmm.design import ModelSpec, Scaling
from omnimmm.mmm.priors import BaselinePriors

__all__ = ["FORMAT_VERSION", "FittedState", "load_state", "save"]

FORMAT_VERSION = 1
_FILES = ("manifest.json", "config.json", "scaling.json", "posterior.nc", "panel.parquet")
_PREFIX = {"spend": "spend:", "outcomes": "outcome:", "controls": "control:"}


def _version(pkg: str) -> str | None:
    try:
        return metadata.version(pkg)
    except metadata.PackageNotFoundError:
        return None


def _panel_frame(panel: Any) -> pd.DataFrame:
    parts = [
        getattr(panel, attr).add_prefix(prefix).set_axis(panel.dates, axis=0)
        for attr, prefix in _PREFIX.items()
    ]
    frame = pd.concat(parts, axis=1)
    frame.index.name = "date"
    return frame.reset_index()


def _panel_from_frame(frame: pd.DataFrame, kinds: dict[str, str], meta: dict[str, Any]) -> Any:
    from omnimmm.data.schema import Panel

    dates = pd.DatetimeIndex(frame["date"], name="date")

    def part(prefix: str) -> pd.DataFrame:
        cols = [c for c in frame.columns if c.startswith(prefix)]
        out = frame[cols].set_axis(dates, axis=0)
        return out.rename(columns=lambda c: c.removeprefix(prefix)).astype(float)

    return Panel(
        dates=dates,
        spend=part(_PREFIX["spend"]),
        outcomes=part(_PREFIX["outcomes"]),
        controls=part(_PREFIX["controls"]),
        channel_kinds=kinds,
        source=Path(meta["source"]),
        data_hash=meta["data_hash"],
    )


@dataclasses.dataclass(frozen=True)
class FittedState:
    """Everything a fitted MMM is made of, as plain values: what is saved and loaded.

    :class:`omnimmm.mmm.OmniMMM` turns itself into one (``fitted_state()``) and is rebuilt
    from one (``OmniMMM.from_state``), so this module never needs the estimator class.

    Attributes
    ----------
    plan : Plan or None
        The plan the model was built from (None for a model built from a spec alone).
    spec : ModelSpec
    priors : BaselinePriors
    max_draws : int or None
        Posterior draws the analysis uses.
    panel : omnimmm.data.schema.Panel
        The training panel.
    scaling : Scaling
    idata : arviz.InferenceData
        Posterior draws and sample stats.
    timings : dict
        Compile and sampling seconds of the fit.
    diagnostics : dict
        Convergence summary (written to the manifest for reading without loading).
    prior_notes : tuple of str
        What the fit changed in the plan's priors to suit the data's units
        (:mod:`omnimmm.mmm.units`); empty when nothing changed.
    """

    plan: Any
    spec: ModelSpec
    priors: BaselinePriors
    max_draws: int | None
    panel: Any
    scaling: Scaling
    idata: Any
    timings: dict[str, Any]
    diagnostics: dict[str, Any] = dataclasses.field(default_factory=dict)
    prior_notes: tuple[str, ...] = ()


def save(state: Any, directory: str | Path) -> Path:
    """Write a fitted model's state to ``directory`` (created if needed).

    Parameters
    ----------
    state
        A :class:`FittedState`, or a fitted model with a ``fitted_state()`` method
        (``OmniMMM.save`` calls this).
    directory
        Where to write.

    Returns
    -------
    pathlib.Path
        The directory.
    """
    if not isinstance(state, FittedState):
        state = state.fitted_state()
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    spec = state.spec
    panel = state.panel
    if state.plan is not None:
        from omnimmm.config import dump_plan

        dump_plan(state.plan, out / "plan.toml")
    config = {
        "spec": spec.to_dict(),
        "priors": dataclasses.asdict(state.priors),
        "max_draws": state.max_draws,
        "channel_kinds": dict(panel.channel_kinds),
        "prior_notes": list(state.prior_notes),
    }
    (out / "config.json").write_text(json.dumps(config, indent=2), encoding="utf-8")
    scaling = json.dumps(state.scaling.to_dict(), indent=2)
    (out / "scaling.json").write_text(scaling, encoding="utf-8")
    state.idata.to_netcdf(str(out / "posterior.nc"))
    _panel_frame(panel).to_parquet(out / "panel.parquet", index=False)
    manifest = {
        "format_version": FORMAT_VERSION,
        "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "versions": {
            pkg: _version(pkg)
            for pkg in ("omnimmm", "pymc", "pytensor", "nutpie", "arviz", "numpy", "pandas")
        },
        "python": platform.python_version(),
        "data_hash": panel.data_hash,
        "source": str(panel.source),
        "seed": spec.sampler.seed,
        "sampler": dataclasses.asdict(spec.sampler),
        "weeks": [panel.dates[0].date().isoformat(), panel.dates[-1].date().isoformat()],
        "timings": state.timings,
        "diagnostics": state.diagnostics,
    }
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2), encoding="utf-8")
    return out


def _priors(saved: dict[str, Any]) -> BaselinePriors:
    """The saved baseline priors; those of older versions' fields that no longer exist
    (``intercept_mu``/``intercept_sd`` before the centred level) are dropped: the loaded
    posterior already holds every quantity the analysis reads."""
    known = {f.name for f in dataclasses.fields(BaselinePriors)}
    return BaselinePriors(**{k: v for k, v in saved.items() if k in known})


def load_state(directory: str | Path) -> FittedState:
    """Read the state saved by :func:`save`; never refits and never unpickles.

    ``omnimmm.mmm.load`` turns it into a fitted :class:`~omnimmm.mmm.OmniMMM`.

    Raises
    ------
    DataError
        If a file is missing or the format version is unknown.
    """
    src = Path(directory)
    missing = [f for f in _FILES if not (src / f).is_file()]
    if missing:
        raise DataError(f"{src}: not a saved omnimmm model, missing {missing}")
    manifest = json.loads((src / "manifest.json").read_text(encoding="utf-8"))
    if manifest.get("format_version") != FORMAT_VERSION:
        raise DataError(
            f"{src / 'manifest.json'}: format_version {manifest.get('format_version')!r} is "
            f"not supported (expected {FORMAT_VERSION}); refit the model with this version"
        )
    config = json.loads((src / "config.json").read_text(encoding="utf-8"))
    spec = ModelSpec.from_dict(config["spec"])
    plan = None
    if (src / "plan.toml").is_file():
        from omnimmm.config import plan_from_dict

        raw = tomllib.loads((src / "plan.toml").read_text(encoding="utf-8"))
        plan = plan_from_dict(raw, source=src / "plan.toml")
    scaling = Scaling.from_dict(json.loads((src / "scaling.json").read_text(encoding="utf-8")))
    idata = az.from_netcdf(str(src / "posterior.nc"))
    for group in idata.groups():
        idata[group].load()
    frame = pd.read_parquet(src / "panel.parquet")
    panel = _panel_from_frame(frame, config["channel_kinds"], manifest)
    return FittedState(
        plan=plan,
        spec=spec,
        priors=_priors(config["priors"]),
        max_draws=config["max_draws"],
        panel=panel,
        scaling=scaling,
        idata=idata,
        timings=manifest["timings"],
        diagnostics=manifest.get("diagnostics", {}),
        prior_notes=tuple(config.get("prior_notes", ())),
    )
