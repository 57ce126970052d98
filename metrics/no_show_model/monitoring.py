"""How the current model does after it went live: predicted against observed, and by subgroup.

Kept apart from scoring so that reading it (the dashboard's model page) imports neither scikit-learn
nor skops: only Polars and the registry's rows.
"""

from __future__ import annotations

import polars as pl
import sqlalchemy as sa

from carepulse.metrics.no_show_model import registry

_MONITORING_SCHEMA = pl.Schema(
    {
        "week": pl.Date(),
        "n": pl.Int64(),
        "no_shows": pl.Int64(),
        "predicted_rate": pl.Float64(),
        "observed_rate": pl.Float64(),
    }
)


def monitoring_table(
    scores: pl.DataFrame | pl.LazyFrame, appointments: pl.DataFrame | pl.LazyFrame
) -> pl.DataFrame:
    """Predicted vs observed no-show rate by week of visit, for scored visits whose outcome is known.

    Pure: ``scores`` (score_run_id, appointment_id, risk) and ``appointments`` (appointment_id,
    scheduled_start, status) in, one row per week out. Uses each appointment's latest score; cancelled
    visits are left out (the risk is P(no-show | not cancelled)). Columns: week, n, no_shows,
    predicted_rate, observed_rate.
    """
    latest = scores.lazy().sort("score_run_id").group_by("appointment_id").agg(pl.col("risk").last())
    appts = appointments.lazy().select("appointment_id", "scheduled_start", "status")
    return (
        latest.join(appts, on="appointment_id", how="inner")
        .filter(pl.col("status").is_in(["completed", "no_show", "left_without_being_seen"]))
        .group_by(pl.col("scheduled_start").dt.truncate("1w").dt.date().alias("week"))
        .agg(
            pl.len().cast(pl.Int64).alias("n"),
            (pl.col("status") == "no_show").sum().cast(pl.Int64).alias("no_shows"),
            pl.col("risk").mean().alias("predicted_rate"),
            (pl.col("status") == "no_show").mean().alias("observed_rate"),
        )
        .sort("week")
        .collect()
        .cast(_MONITORING_SCHEMA)
    )


def monitoring_frame(engine: sa.Engine) -> pl.DataFrame:
    """:func:`monitoring_table` on the warehouse's scores and appointments."""
    from carepulse.warehouse import read_table

    scores = read_table(engine, "risk_scores", columns=["score_run_id", "appointment_id", "risk"])
    if scores.is_empty():
        return pl.DataFrame(schema=_MONITORING_SCHEMA)
    appts = read_table(engine, "appointments", columns=["appointment_id", "scheduled_start", "status"])
    return monitoring_table(scores, appts)


def subgroup_calibration(engine: sa.Engine) -> pl.DataFrame:
    """Calibration by subgroup of the current model, as measured on its test window."""
    mv = registry.current_version(engine)
    return pl.DataFrame(mv.metrics.get("subgroups", []), infer_schema_length=None)


__all__ = ["monitoring_frame", "monitoring_table", "subgroup_calibration"]
