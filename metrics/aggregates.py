"""Sufficient statistics of every metric, so the catalogue is computed without reading row-level data.

:func:`build_aggregates` turns the prepared frames into one long frame of statistics per metric x day
x department x site x provider x modality x payer class (x the metric's category, e.g. the hour or
the payer): rows and sums of ``_num``/``_den`` for rates, rows for counts, and for times and scores a
histogram of ``_x`` in logarithmic buckets with the exact sum of each bucket. The statistics are
derived from the registry's unit-row functions, so a metric's definition stays in one place.

:func:`catalogue_from_aggregates` and :func:`compute_from_aggregates` give the same frames as
:func:`carepulse.metrics.compute_catalogue` and :func:`carepulse.metrics.compute`, for any grouping
and filter on :data:`AGGREGATE_DIMENSIONS`, periods and date ranges. Counts, rates, Wilson intervals
and means are exact; medians and 90th percentiles are within a relative error of
:data:`QUANTILE_RELATIVE_ERROR` (0.5%) of the exact order statistics they interpolate: every value
is placed in a bucket ``(g**(k-1), g**k]`` with ``g = (1 + a) / (1 - a)`` and read back as
``2 g**k / (g + 1)``, which is within ``a`` of any value in the bucket (the DDSketch construction,
Masson, Rim and Lee 2019); values under 1e-6 in absolute value are read back as 0. Buckets merge by
addition, so days roll up to weeks, months and any grouping without loss.

Pure functions: frames in, frames out (the load writes the result to ``metric_aggregates``).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import json
import math
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING

import polars as pl

from carepulse.metrics._compute import (
    PERIODS,
    _as_date,
    _context,
    _ensure_prepared,
    _filter_expr,
    assemble_catalogue,
)
from carepulse.metrics._context import Conventions, MetricError
from carepulse.metrics._registry import REGISTRY, MetricDefinition, get_metric
from carepulse.metrics._stats import wilson_exprs

if TYPE_CHECKING:  # pragma: no cover
    from carepulse.settings import Settings

#: The dimensions aggregates keep per day ("clinic" is the department in the extract contract). The
#: provider is left out on purpose: a provider sees a handful of patients a day, so statistics per
#: provider-day are about as many rows as the appointments themselves (measured: 13.3M aggregate
#: rows for 1.06M appointments with the provider, 3.1M without); provider views read rows.
AGGREGATE_DIMENSIONS: tuple[str, ...] = ("department", "site", "modality", "payer_class")

#: Relative error bound of aggregate medians and 90th percentiles (see the module docstring).
QUANTILE_RELATIVE_ERROR = 0.005
_GAMMA = (1 + QUANTILE_RELATIVE_ERROR) / (1 - QUANTILE_RELATIVE_ERROR)
_LOG_GAMMA = math.log(_GAMMA)
_SMALLEST = 1e-6  # |x| below this is bucket 0, read back as 0
_OFFSET = 4000  # keeps bucket indexes of |x| in [1e-6, 1e15] positive

#: Columns of an aggregate frame (and of the ``metric_aggregates`` table), in order.
AGGREGATE_SCHEMA: dict[str, pl.DataType] = {
    "metric": pl.String(),
    "day": pl.Date(),
    **{d: pl.String() for d in AGGREGATE_DIMENSIONS},
    "category": pl.String(),
    "bucket": pl.Int32(),  # time and score metrics: the histogram bucket of _x
    "n": pl.Int64(),  # unit rows
    "num": pl.Float64(),  # rates: sum of _num
    "den": pl.Float64(),  # rates: sum of _den
    "num_n": pl.Int64(),  # dollar rates: sum of _num_n
    "x_sum": pl.Float64(),  # times and scores: sum of _x in the bucket
}


#: A row naming the conventions (late-cancel window, grace minutes...) the statistics were built
#: under (readers use the aggregates only when the current settings match), dated the data's as-of.
CONVENTIONS_ROW = "_conventions"


class NotAggregated(MetricError):
    """A grouping or filter on a column the aggregates do not keep: use the row-level path."""


def bucket_of(x: pl.Expr) -> pl.Expr:
    """The signed logarithmic bucket of each value (0 for |x| < 1e-6); order-preserving."""
    magnitude = (x.abs().clip(lower_bound=_SMALLEST).log() / _LOG_GAMMA).ceil().cast(pl.Int32) + _OFFSET
    return (
        pl.when(x.abs() < _SMALLEST).then(pl.lit(0, pl.Int32)).otherwise(x.sign().cast(pl.Int32) * magnitude)
    )


def bucket_value(bucket: pl.Expr) -> pl.Expr:
    """The value a bucket stands for: within :data:`QUANTILE_RELATIVE_ERROR` of each value in it."""
    power = (bucket.abs() - _OFFSET).cast(pl.Float64)
    value = 2.0 * (power * _LOG_GAMMA).exp() / (_GAMMA + 1.0)
    return pl.when(bucket == 0).then(0.0).otherwise(bucket.sign().cast(pl.Float64) * value)


def _grain(units: pl.LazyFrame, definition: MetricDefinition) -> list[pl.Expr]:
    schema = units.collect_schema()
    dims = [
        (pl.col(d).cast(pl.String) if d in schema else pl.lit(None, pl.String)).alias(d)
        for d in AGGREGATE_DIMENSIONS
    ]
    category = pl.col(definition.category).cast(pl.String) if definition.category else pl.lit(None, pl.String)
    return [pl.col("_date").cast(pl.Date).alias("day"), *dims, category.alias("category")]


def metric_statistics(definition: MetricDefinition, units: pl.LazyFrame) -> pl.LazyFrame:
    """One metric's unit rows reduced to its sufficient statistics per day and grain (lazy)."""
    keys = ["day", *AGGREGATE_DIMENSIONS, "category"]
    rows = units.select(*_grain(units, definition), pl.all().exclude(*AGGREGATE_DIMENSIONS))
    if definition.kind == "rate":
        rows = rows.filter(pl.col("_den").is_not_null() & pl.col("_num").is_not_null())
        num_n = pl.col("_num_n").sum().cast(pl.Int64) if definition.weighted else pl.lit(None, pl.Int64)
        out = rows.group_by(keys).agg(
            pl.len().cast(pl.Int64).alias("n"),
            pl.col("_num").sum().cast(pl.Float64).alias("num"),
            pl.col("_den").sum().cast(pl.Float64).alias("den"),
            num_n.alias("num_n"),
        )
    elif definition.kind in ("time", "score"):
        x = pl.col("_x").cast(pl.Float64)
        rows = rows.filter(x.is_not_null() & x.is_not_nan()).with_columns(bucket_of(x).alias("bucket"))
        out = rows.group_by([*keys, "bucket"]).agg(pl.len().cast(pl.Int64).alias("n"), x.sum().alias("x_sum"))
    else:
        out = rows.group_by(keys).agg(pl.len().cast(pl.Int64).alias("n"))
    return out.with_columns(pl.lit(definition.name).alias("metric")).select(
        [
            (pl.col(c) if c in out.collect_schema() or c == "metric" else pl.lit(None)).cast(t).alias(c)
            for c, t in AGGREGATE_SCHEMA.items()
        ]
    )


