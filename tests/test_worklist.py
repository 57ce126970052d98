"""The worklist and the outreach effect as pure functions on hand-built frames, and the page (AppTest)."""

from __future__ import annotations

import datetime as dt
import json
import math

import polars as pl
import pytest

from carepulse.metrics._context import MetricError
from carepulse.metrics.outreach_effect import mantel_haenszel_difference, outreach_effect
from carepulse.metrics.worklist import (
    CONTACT_COLUMNS,
    WorklistFilters,
    build_worklist,
    latest_outcome_per_patient,
    with_contact,
)

T0 = dt.datetime(2026, 7, 1, 9, 0)
DEPARTMENTS = pl.DataFrame(
    {"department_id": ["CARD", "PEDS", "ORTH"], "name": ["Cardiology", "Pediatrics", "Ortho"]}
)
PROVIDERS = pl.DataFrame({"provider_id": ["P1", "P2", "P3"], "name": ["Dr One", "Dr Two", "Dr Three"]})
PATIENTS = pl.DataFrame(
    {
        "patient_id": ["pa", "pb", "pc", "pd", "pe"],
        "first_name": ["Ann", "Bob", "Cy", "Di", "Ed"],
        "last_name": ["Lee", "Ray", "Fox", "Orr", "Poe"],
        "mrn": ["M1", "M2", "M3", "M4", "M5"],
        "phone": ["555-0101", "555-0102", "555-0103", "555-0104", "555-0105"],
        "email": ["a@x.org", "b@x.org", "c@x.org", "d@x.org", "e@x.org"],
    }
)


def appointments(**overrides) -> pl.DataFrame:
    base = {
        "appointment_id": ["A1", "A2", "A3", "A4", "A5", "A6"],
        "patient_id": ["pa", "pb", "pc", "pd", "pe", "pa"],
        "department_id": ["CARD", "CARD", "PEDS", "ORTH", "CARD", "CARD"],
        "provider_id": ["P1", "P2", "P1", "P3", "P2", "P1"],
        "visit_type": ["follow_up"] * 6,
        "modality": ["in_person"] * 6,
        "scheduled_start": [T0 + dt.timedelta(days=d) for d in (1, 2, 3, 1, 5, 9)],
        "status": ["scheduled"] * 6,
    }
    base.update(overrides)
    return pl.DataFrame(base)


def scores(**overrides) -> pl.DataFrame:
    base = {
        "score_run_id": [2] * 6,
        "appointment_id": ["A1", "A2", "A3", "A4", "A5", "A6"],
        "model_version": ["v"] * 6,
        "risk": [0.40, 0.30, 0.30, 0.90, 0.10, 0.20],
        "risk_band": ["high", "medium", "medium", "high", "low", "medium"],
        "reason_1": ["3 missed visits in the last year", "booked 45 days ahead", None, "x", "y", "z"],
        "reason_2": ["no reminder scheduled", None, None, None, None, None],
        "reason_3": [None] * 6,
        "suggested_action": ["reminder call"] * 6,
        # A2 and A3 tie on benefit; A2 has... the same risk too, so the earlier visit (A2) ranks first
        "expected_benefit": [0.088, 0.066, 0.066, 0.198, 0.022, 0.044],
        "rank": [2, 3, 4, 1, 6, 5],
        "is_current": [True] * 6,
    }
    base.update(overrides)
    return pl.DataFrame(base)


def outcomes(rows: list[tuple[str, str, str, dt.datetime]]) -> pl.DataFrame:
    return pl.DataFrame(
        [(i + 1, a, p, o, "carl", t) for i, (a, p, o, t) in enumerate(rows)],
        schema={
            "outreach_id": pl.Int64,
            "appointment_id": pl.String,
            "patient_id": pl.String,
            "outcome": pl.String,
            "recorded_by": pl.String,
            "recorded_at": pl.Datetime("us"),
        },
        orient="row",
    )


def worklist(allowed=("CARD", "PEDS", "ORTH"), **kw) -> pl.DataFrame:
    kw.setdefault("scores", scores())
    kw.setdefault("appointments", appointments())
    return build_worklist(
        kw.pop("scores"), kw.pop("appointments"), DEPARTMENTS, PROVIDERS, allowed_departments=allowed, **kw
    )


