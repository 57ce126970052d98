"""Benchmark: validating a batch of N appointments (plus every other extract) with all suites.

    .venv/bin/python bench/validate.py --appointments 1000000
    .venv/bin/python bench/validate.py --appointments 50000 --executors polars,gx,gx-sql

(GX paths run ~1,000x slower than Polars: measure them at tens of thousands of rows.)

Generates a health system of about N appointments (``carepulse.pipelines.synthetic``), reads it with the
ingest reader (not timed as validation), then times each execution path on the same frames:

- ``polars``: the default; every check as Polars masks/aggregates (``executor="polars"``);
- ``gx``: the same checks as GX 1.x suites on pandas frames (``executor="gx"``);
- ``gx-sql``: the appointments suite only, by GX on a SQLite table (a staging-schema stand-in),
  after writing the table through ADBC (write time printed separately);

and prints seconds and rows/s for each, plus GX's import time and the Data Docs rendering time.
Target: ``polars`` under 10 s for 1M appointments on the 2-core machine.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

APPOINTMENTS_PER_PATIENT = 7.5  # over 24 months (pipelines.synthetic)


def _timed(label: str, fn):
    started = time.perf_counter()
    value = fn()
    elapsed = time.perf_counter() - started
    print(f"{label:<48} {elapsed:8.2f} s", flush=True)
    return value, elapsed


def read_batch(source: Path, timezone: str):
    from carepulse.contract import EXTRACTS
    from carepulse.pipelines.extract import find_extract_files, read_extract

    return {
        name: read_extract(path, EXTRACTS[name], timezone=timezone).frame
        for name, path in find_extract_files(source).items()
    }


def gx_sql_appointments(frames, settings, work: Path) -> None:
    """The appointments suite by GX's SQL execution engine on a SQLite table."""
    from carepulse.expectations._checks import checks_for
    from carepulse.expectations._context import BatchContext
    from carepulse.expectations._gx import _context, _quiet_gx, build_suites, suite_parameters

    db = work / "staging.sqlite"
    appointments = frames["appointments"]
    _timed(
        "gx-sql: write appointments to SQLite (ADBC)",
        lambda: appointments.write_database(
            "appointments", f"sqlite:///{db}", engine="adbc", if_table_exists="replace"
        ),
    )
    ctx = BatchContext(frames, as_of=_as_of(frames), thresholds={})
    checks = [
        c for c in checks_for(["appointments"]) if c.gx is not None and "row_condition" not in c.gx(ctx, c)[1]
    ]

    def run():
        with _quiet_gx():
            context = _context()
            suite = context.suites.add(build_suites(ctx, checks)["appointments"])
            source = context.data_sources.add_sqlite("staging", connection_string=f"sqlite:///{db}")
            batch = source.add_table_asset("appointments", table_name="appointments")
            batch = batch.add_batch_definition_whole_table("all").get_batch()
            return batch.validate(
                suite, result_format="SUMMARY", expectation_parameters=suite_parameters(ctx, checks)
            )

    result, _ = _timed(f"gx-sql: appointments suite ({len(checks)} expectations)", run)
    print(f"{'':<48} success={result.success}")


def _as_of(frames):
    """The generated system's extract time: its latest visit that happened."""
    import polars as pl

    return frames["appointments"].filter(pl.col("status") == "completed")["scheduled_start"].max()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--appointments", type=int, default=1_000_000)
    parser.add_argument("--executors", default="polars", help="comma-separated: polars, gx, gx-sql")
    parser.add_argument("--source", type=Path, help="reuse a generated folder instead of generating")
    args = parser.parse_args()

    from carepulse.expectations import validate_batch
    from carepulse.settings import Settings

    work = Path(tempfile.mkdtemp(prefix="carepulse-bench-validate-"))
    settings = Settings(data_dir=work / "data")
    source = args.source
    if source is None:
        from carepulse.pipelines.synthetic import generate_health_system

        patients = max(100, int(args.appointments / APPOINTMENTS_PER_PATIENT))
        source = work / "extracts"
        _timed(
            f"generate ({patients} patients, 24 months)",
            lambda: generate_health_system(
                source, patients=patients, months=24, seed=11, as_of=date(2026, 6, 30)
            ),
        )
    frames, _ = _timed(
        "read extracts (pipelines.extract, not validation)", lambda: read_batch(source, settings.timezone)
    )
    sizes = ", ".join(f"{name} {frame.height:,}" for name, frame in frames.items())
    print(f"batch: {sizes}")
    n = frames["appointments"].height
    as_of = _as_of(frames)

    gx_import = subprocess.run(
        [
            sys.executable,
            "-c",
            "import time; t=time.perf_counter(); import great_expectations; print(time.perf_counter()-t)",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    print(f"{'import great_expectations (fresh process)':<48} {float(gx_import.stdout):8.2f} s")

    for executor in args.executors.split(","):
        if executor == "gx-sql":
            gx_sql_appointments(frames, settings, work)
            continue
        report, elapsed = _timed(
            f"validate_batch executor={executor}",
            lambda executor=executor: validate_batch(
                frames, settings=settings, as_of=as_of, executor=executor, data_docs=False
            ),
        )
        failed = [r.expectation for r in report.results if not r.success]
        print(
            f"{'':<48} {n / elapsed:,.0f} appointments/s; {len(report.results)} checks, "
            f"{report.row_failures.height} row failures, failed: {failed or 'none'}"
        )
    _timed(
        "validate_batch executor=polars + Data Docs",
        lambda: validate_batch(frames, settings=settings, as_of=as_of, data_docs=True),
    )


if __name__ == "__main__":
    main()
