"""Cached loaders: the warehouse is read once per load run, metric results once per view.

Keys are the warehouse URL and :func:`carepulse.warehouse.latest_load_run_id`, so a new load shows up
on the next click without a restart, and two warehouses in one process (tests) never share entries.
The prepared extract frames are held with ``st.cache_resource`` (Polars frames are immutable, so
sharing them is safe, and a million-row frame is not copied on every rerun as ``st.cache_data``
would); small results -- metric frames, SPC points, option lists -- use ``st.cache_data``.
Metric results come from the aggregates each load keeps (``metric_aggregates``, read once per load
run and held with ``st.cache_resource``) whenever they can answer -- grouping and filters on the
columns they keep, built under the current conventions -- so a page's cost does not grow with the
warehouse; the row-level frames are read only when they cannot (and for drill-downs and the model).
Nothing here computes a metric itself: it calls :mod:`carepulse.metrics`.
"""

from __future__ import annotations

import datetime as dt

import polars as pl
import sqlalchemy as sa
import streamlit as st

from carepulse import schema, warehouse
from carepulse.contract import EXTRACTS, PHI_COLUMNS
from carepulse.settings import Settings, get_settings

#: PHI the metrics never need; kept out of the dashboard process's cached frames entirely.
_NOT_LOADED: dict[str, set[str]] = {name: set(cols) - {"birth_date"} for name, cols in PHI_COLUMNS.items()}


def settings() -> Settings:
    return get_settings()


@st.cache_resource(show_spinner=False)
def _engine(url: str) -> sa.Engine:
    return warehouse.make_engine(get_settings(), url=url)


def engine() -> sa.Engine:
    """The engine on the configured warehouse (one per URL per process)."""
    return _engine(get_settings().warehouse_url)


def warehouse_url() -> str:
    return get_settings().warehouse_url


def run_id() -> int | None:
    """The latest successful load run, or None when nothing is loaded (or no warehouse yet)."""
    try:
        return warehouse.latest_load_run_id(engine())
    except sa.exc.SQLAlchemyError:
        return None


@st.cache_resource(show_spinner="Reading the warehouse...", max_entries=2)  # this load and the one before
def _prepared(url: str, load_run_id: int) -> dict[str, pl.LazyFrame]:
    from carepulse import metrics

    eng = _engine(url)
    frames: dict[str, pl.DataFrame] = {}
    for name, extract in EXTRACTS.items():
        columns = [c for c in extract.column_names if c not in _NOT_LOADED.get(name, set())]
        frames[name] = warehouse.read_table(eng, name, columns=columns)
    return metrics.prepare(frames)


@st.cache_resource(show_spinner="Reading the metric aggregates...", max_entries=2)
def _aggregates(url: str, load_run_id: int) -> pl.DataFrame:
    from carepulse.pipelines import aggregate_load

    return aggregate_load.read_aggregates(_engine(url))


def _answerable(url: str, load_run_id: int, by: list[str], filters: dict | None) -> pl.DataFrame | None:
    """The load's aggregates if they can answer this grouping and these filters, else None."""
    from carepulse.pipelines import aggregate_load

    stored = _aggregates(url, load_run_id)
    return stored if aggregate_load.usable(stored, get_settings(), by, filters) else None


def warm_latest(url: str) -> int | None:
    """Read the latest load into the same caches the pages use (its aggregates, or the prepared frames
    when it has none usable; filter options); returns its run id, or None when nothing is loaded.
    What :mod:`carepulse.dashboard.warmer` runs."""
    from carepulse.pipelines import aggregate_load

    load_run_id = warehouse.latest_load_run_id(_engine(url))
    if load_run_id is not None:
        if not aggregate_load.usable(_aggregates(url, load_run_id), get_settings(), [], None):
            _prepared(url, load_run_id)
        _filter_bounds(url, load_run_id)
        _filter_labels(url, load_run_id)
    return load_run_id


def frames(load_run_id: int) -> dict[str, pl.LazyFrame]:
    """The extracts of the latest load, joined to their dimensions by ``carepulse.metrics.prepare``."""
    return _prepared(warehouse_url(), load_run_id)


def _filters_key(filters: dict[str, list[str]] | None) -> tuple:
    """``filters`` as a hashable cache key: empty filters dropped, columns and values sorted."""
    return tuple(sorted((k, tuple(sorted(v))) for k, v in (filters or {}).items() if v))


def _filters_arg(filters_key: tuple) -> dict[str, list[str]] | None:
    out = {column: list(values) for column, values in filters_key}
    return out or None


