"""Connecting to the warehouse and reading it into Polars.

One SQLite library per process: every connection to a SQLite warehouse file goes through Python's
``sqlite3`` (SQLAlchemy's, and :func:`read_query`'s own). ADBC bundles a second copy of SQLite, and
POSIX locks belong to the process, not to the library: when one copy closed its file the other's
locks vanished, and in WAL mode the closing copy deleted the ``-wal``/``-shm`` files under the
other's connections ("disk I/O error" at sign-in, issue 16; ``tests/test_faults_sqlite_path.py``).
SQLite files run in WAL mode with a busy timeout, so readers keep reading during a load and see the
previous load until it commits. PostgreSQL reads still go through ADBC (no shared-lock hazard there).
Every reader returns frames typed as the schema says (SQLite keeps datetimes as ISO text).
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

import polars as pl
import sqlalchemy as sa

from carepulse import schema
from carepulse.settings import Settings, get_settings

_POLARS_FOR_SA: tuple[tuple[type, pl.DataType], ...] = (
    (sa.Boolean, pl.Boolean()),
    (sa.DateTime, pl.Datetime("us")),
    (sa.Date, pl.Date()),
    (sa.BigInteger, pl.Int64()),
    (sa.Integer, pl.Int64()),
    (sa.Float, pl.Float64()),
    (sa.Text, pl.String()),
)


#: Milliseconds a SQLite connection waits for a lock before "database is locked" (a load's commit).
BUSY_TIMEOUT_MS = 30_000
#: Rows fetched from SQLite per batch when reading a frame (bounds the Python objects alive at once).
_FETCH_ROWS = 65_536


def sqlite_pragmas(dbapi_conn: sqlite3.Connection) -> None:
    """WAL (readers never block the writer nor wait for it), a busy timeout, normal sync."""
    cur = dbapi_conn.cursor()
    cur.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.close()


def connect_sqlite(path: str | Path) -> sqlite3.Connection:
    """A plain ``sqlite3`` connection with the warehouse's pragmas (the same library SQLAlchemy uses)."""
    conn = sqlite3.connect(str(path), timeout=BUSY_TIMEOUT_MS / 1000, check_same_thread=False)
    sqlite_pragmas(conn)
    return conn


def make_engine(settings: Settings | None = None, url: str | None = None) -> sa.Engine:
    """An engine on the configured warehouse (creating the SQLite file's folder if needed)."""
    settings = settings or get_settings()
    url = url or settings.warehouse_url
    if url.startswith("sqlite"):
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        engine = sa.create_engine(url, connect_args={"timeout": BUSY_TIMEOUT_MS / 1000})

        @sa.event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn: sqlite3.Connection, _record: object) -> None:
            sqlite_pragmas(dbapi_conn)

        return engine
    return sa.create_engine(url, pool_pre_ping=True)


@contextlib.contextmanager
def write_transaction(engine: sa.Engine) -> Iterator[sa.Connection]:
    """A transaction that takes SQLite's write lock before its first read (``BEGIN IMMEDIATE``).

    In WAL mode a transaction that reads, then writes after another process committed, fails at once
    with "database is locked" (its snapshot is stale; the busy timeout does not apply). Taking the
    lock first makes it wait its turn instead, so concurrent writers queue and nothing is lost.
    On PostgreSQL this is a plain transaction."""
    with engine.begin() as conn:
        if engine.dialect.name == "sqlite":
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        yield conn


def adbc_uri(engine: sa.Engine) -> str:
    """The URI that ``polars`` hands to the ADBC driver for the same database."""
    url = engine.url
    if url.get_backend_name() == "sqlite":
        return f"sqlite:///{url.database}"
    if url.get_backend_name() == "postgresql":
        return url.set(drivername="postgresql").render_as_string(hide_password=False)
    raise ValueError(f"no ADBC driver for {url.get_backend_name()}")


def polars_schema_of(table: sa.Table, columns: Sequence[str] | None = None) -> dict[str, pl.DataType]:
    """Polars dtypes for a warehouse table's columns, from its SQLAlchemy types."""
    out: dict[str, pl.DataType] = {}
    for col in table.columns:
        if columns is not None and col.name not in columns:
            continue
        for sa_type, pl_type in _POLARS_FOR_SA:
            if isinstance(col.type, sa_type):
                out[col.name] = pl_type
                break
        else:
            out[col.name] = pl.String()
    return out


