"""Outreach writes (outcomes, assignments) on SQLite and PostgreSQL: who, when, one audit row each, no PHI
in the audit, refusals that write nothing; and the readers that feed the worklist."""

from __future__ import annotations

import datetime as dt
import json

import polars as pl
import pytest
import sqlalchemy as sa

from carepulse import schema, warehouse
from carepulse.access import list_audit
from carepulse.errors import CarePulseError
from carepulse.metrics.no_show_model.scoring import RISK_SCORE_COLUMNS, write_scores
from carepulse.metrics.no_show_model.toy import toy_health_system
from carepulse.metrics.worklist import WorklistFilters, build_worklist
from carepulse.records import outreach

AS_OF = dt.datetime(2026, 6, 30, 12)


@pytest.fixture(scope="module")
def toy_frames():
    frames = toy_health_system(patients=30, appointments=150, seed=3)
    frames["patients"] = frames["patients"].with_columns(
        pl.format("555-01{}", pl.col("patient_id").str.slice(-2)).alias("phone"),
        pl.format("{}@example.org", pl.col("patient_id").str.to_lowercase()).alias("email"),
    )
    return frames


@pytest.fixture
def wh(engine, toy_frames):
    """A tiny loaded warehouse (toy system) with a scoring run of its scheduled appointments."""
    frames = toy_frames
    with engine.begin() as conn:
        for name in ("departments", "providers", "patients", "appointments"):
            rows = frames[name].with_columns(_load_run_id=pl.lit(1), _row_hash=pl.lit(0)).to_dicts()
            conn.execute(schema.EXTRACT_TABLES[name].insert(), rows)
    upcoming = frames["appointments"].filter(pl.col("status") == "scheduled").sort("scheduled_start")
    write_scores(engine, _scored(upcoming), model_version="test", as_of=AS_OF, days=30, scored_at=AS_OF)
    return engine, frames, upcoming


def _scored(upcoming: pl.DataFrame) -> pl.DataFrame:
    n = upcoming.height
    return pl.DataFrame(
        {
            "appointment_id": upcoming.get_column("appointment_id"),
            "risk": [0.5 - i * 0.02 for i in range(n)],
            "risk_band": ["high"] * 3 + ["medium"] * (n - 3),
            "reason_1": ["booked 45 days ahead"] * n,
            "reason_2": [None] * n,
            "reason_3": [None] * n,
            "suggested_action": ["reminder call"] * n,
            "expected_benefit": [0.11 - i * 0.004 for i in range(n)],
            "rank": list(range(1, n + 1)),
        }
    ).select(RISK_SCORE_COLUMNS)


def _count(engine, table) -> int:
    with engine.connect() as conn:
        return conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one()


def _queue(engine, departments) -> pl.DataFrame:
    scored = outreach.scored_frames(engine)
    return build_worklist(
        scored["scores"],
        scored["appointments"],
        scored["departments"],
        scored["providers"],
        allowed_departments=departments,
        outcomes=outreach.read_outcomes(engine),
        assignments=outreach.read_assignments(engine),
        today=AS_OF,
    )


def test_recording_an_outcome_stores_who_when_and_one_audit_row_without_phi(wh):
    engine, frames, upcoming = wh
    appt = upcoming.row(0, named=True)
    patient = frames["patients"].filter(pl.col("patient_id") == appt["patient_id"]).row(0, named=True)
    note = f"Spoke to {patient['first_name']} at {patient['phone']}; will come"
    when = dt.datetime(2026, 7, 1, 9, 30)
    outreach_id = outreach.record_outcome(
        engine, appt["appointment_id"], "confirmed", recorded_by="carl", note=note, recorded_at=when
    )
    stored = outreach.read_outcomes(engine, with_notes=True).row(0, named=True)
    assert stored["outreach_id"] == outreach_id
    assert (stored["appointment_id"], stored["patient_id"], stored["outcome"]) == (
        appt["appointment_id"],
        appt["patient_id"],
        "confirmed",
    )
    assert (stored["recorded_by"], stored["recorded_at"], stored["note"]) == ("carl", when, note)
    assert stored["score_run_id"] is not None  # the score the coordinator acted on
    audit = list_audit(engine, action="outreach")
    assert audit.height == 1
    row = audit.row(0, named=True)
    assert (row["username"], row["action"], row["target"]) == (
        "carl",
        "outreach.record",
        f"appointment:{appt['appointment_id']}",
    )
    detail = json.loads(row["detail"])
    assert detail["outcome"] == "confirmed" and detail["has_note"] is True
    for phi in (patient["phone"], patient["email"], patient["mrn"], "Spoke", appt["patient_id"]):
        assert phi not in row["detail"]
    assert "note" not in outreach.read_outcomes(engine).columns  # notes only when asked for


