"""The QI page: SPC chart with limits and phases, annotations through the page, the meeting pack."""

from __future__ import annotations

import datetime as dt
import json

import polars as pl
import pytest

from carepulse import warehouse
from carepulse.access import list_audit
from carepulse.records import annotations as notes
from tests.dashboard_support import problems, signed_in_app


@pytest.fixture
def wh(loaded_wh):
    return loaded_wh


METRIC = "lead_time_days"  # weekly counts stay above the small-cell threshold in the small test system


def qi_page(wh, role="qi"):
    at = signed_in_app(wh, role, username=f"test_{role}")
    at.switch_page("views/qi.py").run()
    metric = at.selectbox(key="qi.metric")
    metric.set_value(METRIC).run()
    assert problems(at) == []
    return at


def spc_spec(at) -> dict:
    return json.loads(at.get("plotly_chart")[0].proto.spec)


def trace_names(spec) -> list[str]:
    return [t.get("name") for t in spec["data"]]


def test_spc_chart_shows_limits_and_a_worded_title(wh):
    spec = spc_spec(qi_page(wh))
    assert spec["layout"]["title"]["text"] == "Lead time (booked to visit), by week (whole selection)"
    assert trace_names(spec).count("Centre line") == 1
    assert {"Upper limit", "Lower limit", "Value"} <= set(trace_names(spec))
    assert spec["layout"]["yaxis"]["title"]["text"] == "Days"
    assert spec["layout"]["xaxis"]["title"]["text"] == "Week starting"


def test_adding_an_annotation_through_the_page(wh):
    at = qi_page(wh)
    at.date_input(key="qi.ann.date").set_value(dt.date(2026, 2, 2))
    at.text_input(key="qi.ann.title").input("SMS reminders started")
    at.text_area(key="qi.ann.description").input("Two days before each visit")
    at.checkbox(key="qi.ann.phase").check()
    at.button(key="qi.ann.add").click().run()
    assert problems(at) == []
    stored = notes.list_annotations(wh, METRIC)
    assert stored.select("title", "starts_phase", "created_by").rows() == [
        ("SMS reminders started", True, "test_qi")
    ]
    spec = spc_spec(at)
    assert any("SMS reminders started" in a.get("text", "") for a in spec["layout"]["annotations"])
    assert trace_names(spec).count("Centre line") == 2, (
        "a phase annotation recomputes the limits from its date"
    )
    assert list_audit(wh, action="annotation")["action"].to_list() == ["annotation.create"]
    # Annotation titles sit above the plot, so the legend moves under it (inside the figure, not clipped).
    legend = spec["layout"]["legend"]
    assert (legend["yref"], legend["y"], legend["yanchor"]) == ("container", 0, "bottom")


def test_annotation_appears_on_every_chart_of_its_metric(wh):
    notes.add_annotation(
        wh,
        metric="no_show_rate",
        annotated_on=dt.date(2026, 3, 2),
        title="Overbooking rule",
        created_by="someone",
    )
    at = signed_in_app(wh, "manager")
    at.switch_page("views/access_flow.py").run()
    texts = [
        a.get("text", "")
        for c in at.get("plotly_chart")
        for a in json.loads(c.proto.spec)["layout"].get("annotations", [])
    ]
    assert any("Overbooking rule" in t for t in texts)


def test_editing_and_deleting_through_the_page(wh):
    annotation = notes.add_annotation(
        wh, metric=METRIC, annotated_on=dt.date(2026, 1, 5), title="Old title", created_by="someone"
    )
    at = qi_page(wh)
    at.text_input(key=f"qi.edit.title.{annotation}").input("New title")
    at.checkbox(key=f"qi.edit.phase.{annotation}").check()
    at.button(key="qi.edit.save").click().run()
    assert problems(at) == []
    row = notes.list_annotations(wh, METRIC).row(0, named=True)
    assert (row["title"], row["starts_phase"]) == ("New title", True)
    assert spc_spec(at)["data"] and [t.get("name") for t in spc_spec(at)["data"]].count("Centre line") == 2
    at.button(key="qi.edit.delete").click().run()
    assert notes.list_annotations(wh, METRIC).is_empty()
    assert list_audit(wh, action="annotation").sort("audit_id")["action"].to_list() == [
        "annotation.create",
        "annotation.update",
        "annotation.delete",
    ]


