"""De-identified row-level appointments for analysts (HIPAA Safe Harbor style), with a data dictionary.

What is done to each row (45 CFR 164.514(b)(2)):
- direct identifiers are dropped: names, MRN, phone, e-mail, postal code, free-text comments;
- the patient id and the appointment id become pseudonyms (keyed HMAC-SHA256 with a key made for
  one export and then thrown away, so two exports cannot be linked and nothing can be reversed);
- every date and time is shifted by a per-patient offset of up to ``max_shift_days`` days (the same
  for all of a patient's rows, so intervals and weekday patterns within a patient survive; Safe
  Harbor proper would keep the year only -- the shift is what the issue asks for, and the
  dictionary says so);
- the birth date becomes the age at the visit in whole years, with ages 90 and over grouped as "90+".

Pure: frames and a key in, a frame out; the caller audits the export (:func:`carepulse.access.record`).
"""

from __future__ import annotations

import hashlib
import hmac

import polars as pl

from carepulse.contract import PHI_COLUMNS

#: Dropped outright: the contract's PHI columns except the birth date (turned into an age).
DROPPED: tuple[str, ...] = tuple(sorted({c for cols in PHI_COLUMNS.values() for c in cols} - {"birth_date"}))
PATIENT_ATTRIBUTES: tuple[str, ...] = (
    "sex",
    "race",
    "ethnicity",
    "preferred_language",
    "payer_class",
    "portal_active",
    "needs_interpreter",
    "transport_barrier",
)
AGE_TOP = 90

#: column -> (meaning, what was done to it). Columns not listed pass through unchanged.
DATA_DICTIONARY: dict[str, tuple[str, str]] = {
    "patient_key": (
        "Pseudonymous patient: the same within one export, unlinkable across exports",
        "keyed hash",
    ),
    "visit_key": ("Pseudonymous appointment", "keyed hash"),
    "department_id": ("Department of the visit", "unchanged"),
    "provider_id": ("Provider of the visit", "unchanged"),
    "visit_type": ("Visit type", "unchanged"),
    "modality": ("In person or telehealth", "unchanged"),
    "booked_at": ("When the visit was booked", "shifted per patient"),
    "scheduled_start": ("When the visit was scheduled to start", "shifted per patient"),
    "duration_min": ("Scheduled length in minutes", "unchanged"),
    "status": ("completed, no_show, cancelled, ...", "unchanged"),
    "cancelled_at": ("When it was cancelled", "shifted per patient"),
    "cancel_reason": ("Coded cancellation reason", "unchanged"),
    "cancelled_by": ("patient or clinic", "unchanged"),
    "reminder": ("Reminder sent", "unchanged"),
    "insurance_verified": ("Insurance verified before the visit", "unchanged"),
    "checkin_at": ("Check-in time", "shifted per patient"),
    "roomed_at": ("Roomed time", "shifted per patient"),
    "provider_start_at": ("Provider start time", "shifted per patient"),
    "checkout_at": ("Checkout time", "shifted per patient"),
    "age": ("Age at the visit in whole years; 90 and over grouped", "generalised ('90+')"),
    "sex": ("Sex", "unchanged"),
    "race": ("Race", "unchanged"),
    "ethnicity": ("Ethnicity", "unchanged"),
    "preferred_language": ("Preferred language", "unchanged"),
    "payer_class": ("Payer class", "unchanged"),
    "portal_active": ("Uses the patient portal", "unchanged"),
    "needs_interpreter": ("Needs an interpreter", "unchanged"),
    "transport_barrier": ("Reported transport barrier", "unchanged"),
}


#: What the export reads from the warehouse: the columns it de-identifies and keeps (no direct identifiers).
APPOINTMENT_COLUMNS = [
    "appointment_id",
    "patient_id",
    "department_id",
    "provider_id",
    "visit_type",
    "modality",
    "booked_at",
    "scheduled_start",
    "duration_min",
    "status",
    "cancelled_at",
    "cancel_reason",
    "cancelled_by",
    "reminder",
    "insurance_verified",
    "checkin_at",
    "roomed_at",
    "provider_start_at",
    "checkout_at",
]
PATIENT_COLUMNS = [
    "patient_id",
    "birth_date",
    "sex",
    "race",
    "ethnicity",
    "preferred_language",
    "payer_class",
]


