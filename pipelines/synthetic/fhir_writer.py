"""The generated health system as FHIR R4 Bulk Data NDJSON (``carepulse generate --format fhir``).

Reads the contract CSVs the generator wrote and writes ``Patient``, ``Organization`` (sites),
``Location`` (departments), ``Practitioner`` + ``PractitionerRole`` (providers), ``Appointment``
and ``Encounter`` (hospital stays) resources, one per line, timestamps with the site's UTC offset.
What the contract holds that FHIR here does not (referrals, claims, surveys, slots, check-in
times, payer class and the social flags) is listed in ``docs/sources.md``; the round-trip test
loads both and compares the metric catalogue.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import polars as pl

from carepulse.contract import EXTRACTS
from carepulse.pipelines.extract import read_extract

EXT = "https://carepulse.example/fhir/"
_RACE = {
    "white": "2106-3",
    "black": "2054-5",
    "asian": "2028-9",
    "american_indian_alaska_native": "1002-5",
    "native_hawaiian_pacific_islander": "2076-8",
    "other": "2131-1",
}
_ETHNICITY = {"hispanic": "2135-2", "not_hispanic": "2186-5"}
_STATUS = {"no_show": "noshow", "cancelled": "cancelled", "completed": "fulfilled", "scheduled": "booked"}
_CLASS = {"inpatient": "IMP", "emergency": "EMER", "observation": "OBSENC"}
_DISCHARGE = {
    "home": "home",
    "home_health": "hh",
    "skilled_nursing": "snf",
    "rehab": "rehab",
    "transfer": "other-hcf",
    "expired": "exp",
    "ama": "aadvice",
}


def _site_id(site: str) -> str:
    return re.sub(r"[^A-Za-z0-9\-.]", "-", site)[:64]


def _offset_times(frame: pl.DataFrame, timezone: str) -> pl.DataFrame:
    """Naive wall-clock timestamps -> ISO 8601 text with the site's UTC offset."""
    exprs = [
        pl.col(n)
        .dt.replace_time_zone(timezone, ambiguous="earliest", non_existent="null")
        .dt.strftime("%Y-%m-%dT%H:%M:%S%:z")
        .alias(n)
        for n, t in frame.schema.items()
        if isinstance(t, pl.Datetime)
    ]
    dates = [pl.col(n).dt.strftime("%Y-%m-%d").alias(n) for n, t in frame.schema.items() if t == pl.Date]
    return frame.with_columns(*exprs, *dates)


def _clean(resource: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in resource.items() if v not in (None, [], {})}


def _ext(name: str, value: Any, kind: str = "valueString") -> dict[str, Any] | None:
    return None if value is None else {"url": EXT + name, kind: value}


