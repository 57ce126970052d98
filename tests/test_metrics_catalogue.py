"""Every registered metric on a handful of hand-built rows, against values computed by hand.

Each case names the metric, the rows it sees and the expected figures (rates: numerator /
denominator; times: n, median, p90 with linear interpolation, mean; counts: n per category).
"""

from __future__ import annotations

import datetime as dt

import pytest
from metrics_frames import T, appointment, at, frames

from carepulse import metrics
from carepulse.metrics import Conventions


def _compute(name, data, **kw):
    return metrics.compute(name, metrics.prepare(data), **kw)


# --- Attendance ----------------------------------------------------------------------------------

ATTENDANCE_ROWS = [
    appointment("A1", "completed"),
    appointment("A2", "no_show"),
    appointment("A3", "cancelled", cancelled_at=at(hours=-2), cancelled_by="patient"),  # late
    appointment("A4", "cancelled", cancelled_at=at(days=-3), cancelled_by="patient"),  # early
    appointment("A5", "scheduled", at(days=30)),  # future
]
CANCEL_ROWS = [
    appointment("A1", "completed"),
    appointment("A2", "cancelled", cancelled_at=at(hours=-2), cancelled_by="patient"),  # late, same day
    appointment("A3", "cancelled", cancelled_at=at(hours=-14), cancelled_by="clinic"),  # late, day before
    appointment("A4", "cancelled", cancelled_at=at(days=-2), cancelled_by="patient"),  # early
]
LEAD_ROWS = [
    appointment("A1", "completed", booked_at=at(days=-2)),
    appointment("A2", "no_show", booked_at=at(days=-4)),
    appointment("A3", "completed", booked_at=at(days=-9)),
    appointment("A4", "cancelled", booked_at=at(days=-50), cancelled_at=at(days=-1)),
]

RATE_CASES = [
    # metric, facts, numerator, denominator
    ("no_show_rate", {"appointments": ATTENDANCE_ROWS}, 1, 3),
    ("no_show_rate_excl_cancellations", {"appointments": ATTENDANCE_ROWS}, 1, 2),
    ("cancellation_rate", {"appointments": ATTENDANCE_ROWS}, 2, 4),
    ("late_cancellation_rate", {"appointments": CANCEL_ROWS}, 1, 4),
    ("same_day_cancellation_rate", {"appointments": CANCEL_ROWS}, 1, 4),
]


# --- Slots (third-next-available, fill) ------------------------------------------------------------

RELEASE = dt.datetime(2026, 2, 20, 8, 0)  # a Friday: first Monday snapshot is 2026-02-23
TNA_SLOTS = [
    # The extract's first slot: snapshots before 02-16 would not see the whole schedule and are skipped.
    {
        "slot_id": "S0",
        "slot_start": dt.datetime(2026, 2, 16, 9),
        "released_at": dt.datetime(2026, 2, 1, 8),
        "booked_at": dt.datetime(2026, 2, 10, 9),
    },
    {"slot_id": "S1", "slot_start": dt.datetime(2026, 3, 3, 9), "released_at": RELEASE},
    {
        "slot_id": "S2",
        "slot_start": dt.datetime(2026, 3, 5, 9),
        "released_at": RELEASE,
        "booked_at": dt.datetime(2026, 2, 25, 9),
    },  # open on 02-23, booked by 03-02
    {"slot_id": "S3", "slot_start": dt.datetime(2026, 3, 9, 9), "released_at": RELEASE},
    {"slot_id": "S4", "slot_start": dt.datetime(2026, 3, 12, 9), "released_at": RELEASE},
    {"slot_id": "S5", "slot_start": dt.datetime(2026, 3, 4, 9), "released_at": RELEASE, "blocked": True},
]
# Snapshot 02-23: open S1, S2, S3, S4 -> third S3 (03-09): 14 days.
# Snapshot 03-02: open S1, S3, S4 -> third S4 (03-12): 10 days.  Snapshot 03-09 is after the as-of time.
FILL_SLOTS = [
    {"slot_id": "S1", "slot_start": at(days=-1), "released_at": at(days=-30), "booked_at": at(days=-5)},
    {"slot_id": "S2", "slot_start": at(days=-1, hours=1), "released_at": at(days=-30)},
    {"slot_id": "S3", "slot_start": at(days=-1, hours=2), "released_at": at(days=-30), "blocked": True},
    {"slot_id": "S4", "slot_start": at(days=3), "released_at": at(days=-30)},  # after the as-of time
]
# The data's as-of time is the latest recorded event: this booking, made at T.
AS_OF_T = [appointment("A9", "scheduled", at(days=5), booked_at=T)]
RATE_CASES.append(("slot_fill_rate", {"slots": FILL_SLOTS, "appointments": AS_OF_T}, 1, 2))

