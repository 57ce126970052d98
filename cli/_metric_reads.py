"""Where ``carepulse metrics`` gets its numbers: the load's aggregates when they can answer, else rows."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    import polars as pl
    import sqlalchemy as sa

    from carepulse.settings import Settings


def read_metric_frames(engine, metric_names: list[str]) -> dict:
    """The warehouse tables the metrics need, restricted to the columns :func:`carepulse.metrics.prepare` reads."""
    from carepulse import metrics, warehouse
    from carepulse.metrics.prepare import CORE, REQUIRED_COLUMNS

    needed = set(CORE)
    for name in metric_names:
        needed.update(metrics.get_metric(name).frames)
    return {
        name: warehouse.read_table(engine, name, columns=REQUIRED_COLUMNS[name]) for name in sorted(needed)
    }


def catalogue(
    engine: sa.Engine,
    settings: Settings,
    names: list[str],
    explicit: bool,
    by: list[str],
    period: str | None,
    start: str | None,
    end: str | None,
    filters: dict[str, list[str]],
) -> pl.DataFrame:
    """From the aggregates the loads keep, when they can answer (grouping and filters on the columns
    they keep, built under the current conventions); else from rows."""
    from carepulse import metrics
    from carepulse.metrics import aggregates
    from carepulse.pipelines import aggregate_load

    chosen = names if explicit else None
    stored = aggregate_load.read_aggregates(engine, names)
    if aggregate_load.usable(stored, settings, by, filters):
        return aggregates.catalogue_from_aggregates(
            stored, metrics=chosen, by=by, period=period, start=start, end=end, filters=filters or None
        )
    frames = read_metric_frames(engine, names)
    return metrics.compute_catalogue(
        metrics.prepare(frames),
        metrics=chosen,
        settings=settings,
        by=by,
        period=period,
        start=start,
        end=end,
        filters=filters or None,
    )


def supply_probe(engine: sa.Engine, names: list[str]) -> dict[str, pl.DataFrame]:
    """Enough of the warehouse to tell which metrics are supplied, without reading fact rows.

    One row per non-empty extract the metrics need, holding the first non-null value of each source
    column (null when the column is empty everywhere): what :func:`carepulse.metrics.supply.not_supplied`
    asks of the frames, answered by ``LIMIT 1`` queries instead of a full read.
    """
    import polars as pl
    import sqlalchemy as sa

    from carepulse import metrics, schema

    columns: dict[str, set[str]] = {}
    for name in names:
        definition = metrics.get_metric(name)
        for extract in (*definition.frames, "appointments"):
            columns.setdefault(extract, set()).update(definition.source_columns)
    probe: dict[str, pl.DataFrame] = {}
    with engine.connect() as conn:
        for extract, wanted in sorted(columns.items()):
            table = schema.metadata.tables.get(extract)
            if (
                table is None
                or conn.execute(sa.select(sa.literal(1)).select_from(table).limit(1)).first() is None
            ):
                continue
            row: dict[str, object] = {"_present": 1}
            for column in sorted(c for c in wanted if c in table.c):
                row[column] = conn.execute(
                    sa.select(table.c[column]).where(table.c[column].is_not(None)).limit(1)
                ).scalar()
            probe[extract] = pl.DataFrame([row], infer_schema_length=None)
    return probe
