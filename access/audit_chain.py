"""Tamper evidence for the audit trail: each row carries the SHA-256 of the previous row's hash and
its own values, so an edited, deleted or inserted row breaks the chain at that row.

The database already refuses UPDATE and DELETE on ``audit_log`` (triggers); the chain catches what
someone able to drop the triggers, or to edit the file, might do anyway. :func:`verify` walks the
rows in order and names the first one that does not fit. What a chain cannot show alone is the
removal of the *last* rows: keep the head hash that ``carepulse audit verify`` prints somewhere
else (a ticket, the privacy officer's log) and compare it next time.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa

from carepulse.schema import audit_log

#: One number for PostgreSQL's transaction-level advisory lock that serialises appends.
_PG_LOCK_KEY = 1_684_825_702


def row_digest(prev_hash: str | None, values: Mapping[str, object] | sa.RowMapping) -> str:
    """The hash a row must carry: SHA-256 over the previous hash and the row's values, canonically."""
    at = values["at"]
    payload = json.dumps(
        [
            prev_hash or "",
            at.isoformat(sep=" ", timespec="microseconds") if isinstance(at, datetime) else str(at),
            values.get("username"),
            values.get("action"),
            values.get("target"),
            values.get("detail"),
            values.get("rows"),
        ],
        ensure_ascii=True,
        separators=(",", ":"),
    )
    return hashlib.sha256(payload.encode()).hexdigest()


def append(conn: sa.Connection, values: Mapping[str, object]) -> int:
    """Insert one audit row chained to the last one; returns its id.

    The write lock is taken before the last hash is read (SQLite: a no-op DELETE starts the write
    transaction; PostgreSQL: an advisory lock), so two writers can never chain onto the same row."""
    if conn.dialect.name == "sqlite":
        conn.execute(sa.text("DELETE FROM audit_log WHERE 0"))
    else:
        conn.execute(sa.text(f"SELECT pg_advisory_xact_lock({_PG_LOCK_KEY})"))
    prev = conn.execute(
        sa.select(audit_log.c.row_hash).order_by(audit_log.c.audit_id.desc()).limit(1)
    ).scalar_one_or_none()
    chained = {**values, "prev_hash": prev, "row_hash": row_digest(prev, values)}
    stmt = sa.insert(audit_log).values(**chained).returning(audit_log.c.audit_id)
    return int(conn.execute(stmt).scalar_one())


@dataclass(frozen=True)
class Verdict:
    """What :func:`verify` found: rows checked, rows older than the chain, the head, the first fault."""

    rows: int
    unchained: int
    head: str | None
    broken_at: int | None = None
    problem: str | None = None

    @property
    def intact(self) -> bool:
        return self.broken_at is None


def verify(engine: sa.Engine) -> Verdict:
    """Walk the audit trail in order and report the first row that breaks the chain."""
    columns = [
        audit_log.c[name] for name in ("audit_id", "at", "username", "action", "target", "detail", "rows")
    ]
    query = sa.select(*columns, audit_log.c.prev_hash, audit_log.c.row_hash).order_by(audit_log.c.audit_id)
    rows = unchained = 0
    last_hash: str | None = None
    last_id: int | None = None
    with engine.connect() as conn:
        for row in conn.execute(query).mappings():
            rows += 1
            audit_id = int(row["audit_id"])
            if row["row_hash"] is None:
                if last_hash is None:  # written before the chain existed
                    unchained += 1
                    last_id = audit_id
                    continue
                return Verdict(
                    rows, unchained, last_hash, audit_id, "row has no hash (inserted outside CarePulse)"
                )
            if last_hash is not None and last_id is not None and audit_id != last_id + 1:
                return Verdict(
                    rows, unchained, last_hash, audit_id, f"rows {last_id + 1}..{audit_id - 1} are missing"
                )
            if row["prev_hash"] != last_hash:
                return Verdict(
                    rows,
                    unchained,
                    last_hash,
                    audit_id,
                    "previous-row hash does not match (a row before it was removed or inserted)",
                )
            if row_digest(row["prev_hash"], row) != row["row_hash"]:
                return Verdict(
                    rows, unchained, last_hash, audit_id, "row hash does not match its contents (edited)"
                )
            last_hash, last_id = row["row_hash"], audit_id
    return Verdict(rows, unchained, last_hash)


__all__ = ["Verdict", "append", "row_digest", "verify"]
