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
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

import polars as pl
import sqlalchemy as sa

from carepulse import schema
from carepulse.contract import EXTRACTS
from carepulse.errors import BatchRefused, CarePulseError
from carepulse.pipelines import aggregate_load, load, load_lock
from carepulse.pipelines.extract import ExtractRead, find_extract_files, read_extract
from carepulse.pipelines.quarantine_report import quarantine_reasons, share_refusal
from carepulse.pipelines.sources.profile import SourceProfile
from carepulse.pipelines.sources.tabular import read_profiled
from carepulse.pipelines.typed_rows import QUARANTINE_SCHEMA
from carepulse.settings import Settings

if TYPE_CHECKING:  # pragma: no cover
    from rich.progress import Progress

    from carepulse.expectations import ValidationReport

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
    #: Every quarantine reason: extract, column_name, reason, rows, examples (``file:line``).
    quarantine_reasons: list[dict[str, Any]] = field(default_factory=list)

    @property
    def counts(self) -> dict[str, int]:
        """Totals over the files: rows_read, inserted, updated, unchanged, quarantined."""
        return {k: sum(getattr(f, k) for f in self.files) for k in COUNT_FIELDS}

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "counts": self.counts}


def ingest(
    source_dir: Path | str,
    *,
    engine: sa.Engine,
    settings: Settings,
    accept_warnings: bool = False,
    progress: bool = False,
    profile: SourceProfile | None = None,
    max_quarantine_share: float | None = None,
) -> LoadRunSummary:
    """Load every extract file in ``source_dir`` into the warehouse (one atomic run).

    Parameters
    ----------
    source_dir : folder holding ``<extract>.csv`` / ``.parquet`` files (sub-folders are ignored).
    engine : the warehouse.
    settings : site timezone, data dir (archive, staging) and data-quality thresholds.
    accept_warnings : load even when a batch-level data-quality check fails.
    progress : show rich progress bars (one per file) on stderr.
    profile : a source profile mapping a site's own files to the contract
        (:mod:`carepulse.pipelines.sources`); ``None``: ``source_dir`` holds contract files.
    max_quarantine_share : refuse the batch when more of its rows than this would be quarantined
        (default ``settings.max_quarantine_share``; 1 never refuses).

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
        limit = settings.max_quarantine_share if max_quarantine_share is None else max_quarantine_share
        return _locked_ingest(source_dir, engine, settings, accept_warnings, progress, profile, limit)


def extract_readers(
    source_dir: Path, settings: Settings, profile: SourceProfile | None
) -> dict[str, tuple[str, Callable[[], ExtractRead]]]:
    """Extract name -> (label, reader): contract files, or a site's files through a profile."""
    if profile is None:
        paths = find_extract_files(source_dir)
        return {
            name: (path.name, partial(read_extract, path, EXTRACTS[name], timezone=settings.timezone))
            for name, path in paths.items()
        }
    if profile.format == "fhir-r4-bulk":
        from carepulse.pipelines.sources.fhir import read_fhir

        reads = read_fhir(source_dir, timezone=settings.timezone)
    elif profile.format == "hl7v2-siu":
        from carepulse.pipelines.sources.hl7v2 import read_hl7v2

        reads = read_hl7v2(source_dir, timezone=settings.timezone)
    else:
        reads = read_profiled(source_dir, profile, timezone=settings.timezone)
    return {name: (f"{read.path.name} -> {name}", partial(lambda r: r, read)) for name, read in reads.items()}


def _locked_ingest(
    source_dir: Path,
    engine: sa.Engine,
    settings: Settings,
    accept_warnings: bool,
    progress: bool,
    profile: SourceProfile | None = None,
    max_quarantine_share: float = 1.0,
) -> LoadRunSummary:
    from carepulse import expectations

    started = time.perf_counter()
    run_id = load.start_run(engine, source_dir)
    staging = load.Staging(engine, run_id, settings.data_dir)
    try:
        with _progress_bars(progress) as bars:
            readers = extract_readers(source_dir, settings, profile)
            tasks = {
                name: bars.add_task(label, total=4) if bars else None for name, (label, _) in readers.items()
            }

            def step(name: str) -> None:
                """One stage of ``name`` done: advance its bar (no bars: nothing)."""
                if bars and (task := tasks[name]) is not None:
                    bars.advance(task)

            reads: dict[str, ExtractRead] = {}
            for name, (_, read) in readers.items():
                reads[name] = read()
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
            reasons = quarantine_reasons(r.quarantine for r in reads.values())
            too_many = share_refusal(
                sum(r.rows_read for r in reads.values()),
                sum(r.quarantined_rows for r in reads.values()),
                max_quarantine_share,
                reasons,
            )
            if too_many:
                with engine.begin() as conn:
                    load.finish_run(
                        conn,
                        run_id,
                        status="refused",
                        message=too_many,
                        duration_s=time.perf_counter() - started,
                    )
                raise BatchRefused(too_many)
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
            summary = LoadRunSummary(
                run_id, "succeeded", files, warnings=warnings, quarantine_reasons=reasons.to_dicts()
            )
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
    reads: dict[str, ExtractRead],
    engine: sa.Engine,
    staging: load.Staging,
    settings: Settings,
    run_id: int,
    step: Callable[[str], None],
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
            read.frame = read.frame.clear()  # free memory as we go (large extracts)
            del change
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
    report: ValidationReport,
    started: float,
    aggregate_days: list[dict[str, Any]],
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
        origin = getattr(read, "line_origin", None)  # multi-file sources: _line -> (file, line)
        if origin is not None:
            rows = rows.join(origin, left_on="line", right_on="_line", how="left").select(
                "extract",
                pl.col("origin_file").alias("file_name"),
                pl.col("origin_line").alias("line"),
                *list(QUARANTINE_SCHEMA)[3:],
            )
        read.frame = read.frame.join(lines, on="_line", how="anti")
        read.quarantine = pl.concat([read.quarantine, rows]).sort("file_name", "line")


def _check_accounting(f: FileSummary, *, loaded: int) -> None:
    """Rows in = loaded + quarantined, exactly (a bug guard: nothing may be lost silently)."""
    if f.inserted + f.updated + f.unchanged != loaded or loaded + f.quarantined != f.rows_read:
        raise RuntimeError(
            f"row accounting broken for {f.file_name}: read {f.rows_read}, loaded {loaded}, quarantined {f.quarantined}"
        )


def _refusal_message(report: ValidationReport) -> str:
    if hasattr(report, "refusal_message"):
        return report.refusal_message()
    failed = ", ".join(f"{r.extract}.{r.expectation}" for r in report.failed_batch_checks)
    return f"batch refused by data-quality check(s): {failed}; the warehouse is unchanged. Rerun with --accept-warnings to load anyway."


@contextlib.contextmanager
def _progress_bars(enabled: bool) -> Iterator[Progress | None]:
    if not enabled:
        yield None
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    columns = (TextColumn("{task.description:<22}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=Console(stderr=True), transient=False) as bars:
        yield bars
