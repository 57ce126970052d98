"""Access and attendance: no-shows, cancellations, lead time, third-next-available, slot fill.

Headline no-show standard: IHI "Percentage of no-show appointments" -- no-shows over the appointment
slots that were still booked when the visit came (an early cancellation frees its slot, so it is not
in the denominator; a patient's late cancellation, with less than ``late_cancel_hours`` notice, is).
A cancellation initiated by the provider or the clinic is never in the no-show denominator,
however late: the patient did not fail to attend, the practice withdrew the slot (IHI counts
no-shows against the appointments patients kept or missed; a clinic's own cancellation is an
access measure, ``cancellation_rate``). Late cancellations by patients are reported separately
(``late_cancellation_rate``); ``count_late_cancels_as_no_shows`` adds them to the no-show
numerator, as UMC Utrecht does. The alternative that excludes every cancellation (MGMA-style kept +
no-show basis) is ``no_show_rate_excl_cancellations``.

The late boundary: a cancellation is late when its notice (scheduled start − cancelled_at) is LESS
than ``late_cancel_hours`` (24 h by default), so a cancellation exactly 24 h ahead is on time, one a
second later is late (the usual policy wording: "cancel at least 24 hours before your appointment";
ASGE). A cancellation after the start is late.
"""

from __future__ import annotations

import polars as pl

from carepulse.metrics._context import DIMENSIONS, MetricContext
from carepulse.metrics._registry import metric
from carepulse.metrics._stats import days_between

_IHI = "IHI, 'Percentage of no-show appointments' (Improvement measure); ASGE late-cancellation guidance"
_IHI_URL = "https://www.ihi.org/resources/measures/percentage-no-show-appointments"

#: Appointment outcomes: everything but a booking still in the future.
RESOLVED = ("completed", "no_show", "cancelled", "left_without_being_seen")
ATTENDED_OR_MISSED = ("completed", "no_show", "left_without_being_seen")


def is_late_cancellation(hours: int) -> pl.Expr:
    """A cancellation with less than ``hours`` notice (or after the start); exactly ``hours`` is on time."""
    return (
        (pl.col("status") == "cancelled")
        & pl.col("cancelled_at").is_not_null()
        & (pl.col("cancelled_at") > pl.col("scheduled_start") - pl.duration(hours=hours))
    )


def is_patient_late_cancellation(hours: int) -> pl.Expr:
    """A late cancellation by the patient (or by nobody recorded): the one some count as a no-show."""
    return is_late_cancellation(hours) & (
        pl.col("cancelled_by").is_null() | (pl.col("cancelled_by") == "patient")
    )


def resolved_appointments(ctx: MetricContext) -> pl.LazyFrame:
    """Appointments whose date has come by the data's as-of time (any outcome).

    A cancellation of a visit still in the future is left out with the bookings still pending, or
    periods after the as-of time would show nothing but cancellations.
    """
    appointments = ctx.frame("appointments").filter(pl.col("status").is_in(RESOLVED))
    if ctx.as_of is not None:
        appointments = appointments.filter(
            (pl.col("status") != "cancelled") | (pl.col("scheduled_start") <= ctx.as_of)
        )
    return appointments


@metric(
    name="no_show_rate",
    title="No-show rate",
    short_name="No-shows / booked slots (IHI)",
    family="attendance",
    kind="rate",
    unit="share",
    numerator="Appointments with status no_show (plus the patient's late cancellations when "
    "count_late_cancels_as_no_shows is set)",
    denominator="Appointments still booked at the visit: completed, no-show, left without being seen, and "
    "cancellations by the patient (or with no initiator recorded) with less than late_cancel_hours (24 h) "
    "notice; exactly 24 h notice is on time",
    definition="Share of booked appointment slots the patient did not attend, without notice.",
    exclusions="Future appointments (status scheduled); cancellations of visits after the data's as-of time; "
    "cancellations with late_cancel_hours or more notice (the slot was freed); cancellations initiated by the "
    "provider or the clinic, however late (the practice withdrew the slot); cancellations without a "
    "cancellation time.",
    better="lower",
    standard="IHI no-show percentage (no-shows / scheduled appointment slots); late cancellations reported "
    "separately (ASGE); optional UMC Utrecht convention counting them as no-shows",
    source=f"{_IHI}; {_IHI_URL}",
    spc_chart="p",
    frame="appointments",
    date_basis="scheduled visit date",
)
def no_show_rate(ctx: MetricContext) -> pl.LazyFrame:
    hours = ctx.conventions.late_cancel_hours
    late = is_patient_late_cancellation(hours)
    numerator = pl.col("status") == "no_show"
    if ctx.conventions.count_late_cancels_as_no_shows:
        numerator = numerator | is_patient_late_cancellation(hours)
    return (
        resolved_appointments(ctx)
        .filter(pl.col("status").is_in(ATTENDED_OR_MISSED) | late)
        .with_columns(numerator.cast(pl.Int64).alias("_num"), pl.lit(1, pl.Int64).alias("_den"))
    )


