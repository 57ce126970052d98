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

__all__ = [
    "Limits",
    "run_limits",
    "p_limits",
    "u_limits",
    "pp_limits",
    "up_limits",
    "laney_sigma_z",
    "i_limits",
    "mr_limits",
    "LIMIT_FUNCTIONS",
    "E2",
    "E2_QICHARTS2",
    "D2",
    "D4",
]

# XmR constants. E2 = 3 / d2 with d2 = 1.128 for moving ranges of two, rounded to 2.66 as NHS England
# "Making Data Count" and Provost & Murray (2011, p. 155) use it; qicharts2 ``qic.i`` divides by
# 1.128 unrounded (E2_QICHARTS2 = 2.6596), which moves the limits in the fourth significant figure.
# D4 = 3.267 (Montgomery, Table VI).
D2 = 1.128
E2 = 2.66
E2_QICHARTS2 = 3 / D2
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


def _screened_mean(mr: np.ndarray, screen_mr: bool) -> float:
    """Mean moving range; with ``screen_mr`` the ranges ≥ 3.267 × the first mean are dropped and the
    mean recomputed (Nelson 1982; qicharts2 ``qic.i``/``qic.pp``/``qic.up`` under its
    ``qic.screenedmr`` option; NHSRplotthedots ``screen_outliers``)."""
    mr = mr[np.isfinite(mr)]
    if mr.size == 0:
        return np.nan
    amr = float(mr.mean())
    if screen_mr:
        kept = mr[mr < D4 * amr]
        amr = float(kept.mean()) if kept.size else amr
    return amr


def average_moving_range(value: np.ndarray, base: np.ndarray, *, screen_mr: bool = True) -> float:
    """Mean of |x_i − x_{i−1}| over consecutive baseline points (excluded points are skipped over, as
    in qicharts2 ``qic.i``), screened as :func:`_screened_mean` says when ``screen_mr``."""
    usable = value[base & np.isfinite(value)]
    return _screened_mean(np.abs(np.diff(usable)), screen_mr)


def i_limits(
    value: np.ndarray, base: np.ndarray, *, screen_mr: bool = True, e2: float = E2, **_: object
) -> Limits:
    """I (XmR) chart: x̄ ± e2 × MR̄ over the baseline; sigma = e2/3 × MR̄ (= MR̄/1.128 with qicharts2's e2).

    NHS England, Making Data Count (2019); Provost & Murray (2011) p. 155; Montgomery eq. 6.33;
    qicharts2 ``qic.i`` (moving ranges screened by default).
    """
    usable = value[base & np.isfinite(value)]
    cl = float(usable.mean()) if usable.size else np.nan
    sigma = np.full(value.size, e2 / 3 * average_moving_range(value, base, screen_mr=screen_mr))
    return _from_sigma(cl, sigma, floor=None, cap=None)


def laney_sigma_z(
    num: np.ndarray, den: np.ndarray, base: np.ndarray, *, binomial: bool, screen_mr: bool = True
) -> tuple[float, float, np.ndarray]:
    """Laney's (2002) between-subgroup factor: the centre, sigma_z and the z-scores of every point.

    z_i = (y_i/n_i − centre) / σ_i with σ_i the binomial (P) or Poisson (U) sigma of point i;
    sigma_z = mean |z_i − z_{i−1}| over consecutive baseline points / 1.128 (an I chart of the
    z-scores), moving ranges screened as in qicharts2 ``qic.pp``/``qic.up``.
    """
    use = base & np.isfinite(num) & np.isfinite(den) & (den > 0)
    cl = float(num[use].sum() / den[use].sum()) if use.any() else np.nan
    with np.errstate(divide="ignore", invalid="ignore"):
        sigma = np.sqrt((cl * (1 - cl) if binomial else cl) / np.where(den > 0, den, np.nan))
        z = (num / np.where(den > 0, den, np.nan) - cl) / sigma
    usable = z[use & np.isfinite(z)]
    sigma_z = _screened_mean(np.abs(np.diff(usable)), screen_mr) / D2
    return cl, sigma_z, z


def pp_limits(
    value: np.ndarray,
    base: np.ndarray,
    *,
    num: np.ndarray,
    den: np.ndarray,
    screen_mr: bool = True,
    **_: object,
) -> Limits:
    """Laney P' chart: p̄ ± 3·σ_z·√(p̄(1−p̄)/n_i), floored at 0 and capped at 1.

    Laney (2002), "Improved control charts for attributes", Quality Engineering 14(4):531-537;
    qicharts2 ``qic.pp``.
    """
    cl, sigma_z, _z = laney_sigma_z(num, den, base, binomial=True, screen_mr=screen_mr)
    with np.errstate(divide="ignore", invalid="ignore"):
        sigma = sigma_z * np.sqrt(cl * (1 - cl) / np.where(den > 0, den, np.nan))
    return _from_sigma(cl, sigma, floor=0.0, cap=1.0)


def up_limits(
    value: np.ndarray,
    base: np.ndarray,
    *,
    num: np.ndarray,
    den: np.ndarray,
    screen_mr: bool = True,
    **_: object,
) -> Limits:
    """Laney U' chart: ū ± 3·σ_z·√(ū/n_i), floored at 0 (Laney 2002; qicharts2 ``qic.up``)."""
    cl, sigma_z, _z = laney_sigma_z(num, den, base, binomial=False, screen_mr=screen_mr)
    with np.errstate(divide="ignore", invalid="ignore"):
        sigma = sigma_z * np.sqrt(cl / np.where(den > 0, den, np.nan))
    return _from_sigma(cl, sigma, floor=0.0, cap=None)


def mr_limits(value: np.ndarray, base: np.ndarray, **_: object) -> Limits:
    """Moving-range chart of the I chart: centre MR̄, UCL = 3.267 × MR̄ (D4), LCL = 0.

    ``value`` holds the moving ranges themselves. Judged only against the UCL: no runs rules
    (qicharts2 sets ``runs.signal`` FALSE for MR charts; NHS Making Data Count likewise). The 2-sigma band is 2/3 of the way to the UCL, as in
    qicharts2 ``qic.mr``.
    """
    usable = value[base & np.isfinite(value)]
    cl = float(usable.mean()) if usable.size else np.nan
    size = value.size
    zeros = np.zeros(size)
    ucl, ucl_2s = np.full(size, D4 * cl), np.full(size, D4 / 3 * 2 * cl)
    return Limits(np.full(size, cl), zeros, ucl, zeros.copy(), ucl_2s)


LIMIT_FUNCTIONS: dict[str, Callable[..., Limits]] = {
    "run": run_limits,
    "p": p_limits,
    "u": u_limits,
    "pp": pp_limits,
    "up": up_limits,
    "i": i_limits,
    "mr": mr_limits,
}
