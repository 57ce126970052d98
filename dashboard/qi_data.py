"""What the QI page and the meeting pack chart: a metric's series, its SPC result and annotations.

One function, :func:`spc_view`, so the on-screen chart and the meeting pack's chart of the same
metric and view are the same computation.
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from carepulse.dashboard import charts, data, spc_chart, ui


@dataclass(frozen=True)
class SPCView:
    definition: object
    series: pl.DataFrame  # metrics.compute(..., period=...) for the view (suppressed if needed)
    result: object | None  # metrics.spc.SPCResult on the unsuppressed series, None when too few points
    annotations: pl.DataFrame
    period: str
    scope: str  # words: "all departments", "department Cardiology (North)"

    def figure(self, *, small: int | None = None):
        unit = self.definition.unit
        title = f"{self.definition.title}, by {self.period} ({self.scope})"
        x_title = "Week starting" if self.period == "week" else "Month"
        if self.result is None:
            fig = charts.trend(self.series, title=title, unit=unit, small=small, x_title=x_title)
            return charts.add_annotations(fig, self.annotations)
        points = self.result.points
        counts = [c for c in ("numerator", "denominator", "n") if c in self.series.columns]
        shown = self.series.select(pl.col("period").alias("x"), *counts, pl.col("value").alias("_shown"))
        # Limits come from every period; a period whose value is suppressed for this role is not drawn.
        joined = (
            points.drop("n")
            .join(shown, on="x", how="left")
            .with_columns(pl.when(pl.col("_shown").is_not_null()).then(pl.col("value")).alias("value"))
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
    from carepulse.metrics.spc import spc

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
        result = spc(usable, **spc_arguments(definition, target=target, phases=phases))
    return SPCView(definition, series, result, annotations, period, scope)
