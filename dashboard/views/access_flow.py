"""Access and flow: Appointments kept and missed, waits for an appointment, and time in clinic."""

from __future__ import annotations

import streamlit as st

from dashboard import sections, ui

user = ui.require("page:access_flow")
run = ui.loaded_run_id()
view = ui.current_filters()

st.title("Access and flow")
st.caption(f"Appointments kept and missed, waits for an appointment, and time in clinic. {view.describe()}.")
left, right = st.columns(2)
with left:
    definition = sections.metric_picker(("attendance", "flow",), key="access_flow.metric")
with right:
    group = sections.grouping_picker(definition, key="access_flow.group")
sections.metric_panel(definition, run, view, user, group=group, key="access_flow")
