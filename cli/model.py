"""``carepulse train``, ``carepulse evaluate``, ``carepulse score``: the no-show risk model."""

from __future__ import annotations

import datetime as dt
import json
from enum import Enum
from pathlib import Path

import typer

from carepulse.cli._console import stdout_console


class OutputFormat(str, Enum):
    table = "table"
    json = "json"


def _f(value, digits: int = 3) -> str:
    return "" if value is None else f"{value:.{digits}f}"


def _overall_table(report: dict):
    from rich.table import Table

    table = Table(title="Test window: discrimination and calibration")
    for col in ("scores", "n", "no-shows", "AUROC", "AUPRC", "Brier", "ECE", "precision@cap", "recall@cap"):
        table.add_column(col, justify="left" if col == "scores" else "right")
    for name, m in report["overall"].items():
        cap = report["capacity"].get(name, {})
        table.add_row(
            name,
            f"{m['n']:,}",
            f"{m['no_shows']:,}",
            _f(m["auroc"]),
            _f(m["auprc"]),
            _f(m["brier"]),
            _f(m["ece"]),
            _f(cap.get("precision")),
            _f(cap.get("recall")),
        )
    return table


def _rows_table(title: str, rows: list[dict], columns: list[str]):
    from rich.table import Table

    table = Table(title=title)
    for col in columns:
        table.add_column(
            col, justify="right" if col not in ("subgroup", "value", "note", "flags") else "left"
        )
    for row in rows:
        table.add_row(
            *[
                _f(row.get(c))
                if isinstance(row.get(c), float)
                else str(row.get(c) if row.get(c) is not None else "")
                for c in columns
            ]
        )
    return table


def _print_report(report: dict) -> None:

    console = stdout_console()
    w = report["windows"]
    console.print(
        f"model {report['model_version']} | test window {w.get('test_start', '')[:10]} to {w.get('cutoff', '')[:10]} | "
        f"calibration {report['calibration_method']}"
    )
    console.print(_overall_table(report))
    if report.get("oracle_auroc_gap") is not None:
        console.print(f"oracle AUROC - model AUROC = {report['oracle_auroc_gap']:.3f} (target: within 0.02)")
    console.print(
        _rows_table(
            "Calibration (deciles of predicted risk)",
            report["calibration_curve"],
            ["bin", "n", "mean_predicted", "observed_rate"],
        )
    )
    console.print(
        _rows_table(
            "Lift by decile (10 = riskiest)",
            report["lift_by_decile"],
            ["decile", "n", "observed_rate", "lift"],
        )
    )
    rows = []
    for r in report["subgroups"]:
        flags = [k.replace("_flag", "") for k in ("auroc_flag", "calibration_flag") if r.get(k)]
        rows.append(r | {"flags": ", ".join(flags) or (r.get("note") or "")})
    console.print(
        _rows_table(
            "By subgroup (flag: AUROC > 0.05 below overall, or calibration gap > 0.02 and > 2 SE)",
            rows,
            [
                "subgroup",
                "value",
                "n",
                "observed_rate",
                "mean_predicted",
                "calibration_gap",
                "auroc",
                "ece",
                "flags",
            ],
        )
    )


def _open_warehouse(*, create_tables: bool):
    """The configured settings and an engine on their warehouse; tables are created first for the
    commands that write (a model registry entry, a scoring run)."""
    from carepulse import schema, warehouse
    from carepulse.settings import get_settings

    settings = get_settings()
    engine = warehouse.make_engine(settings)
    if create_tables:
        schema.create_all(engine)
    return settings, engine


def _moment(as_of: str | None, option: str = "--as-of") -> dt.datetime | None:
    """A date/time option as a datetime (None: the command picks its default)."""
    from carepulse.errors import CarePulseError

    try:
        return dt.datetime.fromisoformat(as_of) if as_of else None
    except ValueError:
        raise CarePulseError(
            f"{option} {as_of!r} is not a date; use YYYY-MM-DD or YYYY-MM-DD HH:MM"
        ) from None


def _split_options(
    test_start: str | None,
    validation_start: str | None,
    test_days: float | None,
    validation_days: float | None,
    test_months: float | None,
):
    """The train command's window options as :class:`SplitOptions` (months must be whole)."""
    from carepulse.errors import CarePulseError
    from carepulse.metrics.no_show_model.training import SplitOptions

    if test_months is not None and (test_months != int(test_months) or test_months < 1):
        raise CarePulseError(
            f"--test-window-months must be a whole number of months (got {test_months:g}); "
            f"for a shorter window use --test-window-days (e.g. {max(1, round(test_months * 30))}) or --test-start"
        )
    for value, option in ((test_days, "--test-window-days"), (validation_days, "--validation-window-days")):
        if value is not None and value <= 0:
            raise CarePulseError(f"{option} must be more than 0 days (got {value:g})")
    return SplitOptions(
        test_start=_moment(test_start, "--test-start"),
        validation_start=_moment(validation_start, "--validation-start"),
        test_days=test_days if test_days is not None else (30.4375 * test_months if test_months else None),
        validation_days=validation_days,
    )


