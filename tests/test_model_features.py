"""Point-in-time features: exact counts on hand-built frames, and no leak from rows added later."""

import datetime as dt

import polars as pl
import pytest

from carepulse.contract import EXTRACTS
from carepulse.metrics.no_show_model.features import (
    FEATURES,
    appointment_features,
    labelled_examples,
    training_moment,
)
from carepulse.metrics.no_show_model.toy import toy_health_system

D = dt.datetime


def _frame(name: str, rows: list[dict]) -> pl.DataFrame:
    schema = EXTRACTS[name].polars_schema
    return pl.DataFrame([{c: r.get(c) for c in schema} for r in rows], schema=schema)


def _appt(aid, start, status, *, booked=None, cancelled_at=None, patient="P1", **kw):
    return {
        "appointment_id": aid,
        "patient_id": patient,
        "department_id": "D1",
        "provider_id": "PR1",
        "visit_type": "follow_up",
        "modality": "in_person",
        "booked_at": booked or start - dt.timedelta(days=10),
        "scheduled_start": start,
        "duration_min": 20,
        "status": status,
        "cancelled_at": cancelled_at,
        "cancelled_by": "patient" if status == "cancelled" else None,
        "reminder": "none",
        "insurance_verified": True,
        **kw,
    }


PATIENTS = _frame(
    "patients",
    [
        {
            "patient_id": "P1",
            "mrn": "M1",
            "first_name": "A",
            "last_name": "B",
            "birth_date": dt.date(1980, 7, 1),
            "sex": "female",
            "race": "white",
            "ethnicity": "not_hispanic",
            "preferred_language": "ES",
            "postal_code": "27510",
            "payer_class": "medicaid",
            "portal_active": False,
            "needs_interpreter": True,
            "transport_barrier": True,
        }
    ],
)

HISTORY = [
    _appt("old_ns", D(2024, 1, 10, 9), "no_show"),  # more than 12 months before the target
    _appt("ns", D(2025, 9, 1, 9), "no_show"),
    _appt("done", D(2025, 10, 1, 9), "completed"),
    _appt("lwbs", D(2025, 11, 1, 9), "left_without_being_seen"),
    _appt("canc", D(2025, 12, 20, 9), "cancelled", cancelled_at=D(2025, 12, 1)),
    _appt("clinic_canc", D(2025, 12, 21, 9), "cancelled", cancelled_at=D(2025, 12, 2), cancelled_by="clinic"),
    _appt("target", D(2026, 1, 15, 14, 30), "no_show", booked=D(2025, 12, 1, 8)),
    _appt("same_day", D(2026, 1, 15, 9), "completed", booked=D(2025, 12, 5)),
    _appt("same_day_later_booked", D(2026, 1, 15, 10), "completed", booked=D(2026, 1, 14, 12)),
]


def test_history_counts_rates_and_patient_fields_at_as_of():
    appts = _frame("appointments", HISTORY)
    targets = pl.DataFrame({"appointment_id": ["target"], "as_of": [D(2026, 1, 14)]})
    row = appointment_features(targets, appts, PATIENTS, centre_zip=27500).row(0, named=True)
    assert row["prior_no_shows"] == 2 and row["prior_no_shows_12m"] == 1
    assert row["prior_visits"] == 2 and row["prior_visits_12m"] == 2  # completed + left without being seen
    assert row["prior_cancellations"] == 1  # the clinic's cancellation is not the patient's behaviour
    assert row["prior_no_show_rate"] == pytest.approx(2 / 4)
    assert row["prior_no_show_rate_12m"] == pytest.approx(1 / 3)
    assert row["prior_cancellation_rate"] == pytest.approx(1 / 6)
    assert row["days_since_last_visit"] == pytest.approx(
        (D(2026, 1, 14) - D(2025, 11, 1, 9)).total_seconds() / 86400
    )
    assert row["is_new_patient"] == 0
    assert row["same_day_appointments"] == 1  # the other booking made after as_of is not known yet
    assert row["lead_time_days"] == pytest.approx(45 + 6.5 / 24)
    assert (row["weekday"], row["hour"]) == (4, 14.5)
    assert row["age"] == pytest.approx(45 + 197 / 365.25, abs=0.01)  # 1980-07-01 to 2026-01-14
    assert (row["language"], row["needs_interpreter"], row["transport_barrier"], row["portal_active"]) == (
        "es",
        1,
        1,
        0,
    )
    assert row["distance_km"] == 5.0  # |27510 - 27500| x 0.5 km
    assert set(FEATURES) <= set(row)


def test_new_patient_has_no_history_and_outcomes_at_as_of_do_not_count():
    appts = _frame(
        "appointments",
        [_appt("first", D(2026, 1, 5, 9), "no_show"), _appt("target", D(2026, 1, 20, 9), "scheduled")],
    )
    # the earlier no-show happens exactly at as_of: strictly-before means it is not known yet
    targets = pl.DataFrame({"appointment_id": ["target"], "as_of": [D(2026, 1, 5, 9)]})
    row = appointment_features(targets, appts, PATIENTS).row(0, named=True)
    assert row["prior_no_shows"] == 0 and row["is_new_patient"] == 1
    assert row["prior_no_show_rate"] is None and row["days_since_last_visit"] is None


