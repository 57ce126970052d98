"""FHIR R4 Bulk Data: the Synthea sample and generated systems load; bad lines are quarantined.

The Synthea sample is read in place from ``../shared/data/synthea-bulk-fhir-10`` beside the checkout (never copied).
The round trip loads one generated system as CSV and as FHIR and compares the metric catalogues:
equal, except the metrics whose data FHIR does not carry here (``docs/sources.md``), which read
"not supplied".
"""

from __future__ import annotations

import gzip
import json
import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

from carepulse import metrics, warehouse
from carepulse.cli import app
from carepulse.pipelines.sources.fhir import fhir_files, iter_ndjson
from carepulse.pipelines.sources.views import load_view, view_resources
from carepulse.pipelines.synthetic.fhir_writer import write_fhir
from carepulse.settings import get_settings

#: The team's shared folder sits beside the checkout (``../shared``), for developers and CI alike.
SYNTHEA = Path(__file__).resolve().parents[2] / "shared" / "data" / "synthea-bulk-fhir-10"
if not SYNTHEA.is_dir() and os.environ.get("CI"):
    raise RuntimeError(f"the Synthea bulk FHIR sample is missing under CI: {SYNTHEA}")
needs_sample = pytest.mark.skipif(not SYNTHEA.is_dir(), reason="Synthea bulk FHIR sample not present")


def _ingest_json(runner: CliRunner, folder: Path, *extra: str) -> dict:
    result = runner.invoke(
        app, ["ingest", str(folder), "--profile", "fhir-r4-bulk", "--no-progress", "--format", "json", *extra]
    )
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


@needs_sample
def test_the_synthea_sample_loads_in_place(settings) -> None:
    summary = _ingest_json(CliRunner(), SYNTHEA)
    files = {f["extract"]: f for f in summary["files"]}
    assert files["patients"]["inserted"] == 13 and files["departments"]["inserted"] == 44
    assert files["providers"]["inserted"] == 43 and files["appointments"]["inserted"] == 1134
    assert files["encounters"]["file_name"] == "Encounter.000.ndjson.gz"
    for f in summary["files"]:
        assert f["rows_read"] == f["inserted"] + f["quarantined"], f  # nothing lost
    # 9 home-health encounters (class HH) have no contract class: quarantined with file, line, FHIRPath
    home_health = next(r for r in summary["quarantine_reasons"] if r["column_name"] == "encounter_class")
    assert home_health["rows"] == 9 and home_health["examples"][0].startswith("Encounter.000.ndjson.gz:")
    quarantine = warehouse.read_table(warehouse.make_engine(settings), "quarantine")
    assert set(quarantine["expectation"]) == {"contract (Encounter.class.code)"}
    assert any("no booking times" in w for w in summary["warnings"])


@needs_sample
def test_the_direct_walk_equals_fhirpathpy_on_every_sample_resource() -> None:
    for resource, paths in fhir_files(SYNTHEA).items():
        direct, reference = load_view(resource), load_view(resource, direct=False)
        for path in paths:
            for _, text in iter_ndjson(path):
                r = json.loads(text)
                assert direct.row(r) == reference.row(r), (resource, r["id"])
    assert {"Patient", "Appointment", "Encounter", "Location", "Practitioner"} <= set(view_resources())


def _appointment(i: str, patient: str = "p1", status: str = "fulfilled", **drop: bool) -> dict:
    a = {
        "resourceType": "Appointment",
        "id": i,
        "status": status,
        "start": "2026-03-02T09:00:00-05:00",
        "minutesDuration": 15,
        "created": "2026-02-20T10:00:00-05:00",
        "participant": [
            {"actor": {"reference": f"Patient/{patient}"}},
            {"actor": {"reference": "Location/L1"}},
        ],
    }
    for key in drop:
        a.pop(key)
    return a


@pytest.fixture
def bad_export(tmp_path: Path) -> Path:
    folder = tmp_path / "bulk"
    folder.mkdir()
    lines = lambda items: "".join(json.dumps(x) + "\n" for x in items)  # noqa: E731
    (folder / "Location.000.ndjson").write_text(
        lines([{"resourceType": "Location", "id": "L1", "name": "Clinic"}])
    )
    (folder / "Patient.000.ndjson").write_text(
        lines([{"resourceType": "Patient", "id": "p1", "gender": "female", "birthDate": "1980-01-01"}])
    )
    (folder / "Appointment.000.ndjson").write_text(
        lines([_appointment("a1"), _appointment("a2", status="noshow")])
        + "{not json\n"  # line 3
        + lines([{"resourceType": "Patient", "id": "p9"}])  # line 4: wrong type
        + lines([_appointment("a5", start=True)])  # line 5: no start
    )
    with gzip.open(folder / "Appointment.001.ndjson.gz", "wt") as fh:
        fh.write(
            lines(
                [
                    _appointment("a6"),
                    _appointment("a7", status="entered-in-error"),
                    _appointment("a8", patient="ghost"),
                ]
            )
        )
    return folder


