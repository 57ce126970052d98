"""``carepulse generate``: write a synthetic health system (every extract, plus truth files)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import typer

from carepulse.cli._console import stdout_console


def register(app: typer.Typer) -> None:
    """Add ``generate`` to the app."""

    @app.command()
    def generate(
        out: Path = typer.Option(..., "--out", help="Folder to write the extract files into."),
        patients: int = typer.Option(20_000, help="Number of patients (about 7.5 visits each per 2 years)."),
        months: int = typer.Option(24, help="Months of history up to --as-of."),
        seed: int = typer.Option(42, help="Random seed: same seed, same files."),
        format_: str = typer.Option(
            "csv",
            "--format",
            help="csv (the extract contract), fhir (FHIR R4 Bulk Data NDJSON) or hl7v2 (an SIU feed).",
        ),
        as_of: str = typer.Option(
            None,
            "--as-of",
            help="Extract date YYYY-MM-DD: history runs to the end of that day (default: yesterday, as a nightly extract).",
        ),
    ) -> None:
        """Generate a synthetic health system: one CSV per extract, truth/ beside them."""
        from rich.table import Table

        from carepulse.errors import CarePulseError
        from carepulse.pipelines.synthetic import generate_health_system

        try:
            as_of_date = dt.date.fromisoformat(as_of) if as_of else dt.date.today() - dt.timedelta(days=1)
        except ValueError:
            raise CarePulseError(f"--as-of {as_of!r} is not a date; use YYYY-MM-DD") from None
        if format_ not in ("csv", "fhir", "hl7v2"):
            raise CarePulseError(f"--format {format_!r} is not one of: csv, fhir, hl7v2")
        console = stdout_console()
        if format_ in ("fhir", "hl7v2"):
            _generate_other(out, format_, patients=patients, months=months, seed=seed, as_of=as_of_date)
            profile = "fhir-r4-bulk" if format_ == "fhir" else "hl7v2-siu"
            console.print(
                f"{format_} files in {out}; load them with `carepulse ingest {out} --profile {profile}`"
            )
            return
        summary = generate_health_system(
            out, patients=patients, months=months, seed=seed, as_of=as_of_date, progress=True
        )
        from carepulse.contract import LOAD_ORDER

        table = Table(title=f"Generated in {summary.seconds:.1f} s")
        table.add_column("extract")
        table.add_column("rows", justify="right")
        for name in LOAD_ORDER:
            table.add_row(f"{name}.csv", f"{summary.rows.get(name, 0):,}")
        console.print(table)
        console.print(
            f"Extracts in {out}; true no-show probabilities and planted interventions in {out / 'truth'}"
        )
        console.print(
            f"No-show rate {summary.no_show_rate:.1%} ({summary.no_shows:,} of {summary.visits_due:,} past, "
            f"non-cancelled visits); {summary.cancelled:,} cancelled; "
            f"{len(summary.interventions)} planted interventions."
        )


def _generate_other(
    out: Path, format_: str, *, patients: int, months: int, seed: int, as_of: dt.date
) -> None:
    """Generate the contract CSVs in a scratch folder, convert them (FHIR or HL7 v2) into ``out``, keep truth/."""
    import shutil
    import tempfile

    from carepulse.pipelines.synthetic import generate_health_system
    from carepulse.pipelines.synthetic.fhir_writer import write_fhir
    from carepulse.pipelines.synthetic.hl7_writer import write_hl7v2
    from carepulse.settings import get_settings

    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=out) as scratch:
        generate_health_system(
            Path(scratch), patients=patients, months=months, seed=seed, as_of=as_of, progress=True
        )
        if format_ == "fhir":
            write_fhir(scratch, out, timezone=get_settings().timezone)
        else:
            write_hl7v2(scratch, out, timezone=get_settings().timezone)
        if (Path(scratch) / "truth").is_dir():
            shutil.rmtree(out / "truth", ignore_errors=True)
            shutil.move(str(Path(scratch) / "truth"), out / "truth")
