"""The sign-in gate in headless Chromium against `carepulse serve`: anonymous visitors see only the
sign-in, a manager sees only aggregate pages, and signing out clears the screen."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import polars as pl
import pytest

from pipelines import warehouse
from pipelines.access import accounts, list_audit
from tests.dashboard_support import PASSWORD, copy_warehouse
from tests.test_browser import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS, free_port, settle

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture(scope="module")
def server(request, tmp_path_factory):
    """`carepulse serve` over a private copy of the loaded warehouse, with a manager account."""
    from pipelines.settings import Settings
    from tests.dashboard_support import loaded_warehouse_file

    source = loaded_warehouse_file(request, tmp_path_factory)
    home = tmp_path_factory.mktemp("gate")
    settings = Settings(data_dir=home / "data")
    copy_warehouse(source, settings)
    engine = warehouse.make_engine(settings)
    accounts.create_user(engine, "gate_manager", "manager", PASSWORD, actor="test")
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("CAREPULSE_")}
    env |= {"CAREPULSE_DATA_DIR": str(settings.data_dir), "CAREPULSE_SETTINGS_FILE": str(home / "none.toml")}
    proc = subprocess.Popen(
        [str(Path(sys.executable).with_name("carepulse")), "serve", "--host", "127.0.0.1", "--port", str(port)],
        env=env, cwd=home, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if urllib.request.urlopen(f"{url}/_stcore/health", timeout=2).read() == b"ok":
                break
        except OSError:
            time.sleep(0.3)
    else:
        proc.kill()
        pytest.fail("carepulse serve did not start: " + proc.stdout.read().decode(errors="replace")[-2000:])
    yield url, engine
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
    engine.dispose()


@pytest.fixture
def browser_page(server):
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        context = browser.new_context(viewport={"width": 1400, "height": 1000})
        yield context.new_page()
        context.close()
        browser.close()


def test_sign_in_gate_in_a_browser(server, browser_page, synthetic_dir):
    url, engine = server
    page = browser_page
    for path in ("/", "/worklist", "/admin", "/overview"):
        page.goto(url + path)
        page.get_by_role("button", name="Sign in").wait_for(timeout=60_000)
        settle(page)
        body = page.locator("body").inner_text()
        assert "Overview" not in body and "worklist" not in body.lower() and "Administration" not in body, path
        assert page.locator('[data-testid="stSidebarNav"]').count() == 0
    page.get_by_label("Username").fill("gate_manager")
    page.get_by_role("textbox", name="Password").fill("not the password")
    page.get_by_role("button", name="Sign in").click()
    page.get_by_text("Sign-in failed").wait_for(timeout=60_000)

    page.get_by_label("Username").fill("gate_manager")
    page.get_by_role("textbox", name="Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("heading", name="Overview").wait_for(timeout=60_000)
    settle(page)
    page.screenshot(path=str(ARTIFACTS / "access_manager_overview.png"), full_page=True)
    nav = page.locator('[data-testid="stSidebarNav"]').inner_text()
    assert "Access and flow" in nav and "No-show worklist" not in nav and "Administration" not in nav
    patients = pl.read_csv(synthetic_dir / "patients.csv", infer_schema=False)
    body = page.locator("body").inner_text()
    assert not any(p in body for p in patients["phone"].drop_nulls()) and not any(
        m in body for m in patients["mrn"].drop_nulls()
    )

    page.get_by_role("button", name="Sign out").click()
    page.get_by_role("button", name="Sign in").wait_for(timeout=60_000)
    settle(page)
    assert page.locator('[data-testid="stSidebarNav"]').count() == 0
    assert "Access and flow" not in page.locator("body").inner_text()
    actions = list_audit(engine, username="gate_manager")["action"].to_list()[::-1]
    assert actions == ["signin.failed", "signin", "signout"]

    # The session lives on the server only: a typed URL or a reload starts over at the sign-in.
    page.get_by_label("Username").fill("gate_manager")
    page.get_by_role("textbox", name="Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("heading", name="Overview").wait_for(timeout=60_000)
    page.goto(url + "/worklist")
    page.get_by_role("button", name="Sign in").wait_for(timeout=60_000)
    assert not any(p in page.locator("body").inner_text() for p in patients["phone"].drop_nulls())
