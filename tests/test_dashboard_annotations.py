"""QI annotations in the warehouse: add, edit, delete, list; each change audited once."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest

from carepulse.access import list_audit
from carepulse.errors import CarePulseError
from carepulse.records import annotations as notes


def add(engine, **kw):
    args = dict(
        metric="no_show_rate",
        annotated_on=dt.date(2026, 2, 2),
        title="SMS reminders start",
        description="Two days before every visit",
        created_by="qi_lead",
    )
    return notes.add_annotation(engine, **(args | kw))


def test_add_and_list(engine):
    first = add(engine, department_id="D01", starts_phase=True)
    add(
        engine, metric="cycle_time_minutes", title="Second rooming station", annotated_on=dt.date(2025, 12, 8)
    )
    frame = notes.list_annotations(engine, "no_show_rate")
    assert frame["annotation_id"].to_list() == [first]
    row = frame.row(0, named=True)
    assert (row["title"], row["department_id"], row["starts_phase"], row["annotated_on"]) == (
        "SMS reminders start",
        "D01",
        True,
        dt.date(2026, 2, 2),
    )
    assert notes.list_annotations(engine).height == 2


def test_department_scope(engine):
    add(engine, department_id="D01", title="Cardiology only")
    add(engine, department_id=None, title="Everywhere")
    add(engine, department_id="D02", title="Elsewhere")
    titles = notes.list_annotations(engine, "no_show_rate", department_ids=["D01"])["title"].to_list()
    assert sorted(titles) == ["Cardiology only", "Everywhere"]


def test_edit_changes_only_what_is_given(engine):
    annotation = add(engine)
    notes.edit_annotation(
        engine, annotation, edited_by="qi_lead", title="SMS reminders (all patients)", starts_phase=True
    )
    row = notes.list_annotations(engine, "no_show_rate").row(0, named=True)
    assert row["title"] == "SMS reminders (all patients)"
    assert row["starts_phase"] is True
    assert row["description"] == "Two days before every visit"
    assert row["updated_at"] is not None


def test_delete_hides_but_keeps_the_row(engine):
    annotation = add(engine)
    notes.delete_annotation(engine, annotation, deleted_by="qi_lead")
    assert notes.list_annotations(engine, "no_show_rate").is_empty()
    with engine.connect() as conn:
        assert conn.exec_driver_sql("select count(*) from annotations").scalar() == 1
    with pytest.raises(CarePulseError, match="does not exist"):
        notes.edit_annotation(engine, annotation, edited_by="qi_lead", title="again")


def test_every_change_writes_one_audit_row(engine):
    annotation = add(engine)
    notes.edit_annotation(engine, annotation, edited_by="editor", description="changed")
    notes.delete_annotation(engine, annotation, deleted_by="remover")
    audit = list_audit(engine).sort("audit_id")
    assert audit.select("username", "action").rows() == [
        ("qi_lead", "annotation.create"),
        ("editor", "annotation.update"),
        ("remover", "annotation.delete"),
    ]
    assert set(audit["target"]) == {f"annotation:{annotation}"}


@pytest.mark.parametrize("title", ["", "   ", "x" * (notes.TITLE_MAX + 1)])
def test_bad_titles_are_refused_with_a_message(engine, title):
    with pytest.raises(CarePulseError, match="title"):
        add(engine, title=title)
    assert notes.list_annotations(engine).is_empty()
    assert list_audit(engine).is_empty()


def test_sql_metacharacters_are_stored_as_text(engine):
    title = "Robert'); DROP TABLE annotations;--"
    add(engine, title=title, description='"; DELETE FROM audit_log; --')
    assert notes.list_annotations(engine)["title"].to_list() == [title]


def test_scope_system_site_department(engine):
    add(engine, title="Everywhere")
    add(engine, site="North", title="North only")
    add(engine, department_id="D01", site="North", title="D01 only")  # a department scope wins
    titles = lambda **kw: sorted(notes.annotations_in_scope(engine, "no_show_rate", **kw)["title"].to_list())  # noqa: E731
    assert titles() == ["Everywhere"]
    assert titles(sites=("North",)) == ["Everywhere", "North only"]
    assert titles(sites=("South",)) == ["Everywhere"]
    assert titles(departments=("D01",), sites=("North",)) == ["D01 only", "Everywhere", "North only"]
    scopes = notes.annotations_in_scope(engine, "no_show_rate", departments=("D01",), sites=("North",))
    assert dict(zip(scopes["title"], scopes["scope"], strict=True)) == {
        "Everywhere": "system",
        "North only": "site",
        "D01 only": "department",
    }
    assert notes.list_annotations(engine).filter(pl.col("title") == "D01 only")["site"].to_list() == [None]


def test_an_older_warehouse_gains_the_scope_column(tmp_path):
    import sqlalchemy as sa

    from carepulse import schema

    engine = sa.create_engine(f"sqlite:///{tmp_path / 'old.sqlite'}")
    with engine.begin() as conn:  # the annotations table as it was before sites could be a scope
        conn.exec_driver_sql(
            "CREATE TABLE annotations (annotation_id INTEGER PRIMARY KEY, metric TEXT NOT NULL, "
            "department_id TEXT, annotated_on DATE NOT NULL, title TEXT NOT NULL, description TEXT, "
            "starts_phase BOOLEAN NOT NULL, created_by TEXT NOT NULL, created_at DATETIME NOT NULL, "
            "updated_at DATETIME, deleted_at DATETIME)"
        )
        conn.exec_driver_sql(
            "INSERT INTO annotations (metric, annotated_on, title, starts_phase, created_by, created_at) "
            "VALUES ('no_show_rate', '2026-01-05', 'Kept', 0, 'x', '2026-01-05 10:00:00')"
        )
    schema.create_all(engine)
    schema.create_all(engine)  # idempotent
    assert "site" in {c["name"] for c in sa.inspect(engine).get_columns("annotations")}
    assert notes.annotations_in_scope(engine, "no_show_rate")["title"].to_list() == ["Kept"]
