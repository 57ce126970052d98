"""Provider availability for third-next-available appointment (IHI).

To keep the extract small at any population size, slots are written for a panel of providers (one
per department, two from 5,000 patients) over the 13 weeks before the cut-off and the booked weeks
after it. Slots are released 90 days ahead; each is booked a department-specific number of days
before it starts (busy specialties far ahead, so their third-next-available is long), a few are
never booked and ~3% are blocked (leave, meetings).
"""

from __future__ import annotations

import numpy as np
import polars as pl

from carepulse.pipelines.synthetic._util import (
    DAY,
    HOUR,
    MINUTE,
    NA,
    Window,
    datetime_series,
    id_series,
    rng_for,
)
from carepulse.pipelines.synthetic.reference import DEPARTMENTS, World, dept_array

HISTORY_WEEKS = 13
SLOT_MINUTES = 30
SLOTS_PER_DAY = 8  # one 4-hour session a day: mornings Mon/Wed/Fri, afternoons Tue/Thu
RELEASE_DAYS = 90
#: Mean days a slot is booked ahead, by department (lead_scale x 9 days).
BOOKED_AHEAD_DAYS = 9.0


def slots_frame(world: World, window: Window, seed: int, patients: int) -> pl.DataFrame:
    rng = rng_for(seed, 0, "slots")
    per_dept = 1 if patients < 5000 else 2
    panel = np.concatenate(
        [
            world.provider_offset[d] + np.arange(min(per_dept, world.provider_count[d]))
            for d in range(len(DEPARTMENTS))
        ]
    )
    dept = np.searchsorted(world.provider_offset, panel, side="right") - 1
    first_monday = window.cutoff_day - HISTORY_WEEKS * 7
    first_monday -= (first_monday + 3) % 7
    days = np.arange(first_monday, window.end_day)
    days = days[(days + 3) % 7 < 5]

    p = np.repeat(np.arange(len(panel)), len(days) * SLOTS_PER_DAY)
    d = np.tile(np.repeat(days, SLOTS_PER_DAY), len(panel))
    afternoon = (d + 3) % 7 % 2 == 1  # Tuesday, Thursday
    m = np.tile(np.arange(SLOTS_PER_DAY) * SLOT_MINUTES, len(panel) * len(days)) + np.where(
        afternoon, 13 * 60, 8 * 60
    )
    n = len(p)
    start = d * DAY + m * MINUTE
    released = (d - RELEASE_DAYS) * DAY + 7 * HOUR
    ahead = rng.exponential(BOOKED_AHEAD_DAYS * dept_array("lead_scale")[dept[p]], n)
    booked = (start - (ahead * DAY).astype(np.int64)) // MINUTE * MINUTE
    booked = np.clip(booked, released + HOUR, start - 10 * MINUTE)
    blocked = rng.random(n) < 0.03
    never = rng.random(n) < 0.06
    open_ = blocked | never | (booked >= window.cutoff)
    return pl.DataFrame(
        [
            id_series("slot_id", "SL", np.arange(1, n + 1), 9),
            world.providers["provider_id"].gather(panel[p]),
            world.providers["department_id"].gather(panel[p]),
            datetime_series("slot_start", start),
            pl.Series("duration_min", np.full(n, SLOT_MINUTES, dtype=np.int64)),
            datetime_series("released_at", released),
            datetime_series("booked_at", np.where(open_, NA, booked)),
            pl.Series("blocked", blocked),
        ]
    )
