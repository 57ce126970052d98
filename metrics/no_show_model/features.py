"""Point-in-time features of an appointment, as the warehouse knew it at a given moment.

Every feature of a target row ``(appointment_id, as_of)`` uses only what was knowable strictly before
``as_of``: a past visit's outcome counts once its ``scheduled_start`` has passed, a cancellation once
its ``cancelled_at`` has passed, another booking once its ``booked_at`` has passed. Rows added later
(future bookings, later outcomes) therefore never change a feature (``tests/test_model_features.py``
proves it). All of it is vectorised Polars: per-patient cumulative event counts read back with as-of
joins, same-day bookings and open referrals with keyed joins; no per-row Python.

Known limits of the extracts (latest state, not history): ``reminder``, ``insurance_verified`` and
the patient's demographics/payer are their latest values, assumed known at scoring time.
"""

from __future__ import annotations

import datetime as dt
from typing import cast

import polars as pl

from carepulse.metrics.no_show_model.history import cancel_moment, history_features

#: One ZIP-code step from the catchment centre is about this many kilometres (crude distance proxy;
#: ZIP codes are not coordinates, see docs/model.md).
KM_PER_ZIP_STEP = 0.5

CATEGORICAL_FEATURES: tuple[str, ...] = (
    "department_id",
    "provider_id",
    "visit_type",
    "modality",
    "reminder",
    "sex",
    "payer_class",
    "language",
)

NUMERIC_FEATURES: tuple[str, ...] = (
    "lead_time_days",
    "weekday",
    "hour",
    "month",
    "duration_min",
    "prior_no_shows",
    "prior_no_shows_12m",
    "prior_cancellations",
    "prior_cancellations_12m",
    "prior_visits",
    "prior_visits_12m",
    "prior_no_show_rate",
    "prior_no_show_rate_12m",
    "prior_cancellation_rate",
    "days_since_last_visit",
    "is_new_patient",
    "age",
    "needs_interpreter",
    "transport_barrier",
    "portal_active",
    "distance_km",
    "insurance_verified",
    "has_referral",
    "pending_prior_auth",
    "open_referrals",
    "same_day_appointments",
)

FEATURES: tuple[str, ...] = CATEGORICAL_FEATURES + NUMERIC_FEATURES

#: Final statuses of an appointment that was not cancelled (the label's population).
KEPT_OR_MISSED = ("completed", "no_show", "left_without_being_seen")

_APPOINTMENT_COLUMNS = (
    "appointment_id",
    "patient_id",
    "department_id",
    "provider_id",
    "visit_type",
    "modality",
    "booked_at",
    "scheduled_start",
    "duration_min",
    "status",
    "cancelled_at",
    "cancelled_by",
    "reminder",
    "insurance_verified",
    "referral_id",
)


def training_moment(appointments: pl.DataFrame | pl.LazyFrame) -> pl.Expr:
    """The as-of moment of a training row: 00:00 the day before the visit, or the booking if later.

    That is the last moment an outreach call can still change the visit, so training rows look like
    the rows the worklist scores (between booking and the visit) with the most history available.
    """
    day_before = pl.col("scheduled_start").dt.truncate("1d") - pl.duration(days=1)
    return pl.max_horizontal(pl.col("booked_at"), day_before).alias("as_of")


def catchment_zip(patients: pl.DataFrame) -> int | None:
    """The median numeric 5-digit postal code of the patients (the catchment centre)."""
    zips = patients.select(_zip_number(pl.col("postal_code")).alias("z")).drop_nulls()
    return None if zips.is_empty() else int(cast(float, zips["z"].median()))


def _zip_number(expr: pl.Expr) -> pl.Expr:
    return expr.str.strip_chars().str.slice(0, 5).cast(pl.Int64, strict=False)


