"""Downloads cannot run as spreadsheet formulas; the Excel and CSV files hold the table."""

from __future__ import annotations

import csv
import datetime as dt
import io

import openpyxl
import polars as pl
import pytest

from carepulse.dashboard.exports import (
    escape_formula,
    escape_frame,
    export_file_name,
    to_csv_bytes,
    to_excel_bytes,
)

DANGEROUS = ["=1+1", "+SUM(A1:A2)", "-2+3", "@SUM(A1)", "\t=cmd", "\r=cmd", '=HYPERLINK("http://x")']
SAFE = ["Cardiology", "", "a=b", "O'Brien", "1-2", "x@y.org"]


@pytest.mark.parametrize("value", DANGEROUS)
def test_formula_looking_text_is_quoted(value):
    assert escape_formula(value) == "'" + value


@pytest.mark.parametrize("value", SAFE)
def test_ordinary_text_is_unchanged(value):
    assert escape_formula(value) == value


@pytest.mark.parametrize("value", [-3, -2.5, 0, None, dt.date(2026, 1, 1)])
def test_numbers_dates_and_nulls_are_unchanged(value):
    assert escape_formula(value) == value


def test_escaping_does_not_import_streamlit():
    import ast
    import inspect

    import carepulse.dashboard.exports as module

    tree = ast.parse(inspect.getsource(module))
    imported = {
        alias.name
        for node in ast.walk(tree)
        if isinstance(node, (ast.Import, ast.ImportFrom))
        for alias in node.names
    } | {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    assert not any(name and name.startswith("streamlit") for name in imported)


def frame() -> pl.DataFrame:
    return pl.DataFrame(
        {
            "title": [*DANGEROUS, *SAFE],
            "n": list(range(-3, len(DANGEROUS) + len(SAFE) - 3)),
        }
    )


def test_frame_escaping_touches_only_text_columns():
    out = escape_frame(frame())
    assert out["n"].to_list() == frame()["n"].to_list()
    assert out["title"].to_list() == [escape_formula(v) for v in frame()["title"].to_list()]


def test_csv_export_escapes_formulas():
    data = to_csv_bytes(frame()).decode("utf-8-sig")
    rows = list(csv.DictReader(io.StringIO(data, newline="")))
    assert [r["title"] for r in rows] == ["'" + v for v in DANGEROUS] + SAFE
    assert [int(r["n"]) for r in rows] == frame()["n"].to_list()


def test_excel_export_escapes_formulas_and_keeps_numbers():
    book = openpyxl.load_workbook(io.BytesIO(to_excel_bytes(frame(), sheet_name="kpis")))
    sheet = book["kpis"]
    values = list(sheet.iter_rows(values_only=True))
    assert values[0] == ("title", "n")
    read_back = [r[0].replace("_x000D_", "\r") if r[0] else r[0] for r in values[1:]]  # xlsx escapes CR
    assert read_back == ["'" + v for v in DANGEROUS] + SAFE
    assert [r[1] for r in values[1:]] == frame()["n"].to_list()
    assert all(cell.data_type != "f" for row in sheet.iter_rows() for cell in row)


def test_excel_export_handles_dates_nulls_and_nan():
    table = pl.DataFrame(
        {"day": [dt.date(2026, 1, 5), None], "value": [float("nan"), 0.25], "ok": [True, None]}
    )
    sheet = openpyxl.load_workbook(io.BytesIO(to_excel_bytes(table))).active
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[1][0].date() == dt.date(2026, 1, 5)
    assert rows[1][1] is None and rows[2][1] == 0.25
    assert rows[1][2] is True


@pytest.mark.parametrize(
    "stem,expected",
    [
        ("kpis", "kpis.csv"),
        ("../etc/passwd", "etc_passwd.csv"),
        ("a b;c", "a_b_c.csv"),
        ("", "carepulse.csv"),
    ],
)
def test_file_names_are_safe(stem, expected):
    assert export_file_name(stem, "csv") == expected
