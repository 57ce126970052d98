"""Care transitions: follow-up visits after a hospital discharge.

A discharge counts once its follow-up window has closed by the data's as-of time; its follow-up is
the patient's first completed visit (any department, in person or telehealth) after the discharge.
Discharges are dated by the discharge day and carry the patient's dimensions only.
"""

from __future__ import annotations

import polars as pl

from carepulse.metrics._context import MetricContext
from carepulse.metrics._registry import metric

_SOURCE = (
    "NCQA HEDIS Transitions of Care (TRC) and Follow-Up After Hospitalization (7- and 30-day windows); "
    "CMS Transitional Care Management (contact within 7 or 14 days)"
)
HOSPITAL_CLASSES = ("inpatient", "observation")
EXCLUDED_DISPOSITIONS = ("expired", "transfer")


def followups(ctx: MetricContext, days: int) -> pl.LazyFrame:
    """Eligible discharges with ``_num`` = 1 when a completed visit followed within ``days``."""
    discharges = ctx.frame("encounters").filter(
        pl.col("encounter_class").is_in(HOSPITAL_CLASSES)
        & pl.col("discharged_at").is_not_null()
        & ~pl.col("discharge_disposition").is_in(EXCLUDED_DISPOSITIONS).fill_null(False)
    )
    if ctx.as_of is not None:
        discharges = discharges.filter(pl.col("discharged_at") + pl.duration(days=days) <= ctx.as_of)
    # Visits of discharged patients only (a semi-join), then each discharge against its patient's visits.
    visits = (
        ctx.frame("appointments")
        .filter(pl.col("status") == "completed")
        .select("patient_id", pl.col("scheduled_start").alias("_visit_at"))
        .join(discharges.select("patient_id").unique(), on="patient_id", how="semi")
    )
    window = pl.duration(days=days)
    followed = (
        discharges.select("encounter_id", "patient_id", "discharged_at")
        .join(visits, on="patient_id", how="inner")
        .filter(
            (pl.col("_visit_at") > pl.col("discharged_at"))
            & (pl.col("_visit_at") <= pl.col("discharged_at") + window)
        )
        .select("encounter_id")
        .unique()
        .with_columns(pl.lit(1, pl.Int64).alias("_num"))
    )
    return discharges.join(followed, on="encounter_id", how="left").with_columns(
        pl.col("_num").fill_null(0), pl.lit(1, pl.Int64).alias("_den")
    )


def _register(days: int) -> None:
    def units(ctx: MetricContext) -> pl.LazyFrame:
        return followups(ctx, days)

    units.__name__ = f"followup_{days}d_rate"
    metric(
        name=f"followup_{days}d_rate",
        title=f"Follow-up within {days} days of discharge",
        short_name=f"Seen <= {days} d / discharges",
        family="transitions",
        kind="rate",
        unit="share",
        numerator=f"Discharges followed by a completed visit within {days} days",
        denominator=f"Inpatient and observation discharges whose {days}-day window had closed by the as-of time",
        definition=f"Share of hospital discharges with an outpatient follow-up visit within {days} days.",
        exclusions="Emergency visits; deaths and transfers to another hospital; discharges still inside the "
        "window; encounters without a discharge time.",
        better="higher",
        standard=f"HEDIS/TCM-style {days}-day post-discharge follow-up",
        source=_SOURCE,
        spc_chart="p",
        frame="encounters",
        extra_frames=("appointments",),
        date_basis="discharge date",
    )(units)


_register(7)
_register(14)
