"""CarePulse metrics: the catalogue of standard care-coordination measures, as pure Polars functions.

Usage::

    import metrics
    prepared = metrics.prepare(frames)            # join dimensions once
    metrics.compute("no_show_rate", prepared, by=["department"], period="month")
    metrics.compute_catalogue(prepared, by=["site"], start="2026-01-01", end="2026-06-30")
    metrics.suppress_small_cells(frame, threshold=settings.small_cell_threshold)

Every metric is described by a :class:`MetricDefinition` in :data:`REGISTRY` (numerator,
denominator, exclusions, standard and source, better direction, default SPC chart); the family
modules register themselves on import. ``docs/metrics.md`` documents each one.
"""

# Importing a family registers its metrics; this order is the catalogue's order.
from metrics import attendance  # noqa: F401, I001
from metrics import flow  # noqa: F401
from metrics import referrals  # noqa: F401
from metrics import revenue  # noqa: F401
from metrics import experience  # noqa: F401
from metrics import transitions  # noqa: F401
from metrics._compute import CATALOGUE_VALUE_COLUMNS, PERIODS, Conventions, compute, compute_catalogue
from metrics._registry import (
    DIMENSIONS,
    FAMILIES,
    REGISTRY,
    MetricDefinition,
    MetricError,
    get_metric,
    list_metrics,
    register,
)
from metrics._stats import wilson_interval
from metrics.prepare import AGE_BANDS, prepare
from metrics.small_cells import suppress_small_cells

__all__ = [
    "AGE_BANDS",
    "CATALOGUE_VALUE_COLUMNS",
    "DIMENSIONS",
    "FAMILIES",
    "PERIODS",
    "REGISTRY",
    "Conventions",
    "MetricDefinition",
    "MetricError",
    "compute",
    "compute_catalogue",
    "get_metric",
    "list_metrics",
    "prepare",
    "register",
    "suppress_small_cells",
    "wilson_interval",
]
