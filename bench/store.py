"""Benchmark the embedded store for the fact tables: SQLite (today), DuckDB and partitioned Parquet.

    .venv/bin/python bench/store.py --source DIR     # generated extracts (bench/scale.py --work-dir keeps them)
    .venv/bin/python bench/store.py --appointments 1000000

On the same typed rows of the two largest facts (appointments, claims), for each store: bulk write
(SQLite: one ADBC insert, as the load's staging does; DuckDB: ``CREATE TABLE AS`` from the Arrow
frame; Parquet: one file per month), size on disk, full read back into Polars, and one question (the
no-show rate by department and month) asked in the store's own engine. Prints the 1-minute load
average with every figure: on a shared machine wall times mean little without it.
"""

from __future__ import annotations

import argparse
import datetime as dt
import math
import os
import shutil
import tempfile
import time
from pathlib import Path

import polars as pl

FACTS = ("appointments", "claims")
QUESTION = """
    SELECT department_id, {month} AS month,
           avg(CASE WHEN status = 'no_show' THEN 1.0 ELSE 0.0 END) AS no_show_rate, count(*) AS n
    FROM appointments WHERE status IN ('completed', 'no_show') GROUP BY 1, 2
"""


def _size(path: Path) -> float:
    files = [path] if path.is_file() else [p for p in path.rglob("*") if p.is_file()]
    return sum(p.stat().st_size for p in files) / 1e6


def _timed(function) -> tuple[float, object]:
    started = time.perf_counter()
    out = function()
    return time.perf_counter() - started, out


def typed_facts(source: Path) -> dict[str, pl.DataFrame]:
    from carepulse.contract import EXTRACTS
    from carepulse.pipelines.extract import read_extract

    return {
        name: read_extract(source / f"{name}.csv", EXTRACTS[name], timezone="America/New_York").frame.drop(
            "_line"
        )
        for name in FACTS
    }


def sqlite_store(facts: dict[str, pl.DataFrame], folder: Path) -> dict:
    import adbc_driver_sqlite.dbapi as driver

    path = folder / "facts.sqlite"

    def write() -> None:
        with driver.connect(str(path)) as conn:
            for name, frame in facts.items():
                stored = frame.with_columns(pl.col(pl.Datetime).dt.cast_time_unit("us").cast(pl.String))
                stored.write_database(name, conn, engine="adbc", if_table_exists="replace")

    from carepulse.warehouse import _read_sqlite_one_batch  # the warehouse's own reader (type inference)

    def read() -> int:
        return sum(_read_sqlite_one_batch(f"SELECT * FROM {n}", str(path)).height for n in facts)

    def ask() -> int:
        return _read_sqlite_one_batch(
            QUESTION.format(month="substr(scheduled_start, 1, 7)"), str(path)
        ).height

    return {"write": _timed(write)[0], "size": _size(path), "read": _timed(read)[0], "ask": _timed(ask)}


def duckdb_store(facts: dict[str, pl.DataFrame], folder: Path) -> dict:
    import duckdb

    path = folder / "facts.duckdb"

    def write() -> None:
        with duckdb.connect(str(path)) as conn:
            for name, frame in facts.items():
                conn.register("frame", frame.to_arrow())
                conn.execute(f"CREATE OR REPLACE TABLE {name} AS SELECT * FROM frame")
                conn.unregister("frame")

    def read() -> int:
        with duckdb.connect(str(path), read_only=True) as conn:
            return sum(conn.sql(f"SELECT * FROM {n}").pl().height for n in facts)

    def ask() -> int:
        with duckdb.connect(str(path), read_only=True) as conn:
            return conn.sql(QUESTION.format(month="date_trunc('month', scheduled_start)")).pl().height

    return {"write": _timed(write)[0], "size": _size(path), "read": _timed(read)[0], "ask": _timed(ask)}


def parquet_store(facts: dict[str, pl.DataFrame], folder: Path) -> dict:
    root = folder / "parquet"
    dates = {"appointments": "scheduled_start", "claims": "submitted_at"}

    def write() -> None:
        for name, frame in facts.items():
            month = pl.col(dates[name]).dt.strftime("%Y-%m").alias("month")
            frame.with_columns(month).write_parquet(root / name, partition_by="month")

    def read() -> int:
        return sum(pl.scan_parquet(root / n / "**/*.parquet").collect().height for n in facts)

    def ask() -> int:
        rows = pl.scan_parquet(root / "appointments" / "**/*.parquet", hive_partitioning=True)
        question = (
            rows.filter(pl.col("status").is_in(["completed", "no_show"]))
            .group_by("department_id", "month")
            .agg((pl.col("status") == "no_show").mean().alias("no_show_rate"), pl.len().alias("n"))
        )
        return question.collect().height

    return {"write": _timed(write)[0], "size": _size(root), "read": _timed(read)[0], "ask": _timed(ask)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", type=Path, default=None, help="Generated extracts to reuse.")
    parser.add_argument("--appointments", type=int, default=1_000_000)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="carepulse-store-"))
    try:
        source = args.source
        if source is None:
            from carepulse.pipelines.synthetic import generate_health_system

            source = work / "extracts"
            patients = max(100, math.ceil(args.appointments / 3.65))
            generate_health_system(source, patients=patients, months=12, seed=42, as_of=dt.date(2026, 6, 30))
        facts = typed_facts(source)
        rows = {n: f.height for n, f in facts.items()}
        print(f"facts: {rows} (load average {os.getloadavg()[0]:.1f})", flush=True)
        for label, store in (("sqlite", sqlite_store), ("duckdb", duckdb_store), ("parquet", parquet_store)):
            folder = work / label
            folder.mkdir()
            result = store(facts, folder)
            seconds, groups = result["ask"]
            print(
                f"{label:<8} write {result['write']:.2f} s, {result['size']:,.0f} MB on disk, read back "
                f"{result['read']:.2f} s, no-show rate by department x month {seconds:.3f} s ({groups} groups); "
                f"load average {os.getloadavg()[0]:.1f}",
                flush=True,
            )
            shutil.rmtree(folder, ignore_errors=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
