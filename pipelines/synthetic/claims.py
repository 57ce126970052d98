"""Professional claims for completed visits: denials, CARC codes, appeals and resubmissions.

Initial denial probability depends on the payer (6-19%; CMS Transparency in Coverage puts marketplace
in-network denials near 17%, issuer median ~16%) and rises sharply where insurance was not verified
(eligibility denials). A claim was initially denied iff its ``carc_code`` is set; ``status`` is the
latest state (an overturned appeal is ``paid``). About half of denials are appealed (HFMA), most
appeals win; some coding/eligibility denials are corrected and resubmitted as a new claim whose
``original_claim_id`` points at the denied one.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import polars as pl

from carepulse.contract import APPEAL_OUTCOMES, CLAIM_STATUSES, DENIAL_CATEGORIES, PAYER_CLASSES
from carepulse.pipelines.synthetic._util import (
    DAY,
    HOUR,
    NA,
    Window,
    choice_rows,
    datetime_series,
    float_series,
    id_series,
    label_series,
    lookup,
)
from carepulse.pipelines.synthetic.attendance import STATUS
from carepulse.pipelines.synthetic.reference import PAYERS
from carepulse.pipelines.synthetic.scheduling import VT

CSTATUS = {name: i for i, name in enumerate(CLAIM_STATUSES)}
CATEGORY = {name: i for i, name in enumerate(DENIAL_CATEGORIES)}
APPEAL = {name: i for i, name in enumerate(APPEAL_OUTCOMES)}
#: Base CARC mix by denial category (DENIAL_CATEGORIES order) and the codes used for each.
CATEGORY_WEIGHTS = np.array([0.18, 0.17, 0.30, 0.12, 0.06, 0.08, 0.09])
CARC_CODES = ("CO-27", "CO-197", "CO-16", "CO-4", "CO-50", "CO-29", "CO-18", "CO-96")
_CARC_OF_CATEGORY = np.array([0, 1, 2, 4, 5, 6, 7])  # coding alternates CO-16 / CO-4 below
APPEAL_SHARE = np.array([0.45, 0.70, 0.40, 0.65, 0.35, 0.05, 0.30])
OVERTURN_SHARE = np.array([0.45, 0.65, 0.65, 0.45, 0.20, 0.10, 0.40])
RESUBMIT_SHARE = np.array([0.60, 0.10, 0.70, 0.05, 0.0, 0.0, 0.20])
BILLED = np.array([220.0, 140.0, 900.0, 250.0, 180.0])  # VISIT_TYPES order

_PAYER_NAMES = tuple(name for cls in PAYER_CLASSES for name, _, _ in PAYERS[cls])
_PAYER_RATE = np.array([rate for cls in PAYER_CLASSES for _, rate, _ in PAYERS[cls]])
_PAYER_ALLOWED = np.array([allowed for cls in PAYER_CLASSES for _, _, allowed in PAYERS[cls]])
_PAYER_OFFSET = np.cumsum([0] + [len(PAYERS[c]) for c in PAYER_CLASSES])[:-1]
_PAYER_COUNT = np.array([len(PAYERS[c]) for c in PAYER_CLASSES])


def _days(rng: np.random.Generator, lo: float, hi: float, n: int) -> np.ndarray:
    days: np.ndarray = (rng.uniform(lo, hi, n) * DAY).astype(np.int64) // HOUR * HOUR
    return days


def claims_chunk(
    rng: np.random.Generator, appts: dict[str, Any], traits: dict[str, Any], window: Window
) -> dict[str, Any]:
    """Claim columns (``appointment`` indexes ``appts``; ``original`` indexes the claims themselves)."""
    done = np.flatnonzero(appts["status"] == STATUS["completed"])
    submitted = appts["checkout_at"][done] + _days(rng, 1, 10, len(done))
    keep = submitted < window.cutoff
    done, submitted = done[keep], submitted[keep]
    n = len(done)
    pat = appts["pat"][done]
    payer_class = traits["payer"][pat]
    # each patient keeps one plan within their class
    payer = _PAYER_OFFSET[payer_class] + (traits["index"][pat] * 40503 >> 4) % _PAYER_COUNT[payer_class]
    visit_type = appts["visit_type"][done]
    billed = np.round(BILLED[visit_type] * np.exp(rng.normal(0, 0.25, n)), 2)
    verified = appts["insurance_verified"][done]
    self_pay = _PAYER_RATE[payer] == 0

    deny_p = _PAYER_RATE[payer] + 0.25 * ~verified + 0.05 * (visit_type == VT["procedure"])
    denied = ~self_pay & (rng.random(n) < deny_p)
    weights = np.tile(CATEGORY_WEIGHTS, (n, 1))
    weights[~verified, CATEGORY["eligibility"]] += 2.5
    weights[visit_type == VT["procedure"], CATEGORY["authorization"]] += 0.5
    weights[visit_type == VT["procedure"], CATEGORY["medical_necessity"]] += 0.2
    category = choice_rows(rng, weights)

    claims = _adjudicate(rng, window, submitted, billed, payer, denied, category, appeal=True)
    claims.update(appointment=done, pat=pat, is_resubmission=np.zeros(n, bool), original=np.full(n, -1))

    # Not appealed coding / eligibility denials: corrected and resubmitted.
    base = claims
    not_appealed = denied & (base["appeal_filed_at"] == NA)
    resubmit = not_appealed & (rng.random(n) < RESUBMIT_SHARE[category])
    resub_at = base["adjudicated_at"] + _days(rng, 3, 20, n)
    resubmit &= (resub_at < window.cutoff) & (base["adjudicated_at"] != NA)
    r = np.flatnonzero(resubmit)
    base["resolved_at"] = np.where(resubmit, resub_at, base["resolved_at"])
    base["written_off"] = np.where(resubmit, 0.0, base["written_off"])
    redenied = rng.random(len(r)) < 0.15
    second = _adjudicate(rng, window, resub_at[r], billed[r], payer[r], redenied, category[r], appeal=False)
    second.update(appointment=done[r], pat=pat[r], is_resubmission=np.ones(len(r), bool), original=r)
    return {k: np.concatenate([base[k], second[k]]) for k in base}


def _adjudicate(
    rng: np.random.Generator,
    window: Window,
    submitted: np.ndarray,
    billed: np.ndarray,
    payer: np.ndarray,
    denied: np.ndarray,
    category: np.ndarray,
    *,
    appeal: bool,
) -> dict[str, Any]:
    n = len(submitted)
    adjudicated = submitted + _days(rng, 7, 35, n)
    decided = adjudicated < window.cutoff
    denied = denied & decided
    partial = ~denied & (rng.random(n) < 0.12)
    paid = billed * _PAYER_ALLOWED[payer] * np.where(partial, rng.uniform(0.3, 0.8, n), 1.0)
    status = np.where(
        denied, CSTATUS["denied"], np.where(partial, CSTATUS["partially_paid"], CSTATUS["paid"])
    )
    status = np.where(decided, status, CSTATUS["pending"])
    carc = np.where(
        category == CATEGORY["coding"], np.where(rng.random(n) < 0.6, 2, 3), _CARC_OF_CATEGORY[category]
    )

    appeal_at = adjudicated + _days(rng, 5, 45, n)
    appealed = denied & appeal & (rng.random(n) < APPEAL_SHARE[category]) & (appeal_at < window.cutoff)
    outcome_at = appeal_at + _days(rng, 15, 60, n)
    outcome = np.where(rng.random(n) < OVERTURN_SHARE[category], APPEAL["overturned"], APPEAL["upheld"])
    outcome = np.where(outcome_at < window.cutoff, outcome, APPEAL["pending"])
    overturned = appealed & (outcome == APPEAL["overturned"])
    upheld = appealed & (outcome == APPEAL["upheld"])
    abandoned_at = adjudicated + _days(rng, 30, 90, n)
    abandoned = denied & ~appealed & (abandoned_at < window.cutoff)

    resolved = np.where(decided & ~denied, adjudicated, NA)
    resolved = np.where(overturned | upheld, outcome_at, resolved)
    resolved = np.where(abandoned, abandoned_at, resolved)
    return {
        "submitted_at": submitted,
        "billed": billed,
        "payer": payer,
        "status": np.where(overturned, CSTATUS["paid"], status),
        "adjudicated_at": np.where(decided, adjudicated, NA),
        "paid": np.where(decided & (~denied | overturned), paid, np.where(denied, 0.0, np.nan)),
        "carc": np.where(denied, carc, -1),
        "category": np.where(denied, category, -1),
        "appeal_filed_at": np.where(appealed, appeal_at, NA),
        "appeal_outcome": np.where(appealed, outcome, -1),
        "resolved_at": resolved,
        "written_off": np.where(upheld | abandoned, billed, np.where(decided, 0.0, np.nan)),
    }


def claims_frame(
    claims: dict[str, Any], numbers: np.ndarray, appointment_ids: pl.Series, patient_ids: pl.Series
) -> pl.DataFrame:
    original = lookup(numbers, claims["original"])
    payer_class_of = np.repeat(np.arange(len(PAYER_CLASSES)), _PAYER_COUNT)
    return pl.DataFrame(
        [
            id_series("claim_id", "C", numbers, 10),
            appointment_ids.gather(claims["appointment"]).alias("appointment_id"),
            patient_ids.gather(claims["pat"]).alias("patient_id"),
            label_series("payer_name", _PAYER_NAMES, claims["payer"]),
            label_series("payer_class", PAYER_CLASSES, payer_class_of[claims["payer"]]),
            datetime_series("submitted_at", claims["submitted_at"]),
            float_series("billed_amount", claims["billed"]),
            label_series("status", CLAIM_STATUSES, claims["status"]),
            datetime_series("adjudicated_at", claims["adjudicated_at"]),
            float_series("paid_amount", claims["paid"]),
            label_series("carc_code", CARC_CODES, claims["carc"]),
            label_series("denial_category", DENIAL_CATEGORIES, claims["category"]),
            pl.Series("is_resubmission", claims["is_resubmission"]),
            id_series("original_claim_id", "C", original, 10),
            datetime_series("appeal_filed_at", claims["appeal_filed_at"]),
            label_series("appeal_outcome", APPEAL_OUTCOMES, claims["appeal_outcome"]),
            datetime_series("resolved_at", claims["resolved_at"]),
            float_series("written_off_amount", claims["written_off"]),
        ]
    )
