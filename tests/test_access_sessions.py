"""Server-side sessions behind the signed cookie: time-outs, revocation, forged and replayed tokens."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
import sqlalchemy as sa

from carepulse.access import accounts, sessions

T0 = datetime(2026, 3, 2, 9, 0)
IDLE, ABSOLUTE = timedelta(minutes=15), timedelta(hours=12)


@pytest.fixture
def ana(sqlite_engine: sa.Engine, fast_password_hashing: None) -> str:
    accounts.create_user(sqlite_engine, "ana", "coordinator", "a long unusual passphrase", actor="admin")
    return "ana"


def _cookie(engine: sa.Engine, username: str, at: datetime = T0) -> tuple[str, str]:
    opened = sessions.open_session(engine, username, absolute=ABSOLUTE, now=at)
    token = sessions.redeem_handoff(engine, opened.handoff, now=at)
    assert token is not None
    return opened.session_id, sessions.sign(token)


def _resume(engine: sa.Engine, cookie: str | None, at: datetime) -> sessions.Session | None:
    return sessions.resume(engine, cookie, idle=IDLE, absolute=ABSOLUTE, now=at)


def test_a_cookie_resumes_its_session_until_the_idle_time_out(sqlite_engine: sa.Engine, ana: str) -> None:
    session_id, cookie = _cookie(sqlite_engine, ana)
    assert _resume(sqlite_engine, cookie, T0 + timedelta(minutes=10)) == sessions.Session(session_id, ana)
    assert _resume(sqlite_engine, cookie, T0 + timedelta(minutes=24)) is not None  # activity at 10 min
    assert _resume(sqlite_engine, cookie, T0 + timedelta(minutes=40)) is None  # 16 idle minutes
    assert _resume(sqlite_engine, cookie, T0 + timedelta(minutes=41)) is None  # revoked, stays so


def test_the_absolute_time_out_ends_even_an_active_session(sqlite_engine: sa.Engine, ana: str) -> None:
    _, cookie = _cookie(sqlite_engine, ana)
    at = T0
    while at < T0 + ABSOLUTE - timedelta(minutes=10):
        at += timedelta(minutes=10)
        assert _resume(sqlite_engine, cookie, at) is not None
    assert _resume(sqlite_engine, cookie, T0 + ABSOLUTE) is None


def test_sign_out_and_account_changes_revoke_at_once(sqlite_engine: sa.Engine, ana: str) -> None:
    session_id, cookie = _cookie(sqlite_engine, ana)
    sessions.revoke(sqlite_engine, session_id)
    assert _resume(sqlite_engine, cookie, T0) is None
    assert sessions.check(sqlite_engine, session_id, idle=IDLE, now=T0) is None
    _, cookie_a = _cookie(sqlite_engine, ana)
    _, cookie_b = _cookie(sqlite_engine, ana)
    accounts.disable_user(sqlite_engine, ana, actor="admin")
    assert _resume(sqlite_engine, cookie_a, T0) is None and _resume(sqlite_engine, cookie_b, T0) is None
    accounts.enable_user(sqlite_engine, ana, actor="admin")
    _, cookie_c = _cookie(sqlite_engine, ana)
    accounts.reset_password(sqlite_engine, ana, "another long passphrase", actor="admin")
    assert _resume(sqlite_engine, cookie_c, T0) is None


def test_forged_tampered_and_missing_cookies_are_refused(sqlite_engine: sa.Engine, ana: str) -> None:
    _, cookie = _cookie(sqlite_engine, ana)
    assert _resume(sqlite_engine, None, T0) is None
    assert _resume(sqlite_engine, "", T0) is None
    assert _resume(sqlite_engine, cookie[:-2] + ("A" if cookie[-2] != "A" else "B") + cookie[-1], T0) is None
    assert _resume(sqlite_engine, sessions.sign("a-token-never-issued"), T0) is None


def test_a_handoff_works_once_and_for_a_minute_only(sqlite_engine: sa.Engine, ana: str) -> None:
    opened = sessions.open_session(sqlite_engine, ana, absolute=ABSOLUTE, now=T0)
    late = sessions.open_session(sqlite_engine, ana, absolute=ABSOLUTE, now=T0)
    assert sessions.redeem_handoff(sqlite_engine, opened.handoff, now=T0 + timedelta(seconds=30)) is not None
    assert sessions.redeem_handoff(sqlite_engine, opened.handoff, now=T0 + timedelta(seconds=31)) is None
    assert sessions.redeem_handoff(sqlite_engine, late.handoff, now=T0 + timedelta(seconds=61)) is None
    assert sessions.redeem_handoff(sqlite_engine, "guessed", now=T0) is None


def test_the_table_holds_no_usable_cookie_token(sqlite_engine: sa.Engine, ana: str) -> None:
    _, cookie = _cookie(sqlite_engine, ana)
    token = sessions.unsign(cookie, ABSOLUTE)
    assert token is not None
    with sqlite_engine.connect() as conn:
        stored = conn.execute(sa.text("SELECT * FROM web_sessions")).mappings().one()
    assert token not in {str(v) for v in stored.values()}
