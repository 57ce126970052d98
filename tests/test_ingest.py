"""Ingest: typed rows in, idempotent upserts, updates, quarantine accounting, all-or-nothing loads.

Runs on SQLite and PostgreSQL (the ``engine`` fixture) on the small hand-written health system in
``tests/corpus/files/base`` (18 rows over 9 extracts).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import shutil
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest
import sqlalchemy as sa

from carepulse import expectations, schema, warehouse
from carepulse.contract import EXTRACTS
from carepulse.errors import BatchRefused
from carepulse.expectations import ExpectationResult, ValidationReport
from carepulse.pipelines import load
from carepulse.pipelines.ingest import ingest
from carepulse.pipelines.typed_rows import typed_rows

BASE = Path(__file__).parent / "corpus" / "files" / "base"
BASE_ROWS = {
    "departments": 2,
    "providers": 2,
    "patients": 3,
    "referrals": 1,
    "appointments": 4,
    "claims": 2,
    "surveys": 1,
    "encounters": 1,
    "slots": 2,
}


@pytest.fixture
def source(tmp_path) -> Path:
    """A private copy of the base extracts (tests edit it)."""
    return Path(shutil.copytree(BASE, tmp_path / "extracts"))


def snapshot(engine: sa.Engine) -> dict[str, list[tuple]]:
    """Every extract table and the quarantine, read through SQLAlchemy, sorted: the warehouse's content."""
    out = {}
    with engine.connect() as conn:
        for name in [*EXTRACTS, "quarantine", "validation_runs", "validation_results", "load_files"]:
            rows = conn.execute(sa.select(schema.metadata.tables[name])).all()
            out[name] = sorted((tuple(r) for r in rows), key=repr)
    return out


def edit_csv(path: Path, **replacements: str) -> None:
    text = path.read_text()
    for old, new in replacements.items():
        assert old in text, old
        text = text.replace(old, new)
    path.write_text(text)


def test_first_load_inserts_every_row_typed_and_records_the_run(engine, source, settings):
    summary = ingest(source, engine=engine, settings=settings)

    assert summary.status == "succeeded"
    assert {f.extract: f.inserted for f in summary.files} == BASE_ROWS
    assert summary.counts == {"rows_read": 18, "inserted": 18, "updated": 0, "unchanged": 0, "quarantined": 0}
    appts = warehouse.read_table(engine, "appointments").sort("appointment_id")
    a1 = appts.row(0, named=True)
    assert a1["checkin_at"] == dt.datetime(2026, 5, 4, 8, 50) and a1["insurance_verified"] is True
    assert a1["duration_min"] == 30 and a1["_load_run_id"] == summary.run_id
    assert warehouse.read_table(engine, "claims").sort("claim_id")["billed_amount"].to_list() == [
        180.0,
        320.5,
    ]
    assert warehouse.read_table(engine, "patients").sort("patient_id")["birth_date"][0] == dt.date(1980, 4, 2)

    files = warehouse.read_table(engine, "load_files").sort("extract")
    appt_file = files.filter(pl.col("extract") == "appointments").row(0, named=True)
    raw = (source / "appointments.csv").read_bytes()
    assert appt_file["sha256"] == hashlib.sha256(raw).hexdigest()
    assert Path(appt_file["archived_path"]) == settings.data_dir / "archive" / f"{appt_file['sha256']}.csv"
    assert Path(appt_file["archived_path"]).read_bytes() == raw
    run = warehouse.read_table(engine, "load_runs").row(0, named=True)
    assert (run["status"], run["rows_read"], run["inserted"]) == ("succeeded", 18, 18)
    assert run["duration_s"] > 0


def test_loading_the_same_files_twice_changes_nothing(engine, source, settings):
    ingest(source, engine=engine, settings=settings)
    before = snapshot(engine)
    again = ingest(source, engine=engine, settings=settings)

    assert again.counts == {"rows_read": 18, "inserted": 0, "updated": 0, "unchanged": 18, "quarantined": 0}
    after = snapshot(engine)
    content = [*EXTRACTS, "quarantine"]
    assert {k: after[k] for k in content} == {k: before[k] for k in content}


