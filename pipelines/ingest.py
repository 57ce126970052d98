"""Ingest a folder of extract files into the warehouse: read -> check -> stage -> merge, all or nothing.

:func:`ingest` wires :mod:`carepulse.pipelines.extract` (file -> typed rows + quarantine),
:mod:`carepulse.expectations` (batch checks), :mod:`carepulse.pipelines.load` (staging, one-transaction merge, run
records, archive) and :mod:`carepulse.pipelines.aggregate_load` (the metric statistics, rewritten for
the metric-days the run changes, in the same transaction). A user error (bad file, refused batch) raises a
:class:`~carepulse.errors.CarePulseError` after recording the run as ``failed`` or ``refused``; the
extract tables and the quarantine are then exactly as before.
"""

from __future__ import annotations

import contextlib
import logging
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import polars as pl
import sqlalchemy as sa

from carepulse import schema
from carepulse.contract import EXTRACTS
from carepulse.errors import BatchRefused, CarePulseError
from carepulse.pipelines import aggregate_load, load, load_lock
from carepulse.pipelines.extract import ExtractRead, find_extract_files, read_extract
from carepulse.pipelines.typed_rows import QUARANTINE_SCHEMA
from carepulse.settings import Settings

log = logging.getLogger("carepulse.ingest")

COUNT_FIELDS = ("rows_read", "inserted", "updated", "unchanged", "quarantined")


@dataclass
class FileSummary:
    """What one extract file contributed to a run."""

    extract: str
    file_name: str
    sha256: str
    archived_path: str | None
    rows_read: int = 0
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    quarantined: int = 0


@dataclass
class LoadRunSummary:
    """The outcome of one :func:`ingest` call."""

    run_id: int
    status: str
    files: list[FileSummary] = field(default_factory=list)
    duration_s: float = 0.0
    warnings: list[str] = field(default_factory=list)
    message: str | None = None

    @property
    def counts(self) -> dict[str, int]:
        """Totals over the files: rows_read, inserted, updated, unchanged, quarantined."""
        return {k: sum(getattr(f, k) for f in self.files) for k in COUNT_FIELDS}

    def to_dict(self) -> dict:
        return {**asdict(self), "counts": self.counts}


def ingest(
    source_dir: Path | str,
    *,
    engine: sa.Engine,
    settings: Settings,
    accept_warnings: bool = False,
    progress: bool = False,
) -> LoadRunSummary:
    """Load every extract file in ``source_dir`` into the warehouse (one atomic run).

    Parameters
    ----------
    source_dir : folder holding ``<extract>.csv`` / ``.parquet`` files (sub-folders are ignored).
    engine : the warehouse.
    settings : site timezone, data dir (archive, staging) and data-quality thresholds.
    accept_warnings : load even when a batch-level data-quality check fails.
    progress : show rich progress bars (one per file) on stderr.

    Returns the run's :class:`LoadRunSummary`. Raises :class:`~carepulse.errors.ExtractError` for an
    unusable file, :class:`~carepulse.errors.BatchRefused` for a refused batch, and
    :class:`~carepulse.pipelines.load_lock.IngestRunning` while another ingest holds the warehouse.
    """
    source_dir = Path(source_dir)
    with load_lock.exclusive_ingest(engine):
        schema.create_all(engine)
        for stale in load_lock.reap_interrupted_runs(engine, settings.data_dir):
            log.warning(
                "load run %s had been interrupted (its process ended before it finished); "
                "marked interrupted, its staging removed, nothing had been changed",
                stale,
            )
        return _locked_ingest(source_dir, engine, settings, accept_warnings, progress)


def _locked_ingest(
    source_dir: Path, engine: sa.Engine, settings: Settings, accept_warnings: bool, progress: bool
) -> LoadRunSummary:
    from carepulse import expectations

    started = time.perf_counter()
    run_id = load.start_run(engine, source_dir)
    staging = load.Staging(engine, run_id, settings.data_dir)
    try:
        with _progress_bars(progress) as bars:
            paths = find_extract_files(source_dir)
            tasks = {
                name: bars.add_task(path.name, total=4) if bars else None for name, path in paths.items()
            }
            step = (lambda name: bars.advance(tasks[name])) if bars else (lambda name: None)
            reads: dict[str, ExtractRead] = {}
            for name, path in paths.items():
                reads[name] = read_extract(path, EXTRACTS[name], timezone=settings.timezone)
                step(name)
            warnings = [w for r in reads.values() for w in r.warnings]
            for w in warnings:
                log.warning(w)

            report = expectations.validate_batch(
                {n: r.frame for n, r in reads.items()}, settings=settings, engine=engine
            )
            _quarantine_row_failures(reads, report.row_failures)
            for name in reads:
                step(name)
            if report.refused:
                if not (accept_warnings or settings.accept_warnings):
                    message = _refusal_message(report)
                    with engine.begin() as conn:
                        expectations.record_validation(conn, report, run_id)
                        load.finish_run(
                            conn,
                            run_id,
                            status="refused",
                            message=message,
                            duration_s=time.perf_counter() - started,
                        )
                    raise BatchRefused(message)
                report.accepted_warnings = True

            files, changed = _stage_changes(reads, engine, staging, settings, run_id, step)
            aggregate_days = aggregate_load.stage_aggregates(engine, staging, changed, settings)
            changed.clear()
            summary = LoadRunSummary(run_id, "succeeded", files, warnings=warnings)
            _merge(engine, staging, summary, report, started, aggregate_days)
            for name in reads:
                step(name)
    except BatchRefused:
        raise
    except BaseException as exc:
        message = (
            str(exc)
            if isinstance(exc, CarePulseError)
            else f"load failed ({type(exc).__name__}); nothing was changed"
        )
        with contextlib.suppress(Exception):
            load.record_failure(
                engine, run_id, status="failed", message=message, duration_s=time.perf_counter() - started
            )
        raise
    finally:
        with contextlib.suppress(Exception):
            staging.drop()
    return summary


