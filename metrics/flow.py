"""Patient flow: cycle time, waits, on-time starts and visit volumes by hour and weekday.

Times cover completed in-person visits with both timestamps recorded (telehealth has no waiting
room); on-time start covers every completed visit with a provider start time.
"""

from __future__ import annotations

import polars as pl

from carepulse.metrics._context import MetricContext
from carepulse.metrics._registry import metric
from carepulse.metrics._stats import minutes_between

_IHI_CYCLE = (
    "IHI, 'Office Visit Cycle Time' measure (goal: 30 minutes or 1.5 x the clinician's time); "
    "https://www.ihi.org/resources/measures/office-visit-cycle-time"
)


def completed_visits(ctx: MetricContext, *, in_person: bool) -> pl.LazyFrame:
    """Completed visits (optionally in person only)."""
    visits = ctx.frame("appointments").filter(pl.col("status") == "completed")
    if in_person:
        visits = visits.filter(pl.col("modality") == "in_person")
    return visits


def _interval(ctx: MetricContext, later: str, earlier: str) -> pl.LazyFrame:
    return (
        completed_visits(ctx, in_person=True)
        .with_columns(minutes_between(pl.col(later), pl.col(earlier)).alias("_x"))
        .filter(pl.col("_x") >= 0)
    )


_FLOW = dict(
    family="flow",
    kind="time",
    unit="minutes",
    better="lower",
    spc_chart="i",
    frame="appointments",
    date_basis="visit date",
)


@metric(
    name="cycle_time_minutes",
    source_columns=("checkin_at", "checkout_at"),
    title="Office visit cycle time",
    short_name="Check-in to checkout (min)",
    numerator="Minutes from check-in to checkout",
    denominator="Completed in-person visits with both times",
    definition="How long a patient spends at the clinic, arrival to departure.",
    exclusions="Telehealth; visits not completed; missing or reversed timestamps.",
    standard="IHI office visit cycle time (arrival to departure)",
    source=_IHI_CYCLE,
    **_FLOW,
)
def cycle_time_minutes(ctx: MetricContext) -> pl.LazyFrame:
    return _interval(ctx, "checkout_at", "checkin_at")


@metric(
    name="wait_to_room_minutes",
    source_columns=("checkin_at", "roomed_at"),
    title="Wait to room",
    short_name="Check-in to roomed (min)",
    numerator="Minutes from check-in to being roomed",
    denominator="Completed in-person visits with both times",
    definition="Time in the waiting room.",
    exclusions="Telehealth; visits not completed; missing or reversed timestamps.",
    standard="IHI office visit cycle time, waiting-room segment",
    source=_IHI_CYCLE,
    **_FLOW,
)
def wait_to_room_minutes(ctx: MetricContext) -> pl.LazyFrame:
    return _interval(ctx, "roomed_at", "checkin_at")


@metric(
    name="wait_for_provider_minutes",
    source_columns=("roomed_at", "provider_start_at"),
    title="Wait for provider",
    short_name="Roomed to provider (min)",
    numerator="Minutes from being roomed to the provider starting",
    denominator="Completed in-person visits with both times",
    definition="Time in the exam room before the clinician arrives.",
    exclusions="Telehealth; visits not completed; missing or reversed timestamps.",
    standard="IHI office visit cycle time, exam-room segment",
    source=_IHI_CYCLE,
    **_FLOW,
)
def wait_for_provider_minutes(ctx: MetricContext) -> pl.LazyFrame:
    return _interval(ctx, "provider_start_at", "roomed_at")


@metric(
    name="on_time_start_rate",
    source_columns=("provider_start_at",),
    title="On-time start rate",
    short_name="Started within grace / visits",
    family="flow",
    kind="rate",
    unit="share",
    numerator="Visits whose provider start is no later than the scheduled start + on_time_grace_minutes (10)",
    denominator="Completed visits (in person and telehealth) with a provider start time",
    definition="Share of visits that start on time.",
    exclusions="Visits not completed; no provider start time.",
    better="higher",
    standard="Clinic on-time start (grace from settings, default 10 minutes)",
    source=_IHI_CYCLE,
    spc_chart="p",
    frame="appointments",
    date_basis="visit date",
)
def on_time_start_rate(ctx: MetricContext) -> pl.LazyFrame:
    grace = pl.duration(minutes=ctx.conventions.on_time_grace_minutes)
    on_time = pl.col("provider_start_at") <= pl.col("scheduled_start") + grace
    return (
        completed_visits(ctx, in_person=False)
        .filter(pl.col("provider_start_at").is_not_null())
        .with_columns(on_time.cast(pl.Int64).alias("_num"), pl.lit(1, pl.Int64).alias("_den"))
    )


_VOLUME = dict(
    family="flow",
    kind="count",
    unit="visits",
    numerator="Completed visits",
    denominator="(none: a count)",
    exclusions="Visits not completed (no-shows, cancellations, future).",
    better="neutral",
    standard="Demand profile for capacity planning",
    source="IHI Improving access: match capacity to demand",
    spc_chart="run",
    frame="appointments",
    date_basis="visit date",
)


@metric(
    name="completed_visits",
    title="Completed visits",
    short_name="Visits",
    definition="Number of completed visits (group by weekday and hour for a heat map).",
    **_VOLUME,
)
def completed_visit_count(ctx: MetricContext) -> pl.LazyFrame:
    return completed_visits(ctx, in_person=False)


@metric(
    name="visits_by_hour",
    title="Visits by hour of day",
    short_name="Visits per scheduled hour",
    definition="Completed visits by the hour of their scheduled start (0-23), with each hour's share.",
    category="hour",
    **_VOLUME,
)
def visits_by_hour(ctx: MetricContext) -> pl.LazyFrame:
    return completed_visits(ctx, in_person=False)


@metric(
    name="visits_by_weekday",
    title="Visits by weekday",
    short_name="Visits per weekday",
    definition="Completed visits by ISO weekday of their scheduled start (1 = Monday ... 7 = Sunday), with each "
    "weekday's share.",
    category="weekday",
    **_VOLUME,
)
def visits_by_weekday(ctx: MetricContext) -> pl.LazyFrame:
    return completed_visits(ctx, in_person=False)
