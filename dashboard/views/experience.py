"""Patient experience: CG-CAHPS items and composites, by department and provider, with n."""

from __future__ import annotations

import polars as pl
import streamlit as st

from carepulse.dashboard import charts, data, exports, sections, ui

user = ui.require("page:experience")
run = ui.loaded_run_id()
view = ui.current_filters()

from carepulse import metrics  # noqa: E402

st.title("Patient experience")
st.caption(f"Survey answers about the visits in the selection (CG-CAHPS scoring). {view.describe()}.")
filters = view.metric_filters()

top_box = tuple(m.name for m in metrics.list_metrics("experience") if m.name.endswith("_top_box"))
absent = data.not_supplied(run)
supplied = tuple(name for name in top_box if name not in absent)
if not supplied:  # no surveys: say so, never a 0 % top box
    reason = absent.get(top_box[0], "no surveys extract was loaded") if top_box else "no survey items"
    st.info(f"Not supplied: {reason}", icon=":material/block:")
else:
    with ui.friendly_errors("compute the survey scores"), st.spinner("Computing survey scores..."):
        items = ui.suppress(
            data.catalogue(supplied, run, start=view.start, end=view.end, filters=filters), user
        )
        items = items.with_columns(
            pl.col("metric")
            .replace_strict({n: metrics.get_metric(n).title for n in top_box}, default=None)
            .alias("item")
        ).select(
            "item",
            "numerator",
            "denominator",
            "value",
            "ci_low",
            "ci_high",
            *(["suppressed"] if "suppressed" in items.columns else []),
        )
        st.plotly_chart(
            charts.bars(
                items,
                category="item",
                title="Top-box share by survey item and composite",
                unit="share",
                small=data.settings().small_cell_threshold,
                x_title="Item",
            ),
            key="exp.items",
        )
        ui.table(items, "experience_items", user, key="exp.items_table")

st.subheader("By department and provider")
left, right = st.columns(2)
with left:
    definition = sections.metric_picker(("experience",), key="experience.metric")
with right:
    group = sections.grouping_picker(definition, key="experience.group", default="department")
sections.metric_panel(definition, run, view, user, group=group, key="experience")

if ui.can(user, "view:comments"):
    st.subheader("Comments")
    st.caption(
        "Free text may identify a patient: shown only to roles allowed to read it, and each view is "
        "recorded in the audit trail."
    )
    if st.toggle("Show comments for this selection", key="exp.comments"):
        with ui.friendly_errors("read the comments"):
            from carepulse import warehouse

            comments = warehouse.read_table(
                data.engine(),
                "surveys",
                columns=["survey_id", "received_at", "provider_rating", "comment"],
                where="comment IS NOT NULL",
            )
            surveys = data.frames(run)["surveys"]
            dims = surveys.select("survey_id", "visit_at", *view.metric_filters().keys()).collect()
            keep = dims.filter(pl.col("visit_at").dt.date().is_between(view.start, view.end))
            for column, values in view.metric_filters().items():
                keep = keep.filter(pl.col(column).is_in(values))
            shown = (
                comments.join(keep.select("survey_id"), on="survey_id", how="semi")
                .sort("received_at", descending=True)
                .head(200)
            )
            from carepulse.dashboard.signin import record_view

            record_view(user, "experience:comments", rows=shown.height, detail={"view": view.describe()})
            st.dataframe(
                exports.escape_frame(shown.drop("survey_id")), hide_index=True, key="exp.comments_table"
            )
