"""FHIR view rows -> contract columns: code maps and reference resolution, as data and Polars.

Pure: frames of view rows in (one per resource type), contract-shaped raw string frames out. Codes
listed here are mapped; any other code passes through unchanged so that the contract quarantines it
(``not one of ...``) with its file and line.
"""

from __future__ import annotations

import polars as pl

from carepulse.contract import EXTRACTS

#: Which extract a resource's rows (and bad lines) count towards.
EXTRACT_OF: dict[str, str] = {
    "Patient": "patients",
    "Appointment": "appointments",
    "Encounter": "appointments",
    "Location": "departments",
    "Organization": "departments",
    "Practitioner": "providers",
    "PractitionerRole": "providers",
}
RESOURCES_OF: dict[str, tuple[str, ...]] = {
    "patients": ("Patient",),
    "appointments": ("Appointment", "Encounter"),
    "encounters": ("Encounter",),
    "departments": ("Location", "Organization"),
    "providers": ("Practitioner", "PractitionerRole"),
}

APPOINTMENT_STATUS = {
    "noshow": "no_show",
    "cancelled": "cancelled",
    "fulfilled": "completed",
    "arrived": "completed",  # the patient came: not a no-show
    "checked-in": "completed",
    "booked": "scheduled",
    "pending": "scheduled",
    "proposed": "scheduled",
    "waitlist": "scheduled",
}
#: HL7 v2 table 0276 (FHIR appointmentType) and CarePulse's own visit types.
VISIT_TYPE = {
    "ROUTINE": "follow_up",
    "FOLLOWUP": "follow_up",
    "CHECKUP": "annual",
    "WALKIN": "urgent",
    "EMERGENCY": "urgent",
}
ENCOUNTER_STATUS = {
    "finished": "completed",
    "cancelled": "cancelled",
    "planned": "scheduled",
    "arrived": "completed",
}
AMBULATORY = {"AMB": "in_person", "VR": "telehealth"}
INPATIENT = {
    "IMP": "inpatient",
    "ACUTE": "inpatient",
    "NONAC": "inpatient",
    "EMER": "emergency",
    "OBSENC": "observation",
}
DISCHARGE = {
    "home": "home",
    "hh": "home_health",
    "snf": "skilled_nursing",
    "rehab": "rehab",
    "other-hcf": "transfer",
    "hosp": "transfer",
    "long": "skilled_nursing",
    "exp": "expired",
    "aadvice": "ama",
    # NUBC UB-04 patient discharge status (Synthea and many claims-derived exports)
    "01": "home",
    "1": "home",
    "02": "transfer",
    "03": "skilled_nursing",
    "06": "home_health",
    "07": "ama",
    "20": "expired",
    "62": "rehab",
}
RACE = {
    "2106-3": "white",
    "2054-5": "black",
    "2028-9": "asian",
    "1002-5": "american_indian_alaska_native",
    "2076-8": "native_hawaiian_pacific_islander",
    "2131-1": "other",
}
ETHNICITY = {"2135-2": "hispanic", "2186-5": "not_hispanic"}

#: Contract column -> the FHIRPath it came from (quarantine messages).
FHIRPATH_OF: dict[str, dict[str, str]] = {
    "appointments": {
        "appointment_id": "Appointment.id",
        "patient_id": "Appointment.participant.actor.reference",
        "department_id": "Appointment.participant.actor.reference",
        "provider_id": "Appointment.participant.actor.reference",
        "visit_type": "Appointment.appointmentType.coding.code",
        "booked_at": "Appointment.created",
        "scheduled_start": "Appointment.start",
        "duration_min": "Appointment.minutesDuration",
        "status": "Appointment.status",
    },
    "patients": {
        "patient_id": "Patient.id",
        "sex": "Patient.gender",
        "birth_date": "Patient.birthDate",
        "race": "Patient.extension(us-core-race)",
    },
    "encounters": {
        "encounter_class": "Encounter.class.code",
        "admitted_at": "Encounter.period.start",
        "discharge_disposition": "Encounter.hospitalization.dischargeDisposition",
    },
}


def reference_id(ref: pl.Expr) -> pl.Expr:
    """``Type/id`` -> ``id``; a conditional ``Type?identifier=system|value`` -> ``value``."""
    return (
        pl.when(ref.str.contains("?identifier=", literal=True))
        .then(ref.str.extract(r"\|([^|]*)$"))
        .otherwise(ref.str.extract(r"/([^/]+)$"))
    )


