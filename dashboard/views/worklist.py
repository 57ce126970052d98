"""No-show worklist (coming soon): ranked upcoming appointments, reasons, outreach outcomes."""

from __future__ import annotations

import streamlit as st

from dashboard import ui

user = ui.require("page:worklist")

st.title("No-show worklist")
st.info(
    "The coordinators' worklist is coming: upcoming appointments ranked by no-show risk, with reasons, a "
    "suggested action and one-click outreach outcomes. Until then, `carepulse score` writes the ranked list "
    "to the warehouse."
)
