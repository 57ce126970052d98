"""NHS England "Making Data Count" (MDC): point types, the variation icon and the assurance icon.

Computed as NHSRplotthedots does (nhs-r-community/NHSRplotthedots, R/ptd_spc_standard.R,
R/ptd_calculate_point_type.R, R/ptd_calculate_assurance_type.R, R/geom_ptd_icon.R):
- a point is special cause when it is outside the 3-sigma limits, or part of 7 consecutive points
  on one side of the mean (a point on the mean breaks the run), or part of 7 points steadily
  increasing or decreasing (equal values break it), or one of 2 of 3 consecutive points "close to
  the limits" (between 2 and 3 sigma, not beyond) with all 3 on the same side of the mean;
- a special-cause point is improving when it lies on the better side of the mean, else concerning
  (neither when the metric has no better direction);
- the variation icon is the type of the last point; the assurance icon compares the target with the
  last point's limits: target beyond the limits on the good side -> consistently passing, on the
  bad side -> consistently failing, between them -> hit and miss.
"""

from __future__ import annotations

import numpy as np

from ._rules import points_in_long_runs, points_in_trends

__all__ = ["nhs_point_types", "nhs_variation", "nhs_assurance", "direction_of"]

COMMON = "common_cause"
IMPROVING = "special_cause_improving"
CONCERNING = "special_cause_concerning"
NEITHER = "special_cause_neither"


def direction_of(better: str | None) -> int:
    """+1 when higher is better, -1 when lower is better, 0 when neither."""
    return {"higher": 1, "lower": -1, None: 0}[better]


def _two_of_three_close(
    values: np.ndarray,
    cl: np.ndarray,
    lcl: np.ndarray,
    ucl: np.ndarray,
    lcl_2s: np.ndarray,
    ucl_2s: np.ndarray,
) -> np.ndarray:
    with np.errstate(invalid="ignore"):
        outside = (values > ucl) | (values < lcl)
        close = ~outside & ((values < lcl_2s) | (values > ucl_2s))
        side = np.nan_to_num(np.sign(values - cl))
    flags = np.zeros(values.size, dtype=bool)
    idx = np.flatnonzero(np.isfinite(values))
    for k in range(idx.size - 2):
        w = idx[k : k + 3]
        if close[w].sum() >= 2 and abs(side[w].sum()) == 3:
            flags[w[close[w]]] = True
    return flags


def nhs_point_types(
    values: np.ndarray,
    cl: np.ndarray,
    lcl: np.ndarray,
    ucl: np.ndarray,
    lcl_2s: np.ndarray,
    ucl_2s: np.ndarray,
    better: str | None,
) -> np.ndarray:
    """MDC type of each point of one phase (None for missing or excluded points)."""
    with np.errstate(invalid="ignore"):
        outside = np.nan_to_num((values > ucl) | (values < lcl)).astype(bool)
    special = (
        outside
        | points_in_long_runs(values, cl, 7, on_centre="break")
        | points_in_trends(values, 7, ties="break")
        | _two_of_three_close(values, cl, lcl, ucl, lcl_2s, ucl_2s)
    )
    direction = direction_of(better)
    side = np.nan_to_num(np.sign(values - cl))
    types = np.empty(values.size, dtype=object)
    for i in range(values.size):
        if not np.isfinite(values[i]):
            types[i] = None
        elif not special[i]:
            types[i] = COMMON
        elif direction == 0:
            types[i] = NEITHER
        else:
            types[i] = IMPROVING if side[i] == direction else CONCERNING
    return types


def nhs_variation(point_types: np.ndarray) -> str | None:
    """The variation icon: the type of the last point with a value."""
    present = [t for t in point_types if t is not None]
    return present[-1] if present else None


def nhs_assurance(target: float | None, lcl: float, ucl: float, better: str | None) -> str:
    """The assurance icon for the limits of the last point (``none`` without target or direction)."""
    if target is None or better is None or not (np.isfinite(lcl) and np.isfinite(ucl)):
        return "none"
    increasing = better == "higher"
    if target > ucl:
        return "consistently_failing" if increasing else "consistently_passing"
    if target < lcl:
        return "consistently_passing" if increasing else "consistently_failing"
    return "hit_and_miss"
