"""File-level bad input: a clear message naming file, line and column; nothing lost; nothing half-loaded.

Each case breaks one file of the small base health system (``tests/corpus/files/base``) and loads it
on top of a warehouse that already holds the base load. Either the load fails with an
:class:`ExtractError` naming where (and the warehouse is unchanged), or it loads and every row of the
broken file is loaded or quarantined, exactly. (Content-level cases are in ``test_bad_content.py``.)
"""

from __future__ import annotations

import codecs
import datetime as dt
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import polars as pl
import pytest
import sqlalchemy as sa

from carepulse import schema, warehouse
from carepulse.contract import EXTRACTS
from carepulse.errors import ExtractError
from carepulse.pipelines.ingest import ingest
from carepulse.settings import Settings

CORPUS = Path(__file__).parent / "corpus" / "files"
BASE = CORPUS / "base"


def _lines(d: Path, name: str) -> list[str]:
    return (d / f"{name}.csv").read_text().splitlines()


def _write(d: Path, name: str, lines: list[str], ending: str = "\n", final: bool = True) -> None:
    (d / f"{name}.csv").write_bytes((ending.join(lines) + (ending if final else "")).encode())


def _set(d: Path, name: str, key: str, column: str, value: str) -> None:
    """Set one field of the row whose first field is ``key`` (fields without commas only)."""
    lines = _lines(d, name)
    header = lines[0].split(",")
    out = []
    for line in lines:
        fields = line.split(",")
        if fields[0] == key:
            fields[header.index(column)] = value
        out.append(",".join(fields))
    _write(d, name, out)


def _append(d: Path, name: str, *rows: str) -> None:
    with open(d / f"{name}.csv", "a") as fh:
        fh.write("".join(r + "\n" for r in rows))


def _drop_column(d: Path, name: str, column: str) -> None:
    lines = _lines(d, name)
    i = lines[0].split(",").index(column)
    _write(d, name, [",".join(f for j, f in enumerate(line.split(",")) if j != i) for line in lines])


A5 = (
    "A005,PT001,D01,P01,annual,in_person,2026-04-01 09:00:00,2026-05-08 09:00:00,30,{status},,,,sms,true,,,,,"
)


# --- The cases ---------------------------------------------------------------------------------


def missing_file(d):
    (d / "providers.csv").unlink()


def missing_column(d):
    _drop_column(d, "appointments", "status")


def renamed_column(d):
    lines = _lines(d, "appointments")
    _write(d, "appointments", [lines[0].replace("appointment_id", "appt_id", 1), *lines[1:]])


def extra_columns(d):
    lines = _lines(d, "appointments")
    _write(d, "appointments", [lines[0] + ",notes,room", *(line + ",n,r" for line in lines[1:])])


def semicolon_delimiter(d):
    _write(d, "appointments", [line.replace(",", ";") for line in _lines(d, "appointments")])


def utf8_bom(d):
    (d / "patients.csv").write_bytes(codecs.BOM_UTF8 + (d / "patients.csv").read_bytes())


def latin1_bytes(d):
    data = (d / "patients.csv").read_bytes().replace(b"Bruno", "Jos\u00e9".encode("latin-1"))
    (d / "patients.csv").write_bytes(data)


def quoted_newlines(d):
    lines = _lines(d, "appointments")
    lines[4] = lines[4].replace("schedule conflict", '"schedule\nconflict, called twice"')
    _write(d, "appointments", [*lines, A5.format(status="bogus")])


def blank_lines(d):
    lines = _lines(d, "appointments")
    _write(d, "appointments", [*lines[:3], "", *lines[3:], "", A5.format(status="bogus")])


def header_only(d):
    _write(d, "surveys", _lines(d, "surveys")[:1])


def empty_file(d):
    (d / "surveys.csv").write_bytes(b"")


def truncated_last_line(d):
    lines = _lines(d, "appointments")
    _write(d, "appointments", [*lines[:-1], lines[-1][:60]], final=False)


def duplicate_keys(d):
    lines = _lines(d, "appointments")
    _write(d, "appointments", [*lines, lines[2].replace("follow_up", "new")])


def mixed_date_formats(d):
    _set(d, "appointments", "A001", "booked_at", "04/01/2026 09:00")
    _set(d, "appointments", "A002", "booked_at", "2026-04-10T14:00:00")
    _set(d, "appointments", "A003", "booked_at", "2026-04-22 09:15")
    _set(d, "patients", "PT003", "birth_date", "07/15/1999")


def excel_serial_dates(d):
    _set(d, "patients", "PT002", "birth_date", "20423")


def non_numeric_amounts(d):
    _set(d, "claims", "C001", "billed_amount", "$180.00")
    _set(d, "claims", "C002", "billed_amount", "N/A")


def huge_field(d):
    _set(d, "appointments", "A004", "cancel_reason", "x" * 10_000_000)


