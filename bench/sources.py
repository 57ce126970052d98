"""Benchmark the FHIR source: ingest time and peak memory for N Appointments with their Patients.

    .venv/bin/python bench/sources.py --appointments 150000

1. generates a health system of about N appointments and writes it as FHIR R4 Bulk NDJSON
   (``carepulse.pipelines.synthetic.fhir_writer.write_fhir``, Patient and Appointment in 2 files each);
2. in a child process, reads and flattens it (``read_fhir``: streaming, ViewDefinitions, code maps,
   typed rows) and prints rows/s and peak RSS;
3. in another child, runs the whole ``carepulse ingest --profile fhir-r4-bulk`` into a fresh SQLite
   warehouse and prints wall time, CPU time and peak RSS.

Goal (issue 13): 1M Appointments with their Patients in under 2 minutes and 2 GB peak on 2 cores.
Figures taken on a shared machine: read them with the load average printed beside them.
"""

from __future__ import annotations

import argparse
import datetime as dt
import multiprocessing as mp
import os
import resource
import tempfile
import time
from pathlib import Path
from typing import Any

AS_OF = dt.date(2026, 6, 30)
MONTHS = 12
APPOINTMENTS_PER_PATIENT_YEAR = 3.65  # what the generator produces over 12 months (measured)


def _child(target: Any, queue: Any, *args: Any) -> None:
    started, cpu = time.perf_counter(), time.process_time()
    result = target(*args)
    result |= {
        "wall": time.perf_counter() - started,
        "cpu": time.process_time() - cpu,
        "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "load": os.getloadavg()[0],
    }
    queue.put(result)


def _in_child(target: Any, *args: Any) -> dict[str, Any]:
    ctx = mp.get_context("spawn")  # a fresh process: its peak RSS is its own
    queue = ctx.Queue()
    proc = ctx.Process(target=_child, args=(target, queue, *args))
    proc.start()
    result = queue.get()
    proc.join()
    return result


def _read(folder: str, timezone: str) -> dict[str, Any]:
    from carepulse.pipelines.sources.fhir import read_fhir

    reads = read_fhir(folder, timezone=timezone)
    return {"rows": {n: r.frame.height for n, r in reads.items()}}


def _ingest(folder: str, data_dir: str) -> dict[str, Any]:
    from carepulse import warehouse
    from carepulse.pipelines.ingest import ingest
    from carepulse.pipelines.sources import load_profile
    from carepulse.settings import Settings

    settings = Settings(data_dir=Path(data_dir), database_url=f"sqlite:///{data_dir}/warehouse.sqlite")
    engine = warehouse.make_engine(settings)
    summary = ingest(folder, engine=engine, settings=settings, profile=load_profile("fhir-r4-bulk"))
    return {"counts": summary.counts, "status": summary.status}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--appointments", type=int, default=150_000)
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args()

    from carepulse.pipelines.synthetic import generate_health_system
    from carepulse.pipelines.synthetic.fhir_writer import write_fhir
    from carepulse.settings import get_settings

    timezone = get_settings().timezone
    patients = max(1, round(args.appointments / APPOINTMENTS_PER_PATIENT_YEAR))
    with tempfile.TemporaryDirectory(prefix="carepulse-bench-sources-") as tmp:
        csv_dir, fhir_dir = Path(tmp) / "csv", Path(tmp) / "fhir"
        t = time.perf_counter()
        generate_health_system(csv_dir, patients=patients, months=MONTHS, seed=args.seed, as_of=AS_OF)
        counts = write_fhir(csv_dir, fhir_dir, timezone=timezone, files_per_type=2)
        size = sum(p.stat().st_size for p in fhir_dir.glob("*.ndjson")) / 1e6
        print(
            f"wrote {counts.get('Appointment', 0):,} Appointments, {counts.get('Patient', 0):,} Patients "
            f"({size:,.0f} MB NDJSON) in {time.perf_counter() - t:.1f} s"
        )
        read = _in_child(_read, str(fhir_dir), timezone)
        n = sum(read["rows"].values())
        print(
            f"read + flatten + type: {n:,} rows in {read['wall']:.1f} s ({n / read['wall']:,.0f} rows/s), "
            f"CPU {read['cpu']:.1f} s, peak {read['peak_mb']:,.0f} MB, load average {read['load']:.1f}"
        )
        data_dir = Path(tmp) / "data"
        data_dir.mkdir()
        loaded = _in_child(_ingest, str(fhir_dir), str(data_dir))
        c = loaded["counts"]
        print(
            f"carepulse ingest --profile fhir-r4-bulk: {c['rows_read']:,} rows ({c['inserted']:,} inserted, "
            f"{c['quarantined']:,} quarantined) in {loaded['wall']:.1f} s, CPU {loaded['cpu']:.1f} s, "
            f"peak {loaded['peak_mb']:,.0f} MB, load average {loaded['load']:.1f}"
        )


if __name__ == "__main__":
    main()
