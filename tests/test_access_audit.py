"""The audit trail: append-only in the database, PHI-free details, filters for the admin page."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
import sqlalchemy as sa

from carepulse.access import audit


def test_record_and_list(engine):
    first = audit.record(engine, "alice", "export", target="overview_kpis", detail={"format": "csv"}, rows=12)
    with engine.begin() as conn:
        second = audit.record(conn, "bob", "page.view", target="worklist", rows=40)
    assert second > first
    rows = audit.list_audit(engine).to_dicts()
    assert [r["audit_id"] for r in rows] == [second, first]  # newest first
    assert rows[1]["username"] == "alice" and rows[1]["rows"] == 12
    assert json.loads(rows[1]["detail"]) == {"format": "csv"}
    assert rows[0]["detail"] is None


def test_record_joins_the_callers_transaction(engine):
    with pytest.raises(RuntimeError), engine.begin() as conn:
        audit.record(conn, "alice", "outreach.record", target="A1")
        raise RuntimeError("the action failed")
    assert audit.list_audit(engine).height == 0


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE audit_log SET username = 'mallory'",
        "DELETE FROM audit_log",
        "DELETE FROM audit_log WHERE audit_id = 1",
    ],
)
def test_audit_log_is_append_only(engine, statement):
    audit.record(engine, "alice", "signin")
    with pytest.raises(sa.exc.DatabaseError, match="append-only"), engine.begin() as conn:
        conn.execute(sa.text(statement))
    rows = audit.list_audit(engine).to_dicts()
    assert [(r["audit_id"], r["username"]) for r in rows] == [(1, "alice")]


@pytest.mark.postgres
def test_audit_log_cannot_be_truncated_on_postgres(pg_engine):
    audit.record(pg_engine, "alice", "signin")
    with pytest.raises(sa.exc.DatabaseError, match="append-only"), pg_engine.begin() as conn:
        conn.execute(sa.text("TRUNCATE audit_log"))
    assert audit.list_audit(pg_engine).height == 1


def test_phi_never_reaches_audit_detail(engine):
    detail = {
        "first_name": "Jonathan",
        "filters": {"phone": "555-867-5309", "department": "D01", "search": "jo@example.org"},
        "mrn": "MRN00123456",
        "note": "called 555 867 5309, left message",
        "patients": [{"last_name": "Quixote", "risk": 0.4}],
    }
    audit.record(engine, "carol", "export", target="worklist", detail=detail, rows=3)
    stored = audit.list_audit(engine)["detail"][0]
    for phi in ("Jonathan", "555-867-5309", "jo@example.org", "MRN00123456", "867 5309", "Quixote"):
        assert phi not in stored
    parsed = json.loads(stored)
    assert parsed["filters"]["department"] == "D01" and parsed["patients"][0]["risk"] == 0.4
    assert parsed["first_name"] == "[redacted]"


@pytest.mark.parametrize("action", ["", "Sign In", "signin; DROP TABLE audit_log", "user..create"])
def test_action_names_are_checked(engine, action):
    with pytest.raises(ValueError):
        audit.record(engine, "alice", action)


def test_filters(engine):
    for who, action, target in [
        ("alice", "user.create", "bob"),
        ("alice", "user.set_role", "bob"),
        ("bob", "signin", None),
        ("bob", "export", "audit_log"),
        ("mallory", "users", None),  # a prefix of 'user' but not a sub-action
    ]:
        audit.record(engine, who, action, target=target)
    assert audit.list_audit(engine, username="alice").height == 2
    assert sorted(audit.list_audit(engine, action="user")["action"]) == ["user.create", "user.set_role"]
    assert audit.list_audit(engine, action="user.create").height == 1
    assert audit.list_audit(engine, target="audit_log")["username"].to_list() == ["bob"]
    now = audit.utcnow()
    assert audit.list_audit(engine, since=now - timedelta(minutes=5)).height == 5
    assert audit.list_audit(engine, until=now - timedelta(minutes=5)).height == 0
    assert audit.list_audit(engine, since=now.date()).height == 5
    assert audit.list_audit(engine, limit=2).height == 2
    assert {"signin", "users", "user.create"} <= set(audit.audit_actions(engine))


def test_sql_metacharacters_in_filters(engine):
    audit.record(engine, "alice", "signin", target="x")
    for text in ["' OR '1'='1", "%", "_", "alice'; DELETE FROM audit_log;--", "\\", "sign%", "signi_"]:
        assert audit.list_audit(engine, username=text).height == 0
        assert audit.list_audit(engine, action=text).height == 0
        assert audit.list_audit(engine, target=text).height == 0
    assert audit.list_audit(engine).height == 1
