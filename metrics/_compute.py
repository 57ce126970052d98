"""Turning a metric's unit rows into the numbers shown: grouping, periods, filters, intervals.

One generic aggregation serves every metric, so grouping, filtering and the output columns behave
the same for a no-show rate, a cycle time or a denial Pareto.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import polars as pl

from metrics._registry import REGISTRY, MetricDefinition, MetricError, get_metric
from metrics._stats import time_summary_aggs, wilson_exprs
from metrics.prepare import is_prepared, prepare

PERIODS = {"week": "1w", "month": "1mo"}

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


@dataclass(frozen=True)
class Conventions:
    """The settings a metric definition depends on (read from ``Settings`` by the caller)."""

    late_cancel_hours: int = 24
    count_late_cancels_as_no_shows: bool = False
    on_time_grace_minutes: int = 10

    @classmethod
    def from_settings(cls, settings) -> Conventions:
        if settings is None:
            return cls()
        if isinstance(settings, Conventions):
            return settings
        default = cls()
        return cls(
            late_cancel_hours=getattr(settings, "late_cancel_hours", default.late_cancel_hours),
            count_late_cancels_as_no_shows=getattr(
                settings, "count_late_cancels_as_no_shows", default.count_late_cancels_as_no_shows
            ),
            on_time_grace_minutes=getattr(settings, "on_time_grace_minutes", default.on_time_grace_minutes),
        )


@dataclass(frozen=True)
class MetricContext:
    """What a unit-row function may read: the prepared frames, the conventions and the data's as-of."""

    frames: Mapping[str, pl.LazyFrame]
    conventions: Conventions
    as_of: dt.datetime | None

    def frame(self, name: str) -> pl.LazyFrame:
        try:
            return self.frames[name]
        except KeyError:
            raise MetricError(f"this metric needs the {name} extract, which was not loaded") from None


def _as_date(value: dt.date | str | None, label: str) -> dt.date | None:
    if value is None or isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        return value
    if isinstance(value, dt.datetime):
        return value.date()
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError:
        raise MetricError(f"{label} must be a date YYYY-MM-DD, got {value!r}") from None


def _context(prepared: Mapping[str, pl.LazyFrame], settings) -> MetricContext:
    as_of = prepared["_meta"].collect().item(0, "as_of") if "_meta" in prepared else None
    return MetricContext(prepared, Conventions.from_settings(settings), as_of)


def _filter_expr(column: str, values: Iterable, dtype: pl.DataType) -> pl.Expr:
    values = list(values) if isinstance(values, (list, tuple, set, frozenset)) else [values]
    texts = [None if v is None else str(v) for v in values]
    if dtype == pl.String() or isinstance(dtype, pl.Categorical):
        return pl.col(column).is_in(texts, nulls_equal=True)
    return pl.col(column).cast(pl.String).is_in(texts, nulls_equal=True)


def _as_text(frame: pl.LazyFrame, columns: list[str]) -> pl.LazyFrame:
    """Categorical group columns back to text, so outputs are plain strings whatever prepare used."""
    schema = frame.collect_schema()
    casts = [pl.col(c).cast(pl.String) for c in columns if isinstance(schema[c], (pl.Categorical, pl.Enum))]
    return frame.with_columns(casts) if casts else frame


def _check_period(period: str | None) -> None:
    if period is not None and period not in PERIODS:
        raise MetricError(f"period must be one of {', '.join(PERIODS)} or None, got {period!r}")


def _restrict(
    units: pl.LazyFrame,
    schema: pl.Schema,
    start: dt.date | str | None,
    end: dt.date | str | None,
    filters: Mapping[str, Iterable] | None,
) -> pl.LazyFrame:
    """Keep the rows inside the date range and matching the filters."""
    start_d, end_d = _as_date(start, "start"), _as_date(end, "end")
    if start_d is not None:
        units = units.filter(pl.col("_date") >= start_d)
    if end_d is not None:
        units = units.filter(pl.col("_date") <= end_d)
    for column, values in (filters or {}).items():
        units = units.filter(_filter_expr(column, values, schema[column]))
    return units


def _with_period(units: pl.LazyFrame, schema: pl.Schema, period: str) -> pl.LazyFrame:
    precomputed = {"week": "_week", "month": "_month"}[period]  # prepare's, when the rows kept them
    start_of = pl.col(precomputed) if precomputed in schema else pl.col("_date").dt.truncate(PERIODS[period])
    return units.with_columns(start_of.alias("period"))


