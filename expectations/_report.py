"""The uniform result shape of every check (as OHDSI DQD: one row per check, same columns)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import polars as pl

#: Columns of :attr:`ValidationReport.row_failures`: which rows (by extract and source line) fail
#: which row-level check. Ingest quarantines exactly these rows, with ``reason``.
ROW_FAILURE_SCHEMA: dict[str, pl.DataType] = {
    "extract": pl.String(),
    "line": pl.Int64(),
    "column_name": pl.String(),
    "value": pl.String(),
    "expectation": pl.String(),
    "reason": pl.String(),
}


@dataclass(frozen=True)
class ExpectationResult:
    """The outcome of one expectation on one extract (row- or batch-level)."""

    extract: str
    expectation: str
    kahn_category: str  # conformance, completeness, plausibility
    severity: str  # "row": failing rows are quarantined; "batch": failure refuses the load
    success: bool
    column_name: str | None = None
    kahn_subcategory: str | None = None
    observed_value: str | None = None
    element_count: int | None = None
    unexpected_count: int | None = None
    unexpected_percent: float | None = None
    threshold: float | None = None
    examples: tuple[str, ...] = ()  # never PHI
    description: str = ""


@dataclass
class ValidationReport:
    """Everything one validation found in one batch."""

    results: list[ExpectationResult] = field(default_factory=list)
    row_failures: pl.DataFrame = field(default_factory=lambda: pl.DataFrame(schema=ROW_FAILURE_SCHEMA))
    duration_s: float = 0.0
    data_docs_path: str | None = None
    accepted_warnings: bool = False  # the caller loads despite failed batch checks (--accept-warnings)
    executor: str = "polars"  # which engine computed the checks ("polars" or "gx")

    def to_dict(self) -> dict:
        """A JSON-ready summary (``carepulse validate --json``, validation_runs.summary). Never PHI."""
        return {
            "success": self.success,
            "refused": self.refused,
            "accepted_warnings": self.accepted_warnings,
            "duration_s": round(self.duration_s, 3),
            "data_docs_path": self.data_docs_path,
            "rows_to_quarantine": self.row_failures.select("extract", "line").n_unique()
            if self.row_failures.height
            else 0,
            "results": [asdict(r) for r in self.results],
        }

    def refusal_message(self) -> str:
        """What failed and how to override: the text of :class:`carepulse.errors.BatchRefused`."""
        failed = "; ".join(
            f"{r.expectation} ({r.observed_value}; threshold {r.threshold:.1%})"
            for r in self.failed_batch_checks
        )
        names = ", ".join(f'"{r.expectation}" = <fraction>' for r in self.failed_batch_checks)
        return (
            f"batch refused by {len(self.failed_batch_checks)} data-quality check(s): {failed}. "
            "The warehouse is unchanged. To load anyway, rerun with --accept-warnings, or raise the "
            f"threshold in the expectation_thresholds table of carepulse.toml: {names}."
        )

    @property
    def failed_batch_checks(self) -> list[ExpectationResult]:
        return [r for r in self.results if r.severity == "batch" and not r.success]

    @property
    def refused(self) -> bool:
        """True when a batch-level check failed: the load must not change the warehouse."""
        return bool(self.failed_batch_checks)

    @property
    def success(self) -> bool:
        return all(r.success for r in self.results)
