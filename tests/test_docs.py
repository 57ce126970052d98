"""The README documents every command and every setting (Datasette style): a new one fails here."""

from __future__ import annotations

import re
from pathlib import Path

import typer.main

from carepulse.cli import app
from carepulse.settings import Settings

README = (Path(__file__).resolve().parents[1] / "README.md").read_text()


def _command_names() -> list[str]:
    group = typer.main.get_command(app)
    return sorted(group.commands)


def test_every_command_is_in_the_readme():
    missing = [
        name for name in _command_names() if not re.search(rf"carepulse [^\n]*\b{re.escape(name)}\b", README)
    ]
    assert not missing, f"commands missing from README.md: {missing}"


def test_every_setting_is_in_the_readme():
    missing = [name for name in Settings.model_fields if f"`{name}`" not in README]
    assert not missing, f"settings missing from README.md's settings table: {missing}"


def test_readme_quick_start_has_the_two_commands_ci_runs():
    assert "make demo" in README and "make test" in README
    ci = (Path(__file__).resolve().parents[1] / ".ci" / "run").read_text()
    assert re.search(r"^make test$", ci, flags=re.M), ".ci/run must call the README's test command"


def test_every_doc_is_listed_in_the_readme():
    docs = sorted(p.name for p in (Path(__file__).resolve().parents[1] / "docs").glob("*.md"))
    missing = [name for name in docs if f"(docs/{name})" not in README]
    assert not missing, f"docs missing from README.md's documentation table: {missing}"
