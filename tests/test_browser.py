"""The dashboard in headless Chromium against `carepulse serve` (Playwright; few tests: they are slow).

Sign in, see the overview, change a filter (the URL follows), open the QI page's SPC chart, add an
annotation (it lands in the warehouse), download a table export and the meeting pack (HTML and PDF).
Screenshots go to ``test-artifacts/`` (not committed).
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest

from carepulse.access import list_audit
from carepulse.records import annotations as notes
from tests.browser_support import ARTIFACTS, chromium_page, served_with_account, settle, submit_sign_in
from tests.dashboard_support import loaded_warehouse_file

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def served(request, tmp_path_factory):
    """`carepulse serve` on a free port over a private copy of the loaded warehouse, with a QI account."""
    source, home = loaded_warehouse_file(request, tmp_path_factory), tmp_path_factory.mktemp("served")
    with served_with_account(source, home, "browser_qi", "qi") as (url, engine):
        yield url, engine


@pytest.fixture
def page(served):
    with chromium_page(width=1400, height=1000, accept_downloads=True) as page:
        yield page


def sign_in(page, url: str) -> None:
    page.goto(url + "/")
    submit_sign_in(page, "browser_qi")
    page.get_by_role("heading", name="Overview").wait_for(timeout=60_000)
    page.locator('[data-testid="stMetric"]').nth(8).wait_for(timeout=60_000)
    settle(page)


def tile_values(page) -> list[str]:
    return page.locator('[data-testid="stMetricValue"]').all_inner_texts()


def test_overview_filter_spc_annotation_and_downloads(served, page):
    url, engine = served
    sign_in(page, url)
    page.screenshot(path=ARTIFACTS / "01-overview.png", full_page=True)
    before = tile_values(page)
    assert len(before) == 9

    # A filter changes the tiles and the URL (a shared link shows the same view).
    payer = page.locator('[data-testid="stSidebar"]').get_by_role("combobox", name="Payer class")
    payer.click()
    payer.press_sequentially("commercial")
    page.get_by_role("option", name="commercial", exact=True).click()
    page.keyboard.press("Escape")
    settle(page)
    page.wait_for_function("() => location.search.includes('payer=commercial')", timeout=30_000)
    after = tile_values(page)
    assert after != before
    page.screenshot(path=ARTIFACTS / "02-overview-filtered.png", full_page=True)

    # The filter holds across pages; "Reset filters" clears it (the small test system needs every
    # payer class for monthly counts above the small-cell threshold).
    page.get_by_role("link", name="QI meeting").click()
    page.get_by_role("heading", name="QI meeting").wait_for(timeout=60_000)
    settle(page)
    assert "payer=commercial" in page.url
    page.get_by_role("button", name="Reset filters").click()
    settle(page)
    page.wait_for_function("() => !location.search.includes('payer=')", timeout=30_000)
    metric = page.get_by_role("combobox", name="Metric")
    metric.click()
    metric.press_sequentially("Lead time")
    page.get_by_role("option", name="Lead time (booked to visit)").click()
    settle(page)
    page.locator(".js-plotly-plot .legendtext", has_text="Centre line").first.wait_for(timeout=60_000)
    page.screenshot(path=ARTIFACTS / "03-qi-spc.png", full_page=True)

    # Add an annotation through the form; it is stored with who added it and drawn on the chart.
    form = page.locator('[data-testid="stForm"]').filter(
        has=page.get_by_role("button", name="Add annotation")
    )
    form.get_by_label("Title").fill("Browser: text reminders started")
    form.get_by_label("Description").fill('=HYPERLINK("http://example.org")')
    form.get_by_role("button", name="Add annotation").click()
    settle(page)
    stored = notes.list_annotations(engine, "lead_time_days")
    assert stored.select("title", "created_by").rows() == [("Browser: text reminders started", "browser_qi")]
    page.locator(".js-plotly-plot .annotation-text", has_text="Browser: text reminders").first.wait_for(
        timeout=30_000
    )
    page.screenshot(path=ARTIFACTS / "04-qi-annotated.png", full_page=True)
    page.locator(".js-plotly-plot").first.screenshot(path=ARTIFACTS / "05-qi-chart-annotated.png")

    # Tables have no built-in CSV download (it would skip the audit and the formula escaping).
    table = page.locator('[data-testid="stDataFrame"]').first
    table.hover()
    page.locator('[data-testid="stElementToolbar"]').first.wait_for(state="attached", timeout=30_000)
    assert page.get_by_role("button", name="Download as CSV").count() == 0
    assert page.get_by_role("button", name="Search").count() >= 1  # the toolbar is there, without export

    # Download a table as CSV (formula cells escaped) and the meeting pack.
    with page.expect_download(timeout=60_000) as download_info:
        page.locator('[data-testid="stDownloadButton"] button', has_text="CSV").first.click()
    csv_text = Path(download_info.value.path()).read_text(encoding="utf-8-sig")
    rows = list(csv.DictReader(io.StringIO(csv_text)))
    assert rows and "phase" in rows[0]
    with page.expect_download(timeout=120_000) as download_info:
        page.get_by_role("button", name="Download meeting pack (HTML)").click()
    download = download_info.value
    assert download.suggested_filename.startswith("carepulse-meeting-pack-")
    pack = Path(download.path()).read_text(encoding="utf-8")
    assert "<!DOCTYPE html>" in pack and "No-show rate" in pack and "Browser: text reminders started" in pack
    (ARTIFACTS / "meeting-pack.html").write_text(pack, encoding="utf-8")
    # The same pack as PDF, printed on the server by headless Chromium (the pdf_browser default).
    with page.expect_download(timeout=120_000) as download_info:
        page.get_by_role("button", name="Download meeting pack (PDF)").click()
    download = download_info.value
    assert download.suggested_filename.startswith("carepulse-meeting-pack-")
    assert download.suggested_filename.endswith(".pdf")
    pdf = Path(download.path()).read_bytes()
    assert pdf.startswith(b"%PDF-")
    (ARTIFACTS / "meeting-pack.pdf").write_bytes(pdf)
    exports = list_audit(engine, action="export")
    assert set(exports["target"]) >= {"meeting_pack", "spc_lead_time_days"}
    packs = exports.filter(exports["target"] == "meeting_pack")["detail"].to_list()
    assert sorted('"pdf"' in detail for detail in packs) == [False, True]
    assert page.get_by_text("Traceback").count() == 0
