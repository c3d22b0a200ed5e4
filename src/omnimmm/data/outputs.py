"""Writing a command's output files so that a reader never sees half of them.

Every file is written into a temporary folder beside the output folder first. A new output
folder is then renamed into place whole; into an existing one each file is moved with
``os.replace`` (atomic per file), so files of an earlier run that this one does not write
are kept. The run directory of ``omnimmm run`` has its own, stricter swap
(:mod:`omnimmm.run.rundir`); this is for the single-purpose commands (lifecycle, journeys).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path

__all__ = ["FileBody", "write_files_atomic"]

#: A file's content: text (written as UTF-8), bytes, or a function that writes the file at
#: the path it is given (for large tables, e.g. ``lambda p: frame.to_csv(p, index=False)``).
FileBody = str | bytes | Callable[[Path], None]


def write_files_atomic(out: str | Path, files: Mapping[str, FileBody]) -> list[Path]:
    """Write ``files`` (name -> content) into the folder ``out``, all or nothing.

    Parameters
    ----------
    out : str or pathlib.Path
        The output folder; created with its parents when missing.
    files : mapping of str to str, bytes or callable
        File names inside ``out`` and their contents (see :data:`FileBody`).

    Returns
    -------
    list of pathlib.Path
        The written files, in the order given.
    """
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}-", dir=out.parent))
    try:
        for name, body in files.items():
            path = tmp / name
            if isinstance(body, bytes):
                path.write_bytes(body)
            elif isinstance(body, str):
                path.write_text(body, encoding="utf-8")
            else:
                body(path)
        if not out.exists():
            umask = os.umask(0)
            os.umask(umask)
            os.chmod(tmp, 0o777 & ~umask)  # mkdtemp's 0700 would stay on the renamed folder
            os.replace(tmp, out)
        else:
            for name in files:
                os.replace(tmp / name, out / name)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return [out / name for name in files]
