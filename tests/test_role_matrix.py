"""The role matrix: who may open which page and download which export, checked on the server.

The table below is the policy written out by hand (docs/security.md); the test compares it with
``carepulse.access.can``, the router's navigation and the pages themselves, then signs in as each
role on a loaded warehouse and looks for the test data's patient identifiers in what renders.
"""

from __future__ import annotations

import re
from pathlib import Path

import polars as pl
import pytest
from streamlit.testing.v1 import AppTest

from carepulse import schema, warehouse
from carepulse.access import accounts, audit, can
from carepulse.access.roles import PERMISSIONS, ROLES
from carepulse.dashboard import exports
from carepulse.dashboard.pages import PAGES, allowed_pages

ROOT = Path(__file__).resolve().parents[1]

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
    assert [p.permission for p in allowed_pages(role)] == [
        p.permission for p in PAGES if role in POLICY[p.permission]
    ]


def test_only_coordinators_see_identifiers_and_only_aggregate_roles_export_aggregates():
    """Minimum necessary, stated as invariants rather than cells."""
    for role in ROLES:
        if can(role, "view:phi"):
            assert not can(role, "export:aggregate") and not can(role, "page:admin")
        if can(role, "page:admin"):
            assert not can(role, "page:worklist") and not can(role, "view:phi")


# --- Spreadsheet-formula injection in every export format -------------------------------------------

INJECTIONS = [
    "=1+1",
    "+SUM(A1:A2)",
    "-2+3",
    "@SUM(A1)",
    "\t=1",
    "\r=1",
    '=HYPERLINK("http://x","y")',
    "=cmd|' /C calc'!A0",
]


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


# --- On a loaded warehouse, through the real pages -------------------------------------------------

from tests.dashboard_support import (  # noqa: E402
    copy_warehouse,
    create_account,
    loaded_warehouse_file,
    rendered_text,
    signed_in_app,
    signed_in_as,
)


@pytest.fixture
def loaded(request, tmp_path_factory, settings, fast_password_hashing):
    """A private copy of the shared loaded warehouse at this test's settings (the app opens it)."""
    copy_warehouse(loaded_warehouse_file(request, tmp_path_factory), settings)
    engine = warehouse.make_engine(settings)
    schema.create_all(engine)
    yield engine
    engine.dispose()


@pytest.fixture(scope="module")
def patient_identifiers(synthetic_dir) -> dict[str, set[str]]:
    """What must never appear on an aggregate page: full names, MRNs, phones, e-mails."""
    patients = pl.read_csv(synthetic_dir / "patients.csv", infer_schema=False)
    names = patients.select(pl.concat_str("first_name", pl.lit(" "), "last_name")).to_series()
    # A clinician may share a patient's name; clinicians' names are staff data, shown on purpose.
    staff = set(
        pl.read_csv(synthetic_dir / "providers.csv", infer_schema=False)["name"].str.replace(r"^Dr\. ", "")
    )
    return {
        "name": set(names.drop_nulls()) - staff,
        "mrn": set(patients["mrn"].drop_nulls()),
        "phone": set(patients["phone"].drop_nulls()),
        "email": set(patients["email"].drop_nulls()),
    }


def leaked(text: str, identifiers: dict[str, set[str]]) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    tokens = set(re.findall(r"[\w.+@-]+", text))
    for kind, values in identifiers.items():
        if kind == "name":
            hits = [v for v in values if v in text]
        else:
            hits = [v for v in values if v in tokens or (kind == "phone" and v in text)]
        if hits:
            found[kind] = hits[:3]
    return found


def test_identifiers_fixture_is_real(patient_identifiers):
    assert all(len(v) > 100 for k, v in patient_identifiers.items() if k != "email")
    assert leaked("call Ann at " + next(iter(patient_identifiers["phone"])), patient_identifiers)


@pytest.mark.slow
def test_manager_pages_and_exports_carry_no_patient_identifiers(
    loaded, patient_identifiers, deferred_downloads
):
    at = signed_in_app(loaded, "manager")
    assert not at.exception, [e.value for e in at.exception]
    seen = []
    for spec in allowed_pages("manager"):
        at.switch_page(spec.script).run()
        assert not at.exception, (spec.script, [e.value for e in at.exception])
        assert [t.value for t in at.title], spec.script  # the page really rendered
        assert leaked(rendered_text(at), patient_identifiers) == {}, spec.script
        seen.append(spec.script)
    assert "views/worklist.py" not in seen and "views/admin.py" not in seen
    assert deferred_downloads, "no export offered to a manager on any page"
    for file_name, build in deferred_downloads.items():
        payload = build()
        text = payload.decode("utf-8", errors="replace") if isinstance(payload, bytes) else str(payload)
        if file_name.endswith(".xlsx"):
            import io

            import openpyxl

            book = openpyxl.load_workbook(io.BytesIO(payload))
            text = "\n".join(str(c.value) for ws in book for row in ws.iter_rows() for c in row)
        assert leaked(text, patient_identifiers) == {}, file_name
    assert audit.list_audit(loaded, action="export").height == len(deferred_downloads)


REFUSED = [(role, page.script) for role in ROLES for page in PAGES if role not in POLICY[page.permission]]


