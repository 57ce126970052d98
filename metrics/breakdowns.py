"""What a metric can be broken down by, and the nearest safe view when small cells must be hidden.

Pure helpers the dashboard's breakdowns and drill-downs call: which dimensions a metric's rows
actually carry (discharges carry the patient's dimensions only, so no department), the next coarser
grain of a view (month -> quarter, department -> site), and the sentence that says why a coarser
view is shown instead of a blank.
"""

from __future__ import annotations

import datetime as dt

import polars as pl

#: The next coarser grain of each time or organisational grain.
COARSER: dict[str, str] = {
    "week": "month",
    "month": "quarter",
    "provider": "department",
    "department": "site",
}

#: Dimensions offered for a drill-down from a point or bar, in order.
DRILL_DIMENSIONS: tuple[str, ...] = ("department", "site", "provider", "weekday", "payer_class")


def dimensions_with_values(units: pl.LazyFrame | pl.DataFrame, dimensions: tuple[str, ...]) -> list[str]:
    """The ``dimensions`` that are columns of ``units`` with at least one non-null value."""
    lazy = units.lazy()
    present = [d for d in dimensions if d in lazy.collect_schema().names()]
    if not present:
        return []
    counts = lazy.select(pl.col(d).drop_nulls().len().alias(d) for d in present).collect().row(0, named=True)
    return [d for d in present if counts[d] > 0]


def suppressed_rows(frame: pl.DataFrame) -> int:
    """How many rows small-cell suppression hid (0 when the frame was not suppressed)."""
    if "suppressed" not in frame.columns:
        return 0
    return int(frame.get_column("suppressed").fill_null(False).sum())


def safer_grain(grain: str) -> str | None:
    """The next coarser grain of ``grain``, or None when there is none."""
    return COARSER.get(grain)


def choose_safe_view(candidates: list[tuple[str, pl.DataFrame]]) -> tuple[str, pl.DataFrame]:
    """The first candidate ``(grain, suppressed frame)`` that hides no row, else the one hiding the
    smallest share of its rows (ties: the finer one). ``candidates`` go from finest to coarsest."""
    if not candidates:
        raise ValueError("choose_safe_view needs at least one candidate view")
    best = candidates[0]
    best_share = 2.0
    for grain, frame in candidates:
        hidden = suppressed_rows(frame)
        if hidden == 0:
            return grain, frame
        share = hidden / max(frame.height, 1)
        if share < best_share:
            best, best_share = (grain, frame), share
    return best


def safer_view_note(asked: str, shown: str, hidden: int, threshold: int) -> str:
    """Why a coarser view is shown, e.g. 'By month, 3 cells have 1 to 10 cases and would be hidden
    (small-cell rule), so this shows quarter instead.'"""
    cells = "cell has" if hidden == 1 else "cells have"
    return (
        f"By {asked}, {hidden} {cells} 1 to {threshold} cases and would be hidden (small-cell rule), "
        f"so this shows {shown} instead."
    )


__all__ = [
    "BEHIND_COLUMNS",
    "COARSER",
    "DRILL_DIMENSIONS",
    "appointments_behind",
    "choose_safe_view",
    "dimensions_with_values",
    "safer_grain",
    "safer_view_note",
    "suppressed_rows",
]


#: Columns of the appointment rows listed behind a drilled-into point (no patient identifiers).
BEHIND_COLUMNS: tuple[str, ...] = (
    "appointment_id",
    "scheduled_start",
    "status",
    "department",
    "site",
    "provider",
    "visit_type",
    "modality",
    "payer_class",
)


def appointments_behind(
    appointments: pl.LazyFrame,
    *,
    filters: dict[str, list[str]],
    start: dt.date | None,
    end: dt.date | None,
    limit: int = 500,
) -> pl.DataFrame:
    """The appointments (prepared rows, dated by ``_date``) behind a point or bar: the view's date
    range and filters plus the drilled-into unit, newest first, at most ``limit`` rows."""
    rows = appointments
    if start is not None:
        rows = rows.filter(pl.col("_date") >= start)
    if end is not None:
        rows = rows.filter(pl.col("_date") <= end)
    names = rows.collect_schema().names()
    for column, values in filters.items():
        if column in names and values:
            rows = rows.filter(pl.col(column).cast(pl.String).is_in([str(v) for v in values]))
    keep = [c for c in BEHIND_COLUMNS if c in names]
    return rows.select(keep).sort("scheduled_start", descending=True).head(limit).collect()
