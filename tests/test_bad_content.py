"""Content-level bad input, end to end through ``ingest``: quarantined with a reason, or refused.

Each case edits one or two extracts of the small generated health system (``synthetic_dir``) and
loads the result on top of a copy of the warehouse that already holds it (``loaded_sqlite_url``), so
checks run against the batch AND the warehouse, as every nightly load after the first does.

- Row-level cases: the load succeeds; the bad row is in the quarantine with its file, line, column,
  the expectation's name and a reason; every input row of every file is loaded or quarantined.
- Batch-level cases: the load is refused with a message naming the check, extract and column and
  how to override; the warehouse content is exactly as before; the refusal is recorded.
(File-level bad input -- encodings, delimiters, missing columns -- is in ``test_bad_files.py``.)
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import polars as pl
import pytest
import sqlalchemy as sa

from carepulse import schema, warehouse
from carepulse.contract import EXTRACTS
from carepulse.errors import BatchRefused
from carepulse.pipelines.ingest import ingest


@dataclass(frozen=True)
class Quarantined:
    """The load succeeds and this line of this file is quarantined for this column (and check)."""

    extract: str
    line: int
    column: str
    expectation: str | None  # None: caught by the contract reader (its own rule name)


@dataclass(frozen=True)
class Refused:
    """The load is refused by this batch-level check."""

    expectation: str
    column: str


# --- Editing an extract as text (every value kept byte for byte except the edited ones) --------


def _read(d: Path, extract: str) -> pl.DataFrame:
    return pl.read_csv(d / f"{extract}.csv", infer_schema=False)


def _write(d: Path, extract: str, frame: pl.DataFrame) -> None:
    frame.write_csv(d / f"{extract}.csv")


def _edit_row(d: Path, extract: str, where: pl.Expr, **values: str | None) -> int:
    """Set columns of the first row matching ``where``; returns its line (header = line 1)."""
    frame = _read(d, extract).with_row_index("_i")
    index = frame.filter(where)["_i"][0]
    frame = frame.with_columns(
        [
            pl.when(pl.col("_i") == index).then(pl.lit(v, pl.String)).otherwise(pl.col(c)).alias(c)
            for c, v in values.items()
        ]
    )
    _write(d, extract, frame.drop("_i"))
    return index + 2


def _append_copy(d: Path, extract: str, where: pl.Expr, **values: str | None) -> int:
    """Append a copy of the first row matching ``where`` with some columns changed; returns its line."""
    frame = _read(d, extract)
    row = frame.filter(where).head(1).with_columns([pl.lit(v, pl.String).alias(c) for c, v in values.items()])
    _write(d, extract, pl.concat([frame, row]))
    return frame.height + 2


COMPLETED = pl.col("status") == "completed"


def unknown_status_code(d):
    return Quarantined(
        "appointments", _edit_row(d, "appointments", COMPLETED, status="arrived"), "status", None
    )


def unknown_visit_type(d):
    return Quarantined(
        "appointments", _edit_row(d, "appointments", COMPLETED, visit_type="walk_in"), "visit_type", None
    )


def completed_visit_in_the_future(d):
    line = _edit_row(d, "appointments", COMPLETED, scheduled_start="2099-03-02 09:00:00")
    return Quarantined(
        "appointments", line, "scheduled_start", "appointments.scheduled_start.completed_not_in_future"
    )


def checkout_before_checkin(d):
    line = _edit_row(
        d, "appointments", COMPLETED & pl.col("checkin_at").is_not_null(), checkout_at="2020-01-01 08:00:00"
    )
    return Quarantined("appointments", line, "checkout_at", "appointments.checkout_at.after_checkin_at")


def booked_after_the_visit(d):
    line = _edit_row(d, "appointments", COMPLETED, booked_at="2026-06-30 23:00:00")
    return Quarantined(
        "appointments", line, "scheduled_start", "appointments.scheduled_start.after_booked_at"
    )


def negative_amount(d):
    line = _edit_row(d, "claims", pl.col("paid_amount").is_null(), billed_amount="-120.00")
    return Quarantined("claims", line, "billed_amount", None)


def paid_above_billed(d):
    line = _edit_row(d, "claims", pl.col("paid_amount").is_not_null(), paid_amount="99999.00")
    return Quarantined("claims", line, "paid_amount", "claims.paid_amount.not_above_billed")


def unknown_patient(d):
    line = _append_copy(d, "appointments", COMPLETED, appointment_id="A9000000001", patient_id="P99999999")
    return Quarantined("appointments", line, "patient_id", "appointments.patient_id.foreign_key")


def unknown_provider(d):
    line = _append_copy(d, "appointments", COMPLETED, appointment_id="A9000000002", provider_id="PR99999")
    return Quarantined("appointments", line, "provider_id", "appointments.provider_id.foreign_key")


def unknown_department(d):
    line = _append_copy(d, "appointments", COMPLETED, appointment_id="A9000000003", department_id="D99")
    return Quarantined("appointments", line, "department_id", "appointments.department_id.foreign_key")


def claim_for_unknown_appointment(d):
    line = _append_copy(d, "claims", pl.lit(True), claim_id="C9000000001", appointment_id="A9999999999")
    return Quarantined("claims", line, "appointment_id", "claims.appointment_id.foreign_key")


def survey_for_a_no_show(d):
    no_show = _read(d, "appointments").filter(pl.col("status") == "no_show")["appointment_id"][0]
    line = _append_copy(d, "surveys", pl.lit(True), survey_id="S9000000001", appointment_id=no_show)
    return Quarantined("surveys", line, "appointment_id", "surveys.appointment_id.visit_happened")


def key_reused_across_files(d):
    """An appointment id already loaded for one patient arrives for another: a duplicate, not an update."""
    appointments = _read(d, "appointments")
    first = appointments.row(0, named=True)
    other = appointments.filter(pl.col("patient_id") != first["patient_id"])["patient_id"][0]
    line = _edit_row(d, "appointments", pl.col("appointment_id") == first["appointment_id"], patient_id=other)
    return Quarantined(
        "appointments", line, "appointment_id", "appointments.appointment_id.same_patient_id_as_stored"
    )


def age_over_120(d):
    line = _edit_row(d, "patients", pl.lit(True), birth_date="1890-02-01")
    return Quarantined("patients", line, "birth_date", "patients.birth_date.age_range")


def rating_outside_0_to_10(d):
    line = _edit_row(d, "surveys", pl.col("provider_rating").is_not_null(), provider_rating="11")
    return Quarantined("surveys", line, "provider_rating", None)


def discharged_before_admitted(d):
    line = _edit_row(
        d, "encounters", pl.col("discharged_at").is_not_null(), discharged_at="2000-01-01 00:00:00"
    )
    return Quarantined("encounters", line, "discharged_at", "encounters.discharged_at.after_admitted_at")


def volume_drop_below_half(d):
    """One department sends only a quarter of its recent visits."""
    frame = _read(d, "appointments").with_row_index("_i")
    department = frame["department_id"].mode().sort()[0]
    recent = (
        (pl.col("department_id") == department)
        & (pl.col("scheduled_start") >= "2026-06-03")
        & (pl.col("scheduled_start") < "2026-07-01")
    )
    dropped = frame.filter(recent & (pl.col("_i") % 4 != 0))["_i"]
    _write(d, "appointments", frame.filter(~pl.col("_i").is_in(dropped.implode())).drop("_i"))
    return Refused("appointments.department_id.daily_volume", "department_id")


def missing_provider_above_two_percent(d):
    frame = _read(d, "appointments").with_row_index("_i")
    _write(
        d,
        "appointments",
        frame.with_columns(
            pl.when(pl.col("_i") % 20 == 0).then(None).otherwise(pl.col("provider_id")).alias("provider_id")
        ).drop("_i"),
    )
    return Refused("appointments.provider_id.missing_rate", "provider_id")


def implausible_no_show_rate(d):
    frame = _read(d, "appointments").with_row_index("_i")
    flip = COMPLETED & (pl.col("_i") % 10 != 0)
    _write(
        d,
        "appointments",
        frame.with_columns(
            pl.when(flip).then(pl.lit("no_show")).otherwise(pl.col("status")).alias("status"),
            *[
                pl.when(flip).then(None).otherwise(pl.col(c)).alias(c)
                for c in ("checkin_at", "roomed_at", "provider_start_at", "checkout_at")
            ],
        ).drop("_i"),
    )
    return Refused("appointments.status.no_show_rate", "status")


def malformed_postal_codes(d):
    frame = _read(d, "patients").with_row_index("_i")
    _write(
        d,
        "patients",
        frame.with_columns(
            pl.when(pl.col("_i") % 5 == 0)
            .then(pl.lit("ZIP??"))
            .otherwise(pl.col("postal_code"))
            .alias("postal_code")
        ).drop("_i"),
    )
    return Refused("patients.postal_code.format", "postal_code")


CASES: dict[str, Callable[[Path], Quarantined | Refused]] = {
    f.__name__: f
    for f in (
        unknown_status_code,
        unknown_visit_type,
        completed_visit_in_the_future,
        checkout_before_checkin,
        booked_after_the_visit,
        negative_amount,
        paid_above_billed,
        unknown_patient,
        unknown_provider,
        unknown_department,
        claim_for_unknown_appointment,
        survey_for_a_no_show,
        key_reused_across_files,
        age_over_120,
        rating_outside_0_to_10,
        discharged_before_admitted,
        volume_drop_below_half,
        missing_provider_above_two_percent,
        implausible_no_show_rate,
        malformed_postal_codes,
    )
}

# --- The test ----------------------------------------------------------------------------------


def _content(engine) -> dict[str, list]:
    with engine.connect() as conn:
        return {
            name: sorted(map(tuple, conn.execute(sa.select(schema.metadata.tables[name])).all()), key=repr)
            for name in [*EXTRACTS, "quarantine", "load_files"]
        }


@pytest.fixture
def batch(synthetic_dir, loaded_sqlite_url, settings, tmp_path):
    """A copy of the generated extracts and an engine on a copy of the warehouse that holds them."""
    source = Path(
        shutil.copytree(synthetic_dir, tmp_path / "extracts", ignore=shutil.ignore_patterns("truth"))
    )
    for path in source.glob("*.csv"):  # line = row + 2 below only holds without quoted newlines
        assert path.read_bytes().count(b"\n") == pl.read_csv(path, infer_schema=False).height + 1, path
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(sa.make_url(loaded_sqlite_url).database, settings.data_dir / "warehouse.sqlite")
    engine = warehouse.make_engine(settings)
    yield source, engine
    engine.dispose()


@pytest.mark.parametrize("case", list(CASES))
def test_bad_content(case, batch, settings):
    source, engine = batch
    expected = CASES[case](source)
    rows_in = {p.stem: pl.read_csv(p, infer_schema=False).height for p in source.glob("*.csv")}

    if isinstance(expected, Refused):
        before = _content(engine)
        with pytest.raises(BatchRefused) as refusal:
            ingest(source, engine=engine, settings=settings)
        message = str(refusal.value)
        extract = expected.expectation.split(".")[0]
        assert expected.expectation in message and extract in message and expected.column in message
        assert "--accept-warnings" in message and "ZIP??" not in message
        assert _content(engine) == before  # a refused batch changes nothing
        run = warehouse.read_table(engine, "load_runs").sort("run_id").row(-1, named=True)
        assert run["status"] == "refused"
        validations = warehouse.read_table(engine, "validation_runs").filter(
            pl.col("run_id") == run["run_id"]
        )
        assert validations["refused"].to_list() == [True]
        return

    summary = ingest(source, engine=engine, settings=settings)
    assert summary.status == "succeeded"
    for f in summary.files:  # every input row is loaded or quarantined
        assert f.rows_read == rows_in[f.extract]
        assert f.inserted + f.updated + f.unchanged + f.quarantined == f.rows_read, f.extract
    quarantine = warehouse.read_table(engine, "quarantine").filter(pl.col("run_id") == summary.run_id)
    here = quarantine.filter(
        (pl.col("file_name") == f"{expected.extract}.csv")
        & (pl.col("line") == expected.line)
        & (pl.col("column_name") == expected.column)
    )
    assert here.height >= 1, quarantine.select("file_name", "line", "column_name", "expectation").to_dicts()
    assert all(here["reason"].str.len_chars() > 0)
    if expected.expectation is not None:
        assert expected.expectation in here["expectation"].to_list()
    by_extract = {f.extract: f for f in summary.files}
    assert by_extract[expected.extract].quarantined >= 1
    # the validation was recorded with the load run, and its Data Docs exist
    validation = (
        warehouse.read_table(engine, "validation_runs")
        .filter(pl.col("run_id") == summary.run_id)
        .row(0, named=True)
    )
    assert Path(validation["data_docs_path"]).is_file()
