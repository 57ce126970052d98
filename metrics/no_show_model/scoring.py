"""Score upcoming appointments into ``score_runs`` / ``risk_scores`` (monitoring them afterwards: :mod:`.monitoring`).

A run scores every still-scheduled appointment starting within ``days`` of ``as_of``. It replaces the
previous run for appointments nobody has worked yet (no row in ``outreach_outcomes``): their older
rows lose ``is_current``. A worked appointment keeps the row the coordinator acted on as current;
the new score is stored as history. Nothing is deleted.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import polars as pl
import sqlalchemy as sa

from carepulse import schema
from carepulse.metrics.no_show_model import registry
from carepulse.metrics.no_show_model.actions import suggested_actions
from carepulse.metrics.no_show_model.features import appointment_features
from carepulse.metrics.no_show_model.pipeline import calibrated_risk, inner_pipeline, to_model_input
from carepulse.metrics.no_show_model.reasons import (
    eligible_groups,
    reason_contributions,
    reason_texts,
    top_reasons,
    walk,
)
from carepulse.settings import Settings

RISK_SCORE_COLUMNS = (
    "appointment_id",
    "risk",
    "risk_band",
    "reason_1",
    "reason_2",
    "reason_3",
    "suggested_action",
    "expected_benefit",
    "rank",
)


def upcoming_targets(appointments: pl.DataFrame, as_of: dt.datetime, days: int) -> pl.DataFrame:
    """Scheduled appointments starting in [as_of, as_of + days), each scored as of ``as_of``."""
    return (
        appointments.filter(
            (pl.col("status") == "scheduled")
            & (pl.col("scheduled_start") >= as_of)
            & (pl.col("scheduled_start") < as_of + dt.timedelta(days=days))
            & (pl.col("booked_at") <= as_of)
        )
        .sort("scheduled_start", "appointment_id")
        .select("appointment_id", pl.lit(as_of, pl.Datetime("us")).alias("as_of"))
    )


def risk_band(risk: pl.Expr, thresholds: list[float]) -> pl.Expr:
    high, medium = thresholds
    return (
        pl.when(risk >= high)
        .then(pl.lit("high"))
        .when(risk >= medium)
        .then(pl.lit("medium"))
        .otherwise(pl.lit("low"))
    )


def score_frame(
    artifact: dict[str, Any],
    frames: dict[str, pl.DataFrame],
    as_of: dt.datetime,
    days: int,
    *,
    timings: dict[str, Any] | None = None,
) -> pl.DataFrame:
    """Pure scoring: risk, band, three reasons, action, expected benefit and rank per upcoming visit.

    ``timings``, when given, receives ``(wall, cpu)`` seconds per stage (for ``bench/model.py``).
    """
    clock = _Clock(timings)
    targets = upcoming_targets(frames["appointments"], as_of, days)
    feats = appointment_features(
        targets,
        frames["appointments"],
        frames["patients"],
        frames.get("referrals"),
        centre_zip=artifact["centre_zip"],
    )
    clock("features")
    if feats.is_empty():
        return pl.DataFrame(
            schema={
                c: (
                    pl.Float64
                    if c in ("risk", "expected_benefit")
                    else pl.Int64
                    if c == "rank"
                    else pl.String
                )
                for c in RISK_SCORE_COLUMNS
            }
        )
    x = to_model_input(feats)
    inner = inner_pipeline(artifact["model"])
    walked = walk(inner, x)  # encoded and walked through the trees once: the risk and every ablation reuse it
    risk = calibrated_risk(artifact["model"], walked.log_odds)
    clock("encode, walk trees, risk")
    texts = reason_texts(feats)
    eligible = eligible_groups(feats, texts, artifact["reference"])
    contributions = reason_contributions(inner, x, artifact["reference"], eligible=eligible, walked=walked)
    clock("reason contributions")
    reasons = top_reasons(feats, contributions, texts=texts)
    scored = pl.concat(
        [feats.select("appointment_id", "modality", "visit_type"), pl.DataFrame({"risk": risk}), reasons],
        how="horizontal",
    )
    scored = pl.concat([scored, suggested_actions(scored)], how="horizontal")
    out = scored.with_columns(
        risk_band(pl.col("risk"), artifact["band_thresholds"]).alias("risk_band"),
        pl.col("expected_benefit").rank("ordinal", descending=True).cast(pl.Int64).alias("rank"),
    ).select(RISK_SCORE_COLUMNS)
    clock("words, actions, rank")
    return out


class _Clock:
    """Records wall and CPU seconds since the previous call under a stage name (no-op without a dict)."""

    def __init__(self, timings: dict[str, Any] | None):
        import time

        self._wall, self._cpu, self._timings = time.perf_counter, time.process_time, timings
        self._last = (self._wall(), self._cpu())

    def __call__(self, stage: str) -> None:
        if self._timings is not None:
            now = (self._wall(), self._cpu())
            self._timings[stage] = (now[0] - self._last[0], now[1] - self._last[1])
            self._last = now


def write_scores(
    engine: sa.Engine,
    scored: pl.DataFrame,
    *,
    model_version: str,
    as_of: dt.datetime,
    days: int,
    scored_at: dt.datetime,
) -> int:
    """Record a scoring run (one transaction); returns its ``score_run_id``."""
    rs, oo = schema.risk_scores, schema.outreach_outcomes
    with engine.begin() as conn:
        run_key = conn.execute(
            schema.score_runs.insert().values(
                model_version=model_version,
                scored_at=scored_at,
                as_of=as_of,
                horizon_days=days,
                n_scored=scored.height,
            )
        ).inserted_primary_key
        assert run_key is not None  # an INSERT reports its key
        run_id = run_key[0]
        worked = sa.select(oo.c.appointment_id)
        # The new run replaces the previous one for every appointment not yet worked.
        conn.execute(
            rs.update()
            .where(rs.c.is_current == sa.true(), rs.c.appointment_id.not_in(worked))
            .values(is_current=False)
        )
        worked_ids = {r[0] for r in conn.execute(sa.select(oo.c.appointment_id).distinct())}
        still_current = {
            r[0]
            for r in conn.execute(
                sa.select(rs.c.appointment_id).where(rs.c.is_current == sa.true()).distinct()
            )
        }
        rows = scored.with_columns(
            pl.lit(run_id, pl.Int64).alias("score_run_id"),
            pl.lit(model_version).alias("model_version"),
            ~(
                pl.col("appointment_id").is_in(list(worked_ids))
                & pl.col("appointment_id").is_in(list(still_current))
            ).alias("is_current"),
        ).to_dicts()
        if rows:
            conn.execute(rs.insert(), rows)
    return int(run_id)


def score_upcoming(
    engine: sa.Engine,
    settings: Settings,
    as_of: dt.datetime | None = None,
    days: int | None = None,
    *,
    frames: dict[str, pl.DataFrame] | None = None,
) -> int:
    """Score every scheduled appointment in the next ``days`` (default ``settings.scoring_horizon_days``)
    with the current model; returns the new ``score_run_id``. ``as_of`` defaults to the data horizon
    (the extract's latest booking, never after now)."""
    from carepulse.metrics.no_show_model.training import data_horizon, local_now, model_frames

    days = days or settings.scoring_horizon_days
    mv = registry.load_current(engine, settings)
    assert mv.artifact is not None  # load_current loads it
    frames = frames or model_frames(engine)
    as_of = as_of or data_horizon(frames["appointments"], settings)
    scored = score_frame(mv.artifact, frames, as_of, days)
    return write_scores(
        engine, scored, model_version=mv.version, as_of=as_of, days=days, scored_at=local_now(settings)
    )


def current_scores(engine: sa.Engine) -> pl.DataFrame:
    """The worklist's rows: every current score, best expected benefit first."""
    from carepulse.warehouse import read_table

    return read_table(engine, "risk_scores", where="is_current").sort("rank")


__all__ = ["current_scores", "score_frame", "score_upcoming", "write_scores"]
