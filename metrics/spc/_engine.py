"""The SPC entry point: tidy frame in, :class:`SPCResult` (points + per-phase summary) out.

Compute only: no plotting here. ``dashboard/charts.py`` draws from ``points`` and ``summary``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import polars as pl

from carepulse.errors import CarePulseError

from ._analysis import POINT_RULES, analyse_phase, rules_for
from ._auto import CHARTS, choose_chart
from ._dispersion import PRIME_CHART, dispersion
from ._limits import E2
from ._phases import as_literal, baseline_mask, phase_numbers

__all__ = ["SPCResult", "SPCInputError", "spc", "POINT_RULES"]


class SPCInputError(CarePulseError, ValueError):
    """The frame given to :func:`spc` cannot be charted as asked (names the column and the period)."""


@dataclass(frozen=True)
class SPCResult:
    """What an SPC chart shows, computed once; draw it elsewhere.

    Attributes
    ----------
    chart : str
        The chart type used ("run", "p", "u", "pp", "up", "i", "mr"), after the automatic choice.
    points : pl.DataFrame
        One row per period in x order: x, y, n, value, phase, baseline, excluded, partial, cl, lcl, ucl,
        lcl_2s, ucl_2s, one boolean column per rule in ``POINT_RULES`` (null where the rule does not
        apply to the chart), runs_signal (the phase's Anhøj signal), nhs_point_type, signals (list of
        the rule names a point triggers) and signal (any of them).
    summary : pl.DataFrame
        One row per phase: counts, centre, average limits, Anhøj and IHI runs analysis, rule counts,
        NHS variation and assurance.
    moving_range : SPCResult | None
        For the I chart, the companion moving-range chart.
    """

    chart: str
    points: pl.DataFrame
    summary: pl.DataFrame
    better: str | None = None
    target: float | None = None
    moving_range: SPCResult | None = None
    options: dict[str, Any] = field(default_factory=dict[str, Any])

    @property
    def last_phase(self) -> dict[str, Any]:
        """The summary row of the most recent phase (what a tile or icon shows)."""
        return self.summary.row(-1, named=True)


def _column(frame: pl.DataFrame, name: str, role: str) -> np.ndarray:
    if name not in frame.columns:
        raise SPCInputError(
            f"column {name!r} ({role}) is not in the frame; columns: {', '.join(frame.columns)}"
        )
    series = frame[name]
    if not series.dtype.is_numeric():
        raise SPCInputError(f"column {name!r} ({role}) must be numeric, not {series.dtype}")
    return series.cast(pl.Float64).fill_nan(None).to_numpy().astype(float)


def _check_counts(
    chart: str, num: np.ndarray, den: np.ndarray | None, x: pl.Series, y: str, n: str | None
) -> None:
    def where(bad: np.ndarray) -> str:
        return f"period {x[int(np.flatnonzero(bad)[0])]}"

    if chart not in ("p", "u", "pp", "up"):
        return
    if den is None:
        raise SPCInputError(f"a {chart.upper()} chart needs a denominator column: pass n=")
    with np.errstate(invalid="ignore"):
        if (bad := num < 0).any():
            raise SPCInputError(f"column {y!r} is negative at {where(bad)}")
        if (bad := den < 0).any():
            raise SPCInputError(f"column {n!r} is negative at {where(bad)}")
        if chart in ("p", "pp") and (bad := num > den).any():
            raise SPCInputError(
                f"column {y!r} exceeds {n!r} at {where(bad)}: a P chart needs numerator <= denominator"
            )


def _bool_column(values: np.ndarray | None, size: int) -> pl.Series:
    if values is None:
        return pl.Series([None] * size, dtype=pl.Boolean)
    return pl.Series(values.astype(bool).tolist(), dtype=pl.Boolean)


def spc(
    data: pl.DataFrame,
    *,
    x: str = "period",
    y: str = "value",
    n: str | None = None,
    chart: str = "auto",
    kind: str | None = None,
    phases: Sequence[object] | None = None,
    freeze: object | None = None,
    exclude: Sequence[int] | None = None,
    target: float | None = None,
    better: str | None = None,
    screen_mr: bool = True,
    e2: float = E2,
    partial: Sequence[object] | None = None,
) -> SPCResult:
    """Compute an SPC chart (run, P, U, Laney P' and U', I/XmR or MR) with its special-cause rules.

    Parameters
    ----------
    data : pl.DataFrame
        One row per period (no duplicate x).
    x : str, default "period"
        Time column (date, datetime or integer); points are put in x order.
    y : str, default "value"
        Values (run/I chart), numerator (P chart) or count (U chart).
    n : str or None
        Denominator (P chart) or exposure (U chart). When given for a run or I chart, the chart
        shows y / n.
    chart : {"auto", "run", "p", "u", "pp", "up", "i", "mr"}, default "auto"
        "auto" chooses from ``kind``: rate -> P, count per exposure -> U, time or anything else -> I;
        P becomes Laney's P' (U becomes U') when the plain chart is overdispersed (``_dispersion``).
    kind : {"rate", "count", "time"} or None
        The metric's kind, used by ``chart="auto"``.
    phases : list of x values, optional
        Each starts a new phase (points with x >= it) whose centre and limits are recomputed.
    freeze : int or x value, optional
        End of the baseline: an int counts points (qicharts2's ``freeze``), else the last x in it.
        Limits come from the baseline and extend over the rest of its phase.
    exclude : list of int, optional
        0-based positions (in x order) of points left out of the limits and of the rules; they are
        still returned, flagged ``excluded``.
    target : float, optional
        Target for the NHS assurance icon.
    better : {"lower", "higher"} or None
        Which direction is improvement (NHS variation icon, assurance).
    screen_mr : bool, default True
        I, P' and U' charts: drop moving ranges of 3.267 × MR̄ or more before averaging (Nelson 1982).
        On by default as in qicharts2 (``qic.screenedmr = TRUE`` set when the package is attached)
        and NHSRplotthedots (``screen_outliers = TRUE``).
    e2 : float, default 2.66
        I chart limit factor: x̄ ± e2 × MR̄. 2.66 as NHS Making Data Count; ``E2_QICHARTS2`` (3/1.128)
        as qicharts2.
    partial : list of x values, optional
        Periods that are not complete yet (the current week or month): returned flagged ``partial``
        but left out of the limits and the rules, so a half-counted period raises no signal.

    Returns
    -------
    SPCResult
    """
    if chart != "auto" and chart not in CHARTS:
        raise SPCInputError(f"chart must be 'auto' or one of {', '.join(CHARTS)}, not {chart!r}")
    if better not in (None, "lower", "higher"):
        raise SPCInputError(f"better must be 'lower', 'higher' or None, not {better!r}")
    automatic = chart == "auto"
    if automatic:
        try:
            chart = choose_chart(kind, has_denominator=n is not None)
        except ValueError as err:
            raise SPCInputError(str(err)) from None
    if x not in data.columns:
        raise SPCInputError(
            f"column {x!r} (x, the period) is not in the frame; columns: {', '.join(data.columns)}"
        )
    if data.height == 0:
        raise SPCInputError("no periods to chart: the frame is empty")
    if data[x].null_count():
        raise SPCInputError(f"column {x!r} has missing periods")
    if data[x].is_duplicated().any():
        raise SPCInputError(f"column {x!r} has duplicate periods: give one row per period")

    frame = data.sort(x)
    xs = frame[x]
    num = _column(frame, y, "y")
    den = _column(frame, n, "n") if n is not None else None
    _check_counts(chart, num, den, xs, y, n)
    with np.errstate(divide="ignore", invalid="ignore"):
        value = num if den is None else np.where(den > 0, num / den, np.nan)

    size = frame.height
    phase = phase_numbers(xs, phases)
    excluded = np.zeros(size, dtype=bool)
    for i in exclude or ():
        if not -size <= int(i) < size:
            raise SPCInputError(f"exclude position {i} is outside the {size} points")
        excluded[int(i)] = True
    incomplete = np.zeros(size, dtype=bool)
    if partial:
        literals = [as_literal(v, xs.dtype) for v in partial]
        incomplete = xs.is_in(literals).fill_null(False).to_numpy().astype(bool)
    if automatic and chart in PRIME_CHART and den is not None:
        complete = ~excluded & ~incomplete
        if dispersion(num, den, complete, binomial=chart == "p", screen_mr=screen_mr)["overdispersed"]:
            chart = PRIME_CHART[chart]
    if chart == "mr":  # moving ranges within each phase: a phase starts afresh
        value = np.concatenate(
            [np.concatenate(([np.nan], np.abs(np.diff(value[phase == p])))) for p in np.unique(phase)]
        )
    baseline = baseline_mask(xs, phase, freeze) & ~incomplete

    columns = {name: np.full(size, np.nan) for name in ("cl", "lcl", "ucl", "lcl_2s", "ucl_2s")}
    flags: dict[str, np.ndarray | None] = {
        rule: np.zeros(size, dtype=bool) if rule in rules_for(chart) else None for rule in POINT_RULES
    }
    runs_signal = np.zeros(size, dtype=bool)
    point_types = np.full(size, None, dtype=object)
    summaries = []
    for p in np.unique(phase):
        rows = np.flatnonzero(phase == p)
        usable = np.isfinite(value[rows]) & ~excluded[rows] & ~incomplete[rows]
        result = analyse_phase(
            chart,
            value[rows],
            usable,
            baseline[rows] & usable,
            num=num[rows],
            den=den[rows] if den is not None else None,
            screen_mr=screen_mr,
            better=better,
            target=target,
            e2=e2,
        )
        for name in columns:
            columns[name][rows] = getattr(result.limits, name)
        for rule, phase_flags in result.flags.items():
            rule_flags = flags[rule]
            assert rule_flags is not None  # result.flags holds the rules_for(chart) only
            rule_flags[rows] = phase_flags
        runs_signal[rows] = result.runs_signal
        point_types[rows] = result.point_types
        point_types[rows[incomplete[rows]]] = None  # no NHS type for a partial period
        where = {"phase": int(p), "chart": chart, "start": xs[int(rows[0])], "end": xs[int(rows[-1])]}
        counts = {"n_excluded": int(excluded[rows].sum()), "n_partial": int(incomplete[rows].sum())}
        summaries.append(where | counts | result.summary)

    points = _points_frame(
        frame,
        xs,
        y,
        n,
        num,
        den,
        value,
        phase,
        baseline,
        excluded,
        incomplete,
        columns,
        flags,
        runs_signal,
        point_types,
        target,
    )
    summary = pl.DataFrame(summaries, infer_schema_length=None)
    options = {
        "x": x,
        "y": y,
        "n": n,
        "kind": kind,
        "phases": list(phases or ()),
        "freeze": freeze,
        "exclude": list(exclude or ()),
        "screen_mr": screen_mr,
        "e2": e2,
        "partial": list(partial or ()),
    }
    moving_range = None
    if chart == "i":
        moving_range = spc(
            data, x=x, y=y, n=n, chart="mr", phases=phases, freeze=freeze, exclude=exclude, partial=partial
        )
    return SPCResult(chart, points, summary, better, target, moving_range, options)


def _points_frame(
    frame: pl.DataFrame,
    xs: pl.Series,
    y: str,
    n: str | None,
    num: np.ndarray,
    den: np.ndarray | None,
    value: np.ndarray,
    phase: np.ndarray,
    baseline: np.ndarray,
    excluded: np.ndarray,
    incomplete: np.ndarray,
    columns: dict[str, np.ndarray],
    flags: dict[str, np.ndarray | None],
    runs_signal: np.ndarray,
    point_types: np.ndarray,
    target: float | None,
) -> pl.DataFrame:
    size = frame.height
    names_per_point = [
        [rule for rule in POINT_RULES if (rule_flags := flags[rule]) is not None and rule_flags[i]]
        for i in range(size)
    ]

    def floats(a: np.ndarray) -> pl.Series:
        return pl.Series(np.where(np.isfinite(a), a, np.nan)).fill_nan(None)

    data = {
        "x": xs,
        "y": floats(num),
        "n": floats(den) if den is not None else pl.Series([None] * size, dtype=pl.Float64),
        "value": floats(value),
        "phase": pl.Series(phase, dtype=pl.Int32),
        "baseline": pl.Series(baseline.tolist(), dtype=pl.Boolean),
        "excluded": pl.Series(excluded.tolist(), dtype=pl.Boolean),
        "partial": pl.Series(incomplete.tolist(), dtype=pl.Boolean),
        **{name: floats(arr) for name, arr in columns.items()},
        **{rule: _bool_column(flags[rule], size) for rule in POINT_RULES},
        "runs_signal": pl.Series(runs_signal.tolist(), dtype=pl.Boolean),
        "nhs_point_type": pl.Series(point_types.tolist(), dtype=pl.String),
        "target": pl.Series([target] * size, dtype=pl.Float64),
        "signals": pl.Series(names_per_point, dtype=pl.List(pl.String)),
    }
    points = pl.DataFrame(data)
    return points.with_columns(signal=pl.col("signals").list.len() > 0)
