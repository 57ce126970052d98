"""The background warm-up: a new load is read and prepared before any page asks for it."""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time

import pytest
import streamlit as st

from carepulse import schema, warehouse
from carepulse.dashboard import data, warmer


@pytest.fixture
def empty_caches():
    st.cache_resource.clear()
    st.cache_data.clear()
    yield
    st.cache_resource.clear()
    st.cache_data.clear()


def no_warehouse_reads(monkeypatch) -> None:
    """From here on, any read of a warehouse table fails the test."""

    def refuse(*args, **kwargs):
        raise AssertionError("the page read the warehouse: the warm-up did not fill the cache")

    monkeypatch.setattr(warehouse, "read_table", refuse)
    monkeypatch.setattr(warehouse, "read_query", refuse)


def pages_metric_reads(run: int) -> None:
    """What the metric pages read: a catalogue, one metric per week, the sidebar's options."""
    catalogue = data.catalogue(("no_show_rate", "cycle_time_minutes"), run, by=("department",))
    assert set(catalogue.get_column("metric")) == {"no_show_rate", "cycle_time_minutes"}
    assert data.compute("no_show_rate", run, period="week").height > 0
    options = data.filter_options(run)
    assert options.first_date <= options.last_date and options.labels["dept"]


def test_warm_latest_fills_the_caches_the_pages_read(loaded_wh, empty_caches, monkeypatch):
    run = data.warm_latest(data.warehouse_url())
    assert run == warehouse.latest_load_run_id(loaded_wh)
    no_warehouse_reads(monkeypatch)
    pages_metric_reads(run)  # from the load's aggregates, read once by the warm-up


def test_warm_latest_prepares_rows_for_a_warehouse_without_aggregates(loaded_wh, empty_caches, monkeypatch):
    with loaded_wh.begin() as conn:  # loaded before aggregates existed
        conn.exec_driver_sql("DELETE FROM metric_aggregates")
    run = data.warm_latest(data.warehouse_url())
    no_warehouse_reads(monkeypatch)
    assert data.frames(run)["appointments"].collect().height > 0
    pages_metric_reads(run)


def test_warm_latest_without_a_load_is_none(sqlite_engine, empty_caches):
    assert data.warm_latest(data.warehouse_url()) is None


def test_the_watcher_prepares_each_new_load_without_a_page_run(loaded_wh, empty_caches, monkeypatch, caplog):
    url = data.warehouse_url()
    stop = threading.Event()
    thread = threading.Thread(
        target=warmer.watch, args=(url,), kwargs={"poll_seconds": 0.1, "stop": stop}, daemon=True
    )
    caplog.set_level(logging.INFO, logger="carepulse.dashboard")
    thread.start()
    try:
        first = warehouse.latest_load_run_id(loaded_wh)
        _wait_for(caplog, f"load run {first} prepared in the background")
        with loaded_wh.begin() as conn:  # a new load run (same rows: the cache key is what changes)
            conn.execute(
                schema.load_runs.insert().values(
                    started_at=dt.datetime(2026, 7, 1),
                    finished_at=dt.datetime(2026, 7, 1),
                    status="succeeded",
                    source_dir="nightly",
                    rows_read=0,
                    inserted=0,
                    updated=0,
                    unchanged=0,
                    quarantined=0,
                )
            )
        second = warehouse.latest_load_run_id(loaded_wh)
        assert second != first
        _wait_for(caplog, f"load run {second} prepared in the background")
    finally:
        stop.set()
        thread.join(timeout=10)
    assert not thread.is_alive()
    no_warehouse_reads(monkeypatch)
    pages_metric_reads(second)


def test_the_watcher_survives_a_failing_warm_up(monkeypatch, caplog, empty_caches):
    calls = []

    def failing(url):
        calls.append(url)
        raise RuntimeError("disk I/O error")

    monkeypatch.setattr(data, "warm_latest", failing)
    stop = threading.Event()
    thread = threading.Thread(
        target=warmer.watch,
        args=("sqlite:///nowhere",),
        kwargs={"poll_seconds": 0.05, "stop": stop},
        daemon=True,
    )
    caplog.set_level(logging.WARNING, logger="carepulse.dashboard")
    thread.start()
    deadline = time.monotonic() + 10
    while len(calls) < 3 and time.monotonic() < deadline:
        time.sleep(0.05)
    stop.set()
    thread.join(timeout=10)
    assert len(calls) >= 3  # it kept looking after the first failure
    assert "background warm-up failed (RuntimeError)" in caplog.text
    assert "disk I/O error" not in caplog.text  # only the kind of error: messages may quote data


def _wait_for(caplog, text: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while text not in caplog.text:
        assert time.monotonic() < deadline, f"never logged: {text}"
        time.sleep(0.05)
