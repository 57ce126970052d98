"""Care transitions: follow-up visits after a hospital discharge.

A discharge counts once its follow-up window has closed by the data's as-of time; its follow-up is
a completed visit (any department, in person or telehealth) in the window. Discharges are dated by
the discharge day and carry the patient's dimensions only.

Windows are counted in calendar days as HEDIS counts them: "within 7 days after discharge" is a
visit dated discharge day + 1 through discharge day + 7; a visit on the discharge day itself does not
count (NCQA HEDIS Follow-Up After Hospitalization for Mental Illness, FUH: "Do not include visits
that occur on the date of discharge"; FUA/FUM and TRC's patient engagement count the same way). The
time of day plays no part: a discharge at 23:50 and a visit at 08:00 seven days later is in the
7-day window. The window has closed once its last calendar day is over by the as-of time.
"""

from __future__ import annotations

import polars as pl

from carepulse.metrics._context import MetricContext
from carepulse.metrics._registry import metric

_SOURCE = (
    "NCQA HEDIS Follow-Up After Hospitalization (FUH: 7- and 30-day rates, calendar days after the "
    "discharge date, discharge day excluded) and Transitions of Care (TRC); CMS Transitional Care "
    "Management (contact within 7 or 14 days)"
)
FOLLOWUP_WINDOWS = (7, 14, 30)
HOSPITAL_CLASSES = ("inpatient", "observation")
EXCLUDED_DISPOSITIONS = ("expired", "transfer")


def followups(ctx: MetricContext, days: int) -> pl.LazyFrame:
    """Eligible discharges with ``_num`` = 1 when a completed visit fell on calendar day 1..``days``
    after the discharge date (the discharge day is day 0 and does not count)."""
    discharges = ctx.frame("encounters").filter(
        pl.col("encounter_class").is_in(HOSPITAL_CLASSES)
        & pl.col("discharged_at").is_not_null()
        & ~pl.col("discharge_disposition").is_in(EXCLUDED_DISPOSITIONS).fill_null(False)
    )
    discharge_day = pl.col("discharged_at").dt.date()
    if ctx.as_of is not None:
        # the window's last day (discharge day + days) is over: midnight after it has passed
        window_end = (discharge_day + pl.duration(days=days + 1)).cast(pl.Datetime("us"))
        as_of = pl.lit(ctx.as_of).cast(pl.Datetime("us"))
        discharges = discharges.filter(window_end <= as_of)
    # Visits of discharged patients only (a semi-join), then each discharge against its patient's visits.
    visits = (
        ctx.frame("appointments")
        .filter(pl.col("status") == "completed")
        .select("patient_id", pl.col("scheduled_start").dt.date().alias("_visit_day"))
        .join(discharges.select("patient_id").unique(), on="patient_id", how="semi")
    )
    followed = (
        discharges.select("encounter_id", "patient_id", discharge_day.alias("_discharge_day"))
        .join(visits, on="patient_id", how="inner")
        .filter(
            (pl.col("_visit_day") > pl.col("_discharge_day"))
            & (pl.col("_visit_day") <= pl.col("_discharge_day") + pl.duration(days=days))
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
        numerator=f"Discharges followed by a completed visit on calendar day 1 to {days} after the discharge "
        "date (a visit on the discharge day itself does not count)",
        denominator=f"Inpatient and observation discharges whose {days}-day window (through discharge day + "
        f"{days}) was over by the as-of time",
        definition=f"Share of hospital discharges with an outpatient follow-up visit within {days} days after "
        "discharge, counted in calendar days as HEDIS counts them.",
        exclusions="Emergency visits; deaths and transfers to another hospital; discharges still inside the "
        "window; encounters without a discharge time; visits on the discharge day.",
        better="higher",
        standard=f"HEDIS FUH-style {days}-day follow-up (calendar days after the discharge date)"
        if days != 14
        else "CMS TCM 14-day contact window, counted in calendar days as HEDIS counts them",
        source=_SOURCE,
        spc_chart="p",
        frame="encounters",
        extra_frames=("appointments",),
        date_basis="discharge date",
    )(units)


for _days in FOLLOWUP_WINDOWS:
    _register(_days)
