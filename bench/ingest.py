"""Benchmark ingest: generate N appointments, load them into SQLite, and compare with plain pandas.

    .venv/bin/python bench/ingest.py --appointments 1000000

1. generates a health system with ``carepulse.pipelines.synthetic.generate_health_system`` (rows/s written);
2. ingests it with ``carepulse.pipelines.ingest.ingest`` into a fresh SQLite warehouse (every contract check,
   the data-quality suites, staging, the one-transaction merge, archive) and prints rows/s;
3. loads the same files "the plain pandas way" (``pd.read_csv`` + ``DataFrame.to_sql`` through
   SQLAlchemy into a separate SQLite file) and prints rows/s and the ratio;
4. loads them the fastest way there is (Polars ``read_csv`` + one ADBC bulk insert per file, no checks
   at all): the ceiling any ingest's ratio to pandas can reach on this machine.

Each stage runs in a child process so its peak memory (max RSS) is its own.
Targets (issue 2): 10M appointments into SQLite in under 3 minutes; >= 10x pandas' rows/s.
"""

from __future__ import annotations

import argparse
import datetime as dt
import math
import multiprocessing as mp
import os
import resource
import shutil
import tempfile
import time
from pathlib import Path

AS_OF = dt.date(2026, 6, 30)
MONTHS = 12
APPOINTMENTS_PER_PATIENT_YEAR = 3.65  # what the generator produces over 12 months (measured)


def _in_child(target, *args):
    """Run ``target(*args)`` in a forked process; returns (its result, its peak RSS in MB).

    The result dict gains ``cpu`` (user + system seconds of the whole child) and ``load`` (the
    1-minute load average at its end): on 2 shared cores, wall time alone says little."""
    ctx = mp.get_context("fork")
    queue = ctx.Queue()

    def run():
        result = target(*args)
        usage = resource.getrusage(resource.RUSAGE_SELF)
        result.update(cpu=usage.ru_utime + usage.ru_stime, load=os.getloadavg()[0])
        queue.put((result, usage.ru_maxrss / 1024))

    proc = ctx.Process(target=run)
    proc.start()
    result = queue.get()
    proc.join()
    if proc.exitcode:
        raise SystemExit(f"{target.__name__} failed (exit {proc.exitcode})")
    return result


def generate(out: Path, appointments: int, seed: int) -> dict:
    from carepulse.pipelines.synthetic import generate_health_system

    patients = max(100, math.ceil(appointments / APPOINTMENTS_PER_PATIENT_YEAR))
    started = time.perf_counter()
    summary = generate_health_system(
        out, patients=patients, months=MONTHS, seed=seed, as_of=AS_OF, progress=False
    )
    return {"seconds": time.perf_counter() - started, "rows": dict(summary.rows), "patients": patients}


def carepulse_ingest(source: Path, data_dir: Path) -> dict:
    from carepulse import warehouse
    from carepulse.pipelines.ingest import ingest
    from carepulse.settings import Settings

    settings = Settings(data_dir=data_dir, database_url=f"sqlite:///{data_dir / 'warehouse.sqlite'}")
    engine = warehouse.make_engine(settings)
    started = time.perf_counter()
    import great_expectations  # noqa: F401  (one-time, 3-20 s: reported apart from the per-row cost)

    gx_import = time.perf_counter() - started
    started = time.perf_counter()
    summary = ingest(source, engine=engine, settings=settings, accept_warnings=True)
    seconds = time.perf_counter() - started
    return {"seconds": seconds, "counts": summary.counts, "status": summary.status, "gx_import": gx_import}


def pandas_load(source: Path, db_path: Path, names: list[str]) -> dict:
    import pandas as pd
    import sqlalchemy as sa

    engine = sa.create_engine(f"sqlite:///{db_path}")
    started, rows = time.perf_counter(), 0
    for name in names:
        frame = pd.read_csv(source / f"{name}.csv")
        frame.to_sql(name, engine, if_exists="replace", index=False)
        rows += len(frame)
    return {"seconds": time.perf_counter() - started, "rows": rows}


