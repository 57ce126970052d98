"""Referrals: Referral loop closure: referrals scheduled, seen and reported back to the referrer."""

from __future__ import annotations

import streamlit as st

from dashboard import sections, ui

user = ui.require("page:referrals")
run = ui.loaded_run_id()
view = ui.current_filters()

st.title("Referrals")
st.caption(f"Referral loop closure: referrals scheduled, seen and reported back to the referrer. {view.describe()}.")
left, right = st.columns(2)
with left:
    definition = sections.metric_picker(("referrals",), key="referrals.metric")
with right:
    group = sections.grouping_picker(definition, key="referrals.group")
sections.metric_panel(definition, run, view, user, group=group, key="referrals")
