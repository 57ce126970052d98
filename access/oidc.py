"""Single sign-on (Streamlit ``st.login``, OIDC): which role an identity gets. Pure functions.

The rules come from ``settings.oidc_role_map`` and are tried in the order written; the first match
wins. A key is an e-mail address (``alice@example.org``), an e-mail domain (``@example.org``) or a
group (``group:carepulse-managers``, matched against the ``settings.oidc_groups_claim`` claim).
E-mail rules only match a verified address when the provider says whether it is verified.
"""

from __future__ import annotations

from collections.abc import Mapping

from carepulse.access.roles import ROLES


def identity_email(identity: Mapping[str, object]) -> str | None:
    """The identity's e-mail, lower-cased, or None (also when the provider marks it unverified)."""
    email = identity.get("email")
    if not isinstance(email, str) or "@" not in email:
        return None
    if identity.get("email_verified") is False:
        return None
    return email.strip().lower()


def identity_groups(identity: Mapping[str, object], groups_claim: str = "groups") -> set[str]:
    """The identity's groups (a list claim, or a comma-separated string), lower-cased."""
    groups = identity.get(groups_claim)
    if isinstance(groups, str):
        groups = groups.split(",")
    if not isinstance(groups, list | tuple | set):
        return set()
    return {str(g).strip().lower() for g in groups if str(g).strip()}


def role_for_identity(
    identity: Mapping[str, object],
    role_map: Mapping[str, str],
    *,
    groups_claim: str = "groups",
    default_role: str | None = None,
) -> str | None:
    """The role for a signed-in identity, or None when it may not use CarePulse."""
    if not identity.get("is_logged_in", True):
        return None
    email = identity_email(identity)
    groups = identity_groups(identity, groups_claim)
    for key, role in role_map.items():
        rule = key.strip().lower()
        if rule.startswith("group:"):
            matched = rule.removeprefix("group:") in groups
        elif rule.startswith("@"):
            matched = email is not None and email.endswith(rule)
        else:
            matched = email is not None and email == rule
        if matched:
            return role if role in ROLES else None
    return default_role if default_role in ROLES else None


def configured_providers(auth_section: Mapping[str, object] | None) -> list[str | None]:
    """The OIDC providers an ``[auth]`` secrets section configures (None: the unnamed default).

    A provider needs at least ``client_id`` and ``server_metadata_url``; a section holding only a
    ``cookie_secret`` configures none, and then only built-in accounts can sign in.
    """
    if not auth_section:
        return []

    def complete(section: Mapping[str, object]) -> bool:
        return bool(section.get("client_id")) and bool(section.get("server_metadata_url"))

    providers: list[str | None] = [None] if complete(auth_section) else []
    for name, value in auth_section.items():
        if isinstance(value, Mapping) and complete(value):
            providers.append(str(name))
    return providers