@metric(
    name="no_show_rate_excl_cancellations",
    title="No-show rate (excluding cancellations)",
    short_name="No-shows / kept + missed",
    family="attendance",
    kind="rate",
    unit="share",
    numerator="Appointments with status no_show",
    denominator="Completed, no-show and left-without-being-seen appointments",
    definition="No-shows among the appointments that were not cancelled at all (the basis many practice "
    "benchmarks such as MGMA's use).",
    exclusions="Every cancellation, whenever made; future appointments (status scheduled).",
    better="lower",
    standard="Practice-benchmark basis excluding cancellations (MGMA Stat no-show polls)",
    source="MGMA Stat polls 2019-2023 (median no-show 5-7%)",
    spc_chart="p",
    frame="appointments",
    date_basis="scheduled visit date",
)
def no_show_rate_excl_cancellations(ctx: MetricContext) -> pl.LazyFrame:
    return (
        resolved_appointments(ctx)
        .filter(pl.col("status").is_in(ATTENDED_OR_MISSED))
        .with_columns(
            (pl.col("status") == "no_show").cast(pl.Int64).alias("_num"), pl.lit(1, pl.Int64).alias("_den")
        )
    )


@metric(
    name="cancellation_rate",
    title="Cancellation rate",
    short_name="Cancelled / all appointments",
    family="attendance",
    kind="rate",
    unit="share",
    numerator="Appointments with status cancelled (by patient, provider or clinic)",
    denominator="Appointments whose date has come by the data's as-of time, any outcome (completed, no-show, "
    "cancelled, left without being seen)",
    definition="Share of appointments cancelled before they took place.",
    exclusions="Future appointments (status scheduled) and cancellations of visits after the data's as-of time.",
    better="lower",
    standard="Common scheduling measure (all initiators)",
    source=f"{_IHI}",
    spc_chart="p",
    frame="appointments",
    date_basis="scheduled visit date",
)
def cancellation_rate(ctx: MetricContext) -> pl.LazyFrame:
    return resolved_appointments(ctx).with_columns(
        (pl.col("status") == "cancelled").cast(pl.Int64).alias("_num"), pl.lit(1, pl.Int64).alias("_den")
    )


@metric(
    name="late_cancellation_rate",
    title="Late cancellation rate",
    short_name="Patient cancellations < 24 h / all",
    family="attendance",
    kind="rate",
    unit="share",
    numerator="Cancellations by the patient (or with no initiator recorded) with less than late_cancel_hours "
    "(24 h) notice, or after the start; exactly 24 h notice is on time",
    denominator="Appointments whose date has come, any outcome",
    definition="Share of appointments the patient cancelled too late for the slot to be re-used.",
    exclusions="Future appointments and cancellations of visits after the as-of time; cancellations by the "
    "provider or clinic; cancellations without a time.",
    better="lower",
    standard="ASGE: late cancellations tracked separately from no-shows; window from settings "
    "(late_cancel_hours, default 24)",
    source="ASGE no-show and late-cancellation guidance; UMC Utrecht counts < 24 h as no-shows",
    spc_chart="p",
    frame="appointments",
    date_basis="scheduled visit date",
)
def late_cancellation_rate(ctx: MetricContext) -> pl.LazyFrame:
    late = is_patient_late_cancellation(ctx.conventions.late_cancel_hours)
    return resolved_appointments(ctx).with_columns(
        late.cast(pl.Int64).alias("_num"), pl.lit(1, pl.Int64).alias("_den")
    )


@metric(
    name="same_day_cancellation_rate",
    title="Same-day cancellation rate",
    short_name="Cancelled on the visit day / all",
    family="attendance",
    kind="rate",
    unit="share",
    numerator="Cancellations (any initiator) made on the calendar day of the visit",
    denominator="Appointments whose date has come, any outcome",
    definition="Share of appointments cancelled on the day they were due.",
    exclusions="Future appointments and cancellations of visits after the as-of time; cancellations without a "
    "time.",
    better="lower",
    standard="Common scheduling measure (same calendar day, site local time)",
    source=f"{_IHI}",
    spc_chart="p",
    frame="appointments",
    date_basis="scheduled visit date",
)
def same_day_cancellation_rate(ctx: MetricContext) -> pl.LazyFrame:
    same_day = (pl.col("status") == "cancelled") & (
        pl.col("cancelled_at").dt.date() == pl.col("scheduled_start").dt.date()
    )
    return resolved_appointments(ctx).with_columns(
        same_day.fill_null(False).cast(pl.Int64).alias("_num"), pl.lit(1, pl.Int64).alias("_den")
    )