def _stage_changes(
    reads: dict[str, ExtractRead], engine, staging: load.Staging, settings: Settings, run_id: int, step
) -> tuple[list[FileSummary], dict[str, pl.DataFrame]]:
    """Archive each file, work out its new and changed rows, and stage them (and the quarantine).
    Returns the file summaries and the new and changed rows by extract (for the aggregates)."""
    files: list[FileSummary] = []
    changed: dict[str, pl.DataFrame] = {}
    quarantine_frames = []
    with contextlib.closing(load.adbc_connect(engine)) as reader:  # closed before the merge
        for name, read in reads.items():
            change = load.changes(reader, EXTRACTS[name], read.frame)
            archived = load.archive_file(read.path, read.sha256, settings.data_dir)
            files.append(
                FileSummary(
                    name,
                    read.path.name,
                    read.sha256,
                    str(archived),
                    read.rows_read,
                    change.inserted,
                    change.updated,
                    change.unchanged,
                    read.quarantined_rows,
                )
            )
            _check_accounting(files[-1], loaded=read.frame.height)
            if change.rows.height:
                changed[name] = change.rows
                staging.write(name, change.rows.with_columns(pl.lit(run_id, pl.Int64).alias("_load_run_id")))
            if read.quarantine.height:
                quarantine_frames.append(read.quarantine)
            read.frame = change = None  # free memory as we go (large extracts)
            step(name)
    if quarantine_frames:
        staging.write(
            "quarantine",
            pl.concat(quarantine_frames).select(pl.lit(run_id, pl.Int64).alias("run_id"), *QUARANTINE_SCHEMA),
        )
    return files, changed


def _merge(
    engine: sa.Engine,
    staging: load.Staging,
    summary: LoadRunSummary,
    report,
    started: float,
    aggregate_days: list[dict],
) -> None:
    """The one transaction that changes the warehouse (extract rows, quarantine, aggregates, records)."""
    from carepulse import expectations

    with engine.connect() as conn:
        try:
            with conn.begin():
                for f in summary.files:  # each as soon as the staging thread has written it
                    if f.extract in staging:
                        load.merge_extract(
                            conn, EXTRACTS[f.extract], staging.table(conn, f.extract), f.inserted + f.updated
                        )
                if "quarantine" in staging:
                    load.insert_quarantine(conn, staging.table(conn, "quarantine"))
                if aggregate_days:
                    aggregate_load.merge_aggregates(
                        conn, staging.table(conn, aggregate_load.STAGED_ROWS), aggregate_days
                    )
                conn.execute(
                    schema.load_files.insert(),
                    [
                        {"run_id": summary.run_id, **asdict(f)} | {"archived_path": f.archived_path}
                        for f in summary.files
                    ],
                )
                expectations.record_validation(conn, report, summary.run_id)
                summary.duration_s = time.perf_counter() - started
                load.finish_run(
                    conn,
                    summary.run_id,
                    status="succeeded",
                    duration_s=summary.duration_s,
                    message="; ".join(summary.warnings) or None,
                    **summary.counts,
                )
        finally:
            staging.detach(conn)


def _quarantine_row_failures(reads: dict[str, ExtractRead], failures: pl.DataFrame) -> None:
    """Move rows that failed a row-level expectation from the typed frames to the quarantine."""
    if failures.is_empty():
        return
    for name, read in reads.items():
        mine = failures.filter(pl.col("extract") == name)
        if mine.is_empty():
            continue
        lines = mine.select(pl.col("line").alias("_line")).unique()
        cols = EXTRACTS[name].column_names
        records = read.frame.join(lines, on="_line", how="semi").select(
            pl.col("_line").alias("line"), pl.struct(cols).struct.json_encode().alias("record")
        )
        rows = mine.join(records, on="line", how="left").select(
            pl.lit(name).alias("extract"),
            pl.lit(read.path.name).alias("file_name"),
            pl.col("line").cast(pl.Int64),
            pl.col("column_name").cast(pl.String),
            pl.col("value").cast(pl.String),
            pl.col("reason").cast(pl.String),
            pl.col("expectation").cast(pl.String),
            pl.col("record"),
        )
        read.frame = read.frame.join(lines, on="_line", how="anti")
        read.quarantine = pl.concat([read.quarantine, rows]).sort("line")


def _check_accounting(f: FileSummary, *, loaded: int) -> None:
    """Rows in = loaded + quarantined, exactly (a bug guard: nothing may be lost silently)."""
    if f.inserted + f.updated + f.unchanged != loaded or loaded + f.quarantined != f.rows_read:
        raise RuntimeError(
            f"row accounting broken for {f.file_name}: read {f.rows_read}, loaded {loaded}, quarantined {f.quarantined}"
        )


def _refusal_message(report) -> str:
    if hasattr(report, "refusal_message"):
        return report.refusal_message()
    failed = ", ".join(f"{r.extract}.{r.expectation}" for r in report.failed_batch_checks)
    return f"batch refused by data-quality check(s): {failed}; the warehouse is unchanged. Rerun with --accept-warnings to load anyway."


@contextlib.contextmanager
def _progress_bars(enabled: bool):
    if not enabled:
        yield None
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    columns = (TextColumn("{task.description:<22}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=Console(stderr=True), transient=False) as bars:
        yield bars
