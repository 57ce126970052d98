"""Which metrics a site's data can support: "not supplied" instead of a misleading 0.

A site that exports only scheduling data has no referrals, claims or surveys; a metric built on them
is *not supplied*, which is different from a rate of 0 % or a count of 0. Likewise a metric whose
source columns are empty everywhere (no check-in times, no eligibility flag). The CLI, the JSON
output and the pages ask :func:`not_supplied` and show the reason instead of a number.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import polars as pl

from carepulse.metrics._registry import REGISTRY, MetricDefinition

#: Where a source column lives when the metric's own frame does not carry it in the extract.
_FALLBACK_EXTRACT = "appointments"


def supplied_extracts(frames: Mapping[str, pl.DataFrame | pl.LazyFrame | None]) -> set[str]:
    """Names of the extracts that hold at least one row (an empty table was never supplied)."""
    out = set()
    for name, frame in frames.items():
        if frame is None or name.startswith("_"):
            continue
        rows = frame.select(pl.len()).collect().item() if isinstance(frame, pl.LazyFrame) else frame.height
        if rows:
            out.add(name)
    return out


def _column_reason(
    definition: MetricDefinition, frames: Mapping[str, pl.DataFrame | pl.LazyFrame | None]
) -> str | None:
    for column in definition.source_columns:
        for name in (*definition.frames, _FALLBACK_EXTRACT):
            frame = frames.get(name)
            if frame is None:
                continue
            lazy = frame.lazy()
            if column not in lazy.collect_schema().names():
                continue
            if lazy.select(pl.col(column).is_not_null().any()).collect().item():
                break
            return f"column {name}.{column} is empty in every row (not in the export)"
    return None


def not_supplied(
    frames: Mapping[str, pl.DataFrame | pl.LazyFrame | None], metrics: Sequence[str] | None = None
) -> dict[str, str]:
    """Metric name -> why it cannot be computed from these extract frames (absent ones only).

    ``frames`` maps extract names to the warehouse tables (or raw extract frames); a missing or
    empty extract, or a source column null everywhere, makes the metrics that need it not supplied.
    """
    present = supplied_extracts(frames)
    reasons: dict[str, str] = {}
    for name in metrics or list(REGISTRY):
        definition = REGISTRY[name]
        absent = [f for f in definition.frames if f not in present]
        if absent:
            reasons[name] = f"no {', '.join(absent)} extract was loaded"
            continue
        reason = _column_reason(definition, frames)
        if reason:
            reasons[name] = reason
    return reasons


def not_supplied_records(reasons: Mapping[str, str]) -> list[dict[str, str | None]]:
    """JSON records for metrics the data cannot support: ``value`` null and the reason, never 0."""
    return [
        {
            "metric": name,
            "value": None,
            "status": "not supplied",
            "reason": reason,
            "definition": REGISTRY[name].short_name,
        }
        for name, reason in reasons.items()
    ]
