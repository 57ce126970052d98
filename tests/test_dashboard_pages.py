"""Every dashboard page on a small generated and loaded warehouse (Streamlit AppTest).

The tiles must show what ``carepulse.metrics.compute`` gives for the same filters; filters persist across
pages and in the URL; roles see only their pages; nothing shows a traceback.
"""

from __future__ import annotations

import datetime as dt
import json

import pytest

from carepulse import metrics, warehouse
from carepulse.access import can
from carepulse.dashboard import charts
from carepulse.dashboard.pages import PAGES
from carepulse.metrics.kpis import KPI_METRICS
from tests.dashboard_support import copy_warehouse, problems, signed_in_app, tiles

MY_PAGES = [p for p in PAGES if p.script not in ("views/admin.py", "views/worklist.py")]  # owned by others


@pytest.fixture(scope="session")
def shared_dir(warehouse_file, tmp_path_factory):
    """One copy of the loaded warehouse for the tests that only read it (and add accounts): the app's
    per-load-run caches then serve every test after the first, as in a running server."""
    from carepulse.settings import Settings

    folder = tmp_path_factory.mktemp("dashboard_shared") / "data"
    copy_warehouse(warehouse_file, Settings(data_dir=folder))
    return folder


@pytest.fixture
def wh(shared_dir, monkeypatch, fast_password_hashing):
    """The shared warehouse (read-only apart from accounts and audit rows)."""
    from carepulse.settings import get_settings
    from tests.dashboard_support import use_warehouse_dir

    use_warehouse_dir(monkeypatch, shared_dir)
    engine = warehouse.make_engine(get_settings())
    yield engine
    engine.dispose()


@pytest.fixture
def private_wh(settings, warehouse_file, fast_password_hashing):
    """A private copy, for tests that write to the warehouse."""
    copy_warehouse(warehouse_file, settings)
    engine = warehouse.make_engine(settings)
    yield engine
    engine.dispose()


@pytest.fixture
def prepared(wh):
    from carepulse.contract import EXTRACTS

    return metrics.prepare({name: warehouse.read_table(wh, name) for name in EXTRACTS})


def expected_tiles(prepared, start, end, filters=None, suppress=False) -> dict[str, str]:
    out = {}
    for name in KPI_METRICS:
        definition = metrics.get_metric(name)
        frame = metrics.compute(name, prepared, start=start, end=end, filters=filters)
        if suppress:
            frame = metrics.suppress_small_cells(frame, 10)
        value = frame.item(0, "value") if frame.height else None
        out[definition.title] = charts.format_value(value, definition.unit)
    return out


def view_dates(at) -> tuple[dt.date, dt.date]:
    start, end = (d.value for d in at.sidebar.date_input)
    return start, end


@pytest.mark.parametrize("page", MY_PAGES, ids=[p.url_path for p in MY_PAGES])
def test_every_page_renders_without_error(wh, page):
    role = next(r for r in ("qi", "coordinator", "analyst") if can(r, page.permission))
    at = signed_in_app(wh, role)
    at.switch_page(page.script).run()
    assert problems(at) == []
    assert at.title[0].value  # the page drew its heading, not a refusal
    for chart in at.get("plotly_chart"):
        spec = json.loads(chart.proto.spec)
        assert spec["layout"]["title"]["text"], "every chart has a title in words"


def test_overview_tiles_equal_the_metrics_library(wh, prepared):
    at = signed_in_app(wh, "coordinator")  # no small-cell suppression: raw library values
    assert problems(at) == []
    start, end = view_dates(at)
    shown = tiles(at)
    assert shown == expected_tiles(prepared, start, end)
    assert sum(v != "n/a" for v in shown.values()) >= 6


def test_aggregate_roles_see_suppressed_tiles(wh, prepared):
    at = signed_in_app(wh, "manager")
    start, end = view_dates(at)
    assert tiles(at) == expected_tiles(prepared, start, end, suppress=True)


