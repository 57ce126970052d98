"""The coordinator's day on top of the ranked worklist: a retry queue, today's counts, the sidebar's
filters, and the patient's earlier outreach.

A row whose latest outcome is "no answer" (or "left message") is not finished: it comes back the
next day as "retry due" (tried today: "retry tomorrow", out of today's queue). Any other outcome
finishes the row ("done"). Pure functions on the frames :func:`carepulse.metrics.worklist.build_worklist`
returns (built with ``not_yet_worked=False``) and the outreach outcomes.
"""

from __future__ import annotations

import datetime as dt

import polars as pl

#: Outcomes after which the patient is tried again the next day.
RETRY_OUTCOMES: tuple[str, ...] = ("no_answer", "left_message")

#: Queue states, in the order the day works them.
QUEUE_STATES: dict[str, str] = {
    "retry_due": "Retry due",
    "to_call": "To call",
    "retry_tomorrow": "Retry tomorrow",
    "done": "Done",
}


def with_queue(worklist: pl.DataFrame, today: dt.date) -> pl.DataFrame:
    """``worklist`` with ``queue`` (a :data:`QUEUE_STATES` key) from each row's latest outcome
    (``outcome``, ``outcome_at``)."""
    tried_today = pl.col("outcome_at").dt.date() >= today
    queue = (
        pl.when(pl.col("outcome").is_null())
        .then(pl.lit("to_call"))
        .when(pl.col("outcome").is_in(list(RETRY_OUTCOMES)) & tried_today)
        .then(pl.lit("retry_tomorrow"))
        .when(pl.col("outcome").is_in(list(RETRY_OUTCOMES)))
        .then(pl.lit("retry_due"))
        .otherwise(pl.lit("done"))
    )
    return worklist.with_columns(queue.alias("queue"))


def todays_queue(worklist: pl.DataFrame) -> pl.DataFrame:
    """The rows left to work today: retries due first, then new rows, each in rank order."""
    order = {"retry_due": 0, "to_call": 1}
    return (
        worklist.filter(pl.col("queue").is_in(list(order)))
        .with_columns(pl.col("queue").replace_strict(order, return_dtype=pl.Int8).alias("_order"))
        .sort("_order", "rank")
        .drop("_order")
    )


def day_counts(
    worklist: pl.DataFrame, outcomes: pl.DataFrame, today: dt.date, username: str
) -> dict[str, int]:
    """Done today (by anyone in this view, and by ``username``), and left today (retries due + to call)."""
    ids = worklist.get_column("appointment_id") if not worklist.is_empty() else pl.Series([], dtype=pl.String)
    today_rows = outcomes.filter(
        (pl.col("recorded_at").dt.date() == today) & pl.col("appointment_id").is_in(ids.to_list())
    )
    left = (
        worklist.filter(pl.col("queue").is_in(["retry_due", "to_call"]))
        if not worklist.is_empty()
        else worklist
    )
    return {
        "done_today": today_rows.get_column("appointment_id").n_unique(),
        "done_today_by_me": today_rows.filter(pl.col("recorded_by") == username)
        .get_column("appointment_id")
        .n_unique(),
        "left_today": left.height,
        "retry_due": int((worklist.get_column("queue") == "retry_due").sum())
        if not worklist.is_empty()
        else 0,
    }


def honour_sidebar(
    allowed: tuple[str, ...],
    *,
    departments: tuple[str, ...],
    sites: tuple[str, ...],
    department_sites: dict[str, str],
) -> tuple[str, ...]:
    """The coordinator's departments narrowed by the sidebar's department and site choices (both
    empty: all of ``allowed``; a choice outside ``allowed`` never widens it)."""
    chosen = [d for d in allowed if (not departments or d in departments)]
    if sites:
        chosen = [d for d in chosen if department_sites.get(d) in sites]
    return tuple(chosen)


def patient_history(outcomes: pl.DataFrame, patient_id: str, *, limit: int = 20) -> pl.DataFrame:
    """The patient's earlier outreach, newest first: when, outcome, by whom, note (notes are free text
    and may name the patient: only for roles that see patients)."""
    columns = [
        c
        for c in ("recorded_at", "outcome", "recorded_by", "note", "appointment_id")
        if c in outcomes.columns
    ]
    return (
        outcomes.filter(pl.col("patient_id") == patient_id)
        .sort("recorded_at", descending=True)
        .select(columns)
        .head(limit)
    )


__all__ = [
    "QUEUE_STATES",
    "RETRY_OUTCOMES",
    "day_counts",
    "honour_sidebar",
    "patient_history",
    "todays_queue",
    "with_queue",
]
