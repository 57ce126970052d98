"""Reading one extract file into contract-typed rows, and the rows that break the contract.

:func:`read_extract` is the edge (it opens the file); :func:`typed_rows` is a pure function from a
frame of raw strings to ``(typed rows with _line, quarantine rows)``. Every input record ends up in
exactly one of the two. File-level problems (missing file or column, wrong delimiter, not UTF-8,
empty file, broken quoting) raise :class:`~pipelines.errors.ExtractError` naming file, line and
column; nothing is loaded then. The rules are documented in ``docs/data-contract.md``.
"""

from __future__ import annotations

import csv
import difflib
import hashlib
import io
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from pipelines.contract import EXTRACT_SUFFIXES, EXTRACTS, LOAD_ORDER, Column, Extract
from pipelines.errors import ExtractError

#: Columns of the quarantine rows produced on ingest (the ``quarantine`` table minus run_id).
QUARANTINE_SCHEMA: dict[str, pl.DataType] = {
    "extract": pl.String(),
    "file_name": pl.String(),
    "line": pl.Int64(),
    "column_name": pl.String(),
    "value": pl.String(),
    "reason": pl.String(),
    "expectation": pl.String(),
    "record": pl.String(),
}

TRUE_WORDS = ("true", "t", "1", "yes", "y")
FALSE_WORDS = ("false", "f", "0", "no", "n")
#: Naive timestamp formats accepted (after ``T`` -> space); tried in this order.
DATETIME_FORMATS = (
    "%Y-%m-%d %H:%M:%S%.f",
    "%Y-%m-%d %H:%M",
    "%Y-%m-%d",
    "%m/%d/%Y %H:%M:%S",
    "%m/%d/%Y %H:%M",
    "%m/%d/%Y",
)
#: Timestamps carrying a UTC offset (``Z`` is read as ``+00:00``).
OFFSET_FORMATS = ("%Y-%m-%d %H:%M:%S%.f%#z", "%Y-%m-%d %H:%M%#z")
DATE_FORMATS = ("%Y-%m-%d", "%m/%d/%Y", "%Y/%m/%d")
_CHUNK = 1 << 22
csv.field_size_limit(2**31 - 1)  # the csv module (used to locate records) defaults to 128 KB fields


@dataclass
class ExtractRead:
    """One extract file after reading: typed rows, quarantined rows and what was noticed."""

    extract: str
    path: Path
    sha256: str
    rows_read: int
    frame: pl.DataFrame  # contract columns, typed, + Int64 ``_line``
    quarantine: pl.DataFrame  # QUARANTINE_SCHEMA
    warnings: list[str] = field(default_factory=list)

    @property
    def quarantined_rows(self) -> int:
        return self.quarantine["line"].n_unique() if self.quarantine.height else 0


def find_extract_files(source_dir: Path) -> dict[str, Path]:
    """The top-level file of each extract in ``source_dir`` (required ones must all be there)."""
    source_dir = Path(source_dir)
    if not source_dir.is_dir():
        raise ExtractError(f"folder {source_dir} does not exist; pass the folder that holds the extract files")
    found: dict[str, Path] = {}
    missing = []
    for name in LOAD_ORDER:
        paths = [source_dir / f"{name}{suffix}" for suffix in EXTRACT_SUFFIXES if (source_dir / f"{name}{suffix}").is_file()]
        if len(paths) > 1:
            raise ExtractError(
                f"both {paths[0].name} and {paths[1].name} exist; keep one of them", file=str(paths[0].name)
            )
        if paths:
            found[name] = paths[0]
        elif EXTRACTS[name].required:
            missing.append(name)
    if missing:
        names = ", ".join(f"{m}.csv" for m in missing)
        raise ExtractError(
            f"required extract file(s) missing in {source_dir}: {names}; export them (CSV or Parquet) and run again",
            file=f"{missing[0]}.csv",
        )
    return found


def file_facts(path: Path) -> tuple[str, int, bool]:
    """sha256, number of newline bytes and whether the file ends with a newline (one pass)."""
    digest, newlines, last = hashlib.sha256(), 0, b""
    with open(path, "rb") as fh:
        while chunk := fh.read(_CHUNK):
            digest.update(chunk)
            newlines += chunk.count(b"\n")
            last = chunk[-1:]
    return digest.hexdigest(), newlines, last == b"\n"


