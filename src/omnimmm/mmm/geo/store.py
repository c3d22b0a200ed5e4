"""Save and load a geo fit as a plain directory: netCDF arrays and a JSON manifest.

``DIR/geo_fit.json`` holds the names, the settings, the timings and the seed;
``DIR/geo_posterior.nc`` the sampled points and divergences; ``DIR/geo_panel.nc`` the panel's
arrays. Nothing is pickled. The directory is written to a temporary sibling first and then
moved into place.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from omnimmm.data.geo_panel import GeoPanel
from omnimmm.errors import DataError
from omnimmm.mmm.geo.spec import GeoLiftTest, GeoModelSpec

__all__ = ["read_geo_dir", "write_geo_dir"]

#: /2: the regional baseline coefficients are integrated out (no longer in the points).
_FORMAT = "omnimmm-geo-fit/2"


def write_geo_dir(fit: Any, directory: str | os.PathLike[str]) -> Path:
    """Write a fit to ``directory`` (replaced if it exists).

    Parameters
    ----------
    fit : omnimmm.mmm.geo.GeoFit
        Its ``panel``, ``spec``, ``points``, ``diverging``, ``timings`` and ``seed``.
    directory : path

    Returns
    -------
    pathlib.Path
        The directory.
    """
    import xarray as xr

    out = Path(directory)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        p = fit.panel
        xr.Dataset(
            {
                "points": (("chain", "draw", "param"), fit.points),
                "diverging": (("chain", "draw"), fit.diverging.astype(np.int8)),
            }
        ).to_netcdf(tmp / "geo_posterior.nc")
        arrays: dict[str, Any] = {
            "spend": (("week", "geo", "channel"), p.spend),
            "y": (("week", "geo", "outcome"), p.y),
            "controls": (("week", "geo", "control"), p.controls),
            "population": (("geo",), p.population),
            "events": (("week", "event"), p.event_matrix()),
        }
        xr.Dataset(arrays).to_netcdf(tmp / "geo_panel.nc")
        spec = dataclasses.asdict(fit.spec)
        manifest = {
            "format": _FORMAT,
            "dates": [d.date().isoformat() for d in p.dates],
            "geos": list(p.geos),
            "channels": list(p.channels),
            "kinds": list(p.kinds),
            "scopes": list(p.scopes),
            "outcomes": list(p.outcomes),
            "control_names": list(p.control_names),
            "event_names": list(p.event_names),
            "has_events": p.events is not None,
            "spec": spec,
            "timings": fit.timings,
            "seed": fit.seed,
        }
        (tmp / "geo_fit.json").write_text(json.dumps(manifest, indent=2), encoding="utf-8")
        if out.exists():
            shutil.rmtree(out)
        tmp.rename(out)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return out


def read_geo_dir(directory: str | os.PathLike[str]) -> dict[str, Any]:
    """Read the parts of a fit written by :func:`write_geo_dir`.

    Parameters
    ----------
    directory : path

    Returns
    -------
    dict
        The keyword arguments of :class:`omnimmm.mmm.geo.GeoFit`.

    Raises
    ------
    DataError
        If the directory is not a saved geo fit.
    """
    import xarray as xr

    d = Path(directory)
    try:
        manifest = json.loads((d / "geo_fit.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise DataError(f"{d}: not a saved geo fit (geo_fit.json unreadable: {exc})") from None
    if manifest.get("format") != _FORMAT:
        raise DataError(
            f"{d / 'geo_fit.json'}: format {manifest.get('format')!r}, expected {_FORMAT!r}"
        )
    with xr.open_dataset(d / "geo_posterior.nc") as post:
        points = post["points"].values.copy()
        diverging = post["diverging"].values.astype(bool)
    with xr.open_dataset(d / "geo_panel.nc") as pan:
        arr = {k: pan[k].values.copy() for k in pan.data_vars}
    spec_d = manifest["spec"]
    if spec_d.get("roi_priors") is not None:
        spec_d["roi_priors"] = {k: tuple(v) for k, v in spec_d["roi_priors"].items()}
    spec_d["lift_tests"] = tuple(GeoLiftTest(**t) for t in spec_d.get("lift_tests", ()))
    panel = GeoPanel(
        dates=pd.DatetimeIndex(manifest["dates"]),
        geos=tuple(manifest["geos"]),
        channels=tuple(manifest["channels"]),
        kinds=tuple(manifest["kinds"]),
        scopes=tuple(manifest["scopes"]),
        outcomes=tuple(manifest["outcomes"]),
        spend=arr["spend"],
        y=arr["y"],
        controls=arr["controls"],
        control_names=tuple(manifest["control_names"]),
        population=arr["population"],
        events=arr["events"] if manifest["has_events"] else None,
        event_names=tuple(manifest["event_names"]),
    )
    return {
        "panel": panel,
        "spec": GeoModelSpec(**spec_d),
        "points": points,
        "diverging": diverging,
        "timings": dict(manifest["timings"]),
        "seed": int(manifest["seed"]),
    }
