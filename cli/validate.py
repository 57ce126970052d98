"""``carepulse validate DIR``: the data-quality checks of an ingest, as a dry run that loads nothing."""

from __future__ import annotations

import json
from pathlib import Path

import typer


def dry_run(source_dir: Path, *, settings, engine=None, profile=None):
    """Read a folder as ingest would and validate it; returns (report, contract quarantine counts).

    The contract counts are the rows ingest's reader would already quarantine (types, allowed
    values, required fields): a frame of extract, expectation, rows.
    """
    report, contract, _reasons, _share = dry_run_with_reasons(
        source_dir, settings=settings, engine=engine, profile=profile
    )
    return report, contract


def dry_run_with_reasons(source_dir: Path, *, settings, engine=None, profile=None):
    """:func:`dry_run` plus every quarantine reason (as ingest would record) and (rows read, quarantined)."""
    import polars as pl

    from carepulse.expectations import validate_batch
    from carepulse.pipelines.ingest import _quarantine_row_failures, extract_readers
    from carepulse.pipelines.quarantine_report import quarantine_reasons

    reads = {name: read() for name, (_, read) in extract_readers(source_dir, settings, profile).items()}
    report = validate_batch({n: r.frame for n, r in reads.items()}, settings=settings, engine=engine)
    contract_only = {n: r.quarantine for n, r in reads.items()}
    _quarantine_row_failures(reads, report.row_failures)
    reasons = quarantine_reasons(r.quarantine for r in reads.values())
    share = (sum(r.rows_read for r in reads.values()), sum(r.quarantined_rows for r in reads.values()))
    quarantined = [q.select("extract", "line", "expectation") for q in contract_only.values() if q.height]
    contract = (
        pl.concat(quarantined)
        .group_by("extract", "expectation")
        .agg(pl.col("line").n_unique().alias("rows"))
        .sort("extract")
        if quarantined
        else pl.DataFrame(schema={"extract": pl.String, "expectation": pl.String, "rows": pl.UInt32})
    )
    return report, contract, reasons, share


def results_table(report, contract, *, show_all: bool):
    """The rich table of check results (failed first; passed ones only with ``show_all``)."""
    from rich.console import JustifyMethod
    from rich.markup import escape
    from rich.table import Table

    table = Table(title="Data-quality checks (dry run: nothing loaded)")
    columns: tuple[tuple[str, JustifyMethod], ...] = (
        ("extract", "left"),
        ("check", "left"),
        ("Kahn category", "left"),
        ("severity", "left"),
        ("status", "left"),
        ("unexpected", "right"),
        ("%", "right"),
        ("threshold", "right"),
        ("examples", "left"),
    )
    for name, justify in columns:
        table.add_column(name, justify=justify, overflow="fold")
    for row in contract.iter_rows(named=True):
        table.add_row(
            row["extract"],
            f"contract: {row['expectation']}",
            "conformance",
            "row",
            "[red]quarantine[/]",
            f"{row['rows']:,}",
            "",
            "",
            "",
        )
    results = sorted(report.results, key=lambda r: (r.success, r.extract, r.expectation))
    for r in results:
        if r.success and not show_all:
            continue
        if r.success:
            status = "[green]pass[/]"
        elif r.severity == "batch":
            status = "[bold red]REFUSE[/]"
        else:
            status = "[red]quarantine[/]"
        table.add_row(
            r.extract,
            r.expectation,
            f"{r.kahn_category} / {r.kahn_subcategory}",
            r.severity,
            status,
            f"{r.unexpected_count or 0:,}",
            f"{r.unexpected_percent or 0:.2f}",
            "" if r.threshold is None else f"{r.threshold:.1%}",
            escape(", ".join(r.examples)[:60]),  # values from the data: never markup
        )
    return table


def register(app: typer.Typer) -> None:
    """Add ``validate`` to the app."""

    @app.command()
    def validate(
        source_dir: Path = typer.Argument(..., help="Folder holding <extract>.csv or .parquet files."),
        profile: str | None = typer.Option(
            None, "--profile", help="Source profile (TOML file or built-in name) mapping a site's files."
        ),
        as_json: bool = typer.Option(False, "--json", help="Print the report as JSON."),
        show_all: bool = typer.Option(False, "--all", help="List passed checks too."),
        accept_warnings: bool = typer.Option(
            False,
            "--accept-warnings",
            help="Exit 0 even if a batch-level check fails (as ingest would load).",
        ),
        max_quarantine_share: float | None = typer.Option(
            None,
            "--max-quarantine-share",
            min=0.0,
            max=1.0,
            help="Exit 3 when more than this share of rows would be quarantined (default: setting, 0.5).",
        ),
    ) -> None:
        """Check a folder of extracts as ingest would, without loading anything.

        Exit code 3 when ingest would refuse the batch (a batch-level check failed).
        The table lists failed checks (``--all``: every check) and the rows the contract reader
        would quarantine; every validation is recorded when a warehouse exists.
        """
        import sqlalchemy as sa
        from rich.console import Console
        from rich.markup import escape

        from carepulse import schema, warehouse
        from carepulse.errors import BatchRefused
        from carepulse.expectations import record_validation
        from carepulse.settings import get_settings

        settings = get_settings()
        engine = warehouse.make_engine(settings)
        has_warehouse = sa.inspect(engine).has_table(schema.validation_runs.name)
        from carepulse.pipelines.quarantine_report import describe_reasons, share_refusal
        from carepulse.pipelines.sources import load_profile

        report, contract, reasons, (rows_read, quarantined) = dry_run_with_reasons(
            source_dir,
            settings=settings,
            engine=engine if has_warehouse else None,
            profile=load_profile(profile) if profile else None,
        )
        report.accepted_warnings = accept_warnings or settings.accept_warnings
        if has_warehouse:  # every validation is recorded; a dry run has no load run
            with engine.begin() as conn:
                record_validation(conn, report, run_id=None)
        limit = settings.max_quarantine_share if max_quarantine_share is None else max_quarantine_share
        too_many = share_refusal(rows_read, quarantined, limit, reasons)
        console = Console()
        if as_json:
            payload = report.to_dict() | {
                "contract_quarantine": contract.to_dicts(),
                "quarantine_reasons": reasons.to_dicts(),
                "rows_read": rows_read,
                "rows_quarantined": quarantined,
            }
            console.print_json(json.dumps(payload, default=str))
        else:
            table = results_table(report, contract, show_all=show_all)
            if table.row_count:
                console.print(table)
            else:
                console.print(f"[green]All {len(report.results)} checks passed[/] (--all lists them).")
            to_quarantine = report.to_dict()["rows_to_quarantine"] + int(contract["rows"].sum() or 0)
            console.print(
                f"{len(report.results)} checks in {report.duration_s:.1f} s; "
                f"{sum(not r.success for r in report.results)} failed; about {to_quarantine:,} rows would be "
                f"quarantined. Data Docs: {report.data_docs_path}",
                highlight=False,
            )
            if reasons.height:
                console.print("Rows that would be quarantined, top reasons:")
                for line in describe_reasons(reasons):
                    console.print(f"  {line}", highlight=False, markup=False)
            if report.refused and report.accepted_warnings:
                console.print(f"[yellow]accepted:[/] {escape(report.refusal_message())}", highlight=False)
        if too_many:
            raise BatchRefused(too_many)
        if report.refused and not report.accepted_warnings:
            raise BatchRefused(report.refusal_message())  # the CLI prints it and exits 3
