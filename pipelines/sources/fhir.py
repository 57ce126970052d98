"""FHIR R4 Bulk Data (``$export`` NDJSON) to contract-shaped raw frames, streamed line by line.

Files ``<Resource>.ndjson``, ``<Resource>.000.ndjson``, ``<Resource>.001.ndjson.gz``... are read one
line at a time (gzip streamed too), flattened by the ViewDefinitions of :mod:`.views`, and gathered
column-wise in chunks. A line that is not JSON, has another ``resourceType`` or lacks a required
element is quarantined with file, line and the FHIRPath. Codes are mapped by :mod:`.fhir_codes`;
an unknown code passes through and is quarantined by the contract (``not one of ...``), a dangling
reference by the foreign-key expectation, both naming file and line. What maps to what, and what is
lost, is in ``docs/sources.md``.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import polars as pl

from carepulse.contract import EXTRACTS
from carepulse.errors import ExtractError
from carepulse.pipelines.extract import ExtractRead
from carepulse.pipelines.sources import fhir_codes
from carepulse.pipelines.sources.views import View, load_view, view_resources
from carepulse.pipelines.typed_rows import QUARANTINE_SCHEMA, typed_rows

_CHUNK_ROWS = 100_000


def fhir_files(source_dir: Path) -> dict[str, list[Path]]:
    """Bulk export files by resource type (only types with a ViewDefinition), in name order."""
    source_dir = Path(source_dir)
    if not source_dir.is_dir():
        raise ExtractError(f"folder {source_dir} does not exist; pass the folder of the bulk export")
    out: dict[str, list[Path]] = {}
    for resource in view_resources():
        paths = sorted(
            p
            for pattern in (
                f"{resource}.ndjson",
                f"{resource}.*ndjson",
                f"{resource}.ndjson.gz",
                f"{resource}.*ndjson.gz",
            )
            for p in source_dir.glob(pattern)
            if p.is_file()
        )
        if paths:
            out[resource] = sorted(set(paths))
    return out


def _open(path: Path) -> IO[str]:
    if path.name.endswith(".gz"):
        return gzip.open(path, "rt", encoding="utf-8")
    return open(path, encoding="utf-8")


@dataclass
class ResourceRows:
    """A resource type's view rows (column-wise, one frame per chunk) and its bad lines."""

    resource: str
    frames: list[pl.DataFrame] = field(default_factory=list)
    bad: list[dict[str, Any]] = field(default_factory=list)
    files: list[Path] = field(default_factory=list)

    def frame(self, view: View) -> pl.DataFrame:
        schema: dict[str, pl.DataType | type[pl.DataType]] = {
            c.name: (pl.List(pl.String) if c.collection else pl.String) for c in view.columns
        }
        schema |= {"_file": pl.String, "_line": pl.Int64}
        return pl.concat(self.frames) if self.frames else pl.DataFrame(schema=schema)


def _bad(path: Path, line: int, fhirpath: str | None, reason: str, text: str) -> dict[str, Any]:
    # The record is not kept: a FHIR resource carries names, addresses and identifiers (PHI).
    return {
        "file_name": path.name,
        "line": line,
        "column_name": fhirpath,
        "reason": reason,
        "size": len(text),
    }


def _flush(columns: dict[str, list[Any]], schema: dict[str, Any], file_name: str, out: ResourceRows) -> None:
    """Move the gathered rows into a Polars frame (bounded memory: chunks of ``_CHUNK_ROWS``)."""
    if columns["_line"]:
        frame = pl.DataFrame(columns, schema={**schema, "_line": pl.Int64})
        out.frames.append(frame.with_columns(pl.lit(file_name).alias("_file")))
        for values in columns.values():
            values.clear()


def read_resources(paths: list[Path], view: View) -> ResourceRows:
    """Stream every line of ``paths`` through ``view`` (never a whole file in memory)."""
    out = ResourceRows(view.resource, files=list(paths))
    names = [c.name for c in view.columns]
    schema = {c.name: (pl.List(pl.String) if c.collection else pl.String) for c in view.columns}
    for path in paths:
        columns: dict[str, list[Any]] = {n: [] for n in [*names, "_line"]}

        try:
            with _open(path) as fh:
                for number, text in enumerate(fh, start=1):
                    if not text.strip():
                        continue
                    try:
                        resource = json.loads(text)
                    except json.JSONDecodeError as exc:
                        out.bad.append(
                            _bad(path, number, None, f"not JSON ({exc.msg} at column {exc.colno})", text)
                        )
                        continue
                    kind = resource.get("resourceType") if isinstance(resource, dict) else None
                    if kind != view.resource:
                        out.bad.append(
                            _bad(
                                path,
                                number,
                                "resourceType",
                                f"resourceType is {kind!r}, expected {view.resource!r}",
                                text,
                            )
                        )
                        continue
                    row, missing = view.row(resource)
                    if missing:
                        out.bad.append(_bad(path, number, missing, "required element is missing", text))
                        continue
                    for n in names:
                        columns[n].append(row[n])
                    columns["_line"].append(number)
                    if len(columns["_line"]) >= _CHUNK_ROWS:
                        _flush(columns, schema, path.name, out)
        except (OSError, EOFError, UnicodeDecodeError) as exc:
            raise ExtractError(
                f"cannot read ({type(exc).__name__}); export it again", file=path.name
            ) from None
        _flush(columns, schema, path.name, out)
    return out


