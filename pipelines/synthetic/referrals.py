"""Referrals from primary care to specialists, and the specialist visits booked for them.

About 12% of completed primary-care visits end in a referral. Some are sent out of network
(``target_department_id`` null; two specialties exist only outside), some are never scheduled, some
wait for prior authorization (scheduling only after the decision), and busy specialties take longer
to book. A consult report comes back for only part of the completed referrals (CMS50 loop closure).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import polars as pl

from carepulse.contract import PRIOR_AUTH_STATUSES, PRIORITIES, REFERRAL_STATUSES
from carepulse.pipelines.synthetic._util import (
    DAY,
    HOUR,
    MINUTE,
    NA,
    Window,
    choice,
    datetime_series,
    id_series,
    label_series,
)
from carepulse.pipelines.synthetic.attendance import STATUS
from carepulse.pipelines.synthetic.reference import (
    DEPARTMENTS,
    DEPT_INDEX,
    REFERRAL_SPECIALTIES,
    World,
    dept_array,
)
from carepulse.pipelines.synthetic.scheduling import VT, durations, lead_days_for, pick_providers, visit_times

REFERRAL_RATE = 0.12
OUT_OF_NETWORK_SHARE = 0.12
NEVER_SCHEDULED_SHARE = 0.15
REPORT_SHARE = 0.65
RSTATUS = {name: i for i, name in enumerate(REFERRAL_STATUSES)}
AUTH = {name: i for i, name in enumerate(PRIOR_AUTH_STATUSES)}
_SPEC_DEPT = np.array([DEPT_INDEX[d] if d else -1 for _, d, _ in REFERRAL_SPECIALTIES])


def referrals_chunk(
    rng: np.random.Generator, appts: dict[str, Any], traits: dict[str, Any], window: Window, world: World
) -> tuple[dict[str, Any], dict[str, Any]]:
    """(referral columns, specialist appointment requests whose ``referral`` is the referral row)."""
    primary = np.array([d.primary_care for d in DEPARTMENTS])[appts["dept"]]
    source = np.flatnonzero(
        primary & (appts["status"] == STATUS["completed"]) & (rng.random(len(primary)) < REFERRAL_RATE)
    )
    created = appts["checkout_at"][source] + rng.integers(5, 180, len(source)) * MINUTE
    source, created = source[created < window.cutoff], created[created < window.cutoff]
    n = len(source)
    pat = appts["pat"][source]
    spec = choice(rng, n, [w for _, _, w in REFERRAL_SPECIALTIES])
    target = _SPEC_DEPT[spec]
    target = np.where(rng.random(n) < OUT_OF_NETWORK_SHARE, -1, target)
    urgent = rng.random(n) < 0.15

    auth_share = np.where(target >= 0, dept_array("prior_auth_share")[np.maximum(target, 0)], 0.2)
    auth_required = rng.random(n) < auth_share
    decided = created + (rng.gamma(2.0, 3.0, n) * DAY).astype(np.int64)
    decided = np.where(auth_required & (decided < window.cutoff), decided, NA)
    auth = np.where(
        ~auth_required, AUTH["not_required"], np.where(decided == NA, AUTH["pending"], AUTH["approved"])
    )
    auth = np.where((auth == AUTH["approved"]) & (rng.random(n) < 0.12), AUTH["denied"], auth)

    # Days to book: the specialty's backlog, shorter when urgent, after the prior-auth decision.
    backlog = np.where(target >= 0, dept_array("lead_scale")[np.maximum(target, 0)], 1.0)
    days = rng.gamma(1.5, 4.0 * backlog / 1.5, n) * np.where(urgent, 0.3, 1.0)
    scheduled = created + (days * DAY).astype(np.int64)
    scheduled = np.where(
        auth_required, np.maximum(scheduled, decided + rng.integers(2, 72, n) * HOUR), scheduled
    )
    never = rng.random(n) < NEVER_SCHEDULED_SHARE
    bookable = (target >= 0) & ~never & (auth != AUTH["denied"]) & (auth != AUTH["pending"])
    # The booking is entered during office hours the next working day.
    rows = np.flatnonzero(bookable)
    visit_type = np.full(len(rows), VT["new"])
    lead = np.maximum(lead_days_for(rng, visit_type, target[rows]) // 2, 1)
    booked, start = visit_times(rng, scheduled[rows] // DAY + 1, lead)
    in_time = booked < window.cutoff
    bookable[rows[~in_time]] = False
    rows, visit_type, booked, start = rows[in_time], visit_type[in_time], booked[in_time], start[in_time]
    scheduled = np.full(n, NA, dtype=np.int64)
    scheduled[rows] = booked

    # Out-of-network: completed elsewhere for some, with or without a report back.
    outside = target < 0
    outside_done = outside & (rng.random(n) < 0.55)
    outside_completed = created + (rng.gamma(2.0, 20.0, n) * DAY).astype(np.int64)
    outside_done &= outside_completed < window.cutoff
    status = np.full(n, RSTATUS["open"])
    stale = created < window.cutoff - 90 * DAY
    status = np.where(~outside & ~bookable & stale & (rng.random(n) < 0.5), RSTATUS["cancelled"], status)
    status = np.where(auth == AUTH["denied"], RSTATUS["declined"], status)
    status = np.where(outside_done, RSTATUS["completed"], status)
    completed = np.where(outside_done, outside_completed, NA)

    referrals = {
        "pat": pat,
        "referring_provider": appts["provider"][source],
        "specialty": spec,
        "target": target,
        "urgent": urgent,
        "created_at": created,
        "scheduled_at": scheduled,
        "appointment": np.full(n, -1, dtype=np.int64),
        "completed_at": completed,
        "report_received_at": np.full(n, NA, dtype=np.int64),
        "status": status,
        "auth_required": auth_required,
        "auth": auth,
        "auth_decided_at": decided,
    }
    rpat, dept = pat[rows], target[rows]
    requests = {
        "pat": rpat,
        "dept": dept,
        "provider": pick_providers(rng, traits["index"][rpat], dept, world),
        "visit_type": visit_type,
        "booked_at": booked,
        "scheduled_start": start,
        "duration": durations(visit_type, dept),
        "referral": rows,
    }
    return referrals, requests


def close_referrals(
    rng: np.random.Generator,
    referrals: dict[str, Any],
    visits: dict[str, Any],
    visit_rows: np.ndarray,
    window: Window,
) -> dict[str, Any]:
    """Carry each specialist visit's outcome back to its referral (``visit_rows`` index ``visits``)."""
    ref = visits["referral"][visit_rows]
    status = visits["status"][visit_rows]
    referrals["appointment"][ref] = visit_rows
    done = status == STATUS["completed"]
    new_status = np.where(
        done,
        RSTATUS["completed"],
        np.where(status == STATUS["scheduled"], RSTATUS["scheduled"], RSTATUS["open"]),
    )
    referrals["status"][ref] = new_status
    referrals["completed_at"][ref] = np.where(done, visits["checkout_at"][visit_rows], NA)

    completed = referrals["status"] == RSTATUS["completed"]
    report = referrals["completed_at"] + (rng.gamma(1.5, 3.0, len(completed)) * DAY).astype(np.int64)
    has_report = completed & (rng.random(len(completed)) < REPORT_SHARE) & (report < window.cutoff)
    referrals["report_received_at"] = np.where(has_report, report, NA)
    return referrals


