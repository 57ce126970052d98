"""Revenue cycle: initial denials by payer and by reason (CARC Pareto), their trend, and the rest."""

from __future__ import annotations

import polars as pl
import streamlit as st

from carepulse.dashboard import charts, data, sections, ui

user = ui.require("page:revenue")
run = ui.loaded_run_id()
view = ui.current_filters()

from carepulse import metrics  # noqa: E402

st.title("Revenue cycle")
st.caption(f"Claims denied on first submission, who denies them and why. {view.describe()}.")
small = data.settings().small_cell_threshold
filters = view.metric_filters()

denial = metrics.get_metric("initial_denial_rate")
if not sections.not_supplied_note(denial, run):  # no claims: say so, no 0 % and no empty Paretos
    with ui.friendly_errors("compute the denials"), st.spinner("Computing denials..."):
        total = ui.suppress(
            data.compute(denial.name, run, start=view.start, end=view.end, filters=filters), user
        )
        sections.headline(denial, total)
        monthly = ui.suppress(
            data.compute(denial.name, run, period="month", start=view.start, end=view.end, filters=filters),
            user,
        )
        by_payer = ui.suppress(
            data.compute(
                denial.name, run, by=("payer_name",), start=view.start, end=view.end, filters=filters
            ),
            user,
        )
        left, right = st.columns(2)
        trend = charts.trend(
            monthly,
            title="Initial denial rate by month",
            unit=denial.unit,
            target=data.settings().targets.get(denial.name),
            small=small,
        )
        left.plotly_chart(
            charts.add_annotations(trend, sections.annotations_for(denial.name, view)), key="rev.trend"
        )
        right.plotly_chart(
            charts.bars(
                by_payer,
                category="payer_name",
                title="Initial denial rate by payer",
                unit=denial.unit,
                small=small,
                x_title="Payer",
            ),
            key="rev.payer",
        )
        ui.table(by_payer, "initial_denial_rate_by_payer", user, key="rev.payer_table")

        carc = ui.suppress(
            data.compute("denials_by_carc", run, start=view.start, end=view.end, filters=filters), user
        )
        category = ui.suppress(
            data.compute("denials_by_category", run, start=view.start, end=view.end, filters=filters), user
        )
        left, right = st.columns(2)
        left.plotly_chart(
            charts.pareto(
                carc,
                category="carc_code",
                title="Denials by claim adjustment reason code (Pareto)",
                x_title="CARC code",
            ),
            key="rev.carc",
        )
        right.plotly_chart(
            charts.pareto(
                category,
                category="denial_category",
                title="Denials by category (Pareto)",
                x_title="Denial category",
            ),
            key="rev.category",
        )
        ui.table(
            carc.filter(pl.col("n").is_not_null()) if "n" in carc.columns else carc,
            "denials_by_carc",
            user,
            key="rev.carc_table",
        )

st.divider()
st.subheader("Other revenue-cycle measures")
left, right = st.columns(2)
with left:
    definition = sections.metric_picker(("revenue",), key="revenue.metric")
with right:
    group = sections.grouping_picker(definition, key="revenue.group", default="payer_class")
sections.metric_panel(definition, run, view, user, group=group, key="revenue")
