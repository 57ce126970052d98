"""Writing checked extract rows into the warehouse: staging, one-transaction merge, run records, archive.

Bulk rows go to staging tables through ADBC (6-19x faster than SQLAlchemy inserts), on a background
thread: on SQLite into one staging file per extract that the merge connection ATTACHes, on PostgreSQL
into ``_stg_<run>_<name>`` tables. Then one SQLAlchemy transaction upserts every extract by its natural key
(``INSERT ... ON CONFLICT (key) DO UPDATE ... WHERE _row_hash differs``), writes quarantine rows and
the run's records, and commits; anything that fails before the commit leaves the warehouse as it was.
"""

from __future__ import annotations

import datetime as dt
import functools
import operator
import shutil
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import polars as pl
import sqlalchemy as sa

from carepulse import schema, warehouse
from carepulse.contract import Extract

if TYPE_CHECKING:  # pragma: no cover
    from adbc_driver_manager.dbapi import Connection as AdbcConnection

_HASH_SEED = 20260407  # Polars hashes are stable within a Polars version only (see docs)
QUARANTINE_COLUMNS = (
    "run_id",
    "extract",
    "file_name",
    "line",
    "column_name",
    "value",
    "reason",
    "expectation",
    "record",
)


@dataclass
class Changes:
    """The rows of one extract that are new or changed, and the counts of what the merge will do."""

    rows: pl.DataFrame  # contract columns + _row_hash (+ _load_run_id once staged)
    inserted: int
    updated: int
    unchanged: int


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


# --- Run records --------------------------------------------------------------------------------


def start_run(engine: sa.Engine, source_dir: Path) -> int:
    """Record a run as ``running`` (committed at once, so a killed load stays visible) and return its id."""
    with engine.begin() as conn:
        result = conn.execute(
            schema.load_runs.insert().values(started_at=now(), status="running", source_dir=str(source_dir))
        )
        key = result.inserted_primary_key
        assert key is not None  # an INSERT reports its key
        return int(key[0])


def finish_run(
    conn: sa.Connection,
    run_id: int,
    *,
    status: str,
    duration_s: float,
    message: str | None = None,
    **counts: int,
) -> None:
    """Set a run's final status, duration, message and totals."""
    conn.execute(
        schema.load_runs.update()
        .where(schema.load_runs.c.run_id == run_id)
        .values(status=status, finished_at=now(), duration_s=duration_s, message=message, **counts)
    )


def record_failure(engine: sa.Engine, run_id: int, *, status: str, message: str, duration_s: float) -> None:
    """Mark a run failed or refused in a transaction of its own (the load's own was rolled back)."""
    with engine.begin() as conn:
        finish_run(conn, run_id, status=status, duration_s=duration_s, message=message[:2000])


# --- What changes -------------------------------------------------------------------------------


def with_row_hash(frame: pl.DataFrame, extract: Extract) -> pl.DataFrame:
    """Contract columns plus ``_row_hash``: a 64-bit hash of the contract columns' values.

    The XOR of per-column hashes, each with its own seed (so swapped values differ): 8x faster than
    hashing a struct of the row.
    """
    cols = extract.column_names
    row_hash = functools.reduce(operator.xor, [pl.col(c).hash(_HASH_SEED + i) for i, c in enumerate(cols)])
    return frame.select(*cols, row_hash.reinterpret(signed=True).alias("_row_hash"))


def adbc_connect(engine: sa.Engine, sqlite_path: Path | None = None) -> Any:
    """One ADBC connection to the warehouse (or to a SQLite staging file): opening one costs ~0.1 s.

    The SQLite warehouse file itself gets a ``sqlite3`` connection instead: one SQLite library per
    file per process (see :mod:`carepulse.warehouse`); staging files are ADBC's alone. Any: a DB-API
    connection of either library."""
    if engine.dialect.name == "sqlite":
        if sqlite_path is None:
            return warehouse.connect_sqlite(str(engine.url.database))
        import adbc_driver_sqlite.dbapi as sqlite_driver

        return sqlite_driver.connect(str(sqlite_path))
    import adbc_driver_postgresql.dbapi as postgresql_driver

    connection: AdbcConnection = postgresql_driver.connect(warehouse.adbc_uri(engine))
    return connection


