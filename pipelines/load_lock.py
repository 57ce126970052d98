"""One ingest at a time per warehouse, and tidying up after one that was killed.

A killed ingest (SIGKILL, power loss) cannot record its own end: its transaction never commits, so
the warehouse is as it was, but its run stays ``running`` and its staging files stay on disk. Holding
an exclusive lock for the whole ingest makes that detectable: whoever gets the lock knows that any
run still ``running`` belongs to a process that is gone, marks it ``interrupted`` and removes its
staging. The lock is the operating system's, so it is released when the process dies, however it dies:
on SQLite an ``flock`` on ``<warehouse file>.ingest-lock`` beside it, on PostgreSQL a session
advisory lock held by one connection.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import sqlalchemy as sa

from carepulse import schema
from carepulse.errors import CarePulseError

#: PostgreSQL advisory lock of "an ingest is loading this warehouse": one per database and schema
#: (the warehouse is the schema on the search path; two warehouses in one database do not block each other).
PG_LOCK_KEY = "hashtext('carepulse ingest ' || current_database() || '.' || current_schema())"
INTERRUPTED_MESSAGE = "the load process ended before it finished (killed?); nothing was changed"


class IngestRunning(CarePulseError):
    """Another ingest holds the warehouse."""


@contextlib.contextmanager
def exclusive_ingest(engine: sa.Engine) -> Iterator[None]:
    """Hold the warehouse's ingest lock for the block; :class:`IngestRunning` at once if another holds it."""
    busy = (
        "another ingest is loading this warehouse right now; wait for it to finish "
        "(`carepulse runs` shows it as running), then try again"
    )
    if engine.dialect.name == "sqlite":
        database = engine.url.database
        if not database or database == ":memory:":  # private to this process: nobody to exclude
            yield
            return
        path = Path(database).with_name(Path(database).name + ".ingest-lock")
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("a+") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise IngestRunning(busy) from None
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)
        return
    with engine.connect() as conn:
        if not conn.execute(sa.text(f"SELECT pg_try_advisory_lock({PG_LOCK_KEY})")).scalar():
            raise IngestRunning(busy)
        conn.commit()
        try:
            yield
        finally:
            with contextlib.suppress(sa.exc.SQLAlchemyError):
                conn.execute(sa.text(f"SELECT pg_advisory_unlock({PG_LOCK_KEY})"))
                conn.commit()


def reap_interrupted_runs(engine: sa.Engine, data_dir: Path) -> list[int]:
    """Mark runs left ``running`` by a process that is gone as ``interrupted`` and remove their staging.

    Call only while holding :func:`exclusive_ingest` (then no live ingest can own such a run).
    Returns the run ids it marked.
    """
    runs = schema.load_runs
    with engine.begin() as conn:
        stale = [r for (r,) in conn.execute(sa.select(runs.c.run_id).where(runs.c.status == "running"))]
        if not stale:
            return []
        conn.execute(
            runs.update()
            .where(runs.c.run_id.in_(stale))
            .values(
                status="interrupted",
                finished_at=sa.func.coalesce(runs.c.finished_at, runs.c.started_at),
                message=INTERRUPTED_MESSAGE,
            )
        )
        if engine.dialect.name != "sqlite":
            inspector = sa.inspect(conn)
            for table in inspector.get_table_names():
                if any(table.startswith(f"_stg_{run}_") for run in stale):
                    conn.exec_driver_sql(f'DROP TABLE IF EXISTS "{table}"')
    for run in stale:
        shutil.rmtree(Path(data_dir) / "staging" / f"run-{run}", ignore_errors=True)
        with contextlib.suppress(FileNotFoundError):  # the single staging file of earlier versions
            os.remove(Path(data_dir) / "staging" / f"run-{run}.sqlite")
    return stale
