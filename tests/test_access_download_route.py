"""Downloads need a live session (issue 16 item 3): the worklist CSV a coordinator prepares is refused
to a request without the session cookie, served once to one with it, and both are audited."""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from carepulse.access import accounts, list_audit, sessions
from carepulse.dashboard import routes
from carepulse.records import outreach
from tests.browser_support import carepulse_server, chromium_page, private_warehouse, settle, submit_sign_in
from tests.dashboard_support import PASSWORD

MEDIA = re.compile(r"^http://[^/]+/media/")

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture(scope="module")
def served(scored_warehouse_file, tmp_path_factory):
    home = tmp_path_factory.mktemp("downloads")
    engine = private_warehouse(scored_warehouse_file, home)
    departments = (
        outreach.scored_frames(engine)["appointments"].get_column("department_id").unique().to_list()
    )
    accounts.create_user(engine, "dl_coord", "coordinator", PASSWORD, actor="test", departments=departments)
    with carepulse_server(home) as url:
        yield url, engine
    engine.dispose()


def _get(url: str, cookie: str | None = None) -> tuple[int, bytes]:
    request = urllib.request.Request(url, headers={"Cookie": cookie} if cookie else {})
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:
            return answer.status, answer.read()
    except urllib.error.HTTPError as refused:
        return refused.code, refused.read()


def test_a_worklist_export_needs_the_session_and_is_served_once(served):
    url, engine = served
    with chromium_page(width=1500, height=1100, accept_downloads=True) as page:
        links: list[str] = []
        page.on("request", lambda r: links.append(r.url) if MEDIA.match(r.url) else None)
        page.goto(url + "/")
        submit_sign_in(page, "dl_coord")
        page.get_by_role("link", name="No-show worklist").click(timeout=60_000)
        page.get_by_role("heading", name="No-show worklist").wait_for(timeout=60_000)
        settle(page)
        with page.expect_download(timeout=60_000) as download:
            page.get_by_role("button", name="CSV").first.click()
        saved = Path(download.value.path()).read_bytes()  # the signed-in browser got the file
        assert saved.startswith(b"\xef\xbb\xbf") and b"appointment" in saved.lower()
        cookie = next(c for c in page.context.cookies() if c["name"] == sessions.COOKIE_NAME)
        assert len(links) == 1
        link = links[0]

        status, body = _get(link)  # the same link, copied, without the cookie
        assert status == 403 and b"Sign in" in body
        status, _ = _get(link, f"{sessions.COOKIE_NAME}=forged{cookie['value']}")
        assert status == 403
        page.wait_for_timeout(routes.FETCH_GRACE_SECONDS * 1000 + 1500)
        status, _ = _get(link, f"{sessions.COOKIE_NAME}={cookie['value']}")
        assert status == 404  # gone after the first fetch: even the session cannot fetch it again

    log = list_audit(engine)
    denied = log.filter(log["action"] == "access.denied")
    assert denied.height >= 2 and all(json.loads(d)["reason"] == "no session" for d in denied["detail"])
    fetched = log.filter(log["action"] == "export.fetch")
    assert fetched.height >= 1 and set(fetched["username"]) == {"dl_coord"}  # Chromium may ask twice
    assert all(target in link for target in fetched["target"])