def _same_day_appointments(targets: pl.DataFrame, appointments: pl.DataFrame) -> pl.DataFrame:
    """The patient's other bookings on the visit's day that were booked and not cancelled at as_of."""
    left = targets.select(
        "appointment_id", "patient_id", "as_of", pl.col("scheduled_start").dt.date().alias("visit_date")
    )
    others = appointments.select(
        pl.col("appointment_id").alias("other_id"),
        "patient_id",
        pl.col("scheduled_start").dt.date().alias("visit_date"),
        "booked_at",
        cancel_moment().alias("cancel_moment"),
    )
    counted = (
        left.join(others, on=["patient_id", "visit_date"], how="inner")
        .filter(
            (pl.col("other_id") != pl.col("appointment_id"))
            & (pl.col("booked_at") <= pl.col("as_of"))
            & (pl.col("cancel_moment").is_null() | (pl.col("cancel_moment") > pl.col("as_of")))
        )
        .group_by("appointment_id")
        .agg(pl.len().cast(pl.Int64).alias("same_day_appointments"))
    )
    return (
        left.select("appointment_id")
        .join(counted, on="appointment_id", how="left")
        .with_columns(pl.col("same_day_appointments").fill_null(0))
    )


def _referral_features(targets: pl.DataFrame, referrals: pl.DataFrame | None) -> pl.DataFrame:
    """Linked referral, its prior authorization still pending at as_of, the patient's open referrals."""
    base = targets.select("appointment_id", "patient_id", "as_of", "referral_id")
    if referrals is None or referrals.is_empty():
        return base.select(
            "appointment_id",
            pl.col("referral_id").is_not_null().cast(pl.Int8).alias("has_referral"),
            pl.lit(0, pl.Int8).alias("pending_prior_auth"),
            pl.lit(0, pl.Int64).alias("open_referrals"),
        )
    ref = referrals.select(
        "referral_id",
        "created_at",
        "prior_auth_required",
        "prior_auth_status",
        "prior_auth_decided_at",
    )
    linked = base.join(ref, on="referral_id", how="left").select(
        "appointment_id",
        pl.col("referral_id").is_not_null().cast(pl.Int8).alias("has_referral"),
        (
            pl.col("prior_auth_required").fill_null(False)
            & (pl.col("created_at") <= pl.col("as_of")).fill_null(False)
            & (
                pl.when(pl.col("prior_auth_decided_at").is_not_null())
                .then(pl.col("prior_auth_decided_at") > pl.col("as_of"))
                .otherwise(pl.col("prior_auth_status").fill_null("pending") == "pending")
            )
        )
        .cast(pl.Int8)
        .alias("pending_prior_auth"),
    )
    open_counts = (
        base.select("appointment_id", "patient_id", "as_of")
        .join(referrals.select("patient_id", "created_at", "scheduled_at", "completed_at"), on="patient_id")
        .filter(
            (pl.col("created_at") < pl.col("as_of"))
            & (pl.col("scheduled_at").is_null() | (pl.col("scheduled_at") > pl.col("as_of")))
            & (pl.col("completed_at").is_null() | (pl.col("completed_at") > pl.col("as_of")))
        )
        .group_by("appointment_id")
        .agg(pl.len().cast(pl.Int64).alias("open_referrals"))
    )
    return linked.join(open_counts, on="appointment_id", how="left").with_columns(
        pl.col("open_referrals").fill_null(0)
    )


def _patient_features(targets: pl.DataFrame, patients: pl.DataFrame, centre_zip: int | None) -> pl.DataFrame:
    cols = [
        "patient_id",
        "birth_date",
        "sex",
        "payer_class",
        "preferred_language",
        "postal_code",
        "portal_active",
        "needs_interpreter",
        "transport_barrier",
    ]
    pats = patients.select(cols)
    centre = pl.lit(centre_zip, pl.Int64) if centre_zip is not None else pl.lit(None, pl.Int64)
    return (
        targets.select("appointment_id", "patient_id", "as_of")
        .join(pats, on="patient_id", how="left")
        .select(
            "appointment_id",
            ((pl.col("as_of").dt.date() - pl.col("birth_date")).dt.total_days() / 365.25).alias("age"),
            pl.col("sex").fill_null("unknown"),
            pl.col("payer_class").fill_null("unknown"),
            pl.col("preferred_language").str.to_lowercase().fill_null("unknown").alias("language"),
            pl.col("needs_interpreter").cast(pl.Int8),
            pl.col("transport_barrier").cast(pl.Int8),
            pl.col("portal_active").cast(pl.Int8),
            ((_zip_number(pl.col("postal_code")) - centre).abs() * KM_PER_ZIP_STEP)
            .cast(pl.Float64)
            .alias("distance_km"),
        )
    )


