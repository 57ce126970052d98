"""Reusable page sections: a metric's headline, trend, breakdown and table, with its definition.

The family pages (access and flow, referrals, revenue, experience, transitions) are a metric picker
and a grouping picker around :func:`metric_panel`; everything here only arranges what
:mod:`carepulse.dashboard.data` computed and :mod:`carepulse.dashboard.charts` drew.
"""

from __future__ import annotations

import polars as pl
import streamlit as st

from carepulse.dashboard import charts, data, ui

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
    :func:`metric_panel` (widget keys ``{key}.metric``, ``{key}.group`` and ``key``)."""
    user = ui.require(permission)
    run = ui.loaded_run_id()
    view = ui.current_filters()

    st.title(title)
    st.caption(f"{blurb} {view.describe()}.")
    left, right = st.columns(2)
    with left:
        definition = metric_picker(families, key=f"{key}.metric")
    with right:
        group = grouping_picker(definition, key=f"{key}.group")
    metric_panel(definition, run, view, user, group=group, key=key)


def labels_for(column: str, run: int) -> dict[str, str]:
    """Display names for a grouping's ids (department and provider names; ids are not PHI)."""
    key = _LABEL_KEYS.get(column)
    if key is None:
        return {}
    return data._filter_labels(data.warehouse_url(), run).get(key, {})


def annotations_for(metric: str, view) -> pl.DataFrame:
    """Live annotations of ``metric`` that belong on charts of this view."""
    from carepulse.records.annotations import list_annotations

    departments = view.values("dept") or None
    frame = list_annotations(data.engine(), metric, department_ids=list(departments) if departments else None)
    return frame.filter(pl.col("annotated_on").is_between(view.start, view.end))


def metric_picker(family_names: tuple[str, ...], key: str):
    """A select box of the registered metrics of some families; returns the chosen definition."""
    from carepulse import metrics

    choices = [m.name for family in family_names for m in metrics.list_metrics(family)]
    if not choices:
        st.info("No metric of this family is registered.")
        st.stop()
    chosen = st.selectbox("Metric", choices, format_func=lambda name: metrics.get_metric(name).title, key=key)
    return metrics.get_metric(chosen)


def grouping_picker(definition, key: str, default: str = "department") -> str:
    options = list(GROUPINGS)
    return st.selectbox(
        "Compare by", options, index=options.index(default), format_func=GROUPINGS.__getitem__, key=key
    )


def headline(definition, frame: pl.DataFrame) -> None:
    """The metric's value for the whole view, with its counts."""
    if frame.is_empty():
        st.metric(definition.title, "n/a", help=ui.definition_text(definition))
        return
    row = frame.row(0, named=True)
    counts = (
        f"{row['numerator']:,.0f} / {row['denominator']:,.0f}"
        if row.get("numerator") is not None and row.get("denominator") is not None
        else (f"n = {row['n']:,}" if row.get("n") is not None else "suppressed (small count)")
    )
    st.metric(
        definition.title,
        charts.format_value(row.get("value"), definition.unit),
        help=ui.definition_text(definition),
    )
    st.caption(counts)


def metric_panel(definition, run: int, view, user, *, group: str, key: str) -> None:
    """Headline, monthly trend with 95% interval and annotations, breakdown by ``group``, table."""
    small = data.settings().small_cell_threshold
    filters = view.metric_filters()
    with ui.friendly_errors(f"compute {definition.title.lower()}"):
        with st.spinner(f"Computing {definition.title.lower()}..."):
            total = data.compute(definition.name, run, start=view.start, end=view.end, filters=filters)
            monthly = data.compute(
                definition.name, run, period="month", start=view.start, end=view.end, filters=filters
            )
            by_group = data.compute(
                definition.name, run, by=(group,), start=view.start, end=view.end, filters=filters
            )
        total, monthly, by_group = (ui.suppress(f, user) for f in (total, monthly, by_group))
        headline(definition, total)
        with st.expander("Definition: numerator, denominator, exclusions, source"):
            st.markdown(ui.definition_text(definition))
        if definition.category:
            _category_panel(definition, total, by_group, group, run, user, key)
            return
        target = data.settings().targets.get(definition.name)
        left, right = st.columns(2)
        with left:
            fig = charts.trend(
                monthly,
                title=f"{definition.title} by month",
                unit=definition.unit,
                target=target,
                small=small,
            )
            charts.add_annotations(fig, annotations_for(definition.name, view))
            st.plotly_chart(fig, key=f"trend_{key}")
        with right:
            labels = labels_for(group, run)
            shown = by_group.filter(pl.col(group).is_not_null())
            st.plotly_chart(
                charts.bars(
                    shown,
                    category=group,
                    title=f"{definition.title} by {GROUPINGS[group].lower()}",
                    unit=definition.unit,
                    labels=labels,
                    small=small,
                    x_title=GROUPINGS[group],
                ),
                key=f"bars_{key}",
            )
        table = by_group
        if group in _LABEL_KEYS:
            labels = labels_for(group, run)
            table = by_group.with_columns(
                pl.col(group).replace_strict(labels, default=pl.col(group)).alias(f"{group}_name")
            )
        ui.table(table, f"{definition.name}_by_{group}", user, key=f"table_{key}")


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