# --- Flow ------------------------------------------------------------------------------------------

FLOW_ROWS = [
    appointment(
        "A1",
        "completed",
        checkin_at=at(minutes=-60),
        roomed_at=at(minutes=-55),
        provider_start_at=at(minutes=-53),
        checkout_at=at(minutes=-30),
    ),
    appointment(
        "A2",
        "completed",
        checkin_at=at(minutes=-60),
        roomed_at=at(minutes=-50),
        provider_start_at=at(minutes=-46),
        checkout_at=at(minutes=-10),
    ),
    appointment(
        "A3",
        "completed",
        at(hours=4),
        checkin_at=at(hours=3),
        roomed_at=at(hours=3, minutes=30),
        provider_start_at=at(hours=3, minutes=42),
        checkout_at=at(hours=4, minutes=40),
    ),
    appointment(
        "A4",
        "completed",
        modality="telehealth",
        checkin_at=at(),
        checkout_at=at(hours=5),
        provider_start_at=at(),
    ),
    appointment("A5", "no_show", checkin_at=None),
]
# in person: cycle 30, 50, 100; wait to room 5, 10, 30; wait for provider 2, 4, 12
ON_TIME_ROWS = [
    appointment("A1", "completed", provider_start_at=at(minutes=5)),
    appointment("A2", "completed", provider_start_at=at(minutes=10)),
    appointment("A3", "completed", provider_start_at=at(minutes=11)),
    appointment("A4", "completed", modality="telehealth", provider_start_at=at()),
]
RATE_CASES.append(("on_time_start_rate", {"appointments": ON_TIME_ROWS}, 3, 4))

TIME_CASES = [
    # metric, facts, n, median, p90, mean
    ("lead_time_days", {"appointments": LEAD_ROWS}, 3, 4.0, 8.0, 5.0),
    ("third_next_available_days", {"slots": TNA_SLOTS, "appointments": AS_OF_T}, 2, 12.0, 13.6, 12.0),
    ("cycle_time_minutes", {"appointments": FLOW_ROWS}, 3, 50.0, 90.0, 60.0),
    ("wait_to_room_minutes", {"appointments": FLOW_ROWS}, 3, 10.0, 26.0, 15.0),
    ("wait_for_provider_minutes", {"appointments": FLOW_ROWS}, 3, 4.0, 10.4, 6.0),
]

# --- Referrals ---------------------------------------------------------------------------------------

R0 = dt.datetime(2026, 3, 2, 8, 0)


def referral(referral_id: str, **kw) -> dict:
    return {"referral_id": referral_id, "created_at": kw.pop("created_at", R0), **kw}


