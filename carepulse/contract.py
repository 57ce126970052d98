"""The extract contract: every file CarePulse reads, as data.

One place names every extract, its columns, types, nullability, allowed values, keys and which
columns are PHI. The generator writes to it, ingest enforces it, the warehouse schema and the
expectation suites are derived from it, and ``docs/data-contract.md`` documents it (a test keeps the
two in step). Modelled on Epic Clarity's F_SCHED_APPT / claims tables, simplified.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import polars as pl

#: Logical column types and their Polars dtypes. Datetimes are the clinic's local wall time
#: (naive); an input carrying a UTC offset is converted to the site timezone on ingest.
DTYPES: dict[str, pl.DataType] = {
    "str": pl.String(),
    "int": pl.Int64(),
    "float": pl.Float64(),
    "bool": pl.Boolean(),
    "date": pl.Date(),
    "datetime": pl.Datetime("us"),
}


@dataclass(frozen=True)
class Column:
    """One column of an extract."""

    name: str
    dtype: str
    nullable: bool = True
    allowed: tuple[str, ...] | None = None
    min_value: float | None = None
    max_value: float | None = None
    references: tuple[str, str] | None = None  # (extract, column) this foreign key points at
    phi: bool = False  # protected health information: never logged, shown only to roles that need it
    description: str = ""

    @property
    def polars_dtype(self) -> pl.DataType:
        return DTYPES[self.dtype]


@dataclass(frozen=True)
class Extract:
    """One extract file (``<name>.csv`` or ``<name>.parquet``) and the warehouse table it loads."""

    name: str
    key: str
    columns: tuple[Column, ...]
    description: str
    required: bool = True
    #: Columns whose change marks a newer version of a row (for information; upserts compare all).
    order_by: tuple[str, ...] = field(default_factory=tuple)

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]

    def column(self, name: str) -> Column:
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(f"{self.name} has no column {name!r}")

    @property
    def polars_schema(self) -> dict[str, pl.DataType]:
        return {c.name: c.polars_dtype for c in self.columns}

    @property
    def phi_columns(self) -> list[str]:
        return [c.name for c in self.columns if c.phi]

    @property
    def foreign_keys(self) -> dict[str, tuple[str, str]]:
        return {c.name: c.references for c in self.columns if c.references}


def _c(name: str, dtype: str = "str", **kw) -> Column:
    return Column(name, dtype, **kw)


PAYER_CLASSES = ("commercial", "medicare", "medicaid", "self_pay", "other")
VISIT_TYPES = ("new", "follow_up", "procedure", "annual", "urgent")
MODALITIES = ("in_person", "telehealth")
APPOINTMENT_STATUSES = ("scheduled", "completed", "no_show", "cancelled", "left_without_being_seen")
CANCELLED_BY = ("patient", "provider", "clinic")
REMINDERS = ("none", "sms", "call", "portal")
REFERRAL_STATUSES = ("open", "scheduled", "completed", "cancelled", "declined")
PRIORITIES = ("routine", "urgent")
PRIOR_AUTH_STATUSES = ("not_required", "pending", "approved", "denied")
CLAIM_STATUSES = ("paid", "partially_paid", "denied", "pending")
DENIAL_CATEGORIES = (
    "eligibility",
    "authorization",
    "coding",
    "medical_necessity",
    "timely_filing",
    "duplicate",
    "other",
)
APPEAL_OUTCOMES = ("overturned", "upheld", "pending")
SURVEY_MODES = ("mail", "phone", "web", "sms")
FREQUENCY = ("never", "sometimes", "usually", "always")
RECOMMEND = ("definitely_no", "probably_no", "probably_yes", "definitely_yes")
ENCOUNTER_CLASSES = ("inpatient", "emergency", "observation")
DISCHARGE_DISPOSITIONS = ("home", "home_health", "skilled_nursing", "rehab", "transfer", "expired", "ama")
SEXES = ("female", "male", "other", "unknown")
RACES = (
    "white",
    "black",
    "asian",
    "american_indian_alaska_native",
    "native_hawaiian_pacific_islander",
    "other",
    "unknown",
)
ETHNICITIES = ("hispanic", "not_hispanic", "unknown")


EXTRACTS: dict[str, Extract] = {
    e.name: e
    for e in (
        Extract(
            "departments",
            "department_id",
            (
                _c("department_id", nullable=False),
                _c("name", nullable=False),
                _c("specialty", nullable=False),
                _c("site", nullable=False),
            ),
            "Clinical departments (clinics) and the site they belong to.",
        ),
        Extract(
            "providers",
            "provider_id",
            (
                _c("provider_id", nullable=False),
                _c("name", nullable=False, description="Clinician's display name (staff, not PHI)."),
                _c("specialty", nullable=False),
                _c("department_id", nullable=False, references=("departments", "department_id")),
            ),
            "Clinicians who see patients.",
        ),
        Extract(
            "patients",
            "patient_id",
            (
                _c("patient_id", nullable=False, description="Internal surrogate key (not shown)."),
                _c("mrn", phi=True, description="Medical record number; null in de-identified exports."),
                _c("first_name", phi=True, description="Null in de-identified exports."),
                _c("last_name", phi=True, description="Null in de-identified exports."),
                _c("birth_date", "date", phi=True, description="Null: no age band, age feature missing."),
                _c("sex", nullable=False, allowed=SEXES),
                _c("race", allowed=RACES),
                _c("ethnicity", allowed=ETHNICITIES),
                _c("preferred_language", description="ISO 639-1 code, e.g. en, es."),
                _c("postal_code", phi=True, description="5-digit ZIP code."),
                _c("phone", phi=True),
                _c("email", phi=True),
                _c(
                    "payer_class",
                    allowed=PAYER_CLASSES,
                    description="Null when the export has no coverage data.",
                ),
                _c("portal_active", "bool", description="Null when unknown (most exports)."),
                _c("needs_interpreter", "bool", description="Null when unknown."),
                _c("transport_barrier", "bool", description="Null when unknown."),
            ),
            "Registered patients with demographics and contact details (PHI).",
        ),
        Extract(
            "appointments",
            "appointment_id",
            (
                _c("appointment_id", nullable=False),
                _c("patient_id", nullable=False, references=("patients", "patient_id")),
                _c("department_id", nullable=False, references=("departments", "department_id")),
                _c("provider_id", references=("providers", "provider_id")),
                _c("visit_type", nullable=False, allowed=VISIT_TYPES),
                _c("modality", nullable=False, allowed=MODALITIES),
                _c("booked_at", "datetime", nullable=False),
                _c("scheduled_start", "datetime", nullable=False),
                _c("duration_min", "int", nullable=False, min_value=5, max_value=480),
                _c("status", nullable=False, allowed=APPOINTMENT_STATUSES),
                _c("cancelled_at", "datetime"),
                _c("cancel_reason"),
                _c("cancelled_by", allowed=CANCELLED_BY),
                _c(
                    "reminder",
                    allowed=REMINDERS,
                    description="Booking reminder channel; null when not exported.",
                ),
                _c(
                    "insurance_verified", "bool", description="Null when the export has no eligibility field."
                ),
                _c("checkin_at", "datetime"),
                _c("roomed_at", "datetime"),
                _c("provider_start_at", "datetime"),
                _c("checkout_at", "datetime"),
                _c("referral_id", references=("referrals", "referral_id")),
            ),
            "Scheduled visits (one row per appointment, latest state), as F_SCHED_APPT.",
        ),
        Extract(
            "referrals",
            "referral_id",
            (
                _c("referral_id", nullable=False),
                _c("patient_id", nullable=False, references=("patients", "patient_id")),
                _c("referring_provider_id", nullable=False, references=("providers", "provider_id")),
                _c("specialty", nullable=False),
                _c(
                    "target_department_id",
                    references=("departments", "department_id"),
                    description="Null when the referral was sent out of network.",
                ),
                _c("priority", nullable=False, allowed=PRIORITIES),
                _c("created_at", "datetime", nullable=False),
                _c("scheduled_at", "datetime", description="When the specialist visit was booked."),
                _c("appointment_id", references=("appointments", "appointment_id")),
                _c("completed_at", "datetime", description="When the specialist visit happened."),
                _c("report_received_at", "datetime", description="Consult report back to the referrer."),
                _c("status", nullable=False, allowed=REFERRAL_STATUSES),
                _c("prior_auth_required", "bool", nullable=False),
                _c("prior_auth_status", allowed=PRIOR_AUTH_STATUSES),
                _c("prior_auth_decided_at", "datetime"),
            ),
            "Referrals from a referring clinician to a specialty.",
            required=False,
        ),
        Extract(
            "claims",
            "claim_id",
            (
                _c("claim_id", nullable=False),
                _c("appointment_id", nullable=False, references=("appointments", "appointment_id")),
                _c("patient_id", nullable=False, references=("patients", "patient_id")),
                _c("payer_name", nullable=False),
                _c("payer_class", nullable=False, allowed=PAYER_CLASSES),
                _c("submitted_at", "datetime", nullable=False),
                _c("billed_amount", "float", nullable=False, min_value=0),
                _c("status", nullable=False, allowed=CLAIM_STATUSES),
                _c("adjudicated_at", "datetime"),
                _c("paid_amount", "float", min_value=0),
                _c("carc_code", description="X12 claim adjustment reason code, e.g. CO-197."),
                _c("denial_category", allowed=DENIAL_CATEGORIES),
                _c("is_resubmission", "bool", nullable=False),
                _c("original_claim_id", references=("claims", "claim_id")),
                _c("appeal_filed_at", "datetime"),
                _c("appeal_outcome", allowed=APPEAL_OUTCOMES),
                _c("resolved_at", "datetime"),
                _c("written_off_amount", "float", min_value=0),
            ),
            "Professional claims, one row per claim submission, latest adjudication state.",
            required=False,
        ),
        Extract(
            "surveys",
            "survey_id",
            (
                _c("survey_id", nullable=False),
                _c("appointment_id", nullable=False, references=("appointments", "appointment_id")),
                _c("received_at", "datetime", nullable=False),
                _c("mode", nullable=False, allowed=SURVEY_MODES),
                _c("provider_rating", "int", min_value=0, max_value=10),
                _c("recommend", allowed=RECOMMEND),
                _c("access_timely", allowed=FREQUENCY),
                _c("provider_explained", allowed=FREQUENCY),
                _c("provider_listened", allowed=FREQUENCY),
                _c("staff_helpful", allowed=FREQUENCY),
                _c("staff_respectful", allowed=FREQUENCY),
                _c("comment", phi=True, description="Free text; may identify the patient."),
            ),
            "CG-CAHPS-style visit surveys.",
            required=False,
        ),
        Extract(
            "encounters",
            "encounter_id",
            (
                _c("encounter_id", nullable=False),
                _c("patient_id", nullable=False, references=("patients", "patient_id")),
                _c("encounter_class", nullable=False, allowed=ENCOUNTER_CLASSES),
                _c("admitted_at", "datetime", nullable=False),
                _c("discharged_at", "datetime"),
                _c("discharge_disposition", allowed=DISCHARGE_DISPOSITIONS),
            ),
            "Hospital stays and emergency visits, for care transitions.",
            required=False,
        ),
        Extract(
            "slots",
            "slot_id",
            (
                _c("slot_id", nullable=False),
                _c("provider_id", nullable=False, references=("providers", "provider_id")),
                _c("department_id", nullable=False, references=("departments", "department_id")),
                _c("slot_start", "datetime", nullable=False),
                _c("duration_min", "int", nullable=False, min_value=5, max_value=480),
                _c(
                    "released_at", "datetime", nullable=False, description="When the slot opened for booking."
                ),
                _c("booked_at", "datetime", description="When it was taken; null while open."),
                _c("blocked", "bool", nullable=False),
            ),
            "Provider availability, for third-next-available appointment.",
            required=False,
        ),
    )
}

#: Extracts in the order they load (referenced tables first).
LOAD_ORDER: tuple[str, ...] = (
    "departments",
    "providers",
    "patients",
    "referrals",
    "appointments",
    "claims",
    "surveys",
    "encounters",
    "slots",
)

#: Every PHI column by extract, for redaction in logs, errors and exports.
PHI_COLUMNS: dict[str, list[str]] = {name: e.phi_columns for name, e in EXTRACTS.items() if e.phi_columns}

#: File suffixes accepted for an extract, in order of preference.
EXTRACT_SUFFIXES: tuple[str, ...] = (".csv", ".parquet")
