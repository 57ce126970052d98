"""Small-cell suppression for aggregate views and exports (CMS cell-size suppression policy).

CMS forbids displaying any count from 1 to 10, or a number from which such a count can be derived.
A row is suppressed when any of its counts -- ``n``, the numerator count (``numerator_n`` for dollar
shares, else ``numerator``) or its complement ``n - numerator`` -- lies in 1..threshold; its counts,
rate, interval and statistics are then nulled and ``suppressed`` is True. Zero is not suppressed
(CMS allows showing 0).
"""

from __future__ import annotations

from typing import TypeVar

import polars as pl

#: A DataFrame or a LazyFrame: :func:`suppress_small_cells` returns the kind it is given.
FrameT = TypeVar("FrameT", pl.DataFrame, pl.LazyFrame)

#: Columns nulled on a suppressed row (those present in the frame).
SUPPRESSED_COLUMNS: tuple[str, ...] = (
    "numerator",
    "denominator",
    "numerator_n",
    "n",
    "value",
    "ci_low",
    "ci_high",
    "median",
    "p90",
    "mean",
    "share",
)


def _in_small_range(expr: pl.Expr, threshold: int) -> pl.Expr:
    return ((expr >= 1) & (expr <= threshold)).fill_null(False)


def suppress_small_cells(frame: FrameT, threshold: int = 10) -> FrameT:
    """Null every count 1..``threshold`` (and what derives from it); add a ``suppressed`` flag.

    Works on the output of :func:`carepulse.metrics.compute` or :func:`carepulse.metrics.compute_catalogue` (or any frame
    with ``n`` and optionally ``numerator``/``numerator_n``); returns the same kind of frame.
    The rows stay, so a table shows "suppressed" instead of silently losing a group.
    """
    columns = frame.collect_schema().names() if isinstance(frame, pl.LazyFrame) else frame.columns
    if "n" not in columns and "numerator" not in columns:
        raise ValueError("suppress_small_cells needs an 'n' or 'numerator' column")
    checks: list[pl.Expr] = []
    n = pl.col("n") if "n" in columns else pl.col("denominator")
    checks.append(_in_small_range(n, threshold))
    if "numerator" in columns:
        if "numerator_n" in columns:
            count = pl.coalesce(pl.col("numerator_n"), pl.col("numerator"))
        else:
            count = pl.col("numerator")
        # Dollar shares carry numerator_n; a count rate has numerator == a count of n's rows.
        is_count_rate = pl.col("numerator").is_not_null()
        checks.append(is_count_rate & _in_small_range(count, threshold))
        checks.append(is_count_rate & _in_small_range(n - count, threshold))
    if "denominator" in columns and "numerator_n" not in columns:
        checks.append(_in_small_range(pl.col("denominator"), threshold))
    suppressed = pl.any_horizontal(checks).alias("suppressed")
    out = frame.with_columns(suppressed)
    nulls = [
        pl.when(pl.col("suppressed"))
        .then(pl.lit(None))
        .otherwise(pl.col(c))
        .cast(out.collect_schema()[c])
        .alias(c)
        for c in SUPPRESSED_COLUMNS
        if c in columns
    ]
    return out.with_columns(nulls)
