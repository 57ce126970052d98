"""Keeping ``metric_aggregates`` in step with the extract tables, inside each load's transaction.

Before the merge, :func:`stage_aggregates` computes the statistics of the warehouse *as it will be*
after this run (the committed rows overlaid with the run's new and changed rows: the ingest lock
keeps anyone else from writing in between), compares them with the stored ones, and stages only the
metric-days whose statistics changed. :func:`merge_aggregates` then, inside the merge's one
transaction, deletes those metric-days and inserts their new rows: a failed or killed load leaves the
aggregates exactly as they were, and a re-ingest of unchanged files rewrites nothing.

Every day is recomputed, not only the days whose rows changed, because several metrics depend on
the data's as-of time (open-referral ages, 30-day windows that close), which moves old days too;
only the writes are incremental. ``docs/architecture.md`` ("Scaling") describes the batched design.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import polars as pl
import sqlalchemy as sa

from carepulse import schema, warehouse
from carepulse.contract import EXTRACTS, PHI_COLUMNS
from carepulse.metrics import aggregates
from carepulse.metrics.prepare import prepare
from carepulse.pipelines import load

if TYPE_CHECKING:  # pragma: no cover
    from carepulse.pipelines.load import Staging
    from carepulse.settings import Settings

_KEY = ["metric", "day"]
STAGED_ROWS = "metric_aggregates"

#: Identifying columns the metrics never read (prepare keeps only the birth date, for the age band).
_UNUSED: dict[str, set[str]] = {name: set(cols) - {"birth_date"} for name, cols in PHI_COLUMNS.items()}


def warehouse_after_merge(engine: sa.Engine, changed: dict[str, pl.DataFrame]) -> dict[str, pl.DataFrame]:
    """Every extract table as it will read once ``changed`` (new and changed rows by extract) is merged."""
    frames: dict[str, pl.DataFrame] = {}
    for name, extract in EXTRACTS.items():
        columns = [c for c in extract.column_names if c not in _UNUSED.get(name, set())]
        stored = warehouse.read_table(engine, name, columns=columns)
        rows = changed.get(name)
        if rows is not None and rows.height:
            rows = warehouse.cast_frame(rows.select(columns), dict(stored.schema))
            key = extract.key
            stored = pl.concat(
                [stored.join(rows.select(key), on=key, how="anti"), rows.select(stored.columns)],
                how="vertical",
            )
        frames[name] = stored
    return frames


def changed_days(new: pl.DataFrame, old: pl.DataFrame) -> pl.DataFrame:
    """The (metric, day) pairs whose statistics differ between two aggregate frames."""
    if old.is_empty():  # a first build: every metric-day is new (no comparison to make)
        return new.select(_KEY).unique().sort(_KEY, nulls_last=True)
    columns = list(aggregates.AGGREGATE_SCHEMA)
    # Sums of floats depend on the order they were added in (and on a float round trip through the
    # database): compare them to 6 decimals, so only real changes count.
    rounded = [pl.col(c).round(6) for c, t in aggregates.AGGREGATE_SCHEMA.items() if t == pl.Float64()]
    new = new.select(columns).with_columns(rounded)
    old = warehouse.cast_frame(old, aggregates.AGGREGATE_SCHEMA).select(columns).with_columns(rounded)
    added = new.join(old, on=columns, how="anti", nulls_equal=True).select(_KEY)
    removed = old.join(new, on=columns, how="anti", nulls_equal=True).select(_KEY)
    return pl.concat([added, removed]).unique().sort(_KEY, nulls_last=True)


def stage_aggregates(
    engine: sa.Engine, staging: Staging, changed: dict[str, pl.DataFrame], settings: Settings
) -> list[dict[str, Any]]:
    """Stage the statistics of the metric-days this run changes; returns those (metric, day) pairs."""
    old = warehouse.read_table(engine, "metric_aggregates")
    current = aggregates.built_under(old) == aggregates.conventions_key(settings)
    if not any(f.height for f in changed.values()) and current:
        return []  # nothing new: the stored statistics stand (as-of moves only with new rows)
    new = aggregates.build_aggregates(prepare(warehouse_after_merge(engine, changed)), settings=settings)
    days = changed_days(new, old)
    if not days.is_empty():
        staging.write(STAGED_ROWS, new.join(days, on=_KEY, how="semi", nulls_equal=True))
    return days.to_dicts()


def merge_aggregates(conn: sa.Connection, staged_rows: str, staged_days: list[dict[str, Any]]) -> None:
    """Inside the load's transaction: drop the changed metric-days, insert their new statistics."""
    table = schema.metric_aggregates
    columns = ", ".join(f'"{c}"' for c in aggregates.AGGREGATE_SCHEMA)
    if conn.exec_driver_sql("SELECT 1 FROM metric_aggregates LIMIT 1").first() is None:
        # A first build: insert, then index (one sort instead of a B-tree insert per row), as the
        # extract merge does for a big first load; all inside the load's transaction.
        load.begin_sqlite_transaction(conn)
        for index in table.indexes:
            conn.exec_driver_sql(f'DROP INDEX IF EXISTS "{index.name}"')
        conn.exec_driver_sql(f"INSERT INTO metric_aggregates ({columns}) SELECT {columns} FROM {staged_rows}")
        for index in table.indexes:
            index.create(conn)
        return
    dated = [d for d in staged_days if d["day"] is not None]
    undated = sorted({d["metric"] for d in staged_days if d["day"] is None})
    if dated:
        conn.execute(
            table.delete().where(table.c.metric == sa.bindparam("m"), table.c.day == sa.bindparam("d")),
            [{"m": d["metric"], "d": d["day"]} for d in dated],
        )
    for metric in undated:
        conn.execute(table.delete().where(table.c.metric == metric, table.c.day.is_(None)))
    conn.exec_driver_sql(f"INSERT INTO metric_aggregates ({columns}) SELECT {columns} FROM {staged_rows}")


