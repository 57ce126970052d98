"""KPI tile arithmetic: change, red/amber/green against target, top movers, SPC arguments."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest

from carepulse import metrics
from carepulse.metrics.kpis import (
    KPI_METRICS,
    change,
    change_is_good,
    rag_status,
    spc_arguments,
    tile_variation,
    top_movers,
)
from carepulse.settings import Settings


@pytest.mark.parametrize(
    "value,target,better,expected",
    [
        (0.06, 0.07, "lower", "green"),
        (0.07, 0.07, "lower", "green"),
        (0.076, 0.07, "lower", "amber"),  # within 10% of the target
        (0.078, 0.07, "lower", "red"),
        (0.85, 0.80, "higher", "green"),
        (0.73, 0.80, "higher", "amber"),
        (0.71, 0.80, "higher", "red"),
        (None, 0.80, "higher", "none"),
        (0.5, None, "higher", "none"),
        (120.0, 100.0, "neutral", "none"),
        (float("nan"), 0.1, "lower", "none"),
    ],
)
def test_rag_status(value, target, better, expected):
    assert rag_status(value, target, better) == expected


@pytest.mark.parametrize(
    "current,previous,expected",
    [(0.1, 0.08, pytest.approx(0.02)), (None, 0.1, None), (0.1, None, None), (3.0, 3.0, 0.0)],
)
def test_change(current, previous, expected):
    assert change(current, previous) == expected


@pytest.mark.parametrize(
    "delta,better,expected",
    [
        (-0.01, "lower", True),
        (0.01, "lower", False),
        (0.01, "higher", True),
        (0.0, "higher", None),
        (0.01, "neutral", None),
    ],
)
def test_change_is_good(delta, better, expected):
    assert change_is_good(delta, better) is expected


def test_top_movers_orders_by_relative_change_and_skips_missing():
    rows = [
        {"metric": "a", "value": 0.11, "previous": 0.10, "better": "lower"},
        {"metric": "b", "value": 5.0, "previous": 10.0, "better": "lower"},
        {"metric": "c", "value": None, "previous": 1.0, "better": "lower"},
        {"metric": "d", "value": 1.0, "previous": 0.0, "better": "higher"},
        {"metric": "e", "value": 0.9, "previous": 0.75, "better": "higher"},
    ]
    movers = top_movers(rows, n=2)
    assert [m["metric"] for m in movers] == ["b", "e"]
    assert movers[0]["relative_change"] == pytest.approx(-0.5) and movers[0]["improved"] is True


def test_every_headline_metric_is_registered_and_has_a_target():
    targets = Settings().targets
    for name in KPI_METRICS:
        assert name in metrics.REGISTRY
        assert name in targets


@pytest.mark.parametrize(
    "name,chart,y,n",
    [
        ("no_show_rate", "auto", "numerator", "denominator"),  # P, or Laney P' when overdispersed
        ("lead_time_days", "i", "value", None),
        ("completed_visits", "run", "value", None),
        ("initial_denial_rate_dollars", "i", "value", None),
    ],
)
def test_spc_arguments_follow_the_metric_definition(name, chart, y, n):
    args = spc_arguments(metrics.get_metric(name), target=0.1, phases=["2026-01-05"])
    assert (args["chart"], args["y"], args.get("n")) == (chart, y, n)
    assert args["phases"] == ["2026-01-05"] and args["target"] == 0.1


def _weekly_with_extreme_last_week() -> tuple[pl.DataFrame, dt.date]:
    """Twenty steady weeks of a no-show rate near 10 %, then a current week (two days counted) at 60 %."""
    first = dt.date(2026, 1, 5)  # a Monday
    numerators = [20, 22, 18, 21, 19, 20, 23, 17, 20, 21, 19, 22, 18, 20, 21, 19, 20, 22, 18, 20, 30]
    denominators = [200] * 20 + [50]
    frame = pl.DataFrame(
        {
            "period": [first + dt.timedelta(weeks=i) for i in range(len(numerators))],
            "numerator": numerators,
            "denominator": denominators,
        }
    ).with_columns((pl.col("numerator") / pl.col("denominator")).alias("value"))
    as_of = frame["period"][-1] + dt.timedelta(days=1)  # the last week is only two days old
    return frame, as_of


def test_tile_variation_ignores_an_incomplete_last_week():
    weekly, as_of = _weekly_with_extreme_last_week()
    definition = metrics.get_metric("no_show_rate")
    variation, assurance = tile_variation(weekly, definition, target=0.07, as_of=as_of)
    assert variation == "common_cause"
    assert assurance != "none"
    # The same series with the last week complete: the extreme week is a special cause, so the
    # icon above is quiet because the partial week was set aside, not because nothing would show.
    complete = as_of + dt.timedelta(days=6)
    assert tile_variation(weekly, definition, target=0.07, as_of=complete)[0] == "special_cause_concerning"


def test_tile_variation_needs_three_weeks_with_values():
    weekly, as_of = _weekly_with_extreme_last_week()
    short = weekly.head(2)
    assert tile_variation(short, metrics.get_metric("no_show_rate"), target=None, as_of=as_of) == (
        None,
        "none",
    )