def test_changing_a_filter_changes_the_tiles_and_the_url(wh, prepared):
    at = signed_in_app(wh, "coordinator")
    before = tiles(at)
    department = at.sidebar.multiselect(key="flt_dept").options[0]
    department_id = prepared["departments"].collect().sort("site", "name").item(0, "department_id")
    at.sidebar.multiselect(key="flt_dept").set_value([department_id]).run()
    assert problems(at) == []
    start, end = view_dates(at)
    after = tiles(at)
    assert after != before
    assert after == expected_tiles(prepared, start, end, filters={"department": [department_id]})
    assert at.query_params["dept"] in (department_id, [department_id])
    assert department  # the option list is labelled by department names


def test_filters_persist_across_pages(wh):
    at = signed_in_app(wh, "qi")
    at.sidebar.multiselect(key="flt_payer").set_value(["medicare"]).run()
    at.switch_page("views/access_flow.py").run()
    assert at.sidebar.multiselect(key="flt_payer").value == ["medicare"]
    assert any("payer class: medicare" in c.value for c in at.caption)


def test_a_shared_link_opens_the_same_view(wh, prepared):
    params = {"from": "2026-01-01", "to": "2026-03-31", "payer": "medicaid"}
    at = signed_in_app(wh, "coordinator", query_params=params)
    assert view_dates(at) == (dt.date(2026, 1, 1), dt.date(2026, 3, 31))
    assert at.sidebar.multiselect(key="flt_payer").value == ["medicaid"]
    expected = expected_tiles(
        prepared, dt.date(2026, 1, 1), dt.date(2026, 3, 31), filters={"payer_class": ["medicaid"]}
    )
    assert tiles(at) == expected


def test_unknown_values_in_the_url_are_ignored(wh):
    params = {"dept": ["'; DROP TABLE appointments; --", "D01"], "from": "not-a-date"}
    at = signed_in_app(wh, "qi", query_params=params)
    assert problems(at) == []
    assert at.sidebar.multiselect(key="flt_dept").value == ["D01"]
    with wh.connect() as conn:
        assert conn.exec_driver_sql("select count(*) from appointments").scalar() > 0


def test_navigation_offers_only_the_roles_pages(wh):
    at = signed_in_app(wh, "coordinator")
    with pytest.raises(ValueError, match="Could not find a navigation page"):
        at.switch_page("views/qi.py")


def test_each_page_rechecks_its_permission_on_the_server(wh):
    from streamlit.testing.v1 import AppTest

    from carepulse.access import accounts
    from tests.dashboard_support import APP, create_account

    username = create_account(wh, "coordinator")
    page = AppTest.from_file(APP.replace("app.py", "views/qi.py"), default_timeout=60)
    page.session_state["carepulse_user"] = accounts.get_user(wh, username)
    page.run()
    assert "does not allow" in page.error[0].value
    assert not page.get("plotly_chart")


def test_an_empty_warehouse_explains_how_to_load_data(settings, fast_password_hashing):
    from carepulse import schema

    engine = warehouse.make_engine(settings)
    schema.create_all(engine)
    at = signed_in_app(engine, "qi")
    assert problems(at) == []
    assert any("carepulse demo" in i.value and "carepulse ingest" in i.value for i in at.info)


def test_small_counts_are_flagged_in_hover(wh):
    at = signed_in_app(wh, "qi")
    at.switch_page("views/access_flow.py").run()
    at.selectbox(key="access_flow.group").set_value("provider").run()
    hovers = " ".join(
        str(trace.get("hovertext"))
        for chart in at.get("plotly_chart")
        for trace in json.loads(chart.proto.spec)["data"]
    )
    assert "numerator" in hovers and "denominator" in hovers
    assert "suppressed" in hovers or "small count" in hovers


