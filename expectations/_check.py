"""One row of the check catalogue (:class:`Check`) and what a batch rule measures (:class:`BatchMeasure`)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import polars as pl

from carepulse.contract import EXTRACTS
from carepulse.expectations._context import BatchContext

KAHN_CATEGORIES = ("conformance", "completeness", "plausibility")
SEVERITIES = ("row", "batch")


@dataclass(frozen=True)
class BatchMeasure:
    """What a batch rule measured: ``unexpected_count`` of ``element_count`` elements."""

    element_count: int
    unexpected_count: int
    observed_value: str
    examples: tuple[str, ...] = ()


RowRule = Callable[[BatchContext, "Check"], pl.Expr]
BatchRule = Callable[[BatchContext, "Check"], BatchMeasure]
GxSpec = Callable[[BatchContext, "Check"], tuple[str, dict[str, Any]]]


@dataclass(frozen=True)
class Check:
    """One data-quality check (one row of the catalogue)."""

    name: str
    extract: str
    column: str | None
    kahn_category: str
    kahn_subcategory: str
    severity: str
    description: str  # template: {extract} {column} {threshold_pct} and any key of ``params``
    rule: RowRule | BatchRule
    threshold: float | None = None  # batch checks: the largest unexpected fraction that passes
    params: Mapping[str, Any] = field(default_factory=dict)
    gx: GxSpec | None = None

    @property
    def is_phi(self) -> bool:
        """True when the checked column holds PHI: results then carry counts, never values."""
        return bool(self.column) and self.column in EXTRACTS[self.extract].phi_columns

    def describe(self, threshold: float | None = None) -> str:
        threshold = self.threshold if threshold is None else threshold
        pct = "" if threshold is None else f"{threshold * 100:g}%"
        return self.description.format(
            extract=self.extract, column=self.column, threshold_pct=pct, **self.params
        )