TIMING_REFERRALS = [
    referral("R1", scheduled_at=R0 + dt.timedelta(days=1), completed_at=R0 + dt.timedelta(days=10)),
    referral("R2", scheduled_at=R0 + dt.timedelta(days=3), completed_at=R0 + dt.timedelta(days=20)),
    referral("R3", scheduled_at=R0 + dt.timedelta(days=8), completed_at=R0 + dt.timedelta(days=60)),
    referral(
        "R4",
        target_department_id=None,
        scheduled_at=R0 + dt.timedelta(days=90),
        completed_at=R0 + dt.timedelta(days=99),
    ),  # out of network
]
WINDOW_REFERRALS = [
    referral("R1", status="scheduled", scheduled_at=R0 + dt.timedelta(days=8)),
    referral("R2", status="scheduled", scheduled_at=R0 + dt.timedelta(days=18)),
    referral("R3", status="open"),
    referral("R4", status="declined"),
    referral("R5", status="open", created_at=dt.datetime(2026, 4, 20, 8)),  # sets as-of; window still open
]
LOOP_REFERRALS = [
    referral("R1", patient_id="P1", completed_at=at(days=5), report_received_at=at(days=9)),
    referral("R2", patient_id="P2", completed_at=at(days=5)),
    referral("R3", patient_id="P3", status="scheduled", scheduled_at=at(days=1)),
    referral(
        "R4", patient_id="P2", status="open", target_department_id=None, created_at=R0 + dt.timedelta(days=1)
    ),
]
AS_OF = dt.datetime(2026, 6, 1, 8)
OPEN_REFERRALS = [
    referral("R1", status="open", created_at=AS_OF - dt.timedelta(days=5)),
    referral("R2", status="open", created_at=AS_OF - dt.timedelta(days=20)),
    referral("R3", status="open", created_at=AS_OF - dt.timedelta(days=100)),
    referral("R4", status="completed", created_at=AS_OF),
]
AUTH_REFERRALS = [
    referral(
        "R1",
        prior_auth_required=True,
        prior_auth_status="approved",
        prior_auth_decided_at=R0 + dt.timedelta(days=1),
    ),
    referral(
        "R2",
        prior_auth_required=True,
        prior_auth_status="denied",
        prior_auth_decided_at=R0 + dt.timedelta(days=2),
    ),
    referral(
        "R3",
        prior_auth_required=True,
        prior_auth_status="approved",
        prior_auth_decided_at=R0 + dt.timedelta(days=6),
    ),
    referral("R4", prior_auth_required=True, prior_auth_status="pending"),
    referral("R5", prior_auth_required=False, prior_auth_decided_at=R0 + dt.timedelta(days=40)),
]
RATE_CASES += [
    ("referral_scheduled_14d_rate", {"referrals": WINDOW_REFERRALS}, 1, 3),
    # CMS50 (changed by issue 15): patients' first referral of the year, seen or not: P1 closed, P2's first
    # (R2, seen, no report) open, P3 (not seen yet) open; P2's later R4 does not count -> 1 of 3
    ("referral_loop_closure_rate", {"referrals": LOOP_REFERRALS}, 1, 3),
    ("referral_leakage_rate", {"referrals": LOOP_REFERRALS}, 1, 4),
]
TIME_CASES += [
    ("referral_days_to_scheduled", {"referrals": TIMING_REFERRALS}, 3, 3.0, 7.0, 4.0),
    ("referral_days_to_visit", {"referrals": TIMING_REFERRALS}, 3, 20.0, 52.0, 30.0),
    ("prior_auth_turnaround_days", {"referrals": AUTH_REFERRALS}, 3, 2.0, 5.2, 3.0),
]

# --- Revenue -------------------------------------------------------------------------------------------

C0 = dt.datetime(2026, 3, 3, 12)


def claim(claim_id: str, status: str, **kw) -> dict:
    return {"claim_id": claim_id, "status": status, "submitted_at": C0, **kw}


