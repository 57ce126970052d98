"""``carepulse demo``: a whole health system on this machine, from nothing to the dashboard.

Generates a synthetic health system, ingests it (with every data-quality check), trains and scores
the no-show model, creates demo accounts, marks the planted interventions on the QI charts and
serves the dashboard. Each step is the same library call the other commands and the tests make.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import sqlalchemy as sa
import typer
from rich.table import Table

from carepulse.cli._console import stdout_console

console = stdout_console()


def register(app: typer.Typer) -> None:
    """Add ``demo`` to the app."""

    @app.command()
    def demo(
        patients: int = typer.Option(20_000, help="Patients in the generated health system."),
        months: int = typer.Option(24, help="Months of history."),
        seed: int = typer.Option(42, help="Random seed (same seed, same health system)."),
        host: str = typer.Option("localhost", help="Host the dashboard listens on."),
        port: int = typer.Option(8501, help="Port of the dashboard."),
        serve: bool = typer.Option(
            True, help="Serve the dashboard at the end (--no-serve to stop after set-up)."
        ),
        fresh: bool = typer.Option(False, help="Delete an earlier demo's warehouse and extracts first."),
    ) -> None:
        """Generate, load, train, score, create demo accounts and serve the dashboard."""
        run_demo(patients=patients, months=months, seed=seed, fresh=fresh)
        if serve:
            from carepulse.cli.serve import serve_dashboard

            console.print(f"\n[bold]Dashboard:[/] http://{host}:{port}  (Ctrl+C to stop)")
            serve_dashboard(host=host, port=port)


def run_demo(*, patients: int, months: int, seed: int, fresh: bool = False) -> dict:
    """Set up the demo warehouse; returns what it did (used by the tests)."""
    import shutil

    from carepulse import schema, warehouse
    from carepulse.settings import get_settings

    settings = get_settings()
    extracts = settings.data_dir / "demo-extracts"
    if fresh:
        shutil.rmtree(extracts, ignore_errors=True)
        if settings.is_sqlite:
            for suffix in ("", "-wal", "-shm"):
                Path(str(settings.data_dir / "warehouse.sqlite") + suffix).unlink(missing_ok=True)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    engine = warehouse.make_engine(settings)
    schema.create_all(engine)

    done: dict = {}
    already_loaded = (
        warehouse.latest_load_run_id(engine) is not None and (extracts / "appointments.csv").exists()
    )
    if already_loaded:
        console.print(
            f"[dim]Using the demo health system already in {settings.data_dir} (--fresh to rebuild).[/]"
        )
    else:
        from carepulse.pipelines.ingest import ingest
        from carepulse.pipelines.synthetic import generate_health_system

        console.rule("1/4  Generating a synthetic health system")
        # A nightly extract: history to the end of yesterday (completed visits later today would be in the future).
        nightly = dt.date.today() - dt.timedelta(days=1)
        generate_health_system(
            extracts, patients=patients, months=months, seed=seed, as_of=nightly, progress=True
        )
        console.rule("2/4  Loading it into the warehouse (with data-quality checks)")
        summary = ingest(extracts, engine=engine, settings=settings, progress=True)
        done["load_run_id"] = summary.run_id
        _annotate_planted_interventions(engine, extracts)

    console.rule("3/4  Training the no-show model")
    from carepulse.metrics.no_show_model import score_upcoming, train_model

    version = train_model(engine, settings)
    done["model_version"] = version.version
    _print_model_summary(version)
    console.rule("4/4  Scoring the coming appointments")
    done["score_run_id"] = score_upcoming(engine, settings, days=settings.scoring_horizon_days)
    with engine.connect() as conn:
        n_scored = conn.execute(
            sa.select(schema.score_runs.c.n_scored).where(
                schema.score_runs.c.score_run_id == done["score_run_id"]
            )
        ).scalar()
    console.print(
        f"Scored {n_scored:,} appointments in the next {settings.scoring_horizon_days} days for the worklist."
    )

    from carepulse.access import demo_accounts

    accounts = demo_accounts(engine)
    table = Table(
        title="Demo accounts (passwords shown once; change them with `carepulse users reset-password`)"
    )
    for col in ("username", "role", "password"):
        table.add_column(col)
    for username, role, password in accounts:
        table.add_row(
            username,
            role,
            password or f"(kept; new one: carepulse users reset-password {username} --generate)",
        )
    console.print(table)
    done["accounts"] = [(u, r) for u, r, _ in accounts]
    return done


def _print_model_summary(version) -> None:
    """One line per model on its held-out test window: what a reader wants to know first."""
    overall = version.metrics.get("overall", {})
    table = Table(
        title=f"No-show model {version.version}: held-out test window {version.test_start} to {version.test_end}"
    )
    for col in ("model", "AUROC", "AUPRC", "Brier", "ECE", "appointments"):
        table.add_column(col, justify="right" if col != "model" else "left")
    for name in ("model", "baseline", "oracle"):
        row = overall.get(name)
        if row:
            label = {
                "model": "gradient boosting (calibrated)",
                "baseline": "logistic baseline",
                "oracle": "oracle (true probabilities)",
            }[name]
            table.add_row(
                label,
                f"{row['auroc']:.3f}",
                f"{row['auprc']:.3f}",
                f"{row['brier']:.4f}",
                f"{row['ece']:.4f}",
                f"{row['n']:,}",
            )
    console.print(table)


def _annotate_planted_interventions(engine, extracts: Path) -> None:
    """Mark the generator's planted interventions on the QI charts, as a QI team would."""
    path = extracts / "truth" / "interventions.json"
    if not path.exists():
        return
    from carepulse.records.annotations import add_annotation

    for item in json.loads(path.read_text()):
        add_annotation(
            engine,
            metric=item["metric"],
            department_id=item.get("department_id"),
            annotated_on=dt.date.fromisoformat(item["date"]),
            title=item["title"],
            description=item.get("description", ""),
            starts_phase=True,
            created_by="demo",
        )
