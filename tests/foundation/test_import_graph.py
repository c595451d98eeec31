"""The import graph has no loops: no two packages import each other, directly or round a longer circle, and no two
modules do. Read from the source with `ast` (imports inside functions count: a lazy import still runs the other
way), so the test needs nothing imported and catches an arrow the moment it is written.

A node of the package graph is a first-level package (`pipelines.stack`, everything below it included) or a
first-level module (`pipelines.config`, `jobs.dwd`); `from pipelines.push import state` is an arrow to the
module `pipelines.push.state`, not to the package's `__init__`.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("pipelines", "jobs", "dagster_project")


def module_files(root: Path) -> dict[str, Path]:
    files = {}
    for package in PACKAGES:
        for path in sorted((root / package).rglob("*.py")):
            parts = list(path.relative_to(root).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            files[".".join(parts)] = path
    return files


def imported_modules(name: str, path: Path, modules: dict[str, Path]) -> set[str]:
    """The modules of `modules` that `name` imports anywhere in its body."""
    package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = ".".join(package[: len(package) - node.level + 1] + [node.module or ""]).strip(".") if node.level else node.module
            submodules = {f"{base}.{alias.name}" for alias in node.names} & modules.keys()
            found.update(submodules)
            if len(submodules) < len(node.names):  # some names are attributes of `base` itself
                found.add(base)
    return {target for target in found if target in modules and target != name}


def module_graph(root: Path) -> dict[str, set[str]]:
    modules = module_files(root)
    return {name: imported_modules(name, path, modules) for name, path in modules.items()}


def package_of(module: str) -> str:
    return ".".join(module.split(".")[:2])


def package_graph(modules: dict[str, set[str]]) -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {}
    for source, targets in modules.items():
        graph.setdefault(package_of(source), set()).update(package_of(target) for target in targets)
    for package, targets in graph.items():
        targets.discard(package)
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """One circle through each strongly connected group of two or more nodes (Tarjan), e.g. [a, b, a]."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    groups: list[set[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for target in sorted(graph.get(node, ())):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            group = set()
            while True:
                member = stack.pop()
                group.add(member)
                if member == node:
                    break
            if len(group) > 1:
                groups.append(group)

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return [circle_through(graph, group) for group in groups]


def circle_through(graph: dict[str, set[str]], group: set[str]) -> list[str]:
    """A shortest circle from the group's first node back to it, inside the group (breadth first)."""
    start = min(group)
    paths = {start: [start]}
    frontier = [start]
    while frontier:
        following = []
        for node in frontier:
            for target in sorted(graph.get(node, set()) & group):
                if target == start:
                    return paths[node] + [start]
                if target not in paths:
                    paths[target] = paths[node] + [target]
                    following.append(target)
        frontier = following
    raise AssertionError(f"{sorted(group)} is strongly connected but has no circle through {start}")


def named(circles: list[list[str]]) -> str:
    return "; ".join(" -> ".join(circle) for circle in circles)


def test_no_package_imports_another_that_imports_it_back():
    circles = cycles(package_graph(module_graph(ROOT)))
    assert not circles, f"import cycles between packages: {named(circles)}"


def test_no_module_imports_another_that_imports_it_back():
    circles = cycles(module_graph(ROOT))
    assert not circles, f"import cycles between modules: {named(circles)}"


@pytest.fixture
def looped_tree(tmp_path: Path) -> Path:
    """A tree with the loops this test exists for: a lazy import back up, and `from . import`."""
    files = {
        "pipelines/__init__.py": "",
        "pipelines/config.py": "",
        "pipelines/stack/__init__.py": "",
        "pipelines/stack/manager.py": "from pipelines import config\nfrom pipelines.flinkrun.session import start\n",
        "pipelines/flinkrun/__init__.py": "",
        "pipelines/flinkrun/session.py": "def start():\n    from pipelines.stack.manager import free_port\n",
        "pipelines/push/__init__.py": "",
        "pipelines/push/runner.py": "from . import reconcile\n",
        "pipelines/push/reconcile.py": "from .runner import files_dir\n",
        "jobs/__init__.py": "",
        "dagster_project/__init__.py": "",
    }
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    return tmp_path


def test_the_graph_names_each_loop(looped_tree: Path):
    modules = module_graph(looped_tree)
    assert modules["pipelines.stack.manager"] == {"pipelines.config", "pipelines.flinkrun.session"}
    assert named(cycles(package_graph(modules))) == "pipelines.flinkrun -> pipelines.stack -> pipelines.flinkrun"
    assert named(cycles(modules)) == (
        "pipelines.flinkrun.session -> pipelines.stack.manager -> pipelines.flinkrun.session; "
        "pipelines.push.reconcile -> pipelines.push.runner -> pipelines.push.reconcile"
    )