def wrong_boolean_spelling(d):
    _set(d, "appointments", "A001", "insurance_verified", "ture")
    _set(d, "appointments", "A002", "insurance_verified", "Yes")
    _set(d, "appointments", "A003", "insurance_verified", "N")


def crlf_line_endings(d):
    _write(d, "appointments", _lines(d, "appointments"), ending="\r\n")


def too_many_fields(d):
    _set(d, "appointments", "A004", "cancel_reason", "schedule, conflict")


def unterminated_quote(d):
    _set(d, "appointments", "A004", "cancel_reason", '"schedule conflict')


def csv_and_parquet_both(d):
    pl.DataFrame({"x": [1]}).write_parquet(d / "surveys.parquet")


def corrupt_parquet(d):
    (d / "surveys.csv").unlink()
    (d / "surveys.parquet").write_bytes(b"PAR1 this is not parquet")


def unknown_enum_case_and_spaces(d):
    _set(d, "appointments", "A001", "status", " Completed ")
    _set(d, "appointments", "A004", "status", "CANCELLED")
    _set(d, "appointments", "A002", "visit_type", "consult")


@dataclass(frozen=True)
class Fails:
    """The load must fail naming this file (and line / column where given); nothing changes."""

    file: str
    line: int | None = None
    column: str | None = None
    says: str = ""


@dataclass(frozen=True)
class Loads:
    """The load succeeds; the file's rows split into loaded and quarantined (at these lines/columns)."""

    extract: str
    rows: int
    quarantined: tuple[tuple[int, str | None, str], ...] = ()  # (line, column, part of the reason)
    warning: str = ""
    check: Callable[[sa.Engine], None] | None = None


def _check_mixed_dates(engine):
    appts = {
        r["appointment_id"]: r["booked_at"]
        for r in warehouse.read_table(engine, "appointments").iter_rows(named=True)
    }
    assert appts["A001"] == dt.datetime(2026, 4, 1, 9) and appts["A002"] == dt.datetime(2026, 4, 10, 14)
    births = dict(warehouse.read_table(engine, "patients", ["patient_id", "birth_date"]).iter_rows())
    assert births["PT003"] == dt.date(1999, 7, 15)


def _check_amounts(engine):
    billed = dict(warehouse.read_table(engine, "claims", ["claim_id", "billed_amount"]).iter_rows())
    assert billed == {"C001": 180.0, "C002": 320.5}  # C001 read "$180.00"; C002 kept its earlier value


def _check_huge(engine):
    with engine.connect() as conn:
        length = conn.execute(
            sa.text("SELECT length(cancel_reason) FROM appointments WHERE appointment_id = 'A004'")
        ).scalar()
    assert length == 10_000_000


def _check_booleans(engine):
    verified = dict(
        warehouse.read_table(engine, "appointments", ["appointment_id", "insurance_verified"]).iter_rows()
    )
    assert (verified["A002"], verified["A003"]) == (True, False)


def _check_crlf(engine):
    refs = dict(warehouse.read_table(engine, "appointments", ["appointment_id", "referral_id"]).iter_rows())
    assert refs["A003"] == "R001" and refs["A001"] is None


def _check_quoted(engine):
    reasons = dict(
        warehouse.read_table(engine, "appointments", ["appointment_id", "cancel_reason"]).iter_rows()
    )
    assert reasons["A004"] == "schedule\nconflict, called twice"


def _check_enums(engine):
    status = dict(warehouse.read_table(engine, "appointments", ["appointment_id", "status"]).iter_rows())
    assert (status["A001"], status["A004"]) == ("completed", "cancelled")


