"""Reusable page sections: a metric's headline, trend, breakdown and table, with its definition.

The family pages (access and flow, referrals, revenue, experience, transitions) are a metric picker
and a grouping picker around :func:`metric_panel`; everything here only arranges what
:mod:`carepulse.dashboard.data` computed and :mod:`carepulse.dashboard.charts` drew.
"""

from __future__ import annotations

import polars as pl
import streamlit as st

from carepulse.dashboard import charts, data, describe, ui
from carepulse.metrics import MetricDefinition

#: Groupings offered on the family pages: column -> label.
GROUPINGS: dict[str, str] = {
    "department": "Department",
    "site": "Site",
    "provider": "Provider",
    "payer_class": "Payer class",
    "visit_type": "Visit type",
    "modality": "Modality",
    "age_band": "Age band",
}

_LABEL_KEYS = {"department": "dept", "provider": "prov", "site": "site"}


def family_page(permission: str, title: str, blurb: str, *, families: tuple[str, ...], key: str) -> None:
    """A whole family page: the role check, a metric picker and a grouping picker, then
    :func:`metric_panel` (widget keys ``{key}.metric``, ``{key}.group`` and ``key``). The chosen
    metric and grouping are mirrored in the URL (``metric``, ``by``), so the view is a link."""
    user = ui.require(permission)
    run = ui.loaded_run_id()
    view = ui.current_filters()

    st.title(title)
    st.caption(f"{blurb} {view.describe()}.")
    left, right = st.columns(2)
    with left:
        definition = metric_picker(families, key=f"{key}.metric")
    with right:
        group = grouping_picker(definition, key=f"{key}.group", run=run)
    metric_panel(definition, run, view, user, group=group, key=key)


def labels_for(column: str, run: int) -> dict[str, str]:
    """Display names for a grouping's ids (department and provider names; ids are not PHI)."""
    key = _LABEL_KEYS.get(column)
    if key is None:
        return {}
    return data._filter_labels(data.warehouse_url(), run).get(key, {})


def annotations_for(
    metric: str, view, run: int | None = None, *, department: str | None = None, site: str | None = None
) -> pl.DataFrame:
    """Live annotations of ``metric`` whose scope covers this chart (the view, or one ``department``
    or ``site`` of it): system-wide ones always, a site's when the chart is limited to that site (or
    to departments of it), a department's only when the chart is limited to that department."""
    from carepulse.records.annotations import annotations_in_scope

    departments = (department,) if department else tuple(view.values("dept"))
    sites = {site} if site else set(view.values("site"))
    if departments and run is not None:
        names = labels_for("department", run)
        sites |= {names.get(d, "").rsplit("(", 1)[-1].rstrip(")") for d in departments}
    frame = annotations_in_scope(
        data.engine(), metric, departments=departments, sites=tuple(s for s in sites if s)
    )
    return frame.filter(pl.col("annotated_on").is_between(view.start, view.end))


def _seed_from_url(key: str, param: str, options: list[str]) -> None:
    if key not in st.session_state and st.query_params.get(param) in options:
        st.session_state[key] = st.query_params.get(param)


def metric_picker(family_names: tuple[str, ...], key: str):
    """A select box of the registered metrics of some families; returns the chosen definition."""
    from carepulse import metrics

    choices = [m.name for family in family_names for m in metrics.list_metrics(family)]
    if not choices:
        st.info("No metric of this family is registered.")
        st.stop()
    _seed_from_url(key, "metric", choices)
    chosen = st.selectbox("Metric", choices, format_func=lambda name: metrics.get_metric(name).title, key=key)
    st.query_params["metric"] = chosen
    return metrics.get_metric(chosen)


def grouping_picker(
    definition: MetricDefinition, key: str, default: str = "department", run: int | None = None
) -> str:
    """The groupings this metric's rows carry (discharges have no department, so none is offered)."""
    options = list(GROUPINGS)
    if run is not None:
        carried = data.metric_dimensions(definition.name, run)
        options = [g for g in options if g in carried] or options
    _seed_from_url(key, "by", options)
    if st.session_state.get(key) not in options:
        st.session_state.pop(key, None)
    if key not in st.session_state:  # a default only when neither the URL nor the user chose one
        st.session_state[key] = default if default in options else options[0]
    chosen: str = (
        st.selectbox("Compare by", options, format_func=lambda g: GROUPINGS.get(g, g), key=key) or options[0]
    )
    st.query_params["by"] = chosen
    return chosen


def headline(definition, frame: pl.DataFrame) -> None:
    """The metric's value for the whole view, with its counts (and which statistic, for times)."""
    statistic = f"{definition.statistic} " if definition.kind in ("time", "score", "duration") else ""
    label = f"{definition.title} ({statistic}{definition.unit})" if statistic else definition.title
    if frame.is_empty():
        st.metric(label, "n/a", help=ui.definition_text(definition))
        return
    row = frame.row(0, named=True)
    counts = (
        f"{row['numerator']:,.0f} / {row['denominator']:,.0f}"
        if row.get("numerator") is not None and row.get("denominator") is not None
        else (f"n = {row['n']:,}" if row.get("n") is not None else "suppressed (small count)")
    )
    st.metric(
        label, charts.format_value(row.get("value"), definition.unit), help=ui.definition_text(definition)
    )
    st.caption(counts)


