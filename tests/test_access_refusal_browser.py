"""Refusals seen and recorded (issue 16 item 4), in headless Chromium against `carepulse serve`: a
page the role may not open, asked for by address, shows a refusal and writes `access.denied`; a
signed-out browser is sent no page name beyond the sign-in."""

from __future__ import annotations

import json

import pytest

from carepulse.access import list_audit
from carepulse.dashboard.pages import PAGES
from tests.browser_support import chromium_page, served_with_account, settle, submit_sign_in
from tests.dashboard_support import loaded_warehouse_file

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture(scope="module")
def server(request, tmp_path_factory):
    source, home = loaded_warehouse_file(request, tmp_path_factory), tmp_path_factory.mktemp("refusal")
    with served_with_account(source, home, "refused_manager", "manager") as (url, engine):
        yield url, engine


def test_a_signed_out_browser_receives_no_page_names(server):
    url, _ = server
    with chromium_page(width=1400, height=1000) as page:
        frames: list[bytes] = []
        page.on(
            "websocket",
            lambda ws: ws.on(
                "framereceived",
                lambda payload: frames.append(payload if isinstance(payload, bytes) else payload.encode()),
            ),
        )
        page.goto(url + "/")
        page.get_by_role("button", name="Sign in").wait_for(timeout=60_000)
        settle(page)
        assert frames, "no websocket traffic captured"
        received = b"".join(frames)
        leaked = [p.url_path for p in PAGES if p.url_path.encode() in received]
        assert leaked == []
        titles = [p.title for p in PAGES if p.title.encode() in received]
        assert titles == []


def test_a_page_asked_for_by_address_is_refused_and_audited(server):
    url, engine = server
    with chromium_page(width=1400, height=1000) as page:
        page.goto(url + "/")
        submit_sign_in(page, "refused_manager")
        page.get_by_role("heading", name="Overview").wait_for(timeout=60_000)
        settle(page)
        page.goto(url + "/worklist")
        page.get_by_text("does not allow this page").wait_for(timeout=60_000)
        settle(page)
        body = page.locator("body").inner_text()
        assert "Your role (manager)" in body
        nav = page.locator('[data-testid="stSidebarNav"]').inner_text()
        assert "worklist" not in nav.lower()  # refused, and still not offered in the menu
    denied = list_audit(engine, username="refused_manager", action="access.denied")
    assert denied["target"].to_list() == ["worklist"]
    assert json.loads(denied["detail"].item()) == {"role": "manager", "via": "address"}
