"""The whole catalogue on a generated health system, and the ``metrics``/``spc`` commands on a loaded warehouse."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json

import polars as pl
import pytest
from typer.testing import CliRunner

from carepulse import metrics
from carepulse.contract import EXTRACTS
from carepulse.metrics import Conventions, aggregates
from carepulse.settings import get_settings


@pytest.fixture(scope="module")
def system_frames(synthetic_dir) -> dict[str, pl.DataFrame]:
    """The generated extracts read with the real reader (typed as the contract says)."""
    from carepulse.pipelines.extract import read_extract

    return {
        name: read_extract(synthetic_dir / f"{name}.csv", extract, timezone="America/New_York").frame.drop(
            "_line"
        )
        for name, extract in EXTRACTS.items()
    }


@pytest.fixture(scope="module")
def prepared(system_frames):
    return metrics.prepare(system_frames)


def test_every_metric_computes_on_the_generated_system(prepared):
    out = metrics.compute_catalogue(prepared)
    assert set(out["metric"]) == set(metrics.REGISTRY)
    for definition in metrics.list_metrics():
        rows = out.filter(pl.col("metric") == definition.name)
        assert rows["n"].sum() > 0, f"{definition.name} has no data on the generated system"
    rates = out.filter(pl.col("kind") == "rate")
    assert rates["value"].is_between(0, 1).all()
    bounded = rates.filter(pl.col("ci_low").is_not_null())
    assert ((bounded["ci_low"] <= bounded["value"]) & (bounded["value"] <= bounded["ci_high"])).all()
    times = out.filter(pl.col("kind") == "time")
    assert (times["median"] <= times["p90"]).all() and (times["median"] >= 0).all()
    scores = out.filter(pl.col("kind") == "score")
    assert scores["value"].is_between(0, 100).all()


@pytest.mark.parametrize(
    "options",
    [
        {},
        {"by": ["department"], "period": "month", "start": "2025-07-01", "end": "2026-06-30"},
        {"by": ["site", "sex"], "period": "week", "filters": {"visit_type": ["new"]}},
    ],
    ids=["total", "department-month-year", "site-sex-week-filtered"],
)
def test_catalogue_equals_each_metric_computed_alone(prepared, options):
    """The catalogue's one collect gives, row for row, what ``compute`` gives for each metric.

    Counts, numerators, denominators, keys and order must be identical; floats may differ only in the
    last digits (a sum of amounts or a mean added up in another order by another Polars engine).
    """
    from polars.testing import assert_frame_equal

    catalogue = metrics.compute_catalogue(prepared, **options)
    keys = [*options.get("by", []), *(["period"] if options.get("period") else [])]
    compared = 0
    for definition in metrics.list_metrics():
        try:
            alone = metrics.compute(definition.name, prepared, **options)
        except metrics.MetricError:  # cannot be grouped or filtered so: the catalogue skips it
            assert definition.name not in set(catalogue["metric"])
            continue
        expected = alone.select(
            *[
                pl.col(k) if k == "period" else pl.col(k).cast(pl.String)
                for k in keys
                if k != definition.category
            ],
            (
                pl.col(definition.category).cast(pl.String)
                if definition.category
                else pl.lit(None, pl.String)
            ).alias("category"),
            *[
                (pl.col(c).cast(t) if c in alone.columns else pl.lit(None, t)).alias(c)
                for c, t in metrics.CATALOGUE_VALUE_COLUMNS.items()
            ],
        )
        got = catalogue.filter(pl.col("metric") == definition.name).select(expected.columns)
        assert_frame_equal(got, expected, check_exact=False, rel_tol=1e-12, abs_tol=0.0)
        assert (
            got.select("numerator", "denominator", "numerator_n", "n").equals(
                expected.select("numerator", "denominator", "numerator_n", "n")
            )
            or definition.weighted
        ), definition.name
        compared += 1
    assert compared >= len(metrics.REGISTRY) - 8  # the by-column cases skip a few metrics, not most


def test_groups_add_up_to_the_total(prepared):
    total = metrics.compute("no_show_rate", prepared).row(0, named=True)
    by_department = metrics.compute("no_show_rate", prepared, by=["department"], period="month")
    assert by_department["numerator"].sum() == total["numerator"]
    assert by_department["denominator"].sum() == total["denominator"]
    by_age = metrics.compute("no_show_rate", prepared, by=["age_band", "sex"])
    assert by_age["denominator"].sum() == total["denominator"]
    assert set(by_age["age_band"].drop_nulls()) <= set(metrics.AGE_BANDS)


def test_counting_late_cancellations_moves_exactly_the_late_cancellations(prepared):
    plain = metrics.compute("no_show_rate", prepared).row(0, named=True)
    late = metrics.compute("late_cancellation_rate", prepared).row(0, named=True)
    counted = metrics.compute(
        "no_show_rate", prepared, settings=Conventions(count_late_cancels_as_no_shows=True)
    ).row(0, named=True)
    assert late["numerator"] > 0
    assert counted["numerator"] == plain["numerator"] + late["numerator"]
    assert counted["denominator"] == plain["denominator"]


def test_catalogue_by_department_and_month_for_a_year(prepared):
    out = metrics.compute_catalogue(
        prepared, by=["department"], period="month", start="2025-07-01", end="2026-06-30"
    )
    months = out.filter(pl.col("metric") == "no_show_rate")["period"].unique()
    assert months.min().isoformat() == "2025-07-01" and months.max().isoformat() == "2026-06-01"
    suppressed = metrics.suppress_small_cells(out, threshold=10)
    small = suppressed.filter(pl.col("n").is_null() & pl.col("suppressed"))
    assert small.height > 0  # a small system has small cells, and they are hidden


# --- Command line --------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def warehouse_url(loaded_sqlite_url) -> str:
    """The suite's shared warehouse loaded from ``synthetic_dir`` (read only here)."""
    return loaded_sqlite_url


