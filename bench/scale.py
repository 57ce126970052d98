"""Benchmark scale: ingest with aggregates, the catalogue from aggregates, and a bare DuckDB reference.

    .venv/bin/python bench/scale.py                        # 1M appointments (default)
    .venv/bin/python bench/scale.py --appointments 5000000 --appointments 10000000   # quiet machine only
    .venv/bin/python bench/scale.py --source DIR           # reuse generated extracts
    .venv/bin/python bench/scale.py --baseline             # also ingest without aggregates (before/after)
    .venv/bin/python bench/scale.py --pages                # also bench/dashboard.py on the loaded warehouse

Per size, each stage in a child process of its own (so its peak memory is its own), with the
1-minute load average at its end (on a shared machine, wall times mean little without it):
1. ``carepulse ingest`` into a fresh SQLite warehouse: wall time and peak RSS (aggregates included);
   with ``--baseline``, the same ingest with the aggregate step switched off;
2. the catalogue from aggregates: read ``metric_aggregates``, then the whole catalogue, and by
   department and month; and the same catalogue from rows, for comparison;
3. one metric (no-show rate) by department and month from the stored aggregates, against a bare
   DuckDB query over the same CSV extracts (no validation), and the ratio (goal: within 3x);
4. with ``--pages``, the per-page server times of ``bench/dashboard.py`` on the loaded warehouse.

Goals (issue 17): 10M ingest under 2 minutes and 2 GB; catalogue from aggregates under 0.5 s at 10M;
pages under 1 s; one metric within 3x of DuckDB. Spark local time: not measured (not built yet).
"""

from __future__ import annotations

import argparse
import datetime as dt
import math
import multiprocessing as mp
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

AS_OF = dt.date(2026, 6, 30)
APPOINTMENTS_PER_PATIENT_YEAR = 3.65  # what the generator produces over 12 months (measured)


def _in_child(target, *args) -> tuple[dict, float]:
    """Run ``target(*args)`` in a forked process: (its result + load average, its peak RSS in MB)."""
    ctx = mp.get_context("fork")
    queue = ctx.Queue()

    def run() -> None:
        result = target(*args)
        result["load"] = os.getloadavg()[0]
        queue.put((result, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024))

    proc = ctx.Process(target=run)
    proc.start()
    result = queue.get()
    proc.join()
    if proc.exitcode:
        raise SystemExit(f"{target.__name__} failed (exit {proc.exitcode})")
    return result


def generate(out: Path, appointments: int) -> dict:
    from carepulse.pipelines.synthetic import generate_health_system

    patients = max(100, math.ceil(appointments / APPOINTMENTS_PER_PATIENT_YEAR))
    summary = generate_health_system(out, patients=patients, months=12, seed=42, as_of=AS_OF)
    return {"appointments": summary.rows["appointments"]}


def ingest(source: Path, data_dir: Path, with_aggregates: bool) -> dict:
    import great_expectations  # noqa: F401  (one-time import, not part of the per-row cost)

    from carepulse import warehouse
    from carepulse.pipelines import aggregate_load
    from carepulse.pipelines.ingest import ingest as run_ingest
    from carepulse.settings import Settings

    if not with_aggregates:
        aggregate_load.stage_aggregates = lambda *args, **kwargs: []
    settings = Settings(data_dir=data_dir, database_url=f"sqlite:///{data_dir / 'warehouse.sqlite'}")
    engine = warehouse.make_engine(settings)
    started = time.perf_counter()
    summary = run_ingest(source, engine=engine, settings=settings, accept_warnings=True)
    seconds = time.perf_counter() - started
    with engine.connect() as conn:
        stored = conn.exec_driver_sql("SELECT count(*) FROM metric_aggregates").scalar()
    return {"seconds": seconds, "rows": summary.counts["rows_read"], "aggregate_rows": stored}


def catalogue(data_dir: Path) -> dict:
    from carepulse import warehouse
    from carepulse.metrics import aggregates
    from carepulse.pipelines import aggregate_load
    from carepulse.settings import Settings

    engine = warehouse.make_engine(Settings(data_dir=data_dir))
    started = time.perf_counter()
    stored = aggregate_load.read_aggregates(engine)
    read = time.perf_counter() - started
    started = time.perf_counter()
    aggregates.catalogue_from_aggregates(stored)
    whole = time.perf_counter() - started
    started = time.perf_counter()
    aggregates.catalogue_from_aggregates(stored, by=["department"], period="month")
    by_month = time.perf_counter() - started
    started = time.perf_counter()
    one = aggregate_load.read_aggregates(engine, ["no_show_rate"])
    aggregates.compute_from_aggregates("no_show_rate", one, by=["department"], period="month")
    metric = time.perf_counter() - started
    return {"read": read, "whole": whole, "by_month": by_month, "metric": metric, "rows": stored.height}


