"""Single sign-on: mapping an identity's e-mail or groups to a role (no identity provider needed)."""

from __future__ import annotations

import pytest

from carepulse.access import oidc

RULES = {
    "boss@example.org": "admin",
    "group:carepulse-coordinators": "coordinator",
    "group:qi-team": "qi",
    "typo@example.org": "superuser",
    "@example.org": "manager",
}


@pytest.mark.parametrize(
    ("identity", "expected"),
    [
        ({"is_logged_in": True, "email": "Boss@Example.org"}, "admin"),
        ({"is_logged_in": True, "email": "ann@example.org", "groups": ["QI-Team"]}, "qi"),
        (
            {
                "is_logged_in": True,
                "email": "ann@example.org",
                "groups": ["qi-team", "carepulse-coordinators"],
            },
            "coordinator",
        ),
        ({"is_logged_in": True, "email": "ann@example.org", "groups": "other, qi-team"}, "qi"),
        ({"is_logged_in": True, "email": "ann@example.org"}, "manager"),
        ({"is_logged_in": True, "email": "ann@example.org", "email_verified": False}, None),
        ({"is_logged_in": True, "email": "ann@evil-example.org"}, None),
        ({"is_logged_in": True, "email": "ann@example.org.evil.com"}, None),
        ({"is_logged_in": True}, None),
        ({"is_logged_in": False, "email": "boss@example.org"}, None),
        ({"is_logged_in": True, "email": "typo@example.org"}, None),  # unknown role: refused
    ],
)
def test_role_for_identity(identity, expected):
    assert oidc.role_for_identity(identity, RULES) == expected


def test_default_role_and_custom_groups_claim():
    identity = {"is_logged_in": True, "email": "x@elsewhere.org", "roles": ["analysts"]}
    assert oidc.role_for_identity(identity, {}, default_role="analyst") == "analyst"
    assert oidc.role_for_identity(identity, {}, default_role="root") is None
    assert oidc.role_for_identity(identity, {"group:analysts": "analyst"}, groups_claim="roles") == "analyst"


@pytest.mark.parametrize(
    ("section", "expected"),
    [
        (None, []),
        ({"cookie_secret": "x"}, []),
        ({"cookie_secret": "x", "client_id": "id", "server_metadata_url": "https://idp/.well-known"}, [None]),
        (
            {
                "cookie_secret": "x",
                "okta": {"client_id": "id", "server_metadata_url": "u"},
                "half": {"client_id": "i"},
            },
            ["okta"],
        ),
    ],
)
def test_configured_providers(section, expected):
    assert oidc.configured_providers(section) == expected


def test_sso_user_mapping_and_account_override(engine, fast_password_hashing):
    from carepulse.access import accounts

    mapped = accounts.sso_user(engine, "ann@example.org", "manager", name="Ann")
    assert (mapped.role, mapped.method, mapped.display_name) == ("manager", "sso", "Ann")
    assert accounts.sso_user(engine, "ann@example.org", None) is None
    accounts.create_user(engine, "ann@example.org", "coordinator", None, actor="admin", departments="D01")
    explicit = accounts.sso_user(engine, "ann@example.org", "manager")
    assert (explicit.role, explicit.departments) == ("coordinator", ("D01",))
    accounts.disable_user(engine, "ann@example.org", actor="admin")
    assert accounts.sso_user(engine, "ann@example.org", "manager") is None
    # An SSO-only account has no password, so password sign-in is refused.
    with pytest.raises(accounts.AuthenticationError):
        accounts.authenticate(engine, "ann@example.org", "")
