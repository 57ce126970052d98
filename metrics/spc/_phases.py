"""Phases (limits recomputed after an annotated change) and the baseline each phase's limits use."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

import numpy as np
import polars as pl

__all__ = ["phase_numbers", "baseline_mask", "as_literal"]


def as_literal(value: object, dtype: pl.DataType) -> Any:
    """Match a phase or freeze value to the x column: ISO text (CLI, JSON) and date vs datetime."""
    if isinstance(value, str):
        if dtype == pl.Date:
            return date.fromisoformat(value)
        if isinstance(dtype, pl.Datetime):
            return datetime.fromisoformat(value)
    if dtype == pl.Date and isinstance(value, datetime):
        return value.date()
    if isinstance(dtype, pl.Datetime) and isinstance(value, date) and not isinstance(value, datetime):
        return datetime(value.year, value.month, value.day)
    return value


def phase_numbers(x: pl.Series, starts: Sequence[object] | None) -> np.ndarray:
    """Phase 1, 2, ... of each point: a new phase starts at each date in ``starts`` (x >= date)."""
    phase = np.ones(x.len(), dtype=np.int64)
    for start in sorted({as_literal(s, x.dtype) for s in (starts or ())}):
        phase += (x >= start).fill_null(False).to_numpy().astype(np.int64)
    # renumber so that phases without points (a start after the last x, two starts with no x in
    # between) leave no gaps: phases are always 1..k
    _, dense = np.unique(phase, return_inverse=True)
    return dense.astype(np.int64) + 1


def baseline_mask(x: pl.Series, phase: np.ndarray, freeze: object | None) -> np.ndarray:
    """Points whose values may set the limits of their phase.

    ``freeze`` ends the baseline: an int is the number of points in it (qicharts2's ``freeze``;
    ``freeze=20`` means the first 20 points), anything else is the last x value inside it. Within the
    phase that holds baseline points the limits come from those points only and extend over the
    rest of the phase; a phase without baseline points (it starts after the freeze) computes its own
    limits from all its points, since a new phase means the process changed.
    """
    size = x.len()
    if freeze is None:
        return np.ones(size, dtype=bool)
    if isinstance(freeze, (int, np.integer)) and not isinstance(freeze, bool):
        if freeze < 1:
            raise ValueError("freeze must count at least one point")
        in_base = np.arange(size) < int(freeze)
    else:
        in_base = (x <= as_literal(freeze, x.dtype)).fill_null(False).to_numpy()
    mask = np.ones(size, dtype=bool)
    for p in np.unique(phase):
        rows = phase == p
        if in_base[rows].any():
            mask[rows] = in_base[rows]
    return mask


def incomplete_periods(periods: pl.Series, period: str, as_of: date | None) -> list[object]:
    """The period starts (week or month) whose last day is after ``as_of``: not complete yet.

    A week starting on d ends on d + 6 days, a month on its last day; a period ending on ``as_of`` is
    complete. ``as_of`` None (unknown) flags nothing.
    """
    if as_of is None or periods.is_empty():
        return []
    if period not in ("week", "month"):
        raise ValueError(f"period must be 'week' or 'month', not {period!r}")
    starts = periods.cast(pl.Date)
    ends = starts.dt.offset_by("1w" if period == "week" else "1mo").dt.offset_by("-1d")
    as_of_day = as_of.date() if isinstance(as_of, datetime) else as_of
    return periods.filter(ends > as_of_day).to_list()
