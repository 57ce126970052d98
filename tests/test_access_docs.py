"""docs/security.md documents every role, permission, audit action and access setting."""

from __future__ import annotations

from pathlib import Path

import pytest
from layout import ROOT, source_files

from carepulse.access.audit import ACTIONS
from carepulse.access.roles import PERMISSIONS, ROLES, can

DOC = (Path(__file__).resolve().parents[1] / "docs" / "security.md").read_text()
SETTINGS = [
    "session_timeout_minutes",
    "session_absolute_hours",
    "max_failed_logins",
    "lockout_minutes",
    "oidc_role_map",
    "oidc_groups_claim",
    "oidc_default_role",
]


@pytest.mark.parametrize("name", [*ROLES, *PERMISSIONS, *ACTIONS, *SETTINGS])
def test_documented(name):
    assert f"`{name}`" in DOC or f"{name} =" in DOC


def test_matrix_table_matches_the_code():
    rows = [line for line in DOC.splitlines() if line.startswith("| `") and line.split("`")[1] in PERMISSIONS]
    assert len(rows) == len(PERMISSIONS)
    for line in rows:
        cells = [c.strip() for c in line.strip("|").split("|")]
        permission = cells[0].strip("`")
        assert cells[1 : 1 + len(ROLES)] == ["yes" if can(r, permission) else "" for r in ROLES], permission


def test_every_audited_action_in_the_code_is_documented():
    """An action recorded anywhere (``record(conn, who, "action", ...)``) is listed in ACTIONS."""
    import re

    call = re.compile(r"\b(?:record|_audit)\(\s*[\w.()]+,\s*[^,()]+(?:\([^()]*\))?,\s*\"([a-z_.]+)\"")
    used: dict[str, str] = {}
    for path in source_files():
        for action in call.findall(path.read_text()):
            used.setdefault(action, str(path.relative_to(ROOT)))
    assert {"signin", "export", "outreach.record", "annotation.create"} <= set(used)  # the scan works
    assert {a: p for a, p in used.items() if a not in ACTIONS} == {}


def test_every_threat_model_row_names_tests_that_exist():
    import re

    section = DOC.split("## Threat model (STRIDE)", 1)[1]
    rows = [line for line in section.splitlines() if line.startswith("| ") and not line.startswith("| Asset")]
    rows = [line for line in rows if not set(line) <= set("|- ")]
    assert len(rows) >= 15
    for line in rows:
        named = re.findall(r"`(tests/test_[a-z_]+\.py)`", line.rsplit("|", 2)[-2])
        assert named, line
        for path in named:
            assert (ROOT / path).exists(), path
