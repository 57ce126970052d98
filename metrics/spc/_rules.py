"""Special-cause rules as pure functions of numpy arrays: one boolean flag per point.

Every function takes the values of ONE phase, in time order, with NaN for points that are missing or
excluded (they neither count nor break a pattern), and returns a boolean array of the same length
that is True for each point that is part of the pattern.

Sources
- Anhøj J, Olesen AV (2014) Run charts revisited. PLoS ONE 9(11): e113825; computed exactly as
  qicharts2 ``runs.analysis`` (anhoej/qicharts2, R/helper.functions.R): longest run > round(log2(n)) + 3
  (Schilling 2012), crossings < qbinom(0.05, n - 1, 0.5) (Chen 2010), points on the centre line removed.
- IHI run-chart rules: Perla RJ, Provost LP, Murray SK (2011) The run chart. BMJ Qual Saf 20:46-51;
  Provost & Murray, The Health Care Data Guide (2011), ch. 3.
- Control-chart rules (outside 3 sigma, 8 on one side, 6 up/down, 2 of 3 beyond 2 sigma): Western
  Electric Statistical Quality Control Handbook (1956); Montgomery, Introduction to Statistical
  Quality Control, 7th ed., section 5.3.6; Provost & Murray (2011) ch. 5.
"""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np
from scipy import stats

__all__ = [
    "anhoej_limits",
    "ihi_runs_limits",
    "run_lengths",
    "points_in_long_runs",
    "points_in_trends",
    "outside_limits",
    "two_of_three_beyond",
]


def _sides(values: np.ndarray, centre: np.ndarray) -> np.ndarray:
    """+1 above the centre, -1 below, 0 on it or missing."""
    side = np.sign(values - centre)
    return np.where(np.isfinite(side), side, 0.0)


def run_lengths(values: np.ndarray, centre: np.ndarray) -> list[int]:
    """Lengths of the runs on one side of the centre line, points on the line dropped (qicharts2)."""
    side = _sides(values, centre)
    useful = side[side != 0]
    if useful.size == 0:
        return []
    breaks = np.flatnonzero(np.diff(useful) != 0)
    bounds = np.concatenate(([0], breaks + 1, [useful.size]))
    return [int(length) for length in np.diff(bounds)]


def anhoej_limits(n_useful: int) -> tuple[int, int]:
    """(longest run max, crossings min) for ``n_useful`` points not on the centre line.

    longest run max = round(log2(n)) + 3 (qicharts2; R rounds half to even, like Python's round);
    crossings min = qbinom(0.05, n - 1, 0.5), the 5% lower quantile of Binomial(n - 1, 1/2).
    """
    if n_useful < 1:
        raise ValueError("the Anhøj rules need at least one point off the centre line")
    longest_max = int(round(math.log2(n_useful))) + 3
    crossings_min = int(stats.binom.ppf(0.05, max(n_useful - 1, 0), 0.5))
    return longest_max, crossings_min


@lru_cache(maxsize=256)
def ihi_runs_limits(n_useful: int, alpha: float = 0.05) -> tuple[int, int] | None:
    """(fewest, most) runs expected by chance for ``n_useful`` points off the median.

    The IHI table (Perla et al. 2011, after Swed & Eisenhart 1943) gives, for 10 or more useful
    points, the range of runs outside which there are too few or too many. We compute it from the
    exact distribution of the number of runs with n1 = n // 2 points on one side and n2 = n - n1 on
    the other, at ``alpha / 2`` in each tail: fewer runs than ``fewest`` (P(R < fewest) <= 2.5%) or
    more than ``most`` (P(R > most) <= 2.5%) is a signal. Returns None below 10 points, where the
    table gives no limits.
    """
    if n_useful < 10:
        return None
    n1, n2 = n_useful // 2, n_useful - n_useful // 2

    def log_comb(a: int, b: int) -> float:
        return math.lgamma(a + 1) - math.lgamma(b + 1) - math.lgamma(a - b + 1) if 0 <= b <= a else -math.inf

    log_total = log_comb(n1 + n2, n1)
    pmf: dict[int, float] = {}
    for r in range(2, n1 + n2 + 1):  # Swed & Eisenhart (1943): P(R = r) for n1 and n2 points
        if r % 2 == 0:
            k = r // 2
            terms = [math.log(2) + log_comb(n1 - 1, k - 1) + log_comb(n2 - 1, k - 1)]
        else:
            k = (r - 1) // 2
            terms = [
                log_comb(n1 - 1, k) + log_comb(n2 - 1, k - 1),
                log_comb(n1 - 1, k - 1) + log_comb(n2 - 1, k),
            ]
        pmf[r] = sum(math.exp(t - log_total) for t in terms if t > -math.inf)
    tail = alpha / 2
    runs = sorted(pmf)
    below = np.cumsum([0.0] + [pmf[r] for r in runs[:-1]])  # P(R < r)
    above = np.cumsum([0.0] + [pmf[r] for r in reversed(runs[1:])])[::-1]  # P(R > r)
    fewest = max(r for r, p in zip(runs, below) if p <= tail)
    most = min(r for r, p in zip(runs, above) if p <= tail)
    return fewest, most


