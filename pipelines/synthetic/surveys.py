"""CG-CAHPS-style visit surveys for part of the completed visits.

About 15-25% respond (older patients more often). Satisfaction falls with the wait from check-in to
the provider: top-box provider rating (9-10) near 88% after a short wait, near 65% after an hour,
averaging in the 75-90% band (HCAHPS national top-box results are 70-79%). About a quarter leave a
comment: invented text (it is still treated as PHI).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import polars as pl

from carepulse.contract import FREQUENCY, RECOMMEND, SURVEY_MODES
from carepulse.pipelines.synthetic._util import (
    DAY,
    HOUR,
    MINUTE,
    Window,
    choice_rows,
    datetime_series,
    id_series,
    label_series,
    sigmoid,
)
from carepulse.pipelines.synthetic.attendance import STATUS

POSITIVE = (
    "Dr. {name} took time to listen and explained everything clearly.",
    "Front desk staff were friendly and check-in was quick.",
    "Very thorough visit, I felt heard.",
    "Nurse was kind and answered all my questions.",
    "Easy to get an appointment this time.",
    "Great experience overall, would recommend this clinic.",
)
NEGATIVE = (
    "Waited almost an hour past my appointment time.",
    "Nobody told me why the doctor was running late.",
    "Hard to get through on the phone to reschedule.",
    "Parking was difficult and I was nearly late.",
    "The visit felt rushed and my questions were not answered.",
    "Had to wait weeks for this appointment.",
)
NAMES = ("Smith", "Patel", "Nguyen", "Garcia", "Johnson", "Lee")
#: Every comment text: the positive ones once per clinician name, then the negative ones.
POSITIVE_TEXTS = tuple(p.format(name=n) for p in POSITIVE for n in NAMES if "{name}" in p or n == NAMES[0])
COMMENTS = POSITIVE_TEXTS + NEGATIVE


def _frequency(rng: np.random.Generator, happy: np.ndarray) -> np.ndarray:
    """never / sometimes / usually / always, mostly 'always' for satisfied respondents."""
    w = np.where(happy[:, None], [0.01, 0.04, 0.15, 0.80], [0.08, 0.22, 0.40, 0.30])
    return choice_rows(rng, w)


def surveys_chunk(
    rng: np.random.Generator, appts: dict[str, Any], traits: dict[str, Any], window: Window
) -> dict[str, Any]:
    done = np.flatnonzero(appts["status"] == STATUS["completed"])
    age = traits["age"][appts["pat"][done]]
    respond_p = np.select([age < 35, age < 65], [0.13, 0.19], 0.27)
    received = appts["checkout_at"][done] + (rng.gamma(2.0, 4.0, len(done)) * DAY).astype(np.int64) + 2 * HOUR
    keep = (rng.random(len(done)) < respond_p) & (received < window.cutoff)
    rows, received = done[keep], received[keep] // MINUTE * MINUTE
    n = len(rows)
    wait_min = (appts["provider_start_at"][rows] - appts["checkin_at"][rows]) / MINUTE
    lead_days = (appts["scheduled_start"][rows] - appts["booked_at"][rows]) / DAY
    top_p = sigmoid(2.2 - 0.04 * (wait_min - 20))
    top = rng.random(n) < top_p
    rating = np.where(
        top,
        np.where(rng.random(n) < 0.7, 10, 9),
        choice_rows(rng, np.tile([1, 1, 1, 1, 2, 3, 4, 8, 12], (n, 1))),
    )
    rating_missing = rng.random(n) < 0.03
    recommend = np.where(
        top,
        choice_rows(rng, np.tile([0.01, 0.02, 0.12, 0.85], (n, 1))),
        choice_rows(rng, np.tile([0.10, 0.20, 0.45, 0.25], (n, 1))),
    )
    timely_happy = rng.random(n) < sigmoid(2.0 - 0.05 * lead_days - 0.02 * (wait_min - 20))
    mode = choice_rows(
        rng,
        np.where(
            traits["portal_active"][appts["pat"][rows]][:, None],
            [0.15, 0.10, 0.55, 0.20],
            [0.55, 0.25, 0.05, 0.15],
        ),
    )

    commented = rng.random(n) < 0.25
    negative = ~top | (wait_min > 45)
    text = np.where(
        negative,
        rng.integers(0, len(NEGATIVE), n) + len(POSITIVE_TEXTS),
        rng.integers(0, len(POSITIVE_TEXTS), n),
    )
    return {
        "appointment": rows,
        "received_at": received,
        "mode": mode,
        "rating": np.where(rating_missing, -1, rating),
        "recommend": recommend,
        "access_timely": _frequency(rng, timely_happy),
        "explained": _frequency(rng, top | (rng.random(n) < 0.3)),
        "listened": _frequency(rng, top | (rng.random(n) < 0.3)),
        "staff_helpful": _frequency(rng, rng.random(n) < top_p),
        "staff_respectful": _frequency(rng, rng.random(n) < np.minimum(top_p + 0.1, 1)),
        "comment": np.where(commented, text, -1),
    }


def surveys_frame(surveys: dict[str, Any], numbers: np.ndarray, appointment_ids: pl.Series) -> pl.DataFrame:
    rating = pl.Series("provider_rating", surveys["rating"], dtype=pl.Int64)
    rating = rating.scatter(np.flatnonzero(surveys["rating"] < 0), None)
    comment = label_series("comment", COMMENTS, surveys["comment"])
    return pl.DataFrame(
        [
            id_series("survey_id", "S", numbers, 9),
            appointment_ids.gather(surveys["appointment"]).alias("appointment_id"),
            datetime_series("received_at", surveys["received_at"]),
            label_series("mode", SURVEY_MODES, surveys["mode"]),
            rating,
            label_series("recommend", RECOMMEND, surveys["recommend"]),
            label_series("access_timely", FREQUENCY, surveys["access_timely"]),
            label_series("provider_explained", FREQUENCY, surveys["explained"]),
            label_series("provider_listened", FREQUENCY, surveys["listened"]),
            label_series("staff_helpful", FREQUENCY, surveys["staff_helpful"]),
            label_series("staff_respectful", FREQUENCY, surveys["staff_respectful"]),
            comment,
        ]
    )
