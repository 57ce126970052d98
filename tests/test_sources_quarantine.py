"""Quarantine you can act on: top reasons with counts and file:line examples; too much is refused.

A profile that forgets the status codes quarantines every appointment: ingest and validate say why
(reason, count, ``file:line``), refuse the batch above ``--max-quarantine-share`` (exit 3, warehouse
unchanged) and load it when the limit is raised; the JSON lists every reason.
"""

from __future__ import annotations

import json
import shutil
import tomllib
from pathlib import Path

import polars as pl
import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from carepulse import warehouse
from carepulse.cli import app
from carepulse.errors import BatchRefused
from carepulse.pipelines.quarantine_report import describe_reasons, quarantine_reasons
from carepulse.pipelines.sources.profile import BUILT_IN

EXPORT = Path(__file__).parent / "corpus" / "files" / "scheduling_export"


@pytest.fixture
def forgetful(tmp_path: Path) -> tuple[Path, Path]:
    """The example export and a copy of its profile without the status value map."""
    export = Path(shutil.copytree(EXPORT, tmp_path / "export"))
    text = (BUILT_IN / "generic-scheduling.toml").read_text()
    start = text.index("[extracts.appointments.values.status]")
    end = text.index("[extracts.appointments.values.visit_type]")
    profile = tmp_path / "forgetful.toml"
    profile.write_text(text[:start] + text[end:])
    assert "status" not in tomllib.loads(profile.read_text())["extracts"]["appointments"]["values"]
    return export, profile


def _appointments_in_warehouse(settings) -> int:
    engine = warehouse.make_engine(settings)
    if not sa.inspect(engine).has_table("appointments"):
        return 0
    return warehouse.read_table(engine, "appointments").height


def test_a_batch_over_the_share_is_refused_with_its_reasons(forgetful, settings) -> None:
    export, profile = forgetful
    runner = CliRunner()
    result = runner.invoke(
        app,
        ["ingest", str(export), "--profile", str(profile), "--no-progress", "--max-quarantine-share", "0.2"],
    )
    assert result.exit_code != 0
    assert isinstance(result.exception, BatchRefused)
    message = str(result.exception)
    assert "7 of 23 rows (30%)" in message and "max_quarantine_share 20%" in message
    assert "appointments.status: not one of" in message and "Appointments_Export.csv:2" in message
    assert _appointments_in_warehouse(settings) == 0
    runs = warehouse.read_table(warehouse.make_engine(settings), "load_runs")
    assert runs["status"].to_list() == ["refused"]


def test_under_the_share_it_loads_and_prints_the_top_reasons(forgetful, settings) -> None:
    export, profile = forgetful
    runner = CliRunner()
    # --accept-warnings: the no-show-rate batch check rightly flags 2 of 2 kept-or-missed as missed
    args = ["ingest", str(export), "--profile", str(profile), "--no-progress", "--accept-warnings"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "appointments.status: not one of" in result.output
    assert "(5 rows, e.g. Appointments_Export.csv:2, Appointments_Export.csv:4" in result.output
    again = runner.invoke(app, [*args, "--format", "json"])
    reasons = json.loads(again.output)["quarantine_reasons"]
    assert {(r["extract"], r["column_name"], r["rows"]) for r in reasons} == {
        ("appointments", "status", 5),  # "Kept"; "No Show" etc. read as the contract's no_show...
        ("patients", "sex", 1),
        ("appointments", "patient_id", 1),  # the appointment of the quarantined patient
    }
    assert _appointments_in_warehouse(settings) == 4


def test_validate_prints_reasons_and_refuses_over_the_share(forgetful, settings) -> None:
    export, profile = forgetful
    runner = CliRunner()
    ok = runner.invoke(app, ["validate", str(export), "--profile", str(profile), "--accept-warnings"])
    assert ok.exit_code == 0, ok.output
    assert "appointments.status: not one of" in ok.output and "Appointments_Export.csv:2" in ok.output
    args = ["validate", str(export), "--profile", str(profile), "--accept-warnings", "--json"]
    payload = json.loads(runner.invoke(app, args).output)
    assert payload["rows_read"] == 23 and payload["rows_quarantined"] == 7
    assert len(payload["quarantine_reasons"]) == 3
    refused = runner.invoke(
        app, ["validate", str(export), "--profile", str(profile), "--max-quarantine-share", "0.25"]
    )
    assert isinstance(refused.exception, BatchRefused)


def test_reasons_are_grouped_counted_and_carry_no_values() -> None:
    rows = [
        ("appointments", "a.csv", line, "status", "Kept", "not one of: x", "contract", "{}")
        for line in (5, 2, 9, 7)
    ] + [("patients", "a.csv", 3, "sex", "X", "not one of: y", "contract", "{}")]
    frame = pl.DataFrame(rows, schema=list(schema_columns()), orient="row")
    reasons = quarantine_reasons([frame], examples=3)
    assert reasons.to_dicts()[0] == {
        "extract": "appointments",
        "column_name": "status",
        "reason": "not one of: x",
        "rows": 4,
        "examples": ["a.csv:2", "a.csv:5", "a.csv:7"],
    }
    text = "\n".join(describe_reasons(reasons))
    assert "Kept" not in text and "patients.sex: not one of: y (1 rows, e.g. a.csv:3)" in text


def schema_columns() -> list[str]:
    from carepulse.pipelines.typed_rows import QUARANTINE_SCHEMA

    return list(QUARANTINE_SCHEMA)


def test_the_setting_is_a_share() -> None:
    from pydantic import ValidationError

    from carepulse.settings import Settings

    assert Settings().max_quarantine_share == 0.5
    with pytest.raises(ValidationError):
        Settings(max_quarantine_share=2)