def test_roles_without_the_permission_cannot_annotate(wh):
    at = qi_page(wh, role="analyst")
    assert not [b for b in at.button if b.key == "qi.ann.add"]


def test_an_empty_title_is_refused_with_a_message(wh):
    at = qi_page(wh)
    at.button(key="qi.ann.add").click().run()
    assert any("title" in e.value for e in at.error)
    assert notes.list_annotations(wh).is_empty()


def test_meeting_pack_is_self_contained_and_escaped(wh):
    from carepulse.access import accounts
    from carepulse.dashboard import meeting_pack
    from carepulse.dashboard.filters import Filters
    from tests.dashboard_support import create_account

    notes.add_annotation(
        wh,
        metric="no_show_rate",
        annotated_on=dt.date(2026, 2, 2),
        title="<script>alert(1)</script> reminders",
        created_by="qi_lead",
        starts_phase=True,
    )
    user = accounts.get_user(wh, create_account(wh, "qi", username="test_qi"))
    view = Filters(start=dt.date(2025, 7, 1), end=dt.date(2026, 6, 30))
    html = meeting_pack.downloader(warehouse.latest_load_run_id(wh), view, user)().decode("utf-8")
    assert html.startswith("<!DOCTYPE html>")
    assert "No-show rate" in html and "Top movers" in html and "Data quality" in html
    assert "<script>alert(1)" not in html  # escaped in the tables and in the charts' JSON
    assert "https://cdn" not in html.split("plotly.js")[0]  # plotly.js inlined, no CDN
    assert html.count("class='chart'") >= 5
    exports = list_audit(wh, action="export")
    assert exports.select("username", "target").rows() == [("test_qi", "meeting_pack")]


def test_a_department_phase_restarts_limits_only_on_that_departments_chart(wh):
    from carepulse.access import accounts
    from carepulse.dashboard.filters import Filters
    from carepulse.dashboard.qi_data import spc_view
    from carepulse.metrics import get_metric
    from tests.dashboard_support import create_account

    notes.add_annotation(
        wh,
        metric=METRIC,
        annotated_on=dt.date(2026, 1, 5),
        title="Cardiology change",
        department_id="D01",
        starts_phase=True,
        created_by="someone",
    )
    # A role without suppression: one department's weekly counts are small in the test system.
    user = accounts.get_user(wh, create_account(wh, "coordinator"))
    view = Filters(start=dt.date(2025, 7, 1), end=dt.date(2026, 6, 30))
    run = warehouse.latest_load_run_id(wh)
    whole = spc_view(get_metric(METRIC), run, view, user, period="week")
    assert whole.result.summary.height == 1  # whole selection: no phase ...
    assert whole.annotations.is_empty()  # ... and no marker: a department's note is not system-wide
    one = spc_view(get_metric(METRIC), run, view, user, period="week", group="department", group_value="D01")
    assert one.result.summary.height == 2
    assert one.result.summary["start"][1] >= dt.date(2026, 1, 5)
    other = spc_view(
        get_metric(METRIC), run, view, user, period="week", group="department", group_value="D02"
    )
    assert other.result.summary.height == 1 and other.annotations.is_empty()