def test_every_outcome_code_is_accepted_and_an_unknown_one_writes_nothing(wh):
    engine, _, upcoming = wh
    ids = upcoming.get_column("appointment_id").to_list()
    for appointment_id, code in zip(ids, outreach.OUTCOMES, strict=False):
        outreach.record_outcome(engine, appointment_id, code, recorded_by="carl")
    assert _count(engine, schema.outreach_outcomes) == min(len(ids), len(outreach.OUTCOMES))
    before = (_count(engine, schema.outreach_outcomes), _count(engine, schema.audit_log))
    with pytest.raises(CarePulseError, match="Unknown outcome"):
        outreach.record_outcome(engine, ids[0], "showed_up_drunk", recorded_by="carl")
    with pytest.raises(CarePulseError, match="too long"):
        outreach.record_outcome(
            engine, ids[0], "reached", recorded_by="carl", note="x" * (outreach.NOTE_MAX + 1)
        )
    with pytest.raises(CarePulseError, match="not in the warehouse"):
        outreach.record_outcome(engine, "NOPE", "reached", recorded_by="carl")
    assert (_count(engine, schema.outreach_outcomes), _count(engine, schema.audit_log)) == before


def test_an_appointment_outside_the_users_departments_is_refused(wh):
    engine, _, upcoming = wh
    appt = upcoming.row(0, named=True)
    other = "D99" if appt["department_id"] != "D99" else "D98"
    with pytest.raises(CarePulseError, match="not in your departments"):
        outreach.record_outcome(
            engine, appt["appointment_id"], "reached", recorded_by="carl", departments=[other]
        )
    with pytest.raises(CarePulseError, match="not in your departments"):
        outreach.assign(
            engine, [appt["appointment_id"]], assigned_to="carl", assigned_by="carl", departments=[other]
        )
    assert _count(engine, schema.outreach_outcomes) == 0 and _count(engine, schema.worklist_assignments) == 0
    assert _count(engine, schema.audit_log) == 0


def test_sql_metacharacters_in_a_note_are_stored_verbatim(wh):
    engine, _, upcoming = wh
    note = 'Robert\'); DROP TABLE outreach_outcomes;-- =HYPERLINK("x") 100% _done_'
    outreach.record_outcome(
        engine, upcoming.item(0, "appointment_id"), "left_message", recorded_by="o'brien", note=note
    )
    stored = outreach.read_outcomes(engine, with_notes=True).row(0, named=True)
    assert stored["note"] == note and stored["recorded_by"] == "o'brien"


def test_the_audit_row_and_the_outcome_commit_together(wh, monkeypatch):
    engine, _, upcoming = wh

    def broken(*args, **kwargs):
        raise RuntimeError("audit store unavailable")

    monkeypatch.setattr(outreach.audit, "record", broken)
    with pytest.raises(RuntimeError):
        outreach.record_outcome(engine, upcoming.item(0, "appointment_id"), "reached", recorded_by="carl")
    assert _count(engine, schema.outreach_outcomes) == 0


