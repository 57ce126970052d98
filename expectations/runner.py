"""Runs the check catalogue on a batch and persists what it found.

Execution path (chosen by measurement, see ``docs/data-quality.md`` and ``bench/validate.py``):
every check is computed in Polars -- row checks as one boolean mask per check over each extract in
a single parallel ``select``, batch checks as small aggregates. The same checks are also declared as
Great Expectations suites (one per extract); ``executor="gx"`` runs those suites through GX's pandas
engine instead (slower; kept to cross-check the two and for the benchmark). GX is imported only
inside the functions that need it, so importing :mod:`carepulse.expectations` stays cheap.
"""

from __future__ import annotations

import json
import time
from datetime import datetime
from typing import cast

import polars as pl
import sqlalchemy as sa

from carepulse.errors import CarePulseError
from carepulse.expectations._check import BatchRule, Check, RowRule
from carepulse.expectations._checks import CHECKS, CHECKS_BY_NAME, checks_for, now_local
from carepulse.expectations._context import BatchContext
from carepulse.expectations._outcome import MAX_EXAMPLES, Outcome, exclude_failed_rows, extracts_in_load_order
from carepulse.expectations._report import ROW_FAILURE_SCHEMA, ExpectationResult, ValidationReport
from carepulse.settings import Settings


def effective_thresholds(settings: Settings) -> dict[str, float]:
    """Every batch check's threshold, with ``settings.expectation_thresholds`` applied.

    Raises :class:`CarePulseError` for an override naming no batch check (a typo would otherwise
    silently keep the default).
    """
    thresholds = {c.name: c.threshold for c in CHECKS if c.severity == "batch" and c.threshold is not None}
    for name, value in settings.expectation_thresholds.items():
        if name not in CHECKS_BY_NAME:
            raise CarePulseError(
                f"expectation_thresholds: unknown expectation {name!r} (see docs/data-quality.md)"
            )
        if name not in thresholds:
            raise CarePulseError(
                f"expectation_thresholds: {name!r} is a row-level check (its rows are quarantined); "
                "only batch-level checks have a threshold"
            )
        if not 0.0 <= float(value) <= 1.0:
            raise CarePulseError(
                f"expectation_thresholds: {name!r} must be a fraction between 0 and 1, got {value}"
            )
        thresholds[name] = float(value)
    return thresholds


def _row_outcomes(ctx: BatchContext, extract: str, checks: list[Check]) -> dict[str, Outcome]:
    """All row checks of one extract as masks computed in one parallel pass."""
    frame = ctx.frames[extract]
    masks = frame.select(
        [cast(RowRule, check.rule)(ctx, check).fill_null(False).alias(check.name) for check in checks]
    )
    counts = masks.sum().row(0, named=True)
    outcomes = {}
    for check in checks:
        count = int(counts[check.name] or 0)
        failures = None
        examples: tuple[str, ...] = ()
        if count:
            failures = frame.filter(masks[check.name]).select(
                "_line",
                pl.col(cast(str, check.column)).cast(pl.String).alias("value"),  # row checks name one
            )
            if not check.is_phi:
                examples = tuple(
                    failures["value"].drop_nulls().unique(maintain_order=True).head(MAX_EXAMPLES).to_list()
                )
        outcomes[check.name] = Outcome(
            frame.height, count, f"{count} of {frame.height} rows unexpected", examples, failures
        )
    return outcomes


def _polars_outcomes(ctx: BatchContext, checks: list[Check]) -> dict[str, Outcome]:
    outcomes: dict[str, Outcome] = {}
    for extract in extracts_in_load_order(ctx.frames):
        row_checks = [c for c in checks if c.extract == extract and c.severity == "row"]
        if row_checks:
            outcomes.update(_row_outcomes(ctx, extract, row_checks))
            exclude_failed_rows(ctx, extract, [outcomes[c.name] for c in row_checks])
    for check in checks:
        if check.severity == "batch":
            measure = cast(BatchRule, check.rule)(ctx, check)
            outcomes[check.name] = Outcome(
                measure.element_count, measure.unexpected_count, measure.observed_value, measure.examples
            )
    return outcomes


def _result(check: Check, outcome: Outcome, threshold: float | None) -> ExpectationResult:
    percent = 100.0 * outcome.unexpected_count / outcome.element_count if outcome.element_count else 0.0
    if check.severity == "batch":
        assert threshold is not None  # every batch check has one
        success = percent <= 100.0 * threshold + 1e-9
    else:
        success = outcome.unexpected_count == 0
    return ExpectationResult(
        extract=check.extract,
        expectation=check.name,
        kahn_category=check.kahn_category,
        severity=check.severity,
        success=success,
        column_name=check.column,
        kahn_subcategory=check.kahn_subcategory,
        observed_value=outcome.observed_value,
        element_count=outcome.element_count,
        unexpected_count=outcome.unexpected_count,
        unexpected_percent=round(percent, 4),
        threshold=threshold,
        examples=() if check.is_phi else outcome.examples,
        description=check.describe(threshold),
    )


