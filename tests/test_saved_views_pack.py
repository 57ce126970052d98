"""Saved views (records + sidebar) and `carepulse pack --view NAME` building the meeting pack."""

from __future__ import annotations

import json

import pytest

from carepulse.access import list_audit
from carepulse.errors import CarePulseError
from carepulse.records import saved_views
from tests import test_dashboard_pages as pages
from tests.dashboard_support import create_account, problems, signed_in_app

private_wh = pages.private_wh  # fixture: a private copy of the loaded warehouse


def test_save_replace_list_get_and_errors(engine):
    first = saved_views.save_view(
        engine, owner="ann", name="Cardiology", params={"from": "2026-01-01", "dept": ["D01"], "junk": "x"}
    )
    again = saved_views.save_view(engine, owner="ann", name="Cardiology", params={"dept": ("D02",)})
    assert first == again
    view = saved_views.get_view(engine, "Cardiology")
    assert view.params == {"dept": ["D02"]}  # replaced; unknown keys never stored
    saved_views.save_view(engine, owner="bob", name="Cardiology", params={})
    with pytest.raises(CarePulseError, match="Several users"):
        saved_views.get_view(engine, "Cardiology")
    assert saved_views.get_view(engine, "Cardiology", owner="bob").owner == "bob"
    with pytest.raises(CarePulseError, match="No saved view"):
        saved_views.get_view(engine, "Nope")
    with pytest.raises(CarePulseError, match="needs a name"):
        saved_views.save_view(engine, owner="ann", name="  ", params={})
    assert [v.name for v in saved_views.list_views(engine, "ann")] == ["Cardiology"]


def test_sidebar_saves_and_opens_a_view(private_wh):
    at = signed_in_app(private_wh, "manager", username="sv_manager")
    at.sidebar.multiselect(key="flt_payer").set_value(["medicare"]).run()
    at.sidebar.text_input(key="sv_name").input("Medicare").run()
    at.sidebar.button(key="sv_save").click().run()
    assert problems(at) == []
    stored = saved_views.get_view(private_wh, "Medicare", owner="sv_manager")
    assert stored.params["payer"] == ["medicare"]
    at.sidebar.multiselect(key="flt_payer").set_value([]).run()
    at.sidebar.button(key="sv_open").click().run()
    assert at.sidebar.multiselect(key="flt_payer").value == ["medicare"]


@pytest.mark.slow
def test_pack_cli_builds_the_same_pack_as_the_button(private_wh, settings, tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from carepulse.cli import app

    username = create_account(private_wh, "qi", username="pack_qi")
    saved_views.save_view(
        private_wh, owner=username, name="QI weekly", params={"from": "2026-01-01", "to": "2026-03-31"}
    )
    monkeypatch.setenv("CAREPULSE_DATA_DIR", str(settings.data_dir))
    out = tmp_path / "pack.html"
    result = CliRunner().invoke(app, ["pack", "--view", "QI weekly", "--out", str(out)])
    assert result.exit_code == 0, result.output
    html = out.read_text()
    assert html.startswith("<!DOCTYPE html>") and "No-show rate" in html and "2026-01-01" in html
    exports = list_audit(private_wh, action="export")
    assert exports.select("username", "target").rows()[-1] == ("pack_qi", "meeting_pack")
    assert json.loads(exports.item(-1, "detail"))["format"] == "html"
    bad = CliRunner().invoke(app, ["pack", "--view", "missing", "--out", str(out)])
    assert bad.exit_code != 0 and "No saved view called 'missing'" in str(bad.exception or bad.output)
