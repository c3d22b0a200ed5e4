"""The package's import graph: no cycles between modules, and the layering rules of
docs/architecture.md (who may import whom), read from the source with ``ast``.

Every import statement counts, also those inside functions and under ``TYPE_CHECKING``:
a cycle hidden in a function body is still a cycle a reader has to untangle.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"
PACKAGE = "omnimmm"


def _modules() -> dict[str, Path]:
    out = {}
    for path in sorted((SRC / PACKAGE).rglob("*.py")):
        parts = list(path.relative_to(SRC).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = path
    return out


MODULES = _modules()


def _is_package(name: str) -> bool:
    return MODULES[name].name == "__init__.py"


def _imports(name: str) -> Iterator[str]:
    """Every module name ``name`` imports (absolute; relative imports resolved)."""
    tree = ast.parse(MODULES[name].read_text(encoding="utf-8"))
    base = name if _is_package(name) else name.rpartition(".")[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parent = base.split(".")
                parent = parent[: len(parent) - node.level + 1]
                module = ".".join(parent + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            for alias in node.names:
                sub = f"{module}.{alias.name}"
                yield sub if sub in MODULES else module


def _graph() -> dict[str, set[str]]:
    """Edges between the package's own modules (an import of ``a.b`` where ``a.b`` is not a
    module of ours points at the nearest enclosing module that is)."""
    graph: dict[str, set[str]] = {}
    for name in MODULES:
        edges = set()
        for target in _imports(name):
            while target and target not in MODULES:
                target = target.rpartition(".")[0]
            if target and target != name and target.startswith(PACKAGE + "."):
                edges.add(target)
        graph[name] = edges
    return graph


def _external(name: str) -> set[str]:
    return {t.split(".")[0] for t in _imports(name) if not t.startswith(PACKAGE)}


GRAPH = _graph()


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = 0
    for root in graph:
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    top = stack.pop()
                    on_stack.discard(top)
                    component.append(top)
                    if top == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def _reach(name: str) -> set[str]:
    seen: set[str] = set()
    todo = [name]
    while todo:
        for nxt in GRAPH[todo.pop()]:
            if nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    return seen


def _in(module: str, *packages: str) -> bool:
    return any(module == p or module.startswith(p + ".") for p in packages)


def test_the_graph_sees_the_package() -> None:
    # A parser that found nothing would pass every rule below.
    assert len(MODULES) > 40
    assert "omnimmm.mmm.analysis" in GRAPH["omnimmm.mmm.fit"]
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []


def test_no_import_cycles_between_modules() -> None:
    cycles = _cycles(GRAPH)
    assert not cycles, "import cycles:\n" + "\n".join(" <-> ".join(c) for c in cycles)


# (importer package, what it must never reach, directly or through other modules)
_NEVER = [
    ("omnimmm.optimize", ("omnimmm.mmm",), "the optimizer depends on a response protocol"),
    ("omnimmm.lifecycle", ("omnimmm.mmm",), "lifecycle models know nothing of the MMM"),
    ("omnimmm.journeys", ("omnimmm.mmm",), "journeys know nothing of the MMM"),
    ("omnimmm.data", ("omnimmm.mmm", "omnimmm.lifecycle", "omnimmm.optimize",
                      "omnimmm.report"), "data is below every model"),
    ("omnimmm.transforms", ("omnimmm.mmm", "omnimmm.data"), "transforms are pure functions"),
    ("omnimmm.config", ("omnimmm.mmm", "omnimmm.lifecycle", "omnimmm.optimize",
                        "omnimmm.report", "omnimmm.data"), "the plan model is the bottom layer"),
    ("omnimmm.plan_toml", ("omnimmm.config", "omnimmm.mmm", "omnimmm.data"),
     "the TOML writer is below the plan model"),
]  # fmt: skip
_ORCHESTRATION = ("omnimmm.run", "omnimmm.cli")
_MODELS = (
    "omnimmm.mmm", "omnimmm.lifecycle", "omnimmm.journeys", "omnimmm.optimize",
    "omnimmm.data", "omnimmm.report", "omnimmm.transforms", "omnimmm.config",
    "omnimmm.plan_toml",
)  # fmt: skip


@pytest.mark.parametrize("importer,forbidden,why", _NEVER, ids=[r[0] for r in _NEVER])
def test_layering(importer: str, forbidden: tuple[str, ...], why: str) -> None:
    bad = {
        (name, hit)
        for name in MODULES
        if _in(name, importer)
        for hit in _reach(name)
        if _in(hit, *forbidden)
    }
    assert not bad, f"{why}; found: " + ", ".join(f"{a} -> {b}" for a, b in sorted(bad))


def test_models_know_no_orchestration() -> None:
    bad = sorted(
        (name, hit)
        for name in MODULES
        if _in(name, *_MODELS)
        for hit in GRAPH[name]
        if _in(hit, *_ORCHESTRATION)
    )
    assert not bad, "models import orchestration: " + ", ".join(f"{a} -> {b}" for a, b in bad)


@pytest.mark.parametrize("package", ["omnimmm.lifecycle", "omnimmm.journeys", "omnimmm.optimize"])
def test_light_packages_never_reach_pymc(package: str) -> None:
    heavy = {"pymc", "pytensor", "nutpie", "numba"}
    # transforms imports pytensor only when the caller already has (its tensors in hand):
    # the run-time test below checks that a light import stays light.
    allowed = {"omnimmm.transforms": {"pytensor"}}
    bad = sorted(
        (name, ext)
        for name in MODULES
        if _in(name, package)
        for reached in {name} | _reach(name)
        for ext in (_external(reached) & heavy) - allowed.get(reached, set())
    )
    assert not bad, f"{package} reaches " + ", ".join(f"{a} ({b})" for a, b in bad)


def test_lifecycle_imports_without_pymc_at_run_time() -> None:
    # The static rule above, confirmed by the interpreter.
    code = (
        "import sys, omnimmm.lifecycle, omnimmm.optimize, omnimmm.cli\n"
        "heavy = sorted(m for m in ('pymc', 'pytensor', 'nutpie') if m in sys.modules)\n"
        "assert not heavy, heavy"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


def test_no_module_is_over_800_lines() -> None:
    long = {
        name: n
        for name, path in MODULES.items()
        if (n := len(path.read_text(encoding="utf-8").splitlines())) > 800
    }
    assert not long, f"modules over 800 lines (split them along their seams): {long}"
