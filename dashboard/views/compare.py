"""Compare units: a scorecard (units x headline measures with NHS variation and assurance icons) and a
funnel plot (units of different sizes against the overall proportion), rather than league tables."""

from __future__ import annotations

import polars as pl
import streamlit as st

from carepulse import metrics
from carepulse.dashboard import charts, charts_compare, data, describe, mdc_icons, sections, ui
from carepulse.metrics.funnel import funnel_curve, funnel_points
from carepulse.metrics.kpis import KPI_METRICS
from carepulse.metrics.scorecard import scorecard

user = ui.require("page:overview")
run = ui.loaded_run_id()
view = ui.current_filters()

st.title("Compare units")
st.caption(
    f"Departments, sites or providers side by side: {view.describe()}; prior = the {view.days} days before."
)
UNITS = {"department": "Departments", "site": "Sites", "provider": "Providers"}
if "cmp.unit" not in st.session_state and st.query_params.get("unit") in UNITS:
    st.session_state["cmp.unit"] = st.query_params.get("unit")
unit = st.segmented_control(
    "Compare", list(UNITS), format_func=lambda u: UNITS.get(u, u), default="department", key="cmp.unit"
)
unit = unit or "department"
st.query_params["unit"] = unit
labels = sections.labels_for(unit, run)
filters = view.metric_filters()
previous = view.previous()
through = data.filter_options(run).last_date

score_tab, funnel_tab = st.tabs(["Scorecard", "Funnel plot"])
with score_tab, ui.friendly_errors("build the scorecard"):
    with st.spinner("Computing the scorecard..."):
        args = dict(by=(unit,), filters=filters)
        current = ui.suppress(data.catalogue(KPI_METRICS, run, start=view.start, end=view.end, **args), user)
        prior = ui.suppress(
            data.catalogue(KPI_METRICS, run, start=previous.start, end=previous.end, **args), user
        )
        # Icons read the weekly series unsuppressed (an icon reveals no count), as on the Overview.
        weekly = data.catalogue(KPI_METRICS, run, period="week", start=view.start, end=view.end, **args)
        card = scorecard(
            current,
            prior,
            weekly,
            unit=unit,
            metric_names=KPI_METRICS,
            targets=data.settings().targets,
            data_through=through,
        )
    chosen = st.multiselect(
        "Measures",
        list(KPI_METRICS),
        default=list(KPI_METRICS[:3]),
        format_func=lambda m: metrics.get_metric(m).title,
        key="cmp.measures",
    )
    card = card.filter(pl.col("metric").is_in(chosen or list(KPI_METRICS)))
    rows = []
    for row in card.iter_rows(named=True):
        definition = metrics.get_metric(row["metric"])
        v_icon, v_words = mdc_icons.variation_icon(row["variation"], row["direction"])
        a_icon, a_words = mdc_icons.assurance_icon(row["assurance"])
        rows.append(
            {
                "Unit": labels.get(row["unit_id"], row["unit_id"]),
                "Measure": definition.title,
                "Current": charts.format_value(row["value"], definition.unit),
                "Prior": charts.format_value(row["previous"], definition.unit),
                "Target": charts.format_value(row["target"], definition.unit)
                if row["target"] is not None
                else "none",
                "Variation": v_icon,
                "Variation means": v_words,
                "Assurance": a_icon,
                "Assurance means": a_words,
            }
        )
    table = pl.DataFrame(rows, schema={k: pl.String for k in (rows[0] if rows else {"Unit": 0})})
    st.caption(
        f"{card.get_column('unit_id').n_unique() if card.height else 0} units; icons as NHS Making Data "
        "Count draws them, from each unit's weekly series (the incomplete last week left out)."
    )
    if table.is_empty():
        st.info("No unit has values in this view: widen the dates or clear some filters.")
    else:
        st.dataframe(
            table,
            hide_index=True,
            key="cmp.scorecard",
            column_config={
                "Variation": st.column_config.ImageColumn("Variation", width="small"),
                "Assurance": st.column_config.ImageColumn("Assurance", width="small"),
            },
        )
        ui.download_table(card, f"scorecard_by_{unit}", user, key="cmp.scorecard")

with funnel_tab, ui.friendly_errors("draw the funnel plot"):
    rates = [
        m for m in KPI_METRICS if metrics.get_metric(m).kind == "rate" and not metrics.get_metric(m).weighted
    ]
    name = st.selectbox(
        "Measure", rates, format_func=lambda m: metrics.get_metric(m).title, key="cmp.funnel_metric"
    )
    definition = metrics.get_metric(name)
    with st.spinner("Computing the funnel..."):
        frame = data.compute(name, run, by=(unit,), start=view.start, end=view.end, filters=filters)
    frame = ui.suppress(frame.filter(pl.col(unit).is_not_null()), user)
    hidden = int(frame.get_column("suppressed").sum()) if "suppressed" in frame.columns else 0
    frame = frame.filter(pl.col("numerator").is_not_null() & pl.col("denominator").is_not_null())
    if frame.is_empty():
        st.info("No unit has enough cases in this view for a funnel plot.")
    else:
        points, p0, phi = funnel_points(frame, unit=unit)
        largest = float(
            points.get_column("denominator").cast(pl.Float64).to_numpy().max()
        )  # never empty here
        curve = funnel_curve(p0, max(largest * 1.2, 10.0), phi)
        title = f"{definition.title}: {UNITS[unit].lower()} against the overall rate"
        fig = charts_compare.funnel(
            points, curve, p0, unit=unit, title=title, x_title="Denominator (log scale)", labels=labels
        )
        outside = points.filter(pl.col("position") != "within")
        summary = (
            f"{title}: overall {p0:.1%} across {points.height} units; {outside.height} outside the 95% limits"
            + (
                " ("
                + ", ".join(f"{labels.get(u, u)} {p}" for u, p in outside.select(unit, "position").rows())
                + ")"
                if outside.height
                else ""
            )
            + f". Overdispersion factor {phi:.2f} ({'limits widened' if phi > 1 else 'plain binomial limits'})."
        )
        ui.chart(fig, describe.readable_table(points, {unit: labels}), summary, key="cmp.funnel")
        if hidden:
            st.caption(
                f"{hidden} unit(s) with 1 to {data.settings().small_cell_threshold} cases are not shown (small-cell rule)."
            )
