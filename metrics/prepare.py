"""Join the dimensions onto each fact once, so every metric can be grouped and filtered alike.

``prepare(frames)`` takes the warehouse frames by extract name (as ``carepulse.warehouse.load_frames``
returns them, or hand-built in tests) and returns one prepared LazyFrame per fact --
``appointments``, ``referrals``, ``claims``, ``surveys``, ``encounters``, ``slots`` -- each carrying
the :data:`~carepulse.metrics._registry.DIMENSIONS` columns (null where a dimension does not apply), plus the
frame ``_meta`` with the data's ``as_of`` (the latest event the extracts record). Patient-identifying
columns (birth date, names, contact details) never leave this module: the age band replaces the
birth date.

Dimension meanings: ``department``/``provider`` are ids (``department_id``/``provider_id``; the
``departments``/``providers`` frames pass through for display names); ``site`` comes from the
department; ``age_band`` is the patient's age at the event (visit, referral, admission);
``payer_class`` is the claim's for claims and the patient's otherwise.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

import polars as pl

from carepulse.contract import PHI_COLUMNS
from carepulse.metrics._context import DIMENSIONS, MetricError

if TYPE_CHECKING:  # pragma: no cover
    from polars.expr.whenthen import ChainedThen, Then

#: Identifying columns: never in a prepared frame (the age band stands in for the birth date).
_PHI: tuple[str, ...] = tuple(sorted({c for columns in PHI_COLUMNS.values() for c in columns}))

#: Columns prepare reads from each extract. A missing one is an error naming extract and column.
REQUIRED_COLUMNS: dict[str, tuple[str, ...]] = {
    "departments": ("department_id", "site"),
    "patients": ("patient_id", "birth_date", "sex", "race", "ethnicity", "payer_class"),
    "appointments": (
        "appointment_id",
        "patient_id",
        "department_id",
        "provider_id",
        "visit_type",
        "modality",
        "booked_at",
        "scheduled_start",
        "status",
        "cancelled_at",
        "cancelled_by",
        "insurance_verified",
        "checkin_at",
        "roomed_at",
        "provider_start_at",
        "checkout_at",
    ),
    "referrals": (
        "referral_id",
        "patient_id",
        "referring_provider_id",
        "target_department_id",
        "created_at",
        "scheduled_at",
        "appointment_id",
        "completed_at",
        "report_received_at",
        "status",
        "prior_auth_required",
        "prior_auth_decided_at",
    ),
    "claims": (
        "claim_id",
        "appointment_id",
        "payer_name",
        "payer_class",
        "submitted_at",
        "billed_amount",
        "status",
        "adjudicated_at",
        "carc_code",
        "denial_category",
        "is_resubmission",
        "appeal_filed_at",
        "appeal_outcome",
        "resolved_at",
        "written_off_amount",
    ),
    "surveys": (
        "survey_id",
        "appointment_id",
        "received_at",
        "provider_rating",
        "recommend",
        "access_timely",
        "provider_explained",
        "provider_listened",
        "staff_helpful",
        "staff_respectful",
    ),
    "encounters": (
        "encounter_id",
        "patient_id",
        "encounter_class",
        "admitted_at",
        "discharged_at",
        "discharge_disposition",
    ),
    "slots": ("slot_id", "provider_id", "department_id", "slot_start", "released_at", "booked_at", "blocked"),
}

#: Facts prepare builds, and the extracts each needs beyond the core three.
FACTS: tuple[str, ...] = ("appointments", "referrals", "claims", "surveys", "encounters", "slots")
CORE: tuple[str, ...] = ("departments", "patients", "appointments")

#: The timestamp each fact is dated by (date ranges and periods); a metric may date its rows otherwise
#: (third-next-available: the weekly snapshot) by replacing ``_date`` and dropping ``_week``/``_month``.
DATE_BASIS: dict[str, str] = {
    "appointments": "scheduled_start",
    "referrals": "created_at",
    "claims": "submitted_at",
    "surveys": "visit_at",
    "encounters": "discharged_at",
    "slots": "slot_start",
}

AGE_BANDS: tuple[str, ...] = ("0-17", "18-34", "35-49", "50-64", "65-74", "75+")

#: Appointment columns the claims and surveys facts inherit (their visit's dimensions).
_VISIT_DIMENSIONS = (
    "department",
    "site",
    "provider",
    "visit_type",
    "modality",
    "age_band",
    "sex",
    "race",
    "ethnicity",
)


#: Age (years) at which each band after the first starts.
_BAND_STARTS: tuple[int, ...] = (18, 35, 50, 65, 75)


def band_birthdays(birth_date: pl.Expr) -> list[pl.Expr]:
    """The dates on which someone born on ``birth_date`` enters each band after 0-17 (``_turns_18`` ...).

    Computed once per patient, so the age band of each visit is a few date comparisons (a 29 February
    birthday falls on 28 February in common years).
    """
    return [birth_date.dt.offset_by(f"{years}y").alias(f"_turns_{years}") for years in _BAND_STARTS]


def age_band(at_date: pl.Expr) -> pl.Expr:
    """The age band (``AGE_BANDS``) on the date ``at_date``, from the ``_turns_N`` columns."""
    expr: Then | ChainedThen = pl.when(pl.col("_turns_18").is_null() | at_date.is_null()).then(
        pl.lit(None, pl.String)
    )
    labels = AGE_BANDS
    for years, label in zip(_BAND_STARTS, labels[:-1], strict=True):
        expr = expr.when(at_date < pl.col(f"_turns_{years}")).then(pl.lit(label))
    return expr.otherwise(pl.lit(labels[-1])).cast(pl.Categorical)


_BAND_COLUMNS = [f"_turns_{years}" for years in _BAND_STARTS]


#: Low-cardinality text columns held as Categorical in prepared frames: filters and group-bys on them
#: run several times faster than on strings (metric outputs turn them back into text).
CATEGORICAL: tuple[str, ...] = (
    *DIMENSIONS,
    "status",
    "cancelled_by",
    "payer_name",
    "carc_code",
    "denial_category",
    "appeal_outcome",
    "encounter_class",
    "discharge_disposition",
)


def _categorical(frame: pl.LazyFrame) -> pl.LazyFrame:
    schema = frame.collect_schema()
    casts = [pl.col(c).cast(pl.Categorical) for c in CATEGORICAL if schema.get(c) == pl.String()]
    return frame.with_columns(casts) if casts else frame


def _dated(frame: pl.LazyFrame, name: str) -> pl.LazyFrame:
    """Add ``_date`` (the fact's :data:`DATE_BASIS` day) and its ``_week``/``_month`` starts, once."""
    if "_date" in frame.collect_schema().names():
        return frame
    day = pl.col(DATE_BASIS[name]).dt.date()
    return frame.with_columns(day.alias("_date")).with_columns(
        pl.col("_date").dt.truncate("1w").alias("_week"), pl.col("_date").dt.month_start().alias("_month")
    )


def _check_columns(name: str, frame: pl.LazyFrame) -> None:
    present = set(frame.collect_schema().names())
    missing = [c for c in REQUIRED_COLUMNS[name] if c not in present]
    if missing:
        raise MetricError(f"extract {name} is missing column(s) {', '.join(missing)} needed by the metrics")


def _null_dimensions(frame: pl.LazyFrame) -> pl.LazyFrame:
    """Add every dimension column the frame lacks, as null strings, and order them first."""
    present = frame.collect_schema().names()
    missing = [pl.lit(None, pl.String).alias(d) for d in DIMENSIONS if d not in present]
    return frame.with_columns(missing) if missing else frame


def prepare(frames: Mapping[str, pl.DataFrame | pl.LazyFrame]) -> dict[str, pl.LazyFrame]:
    """Prepared facts with their dimensions joined, materialised once, returned lazy.

    Parameters
    ----------
    frames : mapping of extract name to DataFrame or LazyFrame
        At least ``departments``, ``patients`` and ``appointments``; ``referrals``, ``claims``,
        ``surveys``, ``encounters`` and ``slots`` are optional (metrics needing an absent one raise
        :class:`~carepulse.metrics.MetricError` when computed; ``compute_catalogue`` skips them).

    Returns
    -------
    dict of name to LazyFrame: the facts present, ``departments``/``providers`` as given and
    ``_meta`` (one row: ``as_of`` datetime, the latest event recorded: booking, cancellation, checkout,
    start of a visit that was seen or missed, referral, claim, survey, discharge, slot release or booking).
    """
    lazy = {name: f.lazy() for name, f in frames.items() if f is not None}
    for name in CORE:
        if name not in lazy:
            raise MetricError(f"metrics need the {name} extract, which is missing")
    for name, frame in lazy.items():
        if name in REQUIRED_COLUMNS:
            _check_columns(name, frame)

    departments = lazy["departments"].select("department_id", "site")
    patients = lazy["patients"].select(
        "patient_id",
        pl.col("sex", "race", "ethnicity", "payer_class").cast(pl.String).cast(pl.Categorical),
        *band_birthdays(pl.col("birth_date")),
    )

    appointments = (
        lazy["appointments"]
        .join(departments, on="department_id", how="left")
        .join(patients, on="patient_id", how="left")
        .with_columns(
            pl.col("department_id").alias("department"),
            pl.col("provider_id").alias("provider"),
            age_band(pl.col("scheduled_start").dt.date()).alias("age_band"),
            pl.col("scheduled_start").dt.weekday().cast(pl.Int8).alias("weekday"),
            pl.col("scheduled_start").dt.hour().cast(pl.Int8).alias("hour"),
        )
        .drop(_BAND_COLUMNS)
    )
    if "surveys" in lazy:  # for the survey response rate
        surveyed = (
            lazy["surveys"].select("appointment_id").unique().with_columns(pl.lit(True).alias("surveyed"))
        )
        appointments = appointments.join(surveyed, on="appointment_id", how="left").with_columns(
            pl.col("surveyed").fill_null(False)
        )
    # Materialise the appointments once: claims and surveys take their visit's dimensions from them.
    appointments = _categorical(
        _dated(_null_dimensions(appointments).drop(_PHI, strict=False), "appointments")
    )
    appointments = appointments.collect().lazy()
    out: dict[str, pl.LazyFrame] = {"appointments": appointments}
    visit_dims = appointments.select(
        "appointment_id",
        *_VISIT_DIMENSIONS,
        pl.col("scheduled_start").alias("visit_at"),
        "insurance_verified",
    )

    if "referrals" in lazy:
        referral_visit = lazy["appointments"].select("appointment_id", "visit_type", "modality")
        out["referrals"] = (
            lazy["referrals"]
            .join(departments, left_on="target_department_id", right_on="department_id", how="left")
            .join(patients, on="patient_id", how="left")
            .join(referral_visit, on="appointment_id", how="left")
            .with_columns(
                pl.col("target_department_id").alias("department"),
                pl.col("referring_provider_id").alias("provider"),
                age_band(pl.col("created_at").dt.date()).alias("age_band"),
            )
            .drop(_BAND_COLUMNS)
        )
    if "claims" in lazy:
        out["claims"] = lazy["claims"].join(visit_dims, on="appointment_id", how="left")
    if "surveys" in lazy:
        survey_visit = appointments.select(
            "appointment_id", *_VISIT_DIMENSIONS, "payer_class", pl.col("scheduled_start").alias("visit_at")
        )
        out["surveys"] = lazy["surveys"].join(survey_visit, on="appointment_id", how="left")
    if "encounters" in lazy:
        out["encounters"] = (
            lazy["encounters"]
            .join(patients, on="patient_id", how="left")
            .with_columns(age_band(pl.col("admitted_at").dt.date()).alias("age_band"))
            .drop(_BAND_COLUMNS)
        )
    if "slots" in lazy:
        out["slots"] = (
            lazy["slots"]
            .join(departments, on="department_id", how="left")
            .with_columns(
                pl.col("department_id").alias("department"), pl.col("provider_id").alias("provider")
            )
        )
    out = {
        name: _categorical(_dated(_null_dimensions(frame).drop(_PHI, strict=False), name))
        for name, frame in out.items()
    }

    as_of_parts = []
    for name, column in (
        ("appointments", "booked_at"),
        ("appointments", "cancelled_at"),
        ("appointments", "checkout_at"),
        ("referrals", "created_at"),
        ("claims", "submitted_at"),
        ("surveys", "received_at"),
        ("encounters", "discharged_at"),
        ("slots", "released_at"),
        ("slots", "booked_at"),
    ):
        if name in lazy:
            as_of_parts.append(lazy[name].select(pl.col(column).max().alias("t")))
    # A visit with an outcome (seen, missed) has happened: the extract is at least as late as its start.
    happened = pl.col("status").is_in(["completed", "no_show", "left_without_being_seen"])
    as_of_parts.append(
        lazy["appointments"].select(pl.col("scheduled_start").filter(happened).max().alias("t"))
    )
    meta = pl.concat(as_of_parts).select(pl.col("t").max().alias("as_of"))

    names = list(out)
    collected = pl.collect_all([out[n] for n in names] + [meta])
    prepared = {n: df.lazy() for n, df in zip(names, collected[:-1], strict=True)}
    prepared["_meta"] = collected[-1].lazy()
    for name in ("departments", "providers"):
        if name in lazy:
            prepared[name] = lazy[name]
    return prepared


def is_prepared(frames: Mapping[str, pl.DataFrame | pl.LazyFrame]) -> bool:
    """True when ``frames`` came out of :func:`prepare` (it carries ``_meta``)."""
    return "_meta" in frames
