"""A tour of the dashboard in Chromium: sign in, open each page through the navigation, wait for it to
settle. Shared by the accessibility tests and ``make screenshots`` (docs/screenshots.py)."""

from __future__ import annotations

from tests.browser_support import settle, submit_sign_in

#: axe-core impact levels that fail the accessibility tests.
BLOCKING = ("serious", "critical")


def sign_in(page, url: str, username: str) -> None:
    page.goto(url + "/")
    submit_sign_in(page, username)
    page.get_by_role("heading", name="Sign in").wait_for(state="detached", timeout=120_000)
    page.locator("h1").first.wait_for(timeout=120_000)
    settle(page, timeout=120_000)
    page.wait_for_timeout(1000)  # the sign-in form's faded leftovers go with the first full run
    settle(page, timeout=120_000)


def open_page(page, title: str) -> None:
    """Click the page's link in the navigation (a reload would start a new session)."""
    nav = page.locator('[data-testid="stSidebarNav"]')
    if not nav.is_visible():  # narrow screens: the sidebar starts collapsed
        page.locator(
            '[data-testid="stExpandSidebarButton"], [data-testid="stSidebarCollapsedControl"] button'
        ).first.click()
    page.locator('[data-testid="stSidebarNav"]').get_by_role("link", name=title, exact=True).click()
    page.get_by_role("heading", name=title).first.wait_for(timeout=120_000)
    settle(page, timeout=120_000)


def close_sidebar_if_narrow(page, width: int) -> None:
    if width < 700:
        button = page.locator(
            '[data-testid="stSidebarCollapseButton"] button, [data-testid="stSidebarCollapseButton"]'
        )
        if button.count() and button.first.is_visible():
            button.first.click()
            page.wait_for_timeout(400)


def axe_violations(page) -> list[dict]:
    """axe-core's serious and critical violations on the current page (WCAG 2.x A and AA rules)."""
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(
        page,
        # Disabled widgets are inactive components, exempt from contrast (WCAG 1.4.3); axe cannot tell
        # from Streamlit's markup (the label sits outside the disabled control).
        context={
            "exclude": [
                ["button[disabled]"],
                ['[data-testid="stElementContainer"]:has(input[disabled])'],
            ]
        },
        options={
            "runOnly": {"type": "tag", "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]}
        },
    )
    return [v for v in results.response["violations"] if v.get("impact") in BLOCKING]


def describe(violations: list[dict]) -> str:
    return "; ".join(
        f"{v['id']} ({v['impact']}): {v['help']} -- {[n['target'] for n in v['nodes'][:3]]}"
        for v in violations
    )