def _digest(key: bytes, value: str) -> str:
    return hmac.new(key, value.encode(), hashlib.sha256).hexdigest()


def pseudonym(key: bytes, value: str, prefix: str) -> str:
    """A stable, irreversible stand-in for ``value`` under ``key`` (e.g. 'P3f9a0c1d2e4b')."""
    return prefix + _digest(key, value)[:12]


def shift_days(key: bytes, patient_id: str, max_shift_days: int) -> int:
    """The patient's date offset in days, in ``[-max_shift_days, max_shift_days]``, never 0."""
    span = 2 * max_shift_days
    offset = int(_digest(key, "shift:" + patient_id)[:8], 16) % span - max_shift_days
    return offset if offset < 0 else offset + 1


def age_label(years: int | None) -> str | None:
    """Whole years as text, '90+' from 90 on (Safe Harbor: ages over 89 in one group)."""
    if years is None:
        return None
    return f"{AGE_TOP}+" if years >= AGE_TOP else str(years)


def deidentify_appointments(
    appointments: pl.DataFrame, patients: pl.DataFrame, *, key: bytes, max_shift_days: int = 30
) -> pl.DataFrame:
    """Appointments joined to their patients' attributes, de-identified as the module says.

    ``key``: at least 16 random bytes, made for this export only (``secrets.token_bytes(32)``).
    """
    if len(key) < 16:
        raise ValueError("the pseudonym key must be at least 16 random bytes")
    if max_shift_days < 1:
        raise ValueError("max_shift_days must be at least 1")
    attributes = [c for c in ("patient_id", "birth_date", *PATIENT_ATTRIBUTES) if c in patients.columns]
    rows = appointments.join(patients.select(attributes), on="patient_id", how="left")
    ids = rows.get_column("patient_id").to_list()
    offsets = pl.Series("_shift", [shift_days(key, p, max_shift_days) for p in ids], dtype=pl.Int64)
    rows = rows.with_columns(offsets)
    moments = [c for c, t in rows.schema.items() if t in (pl.Date,) or isinstance(t, pl.Datetime)]
    moments = [c for c in moments if c != "birth_date"]
    if "birth_date" in rows.columns and "scheduled_start" in rows.columns:
        visit = pl.col("scheduled_start").dt.date()
        born = pl.col("birth_date")
        years = (
            visit.dt.year()
            - born.dt.year()
            - (
                (visit.dt.month() < born.dt.month())
                | ((visit.dt.month() == born.dt.month()) & (visit.dt.day() < born.dt.day()))
            ).cast(pl.Int32)
        )
        rows = rows.with_columns(years.alias("_age"))
        rows = rows.with_columns(
            pl.Series("age", [age_label(y) for y in rows.get_column("_age").to_list()], dtype=pl.String)
        )
    rows = rows.with_columns(
        *[pl.col(c) + pl.duration(days=pl.col("_shift")) for c in moments],
        pl.Series("patient_key", [pseudonym(key, p, "P") for p in ids], dtype=pl.String),
        pl.Series(
            "visit_key",
            [pseudonym(key, a, "V") for a in rows.get_column("appointment_id").to_list()],
            dtype=pl.String,
        )
        if "appointment_id" in rows.columns
        else pl.lit(None, pl.String).alias("visit_key"),
    )
    drop = {"patient_id", "appointment_id", "birth_date", "referral_id", "_shift", "_age", *DROPPED}
    keep = ["patient_key", "visit_key"] + [
        c for c in rows.columns if c not in drop and c not in ("patient_key", "visit_key")
    ]
    return rows.select(keep).sample(fraction=1.0, shuffle=True, seed=int(_digest(key, "order")[:8], 16))


def data_dictionary(frame: pl.DataFrame) -> pl.DataFrame:
    """One row per column of ``frame``: name, type, meaning, treatment."""
    return pl.DataFrame(
        [
            (c, str(t), *DATA_DICTIONARY.get(c, ("(not described)", "unchanged")))
            for c, t in frame.schema.items()
        ],
        schema=["column", "type", "meaning", "treatment"],
        orient="row",
    )


__all__ = [
    "AGE_TOP",
    "DATA_DICTIONARY",
    "DROPPED",
    "age_label",
    "data_dictionary",
    "deidentify_appointments",
    "pseudonym",
    "shift_days",
]
