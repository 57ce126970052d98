"""KPI tile arithmetic: change against the previous period and red/amber/green against target.

Pure functions on numbers (no frames, no I/O), so the Overview page, the meeting pack and the tests
agree on what "amber" means.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:  # pragma: no cover
    from datetime import date

    import polars as pl

    from carepulse.metrics._registry import MetricDefinition

Status = Literal["green", "amber", "red", "none"]

#: A value missing its target by at most this fraction of the target is amber rather than red.
AMBER_MARGIN = 0.10

#: The Overview's headline metrics, in tile order (each has a target in ``settings.targets``).
KPI_METRICS: tuple[str, ...] = (
    "no_show_rate",
    "late_cancellation_rate",
    "lead_time_days",
    "third_next_available_days",
    "cycle_time_minutes",
    "referral_loop_closure_rate",
    "initial_denial_rate",
    "provider_rating_top_box",
    "followup_7d_rate",
)


def change(current: float | None, previous: float | None) -> float | None:
    """``current - previous`` (in the metric's unit), or None when either is missing."""
    if current is None or previous is None or current != current or previous != previous:
        return None
    return current - previous


def rag_status(
    value: float | None, target: float | None, better: str, *, amber_margin: float = AMBER_MARGIN
) -> Status:
    """Green when the value meets the target, amber when it misses by at most ``amber_margin`` of the
    target (relative), red otherwise; ``none`` without a value, a target or a better direction."""
    if value is None or target is None or value != value or better not in ("lower", "higher"):
        return "none"
    if better == "lower":
        if value <= target:
            return "green"
        return "amber" if value <= target * (1 + amber_margin) else "red"
    if value >= target:
        return "green"
    return "amber" if value >= target * (1 - amber_margin) else "red"


def change_is_good(delta: float | None, better: str) -> bool | None:
    """Whether a change moves the right way (None when there is no change or no direction)."""
    if delta is None or delta == 0 or better not in ("lower", "higher"):
        return None
    return (delta < 0) if better == "lower" else (delta > 0)


def top_movers(rows: list[dict[str, Any]], *, n: int = 5) -> list[dict[str, Any]]:
    """The ``n`` rows with the largest relative change, worst-moving first among equals.

    Each row needs ``value``, ``previous`` and ``better``; adds ``relative_change`` and
    ``improved``. Rows without both values are left out.
    """
    scored = []
    for row in rows:
        value, previous = row.get("value"), row.get("previous")
        delta = change(value, previous)
        if delta is None or not previous:
            continue
        scored.append(
            {
                **row,
                "relative_change": delta / abs(previous),
                "improved": change_is_good(delta, row.get("better", "")),
            }
        )
    return sorted(scored, key=lambda r: (-abs(r["relative_change"]), bool(r["improved"])))[:n]


def spc_arguments(
    definition: MetricDefinition,
    *,
    target: float | None = None,
    phases: Iterable[object] | None = None,
    partial: Iterable[object] | None = None,
) -> dict[str, Any]:
    """Keyword arguments for :func:`carepulse.metrics.spc.spc` on a ``carepulse.metrics.compute(..., period=...)`` frame
    of ``definition``: a P chart on numerator/denominator for count rates, the metric's own chart on
    the headline value otherwise (dollar shares and counts without exposure fall back to an I chart
    or a run chart). Count rates go through ``chart="auto"`` so an overdispersed P chart becomes
    Laney's P'. ``partial`` lists incomplete periods (``metrics.spc.incomplete_periods``)."""
    chart = definition.spc_chart
    args: dict[str, Any] = {
        "x": "period",
        "better": definition.better if definition.better in ("lower", "higher") else None,
        "target": target,
        "phases": list(phases or ()) or None,
        "partial": list(partial or ()) or None,
    }
    if definition.kind == "rate" and not definition.weighted and chart == "p":
        return args | {"y": "numerator", "n": "denominator", "chart": "auto", "kind": "rate"}
    if chart == "u":  # counts without an exposure column: a run chart of the count
        return args | {"y": "value", "chart": "run"}
    return args | {"y": "value", "chart": chart if chart in ("i", "run") else "i"}


def tile_variation(
    weekly: pl.DataFrame, definition: MetricDefinition, *, target: float | None, as_of: date | None
) -> tuple[str | None, str]:
    """A KPI tile's NHS variation icon and assurance from ``definition``'s weekly series (a
    ``compute(..., period="week")`` frame): the weeks ending after ``as_of`` are passed as partial, so
    a half-counted current week neither moves the limits nor signals. ``(None, "none")`` when there
    are fewer than three weeks with values or no chart can be drawn."""
    import polars as pl

    from carepulse.metrics.spc import incomplete_periods, spc

    usable = weekly.filter(pl.col("value").is_not_null()).sort("period")
    if usable.height < 3:
        return None, "none"
    partial = incomplete_periods(usable["period"], "week", as_of)
    try:
        result = spc(usable, **spc_arguments(definition, target=target, partial=partial))
    except Exception:  # too few complete weeks, or no usable limits: no icon rather than a broken tile
        return None, "none"
    return result.last_phase.get("nhs_variation"), result.last_phase["assurance"]
