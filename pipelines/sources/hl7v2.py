"""HL7 v2 scheduling (SIU^S12-S26) to appointment rows: each appointment's events folded in time order.

Files (``*.hl7``, ``*.txt``, ``*.mllp``) hold messages one after another, plain (segments separated
by CR or LF) or MLLP-framed (``<VT> message <FS><CR>``). Each message is parsed with the ``hl7``
library. Its events fold into one row per appointment (SCH-1/SCH-2 id): S12 books it (booking time
= the S12 message time, MSH-7, when SCH has none), S13/S14 reschedule or modify, S15/S16/S17
cancel, discontinue or delete, S26 marks a no-show; SCH-25 ``Complete`` marks it seen. Patients,
departments (AIL) and providers (AIP) are the distinct values the messages carry. A malformed
message is quarantined with its file, line and control id (MSH-10). ``docs/sources.md`` says what is
lost.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import polars as pl

from carepulse.contract import EXTRACTS
from carepulse.errors import ExtractError
from carepulse.pipelines.extract import ExtractRead, file_facts
from carepulse.pipelines.typed_rows import QUARANTINE_SCHEMA

CANCELLING = {"S15", "S16", "S17"}
STATUS_OF_SCH25 = {
    "complete": "completed",
    "completed": "completed",
    "noshow": "no_show",
    "cancelled": "cancelled",
}
SEX = {"F": "female", "M": "male", "O": "other", "U": "unknown", "A": "other", "N": "unknown"}
_PATTERNS = ("*.hl7", "*.txt", "*.mllp")


def split_messages(text: str) -> Iterator[tuple[int, str]]:
    """(line where the message starts, message text with CR segment separators)."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    if "\x0b" in text:
        for match in re.finditer(r"\x0b(.*?)\x1c", text, re.S):
            yield text.count("\n", 0, match.start()) + 1, match.group(1).strip("\n").replace("\n", "\r")
        return
    start: int | None = None
    lines: list[str] = []
    for number, line in enumerate(text.split("\n"), start=1):
        if line.startswith("MSH"):
            if lines:
                yield start or 1, "\r".join(lines)
            start, lines = number, [line]
        elif line.strip():
            if not lines:
                start = number
            lines.append(line)
    if lines:
        yield start or 1, "\r".join(lines)


def _get(message: Any, segment: str, field: int, component: int = 1) -> str | None:
    try:
        value = message.extract_field(segment, 1, field, 1, component)
    except (KeyError, IndexError):
        return None
    return str(value).strip() or None


def _timestamp(value: str | None) -> str | None:
    """HL7 DTM (YYYYMMDD[HHMM[SS]][+/-ZZZZ]) -> ISO text the contract reads."""
    if not value:
        return None
    m = re.fullmatch(r"(\d{4})(\d\d)(\d\d)(?:(\d\d)(\d\d)(\d\d)?)?(?:\.\d+)?([+-]\d{4})?", value)
    if not m:
        return value  # unreadable: the contract quarantines it with its value
    y, mo, d, h, mi, s, tz = m.groups()
    text = f"{y}-{mo}-{d} {h or '00'}:{mi or '00'}:{s or '00'}"
    return text + (f"{tz[:3]}:{tz[3:]}" if tz else "")


def parse_event(text: str) -> dict[str, Any]:
    """One SIU message as an event dict; ``ValueError`` naming what is wrong."""
    import hl7

    if not text.startswith("MSH"):
        raise ValueError("does not start with an MSH segment")
    try:
        message = hl7.parse(text)
    except Exception as exc:  # the library raises assorted errors on broken input
        raise ValueError(f"cannot be parsed ({type(exc).__name__})") from None
    kind, trigger = _get(message, "MSH", 9, 1), _get(message, "MSH", 9, 2)
    if kind != "SIU" or not trigger or not re.fullmatch(r"S(1[2-9]|2[0-6])", trigger):
        raise ValueError(f"MSH-9 is {kind}^{trigger}, not SIU^S12-S26")
    appointment = _get(message, "SCH", 1) or _get(message, "SCH", 2)
    if not appointment:
        raise ValueError("SCH-1/SCH-2 (appointment id) is empty")
    return {
        "trigger": trigger,
        "message_time": _timestamp(_get(message, "MSH", 7)),
        "appointment_id": appointment,
        "start": _timestamp(_get(message, "SCH", 11, 4)),
        "duration": _get(message, "SCH", 9),
        "visit_type": _get(message, "SCH", 8) or _get(message, "SCH", 7),
        "sch_status": (_get(message, "SCH", 25) or "").lower() or None,
        "patient_id": _get(message, "PID", 3),
        "sex": _get(message, "PID", 8),
        "birth_date": _timestamp(_get(message, "PID", 7)),
        "department_id": _get(message, "AIL", 3),
        "provider_id": _get(message, "AIP", 3),
    }


def read_messages(source_dir: Path) -> tuple[pl.DataFrame, list[dict[str, Any]], list[Path]]:
    """Every message's event (with file, line, order) and the malformed ones, streamed per file."""
    files = sorted({p for pattern in _PATTERNS for p in Path(source_dir).glob(pattern) if p.is_file()})
    if not files:
        raise ExtractError(f"no HL7 v2 files (*.hl7, *.txt, *.mllp) in {source_dir}")
    events: list[dict[str, Any]] = []
    bad: list[dict[str, Any]] = []
    for path in files:
        text = path.read_bytes().decode("utf-8", "replace")
        for line, message in split_messages(text):
            control = re.search(r"^MSH\|[^|]*(?:\|[^|\r]*){7}\|([^|\r]*)", message)
            try:
                event = parse_event(message)
            except ValueError as exc:
                bad.append(
                    {
                        "file_name": path.name,
                        "line": line,
                        "column_name": "MSH-10",
                        "value": control.group(1) if control else None,
                        "reason": f"malformed SIU message: {exc}",
                    }
                )
                continue
            events.append(event | {"_file": path.name, "_line": line, "_order": len(events)})
    schema = {
        k: pl.String
        for k in (
            "trigger",
            "message_time",
            "appointment_id",
            "start",
            "duration",
            "visit_type",
            "sch_status",
            "patient_id",
            "sex",
            "birth_date",
            "department_id",
            "provider_id",
            "_file",
        )
    }
    return pl.DataFrame(events, schema={**schema, "_line": pl.Int64, "_order": pl.Int64}), bad, files