def test_assign_and_unassign_write_one_audit_row_per_action(wh):
    engine, _, upcoming = wh
    ids = upcoming.get_column("appointment_id").to_list()[:3]
    assert outreach.assign(engine, ids, assigned_to="carl", assigned_by="lead") == 3
    assert (
        outreach.assign(engine, ids[:1], assigned_to="dana", assigned_by="lead") == 1
    )  # reassignment replaces
    assigned = outreach.read_assignments(engine).sort("appointment_id")
    assert dict(assigned.select("appointment_id", "assigned_to").iter_rows()) == {
        ids[0]: "dana",
        ids[1]: "carl",
        ids[2]: "carl",
    }
    assert outreach.unassign(engine, ids[1:], unassigned_by="carl") == 2
    assert outreach.read_assignments(engine).get_column("appointment_id").to_list() == [ids[0]]
    audit = list_audit(engine, action="outreach").sort("audit_id")
    assert audit.select("action", "target", "rows").rows() == [
        ("outreach.assign", "user:carl", 3),
        ("outreach.assign", "user:dana", 1),
        ("outreach.unassign", None, 2),
    ]
    assert outreach.assign(engine, [], assigned_to="carl", assigned_by="carl") == 0
    assert list_audit(engine, action="outreach").height == 3  # nothing to do: nothing written


def test_worked_rows_leave_the_queue_and_the_outcome_shows_on_the_next_visit(wh):
    engine, frames, upcoming = wh
    departments = frames["departments"].get_column("department_id").to_list()
    queue = _queue(engine, departments)
    assert queue.height == upcoming.height
    # a patient with two upcoming visits: work the first, see it on the second
    twice = upcoming.group_by("patient_id").agg(pl.col("appointment_id").sort_by("scheduled_start"), pl.len())
    twice = twice.filter(pl.col("len") >= 2)
    assert twice.height, "the toy system has a patient with two upcoming visits"
    first, second = twice.row(0, named=True)["appointment_id"][:2]
    outreach.record_outcome(
        engine, first, "transport_arranged", recorded_by="carl", recorded_at=dt.datetime(2026, 6, 30, 15)
    )
    after = _queue(engine, departments)
    assert first not in after.get_column("appointment_id").to_list()
    assert after.height == queue.height - 1
    nxt = after.filter(pl.col("appointment_id") == second).row(0, named=True)
    assert (nxt["last_outcome"], nxt["last_outcome_at"]) == (
        "transport_arranged",
        dt.datetime(2026, 6, 30, 15),
    )
    latest = outreach.latest_patient_outcomes(engine)
    assert latest.filter(pl.col("appointment_id") == first).height == 1
    assert outreach.latest_outcomes(engine).get_column("outcome").to_list() == ["transport_arranged"]
    # a later scoring run keeps the worked appointment's row current, the list stays consistent
    write_scores(engine, _scored(upcoming), model_version="test2", as_of=AS_OF, days=30, scored_at=AS_OF)
    again = build_worklist(
        *(outreach.scored_frames(engine)[k] for k in ("scores", "appointments", "departments", "providers")),
        allowed_departments=departments,
        outcomes=outreach.read_outcomes(engine),
        filters=WorklistFilters(not_yet_worked=False),
        today=AS_OF,
    )
    assert again.height == upcoming.height
    assert again.filter(pl.col("appointment_id") == first).item(0, "outcome") == "transport_arranged"


def test_contact_details_only_for_the_patients_asked_for(wh):
    engine, _, upcoming = wh
    one = upcoming.item(0, "patient_id")
    details = outreach.contact_details(engine, [one])
    assert details.get_column("patient_id").to_list() == [one]
    assert set(details.columns) == {"patient_id", "first_name", "last_name", "mrn", "phone", "email"}
    assert outreach.contact_details(engine, []).is_empty()


def test_effect_frames_read_scores_history_appointments_and_outcomes(wh):
    engine, _, upcoming = wh
    frames = outreach.effect_frames(engine)
    assert frames["risk_scores"].height == upcoming.height
    assert set(frames["appointments"].get_column("appointment_id")) == set(
        upcoming.get_column("appointment_id")
    )
    assert outreach.latest_score_run(engine)["model_version"] == "test"


def test_no_scoring_run_yet(engine):
    assert outreach.latest_score_run(engine) is None
    assert outreach.scored_frames(engine)["scores"].is_empty()
    assert warehouse.read_table(engine, "outreach_outcomes").is_empty()