# --- Ranking and columns ---------------------------------------------------------------------------


def test_ranked_by_expected_benefit_then_risk_then_visit_time():
    wl = worklist()
    assert wl.get_column("appointment_id").to_list() == ["A4", "A1", "A2", "A3", "A6", "A5"]
    assert wl.get_column("rank").to_list() == [1, 2, 3, 4, 5, 6]
    tie_on_benefit = worklist(scores=scores(risk=[0.40, 0.30, 0.35, 0.90, 0.10, 0.20]))
    assert tie_on_benefit.get_column("appointment_id").to_list()[2:4] == ["A3", "A2"]  # higher risk first


def test_rows_carry_risk_percent_band_plain_reasons_action_and_names():
    row = worklist().filter(pl.col("appointment_id") == "A1").row(0, named=True)
    assert row["risk_pct"] == 40.0 and row["risk_band"] == "high"
    assert row["reasons"] == "3 missed visits in the last year; no reminder scheduled"
    assert row["suggested_action"] == "reminder call"
    assert (row["department"], row["provider"]) == ("Cardiology", "Dr One")
    assert not set(CONTACT_COLUMNS) & set(worklist().columns)


def test_only_current_scores_of_still_scheduled_upcoming_visits():
    old = scores().with_columns(
        pl.lit(1, pl.Int64).alias("score_run_id"),
        pl.lit(False).alias("is_current"),
        pl.lit(0.99).alias("expected_benefit"),
    )
    both = pl.concat([scores(), old])
    wl = worklist(
        scores=both,
        appointments=appointments(status=["scheduled", "cancelled", *["scheduled"] * 4]),
        today=T0 + dt.timedelta(days=1, hours=1),
    )
    ids = wl.get_column("appointment_id").to_list()
    assert "A2" not in ids  # cancelled since scoring
    assert "A1" not in ids and "A4" not in ids  # earlier today than 'today' (already started)
    assert wl.get_column("score_run_id").unique().to_list() == [2]  # never the superseded run
    assert wl.height == 3


# --- Filters and the department restriction -------------------------------------------------------


@pytest.mark.parametrize(
    ("view", "expected"),
    [
        (WorklistFilters(start=dt.date(2026, 7, 2), end=dt.date(2026, 7, 3)), ["A4", "A1", "A2"]),
        (WorklistFilters(departments=("PEDS",)), ["A3"]),
        (WorklistFilters(providers=("P2",)), ["A2", "A5"]),
        (WorklistFilters(risk_bands=("high",)), ["A4", "A1"]),
        (WorklistFilters(risk_bands=("medium", "low"), providers=("P1",)), ["A3", "A6"]),
    ],
)
def test_filters(view, expected):
    assert worklist(filters=view).get_column("appointment_id").to_list() == expected


def test_restricted_to_the_callers_departments_whatever_the_filters_ask():
    assert set(worklist(allowed=("CARD",)).get_column("department_id")) == {"CARD"}
    asked_for_other = worklist(allowed=("CARD",), filters=WorklistFilters(departments=("PEDS", "ORTH")))
    assert asked_for_other.is_empty()
    assert worklist(allowed=()).is_empty()


def test_contact_details_only_when_asked_and_only_for_rows_shown():
    wl = worklist(allowed=("PEDS",), include_contact=True, patients=PATIENTS)
    assert wl.columns[:6] == ["rank", "appointment_id", *CONTACT_COLUMNS]
    assert wl.select(CONTACT_COLUMNS).rows() == [("Cy Fox", "M3", "555-0103", "c@x.org")]
    with pytest.raises(MetricError, match="patients"):
        worklist(include_contact=True)
    joined = with_contact(worklist(allowed=("PEDS",)), PATIENTS.head(0))
    assert joined.get_column("patient_name").to_list() == [None]


def test_my_list_shows_only_rows_assigned_to_me():
    assigned = pl.DataFrame({"appointment_id": ["A1", "A3", "A5"], "assigned_to": ["carl", "dana", "carl"]})
    mine = worklist(assignments=assigned, filters=WorklistFilters(assigned_to="carl"))
    assert mine.get_column("appointment_id").to_list() == ["A1", "A5"]
    everyone = worklist(assignments=assigned)
    assert everyone.filter(pl.col("appointment_id") == "A3").item(0, "assigned_to") == "dana"


