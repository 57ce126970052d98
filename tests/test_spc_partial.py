"""The incomplete last period, the moving-range chart's single rule and Laney's factor, by hand."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import polars as pl
import pytest

from carepulse.metrics.spc import dispersion, incomplete_periods, laney_sigma_z, spc


def weekly(values, n=None, start=date(2025, 1, 6)):
    frame = {"period": [start + timedelta(weeks=i) for i in range(len(values))], "value": values}
    if n is not None:
        frame["n"] = n
    return pl.DataFrame(frame).with_columns(pl.col("value").cast(pl.Float64))


def test_a_partial_last_week_is_flagged_and_left_out_of_limits_and_rules():
    # 9 steady weeks and a half-counted 10th: with it the I chart would flag an astronomical drop
    values = [50, 52, 49, 51, 50, 52, 48, 51, 50, 20]
    last = date(2025, 1, 6) + timedelta(weeks=9)
    whole = spc(weekly(values[:9]), chart="i")
    result = spc(weekly(values), chart="i", partial=[last])
    assert result.points["partial"].to_list() == [False] * 9 + [True]
    # limits exactly as if the partial week did not exist, extended over it
    assert result.points["ucl"].to_list() == pytest.approx([whole.points["ucl"][0]] * 10)
    assert result.points["cl"].to_list() == pytest.approx([whole.points["cl"][0]] * 10)
    # the drop to 20 raises no signal and gets no NHS point type
    assert result.points["signals"][-1].to_list() == []
    assert result.points["nhs_point_type"][-1] is None
    assert result.last_phase["n_partial"] == 1
    assert result.last_phase["n_points"] == 9
    # the moving range into the partial week is partial too
    assert result.moving_range.points["partial"].to_list() == [False] * 9 + [True]
    assert not result.moving_range.points["signal"].any()
    # without the flag, the same point is a special cause
    assert spc(weekly(values), chart="i").points["outside_limits"][-1]


def test_a_partial_period_on_a_p_chart_keeps_its_own_point_but_not_the_centre():
    result = spc(
        weekly([10, 12, 11, 1], n=[100, 100, 100, 5]), y="value", n="n", chart="p", partial=["2025-01-27"]
    )
    assert result.points["partial"].to_list() == [False, False, False, True]
    assert result.last_phase["centre"] == pytest.approx(33 / 300)
    assert result.points["value"][-1] == pytest.approx(0.2)


@pytest.mark.parametrize(
    ("period", "as_of", "expected"),
    [
        ("week", date(2025, 1, 26), []),  # the week of 20 January ends on Sunday 26: complete
        ("week", date(2025, 1, 25), [date(2025, 1, 20)]),  # a day short
        ("month", date(2025, 2, 28), []),
        ("month", date(2025, 2, 27), [date(2025, 2, 1)]),
        ("week", None, []),
    ],
)
def test_incomplete_periods_boundaries(period, as_of, expected):
    starts = (
        pl.Series([date(2025, 1, 13), date(2025, 1, 20)])
        if period == "week"
        else pl.Series([date(2025, 1, 1), date(2025, 2, 1)])
    )
    assert incomplete_periods(starts, period, as_of) == expected


def test_mr_chart_has_no_runs_rules_even_on_a_long_run():
    # 12 identical small moving ranges then a jump: a "run" of 12 below the centre is no signal
    values = [10, 11] * 6 + [10, 30]
    mr = spc(weekly(values), chart="mr")
    assert mr.points["shift"].null_count() == mr.points.height
    assert mr.points["anhoej_long_run"].null_count() == mr.points.height
    assert mr.last_phase["runs_signal"] is False
    # MR̄ = (12·1 + 20)/13 = 2.4615, UCL = 8.0418: only the jump of 20 is above it
    assert mr.points.filter("signal")["value"].to_list() == [20.0]


def test_laney_factor_by_hand():
    # p̄ = 60/300 = 0.2, σ_i = √(0.16/100) = 0.04; z = (0.1−0.2)/0.04, (0.2−0.2)/0.04, (0.3−0.2)/0.04 = −2.5, 0, 2.5
    # MR(z) = 2.5, 2.5 -> σ_z = 2.5/1.128
    num, den, base = np.array([10.0, 20, 30]), np.array([100.0, 100, 100]), np.ones(3, bool)
    cl, sigma_z, z = laney_sigma_z(num, den, base, binomial=True)
    assert cl == pytest.approx(0.2)
    assert z.tolist() == pytest.approx([-2.5, 0, 2.5])
    assert sigma_z == pytest.approx(2.5 / 1.128)
    # φ = (6.25 + 0 + 6.25)/3; k·φ = 12.5 > χ²(2, 0.99) = 9.21 and σ_z > 1: overdispersed
    measured = dispersion(num, den, base, binomial=True)
    assert measured["dispersion_ratio"] == pytest.approx(12.5 / 3)
    assert measured["overdispersed"] is True
    result = spc(weekly([10, 20, 30], n=[100, 100, 100]), n="n", chart="pp")
    assert result.points["ucl"][0] == pytest.approx(0.2 + 3 * 0.04 * 2.5 / 1.128)
    assert result.points["lcl"][0] == 0.0  # 0.2 − 0.266 floored at 0


def test_binomial_data_stays_a_plain_p_chart_under_auto():
    # exactly the expected proportions: no between-period variation beyond the binomial
    rng = np.random.default_rng(7)
    n = np.full(30, 400.0)
    y = rng.binomial(400, 0.15, 30).astype(float)
    frame = weekly(y.tolist(), n=n.tolist())
    result = spc(frame, n="n", kind="rate")
    assert result.chart == "p"
    assert result.last_phase["overdispersed"] is False


def test_the_chart_draws_a_partial_period_hollow_and_labels_it():
    from carepulse.dashboard import spc_chart

    values = [50, 52, 49, 51, 50, 52, 48, 51, 50, 20]
    result = spc(weekly(values), chart="i", partial=[date(2025, 1, 6) + timedelta(weeks=9)])
    fig = spc_chart.spc(result.points, title="t", unit="count")
    trace = next(t for t in fig.data if t.name == "Value")
    assert list(trace.marker.symbol) == ["circle"] * 9 + ["circle-open"]
    assert "partial period" in trace.hovertext[-1] and "partial" not in trace.hovertext[0]
    labels = [a.text for a in fig.layout.annotations]
    assert labels.count("partial") == 1


def test_the_qi_chart_hides_a_suppressed_weeks_limits_too():
    """A P chart's limits at a week give its n back (n = 9·p̄(1 − p̄)/(UCL − p̄)²): a week whose value
    is suppressed for the role shows neither its point nor its limits."""
    from types import SimpleNamespace

    from carepulse.dashboard.qi_data import SPCView

    raw = weekly([10, 3, 12, 11], n=[100, 20, 110, 90]).rename({"value": "numerator", "n": "denominator"})
    raw = raw.with_columns((pl.col("numerator") / pl.col("denominator")).alias("value"))
    result = spc(raw, y="numerator", n="denominator", chart="p")
    shown = raw.with_columns(
        pl.when(pl.col("numerator") == 3).then(None).otherwise(pl.col(c)).alias(c)
        for c in ("numerator", "denominator", "value")
    )
    definition = SimpleNamespace(title="No-show rate", unit="share")
    view = SPCView(definition, shown, result, pl.DataFrame(), "week", "all departments")
    fig = view.figure()
    upper = next(t for t in fig.data if t.name == "Upper limit")
    assert upper.y[1] is None and all(v is not None for v in (upper.y[0], upper.y[2], upper.y[3]))
    values = next(t for t in fig.data if t.name == "Value")
    assert values.y[1] is None
