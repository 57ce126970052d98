"""Funnel plots: each unit's proportion (or rate) against its denominator, with control limits.

Spiegelhalter DJ, "Funnel plots for comparing institutional performance", Stat Med 2005;24:1185-1202
(and "Handling over-dispersion of performance indicators", Qual Saf Health Care 2005;14:347-351).
The engine behind comparisons of departments, providers or sites: compute here, draw elsewhere.

- Target θ0: the pooled value Σy/Σn of the units shown (or a given target).
- Limits for a unit of size n: θ0 ± z·σ(n), σ(n) = √(θ0(1 − θ0)/n) for a proportion and √(θ0/n)
  for a rate per unit of exposure (the normal approximation Spiegelhalter's section 2.3 gives, as
  qicharts2's funnel charts use; limits floored at 0, proportions capped at 1). z = 2 and 3 by
  default ("2 and 3 sigma"; Spiegelhalter's 95% and 99.8% are ``sigmas=(1.96, 3.09)``).
- Overdispersion (section 4): z-scores z_i = (y_i/n_i − θ0)/σ(n_i), Winsorized at the 10th and
  90th percentiles, give φ̂ = Σz²/I. Under the binomial (Poisson) model I·φ̂ ~ χ²(I − 1).
  ``overdispersion="multiplicative"`` widens the limits by √φ̂; ``"additive"`` adds a
  between-unit variance τ̂² = (I·φ̂ − (I − 1)) / (Σw − Σw²/Σw), w = 1/σ², so the limits are
  θ0 ± z·√(σ(n)² + τ̂²) (a random-effects funnel). Either applies only when φ̂ > 1; ``None`` (the
  default) draws the plain funnel and still reports φ̂ and the test.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import polars as pl
from scipy import stats

__all__ = [
    "KINDS",
    "OVERDISPERSION",
    "FunnelResult",
    "funnel",
    "funnel_curve",
    "funnel_limits",
    "funnel_points",
]

KINDS = ("proportion", "rate")
OVERDISPERSION = (None, "multiplicative", "additive")
WINSORIZE = 0.10
OVERDISPERSION_LEVEL = 0.95


@dataclass(frozen=True)
class FunnelResult:
    """A funnel computed once.

    Attributes
    ----------
    points : pl.DataFrame
        One row per unit: unit, y, n, value, z, then ``lcl_<s>``/``ucl_<s>`` per sigma level (e.g.
        ``lcl_2``, ``ucl_3``) at the unit's n, and ``beyond_<s>``: "high", "low" or None.
    target : float
        θ0, the centre line.
    phi : float | None
        Spiegelhalter's overdispersion factor φ̂ (Winsorized), None with fewer than 2 units.
    tau2 : float
        Between-unit variance τ̂² (0 unless φ̂ > 1).
    overdispersed : bool | None
        I·φ̂ above the 95th percentile of χ²(I − 1).
    kind, overdispersion, sigmas : as given.
    """

    points: pl.DataFrame
    target: float
    phi: float | None
    tau2: float
    overdispersed: bool | None
    kind: str
    overdispersion: str | None
    sigmas: tuple[float, ...]

    def curve(self, n: Sequence[float] | np.ndarray) -> pl.DataFrame:
        """The limits along a grid of denominators (to draw the funnel's smooth lines)."""
        grid = np.asarray(n, dtype=float)
        frame = {"n": grid}
        for s in self.sigmas:
            lo, hi = funnel_limits(
                self.target, grid, s, kind=self.kind, phi=self._phi_used, tau2=self._tau2_used
            )
            frame |= {f"lcl_{_label(s)}": lo, f"ucl_{_label(s)}": hi}
        return pl.DataFrame(frame)

    @property
    def _phi_used(self) -> float:
        return self.phi if self.overdispersion == "multiplicative" and self.phi and self.phi > 1 else 1.0

    @property
    def _tau2_used(self) -> float:
        return self.tau2 if self.overdispersion == "additive" else 0.0


def _label(sigma: float) -> str:
    return f"{sigma:g}".replace(".", "_")


def _variance(target: float, n: np.ndarray, kind: str) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        per_unit = target * (1 - target) if kind == "proportion" else target
        return np.where(n > 0, per_unit / np.where(n > 0, n, np.nan), np.nan)


def funnel_limits(
    target: float,
    n: np.ndarray,
    sigma: float,
    *,
    kind: str = "proportion",
    phi: float = 1.0,
    tau2: float = 0.0,
) -> tuple[np.ndarray, np.ndarray]:
    """Lower and upper limits θ0 ± sigma·√(φ·σ(n)² + τ²), floored at 0 (proportions capped at 1)."""
    spread = sigma * np.sqrt(phi * _variance(target, np.asarray(n, dtype=float), kind) + tau2)
    lower, upper = np.fmax(target - spread, 0.0), target + spread
    if kind == "proportion":
        upper = np.fmin(upper, 1.0)
    missing = ~np.isfinite(spread)
    lower[missing], upper[missing] = np.nan, np.nan
    return lower, upper


def _winsorized(z: np.ndarray, share: float) -> np.ndarray:
    low, high = np.quantile(z, [share, 1 - share])
    clipped: np.ndarray = np.clip(z, low, high)
    return clipped


def funnel(
    data: pl.DataFrame,
    *,
    unit: str = "unit",
    y: str = "numerator",
    n: str = "denominator",
    kind: str = "proportion",
    target: float | None = None,
    sigmas: Sequence[float] = (2.0, 3.0),
    overdispersion: str | None = None,
    winsorize: float = WINSORIZE,
) -> FunnelResult:
    """Compute a funnel plot of ``y / n`` per ``unit``.

    Parameters
    ----------
    data : pl.DataFrame
        One row per unit (department, provider, site...).
    unit, y, n : str
        Columns: the unit's name, its numerator (events) and its denominator (cases or exposure).
    kind : {"proportion", "rate"}, default "proportion"
        Binomial (y ≤ n) or Poisson per unit of exposure.
    target : float, optional
        θ0; default the pooled Σy/Σn.
    sigmas : sequence of float, default (2, 3)
        Limit multiples (z) to compute.
    overdispersion : {None, "multiplicative", "additive"}
        How to widen the limits when φ̂ > 1 (see the module docstring).
    winsorize : float, default 0.10
        Share Winsorized at each tail of the z-scores before estimating φ̂ (Spiegelhalter: 10%).

    Returns
    -------
    FunnelResult
    """
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {', '.join(KINDS)}, not {kind!r}")
    if overdispersion not in OVERDISPERSION:
        raise ValueError(
            f"overdispersion must be None, 'multiplicative' or 'additive', not {overdispersion!r}"
        )
    for column in (unit, y, n):
        if column not in data.columns:
            raise ValueError(f"column {column!r} is not in the frame; columns: {', '.join(data.columns)}")
    num = data[y].cast(pl.Float64).to_numpy()
    den = data[n].cast(pl.Float64).to_numpy()
    if (num < 0).any() or (den < 0).any():
        raise ValueError(f"columns {y!r} and {n!r} must not be negative")
    if kind == "proportion" and (num > den).any():
        raise ValueError(f"column {y!r} exceeds {n!r}: a proportion needs numerator <= denominator")
    usable = np.isfinite(num) & np.isfinite(den) & (den > 0)
    theta = float(target) if target is not None else float(num[usable].sum() / den[usable].sum())
    with np.errstate(divide="ignore", invalid="ignore"):
        value = np.where(usable, num / np.where(usable, den, np.nan), np.nan)
        sd = np.sqrt(_variance(theta, den, kind))
        z = (value - theta) / sd
    scores = z[usable & np.isfinite(z)]
    phi, tau2, overdispersed = None, 0.0, None
    if scores.size >= 2:
        phi = float(np.mean(_winsorized(scores, winsorize) ** 2))
        overdispersed = bool(scores.size * phi > stats.chi2.ppf(OVERDISPERSION_LEVEL, scores.size - 1))
        if phi > 1:
            w = 1 / sd[usable & np.isfinite(z)] ** 2
            tau2 = max(0.0, (scores.size * phi - (scores.size - 1)) / (w.sum() - (w**2).sum() / w.sum()))
    result = FunnelResult(
        points=pl.DataFrame(),
        target=theta,
        phi=phi,
        tau2=tau2,
        overdispersed=overdispersed,
        kind=kind,
        overdispersion=overdispersion,
        sigmas=tuple(float(s) for s in sigmas),
    )
    columns: dict[str, object] = {
        "unit": data[unit],
        "y": num,
        "n": den,
        "value": pl.Series(value).fill_nan(None),
        "z": pl.Series(z).fill_nan(None),
    }
    for s in result.sigmas:
        lo, hi = funnel_limits(theta, den, s, kind=kind, phi=result._phi_used, tau2=result._tau2_used)
        label = _label(s)
        beyond = np.full(value.shape, None, dtype=object)
        beyond[value < lo] = "low"
        beyond[value > hi] = "high"
        columns |= {
            f"lcl_{label}": pl.Series(lo).fill_nan(None),
            f"ucl_{label}": pl.Series(hi).fill_nan(None),
            f"beyond_{label}": pl.Series(beyond.tolist(), dtype=pl.String),
        }
    return FunnelResult(**{**result.__dict__, "points": pl.DataFrame(columns)})


def _position(result: FunnelResult) -> pl.Expr:
    """Where a unit falls: beyond the 3-sigma limits first, then the 2-sigma ones, else within."""
    return (
        pl.when(pl.col("beyond_3") == "high")
        .then(pl.lit("above 3 sigma"))
        .when(pl.col("beyond_2") == "high")
        .then(pl.lit("above 2 sigma"))
        .when(pl.col("beyond_3") == "low")
        .then(pl.lit("below 3 sigma"))
        .when(pl.col("beyond_2") == "low")
        .then(pl.lit("below 2 sigma"))
        .otherwise(pl.lit("within"))
    )


def funnel_points(
    frame: pl.DataFrame,
    *,
    unit: str,
    numerator: str = "numerator",
    denominator: str = "denominator",
    adjust_overdispersion: bool = True,
) -> tuple[pl.DataFrame, float, float]:
    """The dashboard's view of :func:`funnel` on a proportion: each unit with its 2- and 3-sigma limits.

    Returns ``(points, target, phi)``: ``points`` has ``unit``, ``numerator``, ``denominator``,
    ``value``, ``z``, ``lower2``/``upper2``/``lower3``/``upper3`` and ``position`` ('above 3 sigma',
    'above 2 sigma', 'within', 'below 2 sigma', 'below 3 sigma'); units without cases are left out.
    ``phi`` is the multiplicative overdispersion factor applied to the limits (1 when none is).
    """
    usable = frame.filter(pl.col(denominator).is_not_null() & (pl.col(denominator) > 0))
    if usable.is_empty():
        raise ValueError("a funnel plot needs at least one unit with at least one case")
    result = funnel(
        usable,
        unit=unit,
        y=numerator,
        n=denominator,
        sigmas=(2.0, 3.0),
        overdispersion="multiplicative" if adjust_overdispersion else None,
    )
    points = result.points.select(
        pl.col("unit").alias(unit),
        pl.col("y").alias("numerator"),
        pl.col("n").alias("denominator"),
        "value",
        "z",
        pl.col("lcl_2").alias("lower2"),
        pl.col("ucl_2").alias("upper2"),
        pl.col("lcl_3").alias("lower3"),
        pl.col("ucl_3").alias("upper3"),
        _position(result).alias("position"),
    )
    return points, result.target, result._phi_used


def funnel_curve(target: float, max_n: float, phi: float = 1.0, steps: int = 120) -> pl.DataFrame:
    """The funnel's 2- and 3-sigma limit lines for a proportion from ``n = 1`` to ``max_n`` (log-spaced)."""
    grid = np.asarray(sorted({max(1.0, round(max_n ** (i / steps), 3)) for i in range(steps + 1)}))
    lower2, upper2 = funnel_limits(target, grid, 2.0, phi=phi)
    lower3, upper3 = funnel_limits(target, grid, 3.0, phi=phi)
    return pl.DataFrame({"n": grid, "lower2": lower2, "upper2": upper2, "lower3": lower3, "upper3": upper3})
