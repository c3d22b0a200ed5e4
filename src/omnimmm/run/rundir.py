"""Run directories on disk: recognising one, refusing to clobber anything else, one writer at
a time, and a build-then-swap that leaves either the new run or the old one, never a mix.

A run into ``DIR`` works like this:

1. :func:`lock` takes an exclusive lock on ``.DIR.lock`` next to ``DIR`` (``flock``: the
   kernel releases it when the process dies, even by SIGKILL, so a killed run never blocks
   the next one). A second run into the same ``DIR`` exits at once, naming the process that
   holds the lock.
2. Under the lock, :func:`clean_stale` removes the hidden work folders that killed runs left
   behind (``.DIR.partial-*``, ``.DIR.old-*``).
3. :func:`staging` builds the new run in ``.DIR.partial-<tag>`` and, when everything
   succeeded, swaps it with ``DIR`` in one atomic ``renameat2(RENAME_EXCHANGE)`` where the
   file system supports it (Linux), so a kill at any instant leaves ``DIR`` either exactly as
   it was or complete and new. Elsewhere it falls back to two renames, and a run killed
   between them is repaired by the next run's :func:`clean_stale`.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import datetime as dt
import errno
import json
import os
import shutil
import socket
import sys
import uuid
from collections.abc import Iterator
from importlib import metadata
from pathlib import Path
from typing import Any

from omnimmm.errors import RunDirBusyError, UsageError

__all__ = [
    "check_out",
    "clean_stale",
    "is_run_dir",
    "lock",
    "read_manifest",
    "staging",
    "versions",
    "write_json",
]


def is_run_dir(path: str | Path) -> bool:
    """Whether ``path`` is a run directory written by omnimmm."""
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


def _lock_path(out: Path) -> Path:
    return out.parent / f".{out.name}.lock"


@contextlib.contextmanager
def lock(out: Path, command: str = "run") -> Iterator[Path]:
    """Hold the run directory ``out`` for one writer; yields the lock file's path.

    Raises
    ------
    RunDirBusyError
        Another process holds the lock; the message names it (pid, host, command, start).
    """
    out = out.absolute()
    out.parent.mkdir(parents=True, exist_ok=True)
    path = _lock_path(out)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        if not _try_flock(fd):
            raise RunDirBusyError(_busy_message(out, path))
        info = {
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "command": command,
            "started": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        }
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(info).encode("utf-8"), 0)
        try:
            yield path
        finally:
            # Unlink while still holding the lock: a run that opened the old file fails its
            # flock and says the directory is busy; one that comes later makes a new file.
            with contextlib.suppress(OSError):
                path.unlink()
    finally:
        os.close(fd)


def _try_flock(fd: int) -> bool:
    if sys.platform == "win32":  # pragma: no cover - no flock; O_EXCL-free best effort
        return True
    import fcntl

    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as exc:
        if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
            return False
        raise
    return True


def _busy_message(out: Path, path: Path) -> str:
    try:
        info = json.loads(path.read_text(encoding="utf-8") or "{}")
    except (OSError, ValueError):
        info = {}
    who = (
        f"process {info['pid']} on {info.get('host', '?')} (omnimmm {info.get('command', '?')}, "
        f"started {info.get('started', '?')})"
        if "pid" in info
        else "another process"
    )
    return (
        f"--out {out}: another omnimmm run is writing this directory: {who}. Wait for it to "
        f"finish or stop it, or choose another --out (the lock is {path}; it is released "
        "when that process ends)"
    )


def clean_stale(out: Path) -> list[Path]:
    """Remove work folders that killed runs left next to ``out``; call it under :func:`lock`.

    If ``out`` is missing but a folder the fallback swap had moved it to survives (a kill
    between its two renames), that folder is put back first.

    Returns
    -------
    list of Path
        The folders removed.
    """
    out = out.absolute()
    if not out.parent.is_dir():
        return []
    olds = sorted(out.parent.glob(f".{out.name}.old-*"), key=lambda p: p.stat().st_mtime)
    if not out.exists() and olds:
        olds.pop().rename(out)
    stale = olds + sorted(out.parent.glob(f".{out.name}.partial-*"))
    for folder in stale:
        shutil.rmtree(folder, ignore_errors=True)
    return stale


_RENAME_EXCHANGE = 2
_AT_FDCWD = -100


def _exchange(a: Path, b: Path) -> bool:
    """Atomically swap two paths (Linux ``renameat2``); False where that is unsupported."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):
        return False
    renameat2.argtypes = [
        ctypes.c_int,
        ctypes.c_char_p,
        ctypes.c_int,
        ctypes.c_char_p,
        ctypes.c_uint,
    ]
    rc = renameat2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE)
    if rc == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.ENOSYS, errno.EINVAL, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EXDEV):
        return False
    raise OSError(err, os.strerror(err), str(b))


@contextlib.contextmanager
def staging(out: Path, seed_from: Path | None = None) -> Iterator[Path]:
    """A hidden sibling folder to build a run in, swapped onto ``out`` on success.

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
    _publish(work, out, out.parent / f".{out.name}.old-{tag}")


def _publish(work: Path, out: Path, old: Path) -> None:
    if not out.exists():
        work.rename(out)
        return
    if _exchange(work, out):
        # ``work`` now holds the previous run: drop it.
        shutil.rmtree(work, ignore_errors=True)
        return
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


def read_manifest(directory: Path) -> dict[str, Any]:
    """The run manifest of ``directory``."""
    data: dict[str, Any] = json.loads((directory / "manifest.json").read_text(encoding="utf-8"))
    return data


def write_json(path: Path, doc: dict[str, Any]) -> None:
    """Write ``doc`` as indented UTF-8 JSON."""
    path.write_text(json.dumps(doc, indent=2, ensure_ascii=False), encoding="utf-8")