@st.cache_data(show_spinner=False, max_entries=512)
def _compute(
    url: str, load_run_id: int, name: str, by: tuple, period: str | None, start, end, filters_key: tuple
):
    from carepulse import metrics
    from carepulse.metrics import aggregates

    category = metrics.get_metric(name).category
    stored = _answerable(url, load_run_id, [b for b in by if b != category], _filters_arg(filters_key))
    if stored is not None:
        return aggregates.compute_from_aggregates(
            name, stored, by=by, period=period, start=start, end=end, filters=_filters_arg(filters_key)
        )
    return metrics.compute(
        name,
        _prepared(url, load_run_id),
        by=by,
        period=period,
        start=start,
        end=end,
        filters=_filters_arg(filters_key),
        settings=get_settings(),
    )


def compute(
    name: str,
    load_run_id: int,
    *,
    by: tuple[str, ...] = (),
    period: str | None = None,
    start: dt.date | None = None,
    end: dt.date | None = None,
    filters: dict[str, list[str]] | None = None,
) -> pl.DataFrame:
    """``carepulse.metrics.compute`` on the latest load, cached per (load run, arguments)."""
    return _compute(warehouse_url(), load_run_id, name, tuple(by), period, start, end, _filters_key(filters))


@st.cache_data(show_spinner=False, max_entries=8)
def _filter_bounds(url: str, load_run_id: int) -> tuple[dt.date, dt.date]:
    from carepulse.metrics import aggregates

    first = warehouse.read_query(
        _engine(url), "SELECT min(scheduled_start) AS first FROM appointments", {"first": pl.Datetime("us")}
    ).item()
    as_of = aggregates.aggregates_as_of(_aggregates(url, load_run_id))
    if as_of is None:  # a warehouse loaded before aggregates existed: the data's as-of from rows
        meta = _prepared(url, load_run_id)["_meta"].collect().item(0, "as_of")
        as_of = meta.date() if meta is not None else None
    if first is None or as_of is None:
        today = dt.date.today()
        return today - dt.timedelta(days=365), today
    return first.date(), max(as_of, first.date())


@st.cache_data(show_spinner=False, max_entries=8)
def _filter_labels(url: str, load_run_id: int) -> dict[str, dict[str, str]]:
    eng = _engine(url)
    departments = warehouse.read_table(eng, "departments", columns=["department_id", "name", "site"])
    departments = departments.sort("site", "name")
    providers = warehouse.read_table(eng, "providers", columns=["provider_id", "name"]).sort("name")
    return {
        "site": {s: s for s in departments.get_column("site").unique(maintain_order=True).to_list()},
        "dept": {
            row["department_id"]: f"{row['name']} ({row['site']})"
            for row in departments.iter_rows(named=True)
        },
        "prov": {row["provider_id"]: row["name"] for row in providers.iter_rows(named=True)},
    }


@st.cache_data(show_spinner=False, max_entries=8)
def _freshness(url: str, load_run_id: int) -> tuple[dt.datetime | None, dt.datetime | None]:
    as_of = _prepared(url, load_run_id)["_meta"].collect().item(0, "as_of")
    runs = schema.load_runs
    with _engine(url).connect() as conn:
        loaded = conn.execute(sa.select(runs.c.finished_at).where(runs.c.run_id == load_run_id)).scalar()
    return as_of, loaded


def freshness(load_run_id: int) -> tuple[dt.datetime | None, dt.datetime | None]:
    """The latest event the data records (site-local) and when its load finished (UTC)."""
    return _freshness(warehouse_url(), load_run_id)


@st.cache_data(show_spinner=False, max_entries=64)
def _metric_dimensions(url: str, load_run_id: int, name: str) -> list[str]:
    from carepulse import metrics
    from carepulse.metrics.breakdowns import dimensions_with_values

    frame = _prepared(url, load_run_id).get(metrics.get_metric(name).frame)
    wanted = (*metrics.DIMENSIONS, "weekday")
    return [] if frame is None else dimensions_with_values(frame, tuple(dict.fromkeys(wanted)))


def metric_dimensions(name: str, load_run_id: int) -> list[str]:
    """The dimensions metric ``name``'s rows carry values of (what it can be broken down by)."""
    return _metric_dimensions(warehouse_url(), load_run_id, name)


def filter_options(load_run_id: int):
    """The sidebar's options for the latest load (date span, sites, departments, providers)."""
    from carepulse.dashboard.filters import FilterOptions

    first, last = _filter_bounds(warehouse_url(), load_run_id)
    return FilterOptions(
        first_date=first, last_date=last, labels=_filter_labels(warehouse_url(), load_run_id)
    )