@metric(
    name="lead_time_days",
    title="Lead time (booked to visit)",
    short_name="Days booked to visit",
    family="attendance",
    kind="time",
    unit="days",
    numerator="Days from booking (booked_at) to the scheduled start",
    denominator="Appointments completed, missed or left without being seen",
    definition="How far ahead patients' appointments are booked (median; p90 shows the long waits).",
    exclusions="Cancelled and future appointments; negative intervals (booked after the start).",
    better="lower",
    standard="Appointment lead time (access); related to IHI third-next-available",
    source="IHI Improving access: third next available appointment and lead time",
    spc_chart="i",
    frame="appointments",
    date_basis="scheduled visit date",
)
def lead_time_days(ctx: MetricContext) -> pl.LazyFrame:
    return (
        resolved_appointments(ctx)
        .filter(pl.col("status").is_in(ATTENDED_OR_MISSED))
        .with_columns(days_between(pl.col("scheduled_start"), pl.col("booked_at")).alias("_x"))
        .filter(pl.col("_x") >= 0)
    )


@metric(
    name="third_next_available_days",
    title="Third-next-available appointment",
    short_name="Days to 3rd open slot (IHI)",
    family="attendance",
    kind="time",
    unit="days",
    statistic="mean",
    numerator="Calendar days from the weekly snapshot (Monday 00:00) to the start of the third open slot, per provider",
    denominator="Provider-weeks with at least three open slots on the snapshot",
    definition="IHI third-next-available: measured weekly at the same time, the days until a provider's "
    "third open slot; the headline is the average over providers (median and p90 alongside).",
    exclusions="Blocked slots; slots not yet released or already booked at the snapshot; slots starting before "
    "it; provider-weeks with fewer than three open slots (no value rather than a guess); snapshots before the "
    "extract's first slot or after the data's as-of time (not fully observed).",
    better="lower",
    standard="IHI Third Next Available Appointment (goal: 10 days or fewer)",
    source="IHI, 'Third Next Available Appointment' measure; https://www.ihi.org/resources/measures/third-next-available-appointment",
    spc_chart="i",
    frame="slots",
    date_basis="snapshot date (Monday of each week)",
)
def third_next_available_days(ctx: MetricContext) -> pl.LazyFrame:
    # The snapshot is the date here, so the slot's own date columns go.
    slots = ctx.frame("slots").filter(~pl.col("blocked")).drop("_date", "_week", "_month")
    # A slot is open from its release until it is booked or starts; it counts on each Monday snapshot
    # inside that interval. Monday 00:00 of the release week, plus 7 days if released later that week.
    open_until = pl.min_horizontal(pl.col("booked_at").fill_null(pl.col("slot_start")), pl.col("slot_start"))
    first_monday = pl.col("released_at").dt.truncate("1w")
    first_monday = (
        pl.when(first_monday < pl.col("released_at"))
        .then(first_monday + pl.duration(days=7))
        .otherwise(first_monday)
    )
    snapshots = (
        slots.with_columns(first_monday.dt.date().alias("_first"), open_until.alias("_open_until"))
        .filter(pl.col("_first") <= pl.col("_open_until").dt.date())
        .with_columns(pl.date_ranges(pl.col("_first"), pl.col("_open_until").dt.date(), "1w").alias("_date"))
        .explode("_date")
        .filter(pl.col("_date").cast(pl.Datetime("us")) < pl.col("_open_until"))
    )
    # Only snapshots the extract can see in full: on or after its first slot (earlier days' open slots
    # are not in it) and no later than the data's as-of time.
    first_slot = ctx.frame("slots").select(pl.col("slot_start").min()).collect().item()
    if first_slot is not None:
        snapshots = snapshots.filter(pl.col("_date") >= first_slot.date())
    if ctx.as_of is not None:
        snapshots = snapshots.filter(pl.col("_date") <= ctx.as_of.date())
    third = snapshots.group_by("provider", "_date").agg(
        pl.col("slot_start").bottom_k(3).sort().get(2, null_on_oob=True).alias("_third"),
        *[pl.col(d).first() for d in DIMENSIONS if d != "provider"],
    )
    return third.filter(pl.col("_third").is_not_null()).with_columns(
        (pl.col("_third").dt.date() - pl.col("_date")).dt.total_days().cast(pl.Float64).alias("_x")
    )


@metric(
    name="slot_fill_rate",
    title="Slot fill rate",
    short_name="Booked / available slots",
    family="attendance",
    kind="rate",
    unit="share",
    numerator="Slots booked before they started",
    denominator="Released, unblocked slots that started by the data's as-of time",
    definition="Share of offered clinic capacity that was booked.",
    exclusions="Blocked slots; future slots.",
    better="higher",
    standard="Capacity utilisation (template fill)",
    source="IHI Improving access; MGMA template utilisation",
    spc_chart="p",
    frame="slots",
    date_basis="slot date",
)
def slot_fill_rate(ctx: MetricContext) -> pl.LazyFrame:
    slots = ctx.frame("slots").filter(~pl.col("blocked"))
    if ctx.as_of is not None:
        slots = slots.filter(pl.col("slot_start") <= ctx.as_of)
    booked = pl.col("booked_at").is_not_null() & (pl.col("booked_at") <= pl.col("slot_start"))
    return slots.with_columns(booked.cast(pl.Int64).alias("_num"), pl.lit(1, pl.Int64).alias("_den"))
