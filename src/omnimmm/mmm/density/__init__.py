"""The MMM's log density and gradient written out by hand, for nutpie.

pytensor turns the model of :func:`omnimmm.mmm.model.build_model` into about 135 distinct
operations, and its numba backend compiles about 800 functions for them and their
gradients: a first fit on a new machine spends about three minutes compiling, and every
new plan structure compiles again. Here the same log density and its gradient are one
numba function for every plan: the plan's structure is read from integer tables and the
data from arrays, so the function is compiled once per machine (numba's disk cache) and a
fit of any supported plan compiles nothing.

It is the same density, not an approximation: the same priors on the same unconstrained
parameter vector (nutpie's layout of the model's value variables, with PyMC's log, log-odds
and simplex transforms and their Jacobians), the same mean function and likelihood. The
priors' families and parameters are read from the PyMC model itself; the mean function's
structure from the spec. ``tests/test_mmm_density.py`` checks log density and gradient
against PyMC's at random points for every supported structure.

Supported: geometric, delayed and Weibull adstock with carryover shared across outcomes or
per outcome; Hill, logistic and Michaelis-Menten saturation; ROI and raw coefficient priors;
synergies; trend, Fourier, controls and festivals; a fixed or moving (random-walk) baseline;
lift tests; any number of outcomes, with
or without residual correlation (two: the written-out Cholesky factor; three or more:
LKJCholeskyCov with HalfNormal scales). :func:`density_tables` returns the reason instead
of tables for anything else (recorded deterministics, a prior-only model, a prior family
it does not know), and :func:`omnimmm.mmm.compile.compile_nutpie` then compiles the PyMC
graph as before.

Modules, in the order of the data flow:

- :mod:`~omnimmm.mmm.density.tables`: the model and its spec as the kernel's tables;
- :mod:`~omnimmm.mmm.density.forward`: from the point to the log density;
- :mod:`~omnimmm.mmm.density.gradient`: back from the likelihood to the gradient;
- :mod:`~omnimmm.mmm.density.kernel`: the two passes as numba functions;
- :mod:`~omnimmm.mmm.density.two_cores`: a first compile of them on two cores;
- :mod:`~omnimmm.mmm.density.nutpie_glue`: nutpie's C callbacks and compiled model;
- :mod:`~omnimmm.mmm.density.cache`: numba's disk cache, fresh after any edit here.

The compiler that calls it (:mod:`omnimmm.mmm.compile`) is above it: nothing here imports it.
"""

from __future__ import annotations

from typing import Any

from omnimmm.mmm.density.kernel import logp_and_grad
from omnimmm.mmm.density.tables import DensityTables, density_tables

__all__ = [
    "KERNEL_VERSION",
    "DensityTables",
    "HandCompiledModel",
    "callbacks",
    "compile_model",
    "density_tables",
    "expand",
    "logp_and_grad",
    "user_data",
]

#: Version of the density's arithmetic: what a fit's numbers depend on. Bump it with any
#: change that can change a log density, a gradient or an expanded draw by even one bit
#: (another formula, another order of a sum, another prior's reading, a new structure
#: covered), so that a model fitted by older code is not reused as if this code had fitted
#: it (the run's fit-reuse key holds it). A change that leaves every number as it was (a
#: rename, a split into modules, a docstring) keeps it; ``tests/test_mmm_density.py``
#: checks the density against PyMC's either way. numba's compiled cache does not depend on
#: it (see :mod:`omnimmm.mmm.density.cache`).
KERNEL_VERSION = "4"


#: Imported on first use, so that importing the kernel alone (the child process of
#: :mod:`~omnimmm.mmm.density.two_cores`) does not import nutpie and ArviZ.
_NUTPIE_GLUE = ("HandCompiledModel", "callbacks", "compile_model", "expand", "user_data")


def __getattr__(name: str) -> Any:
    if name in _NUTPIE_GLUE:
        from omnimmm.mmm.density import nutpie_glue

        return getattr(nutpie_glue, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
