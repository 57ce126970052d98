"""Funnel-plot limits (Spiegelhalter 2005) and partial periods / freshness wording, by hand-computed values."""

from __future__ import annotations

import datetime as dt
import math

import numpy as np
import polars as pl
import pytest

from carepulse.metrics.funnel import funnel_curve, funnel_limits, funnel_points
from carepulse.metrics.periods import freshness_text, is_partial_period, mark_partial, period_end


def test_binomial_limits_match_hand_computation() -> None:
    # p0 = 0.1, n = 100: se = sqrt(0.1 * 0.9 / 100) = 0.03
    lower, upper = funnel_limits(0.1, np.array([100.0, 100.0, 4.0]), 2)
    assert lower[:2].tolist() == pytest.approx([0.04, 0.04]) and upper[0] == pytest.approx(0.16)
    lower3, upper3 = funnel_limits(0.1, np.array([100.0, 4.0]), 3)
    assert (lower3[0], upper3[0]) == pytest.approx((0.01, 0.19))
    assert (lower3[1], upper3[1]) == pytest.approx((0.0, 0.55))  # floored at 0


def test_overdispersion_widens_the_funnel_only_when_units_vary_more_than_chance() -> None:
    frame = pl.DataFrame({"dept": ["a", "b", "c"], "numerator": [10, 20, 0], "denominator": [100, 100, 100]})
    plain, p0, phi = funnel_points(frame, unit="dept", adjust_overdispersion=False)
    assert p0 == pytest.approx(0.1) and phi == 1.0
    assert dict(zip(plain["dept"], plain["position"], strict=True)) == {
        "a": "within",
        "b": "above 3 sigma",
        "c": "below 3 sigma",
    }
    # z = 0, +3.333, -3.333, Winsorized at the 10th and 90th percentiles (Spiegelhalter) before φ = mean z²
    z = np.array([0.0, 10 / 3, -10 / 3])
    low, high = np.quantile(z, [0.1, 0.9])
    expected_phi = float(np.mean(np.clip(z, low, high) ** 2))
    adjusted, _, phi = funnel_points(frame, unit="dept")
    assert phi == pytest.approx(expected_phi) and phi > 1
    b = adjusted.filter(pl.col("dept") == "b").row(0, named=True)
    assert b["upper2"] == pytest.approx(0.1 + 2 * 0.03 * math.sqrt(expected_phi))
    assert b["position"] == "within"


def test_funnel_drops_units_without_cases_and_draws_a_narrowing_curve() -> None:
    frame = pl.DataFrame({"site": ["x", "y"], "numerator": [5, 0], "denominator": [50, 0]})
    points, p0, _ = funnel_points(frame, unit="site")
    assert points["site"].to_list() == ["x"] and p0 == pytest.approx(0.1)
    curve = funnel_curve(0.2, 1000)
    widths = (curve["upper3"] - curve["lower3"]).to_list()
    assert curve["n"].to_list()[0] == 1 and curve["n"].to_list()[-1] == 1000
    assert widths[-1] < widths[len(widths) // 2] < widths[1] + 1e-9
    with pytest.raises(ValueError, match="at least one case"):
        funnel_points(frame.filter(pl.col("site") == "y"), unit="site")


@pytest.mark.parametrize(
    ("start", "period", "through", "partial"),
    [
        (dt.date(2026, 6, 1), "month", dt.date(2026, 6, 29), True),
        (dt.date(2026, 6, 1), "month", dt.date(2026, 6, 30), False),
        (dt.date(2026, 5, 1), "month", dt.date(2026, 6, 2), False),
        (dt.date(2026, 6, 22), "week", dt.date(2026, 6, 27), True),
        (dt.date(2026, 6, 22), "week", dt.date(2026, 6, 28), False),
        (dt.date(2026, 4, 1), "quarter", dt.date(2026, 6, 30), False),
        (dt.date(2026, 4, 1), "quarter", dt.date(2026, 6, 29), True),
        (dt.date(2025, 12, 1), "month", dt.date(2025, 12, 31), False),
    ],
)
def test_partial_period(start: dt.date, period: str, through: dt.date, partial: bool) -> None:
    assert is_partial_period(start, period, through) is partial


def test_mark_partial_flags_only_the_incomplete_tail() -> None:
    frame = pl.DataFrame({"period": [dt.date(2026, 4, 1), dt.date(2026, 5, 1), dt.date(2026, 6, 1)]})
    marked = mark_partial(frame, "month", dt.datetime(2026, 6, 15, 12, 0))
    assert marked["partial"].to_list() == [False, False, True]
    assert period_end(dt.date(2026, 2, 1), "month") == dt.date(2026, 2, 28)
    with pytest.raises(ValueError, match="unknown period"):
        period_end(dt.date(2026, 2, 1), "fortnight")


def test_freshness_is_worded_in_the_site_time_zone() -> None:
    text = freshness_text(
        dt.datetime(2026, 6, 30, 17, 45), dt.datetime(2026, 7, 1, 6, 10), "America/New_York"
    )
    # the extract time is already site-local; the load time is UTC (06:10 UTC = 02:10 EDT)
    assert (
        text
        == "Data through 30 Jun 2026 17:45 EDT; loaded 1 Jul 2026 02:10 EDT (site time, America/New_York)"
    )
    assert freshness_text(None, None, "Europe/London").startswith("Data through unknown; loaded unknown")
