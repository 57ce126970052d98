"""Optional extracts and honest nulls: absent data reads "not supplied", never 0.

A folder without referrals, claims, surveys and encounters loads; the metrics built on them are
"not supplied" with a reason in the CLI table and ``null`` + reason in JSON; commonly missing
columns (insurance_verified, reminder, portal_active, ...) may be empty.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

from carepulse import metrics
from carepulse.cli import app
from carepulse.metrics.supply import not_supplied

BASE = Path(__file__).parent / "corpus" / "files" / "base"
ABSENT = ("referrals", "claims", "surveys", "encounters", "slots")


@pytest.fixture
def scheduling_only(tmp_path: Path) -> Path:
    """The base health system minus every optional extract, without eligibility or reminder data."""
    source = Path(shutil.copytree(BASE, tmp_path / "extracts"))
    for name in ABSENT:
        (source / f"{name}.csv").unlink()
    appointments = pl.read_csv(source / "appointments.csv", infer_schema=False)
    appointments.with_columns(
        pl.lit(None, pl.String).alias("insurance_verified"),
        pl.lit(None, pl.String).alias("reminder"),
        pl.lit(None, pl.String).alias("referral_id"),
        pl.lit(None, pl.String).alias("checkin_at"),
    ).write_csv(source / "appointments.csv")
    patients = pl.read_csv(source / "patients.csv", infer_schema=False)
    patients.with_columns(
        pl.lit(None, pl.String).alias(c) for c in ("portal_active", "needs_interpreter", "mrn", "birth_date")
    ).write_csv(source / "patients.csv")
    return source


def test_a_scheduling_only_folder_loads_every_row(scheduling_only: Path, settings) -> None:
    runner = CliRunner()
    result = runner.invoke(app, ["ingest", str(scheduling_only), "--no-progress", "--format", "json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output)
    assert {f["extract"] for f in summary["files"]} == {
        "departments",
        "providers",
        "patients",
        "appointments",
    }
    assert summary["counts"]["quarantined"] == 0
    assert summary["counts"]["rows_read"] == summary["counts"]["inserted"]


def test_absent_extracts_make_their_metrics_not_supplied_in_json_and_table(
    scheduling_only: Path, settings
) -> None:
    runner = CliRunner()
    assert runner.invoke(app, ["ingest", str(scheduling_only), "--no-progress"]).exit_code == 0
    result = runner.invoke(app, ["metrics", "--format", "json"])
    assert result.exit_code == 0, result.output
    records = {r["metric"]: r for r in json.loads(result.output)}
    for name in (
        "referral_loop_closure_rate",
        "initial_denial_rate",
        "survey_respondents",
        "survey_response_rate",
    ):
        assert records[name]["value"] is None, name
        assert records[name]["status"] == "not supplied"
        assert "extract was loaded" in records[name]["reason"]
    assert "empty in every row" in records["cycle_time_minutes"]["reason"]
    assert records["no_show_rate"]["value"] is not None and "status" not in records["no_show_rate"]
    table = runner.invoke(app, ["metrics", "--metric", "initial_denial_rate", "--metric", "no_show_rate"])
    assert table.exit_code == 0, table.output
    line = next(x for x in table.output.splitlines() if "initial_denial_rate" in x)
    assert "not supplied" in line and "0.0%" not in line


def test_not_supplied_names_absent_and_empty_sources() -> None:
    appointments = pl.DataFrame(
        {"appointment_id": ["A1"], "checkin_at": [None], "insurance_verified": [True]}
    )
    frames = {
        "appointments": appointments,
        "claims": pl.DataFrame({"claim_id": []}, schema={"claim_id": pl.String}),
    }
    reasons = not_supplied(frames)
    assert reasons["initial_denial_rate"] == "no claims extract was loaded"
    assert reasons["cycle_time_minutes"].startswith("column appointments.checkin_at is empty")
    assert "no_show_rate" not in reasons
    every_frame = {name for m in metrics.REGISTRY.values() for name in m.frames}
    assert set(not_supplied({})) == set(metrics.REGISTRY) and every_frame >= {"referrals", "surveys"}
