"""The simulator's truth behind ``omnimmm.mmm.geo.GeoFit``'s interface (not a test module).

``TruthGeoFit`` answers as a fitted geo model would, from a simulated world's truth: ROI,
fit, contributions, responses, and a forecast whose predictive draws are the true mean plus
the world's noise. The run's own path (reading, gate, holdout, analysis, optimizer, exports,
reuse) is tested with it and no sampling; :func:`use_truth` patches the run's fit.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from omnimmm.optimize import AdstockSaturationResponse


class TruthGeoFit:
    """The simulator's truth behind the contract's ``GeoFit`` interface (one draw)."""

    def __init__(self, world: Any, geos: tuple[str, ...], panel: Any = None) -> None:
        self.world, self.geos = world, geos
        self.panel = panel if panel is not None else world.panel
        self.n_draws = 1
        self.timings = {"compile": 0.0, "sampling": 0.0, "total": 0.0}

    def warm_start(self, spec: Any = None) -> None:
        """The truth has no chains to start a refit from."""
        return None

    def _roi_outcome(self) -> np.ndarray:
        """True ROI per region, channel and outcome over the data (G, C, O); nan unspent."""
        contrib = self.world.contributions.sum(axis=0)  # (G, C, O)
        spend = self.world.panel.spend.sum(axis=0)[..., None]
        return np.where(spend > 0, contrib / np.where(spend > 0, spend, 1.0), np.nan)

    def roi_national(self) -> pd.DataFrame:
        roi = self.world.roi_national
        out = pd.DataFrame(
            {"channel": list(roi), "mean": list(roi.values()), "low": list(roi.values()),
             "high": list(roi.values())}
        )  # fmt: skip
        p = self.world.panel
        contrib = self.world.contributions.sum(axis=(0, 1))  # (C, O)
        spend = p.spend.sum(axis=(0, 1))
        by = pd.DataFrame(contrib / spend[:, None], index=list(p.channels), columns=p.outcomes)
        for o in p.outcomes:
            for k in ("mean", "low", "high"):
                out[f"{o}_{k}"] = by.loc[list(roi), o].to_numpy()
        return out

    def roi_geo(self) -> pd.DataFrame:
        names = dict(zip(self.world.panel.geos, self.geos, strict=True))
        p = self.world.panel
        by = self._roi_outcome()
        rows = []
        for (g, c), v in self.world.roi_geo.items():
            row = {"geo": names[g], "channel": c, "mean": v, "low": v, "high": v}
            gi, ci = p.geos.index(g), p.channels.index(c)
            for oi, o in enumerate(p.outcomes):
                row.update({f"{o}_{k}": by[gi, ci, oi] for k in ("mean", "low", "high")})
            rows.append(row)
        return pd.DataFrame(rows)

    def _mean(self) -> np.ndarray:
        prm = self.world.params
        return prm["baseline"] + self.world.contributions.sum(axis=2)  # (T, G, O)

    def fitted(self) -> dict[str, np.ndarray]:
        mean = self._mean()[: self.panel.n_weeks]
        sd = np.broadcast_to(self.world.params["noise_sd"][None], mean.shape)
        return {"mean": mean, "low": mean - 1.645 * sd, "high": mean + 1.645 * sd}

    def contributions(self) -> dict[str, np.ndarray]:
        c = self.world.contributions[: self.panel.n_weeks]
        return {"mean": c, "low": c, "high": c}

    def forecast(self, panel: Any, *, max_draws: int = 200, seed: int = 0) -> dict[str, Any]:
        """Predictive draws of the weeks of ``panel`` after this fit's: truth plus noise."""
        start, end = self.panel.n_weeks, panel.n_weeks
        mean = self._mean()[start:end]  # (H, G, O)
        rng = np.random.default_rng(seed)
        sd = self.world.params["noise_sd"][None, None]
        draws = mean[None] + sd * rng.standard_normal((max_draws, *mean.shape))
        lo, hi = np.quantile(draws, [0.05, 0.95], axis=0)
        return {"draws": draws, "mean": draws.mean(axis=0), "low": lo, "high": hi}

    def diagnostics(self) -> dict[str, Any]:
        return {"max_rhat": 1.0, "min_ess_bulk": 1000.0, "divergences": 0,
                "divergence_rate": 0.0, "draws": 1000, "chains": 4}  # fmt: skip

    def responses(self, horizon_weeks: int) -> dict[str, AdstockSaturationResponse]:
        kw = self.world.response_kwargs(horizon_weeks)
        return {
            name: AdstockSaturationResponse.from_arrays(**kw[g])
            for g, name in zip(self.world.panel.geos, self.geos, strict=True)
        }

    def save(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        (directory / "truth.json").write_text(json.dumps(self.world.truth_dict()))


def use_truth(monkeypatch: pytest.MonkeyPatch, world: Any) -> list[int]:
    """Make the run's geo fits (and loads of a saved one) return the truth; returns a list
    that records the training weeks of every fit made."""
    from omnimmm.mmm import geo as geo_model
    from omnimmm.run.stages import geo as geo_stages

    fits: list[int] = []

    def fake(prep: Any, say: Any, settings: Any = None, warm_from: Any = None) -> TruthGeoFit:
        p = prep.panel.panel
        fits.append(p.n_weeks)
        return TruthGeoFit(world, p.geos, p)

    def load(directory: Any) -> TruthGeoFit:
        return TruthGeoFit(world, world.panel.geos)

    monkeypatch.setattr(geo_stages, "fit_model", fake)
    no_pilot(monkeypatch)
    monkeypatch.setattr(geo_model, "load_geo", load)
    # the backtest asks the model's class whether it forecasts (before fitting anything)
    monkeypatch.setattr(geo_model.GeoFit, "forecast", TruthGeoFit.forecast, raising=False)
    return fits


def no_pilot(monkeypatch: pytest.MonkeyPatch, centred: bool = True) -> list[Any]:
    """Replace the run's pilot fit (which chooses the regional ROI's sampling form) by a
    fixed choice, for runs whose geo fits are fakes; returns the panels it was asked about."""
    from omnimmm.mmm.geo import pilot

    asked: list[Any] = []

    def choose(panel: Any, spec: Any, **kw: Any) -> Any:
        asked.append(panel)
        shrinkage = dict.fromkeys(panel.channels, 0.2 if centred else 0.9)
        return pilot.RoiFormChoice(centred=centred, shrinkage=shrinkage, seconds=0.0)

    monkeypatch.setattr(pilot, "choose_roi_form", choose)
    return asked
