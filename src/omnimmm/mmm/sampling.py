"""Sampling a built PyMC model with the configured sampler, in the foreground or in the
background.

:func:`start_sampling` compiles the model and starts the chains; with nutpie they run in
nutpie's own threads (its Rust sampler, which needs no Python lock), so the caller can do
other work until :meth:`Sampling.wait` collects the draws: the quarterly run scores its
baselines and saves the full model while the holdout refit samples
(:mod:`omnimmm.run.stages.holdout`). :func:`sample_model` is both in one call. The other
samplers (PyMC's NUTS, ADVI, pathfinder) run to the end inside :func:`start_sampling`.

Where the chains run does not change them: nutpie seeds each chain from the sampler seed
and the chain's number, so the draws are the same whenever and on however many threads
they run. nutpie is given one thread per chain (:func:`sampler_threads`): its default, one
per core, runs 4 chains on 2 cores as two rounds of two, and the slower chain of each
round leaves a core idle at its end.
"""

from __future__ import annotations

import dataclasses
import time
import warnings
from typing import Any

from omnimmm.errors import PlanError
from omnimmm.mmm.warm import WarmStart, warm_compiled, warm_start_from, warm_tune

__all__ = [
    "SAMPLERS",
    "Sampling",
    "compile_for_nutpie",
    "sample_model",
    "sampler_threads",
    "start_sampling",
]

SAMPLERS = ("nutpie", "pymc", "advi", "pathfinder")


def sampler_threads(chains: int) -> int:
    """nutpie's threads for ``chains`` chains: one per chain (the operating system shares
    the cores between them, so no core idles while a slower chain finishes)."""
    return max(1, int(chains))


class Sampling:
    """Chains being sampled (nutpie, in its background threads) or already sampled.

    :meth:`wait` returns what :func:`sample_model` returns; :meth:`cancel` stops the
    chains and drops their draws.
    """

    def __init__(
        self,
        timings: dict[str, Any],
        t0: float,
        t1: float,
        c0: float,
        c1: float,
        *,
        sampler: Any = None,
        compiled: Any = None,
        idata: Any = None,
    ) -> None:
        self._timings = timings
        self._t0, self._t1 = t0, t1
        self._c0, self._c1 = c0, c1
        self._sampler = sampler
        self._compiled = compiled
        self._idata = idata
        self._result: tuple[Any, dict] | None = None

    @property
    def done(self) -> bool:
        """Whether the chains have finished (or were sampled in the foreground)."""
        return self._sampler is None or bool(self._sampler.is_finished)

    def wait(self) -> tuple[Any, dict]:
        """The InferenceData (posterior and sample stats) and the timings; see
        :func:`sample_model`. Waits for the chains when they are still running."""
        if self._result is not None:
            return self._result
        import arviz as az

        timings = self._timings
        idata = self._idata
        t_wait = time.perf_counter()
        if self._sampler is not None:
            try:
                idata = self._sampler.wait()
            except KeyboardInterrupt:
                self._sampler.cancel()
                raise
            self._sampler = None
            stats = idata.sample_stats
            timings["warm_start"] = warm_start_from(
                stats["unconstrained_draw"].to_numpy(),
                stats["step_size"].to_numpy(),
                self._compiled,
            )
            idata.sample_stats = stats.drop_dims("unconstrained_parameter", errors="ignore")
        t2 = time.perf_counter()
        c2 = time.process_time()
        timings.update(compile=self._t1 - self._t0, sampling=t2 - self._t1, total=t2 - self._t0)
        # CPU seconds of the whole process (all threads) over the same spans
        timings.update(compile_cpu=self._c1 - self._c0, sampling_cpu=c2 - self._c1)
        timings["waited"] = t2 - t_wait  # the caller's wait for the chains and their draws
        keep = [g for g in ("posterior", "sample_stats") if g in idata.groups()]
        self._result = az.InferenceData(**{g: idata[g] for g in keep}), timings
        return self._result

    def cancel(self) -> None:
        """Stop chains still running and drop their draws (nothing when already done)."""
        if self._sampler is not None:
            self._sampler.cancel()
            self._sampler = None


