"""Formula escaping (issue 16 item 5): leading blanks, line breaks and full-width signs too."""

from __future__ import annotations

import polars as pl
import pytest

from carepulse.dashboard.exports import escape_formula, escape_frame, to_csv_bytes

DANGEROUS = [
    "=1+1",
    " =1+1",
    "   -2+3",
    '\n=HYPERLINK("x")',
    "\r\n@SUM(1)",
    "\t=1",
    "\u00a0+1",
    "\u3000=1",
    "\uff1d1+1",
    "\uff0bcmd",
    "\uff0d1",
    "\uff20SUM(A1)",
    "\t",
    "\r",
]
HARMLESS = ["ok", "a=b", "note: =1", "1-2", "", "  text", "\uff21"]


@pytest.mark.parametrize("value", DANGEROUS)
def test_formula_starts_are_escaped_cell_by_cell_and_column_wise(value):
    assert escape_formula(value) == "'" + value
    assert escape_frame(pl.DataFrame({"v": [value]})).item() == "'" + value


@pytest.mark.parametrize("value", HARMLESS)
def test_other_text_is_left_alone(value):
    assert escape_formula(value) == value
    assert escape_frame(pl.DataFrame({"v": [value]})).item() == value


def test_csv_export_carries_the_escape():
    text = to_csv_bytes(pl.DataFrame({"v": [" =1+1", "\uff1d2"]})).decode("utf-8-sig")
    assert "' =1+1" in text and "'\uff1d2" in text