def test_bad_lines_are_quarantined_with_file_line_and_fhirpath(bad_export: Path, settings) -> None:
    summary = _ingest_json(CliRunner(), bad_export, "--accept-warnings", "--max-quarantine-share", "1")
    appointments = next(f for f in summary["files"] if f["extract"] == "appointments")
    assert (
        appointments["rows_read"] == 8 and appointments["inserted"] == 3 and appointments["quarantined"] == 5
    )
    quarantine = warehouse.read_table(warehouse.make_engine(settings), "quarantine").filter(
        extract="appointments"
    )
    found = {
        (r["file_name"], r["line"]): (r["column_name"], r["reason"], r["expectation"])
        for r in quarantine.iter_rows(named=True)
    }
    assert found[("Appointment.000.ndjson", 3)][1].startswith("not JSON")
    assert found[("Appointment.000.ndjson", 4)][:2] == (
        "resourceType",
        "resourceType is 'Patient', expected 'Appointment'",
    )
    assert found[("Appointment.000.ndjson", 5)][:2] == ("Appointment.start", "required element is missing")
    status = found[("Appointment.001.ndjson.gz", 2)]
    assert (
        status[0] == "status"
        and status[1].startswith("not one of")
        and status[2] == "contract (Appointment.status)"
    )
    assert "foreign_key" in found[("Appointment.001.ndjson.gz", 3)][2]  # Patient/ghost is dangling


def test_no_scheduling_resources_is_a_clear_error(tmp_path: Path, settings) -> None:
    (tmp_path / "Patient.000.ndjson").write_text(json.dumps({"resourceType": "Patient", "id": "p"}) + "\n")
    result = CliRunner().invoke(app, ["ingest", str(tmp_path), "--profile", "fhir-r4-bulk", "--no-progress"])
    assert result.exit_code != 0 and "no Appointment or Encounter NDJSON" in str(result.exception)


#: Metrics a generated system loses on the FHIR side, and why (docs/sources.md says the same).
LOST_IN_FHIR = {"referrals", "claims", "surveys", "slots"}
LOST_COLUMNS = {
    "cycle_time_minutes",
    "wait_to_room_minutes",
    "wait_for_provider_minutes",
    "on_time_start_rate",
}


def _catalogue(runner: CliRunner, monkeypatch, url: str) -> dict[str, dict]:
    monkeypatch.setenv("CAREPULSE_DATABASE_URL", url)
    get_settings.cache_clear()
    result = runner.invoke(app, ["metrics", "--format", "json"])
    assert result.exit_code == 0, result.output
    return {r["metric"]: r for r in json.loads(result.output)}


def test_round_trip_csv_and_fhir_give_the_same_catalogue(
    synthetic_dir, loaded_sqlite_url, tmp_path, monkeypatch
) -> None:
    fhir_dir = tmp_path / "fhir"
    counts = write_fhir(synthetic_dir, fhir_dir, timezone=get_settings().timezone, files_per_type=2)
    assert (fhir_dir / "Appointment.001.ndjson").exists() and counts["Appointment"] > 1000
    runner = CliRunner()
    fhir_url = f"sqlite:///{tmp_path / 'fhir.sqlite'}"
    monkeypatch.setenv("CAREPULSE_DATABASE_URL", fhir_url)
    get_settings.cache_clear()
    summary = _ingest_json(runner, fhir_dir)
    assert summary["counts"]["quarantined"] == 0
    via_csv = _catalogue(runner, monkeypatch, loaded_sqlite_url)
    via_fhir = _catalogue(runner, monkeypatch, fhir_url)
    assert set(via_csv) == set(via_fhir) == set(metrics.REGISTRY)
    equal = []
    for name, row in via_csv.items():
        other = via_fhir[name]
        definition = metrics.get_metric(name)
        if set(definition.frames) & LOST_IN_FHIR or name in LOST_COLUMNS:
            assert other.get("status") == "not supplied", name
            continue
        keys = ("numerator", "denominator", "value", "n")
        assert {k: row.get(k) for k in keys} == {k: other.get(k) for k in keys}, name
        equal.append(name)
    assert {"no_show_rate", "cancellation_rate", "lead_time_days", "completed_visits"} <= set(equal)
