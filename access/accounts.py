"""Built-in accounts: create, change, disable and authenticate users stored in the warehouse.

Every change writes exactly one audit row in the same transaction. Authentication locks an account
for ``settings.lockout_minutes`` after ``settings.max_failed_logins`` consecutive failures, and
spends one password verification whether or not the user exists, so timing does not reveal which
usernames are real. The error a user sees never says which of the reasons applied.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import sqlalchemy as sa

from carepulse.access import audit, passwords, roles, sessions
from carepulse.errors import CarePulseError
from carepulse.schema import users
from carepulse.settings import Settings, get_settings

_USERNAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@+-]{0,127}$")

SIGNIN_FAILED_MESSAGE = "Sign-in failed: wrong username or password, or the account is locked or disabled."


class AuthenticationError(CarePulseError):
    """A refused sign-in. ``reason`` (unknown, wrong_password, locked, disabled, no_password) is for
    the audit trail only; the message is the same for every reason."""

    def __init__(self, reason: str):
        super().__init__(SIGNIN_FAILED_MESSAGE)
        self.reason = reason


@dataclass(frozen=True)
class User:
    """A signed-in (or listed) user; what pages and exports check."""

    username: str
    role: str
    display_name: str | None = None
    email: str | None = None
    departments: tuple[str, ...] = ()
    method: str = "password"  # password or sso
    disabled: bool = False
    locked_until: datetime | None = None
    last_login_at: datetime | None = None
    created_at: datetime | None = field(default=None, compare=False)

    def can(self, permission: str) -> bool:
        return roles.can(self.role, permission)

    @property
    def label(self) -> str:
        return self.display_name or self.username


def _user_from_row(row, method: str = "password") -> User:
    return User(
        username=row.username,
        role=row.role,
        display_name=row.display_name,
        email=row.email,
        departments=parse_departments(row.departments),
        method=method,
        disabled=bool(row.disabled),
        locked_until=row.locked_until,
        last_login_at=row.last_login_at,
        created_at=row.created_at,
    )


def parse_departments(text: str | Iterable[str] | None) -> tuple[str, ...]:
    """Department ids from a comma-separated string (or an iterable), de-duplicated, in order."""
    if text is None:
        return ()
    items = text.split(",") if isinstance(text, str) else list(text)
    return tuple(dict.fromkeys(i.strip() for i in items if i and i.strip()))


def _check_username(username: str) -> str:
    if not _USERNAME.match(username or ""):
        raise CarePulseError(
            "username must start with a letter or digit and use only letters, digits and . _ @ + -"
        )
    return username


def _row(conn: sa.Connection, username: str):
    return conn.execute(sa.select(users).where(users.c.username == username)).first()


def _require_row(conn: sa.Connection, username: str):
    row = _row(conn, username)
    if row is None:
        raise CarePulseError(f"no user named {username!r} (see `carepulse users list`)")
    return row


def get_user(engine: sa.Engine, username: str) -> User | None:
    """The account named ``username``, or None."""
    with engine.connect() as conn:
        row = _row(conn, username)
    return None if row is None else _user_from_row(row)


def list_users(engine: sa.Engine) -> list[User]:
    """Every account, by username (never their password hashes)."""
    with engine.connect() as conn:
        rows = conn.execute(sa.select(users).order_by(users.c.username)).all()
    return [_user_from_row(r) for r in rows]


def create_user(
    engine: sa.Engine,
    username: str,
    role: str,
    password: str | None,
    *,
    actor: str,
    display_name: str | None = None,
    email: str | None = None,
    departments: Iterable[str] | str | None = None,
) -> User:
    """Create an account (``password`` None: single sign-on only) and audit ``user.create``."""
    _check_username(username)
    roles.check_role(role)
    password_hash = passwords.hash_password(passwords.check_password_strength(password)) if password else None
    depts = parse_departments(departments)
    now = audit.utcnow()
    with engine.begin() as conn:
        if _row(conn, username) is not None:
            raise CarePulseError(f"a user named {username!r} already exists")
        conn.execute(
            sa.insert(users).values(
                username=username,
                display_name=display_name,
                email=email,
                role=role,
                departments=",".join(depts) or None,
                password_hash=password_hash,
                disabled=False,
                failed_attempts=0,
                created_at=now,
            )
        )
        audit.record(
            conn,
            actor,
            "user.create",
            target=username,
            detail={"role": role, "departments": list(depts), "sso_only": password is None},
        )
        return _user_from_row(_require_row(conn, username))


def _update(
    engine: sa.Engine, username: str, actor: str, action: str, values: dict, detail: dict | None
) -> User:
    with engine.begin() as conn:
        _require_row(conn, username)
        conn.execute(
            sa.update(users).where(users.c.username == username).values(**values, updated_at=audit.utcnow())
        )
        if action in _ENDS_SESSIONS:  # at once, in the same transaction as the change itself
            sessions.revoke_user(conn, username, reason=action)
        audit.record(conn, actor, action, target=username, detail=detail)
        return _user_from_row(_require_row(conn, username))


#: Account changes that end every open session of the account (its cookie stops working at once).
_ENDS_SESSIONS = frozenset({"user.disable", "user.reset_password"})


def disable_user(engine: sa.Engine, username: str, *, actor: str) -> User:
    """Disable an account: it can no longer sign in, and open sessions end on their next click."""
    return _update(engine, username, actor, "user.disable", {"disabled": True}, None)


def enable_user(engine: sa.Engine, username: str, *, actor: str) -> User:
    """Enable an account again and clear any lock."""
    values = {"disabled": False, "failed_attempts": 0, "locked_until": None}
    return _update(engine, username, actor, "user.enable", values, None)


def set_role(engine: sa.Engine, username: str, role: str, *, actor: str) -> User:
    """Change an account's role (takes effect on the user's next click)."""
    roles.check_role(role)
    with engine.connect() as conn:
        old = _require_row(conn, username).role
    return _update(engine, username, actor, "user.set_role", {"role": role}, {"from": old, "to": role})


def set_departments(
    engine: sa.Engine, username: str, departments: Iterable[str] | str, *, actor: str
) -> User:
    """Set the departments whose worklist a coordinator sees."""
    depts = parse_departments(departments)
    values = {"departments": ",".join(depts) or None}
    return _update(engine, username, actor, "user.set_departments", values, {"departments": list(depts)})


def reset_password(engine: sa.Engine, username: str, password: str, *, actor: str) -> User:
    """Set a new password and unlock the account."""
    password_hash = passwords.hash_password(passwords.check_password_strength(password))
    values = {"password_hash": password_hash, "failed_attempts": 0, "locked_until": None}
    return _update(engine, username, actor, "user.reset_password", values, None)


def authenticate(
    engine: sa.Engine,
    username: str,
    password: str,
    *,
    settings: Settings | None = None,
    now: datetime | None = None,
) -> User:
    """The user if ``password`` is right and the account usable; else raise :class:`AuthenticationError`.

    Writes one audit row either way (``signin`` or ``signin.failed``). ``now`` (naive UTC) is for
    tests of the lock-out clock.
    """
    settings = settings or get_settings()
    now = now or audit.utcnow()
    username = (username or "").strip()
    with engine.begin() as conn:
        user, reason, locked = _check_credentials(conn, username, password, settings, now)
        if user is not None:
            audit.record(conn, username, "signin", detail={"method": "password"})
            return user
        detail: dict = {"reason": reason}
        if locked:
            detail["locked"] = True
        # An unknown name may be a mistyped password or an e-mail: keep it out of the audit trail.
        audit.record(conn, None if reason == "unknown" else username, "signin.failed", detail=detail)
    raise AuthenticationError(reason)


def _check_credentials(
    conn: sa.Connection, username: str, password: str, settings: Settings, now: datetime
) -> tuple[User | None, str, bool]:
    """(user, "", False) on success, else (None, reason, whether this failure locked the account)."""
    row = _row(conn, username) if username else None
    reason = (
        "unknown"
        if row is None
        else "disabled"
        if row.disabled
        else "locked"
        if row.locked_until is not None and row.locked_until > now
        else "no_password"
        if not row.password_hash
        else ""
    )
    if reason:
        passwords.verify_dummy(password)  # the same work as a real verification
        return None, reason, False
    assert row is not None  # no row gives the reason "unknown"
    if not passwords.verify_password(row.password_hash, password):
        attempts = (row.failed_attempts or 0) + 1
        locks = attempts >= settings.max_failed_logins
        conn.execute(
            sa.update(users)
            .where(users.c.username == username)
            .values(
                failed_attempts=0 if locks else attempts,
                locked_until=now + timedelta(minutes=settings.lockout_minutes) if locks else None,
            )
        )
        return None, "wrong_password", locks
    values: dict = {"failed_attempts": 0, "locked_until": None, "last_login_at": now}
    if passwords.needs_rehash(row.password_hash):
        values["password_hash"] = passwords.hash_password(password)
    conn.execute(sa.update(users).where(users.c.username == username).values(**values))
    return _user_from_row(_require_row(conn, username)), "", False


def sso_user(
    engine: sa.Engine, email: str, mapped_role: str | None, *, name: str | None = None
) -> User | None:
    """The user for a single-sign-on identity, or None when it may not sign in.

    An account whose username is the identity's e-mail overrides the mapping (role, departments)
    and can be disabled like any other; without one, the role mapped from the identity applies.
    """
    with engine.connect() as conn:
        row = _row(conn, email) if email else None
    if row is not None:
        if row.disabled:
            return None
        return _user_from_row(row, method="sso")
    if not mapped_role or mapped_role not in roles.ROLES:
        return None
    return User(username=email, role=mapped_role, display_name=name, email=email, method="sso")


DEMO_ACCOUNTS: tuple[tuple[str, str, str], ...] = (
    ("demo-admin", "admin", "Demo Administrator"),
    ("demo-manager", "manager", "Demo Manager"),
    ("demo-qi", "qi", "Demo QI Lead"),
    ("demo-coordinator", "coordinator", "Demo Coordinator"),
    ("demo-analyst", "analyst", "Demo Analyst"),
)


def demo_accounts(
    engine: sa.Engine, departments: Sequence[str] | None = None
) -> list[tuple[str, str, str | None]]:
    """Create the demo accounts with random passwords: ``[(username, role, password)]``.

    Passwords are returned once, for the demo to print; an account that already exists keeps its
    password (returned as None). The coordinator gets ``departments`` or, by default, the first two
    departments in the warehouse.
    """
    if departments is None:
        from carepulse.schema import EXTRACT_TABLES

        dept = EXTRACT_TABLES["departments"]
        with engine.connect() as conn:
            departments = (
                conn.execute(sa.select(dept.c.department_id).order_by(dept.c.department_id).limit(2))
                .scalars()
                .all()
            )
    out: list[tuple[str, str, str | None]] = []
    for username, role, display_name in DEMO_ACCOUNTS:
        if get_user(engine, username) is not None:
            out.append((username, role, None))
            continue
        password = passwords.generate_password()
        create_user(
            engine,
            username,
            role,
            password,
            actor="demo",
            display_name=display_name,
            departments=departments if role == "coordinator" else None,
        )
        out.append((username, role, password))
    return out
