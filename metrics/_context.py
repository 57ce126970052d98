"""What every metric module shares: the dimensions, the error type, the conventions and the context.

Kept apart from the registry and the compute engine so both (and every family module) can import
them without importing each other.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

import polars as pl

from carepulse.errors import CarePulseError

if TYPE_CHECKING:  # pragma: no cover
    from carepulse.settings import Settings

#: Columns every prepared frame carries (null where a dimension does not apply to a fact), so any
#: metric can be grouped or filtered by them.
DIMENSIONS: tuple[str, ...] = (
    "department",
    "site",
    "provider",
    "payer_class",
    "visit_type",
    "modality",
    "age_band",
    "sex",
    "race",
    "ethnicity",
)


class MetricError(CarePulseError):
    """A metric was asked for something it cannot do (unknown name, missing column or extract)."""


@dataclass(frozen=True)
class Conventions:
    """The settings a metric definition depends on (read from ``Settings`` by the caller)."""

    late_cancel_hours: int = 24
    count_late_cancels_as_no_shows: bool = False
    on_time_grace_minutes: int = 10

    @classmethod
    def from_settings(cls, settings: Settings | Conventions | None) -> Conventions:
        if settings is None:
            return cls()
        if isinstance(settings, Conventions):
            return settings
        default = cls()
        return cls(
            late_cancel_hours=getattr(settings, "late_cancel_hours", default.late_cancel_hours),
            count_late_cancels_as_no_shows=getattr(
                settings, "count_late_cancels_as_no_shows", default.count_late_cancels_as_no_shows
            ),
            on_time_grace_minutes=getattr(settings, "on_time_grace_minutes", default.on_time_grace_minutes),
        )


@dataclass(frozen=True)
class MetricContext:
    """What a unit-row function may read: the prepared frames, the conventions and the data's as-of."""

    frames: Mapping[str, pl.LazyFrame]
    conventions: Conventions
    as_of: dt.datetime | None

    def frame(self, name: str) -> pl.LazyFrame:
        try:
            return self.frames[name]
        except KeyError:
            raise MetricError(f"this metric needs the {name} extract, which was not loaded") from None