def test_comments_only_for_roles_allowed_to_read_them(wh):
    comments = warehouse.read_table(wh, "surveys", columns=["comment"]).drop_nulls()
    assert comments.height > 0
    manager = signed_in_app(wh, "manager")
    manager.switch_page("views/experience.py").run()
    assert not [t for t in manager.toggle if t.key == "exp.comments"]
    qi = signed_in_app(wh, "qi", username="test_qi_reader")
    qi.switch_page("views/experience.py").run()
    qi.toggle(key="exp.comments").set_value(True).run()
    assert problems(qi) == []
    shown = qi.dataframe[-1].value
    assert len(shown) > 0
    assert set(shown["comment"]) <= set(comments["comment"].to_list())


def test_quarantined_values_only_with_permission(private_wh):
    from carepulse import schema

    wh = private_wh
    with wh.begin() as conn:
        conn.execute(
            schema.quarantine.insert().values(
                run_id=1,
                extract="patients",
                file_name="patients.csv",
                line=7,
                column_name="phone",
                value="555-867-5309-SECRET",
                reason="not a phone number",
                expectation="phone_format",
            )
        )
    qi = signed_in_app(wh, "qi")
    qi.switch_page("views/data_quality.py").run()
    assert problems(qi) == []
    assert "SECRET" not in json.dumps([df.value.to_dict() for df in qi.dataframe], default=str)
    assert any("not a phone number" in str(df.value.to_dict()) for df in qi.dataframe)
    admin = signed_in_app(wh, "admin")
    admin.switch_page("views/data_quality.py").run()
    assert "SECRET" in json.dumps([df.value.to_dict() for df in admin.dataframe], default=str)


def test_a_new_load_shows_up_without_a_restart(private_wh):
    """The caches are keyed on the latest load run: a new run, new numbers, same server session."""
    import datetime as _dt

    from carepulse import schema

    at = signed_in_app(private_wh, "coordinator")
    before = tiles(at)["No-show rate"]
    with private_wh.begin() as conn:
        conn.exec_driver_sql("update appointments set status = 'completed' where status = 'no_show'")
    from carepulse.pipelines.aggregate_load import rebuild_aggregates
    from carepulse.settings import get_settings

    rebuild_aggregates(private_wh, get_settings())  # what a load does inside its transaction
    with private_wh.begin() as conn:
        conn.execute(
            schema.load_runs.insert().values(
                started_at=_dt.datetime(2026, 7, 1),
                finished_at=_dt.datetime(2026, 7, 1),
                status="succeeded",
                source_dir="test",
                rows_read=0,
                inserted=0,
                updated=0,
                unchanged=0,
                quarantined=0,
            )
        )
    at.run()
    assert before != "0.0%"
    assert tiles(at)["No-show rate"] == "0.0%"


def test_model_page_shows_card_performance_and_monitoring(
    settings, scored_warehouse_file, fast_password_hashing
):
    copy_warehouse(scored_warehouse_file, settings)
    engine = warehouse.make_engine(settings)
    at = signed_in_app(engine, "qi")
    at.switch_page("views/model.py").run()
    assert problems(at) == []
    from carepulse.metrics.no_show_model import current_version

    version = current_version(engine)
    assert any(version.version in c.value for c in at.caption)
    assert any("Held-out test window" == s.value for s in at.subheader)
    titles = [json.loads(c.proto.spec)["layout"]["title"]["text"] for c in at.get("plotly_chart")]
    assert any(t.startswith("Calibration on the test window") for t in titles)
    markdown = " ".join(str(m.value) for m in at.markdown)
    assert (version.model_card or "")[:40].strip() in markdown
    engine.dispose()


def test_a_refused_load_appears_on_the_data_quality_page(private_wh):
    import datetime as _dt

    from carepulse import schema

    at = signed_in_app(private_wh, "admin")
    at.switch_page("views/data_quality.py").run()
    with private_wh.begin() as conn:
        conn.execute(
            schema.load_runs.insert().values(
                started_at=_dt.datetime(2026, 7, 1),
                finished_at=_dt.datetime(2026, 7, 1),
                status="refused",
                source_dir="x",
                rows_read=5,
                inserted=0,
                updated=0,
                unchanged=0,
                quarantined=0,
                message="batch refused: appointments.status unexpected values above threshold",
            )
        )
    at.run()
    assert problems(at) == []
    assert any("refused" in w.value and "batch refused" in w.value for w in at.warning)


