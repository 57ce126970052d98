"""Generate a whole synthetic health system: every extract of the contract plus the truth files.

Patients are simulated in chunks (50,000 at a time) with vectorised numpy; each chunk's rows are
appended to the CSV files, so memory stays flat whatever the population. A chunk holds everything
about its patients (visits, stays, referrals, claims, surveys); identifiers are numbered globally.
The same (patients, months, seed, as_of) always gives the same bytes.
"""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from carepulse.contract import APPOINTMENT_STATUSES, CANCELLED_BY, MODALITIES, REMINDERS, VISIT_TYPES
from carepulse.errors import CarePulseError
from carepulse.pipelines.synthetic import (
    attendance,
    claims,
    encounters,
    flow,
    population,
    referrals,
    scheduling,
    surveys,
)
from carepulse.pipelines.synthetic._progress import Callback, reporter
from carepulse.pipelines.synthetic._util import (
    Window,
    concat,
    datetime_series,
    epoch_day,
    id_series,
    label_series,
    lookup,
    rng_for,
    take,
)
from carepulse.pipelines.synthetic.reference import (
    DEPARTMENTS,
    Intervention,
    World,
    build_world,
    planted_interventions,
)
from carepulse.pipelines.synthetic.slots import slots_frame
from carepulse.pipelines.synthetic.writer import ExtractWriter, TruthWriter

CHUNK_PATIENTS = 50_000
STATUS = attendance.STATUS


@dataclass
class GenerationSummary:
    """What was written: rows per extract and the headline attendance figures."""

    out_dir: Path
    rows: dict[str, int]
    visits_due: int = 0  # past, not cancelled
    no_shows: int = 0
    cancelled: int = 0
    seconds: float = 0.0
    interventions: list[dict[str, Any]] = field(default_factory=list)

    @property
    def no_show_rate(self) -> float:
        """No-shows / past non-cancelled visits (MGMA / IHI style)."""
        return self.no_shows / self.visits_due if self.visits_due else float("nan")


@dataclass
class _Numbers:
    """Next free number of each identifier (global across chunks)."""

    appointment: int = 1
    referral: int = 1
    claim: int = 1
    survey: int = 1
    encounter: int = 1


def generate_health_system(
    out_dir: str | Path,
    *,
    patients: int,
    months: int,
    seed: int,
    as_of: dt.date,
    progress: bool | Callback | None = None,
) -> GenerationSummary:
    """Write ``<extract>.csv`` for every extract in the contract, and ``truth/`` beside them.

    Parameters
    ----------
    out_dir : folder to write into (created; existing extract files are replaced).
    patients : number of patients (about 7.5 appointments each over 24 months).
    months : months of history ending at ``as_of``; appointments are also booked ~30 days past it.
    seed : random seed; same arguments, same bytes.
    as_of : the extract date: visits up to the end of this day have final states.
    progress : None/False (silent), True (rich progress bars) or a callable(stage, done, total).

    Returns
    -------
    GenerationSummary with rows per extract and the overall no-show rate.
    """
    if patients < 1:
        raise CarePulseError("--patients must be at least 1")
    if months < 1:
        raise CarePulseError("--months must be at least 1")
    started = time.perf_counter()
    out_dir = Path(out_dir)
    window = Window(as_of=as_of, months=months)
    world = build_world(patients, seed)
    interventions = planted_interventions(window)
    writer = ExtractWriter(out_dir)
    truth = TruthWriter(out_dir)
    summary = GenerationSummary(out_dir=out_dir, rows=writer.rows)
    numbers = _Numbers()
    chunks = range(0, patients, CHUNK_PATIENTS)
    with reporter(progress) as report:
        report("Departments, providers, slots", 0, 1)
        writer.write("departments", world.departments)
        writer.write("providers", world.providers)
        writer.write("slots", slots_frame(world, window, seed, patients))
        report("Departments, providers, slots", 1, 1)
        report("Patients and their care", 0, patients)
        for chunk, first in enumerate(chunks):
            n = min(CHUNK_PATIENTS, patients - first)
            frames = _simulate_chunk(seed, chunk, first, n, window, world, interventions, numbers, summary)
            for name in ("patients", "referrals", "appointments", "claims", "surveys", "encounters"):
                writer.write(name, frames[name])
            truth.write(frames["truth"])
            report("Patients and their care", first + n, patients)
        writer.close()
        truth.write_interventions([i.as_json() for i in interventions])
        truth.close()
    summary.seconds = time.perf_counter() - started
    summary.interventions = [i.as_json() for i in interventions]
    return summary


