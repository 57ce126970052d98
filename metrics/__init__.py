"""CarePulse metrics: the catalogue of standard care-coordination measures, as pure Polars functions.

Usage::

    from carepulse import metrics
    prepared = metrics.prepare(frames)            # join dimensions once
    metrics.compute("no_show_rate", prepared, by=["department"], period="month")
    metrics.compute_catalogue(prepared, by=["site"], start="2026-01-01", end="2026-06-30")
    metrics.suppress_metric_frame(frame, threshold=settings.small_cell_threshold)  # primary + complementary

Every metric is described by a :class:`MetricDefinition` in :data:`REGISTRY` (numerator,
denominator, exclusions, standard and source, better direction, default SPC chart); the family
modules register themselves on import. ``docs/metrics.md`` documents each one.
"""

# Importing a family registers its metrics; this order is the catalogue's order.
from carepulse.metrics import attendance  # noqa: F401, I001
from carepulse.metrics import flow  # noqa: F401
from carepulse.metrics import referrals  # noqa: F401
from carepulse.metrics import revenue  # noqa: F401
from carepulse.metrics import experience  # noqa: F401
from carepulse.metrics import transitions  # noqa: F401
from carepulse.metrics._compute import CATALOGUE_VALUE_COLUMNS, PERIODS, compute, compute_catalogue
from carepulse.metrics._context import DIMENSIONS, Conventions, MetricError
from carepulse.metrics._registry import (
    FAMILIES,
    REGISTRY,
    MetricDefinition,
    get_metric,
    list_metrics,
    register,
)
from carepulse.metrics._stats import wilson_interval
from carepulse.metrics.prepare import AGE_BANDS, prepare
from carepulse.metrics.small_cells import suppress_small_cells
from carepulse.metrics.suppression import suppress_metric_frame, suppress_table

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
    "suppress_metric_frame",
    "suppress_table",
    "wilson_interval",
]
