"""The fixed world the patients live in: departments, providers, payers, names, interventions.

Each department carries the parameters that make it differ from the others (no-show offset, how far
ahead it is booked, rooming and provider waits, visit length), so department-level metrics vary the
way they do in real systems.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import numpy as np
import polars as pl

from carepulse.pipelines.synthetic._util import Window, id_series, next_weekday, rng_for


@dataclass(frozen=True)
class Department:
    department_id: str
    name: str
    specialty: str
    site: str
    primary_care: bool
    share: float  # share of specialty visits (primary care is chosen per patient)
    no_show_offset: float  # logit offset
    lead_scale: float  # how far ahead it is booked (busy specialties > 1)
    room_wait_min: float  # mean check-in to roomed at 8:00
    provider_wait_min: float  # mean roomed to provider at 8:00
    visit_min: int  # scheduled duration of a routine visit
    telehealth_share: float
    prior_auth_share: float  # referrals needing prior authorization


# fmt: off
DEPARTMENTS: tuple[Department, ...] = (
    #          id     name                       specialty               site           pc    share  ns     lead room prov min  tele  auth
    Department("D01", "Family Medicine - North", "family_medicine",       "North Campus", True,  0,    0.05,  0.8, 9,   11,  20, 0.12, 0.0),
    Department("D02", "Family Medicine - South", "family_medicine",       "South Campus", True,  0,    0.20,  0.8, 12,  13,  20, 0.12, 0.0),
    Department("D03", "Internal Medicine",       "internal_medicine",     "North Campus", True,  0,    0.0,   0.9, 10,  12,  20, 0.12, 0.0),
    Department("D04", "Pediatrics",              "pediatrics",            "South Campus", True,  0,    0.10,  0.7, 8,   10,  20, 0.06, 0.0),
    Department("D05", "Cardiology",              "cardiology",            "North Campus", False, 0.16, -0.25, 1.3, 14,  14,  30, 0.10, 0.30),
    Department("D06", "Dermatology",             "dermatology",           "South Campus", False, 0.13, 0.15,  2.0, 7,   9,   20, 0.08, 0.10),
    Department("D07", "Orthopedics",             "orthopedics",           "North Campus", False, 0.15, -0.10, 1.1, 12,  16,  20, 0.02, 0.40),
    Department("D08", "Behavioral Health",       "behavioral_health",     "South Campus", False, 0.14, 0.55,  1.4, 4,   6,   50, 0.45, 0.20),
    Department("D09", "Obstetrics & Gynecology", "obstetrics_gynecology", "North Campus", False, 0.12, 0.10,  1.0, 10,  12,  20, 0.05, 0.10),
    Department("D10", "Gastroenterology",        "gastroenterology",      "North Campus", False, 0.10, -0.30, 1.5, 15,  12,  30, 0.06, 0.45),
    Department("D11", "Endocrinology",           "endocrinology",         "South Campus", False, 0.10, 0.15,  1.6, 9,   12,  30, 0.15, 0.15),
    Department("D12", "Neurology",               "neurology",             "North Campus", False, 0.10, 0.20,  1.8, 11,  15,  40, 0.12, 0.35),
)
# fmt: on
DEPT_INDEX = {d.department_id: i for i, d in enumerate(DEPARTMENTS)}
N_DEPTS = len(DEPARTMENTS)


def dept_array(attr: str) -> np.ndarray:
    return np.array([getattr(d, attr) for d in DEPARTMENTS])


#: Specialties a primary-care clinician refers to; the last two exist only outside the network.
REFERRAL_SPECIALTIES = (
    ("cardiology", "D05", 0.16),
    ("dermatology", "D06", 0.13),
    ("orthopedics", "D07", 0.15),
    ("behavioral_health", "D08", 0.12),
    ("obstetrics_gynecology", "D09", 0.05),
    ("gastroenterology", "D10", 0.12),
    ("endocrinology", "D11", 0.09),
    ("neurology", "D12", 0.08),
    ("oncology", None, 0.05),
    ("rheumatology", None, 0.05),
)

#: Payers by payer class: (name, initial denial probability, allowed share of billed charges).
#: Denial rates 6-19%, anchored on CMS Transparency in Coverage (issuer median ~16%, wide spread).
PAYERS: dict[str, tuple[tuple[str, float, float], ...]] = {
    "commercial": (
        ("BlueCross Carolina", 0.09, 0.62),
        ("Aetna", 0.12, 0.60),
        ("UnitedHealthcare", 0.17, 0.58),
        ("Cigna", 0.13, 0.61),
    ),
    "medicare": (("Medicare Part B", 0.07, 0.45), ("Humana Medicare Advantage", 0.14, 0.47)),
    "medicaid": (("NC Medicaid", 0.14, 0.38), ("WellCare Medicaid", 0.16, 0.37)),
    "self_pay": (("Self-pay", 0.0, 0.35),),
    "other": (("TRICARE", 0.08, 0.52), ("Workers Compensation", 0.15, 0.70)),
}

FEMALE_FIRST = (
    "Mary Patricia Jennifer Linda Elizabeth Barbara Susan Jessica Sarah Karen Lisa Nancy Betty Sandra "
    "Margaret Ashley Kimberly Emily Donna Michelle Carol Amanda Melissa Deborah Stephanie Maria Sofia "
    "Camila Valentina Aaliyah Keisha Tamika Mei Linh Priya Aisha Fatima Olivia Emma Ava Mia Harper"
).split()
MALE_FIRST = (
    "James Robert John Michael David William Richard Joseph Thomas Christopher Charles Daniel Matthew "
    "Anthony Mark Donald Steven Andrew Kenneth Joshua Kevin Brian George Timothy Jose Luis Carlos Juan "
    "Miguel DeShawn Jamal Tyrone Wei Minh Raj Omar Ahmed Liam Noah Elijah Lucas Mason"
).split()
LAST_NAMES = (
    "Smith Johnson Williams Brown Jones Garcia Miller Davis Rodriguez Martinez Hernandez Lopez Gonzalez "
    "Wilson Anderson Thomas Taylor Moore Jackson Martin Lee Perez Thompson White Harris Sanchez Clark "
    "Ramirez Lewis Robinson Walker Young Allen King Wright Scott Torres Nguyen Hill Flores Green Adams "
    "Nelson Baker Hall Rivera Campbell Mitchell Carter Roberts Gomez Phillips Evans Turner Diaz Parker "
    "Cruz Edwards Collins Reyes Stewart Morris Morales Murphy Cook Rogers Gutierrez Ortiz Morgan Cooper "
    "Peterson Bailey Reed Kelly Howard Ramos Kim Cox Ward Richardson Watson Brooks Chavez Wood James "
    "Bennett Gray Mendoza Ruiz Hughes Price Alvarez Castillo Sanders Patel Myers Long Ross Foster Jimenez"
).split()

CATCHMENT_ZIP = 27500
KM_PER_ZIP_STEP = 0.5


@dataclass(frozen=True)
class World:
    """Departments and providers for a system of a given size."""

    providers: pl.DataFrame
    provider_offset: np.ndarray  # first provider index of each department
    provider_count: np.ndarray  # providers per department

    @property
    def departments(self) -> pl.DataFrame:
        return pl.DataFrame(
            {
                "department_id": [d.department_id for d in DEPARTMENTS],
                "name": [d.name for d in DEPARTMENTS],
                "specialty": [d.specialty for d in DEPARTMENTS],
                "site": [d.site for d in DEPARTMENTS],
            }
        )


def build_world(patients: int, seed: int) -> World:
    """Providers scale with the population (roughly one clinician per 900 patients a department)."""
    rng = rng_for(seed, 0, "reference")
    weights = np.array([0.30 if d.primary_care else d.share for d in DEPARTMENTS])
    counts = np.maximum(2, np.round(weights * patients / 900)).astype(np.int64)
    offsets = np.concatenate([[0], np.cumsum(counts)[:-1]])
    n = int(counts.sum())
    dept_of = np.repeat(np.arange(N_DEPTS), counts)
    first_pool = np.array(FEMALE_FIRST + MALE_FIRST)
    first = first_pool[rng.integers(0, len(first_pool), n)]
    last = np.array(LAST_NAMES)[rng.integers(0, len(LAST_NAMES), n)]
    providers = pl.DataFrame(
        [
            id_series("provider_id", "PR", np.arange(1, n + 1), 5),
            pl.Series("name", np.char.add(np.char.add(np.char.add("Dr. ", first), " "), last)),
            pl.Series("specialty", np.array([d.specialty for d in DEPARTMENTS])[dept_of]),
            pl.Series("department_id", np.array([d.department_id for d in DEPARTMENTS])[dept_of]),
        ]
    )
    return World(providers=providers, provider_offset=offsets, provider_count=counts)


@dataclass(frozen=True)
class Intervention:
    metric: str
    department_id: str
    day: int  # epoch day the change took effect
    title: str
    description: str

    def as_json(self) -> dict[str, Any]:
        return {
            "metric": self.metric,
            "department_id": self.department_id,
            "date": (dt.date(1970, 1, 1) + dt.timedelta(days=int(self.day))).isoformat(),
            "title": self.title,
            "description": self.description,
        }


def planted_interventions(window: Window) -> tuple[Intervention, Intervention]:
    """SMS reminders in Family Medicine North (60% through the history) and a second rooming
    station in Cardiology (45% through): real shifts for the QI charts to find."""
    sms_day = int(next_weekday(np.array([window.start_day + int(window.history_days * 0.6)]))[0])
    sms_day -= (sms_day + 3) % 7  # the Monday of that week
    room_day = int(next_weekday(np.array([window.start_day + int(window.history_days * 0.45)]))[0])
    room_day -= (room_day + 3) % 7
    return (
        Intervention(
            "no_show_rate",
            "D01",
            sms_day,
            "SMS appointment reminders start",
            "Family Medicine - North sends an SMS reminder two days before every visit to patients with "
            "a mobile number; no-shows drop.",
        ),
        Intervention(
            "cycle_time_minutes",
            "D05",
            room_day,
            "Second rooming station in Cardiology",
            "Cardiology adds a medical assistant and a second rooming station; waits from check-in to "
            "rooming fall by about half.",
        ),
    )
