"""A scorecard: units (departments, sites, providers) by headline metrics, with current and prior
value, target, and the NHS Making Data Count variation and assurance of each unit's weekly series.

Pure: frames from :func:`carepulse.metrics.compute_catalogue` in, one frame out. The weekly series
feeding SPC leave out the incomplete last week (``partial``) so it cannot raise a false signal.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import polars as pl

from carepulse.metrics._registry import MetricDefinition, get_metric
from carepulse.metrics.kpis import change, rag_status, spc_arguments
from carepulse.metrics.periods import is_partial_period

SCORECARD_SCHEMA: dict[str, pl.DataType] = {  # instances, so the values are DataType
    "unit_id": pl.String(),
    "metric": pl.String(),
    "value": pl.Float64(),
    "previous": pl.Float64(),
    "change": pl.Float64(),
    "target": pl.Float64(),
    "status": pl.String(),
    "variation": pl.String(),
    "assurance": pl.String(),
    "direction": pl.String(),
    "numerator": pl.Float64(),
    "denominator": pl.Float64(),
    "n": pl.Float64(),
}


def _index(frame: pl.DataFrame, unit: str) -> dict[tuple[str, str], dict[str, Any]]:
    if frame.is_empty():
        return {}
    return {(str(r[unit]), r["metric"]): r for r in frame.iter_rows(named=True) if r[unit] is not None}


def _variation(
    series: pl.DataFrame, definition: MetricDefinition, target: float | None
) -> tuple[str | None, str, str | None]:
    """(variation, assurance, direction 'high'/'low' of the last point against the centre)."""
    from carepulse.metrics.spc import spc

    usable = series.filter(pl.col("value").is_not_null()).sort("period")
    if usable.height < 3:
        return None, "none", None
    try:
        result = spc(usable, **spc_arguments(definition, target=target))
    except Exception:  # a series the engine cannot chart (all zero, constant): no icon, not an error
        return None, "none", None
    last = result.last_phase
    direction = None
    centre = last.get("centre")
    latest = usable.get_column("value")[-1]
    if centre is not None and latest is not None:
        direction = "high" if latest > centre else "low" if latest < centre else None
    return last.get("nhs_variation"), last.get("assurance") or "none", direction


def scorecard(
    current: pl.DataFrame,
    prior: pl.DataFrame,
    weekly: pl.DataFrame,
    *,
    unit: str,
    metric_names: tuple[str, ...],
    targets: dict[str, float],
    data_through: dt.date,
) -> pl.DataFrame:
    """One row per (unit, metric) present in ``current``: see :data:`SCORECARD_SCHEMA`.

    ``current``/``prior``: catalogue frames grouped by ``unit`` for this and the previous window;
    ``weekly``: the same grouped by ``unit`` and ``period="week"`` (unsuppressed: icons reveal no
    count). ``data_through``: the last day the data covers (the week containing it is partial).
    """
    now, before = _index(current, unit), _index(prior, unit)
    weeks = weekly.filter(pl.col(unit).is_not_null()) if not weekly.is_empty() else weekly
    if not weeks.is_empty():
        complete = [not is_partial_period(p, "week", data_through) for p in weeks.get_column("period")]
        weeks = weeks.filter(pl.Series(complete, dtype=pl.Boolean))
    by_unit_metric = (
        {(str(k[0]), k[1]): part for k, part in weeks.group_by([unit, "metric"], maintain_order=True)}
        if not weeks.is_empty()
        else {}
    )
    rows = []
    for unit_id, name in sorted(
        now, key=lambda k: (k[0], metric_names.index(k[1]) if k[1] in metric_names else 99)
    ):
        if name not in metric_names:
            continue
        definition = get_metric(name)
        row, prev = now[(unit_id, name)], before.get((unit_id, name), {})
        target = targets.get(name)
        variation, assurance, direction = _variation(
            by_unit_metric.get((unit_id, name), pl.DataFrame()), definition, target
        )
        rows.append(
            {
                "unit_id": unit_id,
                "metric": name,
                "value": row.get("value"),
                "previous": prev.get("value"),
                "change": change(row.get("value"), prev.get("value")),
                "target": target,
                "status": rag_status(row.get("value"), target, definition.better),
                "variation": variation,
                "assurance": assurance,
                "direction": direction,
                "numerator": row.get("numerator"),
                "denominator": row.get("denominator"),
                "n": row.get("n"),
            }
        )
    return (
        pl.DataFrame(rows, schema=SCORECARD_SCHEMA, orient="row")
        if rows
        else pl.DataFrame(schema=SCORECARD_SCHEMA)
    )


__all__ = ["SCORECARD_SCHEMA", "scorecard"]