def fold(events: pl.DataFrame) -> pl.DataFrame:
    """One row per appointment from its events in time order (the latest value of each field wins)."""
    ordered = events.sort("appointment_id", "message_time", "_order", nulls_last=True)

    def latest(c: str) -> pl.Expr:
        return pl.col(c).drop_nulls().last()

    cancel = pl.col("trigger").is_in(list(CANCELLING))
    return ordered.group_by("appointment_id", maintain_order=True).agg(
        pl.col("message_time").filter(pl.col("trigger") == "S12").first().alias("booked_at"),
        *[
            latest(c)
            for c in ("start", "duration", "visit_type", "patient_id", "department_id", "provider_id")
        ],
        pl.col("trigger").last().alias("last_trigger"),
        pl.col("sch_status").last().alias("sch_status"),
        pl.col("message_time").filter(cancel).last().alias("cancelled_at"),
        pl.col("trigger").str.join(">").alias("history"),
        pl.col("_file").first(),
        pl.col("_line").first(),
    )


def _appointments(rows: pl.DataFrame) -> pl.DataFrame:
    status = (
        pl.when(pl.col("last_trigger").is_in(list(CANCELLING)))
        .then(pl.lit("cancelled"))
        .when(pl.col("last_trigger") == "S26")
        .then(pl.lit("no_show"))
        .otherwise(pl.col("sch_status").replace(STATUS_OF_SCH25).fill_null("scheduled"))
    )
    status = pl.when(status == "booked").then(pl.lit("scheduled")).otherwise(status)
    columns = {
        "appointment_id": pl.col("appointment_id"),
        "patient_id": pl.col("patient_id"),
        "department_id": pl.col("department_id"),
        "provider_id": pl.col("provider_id"),
        "visit_type": pl.col("visit_type")
        .str.to_lowercase()
        .replace({"routine": "follow_up", "followup": "follow_up"}),
        "modality": pl.lit("in_person"),
        "booked_at": pl.col("booked_at"),
        "scheduled_start": pl.col("start"),
        "duration_min": pl.col("duration"),
        "status": status,
        "cancelled_at": pl.when(status == "cancelled").then(pl.col("cancelled_at")),
    }
    return rows.select(
        *[
            columns.get(c.name, pl.lit(None, pl.String)).cast(pl.String).alias(c.name)
            for c in EXTRACTS["appointments"].columns
        ],
        "_line",
        "_file",
    )


def read_hl7v2(source_dir: Path | str, *, timezone: str) -> dict[str, ExtractRead]:
    """Departments, providers, patients and appointments from a folder of SIU messages."""
    from carepulse.pipelines.sources.fhir import SourceRead, _typed

    events, bad, files = read_messages(Path(source_dir))
    folded = fold(events)
    latest_patient = (
        events.sort("message_time", "_order").group_by("patient_id").last().drop_nulls("patient_id")
    )
    raw = {
        "departments": folded.drop_nulls("department_id")
        .unique("department_id", keep="first", maintain_order=True)
        .select(
            pl.col("department_id"),
            pl.col("department_id").alias("name"),
            pl.lit("unknown").alias("specialty"),
            pl.lit("unknown").alias("site"),
            "_line",
            "_file",
        ),
        "providers": folded.drop_nulls("provider_id")
        .unique("provider_id", keep="first", maintain_order=True)
        .select(
            "provider_id",
            pl.col("provider_id").alias("name"),
            pl.lit("unknown").alias("specialty"),
            "department_id",
            "_line",
            "_file",
        ),
        "patients": latest_patient.select(
            "patient_id",
            pl.col("sex").replace(SEX).fill_null("unknown").alias("sex"),
            pl.col("birth_date").str.slice(0, 10).alias("birth_date"),
            "_line",
            "_file",
        ),
        "appointments": _appointments(folded),
    }
    digest = file_facts(files[0])[0]
    reads: dict[str, ExtractRead] = {}
    for name, frame in raw.items():
        columns = [c.name for c in EXTRACTS[name].columns]
        shaped = frame.select(
            *[
                (pl.col(c) if c in frame.columns else pl.lit(None, pl.String)).cast(pl.String).alias(c)
                for c in columns
            ],
            "_line",
            "_file",
        )
        good, contract_bad, origin = _typed(shaped, name, timezone)
        quarantine = contract_bad
        extra = 0
        if name == "appointments" and bad:
            malformed = pl.DataFrame(bad).select(
                pl.lit("appointments").alias("extract"),
                "file_name",
                pl.col("line").cast(pl.Int64),
                "column_name",
                pl.col("value").cast(pl.String),
                "reason",
                pl.lit("hl7v2").alias("expectation"),
                pl.lit(None, pl.String).alias("record"),
            )
            quarantine = pl.concat([quarantine.select(list(QUARANTINE_SCHEMA)), malformed])
            extra = len(bad)
        read = SourceRead(name, files[0], digest, shaped.height + extra, good, quarantine)
        read.line_origin = origin
        reads[name] = read
    return reads
