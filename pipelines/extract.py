"""Reading one extract file into contract-typed rows, and the rows that break the contract.

:func:`read_extract` is the edge (it opens the file); :func:`~carepulse.pipelines.typed_rows.typed_rows`
(its own module) is a pure function from a
frame of raw strings to ``(typed rows with _line, quarantine rows)``. Every input record ends up in
exactly one of the two. File-level problems (missing file or column, wrong delimiter, not UTF-8,
empty file, broken quoting) raise :class:`~carepulse.errors.ExtractError` naming file, line and
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

from carepulse.contract import EXTRACT_SUFFIXES, EXTRACTS, LOAD_ORDER, Extract
from carepulse.errors import ExtractError
from carepulse.pipelines.typed_rows import typed_rows

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
        raise ExtractError(
            f"folder {source_dir} does not exist; pass the folder that holds the extract files"
        )
    found: dict[str, Path] = {}
    missing = []
    for name in LOAD_ORDER:
        paths = [
            source_dir / f"{name}{suffix}"
            for suffix in EXTRACT_SUFFIXES
            if (source_dir / f"{name}{suffix}").is_file()
        ]
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
        raise ExtractError(
            "the file is empty (0 bytes); export it again with a header line", file=name, line=1
        )
    try:
        raw = pl.read_csv(path, infer_schema=False, empty_string_is_null=False, raise_if_empty=True)
    except pl.exceptions.NoDataError:
        raise ExtractError(
            "the file has no header line; export it again with column names", file=name, line=1
        ) from None
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
    raw = (
        raw.rename({c: c.strip().lower() for c in raw.columns})
        if any(c != c.strip().lower() for c in raw.columns)
        else raw
    )
    expected = raw.height + 1 - (0 if ends_with_newline else 1)
    if raw.height and (newlines != expected or _has_empty_rows(raw)):
        # Quoted newlines or blank lines: find where each record starts with the csv module.
        lines, fields, blank = _record_starts(path)
        if len(lines) != raw.height:
            raise ExtractError(
                "the file's quoting is inconsistent; check quotes around text fields", file=name
            )
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
    except Exception as exc:
        raise ExtractError(
            f"cannot read Parquet ({type(exc).__name__}); export it again", file=path.name
        ) from None
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
    return ExtractError(
        "cannot read the file as comma-separated CSV; check its quoting and delimiter", file=name
    )


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
