"""The warehouse helpers read back what was written, typed as the schema says, on both backends."""

import datetime as dt

import polars as pl

from carepulse import schema, warehouse


def test_read_table_types_and_latest_run(engine):
    with engine.begin() as conn:
        conn.execute(
            schema.load_runs.insert(),
            [
                {"started_at": dt.datetime(2026, 1, 2, 3, 4, 5), "status": "succeeded", "source_dir": "a"},
                {"started_at": dt.datetime(2026, 1, 3), "status": "failed", "source_dir": "b"},
            ],
        )
    runs = warehouse.read_table(engine, "load_runs")
    assert runs.height == 2
    assert runs.schema["started_at"] == pl.Datetime("us")
    assert runs["started_at"][0] == dt.datetime(2026, 1, 2, 3, 4, 5)
    assert warehouse.latest_load_run_id(engine) == runs.filter(pl.col("status") == "succeeded")["run_id"][0]


def test_empty_extract_table_has_contract_dtypes(engine):
    appts = warehouse.read_table(engine, "appointments", columns=["appointment_id", "scheduled_start"])
    assert appts.is_empty()
    assert appts.schema == pl.Schema({"appointment_id": pl.String(), "scheduled_start": pl.Datetime("us")})
