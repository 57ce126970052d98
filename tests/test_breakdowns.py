"""Breakdown helpers: which dimensions a metric carries and the nearest safe view under suppression."""

from __future__ import annotations

import polars as pl
import pytest

from carepulse.metrics.breakdowns import (
    choose_safe_view,
    dimensions_with_values,
    safer_grain,
    safer_view_note,
    suppressed_rows,
)


def test_only_dimensions_with_values_are_offered() -> None:
    units = pl.LazyFrame(
        {"department": [None, None], "site": [None, None], "payer_class": ["medicare", None]}
    )
    assert dimensions_with_values(units, ("department", "site", "payer_class", "provider")) == ["payer_class"]


def test_the_first_view_that_hides_nothing_wins() -> None:
    month = pl.DataFrame({"period": [1, 2, 3], "suppressed": [False, True, False]})
    quarter = pl.DataFrame({"period": [1], "suppressed": [False]})
    grain, frame = choose_safe_view([("month", month), ("quarter", quarter)])
    assert grain == "quarter" and frame.height == 1
    assert suppressed_rows(month) == 1 and suppressed_rows(pl.DataFrame({"x": [1]})) == 0


def test_when_every_view_hides_something_the_least_hidden_share_wins() -> None:
    dept = pl.DataFrame({"suppressed": [True, True, False, False]})
    site = pl.DataFrame({"suppressed": [True, False, False, False]})
    assert choose_safe_view([("department", dept), ("site", site)])[0] == "site"
    assert choose_safe_view([("department", site), ("site", dept)])[0] == "department"
    with pytest.raises(ValueError):
        choose_safe_view([])


def test_grains_and_note() -> None:
    assert safer_grain("month") == "quarter" and safer_grain("department") == "site"
    assert safer_grain("site") is None
    assert safer_view_note("month", "quarter", 3, 10) == (
        "By month, 3 cells have 1 to 10 cases and would be hidden (small-cell rule), so this shows quarter instead."
    )
