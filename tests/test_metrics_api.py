"""The metrics API: Wilson interval, grouping, periods, filters, date ranges, small cells, errors, registry."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest
from metrics_frames import T, appointment, at, frames

from carepulse import metrics
from carepulse.metrics import MetricError


@pytest.mark.parametrize(
    ("successes", "n", "low", "high"),
    [
        # Newcombe (1998), Statistics in Medicine 17:857-872, Table I, method 3 (Wilson score).
        (81, 263, 0.2553, 0.3662),
        (15, 148, 0.0624, 0.1605),
        (0, 20, 0.0, 0.1611),
        (1, 29, 0.0061, 0.1718),
    ],
)
def test_wilson_interval_matches_newcombe(successes, n, low, high):
    got_low, got_high = metrics.wilson_interval(successes, n)
    assert (round(got_low, 4), round(got_high, 4)) == (low, high)


def test_wilson_columns_equal_the_scalar_formula():
    frame = pl.DataFrame({"k": [81, 0, 3], "n": [263, 20, 0]})
    from carepulse.metrics._stats import wilson_exprs

    out = frame.with_columns(*wilson_exprs(pl.col("k"), pl.col("n")))
    assert out["ci_low"][0] == pytest.approx(metrics.wilson_interval(81, 263)[0])
    assert out["ci_high"][1] == pytest.approx(metrics.wilson_interval(0, 20)[1])
    assert out["ci_low"][2] is None  # no interval without a denominator


# Six appointments over two departments, two sites, two months and three patients.
ROWS = [
    appointment("A1", "completed", T, patient_id="P1"),
    appointment("A2", "no_show", at(days=1), patient_id="P2"),
    appointment("A3", "no_show", at(days=7), patient_id="P3", visit_type="new"),
    appointment("A4", "completed", at(days=31), patient_id="P1", department_id="D2", provider_id="PR2"),
    appointment("A5", "no_show", at(days=32), patient_id="P2", department_id="D2", provider_id="PR2"),
    appointment("A6", "completed", at(days=33), patient_id="P3", department_id="D2", provider_id="PR2"),
]


@pytest.fixture(scope="module")
def prepared():
    return metrics.prepare(frames(appointments=ROWS))


def _pairs(out: pl.DataFrame, *keys: str) -> dict:
    return {tuple(r[k] for k in keys): (r["numerator"], r["denominator"]) for r in out.iter_rows(named=True)}


def test_group_by_department(prepared):
    out = metrics.compute("no_show_rate", prepared, by=["department"])
    assert _pairs(out, "department") == {("D1",): (2, 3), ("D2",): (1, 3)}


def test_group_by_site_and_age_band(prepared):
    out = metrics.compute("no_show_rate", prepared, by=["site", "age_band"])
    # P1 born 1980-06-15 -> 45; P2 born 2010-03-02 -> 15 on 2026-03-03; P3 born 1950-03-03 -> 75 on 03-09
    assert _pairs(out, "site", "age_band") == {
        ("North", "35-49"): (0, 1),
        ("North", "0-17"): (1, 1),
        ("North", "75+"): (1, 1),
        ("South", "35-49"): (0, 1),
        ("South", "0-17"): (1, 1),
        ("South", "75+"): (0, 1),
    }


@pytest.mark.parametrize(
    ("visit", "band"),
    [
        (dt.datetime(2028, 3, 1, 23, 59), "0-17"),  # P2 (born 2010-03-02) the day before turning 18
        (dt.datetime(2028, 3, 2, 0, 0), "18-34"),  # on the 18th birthday
        (dt.datetime(2045, 3, 1, 12), "18-34"),  # still 34
        (dt.datetime(2045, 3, 2, 12), "35-49"),  # 35
    ],
)
def test_age_band_is_age_on_the_visit_day(visit, band):
    data = frames(appointments=[appointment("B1", "completed", visit, patient_id="P2")])
    assert metrics.prepare(data)["appointments"].collect()["age_band"].cast(pl.String).to_list() == [band]


def test_age_band_of_a_leap_day_birth():
    data = frames(
        appointments=[
            appointment("B1", "completed", dt.datetime(2022, 2, 28, 9), patient_id="P1"),
            appointment("B2", "completed", dt.datetime(2022, 2, 27, 9), patient_id="P1"),
        ]
    )
    data["patients"] = data["patients"].with_columns(
        pl.when(pl.col("patient_id") == "P1")
        .then(dt.date(2004, 2, 29))
        .otherwise(pl.col("birth_date"))
        .alias("birth_date")
    )
    out = metrics.prepare(data)["appointments"].collect().sort("appointment_id")
    assert out["age_band"].cast(pl.String).to_list() == ["18-34", "0-17"]  # 18 on 28 Feb in a common year


def test_period_month_and_week(prepared):
    monthly = metrics.compute("no_show_rate", prepared, period="month")
    assert _pairs(monthly, "period") == {(dt.date(2026, 3, 1),): (2, 3), (dt.date(2026, 4, 1),): (1, 3)}
    weekly = metrics.compute("no_show_rate", prepared, period="week")
    assert weekly["period"].to_list() == [dt.date(2026, 3, 2), dt.date(2026, 3, 9), dt.date(2026, 3, 30)]
    assert weekly["period"].dtype == pl.Date


def test_filters_and_date_range(prepared):
    out = metrics.compute("no_show_rate", prepared, filters={"visit_type": ["new"]})
    assert _pairs(out) == {(): (1, 1)}
    out = metrics.compute("no_show_rate", prepared, filters={"department": ["D1", "D2"], "sex": ["female"]})
    assert _pairs(out) == {(): (1, 4)}
    out = metrics.compute("no_show_rate", prepared, start="2026-03-03", end=dt.date(2026, 4, 2))
    assert _pairs(out) == {(): (2, 3)}  # A2 (03-03), A3 (03-09), A4 (04-02); A5 is 04-03


def test_filter_on_an_integer_column_accepts_text(prepared):
    out = metrics.compute("completed_visits", prepared, filters={"weekday": ["1"]})
    assert out["n"].to_list() == [1]


def test_unknown_group_column_is_named(prepared):
    with pytest.raises(MetricError, match="payer_name"):
        metrics.compute("no_show_rate", prepared, by=["payer_name"])


def test_missing_extract_column_is_named():
    data = frames(appointments=ROWS)
    data["appointments"] = data["appointments"].drop("cancelled_at")
    with pytest.raises(MetricError, match=r"appointments is missing column\(s\) cancelled_at"):
        metrics.prepare(data)


def test_missing_extract_is_named(prepared):
    with pytest.raises(MetricError, match="claims extract"):
        metrics.compute("initial_denial_rate", prepared)


def test_unknown_metric_suggests_names(prepared):
    with pytest.raises(MetricError, match="no_show_rate"):
        metrics.compute("no_shows_rate", prepared)


def test_bad_period_and_date(prepared):
    with pytest.raises(MetricError, match="period"):
        metrics.compute("no_show_rate", prepared, period="fortnight")
    with pytest.raises(MetricError, match="start must be a date"):
        metrics.compute("no_show_rate", prepared, start="March")


def test_prepared_frames_carry_no_identifying_columns():
    from metrics_frames import frame

    from carepulse.contract import PHI_COLUMNS

    phi = {c for columns in PHI_COLUMNS.values() for c in columns}
    data = frames(appointments=ROWS)
    data["surveys"] = frame(
        "surveys", [{"survey_id": "S1", "appointment_id": "A1", "received_at": T, "comment": "x"}]
    )
    data["referrals"] = frame("referrals", [{"referral_id": "R1", "created_at": T}])
    data["encounters"] = frame("encounters", [{"encounter_id": "E1", "patient_id": "P1", "admitted_at": T}])
    prepared = metrics.prepare(data)
    assert {"surveys", "referrals", "encounters"} <= set(prepared)
    for name, frame_ in prepared.items():
        if name in ("departments", "providers"):
            continue
        assert not phi & set(frame_.collect_schema().names()), name


def test_raw_frames_are_prepared_on_the_fly():
    out = metrics.compute("no_show_rate", frames(appointments=ROWS))
    assert _pairs(out) == {(): (3, 6)}


def test_catalogue_is_long_and_skips_absent_extracts(prepared):
    out = metrics.compute_catalogue(prepared, by=["department"], period="month")
    appointment_metrics = {m.name for m in metrics.list_metrics() if m.frames == ("appointments",)}
    # Metrics of absent extracts are skipped; grouped metrics with no rows have no groups.
    assert set(out["metric"].unique()) <= appointment_metrics
    assert {"no_show_rate", "lead_time_days", "visits_by_hour"} <= set(out["metric"].unique())
    assert out.columns[:7] == ["metric", "family", "kind", "unit", "department", "period", "category"]
    no_show = out.filter(pl.col("metric") == "no_show_rate", pl.col("department") == "D1")
    assert no_show["value"].to_list() == [pytest.approx(2 / 3)]
    hours = out.filter(pl.col("metric") == "visits_by_hour")
    assert hours["category"].dtype == pl.String and hours["share"].is_not_null().all()


def test_catalogue_subset_and_family(prepared):
    out = metrics.compute_catalogue(prepared, metrics=["no_show_rate", "lead_time_days"])
    assert out["metric"].to_list() == ["no_show_rate", "lead_time_days"]
    flow = metrics.compute_catalogue(prepared, family="flow")
    assert set(flow["family"]) == {"flow"}


def test_registry_interface():
    names = set(metrics.REGISTRY)
    tiles = {
        "no_show_rate",
        "late_cancellation_rate",
        "lead_time_days",
        "third_next_available_days",
        "cycle_time_minutes",
        "referral_loop_closure_rate",
        "initial_denial_rate",
        "provider_rating_top_box",
        "followup_7d_rate",
    }
    assert tiles <= names
    from carepulse.settings import Settings

    assert set(Settings().targets) <= names  # every target names a metric
    for m in metrics.list_metrics():
        assert m.kind in ("rate", "time", "count", "score")
        assert m.better in ("lower", "higher", "neutral")
        assert m.spc_chart in ("p", "u", "i", "run")
        assert m.numerator and m.denominator and m.definition and m.standard and m.source
    assert [m.family for m in metrics.list_metrics("revenue")] == ["revenue"] * len(
        metrics.list_metrics("revenue")
    )
    with pytest.raises(MetricError):
        metrics.list_metrics("finance")


# --- Small cells ------------------------------------------------------------------------------------


def test_suppression_nulls_small_counts_and_their_complements():
    frame = pl.DataFrame(
        {
            "department": ["D1", "D2", "D3", "D4", "D5"],
            "numerator": [0, 5, 30, 40, 11],
            "denominator": [50, 50, 35, 40, 22],
            "n": [50, 50, 35, 40, 22],
            "value": [0.0, 0.1, 30 / 35, 1.0, 0.5],
            "ci_low": [0.0, 0.04, 0.7, 0.9, 0.3],
            "ci_high": [0.07, 0.2, 0.95, 1.0, 0.7],
        }
    )
    out = metrics.suppress_small_cells(frame, threshold=10)
    # D1: 0 is allowed; D2: numerator 5; D3: complement 35-30 = 5 derivable; D4: complement 0 allowed
    assert out["suppressed"].to_list() == [False, True, True, False, False]
    assert out.filter(pl.col("suppressed")).select(
        "numerator", "denominator", "value", "ci_low"
    ).null_count().row(0) == (2, 2, 2, 2)
    assert out["department"].to_list() == frame["department"].to_list()  # rows kept, labels kept


def test_suppression_of_times_counts_and_dollar_shares():
    times = pl.DataFrame({"n": [3, 11, 0], "median": [5.0, 6.0, None], "value": [5.0, 6.0, None]})
    out = metrics.suppress_small_cells(times, threshold=10)
    assert out["suppressed"].to_list() == [True, False, False]
    assert out["median"].to_list() == [None, 6.0, None]
    dollars = pl.DataFrame(
        {
            "numerator": [300.0, 900.0],
            "denominator": [1000.0, 5000.0],
            "numerator_n": [2, 20],
            "n": [40, 40],
            "value": [0.3, 0.18],
        }
    )
    assert metrics.suppress_small_cells(dollars, threshold=10)["suppressed"].to_list() == [True, False]


def test_suppression_threshold_and_lazy_frames():
    frame = pl.DataFrame({"numerator": [12], "denominator": [40], "n": [40], "value": [0.3]})
    assert metrics.suppress_small_cells(frame, threshold=12)["suppressed"].to_list() == [True]
    lazy = metrics.suppress_small_cells(frame.lazy(), threshold=10)
    assert isinstance(lazy, pl.LazyFrame) and lazy.collect()["suppressed"].to_list() == [False]


def test_suppression_on_a_computed_catalogue(prepared):
    out = metrics.suppress_small_cells(
        metrics.compute_catalogue(prepared, metrics=["no_show_rate"]), threshold=10
    )
    assert out["suppressed"].to_list() == [True] and out["value"].to_list() == [None]
