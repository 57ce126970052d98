"""The sign-in gate (Streamlit AppTest): nothing renders before sign-in; log-off after inactivity."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from streamlit.testing.v1 import AppTest

from carepulse import warehouse
from carepulse.access import accounts, audit
from carepulse.dashboard import signin

PW = "a sound passphrase"

GUARDED_PAGE = """
import streamlit as st
from carepulse.dashboard.signin import require_user

user = require_user()
st.title("Protected page")
st.write(f"content for {user.username} as {user.role}")
"""


@pytest.fixture
def wh(settings, fast_password_hashing):
    """The warehouse the app will open (settings' URL), with accounts."""
    engine = warehouse.make_engine(settings)
    from carepulse import schema

    schema.create_all(engine)
    accounts.create_user(engine, "alice", "manager", PW, actor="test")
    accounts.create_user(engine, "carl", "coordinator", PW, actor="test", departments="D01")
    yield engine
    engine.dispose()


def app() -> AppTest:
    at = AppTest.from_string(GUARDED_PAGE, default_timeout=30)
    at.run()
    return at


def texts(at: AppTest) -> str:
    parts = (
        [e.value for e in at.title] + [str(m.value) for m in at.markdown] + [str(e.value) for e in at.error]
    )
    return "\n".join(parts)


def sign_in(at: AppTest, username: str, password: str) -> AppTest:
    at.text_input(key="signin_username").input(username)
    at.text_input(key="signin_password").input(password)
    at.button[0].click()
    return at.run()


def actions(engine) -> list[str]:
    return audit.list_audit(engine)["action"].to_list()[::-1]


def test_anonymous_visitor_sees_only_the_sign_in(wh):
    at = app()
    assert not at.exception
    assert "Protected page" not in texts(at)
    assert [t.label for t in at.text_input] == ["Username", "Password"]
    assert (
        at.text_input(key="signin_password").proto.type == at.text_input(key="signin_password").proto.PASSWORD
    )
    assert len(at.sidebar) == 0  # no navigation, no user controls


def test_wrong_password_is_refused_and_audited(wh):
    at = sign_in(app(), "alice", "not the password")
    assert "Protected page" not in texts(at)
    assert "Sign-in failed" in at.error[0].value
    assert actions(wh) == ["user.create", "user.create", "signin.failed"]


def test_correct_password_signs_in(wh):
    at = sign_in(app(), "alice", PW)
    assert not at.exception
    assert "content for alice as manager" in texts(at)
    assert "Signed in as **alice** (manager)" in [c.value for c in at.sidebar.caption]
    assert actions(wh) == ["user.create", "user.create", "signin"]
    at.run()  # a further click stays signed in and writes no audit row
    assert "Protected page" in texts(at) and actions(wh) == ["user.create", "user.create", "signin"]


def test_lock_out_through_the_form(wh, settings):
    at = app()
    for _ in range(settings.max_failed_logins):
        sign_in(at, "alice", "not the password")
    sign_in(at, "alice", PW)
    assert "Protected page" not in texts(at)
    assert accounts.get_user(wh, "alice").locked_until is not None


def test_inactivity_logs_out(wh, settings):
    at = sign_in(app(), "alice", PW)
    at.session_state[signin.LAST_ACTIVITY_KEY] = signin.now() - timedelta(
        minutes=settings.session_timeout_minutes - 1
    )
    at.run()
    assert "Protected page" in texts(at)  # still within the timeout
    at.session_state[signin.LAST_ACTIVITY_KEY] = signin.now() - timedelta(
        minutes=settings.session_timeout_minutes + 1
    )
    at.run()
    assert "Protected page" not in texts(at)
    assert "signed out after 15 minutes" in at.info[0].value
    assert signin.USER_KEY not in at.session_state
    rows = audit.list_audit(wh, action="signout.timeout").to_dicts()
    assert len(rows) == 1 and rows[0]["username"] == "alice"
    assert json.loads(rows[0]["detail"])["idle_minutes"] == settings.session_timeout_minutes + 1


def test_sign_out_button(wh):
    at = sign_in(app(), "alice", PW)
    at.sidebar.button(key="carepulse_sign_out").click().run()
    assert "Protected page" not in texts(at)
    assert actions(wh) == ["user.create", "user.create", "signin", "signout"]


def test_disabling_an_account_ends_its_session_and_role_changes_apply(wh):
    at = sign_in(app(), "alice", PW)
    accounts.set_role(wh, "alice", "analyst", actor="admin")
    at.run()
    assert "content for alice as analyst" in texts(at)
    accounts.disable_user(wh, "alice", actor="admin")
    at.run()
    assert "Protected page" not in texts(at)
    assert "disabled" in at.info[0].value
    assert actions(wh)[-1] == "signout"


def test_record_view_audits_once_per_page_and_detail(wh):
    script = GUARDED_PAGE + (
        "from dashboard.signin import record_view\n"
        "record_view(user, 'worklist', rows=3, detail={'department': st.session_state.get('dept', 'D01')})\n"
    )
    at = AppTest.from_string(script, default_timeout=30)
    at.run()
    sign_in(at, "carl", PW)
    at.run()
    assert audit.list_audit(wh, action="page.view").height == 1
    at.session_state["dept"] = "D02"
    at.run()
    assert audit.list_audit(wh, action="page.view")["rows"].to_list() == [3, 3]


SSO_SECRETS = {
    "auth": {
        "redirect_uri": "http://localhost:8501/oauth2callback",
        "cookie_secret": "not-a-real-secret-but-long-enough-000",
        "client_id": "carepulse",
        "client_secret": "x",
        "server_metadata_url": "https://idp.example.org/.well-known/openid-configuration",
    }
}


def sso_app(identity: dict) -> AppTest:
    at = AppTest.from_string(GUARDED_PAGE, default_timeout=30)
    at.secrets = SSO_SECRETS
    at.user = identity
    return at.run()


def test_sso_identity_mapped_to_a_role(wh, monkeypatch):
    monkeypatch.setenv(
        "CAREPULSE_OIDC_ROLE_MAP", json.dumps({"group:qi-team": "qi", "@example.org": "manager"})
    )
    from carepulse.settings import get_settings

    get_settings.cache_clear()
    at = sso_app({"is_logged_in": True, "email": "Dana@example.org", "groups": ["qi-team"], "name": "Dana"})
    assert not at.exception
    assert "content for dana@example.org as qi" in texts(at)
    last = audit.list_audit(wh).to_dicts()[0]
    assert (last["action"], last["username"], json.loads(last["detail"])["method"]) == (
        "signin",
        "dana@example.org",
        "sso",
    )


def test_sso_identity_without_a_role_is_refused(wh):
    at = sso_app({"is_logged_in": True, "email": "eve@elsewhere.org"})
    assert "Protected page" not in texts(at)
    assert "no CarePulse role" in at.error[0].value
    at.run()
    assert audit.list_audit(wh, action="signin.failed").height == 1  # audited once, not per click


def test_sso_button_offered_only_when_a_provider_is_configured(wh):
    plain = app()
    assert [b.label for b in plain.button] == ["Sign in"]
    offered = sso_app({})
    assert [b.label for b in offered.button] == ["Sign in", "Sign in with single sign-on"]
    assert "Protected page" not in texts(offered)


def test_the_real_app_shows_only_the_sign_in_to_an_anonymous_visitor(wh):
    from pathlib import Path

    script = Path(__file__).resolve().parents[1] / "dashboard" / "app.py"
    at = AppTest.from_file(str(script), default_timeout=60)
    at.run()
    assert not at.exception
    assert [t.label for t in at.text_input] == ["Username", "Password"]
    assert [t.value for t in at.title] == ["CarePulse"]
    assert len(at.sidebar) == 0 and not at.dataframe and not at.get("plotly_chart") and not at.metric


def test_sso_session_times_out_and_ends_the_identity_session(wh, monkeypatch, settings):
    monkeypatch.setenv("CAREPULSE_OIDC_ROLE_MAP", json.dumps({"@example.org": "manager"}))
    from carepulse.settings import get_settings

    get_settings.cache_clear()
    at = sso_app({"is_logged_in": True, "email": "dana@example.org"})
    assert "content for dana@example.org as manager" in texts(at)
    at.session_state[signin.LAST_ACTIVITY_KEY] = signin.now() - timedelta(
        minutes=settings.session_timeout_minutes + 1
    )
    at.run()
    assert "Protected page" not in texts(at)
    assert at.user.get("is_logged_in") is not True  # st.logout() ran: the identity cookie is gone
    at.run()
    assert "Protected page" not in texts(at)  # and it does not sign straight back in
    assert audit.list_audit(wh, action="signout.timeout")["username"].to_list() == ["dana@example.org"]
