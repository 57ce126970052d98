"""Append-writing extract files in the contract's exact shape, and the truth files beside them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, BinaryIO

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

from carepulse.contract import EXTRACTS

DATETIME_FORMAT = "%Y-%m-%d %H:%M:%S"
DATE_FORMAT = "%Y-%m-%d"


class ExtractWriter:
    """Writes ``<extract>.csv`` files chunk by chunk: header once, columns in contract order,
    cast to the contract dtypes (a frame that does not fit the contract fails here, loudly)."""

    def __init__(self, out_dir: Path):
        self.out_dir = Path(out_dir)
        self.out_dir.mkdir(parents=True, exist_ok=True)
        self.rows: dict[str, int] = {}
        self._handles: dict[str, BinaryIO] = {}

    def write(self, name: str, frame: pl.DataFrame) -> None:
        extract = EXTRACTS[name]
        frame = frame.select(extract.column_names).cast(pl.Schema(extract.polars_schema), strict=True)
        first = name not in self._handles
        if first:
            self._handles[name] = open(self.out_dir / f"{name}.csv", "wb")
        frame.write_csv(
            self._handles[name],
            include_header=first,
            datetime_format=DATETIME_FORMAT,
            date_format=DATE_FORMAT,
        )
        self.rows[name] = self.rows.get(name, 0) + frame.height

    def close(self) -> None:
        """Close every file; extracts that got no rows still get a header-only file."""
        for name, extract in EXTRACTS.items():
            if name not in self._handles:
                self.write(name, pl.DataFrame(schema=extract.polars_schema))
        for handle in self._handles.values():
            handle.close()
        self._handles.clear()


class TruthWriter:
    """``truth/no_show_probability.parquet`` (appointment_id, p_no_show), written a chunk at a time."""

    SCHEMA = pa.schema([("appointment_id", pa.string()), ("p_no_show", pa.float64())])

    def __init__(self, out_dir: Path):
        self.dir = Path(out_dir) / "truth"
        self.dir.mkdir(parents=True, exist_ok=True)
        self._writer = pq.ParquetWriter(self.dir / "no_show_probability.parquet", self.SCHEMA)

    def write(self, frame: pl.DataFrame) -> None:
        self._writer.write_table(frame.select("appointment_id", "p_no_show").to_arrow().cast(self.SCHEMA))

    def write_interventions(self, items: list[dict[str, Any]]) -> None:
        (self.dir / "interventions.json").write_text(json.dumps(items, indent=2) + "\n")

    def close(self) -> None:
        self._writer.close()
