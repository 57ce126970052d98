"""Evaluation metrics on inputs whose answers are known by hand."""

import datetime as dt

import numpy as np
import polars as pl
import pytest

from carepulse.errors import CarePulseError
from carepulse.metrics.no_show_model import evaluation as ev
from carepulse.metrics.no_show_model.training import temporal_windows


def test_ece_is_zero_when_each_bin_matches_and_grows_with_miscalibration():
    p = np.repeat(np.linspace(0.05, 0.5, 10), 100)
    y = np.concatenate([(np.arange(100) < round(q * 100)).astype(int) for q in np.linspace(0.05, 0.5, 10)])
    assert ev.expected_calibration_error(y, p) == pytest.approx(0.0, abs=1e-12)
    assert ev.expected_calibration_error(y, np.clip(p + 0.1, 0, 1)) == pytest.approx(0.1, abs=1e-9)
    curve = ev.calibration_bins(y, p)
    assert curve["n"].to_list() == [100] * 10
    assert curve["observed_rate"].to_list() == pytest.approx(list(np.linspace(0.05, 0.5, 10)))


def test_capacity_precision_recall_takes_top_k_per_day():
    days = np.array(["d1"] * 4 + ["d2"] * 3)
    y = np.array([1, 0, 1, 0, 0, 1, 0])
    p = np.array([0.9, 0.8, 0.1, 0.2, 0.7, 0.6, 0.1])
    out = ev.capacity_precision_recall(days, y, p, capacity=2)
    # d1 calls rows 0,1 (1 no-show of 2); d2 calls rows 4,5 (1 of 1)
    assert (out["called"], out["no_shows_caught"], out["no_shows_total"]) == (4, 2, 3)
    assert out["precision"] == 0.5 and out["recall"] == pytest.approx(2 / 3)


def test_lift_by_decile_ranks_the_riskiest_last():
    p = np.arange(1000) / 1000
    y = (np.arange(1000) >= 900).astype(int)  # only the top decile misses visits
    lift = ev.lift_by_decile(y, p)
    assert lift["decile"].to_list() == list(range(1, 11))
    assert lift["lift"][-1] == pytest.approx(10.0) and lift["lift"][0] == 0.0


def test_subgroup_flags_a_miscalibrated_group_only():
    rng = np.random.default_rng(0)
    n = 4000
    group = np.where(np.arange(n) % 2 == 0, "a", "b")
    p = rng.uniform(0.05, 0.4, n)
    y = (rng.random(n) < p).astype(int)
    p_shown = np.where(group == "b", p * 0.5, p)  # group b's risk is under-predicted by half
    frame = pl.DataFrame({"sex": group, "language": np.array(["en"] * (n - 10) + ["xx"] * 10)})
    report = ev.subgroup_report(frame, y, p_shown, subgroups=("sex", "language"))
    flags = {(r["subgroup"], r["value"]): r for r in report.to_dicts()}
    assert flags[("sex", "b")]["calibration_flag"] and not flags[("sex", "a")]["calibration_flag"]
    assert flags[("language", "xx")]["auroc"] is None and "not evaluated" in flags[("language", "xx")]["note"]


def test_discrimination_undefined_with_one_class():
    m = ev.discrimination_and_calibration(np.zeros(5, int), np.full(5, 0.1))
    assert m["auroc"] is None and m["brier"] == pytest.approx(0.01)


def test_report_round_trips_through_dict():
    rng = np.random.default_rng(1)
    n = 300
    test = pl.DataFrame(
        {
            "no_show": (rng.random(n) < 0.2).astype(int),
            "scheduled_start": [
                dt.datetime(2026, 5, 1) + dt.timedelta(hours=int(h)) for h in rng.integers(0, 24 * 20, n)
            ],
            "sex": rng.choice(["female", "male"], n),
        }
    )
    preds = {
        "model": rng.uniform(0, 0.5, n),
        "baseline": rng.uniform(0, 0.5, n),
        "oracle": rng.uniform(0, 0.5, n),
    }
    report = ev.build_report(test, preds, capacity=5, model_version="v1")
    again = ev.EvaluationReport.from_dict(report.to_dict())
    assert again.overall == report.overall
    assert again.oracle_gap == pytest.approx(
        report.overall["oracle"]["auroc"] - report.overall["model"]["auroc"]
    )
    assert again.subgroups.height == 2


@pytest.mark.parametrize(
    "overall",
    [
        {"model": {"auroc": 0.7}},  # true probabilities unknown
        {"oracle": {"auroc": 0.8}},  # a report holding the oracle's metrics only
        {"oracle": {"auroc": 0.8}, "model": {"auroc": None}},  # one class in the test window
    ],
)
def test_oracle_gap_is_none_without_both_aurocs(overall):
    empty = pl.DataFrame()
    report = ev.EvaluationReport(
        model_version="v1",
        windows={},
        overall=overall,
        capacity={},
        calibration_curve=empty,
        lift=empty,
        subgroups=empty,
    )
    assert report.oracle_gap is None


def test_temporal_windows_are_ordered_and_refuse_short_history():
    w = temporal_windows(dt.datetime(2025, 7, 1), dt.datetime(2026, 6, 30), test_months=3)
    assert (
        w.train_start
        < w.valid_start
        == dt.datetime(2026, 1, 30)
        < w.test_start
        == dt.datetime(2026, 3, 30)
        < w.cutoff
    )
    with pytest.raises(CarePulseError, match="need history before"):
        temporal_windows(dt.datetime(2026, 3, 1), dt.datetime(2026, 6, 30), test_months=3)
