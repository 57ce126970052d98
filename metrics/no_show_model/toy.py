"""A tiny, fast, vectorised health system with a known no-show mechanism.

For unit tests and ``bench/model.py`` (a million appointments in seconds), where the full synthetic
generator (``carepulse.pipelines.synthetic``) would be slower than the thing being measured. Frames follow the
contract's dtypes for the columns the model reads; ``truth`` holds each appointment's true
P(no-show | not cancelled).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np
import polars as pl

from carepulse.contract import EXTRACTS


def _typed(name: str, data: dict[str, Any]) -> pl.DataFrame:
    schema = EXTRACTS[name].polars_schema
    frame = pl.DataFrame(data)
    return frame.with_columns(
        [pl.lit(None, dtype).alias(c) for c, dtype in schema.items() if c not in frame.columns]
    ).select([pl.col(c).cast(dtype) for c, dtype in schema.items()])


def toy_health_system(
    *,
    patients: int = 300,
    appointments: int = 6000,
    as_of: dt.datetime = dt.datetime(2026, 6, 30),
    months: int = 12,
    seed: int = 0,
    future_days: int = 30,
) -> dict[str, pl.DataFrame]:
    """Frames ``departments``, ``providers``, ``patients``, ``appointments``, ``referrals``, ``truth``.

    Visits spread over ``months`` before ``as_of`` plus ``future_days`` after (those are still scheduled).
    """
    rng = np.random.default_rng(seed)
    n_dept, n_prov = 6, 30
    depts = [f"D{i:02d}" for i in range(n_dept)]
    provs = [f"P{i:03d}" for i in range(n_prov)]
    departments = _typed(
        "departments",
        {"department_id": depts, "name": depts, "specialty": ["x"] * n_dept, "site": ["S"] * n_dept},
    )
    providers = _typed(
        "providers",
        {
            "provider_id": provs,
            "name": provs,
            "specialty": ["x"] * n_prov,
            "department_id": [depts[i % n_dept] for i in range(n_prov)],
        },
    )
    pid = np.array([f"PT{i:07d}" for i in range(patients)])
    propensity = rng.normal(0, 0.8, patients)
    transport = rng.random(patients) < 0.12
    interpreter = rng.random(patients) < 0.08
    offsets = rng.integers(0, 60, patients)
    payer = rng.choice(
        ["commercial", "medicare", "medicaid", "self_pay", "other"], patients, p=[0.45, 0.2, 0.25, 0.05, 0.05]
    )
    birth = (
        np.datetime64("2026-06-30") - (rng.integers(1, 90, patients) * 365.25).astype("timedelta64[D]")
    ).astype("datetime64[D]")
    pats = _typed(
        "patients",
        {
            "patient_id": pid,
            "mrn": pid,
            "first_name": ["A"] * patients,
            "last_name": ["B"] * patients,
            "birth_date": birth,
            "sex": rng.choice(["female", "male"], patients),
            "race": rng.choice(["white", "black", "asian", "other"], patients, p=[0.6, 0.25, 0.1, 0.05]),
            "ethnicity": rng.choice(["hispanic", "not_hispanic"], patients, p=[0.15, 0.85]),
            "preferred_language": np.where(interpreter, "es", "en"),
            "postal_code": [f"{27500 + o:05d}" for o in offsets],
            "payer_class": payer,
            "portal_active": rng.random(patients) < 0.6,
            "needs_interpreter": interpreter,
            "transport_barrier": transport,
        },
    )
    n = appointments
    who = rng.integers(0, patients, n)
    span = (months * 30 + future_days) * 86400
    start0 = as_of - dt.timedelta(days=months * 30)
    starts: np.ndarray = np.datetime64(start0, "s") + rng.integers(0, span, n).astype("timedelta64[s]")
    starts = starts.astype("datetime64[h]").astype("datetime64[s]") + np.timedelta64(8, "h")
    lead = rng.exponential(14, n)
    booked = starts - (lead * 86400).astype("timedelta64[s]")
    reminder = rng.choice(["none", "sms", "call", "portal"], n, p=[0.25, 0.4, 0.2, 0.15])
    verified = rng.random(n) < 0.85
    hour = starts.astype("datetime64[h]").astype(np.int64) % 24
    logit = (
        -2.6
        + propensity[who]
        + 0.025 * np.minimum(lead, 60)
        + 0.7 * transport[who]
        + 0.4 * interpreter[who]
        + 0.5 * (reminder == "none")
        - 0.3 * (reminder == "call")
        + 0.3 * ~verified
        + 0.01 * offsets[who]
        + 0.2 * (payer[who] == "medicaid")
    )
    p = 1 / (1 + np.exp(-logit))
    is_future = starts >= np.datetime64(as_of, "s")
    cancelled = rng.random(n) < 0.08
    no_show = rng.random(n) < p
    status = np.where(
        is_future, "scheduled", np.where(cancelled, "cancelled", np.where(no_show, "no_show", "completed"))
    )
    cancelled_at = np.where(
        status == "cancelled",
        booked + ((starts - booked) * 0.5).astype("timedelta64[s]"),
        np.datetime64("NaT"),
    )
    aid = np.array([f"A{i:08d}" for i in range(n)])
    dept_idx = rng.integers(0, n_dept, n)
    appts = _typed(
        "appointments",
        {
            "appointment_id": aid,
            "patient_id": pid[who],
            "department_id": np.array(depts)[dept_idx],
            "provider_id": np.array(provs)[dept_idx + n_dept * rng.integers(0, n_prov // n_dept, n)],
            "visit_type": rng.choice(["new", "follow_up", "procedure", "annual"], n),
            "modality": rng.choice(["in_person", "telehealth"], n, p=[0.8, 0.2]),
            "booked_at": booked.astype("datetime64[us]"),
            "scheduled_start": starts.astype("datetime64[us]"),
            "duration_min": rng.choice([15, 20, 30, 40], n),
            "status": status,
            "cancelled_at": cancelled_at.astype("datetime64[us]"),
            "cancelled_by": pl.Series(np.where(status == "cancelled", "patient", "")).replace("", None),
            "reminder": reminder,
            "insurance_verified": verified,
        },
    )
    del hour
    referrals = _typed("referrals", {"referral_id": pl.Series([], dtype=pl.String)})
    truth = pl.DataFrame({"appointment_id": aid, "p_no_show": p})
    return {
        "departments": departments,
        "providers": providers,
        "patients": pats,
        "appointments": appts,
        "referrals": referrals,
        "truth": truth,
    }
