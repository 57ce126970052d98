"""The worklist in headless Chromium against `carepulse serve`: a coordinator signs in, opens the worklist,
records an outcome with one click, and the outcome is in the warehouse (who, when, which appointment)."""

from __future__ import annotations

import datetime as dt
import re

import polars as pl
import pytest

from carepulse import warehouse
from carepulse.access import accounts, list_audit
from carepulse.metrics.worklist import build_worklist
from carepulse.records import outreach
from tests.browser_support import (
    ARTIFACTS,
    carepulse_server,
    chromium_page,
    private_warehouse,
    settle,
    submit_sign_in,
)
from tests.dashboard_support import PASSWORD

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def served(scored_warehouse_file, tmp_path_factory):
    """`carepulse serve` on a free port over a private copy of the scored warehouse, with a coordinator
    for the busiest department of the upcoming scored visits."""
    home = tmp_path_factory.mktemp("served_worklist")
    engine = private_warehouse(scored_warehouse_file, home)
    scored = outreach.scored_frames(engine)
    assert scored["appointments"].height, "the scoring run of the small system found upcoming appointments"
    busiest = (
        scored["appointments"]
        .group_by("department_id")
        .len()
        .sort(["len", "department_id"], descending=[True, False])
        .item(0, 0)
    )
    accounts.create_user(engine, "browser_coord", "coordinator", PASSWORD, actor="test", departments=busiest)
    with carepulse_server(home) as url:
        yield url, engine, busiest
    engine.dispose()


@pytest.fixture
def page(served):
    with chromium_page(width=1500, height=1100) as page:
        yield page


def test_coordinator_records_an_outcome_and_it_is_persisted(served, page):
    url, engine, department = served
    scored = outreach.scored_frames(engine)
    expected = build_worklist(
        scored["scores"],
        scored["appointments"],
        scored["departments"],
        scored["providers"],
        allowed_departments=[department],
        today=outreach.latest_score_run(engine)["as_of"],
    )
    first = expected.item(0, "appointment_id")

    page.goto(url + "/")
    submit_sign_in(page, "browser_coord")
    page.get_by_role("link", name="No-show worklist").click(timeout=60_000)
    page.get_by_role("heading", name="No-show worklist").wait_for(timeout=60_000)
    page.locator('[data-testid="stDataFrame"]').first.wait_for(timeout=60_000)
    settle(page)
    in_view = page.locator('[data-testid="stMetricValue"]').first
    assert in_view.inner_text().strip() == f"{expected.height:,}"
    page.screenshot(path=ARTIFACTS / "worklist-01-queue.png", full_page=True)

    page.get_by_label("Note (optional)").fill("Confirmed by phone")
    # the button's name also carries its keyboard shortcut ("4")
    page.get_by_role("button", name=re.compile(r"^Confirmed\b")).click()
    page.get_by_text("Recorded 'Confirmed'").wait_for(timeout=60_000)
    settle(page)
    page.screenshot(path=ARTIFACTS / "worklist-02-recorded.png", full_page=True)

    stored = outreach.read_outcomes(engine, with_notes=True)
    assert stored.select("appointment_id", "outcome", "recorded_by", "note").rows() == [
        (first, "confirmed", "browser_coord", "Confirmed by phone")
    ]
    assert abs(stored.item(0, "recorded_at") - outreach.local_now()) < dt.timedelta(minutes=5)
    assert list_audit(engine, action="outreach.record").height == 1
    # the worked row left the queue the coordinator sees, and the picker moved on to the next one
    assert in_view.inner_text().strip() == f"{expected.height - 1:,}"
    box = page.locator('[data-testid="stSelectbox"]').filter(has_text="Appointment")
    picker = " ".join([box.text_content() or "", *(i.input_value() for i in box.locator("input").all())])
    if expected.height > 1:
        nxt = expected.row(1, named=True)
        assert f"{nxt['scheduled_start']:%a %d %b %H:%M}" in picker
    assert f"{expected.item(0, 'scheduled_start'):%a %d %b %H:%M}" not in picker or (
        expected.height > 1 and expected.item(0, "scheduled_start") == expected.item(1, "scheduled_start")
    )
    views = list_audit(engine, action="page.view", username="browser_coord")
    assert views.height == 1 and views.item(0, "rows") == expected.height
    # no patient identifier travelled in the URL
    patient = (
        warehouse.read_table(engine, "patients", columns=["patient_id", "mrn", "phone", "last_name"])
        .filter(pl.col("patient_id") == expected.item(0, "patient_id"))
        .row(0, named=True)
    )
    assert not any(str(v) in page.url for v in patient.values() if v)