def test_suppressed_weeks_are_not_drawn_but_still_set_the_limits(wh):
    """No-show counts per week are mostly 1-10 in the small system: an aggregate role must not see those
    weeks' points, yet the P chart's limits must be those of every week (dropping the small weeks would
    leave the zero weeks and bias the centre line to 0)."""
    from carepulse import metrics
    from carepulse.metrics.kpis import spc_arguments
    from carepulse.metrics.spc import incomplete_periods, spc

    at = signed_in_app(wh, "qi", username="test_qi")
    at.switch_page("views/qi.py").run()
    at.selectbox(key="qi.metric").set_value("no_show_rate").run()
    assert problems(at) == []
    spec = spc_spec(at)
    values = next(t for t in spec["data"] if t.get("name") == "Value")
    centre = next(t for t in spec["data"] if t.get("name") == "Centre line")

    frames = metrics.prepare(
        {
            n: warehouse.read_table(wh, n)
            for n in (
                "departments",
                "providers",
                "patients",
                "appointments",
                "referrals",
                "claims",
                "surveys",
                "encounters",
                "slots",
            )
        }
    )
    view_start, view_end = (
        at.sidebar.date_input(key="flt_from").value,
        at.sidebar.date_input(key="flt_to").value,
    )
    raw = metrics.compute("no_show_rate", frames, period="week", start=view_start, end=view_end).sort(
        "period"
    )
    small = raw.filter(pl.col("numerator").is_between(1, 10))
    assert small.height > 0  # the premise: some weeks are small cells
    drawn = {x[:10] for x, y in zip(values["x"], values["y"], strict=True) if y is not None}
    assert not drawn & {d.isoformat() for d in small["period"]}
    definition = metrics.get_metric("no_show_rate")
    # the page leaves the incomplete last week (if any) out of the limits, as the engine is told here
    partial = incomplete_periods(raw["period"], "week", view_end)
    expected = spc(
        raw.filter(pl.col("value").is_not_null()), **spc_arguments(definition, target=None, partial=partial)
    )
    expected_centre = expected.points["cl"].to_list()
    assert centre["y"] == pytest.approx(expected_centre)
    assert max(centre["y"]) > 0.02  # not the zero-biased line of the non-suppressed weeks only


def test_spc_chart_names_the_missing_period_column():
    from carepulse.dashboard import spc_chart

    with pytest.raises(ValueError, match="an x, period or date column"):
        spc_chart.spc(pl.DataFrame({"value": [0.1, 0.2, 0.3]}), title="No-show rate", unit="%")


def test_a_site_annotation_is_drawn_only_on_charts_of_that_site(wh):
    from carepulse.access import accounts
    from carepulse.dashboard.filters import Filters
    from carepulse.dashboard.qi_data import spc_view
    from carepulse.metrics import get_metric
    from tests.dashboard_support import create_account

    departments = warehouse.read_table(wh, "departments", columns=["department_id", "site"]).sort(
        "department_id"
    )
    site = departments.item(0, "site")
    inside = departments.filter(pl.col("site") == site).item(0, "department_id")
    outside = departments.filter(pl.col("site") != site)
    notes.add_annotation(
        wh,
        metric=METRIC,
        annotated_on=dt.date(2026, 1, 5),
        title="Site change",
        site=site,
        created_by="someone",
    )
    user = accounts.get_user(wh, create_account(wh, "coordinator"))
    view = Filters(start=dt.date(2025, 7, 1), end=dt.date(2026, 6, 30))
    run = warehouse.latest_load_run_id(wh)
    definition = get_metric(METRIC)
    assert spc_view(definition, run, view, user, period="week").annotations.is_empty()
    by_site = spc_view(definition, run, view, user, period="week", group="site", group_value=site)
    assert by_site.annotations.select("title", "scope").rows() == [("Site change", "site")]
    one_dept = spc_view(definition, run, view, user, period="week", group="department", group_value=inside)
    assert one_dept.annotations["title"].to_list() == ["Site change"]  # a department of that site
    if outside.height:
        elsewhere = spc_view(
            definition,
            run,
            view,
            user,
            period="week",
            group="department",
            group_value=outside.item(0, "department_id"),
        )
        assert elsewhere.annotations.is_empty()
