"""The uniform result shape of every check (as OHDSI DQD: one row per check, same columns)."""

from __future__ import annotations

from dataclasses import dataclass, field

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
