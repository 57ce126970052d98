"""Which metrics the warehouse can support, told by ``LIMIT 1`` queries instead of a full read.

Shared by the CLI (``carepulse metrics``) and the dashboard, which both show "not supplied" with the
reason (:mod:`carepulse.metrics.supply`) instead of a misleading 0 for metrics a site's data lacks.
"""

from __future__ import annotations

from collections.abc import Sequence

import polars as pl
import sqlalchemy as sa

from carepulse import schema
from carepulse.metrics._registry import REGISTRY
from carepulse.metrics.supply import not_supplied


def supply_probe(engine: sa.Engine, names: Sequence[str]) -> dict[str, pl.DataFrame]:
    """Enough of the warehouse to tell which metrics are supplied, without reading fact rows.

    One row per non-empty extract the metrics need, holding the first non-null value of each source
    column (null when the column is empty everywhere): what :func:`carepulse.metrics.supply.not_supplied`
    asks of the frames, answered by ``LIMIT 1`` queries instead of a full read.
    """
    columns: dict[str, set[str]] = {}
    for name in names:
        definition = REGISTRY[name]
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


def warehouse_not_supplied(engine: sa.Engine, names: Sequence[str] | None = None) -> dict[str, str]:
    """Metric name -> why the warehouse's data cannot support it (only the metrics it cannot)."""
    chosen = list(names) if names is not None else list(REGISTRY)
    return not_supplied(supply_probe(engine, chosen), chosen)
