"""Small vectorised helpers shared by the generator modules: random streams, calendar, frames.

Times are carried as int64 seconds since 1970-01-01 in the site's local wall time (the contract's
naive datetimes); ``NA`` marks a missing time. Nothing here loops over rows.
"""

from __future__ import annotations

import calendar
import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import polars as pl

NA = np.int64(-(2**62))
MINUTE = 60
HOUR = 3600
DAY = 86_400

#: One independent random stream per purpose, so adding draws to one module never shifts another's.
_STREAMS = {
    name: i
    for i, name in enumerate(
        (
            "reference",
            "patients",
            "encounters",
            "scheduling",
            "attendance",
            "flow",
            "referrals",
            "referral_visits",
            "referral_attendance",
            "referral_flow",
            "claims",
            "surveys",
            "slots",
        )
    )
}


def rng_for(seed: int, chunk: int, stream: str) -> np.random.Generator:
    """The random stream for (seed, chunk of patients, purpose)."""
    return np.random.default_rng(np.random.SeedSequence([int(seed), int(chunk), _STREAMS[stream]]))


def epoch_day(day: dt.date) -> int:
    return (day - dt.date(1970, 1, 1)).days


def weekday(days: np.ndarray) -> np.ndarray:
    """Monday = 0 ... Sunday = 6 (1970-01-01 was a Thursday)."""
    return (days + 3) % 7


def next_weekday(days: np.ndarray) -> np.ndarray:
    """Move Saturdays and Sundays forward to Monday: clinics are open on weekdays."""
    wd = weekday(days)
    return days + np.where(wd == 5, 2, np.where(wd == 6, 1, 0))


def sigmoid(x: np.ndarray) -> np.ndarray:
    out: np.ndarray = 1.0 / (1.0 + np.exp(-x))
    return out


def choice(rng: np.random.Generator, n: int, probabilities: Sequence[float] | np.ndarray) -> np.ndarray:
    """n category codes drawn from one probability vector."""
    p = np.asarray(probabilities, dtype=float)
    return np.searchsorted(np.cumsum(p / p.sum()), rng.random(n), side="right").clip(0, len(p) - 1)


def choice_rows(rng: np.random.Generator, weights: np.ndarray) -> np.ndarray:
    """One category code per row of a (rows x categories) weight matrix."""
    cum = np.cumsum(weights, axis=1)
    u = rng.random(len(weights)) * cum[:, -1]
    codes: np.ndarray = (cum < u[:, None]).sum(axis=1).clip(0, weights.shape[1] - 1)
    return codes


def gamma_minutes(rng: np.random.Generator, mean: np.ndarray, shape: float = 2.0) -> np.ndarray:
    """Right-skewed positive durations (minutes) with the given means."""
    return rng.gamma(shape, np.asarray(mean, dtype=float) / shape)


@dataclass(frozen=True)
class Window:
    """The simulated calendar: history of ``months`` up to the extract cut-off, and the booked future.

    The extract is taken at the end of ``as_of`` (``cutoff`` = midnight after it): visits before the
    cut-off have their final state, visits after it are still ``scheduled``.
    """

    as_of: dt.date
    months: int
    future_days: int = 30

    @property
    def start_date(self) -> dt.date:
        """The day after the same date ``months`` months before ``as_of``."""
        index = self.as_of.year * 12 + self.as_of.month - 1 - self.months
        year, month = divmod(index, 12)
        day = min(self.as_of.day, calendar.monthrange(year, month + 1)[1])
        return dt.date(year, month + 1, day) + dt.timedelta(days=1)

    @property
    def start_day(self) -> int:
        return epoch_day(self.start_date)

    @property
    def cutoff_day(self) -> int:
        return epoch_day(self.as_of) + 1

    @property
    def cutoff(self) -> int:
        return self.cutoff_day * DAY

    @property
    def end_day(self) -> int:
        """First day no longer scheduled (the booked future runs ``future_days`` past the cut-off)."""
        return self.cutoff_day + self.future_days

    @property
    def history_days(self) -> int:
        return self.cutoff_day - self.start_day


# --- frames ---------------------------------------------------------------------------------------


def datetime_series(name: str, seconds: np.ndarray) -> pl.Series:
    """Seconds (``NA`` = missing) as a Datetime('us') Series."""
    seconds = np.asarray(seconds, dtype=np.int64)
    s = pl.Series(name, seconds * 1_000_000, dtype=pl.Int64)
    missing = np.flatnonzero(seconds == NA)
    if len(missing):
        s = s.scatter(missing, None)
    return s.cast(pl.Datetime("us"))


def date_series(name: str, days: np.ndarray) -> pl.Series:
    return pl.Series(name, np.asarray(days, dtype=np.int32)).cast(pl.Date)


def id_series(name: str, prefix: str, numbers: np.ndarray, width: int) -> pl.Series:
    """Identifiers like ``A000000123``; a negative number is a missing id."""
    numbers = np.asarray(numbers, dtype=np.int64)
    s = pl.Series(name, numbers).cast(pl.String).str.zfill(width)
    s = (prefix + s).alias(name) if prefix else s
    missing = np.flatnonzero(numbers < 0)
    if len(missing):
        s = s.scatter(missing, None)
    return s


def label_series(name: str, labels: Sequence[str], codes: np.ndarray) -> pl.Series:
    """Category labels by code; a negative code is missing."""
    codes = np.asarray(codes, dtype=np.int64)
    table = pl.Series(name, [*labels, None], dtype=pl.String)
    return table.gather(np.where(codes < 0, len(labels), codes)).alias(name)


def float_series(name: str, values: np.ndarray) -> pl.Series:
    """Floats where NaN is missing, rounded to cents."""
    return pl.Series(name, np.round(np.asarray(values, dtype=float), 2), nan_to_null=True)


def take(columns: dict[str, np.ndarray], index: np.ndarray) -> dict[str, np.ndarray]:
    return {k: v[index] for k, v in columns.items()}


def concat(parts: list[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    keys = parts[0].keys()
    return {k: np.concatenate([p[k] for p in parts]) for k in keys}


def lookup(numbers: np.ndarray, index: np.ndarray) -> np.ndarray:
    """numbers[index] where index >= 0, else -1 (safe when ``numbers`` is empty)."""
    index = np.asarray(index, dtype=np.int64)
    if len(numbers) == 0:
        return np.full(len(index), -1, dtype=np.int64)
    return np.where(index >= 0, numbers[np.maximum(index, 0)], -1)
