"""Built-in accounts on SQLite and PostgreSQL: create, authenticate, lock-out, disable, roles."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa
from argon2 import PasswordHasher, Type

from carepulse.access import accounts, audit, passwords
from carepulse.access.accounts import AuthenticationError
from carepulse.errors import CarePulseError
from carepulse.schema import audit_log, users

PW = "a sound passphrase"


@pytest.fixture
def alice(engine, fast_password_hashing):
    return accounts.create_user(engine, "alice", "manager", PW, actor="admin", display_name="Alice A.")


def audit_rows(engine, action=None):
    return audit.list_audit(engine, action=action).to_dicts()


def test_create_and_authenticate(engine, alice):
    assert alice == accounts.get_user(engine, "alice")
    user = accounts.authenticate(engine, "alice", PW)
    assert (user.username, user.role, user.label) == ("alice", "manager", "Alice A.")
    assert user.last_login_at is not None
    with engine.connect() as conn:
        stored = conn.execute(sa.select(users.c.password_hash)).scalar_one()
    assert stored.startswith("$argon2id$") and PW not in stored


def test_wrong_password_same_message_as_unknown_user(engine, alice):
    with pytest.raises(AuthenticationError) as wrong:
        accounts.authenticate(engine, "alice", "not the password")
    with pytest.raises(AuthenticationError) as unknown:
        accounts.authenticate(engine, "nobody", "not the password")
    assert str(wrong.value) == str(unknown.value)
    assert (wrong.value.reason, unknown.value.reason) == ("wrong_password", "unknown")


def test_unknown_user_costs_one_verification(engine, alice, monkeypatch):
    """Constant-time behaviour: an unknown name still runs argon2 once (no fast path)."""
    calls = []

    class CountingHasher(PasswordHasher):
        def verify(self, hash, password):
            calls.append(1)
            return super().verify(hash, password)

    monkeypatch.setattr(passwords, "HASHER", CountingHasher(time_cost=1, memory_cost=1024, parallelism=1))
    passwords.verify_dummy("warm up the dummy hash")
    calls.clear()
    for name in ("nobody", "alice"):
        with pytest.raises(AuthenticationError):
            accounts.authenticate(engine, name, "not the password")
    assert len(calls) == 2


def test_lockout_after_max_failures_and_unlock_after_lock_time(engine, alice, settings):
    t0 = audit.utcnow()
    for i in range(settings.max_failed_logins):
        with pytest.raises(AuthenticationError) as err:
            accounts.authenticate(engine, "alice", f"wrong password {i}", now=t0)
    assert err.value.reason == "wrong_password"
    failures = audit_rows(engine, "signin.failed")
    assert len(failures) == settings.max_failed_logins
    assert '"locked": true' in failures[0]["detail"]  # newest first: the one that locked
    # Locked: even the right password is refused, until the lock time has passed.
    with pytest.raises(AuthenticationError) as err:
        accounts.authenticate(engine, "alice", PW, now=t0 + timedelta(minutes=settings.lockout_minutes - 1))
    assert err.value.reason == "locked"
    user = accounts.authenticate(
        engine, "alice", PW, now=t0 + timedelta(minutes=settings.lockout_minutes, seconds=1)
    )
    assert user.username == "alice"
    assert accounts.get_user(engine, "alice").locked_until is None


def test_success_resets_the_failure_count(engine, alice, settings):
    for _ in range(settings.max_failed_logins - 1):
        with pytest.raises(AuthenticationError):
            accounts.authenticate(engine, "alice", "wrong password")
    accounts.authenticate(engine, "alice", PW)
    for _ in range(settings.max_failed_logins - 1):
        with pytest.raises(AuthenticationError):
            accounts.authenticate(engine, "alice", "wrong password")
    assert accounts.authenticate(engine, "alice", PW).username == "alice"


def test_disable_enable_and_reset_password(engine, alice):
    accounts.disable_user(engine, "alice", actor="admin")
    with pytest.raises(AuthenticationError) as err:
        accounts.authenticate(engine, "alice", PW)
    assert err.value.reason == "disabled"
    accounts.enable_user(engine, "alice", actor="admin")
    assert accounts.authenticate(engine, "alice", PW).username == "alice"
    accounts.reset_password(engine, "alice", "another passphrase", actor="admin")
    with pytest.raises(AuthenticationError):
        accounts.authenticate(engine, "alice", PW)
    assert accounts.authenticate(engine, "alice", "another passphrase").username == "alice"


def test_reset_password_unlocks(engine, alice, settings):
    for _ in range(settings.max_failed_logins):
        with pytest.raises(AuthenticationError):
            accounts.authenticate(engine, "alice", "wrong password")
    assert accounts.get_user(engine, "alice").locked_until is not None
    accounts.reset_password(engine, "alice", "a fresh passphrase", actor="admin")
    assert accounts.authenticate(engine, "alice", "a fresh passphrase").username == "alice"


def test_role_and_department_changes(engine, alice):
    assert accounts.set_role(engine, "alice", "coordinator", actor="admin").role == "coordinator"
    user = accounts.set_departments(engine, "alice", "D01, D02,D01", actor="admin")
    assert user.departments == ("D01", "D02")
    assert user.can("view:phi") and not user.can("page:admin")
    detail = audit_rows(engine, "user.set_role")[0]["detail"]
    assert '"from": "manager"' in detail and '"to": "coordinator"' in detail
    with pytest.raises(CarePulseError, match="unknown role"):
        accounts.set_role(engine, "alice", "superuser", actor="admin")
    assert accounts.get_user(engine, "alice").role == "coordinator"


@pytest.mark.parametrize(
    ("username", "role", "password", "message"),
    [
        ("alice", "manager", PW, "already exists"),
        ("bob", "root", PW, "unknown role"),
        ("bob", "manager", "short", "at least 12"),
        ("bob'; DROP TABLE users;--", "manager", PW, "username must"),
        ("", "manager", PW, "username must"),
    ],
)
def test_create_refuses_bad_input(sqlite_engine, fast_password_hashing, username, role, password, message):
    accounts.create_user(sqlite_engine, "alice", "manager", PW, actor="admin")
    with pytest.raises(CarePulseError, match=message):
        accounts.create_user(sqlite_engine, username, role, password, actor="admin")
    assert [u.username for u in accounts.list_users(sqlite_engine)] == ["alice"]


def test_changes_to_an_unknown_user_fail_clearly(engine, fast_password_hashing):
    with pytest.raises(CarePulseError, match="no user named 'ghost'"):
        accounts.disable_user(engine, "ghost", actor="admin")
    assert audit_rows(engine) == []


def test_password_rehashed_on_signin_when_parameters_change(engine, alice, monkeypatch):
    with engine.connect() as conn:
        old = conn.execute(sa.select(users.c.password_hash)).scalar_one()
    monkeypatch.setattr(
        passwords, "HASHER", PasswordHasher(time_cost=2, memory_cost=2048, parallelism=1, type=Type.ID)
    )
    accounts.authenticate(engine, "alice", PW)
    with engine.connect() as conn:
        new = conn.execute(sa.select(users.c.password_hash)).scalar_one()
    assert new != old and "m=2048,t=2" in new
    assert accounts.authenticate(engine, "alice", PW).username == "alice"


def test_sql_metacharacters_in_credentials_do_no_harm(engine, alice):
    for name in ("alice' OR '1'='1", "alice'--", '"; DELETE FROM users; --', "%", "_lice"):
        with pytest.raises(AuthenticationError):
            accounts.authenticate(engine, name, "' OR '1'='1")
    assert [u.username for u in accounts.list_users(engine)] == ["alice"]


ACTIONS = [
    ("user.create", lambda e: accounts.create_user(e, "bob", "analyst", PW, actor="admin")),
    ("user.disable", lambda e: accounts.disable_user(e, "alice", actor="admin")),
    ("user.enable", lambda e: accounts.enable_user(e, "alice", actor="admin")),
    ("user.set_role", lambda e: accounts.set_role(e, "alice", "qi", actor="admin")),
    ("user.set_departments", lambda e: accounts.set_departments(e, "alice", ["D01"], actor="admin")),
    ("user.reset_password", lambda e: accounts.reset_password(e, "alice", "new passphrase!", actor="admin")),
    ("signin", lambda e: accounts.authenticate(e, "alice", PW)),
    (
        "signin.failed",
        lambda e: pytest.raises(AuthenticationError, accounts.authenticate, e, "alice", "wrong one"),
    ),
    (
        "signin.failed",
        lambda e: pytest.raises(AuthenticationError, accounts.authenticate, e, "nobody", "wrong one"),
    ),
]


@pytest.mark.parametrize(("action", "do"), ACTIONS, ids=[f"{a}-{i}" for i, (a, _) in enumerate(ACTIONS)])
def test_every_action_writes_exactly_one_audit_row(engine, alice, action, do):
    with engine.connect() as conn:
        before = conn.execute(sa.select(sa.func.count()).select_from(audit_log)).scalar_one()
    do(engine)
    rows = audit_rows(engine)
    assert len(rows) == before + 1
    assert rows[0]["action"] == action


def test_demo_accounts(engine, fast_password_hashing):
    created = accounts.demo_accounts(engine, departments=["D01", "D02"])
    assert sorted(r for _, r, _ in created) == sorted(["admin", "manager", "qi", "coordinator", "analyst"])
    for username, _role, password in created:
        assert accounts.authenticate(engine, username, password).username == username
    coordinator = accounts.get_user(engine, "demo-coordinator")
    assert coordinator.departments == ("D01", "D02")
    again = accounts.demo_accounts(engine)
    assert [p for _, _, p in again] == [None] * 5  # existing accounts keep their passwords
