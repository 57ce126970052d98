"""One library per SQLite file per process (issue 16, item 1).

The dashboard once read the warehouse through ADBC's bundled SQLite while a sign-in wrote through
Python's ``sqlite3``. POSIX record locks belong to the process, not to the library, so two copies of
SQLite in one process do not see each other's locks: when one closes its file (or releases a read
lock) the other's locks vanish, and in WAL mode the closing copy, believing itself the last user,
deletes the ``-wal`` and ``-shm`` files under the other's open connection ("disk I/O error",
https://www.sqlite.org/howtocorrupt.html#multiple_copies_of_sqlite_linked_into_the_same_application).
These tests pin both symptoms on the product's own reader, :func:`carepulse.warehouse.read_table`.
"""

from __future__ import annotations

import subprocess
import sys
import threading
from pathlib import Path

import sqlalchemy as sa

from carepulse import schema, warehouse
from carepulse.access import audit

_TRY_WRITE_LOCK = """
import sqlite3, sys
conn = sqlite3.connect(sys.argv[1], timeout=0, isolation_level=None)
try:
    conn.execute("BEGIN IMMEDIATE")
except sqlite3.OperationalError as exc:
    print("refused:", exc)
else:
    print("granted")
"""


def _other_process_may_write(path: str) -> bool:
    """Whether a second process can take the write lock on ``path`` right now (no waiting)."""
    out = subprocess.run(
        [sys.executable, "-c", _TRY_WRITE_LOCK, path], capture_output=True, text=True, check=True
    )
    return out.stdout.strip() == "granted"


def test_a_read_does_not_drop_the_write_lock_a_sign_in_holds(sqlite_engine: sa.Engine) -> None:
    schema.create_all(sqlite_engine)
    path = str(sqlite_engine.url.database)
    with sqlite_engine.begin() as conn:  # a sign-in writing its audit row, transaction still open
        audit.record(conn, "ana", "signin")
        assert not _other_process_may_write(path)
        warehouse.read_table(sqlite_engine, "audit_log")  # the warm-up reading meanwhile
        assert not _other_process_may_write(path), "the read released the writer's lock"
    assert _other_process_may_write(path)  # committed: the lock is free again


def test_a_read_keeps_the_wal_files_an_open_connection_uses(sqlite_engine: sa.Engine) -> None:
    schema.create_all(sqlite_engine)
    path = Path(str(sqlite_engine.url.database))
    with sqlite_engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        conn.exec_driver_sql("SELECT count(*) FROM audit_log").scalar()  # holds the -shm open
        warehouse.read_table(sqlite_engine, "audit_log")
        assert path.with_name(path.name + "-shm").exists(), (
            "the read deleted the -shm under an open connection"
        )
        audit.record(conn, "ana", "signin")
        conn.commit()
    assert warehouse.read_table(sqlite_engine, "audit_log").height == 1


def test_warm_up_reads_and_sign_in_writes_race_without_an_error(sqlite_engine: sa.Engine) -> None:
    """The original crash, as it happened: reads on one thread, audited sign-ins on another."""
    schema.create_all(sqlite_engine)
    errors: list[BaseException] = []
    stop = threading.Event()

    def warm_up() -> None:
        while not stop.is_set():
            try:
                warehouse.read_table(sqlite_engine, "audit_log")
            except BaseException as exc:
                errors.append(exc)
                return

    reader = threading.Thread(target=warm_up)
    reader.start()
    try:
        for _ in range(150):
            with sqlite_engine.begin() as conn:
                audit.record(conn, "ana", "signin")
    except BaseException as exc:
        errors.append(exc)
    finally:
        stop.set()
        reader.join()
    assert errors == []
    assert warehouse.read_table(sqlite_engine, "audit_log").height == 150


_HOLD_A_LOAD_OPEN = """
import sqlite3, sys
conn = sqlite3.connect(sys.argv[1], isolation_level=None)
conn.execute("BEGIN IMMEDIATE")
conn.execute("INSERT INTO load_runs (started_at, status, source_dir, rows_read, inserted, updated, unchanged, quarantined) VALUES ('2026-01-01 00:00:00', 'succeeded', 'x', 0, 0, 0, 0, 0)")
print("merging", flush=True)
sys.stdin.readline()
conn.execute("COMMIT")
print("committed", flush=True)
"""


def test_pages_read_the_previous_load_while_another_process_merges(sqlite_engine: sa.Engine) -> None:
    path = str(sqlite_engine.url.database)
    with sqlite_engine.begin() as conn:  # the file is in WAL mode from the first connection on
        conn.exec_driver_sql("SELECT 1")
    loader = subprocess.Popen(
        [sys.executable, "-c", _HOLD_A_LOAD_OPEN, path],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert loader.stdout is not None and loader.stdin is not None
        assert loader.stdout.readline().strip() == "merging"
        assert warehouse.read_table(sqlite_engine, "load_runs").is_empty()  # not blocked, the old state
        assert warehouse.latest_load_run_id(sqlite_engine) is None
        loader.stdin.write("\n")
        loader.stdin.flush()
        assert loader.stdout.readline().strip() == "committed"
    finally:
        loader.wait(timeout=30)
    assert warehouse.latest_load_run_id(sqlite_engine) == 1  # the new load, once committed
