"""One phase of a chart: its limits, the rules on its points and its summary row."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from . import _rules
from ._dispersion import dispersion
from ._limits import E2, LIMIT_FUNCTIONS, Limits, i_limits
from ._nhs import nhs_assurance, nhs_point_types, nhs_variation

__all__ = ["POINT_RULES", "PhaseAnalysis", "analyse_phase", "rules_for"]

# Point-level rules, in the order they are listed in ``points["signals"]``.
POINT_RULES = (
    "outside_limits",
    "shift",
    "trend",
    "two_of_three_beyond_2s",
    "anhoej_long_run",
    "ihi_shift",
    "ihi_trend",
    "ihi_astronomical",
)
SHIFT_POINTS = 8  # Western Electric / Montgomery: 8 in a row on one side of the centre line
TREND_POINTS = 6  # 6 points in a row steadily increasing or decreasing
IHI_SHIFT_POINTS = 6  # Perla, Provost & Murray (2011)
IHI_TREND_POINTS = 5


ATTRIBUTE_CHARTS = ("p", "u", "pp", "up")
NHS_CHARTS = (*ATTRIBUTE_CHARTS, "i")


def rules_for(chart: str) -> tuple[str, ...]:
    """The point rules that apply to ``chart``: sigma rules need limits, IHI rules are for run charts,
    and a moving-range chart is judged only against its upper limit (qicharts2 ``qic.agg`` sets
    ``runs.signal`` FALSE for MR charts; NHS Making Data Count draws no rules on the MR chart)."""
    if chart == "mr":
        return ("outside_limits",)
    if chart == "run":
        return tuple(r for r in POINT_RULES if r not in ("outside_limits", "two_of_three_beyond_2s"))
    return tuple(r for r in POINT_RULES if not r.startswith("ihi_"))


@dataclass(frozen=True)
class PhaseAnalysis:
    limits: Limits
    flags: dict[str, np.ndarray]  # rule -> per-point flags (only rules that apply)
    runs_signal: bool
    point_types: np.ndarray  # NHS MDC type per point (None where not applicable)
    summary: dict[str, Any]


def _mean_or_none(values: np.ndarray) -> float | None:
    finite = values[np.isfinite(values)]
    return float(finite.mean()) if finite.size else None


def _anhoej(values: np.ndarray, centre: np.ndarray) -> tuple[dict[str, Any], np.ndarray, list[int]]:
    """qicharts2 ``runs.analysis``: longest run and crossings against their limits."""
    lengths = _rules.run_lengths(values, centre)
    n_useful = sum(lengths)
    if not n_useful:
        empty = dict.fromkeys(("longest_run", "longest_run_max", "crossings", "crossings_min"))
        return empty | {"n_useful": 0, "runs_signal": False}, np.zeros(values.size, dtype=bool), lengths
    longest_max, crossings_min = _rules.anhoej_limits(n_useful)
    longest, crossings = max(lengths), len(lengths) - 1
    row = {
        "n_useful": n_useful,
        "longest_run": longest,
        "longest_run_max": longest_max,
        "crossings": crossings,
        "crossings_min": crossings_min,
        "runs_signal": longest > longest_max or crossings < crossings_min,
    }
    return row, _rules.points_in_long_runs(values, centre, longest_max + 1), lengths


def _ihi(
    values: np.ndarray, all_values: np.ndarray, base: np.ndarray, centre: np.ndarray, lengths: list[int]
) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """IHI run-chart rules (Perla, Provost & Murray 2011)."""
    # Objective proxy for the judgement-based astronomical point: outside the XmR limits
    # (mean ± 2.66 MR̄) of the same baseline. See docs/spc.md.
    xmr = i_limits(all_values, base, screen_mr=False)  # unscreened: the proxy's wide net
    flags = {
        "ihi_shift": _rules.points_in_long_runs(values, centre, IHI_SHIFT_POINTS),
        "ihi_trend": _rules.points_in_trends(values, IHI_TREND_POINTS, ties="skip"),
        "ihi_astronomical": _rules.outside_limits(values, xmr.lcl, xmr.ucl),
    }
    bounds = _rules.ihi_runs_limits(sum(lengths)) if lengths else None
    row = {"ihi_runs": len(lengths), "ihi_runs_min": None, "ihi_runs_max": None, "ihi_runs_signal": None}
    if bounds is not None:
        row |= {
            "ihi_runs_min": bounds[0],
            "ihi_runs_max": bounds[1],
            "ihi_runs_signal": not bounds[0] <= len(lengths) <= bounds[1],
        }
    return row, flags


def _no_runs_analysis() -> dict[str, Any]:
    keys = ("n_useful", "longest_run", "longest_run_max", "crossings", "crossings_min")
    return dict.fromkeys(keys) | {"runs_signal": False}


def _dispersion_row(
    chart: str, num: np.ndarray, den: np.ndarray | None, base: np.ndarray, screen_mr: bool
) -> dict[str, float | bool | None]:
    """Overdispersion of the plain chart behind a P, U, P' or U' chart (None for other charts)."""
    if chart not in ATTRIBUTE_CHARTS or den is None:
        return {"sigma_z": None, "dispersion_ratio": None, "overdispersed": None}
    return dispersion(num, den, base, binomial=chart in ("p", "pp"), screen_mr=screen_mr)


def analyse_phase(
    chart: str,
    values: np.ndarray,
    usable: np.ndarray,
    base: np.ndarray,
    *,
    num: np.ndarray,
    den: np.ndarray | None,
    screen_mr: bool,
    better: str | None,
    target: float | None,
    e2: float = E2,
) -> PhaseAnalysis:
    """Limits from the ``base`` points, every rule on the ``usable`` points (others are skipped)."""
    lim = LIMIT_FUNCTIONS[chart](values, base, num=num, den=den, screen_mr=screen_mr, e2=e2)
    v = np.where(usable, values, np.nan)  # excluded and partial points neither count nor break patterns
    applicable = rules_for(chart)
    flags: dict[str, np.ndarray] = {}
    if "shift" in applicable:
        flags["shift"] = _rules.points_in_long_runs(v, lim.cl, SHIFT_POINTS)
        flags["trend"] = _rules.points_in_trends(v, TREND_POINTS, ties="break")
    if chart == "mr":  # upper limit only: a small moving range is no signal
        flags["outside_limits"] = _rules.outside_limits(v, np.full(v.size, -np.inf), lim.ucl)
    elif chart != "run":
        flags["outside_limits"] = _rules.outside_limits(v, lim.lcl, lim.ucl)
        flags["two_of_three_beyond_2s"] = _rules.two_of_three_beyond(v, lim.lcl_2s, lim.ucl_2s)
    lengths: list[int]
    if chart == "mr":
        anhoej, lengths = _no_runs_analysis(), []
    else:
        anhoej, flags["anhoej_long_run"], lengths = _anhoej(v, lim.cl)

    row = {
        "n_points": int(usable.sum()),
        "n_baseline": int(base.sum()),
        "n_useful": anhoej.pop("n_useful"),
        "centre": float(lim.cl[0]) if np.isfinite(lim.cl[0]) else None,
        "lcl_mean": _mean_or_none(lim.lcl[usable]),
        "ucl_mean": _mean_or_none(lim.ucl[usable]),
        **anhoej,
        "ihi_runs": None,
        "ihi_runs_min": None,
        "ihi_runs_max": None,
        "ihi_runs_signal": None,
    }
    if chart == "run":
        ihi_row, ihi_flags = _ihi(v, values, base, lim.cl, lengths)
        row |= ihi_row
        flags |= ihi_flags

    row |= _dispersion_row(chart, num, den, base, screen_mr)
    row |= {f"{rule}_points": int(flags[rule].sum()) if rule in applicable else None for rule in POINT_RULES}
    row["ihi_signal"] = (
        bool(
            row["ihi_shift_points"]
            or row["ihi_trend_points"]
            or row["ihi_astronomical_points"]
            or row["ihi_runs_signal"]
        )
        if chart == "run"
        else None
    )

    point_types = np.full(values.size, None, dtype=object)
    row["nhs_variation"], row["assurance"] = None, "none"
    if chart in NHS_CHARTS:
        point_types = nhs_point_types(v, lim.cl, lim.lcl, lim.ucl, lim.lcl_2s, lim.ucl_2s, better)
        last = np.flatnonzero(usable)[-1] if usable.any() else values.size - 1
        row["nhs_variation"] = nhs_variation(point_types)
        row["assurance"] = nhs_assurance(target, lim.lcl[last], lim.ucl[last], better)
    return PhaseAnalysis(lim, flags, bool(row["runs_signal"]), point_types, row)
