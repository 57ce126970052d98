"""What the QI page and the meeting pack chart: a metric's series, its SPC result and annotations.

One function, :func:`spc_view`, so the on-screen chart and the meeting pack's chart of the same
metric and view are the same computation.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import polars as pl

from carepulse.dashboard import charts, data, spc_chart, ui

if TYPE_CHECKING:  # pragma: no cover
    import plotly.graph_objects as go

    from carepulse.metrics import MetricDefinition
    from carepulse.metrics.spc import SPCResult


@dataclass(frozen=True)
class SPCView:
    definition: MetricDefinition
    series: pl.DataFrame  # metrics.compute(..., period=...) for the view (suppressed if needed)
    result: SPCResult | None  # metrics.spc.SPCResult on the unsuppressed series, None when too few points
    annotations: pl.DataFrame
    period: str
    scope: str  # words: "all departments", "department Cardiology (North)"

    def figure(self, *, small: int | None = None) -> go.Figure:
        unit = self.definition.unit
        title = f"{self.definition.title}, by {self.period} ({self.scope})"
        x_title = "Week starting" if self.period == "week" else "Month"
        if self.result is None:
            fig = charts.trend(self.series, title=title, unit=unit, small=small, x_title=x_title)
            return charts.add_annotations(fig, self.annotations)
        points = self.result.points
        counts = [c for c in ("numerator", "denominator", "n") if c in self.series.columns]
        shown = self.series.select(pl.col("period").alias("x"), *counts, pl.col("value").alias("_shown"))
        # Limits come from every period; a period whose value is suppressed for this role is not drawn,
        # nor are its limits: a P chart's limits p̄ ± 3√(p̄(1 − p̄)/n) would give its n back.
        hidden = pl.col("_shown").is_null()
        joined = (
            points.drop("n")
            .join(shown, on="x", how="left")
            .with_columns(
                pl.when(~hidden).then(pl.col(c)).alias(c) for c in ("value", "lcl", "ucl", "lcl_2s", "ucl_2s")
            )
            .drop("_shown")
        )
        return spc_chart.spc(
            joined,
            title=title,
            unit=unit,
            annotations=self.annotations,
            target=self.result.target,
            small=small,
            x_title=x_title,
        )


def spc_view(
    definition,
    run: int,
    view,
    user,
    *,
    period: str = "week",
    group: str | None = None,
    group_value: str | None = None,
    scope: str = "all",
    use_phases: bool = True,
) -> SPCView:
    """The series, SPC result and annotations of ``definition`` for the sidebar view (optionally
    narrowed to one value of a grouping). Annotations that start a phase restart the limits."""
    from carepulse.dashboard.sections import annotations_for
    from carepulse.metrics.kpis import spc_arguments
    from carepulse.metrics.spc import incomplete_periods, spc

    filters = dict(view.metric_filters())
    if group and group_value is not None:
        filters[group] = [group_value]
    raw = data.compute(definition.name, run, period=period, start=view.start, end=view.end, filters=filters)
    raw = raw.sort("period")
    series = ui.suppress(raw, user)
    annotations = annotations_for(
        definition.name,
        view,
        run,
        department=group_value if group == "department" else None,
        site=group_value if group == "site" else None,
    )
    phases = None
    if use_phases and not annotations.is_empty():
        # A department's change restarts the limits only on a chart of that department alone; on wider
        # charts it is a marker (the other departments did not change).
        charted = (
            {group_value} if group == "department" and group_value is not None else set(view.values("dept"))
        )
        scoped = pl.col("department_id").is_null()  # system- and site-wide (in scope, so this site)
        if len(charted) == 1:
            scoped = scoped | pl.col("department_id").is_in(list(charted))
        starts = annotations.filter(pl.col("starts_phase") & scoped).get_column("annotated_on").to_list()
        phases = sorted(set(starts)) or None
    target = data.settings().targets.get(definition.name)
    # The limits read every period, small ones included: dropping the periods with 1-10 events (what
    # suppression hides) would keep only the zero and the large ones and bias the centre line. Limits
    # reveal no count; the suppressed points themselves are not drawn (SPCView.figure).
    usable = raw.filter(pl.col("value").is_not_null())
    result = None
    if usable.height >= 3:
        # the current week or month is not over: flagged, drawn hollow, left out of limits and rules
        # (data end: the warehouse's as-of date, or the view's end if earlier)
        ends = [d for d in (view.end, data.filter_options(run).last_date) if d is not None]
        partial = incomplete_periods(usable["period"], period, min(ends) if ends else None)
        result = spc(usable, **spc_arguments(definition, target=target, phases=phases, partial=partial))
    return SPCView(definition, series, result, annotations, period, scope)
