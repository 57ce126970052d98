"""The role matrix: who may open which page and download which export, checked on the server.

The table below is the policy written out by hand (docs/security.md); the test compares it with
``pipelines.access.can``, the router's navigation and the pages themselves, then signs in as each
role on a loaded warehouse and looks for the test data's patient identifiers in what renders.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import polars as pl
import pytest
from streamlit.testing.v1 import AppTest

from dashboard import exports
from dashboard.pages import PAGES, allowed_pages
from pipelines import schema, warehouse
from pipelines.access import accounts, audit, can
from pipelines.access.roles import PERMISSIONS, ROLES

ROOT = Path(__file__).resolve().parents[1]
PW = "a sound passphrase"

A, M, Q, C, N = "admin", "manager", "qi", "coordinator", "analyst"
#: permission -> the roles allowed (everything else is refused).
POLICY: dict[str, set[str]] = {
    "page:overview": {A, M, Q, C, N},
    "page:access_flow": {A, M, Q, N},
    "page:referrals": {A, M, Q, N},
    "page:revenue": {A, M, Q, N},
    "page:experience": {A, M, Q, N},
    "page:transitions": {A, M, Q, N},
    "page:qi": {A, M, Q, N},
    "page:worklist": {C},
    "page:data_quality": {A, M, Q, N},
    "page:model": {A, M, Q, N},
    "page:admin": {A},
    "view:phi": {C},
    "view:comments": {Q},
    "view:quarantine_values": {A},
    "export:aggregate": {A, M, Q, N},
    "export:worklist": {C},
    "export:rows_deidentified": {N},
    "edit:annotations": {M, Q},
    "record:outreach": {C},
}


def test_policy_names_every_permission():
    assert set(POLICY) == set(PERMISSIONS)


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("permission", list(POLICY))
def test_matrix(role, permission):
    assert can(role, permission) is (role in POLICY[permission])


@pytest.mark.parametrize("role", [None, "", "root", "Admin", "admin "])
def test_unknown_roles_hold_nothing(role):
    assert not any(can(role, p) for p in PERMISSIONS)
    assert allowed_pages(role) == []


def test_unknown_permission_raises():
    with pytest.raises(KeyError):
        can("admin", "page:everything")


@pytest.mark.parametrize("role", ROLES)
def test_navigation_lists_exactly_the_allowed_pages(role):
    assert [p.permission for p in allowed_pages(role)] == [p.permission for p in PAGES if role in POLICY[p.permission]]


def test_only_coordinators_see_identifiers_and_only_aggregate_roles_export_aggregates():
    """Minimum necessary, stated as invariants rather than cells."""
    for role in ROLES:
        if can(role, "view:phi"):
            assert not can(role, "export:aggregate") and not can(role, "page:admin")
        if can(role, "page:admin"):
            assert not can(role, "page:worklist") and not can(role, "view:phi")


# --- Spreadsheet-formula injection in every export format -------------------------------------------

INJECTIONS = ["=1+1", "+SUM(A1:A2)", "-2+3", "@SUM(A1)", "\t=1", "\r=1", '=HYPERLINK("http://x","y")', "=cmd|' /C calc'!A0"]


def test_csv_export_escapes_formulas():
    frame = pl.DataFrame({"text": [*INJECTIONS, "plain", "a=b"], "n": list(range(len(INJECTIONS) + 2))})
    rows = exports.to_csv_bytes(frame).decode("utf-8-sig").splitlines()
    import csv
    import io

    parsed = list(csv.reader(io.StringIO(exports.to_csv_bytes(frame).decode("utf-8-sig"))))
    values = [r[0] for r in parsed[1:]]
    assert values[: len(INJECTIONS)] == ["'" + v for v in INJECTIONS]
    assert values[-2:] == ["plain", "a=b"]
    assert rows[0].startswith("text,n")


def test_excel_export_escapes_formulas():
    import io

    import openpyxl

    frame = pl.DataFrame({"text": INJECTIONS, "n": list(range(len(INJECTIONS)))})
    book = openpyxl.load_workbook(io.BytesIO(exports.to_excel_bytes(frame)))
    cells = [row[0] for row in book.active.iter_rows(min_row=2)]
    assert all(c.data_type == "s" for c in cells)  # strings, never formulas
    # openpyxl leaves a stored carriage return in its OOXML escape form
    assert [c.value.replace("_x000D_", "\r") for c in cells] == ["'" + v for v in INJECTIONS]