def _actor(kind: str) -> pl.Expr:
    """The id of the first participant actor of type ``kind`` (``Patient``, ``Location``...)."""
    refs = pl.col("actors").list.eval(
        pl.element().filter(
            pl.element().str.starts_with(f"{kind}/") | pl.element().str.starts_with(f"{kind}?")
        )
    )
    return reference_id(refs.list.first())


def _keys(frame: pl.DataFrame, alias_column: str) -> dict[str, str]:
    """identifier value -> id (conditional references name resources by identifier)."""
    pairs = frame.select(alias_column, "id").drop_nulls()
    return dict(zip(pairs[alias_column].to_list(), pairs["id"].to_list(), strict=True))


def _resolve(expr: pl.Expr, aliases: dict[str, str]) -> pl.Expr:
    return expr.replace(aliases) if aliases else expr


def _mapped(expr: pl.Expr, codes: dict[str, str]) -> pl.Expr:
    return expr.replace(codes)  # unmapped codes pass through (and are quarantined if not allowed)


def _timestamp_text(expr: pl.Expr) -> pl.Expr:
    return expr  # ISO 8601 with offset: typed_rows converts it to the site's wall time


def _minutes(start: pl.Expr, end: pl.Expr) -> pl.Expr:
    def parse(e: pl.Expr) -> pl.Expr:
        return e.str.to_datetime(time_unit="us", time_zone="UTC", strict=False)

    return (parse(end) - parse(start)).dt.total_minutes().cast(pl.String)


def _complete(frame: pl.DataFrame, extract: str, columns: dict[str, pl.Expr]) -> pl.DataFrame:
    """Every contract column (absent ones null text), then ``_line`` and ``_file``."""
    exprs = [
        columns.get(c.name, pl.lit(None, pl.String)).cast(pl.String).alias(c.name)
        for c in EXTRACTS[extract].columns
    ]
    return frame.select(*exprs, "_line", "_file")


