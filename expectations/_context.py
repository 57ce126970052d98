"""What the checks need besides the extract frame: the other extracts, the warehouse, the clock.

Cross-extract checks resolve keys against the batch AND the warehouse (a nightly extract may carry
only new rows); everything is computed lazily and once, so a batch that needs no warehouse lookup
never opens a connection.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from functools import cached_property

import polars as pl
import sqlalchemy as sa

from carepulse.contract import EXTRACTS

#: Warehouse columns the checks read, by table (read together, once per batch).
WAREHOUSE_COLUMNS: dict[str, tuple[str, ...]] = {
    "appointments": ("appointment_id", "patient_id", "status"),
    "claims": ("claim_id", "appointment_id"),
    "surveys": ("survey_id", "appointment_id"),
    "referrals": ("referral_id", "patient_id"),
    "encounters": ("encounter_id", "patient_id"),
}


def years_before(day: date, years: int) -> date:
    """``day`` moved back ``years`` calendar years (29 February becomes 28 February)."""
    try:
        return day.replace(year=day.year - years)
    except ValueError:
        return day.replace(year=day.year - years, day=28)


@dataclass
class BatchContext:
    """A batch of contract-typed frames plus lazily-read warehouse facts."""

    frames: dict[str, pl.DataFrame]
    as_of: datetime  # naive local wall time of the site
    engine: sa.Engine | None = None
    thresholds: dict[str, float] = field(default_factory=dict)  # effective batch thresholds by check
    volume_window_days: int = 28
    #: Source lines already failing a row check, by extract: their keys do not count as known, so
    #: a claim for an appointment that is itself quarantined is quarantined too (nothing dangles).
    quarantined_lines: dict[str, pl.Series] = field(default_factory=dict)
    _warehouse_cache: dict[str, pl.DataFrame] = field(default_factory=dict)
    _keys_cache: dict[tuple, pl.Series] = field(default_factory=dict)

    @property
    def today(self) -> date:
        return self.as_of.date()

    def _warehouse(self, table: str, columns: list[str], where: str | None = None) -> pl.DataFrame:
        """Columns of a warehouse table (empty when there is no warehouse or no such table yet).

        Unfiltered reads fetch every column any check needs from that table at once (one scan of
        a 10M-row appointments table, not three), cached for the batch.
        """
        if where is None:
            wanted = list(dict.fromkeys([*WAREHOUSE_COLUMNS.get(table, ()), *columns]))
            return self._read(table, wanted, None).select(columns)
        return self._read(table, columns, where)

    def _read(self, table: str, columns: list[str], where: str | None) -> pl.DataFrame:
        cache_key = f"{table}:{','.join(columns)}:{where}"
        if cache_key not in self._warehouse_cache:
            frame = pl.DataFrame(schema={c: EXTRACTS[table].column(c).polars_dtype for c in columns})
            if self.engine is not None and sa.inspect(self.engine).has_table(table):
                from carepulse.warehouse import read_table

                frame = read_table(self.engine, table, columns=columns, where=where)
            self._warehouse_cache[cache_key] = frame
        return self._warehouse_cache[cache_key]

    def _key_cache_key(self, extract: str, column: str) -> tuple:
        excluded = self.quarantined_lines.get(extract)
        return (extract, column, None if excluded is None else id(excluded))

    def known_keys(self, extract: str, column: str) -> pl.Series:
        """Every value of ``extract.column`` in the warehouse or in the batch's rows that will load.

        Not deduplicated (``is_in`` hashes it anyway); cached until the extract's quarantine changes,
        since several checks look up the same key set (claims, surveys and referrals -> appointments).
        """
        cache_key = self._key_cache_key(extract, column)
        if cache_key not in self._keys_cache:
            excluded = self.quarantined_lines.get(extract)
            parts = [self._warehouse(extract, [column])[column]]
            if extract in self.frames and column in self.frames[extract].columns:
                batch = self.frames[extract]
                if excluded is not None:
                    batch = batch.filter(~pl.col("_line").is_in(excluded.implode()))
                parts.append(batch[column])
            self._keys_cache[cache_key] = pl.concat(parts).drop_nulls()
        return self._keys_cache[cache_key]

    def known_key_hashes(self, extract: str, column: str) -> pl.Series:
        """64-bit hashes of :meth:`known_keys`, for fast membership tests (see ``_unknown_reference``)."""
        cache_key = ("hash", *self._key_cache_key(extract, column))
        if cache_key not in self._keys_cache:
            self._keys_cache[cache_key] = self.known_keys(extract, column).hash()
        return self._keys_cache[cache_key]

    def reused_keys(self, extract: str, key: str, identity: str) -> pl.Series:
        """Keys of the batch already in the warehouse for a different ``identity`` (e.g. patient)."""
        stored = self._warehouse(extract, [key, identity]).rename({identity: "_stored"})
        if stored.is_empty():
            return pl.Series(key, [], dtype=pl.String())
        batch = self.frames[extract].select(key, identity)
        clash = batch.join(stored, on=key, how="inner").filter(pl.col(identity) != pl.col("_stored"))
        return clash[key].unique()

    @cached_property
    def appointments_not_completed(self) -> pl.Series:
        """Appointment ids whose latest status (batch over warehouse) is anything but completed."""
        warehouse = self._warehouse("appointments", ["appointment_id", "status"])
        batch = self.frames.get("appointments")
        if batch is not None:
            batch = batch.select("appointment_id", "status")
            warehouse = warehouse.join(batch, on="appointment_id", how="anti")
            latest = pl.concat([warehouse, batch])
        else:
            latest = warehouse
        return latest.filter(pl.col("status") != "completed")["appointment_id"]

    @cached_property
    def volume_history(self) -> pl.DataFrame:
        """Warehouse appointments in the recent window: department_id, day (for the volume check)."""
        start = self.as_of - timedelta(days=400)  # bounded read; the window is chosen in the check
        frame = self._warehouse(
            "appointments",
            ["department_id", "scheduled_start"],
            where=f"scheduled_start >= '{start:%Y-%m-%d}'",
        )
        return frame.select("department_id", pl.col("scheduled_start").dt.date().alias("day"))
