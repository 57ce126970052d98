"""Saved views in the sidebar: save the current filters under a name, open one again."""

from __future__ import annotations

import streamlit as st

from carepulse.dashboard import data, filters
from carepulse.errors import CarePulseError


def sidebar(user, view: filters.Filters) -> None:
    """The "Saved views" expander under the filters."""
    from carepulse.records import saved_views

    engine = data.engine()
    mine = saved_views.list_views(engine, user.username)
    with st.sidebar.expander("Saved views", icon=":material/bookmark:"):
        if mine:
            names = [v.name for v in mine]
            chosen = st.selectbox("Open a saved view", names, key="sv_pick")
            if st.button("Open", key="sv_open", width="stretch"):
                filters.open_params(next(v for v in mine if v.name == chosen).params)
                st.rerun()
            st.caption(f"Meeting pack for cron: `carepulse pack --view '{chosen}' --out pack.pdf`")
        name = st.text_input("Save these filters as", key="sv_name", max_chars=saved_views.NAME_MAX)
        if st.button("Save view", key="sv_save", width="stretch"):
            try:
                saved_views.save_view(engine, owner=user.username, name=name, params=filters.to_params(view))
                st.toast(f"Saved '{name.strip()}'.")
            except CarePulseError as exc:
                st.error(str(exc))
