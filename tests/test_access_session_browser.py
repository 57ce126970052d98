"""A sign-in survives a reload; a sign-out does not (issue 14 item 2, issue 16 item 6), in headless
Chromium against `carepulse serve`."""

from __future__ import annotations

import urllib.error
import urllib.request
from datetime import timedelta

import pytest

from carepulse.access import list_audit, sessions
from tests.browser_support import chromium_page, served_with_account, settle, submit_sign_in
from tests.dashboard_support import loaded_warehouse_file

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture(scope="module")
def server(request, tmp_path_factory):
    source, home = loaded_warehouse_file(request, tmp_path_factory), tmp_path_factory.mktemp("reload")
    with served_with_account(source, home, "reload_manager", "manager") as (url, engine):
        yield url, engine


def _session_cookie(page) -> dict:
    found = [c for c in page.context.cookies() if c["name"] == sessions.COOKIE_NAME]
    assert len(found) == 1, [c["name"] for c in page.context.cookies()]
    return found[0]


def test_reload_keeps_the_sign_in_and_sign_out_ends_it(server):
    url, engine = server
    with chromium_page(width=1400, height=1000) as page:
        page.goto(url + "/")
        page.get_by_role("button", name="Sign in").wait_for(timeout=60_000)
        submit_sign_in(page, "reload_manager")
        page.get_by_role("heading", name="Overview").wait_for(timeout=60_000)
        for _ in range(100):  # the handoff redirect sets the cookie shortly after the first page
            if any(c["name"] == sessions.COOKIE_NAME for c in page.context.cookies()):
                break
            page.wait_for_timeout(200)
        settle(page)
        cookie = _session_cookie(page)
        assert cookie["httpOnly"] is True and cookie["sameSite"] == "Strict" and cookie["path"] == "/"
        assert sessions.COOKIE_NAME not in page.evaluate("document.cookie")  # not readable by scripts

        page.reload()
        page.get_by_role("heading", name="Overview").wait_for(timeout=60_000)
        settle(page)
        assert page.get_by_role("button", name="Sign in").count() == 0
        assert "session.resume" in list_audit(engine, username="reload_manager")["action"].to_list()

        stale = cookie["value"]
        page.get_by_role("button", name="Sign out").click()
        page.get_by_role("button", name="Sign in").wait_for(timeout=60_000)
        for _ in range(100):  # the sign-out then drops the (already revoked) cookie through the route
            if not any(c["name"] == sessions.COOKIE_NAME for c in page.context.cookies()):
                break
            page.wait_for_timeout(200)
        page.wait_for_load_state()
        page.reload()
        page.get_by_role("button", name="Sign in").wait_for(timeout=60_000)
        settle(page)
        assert page.locator('[data-testid="stSidebarNav"]').count() == 0

    # The old cookie, replayed by hand, opens nothing: the session was revoked on the server.
    assert sessions.resume(engine, stale, idle=timedelta(minutes=15), absolute=timedelta(hours=12)) is None


def test_the_cookie_route_refuses_a_bogus_handoff_and_an_open_redirect(server):
    url, _ = server

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args, **kwargs):
            return None

    opener = urllib.request.build_opener(NoRedirect)
    with pytest.raises(urllib.error.HTTPError) as answer:
        opener.open(f"{url}/carepulse/session/start?handoff=guessed&next=//evil.example/x", timeout=30)
    assert answer.value.code == 303
    assert answer.value.headers["Location"] == "/"
    assert answer.value.headers.get("Set-Cookie") is None
