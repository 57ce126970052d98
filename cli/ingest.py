"""``carepulse ingest DIR`` and ``carepulse runs``: load extract files, list load runs."""

from __future__ import annotations

import json
from enum import Enum
from pathlib import Path

import typer

from carepulse.cli._console import stdout_console


class OutputFormat(str, Enum):
    table = "table"
    json = "json"


def register(app: typer.Typer) -> None:
    """Add ``ingest`` and ``runs`` to the app."""

    @app.command()
    def ingest(
        source_dir: Path = typer.Argument(..., help="Folder holding <extract>.csv or .parquet files."),
        accept_warnings: bool = typer.Option(
            False, "--accept-warnings", help="Load even if a batch-level data-quality check fails."
        ),
        progress: bool = typer.Option(True, help="Show progress bars (--no-progress for logs)."),
        output: OutputFormat = typer.Option(OutputFormat.table, "--format", help="table or json."),
        profile: str | None = typer.Option(
            None, "--profile", help="Source profile (TOML file or built-in name) mapping a site's files."
        ),
        max_quarantine_share: float | None = typer.Option(
            None,
            "--max-quarantine-share",
            min=0.0,
            max=1.0,
            help="Refuse the batch when more than this share of rows is quarantined (default: setting, 0.5).",
        ),
    ) -> None:
        """Check and load a folder of extracts into the warehouse (all or nothing)."""
        from rich.console import Console

        from carepulse import warehouse
        from carepulse.pipelines.ingest import ingest as run_ingest
        from carepulse.pipelines.sources import load_profile
        from carepulse.settings import get_settings

        settings = get_settings()
        source_profile = load_profile(profile) if profile else None
        engine = warehouse.make_engine(settings)
        summary = run_ingest(
            source_dir,
            engine=engine,
            settings=settings,
            accept_warnings=accept_warnings,
            progress=progress,
            profile=source_profile,
            max_quarantine_share=max_quarantine_share,
        )
        console = stdout_console()
        if output is OutputFormat.json:
            console.print_json(json.dumps(summary.to_dict(), default=str))
            return
        for w in summary.warnings:
            Console(stderr=True).print(f"[yellow]warning:[/] {w}", highlight=False)
        console.print(_files_table(summary))
        if summary.quarantine_reasons:
            import polars as pl

            from carepulse.pipelines.quarantine_report import REASON_SCHEMA, describe_reasons

            reasons = pl.DataFrame(summary.quarantine_reasons, schema=REASON_SCHEMA)
            console.print(
                "Quarantined rows, top reasons (`carepulse runs` / the Data quality page for more):"
            )
            for line in describe_reasons(reasons):
                console.print(f"  {line}", highlight=False, markup=False)
        c = summary.counts
        console.print(
            f"run {summary.run_id} {summary.status} in {summary.duration_s:.1f} s: {c['rows_read']:,} rows read, "
            f"{c['inserted']:,} inserted, {c['updated']:,} updated, {c['unchanged']:,} unchanged, "
            f"{c['quarantined']:,} quarantined"
        )

    @app.command()
    def runs(
        limit: int = typer.Option(20, help="Show the latest N runs."),
        output: OutputFormat = typer.Option(OutputFormat.table, "--format", help="table or json."),
    ) -> None:
        """List load runs with their counts (latest first)."""

        from carepulse import schema, warehouse
        from carepulse.settings import get_settings

        engine = warehouse.make_engine(get_settings())
        schema.create_all(engine)
        runs_frame = warehouse.read_table(engine, "load_runs").sort("run_id", descending=True).head(limit)
        console = stdout_console()
        if output is OutputFormat.json:
            console.print_json(json.dumps(runs_frame.to_dicts(), default=str))
            return
        console.print(_runs_table(runs_frame))


def _files_table(summary):
    from rich.table import Table

    table = Table(title=f"Load run {summary.run_id}")
    table.add_column("file")
    for name in ("rows_read", "inserted", "updated", "unchanged", "quarantined"):
        table.add_column(name.replace("_", " "), justify="right")
    for f in summary.files:
        table.add_row(
            f.file_name,
            *(f"{getattr(f, k):,}" for k in ("rows_read", "inserted", "updated", "unchanged", "quarantined")),
        )
    return table


def _runs_table(frame):
    from rich.table import Table

    table = Table(title="Load runs")
    columns = (
        "run_id",
        "started_at",
        "status",
        "rows_read",
        "inserted",
        "updated",
        "unchanged",
        "quarantined",
        "duration_s",
    )
    headers = (
        "run",
        "started (UTC)",
        "status",
        "read",
        "inserted",
        "updated",
        "unchanged",
        "quarantined",
        "s",
    )
    for name, header in zip(columns, headers):
        left = name in ("started_at", "status")
        table.add_column(
            header, justify="left" if left else "right", no_wrap=name in ("started_at", "status", "run_id")
        )
    table.add_column("message", overflow="fold")
    for row in frame.iter_rows(named=True):
        cells = [
            f"{row[c]:.1f}"
            if c == "duration_s" and row[c] is not None
            else f"{row[c]:%Y-%m-%d %H:%M}"
            if c == "started_at"
            else f"{row[c]:,}"
            if isinstance(row[c], int) and c != "run_id"
            else str(row[c] if row[c] is not None else "")
            for c in columns
        ]
        table.add_row(*cells, (row["message"] or "")[:80])
    return table
