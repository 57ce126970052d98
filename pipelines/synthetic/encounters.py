"""Hospital stays and emergency visits, and the follow-up visits booked for part of the discharges.

Rates per patient-year rise steeply with age. About 45% of live discharges home from an inpatient or
observation stay get a primary-care follow-up booked within 3-14 days (transitions-of-care metrics
have a real gap to show).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import polars as pl

from carepulse.contract import DISCHARGE_DISPOSITIONS, ENCOUNTER_CLASSES
from carepulse.pipelines.synthetic._util import (
    DAY,
    MINUTE,
    NA,
    Window,
    choice_rows,
    datetime_series,
    id_series,
    label_series,
)
from carepulse.pipelines.synthetic.reference import World
from carepulse.pipelines.synthetic.scheduling import VT, durations, pick_providers, visit_times

#: Stays per patient-year (inpatient, emergency, observation) before the age factor.
RATES = np.array([0.035, 0.16, 0.025])
FOLLOW_UP_SHARE = 0.45
#: Disposition mix by class, columns in DISCHARGE_DISPOSITIONS order
#: (home, home_health, skilled_nursing, rehab, transfer, expired, ama).
DISPOSITION_MIX = np.array(
    [
        [0.68, 0.12, 0.09, 0.04, 0.03, 0.02, 0.02],
        [0.92, 0.0, 0.0, 0.0, 0.04, 0.002, 0.038],
        [0.90, 0.05, 0.02, 0.0, 0.01, 0.0, 0.02],
    ]
)


def encounters_chunk(
    rng: np.random.Generator, traits: dict[str, Any], window: Window, world: World
) -> tuple[dict[str, Any], dict[str, Any]]:
    """(encounter columns, follow-up appointment requests)."""
    age = traits["age"]
    factor = np.select([age < 18, age < 50, age < 65, age < 80], [0.4, 0.7, 1.2, 2.5], 4.0)
    years = window.history_days / 365.25
    counts = rng.poisson(np.outer(factor * years, RATES))  # patients x classes
    flat = counts.ravel()  # patient-major: (p0 inpatient, p0 emergency, p0 observation, p1 ...)
    pat = np.repeat(np.repeat(np.arange(len(age)), 3), flat)
    cls = np.repeat(np.tile(np.arange(3), len(age)), flat)
    n = len(pat)
    admitted = window.start_day * DAY + (rng.random(n) * window.history_days * DAY).astype(np.int64)
    admitted = admitted // MINUTE * MINUTE
    hours = np.select(
        [cls == 0, cls == 1],
        [rng.gamma(2.0, 2.3, n) * 24 + 6, rng.gamma(2.0, 2.5, n) + 1],
        rng.uniform(12, 46, n),
    )
    discharged = admitted + (hours * 3600).astype(np.int64) // MINUTE * MINUTE
    disposition = choice_rows(rng, DISPOSITION_MIX[cls])
    still_in = discharged >= window.cutoff
    discharged = np.where(still_in, NA, discharged)
    disposition = np.where(still_in, -1, disposition)

    columns = {
        "pat": pat,
        "class": cls,
        "admitted_at": admitted,
        "discharged_at": discharged,
        "disposition": disposition,
    }

    eligible = (cls != 1) & ~still_in & np.isin(disposition, [0, 1]) & (rng.random(n) < FOLLOW_UP_SHARE)
    idx = np.flatnonzero(eligible)
    booked_day = (discharged[idx] + rng.integers(1, 36, len(idx)) * 3600) // DAY
    lead = rng.integers(3, 15, len(idx))
    booked, start = visit_times(rng, booked_day, lead)
    ok = booked < window.cutoff
    idx, booked, start = idx[ok], booked[ok], start[ok]
    fpat = pat[idx]
    dept = traits["pcp"][fpat]
    visit_type = np.full(len(idx), VT["follow_up"])
    follow_ups = {
        "pat": fpat,
        "dept": dept,
        "provider": pick_providers(rng, traits["index"][fpat], dept, world),
        "visit_type": visit_type,
        "booked_at": booked,
        "scheduled_start": start,
        "duration": durations(visit_type, dept),
        "referral": np.full(len(idx), -1, dtype=np.int64),
    }
    return columns, follow_ups


def encounters_frame(columns: dict[str, Any], patient_ids: pl.Series, first_number: int) -> pl.DataFrame:
    n = len(columns["pat"])
    return pl.DataFrame(
        [
            id_series("encounter_id", "E", np.arange(first_number, first_number + n), 9),
            patient_ids.gather(columns["pat"]).alias("patient_id"),
            label_series("encounter_class", ENCOUNTER_CLASSES, columns["class"]),
            datetime_series("admitted_at", columns["admitted_at"]),
            datetime_series("discharged_at", columns["discharged_at"]),
            label_series("discharge_disposition", DISCHARGE_DISPOSITIONS, columns["disposition"]),
        ]
    )
