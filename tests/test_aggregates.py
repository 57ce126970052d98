"""Aggregates built at load: the aggregate path gives the row path's numbers for every metric.

Counts, sums, rates, Wilson intervals and means must be equal; medians and 90th percentiles within
the stated relative bound (``QUANTILE_RELATIVE_ERROR``) of the exact values. Then the load: the
``metric_aggregates`` table equals what the rows give, after a first load, an unchanged re-load, an
update, and a load that fails (which must leave it as it was).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import polars as pl
import pytest
import sqlalchemy as sa

from carepulse import metrics, warehouse
from carepulse.contract import EXTRACTS
from carepulse.metrics import aggregates
from carepulse.pipelines import aggregate_load
from carepulse.pipelines.extract import find_extract_files, read_extract
from carepulse.pipelines.ingest import ingest

QUANTILES = ("median", "p90")
#: Metrics whose headline ``value`` is a median (within the quantile bound, not exact).
MEDIAN_VALUED = [
    m.name for m in metrics.REGISTRY.values() if m.kind in ("time", "score") and m.statistic == "median"
]


@pytest.fixture(scope="module")
def prepared(synthetic_dir) -> dict[str, pl.LazyFrame]:
    frames = {
        name: read_extract(path, EXTRACTS[name], timezone="America/New_York").frame
        for name, path in find_extract_files(synthetic_dir).items()
    }
    return metrics.prepare(frames)


@pytest.fixture(scope="module")
def built(prepared) -> pl.DataFrame:
    return aggregates.build_aggregates(prepared)


def assert_same_catalogue(rows: pl.DataFrame, from_aggregates: pl.DataFrame, keys: list[str]) -> None:
    """Same groups; exact columns equal (to float rounding); quantiles within the stated bound."""
    order = ["metric", *keys, "category"]
    rows, from_aggregates = rows.sort(order, nulls_last=True), from_aggregates.sort(order, nulls_last=True)
    assert rows.select(order).equals(from_aggregates.select(order))
    for column in metrics.CATALOGUE_VALUE_COLUMNS:
        exact, approx = rows.get_column(column), from_aggregates.get_column(column)
        assert (exact.is_null() == approx.is_null()).all(), column
        if column == "value":
            quantile = rows.get_column("metric").is_in(MEDIAN_VALUED)
        else:
            quantile = pl.Series([column in QUANTILES] * rows.height)
        bound = quantile.cast(pl.Float64) * aggregates.QUANTILE_RELATIVE_ERROR + 1e-9
        both = exact.is_not_null()
        exact, approx = exact.filter(both).cast(pl.Float64), approx.filter(both).cast(pl.Float64)
        error = (exact - approx).abs() - bound.filter(both) * exact.abs() - 1e-6
        assert (error <= 0).all(), f"{column}: worst excess {error.max()}"
    value_is_quantile = rows.join(
        pl.DataFrame({"metric": [m.name for m in metrics.REGISTRY.values() if m.kind in ("time", "score")]}),
        on="metric",
    )
    assert value_is_quantile.height > 0  # the time and score metrics are compared, not skipped


@pytest.mark.parametrize(
    ("by", "period", "start", "end", "filters"),
    [
        ((), None, None, None, None),
        (("department",), "month", None, None, None),
        (("site", "payer_class", "modality"), "week", "2026-01-01", "2026-05-31", None),
        (("payer_class",), "month", None, None, {"site": ["__any__"]}),
    ],
)
def test_the_aggregate_path_equals_the_row_path_for_every_metric(
    prepared, built, by, period, start, end, filters
):
    if filters:  # a real site of the generated system
        site = prepared["departments"].collect().get_column("site").sort()[0]
        filters = {"site": [site]}
    kwargs = dict(by=list(by), period=period, start=start, end=end, filters=filters)
    rows = metrics.compute_catalogue(prepared, **kwargs)
    from_aggregates = aggregates.catalogue_from_aggregates(built, **kwargs)
    if not filters:  # every registered metric, on both paths (a site filter leaves out site-less facts)
        assert set(rows.get_column("metric")) == set(metrics.REGISTRY)
    assert_same_catalogue(rows, from_aggregates, [*by, *(["period"] if period else [])])


@pytest.mark.parametrize("name", ["visits_by_hour", "cycle_time_minutes", "initial_denial_rate_dollars"])
def test_one_metric_from_aggregates_has_the_row_paths_columns_and_types(prepared, built, name):
    rows = metrics.compute(name, prepared, by=["department"], period="week")
    from_aggregates = aggregates.compute_from_aggregates(name, built, by=["department"], period="week")
    assert from_aggregates.schema.names() == rows.schema.names()
    definition = metrics.get_metric(name)
    if definition.category:
        assert from_aggregates.schema[definition.category] == rows.schema[definition.category]
    keys = ["department", "period", *([definition.category] if definition.category else [])]
    assert from_aggregates.sort(keys).select(keys).equals(rows.sort(keys).select(keys))
    assert from_aggregates.get_column("n").sum() == rows.get_column("n").sum()


def test_quantile_buckets_bound_the_relative_error():
    values = pl.Series("x", [-250.0, -1.5, 0.0, 3e-7, 0.001, 1.0, 7.25, 59.9, 1e4, 3.3e6])
    read_back = pl.select(aggregates.bucket_value(aggregates.bucket_of(pl.lit(values)))).to_series()
    small = values.abs() < 1e-6
    assert (read_back.filter(small) == 0).all()
    error = ((read_back - values).abs() / values.abs()).filter(~small)
    assert error.max() <= aggregates.QUANTILE_RELATIVE_ERROR + 1e-12
    order = pl.select(aggregates.bucket_of(pl.lit(values))).to_series()
    assert order.is_sorted()  # buckets keep the values' order (quantiles read ranks from them)


def test_grouping_by_a_column_the_aggregates_do_not_keep_says_so(built):
    with pytest.raises(aggregates.NotAggregated, match="provider"):
        aggregates.catalogue_from_aggregates(built, by=["provider"])


def _stored_equals_rows(engine: sa.Engine) -> None:
    stored = aggregate_load.read_aggregates(engine)
    frames = warehouse.load_frames(engine, EXTRACTS)
    expected = aggregates.build_aggregates(metrics.prepare(frames))
    assert aggregate_load.changed_days(expected, stored).is_empty()
    assert stored.height == expected.height > 0


def test_ingest_keeps_the_aggregates_equal_to_the_rows(
    engine, settings, synthetic_dir, tmp_path, monkeypatch
):
    source = Path(shutil.copytree(synthetic_dir, tmp_path / "extracts"))
    ingest(source, engine=engine, settings=settings)
    _stored_equals_rows(engine)

    with engine.connect() as conn:
        before = conn.exec_driver_sql("SELECT count(*), sum(n) FROM metric_aggregates").one()
    ingest(source, engine=engine, settings=settings)  # unchanged files: nothing rewritten
    with engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT count(*), sum(n) FROM metric_aggregates").one() == before

    appointments = pl.read_csv(source / "appointments.csv", infer_schema=False)
    attended = appointments.get_column("status") == "completed"
    first = attended.arg_true()[:25]
    flipped = appointments.with_columns(
        pl.when(pl.int_range(pl.len()).is_in(first.implode()))
        .then(pl.lit("no_show"))
        .otherwise("status")
        .alias("status"),
        *[
            pl.when(pl.int_range(pl.len()).is_in(first.implode())).then(None).otherwise(c).alias(c)
            for c in ("checkin_at", "roomed_at", "provider_start_at", "checkout_at")
        ],
    )
    flipped.write_csv(source / "appointments.csv")
    summary = ingest(source, engine=engine, settings=settings)
    assert summary.counts["updated"] == 25
    _stored_equals_rows(engine)

    with engine.connect() as conn:
        kept = conn.exec_driver_sql("SELECT count(*), sum(n) FROM metric_aggregates").one()
    appointments.write_csv(source / "appointments.csv")  # back: changes the statistics again...

    def fail(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(aggregate_load, "merge_aggregates", fail)  # ...but the merge fails
    with pytest.raises(RuntimeError):
        ingest(source, engine=engine, settings=settings)
    with engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT count(*), sum(n) FROM metric_aggregates").one() == kept
    _stored_equals_rows(engine)


def test_aggregates_answer_only_under_the_conventions_they_were_built_with(built, settings):
    assert aggregate_load.usable(built, settings, ["department"], {"site": ["x"]})
    assert not aggregate_load.usable(built, settings, ["provider"], None)  # not kept: rows answer
    other = settings.model_copy(update={"late_cancel_hours": 48})
    assert not aggregate_load.usable(built, other, [], None)  # a changed definition: rows answer


def test_a_failed_first_load_leaves_no_aggregates_and_keeps_the_index(
    engine, settings, synthetic_dir, monkeypatch
):
    from carepulse.pipelines import load

    def fail(*args, **kwargs):
        raise RuntimeError("power cut")

    monkeypatch.setattr(load, "finish_run", fail)  # after the aggregates were inserted and indexed
    with pytest.raises(RuntimeError):
        ingest(synthetic_dir, engine=engine, settings=settings)
    with engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT count(*) FROM metric_aggregates").scalar() == 0
    indexes = {i["name"] for i in sa.inspect(engine).get_indexes("metric_aggregates")}
    assert "ix_metric_aggregates_metric_day" in indexes