def build_aggregates(
    prepared: Mapping[str, pl.DataFrame | pl.LazyFrame],
    *,
    settings: Settings | Conventions | None = None,
    metrics: Sequence[str] | None = None,
) -> pl.DataFrame:
    """The statistics of every registered metric (or of ``metrics``) whose extracts are present."""
    prepared = _ensure_prepared(prepared)
    context = _context(prepared, settings)
    queries = []
    for name in metrics or list(REGISTRY):
        definition = get_metric(name)
        if any(f not in prepared for f in definition.frames):
            continue
        assert definition.units is not None  # register() refuses a metric without one
        queries.append(metric_statistics(definition, definition.units(context)))
    as_of = context.as_of.date() if context.as_of is not None else None
    stamp = pl.DataFrame(
        {"metric": [CONVENTIONS_ROW], "day": [as_of], "category": [conventions_key(settings)], "n": [0]},
        schema_overrides={"day": pl.Date},
    ).select(
        [
            (pl.col(c) if c in ("metric", "day", "category", "n") else pl.lit(None)).cast(t).alias(c)
            for c, t in AGGREGATE_SCHEMA.items()
        ]
    )
    return pl.concat([*pl.collect_all(queries, engine="streaming"), stamp], how="vertical")


def conventions_key(settings: Settings | Conventions | None) -> str:
    """The conventions the statistics were computed under, as text (stored with them)."""
    return json.dumps(dataclasses.asdict(Conventions.from_settings(settings)), sort_keys=True)


def aggregates_as_of(aggregates: pl.DataFrame | pl.LazyFrame) -> dt.date | None:
    """The as-of day of the data the aggregates were built from (None: no aggregates)."""
    stamp = aggregates.lazy().filter(pl.col("metric") == CONVENTIONS_ROW).select("day").collect()
    return stamp.item(0, 0) if stamp.height else None


def built_under(aggregates: pl.DataFrame | pl.LazyFrame) -> str | None:
    """The :func:`conventions_key` stored aggregates were built under (None: no aggregates)."""
    stamp = aggregates.lazy().filter(pl.col("metric") == CONVENTIONS_ROW).select("category").collect()
    return stamp.item(0, 0) if stamp.height else None