# --- Worked rows and the last outcome -------------------------------------------------------------


def test_worked_rows_leave_the_queue_and_show_when_asked():
    done = outcomes([("A4", "pd", "confirmed", T0), ("A1", "pa", "no_answer", T0)])
    queue = worklist(outcomes=done)
    assert "A4" not in queue.get_column("appointment_id") and "A1" not in queue.get_column("appointment_id")
    assert queue.get_column("rank").to_list() == list(range(1, queue.height + 1))
    every = worklist(outcomes=done, filters=WorklistFilters(not_yet_worked=False))
    a4 = every.filter(pl.col("appointment_id") == "A4").row(0, named=True)
    assert (
        a4["worked"]
        and a4["outcome"] == "confirmed"
        and a4["outcome_by"] == "carl"
        and a4["outcome_at"] == T0
    )


def test_the_latest_outcome_of_an_appointment_wins():
    later = outcomes([("A4", "pd", "no_answer", T0), ("A4", "pd", "reached", T0 + dt.timedelta(hours=2))])
    row = worklist(outcomes=later, filters=WorklistFilters(not_yet_worked=False)).filter(
        pl.col("appointment_id") == "A4"
    )
    assert row.item(0, "outcome") == "reached"


def test_a_patients_last_outcome_shows_on_their_next_visit():
    # patient pa: A1 (day 1) worked twice; A6 (day 9) is their next visit
    done = outcomes(
        [
            ("A1", "pa", "left_message", T0 - dt.timedelta(days=2)),
            ("A1", "pa", "transport_arranged", T0 - dt.timedelta(days=1)),
            ("A0", "pb", "rescheduled", T0 - dt.timedelta(days=30)),  # pb's earlier appointment, not upcoming
        ]
    )
    wl = worklist(outcomes=done, filters=WorklistFilters(not_yet_worked=False))
    a6 = wl.filter(pl.col("appointment_id") == "A6").row(0, named=True)
    assert (a6["last_outcome"], a6["last_outcome_at"]) == ("transport_arranged", T0 - dt.timedelta(days=1))
    assert not a6["worked"]
    a2 = wl.filter(pl.col("appointment_id") == "A2").row(0, named=True)
    assert a2["last_outcome"] == "rescheduled" and not a2["worked"]
    a1 = wl.filter(pl.col("appointment_id") == "A1").row(0, named=True)
    assert a1["last_outcome"] is None  # its own outcome is 'outcome', not 'last outreach'
    per_patient = latest_outcome_per_patient(done).collect().sort("patient_id")
    assert per_patient.select("patient_id", "outcome").rows() == [
        ("pa", "transport_arranged"),
        ("pb", "rescheduled"),
    ]


def test_a_missing_column_is_named():
    with pytest.raises(MetricError, match="appointments.*status"):
        worklist(appointments=appointments().drop("status"))


# --- The outreach effect --------------------------------------------------------------------------


def _effect_inputs():
    """Two bands. High: 10 reached (2 no-shows), 20 not worked (8 no-shows). Low: 5 reached (0), 15 not worked (3).
    Plus: 3 attempted-only, 2 reached after the visit (count as not worked), 4 cancelled, 6 still scheduled."""
    rows = []  # (appointment_id, band, risk, status, outcome, recorded offset hours)
    n = 0

    def add(band, status, outcome=None, offset=-24.0, department="CARD"):
        nonlocal n
        n += 1
        rows.append((f"E{n:03d}", band, 0.5 if band == "high" else 0.1, status, outcome, offset, department))

    for i in range(10):
        add("high", "no_show" if i < 2 else "completed", "confirmed" if i % 2 else "reached")
    for i in range(18):
        add("high", "no_show" if i < 8 else "completed")
    for _ in range(2):
        add("high", "completed", "reached", offset=+3.0)  # recorded after the visit: not "reached before"
    for _ in range(5):
        add("low", "completed", "transport_arranged")
    for i in range(15):
        add("low", "no_show" if i < 3 else "completed")
    for _ in range(3):
        add("high", "no_show", "no_answer")
    for _ in range(4):
        add("low", "cancelled")
    for _ in range(6):
        add("low", "scheduled")
    add("high", "no_show", "reached", department="PEDS")  # another department
    visit = dt.datetime(2026, 5, 1, 10)
    appts = pl.DataFrame(
        {
            "appointment_id": [r[0] for r in rows],
            "department_id": [r[6] for r in rows],
            "scheduled_start": [visit] * len(rows),
            "status": [r[3] for r in rows],
        }
    )
    risk = pl.DataFrame(
        {
            "score_run_id": [1] * len(rows),
            "appointment_id": [r[0] for r in rows],
            "risk": [r[2] for r in rows],
            "risk_band": [r[1] for r in rows],
            "is_current": [r[4] is not None for r in rows],
        }
    )
    outs = pl.DataFrame(
        [(r[0], r[4], visit + dt.timedelta(hours=r[5])) for r in rows if r[4]],
        schema={"appointment_id": pl.String, "outcome": pl.String, "recorded_at": pl.Datetime("us")},
        orient="row",
    )
    return risk, appts, outs


