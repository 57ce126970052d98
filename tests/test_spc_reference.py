"""Cross-checks against published results of NHSRplotthedots and Montgomery's textbook (3 decimals or better).

NHSRplotthedots runs with moving-range screening on (its default); on these series no moving range
is screened out, so screening itself is checked by hand in test_spc_limits.py.

Provenance of every number: tests/data/spc/README.md.
"""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import polars as pl
import pytest

from carepulse.metrics.spc import spc

DATA = Path(__file__).parent / "data" / "spc"
NHS_TYPE = {  # NHSRplotthedots' names -> ours
    "common_cause": "common_cause",
    "special_cause_improvement": "special_cause_improving",
    "special_cause_concern": "special_cause_concerning",
}


@pytest.fixture(scope="module")
def ae_all() -> pl.DataFrame:
    return pl.read_csv(DATA / "nhsrplotthedots_ae_all.csv", try_parse_dates=True)


@pytest.fixture(scope="module")
def nhsr() -> dict:
    return json.loads((DATA / "nhsrplotthedots_expected.json").read_text())


def test_reference_data_is_complete(ae_all, nhsr):
    assert ae_all.height == 36 and ae_all["period"].dtype == pl.Date
    for call in ("attendances", "attendances_rebase", "performance_fixed"):
        assert len(nhsr[call]["point_type"]) == 36


def test_xmr_matches_nhsrplotthedots_attendances(ae_all, nhsr):
    expected = nhsr["attendances"]
    result = spc(ae_all, y="attendances", chart="i", screen_mr=True, better="higher")
    assert result.points["cl"].to_list() == pytest.approx([expected["mean"]] * 36, abs=1e-3)
    assert result.points["lcl"].to_list() == pytest.approx([expected["lpl"]] * 36, abs=1e-3)
    assert result.points["ucl"].to_list() == pytest.approx([expected["upl"]] * 36, abs=1e-3)
    assert result.points["nhs_point_type"].to_list() == [NHS_TYPE[t] for t in expected["point_type"]]


def test_phases_match_nhsrplotthedots_rebase(ae_all, nhsr):
    expected = nhsr["attendances_rebase"]
    result = spc(
        ae_all,
        y="attendances",
        chart="i",
        screen_mr=True,
        better="higher",
        phases=[date.fromisoformat(expected["rebase"])],
    )
    summary = result.summary
    assert summary["n_points"].to_list() == [g["points"] for g in expected["groups"]]
    assert summary["centre"].to_list() == pytest.approx([g["mean"] for g in expected["groups"]], abs=1e-3)
    assert summary["lcl_mean"].to_list() == pytest.approx([g["lpl"] for g in expected["groups"]], abs=1e-3)
    assert summary["ucl_mean"].to_list() == pytest.approx([g["upl"] for g in expected["groups"]], abs=1e-3)
    assert result.points["nhs_point_type"].to_list() == [NHS_TYPE[t] for t in expected["point_type"]]


def test_frozen_baseline_and_point_types_match_nhsrplotthedots_performance(ae_all, nhsr):
    expected = nhsr["performance_fixed"]
    result = spc(
        ae_all,
        y="performance",
        chart="i",
        screen_mr=True,
        better="higher",
        freeze=expected["fix_after_n_points"],
    )
    assert result.points["cl"][0] == pytest.approx(expected["mean"], abs=1e-9)
    assert result.points["lcl"][35] == pytest.approx(expected["lpl"], abs=1e-9)
    assert result.points["ucl"][35] == pytest.approx(expected["upl"], abs=1e-9)
    got = result.points["nhs_point_type"].to_list()
    assert got == [NHS_TYPE[t] for t in expected["point_type"]]
    # the MDC variation icon is the last point's type
    assert result.last_phase["nhs_variation"] == "special_cause_concerning"


def test_two_close_points_on_opposite_sides_are_common_cause():
    """NHSRplotthedots tests/testthat/test-ptd_spc_standard.R (commit 2ec4e36851c0): symmetrical data
    1, -1 repeated 8 times, points 15 and 16 set to 5.5 and -5.5: both stay common cause."""
    values = [1.0, -1.0] * 8
    values[14], values[15] = 5.5, -5.5
    days = pl.date_range(date(2020, 1, 2), date(2020, 1, 17), eager=True)
    frame = pl.DataFrame({"period": days, "value": values})
    result = spc(frame, chart="i", screen_mr=True, better="higher")
    assert result.points["nhs_point_type"].to_list()[-2:] == ["common_cause", "common_cause"]


@pytest.fixture(scope="module")
def orange_juice() -> pl.DataFrame:
    return pl.read_csv(DATA / "montgomery_orange_juice.csv")


def test_p_chart_matches_montgomery_trial_limits(orange_juice):
    # Montgomery Example 7.1: p̄ = 0.2313, UCL = 0.4102, LCL = 0.0524
    result = spc(orange_juice, x="sample", y="nonconforming", n="inspected", chart="p")
    row = result.last_phase
    assert round(row["centre"], 3) == 0.231
    assert round(row["ucl_mean"], 3) == 0.410
    assert round(row["lcl_mean"], 3) == 0.052
    # samples 15 and 23 are above the trial UCL
    assert result.points.filter("outside_limits")["x"].to_list() == [15, 23]


def test_p_chart_matches_montgomery_revised_limits_excluding_samples_15_and_23(orange_juice):
    # Montgomery Example 7.1 revised: p̄ = 0.2150, UCL = 0.3893, LCL = 0.0407 (qicharts2: exclude = c(15, 23))
    result = spc(orange_juice, x="sample", y="nonconforming", n="inspected", chart="p", exclude=[14, 22])
    row = result.last_phase
    assert row["centre"] == pytest.approx(301 / 1400)  # 347 − 22 − 24 nonconforming in 28 × 50 cans
    assert round(row["centre"], 3) == 0.215
    assert round(row["ucl_mean"], 3) == 0.389
    assert round(row["lcl_mean"], 3) == 0.041
    assert row["n_excluded"] == 2


def test_u_chart_with_unit_exposure_matches_the_nist_c_chart_example():
    # NIST/SEMATECH e-Handbook 6.3.3.1: 25 wafers, c̄ = 16, UCL = 28, LCL = 4
    wafers = pl.read_csv(DATA / "nist_wafer_defects.csv")
    result = spc(wafers, x="wafer", y="defects", n="wafers_inspected", chart="u")
    row = result.last_phase
    assert round(row["centre"], 3) == 16.0
    assert round(row["ucl_mean"], 3) == 28.0
    assert round(row["lcl_mean"], 3) == 4.0
    # wafer 24 (31 defects) is the only point above the UCL
    assert result.points.filter("outside_limits")["x"].to_list() == [24]