def test_model_page_monitoring_follows_a_new_scoring_run(
    settings, scored_warehouse_file, fast_password_hashing
):
    """The monitoring tab is cached per (load run, scoring run): a new scoring run shows up on the next
    rerun, and its weekly figures equal :func:`monitoring_frame` computed from the warehouse."""
    import sqlalchemy as sa

    from carepulse import schema
    from carepulse.metrics.no_show_model import current_version, monitoring_frame

    copy_warehouse(scored_warehouse_file, settings)
    engine = warehouse.make_engine(settings)
    at = signed_in_app(engine, "qi")
    at.switch_page("views/model.py").run()
    assert problems(at) == []
    assert any("No scored appointment has happened yet" in i.value for i in at.info)

    # A scoring run over visits whose outcome is known, as if it had been made before they happened.
    past = (
        warehouse.read_table(
            engine,
            "appointments",
            columns=["appointment_id", "scheduled_start", "status"],
            where="status in ('completed', 'no_show')",
        )
        .sort("scheduled_start")
        .head(600)
    )
    version = current_version(engine).version
    with engine.begin() as conn:
        run = conn.execute(
            schema.score_runs.insert().values(
                model_version=version,
                scored_at=dt.datetime(2026, 1, 1),
                as_of=dt.datetime(2026, 1, 1),
                horizon_days=14,
                n_scored=past.height,
            )
        ).inserted_primary_key[0]
        conn.execute(
            schema.risk_scores.insert(),
            [
                {
                    "score_run_id": run,
                    "appointment_id": a,
                    "model_version": version,
                    "risk": 0.05 + 0.3 * (i % 3),
                    "risk_band": "low",
                    "is_current": False,
                }
                for i, a in enumerate(past["appointment_id"])
            ],
        )
        assert (
            conn.execute(
                sa.select(sa.func.count())
                .select_from(schema.risk_scores)
                .where(schema.risk_scores.c.score_run_id == run)
            ).scalar()
            == past.height
        )
    at.run()
    assert problems(at) == []
    expected = monitoring_frame(engine)
    assert expected["n"].sum() == past.height
    titles = [json.loads(c.proto.spec)["layout"]["title"]["text"] for c in at.get("plotly_chart")]
    assert any(t.startswith("Predicted against observed no-show rate") for t in titles)
    shown = next(d.value for d in at.dataframe if "predicted_rate" in d.value.columns)
    assert len(shown) == expected.height
    # Weeks with 1-10 no-shows are suppressed for this role (NaN); the others show the warehouse's figures.
    pairs = [(a, b) for a, b in zip(shown["predicted_rate"], expected["predicted_rate"]) if a == a]
    assert pairs and all(abs(a - b) < 1e-9 for a, b in pairs)
    engine.dispose()


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        ("running", "is running now"),
        ("interrupted", "The latest load was interrupted: the load process ended"),
    ],
)
def test_a_running_or_interrupted_load_is_explained_on_the_data_quality_page(private_wh, status, expected):
    from carepulse import schema
    from carepulse.pipelines.load_lock import INTERRUPTED_MESSAGE

    at = signed_in_app(private_wh, "admin")
    at.switch_page("views/data_quality.py").run()
    with private_wh.begin() as conn:
        conn.execute(
            schema.load_runs.insert().values(
                started_at=dt.datetime(2026, 7, 1),
                status=status,
                source_dir="x",
                message=INTERRUPTED_MESSAGE if status == "interrupted" else None,
            )
        )
    at.run()
    assert problems(at) == []
    shown = [m.value for m in [*at.info, *at.warning]]
    assert any(expected in text for text in shown), shown
