"""The coordinators' no-show worklist, as pure Polars: scores + appointments + outreach -> ranked rows.

Inputs are frames (read by :mod:`carepulse.records.outreach`, or hand-built in tests); nothing here opens a
connection. The list holds upcoming, still-scheduled appointments with a current score, ranked by
expected benefit (no-shows averted per call), then risk, then the earlier visit. A row is *worked*
once any outreach outcome is recorded for its appointment; worked rows leave the queue (the
``not_yet_worked`` filter, on by default). A patient's latest outcome on another appointment is
carried to the rows of their upcoming visits ("last outreach"), so the next caller knows what
happened last time.

Minimum necessary: rows are always restricted to the caller's departments before anything else,
and patient names and contact details are joined only when ``include_contact=True``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection
from dataclasses import dataclass

import polars as pl

from carepulse.metrics._context import MetricError

#: Risk bands in display order (the model writes them in ``risk_scores.risk_band``).
RISK_BANDS: tuple[str, ...] = ("high", "medium", "low")

#: The worklist's columns, in display order (contact columns only with ``include_contact``).
COLUMNS: tuple[str, ...] = (
    "rank",
    "appointment_id",
    "scheduled_start",
    "department_id",
    "department",
    "provider_id",
    "provider",
    "visit_type",
    "modality",
    "risk",
    "risk_pct",
    "risk_band",
    "reasons",
    "reason_1",
    "reason_2",
    "reason_3",
    "suggested_action",
    "expected_benefit",
    "score_run_id",
    "assigned_to",
    "worked",
    "outcome",
    "outcome_at",
    "outcome_by",
    "last_outcome",
    "last_outcome_at",
    "patient_id",
)
CONTACT_COLUMNS: tuple[str, ...] = ("patient_name", "mrn", "phone", "email")

_OUTCOME_SCHEMA: dict[str, pl.DataType] = {
    "appointment_id": pl.String(),
    "patient_id": pl.String(),
    "outcome": pl.String(),
    "recorded_by": pl.String(),
    "recorded_at": pl.Datetime("us"),
}


@dataclass(frozen=True)
class WorklistFilters:
    """What the coordinator asked to see. Empty tuples mean "all"; dates are inclusive visit days."""

    start: dt.date | None = None
    end: dt.date | None = None
    departments: tuple[str, ...] = ()
    providers: tuple[str, ...] = ()
    risk_bands: tuple[str, ...] = ()
    not_yet_worked: bool = True
    assigned_to: str | None = None  # "my list": only rows assigned to this username

    def describe(self) -> dict[str, object]:
        """The filters as a small dict of ids and dates (for the audit detail; no PHI)."""
        return {
            "start": self.start.isoformat() if self.start else None,
            "end": self.end.isoformat() if self.end else None,
            "departments": list(self.departments),
            "providers": list(self.providers),
            "risk_bands": list(self.risk_bands),
            "not_yet_worked": self.not_yet_worked,
            "my_list": self.assigned_to is not None,
        }


def _require(frame: pl.DataFrame | pl.LazyFrame, name: str, columns: Collection[str]) -> pl.LazyFrame:
    lazy = frame.lazy()
    have = lazy.collect_schema().names()
    missing = [c for c in columns if c not in have]
    if missing:
        raise MetricError(f"worklist: frame {name!r} lacks column(s) {', '.join(missing)}")
    return lazy


def current_scores(risk_scores: pl.DataFrame | pl.LazyFrame) -> pl.LazyFrame:
    """One current score per appointment (the latest run's if a run was ever left current twice)."""
    scores = _require(risk_scores, "risk_scores", ("score_run_id", "appointment_id", "risk", "is_current"))
    return (
        scores.filter(pl.col("is_current"))
        .sort("score_run_id")
        .group_by("appointment_id")
        .agg(pl.all().last())
    )


def _in_recorded_order(outcomes: pl.DataFrame | pl.LazyFrame) -> pl.LazyFrame:
    """Outcome rows oldest first (ties broken by the row id when present), checked for columns."""
    lazy = _require(outcomes, "outreach_outcomes", tuple(_OUTCOME_SCHEMA))
    order = [c for c in ("recorded_at", "outreach_id") if c in lazy.collect_schema().names()]
    return lazy.sort(order)


def latest_outcome_per_appointment(outcomes: pl.DataFrame | pl.LazyFrame) -> pl.LazyFrame:
    """The last outcome recorded for each appointment: appointment_id, patient_id, outcome,
    recorded_by, recorded_at (and any other column of ``outcomes``)."""
    return _in_recorded_order(outcomes).group_by("appointment_id").agg(pl.all().last())


def latest_outcome_per_patient(outcomes: pl.DataFrame | pl.LazyFrame) -> pl.LazyFrame:
    """The last outcome recorded for each patient, on whichever appointment: patient_id,
    appointment_id, outcome, recorded_by, recorded_at."""
    return _in_recorded_order(outcomes).group_by("patient_id").agg(pl.all().last())


def _last_outcome_elsewhere(outcomes: pl.LazyFrame, rows: pl.LazyFrame) -> pl.LazyFrame:
    """For each (patient, appointment) row: the patient's latest outcome on another appointment."""
    earlier = _in_recorded_order(outcomes).select(
        "patient_id", pl.col("appointment_id").alias("_other"), "outcome", "recorded_at"
    )
    return (
        rows.select("appointment_id", "patient_id")
        .join(earlier, on="patient_id", how="inner", maintain_order="right")
        .filter(pl.col("_other") != pl.col("appointment_id"))
        .group_by("appointment_id")
        .agg(
            pl.col("outcome").last().alias("last_outcome"),
            pl.col("recorded_at").last().alias("last_outcome_at"),
        )
    )


def _empty_outcomes() -> pl.LazyFrame:
    return pl.DataFrame(schema=_OUTCOME_SCHEMA).lazy()


def build_worklist(
    scores: pl.DataFrame | pl.LazyFrame,
    appointments: pl.DataFrame | pl.LazyFrame,
    departments: pl.DataFrame | pl.LazyFrame,
    providers: pl.DataFrame | pl.LazyFrame,
    *,
    allowed_departments: Collection[str] | None,
    outcomes: pl.DataFrame | pl.LazyFrame | None = None,
    assignments: pl.DataFrame | pl.LazyFrame | None = None,
    patients: pl.DataFrame | pl.LazyFrame | None = None,
    filters: WorklistFilters = WorklistFilters(),
    today: dt.date | dt.datetime | None = None,
    include_contact: bool = False,
) -> pl.DataFrame:
    """The ranked worklist (one row per upcoming appointment), with :data:`COLUMNS`.

    Parameters
    ----------
    scores : risk_scores rows (``is_current`` ones are used).
    appointments, departments, providers : warehouse extracts (appointments need appointment_id,
        patient_id, department_id, provider_id, visit_type, modality, scheduled_start, status).
    allowed_departments : the caller's departments; rows elsewhere are dropped first. ``None`` means
        unrestricted (only for callers that never show contact details); an empty collection
        yields an empty list.
    outcomes, assignments : outreach_outcomes and worklist_assignments rows (None: none yet).
    patients : needed only with ``include_contact`` (patient_id, first_name, last_name, mrn, phone, email).
    filters : date range, departments, providers, risk bands, not-yet-worked, my list.
    today : visits before this moment are not upcoming (default: no lower bound).
    include_contact : add :data:`CONTACT_COLUMNS`; never set it for a role without ``view:phi``.

    Returns
    -------
    DataFrame ranked 1..n by expected benefit (desc), then risk (desc), then visit time.
    """
    current = current_scores(scores)
    appts = _require(
        appointments,
        "appointments",
        (
            "appointment_id",
            "patient_id",
            "department_id",
            "provider_id",
            "visit_type",
            "modality",
            "scheduled_start",
            "status",
        ),
    ).select(
        "appointment_id",
        "patient_id",
        "department_id",
        "provider_id",
        "visit_type",
        "modality",
        "scheduled_start",
        "status",
    )
    if allowed_departments is not None:
        appts = appts.filter(pl.col("department_id").is_in(list(allowed_departments)))
    appts = appts.filter(pl.col("status") == "scheduled")
    if today is not None:
        start = today if isinstance(today, dt.datetime) else dt.datetime.combine(today, dt.time())
        appts = appts.filter(pl.col("scheduled_start") >= start)
    rows = current.drop("rank", "is_current", strict=False).join(appts, on="appointment_id", how="inner")

    outcome_rows = (
        _empty_outcomes()
        if outcomes is None
        else _require(outcomes, "outreach_outcomes", tuple(_OUTCOME_SCHEMA))
    )
    per_appointment = latest_outcome_per_appointment(outcome_rows).select(
        "appointment_id",
        pl.col("outcome"),
        pl.col("recorded_at").alias("outcome_at"),
        pl.col("recorded_by").alias("outcome_by"),
    )
    rows = rows.join(per_appointment, on="appointment_id", how="left")
    rows = rows.join(_last_outcome_elsewhere(outcome_rows, rows), on="appointment_id", how="left")

    if assignments is None:
        assigned = pl.DataFrame(schema={"appointment_id": pl.String, "assigned_to": pl.String}).lazy()
    else:
        assigned = _require(assignments, "worklist_assignments", ("appointment_id", "assigned_to")).select(
            "appointment_id", "assigned_to"
        )
    rows = rows.join(assigned, on="appointment_id", how="left")

    dept_names = _require(departments, "departments", ("department_id", "name")).select(
        "department_id", pl.col("name").alias("department")
    )
    prov_names = _require(providers, "providers", ("provider_id", "name")).select(
        "provider_id", pl.col("name").alias("provider")
    )
    rows = rows.join(dept_names, on="department_id", how="left").join(
        prov_names, on="provider_id", how="left"
    )

    schema_names = rows.collect_schema().names()
    missing_scores = [
        c
        for c in ("risk_band", "reason_1", "reason_2", "reason_3", "suggested_action", "expected_benefit")
        if c not in schema_names
    ]
    if missing_scores:
        raise MetricError(f"worklist: frame 'risk_scores' lacks column(s) {', '.join(missing_scores)}")

    rows = rows.with_columns(
        pl.col("outcome").is_not_null().alias("worked"),
        (pl.col("risk") * 100).round(1).alias("risk_pct"),
        pl.concat_str(
            [pl.col("reason_1"), pl.col("reason_2"), pl.col("reason_3")], separator="; ", ignore_nulls=True
        ).alias("reasons"),
        pl.col("score_run_id").cast(pl.Int64),
    )
    rows = _apply_filters(rows, filters)
    rows = (
        rows.sort(
            ["expected_benefit", "risk", "scheduled_start", "appointment_id"],
            descending=[True, True, False, False],
            nulls_last=True,
        )
        .with_row_index("rank", offset=1)
        .with_columns(pl.col("rank").cast(pl.Int64))
    )
    out = rows.select(COLUMNS).collect()
    if include_contact:
        if patients is None:
            raise MetricError("worklist: include_contact needs the patients frame")
        out = with_contact(out, patients)
    return out


def with_contact(worklist: pl.DataFrame, patients: pl.DataFrame | pl.LazyFrame) -> pl.DataFrame:
    """``worklist`` with :data:`CONTACT_COLUMNS` after the appointment id (PHI: only for ``view:phi``).

    ``patients`` needs patient_id, first_name, last_name, mrn, phone, email; it may hold only the
    worklist's patients (the reader fetches no one else).
    """
    contact = _require(
        patients, "patients", ("patient_id", "first_name", "last_name", "mrn", "phone", "email")
    )
    contact = contact.select(
        "patient_id",
        pl.concat_str([pl.col("first_name"), pl.col("last_name")], separator=" ", ignore_nulls=True).alias(
            "patient_name"
        ),
        "mrn",
        "phone",
        "email",
    ).unique("patient_id", keep="first")
    rest = [c for c in worklist.columns if c not in ("rank", "appointment_id", *CONTACT_COLUMNS)]
    return (
        worklist.drop(CONTACT_COLUMNS, strict=False)
        .lazy()
        .join(contact, on="patient_id", how="left", maintain_order="left")
        .select("rank", "appointment_id", *CONTACT_COLUMNS, *rest)
        .collect()
    )


def _apply_filters(rows: pl.LazyFrame, filters: WorklistFilters) -> pl.LazyFrame:
    if filters.start is not None:
        rows = rows.filter(pl.col("scheduled_start") >= dt.datetime.combine(filters.start, dt.time()))
    if filters.end is not None:
        rows = rows.filter(
            pl.col("scheduled_start") < dt.datetime.combine(filters.end + dt.timedelta(days=1), dt.time())
        )
    if filters.departments:
        rows = rows.filter(pl.col("department_id").is_in(list(filters.departments)))
    if filters.providers:
        rows = rows.filter(pl.col("provider_id").is_in(list(filters.providers)))
    if filters.risk_bands:
        rows = rows.filter(pl.col("risk_band").is_in(list(filters.risk_bands)))
    if filters.not_yet_worked:
        rows = rows.filter(~pl.col("worked"))
    if filters.assigned_to is not None:
        rows = rows.filter(pl.col("assigned_to") == filters.assigned_to)
    return rows


def worklist_counts(worklist: pl.DataFrame) -> dict[str, int]:
    """Headline counts of a worklist frame: rows, high-risk rows, worked rows, assigned rows."""
    if worklist.is_empty():
        return {"rows": 0, "high": 0, "worked": 0, "assigned": 0}
    return {
        "rows": worklist.height,
        "high": int((worklist.get_column("risk_band") == "high").sum()),
        "worked": int(worklist.get_column("worked").sum()),
        "assigned": int(worklist.get_column("assigned_to").is_not_null().sum()),
    }


__all__ = [
    "COLUMNS",
    "CONTACT_COLUMNS",
    "RISK_BANDS",
    "WorklistFilters",
    "build_worklist",
    "current_scores",
    "latest_outcome_per_appointment",
    "latest_outcome_per_patient",
    "with_contact",
    "worklist_counts",
]
