"""The house's rules, checked on the code: one namespace, arrows only point down, no circles.

``LAYERS`` is the picture in docs/architecture.md as data, top floor first. A module may import
modules of its own room or of any room on a lower floor; rooms that share a floor are independent
and import neither each other nor anything above. Lazy imports inside functions count.
"""

from __future__ import annotations

import ast
import tomllib

import pytest
from import_graph import import_graph
from layout import PACKAGE_DIRS, PACKAGES, ROOT, module_name, source_files

#: Floors from the top down; each floor lists its rooms (module prefixes).
LAYERS: list[tuple[str, ...]] = [
    ("carepulse.__main__",),
    ("carepulse.cli", "carepulse.dashboard"),
    ("carepulse.records",),
    ("carepulse.pipelines", "carepulse.access"),
    ("carepulse.metrics", "carepulse.expectations"),
    ("carepulse",),  # the ground floor: contract, schema, settings, warehouse, errors
]

MAX_LINES = 400


def room_of(module: str) -> tuple[int, str]:
    """(floor index from the top, room prefix) of a module: the longest matching prefix wins."""
    best: tuple[int, str] | None = None
    for floor, rooms in enumerate(LAYERS):
        for room in rooms:
            if (module == room or module.startswith(room + ".")) and (
                best is None or len(room) > len(best[1])
            ):
                best = (floor, room)
    if best is None:
        raise ValueError(f"{module} is in no room of LAYERS")
    return best


def layer_violations(graph: dict[str, set[str]]) -> list[str]:
    """Every import that runs up a floor or sideways into a neighbouring room, as readable lines."""
    problems = []
    for source, targets in sorted(graph.items()):
        source_floor, source_room = room_of(source)
        for target in sorted(targets):
            target_floor, target_room = room_of(target)
            if target_room == source_room or target_floor > source_floor:
                continue
            way = "up" if target_floor < source_floor else "sideways"
            problems.append(f"{source} imports {target} ({way}: {source_room} -> {target_room})")
    return problems


def import_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in graph.get(node, ()):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return cycles


@pytest.fixture(scope="module")
def graph() -> dict[str, set[str]]:
    return import_graph()


def test_imports_only_point_down(graph):
    assert layer_violations(graph) == []


def test_no_import_circles(graph):
    assert import_cycles(graph) == []


def test_the_check_catches_an_upward_and_a_sideways_import(graph):
    """The rule has teeth: an ingest that imported the dashboard, or a metric that imported access."""
    edited = {module: set(targets) for module, targets in graph.items()}
    edited["carepulse.pipelines.ingest"].add("carepulse.dashboard.data")
    edited["carepulse.metrics.attendance"].add("carepulse.expectations.runner")
    edited["carepulse.contract"].add("carepulse.metrics")
    assert layer_violations(edited) == [
        "carepulse.contract imports carepulse.metrics (up: carepulse -> carepulse.metrics)",
        "carepulse.metrics.attendance imports carepulse.expectations.runner "
        "(sideways: carepulse.metrics -> carepulse.expectations)",
        "carepulse.pipelines.ingest imports carepulse.dashboard.data (up: carepulse.pipelines -> carepulse.dashboard)",
    ]
    circled = {module: set(targets) for module, targets in graph.items()}
    circled["carepulse.settings"].add("carepulse.contract")
    circled["carepulse.contract"].add("carepulse.settings")
    assert import_cycles(circled) == [["carepulse.contract", "carepulse.settings"]]


def test_the_graph_reads_lazy_and_relative_imports(tmp_path):
    """Imports inside functions and relative imports are edges too."""
    from import_graph import imports_of

    source = tmp_path / "m.py"
    source.write_text("def f():\n    from carepulse.metrics import compute\n\nfrom . import schema\n")
    assert imports_of(source, "carepulse.contract") == {"carepulse.metrics.compute", "carepulse.schema"}


def test_every_module_is_in_a_room(graph):
    for module in graph:
        room_of(module)  # raises for a module outside LAYERS


def test_code_imports_only_the_carepulse_namespace():
    """No module imports a room by its folder name (``import metrics``): that would only work from a checkout."""
    folders = {path.name for path in PACKAGE_DIRS.values()}
    offenders = []
    for path in source_files():
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
                names = [node.module]
            offenders += [
                f"{path.relative_to(ROOT)}: {n}" for n in names if n.split(".")[0] in folders - {"carepulse"}
            ]
    assert offenders == []


def test_every_package_folder_ships():
    """pyproject.toml lists each package by name (package-dir mapping); a new folder must be added there."""
    found = {module_name(path.parent / "__init__.py") for path in source_files()}
    assert found == set(PACKAGES)


def test_modules_stay_small_or_say_why():
    """No module above MAX_LINES lines unless its docstring says why (a line starting 'Size:')."""
    long = []
    for path in source_files():
        text = path.read_text()
        reason = "\n" + (ast.get_docstring(ast.parse(text)) or "")
        if text.count("\n") > MAX_LINES and "\nSize: " not in reason:
            long.append(f"{path.relative_to(ROOT)} ({text.count(chr(10))} lines)")
    assert long == []


def test_the_script_entry_point_is_the_cli():
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    assert scripts == {"carepulse": "carepulse.cli:main"}
