"""validate_batch on hand-built frames: every check family, thresholds, persistence, Data Docs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import date, datetime, timedelta
from pathlib import Path

import polars as pl
import pytest
import sqlalchemy as sa

from carepulse import schema
from carepulse.contract import EXTRACTS
from carepulse.errors import CarePulseError
from carepulse.expectations import ExpectationResult, ValidationReport, record_validation, validate_batch
from carepulse.expectations._check import KAHN_CATEGORIES
from carepulse.expectations._checks import CHECKS, CHECKS_BY_NAME
from carepulse.settings import Settings

AS_OF = datetime(2026, 6, 30, 18, 0)
D = datetime


def contract_frame(extract: str, rows: list[dict]) -> pl.DataFrame:
    """A contract-typed frame from a few dicts (missing columns null), with ``_line`` from 2."""
    spec = EXTRACTS[extract]
    empty = pl.DataFrame(schema=spec.polars_schema)
    given = pl.DataFrame(rows, schema={c: spec.column(c).polars_dtype for c in rows[0]}) if rows else empty
    frame = pl.concat([empty, given], how="diagonal_relaxed").select(spec.column_names)
    return frame.with_columns(pl.int_range(2, frame.height + 2, dtype=pl.Int64).alias("_line"))


def appointment(i: int, **overrides) -> dict:
    start = D(2026, 6, 1, 9) + timedelta(days=i % 20, minutes=15 * (i % 8))
    row = {
        "appointment_id": f"A{i}",
        "patient_id": f"X{i % 3}",
        "department_id": "D1" if i % 2 else "D2",
        "provider_id": "P1" if i % 2 else "P2",
        "visit_type": "follow_up",
        "modality": "in_person",
        "booked_at": start - timedelta(days=10),
        "scheduled_start": start,
        "duration_min": 20,
        "status": "no_show" if i % 10 == 0 else "completed",
        "reminder": "sms",
        "insurance_verified": True,
        "checkin_at": start - timedelta(minutes=10),
        "roomed_at": start,
        "provider_start_at": start + timedelta(minutes=5),
        "checkout_at": start + timedelta(minutes=30),
    }
    row.update(overrides)
    return row


def good_rows(n_appointments: int = 60) -> dict[str, list[dict]]:
    """A small internally consistent batch (every check passes on it)."""
    return {
        "departments": [
            {"department_id": d, "name": f"Clinic {d}", "specialty": "primary_care", "site": "Main"}
            for d in ("D1", "D2")
        ],
        "providers": [
            {"provider_id": p, "name": f"Dr {p}", "specialty": "primary_care", "department_id": d}
            for p, d in (("P1", "D1"), ("P2", "D2"))
        ],
        "patients": [
            {
                "patient_id": f"X{i}",
                "mrn": f"MRN{i}",
                "first_name": "Ann",
                "last_name": "Lee",
                "birth_date": date(1970 + i, 1, 1),
                "sex": "female",
                "preferred_language": "en",
                "postal_code": "02139",
                "email": f"p{i}@example.org",
                "payer_class": "commercial",
                "portal_active": True,
                "needs_interpreter": False,
                "transport_barrier": False,
            }
            for i in range(4)  # X3 has no appointments
        ],
        "appointments": [appointment(i) for i in range(1, n_appointments + 1)],
        "claims": [
            {
                "claim_id": "C1",
                "appointment_id": "A1",
                "patient_id": "X1",
                "payer_name": "Acme",
                "payer_class": "commercial",
                "submitted_at": D(2026, 6, 3),
                "billed_amount": 200.0,
                "status": "paid",
                "adjudicated_at": D(2026, 6, 20),
                "paid_amount": 150.0,
                "carc_code": "CO-45",
                "is_resubmission": False,
            }
        ],
        "surveys": [
            {
                "survey_id": "S1",
                "appointment_id": "A1",
                "received_at": D(2026, 6, 10),
                "mode": "web",
                "provider_rating": 9,
            }
        ],
        "encounters": [
            {
                "encounter_id": "E1",
                "patient_id": "X2",
                "encounter_class": "inpatient",
                "admitted_at": D(2026, 5, 1),
                "discharged_at": D(2026, 5, 4),
                "discharge_disposition": "home",
            }
        ],
    }


def frames_of(rows: dict[str, list[dict]]) -> dict[str, pl.DataFrame]:
    return {name: contract_frame(name, r) for name, r in rows.items()}


def run(rows, settings, **kw) -> ValidationReport:
    kw.setdefault("data_docs", False)
    return validate_batch(frames_of(rows), settings=settings, as_of=AS_OF, **kw)


def result(report: ValidationReport, name: str) -> ExpectationResult:
    return next(r for r in report.results if r.expectation == name)


# --- The catalogue -------------------------------------------------------------------------------


def test_catalogue_is_data_with_unique_names_and_kahn_categories():
    assert len({c.name for c in CHECKS}) == len(CHECKS)
    assert {c.kahn_category for c in CHECKS} == set(KAHN_CATEGORIES)
    for extract in EXTRACTS.values():
        for column, _target in extract.foreign_keys.items():
            assert f"{extract.name}.{column}.foreign_key" in CHECKS_BY_NAME
        assert f"{extract.name}.{extract.key}.unique" in CHECKS_BY_NAME


def test_importing_expectations_does_not_import_great_expectations():
    code = "import sys, expectations, expectations.runner; print('great_expectations' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_clean_batch_passes_every_check(settings):
    report = run(good_rows(), settings)
    failed = [r.expectation for r in report.results if not r.success]
    assert failed == []
    assert report.row_failures.height == 0
    assert not report.refused
    assert {r.extract for r in report.results} == set(good_rows())


# --- Row-level checks: the offending row is named (extract, line, column), the rest passes ------------

ROW_CASES = [
    # (case id, extract, row index, overrides, expected check, column)
    (
        "unknown_visit_type",
        "appointments",
        4,
        {"visit_type": "walk_in"},
        "appointments.visit_type.allowed_values",
        "visit_type",
    ),
    (
        "unknown_status",
        "appointments",
        5,
        {"status": "arrived"},
        "appointments.status.allowed_values",
        "status",
    ),
    (
        "missing_required",
        "appointments",
        6,
        {"booked_at": None},
        "appointments.booked_at.required",
        "booked_at",
    ),
    (
        "checkout_before_checkin",
        "appointments",
        7,
        {"checkout_at": D(2026, 6, 8, 8)},
        "appointments.checkout_at.after_checkin_at",
        "checkout_at",
    ),
    (
        "booked_after_visit",
        "appointments",
        8,
        {"booked_at": D(2026, 6, 20)},
        "appointments.scheduled_start.after_booked_at",
        "scheduled_start",
    ),
    (
        "completed_in_future",
        "appointments",
        8,
        {
            "scheduled_start": D(2026, 7, 15, 9),
            "booked_at": D(2026, 6, 1),
            "checkin_at": None,
            "roomed_at": None,
            "provider_start_at": None,
            "checkout_at": None,
        },
        "appointments.scheduled_start.completed_not_in_future",
        "scheduled_start",
    ),
    (
        "unknown_patient",
        "appointments",
        10,
        {"patient_id": "X404"},
        "appointments.patient_id.foreign_key",
        "patient_id",
    ),
    (
        "unknown_provider",
        "appointments",
        11,
        {"provider_id": "P404"},
        "appointments.provider_id.foreign_key",
        "provider_id",
    ),
    (
        "unknown_department",
        "appointments",
        12,
        {"department_id": "D404"},
        "appointments.department_id.foreign_key",
        "department_id",
    ),
    (
        "duration_out_of_range",
        "appointments",
        13,
        {"duration_min": 900},
        "appointments.duration_min.range",
        "duration_min",
    ),
    (
        "negative_amount",
        "claims",
        0,
        {"billed_amount": -5.0, "paid_amount": None},
        "claims.billed_amount.range",
        "billed_amount",
    ),
    (
        "paid_above_billed",
        "claims",
        0,
        {"paid_amount": 250.0},
        "claims.paid_amount.not_above_billed",
        "paid_amount",
    ),
    (
        "claim_unknown_appointment",
        "claims",
        0,
        {"appointment_id": "A9999"},
        "claims.appointment_id.foreign_key",
        "appointment_id",
    ),
    (
        "adjudicated_before_submitted",
        "claims",
        0,
        {"adjudicated_at": D(2026, 6, 1)},
        "claims.adjudicated_at.after_submitted_at",
        "adjudicated_at",
    ),
    (
        "survey_for_no_show",
        "surveys",
        0,
        {"appointment_id": "A10"},
        "surveys.appointment_id.visit_happened",
        "appointment_id",
    ),
    (
        "rating_above_10",
        "surveys",
        0,
        {"provider_rating": 11},
        "surveys.provider_rating.range",
        "provider_rating",
    ),
    (
        "age_over_120",
        "patients",
        3,
        {"birth_date": date(1890, 5, 1)},
        "patients.birth_date.age_range",
        "birth_date",
    ),
    (
        "born_in_future",
        "patients",
        3,
        {"birth_date": date(2027, 1, 1)},
        "patients.birth_date.age_range",
        "birth_date",
    ),
    (
        "discharged_before_admitted",
        "encounters",
        0,
        {"discharged_at": D(2026, 4, 1)},
        "encounters.discharged_at.after_admitted_at",
        "discharged_at",
    ),
]


@pytest.mark.parametrize(
    ("extract", "index", "overrides", "check", "column"),
    [case[1:] for case in ROW_CASES],
    ids=[case[0] for case in ROW_CASES],
)
def test_row_check_quarantines_exactly_the_bad_row(settings, extract, index, overrides, check, column):
    rows = good_rows()
    rows[extract][index] = {**rows[extract][index], **overrides}
    report = run(rows, settings)
    failures = report.row_failures
    assert failures.select("extract", "line", "column_name", "expectation").rows() == [
        (extract, index + 2, column, check)
    ]
    res = result(report, check)
    assert not res.success and res.unexpected_count == 1 and res.severity == "row"
    assert res.unexpected_percent == pytest.approx(100 / len(rows[extract]), abs=1e-4)
    assert not report.refused
    assert failures["reason"][0]  # a reason is recorded for the quarantine


def test_duplicate_keys_quarantine_every_copy(settings):
    rows = good_rows()
    rows["appointments"][20] = {**rows["appointments"][20], "appointment_id": "A3"}
    report = run(rows, settings)
    dupes = report.row_failures.filter(pl.col("expectation") == "appointments.appointment_id.unique")
    assert sorted(dupes["line"].to_list()) == [2 + 2, 20 + 2]
    assert result(report, "appointments.appointment_id.unique").examples == ("A3",)


def test_phi_columns_never_give_example_values(settings):
    rows = good_rows()
    rows["patients"][0] = {**rows["patients"][0], "birth_date": date(1850, 1, 1), "postal_code": "ABCDE"}
    report = run(rows, settings, data_docs=True)
    age = result(report, "patients.birth_date.age_range")
    assert age.unexpected_count == 1 and age.examples == ()
    zip_check = result(report, "patients.postal_code.format")
    assert zip_check.unexpected_count == 1 and zip_check.examples == ()
    assert "1850" not in json.dumps(report.to_dict()) and "ABCDE" not in json.dumps(report.to_dict())
    for page in Path(report.data_docs_path).parent.glob("*.html"):
        text = page.read_text()
        assert "1850" not in text and "ABCDE" not in text, page.name
    # the quarantine itself keeps the value (admin-only table), so nothing is lost
    assert report.row_failures.filter(pl.col("column_name") == "birth_date")["value"].to_list() == [
        "1850-01-01"
    ]


# --- Batch-level checks: threshold, refusal, overrides --------------------------------------------


def test_more_than_two_percent_without_provider_refuses_the_batch(settings):
    rows = good_rows(60)
    for i in (3, 5):  # 2 of 60 = 3.3%
        rows["appointments"][i] = {**rows["appointments"][i], "provider_id": None}
    report = run(rows, settings)
    res = result(report, "appointments.provider_id.missing_rate")
    assert (res.unexpected_count, res.element_count, res.success) == (2, 60, False)
    assert report.refused and report.row_failures.height == 0
    message = report.refusal_message()
    assert "appointments.provider_id.missing_rate" in message and "--accept-warnings" in message


def test_one_missing_provider_in_sixty_is_within_threshold(settings):
    rows = good_rows(60)
    rows["appointments"][3] = {**rows["appointments"][3], "provider_id": None}
    assert not run(rows, settings).refused


def test_threshold_override_from_settings(tmp_path):
    rows = good_rows(60)
    for i in (3, 5):
        rows["appointments"][i] = {**rows["appointments"][i], "provider_id": None}
    relaxed = Settings(
        data_dir=tmp_path, expectation_thresholds={"appointments.provider_id.missing_rate": 0.05}
    )
    report = run(rows, relaxed)
    assert not report.refused
    assert result(report, "appointments.provider_id.missing_rate").threshold == 0.05


@pytest.mark.parametrize(
    ("override", "fragment"),
    [
        ({"appointments.provider.missing": 0.1}, "unknown expectation"),
        ({"appointments.status.allowed_values": 0.1}, "row-level"),
        ({"appointments.provider_id.missing_rate": 5}, "between 0 and 1"),
    ],
)
def test_bad_threshold_overrides_are_user_errors(tmp_path, override, fragment):
    with pytest.raises(CarePulseError, match=fragment):
        run(good_rows(), Settings(data_dir=tmp_path, expectation_thresholds=override))


def test_no_show_rate_above_sixty_percent_refuses(settings):
    rows = good_rows(20)
    rows["appointments"] = [
        appointment(i, status="no_show" if i <= 13 else "completed") for i in range(1, 21)
    ]
    rows["surveys"] = []
    rows["claims"] = []
    report = run(rows, settings)
    res = result(report, "appointments.status.no_show_rate")
    assert (res.unexpected_count, res.element_count, res.success) == (13, 20, False)
    assert report.refused


# --- Against the warehouse ----------------------------------------------------------------------------


def _store(engine: sa.Engine, extract: str, rows: list[dict]) -> None:
    frame = contract_frame(extract, rows).drop("_line")
    records = [{**r, "_load_run_id": 1, "_row_hash": 0} for r in frame.to_dicts()]
    with engine.begin() as conn:
        conn.execute(sa.insert(schema.EXTRACT_TABLES[extract]), records)


def test_foreign_keys_resolve_against_the_warehouse(settings, engine):
    _store(engine, "patients", [{**good_rows()["patients"][0], "patient_id": "X77"}])
    rows = good_rows()
    rows["appointments"][4] = {**rows["appointments"][4], "patient_id": "X77"}
    assert run(rows, settings).row_failures.height == 1  # batch only: X77 unknown
    report = run(rows, settings, engine=engine)
    assert report.row_failures.height == 0


def test_survey_for_appointment_completed_in_the_warehouse_passes(settings, sqlite_engine):
    _store(
        sqlite_engine,
        "appointments",
        [appointment(500, status="completed"), appointment(501, status="cancelled")],
    )
    rows = good_rows()
    rows["surveys"] = [
        {"survey_id": "S5", "appointment_id": "A500", "received_at": D(2026, 6, 20), "mode": "web"},
        {"survey_id": "S6", "appointment_id": "A501", "received_at": D(2026, 6, 20), "mode": "web"},
    ]
    report = run(rows, settings, engine=sqlite_engine)
    assert report.row_failures.select("extract", "line", "expectation").rows() == [
        ("surveys", 3, "surveys.appointment_id.visit_happened")
    ]


def test_daily_volume_below_half_of_usual_refuses(settings, engine):
    sqlite_engine = engine  # both backends
    history = [appointment(i) for i in range(1000, 1200)]  # 100 a department over 20 days
    _store(sqlite_engine, "appointments", history)
    rows = good_rows()
    # same window: D1 keeps all 100, D2 sends only 30 (below half its usual)
    rows["appointments"] = [appointment(i) for i in range(1000, 1200) if i % 2 or i < 1060]
    rows["claims"], rows["surveys"] = [], []
    report = run(rows, settings, engine=sqlite_engine)
    res = result(report, "appointments.department_id.daily_volume")
    assert (res.unexpected_count, res.element_count, res.success) == (1, 2, False)
    assert res.examples[0].startswith("D2:")
    assert report.refused
    # the whole batch again: back to the usual volume
    rows["appointments"] = history
    assert result(
        run(rows, settings, engine=sqlite_engine), "appointments.department_id.daily_volume"
    ).success


def test_volume_check_passes_on_first_load(settings, sqlite_engine):
    res = result(run(good_rows(), settings, engine=sqlite_engine), "appointments.department_id.daily_volume")
    assert res.success and res.observed_value == "no earlier loads to compare with"


# --- Persistence, Data Docs and the GX executor ---------------------------------------------------


def test_record_validation_persists_run_and_every_result(settings, engine):
    rows = good_rows()
    rows["surveys"][0] = {**rows["surveys"][0], "provider_rating": 12}
    report = run(rows, settings)
    with engine.begin() as conn:
        vid = record_validation(conn, report, run_id=42)
    with engine.connect() as conn:
        run_row = conn.execute(sa.select(schema.validation_runs)).mappings().one()
        results = (
            conn.execute(
                sa.select(schema.validation_results).where(
                    schema.validation_results.c.validation_run_id == vid
                )
            )
            .mappings()
            .all()
        )
    assert run_row["run_id"] == 42 and run_row["success"] is False and run_row["refused"] is False
    assert len(results) == len(report.results)
    rating = next(r for r in results if r["expectation"] == "surveys.provider_rating.range")
    assert (rating["unexpected_count"], json.loads(rating["examples"]), rating["kahn_category"]) == (
        1,
        ["12"],
        "plausibility",
    )


def test_data_docs_are_rendered_into_the_data_dir(settings):
    rows = good_rows()
    rows["claims"][0] = {**rows["claims"][0], "paid_amount": 999.0}
    report = run(rows, settings, data_docs=True)
    index = settings.data_dir / "data_docs"
    assert report.data_docs_path and report.data_docs_path.startswith(str(index))
    page = (index / report.data_docs_path.split("/")[-2] / "claims.html").read_text()
    assert "expect_column_pair_values_a_to_be_greater_than_b" in page or "greater than" in page
    assert "claims.paid_amount.not_above_billed" in open(report.data_docs_path).read()


def test_gx_executor_agrees_with_polars(settings):
    rows = good_rows()
    for name, index, overrides, *_ in [case[1:] for case in ROW_CASES[:12]]:
        if name == "appointments":
            rows[name][index] = {**rows[name][index], **overrides}
    polars_report = run(rows, settings)
    gx_report = run(rows, settings, executor="gx")

    def counts(report):
        return {r.expectation: r.unexpected_count for r in report.results}

    assert counts(gx_report) == counts(polars_report)
    assert gx_report.row_failures.sort("extract", "line", "expectation").equals(polars_report.row_failures)


def test_rows_referring_to_a_quarantined_row_are_quarantined_too(settings):
    """A claim and a survey for an appointment that itself goes to quarantine must not load dangling."""
    rows = good_rows()
    rows["appointments"][0] = {**rows["appointments"][0], "checkout_at": D(2026, 6, 1, 8)}  # A1, line 2
    report = run(rows, settings)
    assert report.row_failures.select("extract", "line", "expectation").rows() == [
        ("appointments", 2, "appointments.checkout_at.after_checkin_at"),
        ("claims", 2, "claims.appointment_id.foreign_key"),
        ("surveys", 2, "surveys.appointment_id.foreign_key"),
    ]
    assert run(rows, settings, executor="gx").row_failures.equals(report.row_failures)


def test_key_reused_for_another_patient_across_files_is_quarantined(settings, sqlite_engine):
    _store(sqlite_engine, "appointments", [appointment(5)])  # A5 belongs to X2 in the warehouse
    rows = good_rows()
    rows["appointments"][4] = {**rows["appointments"][4], "patient_id": "X1"}  # A5 now claims X1
    rows["appointments"][5] = {**rows["appointments"][5], "duration_min": 25}  # A6: a plain update
    report = run(rows, settings, engine=sqlite_engine)
    assert report.row_failures.select("line", "column_name", "expectation").rows() == [
        (6, "appointment_id", "appointments.appointment_id.same_patient_id_as_stored")
    ]


# --- The catalogue in the docs, the validate command -------------------------------------------------


def test_docs_catalogue_is_in_step_with_the_checks():
    """Regenerate with: python -c 'from carepulse.expectations._checks import catalogue_markdown as c; print(c())'."""
    from pathlib import Path

    from carepulse.expectations._checks import catalogue_markdown

    doc = (Path(__file__).parents[1] / "docs" / "data-quality.md").read_text()
    start, end = "<!-- catalogue:start -->\n", "<!-- catalogue:end -->"
    assert doc[doc.index(start) + len(start) : doc.index(end)] == catalogue_markdown()


def _cli(*args):
    from typer.testing import CliRunner

    from carepulse.cli import app

    return CliRunner().invoke(app, list(args), env={"COLUMNS": "250"})


def test_validate_command_dry_run_prints_and_loads_nothing(synthetic_dir, settings, tmp_path):
    import shutil

    source = Path(shutil.copytree(synthetic_dir, tmp_path / "x", ignore=shutil.ignore_patterns("truth")))
    claims = pl.read_csv(source / "claims.csv", infer_schema=False).with_row_index("_i")
    paid = claims.filter(pl.col("paid_amount").is_not_null())["_i"].head(3)
    claims.with_columns(
        pl.when(pl.col("_i").is_in(paid.implode()))
        .then(pl.lit("99999.5"))
        .otherwise("paid_amount")
        .alias("paid_amount")
    ).drop("_i").write_csv(source / "claims.csv")
    ratings = pl.read_csv(source / "surveys.csv", infer_schema=False)
    ratings.with_columns(pl.lit("12").alias("provider_rating")).head(2).vstack(ratings.slice(2)).write_csv(
        source / "surveys.csv"
    )
    result = _cli("validate", str(source), "--json")
    assert result.exit_code == 0, result.output
    payload = json.loads(result.output)
    paid_check = next(
        r for r in payload["results"] if r["expectation"] == "claims.paid_amount.not_above_billed"
    )
    assert (paid_check["unexpected_count"], paid_check["examples"]) == (3, ["99999.5"])
    assert payload["refused"] is False and payload["rows_to_quarantine"] == 3
    # the contract reader's own quarantine (the out-of-range ratings) is reported too
    assert sum(r["rows"] for r in payload["contract_quarantine"] if r["extract"] == "surveys") == 2
    assert not (settings.data_dir / "warehouse.sqlite").exists() or not sa.inspect(
        sa.create_engine(settings.warehouse_url)
    ).has_table("appointments")
    table = _cli("validate", str(source))
    assert table.exit_code == 0 and "claims.paid_amount.not_above_billed" in table.output


def test_validate_command_exits_non_zero_when_the_batch_would_be_refused(synthetic_dir, settings, tmp_path):
    import shutil

    source = Path(shutil.copytree(synthetic_dir, tmp_path / "x", ignore=shutil.ignore_patterns("truth")))
    frame = pl.read_csv(source / "appointments.csv", infer_schema=False)
    frame.with_columns(pl.lit(None, pl.String).alias("provider_id")).write_csv(source / "appointments.csv")
    # through the real entry point: one error line naming the check, exit code 3
    env = {**os.environ, "CAREPULSE_DATA_DIR": str(settings.data_dir), "COLUMNS": "250"}
    refused = subprocess.run(
        [sys.executable, "-m", "carepulse", "validate", str(source)],
        capture_output=True,
        text=True,
        env=env,
    )
    assert refused.returncode == 3, refused.stderr
    assert "appointments.provider_id.missing_rate" in refused.stdout and "REFUSE" in refused.stdout
    assert refused.stderr.startswith("error: batch refused") and "--accept-warnings" in refused.stderr
    assert _cli("validate", str(source), "--accept-warnings", "--json").exit_code == 0