def read_bulk(source_dir: Path | str) -> dict[str, tuple[View, ResourceRows]]:
    """Every imported resource type of a bulk export folder: its view and rows."""
    files = fhir_files(Path(source_dir))
    if "Appointment" not in files and "Encounter" not in files:
        raise ExtractError(
            f"no Appointment or Encounter NDJSON in {source_dir}: a FHIR load needs scheduling data "
            "(files named Appointment.000.ndjson[.gz] or Encounter.000.ndjson[.gz])"
        )
    out = {}
    for resource, paths in files.items():
        view = load_view(resource)
        out[resource] = (view, read_resources(paths, view))
    return out


def _quarantine(bad: list[dict[str, Any]], extract: str) -> pl.DataFrame:
    if not bad:
        return pl.DataFrame(schema=QUARANTINE_SCHEMA)
    frame = pl.DataFrame(bad)
    return frame.select(
        pl.lit(extract).alias("extract"),
        pl.col("file_name").cast(pl.String),
        pl.col("line").cast(pl.Int64),
        pl.col("column_name").cast(pl.String),
        pl.lit(None, pl.String).alias("value"),
        pl.col("reason").cast(pl.String),
        pl.lit("fhir").alias("expectation"),
        pl.lit(None, pl.String).alias("record"),
    )


class SourceRead(ExtractRead):
    """An extract read from several files: rows are told apart by (file, line).

    ``frame._line`` is unique across the files (an offset per file); ``line_origin`` maps it back
    to ``origin_file`` and ``origin_line`` for quarantine rows found later (foreign keys).
    """

    line_origin: pl.DataFrame | None = None

    @property
    def quarantined_rows(self) -> int:
        if not self.quarantine.height:
            return 0
        return int(self.quarantine.select(pl.struct("file_name", "line").n_unique()).item())


def read_fhir(source_dir: Path | str, *, timezone: str) -> dict[str, ExtractRead]:
    """Every contract extract a bulk FHIR export supplies, typed and checked like a contract file."""
    bulk = read_bulk(source_dir)
    frames = {r: rows.frame(view) for r, (view, rows) in bulk.items()}
    shaped, paths = fhir_codes.contract_frames(frames)
    bad_by_extract: dict[str, list[dict[str, Any]]] = {}
    for resource, (_view, rows) in bulk.items():
        bad_by_extract.setdefault(fhir_codes.EXTRACT_OF[resource], []).extend(rows.bad)
    reads: dict[str, ExtractRead] = {}
    for name, raw in shaped.items():
        good, contract_bad, origin = _typed(raw, name, timezone)
        bad = _quarantine(bad_by_extract.get(name, []), name)
        quarantine = pl.concat([contract_bad, bad]).sort("file_name", "line")
        first = next(iter(bulk[r][1].files[0] for r in fhir_codes.RESOURCES_OF[name] if r in bulk), None)
        if first is None:
            continue
        sha = _files_digest([f for r in fhir_codes.RESOURCES_OF[name] if r in bulk for f in bulk[r][1].files])
        read = SourceRead(name, first, sha, raw.height + len(bad_by_extract.get(name, [])), good, quarantine)
        read.warnings.extend(fhir_codes.warnings_for(name, raw))
        read.line_origin = origin
        reads[name] = read
    del paths
    return reads


def _typed(raw: pl.DataFrame, name: str, timezone: str) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """typed_rows per source file (lines are per file), with the FHIRPath of each bad column.

    The typed rows get a ``_line`` unique across files; the third frame maps it back
    (``_line``, ``origin_file``, ``origin_line``).
    """
    goods, bads, origins = [], [], []
    offset = 0
    for (file_name,), part in raw.partition_by("_file", as_dict=True, maintain_order=True).items():
        good, bad = typed_rows(
            part.drop("_file"), EXTRACTS[name], file_name=str(file_name), timezone=timezone
        )
        origins.append(
            good.select(
                (pl.col("_line") + offset).alias("_line"),
                pl.lit(str(file_name)).alias("origin_file"),
                pl.col("_line").alias("origin_line"),
            )
        )
        goods.append(good.with_columns(pl.col("_line") + offset))
        bads.append(bad)
        last_line = part["_line"].max()
        offset += last_line if isinstance(last_line, int) else 0
    if not goods:
        good, bad = typed_rows(raw.drop("_file"), EXTRACTS[name], file_name="", timezone=timezone)
        empty = pl.DataFrame(schema={"_line": pl.Int64, "origin_file": pl.String, "origin_line": pl.Int64})
        return good, bad, empty
    paths = fhir_codes.FHIRPATH_OF.get(name, {})
    bad = pl.concat(bads).with_columns(
        pl.col("column_name")
        .replace_strict(paths, default=None, return_dtype=pl.String)
        .fill_null("")
        .pipe(lambda p: pl.when(p == "").then(pl.col("expectation")).otherwise(pl.format("contract ({})", p)))
        .alias("expectation")
    )
    return pl.concat(goods), bad, pl.concat(origins)


def _files_digest(files: list[Path]) -> str:
    import hashlib

    from carepulse.pipelines.extract import file_facts

    return hashlib.sha256("".join(file_facts(f)[0] for f in files).encode()).hexdigest()


def iter_ndjson(path: Path) -> Iterator[tuple[int, str]]:
    """(line number, text) of an NDJSON or NDJSON.gz file, streamed."""
    with _open(path) as fh:
        yield from enumerate(fh, start=1)