@pytest.fixture
def role_accounts(sqlite_engine, fast_password_hashing):
    """One account per role (no data needed: a refused page must stop before reading any)."""
    for role in ROLES:
        create_account(
            sqlite_engine, role, username=f"test_{role}", departments="D01" if role == "coordinator" else None
        )
    return sqlite_engine


@pytest.mark.parametrize(
    ("role", "script"), REFUSED, ids=[f"{r}-{s.split('/')[-1][:-3]}" for r, s in REFUSED]
)
def test_pages_refuse_a_role_on_the_server(role_accounts, role, script):
    """A page reached directly (by URL, not the menu) checks the role itself and renders nothing."""
    from carepulse.dashboard import signin

    at = AppTest.from_file(str(ROOT / "dashboard" / script), default_timeout=60)
    user = accounts.get_user(role_accounts, f"test_{role}")
    assert user is not None and user.role == role
    at.session_state[signin.USER_KEY] = user
    at.session_state[signin.LAST_ACTIVITY_KEY] = audit.utcnow()
    at.run()
    assert not at.exception
    assert "does not allow this page" in at.error[0].value
    assert not at.title and not at.dataframe and not at.get("plotly_chart") and not at.metric
    denied = audit.list_audit(role_accounts, action="access.denied").to_dicts()
    assert len(denied) == 1 and denied[0]["username"] == f"test_{role}"


SQL_NASTY = [
    "' OR '1'='1",
    "x'; DROP TABLE appointments;--",
    '"; DELETE FROM users; --',
    "%",
    "_",
    "\\",
    "D01' --",
]


def test_sql_metacharacters_in_url_filters_and_text_fields(loaded):
    from sqlalchemy import func, select

    from carepulse.schema import EXTRACT_TABLES, annotations, users

    def counts():
        with loaded.connect() as conn:
            return [
                conn.execute(select(func.count()).select_from(t)).scalar_one()
                for t in (EXTRACT_TABLES["appointments"], users)
            ]

    params = {"department": SQL_NASTY, "site": SQL_NASTY[0], "from": SQL_NASTY[1], "to": "2026-02-30' OR 1=1"}
    at = signed_in_app(loaded, "qi", query_params=params)
    before = counts()
    assert not at.exception and [t.value for t in at.title] == ["Overview"]
    at.switch_page("views/qi.py").run()
    assert not at.exception
    title = "'); DROP TABLE annotations; -- =1+1"
    at.text_input(key="qi.ann.title").input(title)
    at.text_area(key="qi.ann.description").input(SQL_NASTY[2])
    at.button(key="qi.ann.add").click().run()
    assert not at.exception
    with loaded.connect() as conn:
        stored = conn.execute(select(annotations.c.title, annotations.c.description)).all()
    assert (title, SQL_NASTY[2]) in [tuple(r) for r in stored]  # stored verbatim, executed nowhere
    assert counts() == before


@pytest.mark.slow
def test_coordinator_sees_contact_details_only_for_assigned_departments(
    scored_warehouse_file, settings, fast_password_hashing, deferred_downloads
):
    """Minimum necessary for coordinators: names and phones of their departments' patients only,
    on screen and in the worklist export; the view is audited once as ``page.view``."""
    from carepulse.records import outreach

    copy_warehouse(scored_warehouse_file, settings)
    engine = warehouse.make_engine(settings)
    try:
        scored = outreach.scored_frames(engine)["appointments"]
        busiest = (
            scored.group_by("department_id").len().sort(["len", "department_id"], descending=[True, False])
        )
        mine, others = busiest["department_id"][0], busiest["department_id"][1:].to_list()
        in_mine = set(scored.filter(pl.col("department_id") == mine)["patient_id"])
        only_elsewhere = set(scored.filter(pl.col("department_id").is_in(others))["patient_id"]) - in_mine
        patients = warehouse.read_table(engine, "patients", columns=["patient_id", "phone", "mrn"])
        phones_elsewhere = set(
            patients.filter(pl.col("patient_id").is_in(list(only_elsewhere)))["phone"].drop_nulls()
        )
        mrns_elsewhere = set(patients.filter(pl.col("patient_id").is_in(list(only_elsewhere)))["mrn"])
        mrns_mine = set(patients.filter(pl.col("patient_id").is_in(list(in_mine)))["mrn"])
        assert phones_elsewhere and mrns_elsewhere and mrns_mine, (
            "the test data must have patients on both sides"
        )

        username = create_account(engine, "coordinator", departments=mine)
        at = signed_in_as(username, timeout=90)
        at.switch_page("views/worklist.py").run()
        assert not at.exception, [e.value for e in at.exception]
        text = rendered_text(at)
        tokens = set(re.findall(r"[\w.+@-]+", text))
        tables = [d.value for d in at.dataframe if "mrn" in d.value.columns]
        assert tables and len(tables[0]) > 0, "the coordinator's worklist shows patients with their MRN"
        assert set(tables[0]["mrn"].astype(str)) <= mrns_mine
        assert not (mrns_elsewhere & tokens) and not [p for p in phones_elsewhere if p in text]
        exported = [build() for name, build in deferred_downloads.items() if name.endswith(".csv")]
        assert exported, "the worklist offers a CSV export to coordinators"
        csv_text = exported[0].decode("utf-8-sig")
        assert not [p for p in phones_elsewhere if p in csv_text]
        views = audit.list_audit(engine, action="page.view", username=username)
        assert views.height == 1 and views["target"][0] == "worklist"
    finally:
        engine.dispose()
