"""Funnel plots: compare units of different sizes against the overall proportion, not a league table.

Spiegelhalter DJ. Funnel plots for comparing institutional performance. Stat Med 2005;24:1185-1202.
Each unit's proportion ``y/n`` is compared with the overall proportion ``p0 = sum(y)/sum(n)``; the
control limits at 2 and 3 standard errors, ``p0 +/- z * sqrt(phi * p0 (1 - p0) / n)``, narrow as the
unit grows (the funnel). ``phi`` is the overdispersion factor: ``sum(z_i^2) / k`` over the ``k``
units' standardised scores ``z_i = (y_i/n_i - p0) / sqrt(p0 (1 - p0) / n_i)`` (Spiegelhalter 2005,
section 5.1; no winsorising), used only when above 1, so ordinary binomial limits apply when units
vary no more than chance allows.
"""

from __future__ import annotations

import math

import polars as pl

SIGMAS = (2.0, 3.0)


def overall_proportion(numerators: list[float], denominators: list[float]) -> float:
    """``sum(y) / sum(n)``; raises ValueError when there are no cases."""
    total = sum(denominators)
    if total <= 0:
        raise ValueError("a funnel plot needs at least one case (all denominators are zero)")
    return sum(numerators) / total


def overdispersion(numerators: list[float], denominators: list[float], p0: float) -> float:
    """Spiegelhalter's ``phi = sum(z_i^2) / k`` (1.0 when it cannot be estimated)."""
    if p0 <= 0 or p0 >= 1:
        return 1.0
    scores = [
        ((y / n) - p0) / math.sqrt(p0 * (1 - p0) / n)
        for y, n in zip(numerators, denominators, strict=True)
        if n > 0
    ]
    return sum(z * z for z in scores) / len(scores) if scores else 1.0


def limits(p0: float, n: float, z: float, phi: float = 1.0) -> tuple[float, float]:
    """The lower and upper control limit at ``z`` standard errors for a unit of size ``n`` (clipped to
    [0, 1])."""
    half = z * math.sqrt(max(phi, 1.0) * p0 * (1 - p0) / n)
    return max(0.0, p0 - half), min(1.0, p0 + half)


def funnel_points(
    frame: pl.DataFrame,
    *,
    unit: str,
    numerator: str = "numerator",
    denominator: str = "denominator",
    adjust_overdispersion: bool = True,
) -> tuple[pl.DataFrame, float, float]:
    """Each unit's proportion with its 2- and 3-sigma limits and where it falls.

    Returns ``(points, p0, phi)``: ``points`` has ``unit``, ``numerator``, ``denominator``, ``value``,
    ``z``, ``lower2``/``upper2``/``lower3``/``upper3`` and ``position`` ('above 3 sigma', 'above 2
    sigma', 'within', 'below 2 sigma', 'below 3 sigma'); rows without cases are dropped.
    """
    usable = frame.filter(pl.col(denominator).is_not_null() & (pl.col(denominator) > 0))
    ys = [float(v) for v in usable.get_column(numerator).to_list()]
    ns = [float(v) for v in usable.get_column(denominator).to_list()]
    p0 = overall_proportion(ys, ns)
    phi = overdispersion(ys, ns, p0) if adjust_overdispersion else 1.0
    rows = []
    for name, y, n in zip(usable.get_column(unit).to_list(), ys, ns, strict=True):
        value = y / n
        lower2, upper2 = limits(p0, n, SIGMAS[0], phi)
        lower3, upper3 = limits(p0, n, SIGMAS[1], phi)
        se = math.sqrt(max(phi, 1.0) * p0 * (1 - p0) / n) if 0 < p0 < 1 else 0.0
        z = (value - p0) / se if se else 0.0
        position = (
            "above 3 sigma"
            if value > upper3
            else "above 2 sigma"
            if value > upper2
            else "below 3 sigma"
            if value < lower3
            else "below 2 sigma"
            if value < lower2
            else "within"
        )
        rows.append(
            {
                unit: name,
                "numerator": y,
                "denominator": n,
                "value": value,
                "z": z,
                "lower2": lower2,
                "upper2": upper2,
                "lower3": lower3,
                "upper3": upper3,
                "position": position,
            }
        )
    schema = {unit: usable.schema[unit]} | {
        c: pl.Float64
        for c in ("numerator", "denominator", "value", "z", "lower2", "upper2", "lower3", "upper3")
    }
    points = pl.DataFrame(rows, schema=schema | {"position": pl.String}, orient="row")
    return points, p0, phi


def funnel_curve(p0: float, max_n: float, phi: float = 1.0, steps: int = 120) -> pl.DataFrame:
    """The funnel's limit lines from ``n = 1`` to ``max_n`` (for drawing): ``n`` and the four limits."""
    sizes = sorted({max(1.0, round(max_n ** (i / steps), 3)) for i in range(steps + 1)})
    rows = []
    for n in sizes:
        lower2, upper2 = limits(p0, n, SIGMAS[0], phi)
        lower3, upper3 = limits(p0, n, SIGMAS[1], phi)
        rows.append((n, lower2, upper2, lower3, upper3))
    return pl.DataFrame(rows, schema=["n", "lower2", "upper2", "lower3", "upper3"], orient="row")


__all__ = ["SIGMAS", "funnel_curve", "funnel_points", "limits", "overall_proportion", "overdispersion"]
