"""Plain TOML writing for plans (``dump_plan``): the subset of TOML a plan needs.

Bare keys where TOML allows them, JSON-quoted otherwise; tables in field order, with
inline tables inside arrays of tables (plans have no deeper arrays).
"""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path
from typing import Any

__all__ = ["plain", "toml_key", "toml_text"]


def plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    if isinstance(value, Path):
        return str(value)
    return value


_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")


def toml_key(name: str) -> str:
    return name if _BARE_KEY.fullmatch(name) else json.dumps(name, ensure_ascii=False)


def _is_table_array(value: Any) -> bool:
    return isinstance(value, list) and bool(value) and all(isinstance(v, dict) for v in value)


def toml_text(doc: dict[str, Any]) -> str:
    lines: list[str] = []
    _write_table(lines, (), doc)
    return "\n".join(lines).strip() + "\n"


def _write_table(lines: list[str], prefix: tuple[str, ...], table: dict[str, Any]) -> None:
    """Write a table's plain keys, then its sub-tables and arrays of tables in field order.

    Tables inside an array-of-tables item are written inline; the plan has no deeper arrays.
    """
    for k, v in table.items():
        if not isinstance(v, dict) and not _is_table_array(v):
            lines.append(f"{toml_key(k)} = {_value(v)}")
    for k, v in table.items():
        path = ".".join(toml_key(p) for p in (*prefix, k))
        if isinstance(v, dict):
            has_plain = any(not isinstance(x, dict) for x in v.values())
            if has_plain or not v:
                lines += ["", f"[{path}]"]
            _write_table(lines, (*prefix, k), v)
        elif _is_table_array(v):
            for item in v:
                lines += ["", f"[[{path}]]"]
                lines += [f"{toml_key(ik)} = {_value(iv)}" for ik, iv in item.items()]


def _value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int | float):
        return repr(v)
    if isinstance(v, str):
        return json.dumps(v, ensure_ascii=False)
    if isinstance(v, dt.date):
        return v.isoformat()
    if isinstance(v, list):
        return "[" + ", ".join(_value(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{ " + ", ".join(f"{toml_key(k)} = {_value(x)}" for k, x in v.items()) + " }"
    raise TypeError(f"cannot write {type(v).__name__} to TOML")
