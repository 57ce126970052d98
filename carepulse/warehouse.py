"""Connecting to the warehouse and reading it into Polars.

Reads go through ADBC (6-19x faster than through SQLAlchemy for bulk frames); SQLAlchemy Core is
used for the schema, for small writes and for transactions. Every reader returns frames typed as
the schema says, whichever backend stored them (SQLite keeps datetimes as ISO text).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import cast

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


def make_engine(settings: Settings | None = None, url: str | None = None) -> sa.Engine:
    """An engine on the configured warehouse (creating the SQLite file's folder if needed)."""
    settings = settings or get_settings()
    url = url or settings.warehouse_url
    if url.startswith("sqlite"):
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        engine = sa.create_engine(url)

        @sa.event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record):  # pragma: no cover - trivial
            cur = dbapi_conn.cursor()
            # Not WAL: the ADBC driver bundles its own SQLite; when its connection closes it takes
            # itself for the last one (POSIX locks are per process) and deletes the -shm file under
            # our open connections -> "disk I/O error". A rollback journal has no shared-memory file.
            cur.execute("PRAGMA journal_mode=DELETE")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.close()

        return engine
    return sa.create_engine(url, pool_pre_ping=True)


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
    """Run a SELECT through ADBC and return a frame (cast to ``dtypes`` where given)."""
    if engine.url.get_backend_name() == "sqlite":
        frame = _read_sqlite_one_batch(query, engine.url.database)
    else:
        frame = pl.read_database_uri(query, adbc_uri(engine), engine="adbc")
    return cast_frame(frame, dtypes) if dtypes else frame


def _read_sqlite_one_batch(query: str, path: str | None) -> pl.DataFrame:
    """The ADBC SQLite driver infers each column's type from its first batch (1024 rows): a column
    null there (e.g. ``claims.original_claim_id``) becomes INT64 and a later text value fails with
    "Type mismatch". One batch for the whole result makes the inference see every row."""
    import adbc_driver_sqlite.dbapi as sqlite_dbapi

    with sqlite_dbapi.connect(path) as conn:
        cur = conn.cursor()
        try:
            cur.adbc_statement.set_options(**{"adbc.sqlite.query.batch_rows": str(1_000_000_000)})
            cur.execute(query)
            table = cur.fetch_arrow_table()
        finally:
            cur.close()
    return cast(pl.DataFrame, pl.from_arrow(table))  # an Arrow table gives a DataFrame


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
