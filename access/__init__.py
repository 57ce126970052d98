"""Access control: accounts, roles and the permission matrix, audit trail, PHI-safe logging.

No Streamlit here: the dashboard's ``dashboard/signin.py`` and the ``carepulse users`` commands
are thin layers over these functions, which the tests call directly.
"""

from carepulse.access.accounts import (
    AuthenticationError,
    User,
    authenticate,
    create_user,
    demo_accounts,
    disable_user,
    enable_user,
    get_user,
    list_users,
    reset_password,
    set_departments,
    set_role,
    sso_user,
)
from carepulse.access.audit import ACTIONS, list_audit, record
from carepulse.access.oidc import role_for_identity
from carepulse.access.phi import install_log_redaction, redact_text
from carepulse.access.roles import PERMISSIONS, ROLE_PERMISSIONS, ROLES, can, permissions_for

__all__ = [
    "ACTIONS",
    "PERMISSIONS",
    "ROLES",
    "ROLE_PERMISSIONS",
    "AuthenticationError",
    "User",
    "authenticate",
    "can",
    "create_user",
    "demo_accounts",
    "disable_user",
    "enable_user",
    "get_user",
    "install_log_redaction",
    "list_audit",
    "list_users",
    "permissions_for",
    "record",
    "redact_text",
    "reset_password",
    "role_for_identity",
    "set_departments",
    "set_role",
    "sso_user",
]
