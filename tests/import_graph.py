"""The import graph of the shipped code, read from the source (nothing is imported or run).

Every ``import`` counts, including those inside functions: a lazy import is still a dependency.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable
from pathlib import Path

from layout import module_name, source_files


def imports_of(path: Path, module: str) -> set[str]:
    """The ``carepulse`` names that one source file imports.

    ``from package import name`` gives ``package.name`` (a submodule, or an attribute that
    :func:`import_graph` resolves back to ``package``).
    """
    tree = ast.parse(path.read_text(), filename=str(path))
    is_package = path.name == "__init__.py"
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = module.split(".")
                base = base[: len(base) - node.level + (1 if is_package else 0)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            found.update(f"{target}.{alias.name}" for alias in node.names)
    return {name for name in found if name == "carepulse" or name.startswith("carepulse.")}


def import_graph(files: Iterable[Path] | None = None) -> dict[str, set[str]]:
    """``{module: {imported carepulse modules}}``, names resolved to modules that exist."""
    files = list(files) if files is not None else source_files()
    modules = {module_name(path): path for path in files}
    graph: dict[str, set[str]] = {}
    for module, path in modules.items():
        targets = set()
        for name in imports_of(path, module):
            # ``from carepulse.metrics import compute`` names a function, not a module: keep the
            # longest prefix that is a module we know.
            while name not in modules and "." in name:
                name = name.rsplit(".", 1)[0]
            if name in modules and name != module:
                targets.add(name)
        graph[module] = targets
    return graph
