"""Cross-checks against qicharts2's own stored and documented results, to 3 decimals or better.

- I and MR charts: qicharts2's reference results for Montgomery Example 6.5 (``tests/testthat/
  ex_6.5_3.rds`` and ``ex_6.5_4.rds``: ``qic(weeks, cost, data = tbl_06.07, chart = 'i' / 'mr',
  freeze = 20)``), decoded once and copied to ``tests/data/spc``.
- P' chart: the qicharts2 vignette, Case 5 (``qic(i, r, n = n, data = nhs_accidents, chart = 'pp',
  decimals = 3)``): the rendered chart labels the centre 95.290%, the UCL 96.582% and the LCL
  93.997%; the I chart of the same data 0.953, 0.966 and 0.940.
- U' chart: qicharts2 documents no U' example. On the same data Laney's limits are the same for
  U' as for P' (σ_i·σ_z does not depend on the variance model: the z-scores scale by a constant),
  so the documented P' figures are also the U' figures.

Provenance of every number: tests/data/spc/README.md.
"""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest

from carepulse.metrics.spc import E2_QICHARTS2, spc

DATA = Path(__file__).parent / "data" / "spc"


@pytest.fixture(scope="module")
def cost() -> pl.DataFrame:
    return pl.read_csv(DATA / "qicharts2_montgomery_ex6_5_cost.csv")


@pytest.fixture(scope="module")
def expected() -> dict:
    return json.loads((DATA / "qicharts2_montgomery_ex6_5_expected.json").read_text())


@pytest.fixture(scope="module")
def accidents() -> pl.DataFrame:
    return pl.read_csv(DATA / "qicharts2_nhs_accidents.csv")


def test_i_chart_matches_qicharts2_montgomery_example_6_5(cost, expected):
    want = expected["ex_6.5_3_i_freeze_20"]
    result = spc(cost, x="week", y="cost", chart="i", freeze=20, e2=E2_QICHARTS2)
    for name in ("cl", "lcl", "ucl"):
        assert result.points[name].to_list() == pytest.approx([want[name]] * 40, abs=1e-3)
    assert result.points.filter("outside_limits")["x"].to_list() == want["sigma_signal_weeks"]


def test_nhs_rounding_of_e2_moves_the_i_limits_in_the_third_decimal(cost, expected):
    # 2.66 vs 3/1.128 = 2.6596 on MR̄ = 7.79: 0.0033 apart, why e2 is an option
    want = expected["ex_6.5_3_i_freeze_20"]
    nhs = spc(cost, x="week", y="cost", chart="i", freeze=20)
    assert nhs.points["ucl"][0] == pytest.approx(300.5 + 2.66 * 148 / 19)
    assert abs(nhs.points["ucl"][0] - want["ucl"]) > 1e-3


def test_mr_chart_matches_qicharts2_and_is_judged_only_against_its_upper_limit(cost, expected):
    want = expected["ex_6.5_4_mr_freeze_20"]
    result = spc(cost, x="week", y="cost", chart="mr", freeze=20)
    for name in ("cl", "lcl", "ucl"):
        assert result.points[name].to_list() == pytest.approx([want[name]] * 40, abs=1e-3)
    assert result.points.filter("signal")["x"].to_list() == want["sigma_signal_weeks"]
    assert result.last_phase["runs_signal"] is want["runs_signal"]
    # no runs rules at all on a moving-range chart
    for rule in ("shift", "trend", "two_of_three_beyond_2s", "anhoej_long_run"):
        assert result.points[rule].null_count() == 40
        assert result.last_phase[f"{rule}_points"] is None
    assert result.last_phase["longest_run"] is None


def test_i_chart_of_nhs_accidents_matches_the_vignette_labels(accidents):
    result = spc(accidents, x="week", y="seen_within_4h", n="attendances", chart="i")
    last = result.points.row(-1, named=True)
    assert round(last["cl"], 3) == 0.953
    assert round(last["ucl"], 3) == 0.966
    assert round(last["lcl"], 3) == 0.940


@pytest.mark.parametrize("chart", ["pp", "up"])
def test_laney_prime_chart_matches_the_vignette_p_prime_labels(accidents, chart):
    result = spc(accidents, x="week", y="seen_within_4h", n="attendances", chart=chart)
    last = result.points.row(-1, named=True)
    # labelled in percent with 3 decimals: 95.290%, 96.582%, 93.997%
    assert round(100 * last["cl"], 3) == 95.290
    assert round(100 * last["ucl"], 3) == 96.582
    assert round(100 * last["lcl"], 3) == 93.997
    assert not result.points["outside_limits"].any()


def test_plain_p_chart_of_nhs_accidents_is_overdispersed_and_auto_offers_p_prime(accidents):
    plain = spc(accidents, x="week", y="seen_within_4h", n="attendances", chart="p")
    # the vignette: "the 3-sigma limits appear too narrow"
    assert plain.points["outside_limits"].sum() > 10
    assert plain.last_phase["overdispersed"] is True
    assert plain.last_phase["sigma_z"] > 10
    auto = spc(accidents, x="week", y="seen_within_4h", n="attendances", kind="rate")
    assert auto.chart == "pp"
    auto_count = spc(accidents, x="week", y="seen_within_4h", n="attendances", kind="count")
    assert auto_count.chart == "up"
