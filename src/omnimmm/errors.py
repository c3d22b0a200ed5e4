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
64 usage error: unknown option, missing argument, bad value for a flag, ``--out`` naming a
   file, a DIR that is not a run directory (the command line, not the plan; the BSD
   ``EX_USAGE`` status)
75 the run directory is being written by another run (try again when it has finished)

Every message starts with ``error:`` and names the file, plan key or command-line flag.
"""

from __future__ import annotations

#: Exit status of a command-line usage error (Click's default 2 would read as "invalid plan").
USAGE_EXIT = 64

#: Exit status of ``omnimmm portfolio`` when one or more of its markets failed.
PORTFOLIO_FAILED_EXIT = 6


class OmniError(Exception):
    """Base class of errors caused by the user's input rather than by a bug."""

    exit_code = 1


class PlanError(OmniError):
    """The plan file is missing, malformed, or has a wrong or unknown key."""

    exit_code = 2


class UsageError(PlanError):
    """A command-line argument or flag is wrong (``--out`` a file, ``DIR`` not a run
    directory, a negative ``--seed``): exit status 64, like the CLI's own usage errors.
    A subclass of :class:`PlanError` so code that catches plan errors still catches it."""

    exit_code = USAGE_EXIT


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


def in_file(exc: OmniError, path: object, key: str) -> OmniError:
    """The same kind of error with the file and the plan key it comes from in front, e.g.
    ``plan.toml: [budget] total: sum of channel maximums ...``."""
    return type(exc)(f"{path}: {key}: {exc}")


def numbered(remedies: list[str]) -> str:
    """Format remedies as a numbered list, one per line, for an error message."""
    return "\n".join(f"  {i}. {r}" for i, r in enumerate(remedies, start=1))
