"""Lay the mapped room folders out as one ``carepulse/`` tree of links, for tools that read by path.

pyproject.toml maps each root folder to ``carepulse.<room>`` (setuptools ``package-dir``); mypy
finds modules by their path, so ``make typecheck`` checks this tree instead. Usage:
``python tools/typecheck_tree.py OUT_DIR`` (OUT_DIR is emptied first).
"""

from __future__ import annotations

import shutil
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def build(out: Path) -> None:
    package_dirs = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-dir"]
    shutil.rmtree(out, ignore_errors=True)
    top = out / "carepulse"
    top.mkdir(parents=True)
    for module in (ROOT / package_dirs["carepulse"]).glob("*.py"):
        (top / module.name).symlink_to(module)
    for name, folder in sorted(package_dirs.items()):
        if name != "carepulse" and name.count(".") == 1:
            (top / name.split(".")[1]).symlink_to(ROOT / folder, target_is_directory=True)


if __name__ == "__main__":
    build(Path(sys.argv[1]))