def contract_frames(frames: dict[str, pl.DataFrame]) -> tuple[dict[str, pl.DataFrame], dict[str, list[str]]]:
    """Contract-shaped raw frames (strings + ``_line``/``_file``) from the view frames by resource."""
    locations = frames.get("Location")
    location_alias = _keys(locations, "identifier") if locations is not None else {}
    practitioners = frames.get("Practitioner")
    practitioner_alias = _keys(practitioners, "identifier") if practitioners is not None else {}
    out: dict[str, pl.DataFrame] = {}

    if "Patient" in frames:
        out["patients"] = _complete(
            frames["Patient"],
            "patients",
            {
                "patient_id": pl.col("id"),
                "mrn": pl.col("mrn"),
                "first_name": pl.col("given"),
                "last_name": pl.col("family"),
                "birth_date": pl.col("birth_date"),
                "sex": pl.col("gender"),  # FHIR's administrative gender codes are the contract's
                "race": _mapped(pl.col("race"), RACE),
                "ethnicity": _mapped(pl.col("ethnicity"), ETHNICITY),
                "preferred_language": pl.col("language").str.slice(0, 2).str.to_lowercase(),
                "postal_code": pl.col("postal_code").str.slice(0, 5),
                "phone": pl.col("phone"),
                "email": pl.col("email"),
            },
        )
    if locations is not None:
        organizations = frames.get("Organization")
        site = pl.col("name")
        loc = locations
        if organizations is not None and organizations.height:
            names = organizations.select(pl.col("id").alias("_org"), pl.col("name").alias("_org_name"))
            by_identifier = organizations.select(
                pl.col("identifier").alias("_org"), pl.col("name").alias("_org_name")
            )
            lookup = pl.concat([names, by_identifier]).drop_nulls("_org").unique("_org")
            loc = loc.with_columns(
                pl.coalesce(reference_id(pl.col("organization")), pl.col("organization_identifier")).alias(
                    "_org"
                )
            ).join(lookup, on="_org", how="left")
            site = pl.coalesce(pl.col("_org_name"), pl.col("name"))
        out["departments"] = _complete(
            loc,
            "departments",
            {
                "department_id": pl.col("id"),
                "name": pl.coalesce(pl.col("name"), pl.col("id")),
                "specialty": pl.coalesce(pl.col("specialty"), pl.lit("unknown")),
                "site": pl.coalesce(site, pl.lit("unknown")),
            },
        )
    if practitioners is not None:
        prac = practitioners
        roles = frames.get("PractitionerRole")
        if roles is not None and roles.height:
            role = roles.select(
                _resolve(
                    pl.coalesce(reference_id(pl.col("practitioner")), pl.col("practitioner_identifier")),
                    practitioner_alias,
                ).alias("id"),
                pl.col("specialty").alias("_specialty"),
                _resolve(
                    pl.coalesce(reference_id(pl.col("location")), pl.col("location_identifier")),
                    location_alias,
                ).alias("_department"),
            ).unique("id", keep="first", maintain_order=True)
            prac = prac.join(role, on="id", how="left")
        else:
            prac = prac.with_columns(
                pl.lit(None, pl.String).alias("_specialty"), pl.lit(None, pl.String).alias("_department")
            )
        out["providers"] = _complete(
            prac,
            "providers",
            {
                "provider_id": pl.col("id"),
                "name": pl.concat_str([pl.col("given"), pl.col("family")], separator=" ", ignore_nulls=True),
                "specialty": pl.coalesce(pl.col("_specialty"), pl.lit("unknown")),
                "department_id": pl.col("_department"),
            },
        )

    visits = []
    if "Appointment" in frames:
        a = frames["Appointment"]
        visits.append(
            _complete(
                a,
                "appointments",
                {
                    "appointment_id": pl.col("id"),
                    "patient_id": _actor("Patient"),
                    "department_id": _resolve(_actor("Location"), location_alias),
                    "provider_id": _resolve(_actor("Practitioner"), practitioner_alias),
                    "visit_type": _mapped(
                        pl.coalesce(pl.col("appointment_type"), pl.lit("ROUTINE")), VISIT_TYPE
                    ),
                    "modality": pl.coalesce(pl.col("modality"), pl.lit("in_person")),
                    "booked_at": _timestamp_text(pl.col("created")),
                    "scheduled_start": _timestamp_text(pl.col("start")),
                    "duration_min": pl.coalesce(pl.col("minutes"), _minutes(pl.col("start"), pl.col("end"))),
                    "status": _mapped(pl.col("status"), APPOINTMENT_STATUS),
                    "cancelled_at": pl.col("cancelled_at"),
                    "cancel_reason": pl.col("cancelation_reason"),
                    "cancelled_by": pl.col("cancelled_by"),
                    "reminder": pl.col("reminder"),
                    "insurance_verified": pl.col("insurance_verified"),
                },
            )
        )
    if "Encounter" in frames:
        e = frames["Encounter"]
        ambulatory = e.filter(pl.col("class").is_in(list(AMBULATORY)) & pl.col("appointment").is_null())
        visits.append(
            _complete(
                ambulatory,
                "appointments",
                {
                    "appointment_id": pl.col("id"),
                    "patient_id": reference_id(pl.col("patient")),
                    "department_id": _resolve(reference_id(pl.col("location")), location_alias),
                    "provider_id": _resolve(reference_id(pl.col("practitioner")), practitioner_alias),
                    "visit_type": pl.lit("follow_up"),
                    "modality": pl.col("class").replace_strict(AMBULATORY, default=None),
                    # An Encounter has no booking time: booked at its start (lead time 0, see docs/sources.md).
                    "booked_at": pl.col("start"),
                    "scheduled_start": pl.col("start"),
                    "duration_min": _minutes(pl.col("start"), pl.col("end"))
                    .cast(pl.Int64)
                    .clip(5, 480)
                    .cast(pl.String),
                    "status": _mapped(pl.col("status"), ENCOUNTER_STATUS),
                },
            )
        )
        stays = e.filter(~pl.col("class").is_in(list(AMBULATORY)))
        out["encounters"] = _complete(
            stays,
            "encounters",
            {
                "encounter_id": pl.col("id"),
                "patient_id": reference_id(pl.col("patient")),
                "encounter_class": _mapped(pl.col("class"), INPATIENT),
                "admitted_at": pl.col("start"),
                "discharged_at": pl.col("end"),
                "discharge_disposition": _mapped(pl.col("discharge"), DISCHARGE),
            },
        )
    if visits:
        out["appointments"] = pl.concat(visits)
    return out, {}


def warnings_for(extract: str, raw: pl.DataFrame) -> list[str]:
    """What the load report should say a FHIR source could not supply."""
    if extract == "appointments" and raw.height and raw["booked_at"].equals(raw["scheduled_start"]):
        return [
            "FHIR: visits come from Encounters only (no Appointment resources): no booking times "
            "(lead time reads 0) and no no-shows are recorded; no-show metrics and the model need Appointments"
        ]
    return []
