"""The generated health system as an HL7 v2 SIU feed (``carepulse generate --format hl7v2``).

Each appointment becomes its scheduling events, in the order a feed would carry them: S12 when it
was booked, then S15 at its cancellation, S26 (no-show) or S14 with SCH-25 ``Complete`` at its
start for visits that happened. One message file, segments separated by CR, messages by a newline.
What SIU cannot carry (modality, reminder, insurance, who cancelled, check-in times) is listed in
``docs/sources.md``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from carepulse.contract import EXTRACTS
from carepulse.pipelines.extract import read_extract

_SEX = {"female": "F", "male": "M", "other": "O", "unknown": "U"}


def _dtm(value: Any) -> str:
    return value.strftime("%Y%m%d%H%M%S") if value is not None else ""


def _message(trigger: str, control: str, at: Any, a: dict[str, Any], sex: str, status: str) -> str:
    return "\r".join(
        [
            rf"MSH|^~\&|CAREPULSE-GEN|CLINIC|CAREPULSE|CP|{_dtm(at)}||SIU^{trigger}|{control}|P|2.5",
            f"SCH|{a['appointment_id']}||||||{a['visit_type']}|{a['visit_type']}|{a['duration_min']}|min|"
            f"^^{a['duration_min']}^{_dtm(a['scheduled_start'])}" + "|" * 14 + status,
            f"PID|1||{a['patient_id']}||||{_dtm(a['birth_date'])[:8] if a.get('birth_date') else ''}|{sex}",
            f"AIL|1||{a['department_id']}",
            f"AIP|1||{a['provider_id'] or ''}",
        ]
    )


def siu_messages(appointments: list[dict[str, Any]], sexes: dict[str, str]) -> Iterator[str]:
    n = 0
    for a in appointments:
        sex = _SEX.get(sexes.get(a["patient_id"], "unknown"), "U")
        n += 1
        yield _message("S12", f"G{n}", a["booked_at"], a, sex, "Booked")
        if a["status"] == "cancelled":
            n += 1
            yield _message("S15", f"G{n}", a["cancelled_at"] or a["booked_at"], a, sex, "Cancelled")
        elif a["status"] == "no_show":
            n += 1
            yield _message("S26", f"G{n}", a["scheduled_start"], a, sex, "Noshow")
        elif a["status"] in ("completed", "left_without_being_seen"):
            n += 1
            yield _message("S14", f"G{n}", a["scheduled_start"], a, sex, "Complete")


def write_hl7v2(csv_dir: Path | str, out_dir: Path | str, *, timezone: str) -> int:
    """Write ``siu.hl7`` from a generated contract folder; returns the number of messages."""
    csv_dir, out_dir = Path(csv_dir), Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    appointments = read_extract(
        csv_dir / "appointments.csv", EXTRACTS["appointments"], timezone=timezone
    ).frame
    patients = read_extract(csv_dir / "patients.csv", EXTRACTS["patients"], timezone=timezone).frame
    sexes = dict(zip(patients["patient_id"].to_list(), patients["sex"].to_list(), strict=True))
    births = dict(zip(patients["patient_id"].to_list(), patients["birth_date"].to_list(), strict=True))
    rows = [a | {"birth_date": births.get(a["patient_id"])} for a in appointments.iter_rows(named=True)]
    count = 0
    with open(out_dir / "siu.hl7", "w", encoding="utf-8") as fh:
        for message in siu_messages(rows, sexes):
            fh.write(message + "\n")
            count += 1
    return count