def patients(rows: Iterable[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for p in rows:
        ext = []
        if p["race"] in _RACE:
            ext.append(
                {
                    "url": "http://hl7.org/fhir/us/core/StructureDefinition/us-core-race",
                    "extension": [{"url": "ombCategory", "valueCoding": {"code": _RACE[p["race"]]}}],
                }
            )
        if p["ethnicity"] in _ETHNICITY:
            ext.append(
                {
                    "url": "http://hl7.org/fhir/us/core/StructureDefinition/us-core-ethnicity",
                    "extension": [
                        {"url": "ombCategory", "valueCoding": {"code": _ETHNICITY[p["ethnicity"]]}}
                    ],
                }
            )
        telecom = [{"system": s, "value": p[s]} for s in ("phone", "email") if p[s]]
        yield _clean(
            {
                "resourceType": "Patient",
                "id": p["patient_id"],
                "extension": ext,
                "identifier": [{"type": {"coding": [{"code": "MR"}]}, "value": p["mrn"]}] if p["mrn"] else [],
                "name": [
                    _clean({"family": p["last_name"], "given": [p["first_name"]] if p["first_name"] else []})
                ],
                "gender": p["sex"],
                "birthDate": p["birth_date"],
                "telecom": telecom,
                "address": [{"postalCode": p["postal_code"]}] if p["postal_code"] else [],
                "communication": [{"language": {"coding": [{"code": p["preferred_language"]}]}}]
                if p["preferred_language"]
                else [],
            }
        )


def appointments(rows: Iterable[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for a in rows:
        actors = [f"Patient/{a['patient_id']}", f"Location/{a['department_id']}"]
        if a["provider_id"]:
            actors.append(f"Practitioner/{a['provider_id']}")
        verified = a["insurance_verified"]
        yield _clean(
            {
                "resourceType": "Appointment",
                "id": a["appointment_id"],
                "extension": [
                    e
                    for e in (
                        _ext("cancelled-at", a["cancelled_at"], "valueDateTime"),
                        _ext("cancelled-by", a["cancelled_by"], "valueCode"),
                        _ext("modality", a["modality"], "valueCode"),
                        _ext("reminder", a["reminder"], "valueCode"),
                        _ext("insurance-verified", verified, "valueBoolean"),
                    )
                    if e
                ],
                "status": _STATUS.get(a["status"], a["status"]),
                "cancelationReason": {"coding": [{"code": a["cancel_reason"]}]}
                if a["cancel_reason"]
                else None,
                "appointmentType": {"coding": [{"system": EXT + "visit-type", "code": a["visit_type"]}]},
                "start": a["scheduled_start"],
                "minutesDuration": a["duration_min"],
                "created": a["booked_at"],
                "participant": [{"actor": {"reference": r}, "status": "accepted"} for r in actors],
            }
        )


def encounters(rows: Iterable[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for e in rows:
        disposition = _DISCHARGE.get(e["discharge_disposition"] or "")
        yield _clean(
            {
                "resourceType": "Encounter",
                "id": e["encounter_id"],
                "status": "finished" if e["discharged_at"] else "in-progress",
                "class": {"code": _CLASS[e["encounter_class"]]},
                "subject": {"reference": f"Patient/{e['patient_id']}"},
                "period": _clean({"start": e["admitted_at"], "end": e["discharged_at"]}),
                "hospitalization": {"dischargeDisposition": {"coding": [{"code": disposition}]}}
                if disposition
                else None,
            }
        )


def places(
    departments: list[dict[str, Any]], providers: list[dict[str, Any]]
) -> dict[str, list[dict[str, Any]]]:
    sites = sorted({d["site"] for d in departments})
    return {
        "Organization": [{"resourceType": "Organization", "id": _site_id(s), "name": s} for s in sites],
        "Location": [
            {
                "resourceType": "Location",
                "id": d["department_id"],
                "name": d["name"],
                "type": [{"coding": [{"display": d["specialty"]}]}],
                "managingOrganization": {"reference": f"Organization/{_site_id(d['site'])}"},
            }
            for d in departments
        ],
        "Practitioner": [
            {"resourceType": "Practitioner", "id": p["provider_id"], "name": [{"family": p["name"]}]}
            for p in providers
        ],
        "PractitionerRole": [
            {
                "resourceType": "PractitionerRole",
                "id": f"role-{p['provider_id']}",
                "practitioner": {"reference": f"Practitioner/{p['provider_id']}"},
                "specialty": [{"coding": [{"display": p["specialty"]}]}],
                "location": [{"reference": f"Location/{p['department_id']}"}],
            }
            for p in providers
        ],
    }


def _write(path: Path, resources: Iterable[dict[str, Any]]) -> int:
    n = 0
    with open(path, "w", encoding="utf-8") as fh:
        for r in resources:
            fh.write(json.dumps(r, separators=(",", ":")) + "\n")
            n += 1
    return n


def write_fhir(
    csv_dir: Path | str, out_dir: Path | str, *, timezone: str, files_per_type: int = 1
) -> dict[str, int]:
    """Convert a generated contract folder to bulk NDJSON in ``out_dir``; resources written by type.

    ``files_per_type`` > 1 splits Patient and Appointment over ``<Type>.000.ndjson``,
    ``<Type>.001.ndjson``... as large bulk exports do.
    """
    csv_dir, out_dir = Path(csv_dir), Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)

    def typed(name: str) -> pl.DataFrame | None:
        path = csv_dir / f"{name}.csv"
        if not path.exists():
            return None
        frame = read_extract(path, EXTRACTS[name], timezone=timezone).frame.drop("_line")
        return _offset_times(frame, timezone)

    counts: dict[str, int] = {}
    deps, provs = typed("departments"), typed("providers")
    for resource, items in places(
        deps.to_dicts() if deps is not None else [], provs.to_dicts() if provs is not None else []
    ).items():
        counts[resource] = _write(out_dir / f"{resource}.000.ndjson", items)
    for name, resource, convert in (
        ("patients", "Patient", patients),
        ("appointments", "Appointment", appointments),
        ("encounters", "Encounter", encounters),
    ):
        frame = typed(name)
        if frame is None:
            continue
        parts = files_per_type if resource in ("Patient", "Appointment") else 1
        size = -(-frame.height // parts) if frame.height else 1
        counts[resource] = 0
        for i, chunk in enumerate(frame.iter_slices(size) if frame.height else [frame]):
            counts[resource] += _write(
                out_dir / f"{resource}.{i:03d}.ndjson", convert(chunk.iter_rows(named=True))
            )
    return counts