def read_aggregates(engine: sa.Engine, metrics: list[str] | None = None) -> pl.DataFrame:
    """The stored statistics (of some metrics, plus the conventions row), each metric's rows together."""
    where = ""
    if metrics:
        names = [*metrics, aggregates.CONVENTIONS_ROW]
        where = " WHERE metric IN (" + ", ".join("'" + m.replace("'", "''") + "'" for m in names) + ")"
    columns = ", ".join(f'"{c}"' for c in aggregates.AGGREGATE_SCHEMA)
    # In table order, not ORDER BY: walking the (metric, day) index costs a random read per row
    # (measured: 55 s instead of seconds for 3.1M rows); a load writes each metric's rows together.
    frame = warehouse.read_query(engine, f"SELECT {columns} FROM metric_aggregates{where}")
    if frame.is_empty():
        return pl.DataFrame(schema=aggregates.AGGREGATE_SCHEMA)
    frame = warehouse.cast_frame(frame, aggregates.AGGREGATE_SCHEMA).select(list(aggregates.AGGREGATE_SCHEMA))
    runs = frame.select(pl.col("metric").rle_id().max()).item() + 1
    if runs != frame.select(pl.col("metric").n_unique()).item():  # rewritten days sit apart: regroup
        frame = frame.sort("metric", maintain_order=True)
    return frame


def usable(
    stored: pl.DataFrame, settings: Settings, by: list[str], filters: Mapping[str, object] | None
) -> bool:
    """Whether stored aggregates can answer: built under the current conventions, and the grouping
    and filters are on columns they keep (else the caller computes from rows)."""
    asked = [*by, *(filters or {})]
    return aggregates.built_under(stored) == aggregates.conventions_key(settings) and all(
        c in aggregates.AGGREGATE_DIMENSIONS for c in asked
    )


def rebuild_aggregates(engine: sa.Engine, settings: Settings) -> int:
    """Recompute the aggregates from the warehouse's rows in one transaction (for a warehouse loaded
    before aggregates existed, or changed outside a load); returns the metric-days rewritten.
    Row-by-row inserts: meant for maintenance, not for the nightly path (that is the load's)."""
    old = read_aggregates(engine)
    new = aggregates.build_aggregates(prepare(warehouse_after_merge(engine, {})), settings=settings)
    days = changed_days(new, old)
    if days.is_empty():
        return 0
    rows = new.join(days, on=_KEY, how="semi", nulls_equal=True)
    table = schema.metric_aggregates
    with engine.begin() as conn:
        dated = [d for d in days.to_dicts() if d["day"] is not None]
        if dated:
            conn.execute(
                table.delete().where(table.c.metric == sa.bindparam("m"), table.c.day == sa.bindparam("d")),
                [{"m": d["metric"], "d": d["day"]} for d in dated],
            )
        for metric in days.filter(pl.col("day").is_null()).get_column("metric").to_list():
            conn.execute(table.delete().where(table.c.metric == metric, table.c.day.is_(None)))
        conn.execute(table.insert(), rows.to_dicts())
    return days.height