def read_extract(path: Path, extract: Extract, *, timezone: str) -> ExtractRead:
    """Read, cast and check one extract file (CSV or Parquet)."""
    path = Path(path)
    sha256, newlines, ends_with_newline = file_facts(path)
    warnings: list[str] = []
    if path.suffix == ".parquet":
        raw = _read_parquet(path, timezone)
    else:
        raw = _read_csv(path, newlines, ends_with_newline, warnings)
    raw = _check_columns(raw, extract, path.name, warnings)
    frame, quarantine = typed_rows(raw, extract, file_name=path.name, timezone=timezone)
    return ExtractRead(extract.name, path, sha256, raw.height, frame, quarantine, warnings)


# --- Reading raw strings -------------------------------------------------------------------------


def _read_csv(path: Path, newlines: int, ends_with_newline: bool, warnings: list[str]) -> pl.DataFrame:
    """Every column as String, plus ``_line`` (where each record starts) and ``_fields`` when known."""
    name = path.name
    if path.stat().st_size == 0:
        raise ExtractError("the file is empty (0 bytes); export it again with a header line", file=name, line=1)
    try:
        raw = pl.read_csv(path, infer_schema=False, empty_string_is_null=False, raise_if_empty=True)
    except pl.exceptions.NoDataError:
        raise ExtractError("the file has no header line; export it again with column names", file=name, line=1) from None
    except pl.exceptions.ComputeError:
        raise _diagnose(path) from None
    if raw.width == 1:
        header = raw.columns[0]
        for sep, label in ((";", "semicolons"), ("\t", "tabs"), ("|", "pipes")):
            if sep in header:
                raise ExtractError(
                    f"the columns are separated by {label}, not commas; export it as comma-separated CSV",
                    file=name,
                    line=1,
                )
    raw = raw.rename({c: c.strip().lower() for c in raw.columns}) if any(c != c.strip().lower() for c in raw.columns) else raw
    expected = raw.height + 1 - (0 if ends_with_newline else 1)
    if raw.height and (newlines != expected or _has_empty_rows(raw)):
        # Quoted newlines or blank lines: find where each record starts with the csv module.
        lines, fields, blank = _record_starts(path)
        if len(lines) != raw.height:
            raise ExtractError("the file's quoting is inconsistent; check quotes around text fields", file=name)
        raw = raw.with_columns(pl.Series("_line", lines, pl.Int64), pl.Series("_fields", fields, pl.Int64))
        if any(blank):
            warnings.append(f"{name}: skipped {sum(blank)} blank line(s)")
            raw = raw.filter(~pl.Series(blank))
    else:
        raw = raw.with_columns(pl.int_range(2, raw.height + 2, dtype=pl.Int64).alias("_line"))
        if raw.height and not ends_with_newline:
            raw = raw.with_columns(
                pl.when(pl.col("_line") == raw.height + 1)
                .then(pl.lit(_last_record_fields(path)))
                .otherwise(None)
                .cast(pl.Int64)
                .alias("_fields")
            )
    return raw


def _has_empty_rows(raw: pl.DataFrame) -> bool:
    """Any record whose fields are all empty (a blank line, or a row of bare commas)."""
    return bool(raw.select(pl.all_horizontal(pl.all().str.len_bytes() == 0).any()).item())


def _read_parquet(path: Path, timezone: str) -> pl.DataFrame:
    """A Parquet extract as strings (its row number, 1-based, stands for the line)."""
    try:
        frame = pl.read_parquet(path)
    except Exception as exc:  # noqa: BLE001 - any reader failure is a user error here
        raise ExtractError(f"cannot read Parquet ({type(exc).__name__}); export it again", file=path.name) from None
    exprs = []
    for name, dtype in frame.schema.items():
        col = pl.col(name)
        if isinstance(dtype, pl.Datetime) and dtype.time_zone:
            col = col.dt.convert_time_zone(timezone).dt.replace_time_zone(None)
        exprs.append(col.cast(pl.String).alias(name.strip().lower()))
    return frame.select(exprs).with_columns(pl.int_range(1, frame.height + 1, dtype=pl.Int64).alias("_line"))


def _record_starts(path: Path) -> tuple[list[int], list[int], list[bool]]:
    """For each record after the header: the line it starts on, its field count, whether it is blank."""
    lines, fields, blank = [], [], []
    with open(path, encoding="utf-8-sig", newline="") as fh:
        reader = csv.reader(fh)
        next(reader, None)
        start = reader.line_num + 1
        for row in reader:
            lines.append(start)
            fields.append(len(row))
            blank.append(len(row) == 0)
            start = reader.line_num + 1
    return lines, fields, blank


