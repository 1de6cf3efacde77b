"""The product's import graph, read from the source with `ast`: no cycles, no imports of
product modules inside functions (the usual way to hide a cycle), and imports that point
one way, down the layers of docs/architecture.md, and no module importing another's
private (`_underscored`) names:

    http, commands  >  governance, worker, dashboard  >  resources  >  store, queue,
    rules source, telemetry  >  connector, rules  >  config  >  the model (connector.model,
    connector.errors, connector.labels)

The service package never imports the demo or a sandbox tracker."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support.helpers import ROOT

PACKAGES = ("config", "connector", "rules", "webhooks", "demo")  # walked
TEST_TRACKERS = ("sandbox",)  # not walked: only checked that the service never imports it

# (importing module, imported module) -> why it must happen inside a function.
LOCAL_IMPORTS_ALLOWED = {
    ("webhooks.commands.serve", "webhooks.http.app"): (
        "prometheus_client picks its storage when first imported; serve points "
        "PROMETHEUS_MULTIPROC_DIR at a fresh folder first, then loads the app"
    ),
}

# Module prefix -> layer; the longest matching prefix wins. An import may only go to
# the same layer or a lower one.
LAYERS = {
    "connector.model": 0,  # the common model, and what any layer may raise or check
    "connector.errors": 0,
    "connector.labels": 0,
    "config": 1,
    "connector": 2,
    "rules": 2,
    "webhooks.telemetry": 3,
    "webhooks.store": 3,
    "webhooks.queue": 3,
    "webhooks.rulesource": 3,
    "webhooks.resources": 4,
    "webhooks.governance": 5,
    "webhooks.worker": 5,
    "webhooks.dashboard": 5,
    "webhooks.http": 6,
    "webhooks.commands": 6,
    "webhooks": 6,
    "demo": 7,
    "sandbox": 7,
}
# Within a layer: the worker runs governance; governance asks the worker only through
# the FollowUps protocol.
FORBIDDEN = {
    "webhooks.governance": ("webhooks.worker",),
    "webhooks": ("demo", "sandbox"),
    "connector": ("sandbox", "demo"),
    "rules": ("sandbox", "demo", "webhooks"),
}


@dataclass(frozen=True)
class Import:
    source: str
    target: str
    line: int
    local: bool
    names: tuple[str, ...] = ()


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            if "migrations" not in path.parts:
                found[_module_name(path)] = path
    return found


MODULES = _modules()


def _is_product(name: str) -> bool:
    return name.split(".")[0] in (*PACKAGES, *TEST_TRACKERS)


def _resolve(module: str, base: str, level: int, is_package: bool) -> str:
    if not level:
        return module
    parts = base.split(".")
    if not is_package:
        parts = parts[:-1]
    parts = parts[: len(parts) - (level - 1)]
    return ".".join([*parts, module] if module else parts)


def imports_of(name: str, path: Path) -> Iterator[Import]:
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    parents: dict[ast.AST, ast.AST] = {}
    for node in ast.walk(tree):
        for child in ast.iter_child_nodes(node):
            parents[child] = node

    def inside_function(node: ast.AST) -> bool:
        while node in parents:
            node = parents[node]
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
                return True
        return False

    for node in ast.walk(tree):
        names: tuple[str, ...] = ()
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = _resolve(node.module or "", name, node.level, path.name == "__init__.py")
            # `from package import module` imports the module; else the names live in base
            targets = [
                f"{base}.{alias.name}" if f"{base}.{alias.name}" in MODULES else base
                for alias in node.names
            ]
            names = tuple(alias.name for alias in node.names)
        else:
            continue
        for target in dict.fromkeys(targets):
            if _is_product(target):
                yield Import(name, target, node.lineno, inside_function(node), names)


GRAPH = {name: list(imports_of(name, path)) for name, path in MODULES.items()}


def _layer(name: str) -> int:
    best = max((p for p in LAYERS if name == p or name.startswith(p + ".")), key=len)
    return LAYERS[best]


def _cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in edges.get(node, ()):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1 or node in edges.get(node, ()):
                found.append(sorted(component))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return found


def test_the_graph_covers_every_product_package():
    assert {name.split(".")[0] for name in GRAPH} == set(PACKAGES)
    assert sum(len(found) for found in GRAPH.values()) > 300  # the walk sees the imports


def test_no_import_cycles():
    edges = {
        name: {i.target for i in found if i.target in MODULES} for name, found in GRAPH.items()
    }
    assert _cycles(edges) == []


def test_the_cycle_check_finds_a_cycle():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_no_function_local_imports_of_product_modules():
    local = [
        f"{i.source}:{i.line} imports {i.target}"
        for found in GRAPH.values()
        for i in found
        if i.local and (i.source, i.target) not in LOCAL_IMPORTS_ALLOWED
    ]
    assert local == []


@pytest.mark.parametrize("pair", sorted(LOCAL_IMPORTS_ALLOWED))
def test_each_allowed_local_import_is_still_needed(pair):
    source, target = pair
    assert any(i.local and i.target == target for i in GRAPH[source]), pair


def test_imports_point_down_the_layers():
    upward = [
        f"{i.source}:{i.line} imports {i.target}"
        for found in GRAPH.values()
        for i in found
        if _layer(i.target) > _layer(i.source)
    ]
    assert upward == []


def test_no_forbidden_imports():
    forbidden = [
        f"{i.source}:{i.line} imports {i.target}"
        for found in GRAPH.values()
        for i in found
        for prefix, banned in FORBIDDEN.items()
        if (i.source == prefix or i.source.startswith(prefix + "."))
        and any(i.target == b or i.target.startswith(b + ".") for b in banned)
    ]
    assert forbidden == []


def test_no_private_names_cross_modules():
    """A module's `_names` are its own: what another module needs is public."""
    private = [
        f"{i.source}:{i.line} imports {name} from {i.target}"
        for found in GRAPH.values()
        for i in found
        for name in i.names
        if name.startswith("_")
    ]
    assert private == []
