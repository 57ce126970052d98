"""Sign-in sessions kept on the server, carried by a signed HttpOnly cookie.

Streamlit cannot set an HttpOnly cookie from a script (its scripts talk over a websocket), so the
cookie is issued by a plain HTTP route of the same server (``dashboard/routes.py``): a successful
sign-in opens a session row here with a one-time *handoff* token (valid one minute); the browser is
sent to the route with it, the route redeems it for the session's cookie token and answers with
``Set-Cookie: carepulse_session=...; HttpOnly; SameSite=Strict; Path=/`` (``Secure`` over TLS).

The cookie holds a random 256-bit token signed with itsdangerous; the table keeps only its SHA-256,
so a copy of the warehouse yields no usable cookie. Every page run checks the row: idle and absolute
time-outs are enforced here, on the server, and a revoked row (sign-out, account disabled) ends the
session at once whatever the browser still holds. No Streamlit here.
"""

from __future__ import annotations

import functools
import hashlib
import secrets as _random
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from itsdangerous import BadSignature, URLSafeTimedSerializer

from carepulse.access import secrets
from carepulse.access.audit import utcnow
from carepulse.schema import web_sessions

COOKIE_NAME = "carepulse_session"
HANDOFF_SECONDS = 60
#: A session's last-seen time is written at most this often (every click would be a write).
TOUCH_EVERY = timedelta(seconds=30)
_SALT = "carepulse.session"


@dataclass(frozen=True)
class Opened:
    """A new session: its server-side id (kept in the Streamlit session) and its one-time handoff."""

    session_id: str
    handoff: str


@dataclass(frozen=True)
class Session:
    session_id: str
    username: str


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@functools.cache
def _process_secret() -> str:
    return _random.token_urlsafe(32)


def cookie_secret() -> str:
    """The signing key: the ``cookie_secret`` secret, else one random key per server process (cookies
    then end with the process, which is safe, only less convenient)."""
    return secrets.get_secret("cookie_secret") or _process_secret()


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(cookie_secret(), salt=_SALT)


def sign(token: str) -> str:
    """The cookie value for a session token."""
    return _serializer().dumps(token)


def unsign(value: str | None, max_age: timedelta) -> str | None:
    """The token inside a cookie value, or None when it is missing, forged or older than ``max_age``."""
    if not value:
        return None
    try:
        token = _serializer().loads(value, max_age=int(max_age.total_seconds()))
    except BadSignature:  # includes SignatureExpired
        return None
    return token if isinstance(token, str) else None


def open_session(
    engine: sa.Engine, username: str, *, absolute: timedelta, now: datetime | None = None
) -> Opened:
    """Record a new session for ``username`` and return its id and one-time handoff token."""
    now = now or utcnow()
    session_id, handoff = _random.token_urlsafe(24), _random.token_urlsafe(32)
    with engine.begin() as conn:
        conn.execute(
            web_sessions.insert().values(
                session_id=session_id,
                username=username,
                handoff_hash=_digest(handoff),
                handoff_expires_at=now + timedelta(seconds=HANDOFF_SECONDS),
                created_at=now,
                last_seen_at=now,
                expires_at=now + absolute,
            )
        )
    return Opened(session_id, handoff)


def redeem_handoff(engine: sa.Engine, handoff: str | None, *, now: datetime | None = None) -> str | None:
    """Exchange a handoff token (once, within a minute) for the session's new cookie token."""
    if not handoff:
        return None
    now = now or utcnow()
    token = _random.token_urlsafe(32)
    with engine.begin() as conn:
        updated = conn.execute(
            web_sessions.update()
            .where(
                web_sessions.c.handoff_hash == _digest(handoff),
                web_sessions.c.handoff_expires_at >= now,
                web_sessions.c.revoked_at.is_(None),
                web_sessions.c.expires_at > now,
            )
            .values(handoff_hash=None, handoff_expires_at=None, token_hash=_digest(token))
        ).rowcount
    return token if updated == 1 else None


def _active(
    conn: sa.Connection, where: sa.ColumnElement[bool], *, idle: timedelta, now: datetime
) -> Session | None:
    row = conn.execute(sa.select(web_sessions).where(where)).mappings().first()
    if row is None or row["revoked_at"] is not None:
        return None
    reason = "expired" if now >= row["expires_at"] else "idle" if now - row["last_seen_at"] > idle else None
    if reason is not None:
        _revoke(conn, web_sessions.c.session_id == row["session_id"], reason, now)
        return None
    if now - row["last_seen_at"] >= TOUCH_EVERY:
        conn.execute(
            web_sessions.update()
            .where(web_sessions.c.session_id == row["session_id"])
            .values(last_seen_at=now)
        )
    return Session(row["session_id"], row["username"])


def resume(
    engine: sa.Engine,
    cookie_value: str | None,
    *,
    idle: timedelta,
    absolute: timedelta,
    now: datetime | None = None,
) -> Session | None:
    """The live session a cookie names (a reload), or None (missing, forged, revoked or timed out)."""
    token = unsign(cookie_value, absolute)
    if token is None:
        return None
    with engine.begin() as conn:
        return _active(conn, web_sessions.c.token_hash == _digest(token), idle=idle, now=now or utcnow())


def check(
    engine: sa.Engine, session_id: str, *, idle: timedelta, now: datetime | None = None
) -> Session | None:
    """The session by its server-side id if still live (checked on every page run)."""
    with engine.begin() as conn:
        return _active(conn, web_sessions.c.session_id == session_id, idle=idle, now=now or utcnow())


def _revoke(conn: sa.Connection, where: sa.ColumnElement[bool], reason: str, now: datetime) -> int:
    return conn.execute(
        web_sessions.update()
        .where(where, web_sessions.c.revoked_at.is_(None))
        .values(revoked_at=now, revoked_reason=reason, handoff_hash=None)
    ).rowcount


def revoke(engine_or_conn: sa.Engine | sa.Connection, session_id: str, reason: str = "signout") -> int:
    """End one session now (sign-out)."""
    where = web_sessions.c.session_id == session_id
    if isinstance(engine_or_conn, sa.Connection):
        return _revoke(engine_or_conn, where, reason, utcnow())
    with engine_or_conn.begin() as conn:
        return _revoke(conn, where, reason, utcnow())


def revoke_user(engine_or_conn: sa.Engine | sa.Connection, username: str, reason: str) -> int:
    """End every session of ``username`` now (account disabled, password reset); returns how many."""
    where = web_sessions.c.username == username
    if isinstance(engine_or_conn, sa.Connection):
        return _revoke(engine_or_conn, where, reason, utcnow())
    with engine_or_conn.begin() as conn:
        return _revoke(conn, where, reason, utcnow())


def session_for_request(
    engine: sa.Engine, cookies: dict[str, str], *, idle: timedelta, absolute: timedelta
) -> Session | None:
    """The live session of an HTTP request's cookies (the download route's check)."""
    return resume(engine, cookies.get(COOKIE_NAME), idle=idle, absolute=absolute)


__all__ = [
    "COOKIE_NAME",
    "HANDOFF_SECONDS",
    "Opened",
    "Session",
    "check",
    "cookie_secret",
    "open_session",
    "redeem_handoff",
    "resume",
    "revoke",
    "revoke_user",
    "session_for_request",
    "sign",
    "unsign",
]