def _aggregations(definition: MetricDefinition, prefix: str = "") -> list[pl.Expr]:
    """What a group of unit rows sums up to, in output column order.

    ``prefix`` is empty on a metric's own rows. In the catalogue's shared pass the metric's columns are
    ``<prefix>_num`` etc., null on the rows the metric does not keep, and ``<prefix>kept`` flags the
    rows it keeps.
    """
    count = pl.len() if not prefix else pl.col(prefix + "kept").sum()
    if definition.kind == "rate":
        aggs = [pl.col(prefix + "_num").sum().alias("numerator"), pl.col(prefix + "_den").sum().alias("denominator")]
        if definition.weighted:
            aggs.append(pl.col(prefix + "_num_n").sum().cast(pl.Int64).alias("numerator_n"))
        return [*aggs, count.cast(pl.Int64).alias("n")]
    if definition.kind in ("time", "score"):
        return time_summary_aggs(prefix + "_x", count if prefix else None)
    if definition.kind == "count":
        return [count.cast(pl.Int64).alias("n")]
    raise MetricError(f"metric {definition.name} has unknown kind {definition.kind!r}")  # pragma: no cover


def _measured(definition: MetricDefinition) -> pl.Expr | None:
    """The rows a metric of this kind aggregates: a numerator and denominator, or a number, present."""
    if definition.kind == "rate":
        return pl.col("_den").is_not_null() & pl.col("_num").is_not_null()
    if definition.kind in ("time", "score"):
        return pl.col("_x").is_not_null() & pl.col("_x").is_not_nan()
    return None


def _finish(definition: MetricDefinition, out: pl.LazyFrame, keys: list[str]) -> pl.LazyFrame:
    """From the aggregated groups to the output columns: value, interval, share, text keys, order."""
    group_keys = [*keys, definition.category] if definition.category else keys
    if definition.kind == "rate":
        value = pl.when(pl.col("denominator") > 0).then(pl.col("numerator") / pl.col("denominator"))
        out = out.with_columns(value.cast(pl.Float64).alias("value"))
        if definition.weighted:
            out = out.with_columns(pl.lit(None, pl.Float64).alias("ci_low"), pl.lit(None, pl.Float64).alias("ci_high"))
        else:
            out = out.with_columns(
                pl.col("numerator").cast(pl.Int64), pl.col("denominator").cast(pl.Int64)
            ).with_columns(*wilson_exprs(pl.col("numerator"), pl.col("denominator")))
    elif definition.kind in ("time", "score"):
        out = out.with_columns(pl.col(definition.statistic).alias("value"))
    elif definition.kind == "count":
        out = out.with_columns(pl.col("n").cast(pl.Float64).alias("value"))
        if definition.category:
            total = pl.col("n").sum().over(keys) if keys else pl.col("n").sum()
            out = out.with_columns((pl.col("n") / total).alias("share"))

    out = _as_text(out, group_keys)
    if definition.kind == "count" and definition.category:
        return out.sort([*keys, "n", definition.category], descending=[*([False] * len(keys)), True, False], nulls_last=True)
    return out.sort(group_keys, nulls_last=True) if group_keys else out


def metric_query(
    definition: MetricDefinition,
    context: MetricContext,
    *,
    by: Sequence[str] = (),
    period: str | None = None,
    start: dt.date | str | None = None,
    end: dt.date | str | None = None,
    filters: Mapping[str, Iterable] | None = None,
) -> pl.LazyFrame:
    """The lazy query computing one metric (what :func:`compute` collects)."""
    by = [by] if isinstance(by, str) else list(by)
    _check_period(period)
    for name in definition.frames:
        context.frame(name)  # a clear error if absent
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

    units = _restrict(units, schema, start, end, filters)
    keys = list(by)
    if period is not None:
        units = _with_period(units, schema, period)
        keys.append("period")
    group_keys = [*keys, definition.category] if definition.category else keys
    measured = _measured(definition)
    if measured is not None:
        units = units.filter(measured)
    return _finish(definition, _group(units, group_keys, _aggregations(definition)), keys)


def _group(units: pl.LazyFrame, keys: list[str], aggs: list[pl.Expr]) -> pl.LazyFrame:
    if keys:
        return units.group_by(keys).agg(aggs)
    return units.select(aggs)


