"""CarePulse dashboard router: sign-in first, then only the pages the user's role may open.

Run with ``carepulse serve`` (or ``streamlit run dashboard/app.py``). This script only routes: the
global filters are drawn here so they persist across pages; each page lives in ``views/``.
"""

from __future__ import annotations

from pathlib import Path

import streamlit as st

st.set_page_config(page_title="CarePulse", page_icon=":material/monitor_heart:", layout="wide")
# Tables' built-in CSV download and copy would export data without an audit row or formula escaping:
# off, also when the app is started with plain `streamlit run` (`carepulse serve` sets it too).
st.set_option("client.disableDataExport", True)

from carepulse.dashboard import data, filters, saved, ui, warmer  # noqa: E402
from carepulse.dashboard.pages import allowed_pages, refused_page, requested_path  # noqa: E402
from carepulse.dashboard.signin import refusal_page, require_user  # noqa: E402

warmer.start()  # prepares each new load in the background (once per server process)

user = require_user()  # renders the sign-in form and stops until someone is signed in

HERE = Path(__file__).parent
sections: dict[str, list] = {}
for index, spec in enumerate(allowed_pages(user.role)):
    page = st.Page(
        HERE / spec.script, title=spec.title, icon=spec.icon, url_path=spec.url_path, default=index == 0
    )
    sections.setdefault(spec.section, []).append(page)

# An address the role may not open (typed, bookmarked, a stale link) gets a hidden page that refuses
# it and audits the attempt, instead of Streamlit quietly showing the default page.
refused = refused_page(user.role, requested_path(st.context.url))
if refused is not None:
    sections.setdefault(refused.section, []).append(
        st.Page(
            refusal_page(user, refused.title, refused.url_path),
            title=refused.title,
            url_path=refused.url_path,
            visibility="hidden",
        )
    )

if not sections:
    st.error("Your account has no pages. Ask an administrator to give it a role.")
    st.stop()

# One flat list, in section order: Streamlit's sectioned sidebar puts the section headings inside the
# <ul> of links, which screen readers (and axe-core's list rules) reject.
navigation = st.navigation([page for pages in sections.values() for page in pages])
ui.accessibility_styles()

run = data.run_id()
if run is not None and navigation.url_path != "admin":
    saved.sidebar(user, filters.render_sidebar(data.filter_options(run)))

if run is not None:
    ui.freshness(run)  # every page: "Data through ..., loaded ..." in the site's time zone

with ui.signed_in(user):
    navigation.run()
