"""HL7 v2 SIU scheduling: plain and MLLP-framed messages fold into appointment rows; bad ones quarantined.

A booking (S12) that is rescheduled (S13) keeps its S12 booking time and takes the new start; a
cancel (S15) or no-show (S26) sets the status; SCH-25 ``Complete`` marks a visit seen. A malformed
message is quarantined with its file, line and control id (MSH-10); nothing is lost.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import polars as pl
import sqlalchemy as sa
from typer.testing import CliRunner

from carepulse import metrics, warehouse
from carepulse.cli import app
from carepulse.pipelines.sources.hl7v2 import fold, read_messages, split_messages


def siu(
    trigger: str,
    control: str,
    at: str,
    appt: str,
    start: str,
    patient: str = "P1",
    status: str = "Booked",
    sex: str = "F",
) -> str:
    return "\r".join(
        [
            rf"MSH|^~\&|PM|CLINIC|CAREPULSE|CP|{at}||SIU^{trigger}|{control}|P|2.5",
            f"SCH|{appt}^PM||||||ROUTINE|FOLLOWUP|15|min|^^15^{start}" + "|" * 14 + status,
            f"PID|1||{patient}||Doe^Jane||19800101|{sex}",
            "AIL|1||D01",
            "AIP|1||PR1",
        ]
    )


def test_messages_fold_into_appointments_with_their_history(tmp_path: Path) -> None:
    plain = "\n".join(
        [
            siu("S12", "C1", "202603010800", "A1", "20260310090000"),
            siu("S13", "C2", "202603020800", "A1", "20260311100000"),
            siu("S12", "C3", "202603010900", "A2", "20260310093000", patient="P2", sex="M"),
            siu(
                "S15", "C4", "202603050900", "A2", "20260310093000", patient="P2", status="Cancelled", sex="M"
            ),
        ]
    )
    (tmp_path / "feed.hl7").write_text(plain.replace("\r", "\n"))
    mllp = "".join(
        "\x0b" + m + "\r\x1c\r"
        for m in (
            siu("S12", "C5", "202603011000", "A3", "20260310140000", patient="P3"),
            siu("S26", "C6", "202603101500", "A3", "20260310140000", patient="P3", status="Noshow"),
            siu("S12", "C7", "202603011100", "A4", "20260309140000", patient="P3"),
            siu("S14", "C8", "202603091500", "A4", "20260309140000", patient="P3", status="Complete"),
        )
    )
    (tmp_path / "feed.mllp").write_text(mllp)
    events, bad, _files = read_messages(tmp_path)
    assert not bad and events.height == 8
    rows = {r["appointment_id"]: r for r in fold(events).iter_rows(named=True)}
    assert rows["A1"]["booked_at"] == "2026-03-01 08:00:00" and rows["A1"]["start"] == "2026-03-11 10:00:00"
    assert rows["A1"]["history"] == "S12>S13"
    assert rows["A2"]["last_trigger"] == "S15" and rows["A2"]["cancelled_at"] == "2026-03-05 09:00:00"
    assert rows["A3"]["last_trigger"] == "S26" and rows["A4"]["sch_status"] == "complete"


def test_a_feed_loads_and_malformed_messages_are_quarantined_with_their_control_id(
    tmp_path: Path, settings
) -> None:
    messages = [
        siu("S12", "C1", "202603010800", "A1", "20260310090000"),
        siu("S12", "C2", "202603010900", "A2", "20260310093000", patient="P2", sex="M"),
        siu("S26", "C3", "202603101000", "A2", "20260310093000", patient="P2", status="Noshow", sex="M"),
        siu("S14", "C4", "202603101100", "A1", "20260310090000", status="Complete"),
        r"MSH|^~\&|PM|CLINIC|CAREPULSE|CP|202603020800||ADT^A08|C9|P|2.5" + "\rPID|1||P1",
        siu("S12", "C10", "202603010800", "", "20260310090000"),
    ]
    (tmp_path / "feed.hl7").write_text("\n".join(m.replace("\r", "\n") for m in messages) + "\n")
    result = CliRunner().invoke(
        app,
        [
            "ingest",
            str(tmp_path),
            "--profile",
            "hl7v2-siu",
            "--no-progress",
            "--format",
            "json",
            "--accept-warnings",
        ],
    )
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output)
    appointments = next(f for f in summary["files"] if f["extract"] == "appointments")
    assert appointments["inserted"] == 2 and appointments["quarantined"] == 2
    assert appointments["rows_read"] == appointments["inserted"] + appointments["quarantined"]
    engine = warehouse.make_engine(settings)
    appts = {
        r["appointment_id"]: r for r in warehouse.read_table(engine, "appointments").iter_rows(named=True)
    }
    assert appts["A1"]["status"] == "completed" and appts["A2"]["status"] == "no_show"
    assert appts["A1"]["booked_at"] == dt.datetime(2026, 3, 1, 8, 0)
    assert (
        appts["A1"]["scheduled_start"] == dt.datetime(2026, 3, 10, 9, 0)
        and appts["A1"]["visit_type"] == "follow_up"
    )
    quarantine = warehouse.read_table(engine, "quarantine")
    found = {(r["line"], r["value"]): r["reason"] for r in quarantine.iter_rows(named=True)}
    assert found[(21, "C9")].startswith("malformed SIU message: MSH-9 is ADT^A08")
    assert "SCH-1/SCH-2" in found[(23, "C10")]
    sexes = dict(warehouse.read_table(engine, "patients", ["patient_id", "sex"]).iter_rows())
    assert sexes == {"P1": "female", "P2": "male"}


def test_mllp_frames_and_line_numbers() -> None:
    text = "junk\n\x0bMSH|a\rSCH|b\r\x1c\r\n\x0bMSH|c\r\x1c\r"
    assert [(line, m.split("\r")[0]) for line, m in split_messages(text)] == [(2, "MSH|a"), (5, "MSH|c")]


#: Metrics an SIU feed can carry exactly (the others read "not supplied" or differ, docs/sources.md).
SAME_THROUGH_HL7 = ("no_show_rate_excl_cancellations", "cancellation_rate", "lead_time_days")


def test_round_trip_csv_and_hl7v2_agree_on_attendance(
    synthetic_dir, loaded_sqlite_url, tmp_path, monkeypatch
) -> None:
    from carepulse.pipelines.synthetic.hl7_writer import write_hl7v2
    from carepulse.settings import get_settings

    assert write_hl7v2(synthetic_dir, tmp_path / "feed", timezone=get_settings().timezone) > 1000
    runner = CliRunner()
    monkeypatch.setenv("CAREPULSE_DATABASE_URL", f"sqlite:///{tmp_path / 'hl7.sqlite'}")
    get_settings.cache_clear()
    loaded = runner.invoke(
        app, ["ingest", str(tmp_path / "feed"), "--profile", "hl7v2-siu", "--no-progress", "--format", "json"]
    )
    assert loaded.exit_code == 0, loaded.output
    assert json.loads(loaded.output)["counts"]["quarantined"] == 0
    via_hl7 = {r["metric"]: r for r in json.loads(runner.invoke(app, ["metrics", "--format", "json"]).output)}
    monkeypatch.setenv("CAREPULSE_DATABASE_URL", loaded_sqlite_url)
    get_settings.cache_clear()
    via_csv = {r["metric"]: r for r in json.loads(runner.invoke(app, ["metrics", "--format", "json"]).output)}
    for name in SAME_THROUGH_HL7:
        keys = ("numerator", "denominator", "value", "n")
        assert {k: via_csv[name].get(k) for k in keys} == {k: via_hl7[name].get(k) for k in keys}, name
    # SIU carries no cancelling party: a late cancellation by the provider or the clinic, which the
    # CSV's no-show rate leaves out of its denominator, stays in it through HL7 v2. The HL7 figure is
    # therefore the CSV's with the cancelling party unknown, exactly.
    assert via_csv["no_show_rate"]["numerator"] == via_hl7["no_show_rate"]["numerator"]
    engine = sa.create_engine(loaded_sqlite_url)
    frames = {
        name: warehouse.read_table(engine, name) for name in ("departments", "patients", "appointments")
    }
    engine.dispose()
    unknown_party = frames | {
        "appointments": frames["appointments"].with_columns(pl.lit(None, pl.String).alias("cancelled_by"))
    }
    expected = metrics.compute("no_show_rate", metrics.prepare(unknown_party)).row(0, named=True)
    assert via_hl7["no_show_rate"]["denominator"] == expected["denominator"]
    assert via_hl7["no_show_rate"]["denominator"] > via_csv["no_show_rate"]["denominator"]
    assert via_hl7["initial_denial_rate"]["status"] == "not supplied"
