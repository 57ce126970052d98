"""Helpers shared by the browser tests: `carepulse serve` on a free port and headless Chromium.

Each test module keeps its own fixtures (which warehouse, which account, which window size) and
builds them from these pieces, so the server start-up, the Chromium flags, the sign-in form and the
wait for Streamlit to settle are written once.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import sqlalchemy as sa

from carepulse import warehouse
from carepulse.access import accounts
from carepulse.dashboard.pdf import CHROMIUM_FLAGS
from tests.dashboard_support import PASSWORD, copy_warehouse

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = list(CHROMIUM_FLAGS)  # the flags the product itself runs Chromium with
ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def private_warehouse(source: Path, home: Path) -> sa.Engine:
    """An engine on a private copy of the warehouse file ``source``, in ``home / "data"`` (the
    data dir :func:`carepulse_server` serves)."""
    from carepulse.settings import Settings

    settings = Settings(data_dir=home / "data")
    copy_warehouse(source, settings)
    return warehouse.make_engine(settings)


@contextmanager
def carepulse_server(home: Path) -> Iterator[str]:
    """`carepulse serve` on a free port over ``home / "data"``, with no other configuration; yields its
    URL once the health check answers, and stops the server afterwards."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("CAREPULSE_")}
    env |= {"CAREPULSE_DATA_DIR": str(home / "data"), "CAREPULSE_SETTINGS_FILE": str(home / "none.toml")}
    carepulse = Path(sys.executable).with_name("carepulse")
    server = subprocess.Popen(
        [str(carepulse), "serve", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        cwd=home,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
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
        server.kill()
        pytest.fail("carepulse serve did not start: " + server.stdout.read().decode(errors="replace")[-2000:])
    try:
        yield url
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()


@contextmanager
def served_with_account(
    source: Path, home: Path, username: str, role: str, **account
) -> Iterator[tuple[str, sa.Engine]]:
    """`carepulse serve` over a private copy of ``source`` holding one account (password ``PASSWORD``);
    yields the URL and an engine on the copy (to check what the browser wrote)."""
    engine = private_warehouse(source, home)
    try:
        accounts.create_user(engine, username, role, PASSWORD, actor="test", **account)
        with carepulse_server(home) as url:
            yield url, engine
    finally:
        engine.dispose()


@contextmanager
def chromium_page(*, width: int, height: int, **context_options) -> Iterator:
    """A Playwright page in headless Chromium (the system binary, the project's flags); ``context_options``
    go to ``new_context`` (e.g. ``accept_downloads=True``)."""
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        context = browser.new_context(viewport={"width": width, "height": height}, **context_options)
        try:
            yield context.new_page()
        finally:
            context.close()
            browser.close()


def settle(page, timeout: float = 60_000) -> None:
    """Wait until the script run is over: no spinner, no running indicator, no stale element."""
    page.wait_for_timeout(300)
    page.wait_for_function(
        """() => !document.querySelector('[data-testid="stSpinner"]')
                 && !document.querySelector('[data-testid="stStatusWidget"] [data-testid="stStatusWidgetRunningIcon"]')
                 && !document.querySelector('[data-stale="true"]')""",
        timeout=timeout,
    )
    page.wait_for_timeout(300)


def submit_sign_in(page, username: str, password: str = PASSWORD) -> None:
    """Fill the sign-in form on the current page and press "Sign in" (the caller waits for the outcome)."""
    page.get_by_label("Username").fill(username)
    page.get_by_role("textbox", name="Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