def appointment_features(
    targets: pl.DataFrame,
    appointments: pl.DataFrame,
    patients: pl.DataFrame,
    referrals: pl.DataFrame | None = None,
    *,
    centre_zip: int | None = None,
) -> pl.DataFrame:
    """Feature frame, one row per target, in the order of ``targets``.

    Parameters
    ----------
    targets : pl.DataFrame
        ``appointment_id`` and ``as_of`` (Datetime): the moment each appointment is scored.
    appointments, patients, referrals : pl.DataFrame
        Contract-typed extracts (``referrals`` optional).
    centre_zip : int, optional
        Catchment centre for the distance proxy (the model stores :func:`catchment_zip` of its
        training patients); default: computed from ``patients``.

    Returns
    -------
    pl.DataFrame
        ``appointment_id``, ``as_of`` and every column of :data:`FEATURES`.
    """
    missing = {"appointment_id", "as_of"} - set(targets.columns)
    if missing:
        raise KeyError(f"targets lacks column(s) {sorted(missing)}")
    if centre_zip is None:
        centre_zip = catchment_zip(patients)
    appts = appointments.select(_APPOINTMENT_COLUMNS)
    tgt = (
        targets.select("appointment_id", pl.col("as_of").cast(pl.Datetime("us")))
        .with_row_index("_order")
        .join(appts, on="appointment_id", how="left")
    )
    if tgt["patient_id"].null_count():
        raise KeyError("some target appointment_id values are not in the appointments frame")
    # every part below joins on the target's patient (and day), so it reads only that patient's rows;
    # no semi-join beforehand: it cost more than it saved
    own = tgt.select(
        "_order",
        "appointment_id",
        "as_of",
        pl.col("department_id").fill_null("unknown"),
        pl.col("provider_id").fill_null("unknown"),
        "visit_type",
        "modality",
        pl.col("reminder").fill_null("none"),
        ((pl.col("scheduled_start") - pl.col("booked_at")).dt.total_seconds() / 86400.0)
        .clip(0)
        .alias("lead_time_days"),
        pl.col("scheduled_start").dt.weekday().cast(pl.Int8).alias("weekday"),
        (pl.col("scheduled_start").dt.hour() + pl.col("scheduled_start").dt.minute() / 60).alias("hour"),
        pl.col("scheduled_start").dt.month().cast(pl.Int8).alias("month"),
        "duration_min",
        pl.col("insurance_verified").cast(pl.Int8),
    )
    parts = [
        history_features(tgt, appts),
        _same_day_appointments(tgt, appts),
        _referral_features(tgt, referrals),
        _patient_features(tgt, patients, centre_zip),
    ]
    out = own
    for part in parts:
        out = out.join(part, on="appointment_id", how="left")
    return out.sort("_order").select("appointment_id", "as_of", *FEATURES)


def labelled_examples(appointments: pl.DataFrame, cutoff: dt.datetime) -> pl.DataFrame:
    """Past, not cancelled appointments before ``cutoff`` with their training moment and label.

    The label is ``no_show``; ``completed`` and ``left_without_being_seen`` (the patient came) are
    negatives; cancelled, still-scheduled and future appointments are not examples.
    """
    return (
        appointments.lazy()
        .filter(pl.col("status").is_in(KEPT_OR_MISSED) & (pl.col("scheduled_start") < cutoff))
        .select(
            "appointment_id",
            "scheduled_start",
            training_moment(appointments),
            (pl.col("status") == "no_show").cast(pl.Int8).alias("no_show"),
        )
        .sort("scheduled_start", "appointment_id")
        .collect()
    )