def _last_record_fields(path: Path) -> int:
    """Field count of the file's last line (to tell a truncated record)."""
    with open(path, "rb") as fh:
        fh.seek(max(0, path.stat().st_size - 1_000_000))
        tail = fh.read().rsplit(b"\n", 1)[-1]
    row = next(csv.reader(io.StringIO(tail.decode("utf-8", "replace"))), [])
    return len(row)


def _diagnose(path: Path) -> ExtractError:
    """Turn a low-level reader failure into a message that names the line (and column)."""
    name = path.name
    data = path.read_bytes()
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        start = data.rfind(b"\n", 0, exc.start) + 1
        prefix = data[start : exc.start].decode("utf-8", "replace")
        header = next(csv.reader(io.StringIO(data.split(b"\n", 1)[0].decode("utf-8-sig", "replace"))), [])
        col_index = len(next(csv.reader(io.StringIO(prefix)), [""])) - 1
        column = header[col_index].strip().lower() if 0 <= col_index < len(header) else None
        return ExtractError(
            f"the file is not UTF-8 (byte 0x{data[exc.start]:02x}, probably Latin-1/Windows-1252); "
            "re-export it as UTF-8 (e.g. `iconv -f latin1 -t utf-8`)",
            file=name,
            line=line,
            column=column,
        )
    text = data.decode("utf-8-sig")
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    header = next(reader, [])
    start = 2
    try:
        for row in reader:
            if len(row) > len(header):
                return ExtractError(
                    f"the record has {len(row)} fields but the header has {len(header)}; "
                    "quote text that contains commas",
                    file=name,
                    line=start,
                )
            start = reader.line_num + 1
    except csv.Error:
        return ExtractError("a quoted field is never closed; fix the quotes", file=name, line=start)
    if text.count('"') % 2:
        return ExtractError("a quoted field is never closed; fix the quotes", file=name, line=start)
    # Not the reader's own message: it may quote field values (PHI).
    return ExtractError("cannot read the file as comma-separated CSV; check its quoting and delimiter", file=name)


def _check_columns(raw: pl.DataFrame, extract: Extract, file_name: str, warnings: list[str]) -> pl.DataFrame:
    """Every contract column must be present; extra columns are reported and ignored."""
    present = [c for c in raw.columns if not c.startswith("_")]
    missing = [c for c in extract.column_names if c not in present]
    extra = [c for c in present if c not in extract.column_names]
    if missing:
        hint = ""
        close = difflib.get_close_matches(missing[0], extra, n=1)
        if close:
            hint = f" (found {close[0]!r}: was it renamed?)"
        elif extra:
            hint = f" (unexpected columns: {', '.join(extra[:5])})"
        raise ExtractError(
            f"required column {missing[0]!r} is missing{hint}; the header must name every contract column "
            f"(missing: {', '.join(missing)}), see docs/data-contract.md",
            file=file_name,
            line=1,
            column=missing[0],
        )
    if extra:
        warnings.append(f"{file_name}: ignored extra column(s) not in the contract: {', '.join(extra)}")
    return raw


# --- Casting and checking (pure) ----------------------------------------------------------------


def _cleaned(name: str) -> pl.Expr:
    """Trimmed text, empty -> null."""
    s = pl.col(name).str.strip_chars()
    return pl.when(s.str.len_bytes() == 0).then(None).otherwise(s).alias(name)


def _enum_text(s: pl.Expr) -> pl.Expr:
    return s.str.to_lowercase().str.replace_all(r"[\s\-]+", "_")