def points_in_long_runs(
    values: np.ndarray, centre: np.ndarray, min_length: int, *, on_centre: str = "skip"
) -> np.ndarray:
    """Points in a run of ``min_length`` or more on one side of the centre line.

    ``on_centre="skip"``: points on the centre line neither count nor break the run, as in the IHI
    shift rule and qicharts2's runs analysis. ``on_centre="break"``: a point on the line ends the run
    (NHSRplotthedots, ``ptd_seven_point_one_side_mean``). Missing points are always skipped. Points
    on the line are never flagged themselves.
    """
    if on_centre not in ("skip", "break"):
        raise ValueError("on_centre must be 'skip' or 'break'")
    side = _sides(values, centre)
    flags = np.zeros(values.size, dtype=bool)
    present = np.isfinite(values)
    if on_centre == "break":
        side = np.where(present & (side == 0), 2.0, side)  # a pseudo-side that breaks runs
    idx = np.flatnonzero(side != 0)
    start = 0
    for i in range(1, idx.size + 1):
        if i == idx.size or side[idx[i]] != side[idx[start]]:
            if i - start >= min_length and side[idx[start]] != 2.0:
                flags[idx[start:i]] = True
            start = i
    return flags


def points_in_trends(values: np.ndarray, min_points: int, *, ties: str = "break") -> np.ndarray:
    """Points in a run of ``min_points`` or more values steadily going up (or down).

    ``ties="break"``: an equal successive value ends the trend (Western Electric, NHS Making Data
    Count). ``ties="skip"``: like values are ignored when counting, as the IHI trend rule says
    ("if the value of two or more successive points is the same, ignore the like points"); the
    ignored points are not flagged. Missing values are skipped.
    """
    if ties not in ("break", "skip"):
        raise ValueError("ties must be 'break' or 'skip'")
    flags = np.zeros(values.size, dtype=bool)
    idx = np.flatnonzero(np.isfinite(values))
    if ties == "skip" and idx.size:
        keep = [idx[0]]
        for i in idx[1:]:
            if values[i] != values[keep[-1]]:
                keep.append(i)
        idx = np.asarray(keep)
    if idx.size < min_points:
        return flags
    steps = np.sign(np.diff(values[idx]))
    start = 0  # index into steps where the current monotone stretch begins
    for i in range(1, steps.size + 1):
        if i == steps.size or steps[i] != steps[start] or steps[start] == 0:
            if steps[start] != 0 and (i - start) + 1 >= min_points:
                flags[idx[start : i + 1]] = True
            start = i
    return flags


def outside_limits(values: np.ndarray, lcl: np.ndarray, ucl: np.ndarray) -> np.ndarray:
    """Points strictly above the upper or below the lower 3-sigma limit."""
    with np.errstate(invalid="ignore"):
        return np.nan_to_num(values > ucl) | np.nan_to_num(values < lcl)


def two_of_three_beyond(values: np.ndarray, lower: np.ndarray, upper: np.ndarray) -> np.ndarray:
    """Points beyond 2 sigma in any 3 consecutive points of which 2 or more are beyond 2 sigma on the
    same side (Western Electric rule 2; points beyond 3 sigma count as beyond 2 sigma).

    Only the points beyond the 2-sigma band are flagged; missing points are skipped.
    """
    flags = np.zeros(values.size, dtype=bool)
    idx = np.flatnonzero(np.isfinite(values))
    with np.errstate(invalid="ignore"):
        high = np.nan_to_num(values > upper).astype(bool)
        low = np.nan_to_num(values < lower).astype(bool)
    for k in range(idx.size - 2):
        window = idx[k : k + 3]
        for beyond in (high, low):
            if beyond[window].sum() >= 2:
                flags[window[beyond[window]]] = True
    return flags