def cast_frame(frame: pl.DataFrame, dtypes: dict[str, pl.DataType]) -> pl.DataFrame:
    """Cast columns read back from any backend to the schema's dtypes."""
    exprs = []
    for name, dtype in dtypes.items():
        if name not in frame.columns:
            continue
        current = frame.schema[name]
        col = pl.col(name)
        if current == dtype:
            exprs.append(col)
        elif current == pl.String() and dtype == pl.Datetime("us"):
            exprs.append(
                col.str.replace("T", " ").str.to_datetime("%Y-%m-%d %H:%M:%S%.f", strict=False).alias(name)
            )
        elif current == pl.String() and dtype == pl.Date():
            exprs.append(col.str.slice(0, 10).str.to_date("%Y-%m-%d", strict=False).alias(name))
        elif isinstance(current, pl.Datetime) and dtype == pl.Datetime("us"):
            exprs.append(col.dt.replace_time_zone(None).dt.cast_time_unit("us").alias(name))
        else:
            exprs.append(col.cast(dtype).alias(name))
    return frame.with_columns(exprs) if exprs else frame


def read_query(engine: sa.Engine, query: str, dtypes: dict[str, pl.DataType] | None = None) -> pl.DataFrame:
    """Run a SELECT (``sqlite3`` on SQLite, ADBC on PostgreSQL) into a frame cast to ``dtypes``."""
    if engine.url.get_backend_name() == "sqlite":
        frame = _read_sqlite(query, str(engine.url.database), dtypes or {})
    else:
        frame = pl.read_database_uri(query, adbc_uri(engine), engine="adbc")
    return cast_frame(frame, dtypes) if dtypes else frame


def _stored_dtype(dtype: pl.DataType | None) -> pl.DataType | None:
    """The dtype SQLite hands back for a schema dtype: dates as text, booleans as integers."""
    if dtype is None:
        return None
    if dtype in (pl.Datetime("us"), pl.Date()):
        return pl.String()
    if dtype == pl.Boolean():
        return pl.Int64()
    return dtype


def _read_sqlite(query: str, path: str, dtypes: dict[str, pl.DataType]) -> pl.DataFrame:
    """A SELECT on a SQLite file through ``sqlite3``, batch by batch into Polars columns.

    Each column is built with its stored dtype when the schema knows it (no inference: a column
    null in the first rows, e.g. ``claims.original_claim_id``, still comes back as text)."""
    with contextlib.closing(connect_sqlite(path)) as conn:
        cur = conn.execute(query)
        names = [d[0] for d in cur.description]
        hints = [_stored_dtype(dtypes.get(name)) for name in names]
        batches: list[pl.DataFrame] = []
        typed = [(name, hint) for name, hint in zip(names, hints, strict=True) if hint is not None]
        while rows := cur.fetchmany(_FETCH_ROWS):
            if len(typed) == len(names):  # rows straight into typed columns: the fastest way from tuples
                batches.append(pl.DataFrame(rows, schema=typed, orient="row"))
            else:
                batches.append(pl.DataFrame(rows, schema=names, orient="row", infer_schema_length=None))
        cur.close()
    if not batches:
        return pl.DataFrame(
            schema={name: hint or pl.String() for name, hint in zip(names, hints, strict=True)}
        )
    return pl.concat(batches, how="vertical_relaxed")


def read_table(
    engine: sa.Engine,
    name: str,
    columns: Iterable[str] | None = None,
    where: str | None = None,
) -> pl.DataFrame:
    """Read one warehouse table (or some of its columns) typed as the schema says.

    ``where`` is a trusted SQL fragment written by the code base, never by a user.
    """
    table = schema.metadata.tables[name]
    wanted = list(columns) if columns is not None else [c.name for c in table.columns]
    unknown = [c for c in wanted if c not in table.columns]
    if unknown:
        raise KeyError(f"table {name} has no column(s) {unknown}")
    cols_sql = ", ".join(f'"{c}"' for c in wanted)
    query = f'SELECT {cols_sql} FROM "{name}"' + (f" WHERE {where}" if where else "")
    dtypes = polars_schema_of(table, wanted)
    frame = read_query(engine, query, dtypes)
    if frame.is_empty():
        frame = pl.DataFrame(schema=dtypes)
    return frame.select(wanted)


def load_frames(engine: sa.Engine, names: Iterable[str]) -> dict[str, pl.DataFrame]:
    """Several tables at once, by name (the metric functions' usual inputs)."""
    return {name: read_table(engine, name) for name in names}


def latest_load_run_id(engine: sa.Engine) -> int | None:
    """The id of the latest successful load run (cache key for the dashboard)."""
    with engine.connect() as conn:
        return conn.execute(
            sa.select(sa.func.max(schema.load_runs.c.run_id)).where(schema.load_runs.c.status == "succeeded")
        ).scalar()
