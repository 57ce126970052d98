"""Appointment requests: who is booked where, for what, when the booking was made and for when.

A request is a dict of numpy arrays (one element per appointment) with patient row, department,
provider, visit type, ``booked_at``, ``scheduled_start`` (seconds), duration and referral row. Lead
time (booking to visit) is drawn per visit type and department: urgent visits mostly the same day,
annual visits weeks ahead, busy specialties further out.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from carepulse.contract import VISIT_TYPES
from carepulse.pipelines.synthetic._util import DAY, MINUTE, Window, choice_rows, next_weekday
from carepulse.pipelines.synthetic.reference import DEPARTMENTS, DEPT_INDEX, World, dept_array

VT = {name: i for i, name in enumerate(VISIT_TYPES)}
#: Visits a patient books a month at use_rate 1 (calibrated: 20k patients x 24 months ~ 150k visits).
VISITS_PER_MONTH = 0.30
SHARE_PRIMARY_CARE = 0.55
BOOKING_LOOKBACK_DAYS = 75
#: Median lead days by visit type (new, follow_up, procedure, annual, urgent) before department scaling.
LEAD_MEDIAN = np.array([14.0, 18.0, 24.0, 35.0, 0.0])
#: Visit-type mix: primary care and specialty rows, columns in VISIT_TYPES order.
VISIT_MIX_PRIMARY = np.array([0.12, 0.45, 0.0, 0.25, 0.18])
VISIT_MIX_SPECIALTY = np.array([0.30, 0.50, 0.20, 0.0, 0.0])

_SPECIALTY = np.array([i for i, d in enumerate(DEPARTMENTS) if not d.primary_care])


def pick_providers(
    rng: np.random.Generator, patient_index: np.ndarray, dept: np.ndarray, world: World
) -> np.ndarray:
    """Mostly the patient's usual clinician in that department (continuity), sometimes another."""
    count = world.provider_count[dept]
    usual = ((patient_index * 2654435761 >> 7) + dept * 7) % count
    other = (rng.random(len(dept)) * count).astype(np.int64)
    providers: np.ndarray = world.provider_offset[dept] + np.where(rng.random(len(dept)) < 0.8, usual, other)
    return providers


def visit_times(
    rng: np.random.Generator, booked_day: np.ndarray, lead_days: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """(booked_at, scheduled_start) in seconds: visits on weekdays 8:00-16:45 (no 12-13 lunch
    slots), booked during office hours; same-day bookings a little before the visit."""
    n = len(booked_day)
    booked_day = next_weekday(booked_day)
    visit_day = next_weekday(booked_day + lead_days)
    slot = rng.integers(0, 32, n)  # 15-minute slots from 8:00, lunch hour removed below
    slot = np.where((slot >= 16) & (slot < 20), slot - 8, slot)
    start = visit_day * DAY + 8 * 3600 + slot * 15 * MINUTE
    same_day = visit_day == booked_day
    minutes_since_seven = (start - visit_day * DAY - 7 * 3600) // MINUTE
    ahead = 15 + (rng.random(n) * np.maximum(15, minutes_since_seven - 15)).astype(np.int64)
    office = booked_day * DAY + (7 * 3600 + rng.integers(0, 11 * 3600, n)) // MINUTE * MINUTE
    booked = np.where(same_day, start - ahead * MINUTE, office)
    booked = np.where(booked >= start, start - 15 * MINUTE, booked)
    return booked, start


def lead_days_for(rng: np.random.Generator, visit_type: np.ndarray, dept: np.ndarray) -> np.ndarray:
    """Lead days: log-normal around the visit type's median times the department's backlog."""
    n = len(visit_type)
    median = LEAD_MEDIAN[visit_type] * dept_array("lead_scale")[dept]
    lead = np.floor(np.maximum(median, 0.5) * np.exp(rng.normal(0, 0.8, n)))
    urgent = visit_type == VT["urgent"]
    lead = np.where(urgent, np.where(rng.random(n) < 0.8, 0, rng.integers(1, 3, n)), lead)
    lead = np.where(~urgent & (rng.random(n) < 0.07), 0, lead)  # filled from the same-day list
    return np.minimum(lead, 180).astype(np.int64)


def durations(visit_type: np.ndarray, dept: np.ndarray) -> np.ndarray:
    base = dept_array("visit_min")[dept].astype(float)
    factor = np.select(
        [
            visit_type == VT["new"],
            visit_type == VT["annual"],
            visit_type == VT["procedure"],
            visit_type == VT["urgent"],
        ],
        [1.5, 1.5, 2.0, 0.75],
        1.0,
    )
    minutes: np.ndarray = (np.round(base * factor / 5) * 5).astype(np.int64).clip(10, 120)
    return minutes


def routine_requests(
    rng: np.random.Generator, traits: dict[str, Any], window: Window, world: World
) -> dict[str, np.ndarray]:
    """Every booking the chunk's patients make in the window (plus those already booked ahead)."""
    book_start = window.start_day - BOOKING_LOOKBACK_DAYS
    span_months = (window.cutoff_day - book_start) / 30.44
    counts = rng.poisson(traits["use_rate"] * VISITS_PER_MONTH * span_months)
    pat = np.repeat(np.arange(len(counts)), counts)
    n = len(pat)
    booked_day = rng.integers(book_start, window.cutoff_day, n)

    age = traits["age"][pat]
    female = traits["female"][pat]
    share = np.array([DEPARTMENTS[i].share for i in _SPECIALTY])
    weights = np.tile(share, (n, 1))
    names = [DEPARTMENTS[i].department_id for i in _SPECIALTY]
    col = {d: names.index(d) for d in names}
    weights[:, col["D05"]] *= np.where(age >= 65, 3.0, np.where(age < 18, 0.1, 1.0))
    weights[:, col["D09"]] *= np.where(female & (age >= 15) & (age < 60), 3.0, 0.0)
    weights[:, col["D10"]] *= np.where(age >= 45, 1.8, 0.4)
    weights[:, col["D08"]] *= np.where((age >= 15) & (age < 45), 1.6, 0.8)
    weights[:, col["D11"]] *= np.where(age >= 40, 1.5, 0.5)
    specialty = _SPECIALTY[choice_rows(rng, weights)]
    dept = np.where(rng.random(n) < SHARE_PRIMARY_CARE, traits["pcp"][pat], specialty)

    primary = np.array([d.primary_care for d in DEPARTMENTS])[dept]
    mix = np.where(primary[:, None], VISIT_MIX_PRIMARY, VISIT_MIX_SPECIALTY)
    no_procedure = dept == DEPT_INDEX["D08"]
    mix[no_procedure, VT["procedure"]] = 0.0
    mix[dept == DEPT_INDEX["D10"], VT["procedure"]] = 0.6
    visit_type = choice_rows(rng, mix)

    lead = lead_days_for(rng, visit_type, dept)
    booked, start = visit_times(rng, booked_day, lead)
    keep = (start >= window.start_day * DAY) & (start < window.end_day * DAY) & (booked < window.cutoff)
    pat, dept, visit_type, booked, start = pat[keep], dept[keep], visit_type[keep], booked[keep], start[keep]
    return {
        "pat": pat,
        "dept": dept,
        "provider": pick_providers(rng, traits["index"][pat], dept, world),
        "visit_type": visit_type,
        "booked_at": booked,
        "scheduled_start": start,
        "duration": durations(visit_type, dept),
        "referral": np.full(len(pat), -1, dtype=np.int64),
    }
