"""The metric registry: every metric CarePulse computes, described as data.

Each family module declares its metrics with :func:`metric`, a decorator that records a
:class:`MetricDefinition` next to the function building the metric's *unit rows* (one row per
appointment, referral, claim, survey answer, discharge or slot snapshot, with the dimension columns,
a ``_date`` and the measured quantity). The CLI, the dashboard, ``docs/metrics.md`` and the tests
all iterate over :data:`REGISTRY`; nothing lists metrics by hand.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from carepulse.metrics._context import MetricError

if TYPE_CHECKING:  # pragma: no cover
    import polars as pl

    from carepulse.metrics._context import MetricContext

Kind = Literal["rate", "time", "count", "score"]
Better = Literal["lower", "higher", "neutral"]
Chart = Literal["p", "u", "i", "run"]

FAMILIES: dict[str, str] = {
    "attendance": "Access and attendance",
    "flow": "Patient flow",
    "referrals": "Referrals",
    "revenue": "Revenue cycle",
    "experience": "Patient experience",
    "transitions": "Care transitions",
}


@dataclass(frozen=True)
class MetricDefinition:
    """What a metric measures and how: everything a QI meeting needs to trust the number.

    ``kind``: ``rate`` (numerator / denominator with a 95% Wilson interval, or a dollar share when
    ``weighted``), ``time`` (a duration: n, median, p90, mean), ``score`` (a 0-100 mean: same
    columns as time, headline = mean) or ``count`` (n per group; with ``category`` also each
    category's share of its group, Pareto order). ``better`` is ``lower``, ``higher`` or ``neutral``
    (volumes). ``spc_chart`` is the default chart: ``p`` for rates, ``i`` (XmR) for times and scores,
    ``u``/``run`` for counts.
    """

    name: str
    title: str
    family: str
    kind: Kind
    unit: str
    numerator: str
    denominator: str
    definition: str
    exclusions: str
    better: Better
    standard: str
    source: str
    spc_chart: Chart
    frame: str  # the prepared frame the unit rows come from
    date_basis: str  # what the date range and period refer to
    short_name: str = ""
    statistic: Literal["median", "mean"] = "median"  # headline ``value`` of time/score metrics
    weighted: bool = False  # rate of amounts (dollars): no Wilson interval
    composite: bool = False  # value = mean of its items' scores (AHRQ CAHPS); units carry ``_item``
    category: str | None = None  # a column always grouped by (volumes by hour, denials by payer)
    extra_frames: tuple[str, ...] = ()  # other prepared frames the metric reads
    #: Columns of ``frame`` that must hold values for the metric to mean anything; when all are null the
    #: metric is "not supplied" (a scheduling export without check-in times has no cycle time).
    source_columns: tuple[str, ...] = ()
    units: Callable[[MetricContext], pl.LazyFrame] | None = field(default=None, repr=False, compare=False)

    @property
    def target_key(self) -> str:
        """The ``settings.targets`` key for this metric (its name)."""
        return self.name

    @property
    def frames(self) -> tuple[str, ...]:
        """Every prepared frame this metric needs."""
        return (self.frame, *self.extra_frames)


#: Every registered metric by name, in registration (family, then catalogue) order.
REGISTRY: dict[str, MetricDefinition] = {}


def register(definition: MetricDefinition) -> MetricDefinition:
    """Add a metric to the registry (the same path built-in and extension metrics take)."""
    if definition.name in REGISTRY:
        raise ValueError(f"metric {definition.name!r} is already registered")
    if definition.family not in FAMILIES:
        raise ValueError(f"metric {definition.name!r}: unknown family {definition.family!r}")
    if definition.units is None:
        raise ValueError(f"metric {definition.name!r} has no unit-row function")
    REGISTRY[definition.name] = definition
    return definition


def metric(
    **attributes: Any,
) -> Callable[[Callable[[MetricContext], pl.LazyFrame]], Callable[[MetricContext], pl.LazyFrame]]:
    """Decorator: register the decorated unit-row function under ``attributes['name']``.

    The function takes a :class:`~carepulse.metrics._compute.MetricContext` and returns a LazyFrame with the
    dimension columns, ``_date`` (Date; prepared frames carry it, with ``_week``/``_month``) and, by kind: ``_num``/``_den`` (rate; ``_num_n`` too when
    weighted), ``_x`` (time/score), nothing more (count); plus the ``category`` column if any.
    """

    def decorate(
        function: Callable[[MetricContext], pl.LazyFrame],
    ) -> Callable[[MetricContext], pl.LazyFrame]:
        attributes.setdefault("short_name", attributes["title"])
        register(MetricDefinition(units=function, **attributes))
        return function

    return decorate


def get_metric(name: str) -> MetricDefinition:
    """The definition of one metric; a :class:`MetricError` listing close names if unknown."""
    try:
        return REGISTRY[name]
    except KeyError:
        import difflib

        close = difflib.get_close_matches(name, REGISTRY, n=3)
        hint = f" (did you mean {', '.join(close)}?)" if close else ""
        raise MetricError(f"unknown metric {name!r}{hint}") from None


def list_metrics(family: str | None = None) -> list[MetricDefinition]:
    """Registered metrics, optionally of one family, in catalogue order."""
    if family is not None and family not in FAMILIES:
        raise MetricError(f"unknown metric family {family!r}; known: {', '.join(FAMILIES)}")
    return [m for m in REGISTRY.values() if family is None or m.family == family]