def test_outreach_effect_counts_rates_and_stratum_intervals():
    risk, appts, outs = _effect_inputs()
    effect = outreach_effect(risk, appts, outs, departments=["CARD"])
    high, low = effect.strata.rows(named=True)
    assert (high["stratum"], high["contacted_n"], high["contacted_no_shows"]) == ("high", 10, 2)
    assert (high["uncontacted_n"], high["uncontacted_no_shows"]) == (
        20,
        8,
    )  # 18 + 2 reached only after the visit
    assert high["difference"] == pytest.approx(0.2 - 0.4)
    assert (
        low["stratum"],
        low["contacted_n"],
        low["contacted_no_shows"],
        low["uncontacted_n"],
        low["uncontacted_no_shows"],
    ) == ("low", 5, 0, 15, 3)
    # Agresti-Caffo by hand for the low band: (0+1)/7 vs (3+1)/17
    p1, p0 = 1 / 7, 4 / 17
    se = math.sqrt(p1 * (1 - p1) / 7 + p0 * (1 - p0) / 17)
    assert low["ci_low"] == pytest.approx(p1 - p0 - 1.959964 * se, abs=1e-6)
    assert low["ci_high"] == pytest.approx(p1 - p0 + 1.959964 * se, abs=1e-6)
    assert low["ci_low"] < 0 < low["ci_high"]  # a zero count still gets a real interval
    assert effect.excluded == {
        "not yet happened": 6,
        "cancelled (attendance unknown)": 4,
        "attempted but not reached": 3,
    }


def test_outreach_effect_pooled_mantel_haenszel_by_hand():
    risk, appts, outs = _effect_inputs()
    effect = outreach_effect(risk, appts, outs, departments=["CARD"])
    adjusted, crude = effect.overall.rows(named=True)
    w_high, w_low = 10 * 20 / 30, 5 * 15 / 20
    expected = (w_high * (0.2 - 0.4) + w_low * (0.0 - 0.2)) / (w_high + w_low)
    assert adjusted["difference"] == pytest.approx(expected)
    var = ((2 * 8 * 20**3 + 8 * 12 * 10**3) / (10 * 20 * 30**2) + (0 + 3 * 12 * 5**3) / (5 * 15 * 20**2)) / (
        w_high + w_low
    ) ** 2
    assert adjusted["ci_high"] - adjusted["difference"] == pytest.approx(1.959964 * math.sqrt(var), abs=1e-6)
    assert (
        crude["contacted_n"],
        crude["contacted_no_shows"],
        crude["uncontacted_n"],
        crude["uncontacted_no_shows"],
    ) == (15, 2, 35, 11)
    assert crude["difference"] == pytest.approx(2 / 15 - 11 / 35)


def test_outreach_effect_all_departments_and_deciles():
    risk, appts, outs = _effect_inputs()
    everywhere = outreach_effect(risk, appts, outs)
    assert everywhere.strata.filter(pl.col("stratum") == "high").item(0, "contacted_n") == 11
    deciles = outreach_effect(risk, appts, outs, stratify_by="risk_decile", departments=["CARD"])
    assert deciles.strata.get_column("stratum").str.starts_with("decile ").all()
    assert deciles.strata.select(pl.col("contacted_n") + pl.col("uncontacted_n")).sum().item() == 50
    with pytest.raises(MetricError, match="stratify_by"):
        outreach_effect(risk, appts, outs, stratify_by="age")


