"""Roles and the permission matrix, as data (minimum necessary access).

Every page and every export asks :func:`can` on the server side before it renders or writes
anything. The matrix is the single source: the dashboard's navigation, the role-matrix tests and
``docs/security.md`` all read it.
"""

from __future__ import annotations

#: Every permission a page, an export or an action checks.
PERMISSIONS: dict[str, str] = {
    "page:overview": "Overview page (KPI tiles, aggregate).",
    "page:access_flow": "Access and flow page (aggregate).",
    "page:referrals": "Referrals page (aggregate).",
    "page:revenue": "Revenue cycle page (aggregate).",
    "page:experience": "Patient experience page (aggregate).",
    "page:transitions": "Care transitions page (aggregate).",
    "page:qi": "QI meeting page: SPC charts, annotations, meeting pack (aggregate).",
    "page:worklist": "No-show worklist (patient names, contact details, risk).",
    "page:data_quality": "Data quality page: loads, quarantine counts by reason, failed checks.",
    "page:model": "Model card and monitoring (aggregate).",
    "page:admin": "Administration: users, roles, audit log.",
    "view:phi": "See patient identifiers and contact details (limited to assigned departments).",
    "view:comments": "Read free-text survey comments (may identify a patient).",
    "view:quarantine_values": "See the raw values of quarantined rows (may hold PHI).",
    "export:aggregate": "Download aggregate tables and the meeting pack (small cells suppressed).",
    "export:worklist": "Download the worklist with contact details (assigned departments only).",
    "export:rows_deidentified": "Download de-identified row-level data (no direct identifiers).",
    "edit:annotations": "Add, edit and delete chart annotations.",
    "record:outreach": "Record worklist outreach outcomes.",
}

_AGGREGATE_PAGES = frozenset(
    {
        "page:overview",
        "page:access_flow",
        "page:referrals",
        "page:revenue",
        "page:experience",
        "page:transitions",
        "page:qi",
        "page:data_quality",
        "page:model",
    }
)

#: Role -> what it may do. Roles are listed from most to least administrative.
ROLE_PERMISSIONS: dict[str, frozenset[str]] = {
    # Runs the system: accounts, audit, data loads. Aggregate views; no worklist, no patient contact
    # details. Sees quarantined raw values because fixing a load is their job (they may hold PHI).
    "admin": _AGGREGATE_PAGES | {"page:admin", "view:quarantine_values", "export:aggregate"},
    # Managers: aggregate views with small counts suppressed; annotate interventions; no comments.
    "manager": _AGGREGATE_PAGES | {"export:aggregate", "edit:annotations"},
    # QI: as managers, plus survey comments (experience improvement works from them).
    "qi": _AGGREGATE_PAGES | {"export:aggregate", "edit:annotations", "view:comments"},
    # Coordinators: the worklist with contact details for their departments, and the overview.
    "coordinator": frozenset(
        {"page:overview", "page:worklist", "view:phi", "export:worklist", "record:outreach"}
    ),
    # Analysts: aggregate pages and de-identified row-level exports.
    "analyst": _AGGREGATE_PAGES | {"export:aggregate", "export:rows_deidentified"},
}

ROLES: tuple[str, ...] = tuple(ROLE_PERMISSIONS)

ROLE_DESCRIPTIONS: dict[str, str] = {
    "admin": "Users, settings and audit; aggregate pages; no worklist PHI.",
    "manager": "Aggregate views, small counts suppressed, no patient identifiers or comments.",
    "qi": "Aggregate views and SPC, annotations, survey comments; no patient identifiers.",
    "coordinator": "Worklist with contact details for assigned departments; overview.",
    "analyst": "Aggregate pages and de-identified row-level exports.",
}

assert set().union(*ROLE_PERMISSIONS.values()) <= set(PERMISSIONS), "matrix names an unknown permission"


def can(role: str | None, permission: str) -> bool:
    """Whether ``role`` holds ``permission``; unknown roles hold nothing.

    Raises ``KeyError`` for an unknown permission, so a typo in a page fails loudly instead of
    silently denying (or allowing) access.
    """
    if permission not in PERMISSIONS:
        raise KeyError(f"unknown permission {permission!r}")
    return permission in ROLE_PERMISSIONS.get(role or "", frozenset())


def permissions_for(role: str) -> frozenset[str]:
    """Everything ``role`` may do (empty for an unknown role)."""
    return ROLE_PERMISSIONS.get(role, frozenset())


def check_role(role: str) -> str:
    """Return ``role`` if known, else raise a user error listing the roles."""
    from carepulse.errors import CarePulseError

    if role not in ROLE_PERMISSIONS:
        raise CarePulseError(f"unknown role {role!r}; roles are: {', '.join(ROLES)}")
    return role
