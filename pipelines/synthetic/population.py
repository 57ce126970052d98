"""Patients: demographics, payer, access barriers and the hidden traits that drive their care.

Returns the ``patients`` extract (with synthetic PHI) and a dict of per-patient traits (numpy arrays)
that the scheduling and attendance modules use. The one hidden trait is ``latent``: a patient's own
propensity to miss visits, normal with a moderate spread, visible only through their history.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import polars as pl

from carepulse.contract import ETHNICITIES, PAYER_CLASSES, RACES, SEXES
from carepulse.pipelines.synthetic._util import choice, date_series, id_series, label_series, rng_for
from carepulse.pipelines.synthetic.reference import (
    CATCHMENT_ZIP,
    DEPT_INDEX,
    FEMALE_FIRST,
    KM_PER_ZIP_STEP,
    LAST_NAMES,
    MALE_FIRST,
)

LATENT_SD = 0.3
AGE_BANDS = ((0, 18, 0.21), (18, 35, 0.22), (35, 50, 0.18), (50, 65, 0.19), (65, 96, 0.20))
LANGUAGES = ("en", "es", "zh", "vi", "ko", "ar", "fr")
PAYER = {name: i for i, name in enumerate(PAYER_CLASSES)}
EMAIL_DOMAINS = ("example.com", "example.org", "example.net", "mail.example")


def patients_chunk(
    seed: int, chunk: int, first_index: int, n: int, as_of_day: int
) -> tuple[pl.DataFrame, dict[str, Any]]:
    """``n`` patients numbered from ``first_index``; returns (extract frame, traits)."""
    rng = rng_for(seed, chunk, "patients")
    index = np.arange(first_index, first_index + n, dtype=np.int64)

    band = choice(rng, n, [b[2] for b in AGE_BANDS])
    lo = np.array([b[0] for b in AGE_BANDS])[band]
    hi = np.array([b[1] for b in AGE_BANDS])[band]
    # Uniform within the band, except that the oldest band thins out towards 95.
    u = rng.random(n)
    age = lo + (hi - lo) * np.where(band == 4, u**1.6, u)
    birth_day = (as_of_day - age * 365.25).astype(np.int64)
    age = (as_of_day - birth_day) / 365.25

    sex = choice(rng, n, [0.52, 0.47, 0.005, 0.005])
    race = choice(rng, n, [0.60, 0.22, 0.06, 0.01, 0.005, 0.055, 0.05])
    ethnicity = choice(rng, n, [0.11, 0.84, 0.05])
    language = np.zeros(n, dtype=np.int64)
    spanish = (ethnicity == 0) & (rng.random(n) < 0.45)
    language[spanish] = 1
    asian_lang = (race == 2) & (rng.random(n) < 0.30)
    language[asian_lang] = rng.integers(2, 5, int(asian_lang.sum()))
    other_lang = (language == 0) & (rng.random(n) < 0.015)
    language[other_lang] = rng.integers(5, 7, int(other_lang.sum()))
    needs_interpreter = (language > 0) & (rng.random(n) < 0.65)

    # Distance: ZIP = 27500 + offset, ~0.5 km per step; most patients live near the campuses.
    zip_offset = np.floor(200 * rng.beta(1.3, 2.6, n)).astype(np.int64)
    distance_km = zip_offset * KM_PER_ZIP_STEP

    payer = np.empty(n, dtype=np.int64)
    child, senior = age < 18, age >= 65
    adult = ~child & ~senior
    # commercial, medicare, medicaid, self_pay, other
    payer[child] = choice(rng, int(child.sum()), [0.55, 0.0, 0.40, 0.02, 0.03])
    payer[senior] = choice(rng, int(senior.sum()), [0.08, 0.85, 0.04, 0.01, 0.02])
    payer[adult] = choice(rng, int(adult.sum()), [0.60, 0.05, 0.18, 0.10, 0.07])
    low_income = (payer == PAYER["medicaid"]) | (payer == PAYER["self_pay"])

    portal_p = 0.68 - 0.22 * senior - 0.20 * low_income - 0.15 * (language > 0)
    portal_active = rng.random(n) < portal_p
    transport_p = 0.03 + 0.09 * (payer == PAYER["medicaid"]) + 0.06 * (payer == PAYER["self_pay"])
    transport_p += 0.06 * (age >= 75) + 0.0006 * distance_km
    transport_barrier = rng.random(n) < transport_p

    # Primary-care home: children in Pediatrics, adults by where they live, many seniors in IM.
    pcp = np.where(zip_offset < 85, DEPT_INDEX["D01"], DEPT_INDEX["D02"])
    pcp = np.where(rng.random(n) < np.where(senior, 0.45, 0.20), DEPT_INDEX["D03"], pcp)
    pcp = np.where(child, DEPT_INDEX["D04"], pcp)

    latent = rng.normal(0.0, LATENT_SD, n)
    # Visits a month: heterogeneous (gamma), more for the very young and the old.
    age_use = np.select([age < 3, age < 18, age < 50, age < 65], [1.6, 0.8, 0.75, 1.05], 1.5)
    use_rate = rng.gamma(1.6, 1.0 / 1.6, n) * age_use

    female = sex == 0
    first_pool_f, first_pool_m = np.array(FEMALE_FIRST), np.array(MALE_FIRST)
    first = np.where(
        female | ((sex > 1) & (rng.random(n) < 0.5)),
        first_pool_f[rng.integers(0, len(first_pool_f), n)],
        first_pool_m[rng.integers(0, len(first_pool_m), n)],
    )
    last = np.array(LAST_NAMES)[rng.integers(0, len(LAST_NAMES), n)]
    mrn = (index * 7919 + 10_000_019) % 100_000_000  # a bijection on 8 digits: unique, stable
    phone = np.char.add(
        np.char.add(np.where(rng.random(n) < 0.6, "919-", "984-"), rng.integers(200, 1000, n).astype(str)),
        np.char.add("-", np.char.zfill(rng.integers(0, 10000, n).astype(str), 4)),
    )
    email = np.char.add(
        np.char.add(
            np.char.lower(np.char.add(np.char.add(first, "."), last)), rng.integers(1, 99, n).astype(str)
        ),
        np.char.add("@", np.array(EMAIL_DOMAINS)[rng.integers(0, len(EMAIL_DOMAINS), n)]),
    )
    has_phone = rng.random(n) > 0.03
    has_email = rng.random(n) > np.where(senior, 0.40, 0.15)

    frame = pl.DataFrame(
        [
            id_series("patient_id", "P", index + 1, 8),
            id_series("mrn", "", mrn, 8),
            pl.Series("first_name", first),
            pl.Series("last_name", last),
            date_series("birth_date", birth_day),
            label_series("sex", SEXES, sex),
            label_series("race", RACES, race),
            label_series("ethnicity", ETHNICITIES, ethnicity),
            label_series("preferred_language", LANGUAGES, language),
            pl.Series("postal_code", (CATCHMENT_ZIP + zip_offset).astype(str)),
            pl.Series("phone", phone).scatter(np.flatnonzero(~has_phone), None),
            pl.Series("email", email).scatter(np.flatnonzero(~has_email), None),
            label_series("payer_class", PAYER_CLASSES, payer),
            pl.Series("portal_active", portal_active),
            pl.Series("needs_interpreter", needs_interpreter),
            pl.Series("transport_barrier", transport_barrier),
        ]
    )
    traits = {
        "index": index,
        "birth_day": birth_day,
        "age": age,
        "female": female,
        "payer": payer,
        "portal_active": portal_active,
        "has_phone": has_phone,
        "needs_interpreter": needs_interpreter,
        "transport_barrier": transport_barrier,
        "distance_km": distance_km,
        "pcp": pcp,
        "latent": latent,
        "use_rate": use_rate,
    }
    return frame, traits