ADJUDICATION_CLAIMS = [
    claim("C1", "paid", billed_amount=100.0),
    claim("C2", "denied", billed_amount=300.0, written_off_amount=300.0),
    claim("C3", "partially_paid", billed_amount=600.0),
    claim("C4", "pending", billed_amount=5000.0),
    claim("C5", "denied", billed_amount=7000.0, is_resubmission=True, original_claim_id="C2"),
    # Overturned on appeal: the latest status is paid, but it was an initial denial (regression: it
    # used to count as a clean claim and overturn_rate read 0 on generated data).
    claim(
        "C6",
        "paid",
        billed_amount=400.0,
        carc_code="CO-16",
        denial_category="coding",
        appeal_outcome="overturned",
    ),
]
DENIALS = [
    claim(
        "C1",
        "paid",
        appointment_id="A1",
        payer_name="Aetna",
        denial_category="coding",
        carc_code="CO-16",
        adjudicated_at=at(days=8),
        appeal_filed_at=at(days=9),
        appeal_outcome="overturned",
        resolved_at=at(days=13),
    ),
    claim(
        "C2",
        "denied",
        appointment_id="A2",
        payer_name="Cigna",
        denial_category="eligibility",
        carc_code="CO-27",
        adjudicated_at=at(days=8),
        resolved_at=at(days=18),
    ),
    claim(
        "C3",
        "denied",
        appointment_id="A1",
        payer_name="Aetna",
        denial_category="coding",
        carc_code="CO-16",
        adjudicated_at=at(days=8),
        appeal_filed_at=at(days=9),
        appeal_outcome="upheld",
        resolved_at=at(days=38),
    ),
    claim(
        "C4",
        "denied",
        appointment_id="A1",
        payer_name="Aetna",
        is_resubmission=True,
        denial_category="other",
        appeal_filed_at=at(days=9),
        appeal_outcome="pending",
    ),
    claim("C5", "paid", appointment_id="A2", payer_name="Cigna"),
]
# (C1 and C3 are appealed: overturned + upheld; C2 is on A2, whose insurance was not verified)
RATE_CASES += [
    ("initial_denial_rate", {"claims": ADJUDICATION_CLAIMS}, 2, 4),
    ("clean_claim_rate", {"claims": ADJUDICATION_CLAIMS}, 1, 4),
    ("appeal_rate", {"claims": DENIALS}, 2, 3),
    ("overturn_rate", {"claims": DENIALS}, 1, 2),
    ("denials_insurance_unverified_rate", {"claims": DENIALS}, 1, 3),
]
TIME_CASES.append(("denial_resolution_days", {"claims": DENIALS}, 3, 10.0, 26.0, 15.0))
DOLLAR_CASES = [
    # metric, facts, numerator $, denominator $, numerator_n, n
    ("initial_denial_rate_dollars", {"claims": ADJUDICATION_CLAIMS}, 700.0, 1400.0, 2, 4),
    ("denial_write_off_rate", {"claims": ADJUDICATION_CLAIMS}, 300.0, 6400.0, 1, 5),
]

# --- Experience -----------------------------------------------------------------------------------------


def survey(survey_id: str, appointment_id: str = "A1", **answers) -> dict:
    return {"survey_id": survey_id, "appointment_id": appointment_id, "received_at": at(days=3), **answers}


