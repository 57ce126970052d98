"""Drill-down: a clicked bar opens the breakdown behind it, with breadcrumbs and a shareable URL.

The drilled-into unit lives in the URL as ``drill=<dimension>:<id>`` (ids of departments, sites,
providers, payer classes: never anything about a patient), so a drilled view is a link. Roles that
may see patients also get the appointments behind the bar (no names or contact details; each
opening is audited).
"""

from __future__ import annotations

import polars as pl
import streamlit as st

from carepulse.dashboard import charts, data, describe, ui
from carepulse.metrics.breakdowns import DRILL_DIMENSIONS, appointments_behind

PARAM = "drill"

DIMENSION_LABELS = {
    "department": "Department",
    "site": "Site",
    "provider": "Provider",
    "weekday": "Weekday",
    "payer_class": "Payer class",
    "visit_type": "Visit type",
    "modality": "Modality",
    "age_band": "Age band",
}


def current(group: str) -> str | None:
    """The unit of ``group`` drilled into, from the URL (None when the URL drills elsewhere)."""
    raw = st.query_params.get(PARAM)
    if not raw or ":" not in raw:
        return None
    dimension, value = raw.split(":", 1)
    return value if dimension == group and value else None


def select(group: str, value: str | None) -> None:
    """Drill into ``value`` of ``group`` (None: back to all units); kept in the URL."""
    if value is None:
        if PARAM in st.query_params:
            del st.query_params[PARAM]
    else:
        st.query_params[PARAM] = f"{group}:{value}"


def clicked(event, frame: pl.DataFrame, category: str) -> str | None:
    """The category id of the clicked bar in a ``st.plotly_chart(on_select="rerun")`` event."""
    points = ((event or {}).get("selection") or {}).get("points") or []
    if not points:
        return None
    point = points[0]
    index = point.get("point_index", point.get("point_number"))
    custom = point.get("customdata")
    if isinstance(custom, list | tuple) and custom:
        return str(custom[0])
    if isinstance(custom, str):
        return custom
    ordered = frame.filter(pl.col(category).is_not_null()).sort("value", descending=False, nulls_last=False)
    if index is not None and 0 <= int(index) < ordered.height:
        return str(ordered.get_column(category)[int(index)])
    return None


def panel(
    definition, run: int, view, user, *, group: str, value: str, labels: dict[str, str], key: str
) -> None:
    """Breadcrumbs, the drilled unit broken down by another dimension, and (patient roles) its visits."""
    name = labels.get(value, value)
    crumbs, back = st.columns([5, 1])
    crumbs.markdown(
        f"**{definition.title}** › {DIMENSION_LABELS.get(group, group)}: **{name}**",
        help="The breakdown behind the bar you chose; the URL links to this view.",
    )
    if back.button("Back to all", key=f"{key}.back", icon=":material/arrow_back:"):
        select(group, None)
        st.rerun()
    filters = view.metric_filters() | {group: [value]}
    options = [
        d for d in DRILL_DIMENSIONS if d != group and d in data.metric_dimensions(definition.name, run)
    ]
    if not options:
        st.caption("This metric has no other breakdown.")
        return
    by = (
        st.segmented_control(
            "Break down by",
            options,
            default=options[0],
            format_func=lambda d: DIMENSION_LABELS.get(d, d),
            key=f"{key}.by",
        )
        or options[0]
    )
    with st.spinner(f"Breaking {name} down by {DIMENSION_LABELS[by].lower()}..."):
        frame = data.compute(definition.name, run, by=(by,), start=view.start, end=view.end, filters=filters)
    frame = ui.suppress(frame, user)
    by_labels = _labels(by, run)
    shown = describe.readable_table(frame, {by: by_labels})
    title = f"{definition.title}: {name} by {DIMENSION_LABELS[by].lower()}"
    fig = charts.bars(
        shown, category=by, title=title, unit=definition.unit, small=data.settings().small_cell_threshold
    )
    summary = describe.bars_summary(shown, title=title, unit=definition.unit, category=by)
    ui.chart(fig, shown, summary, key=f"{key}.drill_chart")
    if ui.can(user, "view:phi") and definition.frame == "appointments":
        _appointments(definition, run, view, user, filters, name, key)


def _labels(dimension: str, run: int) -> dict[str, str]:
    key = {"department": "dept", "provider": "prov", "site": "site"}.get(dimension)
    return data.filter_options(run).labels.get(key, {}) if key else {}


def _appointments(definition, run, view, user, filters, name: str, key: str) -> None:
    if not st.toggle(f"Show the appointments behind {name}", key=f"{key}.behind"):
        return
    rows = appointments_behind(
        data.frames(run)["appointments"], filters=filters, start=view.start, end=view.end
    )
    from carepulse.access import record

    record(
        data.engine(),
        getattr(user, "username", None),
        "page.view",
        target=f"appointments behind {definition.name}",
        detail={"filters": {k: list(v) for k, v in filters.items()}},
        rows=rows.height,
    )
    st.caption(
        f"The {rows.height:,} most recent appointments in this view (at most 500); opening this list is audited."
    )
    ui.table(rows, f"{definition.name}_appointments", user, key=f"{key}.behind_table")
