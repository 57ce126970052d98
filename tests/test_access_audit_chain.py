"""The audit trail is tamper-evident (issue 16 item 2): `carepulse audit verify` names the first
edited, deleted or inserted row, on SQLite and PostgreSQL."""

from __future__ import annotations

import csv
import json

import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from carepulse.access import audit, audit_chain
from carepulse.cli import app


def _trail(engine: sa.Engine, n: int = 6) -> None:
    for i in range(n):
        audit.record(engine, f"user{i % 2}", "page.view", target="overview", detail={"i": i}, rows=i)


def _without_triggers(engine: sa.Engine, sql: str) -> None:
    """What someone with write access to the database (or the file) could do."""
    with engine.begin() as conn:
        if engine.dialect.name == "sqlite":
            conn.execute(sa.text("DROP TRIGGER IF EXISTS audit_log_no_update"))
            conn.execute(sa.text("DROP TRIGGER IF EXISTS audit_log_no_delete"))
        else:
            conn.execute(sa.text("ALTER TABLE audit_log DISABLE TRIGGER USER"))
        conn.execute(sa.text(sql))


def test_an_untouched_trail_verifies(engine: sa.Engine) -> None:
    _trail(engine)
    verdict = audit_chain.verify(engine)
    assert verdict.intact and verdict.rows == 6 and verdict.unchained == 0 and verdict.head


@pytest.mark.parametrize(
    ("tamper", "broken_at", "problem"),
    [
        ("UPDATE audit_log SET username = 'someone_else' WHERE audit_id = 3", 3, "edited"),
        ("UPDATE audit_log SET rows = 0 WHERE audit_id = 5", 5, "edited"),
        ("DELETE FROM audit_log WHERE audit_id = 4", 5, "missing"),
        (
            "INSERT INTO audit_log (at, username, action, prev_hash, row_hash) "
            "SELECT at, 'intruder', 'signin', row_hash, 'f00d' FROM audit_log WHERE audit_id = 6",
            7,
            "edited",
        ),
        (
            "INSERT INTO audit_log (at, username, action) VALUES ('2026-01-01 00:00:00', 'intruder', 'signin')",
            7,
            "no hash",
        ),
    ],
    ids=["edited-user", "edited-rows", "deleted", "inserted-forged-hash", "inserted-raw"],
)
def test_verify_names_the_first_tampered_row(
    engine: sa.Engine, tamper: str, broken_at: int, problem: str
) -> None:
    _trail(engine)
    _without_triggers(engine, tamper)
    verdict = audit_chain.verify(engine)
    assert not verdict.intact
    assert verdict.broken_at == broken_at and problem in (verdict.problem or "")


def test_a_row_inserted_in_the_middle_is_caught(sqlite_engine: sa.Engine) -> None:
    _trail(sqlite_engine)
    _without_triggers(sqlite_engine, "DELETE FROM audit_log WHERE audit_id = 4")  # make room, then forge
    _without_triggers(
        sqlite_engine,
        "INSERT INTO audit_log (audit_id, at, username, action, prev_hash, row_hash) "
        "SELECT 4, at, 'intruder', 'signin', row_hash, row_hash FROM audit_log WHERE audit_id = 3",
    )
    verdict = audit_chain.verify(sqlite_engine)
    assert verdict.broken_at == 4 and "edited" in (verdict.problem or "")


def test_the_cli_verifies_and_exports_for_the_privacy_officer(sqlite_engine: sa.Engine, tmp_path) -> None:
    _trail(sqlite_engine)
    runner = CliRunner()
    ok = runner.invoke(app, ["audit", "verify"])
    assert ok.exit_code == 0 and "intact: 6 rows" in ok.output
    out = tmp_path / "audit.csv"
    done = runner.invoke(
        app,
        [
            "audit",
            "export",
            "--from",
            "2000-01-01",
            "--to",
            "2100-01-01",
            "--user",
            "user1",
            "--out",
            str(out),
        ],
    )
    assert done.exit_code == 0, done.output
    rows = list(csv.DictReader(out.open()))
    assert [r["username"] for r in rows] == ["user1"] * 3 and [
        json.loads(r["detail"])["i"] for r in rows
    ] == [1, 3, 5]
    assert audit.list_audit(sqlite_engine, action="export")["target"].to_list() == ["audit_log"]
    none = runner.invoke(
        app, ["audit", "export", "--from", "2000-01-01", "--to", "2000-01-02", "--out", str(out)]
    )
    assert none.exit_code == 0 and list(csv.DictReader(out.open())) == []
    _without_triggers(sqlite_engine, "UPDATE audit_log SET action = 'signout' WHERE audit_id = 2")
    broken = runner.invoke(app, ["audit", "verify"])
    assert broken.exit_code != 0


def test_rows_from_before_the_chain_are_counted_not_failed(sqlite_engine: sa.Engine) -> None:
    with sqlite_engine.begin() as conn:
        conn.execute(
            sa.text(
                "INSERT INTO audit_log (at, username, action) VALUES ('2025-01-01 00:00:00', 'old', 'signin')"
            )
        )
    _trail(sqlite_engine, 3)
    verdict = audit_chain.verify(sqlite_engine)
    assert verdict.intact and verdict.unchained == 1 and verdict.rows == 4
