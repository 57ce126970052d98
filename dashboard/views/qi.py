"""QI meeting: SPC charts with limits, signals and phases; annotations; the meeting pack."""

from __future__ import annotations

import polars as pl
import streamlit as st

from carepulse.dashboard import data, exports, meeting_pack, pdf, sections, ui
from carepulse.dashboard.qi_data import spc_view
from carepulse.errors import CarePulseError
from carepulse.records import annotations as notes

user = ui.require("page:qi")
run = ui.loaded_run_id()
view = ui.current_filters()

from carepulse import metrics  # noqa: E402

st.title("QI meeting")
st.caption(f"Statistical process control: is a change a signal or noise? {view.describe()}.")

charted = [m.name for m in metrics.REGISTRY.values() if not m.category]
c1, c2, c3, c4 = st.columns([3, 2, 2, 1])
definition = metrics.get_metric(
    c1.selectbox("Metric", charted, format_func=lambda name: metrics.get_metric(name).title, key="qi.metric")
)
group = c2.selectbox(
    "Chart for",
    ["all", *sections.GROUPINGS],
    key="qi.group",
    format_func=lambda g: "Whole selection" if g == "all" else sections.GROUPINGS[g],
)
group_value, scope = None, "whole selection"
if group != "all":
    labels = sections.labels_for(group, run)
    with ui.friendly_errors("list the groups"):
        groups = data.compute(
            definition.name, run, by=(group,), start=view.start, end=view.end, filters=view.metric_filters()
        )
        values = [v for v in groups.get_column(group).to_list() if v is not None]
        if values:
            group_value = c3.selectbox(
                sections.GROUPINGS[group],
                values,
                key="qi.group_value",
                format_func=lambda v: labels.get(v, v),
            )
            scope = f"{sections.GROUPINGS[group].lower()} {labels.get(group_value, group_value)}"
period = c4.radio("Period", ["week", "month"], key="qi.period", format_func=str.capitalize)
group_arg = None if group == "all" else group

chart = None
with ui.friendly_errors("draw the SPC chart"), st.spinner("Computing the control chart..."):
    chart = spc_view(
        definition, run, view, user, period=period, group=group_arg, group_value=group_value, scope=scope
    )
    small = data.settings().small_cell_threshold
    has_values = (
        chart.series.height > 0 and chart.series.get_column("value").null_count() < chart.series.height
    )
    if has_values:
        st.plotly_chart(chart.figure(small=small), key="qi.chart")
    if chart.result is None:
        st.info(
            "Fewer than three periods have a value in this selection, so there are no control limits: "
            "widen the dates, choose months, or clear some filters."
        )
    else:
        summary = chart.result.summary
        keep = [
            c
            for c in (
                "phase",
                "start",
                "end",
                "n_points",
                "centre",
                "lcl_mean",
                "ucl_mean",
                "longest_run",
                "crossings",
                "runs_signal",
                "outside_limits_points",
                "nhs_variation",
                "assurance",
            )
            if c in summary.columns
        ]
        st.caption(
            f"{chart.result.chart.upper()} chart; limits at 3 sigma, recomputed at each annotation that "
            "starts a phase. Coloured points are special causes (blue improving, orange concerning)."
        )
        ui.table(summary.select(keep), f"spc_{definition.name}", user, key="qi.summary")
    with st.expander("Definition"):
        st.markdown(ui.definition_text(definition))

st.subheader("Annotations")
st.caption(
    "What the team changed and when. Each appears on the charts of this metric that its scope covers "
    "(whole system, one site or one department); one that starts a phase makes the limits restart "
    "from its date on those charts."
)
table = chart.annotations if chart is not None else pl.DataFrame()
if table.is_empty():
    st.caption("No annotations on this metric in the selected dates.")
else:
    st.dataframe(
        exports.escape_frame(
            table.select(
                "annotated_on",
                "title",
                "description",
                "starts_phase",
                "scope",
                "site",
                "department_id",
                "created_by",
            )
        ),
        hide_index=True,
        key="qi.annotations",
        column_config={
            "annotated_on": st.column_config.DateColumn("Date", format="YYYY-MM-DD"),
            "title": "Title",
            "description": "Description",
            "starts_phase": st.column_config.CheckboxColumn("Starts a phase"),
            "scope": st.column_config.TextColumn("Applies to", help="system, site or department"),
            "site": st.column_config.TextColumn("Site"),
            "department_id": st.column_config.TextColumn("Department"),
            "created_by": "Added by",
        },
    )

