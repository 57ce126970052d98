"""A patient's attendance history as known at a moment: prior no-shows, visits and cancellations.

Counts are cumulative per patient and read back with as-of joins, so a target row sees only the
outcomes that were known strictly before its ``as_of`` (see :mod:`.features`).
"""

from __future__ import annotations

import datetime as dt

import polars as pl


def cancel_moment() -> pl.Expr:
    """When a cancellation became known (the visit time when ``cancelled_at`` is missing)."""
    return (
        pl.when(pl.col("status") == "cancelled")
        .then(pl.coalesce("cancelled_at", "scheduled_start"))
        .otherwise(None)
    )


_COUNTS = ("no_show", "visit", "cancellation", "any_cancellation")


def _events(appointments: pl.DataFrame) -> pl.LazyFrame:
    """One row per known outcome: patient, when it became known, and which kind it was (0/1)."""
    return (
        appointments.lazy()
        .filter(pl.col("status") != "scheduled")
        .select(
            "patient_id",
            pl.when(pl.col("status") == "cancelled")
            .then(cancel_moment())
            .otherwise(pl.col("scheduled_start"))
            .alias("event_at"),
            (pl.col("status") == "no_show").cast(pl.Int64).alias("no_show"),
            pl.col("status").is_in(["completed", "left_without_being_seen"]).cast(pl.Int64).alias("visit"),
            (
                (pl.col("status") == "cancelled")
                & ~pl.col("cancelled_by").fill_null("patient").is_in(["provider", "clinic"])
            )
            .cast(pl.Int64)
            .alias("cancellation"),
            (pl.col("status") == "cancelled").cast(pl.Int64).alias("any_cancellation"),
        )
    )


def _history(appointments: pl.DataFrame) -> pl.DataFrame:
    """Per patient and event moment, cumulative counts of outcomes up to and including it."""
    return (
        _events(appointments)
        .group_by("patient_id", "event_at")
        .agg(pl.col(*_COUNTS).sum())
        .sort("patient_id", "event_at")
        .with_columns(
            pl.col(*_COUNTS).cum_sum().over("patient_id"),
            pl.when(pl.col("visit") > 0)
            .then(pl.col("event_at"))
            .otherwise(None)
            .forward_fill()
            .over("patient_id")
            .alias("last_visit_at"),
        )
        .sort("event_at")
        .collect()
    )


def history_features(targets: pl.DataFrame, appointments: pl.DataFrame) -> pl.DataFrame:
    """Prior no-shows, cancellations and visits (all history and last 12 months), strictly before as_of."""
    moments = targets["as_of"].unique()
    if moments.len() == 1 and moments[0] is not None:
        joined = _counts_at_one_moment(targets, appointments, moments[0])
    else:
        joined = _counts_at_each_moment(targets, appointments)
    return _history_columns(joined)


def _counts_at_one_moment(
    targets: pl.DataFrame, appointments: pl.DataFrame, as_of: dt.datetime
) -> pl.DataFrame:
    """Counts when every target shares one as_of (a scoring run): one group_by per patient.

    Same numbers as :func:`_counts_at_each_moment`: events strictly before as_of, and the "old"
    counts are events strictly before the 12-month window's start.
    """
    window_start = as_of - dt.timedelta(days=365)
    old = pl.col("event_at") < window_start
    per_patient = (
        _events(appointments)
        .filter(pl.col("event_at") < as_of)
        .group_by("patient_id")
        .agg(
            *[pl.col(c).sum() for c in _COUNTS],
            *[pl.col(c).filter(old).sum().alias(f"{c}_old") for c in _COUNTS],
            pl.col("event_at").filter(pl.col("visit") > 0).max().alias("last_visit_at"),
        )
    )
    return (
        targets.lazy()
        .select("appointment_id", "patient_id", "as_of")
        .join(per_patient, on="patient_id", how="left")
        .with_columns(pl.col(*_COUNTS, *[f"{c}_old" for c in _COUNTS]).fill_null(0))
        .collect()
    )


def _counts_at_each_moment(targets: pl.DataFrame, appointments: pl.DataFrame) -> pl.DataFrame:
    """Counts for targets with their own as_of each (training rows): as-of joins on cumulative counts."""
    hist = _history(appointments)
    counts = list(_COUNTS)
    left = targets.select("appointment_id", "patient_id", "as_of").with_columns(
        (pl.col("as_of") - pl.duration(days=365)).alias("window_start")
    )
    everything = left.sort("as_of").join_asof(
        hist.select("patient_id", "event_at", *counts, "last_visit_at"),
        left_on="as_of",
        right_on="event_at",
        by="patient_id",
        strategy="backward",
        allow_exact_matches=False,
        check_sortedness=False,
    )
    before_window = left.sort("window_start").join_asof(
        hist.select("patient_id", "event_at", *[pl.col(c).alias(f"{c}_old") for c in counts]),
        left_on="window_start",
        right_on="event_at",
        by="patient_id",
        strategy="backward",
        allow_exact_matches=False,
        check_sortedness=False,
    )
    return everything.join(
        before_window.select("appointment_id", *[f"{c}_old" for c in counts]), on="appointment_id", how="left"
    ).with_columns(pl.col(*counts, *[f"{c}_old" for c in counts]).fill_null(0))


def _history_columns(joined: pl.DataFrame) -> pl.DataFrame:
    """The history features from all-time counts, counts before the 12-month window, last visit."""
    recent = {c: pl.col(c) - pl.col(f"{c}_old") for c in _COUNTS}
    resolved = pl.col("no_show") + pl.col("visit")
    resolved_12m = recent["no_show"] + recent["visit"]
    return joined.select(
        "appointment_id",
        pl.col("no_show").alias("prior_no_shows"),
        recent["no_show"].alias("prior_no_shows_12m"),
        pl.col("cancellation").alias("prior_cancellations"),
        recent["cancellation"].alias("prior_cancellations_12m"),
        pl.col("visit").alias("prior_visits"),
        recent["visit"].alias("prior_visits_12m"),
        (pl.col("no_show") / resolved).fill_nan(None).alias("prior_no_show_rate"),
        (recent["no_show"] / resolved_12m).fill_nan(None).alias("prior_no_show_rate_12m"),
        (pl.col("cancellation") / (resolved + pl.col("any_cancellation")))
        .fill_nan(None)
        .alias("prior_cancellation_rate"),
        ((pl.col("as_of") - pl.col("last_visit_at")).dt.total_seconds() / 86400.0).alias(
            "days_since_last_visit"
        ),
        (pl.col("visit") == 0).cast(pl.Int8).alias("is_new_patient"),
    )
