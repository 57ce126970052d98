"""Settled definitions, tested at their boundaries: the 24-hour late cancellation on both sides,
cancellations by the provider or clinic out of the no-show denominator, and HEDIS calendar-day
follow-up windows after discharge (discharge day not counted)."""

from __future__ import annotations

import datetime as dt

import pytest
from metrics_frames import T, appointment, at, frames

from carepulse import metrics


def compute(name, data):
    return metrics.compute(name, metrics.prepare(data)).row(0, named=True)


# ---- the 24-hour late-cancellation boundary ------------------------------------------------------
@pytest.mark.parametrize(
    ("notice", "late"),
    [
        (dt.timedelta(hours=24, seconds=1), False),
        (dt.timedelta(hours=24), False),  # exactly 24 h notice: on time ("at least 24 hours")
        (dt.timedelta(hours=23, minutes=59, seconds=59), True),
        (dt.timedelta(hours=2), True),
        (dt.timedelta(minutes=-30), True),  # after the start
    ],
)
def test_late_cancellation_boundary(notice, late):
    rows = [
        appointment("A1", "completed"),
        appointment("A2", "no_show"),
        appointment("A3", "cancelled", cancelled_at=T - notice, cancelled_by="patient"),
    ]
    late_rate = compute("late_cancellation_rate", frames(appointments=rows))
    assert (late_rate["numerator"], late_rate["denominator"]) == (int(late), 3)
    no_show = compute("no_show_rate", frames(appointments=rows))
    # a late cancellation held the slot: it stays in the no-show denominator; an on-time one freed it
    assert (no_show["numerator"], no_show["denominator"]) == (1, 3 if late else 2)


@pytest.mark.parametrize(
    ("initiator", "in_denominator"), [("patient", True), (None, True), ("provider", False), ("clinic", False)]
)
def test_provider_and_clinic_cancellations_leave_the_no_show_denominator(initiator, in_denominator):
    rows = [
        appointment("A1", "completed"),
        appointment("A2", "no_show"),
        appointment("A3", "cancelled", cancelled_at=at(hours=-2), cancelled_by=initiator),
    ]
    row = compute("no_show_rate", frames(appointments=rows))
    assert row["denominator"] == (3 if in_denominator else 2)
    late = compute("late_cancellation_rate", frames(appointments=rows))
    assert late["numerator"] == int(in_denominator)  # patient late cancellations stay their own metric
    # every cancellation still counts in the cancellation rate, whoever made it
    assert compute("cancellation_rate", frames(appointments=rows))["numerator"] == 1


# ---- HEDIS calendar-day follow-up ----------------------------------------------------------------
DISCHARGED = dt.datetime(2026, 3, 2, 23, 50)  # late in the evening: hours would differ from days


def discharge_with_visit(visit: dt.datetime) -> dict:
    encounters = [
        {
            "encounter_id": "E1",
            "patient_id": "P1",
            "admitted_at": DISCHARGED - dt.timedelta(days=3),
            "discharged_at": DISCHARGED,
        }
    ]
    appointments = [
        appointment("A1", "completed", visit, patient_id="P1"),
        # a later booking of another patient sets the as-of time well after every window
        appointment("A9", "completed", dt.datetime(2026, 5, 1, 9), patient_id="P2"),
    ]
    return frames(encounters=encounters, appointments=appointments)


@pytest.mark.parametrize(
    ("visit", "within"),
    [
        # NCQA HEDIS FUH: "within 7 days after discharge"; "do not include visits that occur on the
        # date of discharge". Day 0 = 2026-03-02 (discharge day), day 7 = 2026-03-09, day 30 = 2026-04-01.
        (dt.datetime(2026, 3, 2, 23, 55), set()),  # discharge day, after the discharge: not counted
        (dt.datetime(2026, 3, 3, 8, 0), {7, 14, 30}),  # day 1, only 8 hours later
        (dt.datetime(2026, 3, 9, 23, 0), {7, 14, 30}),  # day 7, 167 h later
        (dt.datetime(2026, 3, 10, 0, 30), {14, 30}),  # day 8, 168 h 40 min later: outside 7 days
        (dt.datetime(2026, 3, 16, 9, 0), {14, 30}),  # day 14
        (dt.datetime(2026, 3, 17, 9, 0), {30}),  # day 15
        (dt.datetime(2026, 4, 1, 22, 0), {30}),  # day 30
        (dt.datetime(2026, 4, 2, 8, 0), set()),  # day 31
    ],
)
def test_followup_counts_calendar_days_after_the_discharge_day(visit, within):
    data = discharge_with_visit(visit)
    for days in (7, 14, 30):
        row = compute(f"followup_{days}d_rate", data)
        assert (row["numerator"], row["denominator"]) == (int(days in within), 1), days


def test_followup_window_counts_once_its_last_day_is_over():
    # as-of time on day 7 at 18:00: the 7-day window (through 2026-03-09) is not over yet
    encounters = [
        {
            "encounter_id": "E1",
            "patient_id": "P1",
            "admitted_at": DISCHARGED - dt.timedelta(days=3),
            "discharged_at": DISCHARGED,
        }
    ]
    on_day_7 = [
        appointment(
            "A1", "completed", dt.datetime(2026, 3, 9, 18), patient_id="P1", booked_at=dt.datetime(2026, 3, 1)
        )
    ]
    data = frames(encounters=encounters, appointments=on_day_7)
    assert metrics.compute("followup_7d_rate", metrics.prepare(data)).is_empty() or (
        compute("followup_7d_rate", data)["denominator"] in (0, None)
    )
    next_day = on_day_7 + [appointment("A2", "completed", dt.datetime(2026, 3, 10, 0, 1), patient_id="P2")]
    assert (
        compute("followup_7d_rate", frames(encounters=encounters, appointments=next_day))["denominator"] == 1
    )


# ---- CAHPS composites as AHRQ scores them ------------------------------------------------------
def test_composite_is_the_mean_of_item_top_box_shares_not_the_pooled_answers():
    """AHRQ, "Instructions for Analyzing Data from CAHPS Surveys" (CAHPS Analysis Program 4.1,
    "Explanation of Statistical Calculations"): a composite's score is the average of the scores of
    its items, each item weighted equally, whatever the number of respondents per item. A worked
    example of that rule (constructed here, not a published table): 4 patients answer "explained",
    only 1 answers "listened"."""
    from metrics_frames import at as at_

    rows = [
        {"survey_id": f"S{i}", "appointment_id": "A1", "received_at": at_(days=3), **answers}
        for i, answers in enumerate(
            [
                {"provider_explained": "always", "provider_listened": "never"},
                {"provider_explained": "always"},
                {"provider_explained": "always"},
                {"provider_explained": "usually"},
            ]
        )
    ]
    row = compute("provider_communication_top_box", frames(surveys=rows))
    # items: explained 3/4 top box, listened 0/1 -> AHRQ composite (0.75 + 0)/2 = 0.375
    assert row["value"] == pytest.approx(0.375)
    # the pooled answers (what was shown before) would say 3/5 = 0.6; the counts stay pooled
    assert (row["numerator"], row["denominator"]) == (3, 5)
    mean = compute("provider_communication_linear_mean", frames(surveys=rows))
    # explained (100 + 100 + 100 + 66.7)/4 = 91.7, listened 0 -> (91.7 + 0)/2 = 45.8
    assert mean["value"] == pytest.approx((1100 / 12 + 0) / 2)
