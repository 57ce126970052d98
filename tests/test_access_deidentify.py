"""De-identified row-level export: no direct identifiers, per-patient date shifts, 90+ grouped."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest

from carepulse.access.deidentify import (
    DROPPED,
    age_label,
    data_dictionary,
    deidentify_appointments,
    shift_days,
)

KEY = b"k" * 32


def frames() -> tuple[pl.DataFrame, pl.DataFrame]:
    patients = pl.DataFrame(
        {
            "patient_id": ["P1", "P2"],
            "mrn": ["MRN0001", "MRN0002"],
            "first_name": ["Ada", "Bo"],
            "last_name": ["Lovelace", "Diddley"],
            "birth_date": [dt.date(1930, 6, 15), dt.date(1990, 1, 1)],
            "sex": ["F", "M"],
            "postal_code": ["02139", "10001"],
            "phone": ["555-0100", "555-0101"],
            "email": ["ada@example.org", "bo@example.org"],
            "payer_class": ["medicare", "commercial"],
        }
    )
    appointments = pl.DataFrame(
        {
            "appointment_id": ["A1", "A2", "A3"],
            "patient_id": ["P1", "P1", "P2"],
            "department_id": ["D1", "D1", "D2"],
            "scheduled_start": [
                dt.datetime(2020, 6, 14, 9),
                dt.datetime(2020, 6, 24, 9),
                dt.datetime(2026, 3, 1, 10),
            ],
            "booked_at": [dt.datetime(2020, 6, 1, 8), dt.datetime(2020, 6, 2, 8), dt.datetime(2026, 2, 1, 8)],
            "status": ["completed", "no_show", "completed"],
        }
    )
    return appointments, patients


def test_no_direct_identifier_survives() -> None:
    appointments, patients = frames()
    out = deidentify_appointments(appointments, patients, key=KEY)
    assert not set(out.columns) & {*DROPPED, "patient_id", "appointment_id", "birth_date"}
    cells = {str(v) for column in out.columns for v in out.get_column(column).to_list()}
    assert not cells & {"P1", "P2", "A1", "A2", "A3"}  # source ids never appear as values
    text = out.write_csv()
    for value in ("MRN0001", "Lovelace", "555-0100", "ada@example.org", "02139", "1930"):
        assert value not in text
    assert out.height == 3 and out.get_column("patient_key").n_unique() == 2


def test_dates_shift_per_patient_keeping_intervals_and_ages_over_89_are_grouped() -> None:
    appointments, patients = frames()
    out = deidentify_appointments(appointments, patients, key=KEY).sort("scheduled_start")
    ada = out.filter(pl.col("sex") == "F").sort("scheduled_start")
    shift = ada.item(0, "scheduled_start") - dt.datetime(2020, 6, 14, 9)
    assert shift != dt.timedelta(0) and abs(shift) <= dt.timedelta(days=30)
    assert ada.item(1, "scheduled_start") - ada.item(0, "scheduled_start") == dt.timedelta(days=10)
    assert ada.item(0, "booked_at") == dt.datetime(2020, 6, 1, 8) + shift  # same shift on every date
    # Ada: 89 the day before her 90th birthday, then 90 -> "90+"; ages come from the real dates
    assert ada["age"].to_list() == ["89", "90+"]
    assert out.filter(pl.col("sex") == "M")["age"].to_list() == ["36"]


def test_pseudonyms_depend_on_the_key() -> None:
    appointments, patients = frames()
    a = deidentify_appointments(appointments, patients, key=KEY)
    b = deidentify_appointments(appointments, patients, key=b"x" * 32)
    assert set(a["patient_key"]) != set(b["patient_key"])
    assert deidentify_appointments(appointments, patients, key=KEY).equals(a)
    with pytest.raises(ValueError, match="16 random bytes"):
        deidentify_appointments(appointments, patients, key=b"short")


def test_helpers_and_dictionary() -> None:
    assert [age_label(a) for a in (None, 0, 89, 90, 104)] == [None, "0", "89", "90+", "90+"]
    shifts = {shift_days(KEY, f"P{i}", 5) for i in range(200)}
    assert shifts <= set(range(-5, 6)) - {0} and len(shifts) == 10
    appointments, patients = frames()
    dictionary = data_dictionary(deidentify_appointments(appointments, patients, key=KEY))
    rows = {r["column"]: r for r in dictionary.iter_rows(named=True)}
    assert rows["scheduled_start"]["treatment"] == "shifted per patient"
    assert rows["age"]["treatment"].startswith("generalised")
