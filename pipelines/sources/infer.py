"""``carepulse profile infer DIR``: propose a source profile from headers and value samples.

A starting point a person then reads and corrects, not a guess loaded silently: columns are matched
to the contract by name (known synonyms from common practice-management exports, then close
spelling), codes seen in the samples (``F``/``M``, ``Yes``/``No``) get value maps, and required
columns with no candidate are listed as ``# TODO`` constants.
"""

from __future__ import annotations

import difflib
import re
from pathlib import Path

import polars as pl

from carepulse.contract import EXTRACTS

#: Contract column -> source header spellings seen in scheduling exports (normalised: lower, no _ - space).
SYNONYMS: dict[str, dict[str, tuple[str, ...]]] = {
    "appointments": {
        "appointment_id": ("appointmentid", "apptid", "appointmentnumber", "encounterid", "visitid", "id"),
        "patient_id": ("patientid", "patid", "personid", "mrn", "patientnumber"),
        "department_id": (
            "department",
            "departmentid",
            "dept",
            "clinic",
            "location",
            "neighbourhood",
            "site",
        ),
        "provider_id": ("provider", "providerid", "doctor", "physician", "resource"),
        "visit_type": ("visittype", "appointmenttype", "appttype", "type"),
        "booked_at": ("scheduledday", "bookedat", "created", "createdat", "bookingdate", "scheduleddate"),
        "scheduled_start": (
            "appointmentday",
            "appointmentdate",
            "apptdate",
            "start",
            "startdatetime",
            "scheduledstart",
        ),
        "duration_min": ("duration", "length", "minutes", "durationmin"),
        "status": ("status", "noshow", "appointmentstatus", "showed", "outcome"),
        "reminder": ("smsreceived", "reminder", "remindersent"),
        "cancelled_at": ("cancelledat", "canceldate", "cancellationdate"),
        "cancel_reason": ("cancelreason", "cancellationreason"),
    },
    "patients": {
        "patient_id": ("patientid", "patid", "personid", "patientnumber"),
        "sex": ("gender", "sex"),
        "birth_date": ("birthdate", "dob", "dateofbirth"),
        "postal_code": ("zip", "zipcode", "postalcode"),
        "preferred_language": ("language", "preferredlanguage"),
        "race": ("race",),
        "ethnicity": ("ethnicity",),
    },
}

#: Value maps offered when a sampled column holds exactly these codes.
VALUE_MAPS: dict[str, dict[str, str]] = {
    "sex": {"F": "female", "M": "male", "U": "unknown", "O": "other"},
    "status": {"Yes": "no_show", "No": "completed", "Y": "no_show", "N": "completed"},
    "reminder": {"1": "sms", "0": "none"},
}


def _norm(name: str) -> str:
    return re.sub(r"[\s_\-]+", "", name.lower())


def _match(column: str, headers: dict[str, str]) -> str | None:
    """The source header (original spelling) for a contract column, if a plausible one exists."""
    extract_synonyms = {c: s for e in SYNONYMS.values() for c, s in e.items()}
    for candidate in (_norm(column), *extract_synonyms.get(column, ())):
        if candidate in headers:
            return headers[candidate]
    close = difflib.get_close_matches(_norm(column), list(headers), n=1, cutoff=0.85)
    return headers[close[0]] if close else None


def _value_map(column: str, sample: pl.Series) -> dict[str, str] | None:
    known = VALUE_MAPS.get(column)
    if not known:
        return None
    seen = {str(v).strip() for v in sample.drop_nulls().unique().to_list()}
    mapped = {k: v for k, v in known.items() if k in seen}
    return mapped or None  # codes not listed stay as they are (and are quarantined if not allowed)


def _date_format(sample: pl.Series) -> str | None:
    values = [str(v) for v in sample.drop_nulls().head(20).to_list()]
    if values and all(re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", v) for v in values):
        return "%Y-%m-%dT%H:%M:%SZ"
    if values and all(re.fullmatch(r"\d\d/\d\d/\d{4} \d\d:\d\d", v) for v in values):
        return "%m/%d/%Y %H:%M" if max(int(v[:2]) for v in values) <= 12 else "%d/%m/%Y %H:%M"
    if values and all(re.fullmatch(r"\d\d/\d\d/\d{4}", v) for v in values):
        return "%m/%d/%Y" if max(int(v[:2]) for v in values) <= 12 else "%d/%m/%Y"
    return None


def _toml_value(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def infer_profile(source_dir: Path | str, *, sample_rows: int = 1000) -> str:
    """A proposed TOML profile for the CSV files in ``source_dir`` (for a person to review)."""
    source_dir = Path(source_dir)
    files = sorted(p for p in source_dir.glob("*.csv") if p.is_file())
    if not files:
        from carepulse.errors import ExtractError

        raise ExtractError(f"no CSV file in {source_dir} to infer a profile from")
    samples = {p: pl.read_csv(p, infer_schema=False, n_rows=sample_rows) for p in files}
    main = max(
        files,
        key=lambda p: sum(
            _match(c, {_norm(h): h for h in samples[p].columns}) is not None for c in SYNONYMS["appointments"]
        ),
    )
    lines = [
        f'name = "{source_dir.name}"',
        'description = "Proposed by carepulse profile infer: review every mapping and TODO before use."',
        "",
    ]
    for extract_name in ("departments", "patients", "appointments"):
        extract = EXTRACTS[extract_name]
        sample = samples[main]
        headers = {_norm(h): h for h in sample.columns}
        lines.append(f"[extracts.{extract_name}]")
        lines.append(f"file = {_toml_value(main.name)}")
        if extract_name != "appointments":
            lines.append("unique = true")
        columns, constants, values, formats = {}, {}, {}, {}
        for col in extract.columns:
            source = _match(col.name, headers) if extract_name != "departments" else None
            if extract_name == "departments" and col.name in ("department_id", "name", "specialty"):
                source = _match("department_id", headers)  # the department code stands for all three
            if source:
                columns[col.name] = source
                mapped = _value_map(col.name, sample[source])
                if mapped:
                    values[col.name] = mapped
                if col.dtype in ("date", "datetime") and (fmt := _date_format(sample[source])):
                    formats[source] = fmt
            elif not col.nullable:
                constants[col.name] = f"TODO {col.name}" if not col.allowed else col.allowed[0]
        for section, mapping in (("columns", columns), ("constants", constants), ("date_formats", formats)):
            if mapping:
                lines.append(f"[extracts.{extract_name}.{section}]")
                lines += [f"{_toml_value(k)} = {_toml_value(v)}" for k, v in mapping.items()]
        for column, mapped in values.items():
            lines.append(f"[extracts.{extract_name}.values.{column}]")
            lines += [f"{_toml_value(k)} = {_toml_value(v)}" for k, v in mapped.items()]
        lines.append("")
    return "\n".join(lines)
