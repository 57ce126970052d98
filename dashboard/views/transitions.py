"""Care transitions: Follow-up after hospital discharge and emergency visits."""

from __future__ import annotations

from carepulse.dashboard import sections

sections.family_page(
    "page:transitions",
    "Care transitions",
    "Follow-up after hospital discharge and emergency visits.",
    families=("transitions",),
    key="transitions",
)
