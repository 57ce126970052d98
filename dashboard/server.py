"""The dashboard server: Streamlit's app plus CarePulse's own HTTP routes (``carepulse serve`` runs this).

``streamlit run dashboard/server.py`` finds the ``st.App`` below and serves it with Starlette/uvicorn
(Streamlit 1.67): the pages of ``app.py`` over the websocket as always, and the routes of
:mod:`carepulse.dashboard.routes` (session cookie, guarded downloads) as plain HTTP.
"""

from __future__ import annotations

from pathlib import Path

import streamlit as st
from starlette.middleware import Middleware

from carepulse.dashboard import routes

routes.installed["routes"] = True
app = st.App(
    Path(__file__).with_name("app.py"),
    routes=routes.all_routes(),
    middleware=[Middleware(routes.GuardedMedia)],
)