def _row_failures(checks: list[Check], outcomes: dict[str, Outcome]) -> pl.DataFrame:
    parts = [
        failures.select(
            pl.lit(c.extract).alias("extract"),
            pl.col("_line").cast(pl.Int64).alias("line"),
            pl.lit(c.column).alias("column_name"),
            "value",
            pl.lit(c.name).alias("expectation"),
            pl.lit(c.describe()).alias("reason"),
        )
        for c in checks
        if c.severity == "row" and (failures := outcomes[c.name].failures) is not None
    ]
    if not parts:
        return pl.DataFrame(schema=ROW_FAILURE_SCHEMA)
    return pl.concat(parts).sort("extract", "line", "expectation")


def validate_batch(
    frames: dict[str, pl.DataFrame],
    *,
    settings: Settings,
    engine: sa.Engine | None = None,
    as_of: datetime | None = None,
    executor: str = "polars",
    data_docs: bool = True,
) -> ValidationReport:
    """Validate contract-typed extract frames (each with a ``_line`` column: the source line).

    Parameters
    ----------
    frames : {extract name: frame}, typed as the contract says, plus Int64 ``_line``.
    settings : thresholds (``expectation_thresholds``), ``accept_warnings``, timezone, data_dir.
    engine : the warehouse; foreign keys and volumes are compared with it. ``None``: batch only.
    as_of : the site's wall time that counts as "now" (default: the current time in the timezone).
    executor : ``"polars"`` (default, fast) or ``"gx"`` (the GX suites on pandas; same results).
    data_docs : render the Data Docs HTML into ``settings.data_dir / "data_docs"``.

    Returns
    -------
    ValidationReport with one result per check and the row failures to quarantine.
    """
    started = time.perf_counter()
    unknown = set(frames) - {c.extract for c in CHECKS}
    if unknown:
        raise CarePulseError(f"no checks for unknown extract(s) {sorted(unknown)}")
    thresholds = effective_thresholds(settings)
    ctx = BatchContext(frames, as_of or now_local(settings.timezone), engine, thresholds)
    checks = checks_for(frames)
    if executor == "polars":
        outcomes = _polars_outcomes(ctx, checks)
    elif executor == "gx":
        from carepulse.expectations._gx import gx_outcomes

        outcomes = _polars_outcomes(ctx, [c for c in checks if c.gx is None])
        outcomes.update(gx_outcomes(ctx, [c for c in checks if c.gx is not None]))
    else:
        raise ValueError(f"unknown executor {executor!r}")
    report = ValidationReport(
        results=[_result(c, outcomes[c.name], thresholds.get(c.name)) for c in checks],
        row_failures=_row_failures(checks, outcomes),
        accepted_warnings=settings.accept_warnings,
        executor=executor,
    )
    if data_docs:
        from carepulse.expectations._gx import render_data_docs

        report.data_docs_path = str(render_data_docs(report, ctx, settings.data_dir / "data_docs"))
    report.duration_s = time.perf_counter() - started
    return report


def record_validation(conn: sa.Connection, report: ValidationReport, run_id: int | None) -> int:
    """Persist a report inside the caller's transaction; returns the validation run id."""
    from carepulse.schema import validation_results, validation_runs

    summary = {k: v for k, v in report.to_dict().items() if k != "results"}
    summary["failed"] = [r.expectation for r in report.results if not r.success]
    run_key = conn.execute(
        sa.insert(validation_runs).values(
            run_id=run_id,
            started_at=datetime.now(),
            duration_s=report.duration_s,
            success=report.success,
            refused=report.refused,
            accepted_warnings=report.accepted_warnings,
            data_docs_path=report.data_docs_path,
            summary=json.dumps(summary),
        )
    ).inserted_primary_key
    assert run_key is not None  # an INSERT reports its key
    validation_run_id = run_key[0]
    rows = [
        {
            "validation_run_id": validation_run_id,
            "extract": r.extract,
            "expectation": r.expectation,
            "column_name": r.column_name,
            "kahn_category": r.kahn_category,
            "kahn_subcategory": r.kahn_subcategory,
            "severity": r.severity,
            "success": r.success,
            "observed_value": r.observed_value,
            "element_count": r.element_count,
            "unexpected_count": r.unexpected_count,
            "unexpected_percent": r.unexpected_percent,
            "threshold": r.threshold,
            "examples": json.dumps(list(r.examples)),
            "description": r.description,
        }
        for r in report.results
    ]
    if rows:
        conn.execute(sa.insert(validation_results), rows)
    return int(validation_run_id)
