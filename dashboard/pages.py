"""The dashboard's pages as data: script, title, icon, section and the permission each needs.

The router builds ``st.navigation`` from this list for the signed-in role, the docs and the role
tests iterate over it, and every page script re-checks its own permission on the server.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class PageSpec:
    script: str  # relative to dashboard/
    title: str
    icon: str
    section: str
    permission: str
    url_path: str


PAGES: tuple[PageSpec, ...] = (
    PageSpec(
        "views/overview.py", "Overview", ":material/dashboard:", "Performance", "page:overview", "overview"
    ),
    PageSpec(
        "views/compare.py",
        "Compare units",
        ":material/leaderboard:",
        "Performance",
        "page:overview",
        "compare",
    ),
    PageSpec(
        "views/access_flow.py",
        "Access and flow",
        ":material/schedule:",
        "Performance",
        "page:access_flow",
        "access-flow",
    ),
    PageSpec(
        "views/referrals.py", "Referrals", ":material/send:", "Performance", "page:referrals", "referrals"
    ),
    PageSpec(
        "views/revenue.py", "Revenue cycle", ":material/payments:", "Performance", "page:revenue", "revenue"
    ),
    PageSpec(
        "views/experience.py",
        "Patient experience",
        ":material/sentiment_satisfied:",
        "Performance",
        "page:experience",
        "experience",
    ),
    PageSpec(
        "views/transitions.py",
        "Care transitions",
        ":material/transfer_within_a_station:",
        "Performance",
        "page:transitions",
        "transitions",
    ),
    PageSpec("views/qi.py", "QI meeting", ":material/insights:", "Improvement", "page:qi", "qi"),
    PageSpec(
        "views/worklist.py",
        "No-show worklist",
        ":material/call:",
        "Coordination",
        "page:worklist",
        "worklist",
    ),
    PageSpec(
        "views/data_quality.py",
        "Data quality",
        ":material/fact_check:",
        "System",
        "page:data_quality",
        "data-quality",
    ),
    PageSpec(
        "views/row_export.py",
        "Row-level export",
        ":material/table_view:",
        "System",
        "export:rows_deidentified",
        "row-export",
    ),
    PageSpec("views/model.py", "No-show model", ":material/model_training:", "System", "page:model", "model"),
    PageSpec(
        "views/admin.py", "Administration", ":material/admin_panel_settings:", "System", "page:admin", "admin"
    ),
)


def allowed_pages(role: str | None) -> list[PageSpec]:
    """The pages ``role`` may open, in navigation order."""
    from carepulse.access import can

    return [page for page in PAGES if can(role, page.permission)]


def refused_page(role: str | None, url_path: str | None) -> PageSpec | None:
    """The page at ``url_path`` if it exists and ``role`` may not open it (a typed address or a stale
    link): the router then serves a refusal there instead of quietly showing the default page."""
    from carepulse.access import can

    for page in PAGES:
        if page.url_path == url_path:
            return None if can(role, page.permission) else page
    return None


def requested_path(url: str | None) -> str | None:
    """The page part of the browser's address (``https://host/worklist?x=1`` -> ``worklist``), if it is
    a plain page name; None for the root or anything else."""
    import re
    from urllib.parse import urlparse

    if not url:
        return None
    segment = urlparse(url).path.rstrip("/").rsplit("/", 1)[-1]
    return segment if re.fullmatch(r"[a-z0-9][a-z0-9_-]{0,63}", segment) else None