def not_supplied_note(definition: MetricDefinition, run: int) -> bool:
    """Show "Not supplied: <reason>" when this load's data cannot support the metric (no extract, or
    its source column empty everywhere), instead of a 0 or an empty chart; True when it did."""
    reason = data.not_supplied(run).get(definition.name)
    if reason is None:
        return False
    st.metric(definition.title, "Not supplied", help=ui.definition_text(definition))
    st.info(f"Not supplied: {reason}", icon=":material/block:")
    return True


def _safe(
    definition, run: int, view, user, grains: list[str], *, period: bool
) -> tuple[str, pl.DataFrame, str]:
    """The finest of ``grains`` whose suppressed frame hides nothing (aggregate roles), and a note
    when it is not the first."""
    from carepulse.metrics.breakdowns import choose_safe_view, safer_grain, safer_view_note, suppressed_rows

    def frame_for(grain: str) -> pl.DataFrame:
        kwargs = {"period": grain} if period else {"by": (grain,)}
        raw = data.compute(
            definition.name, run, start=view.start, end=view.end, filters=view.metric_filters(), **kwargs
        )
        return ui.suppress(raw if period else raw.filter(pl.col(grain).is_not_null()), user)

    first = frame_for(grains[0])
    coarser = safer_grain(grains[0])
    if not ui.suppresses_small_cells(user) or suppressed_rows(first) == 0 or coarser not in grains:
        return grains[0], first, ""
    grain, frame = choose_safe_view([(grains[0], first), (coarser, frame_for(coarser))])
    if grain == grains[0]:
        return grain, frame, ""
    threshold = data.settings().small_cell_threshold
    return grain, frame, safer_view_note(grains[0], grain, suppressed_rows(first), threshold)


def metric_panel(definition, run: int, view, user, *, group: str, key: str) -> None:
    """Headline, trend with 95% interval, partial period and annotations, breakdown by ``group``
    (click a bar to drill into it), table. Aggregate roles get the nearest safe view (quarter for
    month, site for department) where small cells would blank the finer one."""
    from carepulse.dashboard import drill
    from carepulse.metrics.periods import mark_partial

    if not_supplied_note(definition, run):
        return
    small = data.settings().small_cell_threshold
    filters = view.metric_filters()
    with ui.friendly_errors(f"compute {definition.title.lower()}"):
        with st.spinner(f"Computing {definition.title.lower()}..."):
            total = ui.suppress(
                data.compute(definition.name, run, start=view.start, end=view.end, filters=filters), user
            )
            grain, trend_frame, trend_note = _safe(
                definition, run, view, user, ["month", "quarter"], period=True
            )
            group_grains = [group, "site"] if group == "department" else [group]
            shown_group, by_group, group_note = _safe(definition, run, view, user, group_grains, period=False)
        headline(definition, total)
        with st.expander("Definition: numerator, denominator, exclusions, source"):
            st.markdown(ui.definition_text(definition))
        if definition.category:
            _category_panel(definition, total, by_group, group, run, user, key)
            return
        target = data.settings().targets.get(definition.name)
        through = data.filter_options(run).last_date
        trend_frame = mark_partial(trend_frame, grain, through) if not trend_frame.is_empty() else trend_frame
        left, right = st.columns(2)
        with left:
            title = f"{definition.title} by {grain}"
            fig = charts.trend(
                trend_frame,
                title=title,
                unit=definition.unit,
                target=target,
                small=small,
                x_title=grain.capitalize(),
            )
            charts.add_annotations(fig, annotations_for(definition.name, view, run))
            ui.chart(
                fig,
                trend_frame,
                describe.trend_summary(trend_frame, title=title, unit=definition.unit),
                key=f"trend_{key}",
            )
            if trend_note:
                st.info(trend_note, icon=":material/info:")
        labels = labels_for(shown_group, run)
        with right:
            title = f"{definition.title} by {GROUPINGS.get(shown_group, shown_group).lower()}"
            fig = charts.bars(
                by_group,
                category=shown_group,
                title=title,
                unit=definition.unit,
                labels=labels,
                small=small,
                x_title=GROUPINGS.get(shown_group),
            )
            summary = describe.bars_summary(
                by_group, title=title, unit=definition.unit, category=shown_group, labels=labels
            )
            event = ui.chart(
                fig,
                by_group,
                summary + (" Choose a bar to see what is behind it." if "no values" not in summary else ""),
                key=f"bars_{key}",
                selectable=True,
            )
            if group_note:
                st.info(group_note, icon=":material/info:")
        chosen = drill.clicked(event, by_group, shown_group)
        if chosen is not None and chosen != drill.current(shown_group):
            drill.select(shown_group, chosen)
        drilled = drill.current(shown_group)
        if drilled is not None:
            with st.container(border=True):
                drill.panel(
                    definition, run, view, user, group=shown_group, value=drilled, labels=labels, key=key
                )
        table = describe.readable_table(by_group, {shown_group: labels}) if labels else by_group
        ui.table(table, f"{definition.name}_by_{shown_group}", user, key=f"table_{key}")


def _category_panel(definition, total, by_group, group, run, user, key) -> None:
    """Metrics with a category (denials by CARC, volumes by hour): a Pareto of the categories."""
    category = definition.category
    st.plotly_chart(
        charts.pareto(
            total,
            category=category,
            title=f"{definition.title}: Pareto by {category.replace('_', ' ')}",
            x_title=category.replace("_", " ").capitalize(),
        ),
        key=f"pareto_{key}",
    )
    ui.table(total, f"{definition.name}_by_{category}", user, key=f"table_{key}")
