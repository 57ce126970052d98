"""Chart details issue 14 asked for: partial periods drawn hollow and labelled, no broken empty bars,
text summaries, readable headers, MDC icons with words."""

from __future__ import annotations

import datetime as dt

import polars as pl

from carepulse.dashboard import charts, describe, mdc_icons
from carepulse.metrics.periods import mark_partial

MONTHS = pl.DataFrame(
    {
        "period": [dt.date(2026, 4, 1), dt.date(2026, 5, 1), dt.date(2026, 6, 1)],
        "value": [0.10, 0.12, 0.05],
        "numerator": [10, 12, 2],
        "denominator": [100, 100, 40],
    }
)


def test_the_incomplete_month_is_hollow_and_labelled_partial() -> None:
    frame = mark_partial(MONTHS, "month", dt.date(2026, 6, 12))
    fig = charts.trend(frame, title="No-show rate by month", unit="share", target=0.08)
    points = fig.data[-1]
    assert list(points.marker.symbol) == ["circle", "circle", "circle-open"]
    assert list(points.text) == ["", "", "partial"]
    assert "partial period" in points.hovertext[-1] and "partial" not in points.hovertext[0]
    summary = describe.trend_summary(frame, title="No-show rate by month", unit="share")
    assert summary == (
        "No-show rate by month, Apr 2026 to Jun 2026: latest 5.0% (Jun 2026, partial period); "
        "lowest 5.0% (Jun 2026), highest 12.0% (May 2026)."
    )


def test_bars_without_any_unit_say_so_instead_of_empty_axes() -> None:
    frame = pl.DataFrame({"department": [None], "value": [0.5], "numerator": [5], "denominator": [10]})
    fig = charts.bars(frame, category="department", title="Follow-up by department", unit="share")
    assert fig.data == ()
    assert fig.layout.xaxis.visible is False
    assert fig.layout.annotations[0].text.startswith("No values to compare: no cases")
    suppressed = frame.with_columns(department=pl.lit("D1"), value=pl.lit(None, pl.Float64))
    assert charts.bars(suppressed, category="department", title="T", unit="share").data == ()
    assert (
        charts.trend(
            suppressed.with_columns(period=pl.lit(dt.date(2026, 1, 1))), title="T", unit="share"
        ).data
        == ()
    )
    assert describe.bars_summary(frame, title="T", unit="share", category="department") == (
        "T: no values to compare for this selection."
    )


def test_bars_carry_ids_for_drill_down_and_names_for_people() -> None:
    frame = pl.DataFrame(
        {"department": ["D2", "D1", None], "value": [0.2, 0.1, 0.3], "denominator": [50, 40, 9]}
    )
    labels = {"D1": "Cardiology (North)", "D2": "Dermatology (South)"}
    fig = charts.bars(frame, category="department", title="T", unit="share", labels=labels)
    assert list(fig.data[0].customdata) == ["D1", "D2"] and list(fig.data[0].y) == list(labels.values())
    assert describe.bars_summary(frame, title="T", unit="share", category="department", labels=labels) == (
        "T: 2 units; highest Dermatology (South) 20.0%, lowest Cardiology (North) 10.0%."
    )


def test_headers_and_weekdays_read_as_words() -> None:
    assert describe.column_label("ci_low") == "95% CI low"
    assert describe.column_label("carc_code") == "Carc code"
    table = describe.readable_table(
        pl.DataFrame({"weekday": [1, 7], "department": ["D1", "D9"]}), {"department": {"D1": "Cardiology"}}
    )
    assert table.rows() == [("Monday", "Cardiology"), ("Sunday", "D9")]


def test_mdc_icons_have_a_letter_and_words() -> None:
    import base64

    uri, words = mdc_icons.variation_icon("special_cause_improving", "high")
    assert words == "Special cause, improving (high)"
    assert ">H</text>" in base64.b64decode(uri.split(",", 1)[1]).decode()
    uri, words = mdc_icons.assurance_icon("consistently_failing")
    assert ">F</text>" in base64.b64decode(uri.split(",", 1)[1]).decode() and "miss" in words
    assert mdc_icons.variation_icon(None, None)[0] is None