# --- The catalogue's shared pass ----------------------------------------------------------------------
# Most unit-row functions only filter a prepared frame and add columns to it, row by row. Their
# metrics can then be evaluated together: every metric's columns are computed on the same rows, set
# to null where the metric would have dropped the row, and one group-by per prepared frame
# aggregates them all (null-skipping sums, counts, medians), instead of one pass per metric.


class _NotShareable(Exception):
    """A unit-row function did something other than filter rows and add columns."""


class _RowSteps:
    """Stands in for a prepared frame while a unit-row function runs: records its filters and new columns."""

    __slots__ = ("frame", "steps")

    def __init__(self, frame: str, steps: tuple = ()):
        self.frame = frame
        self.steps = steps

    def filter(self, *predicates, **constraints) -> _RowSteps:
        flat = [p for item in predicates for p in (item if isinstance(item, (list, tuple)) else [item])]
        if constraints or not flat or not all(isinstance(p, pl.Expr) for p in flat):
            raise _NotShareable("filter")
        return _RowSteps(self.frame, (*self.steps, ("filter", tuple(flat))))

    def with_columns(self, *exprs, **named) -> _RowSteps:
        flat = [e for item in exprs for e in (item if isinstance(item, (list, tuple)) else [item])]
        if not all(isinstance(e, pl.Expr) for e in flat) or not all(isinstance(e, pl.Expr) for e in named.values()):
            raise _NotShareable("with_columns")
        flat += [e.alias(n) for n, e in named.items()]
        return _RowSteps(self.frame, (*self.steps, ("columns", tuple(flat))))

    def __getattr__(self, name: str):
        raise _NotShareable(name)


def _row_steps(
    definition: MetricDefinition, context: MetricContext, schemas: Mapping[str, pl.Schema], asked: Sequence[str]
) -> tuple | None:
    """The metric's steps on its prepared frame if the catalogue's shared pass can evaluate it, else None."""
    if definition.category or definition.kind not in ("rate", "time", "score", "count"):
        return None
    schema = schemas[definition.frame]
    if any(c not in schema for c in asked):
        return None  # the metric's own query says why (or finds the column among the ones it adds)
    stand_ins = {name: _RowSteps(name) for name in context.frames}
    try:
        rows = definition.units(MetricContext(stand_ins, context.conventions, context.as_of))
        if not isinstance(rows, _RowSteps) or rows.frame != definition.frame:
            return None
        added = set()
        for step, exprs in rows.steps:
            if step == "columns":
                names = [e.meta.output_name() for e in exprs]
                if any(n in schema or n.startswith("__") or n == "period" for n in names):
                    return None  # replaces a column other metrics read
                added.update(names)
    except Exception:  # noqa: BLE001 - anything unusual: the metric runs as its own query
        return None
    needed = {"rate": {"_num", "_den"} | ({"_num_n"} if definition.weighted else set()), "count": set()}
    if not needed.get(definition.kind, {"_x"}) <= added:
        return None
    return rows.steps


def _shared_pass(
    frame: pl.LazyFrame,
    members: list[tuple[MetricDefinition, tuple]],
    *,
    by: list[str],
    period: str | None,
    start,
    end,
    filters,
) -> pl.LazyFrame:
    """One group-by computing every member metric's aggregates, columns prefixed ``__m<i>_``."""
    schema = frame.collect_schema()
    frame = _restrict(frame, schema, start, end, filters)
    keys = list(by)
    if period is not None:
        frame = _with_period(frame, schema, period)
        keys.append("period")
    aggs: list[pl.Expr] = []
    for i, (definition, steps) in enumerate(members):
        frame = frame.with_columns(pl.lit(True).alias("__kept"))
        added: list[str] = []
        for step, exprs in steps:
            if step == "filter":
                kept = pl.all_horizontal(pl.col("__kept"), *[p.fill_null(False) for p in exprs])
                frame = frame.with_columns(kept.alias("__kept"))
            else:
                frame = frame.with_columns(*exprs)
                added += [e.meta.output_name() for e in exprs]
        measured = _measured(definition)
        kept = pl.col("__kept") if measured is None else pl.col("__kept") & measured.fill_null(False)
        measures = [c for c in ("_num", "_den", "_num_n", "_x") if c in added]
        prefix = f"__m{i}_"
        frame = frame.with_columns(
            kept.alias(f"{prefix}kept"), *[pl.when(kept).then(pl.col(c)).alias(prefix + c) for c in measures]
        ).drop(*dict.fromkeys(added), "__kept")
        aggs += [agg.alias(prefix + agg.meta.output_name()) for agg in _aggregations(definition, prefix)]
    return _group(frame, keys, aggs)


