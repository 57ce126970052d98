"""Issue 14 in the app (AppTest): freshness on every page, breakdowns only where a metric has values,
readable headers, text alternatives, drill-down links, and the Compare units page."""

from __future__ import annotations

import json

import pytest

from carepulse.access import can
from carepulse.dashboard.pages import PAGES
from tests import test_dashboard_pages as pages
from tests.dashboard_support import problems, rendered_text, signed_in_app

shared_dir, wh = pages.shared_dir, pages.wh  # the shared read-only warehouse fixtures

QI_PAGES = [p for p in PAGES if can("qi", p.permission)]


def charts(at) -> list[dict]:
    return [json.loads(c.proto.spec) for c in at.get("plotly_chart")]


def test_every_page_says_how_fresh_the_data_is_in_the_site_time_zone(wh):
    at = signed_in_app(wh, "qi")
    for page in QI_PAGES:
        at.switch_page(page.script).run()
        lines = [c.value for c in at.caption if "Data through" in c.value]
        assert len(lines) == 1, page.script
        assert "; loaded " in lines[0] and "(site time, America/New_York)" in lines[0]


def test_care_transitions_offer_only_breakdowns_discharges_carry(wh):
    at = signed_in_app(wh, "qi")
    at.switch_page("views/transitions.py").run()
    assert problems(at) == []
    options = at.selectbox(key="transitions.group").options
    assert "Department" not in options and "Site" not in options and "Provider" not in options
    assert "Payer class" in options
    bars = [c for c in charts(at) if " by payer class" in c["layout"]["title"]["text"]]
    assert bars
    if bars[0]["data"]:  # a bar per payer class, none called None
        assert bars[0]["data"][0]["type"] == "bar" and "None" not in bars[0]["data"][0]["y"]
    else:  # every payer class hidden by the small-cell rule: said in words, no broken axes
        assert bars[0]["layout"]["xaxis"]["visible"] is False
        assert bars[0]["layout"]["annotations"][0]["text"].startswith("No values to compare")


def test_tables_have_readable_headers_and_charts_a_text_alternative(wh):
    at = signed_in_app(wh, "analyst")
    at.switch_page("views/access_flow.py").run()
    assert problems(at) == []
    text = rendered_text(at)
    assert "95% CI low" in text and "Numerator" in text
    summaries = [c.value for c in at.caption if "latest" in c.value or "units; highest" in c.value]
    assert len(summaries) >= 2  # the trend's and the bars' text summaries
    toggle = at.toggle(key="trend_access_flow.data")
    assert toggle.value is False
    toggle.set_value(True).run()
    table = at.dataframe[0].value  # the toggled table comes first: the trend's periods
    assert table.shape[0] >= 4 and {"period", "value"} <= set(table.columns)


def test_aggregate_roles_get_the_nearest_safe_view_instead_of_blanks(wh):
    at = signed_in_app(wh, "manager")
    at.switch_page("views/access_flow.py").run()
    titles = [c["layout"]["title"]["text"] for c in charts(at)]
    notes = [i.value for i in at.info if "small-cell rule" in i.value]
    # In the small test system some months have 1 to 10 no-shows: a manager gets quarters, and is told why.
    assert "No-show rate by quarter" in titles
    assert any(n.startswith("By month, ") and n.endswith("so this shows quarter instead.") for n in notes)
    trend = next(c for c in charts(at) if c["layout"]["title"]["text"] == "No-show rate by quarter")
    values = [v for t in trend["data"] if t.get("mode", "").startswith("lines+markers") for v in t["y"]]
    assert values and all(v is not None for v in values)  # nothing blank


def test_a_drill_down_link_opens_the_breakdown_behind_a_bar(wh):
    at = signed_in_app(wh, "manager")
    at.switch_page("views/access_flow.py").run()
    bars = next(c for c in charts(at) if c["data"] and c["data"][0]["type"] == "bar")
    dimension = bars["layout"]["title"]["text"].rsplit(" by ", 1)[1]  # department, or site (safe view)
    unit = bars["data"][0]["customdata"][-1]  # the ids a click returns
    at.query_params["drill"] = f"{dimension}:{unit}"
    at.run()
    assert problems(at) == []
    crumbs = [m.value for m in at.markdown if "›" in m.value]
    assert crumbs and dimension.capitalize() in crumbs[0] and "No-show rate" in crumbs[0]
    drilled = [c for c in charts(at) if c["layout"]["title"]["text"].startswith("No-show rate: ")]
    assert drilled and drilled[0]["data"][0]["type"] == "bar"
    assert at.query_params["drill"] in (f"{dimension}:{unit}", [f"{dimension}:{unit}"])  # ids only
    at.button(key="access_flow.back").click().run()
    assert "drill" not in at.query_params
    assert not [m.value for m in at.markdown if "›" in m.value]


@pytest.mark.parametrize("role", ["manager", "coordinator"])
def test_compare_units_scorecard_and_funnel(wh, role):
    at = signed_in_app(wh, role)
    at.switch_page("views/compare.py").run()
    assert problems(at) == []
    card = at.dataframe[0].value
    assert {"Unit", "Measure", "Current", "Prior", "Target", "Variation", "Assurance"} <= set(card.columns)
    assert card.shape[0] >= 3
    assert card["Variation"].str.startswith("data:image/svg+xml;base64,").any()
    funnels = [c for c in charts(at) if "against the overall rate" in c["layout"]["title"]["text"]]
    assert funnels and funnels[0]["layout"]["xaxis"]["type"] == "log"
    assert any("outside the 95% limits" in c.value for c in at.caption)
    at.segmented_control(key="cmp.unit").set_value("site").run()
    assert problems(at) == [] and at.query_params["unit"] in ("site", ["site"])


def test_analyst_row_export_is_deidentified_and_audited(wh, deferred_downloads):
    from carepulse import warehouse
    from carepulse.access import list_audit

    at = signed_in_app(wh, "analyst")
    at.switch_page("views/row_export.py").run()
    assert problems(at) == []
    assert "age" in at.dataframe[0].value["column"].tolist()
    build = next(b for name, b in deferred_downloads.items() if name == "appointments_deidentified.csv")
    before = list_audit(wh, action="export").height
    text = build().decode("utf-8-sig")
    header = text.splitlines()[0].split(",")
    assert header[:2] == ["patient_key", "visit_key"] and "age" in header
    assert not {"patient_id", "appointment_id", "mrn", "phone", "email", "birth_date", "postal_code"} & set(
        header
    )
    patients = warehouse.read_table(wh, "patients", columns=["mrn", "phone", "last_name"]).head(50)
    assert not [
        v
        for v in patients.get_column("mrn").to_list() + patients.get_column("phone").to_list()
        if v and v in text
    ]
    audit = list_audit(wh, action="export")
    assert audit.height == before + 1
    row = audit.sort("audit_id").row(-1, named=True)
    assert row["target"] == "appointments_deidentified" and row["rows"] == len(text.splitlines()) - 1 > 0


def test_other_roles_cannot_open_the_row_export(wh):
    at = signed_in_app(wh, "manager")
    with pytest.raises(ValueError, match="Could not find a navigation page"):
        at.switch_page("views/row_export.py")
