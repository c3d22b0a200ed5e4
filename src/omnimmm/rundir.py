"""Run directories on disk: recognising one, refusing to clobber anything else, and the
atomic build-then-rename that leaves either the new run or the old one, never a mix.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import shutil
import uuid
from collections.abc import Iterator
from importlib import metadata
from pathlib import Path
from typing import Any

from omnimmm.errors import UsageError

__all__ = ["check_out", "is_run_dir", "read_manifest", "sha256", "staging", "versions"]


def is_run_dir(path: str | Path) -> bool:
    """Whether ``path`` is a run directory written by this module."""
    manifest = Path(path) / "manifest.json"
    if not manifest.is_file():
        return False
    try:
        return json.loads(manifest.read_text(encoding="utf-8")).get("kind") == "omnimmm-run"
    except (OSError, ValueError):
        return False


def check_out(out: Path) -> Path | None:
    """The previous run in ``out`` (None if there is none); refuse to replace anything else."""
    if out.exists() and not out.is_dir():
        raise UsageError(f"--out {out}: exists and is not a directory; choose another path")
    if out.is_dir():
        if is_run_dir(out):
            return out
        if any(out.iterdir()):
            raise UsageError(
                f"--out {out}: the directory exists, is not empty and is not an omnimmm run "
                "directory; it is never overwritten. Choose a new or empty directory"
            )
    return None


@contextlib.contextmanager
def staging(out: Path, seed_from: Path | None = None) -> Iterator[Path]:
    """A hidden sibling folder to build a run in, renamed onto ``out`` on success.

    With ``seed_from`` the folder starts as a copy of that run directory. On any error the
    folder is removed and ``out`` is left as it was.
    """
    out = out.absolute()
    out.parent.mkdir(parents=True, exist_ok=True)
    tag = uuid.uuid4().hex[:8]
    work = out.parent / f".{out.name}.partial-{tag}"
    try:
        if seed_from is not None:
            shutil.copytree(seed_from, work)
        else:
            work.mkdir()
        yield work
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    old = out.parent / f".{out.name}.old-{tag}"
    if out.exists():
        out.rename(old)
    try:
        work.rename(out)
    except BaseException:
        if old.exists():
            old.rename(out)
        shutil.rmtree(work, ignore_errors=True)
        raise
    shutil.rmtree(old, ignore_errors=True)


def versions(packages: tuple[str, ...]) -> dict[str, str | None]:
    """Installed version of each package (None when absent)."""
    out: dict[str, str | None] = {}
    for pkg in packages:
        try:
            out[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            out[pkg] = None
    return out


def sha256(path: Path) -> str:
    """sha256 hex digest of a file's bytes."""
    return hashlib.sha256(path.read_bytes()).hexdigest()


def read_manifest(directory: Path) -> dict[str, Any]:
    """The run manifest of ``directory``."""
    return json.loads((directory / "manifest.json").read_text(encoding="utf-8"))
