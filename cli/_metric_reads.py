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
    """See :func:`carepulse.pipelines.supply_probe.supply_probe` (shared with the dashboard)."""
    from carepulse.pipelines.supply_probe import supply_probe as probe

    return probe(engine, names)