if ui.can(user, "edit:annotations"):
    department_scope = group_value if group == "department" else None
    add_tab, edit_tab = st.tabs(["Add", "Edit or delete"])
    with add_tab, st.form("qi.add", clear_on_submit=True):
        when = st.date_input("Date", value=view.end, key="qi.ann.date", format="YYYY-MM-DD")
        title = st.text_input(
            "Title",
            key="qi.ann.title",
            max_chars=notes.TITLE_MAX,
            placeholder="SMS reminders started in Cardiology",
        )
        description = st.text_area("Description", key="qi.ann.description", max_chars=notes.DESCRIPTION_MAX)
        starts_phase = st.checkbox("Recompute the limits from this date (new phase)", key="qi.ann.phase")
        dept_labels = sections.labels_for("department", run)
        site_names = sorted(data.filter_options(run).values("site"))
        scope_kind = st.radio(
            "Applies to",
            ["system", "site", "department"],
            index=2 if department_scope else (1 if group == "site" and group_value else 0),
            format_func={"system": "Whole system", "site": "One site", "department": "One department"}.get,
            key="qi.ann.scope",
            horizontal=True,
            help="Drawn only on charts that cover it: a department's note is not a system-wide phase.",
        )
        scope_site = (
            st.selectbox(
                "Site (when one site)",
                site_names,
                index=site_names.index(group_value) if group == "site" and group_value in site_names else 0,
                key="qi.ann.site",
            )
            if site_names
            else None
        )
        dept_ids = list(dept_labels)
        scope_dept = (
            st.selectbox(
                "Department (when one department)",
                dept_ids,
                index=dept_ids.index(department_scope) if department_scope in dept_ids else 0,
                format_func=lambda d: dept_labels.get(d, d),
                key="qi.ann.dept",
            )
            if dept_ids
            else None
        )
        if st.form_submit_button("Add annotation", key="qi.ann.add"):
            try:
                notes.add_annotation(
                    data.engine(),
                    metric=definition.name,
                    annotated_on=when,
                    title=title,
                    description=description,
                    department_id=scope_dept if scope_kind == "department" else None,
                    site=scope_site if scope_kind == "site" else None,
                    starts_phase=starts_phase,
                    created_by=user.username,
                )
                st.toast("Annotation added.")
                st.rerun()
            except CarePulseError as exc:
                st.error(str(exc))
    with edit_tab:
        existing = notes.list_annotations(data.engine(), definition.name)
        if existing.is_empty():
            st.caption("Nothing to edit yet.")
        else:
            rows = {r["annotation_id"]: r for r in existing.iter_rows(named=True)}
            chosen = st.selectbox(
                "Annotation",
                list(rows),
                key="qi.edit.id",
                format_func=lambda i: f"{rows[i]['annotated_on']}: {rows[i]['title']}",
            )
            row = rows[chosen]
            with st.form(f"qi.edit.{chosen}"):
                new_date = st.date_input(
                    "Date", value=row["annotated_on"], key=f"qi.edit.date.{chosen}", format="YYYY-MM-DD"
                )
                new_title = st.text_input(
                    "Title", value=row["title"], key=f"qi.edit.title.{chosen}", max_chars=notes.TITLE_MAX
                )
                new_description = st.text_area(
                    "Description", value=row["description"] or "", key=f"qi.edit.description.{chosen}"
                )
                new_phase = st.checkbox(
                    "Recompute the limits from this date (new phase)",
                    value=bool(row["starts_phase"]),
                    key=f"qi.edit.phase.{chosen}",
                )
                save, delete = st.columns(2)
                saved = save.form_submit_button("Save changes", key="qi.edit.save")
                deleted = delete.form_submit_button("Delete", key="qi.edit.delete")
            try:
                if saved:
                    notes.edit_annotation(
                        data.engine(),
                        chosen,
                        edited_by=user.username,
                        annotated_on=new_date,
                        title=new_title,
                        description=new_description,
                        starts_phase=new_phase,
                    )
                    st.toast("Annotation saved.")
                    st.rerun()
                if deleted:
                    notes.delete_annotation(data.engine(), chosen, deleted_by=user.username)
                    st.toast("Annotation deleted.")
                    st.rerun()
            except CarePulseError as exc:
                st.error(str(exc))

st.subheader("Meeting pack")
if ui.can(user, "export:aggregate"):
    pdf_browser = pdf.available_browser(data.settings())
    st.caption(
        "The selected dates and filters as one document: KPI table, SPC charts with annotations, top "
        "movers and data-quality status. The HTML file is self-contained and opens offline in any "
        "browser" + ("; the PDF is the same pack, printed on the server." if pdf_browser else ".")
    )
    pack_name = f"carepulse-meeting-pack-{view.start:%Y%m%d}-{view.end:%Y%m%d}"
    formats = [("HTML", meeting_pack.downloader, "html", "text/html", "qi.pack", ":material/description:")]
    if pdf_browser:
        formats.append(
            (
                "PDF",
                meeting_pack.pdf_downloader,
                "pdf",
                "application/pdf",
                "qi.pack_pdf",
                ":material/picture_as_pdf:",
            )
        )
    for label, downloader, suffix, mime, key, icon in formats:
        st.download_button(
            f"Download meeting pack ({label})",
            data=downloader(run, view, user),  # built (and audited) only when clicked
            file_name=f"{pack_name}.{suffix}",
            mime=mime,
            key=key,
            icon=icon,
            on_click="ignore",
            type="primary" if label == "HTML" else "secondary",
        )
    if not pdf_browser:
        st.caption(
            "No PDF download here: the server has no headless Chromium for printing (setting "
            "`pdf_browser`). Open the HTML pack and print it to PDF from your browser instead."
        )
else:
    st.caption("Your role cannot download the meeting pack.")