def changes(reader: Any, extract: Extract, frame: pl.DataFrame) -> Changes:
    """Compare hashed rows with the warehouse (``reader``: a DB-API connection): keep only new and
    changed rows, count each kind."""
    key = extract.key
    hashed = with_row_hash(frame, extract)
    existing = pl.read_database(f'SELECT "{key}", "_row_hash" FROM "{extract.name}"', reader)
    if existing.is_empty():
        return Changes(hashed.sort(key), hashed.height, 0, 0)  # key order: the PK B-tree fills in sequence
    existing = existing.select(
        pl.col(key).cast(pl.String), pl.col("_row_hash").cast(pl.Int64).alias("_old_hash")
    )
    joined = hashed.join(existing, on=key, how="left", maintain_order="left")
    is_new = joined["_old_hash"].is_null()
    is_changed = ~is_new & (joined["_old_hash"] != joined["_row_hash"])
    inserted, updated = int(is_new.sum()), int(is_changed.sum())
    rows = joined.filter(is_new | is_changed).drop("_old_hash").sort(key)
    return Changes(rows, inserted, updated, hashed.height - inserted - updated)


# --- Staging and merge --------------------------------------------------------------------------


def storable(frame: pl.DataFrame, engine: sa.Engine) -> pl.DataFrame:
    """On SQLite, dates and timestamps as the text SQLAlchemy writes (so both read them back alike)."""
    if engine.dialect.name != "sqlite":
        return frame
    exprs = []
    for name, dtype in frame.schema.items():
        if isinstance(dtype, pl.Datetime):  # "YYYY-MM-DD HH:MM:SS.ffffff", as SQLAlchemy writes it
            exprs.append(pl.col(name).dt.cast_time_unit("us").cast(pl.String))
        elif dtype == pl.Date():
            exprs.append(pl.col(name).cast(pl.String))
    return frame.with_columns(exprs) if exprs else frame


class Staging:
    """Where one run's bulk rows wait for the merge; removed afterwards, whatever happened.

    Writes run on one background thread, in the order they are queued, while the merge (on the
    caller's thread) works through the extracts already staged: SQLite's single-threaded merge and
    ADBC's bulk write then use both cores (measured: about a quarter off a 1M-appointment ingest).

    On SQLite each extract gets its own staging file, written and closed by ADBC before the merge
    connection ATTACHes it. ADBC bundles its own SQLite library, and POSIX locks are per process: the
    two libraries must never have one file open at once, or closing one drops the other's locks.
    """

    #: Staged tables sharing one SQLite file (SQLite attaches at most 10 databases to a connection;
    #: nine extracts each have their own).
    SHARED_FILES = {"quarantine": "system", "metric_aggregates": "system"}

    def __init__(self, engine: sa.Engine, run_id: int, data_dir: Path):
        self.engine, self.run_id = engine, run_id
        self.sqlite = engine.dialect.name == "sqlite"
        self.folder = Path(data_dir) / "staging" / f"run-{run_id}"
        if self.sqlite:
            shutil.rmtree(self.folder, ignore_errors=True)
            self.folder.mkdir(parents=True)
        self._writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="carepulse-staging")
        self._pending: dict[str, Future[str]] = {}  # logical name -> its staging table, once written
        self._attached: list[str] = []
        self._cancelled = threading.Event()

    def write(self, name: str, frame: pl.DataFrame) -> None:
        """Queue one frame for a bulk write through ADBC (on the staging thread)."""
        self._pending[name] = self._writer.submit(self._write, name, frame)

    def _write(self, name: str, frame: pl.DataFrame) -> str:
        if self._cancelled.is_set():
            raise RuntimeError("staging cancelled")
        table = f"_stg_{self.run_id}_{name}"
        conn = adbc_connect(self.engine, self._file(name) if self.sqlite else None)
        try:
            storable(frame, self.engine).write_database(table, conn, engine="adbc", if_table_exists="replace")
        finally:
            conn.close()
        return table

    def _file(self, name: str) -> Path:
        return self.folder / f"{self.SHARED_FILES.get(name, name)}.sqlite"

    def __contains__(self, name: str) -> bool:
        return name in self._pending

    def table(self, conn: sa.Connection, name: str) -> str:
        """Wait until ``name`` is staged, make it readable from ``conn`` (SQLite: ATTACH its file, which
        works inside the merge's transaction) and return the table's name for SQL. Re-raises the
        write's error."""
        table = self._pending[name].result()
        if not self.sqlite:
            return f'"{table}"'
        alias = f"stg_{self.SHARED_FILES.get(name, name)}"
        if alias not in self._attached:
            for other, future in self._pending.items():  # a shared file: every table in it written first
                if self._file(other) == self._file(name):
                    future.result()
            if not self._attached:
                conn.exec_driver_sql("PRAGMA main.cache_size=-262144")  # 256 MB for the merge's index work
            conn.exec_driver_sql(f'ATTACH DATABASE ? AS "{alias}"', (str(self._file(name)),))
            self._attached.append(alias)
        return f'"{alias}"."{table}"'

    def detach(self, conn: sa.Connection) -> None:
        """Detach the staging files from ``conn`` (after its transaction has ended)."""
        if not self._attached:
            return
        conn.rollback()
        for alias in self._attached:
            conn.exec_driver_sql(f'DETACH DATABASE "{alias}"')
        conn.exec_driver_sql("PRAGMA main.cache_size=-2000")
        conn.commit()
        self._attached.clear()

    def drop(self) -> None:
        """Stop queued writes, wait for the one in progress, and remove every staging table (or file)."""
        self._cancelled.set()
        self._writer.shutdown(wait=True, cancel_futures=True)
        if self.sqlite:
            shutil.rmtree(self.folder, ignore_errors=True)
            return
        written = [
            f.result()
            for f in self._pending.values()
            if f.done() and not f.cancelled() and f.exception() is None
        ]
        if written:
            with self.engine.begin() as conn:
                for table in written:
                    conn.exec_driver_sql(f'DROP TABLE IF EXISTS "{table}"')