FREQUENCY_ITEMS = [
    "access_timely",
    "provider_explained",
    "provider_listened",
    "staff_helpful",
    "staff_respectful",
]
ITEM_SURVEYS = [
    survey("S1", provider_rating=10, recommend="definitely_yes", **{i: "always" for i in FREQUENCY_ITEMS}),
    survey("S2", provider_rating=9, recommend="probably_yes", **{i: "usually" for i in FREQUENCY_ITEMS}),
    survey("S3", "A2", provider_rating=7, recommend="definitely_no", **{i: "never" for i in FREQUENCY_ITEMS}),
    survey("S4", "A2"),  # answered nothing
]
RATE_CASES += [
    ("provider_rating_top_box", {"surveys": ITEM_SURVEYS}, 2, 3),
    ("recommend_top_box", {"surveys": ITEM_SURVEYS}, 1, 3),
]
RATE_CASES += [(f"{i}_top_box", {"surveys": ITEM_SURVEYS}, 1, 3) for i in FREQUENCY_ITEMS]
SCORE_CASES = [
    # metric, facts, n, mean
    ("provider_rating_linear_mean", {"surveys": ITEM_SURVEYS}, 3, (100 + 90 + 70) / 3),
    ("recommend_linear_mean", {"surveys": ITEM_SURVEYS}, 3, (100 + 200 / 3 + 0) / 3),
    *[(f"{i}_linear_mean", {"surveys": ITEM_SURVEYS}, 3, (100 + 200 / 3 + 0) / 3) for i in FREQUENCY_ITEMS],
]
COMPOSITE_VALUES: dict[str, float] = {}  # rates whose value is not numerator / denominator
for _composite, (_a, _b) in (
    ("provider_communication", ("provider_explained", "provider_listened")),
    ("office_staff", ("staff_helpful", "staff_respectful")),
):
    _rows = [
        survey("S1", **{_a: "always", _b: "always"}),
        survey("S2", **{_a: "usually"}),
        survey("S3", **{_a: "never", _b: "sometimes"}),
    ]
    # five answers, pooled: top 2 of 5 (the numerator and denominator shown). AHRQ scores the composite
    # as the mean of its item scores (changed by issue 15; pooling gave 2/5 and 60.0):
    # item a: always, usually, never -> top 1/3, mean (100 + 66.7 + 0)/3 = 55.6
    # item b: always, sometimes      -> top 1/2, mean (100 + 33.3)/2 = 66.7
    # composite: top (1/3 + 1/2)/2 = 5/12, mean (55.6 + 66.7)/2 = 61.1
    RATE_CASES.append((f"{_composite}_top_box", {"surveys": _rows}, 2, 5))
    COMPOSITE_VALUES[f"{_composite}_top_box"] = 5 / 12
    SCORE_CASES.append((f"{_composite}_linear_mean", {"surveys": _rows}, 5, (500 / 9 + 200 / 3) / 2))
RESPONSE_APPOINTMENTS = [
    appointment("A1", "completed"),
    appointment("A2", "completed"),
    appointment("A3", "completed"),
    appointment("A4", "no_show"),
]
RATE_CASES.append(
    (
        "survey_response_rate",
        {
            "appointments": RESPONSE_APPOINTMENTS,
            "surveys": [survey("S1", "A1"), survey("S2", "A1"), survey("S3", "A3")],
        },
        2,
        3,
    )
)

# --- Transitions ------------------------------------------------------------------------------------------

D0 = dt.datetime(2026, 3, 2, 12)
DISCHARGES = [
    {"encounter_id": "E1", "patient_id": "P1", "admitted_at": D0 - dt.timedelta(days=3), "discharged_at": D0},
    {"encounter_id": "E2", "patient_id": "P2", "admitted_at": D0 - dt.timedelta(days=3), "discharged_at": D0},
    {"encounter_id": "E3", "patient_id": "P3", "admitted_at": D0 - dt.timedelta(days=3), "discharged_at": D0},
    {
        "encounter_id": "E4",
        "patient_id": "P3",
        "encounter_class": "emergency",
        "admitted_at": D0,
        "discharged_at": D0,
    },
    {
        "encounter_id": "E5",
        "patient_id": "P2",
        "admitted_at": D0,
        "discharged_at": D0,
        "discharge_disposition": "expired",
    },
]
FOLLOWUP_APPOINTMENTS = [
    appointment(
        "A0", "completed", D0 - dt.timedelta(days=1), patient_id="P1"
    ),  # before discharge: not a follow-up
    appointment("A1", "completed", D0 + dt.timedelta(days=3), patient_id="P1"),
    appointment("A2", "completed", D0 + dt.timedelta(days=10), patient_id="P2"),
    appointment("A3", "no_show", D0 + dt.timedelta(days=2), patient_id="P3"),
    appointment(
        "A4", "completed", D0 + dt.timedelta(days=40), patient_id="P3"
    ),  # late; sets as-of (booked +30 d)
]
RATE_CASES += [
    ("followup_7d_rate", {"encounters": DISCHARGES, "appointments": FOLLOWUP_APPOINTMENTS}, 1, 3),
    ("followup_14d_rate", {"encounters": DISCHARGES, "appointments": FOLLOWUP_APPOINTMENTS}, 2, 3),
    ("followup_30d_rate", {"encounters": DISCHARGES, "appointments": FOLLOWUP_APPOINTMENTS}, 2, 3),
]