@pytest.fixture
def cli(warehouse_url, monkeypatch):
    from carepulse.cli import app

    monkeypatch.setenv("CAREPULSE_DATABASE_URL", warehouse_url)
    get_settings.cache_clear()
    runner = CliRunner()

    def run(*args: str):
        result = runner.invoke(app, list(args))
        return result

    return run


@pytest.fixture
def warehouse_prepared(warehouse_url):
    from carepulse import warehouse
    from carepulse.cli.metrics import read_metric_frames

    engine = warehouse.make_engine(get_settings(), url=warehouse_url)
    try:
        return metrics.prepare(read_metric_frames(engine, list(metrics.REGISTRY)))
    finally:
        engine.dispose()


def test_metrics_json_matches_the_library(cli, warehouse_prepared):
    result = cli(
        "metrics",
        "--metric",
        "no_show_rate",
        "--by",
        "department",
        "--start",
        "2026-01-01",
        "--end",
        "2026-06-30",
        "--format",
        "json",
    )
    assert result.exit_code == 0, result.output
    records = json.loads(result.stdout)
    expected = metrics.compute(
        "no_show_rate", warehouse_prepared, by=["department"], start="2026-01-01", end="2026-06-30"
    )
    assert len(records) == expected.height
    first = records[0]
    assert set(first) >= {
        "metric",
        "department",
        "numerator",
        "denominator",
        "value",
        "ci_low",
        "ci_high",
        "n",
        "definition",
    }
    assert first["definition"] == metrics.get_metric("no_show_rate").short_name
    got = {r["department"]: (r["numerator"], r["denominator"]) for r in records}
    assert got == {
        r["department"]: (r["numerator"], r["denominator"]) for r in expected.iter_rows(named=True)
    }