def start_sampling(
    model: Any,
    s: Any,
    progressbar: bool = False,
    spec: Any = None,
    warm: WarmStart | None = None,
    compiled: Any = None,
) -> Sampling:
    """Compile ``model`` and start sampling it with the settings ``s`` (a ``SamplerSpec``).

    With ``spec`` (what ``model`` was built from), nutpie samples the hand-written log
    density of :mod:`omnimmm.mmm.density` where it covers the model. With ``warm`` (nutpie
    only, same layout), the chains start at an earlier fit's draws with its step size and
    tune :func:`~omnimmm.mmm.warm.warm_tune` steps (:mod:`omnimmm.mmm.warm`). ``compiled``:
    :func:`compile_for_nutpie`'s result for this ``model`` and ``spec``, compiled earlier
    (nothing is compiled here then).

    Returns
    -------
    Sampling
        nutpie's chains run in the background until :meth:`Sampling.wait`; the other
        samplers have finished already.
    """
    t0, c0 = time.perf_counter(), time.process_time()
    timings: dict[str, Any] = {"sampler": s.sampler, "tune": s.tune, "warm": False}
    if s.sampler == "nutpie":
        try:
            import nutpie

            from omnimmm.mmm.compile import compile_nutpie, loaded_from_cache, log_density_of

            if compiled is None:
                compiled = compile_nutpie(model, spec)
            timings["compile_cached"] = loaded_from_cache(compiled)
            timings["log_density"] = log_density_of(compiled)
        except Exception as exc:
            warnings.warn(
                f"nutpie could not compile the model ({exc!r}); falling back to PyMC's NUTS",
                RuntimeWarning,
                stacklevel=3,
            )
            return start_sampling(model, dataclasses.replace(s, sampler="pymc"), progressbar)
        tune, extra = s.tune, {}
        if warm is not None and warm.fits(compiled):
            compiled = warm_compiled(compiled, warm)
            tune, extra = warm_tune(s.tune), {"initial_step": warm.step_size}
            timings.update(tune=tune, warm=True)
        t1, c1 = time.perf_counter(), time.process_time()
        sampler = nutpie.sample(
            compiled,
            draws=s.draws,
            tune=tune,
            chains=s.chains,
            cores=sampler_threads(s.chains),
            seed=s.seed,
            target_accept=s.target_accept,
            progress_bar=progressbar,
            save_warmup=False,
            store_unconstrained=True,
            blocking=False,
            **extra,
        )
        return Sampling(timings, t0, t1, c0, c1, sampler=sampler, compiled=compiled)
    idata = _sample_in_foreground(model, s, progressbar)
    return Sampling(timings, t0, t0, c0, c0, idata=idata)


def compile_for_nutpie(model: Any, s: Any, spec: Any = None) -> Any:
    """What :func:`start_sampling` compiles for ``model`` with the settings ``s``, compiled
    ahead (to pass as its ``compiled``); None when ``s`` is not nutpie's or the compile
    fails (:func:`start_sampling` then compiles again and falls back as usual)."""
    if s.sampler != "nutpie":
        return None
    try:
        from omnimmm.mmm.compile import compile_nutpie

        return compile_nutpie(model, spec)
    except Exception:
        return None


def _sample_in_foreground(model: Any, s: Any, progressbar: bool) -> Any:
    """PyMC's NUTS, ADVI or pathfinder, to the end."""
    import pymc as pm

    if s.sampler == "pymc":
        with model:
            return pm.sample(
                draws=s.draws,
                tune=s.tune,
                chains=s.chains,
                random_seed=s.seed,
                target_accept=s.target_accept,
                progressbar=progressbar,
                compute_convergence_checks=False,
            )
    if s.sampler == "advi":
        with model:
            approx = pm.fit(
                n=max(20_000, 20 * s.tune), method="advi", random_seed=s.seed, progressbar=False
            )
            return approx.sample(s.draws * s.chains, random_seed=s.seed)
    if s.sampler == "pathfinder":
        try:
            import pymc_extras as pmx
        except ImportError:
            raise PlanError(
                "model.sampler = 'pathfinder' needs the pymc-extras package, which is not "
                "installed; use sampler = 'advi' for a quick approximate fit"
            ) from None
        with model:
            return pmx.fit(method="pathfinder", random_seed=s.seed, num_draws=s.draws)
    raise PlanError(f"model.sampler = {s.sampler!r}; expected one of {list(SAMPLERS)}")


def sample_model(
    model: Any,
    s: Any,
    progressbar: bool = False,
    spec: Any = None,
    warm: WarmStart | None = None,
) -> tuple[Any, dict]:
    """Sample a PyMC model with the configured sampler, to the end.

    Arguments as :func:`start_sampling`. Returns the InferenceData (posterior and sample
    stats) and timings in seconds (``compile``, ``sampling``, ``total``) plus the sampler
    actually used, the tuning steps run (``tune``) and whether they started warm (``warm``)
    and, for nutpie, which log density it sampled (``log_density``). A nutpie fit also
    leaves its own warm start for a refit in the returned timings' ``"warm_start"`` entry
    (a :class:`~omnimmm.mmm.warm.WarmStart` or None; the caller pops it, it is not a
    timing).
    """
    return start_sampling(model, s, progressbar, spec, warm).wait()
