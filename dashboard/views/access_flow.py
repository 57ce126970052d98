"""Access and flow: Appointments kept and missed, waits for an appointment, and time in clinic."""

from __future__ import annotations

from carepulse.dashboard import sections

sections.family_page(
    "page:access_flow",
    "Access and flow",
    "Appointments kept and missed, waits for an appointment, and time in clinic.",
    families=("attendance", "flow"),
    key="access_flow",
)