def test_metrics_filter_and_csv(cli, warehouse_prepared):
    site = warehouse_prepared["appointments"].select(pl.col("site").drop_nulls().first()).collect().item()
    result = cli(
        "metrics",
        "--metric",
        "cycle_time_minutes",
        "--metric",
        "initial_denial_rate",
        "--filter",
        f"site={site}",
        "--format",
        "csv",
    )
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert [r["metric"] for r in rows] == ["cycle_time_minutes", "initial_denial_rate"]
    expected = metrics.compute("cycle_time_minutes", warehouse_prepared, filters={"site": [site]}).row(
        0, named=True
    )
    # the CLI reads the load's aggregates: medians within their stated relative bound
    bound = aggregates.QUANTILE_RELATIVE_ERROR
    assert float(rows[0]["median"]) == pytest.approx(expected["median"], rel=bound)
    everywhere = metrics.compute("cycle_time_minutes", warehouse_prepared).row(0, named=True)
    assert int(rows[0]["n"]) < everywhere["n"]


def test_metrics_table_lists_the_whole_catalogue(cli):
    result = cli("metrics")
    assert result.exit_code == 0, result.output
    for name in ("no_show_rate", "followup_7d_rate", "initial_denial_rate", "provider_rating_top_box"):
        assert name in result.stdout
    assert "95% CI" in result.stdout


def test_metrics_errors_name_the_problem(cli):
    result = cli("metrics", "--metric", "no_show_rates")
    assert result.exit_code != 0 and "no_show_rate" in str(result.exception)
    result = cli("metrics", "--metric", "no_show_rate", "--by", "postal_code")
    assert result.exit_code != 0 and "postal_code" in str(result.exception)
    result = cli("metrics", "--filter", "site")
    assert result.exit_code != 0 and "COLUMN=VALUE" in result.output


def test_spc_json_points_with_limits_and_phases(cli):
    result = cli("spc", "no_show_rate", "--by", "month", "--phase-at", "2026-01-01", "--format", "json")
    assert result.exit_code == 0, result.output
    chart = json.loads(result.stdout)
    assert chart["metric"] == "no_show_rate" and chart["chart"] == "p"
    points = chart["points"]
    assert len(points) == 12
    assert {"period", "value", "centre", "lcl", "ucl", "rules"} <= set(points[0])
    assert {p["phase"] for p in points} == {1, 2}
    assert points[0]["centre"] != points[-1]["centre"]  # limits recomputed after the change date
    assert all(p["lcl"] <= p["centre"] <= p["ucl"] for p in points)


def test_spc_table_for_a_time_metric(cli):
    result = cli("spc", "cycle_time_minutes", "--by", "month")
    assert result.exit_code == 0, result.output
    assert "I chart" in result.stdout and "centre" in result.stdout


def test_spc_refuses_a_category_metric(cli):
    result = cli("spc", "denials_by_payer", "--by", "month")
    assert result.exit_code != 0 and "payer_name" in str(result.exception)


def test_spc_json_flags_the_partial_last_period(cli):
    full = json.loads(cli("spc", "no_show_rate", "--by", "month", "--format", "json").stdout)
    last = dt.date.fromisoformat(full["points"][-1]["period"][:10])
    mid_month = (last + dt.timedelta(days=14)).isoformat()
    result = cli("spc", "no_show_rate", "--by", "month", "--end", mid_month, "--format", "json")
    assert result.exit_code == 0, result.output
    chart = json.loads(result.stdout)
    points = chart["points"]
    assert [p["partial"] for p in points] == [False] * (len(points) - 1) + [True]
    assert points[-1]["rules"] == []
    assert chart["summary"][-1]["n_partial"] == 1
    # the limits are those of the complete months only
    complete = json.loads(
        cli(
            "spc",
            "no_show_rate",
            "--by",
            "month",
            "--end",
            (last - dt.timedelta(days=1)).isoformat(),
            "--format",
            "json",
        ).stdout
    )
    assert points[0]["centre"] == pytest.approx(complete["points"][0]["centre"])
