"""A small TOML writer for plans (the standard library's ``tomllib`` only reads)."""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np

__all__ = ["dumps_toml"]


def dumps_toml(doc: dict[str, Any], header: str = "") -> str:
    """Serialize a plan-shaped dict to TOML (``tomllib`` only reads).

    Supports what plans use: top-level scalars and arrays, tables of scalars and arrays,
    and arrays of such tables. Keys keep their order.
    """
    lines = [f"# {line}" for line in header.splitlines()]
    scalars = {k: v for k, v in doc.items() if not _is_table(v) and not _is_table_array(v)}
    lines += [f"{k} = {_toml_value(v)}" for k, v in scalars.items()]
    for key, value in doc.items():
        if _is_table(value):
            lines += ["", f"[{key}]"] + [f"{k} = {_toml_value(v)}" for k, v in value.items()]
        elif _is_table_array(value):
            for item in value:
                lines += ["", f"[[{key}]]"] + [f"{k} = {_toml_value(v)}" for k, v in item.items()]
    return "\n".join(lines) + "\n"


def _is_table(value: Any) -> bool:
    return isinstance(value, dict)


def _is_table_array(value: Any) -> bool:
    return isinstance(value, list) and bool(value) and all(isinstance(v, dict) for v in value)


def _toml_value(value: Any) -> str:
    if isinstance(value, bool | np.bool_):
        return "true" if value else "false"
    if isinstance(value, int | np.integer):
        return str(int(value))
    if isinstance(value, float | np.floating):
        if not math.isfinite(value):
            raise ValueError(f"TOML plan values must be finite, got {value!r}")
        return repr(float(value))
    if isinstance(value, str):
        return json.dumps(value)  # a TOML basic string: same escapes as JSON
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    raise TypeError(f"cannot write {type(value).__name__} to a TOML plan: {value!r}")