def test_a_newer_extract_updates_changed_rows_and_inserts_new_ones(engine, source, settings):
    first = ingest(source, engine=engine, settings=settings)
    edit_csv(
        source / "claims.csv",
        **{"2026-06-01 09:00:00,pending,,": "2026-06-01 09:00:00,overturned,2026-06-20 10:00:00,"},
    )
    with open(source / "claims.csv", "a") as fh:
        fh.write(
            "C003,A003,PT002,Medicare,medicare,2026-06-21 12:00:00,320.50,paid,2026-06-30 12:00:00,300,,,true,C002,,,,\n"
        )
    second = ingest(source, engine=engine, settings=settings)

    claims = {f.extract: f for f in second.files}["claims"]
    assert (claims.inserted, claims.updated, claims.unchanged) == (1, 1, 1)
    assert second.counts["unchanged"] == 17
    rows = {r["claim_id"]: r for r in warehouse.read_table(engine, "claims").iter_rows(named=True)}
    assert rows["C002"]["appeal_outcome"] == "overturned" and rows["C002"]["resolved_at"] == dt.datetime(
        2026, 6, 20, 10
    )
    assert rows["C002"]["_load_run_id"] == second.run_id
    assert rows["C001"]["_load_run_id"] == first.run_id  # untouched rows keep the run that wrote them
    assert rows["C003"]["is_resubmission"] is True


def test_rows_that_break_the_contract_are_quarantined_and_the_rest_loads(engine, source, settings):
    with open(source / "appointments.csv", "a") as fh:
        fh.write(
            "A005,PT001,D01,P01,Annual,in_person,2026-04-01 09:00,2026-05-08 09:00,thirty,completed,,,,sms,yes,,,,,\n"
        )
        fh.write(
            "A006,PT001,D01,P01,annual,in_person,2026-04-01 09:00,2026-05-08 09:00,30,teleported,,,,sms,Y,,,,,\n"
        )
        fh.write(
            'A007,PT003,D02,P02," New ",TELEHEALTH,04/02/2026 10:00,2026-12-09T11:00:00-05:00,15,Scheduled,,,,SMS,N,,,,,\n'
        )
    summary = ingest(source, engine=engine, settings=settings)

    appts = {f.extract: f for f in summary.files}["appointments"]
    assert (appts.rows_read, appts.inserted, appts.quarantined) == (7, 5, 2)
    loaded = warehouse.read_table(engine, "appointments")
    assert sorted(loaded["appointment_id"]) == ["A001", "A002", "A003", "A004", "A007"]
    a7 = loaded.filter(pl.col("appointment_id") == "A007").row(0, named=True)
    assert (a7["visit_type"], a7["modality"], a7["status"], a7["reminder"]) == (
        "new",
        "telehealth",
        "scheduled",
        "sms",
    )
    assert a7["booked_at"] == dt.datetime(2026, 4, 2, 10) and a7["insurance_verified"] is False
    assert a7["scheduled_start"] == dt.datetime(2026, 12, 9, 11)  # -05:00 is New York winter time

    q = warehouse.read_table(engine, "quarantine").sort("line")
    assert q.select("file_name", "line", "column_name", "value").rows() == [
        ("appointments.csv", 6, "duration_min", "thirty"),
        ("appointments.csv", 7, "status", "teleported"),
    ]
    assert q["reason"].to_list() == [
        "not a whole number",
        f"not one of: {', '.join(EXTRACTS['appointments'].column('status').allowed)}",
    ]
    assert json.loads(q["record"][0])["appointment_id"] == "A005"
    assert set(q["run_id"]) == {summary.run_id}
    assert warehouse.read_table(engine, "load_runs")["quarantined"].to_list() == [2]


def test_a_failure_mid_merge_leaves_the_warehouse_as_it_was(engine, source, settings, monkeypatch):
    ingest(source, engine=engine, settings=settings)
    edit_csv(source / "appointments.csv", **{"no_show,,,,none": "no_show,,,,sms"})
    with open(source / "departments.csv", "a") as fh:
        fh.write("D03,Dermatology,dermatology,Main Campus\n")
    with open(source / "claims.csv", "a") as fh:
        fh.write("C009,A001,PT001,Acme Health,commercial,2026-05-05 12:00:00,1,bogus,,,,,false,,,,,\n")
    before = snapshot(engine)
    real_merge = load.merge_extract

    def merge_then_die(conn, extract, staged, staged_rows=0):
        real_merge(conn, extract, staged, staged_rows)
        if extract.name == "appointments":  # departments already merged in this transaction
            raise RuntimeError("disk full")

    monkeypatch.setattr(load, "merge_extract", merge_then_die)
    with pytest.raises(RuntimeError, match="disk full"):
        ingest(source, engine=engine, settings=settings)

    assert snapshot(engine) == before
    runs = warehouse.read_table(engine, "load_runs").sort("run_id")
    assert runs["status"].to_list() == ["succeeded", "failed"]
    assert "nothing was changed" in runs["message"][1]
    assert not list((settings.data_dir / "staging").rglob("*.sqlite"))
    with engine.connect() as conn:
        assert not [t for t in sa.inspect(conn).get_table_names() if t.startswith("_stg_")]


def _failing_batch_report(frames, **_):
    return ValidationReport(
        results=[
            ExpectationResult(
                "appointments",
                "appointments_provider_missing_share",
                "completeness",
                "batch",
                False,
                column_name="provider_id",
                observed_value="50.0%",
                threshold=0.02,
            )
        ]
    )