def _simulate_chunk(
    seed: int,
    chunk: int,
    first: int,
    n: int,
    window: Window,
    world: World,
    interventions: tuple[Intervention, Intervention],
    numbers: _Numbers,
    summary: GenerationSummary,
) -> dict[str, pl.DataFrame]:
    sms, rooming = interventions
    patients_frame, traits = population.patients_chunk(seed, chunk, first, n, epoch_day(window.as_of))
    patient_ids = patients_frame["patient_id"]
    stays, follow_ups = encounters.encounters_chunk(rng_for(seed, chunk, "encounters"), traits, window, world)
    routine = scheduling.routine_requests(rng_for(seed, chunk, "scheduling"), traits, window, world)

    first_pass = attendance.resolve_attendance(
        rng_for(seed, chunk, "attendance"), concat([routine, follow_ups]), traits, window, sms
    )
    first_pass = flow.resolve_flow(rng_for(seed, chunk, "flow"), first_pass, rooming)
    refs, ref_requests = referrals.referrals_chunk(
        rng_for(seed, chunk, "referrals"), first_pass, traits, window, world
    )
    earlier = attendance.earlier_no_shows(first_pass, ref_requests["pat"], ref_requests["scheduled_start"])
    second = attendance.resolve_attendance(
        rng_for(seed, chunk, "referral_attendance"), ref_requests, traits, window, sms, earlier
    )
    second = flow.resolve_flow(rng_for(seed, chunk, "referral_flow"), second, rooming)
    visits = concat([first_pass, second])
    second_rows = len(first_pass["pat"]) + np.arange(len(second["pat"]))
    refs = referrals.close_referrals(
        rng_for(seed, chunk, "referral_visits"), refs, visits, second_rows, window
    )
    claim_cols = claims.claims_chunk(rng_for(seed, chunk, "claims"), visits, traits, window)
    survey_cols = surveys.surveys_chunk(rng_for(seed, chunk, "surveys"), visits, traits, window)

    # Appointment ids follow (patient, scheduled start); rank maps a visit row to its id number.
    order = np.lexsort((visits["scheduled_start"], visits["pat"]))
    rank = np.empty_like(order)
    rank[order] = np.arange(len(order))
    appt_numbers = numbers.appointment + rank
    ref_numbers = numbers.referral + np.arange(len(refs["pat"]))
    appointment_ids = id_series("appointment_id", "A", numbers.appointment + np.arange(len(order)), 10)

    ordered = take(visits, order)
    ref_of_visit = lookup(ref_numbers, ordered["referral"])
    appointments_frame = _appointments_frame(ordered, appointment_ids, ref_of_visit, patient_ids, world)
    ref_appt = lookup(appt_numbers, refs["appointment"])
    frames = {
        "patients": patients_frame,
        "appointments": appointments_frame,
        "referrals": referrals.referrals_frame(
            refs, ref_numbers, patient_ids, world.providers["provider_id"], ref_appt
        ),
        "claims": claims.claims_frame(
            claim_cols,
            numbers.claim + np.arange(len(claim_cols["pat"])),
            appointment_ids.gather(rank),
            patient_ids,
        ),
        "surveys": surveys.surveys_frame(
            survey_cols,
            numbers.survey + np.arange(len(survey_cols["appointment"])),
            appointment_ids.gather(rank),
        ),
        "encounters": encounters.encounters_frame(stays, patient_ids, numbers.encounter),
        "truth": pl.DataFrame([appointment_ids, pl.Series("p_no_show", ordered["p_no_show"])]),
    }
    numbers.appointment += len(order)
    numbers.referral += len(refs["pat"])
    numbers.claim += len(claim_cols["pat"])
    numbers.survey += len(survey_cols["appointment"])
    numbers.encounter += len(stays["pat"])

    status = visits["status"]
    summary.no_shows += int((status == STATUS["no_show"]).sum())
    summary.visits_due += int(
        np.isin(status, [STATUS["no_show"], STATUS["completed"], STATUS["left_without_being_seen"]]).sum()
    )
    summary.cancelled += int((status == STATUS["cancelled"]).sum())
    return frames


def _appointments_frame(
    v: dict[str, Any],
    appointment_ids: pl.Series,
    referral_numbers: np.ndarray,
    patient_ids: pl.Series,
    world: World,
) -> pl.DataFrame:
    return pl.DataFrame(
        [
            appointment_ids,
            patient_ids.gather(v["pat"]).alias("patient_id"),
            label_series("department_id", [d.department_id for d in DEPARTMENTS], v["dept"]),
            world.providers["provider_id"].gather(v["provider"]),
            label_series("visit_type", VISIT_TYPES, v["visit_type"]),
            label_series("modality", MODALITIES, v["modality"]),
            datetime_series("booked_at", v["booked_at"]),
            datetime_series("scheduled_start", v["scheduled_start"]),
            pl.Series("duration_min", v["duration"], dtype=pl.Int64),
            label_series("status", APPOINTMENT_STATUSES, v["status"]),
            datetime_series("cancelled_at", v["cancelled_at"]),
            label_series("cancel_reason", attendance.REASON_LABELS, v["cancel_reason"]),
            label_series("cancelled_by", CANCELLED_BY, v["cancelled_by"]),
            label_series("reminder", REMINDERS, v["reminder"]),
            pl.Series("insurance_verified", v["insurance_verified"]),
            datetime_series("checkin_at", v["checkin_at"]),
            datetime_series("roomed_at", v["roomed_at"]),
            datetime_series("provider_start_at", v["provider_start_at"]),
            datetime_series("checkout_at", v["checkout_at"]),
            id_series("referral_id", "R", referral_numbers, 9),
        ]
    )