def test_mantel_haenszel_ignores_strata_missing_a_group():
    assert mantel_haenszel_difference([(1, 5, 0, 0)]) is None
    diff, low, high = mantel_haenszel_difference([(1, 10, 3, 10), (4, 4, 0, 0)])
    assert diff == pytest.approx(-0.2) and low < diff < high


def test_no_outcomes_yet_gives_an_empty_comparison_with_everyone_uncontacted():
    risk, appts, _ = _effect_inputs()
    none = pl.DataFrame(
        schema={"appointment_id": pl.String, "outcome": pl.String, "recorded_at": pl.Datetime("us")}
    )
    effect = outreach_effect(risk, appts, none, departments=["CARD"])
    assert effect.strata.get_column("contacted_n").sum() == 0
    assert effect.overall.get_column("stratum").to_list() == ["crude (not stratified)"]  # no adjusted row
    assert effect.overall.item(0, "difference") is None


# --- The page (AppTest) ---------------------------------------------------------------------------

from tests.dashboard_support import APP, copy_warehouse, problems, rendered_text, signed_in_app  # noqa: E402


@pytest.fixture
def scored_wh(settings, scored_warehouse_file, fast_password_hashing):
    """A private copy of the scored warehouse at this test's settings (the app opens it)."""
    from carepulse import warehouse

    copy_warehouse(scored_warehouse_file, settings)
    engine = warehouse.make_engine(settings)
    yield engine
    engine.dispose()


def _scored_departments(engine) -> list[str]:
    """Departments of the upcoming scored visits, busiest first."""
    from carepulse.records import outreach

    scored = outreach.scored_frames(engine)["appointments"]
    return (
        scored.group_by("department_id")
        .len()
        .sort(["len", "department_id"], descending=[True, False])
        .get_column("department_id")
        .to_list()
    )


def _signed_in(engine, role: str, departments: list[str] | None = None):
    return signed_in_app(
        engine,
        role,
        username=f"test_{role}",
        departments=",".join(departments) if departments else None,
        timeout=90,
    )


def _patients(engine) -> pl.DataFrame:
    from carepulse import warehouse

    return warehouse.read_table(
        engine, "patients", columns=["patient_id", "first_name", "last_name", "phone", "email"]
    )


def test_page_coordinator_records_an_outcome_and_the_row_leaves_the_queue(scored_wh):
    from carepulse.access import list_audit
    from carepulse.records import outreach

    departments = _scored_departments(scored_wh)
    assert len(departments) >= 2, "the small system scores visits in several departments"
    mine = departments[:1]
    at = _signed_in(scored_wh, "coordinator", mine)
    at.switch_page("views/worklist.py").run()
    assert problems(at) == []
    table = at.dataframe[0].value
    scored = outreach.scored_frames(scored_wh)["appointments"]
    expected = scored.filter(pl.col("department_id").is_in(mine)).height
    assert len(table) == expected and expected > 0
    # contact details shown for my department's patients, none for the others
    pats = _patients(scored_wh)
    others = scored.filter(~pl.col("department_id").is_in(mine)).join(pats, on="patient_id")
    mine_pats = scored.filter(pl.col("department_id").is_in(mine)).join(pats, on="patient_id")
    assert set(table["Patient"] if "Patient" in table else table["patient_name"]) == set(
        mine_pats.select(pl.concat_str("first_name", pl.lit(" "), "last_name")).to_series()
    )
    text = rendered_text(at)
    only_elsewhere = set(others.get_column("phone").drop_nulls()) - set(mine_pats.get_column("phone"))
    assert only_elsewhere and not [p for p in only_elsewhere if p in text]
    views = list_audit(scored_wh, action="page.view")
    assert views.height == 1 and views.item(0, "rows") == expected and views.item(0, "target") == "worklist"
    assert not [p for p in mine_pats.get_column("phone").drop_nulls() if p in (views.item(0, "detail") or "")]

    picked = at.selectbox(key="wl_pick").value
    at.text_area(key="wl_note").input("Asked about a ride; =cmd|' /C calc'!A0")
    at.button(key="wl_out_transport_arranged").click()
    at.run()
    assert problems(at) == []
    assert any("Transport arranged" in s.value for s in at.success)
    assert len(at.dataframe[0].value) == expected - 1 if expected > 1 else not at.dataframe
    stored = outreach.read_outcomes(scored_wh, with_notes=True)
    assert stored.select("appointment_id", "outcome", "recorded_by").rows() == [
        (picked, "transport_arranged", "test_coordinator")
    ]
    assert stored.item(0, "note").startswith("Asked about a ride")
    assert list_audit(scored_wh, action="outreach.record").height == 1
    if expected > 1:
        assert picked not in [o for o in at.selectbox(key="wl_pick").options]