# --- Counts ----------------------------------------------------------------------------------------------------

VOLUME_ROWS = [
    appointment("A1", "completed", at(hours=-1)),  # Monday 09:00
    appointment("A2", "completed", at(hours=-0.5)),  # Monday 09:30
    appointment("A3", "completed", at(days=1, hours=4)),  # Tuesday 14:00
    appointment("A4", "no_show", at(days=1, hours=4)),
]
COUNT_CASES = [
    # metric, facts, {category value: n} (None: no category), first category in Pareto order
    ("completed_visits", {"appointments": VOLUME_ROWS}, {None: 3}),
    ("visits_by_hour", {"appointments": VOLUME_ROWS}, {9: 2, 14: 1}),
    ("visits_by_weekday", {"appointments": VOLUME_ROWS}, {1: 2, 2: 1}),
    ("open_referrals", {"referrals": OPEN_REFERRALS}, {"0-14": 1, "15-30": 1, "91+": 1}),
    ("denials_by_payer", {"claims": DENIALS}, {"Aetna": 2, "Cigna": 1}),
    ("denials_by_category", {"claims": DENIALS}, {"coding": 2, "eligibility": 1}),
    ("denials_by_carc", {"claims": DENIALS}, {"CO-16": 2, "CO-27": 1}),
    ("survey_respondents", {"surveys": ITEM_SURVEYS}, {None: 4}),
]


@pytest.mark.parametrize(
    ("name", "facts", "numerator", "denominator"), RATE_CASES, ids=[c[0] for c in RATE_CASES]
)
def test_rate(name, facts, numerator, denominator):
    out = _compute(name, frames(**facts))
    assert out.height == 1
    row = out.row(0, named=True)
    assert (row["numerator"], row["denominator"]) == (numerator, denominator)
    assert row["value"] == pytest.approx(COMPOSITE_VALUES.get(name, numerator / denominator))
    low, high = metrics.wilson_interval(numerator, denominator)
    assert (row["ci_low"], row["ci_high"]) == (pytest.approx(low), pytest.approx(high))


@pytest.mark.parametrize(
    ("name", "facts", "n", "median", "p90", "mean"), TIME_CASES, ids=[c[0] for c in TIME_CASES]
)
def test_time(name, facts, n, median, p90, mean):
    row = _compute(name, frames(**facts)).row(0, named=True)
    assert row["n"] == n
    assert (row["median"], row["p90"], row["mean"]) == (
        pytest.approx(median),
        pytest.approx(p90),
        pytest.approx(mean),
    )
    headline = mean if metrics.get_metric(name).statistic == "mean" else median
    assert row["value"] == pytest.approx(headline)


@pytest.mark.parametrize(("name", "facts", "n", "mean"), SCORE_CASES, ids=[c[0] for c in SCORE_CASES])
def test_score(name, facts, n, mean):
    row = _compute(name, frames(**facts)).row(0, named=True)
    assert row["n"] == n
    assert row["value"] == pytest.approx(mean)