@st.cache_data(show_spinner=False, max_entries=64)
def _table(url: str, load_run_id: int | None, name: str, columns: tuple[str, ...] | None, where: str | None):
    return warehouse.read_table(_engine(url), name, columns=list(columns) if columns else None, where=where)


def latest_attempt_id() -> int | None:
    """The latest load run of any status (a refused or failed load is news for the data-quality page)."""
    try:
        with engine().connect() as conn:
            return conn.execute(sa.select(sa.func.max(schema.load_runs.c.run_id))).scalar()
    except sa.exc.SQLAlchemyError:
        return None


def system_table(
    name: str, *, columns: tuple[str, ...] | None = None, where: str | None = None
) -> pl.DataFrame:
    """A small system table (load_runs, quarantine, validation results...), cached per load attempt.
    ``where`` is a trusted fragment written in this code base, never user text."""
    if name not in schema.metadata.tables:
        raise KeyError(name)
    return _table(warehouse_url(), latest_attempt_id(), name, columns, where)


def clear_small_caches() -> None:
    """Forget cached system tables (after the app itself wrote, e.g. an annotation)."""
    _table.clear()


def latest_score_run_id() -> int | None:
    """The latest scoring run (a new one changes what the model and worklist pages show)."""
    try:
        with engine().connect() as conn:
            return conn.execute(sa.select(sa.func.max(schema.score_runs.c.score_run_id))).scalar()
    except sa.exc.SQLAlchemyError:
        return None


@st.cache_data(show_spinner=False, max_entries=8)
def _monitoring(url: str, load_run_id: int, score_run_id: int | None) -> pl.DataFrame:
    from carepulse.metrics.no_show_model.monitoring import monitoring_table

    scores = warehouse.read_table(
        _engine(url), "risk_scores", columns=["score_run_id", "appointment_id", "risk"]
    )
    return monitoring_table(scores, _prepared(url, load_run_id)["appointments"])


def model_monitoring(load_run_id: int) -> pl.DataFrame:
    """Predicted against observed no-show rate by week, from the appointments already in memory;
    cached per (load run, scoring run)."""
    return _monitoring(warehouse_url(), load_run_id, latest_score_run_id())


@st.cache_data(show_spinner=False, max_entries=256)
def _catalogue(
    url: str,
    load_run_id: int,
    names: tuple[str, ...],
    by: tuple,
    period: str | None,
    start,
    end,
    filters_key: tuple,
):
    from carepulse import metrics
    from carepulse.metrics import aggregates

    stored = _answerable(url, load_run_id, list(by), _filters_arg(filters_key))
    if stored is not None:
        return aggregates.catalogue_from_aggregates(
            stored,
            metrics=list(names),
            by=by,
            period=period,
            start=start,
            end=end,
            filters=_filters_arg(filters_key),
        )
    prepared = _prepared(url, load_run_id)
    available = [n for n in names if all(f in prepared for f in metrics.get_metric(n).frames)]
    return metrics.compute_catalogue(
        prepared,
        metrics=available or None,
        by=by,
        period=period,
        start=start,
        end=end,
        filters=_filters_arg(filters_key),
        settings=get_settings(),
    ).filter(pl.col("metric").is_in(list(names)))


def catalogue(
    names: tuple[str, ...],
    load_run_id: int,
    *,
    by: tuple[str, ...] = (),
    period: str | None = None,
    start: dt.date | None = None,
    end: dt.date | None = None,
    filters: dict[str, list[str]] | None = None,
) -> pl.DataFrame:
    """``carepulse.metrics.compute_catalogue`` for some metrics (those whose extracts are loaded), cached."""
    return _catalogue(
        warehouse_url(), load_run_id, tuple(names), tuple(by), period, start, end, _filters_key(filters)
    )


@st.cache_data(show_spinner=False, max_entries=8)
def _not_supplied(url: str, load_run_id: int) -> dict[str, str]:
    from carepulse.pipelines.supply_probe import warehouse_not_supplied

    return warehouse_not_supplied(_engine(url))


def not_supplied(load_run_id: int) -> dict[str, str]:
    """Metric name -> why this load's data cannot support it (``LIMIT 1`` probes, once per load run):
    the pages show "Not supplied: <reason>" for these instead of a 0 or an empty chart."""
    return _not_supplied(warehouse_url(), load_run_id)
