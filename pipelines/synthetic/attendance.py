"""Whether each booked visit happens: reminders, modality, cancellations and the no-show oracle.

``p_no_show`` is P(no-show | not cancelled) from a logistic model whose every driver is observable
in the extracts (lead time, age, payer, transport barrier, distance, reminder, modality, visit type,
department, weekday, hour, month, interpreter) plus the patient's latent propensity, which shows
only through their history. Past, non-cancelled visits are drawn as Bernoulli(p_no_show), so the
written probability is a true oracle for any model.

Effect sizes (logit) are chosen to reproduce the published picture (reference-figures.md): overall
no-show rate near the MGMA 7-12% band, departments spread 5-30%, lead time the strongest driver,
same-day bookings rarely missed (UMC Utrecht, Shah et al.).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from carepulse.contract import APPOINTMENT_STATUSES, CANCELLED_BY, MODALITIES, PAYER_CLASSES, REMINDERS
from carepulse.pipelines.synthetic._util import DAY, HOUR, MINUTE, NA, Window, choice_rows, sigmoid, weekday
from carepulse.pipelines.synthetic.reference import DEPT_INDEX, Intervention, dept_array
from carepulse.pipelines.synthetic.scheduling import VT

STATUS = {name: i for i, name in enumerate(APPOINTMENT_STATUSES)}
REMINDER = {name: i for i, name in enumerate(REMINDERS)}
MODALITY = {name: i for i, name in enumerate(MODALITIES)}
CANCELLER = {name: i for i, name in enumerate(CANCELLED_BY)}
PAYER = {name: i for i, name in enumerate(PAYER_CLASSES)}

INTERCEPT = -4.05
LEAD_SLOPE = 0.42  # per log(1 + lead days)
SAME_DAY = -0.9
PAYER_EFFECT = np.array([0.0, 0.05, 0.55, 0.70, 0.20])  # PAYER_CLASSES order
REMINDER_EFFECT = np.array([0.0, -0.90, -0.50, -0.30])  # none, sms, call, portal
TELEHEALTH = -0.7
VISIT_TYPE_EFFECT = np.array([0.15, 0.0, -0.35, 0.10, -0.60])  # VISIT_TYPES order
TRANSPORT = 0.60
PER_KM = 0.006
INTERPRETER = 0.15
HISTORY = 0.7  # per log(1 + the patient's earlier no-shows)

CANCEL_REASONS = {
    "patient": (
        "patient request",
        "schedule conflict",
        "feeling better",
        "illness",
        "transportation",
        "cost",
    ),
    "provider": ("provider unavailable", "provider out sick"),
    "clinic": ("rescheduled by clinic", "weather closure", "insurance not verified"),
}
_REASON_LABELS = tuple(r for who in CANCELLED_BY for r in CANCEL_REASONS[who])
_REASON_OFFSET = np.cumsum([0] + [len(CANCEL_REASONS[w]) for w in CANCELLED_BY])[:-1]
_REASON_COUNT = np.array([len(CANCEL_REASONS[w]) for w in CANCELLED_BY])


def age_effect(age: np.ndarray) -> np.ndarray:
    """Young adults miss most, older patients least."""
    return np.select([age < 18, age < 26, age < 35, age < 50, age < 65], [0.05, 0.55, 0.45, 0.20, 0.0], -0.15)


def assign_reminders(
    rng: np.random.Generator, req: dict[str, Any], traits: dict[str, Any], sms: Intervention
) -> np.ndarray:
    pat = req["pat"]
    n = len(pat)
    has_phone = traits["has_phone"][pat]
    portal = traits["portal_active"][pat]
    in_d01 = req["dept"] == DEPT_INDEX[sms.department_id]
    after = req["scheduled_start"] >= sms.day * DAY
    w = np.tile(np.array([0.35, 0.15, 0.25, 0.25]), (n, 1))
    w[in_d01] = [0.75, 0.0, 0.15, 0.10]
    w[in_d01 & after] = [0.05, 0.85, 0.05, 0.05]
    w[:, REMINDER["sms"]] *= has_phone
    w[:, REMINDER["call"]] *= has_phone
    w[:, REMINDER["portal"]] *= portal
    w[:, REMINDER["none"]] += 1e-9
    return choice_rows(rng, w)


def no_show_logit(req: dict[str, Any], traits: dict[str, Any]) -> np.ndarray:
    pat = req["pat"]
    start = req["scheduled_start"]
    lead = (start - req["booked_at"]) / DAY
    same_day = (start // DAY) == (req["booked_at"] // DAY)
    age = (start // DAY - traits["birth_day"][pat]) / 365.25
    hour = (start % DAY) // HOUR
    wd = weekday(start // DAY)
    month = start.astype("datetime64[s]").astype("datetime64[M]").astype(np.int64) % 12  # 0 = January
    logit: np.ndarray = (
        INTERCEPT
        + dept_array("no_show_offset")[req["dept"]]
        + LEAD_SLOPE * np.log1p(lead)
        + SAME_DAY * same_day
        + age_effect(age)
        + PAYER_EFFECT[traits["payer"][pat]]
        + TRANSPORT * traits["transport_barrier"][pat]
        + PER_KM * traits["distance_km"][pat]
        + INTERPRETER * traits["needs_interpreter"][pat]
        + REMINDER_EFFECT[req["reminder"]]
        + TELEHEALTH * (req["modality"] == MODALITY["telehealth"])
        + VISIT_TYPE_EFFECT[req["visit_type"]]
        + 0.10 * (wd == 0)
        + 0.08 * (wd == 4)
        + 0.12 * (hour >= 15)
        + 0.15 * ((month == 11) | (month == 0))
        + traits["latent"][pat]
    )
    return logit


def resolve_attendance(
    rng: np.random.Generator,
    req: dict[str, Any],
    traits: dict[str, Any],
    window: Window,
    sms: Intervention,
    earlier_no_shows: np.ndarray | None = None,
) -> dict[str, Any]:
    """Add modality, reminder, insurance_verified, p_no_show, status and cancellation columns.

    ``earlier_no_shows`` (per request) counts no-shows the patient had before the request in visits
    resolved earlier (the first pass, for referral visits); visits of this batch add their own.
    """
    pat = req["pat"]
    n = len(pat)
    start, booked = req["scheduled_start"], req["booked_at"]
    dept = req["dept"]

    tele_p = dept_array("telehealth_share")[dept] * (req["visit_type"] != VT["procedure"])
    modality = np.where(rng.random(n) < tele_p, MODALITY["telehealth"], MODALITY["in_person"])
    req = {**req, "modality": modality}
    req["reminder"] = assign_reminders(rng, req, traits, sms)
    low_income = np.isin(traits["payer"][pat], [PAYER["medicaid"], PAYER["self_pay"]])
    lead_days = (start - booked) / DAY
    unverified_p = 0.04 + 0.08 * low_income + 0.06 * (lead_days < 1)
    req["insurance_verified"] = rng.random(n) >= unverified_p

    base_logit = no_show_logit(req, traits)

    # Cancellations: likelier the further ahead, and for patients who also tend to miss.
    cancel_p = sigmoid(-2.6 + 0.28 * np.log1p(lead_days) + 0.3 * traits["latent"][pat] + 0.2 * low_income)
    cancels = rng.random(n) < cancel_p
    who = choice_rows(rng, np.tile([0.72, 0.14, 0.14], (n, 1)))
    late = rng.random(n) < 0.25  # within 24 h of the visit (settings.late_cancel_hours)
    span = start - booked
    early_at = booked + (rng.random(n) * np.maximum(span - DAY, 0)).astype(np.int64)
    late_at = start - (rng.uniform(0.5, 24, n) * HOUR).astype(np.int64)
    cancelled_at = np.where(
        late | (span <= DAY), np.maximum(late_at, booked + (span * 0.5).astype(np.int64)), early_at
    )
    cancelled_at = np.clip(cancelled_at // MINUTE * MINUTE, booked + MINUTE, start - MINUTE)
    cancelled = cancels & (cancelled_at < window.cutoff) & (span > 2 * MINUTE)

    past = start < window.cutoff
    u = rng.random(n)
    p_no_show, no_show = draw_with_history(u, pat, start, base_logit, past & ~cancelled, earlier_no_shows)
    req["p_no_show"] = p_no_show
    status = np.where(past, np.where(no_show, STATUS["no_show"], STATUS["completed"]), STATUS["scheduled"])
    status = np.where(cancelled, STATUS["cancelled"], status)
    req["status"] = status
    req["cancelled_at"] = np.where(cancelled, cancelled_at, NA)
    req["cancelled_by"] = np.where(cancelled, who, -1)
    reason = _REASON_OFFSET[who] + (rng.random(n) * _REASON_COUNT[who]).astype(np.int64)
    req["cancel_reason"] = np.where(cancelled, reason, -1)
    return req


def draw_with_history(
    u: np.ndarray,
    pat: np.ndarray,
    start: np.ndarray,
    base_logit: np.ndarray,
    due: np.ndarray,
    earlier: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Draw no-shows visit by visit in each patient's date order, each risk including the patient's
    realised no-shows so far (``HISTORY`` x log(1 + count)): the history effect is real and fully
    observable in the extract. Vectorised across patients: one step per visit rank, not per row."""
    n = len(pat)
    p_out = np.zeros(n)
    missed = np.zeros(n, dtype=bool)
    if n == 0:
        return p_out, missed
    order = np.lexsort((start, pat))
    sorted_pat = pat[order]
    first = np.r_[True, sorted_pat[1:] != sorted_pat[:-1]]
    position = np.arange(n)
    rank = position - np.maximum.accumulate(np.where(first, position, 0))
    by_rank = order[np.argsort(rank, kind="stable")]
    bounds = np.searchsorted(np.sort(rank), np.arange(rank.max() + 2))
    running = np.zeros(int(pat.max()) + 1)
    offset = np.zeros(n) if earlier is None else earlier
    for k in range(rank.max() + 1):
        rows = by_rank[bounds[k] : bounds[k + 1]]
        p = sigmoid(base_logit[rows] + HISTORY * np.log1p(running[pat[rows]] + offset[rows]))
        miss = due[rows] & (u[rows] < p)
        p_out[rows] = p
        missed[rows] = miss
        running[pat[rows]] += miss  # each patient appears once per rank
    return p_out, missed


def earlier_no_shows(visits: dict[str, Any], pat: np.ndarray, start: np.ndarray) -> np.ndarray:
    """For each (patient, start), the patient's no-shows among ``visits`` that started before it."""
    miss = visits["status"] == STATUS["no_show"]
    keys = np.sort(visits["pat"][miss].astype(np.int64) * 2**33 + visits["scheduled_start"][miss])
    base = pat.astype(np.int64) * 2**33
    counts: np.ndarray = (np.searchsorted(keys, base + start) - np.searchsorted(keys, base)).astype(float)
    return counts


REASON_LABELS = _REASON_LABELS