def referrals_frame(
    referrals: dict[str, Any],
    numbers: np.ndarray,
    patient_ids: pl.Series,
    provider_ids: pl.Series,
    appointment_numbers: np.ndarray,
) -> pl.DataFrame:
    dept_ids = [d.department_id for d in DEPARTMENTS]
    return pl.DataFrame(
        [
            id_series("referral_id", "R", numbers, 9),
            patient_ids.gather(referrals["pat"]).alias("patient_id"),
            provider_ids.gather(referrals["referring_provider"]).alias("referring_provider_id"),
            label_series("specialty", [s for s, _, _ in REFERRAL_SPECIALTIES], referrals["specialty"]),
            label_series("target_department_id", dept_ids, referrals["target"]),
            label_series("priority", PRIORITIES, referrals["urgent"].astype(np.int64)),
            datetime_series("created_at", referrals["created_at"]),
            datetime_series("scheduled_at", referrals["scheduled_at"]),
            id_series("appointment_id", "A", appointment_numbers, 10),
            datetime_series("completed_at", referrals["completed_at"]),
            datetime_series("report_received_at", referrals["report_received_at"]),
            label_series("status", REFERRAL_STATUSES, referrals["status"]),
            pl.Series("prior_auth_required", referrals["auth_required"]),
            label_series("prior_auth_status", PRIOR_AUTH_STATUSES, referrals["auth"]),
            datetime_series("prior_auth_decided_at", referrals["auth_decided_at"]),
        ]
    )
