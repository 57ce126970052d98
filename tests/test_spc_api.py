"""The spc() contract the metrics CLI and the dashboard code against: shapes, names, choices, errors."""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta
from pathlib import Path

import polars as pl
import pytest

import carepulse.metrics.spc as spc_module
from carepulse.metrics.spc import CHARTS, POINT_RULES, SPCInputError, choose_chart, spc

DOCS = Path(__file__).resolve().parents[1] / "docs" / "spc.md"
POINT_COLUMNS = [
    "x",
    "y",
    "n",
    "value",
    "phase",
    "baseline",
    "excluded",
    "partial",
    "cl",
    "lcl",
    "ucl",
    "lcl_2s",
    "ucl_2s",
    *POINT_RULES,
    "runs_signal",
    "nhs_point_type",
    "target",
    "signals",
    "signal",
]


def rates(weeks: int = 20) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "period": [date(2025, 1, 6) + timedelta(weeks=i) for i in range(weeks)],
            "numerator": [10 + (i % 4) for i in range(weeks)],
            "denominator": [100 + 5 * (i % 3) for i in range(weeks)],
        }
    )


@pytest.mark.parametrize(
    ("kind", "has_denominator", "chart"),
    [
        ("rate", True, "p"),
        ("count", True, "u"),
        ("time", False, "i"),
        ("score", False, "i"),
        ("rate", False, "i"),
        ("count", False, "i"),
        (None, True, "i"),
    ],
)
def test_auto_chart_choice(kind, has_denominator, chart):
    assert choose_chart(kind, has_denominator=has_denominator) == chart


def test_auto_chart_is_overridable():
    frame = rates()
    assert spc(frame, y="numerator", n="denominator", kind="rate").chart == "p"
    assert spc(frame, y="numerator", n="denominator", kind="rate", chart="run").chart == "run"
    assert spc(frame, y="numerator", n="denominator", kind="count").chart == "u"


@pytest.mark.parametrize("chart", CHARTS)
def test_points_are_tidy_with_the_documented_columns(chart):
    result = spc(rates(), y="numerator", n="denominator", chart=chart)
    assert result.points.columns == POINT_COLUMNS
    assert result.points.height == 20
    assert result.points.schema["signals"] == pl.List(pl.String)
    assert result.points["x"].dtype == pl.Date
    # the signal column agrees with the rule columns
    any_rule = result.points.select(pl.any_horizontal(pl.col(list(POINT_RULES)).fill_null(False))).to_series()
    assert result.points["signal"].to_list() == any_rule.to_list()


def test_rows_come_back_in_time_order_whatever_the_input_order():
    frame = rates().reverse()
    result = spc(frame, y="numerator", n="denominator", chart="p")
    assert result.points["x"].is_sorted()
    assert result.points["y"].to_list() == rates()["numerator"].cast(pl.Float64).to_list()


def test_summary_has_one_row_per_phase_with_the_run_and_nhs_results():
    result = spc(
        rates(),
        y="numerator",
        n="denominator",
        chart="p",
        phases=[date(2025, 3, 3)],
        better="lower",
        target=0.5,
    )
    summary = result.summary
    assert summary["phase"].to_list() == [1, 2]
    assert summary["n_points"].to_list() == [8, 12]
    for column in (
        "centre",
        "lcl_mean",
        "ucl_mean",
        "longest_run",
        "longest_run_max",
        "crossings",
        "crossings_min",
        "runs_signal",
        "outside_limits_points",
        "nhs_variation",
        "assurance",
    ):
        assert column in summary.columns
    assert result.last_phase["phase"] == 2
    # p̄ ≈ 0.11 with n ≈ 105: UCL ≈ 0.11 + 3·0.03 ≈ 0.20 < target 0.5; lower is better -> always passes
    assert result.last_phase["assurance"] == "consistently_passing"


def test_phase_dates_work_against_a_datetime_x():
    frame = rates().with_columns(pl.col("period").cast(pl.Datetime("us")))
    result = spc(frame, y="numerator", n="denominator", chart="p", phases=[date(2025, 3, 3)])
    assert result.points["phase"].to_list() == [1] * 8 + [2] * 12
    same = spc(frame, y="numerator", n="denominator", chart="p", phases=[datetime(2025, 3, 3)])
    assert same.points["phase"].to_list() == result.points["phase"].to_list()


def test_phase_after_the_last_point_leaves_no_empty_phase():
    result = spc(rates(), y="numerator", n="denominator", chart="p", phases=[date(2030, 1, 1)])
    assert result.summary.height == 1 and set(result.points["phase"]) == {1}


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"y": "missing"}, "column 'missing'"),
        ({"y": "numerator", "chart": "p"}, "needs a denominator"),
        ({"y": "numerator", "n": "denominator", "chart": "xbar"}, "chart must be"),
        ({"y": "numerator", "better": "up"}, "better must be"),
        ({"y": "numerator", "kind": "ratio"}, "kind must be"),
        ({"y": "numerator", "exclude": [99]}, "exclude position 99"),
    ],
)
def test_bad_arguments_say_what_is_wrong(kwargs, message):
    with pytest.raises(SPCInputError, match=re.escape(message)):
        spc(rates(), **kwargs)


def test_numerator_above_denominator_names_the_period():
    frame = rates().with_columns(
        pl.when(pl.int_range(pl.len()) == 3).then(500).otherwise(pl.col("numerator")).alias("numerator")
    )
    with pytest.raises(SPCInputError, match="exceeds 'denominator' at period 2025-01-27"):
        spc(frame, y="numerator", n="denominator", chart="p")


def test_duplicate_or_missing_periods_are_refused():
    with pytest.raises(SPCInputError, match="duplicate periods"):
        spc(pl.concat([rates(), rates()]), y="numerator")
    with pytest.raises(SPCInputError, match="empty"):
        spc(rates().head(0), y="numerator")


def test_spc_input_error_is_a_user_error_and_a_value_error():
    from carepulse.errors import CarePulseError

    assert issubclass(SPCInputError, CarePulseError) and issubclass(SPCInputError, ValueError)


def test_public_names_are_exported():
    assert set(spc_module.__all__) <= set(dir(spc_module))
    assert {"spc", "SPCResult", "choose_chart"} <= set(spc_module.__all__)


def test_docs_describe_every_chart_rule_and_summary_column():
    text = DOCS.read_text()
    result = spc(rates(), y="numerator", n="denominator", chart="run")
    for name in (*CHARTS, *POINT_RULES, *result.summary.columns):
        assert f"`{name}`" in text, f"docs/spc.md does not mention `{name}`"