def register(app: typer.Typer) -> None:
    """Add ``train``, ``evaluate`` and ``score`` to the app."""

    @app.command()
    def train(
        as_of: str = typer.Option(
            None, "--as-of", help="Cutoff date/time (default: the data's latest booking)."
        ),
        truth: Path = typer.Option(
            None, help="Synthetic truth parquet for the oracle (default: found next to the loaded extracts)."
        ),
        output: OutputFormat = typer.Option(OutputFormat.table, "--format", help="table or json."),
        test_start: str = typer.Option(
            None, "--test-start", help="First day of the test window (YYYY-MM-DD)."
        ),
        validation_start: str = typer.Option(
            None,
            "--validation-start",
            help="First day of the validation window (default: as long as the test window).",
        ),
        test_days: float = typer.Option(None, "--test-window-days", help="Test window length in days."),
        validation_days: float = typer.Option(
            None, "--validation-window-days", help="Validation window length in days."
        ),
        test_months: float = typer.Option(
            None,
            "--test-window-months",
            help="Test window in whole months (default: setting test_window_months).",
        ),
    ) -> None:
        """Train, calibrate and evaluate the no-show model on temporal windows; register it as current.

        Short extracts: ``--test-start 2026-04-01`` (validation as long as the test window, just before
        it; training everything earlier) or window lengths in days. An impossible split names the
        appointments and no-shows found in each window.
        """

        from carepulse.metrics.no_show_model import train_model

        split_options = _split_options(test_start, validation_start, test_days, validation_days, test_months)
        settings, engine = _open_warehouse(create_tables=True)
        console = stdout_console()
        with console.status(
            "training the no-show model (features, gradient boosting, calibration, evaluation)..."
        ):
            mv = train_model(
                engine, settings, as_of=_moment(as_of), truth_path=truth, split_options=split_options
            )
        if output is OutputFormat.json:
            console.print_json(
                json.dumps(
                    {"version": mv.version, "file_sha256": mv.file_sha256, "metrics": mv.metrics}, default=str
                )
            )
            return
        console.print(
            f"registered model {mv.version} (current), file {mv.file_path}, sha256 {mv.file_sha256[:16]}..."
        )
        console.print(_overall_table(mv.metrics))
        console.print(f"model card: {settings.data_dir / 'models' / f'no_show_{mv.version}.md'}")

    @app.command()
    def evaluate(
        truth: Path = typer.Option(
            None, help="Synthetic truth parquet for the oracle (default: found next to the loaded extracts)."
        ),
        output: OutputFormat = typer.Option(OutputFormat.table, "--format", help="table or json."),
    ) -> None:
        """Evaluate the current model on its test window of the warehouse (overall, capacity, lift, subgroups)."""
        from rich.console import Console

        from carepulse.metrics.no_show_model import evaluate_model

        settings, engine = _open_warehouse(create_tables=False)
        with Console(stderr=True).status("evaluating the current no-show model..."):
            report = evaluate_model(engine, settings, truth_path=truth).to_dict()
        if output is OutputFormat.json:
            Console().print_json(json.dumps(report, default=str))
            return
        _print_report(report)

    @app.command()
    def score(
        days: int = typer.Option(
            None, help="Score appointments starting in the next N days (default: scoring_horizon_days)."
        ),
        as_of: str = typer.Option(
            None, "--as-of", help="Scoring moment (default: the data's latest booking, never after now)."
        ),
    ) -> None:
        """Score upcoming scheduled appointments: risk, band, three reasons, suggested action, benefit."""
        from rich.table import Table

        from carepulse.metrics.no_show_model.scoring import current_scores, score_upcoming

        settings, engine = _open_warehouse(create_tables=True)
        console = stdout_console()
        with console.status("scoring upcoming appointments..."):
            run_id = score_upcoming(engine, settings, as_of=_moment(as_of), days=days)
        scores = current_scores(engine).filter(__import__("polars").col("score_run_id") == run_id)
        console.print(f"score run {run_id}: {scores.height:,} appointments current in the worklist")
        table = Table(title="Top 10 by expected benefit")
        for col in ("rank", "risk", "band", "reason 1", "reason 2", "reason 3", "action"):
            table.add_column(col)
        for r in scores.head(10).iter_rows(named=True):
            table.add_row(
                str(r["rank"]),
                f"{r['risk']:.2f}",
                r["risk_band"],
                r["reason_1"] or "",
                r["reason_2"] or "",
                r["reason_3"] or "",
                r["suggested_action"],
            )
        console.print(table)