# --- Reading the catalogue back from aggregates ---------------------------------------------------


def _quantiles(histogram: pl.DataFrame, group: list[str]) -> pl.DataFrame:
    """Median and 90th percentile per group from a bucket histogram (columns group, bucket, n).

    Linear interpolation between order statistics, as the row path (numpy's default): the order
    statistic of rank r is read as the value of the bucket holding it. Vectorised: cumulative counts
    over each group, then one lookup per rank.
    """
    keys = group or ["_all"]
    h = histogram.with_columns(pl.lit(True).alias("_all")) if not group else histogram
    h = h.sort([*keys, "bucket"], nulls_last=True).with_columns(
        pl.col("n").cum_sum().over(keys).alias("_seen"),
        pl.col("n").sum().over(keys).alias("_total"),
        bucket_value(pl.col("bucket")).alias("_value"),
    )
    out = h.select(keys).unique(maintain_order=True)
    for q, name in ((0.5, "median"), (0.9, "p90")):
        position = (pl.col("_total") - 1).cast(pl.Float64) * q
        picks = []
        for rank, label in (
            (position.floor(), "_low"),
            (pl.min_horizontal(position.floor() + 1, pl.col("_total") - 1), "_high"),
        ):
            holds = (pl.col("_seen") > rank) & (pl.col("_seen") - pl.col("n") <= rank)
            picks.append(
                h.filter(holds).select(
                    *keys, pl.col("_value").alias(label), (position - position.floor()).alias("_f")
                )
            )
        both = picks[0].join(picks[1].drop("_f"), on=keys, how="left", nulls_equal=True)
        value = pl.col("_low") + pl.col("_f") * (pl.col("_high") - pl.col("_low"))
        out = out.join(both.select(*keys, value.alias(name)), on=keys, how="left", nulls_equal=True)
    return out.drop("_all") if not group else out


def _reduce(definition: MetricDefinition, rows: pl.DataFrame, keys: list[str]) -> pl.DataFrame:
    """One metric's statistics (already filtered) to the columns :func:`metric_query` returns."""
    group = [*keys, "category"] if definition.category else keys

    def grouped(aggs: list[pl.Expr]) -> pl.DataFrame:
        return rows.group_by(group).agg(aggs) if group else rows.select(aggs)

    if definition.kind == "rate":
        aggs = [pl.col("num").sum().alias("numerator"), pl.col("den").sum().alias("denominator")]
        if definition.weighted:
            aggs.append(pl.col("num_n").sum().cast(pl.Int64).alias("numerator_n"))
        out = grouped([*aggs, pl.col("n").sum().cast(pl.Int64).alias("n")])
        value = pl.when(pl.col("denominator") > 0).then(pl.col("numerator") / pl.col("denominator"))
        out = out.with_columns(value.cast(pl.Float64).alias("value"))
        if definition.weighted:
            out = out.with_columns(
                pl.lit(None, pl.Float64).alias("ci_low"), pl.lit(None, pl.Float64).alias("ci_high")
            )
        else:
            out = out.with_columns(
                pl.col("numerator").round().cast(pl.Int64), pl.col("denominator").round().cast(pl.Int64)
            ).with_columns(*wilson_exprs(pl.col("numerator"), pl.col("denominator")))
    elif definition.kind in ("time", "score"):
        histogram = rows.group_by([*group, "bucket"]).agg(pl.col("n").sum())
        stats = grouped(
            [
                pl.col("n").sum().cast(pl.Int64).alias("n"),
                (pl.col("x_sum").sum() / pl.col("n").sum()).alias("mean"),
            ]
        )
        quantiles = _quantiles(histogram, group)
        out = (
            stats.join(quantiles, on=group, how="left", nulls_equal=True)
            if group
            else pl.concat([stats, quantiles], how="horizontal")
        )
        out = out.select(*group, "n", "median", "p90", "mean").with_columns(
            pl.col(definition.statistic).alias("value")
        )
    else:
        out = grouped([pl.col("n").sum().cast(pl.Int64).alias("n")])
        out = out.with_columns(pl.col("n").cast(pl.Float64).alias("value"))
        if definition.category:
            total = pl.col("n").sum().over(keys) if keys else pl.col("n").sum()
            out = out.with_columns((pl.col("n") / total).alias("share"))
    if definition.category:
        out = out.rename({"category": definition.category})
        group = [*keys, definition.category]
        if definition.kind == "count":
            return out.sort(
                [*keys, "n", definition.category],
                descending=[*([False] * len(keys)), True, False],
                nulls_last=True,
            )
    return out.sort(group, nulls_last=True) if group else out