#: Above this many staged rows, a first load into an empty table drops its secondary indexes and
#: builds them afterwards (one sort per index instead of a B-tree insert per row: ~2x faster).
REBUILD_INDEXES_ABOVE = 50_000


def begin_sqlite_transaction(conn: sa.Connection) -> None:
    """Open the SQLite transaction before any DDL: pysqlite begins one implicitly only at the first
    INSERT/UPDATE/DELETE, so a DROP INDEX run before that would be committed at once, not undoable
    (e.g. a run whose first changed extract is a big first load)."""
    if conn.dialect.name != "sqlite":
        return
    dbapi_connection = conn.connection.dbapi_connection
    assert dbapi_connection is not None  # the connection is open
    if not dbapi_connection.in_transaction:
        conn.exec_driver_sql("BEGIN")


def merge_extract(conn: sa.Connection, extract: Extract, staged: str, staged_rows: int = 0) -> None:
    """Upsert staged rows into the extract's table by natural key, only where the hash differs."""
    cols = [*extract.column_names, "_load_run_id", "_row_hash"]
    col_sql = ", ".join(f'"{c}"' for c in cols)
    table = schema.EXTRACT_TABLES[extract.name]
    empty = conn.exec_driver_sql(f'SELECT 1 FROM "{extract.name}" LIMIT 1').first() is None
    if empty and staged_rows > REBUILD_INDEXES_ABOVE:
        begin_sqlite_transaction(conn)
        for index in table.indexes:
            conn.exec_driver_sql(f'DROP INDEX "{index.name}"')
        conn.exec_driver_sql(f'INSERT INTO "{extract.name}" ({col_sql}) SELECT {col_sql} FROM {staged}')
        for index in table.indexes:
            index.create(conn)
        return
    updates = ", ".join(f'"{c}" = excluded."{c}"' for c in cols if c != extract.key)
    conn.exec_driver_sql(
        f'INSERT INTO "{extract.name}" ({col_sql}) SELECT {col_sql} FROM {staged} WHERE true '
        f'ON CONFLICT ("{extract.key}") DO UPDATE SET {updates} '
        f'WHERE "{extract.name}"."_row_hash" <> excluded."_row_hash"'
    )


def insert_quarantine(conn: sa.Connection, staged: str) -> None:
    """Copy staged quarantine rows into the quarantine table."""
    col_sql = ", ".join(f'"{c}"' for c in QUARANTINE_COLUMNS)
    conn.exec_driver_sql(f"INSERT INTO quarantine ({col_sql}) SELECT {col_sql} FROM {staged}")


def archive_file(path: Path, sha256: str, data_dir: Path) -> Path:
    """Keep the raw file as ``data_dir/archive/<sha256>.<ext>`` (content-addressed: stored once)."""
    target = Path(data_dir) / "archive" / f"{sha256}{Path(path).suffix}"
    if not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_suffix(target.suffix + ".part")
        shutil.copyfile(path, tmp)
        tmp.replace(target)
    return target
