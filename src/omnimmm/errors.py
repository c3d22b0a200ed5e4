"""Error types shared by every layer, each with the exit status the CLI returns for it.

User errors (bad plan, bad data, infeasible constraints, failed quality gate) are raised as
subclasses of :class:`OmniError`; the CLI prints their message without a traceback and exits
with ``exit_code``. Anything else is a bug and keeps its traceback.

Exit status
-----------
0  success
1  internal error (a bug: please report it with the traceback)
2  invalid plan (unknown or misspelled key, wrong type, missing file)
3  invalid data (missing column, bad dates, negative spend, ...)
4  infeasible budget or constraints
5  the fitted model failed its quality gate
6  omnimmm portfolio: one or more markets failed (portfolio.json says which and why)
75 the run directory is being written by another run (try again when it has finished)
"""

from __future__ import annotations

#: Exit status of ``omnimmm portfolio`` when one or more of its markets failed.
PORTFOLIO_FAILED_EXIT = 6


class OmniError(Exception):
    """Base class of errors caused by the user's input rather than by a bug."""

    exit_code = 1


class PlanError(OmniError):
    """The plan file is missing, malformed, or has a wrong or unknown key."""

    exit_code = 2


class DataError(OmniError):
    """A data file does not satisfy its contract."""

    exit_code = 3


class InfeasibleError(OmniError):
    """Budget constraints that no allocation can satisfy."""

    exit_code = 4


class QualityGateError(OmniError):
    """A fitted model failed the convergence or accuracy checks."""

    exit_code = 5


class RunDirBusyError(OmniError):
    """Another run holds the lock of the run directory (``EX_TEMPFAIL``: try again later)."""

    exit_code = 75


class NotFittedError(OmniError, AttributeError):
    """A method that needs a fitted model was called before ``fit``."""

    exit_code = 1


def numbered(remedies: list[str]) -> str:
    """Format remedies as a numbered list, one per line, for an error message."""
    return "\n".join(f"  {i}. {r}" for i, r in enumerate(remedies, start=1))