def by_metric(aggregates: pl.DataFrame) -> dict[str, pl.DataFrame]:
    """Split aggregates by metric: zero-copy slices when each metric's rows are contiguous (as
    :func:`build_aggregates` and an ordered read give them); else sorted first."""
    runs = aggregates.select(pl.col("metric").rle()).unnest("metric")
    if runs.get_column("value").n_unique() != runs.height:
        aggregates = aggregates.sort("metric", maintain_order=True)
        runs = aggregates.select(pl.col("metric").rle()).unnest("metric")
    out, offset = {}, 0
    for length, name in runs.iter_rows():
        out[name] = aggregates.slice(offset, length)
        offset += length
    return out


def _selected(
    aggregates: pl.DataFrame | pl.LazyFrame,
    by: list[str],
    period: str | None,
    start: dt.date | str | None,
    end: dt.date | str | None,
    filters: Mapping[str, Iterable[object]] | None,
) -> pl.LazyFrame:
    unknown = [c for c in [*by, *(filters or {})] if c not in AGGREGATE_DIMENSIONS]
    if unknown:
        raise NotAggregated(
            f"aggregates are kept by {', '.join(AGGREGATE_DIMENSIONS)}, not by {', '.join(unknown)}"
        )
    if period is not None and period not in PERIODS:
        raise MetricError(f"period must be one of {', '.join(PERIODS)} or None, got {period!r}")
    rows = aggregates.lazy()
    start_d, end_d = _as_date(start, "start"), _as_date(end, "end")
    if start_d is not None:
        rows = rows.filter(pl.col("day") >= start_d)
    if end_d is not None:
        rows = rows.filter(pl.col("day") <= end_d)
    for column, values in (filters or {}).items():
        rows = rows.filter(_filter_expr(column, values, pl.String()))
    if period is not None:
        rows = rows.with_columns(pl.col("day").dt.truncate(PERIODS[period]).alias("period"))
    return rows


def catalogue_from_aggregates(
    aggregates: pl.DataFrame | pl.LazyFrame,
    *,
    metrics: Sequence[str] | None = None,
    family: str | None = None,
    by: Sequence[str] = (),
    period: str | None = None,
    start: dt.date | str | None = None,
    end: dt.date | str | None = None,
    filters: Mapping[str, Iterable[object]] | None = None,
) -> pl.DataFrame:
    """:func:`carepulse.metrics.compute_catalogue`'s frame, from aggregates (see the module docstring).

    Raises :class:`NotAggregated` when ``by`` or ``filters`` name a column outside
    :data:`AGGREGATE_DIMENSIONS` (the caller then computes from rows).
    """
    by = [by] if isinstance(by, str) else list(by)
    rows = _selected(aggregates, by, period, start, end, filters)
    names = (
        list(metrics)
        if metrics
        else [m.name for m in REGISTRY.values() if family is None or m.family == family]
    )
    keys = [*by, *(["period"] if period else [])]
    parts = by_metric(rows.filter(pl.col("metric").is_in(names)).collect())
    results = []
    for name in names:
        if name not in parts:
            continue
        definition = get_metric(name)
        effective = [k for k in keys if k != definition.category]
        results.append((definition, _reduce(definition, parts[name], effective)))
    return assemble_catalogue(results, keys)


@functools.cache
def _category_dtypes() -> dict[str, pl.DataType]:
    """The dtype of each metric's category column on the row path (read from empty prepared frames)."""
    from carepulse.contract import EXTRACTS
    from carepulse.metrics.prepare import prepare

    empty = {name: pl.DataFrame(schema=e.polars_schema) for name, e in EXTRACTS.items()}
    context = _context(prepare(empty), None)
    out = {}
    for definition in REGISTRY.values():
        if definition.category:
            assert definition.units is not None  # register() refuses a metric without one
            out[definition.name] = definition.units(context).collect_schema()[definition.category]
    return out


def compute_from_aggregates(
    name: str,
    aggregates: pl.DataFrame | pl.LazyFrame,
    *,
    by: Sequence[str] = (),
    period: str | None = None,
    start: dt.date | str | None = None,
    end: dt.date | str | None = None,
    filters: Mapping[str, Iterable[object]] | None = None,
) -> pl.DataFrame:
    """:func:`carepulse.metrics.compute`'s frame for one metric, from aggregates."""
    definition = get_metric(name)
    by = [by] if isinstance(by, str) else list(by)
    rows = _selected(aggregates, [b for b in by if b != definition.category], period, start, end, filters)
    keys = [b for b in by if b != definition.category] + (["period"] if period else [])
    out = _reduce(definition, rows.filter(pl.col("metric") == name).collect(), keys)
    if definition.category:
        dtype = _category_dtypes()[name]
        if dtype != pl.String() and not isinstance(dtype, (pl.Categorical, pl.Enum)):
            out = out.with_columns(pl.col(definition.category).cast(dtype))
    return out
