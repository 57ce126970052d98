"""Hand-built extract frames for the metric tests: a few rows each, every column typed as the contract says.

Rows are dicts naming only what a test cares about; the rest gets a neutral default (or null).
"""

from __future__ import annotations

import datetime as dt

import polars as pl

from carepulse.contract import EXTRACTS

T = dt.datetime(2026, 3, 2, 10, 0)  # a Monday, 10:00


def at(days: float = 0, hours: float = 0, minutes: float = 0, base: dt.datetime = T) -> dt.datetime:
    return base + dt.timedelta(days=days, hours=hours, minutes=minutes)


DEPARTMENTS = [
    {"department_id": "D1", "name": "Cardiology", "specialty": "cardiology", "site": "North"},
    {"department_id": "D2", "name": "Dermatology", "specialty": "dermatology", "site": "South"},
]
PROVIDERS = [
    {"provider_id": "PR1", "name": "Dr One", "specialty": "cardiology", "department_id": "D1"},
    {"provider_id": "PR2", "name": "Dr Two", "specialty": "dermatology", "department_id": "D2"},
]
PATIENTS = [
    {
        "patient_id": "P1",
        "birth_date": dt.date(1980, 6, 15),
        "sex": "female",
        "race": "white",
        "ethnicity": "not_hispanic",
        "payer_class": "commercial",
    },
    {
        "patient_id": "P2",
        "birth_date": dt.date(2010, 3, 2),
        "sex": "male",
        "race": "black",
        "ethnicity": "hispanic",
        "payer_class": "medicaid",
    },
    {
        "patient_id": "P3",
        "birth_date": dt.date(1950, 3, 3),
        "sex": "female",
        "race": "asian",
        "ethnicity": "not_hispanic",
        "payer_class": "medicare",
    },
]

_DEFAULTS = {
    "patients": {
        "mrn": "M",
        "first_name": "F",
        "last_name": "L",
        "portal_active": True,
        "needs_interpreter": False,
        "transport_barrier": False,
    },
    "appointments": {
        "patient_id": "P1",
        "department_id": "D1",
        "provider_id": "PR1",
        "visit_type": "follow_up",
        "modality": "in_person",
        "duration_min": 20,
        "reminder": "none",
        "insurance_verified": True,
    },
    "referrals": {
        "patient_id": "P1",
        "referring_provider_id": "PR1",
        "specialty": "cardiology",
        "target_department_id": "D1",
        "priority": "routine",
        "status": "completed",
        "prior_auth_required": False,
    },
    "claims": {
        "appointment_id": "A1",
        "patient_id": "P1",
        "payer_name": "Aetna",
        "payer_class": "commercial",
        "billed_amount": 100.0,
        "is_resubmission": False,
    },
    "surveys": {"appointment_id": "A1", "mode": "web"},
    "encounters": {"encounter_class": "inpatient", "discharge_disposition": "home"},
    "slots": {"provider_id": "PR1", "department_id": "D1", "duration_min": 20, "blocked": False},
}


def frame(name: str, rows: list[dict]) -> pl.DataFrame:
    """A contract-typed frame of ``rows`` (missing columns: defaults, else null)."""
    extract = EXTRACTS[name]
    defaults = _DEFAULTS.get(name, {})
    full = [{c: row.get(c, defaults.get(c)) for c in extract.column_names} for row in rows]
    for row in rows:
        unknown = set(row) - set(extract.column_names)
        assert not unknown, f"{name} has no column(s) {unknown}"
    return pl.DataFrame(full, schema=extract.polars_schema)


def appointment(appointment_id: str, status: str, start: dt.datetime = T, **kw) -> dict:
    row = {
        "appointment_id": appointment_id,
        "status": status,
        "scheduled_start": start,
        "booked_at": kw.pop("booked_at", start - dt.timedelta(days=10)),
    }
    row.update(kw)
    return row


BASE_APPOINTMENTS = [
    appointment("A1", "completed", T, patient_id="P1", insurance_verified=True),
    appointment(
        "A2",
        "completed",
        at(1, 1),
        patient_id="P2",
        department_id="D2",
        provider_id="PR2",
        insurance_verified=False,
    ),
    appointment("A3", "no_show", at(2), patient_id="P3"),
]


def frames(**facts: list[dict]) -> dict[str, pl.DataFrame]:
    """The three dimension extracts, base appointments unless given, and the facts given."""
    out = {
        "departments": frame("departments", DEPARTMENTS),
        "providers": frame("providers", PROVIDERS),
        "patients": frame("patients", PATIENTS),
        "appointments": frame("appointments", facts.pop("appointments", BASE_APPOINTMENTS)),
    }
    for name, rows in facts.items():
        out[name] = frame(name, rows)
    return out