CASES = {
    "missing_file": (missing_file, Fails("providers.csv", says="missing")),
    "missing_column": (missing_column, Fails("appointments.csv", 1, "status", "missing")),
    "renamed_column": (
        renamed_column,
        Fails("appointments.csv", 1, "appointment_id", "'appt_id': was it renamed"),
    ),
    "extra_columns": (extra_columns, Loads("appointments", 4, warning="notes, room")),
    "semicolon_delimiter": (semicolon_delimiter, Fails("appointments.csv", 1, says="semicolons")),
    "utf8_bom": (utf8_bom, Loads("patients", 3)),
    "latin1_bytes": (latin1_bytes, Fails("patients.csv", 3, "first_name", "not UTF-8")),
    "quoted_newlines": (
        quoted_newlines,
        Loads("appointments", 5, ((7, "status", "not one of"),), check=_check_quoted),
    ),
    "blank_lines": (
        blank_lines,
        Loads("appointments", 5, ((8, "status", "not one of"),), warning="2 blank line"),
    ),
    "header_only": (header_only, Loads("surveys", 0)),
    "empty_file": (empty_file, Fails("surveys.csv", 1, says="empty")),
    "truncated_last_line": (truncated_last_line, Loads("appointments", 4, ((5, None, "truncated record"),))),
    "duplicate_keys": (
        duplicate_keys,
        Loads("appointments", 5, ((3, "appointment_id", "duplicate"), (6, "appointment_id", "duplicate"))),
    ),
    "mixed_date_formats": (mixed_date_formats, Loads("appointments", 4, check=_check_mixed_dates)),
    "excel_serial_dates": (
        excel_serial_dates,
        Loads("patients", 3, ((3, "birth_date", "Excel serial date"),)),
    ),
    "non_numeric_amounts": (
        non_numeric_amounts,
        Loads("claims", 2, ((3, "billed_amount", "not a number"),), check=_check_amounts),
    ),
    "huge_field_10mb": (huge_field, Loads("appointments", 4, check=_check_huge)),
    "wrong_boolean_spelling": (
        wrong_boolean_spelling,
        Loads("appointments", 4, ((2, "insurance_verified", "not a boolean"),), check=_check_booleans),
    ),
    "crlf_line_endings": (crlf_line_endings, Loads("appointments", 4, check=_check_crlf)),
    "too_many_fields": (
        too_many_fields,
        Fails("appointments.csv", 5, says="quote text that contains commas"),
    ),
    "unterminated_quote": (unterminated_quote, Fails("appointments.csv", 5, says="never closed")),
    "csv_and_parquet_both": (csv_and_parquet_both, Fails("surveys.csv", says="keep one")),
    "corrupt_parquet": (corrupt_parquet, Fails("surveys.parquet", says="cannot read Parquet")),
    "enum_case_and_unknown_code": (
        unknown_enum_case_and_spaces,
        Loads("appointments", 4, ((3, "visit_type", "not one of"),), check=_check_enums),
    ),
}


@pytest.fixture(scope="module")
def base_warehouse(tmp_path_factory) -> Path:
    """A SQLite warehouse holding the base load, built once; each test works on a copy."""
    data = tmp_path_factory.mktemp("base-warehouse")
    settings = Settings(data_dir=data, database_url=f"sqlite:///{data / 'warehouse.sqlite'}")
    engine = warehouse.make_engine(settings)
    ingest(BASE, engine=engine, settings=settings)
    engine.dispose()
    return data / "warehouse.sqlite"


def _content(engine) -> dict[str, list]:
    with engine.connect() as conn:
        return {
            name: sorted(map(tuple, conn.execute(sa.select(schema.metadata.tables[name])).all()), key=repr)
            for name in [*EXTRACTS, "quarantine"]
        }


@pytest.mark.parametrize("case", list(CASES))
def test_bad_file(case, base_warehouse, settings, tmp_path):
    breaker, expected = CASES[case]
    source = Path(shutil.copytree(BASE, tmp_path / "extracts"))
    breaker(source)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(base_warehouse, settings.data_dir / "warehouse.sqlite")
    engine = warehouse.make_engine(settings)
    before = _content(engine)

    if isinstance(expected, Fails):
        with pytest.raises(ExtractError) as failure:
            ingest(source, engine=engine, settings=settings)
        error = failure.value
        message = str(error)
        assert error.file == expected.file and f"file {expected.file}" in message
        assert expected.says in message
        if expected.line is not None:
            assert error.line == expected.line and f"line {expected.line}" in message
        if expected.column is not None:
            assert error.column == expected.column and f"column {expected.column}" in message
        assert "\n" not in message and "Jos" not in message and "Bruno" not in message  # one line, no PHI
        assert _content(engine) == before
        run = warehouse.read_table(engine, "load_runs").sort("run_id").row(-1, named=True)
        assert (run["status"], run["message"]) == ("failed", message)
        return

    summary = ingest(source, engine=engine, settings=settings)
    f = {f.extract: f for f in summary.files}[expected.extract]
    assert f.rows_read == expected.rows
    assert f.inserted + f.updated + f.unchanged + f.quarantined == f.rows_read
    for other in summary.files:
        assert other.inserted + other.updated + other.unchanged + other.quarantined == other.rows_read
    quarantine = warehouse.read_table(engine, "quarantine").filter(pl.col("run_id") == summary.run_id)
    assert f.quarantined == len({line for line, _, _ in expected.quarantined})
    assert quarantine.height >= len(expected.quarantined)
    for line, column, reason in expected.quarantined:
        match = quarantine.filter(
            (pl.col("line") == line)
            & (pl.col("column_name").is_null() if column is None else pl.col("column_name") == column)
            & pl.col("reason").str.contains(reason, literal=True)
        )
        assert match.height == 1, (
            line,
            column,
            reason,
            quarantine.select("line", "column_name", "reason").rows(),
        )
    assert set(quarantine["file_name"]) <= {f.file_name}
    if expected.warning:
        assert any(expected.warning in w for w in summary.warnings), summary.warnings
    if expected.check:
        expected.check(engine)
