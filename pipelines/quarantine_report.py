"""What a load quarantined, summarised so a person can act on it: reasons, counts, file:line examples.

Pure: quarantine frames in, a summary frame out. ``ingest`` and ``validate`` print the top reasons
and refuse a batch whose quarantined share exceeds ``settings.max_quarantine_share`` (a load that
drops most of its rows is almost always a mapping problem, not bad data).
"""

from __future__ import annotations

from collections.abc import Iterable

import polars as pl

from carepulse.pipelines.typed_rows import QUARANTINE_SCHEMA

#: Columns of :func:`quarantine_reasons`.
REASON_SCHEMA: dict[str, pl.DataType] = {
    "extract": pl.String(),
    "column_name": pl.String(),
    "reason": pl.String(),
    "rows": pl.Int64(),
    "examples": pl.List(pl.String()),
}


def quarantine_reasons(quarantines: Iterable[pl.DataFrame], examples: int = 3) -> pl.DataFrame:
    """Every distinct (extract, column, reason) with its row count and the first ``file:line`` examples.

    Sorted by rows, most first. No values are included: they may be PHI.
    """
    frames = [q.select(list(QUARANTINE_SCHEMA)) for q in quarantines if q.height]
    if not frames:
        return pl.DataFrame(schema=REASON_SCHEMA)
    return (
        pl.concat(frames)
        .sort("file_name", "line")
        .group_by("extract", "column_name", "reason", maintain_order=True)
        .agg(
            pl.col("line").n_unique().cast(pl.Int64).alias("rows"),
            pl.format("{}:{}", "file_name", "line")
            .unique(maintain_order=True)
            .head(examples)
            .alias("examples"),
        )
        .sort("rows", "extract", "column_name", descending=[True, False, False], nulls_last=True)
        .select(list(REASON_SCHEMA))
    )


def describe_reasons(reasons: pl.DataFrame, top: int = 5) -> list[str]:
    """One line per reason: ``appointments.status: not one of ... (812 rows, e.g. export.csv:14, ...)``."""
    lines = []
    for row in reasons.head(top).iter_rows(named=True):
        where = f"{row['extract']}.{row['column_name']}" if row["column_name"] else row["extract"]
        lines.append(f"{where}: {row['reason']} ({row['rows']:,} rows, e.g. {', '.join(row['examples'])})")
    if reasons.height > top:
        lines.append(f"... and {reasons.height - top} more reason(s) (--format json lists every one)")
    return lines


def share_refusal(rows_read: int, quarantined: int, limit: float, reasons: pl.DataFrame) -> str | None:
    """The refusal message when more than ``limit`` of the rows were quarantined, else ``None``."""
    if not rows_read or quarantined / rows_read <= limit:
        return None
    top = "; ".join(describe_reasons(reasons, top=3))
    return (
        f"{quarantined:,} of {rows_read:,} rows ({quarantined / rows_read:.0%}) would be quarantined, more than "
        f"max_quarantine_share {limit:.0%}; the warehouse is unchanged. Top reasons: {top}. Fix the export or "
        "its profile, or rerun with --max-quarantine-share 1 to load anyway."
    )
