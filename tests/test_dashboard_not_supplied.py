"""Honest nulls on the pages: a scheduling-only warehouse shows "Not supplied: <reason>" for the
metrics its data cannot support (referrals, denials, survey scores), never a 0 % or an empty chart."""

from __future__ import annotations

import datetime as dt
import json
import re

import pytest
from typer.testing import CliRunner

from carepulse import warehouse
from carepulse.cli import app
from carepulse.metrics.supply import not_supplied
from carepulse.pipelines.supply_probe import supply_probe, warehouse_not_supplied
from tests.dashboard_support import rendered_text, signed_in_app, tiles
from tests.test_sources_optional import scheduling_only  # noqa: F401  (fixture)

ABSENT_KPIS = ("referral_loop_closure_rate", "initial_denial_rate", "provider_rating_top_box")


@pytest.fixture
def scheduling_wh(scheduling_only, settings, fast_password_hashing):  # noqa: F811
    """A warehouse loaded from a scheduling-only export (no referrals, claims, surveys...)."""
    result = CliRunner().invoke(app, ["ingest", str(scheduling_only), "--no-progress", "--format", "json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["counts"]["quarantined"] == 0
    engine = warehouse.make_engine(settings)
    yield engine
    engine.dispose()


def test_probe_agrees_with_the_full_frames(scheduling_wh) -> None:
    from carepulse.contract import EXTRACTS

    frames = {name: warehouse.read_table(scheduling_wh, name) for name in EXTRACTS}
    reasons = warehouse_not_supplied(scheduling_wh)
    assert reasons == not_supplied(frames)
    assert reasons["initial_denial_rate"] == "no claims extract was loaded"
    assert "no_show_rate" not in reasons  # appointments were supplied
    assert "claims" not in supply_probe(scheduling_wh, ["initial_denial_rate"])


def _no_zero_percent_for(text: str, titles: list[str]) -> None:
    for title in titles:
        assert not re.search(re.escape(title) + r"[^%]{0,80}?\b0(\.0)? ?%", text), title


def test_overview_tiles_say_not_supplied(scheduling_wh) -> None:
    from carepulse import metrics

    at = signed_in_app(scheduling_wh, "qi")
    assert not at.exception
    shown = tiles(at)
    titles = [metrics.get_metric(name).title for name in ABSENT_KPIS]
    for title in titles:
        assert shown[title] == "Not supplied"
    captions = " ".join(c.value for c in at.caption)
    assert "Not supplied: no referrals extract was loaded" in captions
    assert "Not supplied: no claims extract was loaded" in captions
    assert "Not supplied: no surveys extract was loaded" in captions
    assert shown[metrics.get_metric("no_show_rate").title] != "Not supplied"  # appointments were supplied
    _no_zero_percent_for(" ".join(f"{k} {v}" for k, v in shown.items()), titles)


@pytest.mark.parametrize(
    ("script", "reason"),
    [
        ("views/referrals.py", "no referrals extract was loaded"),
        ("views/revenue.py", "no claims extract was loaded"),
        ("views/experience.py", "no surveys extract was loaded"),
    ],
)
def test_family_pages_say_not_supplied(scheduling_wh, script: str, reason: str) -> None:
    at = signed_in_app(scheduling_wh, "qi")
    at.switch_page(script).run()
    assert not at.exception, [e.value for e in at.exception]
    notes = [i.value for i in at.info]
    assert f"Not supplied: {reason}" in notes
    assert all(m.value == "Not supplied" for m in at.metric), [(m.label, m.value) for m in at.metric]
    text = rendered_text(at)
    assert "0.0%" not in text and "0 %" not in text
    assert not at.get("plotly_chart")  # no empty chart drawn for a metric the data cannot support


def test_meeting_pack_says_not_supplied(scheduling_wh) -> None:
    from carepulse.access import accounts
    from carepulse.dashboard import meeting_pack
    from carepulse.dashboard.filters import Filters
    from tests.dashboard_support import create_account

    user = accounts.get_user(scheduling_wh, create_account(scheduling_wh, "qi"))
    view = Filters(start=dt.date(2020, 1, 1), end=dt.date(2030, 12, 31))
    run = warehouse.latest_load_run_id(scheduling_wh)
    html = meeting_pack.downloader(run, view, user)().decode("utf-8")
    assert "Not supplied: no claims extract was loaded" in html
    assert "Not supplied: no referrals extract was loaded" in html
    assert "Not supplied: no surveys extract was loaded" in html
    row = re.search(r"<tr><td>Initial denial rate</td>.*?</tr>", html)
    assert row is not None and "%" not in row.group(0)