def test_a_refused_batch_changes_nothing_until_warnings_are_accepted(engine, source, settings, monkeypatch):
    ingest(source, engine=engine, settings=settings)
    edit_csv(source / "appointments.csv", **{"no_show,,,,none": "no_show,,,,sms"})
    before = snapshot(engine)
    monkeypatch.setattr(expectations, "validate_batch", _failing_batch_report)

    with pytest.raises(BatchRefused) as refused:
        ingest(source, engine=engine, settings=settings)
    assert "appointments_provider_missing_share" in str(refused.value)
    assert "--accept-warnings" in str(refused.value)
    after = snapshot(engine)
    assert {k: after[k] for k in [*EXTRACTS, "quarantine"]} == {
        k: before[k] for k in [*EXTRACTS, "quarantine"]
    }
    assert warehouse.read_table(engine, "load_runs").sort("run_id")["status"].to_list() == [
        "succeeded",
        "refused",
    ]

    accepted = ingest(source, engine=engine, settings=settings, accept_warnings=True)
    assert accepted.status == "succeeded" and accepted.counts["updated"] == 1


def test_row_failures_from_the_expectations_are_quarantined_with_their_name(
    engine, source, settings, monkeypatch
):
    def flag_line_3(frames, **_):
        assert frames["appointments"].schema["_line"] == pl.Int64
        assert frames["appointments"].schema["scheduled_start"] == pl.Datetime("us")
        return ValidationReport(
            row_failures=pl.DataFrame(
                {
                    "extract": ["appointments"],
                    "line": [3],
                    "column_name": ["checkout_at"],
                    "value": [None],
                    "expectation": ["checkout_after_checkin"],
                    "reason": ["checkout before checkin"],
                },
                schema=expectations._report.ROW_FAILURE_SCHEMA,
            )
        )

    monkeypatch.setattr(expectations, "validate_batch", flag_line_3)
    summary = ingest(source, engine=engine, settings=settings)

    appts = {f.extract: f for f in summary.files}["appointments"]
    assert (appts.rows_read, appts.inserted, appts.quarantined) == (4, 3, 1)
    assert "A002" not in warehouse.read_table(engine, "appointments")["appointment_id"].to_list()
    q = warehouse.read_table(engine, "quarantine").row(0, named=True)
    assert (q["line"], q["expectation"], q["reason"]) == (
        3,
        "checkout_after_checkin",
        "checkout before checkin",
    )
    assert json.loads(q["record"])["appointment_id"] == "A002"


def test_parquet_extracts_load_like_csv_and_truth_is_ignored(engine, source, settings):
    typed, _ = typed_rows(
        pl.read_csv(source / "appointments.csv", infer_schema=False)
        .with_row_index("_line", offset=2)
        .with_columns(pl.col("_line").cast(pl.Int64)),
        EXTRACTS["appointments"],
        file_name="appointments.csv",
        timezone=settings.timezone,
    )
    typed.drop("_line").write_parquet(source / "appointments.parquet")
    (source / "appointments.csv").unlink()
    (source / "truth").mkdir()
    (source / "truth" / "appointments.csv").write_text("not,an,extract\n")

    summary = ingest(source, engine=engine, settings=settings)

    assert {f.extract: f.file_name for f in summary.files}["appointments"] == "appointments.parquet"
    assert summary.counts["inserted"] == 18
    loaded = (
        warehouse.read_table(engine, "appointments").sort("appointment_id").drop("_load_run_id", "_row_hash")
    )
    assert loaded.equals(typed.drop("_line").sort("appointment_id"))


def test_typed_rows_normalises_booleans_enums_and_timestamps():
    raw = pl.DataFrame(
        {
            "encounter_id": [" E1 ", "E2", "E3", "E4"],
            "patient_id": ["P1", "P1", "P2", "P2"],
            "encounter_class": ["Inpatient", "EMERGENCY", "observation ", "inpatient"],
            "admitted_at": ["2026-01-02 03:04:05", "2026-07-01T12:00:00Z", "01/15/2026", "2026-03-08 02:30"],
            "discharged_at": ["", "2026-07-02 09:30:00.250", None, "2026-03-09"],
            "discharge_disposition": ["Home", "home_health", "", "skilled nursing"],
            "_line": [2, 3, 4, 5],
        }
    )
    typed, quarantine = typed_rows(
        raw, EXTRACTS["encounters"], file_name="encounters.csv", timezone="America/New_York"
    )
    assert quarantine.is_empty()
    assert typed["encounter_id"].to_list() == ["E1", "E2", "E3", "E4"]
    assert typed["encounter_class"].to_list() == ["inpatient", "emergency", "observation", "inpatient"]
    assert typed["admitted_at"].to_list() == [
        dt.datetime(2026, 1, 2, 3, 4, 5),
        dt.datetime(2026, 7, 1, 8),
        dt.datetime(2026, 1, 15),
        dt.datetime(2026, 3, 8, 2, 30),
    ]
    assert typed["discharged_at"].to_list() == [
        None,
        dt.datetime(2026, 7, 2, 9, 30, 0, 250000),
        None,
        dt.datetime(2026, 3, 9),
    ]
    assert typed["discharge_disposition"].to_list() == ["home", "home_health", None, "skilled_nursing"]


