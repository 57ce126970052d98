"""The administration page (AppTest): admins manage users and browse/export the audit trail."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from carepulse import schema, warehouse
from carepulse.access import accounts, audit
from tests.dashboard_support import signed_in_as

PW = "a sound passphrase"
ADMIN_PAGE = str(Path(__file__).resolve().parents[1] / "dashboard" / "views" / "admin.py")


@pytest.fixture
def wh(settings, fast_password_hashing):
    engine = warehouse.make_engine(settings)
    schema.create_all(engine)
    accounts.create_user(engine, "root", "admin", PW, actor="test")
    accounts.create_user(engine, "mia", "manager", PW, actor="test")
    yield engine
    engine.dispose()


def signed_in(username: str) -> AppTest:
    return signed_in_as(username, app=ADMIN_PAGE, password=PW, timeout=30)


def test_manager_is_refused_the_admin_page(wh):
    at = signed_in("mia")
    assert not at.exception
    assert "does not allow this page" in at.error[0].value
    assert not at.dataframe
    assert audit.list_audit(wh, action="access.denied")["target"].to_list() == ["page:admin"]


def test_admin_adds_a_user_with_a_generated_password(wh):
    at = signed_in("root")
    assert not at.exception
    at.text_input(key="admin_new_username").input("nina")
    at.selectbox(key="admin_new_role").select("coordinator")
    at.button(key="FormSubmitter:admin_add_user-Add user").click().run()
    assert not at.exception
    password = next(w.value for w in at.warning if "shown once" in w.value).split("`")[1]
    assert accounts.authenticate(wh, "nina", password).role == "coordinator"
    assert audit.list_audit(wh, action="user.create", username="root")["target"].to_list() == ["nina"]


def test_admin_changes_role_disables_and_cannot_disable_self(wh):
    at = signed_in("root")
    at.selectbox(key="admin_target").select("mia").run()
    at.selectbox(key="admin_role").select("qi").run()
    at.button(key="admin_save_role").click().run()
    assert accounts.get_user(wh, "mia").role == "qi"
    at.button(key="admin_disable").click().run()
    assert accounts.get_user(wh, "mia").disabled
    at.selectbox(key="admin_target").select("root").run()
    assert at.button(key="admin_disable").disabled and at.selectbox(key="admin_role").disabled


def test_admin_browses_and_filters_the_audit_trail(wh):
    audit.record(wh, "mia", "export", target="overview", rows=5)
    at = signed_in("root")
    trail = at.dataframe[-1].value
    assert {"user.create", "signin", "export"} <= set(trail["action"])
    at.selectbox(key="admin_audit_action").select("signin").run()
    assert set(at.dataframe[-1].value["action"]) == {"signin"}
    at.selectbox(key="admin_audit_action").select("(all)").run()
    at.selectbox(key="admin_audit_user").select("mia").run()
    filtered = at.dataframe[-1].value
    assert list(filtered["username"]) == ["mia"] and list(filtered["rows"]) == [5]
    assert [b.label for b in at.get("download_button")] == ["CSV", "Excel"]


def test_audit_csv_export_is_escaped_and_audited(wh, deferred_downloads):
    """The admin's CSV is what the download button serves: formula cells escaped, one audit row."""
    audit.record(wh, "mia", "export", target='=HYPERLINK("http://x")', rows=1)
    at = signed_in("root")
    at.selectbox(key="admin_audit_user").select("mia").run()
    before = audit.list_audit(wh, action="export", target="audit_log").height
    csv_name = next(name for name in deferred_downloads if name.endswith(".csv"))
    payload = deferred_downloads[csv_name]().decode("utf-8-sig")
    assert "'=HYPERLINK" in payload and "\n=HYPERLINK" not in payload
    rows = audit.list_audit(wh, action="export", target="audit_log").to_dicts()
    assert len(rows) == before + 1 and rows[0]["username"] == "root" and rows[0]["rows"] == 1
