"""Clinic flow for the visits that happened: check-in, rooming, provider, checkout.

Waits differ by department and grow through the day (each hour after 8:00 adds ~7-9% to the mean
wait, as clinics run late); telehealth has a short virtual rooming. A few patients who wait long
leave before the provider sees them (``left_without_being_seen``). Cardiology's rooming wait halves
from the planted second-rooming-station date.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from carepulse.pipelines.synthetic._util import DAY, HOUR, MINUTE, NA, gamma_minutes
from carepulse.pipelines.synthetic.attendance import MODALITY, STATUS
from carepulse.pipelines.synthetic.reference import DEPT_INDEX, Intervention, dept_array


def resolve_flow(rng: np.random.Generator, req: dict[str, Any], rooming: Intervention) -> dict[str, Any]:
    """Add checkin_at, roomed_at, provider_start_at, checkout_at; turn some long waits into LWBS."""
    n = len(req["pat"])
    start, dept = req["scheduled_start"], req["dept"]
    arrived = req["status"] == STATUS["completed"]
    hour = (start % DAY) / HOUR
    late_factor = 1 + 0.08 * np.maximum(hour - 8, 0)
    tele = req["modality"] == MODALITY["telehealth"]

    arrive_offset = np.clip(rng.normal(-12, 8, n), -45, 25)
    checkin = start + (arrive_offset * MINUTE).astype(np.int64)
    room_mean = dept_array("room_wait_min")[dept] * late_factor
    improved = (dept == DEPT_INDEX[rooming.department_id]) & (start >= rooming.day * DAY)
    room_mean = np.where(improved, room_mean * 0.5, room_mean)
    room_mean = np.where(tele, 2.0, room_mean)
    # before the slot time the clock runs too: a patient 15 min early waits longer to be roomed
    room_wait = 1 + gamma_minutes(rng, room_mean) + np.maximum(-arrive_offset, 0) * 0.6
    provider_wait = 1 + gamma_minutes(
        rng, dept_array("provider_wait_min")[dept] * (1 + 0.09 * np.maximum(hour - 8, 0))
    )
    provider_wait = np.where(tele, provider_wait * 0.6, provider_wait)
    visit = np.maximum(5, req["duration"] * rng.uniform(0.6, 1.2, n)) + rng.uniform(2, 8, n)

    roomed = checkin + (room_wait * MINUTE).astype(np.int64)
    provider = roomed + (provider_wait * MINUTE).astype(np.int64)
    checkout = provider + (visit * MINUTE).astype(np.int64)

    lwbs_p = 0.003 + 0.05 * ((room_wait + provider_wait) > 60)
    lwbs = arrived & ~tele & (rng.random(n) < lwbs_p)
    status = np.where(lwbs, STATUS["left_without_being_seen"], req["status"])
    seen = arrived & ~lwbs

    def round_min(t: np.ndarray) -> np.ndarray:
        return t // MINUTE * MINUTE

    return {
        **req,
        "status": status,
        "checkin_at": np.where(arrived, round_min(checkin), NA),
        "roomed_at": np.where(seen, round_min(roomed), NA),
        "provider_start_at": np.where(seen, round_min(provider), NA),
        "checkout_at": np.where(seen, round_min(checkout), NA),
    }