def _parse(col: Column, s: pl.Expr, timezone: str, *, fast: bool) -> pl.Expr:
    """The typed value of one cleaned column (null where it cannot be read)."""
    if col.dtype == "str":
        return _enum_text(s) if col.allowed and not fast else s
    if col.dtype == "bool":
        words = {w: True for w in TRUE_WORDS} | {w: False for w in FALSE_WORDS}
        return s.str.to_lowercase().replace_strict(words, default=None, return_dtype=pl.Boolean)
    if col.dtype == "int":
        if fast:
            return s.cast(pl.Int64, strict=False)
        f = s.str.replace_all(",", "", literal=True).cast(pl.Float64, strict=False)
        return pl.when(f == f.round(0)).then(f).otherwise(None).cast(pl.Int64, strict=False)
    if col.dtype == "float":
        if fast:
            return s.cast(pl.Float64, strict=False)
        return s.str.replace_all(r"^\$|,", "").cast(pl.Float64, strict=False)
    if col.dtype == "date":
        if fast:
            return s.str.to_date("%Y-%m-%d", strict=False, cache=False)
        t = s.str.slice(0, 10)
        return pl.coalesce([s.str.to_date(f, strict=False) for f in DATE_FORMATS] + [t.str.to_date("%Y-%m-%d", strict=False)])
    if col.dtype == "datetime":
        if fast:  # no "%.f" and no cache: 5x faster on 1M distinct values (fractions go the slow way)
            return s.str.to_datetime("%Y-%m-%d %H:%M:%S", strict=False, time_unit="us", cache=False)
        t = s.str.replace("T", " ", literal=True).str.replace(r"Z$", "+00:00")
        naive = [t.str.to_datetime(f, strict=False, time_unit="us") for f in DATETIME_FORMATS]
        aware = pl.coalesce([t.str.to_datetime(f, strict=False, time_unit="us") for f in OFFSET_FORMATS])
        local = aware.dt.convert_time_zone(timezone).dt.replace_time_zone(None)
        return pl.coalesce([*naive, local])
    raise ValueError(f"unknown dtype {col.dtype}")


def _unreadable_reason(col: Column) -> str:
    return {
        "bool": "not a boolean (use true/false, 1/0, yes/no, Y/N)",
        "int": "not a whole number",
        "float": "not a number",
        "date": "not a date (use YYYY-MM-DD)",
        "datetime": "not a timestamp (use YYYY-MM-DD HH:MM[:SS], optionally with a UTC offset)",
    }[col.dtype]


def _error(col: Column, raw: pl.Expr, value: pl.Expr, extract: Extract) -> pl.Expr:
    """Why this cell breaks the contract (null when it does not)."""
    rule = pl.when(raw.is_not_null() & value.is_null())
    if col.dtype in ("date", "datetime"):
        rule = rule.then(
            pl.when(raw.str.contains(r"^\d{5}(\.\d+)?$"))
            .then(pl.lit("looks like an Excel serial date; export dates as text (YYYY-MM-DD)"))
            .otherwise(pl.lit(_unreadable_reason(col)))
        )
    elif col.dtype != "str":
        rule = rule.then(pl.lit(_unreadable_reason(col)))
    else:
        rule = rule.then(pl.lit("unreadable"))
    if not col.nullable:
        rule = rule.when(value.is_null()).then(pl.lit("required value is missing"))
    if col.allowed:
        rule = rule.when(~value.is_in(list(col.allowed))).then(pl.lit(f"not one of: {', '.join(col.allowed)}"))
    if col.min_value is not None:
        rule = rule.when(value < col.min_value).then(pl.lit(f"below the minimum {col.min_value:g}"))
    if col.max_value is not None:
        rule = rule.when(value > col.max_value).then(pl.lit(f"above the maximum {col.max_value:g}"))
    return rule.otherwise(None)


def _fast(col: Column, raw: pl.Expr) -> pl.Expr:
    """The common spellings, read straight from the raw text (no trimming): cheap on big files."""
    if col.dtype == "str":
        return _cleaned_expr(raw)
    if col.dtype == "bool":
        words = {w: v for v, ws in ((True, TRUE_WORDS), (False, FALSE_WORDS)) for w0 in ws for w in (w0, w0.upper(), w0.title())}
        return raw.replace_strict(words, default=None, return_dtype=pl.Boolean)
    return _parse(col, raw, "", fast=True)


def _cleaned_expr(raw: pl.Expr) -> pl.Expr:
    s = raw.str.strip_chars()
    return pl.when(s.str.len_bytes() == 0).then(None).otherwise(s)


def _maybe_failed(col: Column, raw: pl.Expr, value: pl.Expr) -> pl.Expr | None:
    """True where the cell may break the contract (a cheap superset; reasons are computed after)."""
    parts = []
    if col.dtype != "str":
        parts.append(value.is_null() & (raw.str.len_bytes() > 0))
    if not col.nullable:
        parts.append(value.is_null())
    if col.allowed:
        parts.append((~value.is_in(list(col.allowed))).fill_null(False))
    if col.min_value is not None:
        parts.append((value < col.min_value).fill_null(False))
    if col.max_value is not None:
        parts.append((value > col.max_value).fill_null(False))
    return pl.any_horizontal(parts) if parts else None


