"""Source profiles: a site's own scheduling export loads through a TOML mapping, no empty files.

The built-in ``generic-scheduling`` profile maps a one-file practice-management export (F/M sex, no
insurance field) to departments, providers, patients and appointments; referral, denial and survey
metrics then read "not supplied". Profile errors name the key; a bad value names file and line.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from carepulse import warehouse
from carepulse.cli import app
from carepulse.errors import ExtractError
from carepulse.pipelines.sources import (
    ProfileError,
    infer_profile,
    load_profile,
    parse_profile,
    read_profiled,
)

EXPORT = Path(__file__).parent / "corpus" / "files" / "scheduling_export"


@pytest.fixture
def export(tmp_path: Path) -> Path:
    return Path(shutil.copytree(EXPORT, tmp_path / "export"))


def test_the_generic_profile_loads_a_one_file_export(export: Path, settings) -> None:
    runner = CliRunner()
    result = runner.invoke(
        app, ["ingest", str(export), "--profile", "generic-scheduling", "--no-progress", "--format", "json"]
    )
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output)
    files = {f["extract"]: f for f in summary["files"]}
    assert set(files) == {"departments", "providers", "patients", "appointments"}
    assert files["departments"]["inserted"] == 2 and files["providers"]["inserted"] == 3
    # P-84 has sex "X" (unmapped): quarantined, and so is its appointment (unknown patient).
    assert files["patients"]["inserted"] == 7 and files["patients"]["quarantined"] == 1
    assert files["appointments"]["inserted"] == 9 and files["appointments"]["quarantined"] == 1
    engine = warehouse.make_engine(settings)
    appts = {
        r["appointment_id"]: r for r in warehouse.read_table(engine, "appointments").iter_rows(named=True)
    }
    first = appts["100001"]
    assert first["scheduled_start"] == dt.datetime(2026, 3, 2, 9, 0)
    assert first["booked_at"] == dt.datetime(2026, 2, 20, 10, 15)
    assert (
        first["status"] == "completed" and first["reminder"] == "sms" and first["insurance_verified"] is None
    )
    assert appts["100002"]["status"] == "no_show" and appts["100002"]["visit_type"] == "new"
    sexes = dict(warehouse.read_table(engine, "patients", ["patient_id", "sex"]).iter_rows())
    assert sexes["P-77"] == "female" and sexes["P-78"] == "male"
    quarantine = warehouse.read_table(engine, "quarantine")
    bad = quarantine.filter(quarantine["extract"] == "patients").row(0, named=True)
    assert (bad["file_name"], bad["line"], bad["column_name"], bad["value"]) == (
        "Appointments_Export.csv",
        11,
        "sex",
        "X",
    )

    metrics = {r["metric"]: r for r in json.loads(runner.invoke(app, ["metrics", "--format", "json"]).output)}
    for name in ("referral_loop_closure_rate", "initial_denial_rate", "survey_respondents"):
        assert metrics[name]["status"] == "not supplied" and metrics[name]["value"] is None
    assert metrics["no_show_rate"]["numerator"] == 2 and metrics["no_show_rate"]["denominator"] == 7


def test_validate_takes_the_profile_too(export: Path, settings) -> None:
    result = CliRunner().invoke(app, ["validate", str(export), "--profile", "generic-scheduling", "--json"])
    assert result.exit_code == 0, result.output
    contract = json.loads(result.output)["contract_quarantine"]
    assert {(r["extract"], r["rows"]) for r in contract} == {("patients", 1)}


@pytest.mark.parametrize(
    ("change", "says"),
    [
        (
            {"extracts": {"appointments": {"file": "*.csv", "columns": {"visit_typ": "X"}}}},
            "extracts.appointments.columns.visit_typ",
        ),
        ({"extracts": {"appointments": {"file": "*.csv", "colums": {}}}}, "extracts.appointments.colums"),
        ({"extracts": {"referals": {"file": "*.csv"}}}, "extracts.referals: not a contract extract"),
        (
            {
                "extracts": {
                    "appointments": {"file": "*.csv", "derived": {"booked_at": {"op": "eval", "column": "x"}}}
                }
            },
            "extracts.appointments.derived.booked_at",
        ),
        (
            {"extracts": {"patients": {"file": "*.csv", "columns": {"patient_id": "id", "sex": "g"}}}},
            "extracts.appointments",
        ),
    ],
)
def test_profile_errors_name_the_key(change: dict, says: str) -> None:
    with pytest.raises(ProfileError) as caught:
        parse_profile({"name": "broken", **change})
    assert says in str(caught.value)


def test_a_required_column_without_a_source_is_named() -> None:
    with pytest.raises(
        ProfileError, match=r"extracts.appointments.columns.status: required column has no source"
    ):
        parse_profile(
            {
                "name": "x",
                "extracts": {"appointments": {"file": "*.csv", "columns": {"appointment_id": "id"}}},
            }
        )


def test_a_mapped_column_missing_from_the_file_names_file_line_and_column(export: Path, settings) -> None:
    text = (export / "Appointments_Export.csv").read_text().replace("Appt Type", "Visit Kind", 1)
    (export / "Appointments_Export.csv").write_text(text)
    with pytest.raises(ExtractError) as caught:
        read_profiled(export, load_profile("generic-scheduling"), timezone=settings.timezone)
    assert caught.value.file == "Appointments_Export.csv" and caught.value.line == 1
    assert "Appt Type" in str(caught.value)


def test_infer_proposes_a_profile_that_maps_the_obvious_columns(export: Path) -> None:
    import tomllib

    proposed = tomllib.loads(infer_profile(export))
    appointments = proposed["extracts"]["appointments"]
    assert appointments["columns"]["appointment_id"] == "Appt ID"
    assert appointments["columns"]["patient_id"] == "Patient ID"
    assert proposed["extracts"]["patients"]["columns"]["sex"] == "Sex"
    assert proposed["extracts"]["patients"]["values"]["sex"] == {"F": "female", "M": "male"}
    assert appointments["date_formats"]["Appt Date"] == "%m/%d/%Y"
    assert proposed["extracts"]["patients"]["unique"] is True