@pytest.mark.parametrize(
    ("name", "facts", "num", "den", "num_n", "n"), DOLLAR_CASES, ids=[c[0] for c in DOLLAR_CASES]
)
def test_dollar_share(name, facts, num, den, num_n, n):
    row = _compute(name, frames(**facts)).row(0, named=True)
    assert (row["numerator"], row["denominator"], row["numerator_n"], row["n"]) == (num, den, num_n, n)
    assert row["value"] == pytest.approx(num / den)
    assert row["ci_low"] is None  # no binomial interval for a share of dollars


@pytest.mark.parametrize(("name", "facts", "expected"), COUNT_CASES, ids=[c[0] for c in COUNT_CASES])
def test_count(name, facts, expected):
    definition = metrics.get_metric(name)
    out = _compute(name, frames(**facts))
    if definition.category is None:
        assert out["n"].to_list() == list(expected.values())
        return
    got = dict(zip(out[definition.category].to_list(), out["n"].to_list(), strict=True))
    assert got == expected
    assert out["share"].sum() == pytest.approx(1.0)
    assert out["n"].to_list() == sorted(out["n"].to_list(), reverse=True)  # Pareto order


def test_every_registered_metric_has_a_hand_computed_case():
    covered = {c[0] for c in RATE_CASES + TIME_CASES + SCORE_CASES + DOLLAR_CASES + COUNT_CASES}
    assert set(metrics.REGISTRY) - covered == set()


def test_late_cancellations_count_as_no_shows_when_set():
    data = frames(appointments=ATTENDANCE_ROWS)
    row = _compute("no_show_rate", data, settings=Conventions(count_late_cancels_as_no_shows=True)).row(
        0, named=True
    )
    assert (row["numerator"], row["denominator"]) == (2, 3)


def test_late_cancel_window_comes_from_settings(settings):
    # With a 72-hour window the cancellation 3 days ahead is late too and stays in the denominator.
    data = frames(appointments=ATTENDANCE_ROWS)
    wide = settings.model_copy(update={"late_cancel_hours": 73})
    row = _compute("no_show_rate", data, settings=wide).row(0, named=True)
    assert (row["numerator"], row["denominator"]) == (1, 4)
    late = _compute("late_cancellation_rate", data, settings=wide).row(0, named=True)
    assert (late["numerator"], late["denominator"]) == (2, 4)


def test_cancelled_future_visit_is_not_in_the_cancellation_rate():
    # Regression: a visit next month already cancelled, beside bookings still pending, made the month
    # after the as-of time read 100% cancelled.
    rows = [
        appointment("A1", "completed", booked_at=at(days=-10)),
        appointment("A2", "cancelled", at(days=30), booked_at=at(days=-20), cancelled_at=at(days=-1)),
        appointment("A3", "scheduled", at(days=31), booked_at=at(days=-1)),
    ]
    out = _compute("cancellation_rate", frames(appointments=rows), period="month")
    assert [(r["period"], r["numerator"], r["denominator"]) for r in out.iter_rows(named=True)] == [
        (dt.date(2026, 3, 1), 0, 1)
    ]


def test_on_time_grace_comes_from_settings():
    data = frames(appointments=ON_TIME_ROWS)
    row = _compute("on_time_start_rate", data, settings=Conventions(on_time_grace_minutes=4)).row(
        0, named=True
    )
    assert (row["numerator"], row["denominator"]) == (1, 4)


def test_third_next_available_skips_snapshots_before_the_first_slot():
    # With the extract starting on 02-25, the 02-23 snapshot would miss earlier open slots: only 03-02 counts.
    late_start = [{**TNA_SLOTS[0], "slot_start": dt.datetime(2026, 2, 25, 9)}, *TNA_SLOTS[1:]]
    row = _compute("third_next_available_days", frames(slots=late_start, appointments=AS_OF_T)).row(
        0, named=True
    )
    assert (row["n"], row["value"]) == (1, 10.0)


def test_fixture_anchor_is_a_monday():
    assert T.weekday() == 0  # the weekday and third-next-available cases rely on it
