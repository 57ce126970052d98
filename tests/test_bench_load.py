"""The load bench's arithmetic (bench/load.py, issue 16 item 9): percentiles, per-page summaries, lost
writes and the peak RSS read from /proc. Nothing here times anything; the bench itself prints figures."""

from __future__ import annotations

import importlib.util
import math
import sys
from pathlib import Path
from types import ModuleType

import pytest

BENCH = Path(__file__).resolve().parents[1] / "bench" / "load.py"


def _load_bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location("carepulse_bench_load", BENCH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up by name
    spec.loader.exec_module(module)
    return module


load = _load_bench()


def test_percentile_interpolates_between_ranks() -> None:
    values = [4.0, 1.0, 3.0, 2.0, 5.0]  # unsorted on purpose
    assert load.percentile(values, 50) == 3.0
    assert load.percentile(values, 0) == 1.0
    assert load.percentile(values, 100) == 5.0
    assert load.percentile(values, 95) == pytest.approx(4.8)  # rank 3.8: 4 + 0.8 * (5 - 4)
    assert load.percentile([1.0, 2.0], 50) == 1.5
    assert load.percentile([7.0], 95) == 7.0
    assert math.isnan(load.percentile([], 50))
    with pytest.raises(ValueError):
        load.percentile(values, 101)


def test_page_summaries_group_by_page_in_first_seen_order() -> None:
    samples = [("overview", 2.0), ("qi", 10.0), ("overview", 4.0), ("overview", 6.0), ("qi", 20.0)]
    summaries = load.summarize_pages(samples)
    assert list(summaries) == ["overview", "qi"]
    assert summaries["overview"] == load.Summary(count=3, p50=4.0, p95=pytest.approx(5.8))
    assert summaries["qi"].count == 2 and summaries["qi"].p50 == 15.0
    overall = load.summarize([t for _, t in samples])
    assert overall.count == 5 and overall.p50 == 6.0


def test_lost_writes_is_attempted_minus_newly_stored() -> None:
    assert load.lost_writes(200, stored_before=17, stored_after=217) == 0
    assert load.lost_writes(200, stored_before=17, stored_after=215) == 2
    assert load.lost_writes(200, stored_before=0, stored_after=201) == -1  # a duplicate shows too
    with pytest.raises(ValueError):
        load.lost_writes(-1, 0, 0)


def test_peak_rss_is_read_from_proc_status_text() -> None:
    status = "Name:\tstreamlit\nVmPeak:\t  900000 kB\nVmHWM:\t  438212 kB\nVmRSS:\t  401000 kB\n"
    assert load.peak_rss_kib(status) == 438212
    assert load.peak_rss_kib("Name:\tkthreadd\n") is None