def test_cli_ingest_then_runs_lists_the_run(source, settings, tmp_path):
    from typer.testing import CliRunner

    from carepulse.cli import app

    runner = CliRunner()
    result = runner.invoke(app, ["ingest", str(source)])  # with the progress bars
    assert result.exit_code == 0, result.output
    assert "18 inserted" in result.output
    listed = runner.invoke(app, ["runs", "--format", "json"])
    runs = json.loads(listed.output)
    assert [(r["status"], r["rows_read"], r["inserted"]) for r in runs] == [("succeeded", 18, 18)]
    assert "succeeded" in runner.invoke(app, ["runs"]).output


def test_cli_user_error_is_one_line_without_traceback(tmp_path):
    (tmp_path / "x").mkdir()
    done = subprocess.run(
        [str(Path(sys.executable).parent / "carepulse"), "ingest", str(tmp_path / "x")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    assert "departments.csv" in done.stderr and "missing" in done.stderr


def test_the_generated_health_system_loads_completely(loaded_sqlite_url, synthetic_dir):
    """Every row the generator wrote is in the warehouse (the shared fixture other tests build on)."""
    engine = sa.create_engine(loaded_sqlite_url)
    files = warehouse.read_table(engine, "load_files")
    written = {
        name: pl.scan_csv(synthetic_dir / f"{name}.csv", infer_schema=False).select(pl.len()).collect().item()
        for name in EXTRACTS
        if (synthetic_dir / f"{name}.csv").exists()
    }
    assert dict(files.select("extract", "rows_read").iter_rows()) == written
    for f in files.iter_rows(named=True):
        assert f["inserted"] + f["quarantined"] == f["rows_read"]
        with engine.connect() as conn:
            stored = conn.execute(sa.text(f'SELECT count(*) FROM "{f["extract"]}"')).scalar()
        assert stored == f["inserted"]
    engine.dispose()


def test_a_large_first_load_rebuilds_indexes_and_a_failure_keeps_them(engine, source, settings, monkeypatch):
    """Big first loads drop and rebuild secondary indexes inside the transaction: atomically too."""
    monkeypatch.setattr(load, "REBUILD_INDEXES_ABOVE", 0)

    def indexes():
        with engine.connect() as conn:
            return {i["name"] for i in sa.inspect(conn).get_indexes("appointments")}

    expected = {i.name for i in schema.EXTRACT_TABLES["appointments"].indexes}
    assert indexes() == expected
    real_merge = load.merge_extract

    def merge_then_die(conn, extract, staged, staged_rows=0):
        real_merge(conn, extract, staged, staged_rows)
        if extract.name == "claims":
            raise RuntimeError("killed")

    monkeypatch.setattr(load, "merge_extract", merge_then_die)
    with pytest.raises(RuntimeError):
        ingest(source, engine=engine, settings=settings)
    assert indexes() == expected
    assert snapshot(engine)["appointments"] == []

    monkeypatch.setattr(load, "merge_extract", real_merge)
    summary = ingest(source, engine=engine, settings=settings)
    assert summary.counts["inserted"] == 18
    assert indexes() == expected
    assert warehouse.read_table(engine, "appointments").height == 4


def test_index_drop_of_a_big_first_load_rolls_back_when_it_is_the_first_change(engine, monkeypatch):
    """Regression: pysqlite opens its transaction only at the first INSERT, so a DROP INDEX issued
    before any row changed (appointments being the first extract with changes) was committed at
    once, and a failure afterwards left the table without its indexes."""
    monkeypatch.setattr(load, "REBUILD_INDEXES_ABOVE", 0)
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE stg_appointments AS SELECT * FROM appointments")
    expected = {i.name for i in schema.EXTRACT_TABLES["appointments"].indexes}
    with pytest.raises(RuntimeError), engine.connect() as conn, conn.begin():
        load.merge_extract(conn, EXTRACTS["appointments"], "stg_appointments", staged_rows=1)
        raise RuntimeError("killed after the merge, before the commit")
    with engine.connect() as conn:
        assert {i["name"] for i in sa.inspect(conn).get_indexes("appointments")} == expected
