"""One check's raw outcome, the shape both executors (Polars and GX) return, and the helpers they share."""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from carepulse.contract import LOAD_ORDER
from carepulse.expectations._context import BatchContext

MAX_EXAMPLES = 5


@dataclass
class Outcome:
    """One check's raw outcome, whichever executor computed it."""

    element_count: int
    unexpected_count: int
    observed_value: str
    examples: tuple[str, ...] = ()
    failures: pl.DataFrame | None = None  # row checks: (_line, value) of the unexpected rows


def extracts_in_load_order(frames: dict[str, pl.DataFrame]) -> list[str]:
    """Referenced extracts first, so their quarantined rows are known before their dependants run."""
    return [name for name in LOAD_ORDER if name in frames]


def exclude_failed_rows(ctx: BatchContext, extract: str, outcomes: list[Outcome]) -> None:
    lines = [o.failures["_line"] for o in outcomes if o.failures is not None and o.failures.height]
    if lines:
        ctx.quarantined_lines[extract] = pl.concat(lines).unique()