def typed_rows(
    raw: pl.DataFrame, extract: Extract, *, file_name: str, timezone: str
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Split raw string records into contract-typed rows (+ ``_line``) and quarantine rows.

    Three passes, so that big clean files cost little: a fast parse of the usual spellings; a full
    parse (trim, case, other formats) of only the columns where the fast one failed somewhere; and
    the reasons, computed for the suspicious rows only.
    """
    names = extract.column_names
    cols = {c: extract.column(c) for c in names}
    parsed = raw.select(*[_fast(cols[c], pl.col(c)).alias(c) for c in names], pl.col("_line"))
    unread = [
        ((~pl.col(c).is_in(list(col.allowed))).fill_null(False) if col.allowed else pl.col(c).is_null()).any().alias(c)
        if col.dtype == "str"
        else (pl.col(c).is_null() & (raw[c].str.len_bytes() > 0)).any().alias(c)
        for c, col in cols.items()
        if col.dtype != "str" or col.allowed
    ]
    slow = [c for c, failed in parsed.select(unread).row(0, named=True).items() if failed] if unread else []
    if slow:
        parsed = parsed.with_columns(
            raw.select(*[_parse(cols[c], _cleaned(c), timezone, fast=False).alias(c) for c in slow])
        )
    key = extract.key
    dup = parsed[key].is_duplicated() & parsed[key].is_not_null()
    checks = [m for c in names if (m := _maybe_failed(cols[c], raw[c], parsed[c])) is not None]
    suspect = parsed.select(pl.any_horizontal(checks) if checks else pl.lit(False)).to_series() | dup
    n_fields = len([c for c in raw.columns if not c.startswith("_")])
    if "_fields" in raw.columns:
        suspect = suspect | (raw["_fields"].is_not_null() & (raw["_fields"] < n_fields))
    if not suspect.any():
        return parsed, pl.DataFrame(schema=QUARANTINE_SCHEMA)

    bad_raw, bad_parsed, bad_dup = raw.filter(suspect), parsed.filter(suspect), dup.filter(suspect)
    cleaned = bad_raw.select(*[_cleaned(c).alias(f"raw:{c}") for c in names])
    errors = pl.concat([cleaned, bad_parsed], how="horizontal").select(
        "_line", *[_error(cols[c], pl.col(f"raw:{c}"), pl.col(c), extract).alias(c) for c in names]
    )
    errors = errors.with_columns(
        pl.when(pl.lit(bad_dup)).then(pl.lit(f"duplicate {key} within the file")).otherwise(pl.col(key)).alias(key)
    )
    if "_fields" in bad_raw.columns:
        short = bad_raw["_fields"].is_not_null() & (bad_raw["_fields"] < n_fields)
        errors = errors.with_columns(
            pl.when(pl.lit(short)).then(pl.lit(f"truncated record: fewer fields than the header's {n_fields}"))
            .otherwise(None).alias("_record")
        )
    err_cols = [c for c in errors.columns if c != "_line"]
    errors = errors.filter(pl.any_horizontal(pl.col(err_cols).is_not_null()))
    if errors.is_empty():
        return parsed, pl.DataFrame(schema=QUARANTINE_SCHEMA)
    record_cols = [c for c in raw.columns if not c.startswith("_")]
    bad_raw = bad_raw.join(errors.select("_line"), on="_line", how="semi")
    records = bad_raw.select("_line", pl.struct(record_cols).struct.json_encode().alias("record"))
    long = (
        errors.unpivot(index="_line", on=err_cols, variable_name="column_name", value_name="reason")
        .drop_nulls("reason")
        .join(
            bad_raw.select("_line", *record_cols).unpivot(index="_line", variable_name="column_name", value_name="value"),
            on=["_line", "column_name"],
            how="left",
        )
        .join(records, on="_line", how="left")
    )
    quarantine = long.select(
        pl.lit(extract.name).alias("extract"),
        pl.lit(file_name).alias("file_name"),
        pl.col("_line").alias("line"),
        pl.when(pl.col("column_name") == "_record").then(None).otherwise(pl.col("column_name")).alias("column_name"),
        pl.col("value"),
        pl.col("reason"),
        pl.lit("contract").alias("expectation"),
        pl.col("record"),
    ).sort("line", "column_name")
    return parsed.join(errors.select("_line"), on="_line", how="anti"), quarantine
