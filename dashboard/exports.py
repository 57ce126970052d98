"""Table downloads (CSV and Excel) that a spreadsheet cannot run as formulas.

Pure functions, no Streamlit: the pages hand the bytes to a download button. A cell whose text
starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return is prefixed with a single quote
(OWASP "CSV injection"), so Excel, LibreOffice and Google Sheets show it as text. The same holds
after leading spaces and line breaks (some importers trim them), and for the full-width forms
``＝＋－＠`` (which spreadsheets in East Asian locales read as the ASCII ones).
"""

from __future__ import annotations

import io

import polars as pl

#: Leading characters that make a spreadsheet treat a cell as a formula (ASCII and full-width).
FORMULA_PREFIXES: tuple[str, ...] = ("=", "+", "-", "@", "\t", "\r", "\uff1d", "\uff0b", "\uff0d", "\uff20")
#: What may come before a formula character and still be trimmed by an importer.
_LEADING_BLANKS = " \t\r\n\u00a0\u3000"
_FORMULA_PATTERN = "^[ \\t\\r\\n\u00a0\u3000]*[=+\\-@\uff1d\uff0b\uff0d\uff20]|^[\\t\\r]"

CSV_MIME = "text/csv"
EXCEL_MIME = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def escape_formula(value: object) -> object:
    """``value`` with a leading single quote when it is text that would start a formula."""
    if isinstance(value, str) and (
        value.startswith(FORMULA_PREFIXES) or value.lstrip(_LEADING_BLANKS).startswith(FORMULA_PREFIXES)
    ):
        return "'" + value
    return value


def escape_frame(frame: pl.DataFrame) -> pl.DataFrame:
    """Every text cell escaped; other columns unchanged (numbers stay numbers)."""
    exprs = [
        pl.when(pl.col(name).str.contains(_FORMULA_PATTERN))
        .then(pl.lit("'") + pl.col(name))
        .otherwise(pl.col(name))
        .alias(name)
        for name, dtype in frame.schema.items()
        if dtype == pl.String()
    ]
    return frame.with_columns(exprs) if exprs else frame


def _flat(frame: pl.DataFrame) -> pl.DataFrame:
    """Nested and object columns as text, so both writers accept any computed frame."""
    exprs = [
        pl.col(name).cast(pl.String)
        if isinstance(dtype, (pl.List, pl.Struct, pl.Array, pl.Categorical, pl.Enum))
        else pl.col(name)
        for name, dtype in frame.schema.items()
    ]
    return frame.select(exprs)


def to_csv_bytes(frame: pl.DataFrame) -> bytes:
    """UTF-8 CSV (with a byte-order mark so Excel reads accents) of the escaped frame."""
    return b"\xef\xbb\xbf" + escape_frame(_flat(frame)).write_csv().encode("utf-8")


def to_excel_bytes(frame: pl.DataFrame, sheet_name: str = "data") -> bytes:
    """An .xlsx workbook of the escaped frame, written with formulas and URLs off."""
    import xlsxwriter

    frame = escape_frame(_flat(frame))
    buffer = io.BytesIO()
    workbook = xlsxwriter.Workbook(
        buffer,
        {
            "in_memory": True,
            "strings_to_formulas": False,
            "strings_to_urls": False,
            "strings_to_numbers": False,
        },
    )
    sheet = workbook.add_worksheet(sheet_name[:31] or "data")
    bold = workbook.add_format({"bold": True})
    date_fmt = workbook.add_format({"num_format": "yyyy-mm-dd"})
    datetime_fmt = workbook.add_format({"num_format": "yyyy-mm-dd hh:mm"})
    for col, name in enumerate(frame.columns):
        sheet.write_string(0, col, name, bold)
        dtype = frame.schema[name]
        for row, value in enumerate(frame.get_column(name).to_list(), start=1):
            if value is None:
                continue
            if dtype == pl.String():
                sheet.write_string(row, col, value)
            elif dtype == pl.Boolean():
                sheet.write_boolean(row, col, value)
            elif dtype == pl.Date():
                sheet.write_datetime(row, col, value, date_fmt)
            elif isinstance(dtype, pl.Datetime):
                sheet.write_datetime(row, col, value.replace(tzinfo=None), datetime_fmt)
            elif dtype.is_numeric():
                if value != value or value in (float("inf"), float("-inf")):  # NaN / inf: not valid in xlsx
                    continue
                sheet.write_number(row, col, value)
            else:
                sheet.write_string(row, col, str(escape_formula(str(value))))
    sheet.freeze_panes(1, 0)
    workbook.close()
    return buffer.getvalue()


def export_file_name(stem: str, suffix: str) -> str:
    """A safe file name: letters, digits, dash and underscore only."""
    safe = "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in stem).strip("_") or "carepulse"
    return f"{safe}.{suffix}"
