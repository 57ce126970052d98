"""Care transitions: Follow-up after hospital discharge and emergency visits."""

from __future__ import annotations

import streamlit as st

from dashboard import sections, ui

user = ui.require("page:transitions")
run = ui.loaded_run_id()
view = ui.current_filters()

st.title("Care transitions")
st.caption(f"Follow-up after hospital discharge and emergency visits. {view.describe()}.")
left, right = st.columns(2)
with left:
    definition = sections.metric_picker(("transitions",), key="transitions.metric")
with right:
    group = sections.grouping_picker(definition, key="transitions.group")
sections.metric_panel(definition, run, view, user, group=group, key="transitions")