def _ensure_prepared(frames: Mapping[str, pl.DataFrame | pl.LazyFrame]) -> Mapping[str, pl.LazyFrame]:
    return frames if is_prepared(frames) else prepare(frames)


def compute(
    name: str,
    prepared: Mapping[str, pl.DataFrame | pl.LazyFrame],
    *,
    by: Sequence[str] = (),
    period: str | None = None,
    start: dt.date | str | None = None,
    end: dt.date | str | None = None,
    filters: Mapping[str, Iterable] | None = None,
    settings=None,
) -> pl.DataFrame:
    """One metric, grouped, per period, within a date range, filtered.

    Parameters
    ----------
    name : str
        A registered metric (:func:`metrics.list_metrics`).
    prepared : dict
        Output of :func:`metrics.prepare` (raw extract frames are prepared on the fly).
    by : sequence of str
        Group columns: any of ``DIMENSIONS`` or another column of the metric's rows
        (e.g. ``weekday``/``hour`` for appointment metrics, ``payer_name`` for claims).
    period : None, "week" or "month"
        Adds a ``period`` Date column: the Monday of the ISO week or the first of the month.
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
    filters: Mapping[str, Iterable] | None = None,
    settings=None,
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
    names = list(metrics) if metrics else [m.name for m in REGISTRY.values() if family is None or m.family == family]
    keys = [*by, *(["period"] if period else [])]
    asked = [*by, *(filters or {})]
    try:  # as each metric's own query would: raise if metrics were named, else skip them all
        _check_period(period)
        _as_date(start, "start"), _as_date(end, "end")
        invalid = None
    except MetricError as error:
        invalid = error
    schemas: dict[str, pl.Schema] = {}
    shared: dict[str, list[tuple[MetricDefinition, tuple]]] = {}  # prepared frame -> its metrics' steps
    own: list[tuple[MetricDefinition, pl.LazyFrame]] = []  # metrics computed by their own query
    kept: list[MetricDefinition] = []
    for name in names:
        definition = get_metric(name)
        if any(f not in prepared for f in definition.frames):
            continue
        if invalid is not None:
            if metrics:
                raise invalid
            continue
        if definition.frame not in schemas:
            schemas[definition.frame] = prepared[definition.frame].collect_schema()
        steps = _row_steps(definition, context, schemas, asked)
        if steps is not None:
            shared.setdefault(definition.frame, []).append((definition, steps))
            kept.append(definition)
            continue
        try:
            query = metric_query(definition, context, by=by, period=period, start=start, end=end, filters=filters)
        except MetricError:
            if metrics:  # explicitly asked for: say why it cannot be computed
                raise
            continue
        own.append((definition, query))
        kept.append(definition)
    passes = {
        frame: _shared_pass(
            prepared[frame], members, by=by, period=period, start=start, end=end, filters=filters
        )
        for frame, members in shared.items()
    }
    # One collect for everything, so Polars runs the passes and the other metrics' queries in parallel.
    collected = pl.collect_all([*passes.values(), *(q for _, q in own)]) if passes or own else []
    results: dict[str, pl.DataFrame] = dict(
        zip((d.name for d, _ in own), collected[len(passes):], strict=True)
    )
    finishing = []
    for (frame, members), aggregated in zip(shared.items(), collected[: len(passes)], strict=True):
        for i, (definition, _) in enumerate(members):
            prefix = f"__m{i}_"
            columns = [a.meta.output_name() for a in _aggregations(definition)]
            out = aggregated.lazy().select(*keys, *[pl.col(prefix + c).alias(c) for c in columns])
            if keys:  # a group the metric keeps no row of is not one of its groups
                out = out.filter(pl.col("n") > 0)
            finishing.append((definition.name, _finish(definition, out, keys)))
    results |= dict(zip((n for n, _ in finishing), pl.collect_all([q for _, q in finishing]), strict=True))

    parts = []
    for definition in kept:
        frame = results[definition.name]
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
        schema = {"metric": pl.String, "family": pl.String, "kind": pl.String, "unit": pl.String}
        schema |= {k: (pl.Date if k == "period" else pl.String) for k in keys}
        schema |= {"category": pl.String, **CATALOGUE_VALUE_COLUMNS}
        return pl.DataFrame(schema=schema)
    return pl.concat(parts, how="vertical")
