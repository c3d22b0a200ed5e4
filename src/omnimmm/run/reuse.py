"""When a run may reuse the model already in its run directory instead of refitting.

A model is reused only when all of these hold, and a run that refits says which one failed:

* the fit key matches: the plan's ``[data]``, ``[[channels]]``, ``[model]``,
  ``[[calibration]]`` and ``[festivals]`` sections and the sampler settings (seed included);
* the data file's sha256 matches;
* the code matches: the omnimmm version and the density kernel's version
  (``omnimmm.mmm.density.KERNEL_VERSION``), and for a geo plan the geo model's source stamp
  (``omnimmm.mmm.geo.cache.SOURCE_STAMP``), so an upgrade never silently reuses a model
  fitted by older code;
* every file of the saved model still has the sha256 the run recorded when it wrote it (an
  edited or truncated posterior is never read as if it were the fit).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

from omnimmm.config import Plan
from omnimmm.data.io import file_sha256
from omnimmm.run.rundir import read_manifest

__all__ = ["Reuse", "code_versions", "fit_key", "model_hashes", "reusable", "verify_model"]

_FIT_SECTIONS = ("data", "channels", "model", "calibration", "festivals")


def fit_key(plan: Plan, sampler: dict[str, int]) -> str:
    """sha256 of the plan sections and sampler settings that determine the posterior.

    Parameters
    ----------
    plan
        The plan (resolved: defaults written out, so an explicit default matches an omitted one).
    sampler
        ``chains``, ``draws``, ``tune`` and ``seed``.

    Returns
    -------
    str
        Hex digest.
    """
    doc = plan.resolved().to_toml_dict()
    keep: dict[str, Any] = {k: doc.get(k) for k in _FIT_SECTIONS}
    # chains/draws/tune enter through `sampler` (plan.toml holds the ones used, --fast's too)
    keep["model"] = {
        k: v for k, v in (keep["model"] or {}).items() if k not in ("chains", "draws", "tune")
    }
    keep["sampler"] = sampler
    text = json.dumps(keep, sort_keys=True, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def code_versions(geo: bool = False) -> dict[str, str]:
    """The versions of the code that produced a fit: the package and its density kernel,
    and with ``geo`` the geo model's source stamp (a hash of its files)."""
    from omnimmm.mmm.density import KERNEL_VERSION

    try:
        package = metadata.version("omnimmm")
    except metadata.PackageNotFoundError:  # pragma: no cover - running from a source tree
        package = "unknown"
    out = {"omnimmm": package, "density_kernel": str(KERNEL_VERSION)}
    if geo:
        from omnimmm.mmm.geo.cache import SOURCE_STAMP

        out["geo_model"] = str(SOURCE_STAMP)[:16]
    return out


def model_hashes(model_dir: Path) -> dict[str, str]:
    """sha256 of every file under ``model_dir``, keyed by its path relative to it."""
    return {
        p.relative_to(model_dir).as_posix(): file_sha256(p)
        for p in sorted(model_dir.rglob("*"))
        if p.is_file()
    }


def verify_model(directory: Path, manifest: dict[str, Any]) -> str | None:
    """Why the saved model in ``directory`` cannot be trusted, or None when it can.

    Compares the files of ``directory/model`` with the hashes in ``manifest``.
    """
    recorded = manifest.get("model_files")
    if not recorded:
        return f"{directory / 'manifest.json'} records no hashes of the model's files"
    found = model_hashes(directory / "model")
    for name, digest in recorded.items():
        if name not in found:
            return f"{directory / 'model' / name} is missing"
        if found[name] != digest:
            return f"{directory / 'model' / name} changed since the run wrote it (sha256 differs)"
    extra = sorted(set(found) - set(recorded))
    if extra:
        return f"{directory / 'model' / extra[0]} was not written by the run"
    return None


@dataclass(frozen=True)
class Reuse:
    """The reuse decision: ``ok``, or the reason the model must be refitted."""

    ok: bool
    reason: str = ""


def reusable(previous: Path | None, key: str, data_hash: str, geo: bool = False) -> Reuse:
    """Whether the model in ``previous`` may be reused for a fit with ``key`` on ``data_hash``.

    Parameters
    ----------
    previous
        The run directory being replaced (None when there is none).
    key
        The new run's :func:`fit_key`.
    data_hash
        sha256 of the new run's data file.
    geo
        A geo plan (its model's code version is compared too).

    Returns
    -------
    Reuse
        ``ok`` with an empty reason, or not ok with one line saying why.
    """
    if previous is None or not (previous / "model").is_dir():
        return Reuse(False, "")
    try:
        manifest = read_manifest(previous)
    except (OSError, ValueError):
        return Reuse(False, f"{previous / 'manifest.json'} is unreadable")
    if not (previous / "result.json").is_file():
        return Reuse(False, f"{previous} has no result.json")
    if manifest.get("fit_key") != key:
        return Reuse(False, "the plan's model-relevant sections or sampler settings changed")
    if manifest.get("data", {}).get("sha256") != data_hash:
        return Reuse(False, "the data file changed")
    then, now = manifest.get("code", {}), code_versions(geo)
    if then != now:
        return Reuse(
            False,
            f"the model was fitted by other code ({_versions(then)}; this is {_versions(now)})",
        )
    problem = verify_model(previous, manifest)
    if problem is not None:
        return Reuse(False, problem)
    return Reuse(True)


def _versions(code: dict[str, Any]) -> str:
    if not code:
        return "versions not recorded"
    return ", ".join(f"{k} {v}" for k, v in sorted(code.items()))
