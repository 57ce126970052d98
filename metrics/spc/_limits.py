"""Centre line and limits: one small function per chart type (the qicharts2 design).

Each function gets the values of ONE phase in time order and a boolean ``base`` mask of the points
that may be used to compute the centre and limits (the baseline, minus excluded points), and returns
:class:`Limits` with one value per point: limits depend on each point's own denominator where the
chart says so, but are always computed from the baseline points only.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

__all__ = ["Limits", "run_limits", "p_limits", "u_limits", "i_limits", "mr_limits", "LIMIT_FUNCTIONS"]

# XmR constants. E2 = 3 / d2 with d2 = 1.128 for moving ranges of two, rounded to 2.66 as NHS England
# "Making Data Count" and Provost & Murray (2011, p. 155) use it; D4 = 3.267 (Montgomery, Table VI).
E2 = 2.66
D4 = 3.267


@dataclass(frozen=True)
class Limits:
    """Per-point centre line, 3-sigma limits and 2-sigma band (NaN where not defined)."""

    cl: np.ndarray
    lcl: np.ndarray
    ucl: np.ndarray
    lcl_2s: np.ndarray
    ucl_2s: np.ndarray


def _nan(size: int) -> np.ndarray:
    return np.full(size, np.nan)


def _from_sigma(cl: float, sigma: np.ndarray, *, floor: float | None, cap: float | None) -> Limits:
    size = sigma.size
    centre = np.full(size, cl)
    lcl, ucl = centre - 3 * sigma, centre + 3 * sigma
    lcl_2s, ucl_2s = centre - 2 * sigma, centre + 2 * sigma
    if floor is not None:
        lcl, lcl_2s = np.fmax(lcl, floor), np.fmax(lcl_2s, floor)
    if cap is not None:
        ucl, ucl_2s = np.fmin(ucl, cap), np.fmin(ucl_2s, cap)
    # fmax/fmin keep the bound when the limit is NaN; a missing denominator must give a missing limit
    missing = ~np.isfinite(sigma)
    for arr in (lcl, ucl, lcl_2s, ucl_2s):
        arr[missing] = np.nan
    return Limits(centre, lcl, ucl, lcl_2s, ucl_2s)


def run_limits(value: np.ndarray, base: np.ndarray, **_: object) -> Limits:
    """Run chart: centre = median of the baseline values; no limits (Provost & Murray 2011, ch. 3)."""
    size = value.size
    usable = value[base & np.isfinite(value)]
    cl = float(np.median(usable)) if usable.size else np.nan
    return Limits(np.full(size, cl), _nan(size), _nan(size), _nan(size), _nan(size))


def p_limits(value: np.ndarray, base: np.ndarray, *, num: np.ndarray, den: np.ndarray, **_: object) -> Limits:
    """P chart: p̄ = Σy/Σn over the baseline; p̄ ± 3·√(p̄(1−p̄)/n_i), floored at 0 and capped at 1.

    Montgomery (7th ed.) eq. 7.8 with variable sample size (section 7.2.2); qicharts2 ``qic.p``.
    """
    use = base & np.isfinite(num) & np.isfinite(den) & (den > 0)
    cl = float(num[use].sum() / den[use].sum()) if use.any() else np.nan
    with np.errstate(divide="ignore", invalid="ignore"):
        sigma = np.sqrt(cl * (1 - cl) / np.where(den > 0, den, np.nan))
    return _from_sigma(cl, sigma, floor=0.0, cap=1.0)


def u_limits(value: np.ndarray, base: np.ndarray, *, num: np.ndarray, den: np.ndarray, **_: object) -> Limits:
    """U chart: ū = Σc/Σn over the baseline; ū ± 3·√(ū/n_i), floored at 0.

    Montgomery (7th ed.) eq. 7.19; qicharts2 ``qic.u``.
    """
    use = base & np.isfinite(num) & np.isfinite(den) & (den > 0)
    cl = float(num[use].sum() / den[use].sum()) if use.any() else np.nan
    with np.errstate(divide="ignore", invalid="ignore"):
        sigma = np.sqrt(cl / np.where(den > 0, den, np.nan))
    return _from_sigma(cl, sigma, floor=0.0, cap=None)


def average_moving_range(value: np.ndarray, base: np.ndarray, *, screen_mr: bool = False) -> float:
    """Mean of |x_i − x_{i−1}| over consecutive baseline points (excluded points are skipped over, as
    in qicharts2 ``qic.i``). With ``screen_mr``, moving ranges ≥ 3.267 × the first average are
    dropped and the average recomputed (Nelson 1982; NHSRplotthedots ``screen_outliers``)."""
    usable = value[base & np.isfinite(value)]
    mr = np.abs(np.diff(usable))
    if mr.size == 0:
        return np.nan
    amr = float(mr.mean())
    if screen_mr:
        kept = mr[mr < D4 * amr]
        amr = float(kept.mean()) if kept.size else amr
    return amr


def i_limits(value: np.ndarray, base: np.ndarray, *, screen_mr: bool = False, **_: object) -> Limits:
    """I (XmR) chart: x̄ ± 2.66 × MR̄ over the baseline; sigma = 2.66/3 × MR̄ = MR̄/1.128.

    NHS England, Making Data Count (2019); Provost & Murray (2011) p. 155; Montgomery eq. 6.33.
    """
    usable = value[base & np.isfinite(value)]
    cl = float(usable.mean()) if usable.size else np.nan
    sigma = np.full(value.size, E2 / 3 * average_moving_range(value, base, screen_mr=screen_mr))
    return _from_sigma(cl, sigma, floor=None, cap=None)


def mr_limits(value: np.ndarray, base: np.ndarray, **_: object) -> Limits:
    """Moving-range chart of the I chart: centre MR̄, UCL = 3.267 × MR̄ (D4), LCL = 0.

    ``value`` holds the moving ranges themselves. The 2-sigma band is 2/3 of the way to the UCL, as in
    qicharts2 ``qic.mr``.
    """
    usable = value[base & np.isfinite(value)]
    cl = float(usable.mean()) if usable.size else np.nan
    size = value.size
    zeros = np.zeros(size)
    ucl, ucl_2s = np.full(size, D4 * cl), np.full(size, D4 / 3 * 2 * cl)
    return Limits(np.full(size, cl), zeros, ucl, zeros.copy(), ucl_2s)


#: Chart -> limits function; each takes (value, base) and the keyword arguments it needs.
LIMIT_FUNCTIONS: dict[str, Callable[..., Limits]] = {
    "run": run_limits,
    "p": p_limits,
    "u": u_limits,
    "i": i_limits,
    "mr": mr_limits,
}