def bulk_floor(source: Path, db_path: Path, names: list[str]) -> dict:
    """The fastest load this machine can do: Polars ``read_csv`` + one ADBC bulk insert per file into a
    fresh SQLite file, with no typing, checks, keys, indexes, upsert, archive or transaction around
    it. No ingest with those can beat it; it bounds what a ratio to pandas can be."""
    import adbc_driver_sqlite.dbapi as driver
    import polars as pl

    started, rows = time.perf_counter(), 0
    with driver.connect(str(db_path)) as conn:
        for name in names:
            frame = pl.read_csv(source / f"{name}.csv", infer_schema_length=10_000)
            frame.write_database(name, conn, engine="adbc", if_table_exists="replace")
            rows += frame.height
    return {"seconds": time.perf_counter() - started, "rows": rows}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--appointments", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument(
        "--work-dir", type=Path, default=None, help="Where to write (default: a temp dir, removed)."
    )
    parser.add_argument("--skip-pandas", action="store_true")
    args = parser.parse_args()

    work = args.work_dir or Path(tempfile.mkdtemp(prefix="carepulse-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    source, data = work / "extracts", work / "data"
    shutil.rmtree(data, ignore_errors=True)
    try:
        gen, gen_mb = _in_child(generate, source, args.appointments, args.seed)
        total_rows = sum(gen["rows"].values())
        appts = gen["rows"]["appointments"]
        size_mb = sum(p.stat().st_size for p in source.glob("*.csv")) / 1e6
        print(
            f"generate: {gen['patients']:,} patients, {appts:,} appointments, {total_rows:,} rows in all "
            f"({size_mb:,.0f} MB CSV) in {gen['seconds']:.1f} s = {total_rows / gen['seconds']:,.0f} rows/s "
            f"({appts / gen['seconds']:,.0f} appointments/s); peak memory {gen_mb:,.0f} MB",
            flush=True,
        )

        data.mkdir(parents=True)
        ing, ing_mb = _in_child(carepulse_ingest, source, data)
        read = ing["counts"]["rows_read"]
        ours = read / ing["seconds"]
        print(
            f"ingest:   {read:,} rows ({ing['counts']['quarantined']:,} quarantined, status {ing['status']}) "
            f"in {ing['seconds']:.1f} s wall ({ing['cpu']:.1f} s CPU in all, load average {ing['load']:.1f}) = {ours:,.0f} rows/s ({appts / ing['seconds']:,.0f} appointments/s); "
            f"peak memory {ing_mb:,.0f} MB; plus {ing['gx_import']:.1f} s one-time import of great_expectations",
            flush=True,
        )
        if args.appointments >= 10_000_000:
            print(
                f"          target: 10M appointments under 180 s -> {'met' if ing['seconds'] < 180 else 'NOT met'}"
            )

        if not args.skip_pandas:
            names = [p.stem for p in sorted(source.glob("*.csv"))]
            pd_res, pd_mb = _in_child(pandas_load, source, work / "pandas.sqlite", names)
            theirs = pd_res["rows"] / pd_res["seconds"]
            print(
                f"pandas:   {pd_res['rows']:,} rows (read_csv + to_sql, no checks, no upsert) in "
                f"{pd_res['seconds']:.1f} s wall ({pd_res['cpu']:.1f} s CPU, load average {pd_res['load']:.1f}) = {theirs:,.0f} rows/s; peak memory {pd_mb:,.0f} MB",
                flush=True,
            )
            floor, floor_mb = _in_child(bulk_floor, source, work / "floor.sqlite", names)
            fastest = floor["rows"] / floor["seconds"]
            print(
                f"floor:    {floor['rows']:,} rows (Polars read_csv + ADBC bulk insert, nothing else) in "
                f"{floor['seconds']:.1f} s wall ({floor['cpu']:.1f} s CPU) = {fastest:,.0f} rows/s; "
                f"peak memory {floor_mb:,.0f} MB",
                flush=True,
            )
            ceiling = fastest / theirs
            print(
                f"ratio:    CarePulse ingest is {ours / theirs:.1f}x pandas' rows/s (target >= 10x); the bare bulk "
                f"insert is {ceiling:.1f}x"
                + (", so no ingest into SQLite can reach 10x here" if ceiling < 10 else "")
            )
    finally:
        if args.work_dir is None:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