def test_features_ignore_rows_added_after_as_of():
    """Scoring the same appointments with later rows in the warehouse gives identical features."""
    frames = toy_health_system(patients=60, appointments=1500, seed=3)
    as_of = D(2026, 3, 1)
    appts = frames["appointments"]
    targets = appts.filter(
        (pl.col("scheduled_start") >= as_of + dt.timedelta(days=1)) & (pl.col("booked_at") <= as_of)
    ).select("appointment_id", pl.lit(as_of).alias("as_of"))
    # The warehouse as it was at as_of: future outcomes still unknown, later bookings absent.
    unknown_then = (
        pl.when(pl.col("status") == "cancelled")
        .then(pl.col("cancelled_at") > as_of)
        .otherwise(pl.col("scheduled_start") >= as_of)
    )
    then = appts.filter(pl.col("booked_at") <= as_of).with_columns(
        pl.when(unknown_then).then(pl.lit("scheduled")).otherwise(pl.col("status")).alias("status"),
        pl.when(unknown_then).then(None).otherwise(pl.col("cancelled_at")).alias("cancelled_at"),
    )
    assert targets.height > 20 and appts.height > then.height
    later_outcomes = then.join(appts, on="appointment_id").filter(pl.col("status") != pl.col("status_right"))
    assert later_outcomes.height > 10  # outcomes recorded after as_of, plus bookings made after it
    before = appointment_features(targets, then, frames["patients"], centre_zip=27530)
    after = appointment_features(targets, appts, frames["patients"], centre_zip=27530)
    assert before.equals(after)


def test_labelled_examples_exclude_cancelled_and_future_and_use_the_day_before():
    appts = _frame("appointments", HISTORY + [_appt("future", D(2026, 3, 1, 9), "scheduled")])
    ex = labelled_examples(appts, cutoff=D(2026, 2, 1))
    assert set(ex["appointment_id"]) == {
        "old_ns",
        "ns",
        "done",
        "lwbs",
        "target",
        "same_day",
        "same_day_later_booked",
    }
    labels = dict(zip(ex["appointment_id"], ex["no_show"]))
    assert labels["lwbs"] == 0 and labels["ns"] == 1 and labels["done"] == 0
    moments = dict(zip(ex["appointment_id"], ex["as_of"]))
    assert moments["target"] == D(2026, 1, 14)  # 00:00 the day before the visit
    assert moments["same_day_later_booked"] == D(2026, 1, 14, 12)  # booked later than that: its booking
    assert appts.select(training_moment(appts)).height == appts.height


def test_targets_must_name_appointments_and_as_of():
    appts = _frame("appointments", HISTORY)
    with pytest.raises(KeyError, match="as_of"):
        appointment_features(pl.DataFrame({"appointment_id": ["target"]}), appts, PATIENTS)
    with pytest.raises(KeyError, match="not in the appointments"):
        appointment_features(
            pl.DataFrame({"appointment_id": ["nope"], "as_of": [D(2026, 1, 1)]}), appts, PATIENTS
        )


def test_one_shared_as_of_gives_the_same_history_as_per_row_as_of_joins():
    """A scoring run (one as_of for every target) takes a group_by shortcut; it must agree with the
    as-of joins used when targets have their own moments, including events exactly at as_of and
    exactly at the start of the 12-month window (both strictly before: not counted)."""
    frames = toy_health_system(patients=80, appointments=4000, months=24, seed=4)
    appts = frames["appointments"]
    as_of = appts.filter(pl.col("status") == "completed")["scheduled_start"].sort()[
        2500
    ]  # an event exactly at as_of
    some = appts.filter((pl.col("scheduled_start") > as_of) & (pl.col("booked_at") <= as_of))["patient_id"][0]
    boundary = (
        _frame(
            "appointments",
            [
                _appt("at_window_start", as_of - dt.timedelta(days=365), "no_show", patient=some),
                _appt(
                    "just_inside",
                    as_of - dt.timedelta(days=365) + dt.timedelta(seconds=1),
                    "completed",
                    patient=some,
                ),
                _appt("at_as_of", as_of, "cancelled", cancelled_at=as_of, patient=some),
            ],
        )
        .select(appts.columns)
        .cast(appts.schema)
    )
    appts = pl.concat([appts, boundary])
    targets = appts.filter(pl.col("scheduled_start") > as_of).select(
        "appointment_id", pl.lit(as_of).alias("as_of")
    )
    assert (
        targets.height > 100
        and some
        in appts.filter(pl.col("appointment_id").is_in(targets["appointment_id"].to_list()))["patient_id"]
    )
    shared = appointment_features(targets, appts, frames["patients"], centre_zip=27530)
    # one extra target at another moment sends every row through the as-of joins
    other = pl.DataFrame(
        {"appointment_id": [appts["appointment_id"][0]], "as_of": [as_of - dt.timedelta(days=30)]}
    )
    mixed = appointment_features(
        pl.concat([targets, other.cast(targets.schema)]), appts, frames["patients"], centre_zip=27530
    )
    assert shared.equals(mixed.head(targets.height))
    assert (
        shared["prior_no_shows_12m"].sum() > 0
        and shared["prior_no_shows"].sum() > shared["prior_no_shows_12m"].sum()
    )
