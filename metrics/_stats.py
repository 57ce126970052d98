"""Statistics shared by every metric: the Wilson interval and the summaries of a duration.

Expressions, not functions of frames, so the aggregation stays one Polars query per metric.
"""

from __future__ import annotations

import math

import polars as pl

#: Two-sided 95% normal quantile.
Z95 = 1.959963984540054


def wilson_interval(successes: int, n: int, z: float = Z95) -> tuple[float, float] | tuple[None, None]:
    """Wilson score interval for a proportion (Wilson 1927; Newcombe 1998, method 3).

    Used in tests and by callers holding plain numbers; :func:`wilson_exprs` is the same formula on
    columns.
    """
    if n <= 0:
        return (None, None)
    p = successes / n
    z2 = z * z
    centre = (p + z2 / (2 * n)) / (1 + z2 / n)
    half = z * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n)) / (1 + z2 / n)
    return (max(0.0, centre - half), min(1.0, centre + half))


def wilson_exprs(successes: pl.Expr, n: pl.Expr, z: float = Z95) -> tuple[pl.Expr, pl.Expr]:
    """``(ci_low, ci_high)`` expressions of the Wilson interval; null where ``n`` is 0 or null."""
    n = n.cast(pl.Float64)
    p = successes.cast(pl.Float64) / n
    z2 = z * z
    centre = (p + z2 / (2 * n)) / (1 + z2 / n)
    half = z * (p * (1 - p) / n + z2 / (4 * n * n)).sqrt() / (1 + z2 / n)
    valid = n > 0
    low = pl.when(valid).then(pl.max_horizontal(centre - half, pl.lit(0.0)))
    high = pl.when(valid).then(pl.min_horizontal(centre + half, pl.lit(1.0)))
    return low.alias("ci_low"), high.alias("ci_high")


def time_summary_aggs(column: str = "_x") -> list[pl.Expr]:
    """n, median, 90th percentile (linear interpolation, as numpy's default) and mean."""
    x = pl.col(column)
    return [
        pl.len().cast(pl.Int64).alias("n"),
        x.median().alias("median"),
        x.quantile(0.9, interpolation="linear").alias("p90"),
        x.mean().alias("mean"),
    ]


def days_between(later: pl.Expr, earlier: pl.Expr) -> pl.Expr:
    """Fractional days from ``earlier`` to ``later`` (datetimes)."""
    return (later - earlier).dt.total_seconds(fractional=True) / 86_400.0


def minutes_between(later: pl.Expr, earlier: pl.Expr) -> pl.Expr:
    """Fractional minutes from ``earlier`` to ``later`` (datetimes)."""
    return (later - earlier).dt.total_seconds(fractional=True) / 60.0