def catalogue_from_rows(data_dir: Path) -> dict:
    from carepulse import metrics, warehouse
    from carepulse.cli._metric_reads import read_metric_frames
    from carepulse.settings import Settings

    engine = warehouse.make_engine(Settings(data_dir=data_dir))
    started = time.perf_counter()
    prepared = metrics.prepare(read_metric_frames(engine, list(metrics.REGISTRY)))
    metrics.compute_catalogue(prepared, by=["department"], period="month")
    return {"seconds": time.perf_counter() - started}


def duckdb_reference(source: Path) -> dict:
    import duckdb

    query = f"""
        SELECT department_id, date_trunc('month', CAST(scheduled_start AS TIMESTAMP)) AS month,
               avg(CASE WHEN status = 'no_show' THEN 1.0 ELSE 0.0 END) AS no_show_rate, count(*) AS n
        FROM read_csv('{source / "appointments.csv"}')
        WHERE status IN ('completed', 'no_show')
        GROUP BY ALL ORDER BY ALL
    """
    started = time.perf_counter()
    rows = duckdb.sql(query).fetchall()
    return {"seconds": time.perf_counter() - started, "groups": len(rows)}


def pages(data_dir: Path) -> str:
    script = Path(__file__).with_name("dashboard.py")
    done = subprocess.run(
        [sys.executable, str(script), "--data-dir", str(data_dir)],
        capture_output=True,
        text=True,
        check=False,
    )
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return done.stdout.strip() + f"\n  (largest child process so far: {peak:,.0f} MB)"


def one_size(appointments: int, work: Path, args: argparse.Namespace) -> None:
    source = args.source or work / "extracts"
    if args.source is None:
        made, _ = _in_child(generate, source, appointments)
        appointments = made["appointments"]
    print(f"== {appointments:,} appointments ({source})", flush=True)
    runs = [True, False] if args.baseline else [True]
    for with_aggregates in runs:
        data = work / ("data" if with_aggregates else "data-baseline")
        shutil.rmtree(data, ignore_errors=True)
        data.mkdir(parents=True)
        result, peak = _in_child(ingest, source, data, with_aggregates)
        label = "ingest with aggregates" if with_aggregates else "ingest without aggregates (before)"
        print(
            f"{label}: {result['rows']:,} rows in {result['seconds']:.1f} s, peak {peak:,.0f} MB, "
            f"{result['aggregate_rows']:,} aggregate rows (load average {result['load']:.1f})",
            flush=True,
        )
    data = work / "data"
    cat, peak = _in_child(catalogue, data)
    print(
        f"catalogue from aggregates: read {cat['rows']:,} rows {cat['read']:.2f} s; whole catalogue "
        f"{cat['whole']:.2f} s; by department x month {cat['by_month']:.2f} s; peak {peak:,.0f} MB "
        f"(load average {cat['load']:.1f})",
        flush=True,
    )
    rows, peak = _in_child(catalogue_from_rows, data)
    print(
        f"catalogue from rows (read + prepare + compute, by department x month): {rows['seconds']:.2f} s, "
        f"peak {peak:,.0f} MB (load average {rows['load']:.1f})",
        flush=True,
    )
    duck, peak = _in_child(duckdb_reference, source)
    print(
        f"no-show rate by department x month: CarePulse from aggregates {cat['metric']:.3f} s; bare DuckDB "
        f"over the CSV {duck['seconds']:.3f} s ({duck['groups']} groups, peak {peak:,.0f} MB); ratio "
        f"{cat['metric'] / duck['seconds']:.2f}x (goal <= 3x; load average {duck['load']:.1f})",
        flush=True,
    )
    if args.pages:
        print(pages(data), flush=True)
    print("spark local: not measured (the Spark engine is not built; see docs/architecture.md, Scaling)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--appointments", type=int, action="append", help="Size (repeat); default 1M.")
    parser.add_argument("--source", type=Path, default=None, help="Generated extracts to reuse (one size).")
    parser.add_argument(
        "--work-dir", type=Path, default=None, help="Where to write (default: temp, removed)."
    )
    parser.add_argument("--baseline", action="store_true", help="Also ingest without aggregates.")
    parser.add_argument("--pages", action="store_true", help="Also run bench/dashboard.py on the warehouse.")
    args = parser.parse_args()
    sizes = args.appointments or [1_000_000]
    for size in sizes:
        work = args.work_dir or Path(tempfile.mkdtemp(prefix="carepulse-scale-"))
        work.mkdir(parents=True, exist_ok=True)
        try:
            one_size(size, work, args)
        finally:
            if args.work_dir is None:
                shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
