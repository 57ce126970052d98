"""What coordinators record on the worklist: outreach outcomes and assignments, and reading them back.

Writes go to ``outreach_outcomes`` and ``worklist_assignments``; each call writes exactly one audit
row (:func:`carepulse.access.audit.record`) in the same transaction, so an action and its audit row
commit or roll back together. Audit details carry ids, outcome codes and counts -- never a note
(free text may name a patient) and never a patient identifier.

Every value reaches SQL through bound parameters. A caller that knows the user's departments passes
them as ``departments`` and the write is refused for an appointment elsewhere (server-side check;
the page also hides those rows).

The readers at the bottom return the frames :func:`carepulse.metrics.worklist.build_worklist` and
:func:`carepulse.metrics.outreach_effect.outreach_effect` take; patient contact details are read only when
asked for, and only for the patients of the rows the caller may see.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Iterable
from zoneinfo import ZoneInfo

import polars as pl
import sqlalchemy as sa

from carepulse import schema, warehouse
from carepulse.access import audit
from carepulse.errors import CarePulseError
from carepulse.settings import get_settings

#: Outcome code -> what the coordinator clicks.
OUTCOMES: dict[str, str] = {
    "reached": "Reached",
    "left_message": "Left message",
    "no_answer": "No answer",
    "confirmed": "Confirmed",
    "rescheduled": "Rescheduled",
    "cancelled": "Cancelled",
    "transport_arranged": "Transport arranged",
    "telehealth_offered": "Telehealth offered",
}
NOTE_MAX = 500
_CHUNK = 900  # ids per IN (...) list

_APPTS = schema.EXTRACT_TABLES["appointments"]
_OUT = schema.outreach_outcomes
_ASSIGN = schema.worklist_assignments
_SCORES = schema.risk_scores


def local_now() -> dt.datetime:
    """Now as naive wall time of the site timezone (the warehouse's convention)."""
    return dt.datetime.now(ZoneInfo(get_settings().timezone)).replace(tzinfo=None, microsecond=0)


def _clean_note(note: str | None) -> str | None:
    note = (note or "").strip()
    if len(note) > NOTE_MAX:
        raise CarePulseError(f"The note is too long ({len(note)} characters; at most {NOTE_MAX}).")
    return note or None


def _appointment(conn: sa.Connection, appointment_id: str, departments: Collection[str] | None) -> sa.Row:
    row = conn.execute(
        sa.select(_APPTS.c.appointment_id, _APPTS.c.patient_id, _APPTS.c.department_id).where(
            _APPTS.c.appointment_id == appointment_id
        )
    ).first()
    if row is None:
        raise CarePulseError(f"Appointment {appointment_id} is not in the warehouse (reload the worklist).")
    if departments is not None and row.department_id not in set(departments):
        raise CarePulseError(f"Appointment {appointment_id} is not in your departments.")
    return row


def _current_score_run(conn: sa.Connection, appointment_id: str) -> int | None:
    return conn.execute(
        sa.select(sa.func.max(_SCORES.c.score_run_id)).where(
            _SCORES.c.appointment_id == appointment_id, _SCORES.c.is_current == sa.true()
        )
    ).scalar()


def record_outcome(
    engine: sa.Engine,
    appointment_id: str,
    outcome: str,
    *,
    recorded_by: str,
    note: str | None = None,
    departments: Collection[str] | None = None,
    recorded_at: dt.datetime | None = None,
) -> int:
    """Store one outreach outcome (who, when, optional note) and its audit row; returns its id.

    ``departments``: the recording user's departments (None: no restriction, e.g. the CLI).
    """
    if outcome not in OUTCOMES:
        raise CarePulseError(f"Unknown outcome {outcome!r}; choose one of: {', '.join(OUTCOMES)}.")
    if not recorded_by:
        raise CarePulseError("An outcome needs the user who recorded it.")
    clean = _clean_note(note)
    with warehouse.write_transaction(engine) as conn:  # concurrent coordinators queue, none is lost
        appt = _appointment(conn, appointment_id, departments)
        values = {
            "appointment_id": appt.appointment_id,
            "patient_id": appt.patient_id,
            "score_run_id": _current_score_run(conn, appointment_id),
            "outcome": outcome,
            "note": clean,
            "recorded_by": recorded_by,
            "recorded_at": recorded_at or local_now(),
        }
        key = conn.execute(sa.insert(_OUT).values(**values)).inserted_primary_key
        assert key is not None  # an INSERT reports its key
        outreach_id = int(key[0])
        audit.record(
            conn,
            recorded_by,
            "outreach.record",
            target=f"appointment:{appt.appointment_id}",
            detail={"outcome": outcome, "has_note": clean is not None, "outreach_id": outreach_id},
        )
    return outreach_id


def assign(
    engine: sa.Engine,
    appointment_ids: Iterable[str],
    *,
    assigned_to: str,
    assigned_by: str,
    departments: Collection[str] | None = None,
) -> int:
    """Assign appointments to a coordinator ("my list"), replacing any earlier assignee.

    One audit row for the whole call (rows = appointments assigned). Returns that count.
    """
    ids = list(dict.fromkeys(a for a in appointment_ids if a))
    if not ids:
        return 0
    if not assigned_to:
        raise CarePulseError("Choose the coordinator to assign to.")
    now = local_now()
    with engine.begin() as conn:
        for appointment_id in ids:
            _appointment(conn, appointment_id, departments)
        conn.execute(sa.delete(_ASSIGN).where(_ASSIGN.c.appointment_id.in_(ids)))
        conn.execute(
            sa.insert(_ASSIGN),
            [
                {
                    "appointment_id": a,
                    "assigned_to": assigned_to,
                    "assigned_by": assigned_by,
                    "assigned_at": now,
                }
                for a in ids
            ],
        )
        audit.record(
            conn,
            assigned_by,
            "outreach.assign",
            target=f"user:{assigned_to}",
            detail={"appointment_ids": ids},
            rows=len(ids),
        )
    return len(ids)


def unassign(
    engine: sa.Engine,
    appointment_ids: Iterable[str],
    *,
    unassigned_by: str,
    departments: Collection[str] | None = None,
) -> int:
    """Take appointments off whoever's list they are on; one audit row; returns rows removed."""
    ids = list(dict.fromkeys(a for a in appointment_ids if a))
    if not ids:
        return 0
    with engine.begin() as conn:
        for appointment_id in ids:
            _appointment(conn, appointment_id, departments)
        removed = conn.execute(sa.delete(_ASSIGN).where(_ASSIGN.c.appointment_id.in_(ids))).rowcount
        audit.record(
            conn,
            unassigned_by,
            "outreach.unassign",
            target=None,
            detail={"appointment_ids": ids},
            rows=int(removed),
        )
    return int(removed)


# --- Reading back ----------------------------------------------------------------------------------


def _frame(engine: sa.Engine, table: sa.Table, columns: list[str], *where) -> pl.DataFrame:
    """Rows of ``table`` through SQLAlchemy (bound parameters), typed as the schema says."""
    dtypes = warehouse.polars_schema_of(table, columns)
    stmt = sa.select(*(table.c[c] for c in columns))
    if where:
        stmt = stmt.where(*where)
    with engine.connect() as conn:
        rows = conn.execute(stmt).all()
    if not rows:
        return pl.DataFrame(schema=dtypes)
    return warehouse.cast_frame(pl.DataFrame([tuple(r) for r in rows], schema=columns, orient="row"), dtypes)


OUTCOME_COLUMNS = [
    "outreach_id",
    "appointment_id",
    "patient_id",
    "score_run_id",
    "outcome",
    "note",
    "recorded_by",
    "recorded_at",
]


def read_outcomes(engine: sa.Engine, *, with_notes: bool = False) -> pl.DataFrame:
    """Every outreach outcome; notes only with ``with_notes`` (free text may hold PHI)."""
    return warehouse.read_table(
        engine, "outreach_outcomes", columns=[c for c in OUTCOME_COLUMNS if with_notes or c != "note"]
    )


def latest_outcomes(engine: sa.Engine) -> pl.DataFrame:
    """The latest outcome per appointment (appointment_id, patient_id, outcome, recorded_by, recorded_at)."""
    from carepulse.metrics.worklist import latest_outcome_per_appointment

    return latest_outcome_per_appointment(read_outcomes(engine)).collect()


def latest_patient_outcomes(engine: sa.Engine) -> pl.DataFrame:
    """The latest outcome per patient, on whichever appointment it was recorded."""
    from carepulse.metrics.worklist import latest_outcome_per_patient

    return latest_outcome_per_patient(read_outcomes(engine)).collect()


def read_assignments(engine: sa.Engine) -> pl.DataFrame:
    return _frame(engine, _ASSIGN, ["appointment_id", "assigned_to", "assigned_by", "assigned_at"])


def latest_score_run(engine: sa.Engine) -> dict | None:
    """The latest scoring run (score_run_id, model_version, scored_at, as_of, horizon_days, n_scored)."""
    runs = schema.score_runs
    with engine.connect() as conn:
        row = conn.execute(sa.select(runs).order_by(runs.c.score_run_id.desc()).limit(1)).first()
    return None if row is None else dict(row._mapping)


_CURRENT_IDS = 'SELECT appointment_id FROM "risk_scores" WHERE is_current'
APPOINTMENT_COLUMNS = [
    "appointment_id",
    "patient_id",
    "department_id",
    "provider_id",
    "visit_type",
    "modality",
    "scheduled_start",
    "status",
]


def scored_frames(engine: sa.Engine) -> dict[str, pl.DataFrame]:
    """The worklist's non-PHI inputs that change only with a load or a scoring run (cacheable):
    current scores, their appointments, departments and providers."""
    scores = warehouse.read_table(engine, "risk_scores", where="is_current")
    appointments = warehouse.read_table(
        engine, "appointments", columns=APPOINTMENT_COLUMNS, where=f"appointment_id IN ({_CURRENT_IDS})"
    )
    return {
        "scores": scores,
        "appointments": appointments,
        "departments": warehouse.read_table(engine, "departments", columns=["department_id", "name", "site"]),
        "providers": warehouse.read_table(
            engine, "providers", columns=["provider_id", "name", "department_id"]
        ),
    }


def contact_details(engine: sa.Engine, patient_ids: Iterable[str]) -> pl.DataFrame:
    """Names, MRN, phone and e-mail of the given patients only (PHI: call only for a role with ``view:phi``)."""
    ids = list(dict.fromkeys(patient_ids))
    patients = schema.EXTRACT_TABLES["patients"]
    columns = ["patient_id", "first_name", "last_name", "mrn", "phone", "email"]
    if not ids:
        return pl.DataFrame(schema=warehouse.polars_schema_of(patients, columns))
    # In chunks: SQLite caps the number of bound parameters in one statement.
    return pl.concat(
        [
            _frame(engine, patients, columns, patients.c.patient_id.in_(ids[i : i + _CHUNK]))
            for i in range(0, len(ids), _CHUNK)
        ]
    )


def _literal_sql(engine: sa.Engine, stmt: sa.Select) -> str:
    """``stmt`` as SQL text with its values inlined and escaped by SQLAlchemy, for the ADBC reader."""
    return str(stmt.compile(dialect=engine.dialect, compile_kwargs={"literal_binds": True}))


def effect_frames(engine: sa.Engine, departments: Collection[str] | None = None) -> dict[str, pl.DataFrame]:
    """Inputs of :func:`carepulse.metrics.outreach_effect.outreach_effect`: every score (history included) of
    the scored appointments in ``departments`` (None: all), those appointments, and the outcomes
    (no notes). One join in the database, read through ADBC."""
    score_cols = ["score_run_id", "appointment_id", "risk", "risk_band", "is_current"]
    appt_cols = ["department_id", "scheduled_start", "status"]
    stmt = sa.select(*(_SCORES.c[c] for c in score_cols), *(_APPTS.c[c] for c in appt_cols)).join_from(
        _SCORES, _APPTS, _SCORES.c.appointment_id == _APPTS.c.appointment_id
    )
    if departments is not None:
        stmt = stmt.where(_APPTS.c.department_id.in_(sorted(departments)))
    dtypes = {
        **warehouse.polars_schema_of(_SCORES, score_cols),
        **warehouse.polars_schema_of(_APPTS, appt_cols),
    }
    joined = warehouse.read_query(engine, _literal_sql(engine, stmt), dtypes)
    if joined.is_empty():
        joined = pl.DataFrame(schema=dtypes)
    appointments = joined.select("appointment_id", *appt_cols).unique("appointment_id")
    return {
        "risk_scores": joined.select(score_cols),
        "appointments": appointments,
        "outcomes": read_outcomes(engine),
    }


__all__ = [
    "NOTE_MAX",
    "OUTCOMES",
    "assign",
    "contact_details",
    "effect_frames",
    "latest_outcomes",
    "latest_patient_outcomes",
    "latest_score_run",
    "read_assignments",
    "read_outcomes",
    "record_outcome",
    "scored_frames",
    "unassign",
]
