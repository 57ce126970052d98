"""What `pip install .` puts in site-packages: one import name, `carepulse`, and one command."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from layout import PACKAGE_DIRS, ROOT


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> zipfile.ZipFile:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", str(out), str(ROOT)],
        check=True,
        capture_output=True,
    )
    (built,) = out.glob("carepulse-*.whl")
    return zipfile.ZipFile(built)


@pytest.mark.slow
def test_the_wheel_installs_one_top_level_name(wheel):
    tops = {name.split("/")[0] for name in wheel.namelist()}
    assert {top for top in tops if not top.endswith(".dist-info")} == {"carepulse"}
    (top_level,) = [n for n in wheel.namelist() if n.endswith("top_level.txt")]
    assert wheel.read(top_level).decode().split() == ["carepulse"]


@pytest.mark.slow
def test_every_source_module_ships_under_its_room(wheel):
    shipped = {name for name in wheel.namelist() if name.endswith(".py")}
    expected = set()
    for package, folder in PACKAGE_DIRS.items():
        for path in folder.glob("*.py"):
            expected.add("/".join([*package.split("."), path.name]))
    assert expected <= shipped
    assert "carepulse/dashboard/app.py" in shipped and "carepulse/dashboard/views/overview.py" in shipped


@pytest.mark.slow
def test_the_wheel_declares_the_command_and_the_version(wheel):
    from carepulse import __version__

    (entry_points,) = [n for n in wheel.namelist() if n.endswith("entry_points.txt")]
    assert "carepulse = carepulse.cli:main" in wheel.read(entry_points).decode()
    (metadata,) = [n for n in wheel.namelist() if n.endswith("/METADATA")]
    assert f"Version: {__version__}" in wheel.read(metadata).decode().splitlines()


def test_pyproject_maps_each_room_to_a_root_folder():
    assert {name: path.relative_to(ROOT).as_posix() for name, path in PACKAGE_DIRS.items()} == {
        "carepulse": "carepulse",
        **{
            f"carepulse.{room}": room
            for room in ("pipelines", "expectations", "metrics", "access", "records", "cli", "dashboard")
        },
    }
    assert not Path(ROOT, "src").exists()
