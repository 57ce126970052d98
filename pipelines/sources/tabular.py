"""Apply a source profile to a site's CSV/Parquet files: contract-shaped raw frames, then typed rows.

The edge reader for profiled exports. Each contract extract the profile supplies becomes a frame of
raw strings with every contract column (renamed, constant, derived, value-mapped; absent nullable
columns as nulls) and the source ``_line`` of each row, and then goes through the same
:func:`~carepulse.pipelines.typed_rows.typed_rows` as a contract file: so quarantine, expectations
and the one-transaction load behave exactly as for ``<extract>.csv`` folders.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import polars as pl

from carepulse.contract import EXTRACTS, LOAD_ORDER, Column, Extract
from carepulse.errors import ExtractError
from carepulse.pipelines import extract as extract_files
from carepulse.pipelines.extract import ExtractRead
from carepulse.pipelines.sources.profile import (
    Coalesce,
    Concat,
    DateOnly,
    DateTime,
    Derivation,
    ExtractMapping,
    MinutesBetween,
    Prefix,
    SourceProfile,
)
from carepulse.pipelines.typed_rows import _parse, typed_rows

_ISO = "%Y-%m-%d %H:%M:%S"
_AS_DATETIME = Column("_t", "datetime")


def find_source_file(source_dir: Path, pattern: str, key: str) -> Path:
    """The one file of ``source_dir`` matching ``pattern`` (an error naming the profile key otherwise)."""
    source_dir = Path(source_dir)
    if not source_dir.is_dir():
        raise ExtractError(f"folder {source_dir} does not exist; pass the folder that holds the export")
    matches = sorted(p for p in source_dir.glob(pattern) if p.is_file())
    if not matches:
        raise ExtractError(f"{key}: no file in {source_dir} matches {pattern!r}", file=pattern)
    if len(matches) > 1:
        names = ", ".join(p.name for p in matches[:5])
        raise ExtractError(
            f"{key}: {pattern!r} matches several files ({names}); make it match one", file=pattern
        )
    return matches[0]


def read_source_file(path: Path, delimiter: str, warnings: list[str]) -> pl.DataFrame:
    """A source file as strings with lower-cased header names and ``_line`` (the record's first line)."""
    if path.suffix == ".parquet":
        return extract_files._read_parquet(path, "UTC")
    if delimiter == ",":
        _sha, newlines, ends = extract_files.file_facts(path)
        return extract_files._read_csv(path, newlines, ends, warnings)
    raw = pl.read_csv(path, infer_schema=False, separator=delimiter, empty_string_is_null=False)
    raw = raw.rename({c: c.strip().lower() for c in raw.columns})
    return raw.with_columns(pl.int_range(2, raw.height + 2, dtype=pl.Int64).alias("_line"))


def _cleaned(name: str) -> pl.Expr:
    s = pl.col(name.lower()).str.strip_chars()
    return pl.when(s.str.len_bytes() == 0).then(None).otherwise(s)


def _timestamp(s: pl.Expr) -> pl.Expr:
    return _parse(_AS_DATETIME, s, "UTC", fast=False)


def _source(column: str, mapping: ExtractMapping) -> pl.Expr:
    """A source column, trimmed, re-rendered as ISO text when the profile gives its date format."""
    s = _cleaned(column)
    fmt = mapping.date_formats.get(column)
    if fmt:
        parsed = s.str.strptime(pl.Datetime("us"), fmt, strict=False).dt.strftime(_ISO)
        s = pl.coalesce(parsed, s)  # unreadable: kept as is, so typed_rows quarantines it with its value
    return s


def _derive(d: Derivation, mapping: ExtractMapping) -> pl.Expr:
    if isinstance(d, Concat):
        return pl.concat_str([_source(c, mapping) for c in d.columns], separator=d.separator)
    if isinstance(d, Coalesce):
        return pl.coalesce([_source(c, mapping) for c in d.columns])
    if isinstance(d, DateTime):
        return pl.concat_str(
            [_source(d.date, mapping).str.slice(0, 10), _source(d.time, mapping)], separator=" "
        )
    if isinstance(d, MinutesBetween):
        minutes = (
            _timestamp(_source(d.end, mapping)) - _timestamp(_source(d.start, mapping))
        ).dt.total_minutes()
        return minutes.cast(pl.String)
    if isinstance(d, DateOnly):
        return _timestamp(_source(d.column, mapping)).dt.strftime("%Y-%m-%d")
    if isinstance(d, Prefix):
        return pl.concat_str([pl.lit(d.prefix), _source(d.column, mapping)])
    raise TypeError(f"unknown derivation {d!r}")  # pragma: no cover - the schema admits only the above


def _shift_zone(s: pl.Expr, source_tz: str, site_tz: str) -> pl.Expr:
    """Naive source wall time in ``source_tz`` -> naive site wall time (unreadable values kept as is)."""
    moved = (
        _timestamp(s)
        .dt.replace_time_zone(source_tz, ambiguous="earliest", non_existent="null")
        .dt.convert_time_zone(site_tz)
        .dt.replace_time_zone(None)
        .dt.strftime(_ISO)
    )
    aware = s.str.contains(r"(Z|[+-]\d\d:?\d\d)$")
    return pl.when(aware).then(s).otherwise(pl.coalesce(moved, s))


def contract_frame(
    raw: pl.DataFrame,
    extract: Extract,
    mapping: ExtractMapping,
    *,
    file_name: str,
    source_tz: str | None,
    site_tz: str,
) -> pl.DataFrame:
    """Every contract column of ``extract`` as raw text (plus ``_line``), filled as the profile says."""
    present = set(raw.columns)
    for column in sorted(mapping.source_columns()):
        if column.lower() not in present:
            raise ExtractError(
                f"the profile reads column {column!r}, which the file does not have "
                f"(columns: {', '.join(c for c in raw.columns if not c.startswith('_'))[:300]})",
                file=file_name,
                line=1,
                column=column,
            )
    exprs = []
    for col in extract.columns:
        if col.name in mapping.columns:
            e = _source(mapping.columns[col.name], mapping)
        elif col.name in mapping.constants:
            e = pl.lit(mapping.constants[col.name], pl.String)
        elif col.name in mapping.derived:
            e = _derive(mapping.derived[col.name], mapping)
        else:
            e = pl.lit(None, pl.String)
        if col.name in mapping.values:
            e = e.replace(mapping.values[col.name])  # unmapped codes pass through (and are checked)
        if col.dtype == "datetime" and source_tz and source_tz != site_tz:
            e = _shift_zone(e, source_tz, site_tz)
        exprs.append(e.alias(col.name))
    extra = [pl.col("_line")]
    if "_fields" in present:  # a short source record stays a truncated record (0 fields < any width)
        width = len([c for c in raw.columns if not c.startswith("_")])
        extra.append(
            pl.when(pl.col("_fields") < width).then(0).otherwise(None).cast(pl.Int64).alias("_fields")
        )
    shaped = raw.select(*exprs, *extra)
    if mapping.unique:
        shaped = shaped.unique(subset=[extract.key], keep="last", maintain_order=True)
    return shaped


def profiled_raw_frames(
    source_dir: Path | str, profile: SourceProfile, *, timezone: str
) -> Iterator[tuple[str, pl.DataFrame, Path, list[str]]]:
    """For each extract the profile supplies (load order): name, raw contract frame, file, warnings."""
    cache: dict[Path, tuple[pl.DataFrame, list[str]]] = {}
    for name in LOAD_ORDER:
        mapping = profile.extracts.get(name)
        if mapping is None:
            continue
        path = find_source_file(Path(source_dir), mapping.file, f"extracts.{name}.file")
        if path not in cache:
            warnings: list[str] = []
            cache[path] = (read_source_file(path, mapping.delimiter, warnings), warnings)
        raw, warnings = cache[path]
        shaped = contract_frame(
            raw,
            EXTRACTS[name],
            mapping,
            file_name=path.name,
            source_tz=profile.source_timezone,
            site_tz=timezone,
        )
        yield name, shaped, path, warnings


def read_profiled(source_dir: Path | str, profile: SourceProfile, *, timezone: str) -> dict[str, ExtractRead]:
    """Every extract a profiled export supplies, typed and checked like a contract file."""
    reads: dict[str, ExtractRead] = {}
    seen_warnings: set[str] = set()
    for name, raw, path, warnings in profiled_raw_frames(source_dir, profile, timezone=timezone):
        frame, quarantine = typed_rows(raw, EXTRACTS[name], file_name=path.name, timezone=timezone)
        sha256 = extract_files.file_facts(path)[0]
        fresh = [w for w in warnings if w not in seen_warnings]
        seen_warnings.update(fresh)
        reads[name] = ExtractRead(name, path, sha256, raw.height, frame, quarantine, fresh)
    return reads
