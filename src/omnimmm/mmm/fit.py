"""The estimator: :class:`OmniMMM` fits the omnichannel MMM and answers questions about it.

Scikit-learn shape: ``__init__`` stores settings (the plan, or a :class:`ModelSpec`, plus
sampler overrides), :meth:`OmniMMM.fit` returns ``self``, fitted state ends in ``_``, and
every method that needs a fitted model raises :class:`omnimmm.errors.NotFittedError`
before ``fit``. Analysis methods delegate to :mod:`omnimmm.mmm.analysis`, convergence to
:mod:`omnimmm.mmm.diagnostics`, saving to :mod:`omnimmm.mmm.persistence`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from typing import Any

import arviz as az
import numpy as np
import pandas as pd

from omnimmm.errors import DataError, NotFittedError, PlanError
from omnimmm.mmm import analysis, diagnostics, persistence
from omnimmm.mmm.design import ModelSpec, Scaling, baseline_features, fit_scaling
from omnimmm.mmm.persistence import FittedState
from omnimmm.mmm.priors import BaselinePriors
from omnimmm.mmm.response import ResponseModel
from omnimmm.mmm.sampling import SAMPLERS as _SAMPLERS
from omnimmm.mmm.sampling import Sampling, compile_for_nutpie, sample_model, start_sampling
from omnimmm.mmm.units import resolve_roi_units
from omnimmm.mmm.warm import WarmStart

__all__ = ["OmniMMM", "PendingFit", "PreparedFit", "sample_model"]


class OmniMMM:
    """Omnichannel Bayesian MMM: media -> online and store revenue, jointly.

    Parameters
    ----------
    plan : omnimmm.config.Plan, optional
        The validated plan; gives the model spec, the gate and the budget horizon.
    spec : ModelSpec, optional
        The model spec directly (instead of, or overriding, ``plan``).
    sampler, chains, draws, tune, target_accept, seed : optional
        Overrides of the plan's sampler settings.
    priors : BaselinePriors, optional
        Baseline prior scales (on the scaled outcome).
    max_draws : int or None, default 1000
        Posterior draws (thinned, deterministic) used by the analysis; None keeps all.
    progressbar : bool, default False

    Attributes
    ----------
    spec_ : ModelSpec
    scaling_ : Scaling
    panel_ : Panel
        The training panel.
    model_ : pymc.Model
    idata_ : arviz.InferenceData
        Posterior and sample stats (scaled units; see :mod:`omnimmm.mmm.model`).
    response_ : ResponseModel
        Posterior mean function in currency units (the optimizer's response).
    diagnostics_ : Diagnostics
    timings_ : dict
        ``compile``, ``sampling`` and ``total`` seconds and the sampler used (with
        ``likelihood = "auto"`` refitted as Student-t: the refit's, and ``total`` both fits').
    likelihood_check_ : dict or None
        With ``likelihood = "auto"``: the tail test of the normal fit's residuals and the
        likelihood it chose (:func:`omnimmm.mmm.tails.tail_check`, plus ``chosen``); the
        fitted spec holds the chosen one. None otherwise and for a loaded model.
    warm_start_ : WarmStart or None
        Where the chains ended, for a warm refit (:meth:`fit`'s ``warm_start``); only after
        a nutpie fit in this process (None for a loaded model).
    """

    #: Set by :meth:`fit` (nutpie); a loaded or other-sampler model has none.
    warm_start_: WarmStart | None = None
    model_: Any
    #: What resolving the spec against the panel changed (:mod:`omnimmm.mmm.units`).
    prior_notes_: tuple[str, ...] = ()
    likelihood_check_: dict[str, Any] | None = None
    _warm_request: WarmStart | None = None  # the last fit_start's warm start

    def __init__(
        self,
        plan: Any = None,
        *,
        spec: ModelSpec | None = None,
        sampler: str | None = None,
        chains: int | None = None,
        draws: int | None = None,
        tune: int | None = None,
        target_accept: float | None = None,
        seed: int | None = None,
        priors: BaselinePriors | None = None,
        max_draws: int | None = 1000,
        progressbar: bool = False,
    ) -> None:
        if plan is None and spec is None:
            raise PlanError("OmniMMM needs a plan or a ModelSpec")
        self.plan = plan
        base = spec if spec is not None else ModelSpec.from_plan(plan)
        overrides: dict[str, Any] = {
            k: v
            for k, v in {
                "sampler": sampler,
                "chains": chains,
                "draws": draws,
                "tune": tune,
                "target_accept": target_accept,
                "seed": seed,
            }.items()
            if v is not None
        }
        if overrides.get("sampler", base.sampler.sampler) not in _SAMPLERS:
            raise PlanError(f"sampler {overrides['sampler']!r}: expected one of {_SAMPLERS}")
        self.spec = dataclasses.replace(
            base, sampler=dataclasses.replace(base.sampler, **overrides)
        )
        self.priors = priors or BaselinePriors()
        self.max_draws = max_draws
        self.progressbar = progressbar

    # ------------------------------------------------------------------ settings

    @property
    def horizon_weeks(self) -> int:
        """Budget horizon (plan's ``budget.horizon_weeks``, else 13)."""
        return int(self.plan.budget.horizon_weeks) if self.plan is not None else 13

    @property
    def gate(self) -> Any:
        """The plan's quality gate settings (defaults of DESIGN.md without a plan)."""
        if self.plan is not None:
            return self.plan.gate
        return diagnostics.DEFAULT_GATE

    def _check_fitted(self) -> None:
        if not hasattr(self, "idata_"):
            raise NotFittedError(
                "this OmniMMM is not fitted yet: call .fit(panel) first (or load a saved "
                "model with omnimmm.mmm.load(directory))"
            )

    # ------------------------------------------------------------------ fitting

    def _check_panel(self, panel: Any) -> None:
        spec = self.spec
        missing = [c for c in spec.channel_names if c not in panel.spend.columns]
        if missing:
            raise DataError(f"the panel has no spend for channels {missing}")
        missing = [o for o in spec.outcomes if o not in panel.outcomes.columns]
        if missing:
            raise DataError(f"the panel has no outcome columns {missing}")
        need = 2 * spec.fourier_order + len(spec.controls) + 4 * len(spec.channels) + 3
        if panel.n_weeks < need:
            raise DataError(
                f"the panel has {panel.n_weeks} weeks, too few for {len(spec.channels)} "
                f"channels and the baseline (at least {need} are needed)"
            )

    def _design(self, panel: Any) -> tuple[Scaling, dict]:
        """Scaling and baseline features of ``panel`` (what the model and posterior need).

        The spec is first resolved against the panel's units (:mod:`omnimmm.mmm.units`);
        ``prior_notes_`` says what that changed.
        """
        self._check_panel(panel)
        spend = panel.spend[self.spec.channel_names].to_numpy(dtype=float).sum(axis=0)
        total = float(panel.outcomes[list(self.spec.outcomes)].to_numpy(dtype=float).sum())
        self.spec, note = resolve_roi_units(self.spec, spend, total)
        self.prior_notes_ = (note,) if note else ()
        scaling = fit_scaling(panel, self.spec)
        return scaling, baseline_features(panel.dates, panel.controls, self.spec, scaling)

    def build(self, panel: Any, keep_mean: bool = False) -> Any:
        """Build (without sampling) the PyMC model for ``panel``; returns the model."""
        return self._build(panel, *self._design(panel), keep_mean=keep_mean)

    def _build(self, panel: Any, scaling: Scaling, features: dict, keep_mean: bool = False) -> Any:
        from omnimmm.mmm.model import build_model

        return build_model(
            self.spec,
            scaling,
            panel.dates,
            panel.spend[self.spec.channel_names].to_numpy(dtype=float),
            panel.outcomes[list(self.spec.outcomes)].to_numpy(dtype=float),
            features,
            self.priors,
            keep_mean=keep_mean,
        )

    def fit(
        self,
        panel: Any,
        warm_start: WarmStart | None = None,
        on_sampled: Callable[[WarmStart | None], None] | None = None,
        while_sampling: Callable[[], None] | None = None,
    ) -> OmniMMM:
        """Fit the model to a weekly panel (:class:`omnimmm.data.schema.Panel`).

        Parameters
        ----------
        panel : omnimmm.data.schema.Panel
        warm_start : WarmStart, optional
            Start the chains where an earlier fit of the same plan ended (its
            ``warm_start_``) and tune briefly (:mod:`omnimmm.mmm.warm`); nutpie only,
            ignored when the layouts differ. Another sample of the same posterior, so not
            the same numbers as a cold fit with the same seed.
        on_sampled : callable, optional
            Called with this fit's warm start (None without nutpie) as soon as the chains
            have finished, before the posterior's derived quantities and diagnostics are
            computed: a refit started there (:meth:`fit_start`) samples meanwhile.
        while_sampling : callable, optional
            Called once the chains have started (nutpie samples in its own threads), before
            waiting for them: work that needs no posterior runs meanwhile.

        Returns
        -------
        OmniMMM
            ``self``, fitted; ``warm_start_`` holds where it ended (None without nutpie).
        """
        pending = self.fit_start(panel, warm_start)
        if while_sampling is not None:
            try:
                while_sampling()
            except BaseException:
                pending.cancel()
                raise
        return pending.wait(on_sampled)

    def prepare(self, panel: Any) -> PreparedFit:
        """Build and compile the model for ``panel`` without sampling it; a later
        :meth:`fit_start` of the same panel and model (any sampler settings) starts from it."""
        scaling, features = self._design(panel)
        model = self._build(panel, scaling, features)
        compiled = compile_for_nutpie(model, self.spec.sampler, self.spec)
        return PreparedFit(panel, self.spec, self.prior_notes_, scaling, features, model, compiled)

    def fit_start(
        self,
        panel: Any,
        warm_start: WarmStart | None = None,
        prepared: PreparedFit | None = None,
    ) -> PendingFit:
        """Build and compile the model and start sampling it (nutpie: in the background).

        Arguments as :meth:`fit`; ``prepared``: :meth:`prepare`'s result for this panel
        (ignored when it was made for another panel or model). :meth:`PendingFit.wait`
        finishes the fit and returns ``self``. Same numbers as :meth:`fit`.
        """
        compiled = None
        self._warm_request = warm_start  # the Student-t refit of "auto" may use it
        if prepared is not None and prepared.matches(panel, self.spec):
            self.spec = dataclasses.replace(prepared.spec, sampler=self.spec.sampler)
            self.prior_notes_ = prepared.prior_notes
            scaling, features, model = prepared.scaling, prepared.features, prepared.model
            compiled = prepared.compiled
        else:
            scaling, features = self._design(panel)
            model = self._build(panel, scaling, features)
        sampling = start_sampling(
            model,
            self.spec.sampler,
            self.progressbar,
            self.spec,
            warm=warm_start,
            compiled=compiled,
        )
        return PendingFit(self, panel, scaling, features, model, sampling)

    def _set_fitted(self, panel: Any, scaling: Scaling, idata: Any, timings: dict) -> None:
        self.spec_ = self.spec
        self.panel_ = panel
        self.scaling_ = scaling
        self.idata_ = idata
        self.timings_ = timings
        self.response_ = ResponseModel.from_posterior(
            idata.posterior,
            self.spec,
            scaling,
            panel.spend,
            max_draws=self.max_draws,
            horizon_weeks=self.horizon_weeks,
        )
        self.diagnostics_ = diagnostics.convergence(idata, self.spec.sampler.sampler)

    def _choose_likelihood(self) -> None:
        """``likelihood = "auto"``, after the normal fit (the model an "auto" spec builds):
        keep it, or refit with Student-t noise when its residuals' tails are significantly
        heavy (:mod:`omnimmm.mmm.tails`). The spec then names the choice."""
        from omnimmm.mmm.tails import tail_check

        check = tail_check(self)
        chosen = "student_t" if check["heavy"] else "normal"
        self.spec = self.spec_ = dataclasses.replace(self.spec, likelihood=chosen)
        self.response_.spec = self.spec
        if chosen == "student_t":
            first, notes = dict(self.timings_), self.prior_notes_
            # Not from the normal fit's chains (another model); from the caller's warm
            # start where it is a Student-t fit's (a backtest's previous origin).
            self.fit(self.panel_, warm_start=self._warm_request)
            self.prior_notes_ = notes
            self.timings_["total"] = first.get("total", 0.0) + self.timings_.get("total", 0.0)
            self.timings_["normal_fit_total"] = first.get("total", 0.0)
        self.likelihood_check_ = {**check, "chosen": chosen}

    def prior_predictive(self, panel: Any, samples: int = 500) -> Any:
        """Prior predictive draws of the outcomes for ``panel`` (no fitting needed).

        Returns
        -------
        arviz.InferenceData
            Groups ``prior`` and ``prior_predictive`` (``y`` on the scaled outcome, i.e.
            relative to each outcome's training mean).
        """
        import pymc as pm

        model = self.build(panel)
        with model:
            return pm.sample_prior_predictive(samples, random_seed=self.spec.sampler.seed)

    # ------------------------------------------------------------------ analysis

    def features(self, dates: pd.DatetimeIndex, controls: pd.DataFrame | None) -> dict:
        """Baseline design of any weeks with the training constants."""
        self._check_fitted()
        return baseline_features(dates, controls, self.spec, self.scaling_)

    def fitted(self) -> pd.DataFrame:
        """Posterior mean of the fitted values per week (rows) and outcome (columns)."""
        self._check_fitted()
        return analysis.fitted(self)

    def contributions(self) -> pd.DataFrame:
        """Weekly contribution per channel and outcome (mean, 90% interval); see analysis."""
        self._check_fitted()
        return analysis.contributions(self)

    def decomposition(self) -> pd.DataFrame:
        """Baseline parts, channels and synergies per week and outcome; adds up to fitted."""
        self._check_fitted()
        return analysis.decomposition(self)

    def roi(self, window: tuple[Any, Any] | None = None) -> pd.DataFrame:
        """ROI per channel, total and per outcome, with 90% intervals; see analysis."""
        self._check_fitted()
        return analysis.roi(self, window)

    def mroi(self, window: tuple[Any, Any] | None = None, step: float = 0.01) -> pd.DataFrame:
        """Marginal ROI of the next ``step`` (1%) of each channel's spend; see analysis."""
        self._check_fitted()
        return analysis.mroi(self, window, step)

    def response_curves(self, multipliers: Sequence[float] | None = None) -> pd.DataFrame:
        """Revenue per channel as its spend is scaled; see analysis."""
        self._check_fitted()
        return analysis.response_curves(self, multipliers)

    def synergy(self) -> pd.DataFrame:
        """Posterior of each synergy term: revenue it adds over the training weeks."""
        self._check_fitted()
        return analysis.synergy(self)

    def forecast(
        self,
        future_spend: pd.DataFrame,
        future_controls: pd.DataFrame | None = None,
        noise: bool = True,
    ) -> pd.DataFrame:
        """Forecast future weeks given planned spend (carryover from history included)."""
        self._check_fitted()
        return analysis.forecast(self, future_spend, future_controls, noise)

    def holdout(self, weeks: int | None = None, warm: bool = True) -> analysis.HoldoutResult:
        """Refit on all but the last ``weeks`` and forecast them; MAPE per outcome.

        ``warm``: start the refit where this fit ended (:mod:`omnimmm.mmm.warm`).
        """
        self._check_fitted()
        return analysis.holdout(self, weeks, warm)

    def ppc(self, seed: int = 0) -> pd.DataFrame:
        """Posterior predictive checks per outcome (interval coverage, R^2, MAPE)."""
        self._check_fitted()
        return diagnostics.ppc(self, seed)

    def diagnostics(self) -> diagnostics.Diagnostics:
        """Convergence diagnostics: R-hat, bulk and tail ESS, divergences."""
        self._check_fitted()
        return self.diagnostics_

    def quality_gate(self, gate: Any = None, holdout_mape: dict | None = None) -> Any:
        """Check the quality gate (DESIGN.md); raises QualityGateError with remedies.

        Parameters
        ----------
        gate : GateSpec-like, optional
            ``rhat_max``, ``ess_bulk_min``, ``divergence_rate_max``, ``allow_failure``;
            default: the plan's ``[gate]``.
        holdout_mape : dict, optional
            Holdout MAPE per outcome, reported with the result.
        """
        self._check_fitted()
        return diagnostics.quality_gate(
            self.diagnostics_, gate if gate is not None else self.gate, holdout_mape, self.spec
        )

    def optimizer_arrays(self) -> dict[str, Any]:
        """Posterior arrays in the shape of ``AdstockSaturationResponse.from_arrays``.

        See :func:`omnimmm.mmm.analysis.optimizer_arrays`.
        """
        self._check_fitted()
        return analysis.optimizer_arrays(self)

    def fitted_state(self) -> FittedState:
        """The fitted model as plain values (what :meth:`save` writes)."""
        self._check_fitted()
        return FittedState(
            plan=self.plan,
            spec=self.spec_,
            priors=self.priors,
            max_draws=self.max_draws,
            panel=self.panel_,
            scaling=self.scaling_,
            idata=self.idata_,
            timings=self.timings_,
            diagnostics=self.diagnostics_.to_dict(),
            prior_notes=self.prior_notes_,
        )

    @classmethod
    def from_state(cls, state: FittedState) -> OmniMMM:
        """A fitted model from a saved :class:`~omnimmm.mmm.persistence.FittedState`."""
        model = cls(state.plan, spec=state.spec, priors=state.priors, max_draws=state.max_draws)
        model._set_fitted(state.panel, state.scaling, state.idata, state.timings)
        model.prior_notes_ = tuple(state.prior_notes)
        return model

    def save(self, directory: Any) -> Any:
        """Save to a directory (see :func:`omnimmm.mmm.persistence.save`)."""
        return persistence.save(self.fitted_state(), directory)

    def posterior(self, var_names: Sequence[str] | None = None) -> pd.DataFrame:
        """ArviZ summary of the posterior (scaled units) for the given variables."""
        self._check_fitted()
        names = list(var_names) if var_names is not None else None
        summary = az.summary(self.idata_, var_names=names, hdi_prob=0.9)
        assert isinstance(summary, pd.DataFrame)  # a Dataset only with fmt="xarray"
        return summary

    def __repr__(self) -> str:
        state = "fitted" if hasattr(self, "idata_") else "not fitted"
        s = self.spec
        return (
            f"OmniMMM({len(s.channels)} channels, outcomes={list(s.outcomes)}, "
            f"sampler={s.sampler.sampler}, {s.sampler.chains}x{s.sampler.draws}, {state})"
        )


@dataclasses.dataclass(frozen=True)
class PreparedFit:
    """A model built and compiled for a panel, not sampled yet (:meth:`OmniMMM.prepare`)."""

    panel: Any
    spec: ModelSpec
    prior_notes: tuple[str, ...]
    scaling: Scaling
    features: dict
    model: Any
    compiled: Any

    def matches(self, panel: Any, spec: ModelSpec) -> bool:
        """Whether this was prepared for ``panel`` and ``spec`` (sampler settings aside)."""
        same_model = dataclasses.replace(spec, sampler=self.spec.sampler) == self.spec
        return panel.data_hash == self.panel.data_hash and same_model


class PendingFit:
    """A fit whose chains are sampling (:meth:`OmniMMM.fit_start`); :meth:`wait` ends it."""

    def __init__(
        self,
        estimator: OmniMMM,
        panel: Any,
        scaling: Scaling,
        features: dict,
        model: Any,
        sampling: Sampling,
    ) -> None:
        self.estimator = estimator
        self.panel = panel
        self._scaling = scaling
        self._features = features
        self._model = model
        self._sampling: Sampling | None = sampling

    def wait(self, on_sampled: Callable[[WarmStart | None], None] | None = None) -> OmniMMM:
        """Wait for the chains, then complete the posterior and its diagnostics.

        ``on_sampled``: see :meth:`OmniMMM.fit`. Returns the fitted estimator.
        """
        m = self.estimator
        if self._sampling is None:
            m._check_fitted()  # cancelled fits raise here; finished ones return
            return m
        from omnimmm.mmm.posterior import complete_posterior

        idata, timings = self._sampling.wait()
        self._sampling = None
        m.warm_start_ = timings.pop("warm_start", None)
        if on_sampled is not None:
            on_sampled(m.warm_start_)
        spend = self.panel.spend[m.spec.channel_names].to_numpy(dtype=float)
        idata.posterior = complete_posterior(
            idata.posterior, m.spec, self._scaling, spend, features=self._features
        )
        m._set_fitted(self.panel, self._scaling, idata, timings)
        m.model_ = self._model
        if m.spec.likelihood == "auto":
            m._choose_likelihood()
        return m

    def cancel(self) -> None:
        """Stop the chains; the estimator stays unfitted."""
        if self._sampling is not None:
            self._sampling.cancel()
            self._sampling = None


def _as_float_array(values: Any) -> np.ndarray:
    return np.asarray(values, dtype=float)


def load(directory: Any) -> OmniMMM:
    """Load a model saved by :meth:`OmniMMM.save`; never refits and never unpickles.

    Raises
    ------
    DataError
        If a file is missing or the format version is unknown.
    """
    return OmniMMM.from_state(persistence.load_state(directory))
