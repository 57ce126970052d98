"""The project's rooms as pyproject.toml maps them: import name -> folder at the repository root.

pyproject.toml is the one place that says which folder is which ``carepulse.<room>``; tests that
scan the source read it here instead of listing folders of their own.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
_PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())

PACKAGE_DIRS: dict[str, Path] = {
    name: ROOT / folder for name, folder in _PYPROJECT["tool"]["setuptools"]["package-dir"].items()
}
PACKAGES: list[str] = _PYPROJECT["tool"]["setuptools"]["packages"]


def source_files() -> list[Path]:
    """Every Python module that ships in the distribution."""
    return sorted(path for folder in PACKAGE_DIRS.values() for path in folder.rglob("*.py"))


def module_name(path: Path) -> str:
    """``carepulse.<room>.<module>`` for a source file."""
    for name, folder in sorted(PACKAGE_DIRS.items(), key=lambda item: -len(str(item[1]))):
        if folder in path.parents or path.parent == folder:
            parts = path.relative_to(folder).with_suffix("").parts
            if parts[-1] == "__init__":
                parts = parts[:-1]
            return ".".join((name, *parts))
    raise ValueError(f"{path} is not in a package folder")
