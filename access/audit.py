"""The audit trail: an append-only record of who did what, when, to what, and how many rows.

``audit_log`` refuses UPDATE and DELETE at the database level (triggers on SQLite and PostgreSQL,
created with the table in :mod:`carepulse.schema`). Details are JSON and never carry PHI: keys named
after PHI columns are redacted and string values pass through :func:`phi.redact_text`.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Mapping
from datetime import UTC, date, datetime

import polars as pl
import sqlalchemy as sa

from carepulse.access import audit_chain
from carepulse.access.phi import PHI_KEYS, REDACTED, redact_text
from carepulse.schema import audit_log

log = logging.getLogger(__name__)

#: The actions CarePulse records, and what each means (``docs/security.md`` lists them).
ACTIONS: dict[str, str] = {
    "signin": "A user signed in (detail: method password or sso).",
    "signin.failed": "A sign-in was refused (detail: reason; locked when this failure locked the account).",
    "session.resume": "A reload or new tab resumed a signed-in session from its cookie (detail: method).",
    "signout": "A user signed out with the button (or was signed out because the account was disabled).",
    "signout.timeout": "Automatic log-off after inactivity.",
    "page.view": "A page showing patient data was viewed (target: page; rows: rows shown).",
    "access.denied": "A signed-in user asked for a page or export their role does not allow.",
    "export.fetch": "A browser with a live session fetched a prepared download (target: file name; once).",
    "export": "A download (target: what; detail: format; rows: rows written).",
    "outreach.record": "A worklist outcome was recorded (target: appointment id; detail: outcome, whether a note).",
    "outreach.assign": "Worklist appointments were assigned to a coordinator (target: user; rows: appointments).",
    "outreach.unassign": "Worklist appointments were taken off a coordinator's list (rows: appointments).",
    "annotation.create": "A chart annotation was added.",
    "annotation.update": "A chart annotation was edited.",
    "annotation.delete": "A chart annotation was deleted.",
    "user.create": "An account was created (target: username; detail: role, departments).",
    "user.disable": "An account was disabled.",
    "user.enable": "An account was enabled again (and unlocked).",
    "user.set_role": "An account's role changed (detail: from, to).",
    "user.set_departments": "A coordinator's departments changed.",
    "user.reset_password": "An account's password was reset (and the account unlocked).",
}

_ACTION_NAME = re.compile(r"^[a-z_]+(\.[a-z_]+)*$")


def utcnow() -> datetime:
    """Now, as the naive UTC timestamp the system tables store."""
    return datetime.now(UTC).replace(tzinfo=None)


def scrub_detail(value: object, _key: str | None = None) -> object:
    """A JSON-able copy of ``value`` with PHI-named keys and PHI-looking strings redacted."""
    if _key is not None and _key.lower() in PHI_KEYS:
        return REDACTED
    if isinstance(value, Mapping):
        return {str(k): scrub_detail(v, str(k)) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [scrub_detail(v) for v in value]
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    if value is None or isinstance(value, bool | int | float):
        return value
    return redact_text(str(value))


def record(
    engine_or_conn: sa.Engine | sa.Connection,
    username: str | None,
    action: str,
    target: str | None = None,
    detail: Mapping[str, object] | None = None,
    rows: int | None = None,
) -> int:
    """Append one audit row and return its id.

    Given a connection, the row joins the caller's transaction (so an action and its audit row
    commit or roll back together); given an engine, it commits on its own.
    """
    if not _ACTION_NAME.match(action or ""):
        raise ValueError(f"audit action must be a dotted lowercase name, not {action!r}")
    if action not in ACTIONS:
        log.debug("audit action %s is not in the documented list", action)
    values = {
        "at": utcnow(),
        "username": username,
        "action": action,
        "target": None if target is None else str(target),
        "detail": None
        if detail is None
        else json.dumps(scrub_detail(dict(detail)), sort_keys=True, default=str),
        "rows": None if rows is None else int(rows),
    }
    if isinstance(engine_or_conn, sa.Connection):
        return audit_chain.append(engine_or_conn, values)
    with engine_or_conn.begin() as conn:
        return audit_chain.append(conn, values)


def _like_prefix(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def list_audit(
    engine: sa.Engine,
    *,
    username: str | None = None,
    action: str | None = None,
    target: str | None = None,
    since: datetime | date | None = None,
    until: datetime | date | None = None,
    limit: int | None = 5000,
) -> pl.DataFrame:
    """Audit rows, newest first, filtered (``action`` matches itself and its sub-actions).

    ``since`` is inclusive and ``until`` exclusive; a date means its midnight (UTC).
    """
    shown = ("audit_id", "at", "username", "action", "target", "detail", "rows")
    query = sa.select(*(audit_log.c[name] for name in shown)).order_by(audit_log.c.audit_id.desc())
    if username:
        query = query.where(audit_log.c.username == username)
    if action:
        query = query.where(
            sa.or_(
                audit_log.c.action == action, audit_log.c.action.like(_like_prefix(action + "."), escape="\\")
            )
        )
    if target:
        query = query.where(audit_log.c.target == target)
    if since is not None:
        query = query.where(audit_log.c.at >= _as_datetime(since))
    if until is not None:
        query = query.where(audit_log.c.at < _as_datetime(until))
    if limit is not None:
        query = query.limit(limit)
    with engine.connect() as conn:
        rows = conn.execute(query).all()
    schema: dict[str, pl.DataType] = {
        "audit_id": pl.Int64(),
        "at": pl.Datetime("us"),
        "username": pl.String(),
        "action": pl.String(),
        "target": pl.String(),
        "detail": pl.String(),
        "rows": pl.Int64(),
    }
    return pl.DataFrame([tuple(r) for r in rows], schema=schema, orient="row")


def audit_actions(engine: sa.Engine) -> list[str]:
    """The documented actions plus any other action already in the log, sorted."""
    with engine.connect() as conn:
        seen = conn.execute(sa.select(audit_log.c.action).distinct()).scalars().all()
    return sorted(set(ACTIONS) | set(seen))


def _as_datetime(value: datetime | date) -> datetime:
    if isinstance(value, datetime):
        return (
            value.replace(tzinfo=None) if value.tzinfo is None else value.astimezone(UTC).replace(tzinfo=None)
        )
    return datetime(value.year, value.month, value.day)
