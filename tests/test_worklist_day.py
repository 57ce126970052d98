"""The coordinator's day (issue 14): retry queue, today's counts, sidebar filters honoured, earlier
notes in the history, bulk assignment, keyboard shortcuts on the buttons."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest

from carepulse.metrics.worklist_queue import (
    day_counts,
    honour_sidebar,
    patient_history,
    todays_queue,
    with_queue,
)
from tests import test_worklist as wl
from tests.dashboard_support import create_account, problems

scored_wh = wl.scored_wh  # fixture: a private copy of the scored warehouse
TODAY = dt.date(2026, 7, 2)


def rows(outcomes: list[tuple[str | None, dt.datetime | None]]) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "rank": list(range(1, len(outcomes) + 1)),
            "appointment_id": [f"A{i}" for i in range(1, len(outcomes) + 1)],
            "outcome": [o for o, _ in outcomes],
            "outcome_at": [t for _, t in outcomes],
        },
        schema_overrides={"outcome": pl.String, "outcome_at": pl.Datetime("us")},
    )


def test_no_answer_comes_back_the_next_day_and_other_outcomes_finish_the_row() -> None:
    frame = with_queue(
        rows(
            [
                (None, None),
                ("no_answer", dt.datetime(2026, 7, 2, 9, 0)),  # tried today
                ("no_answer", dt.datetime(2026, 7, 1, 16, 0)),  # tried yesterday
                ("left_message", dt.datetime(2026, 6, 30, 11, 0)),
                ("confirmed", dt.datetime(2026, 7, 1, 10, 0)),
            ]
        ),
        TODAY,
    )
    assert frame["queue"].to_list() == ["to_call", "retry_tomorrow", "retry_due", "retry_due", "done"]
    assert todays_queue(frame)["appointment_id"].to_list() == ["A3", "A4", "A1"]  # retries first


def test_day_counts() -> None:
    frame = with_queue(
        rows(
            [
                (None, None),
                ("no_answer", dt.datetime(2026, 7, 1, 9)),
                ("confirmed", dt.datetime(2026, 7, 2, 9)),
            ]
        ),
        TODAY,
    )
    outcomes = pl.DataFrame(
        {
            "appointment_id": ["A2", "A3", "A3", "Z9"],
            "recorded_by": ["ann", "bob", "ann", "ann"],
            "recorded_at": [
                dt.datetime(2026, 7, 1, 9),
                dt.datetime(2026, 7, 2, 8),
                dt.datetime(2026, 7, 2, 9),
                dt.datetime(2026, 7, 2, 9),
            ],
        }
    )
    assert day_counts(frame, outcomes, TODAY, "ann") == {
        "done_today": 1,  # A3 (Z9 is not in this view; A2 was yesterday)
        "done_today_by_me": 1,
        "left_today": 2,
        "retry_due": 1,
    }


def test_sidebar_narrows_but_never_widens_the_coordinators_departments() -> None:
    sites = {"D1": "North", "D2": "South", "D3": "North"}
    mine = ("D1", "D2")
    assert honour_sidebar(mine, departments=(), sites=(), department_sites=sites) == mine
    assert honour_sidebar(mine, departments=("D2", "D3"), sites=(), department_sites=sites) == ("D2",)
    assert honour_sidebar(mine, departments=(), sites=("North",), department_sites=sites) == ("D1",)
    assert honour_sidebar(mine, departments=("D3",), sites=(), department_sites=sites) == ()


def test_patient_history_newest_first() -> None:
    outcomes = pl.DataFrame(
        {
            "appointment_id": ["A1", "A2", "A3"],
            "patient_id": ["P1", "P2", "P1"],
            "outcome": ["no_answer", "confirmed", "reached"],
            "recorded_by": ["ann", "ann", "bob"],
            "recorded_at": [dt.datetime(2026, 6, 1), dt.datetime(2026, 6, 2), dt.datetime(2026, 6, 3)],
            "note": ["first try", None, "asked for a ride"],
        }
    )
    assert patient_history(outcomes, "P1")["note"].to_list() == ["asked for a ride", "first try"]


@pytest.mark.slow
def test_page_retry_queue_history_counts_and_bulk_assignment(scored_wh) -> None:
    from carepulse.records import outreach

    mine = wl._scored_departments(scored_wh)[:1]
    colleague = create_account(scored_wh, "coordinator", departments=",".join(mine))
    at = wl._signed_in(scored_wh, "coordinator", mine)
    at.switch_page("views/worklist.py").run()
    assert problems(at) == []
    total = len(at.dataframe[0].value)
    tiles = {m.label: m.value for m in at.metric}
    assert tiles["Left today"] == str(total) and tiles["Done today"] == "0"
    # keyboard operation: next / previous and outcome buttons carry shortcuts
    first = at.selectbox(key="wl_pick").value
    at.button(key="wl_next").click().run()
    second = at.selectbox(key="wl_pick").value
    assert second != first
    at.button(key="wl_prev").click().run()
    assert at.selectbox(key="wl_pick").value == first
    # no answer: out of today's queue, back as "Retry tomorrow" when the whole list is shown
    at.text_area(key="wl_note").input("Rang twice")
    at.button(key="wl_out_no_answer").click().run()
    assert problems(at) == []
    assert len(at.dataframe[0].value) == total - 1
    tiles = {m.label: m.value for m in at.metric}
    assert tiles["Done today"] == "1" and tiles["Left today"] == str(total - 1)
    at.toggle(key="wl_unworked").set_value(False).run()
    table = at.dataframe[0].value
    assert len(table) == total and (table["queue"] == "Retry tomorrow").sum() == 1
    # the earlier note is in the patient's history
    at.selectbox(key="wl_pick").set_value(first).run()
    assert any("Rang twice" in df.value.to_csv() for df in at.dataframe[1:])
    # bulk assignment to a colleague of the same department
    picks = [first, second]
    at.multiselect(key="wl_bulk_rows").set_value(picks)
    at.selectbox(key="wl_bulk_to").set_value(colleague)
    at.button(key="wl_bulk_go").click().run()
    assert problems(at) == []
    assigned = outreach.read_assignments(scored_wh)
    assert sorted(assigned.filter(pl.col("assigned_to") == colleague)["appointment_id"].to_list()) == sorted(
        picks
    )


def test_page_honours_the_sidebar_department_filter(scored_wh) -> None:
    mine = wl._scored_departments(scored_wh)[:2]
    at = wl._signed_in(scored_wh, "coordinator", mine)
    at.switch_page("views/worklist.py").run()
    both = len(at.dataframe[0].value)
    at.sidebar.multiselect(key="flt_dept").set_value([mine[1]]).run()
    assert problems(at) == []
    narrowed = len(at.dataframe[0].value)
    assert 0 < narrowed < both
    assert any("sidebar" in c.value for c in at.caption)