def test_page_manager_is_refused_and_sees_no_patient_data(scored_wh):
    from streamlit.testing.v1 import AppTest

    from carepulse.access import accounts, list_audit

    at = _signed_in(scored_wh, "manager")
    with pytest.raises(ValueError, match="Could not find a navigation page"):
        at.switch_page("views/worklist.py")
    page = AppTest.from_file(APP.replace("app.py", "views/worklist.py"), default_timeout=60)
    page.session_state["carepulse_user"] = accounts.get_user(scored_wh, "test_manager")
    page.run()
    assert "does not allow" in page.error[0].value
    assert not page.dataframe and not page.get("selectbox")
    text = rendered_text(page)
    pats = _patients(scored_wh)
    assert not [p for p in pats.get_column("phone").drop_nulls() if p in text]
    assert not [e for e in pats.get_column("email").drop_nulls() if e in text]
    assert list_audit(scored_wh, action="access.denied").item(0, "target") == "page:worklist"
    assert list_audit(scored_wh, action="page.view").is_empty()


def test_page_without_scores_says_train_then_score(
    request, tmp_path_factory, settings, fast_password_hashing
):
    from carepulse import warehouse
    from tests.dashboard_support import loaded_warehouse_file

    copy_warehouse(loaded_warehouse_file(request, tmp_path_factory), settings)
    engine = warehouse.make_engine(settings)
    at = _signed_in(engine, "coordinator", ["D01"])
    at.switch_page("views/worklist.py").run()
    assert problems(at) == []
    assert any("carepulse train" in i.value and "carepulse score" in i.value for i in at.info)
    engine.dispose()


def test_page_coordinator_without_departments_sees_an_empty_list(scored_wh):
    at = _signed_in(scored_wh, "coordinator")
    at.switch_page("views/worklist.py").run()
    assert problems(at) == [] and not at.dataframe
    assert any("No departments are assigned" in i.value for i in at.info)


def test_page_my_list_assignment_and_audited_export(scored_wh, deferred_downloads):
    from carepulse.access import list_audit
    from carepulse.records import outreach

    mine = _scored_departments(scored_wh)[:1]
    at = _signed_in(scored_wh, "coordinator", mine)
    at.switch_page("views/worklist.py").run()
    total = len(at.dataframe[0].value)
    picked = at.selectbox(key="wl_pick").value
    at.button(key="wl_assign_me").click().run()
    assert problems(at) == []
    assert outreach.read_assignments(scored_wh).select("appointment_id", "assigned_to").rows() == [
        (picked, "test_coordinator")
    ]
    at.toggle(key="wl_mine").set_value(True).run()
    assert len(at.dataframe[0].value) == 1
    at.toggle(key="wl_mine").set_value(False).run()
    assert len(at.dataframe[0].value) == total
    assert list_audit(scored_wh, action="outreach.assign").height == 1

    csv_build = next(build for name, build in deferred_downloads.items() if name.endswith(".csv"))
    text = csv_build().decode("utf-8-sig")
    assert text.splitlines()[0].startswith("rank,appointment_id,patient_name,mrn,phone,email")
    assert len(text.splitlines()) == total + 1
    exports = list_audit(scored_wh, action="export")
    assert exports.select("target", "rows").rows() == [("worklist", total)]
    assert json.loads(exports.item(0, "detail")) == {"format": "csv"}
