"""Accessibility in headless Chromium: axe-core (axe-playwright-python) on every page each role can
open, no serious or critical WCAG 2.2 A/AA violation; at 390 px wide no page scrolls sideways."""

from __future__ import annotations

import pytest

from carepulse.access import ROLES
from carepulse.dashboard.pages import allowed_pages
from tests.browser_support import carepulse_server, chromium_page, private_warehouse
from tests.browser_tour import axe_violations, describe, open_page, sign_in
from tests.dashboard_support import PASSWORD, loaded_warehouse_file

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture(scope="module")
def served(request, tmp_path_factory):
    """One server over a private warehouse copy with one account per role."""
    from carepulse.access import accounts

    source, home = loaded_warehouse_file(request, tmp_path_factory), tmp_path_factory.mktemp("a11y")
    engine = private_warehouse(source, home)
    departments = engine.connect().exec_driver_sql("select department_id from departments").scalars().all()
    for role in ROLES:
        accounts.create_user(
            engine, f"a11y_{role}", role, PASSWORD, actor="test", departments=",".join(departments)
        )
    try:
        with carepulse_server(home) as url:
            yield url
    finally:
        engine.dispose()


@pytest.mark.parametrize("role", ROLES)
def test_every_page_has_no_serious_axe_violation(served, role):
    failures = {}
    with chromium_page(width=1440, height=1000) as page:
        sign_in(page, served, f"a11y_{role}")
        for index, spec in enumerate(allowed_pages(role)):
            if index:
                open_page(page, spec.title)
            found = axe_violations(page)
            if found:
                failures[spec.title] = describe(found)
    assert failures == {}


def test_phone_width_pages_fit_and_pass_axe(served):
    with chromium_page(width=390, height=844) as page:
        sign_in(page, served, "a11y_qi")
        for index, title in enumerate(("Overview", "Compare units", "Access and flow", "QI meeting")):
            if index:
                open_page(page, title)
            assert axe_violations(page) == [], title
            overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
            assert overflow <= 1, f"{title} scrolls sideways by {overflow} px at 390 px"
