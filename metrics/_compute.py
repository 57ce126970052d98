"""Turning a metric's unit rows into the numbers shown: grouping, periods, filters, intervals.

One generic aggregation serves every metric, so grouping, filtering and the output columns behave
the same for a no-show rate, a cycle time or a denial Pareto.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, cast

import polars as pl

from carepulse.metrics._context import Conventions, MetricContext, MetricError
from carepulse.metrics._registry import REGISTRY, MetricDefinition, get_metric
from carepulse.metrics._stats import time_summary_aggs, wilson_exprs
from carepulse.metrics.prepare import is_prepared, prepare

if TYPE_CHECKING:  # pragma: no cover
    from carepulse.settings import Settings

PERIODS = {"week": "1w", "month": "1mo", "quarter": "1q"}

#: Output columns of a catalogue row after the group keys, in order.
CATALOGUE_VALUE_COLUMNS: dict[str, pl.DataType] = {
    "numerator": pl.Float64(),
    "denominator": pl.Float64(),
    "numerator_n": pl.Int64(),
    "n": pl.Int64(),
    "value": pl.Float64(),
    "ci_low": pl.Float64(),
    "ci_high": pl.Float64(),
    "median": pl.Float64(),
    "p90": pl.Float64(),
    "mean": pl.Float64(),
    "share": pl.Float64(),
}


def _as_date(value: dt.date | str | None, label: str) -> dt.date | None:
    if value is None or isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        return value
    if isinstance(value, dt.datetime):
        return value.date()
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError:
        raise MetricError(f"{label} must be a date YYYY-MM-DD, got {value!r}") from None


def _context(prepared: Mapping[str, pl.LazyFrame], settings: Settings | Conventions | None) -> MetricContext:
    as_of = prepared["_meta"].collect().item(0, "as_of") if "_meta" in prepared else None
    return MetricContext(prepared, Conventions.from_settings(settings), as_of)


def _filter_expr(column: str, values: object, dtype: pl.DataType) -> pl.Expr:
    """``values``: a list, tuple or set of values, or one value."""
    items = list(values) if isinstance(values, (list, tuple, set, frozenset)) else [values]
    texts = [None if v is None else str(v) for v in items]
    if dtype == pl.String() or isinstance(dtype, pl.Categorical):
        return pl.col(column).is_in(texts, nulls_equal=True)
    return pl.col(column).cast(pl.String).is_in(texts, nulls_equal=True)


def _as_text(frame: pl.LazyFrame, columns: list[str]) -> pl.LazyFrame:
    """Categorical group columns back to text, so outputs are plain strings whatever prepare used."""
    schema = frame.collect_schema()
    casts = [pl.col(c).cast(pl.String) for c in columns if isinstance(schema[c], (pl.Categorical, pl.Enum))]
    return frame.with_columns(casts) if casts else frame


def metric_query(
    definition: MetricDefinition,
    context: MetricContext,
    *,
    by: Sequence[str] = (),
    period: str | None = None,
    start: dt.date | str | None = None,
    end: dt.date | str | None = None,
    filters: Mapping[str, Iterable[object]] | None = None,
) -> pl.LazyFrame:
    """The lazy query computing one metric (what :func:`compute` collects)."""
    by = [by] if isinstance(by, str) else list(by)
    if period is not None and period not in PERIODS:
        raise MetricError(f"period must be one of {', '.join(PERIODS)} or None, got {period!r}")
    for name in definition.frames:
        context.frame(name)  # a clear error if absent
    if definition.units is None:
        raise MetricError(f"metric {definition.name} has no unit-row function")
    units = definition.units(context)
    schema = units.collect_schema()
    asked = [*by, *(filters or {})]
    missing = [c for c in asked if c not in schema]
    if missing:
        raise MetricError(
            f"metric {definition.name} cannot be grouped or filtered by column(s) {', '.join(missing)}: "
            f"its {definition.frame} rows have no such column"
        )
    if definition.category and definition.category in by:
        by.remove(definition.category)

    start_d, end_d = _as_date(start, "start"), _as_date(end, "end")
    if start_d is not None:
        units = units.filter(pl.col("_date") >= start_d)
    if end_d is not None:
        units = units.filter(pl.col("_date") <= end_d)
    for column, values in (filters or {}).items():
        units = units.filter(_filter_expr(column, values, schema[column]))

    keys = list(by)
    if period is not None:
        precomputed = {"week": "_week", "month": "_month"}.get(
            period, ""
        )  # prepare's, when the rows kept them
        start_of = (
            pl.col(precomputed) if precomputed in schema else pl.col("_date").dt.truncate(PERIODS[period])
        )
        units = units.with_columns(start_of.alias("period"))
        keys.append("period")
    group_keys = [*keys, definition.category] if definition.category else keys

    if definition.kind == "rate":
        aggs = [pl.col("_num").sum().alias("numerator"), pl.col("_den").sum().alias("denominator")]
        if definition.weighted:
            aggs += [
                pl.col("_num_n").sum().cast(pl.Int64).alias("numerator_n"),
                pl.len().cast(pl.Int64).alias("n"),
            ]
        else:
            aggs += [pl.len().cast(pl.Int64).alias("n")]
        units = units.filter(pl.col("_den").is_not_null() & pl.col("_num").is_not_null())
        out = _group(units, group_keys, aggs)
        value = pl.when(pl.col("denominator") > 0).then(pl.col("numerator") / pl.col("denominator"))
        out = out.with_columns(value.cast(pl.Float64).alias("value"))
        if definition.weighted:
            out = out.with_columns(
                pl.lit(None, pl.Float64).alias("ci_low"), pl.lit(None, pl.Float64).alias("ci_high")
            )
        else:
            out = out.with_columns(
                pl.col("numerator").cast(pl.Int64), pl.col("denominator").cast(pl.Int64)
            ).with_columns(*wilson_exprs(pl.col("numerator"), pl.col("denominator")))
    elif definition.kind in ("time", "score"):
        units = units.filter(pl.col("_x").is_not_null() & pl.col("_x").is_not_nan())
        out = _group(units, group_keys, time_summary_aggs("_x"))
        out = out.with_columns(pl.col(definition.statistic).alias("value"))
    elif definition.kind == "count":
        out = _group(units, group_keys, [pl.len().cast(pl.Int64).alias("n")])
        out = out.with_columns(pl.col("n").cast(pl.Float64).alias("value"))
        if definition.category:
            total = pl.col("n").sum().over(keys) if keys else pl.col("n").sum()
            out = out.with_columns((pl.col("n") / total).alias("share"))
    else:  # pragma: no cover - the registry only holds the four kinds
        raise MetricError(f"metric {definition.name} has unknown kind {definition.kind!r}")
    if definition.composite:
        out = _composite_value(units, out, group_keys, definition.kind)

    out = _as_text(out, group_keys)
    if definition.kind == "count" and definition.category:
        return out.sort(
            [*keys, "n", definition.category],
            descending=[*([False] * len(keys)), True, False],
            nulls_last=True,
        )
    return out.sort(group_keys, nulls_last=True) if group_keys else out


def _composite_value(units: pl.LazyFrame, out: pl.LazyFrame, keys: list[str], kind: str) -> pl.LazyFrame:
    """AHRQ's composite score: the mean of the item scores (each item's top-box share or mean), not
    the pool of all answers, so an item fewer respondents answered weighs as much as the others.
    Numerator, denominator and the other statistics stay the pooled answers (traceable counts)."""
    item = (pl.col("_num").sum() / pl.col("_den").sum()) if kind == "rate" else pl.col("_x").mean()
    per_item = _group(units, [*keys, "_item"], [item.alias("_item_value")])
    means = _group(per_item, keys, [pl.col("_item_value").mean().alias("_composite")])
    joined = out.join(means, on=keys, how="left", nulls_equal=True) if keys else out.join(means, how="cross")
    return joined.with_columns(pl.col("_composite").alias("value")).drop("_composite")


def _group(units: pl.LazyFrame, keys: list[str], aggs: list[pl.Expr]) -> pl.LazyFrame:
    if keys:
        return units.group_by(keys).agg(aggs)
    return units.select(aggs)


def _ensure_prepared(frames: Mapping[str, pl.DataFrame | pl.LazyFrame]) -> Mapping[str, pl.LazyFrame]:
    # prepare() output holds LazyFrames only
    return cast(Mapping[str, pl.LazyFrame], frames) if is_prepared(frames) else prepare(frames)


def compute(
    name: str,
    prepared: Mapping[str, pl.DataFrame | pl.LazyFrame],
    *,
    by: Sequence[str] = (),
    period: str | None = None,
    start: dt.date | str | None = None,
    end: dt.date | str | None = None,
    filters: Mapping[str, Iterable[object]] | None = None,
    settings: Settings | Conventions | None = None,
) -> pl.DataFrame:
    """One metric, grouped, per period, within a date range, filtered.

    Parameters
    ----------
    name : str
        A registered metric (:func:`carepulse.metrics.list_metrics`).
    prepared : dict
        Output of :func:`carepulse.metrics.prepare` (raw extract frames are prepared on the fly).
    by : sequence of str
        Group columns: any of ``DIMENSIONS`` or another column of the metric's rows
        (e.g. ``weekday``/``hour`` for appointment metrics, ``payer_name`` for claims).
    period : None, "week", "month" or "quarter"
        Adds a ``period`` Date column: the Monday of the ISO week, the first of the month or quarter.
    start, end : date or ISO string, optional
        Inclusive range on the metric's date basis (``MetricDefinition.date_basis``).
    filters : dict of column to list of values
        Keep rows whose column is one of the values (compared as text; ``None`` matches null).
    settings : Settings or Conventions, optional
        Late-cancel window, whether late cancels count as no-shows, on-time grace minutes.

    Returns
    -------
    DataFrame: group columns, ``period``, the metric's ``category`` column if any, then for rates
    ``numerator, denominator, n, value, ci_low, ci_high`` (95% Wilson; null for dollar shares, which
    add ``numerator_n``), for times and scores ``n, median, p90, mean, value`` and for counts
    ``n, value`` (+ ``share`` of the group when the metric has a category).
    """
    definition = get_metric(name)
    prepared = _ensure_prepared(prepared)
    query = metric_query(
        definition, _context(prepared, settings), by=by, period=period, start=start, end=end, filters=filters
    )
    return query.collect()


def compute_catalogue(
    prepared: Mapping[str, pl.DataFrame | pl.LazyFrame],
    *,
    metrics: Sequence[str] | None = None,
    family: str | None = None,
    by: Sequence[str] = (),
    period: str | None = None,
    start: dt.date | str | None = None,
    end: dt.date | str | None = None,
    filters: Mapping[str, Iterable[object]] | None = None,
    settings: Settings | Conventions | None = None,
) -> pl.DataFrame:
    """Many metrics in one long frame (all by default), computed in one parallel Polars pass.

    Columns: ``metric, family, kind, unit``, the group columns, ``period``, ``category`` (the
    metric's category value as text, e.g. an hour or a payer), then every value column of
    :data:`CATALOGUE_VALUE_COLUMNS` (null where it does not apply). Metrics whose extract is absent,
    or whose rows lack a requested ``by``/filter column, are skipped.
    """
    by = [by] if isinstance(by, str) else list(by)
    prepared = _ensure_prepared(prepared)
    context = _context(prepared, settings)
    names = (
        list(metrics)
        if metrics
        else [m.name for m in REGISTRY.values() if family is None or m.family == family]
    )
    queries, kept = [], []
    for name in names:
        definition = get_metric(name)
        if any(f not in prepared for f in definition.frames):
            continue
        try:
            query = metric_query(
                definition, context, by=by, period=period, start=start, end=end, filters=filters
            )
        except MetricError:
            if metrics:  # explicitly asked for: say why it cannot be computed
                raise
            continue
        queries.append(query)
        kept.append(definition)
    # The streaming engine runs the many small aggregations of a catalogue with less work (measured:
    # about 25% less CPU and half the wall time of the in-memory engine on 1M appointments).
    results = pl.collect_all(queries, engine="streaming") if queries else []
    return assemble_catalogue(list(zip(kept, results, strict=True)), [*by, *(["period"] if period else [])])


def assemble_catalogue(
    results: Sequence[tuple[MetricDefinition, pl.DataFrame]], keys: Sequence[str]
) -> pl.DataFrame:
    """Per-metric result frames (as :func:`metric_query` returns them) as one long catalogue frame.

    Shared by the row path (:func:`compute_catalogue`) and the aggregate path
    (:func:`carepulse.metrics.aggregates.catalogue_from_aggregates`), so both give the same columns.
    """
    parts = []
    for definition, frame in results:
        category = (
            pl.col(definition.category).cast(pl.String) if definition.category else pl.lit(None, pl.String)
        ).alias("category")
        values = [
            (pl.col(c).cast(t) if c in frame.columns else pl.lit(None, t)).alias(c)
            for c, t in CATALOGUE_VALUE_COLUMNS.items()
        ]
        parts.append(
            frame.select(
                pl.lit(definition.name).alias("metric"),
                pl.lit(definition.family).alias("family"),
                pl.lit(definition.kind).alias("kind"),
                pl.lit(definition.unit).alias("unit"),
                *[pl.col(k).cast(pl.String) if k != "period" else pl.col(k) for k in keys],
                category,
                *values,
            )
        )
    if not parts:
        schema: dict[str, pl.DataType] = {
            "metric": pl.String(),
            "family": pl.String(),
            "kind": pl.String(),
            "unit": pl.String(),
        }
        schema |= {k: (pl.Date() if k == "period" else pl.String()) for k in keys}
        schema |= {"category": pl.String(), **CATALOGUE_VALUE_COLUMNS}
        return pl.DataFrame(schema=schema)
    return pl.concat(parts, how="vertical")
