"""Hand-computed centre lines and limits for each chart type, phases, freeze and exclude.

Every expected number below was worked by hand from the formula in the comment above it.
"""

from __future__ import annotations

from datetime import date, timedelta

import polars as pl
import pytest

from carepulse.metrics.spc import spc


def weekly(values, n=None, start=date(2025, 1, 6)):
    frame = {
        "period": [start + timedelta(weeks=i) for i in range(len(values))],
        "value": [float(v) for v in values],
    }
    if n is not None:
        frame["n"] = [float(v) for v in n]
    return pl.DataFrame(frame)


def column(result, name):
    return result.points[name].to_list()


def test_run_chart_centre_is_the_median_and_has_no_limits():
    # sorted 1 1 2 3 4 5 6 9 -> median (3 + 4) / 2
    result = spc(weekly([3, 1, 4, 1, 5, 9, 2, 6]), chart="run")
    assert column(result, "cl") == [3.5] * 8
    assert column(result, "ucl") == [None] * 8 and column(result, "lcl") == [None] * 8


# P chart: p̄ = Σy/Σn = 10/50 = 0.2; σ_i = √(0.2·0.8/n_i): n=10 -> 0.12649111, n=20 -> 0.08944272.
# UCL = 0.2 + 3σ_i; LCL = 0.2 − 3σ_i floored at 0; 2σ band likewise.
P_CASE = dict(
    y=[2, 3, 5],
    n=[10, 20, 20],
    cl=[0.2, 0.2, 0.2],
    ucl=[0.57947332, 0.46832816, 0.46832816],
    lcl=[0.0, 0.0, 0.0],
    ucl_2s=[0.45298221, 0.37888544, 0.37888544],
    lcl_2s=[0.0, 0.02111456, 0.02111456],
)
# p̄ = 4/8 = 0.5, σ = √(0.25/4) = 0.25: UCL 1.25 capped at 1, LCL −0.25 floored at 0, 2σ band 0..1.
P_CAPPED = dict(
    y=[3, 1], n=[4, 4], cl=[0.5, 0.5], ucl=[1.0, 1.0], lcl=[0.0, 0.0], ucl_2s=[1.0, 1.0], lcl_2s=[0.0, 0.0]
)
# U chart: ū = 12/8 = 1.5; σ_i = √(1.5/n_i): n=2 -> 0.8660254, n=4 -> 0.61237244.
U_CASE = dict(
    y=[4, 6, 2],
    n=[2, 4, 2],
    cl=[1.5, 1.5, 1.5],
    ucl=[4.09807621, 3.33711731, 4.09807621],
    lcl=[0.0, 0.0, 0.0],
    ucl_2s=[3.23205081, 2.72474487, 3.23205081],
    lcl_2s=[0.0, 0.27525513, 0.0],
)


@pytest.mark.parametrize(
    ("chart", "case"), [("p", P_CASE), ("p", P_CAPPED), ("u", U_CASE)], ids=["p", "p-capped", "u"]
)
def test_attribute_chart_limits_vary_with_each_denominator(chart, case):
    result = spc(weekly(case["y"], n=case["n"]), y="value", n="n", chart=chart)
    for name in ("cl", "ucl", "lcl", "ucl_2s", "lcl_2s"):
        assert column(result, name) == pytest.approx(case[name], abs=1e-8), name
    assert column(result, "value") == pytest.approx([y / n for y, n in zip(case["y"], case["n"])])


def test_i_chart_is_mean_plus_minus_2_66_average_moving_range():
    # mean 60/5 = 12; moving ranges 2 1 4 3 -> MR̄ 2.5; 12 ± 2.66·2.5 = 12 ± 6.65; 2σ = 12 ± 4.4333
    result = spc(weekly([10, 12, 11, 15, 12]), chart="i")
    assert column(result, "cl") == pytest.approx([12.0] * 5)
    assert column(result, "ucl") == pytest.approx([18.65] * 5)
    assert column(result, "lcl") == pytest.approx([5.35] * 5)
    assert column(result, "ucl_2s") == pytest.approx([16.4333333] * 5)
    assert column(result, "lcl_2s") == pytest.approx([7.5666667] * 5)


def test_i_chart_comes_with_its_moving_range_chart():
    # MR̄ = 2.5; UCL = 3.267·2.5 = 8.1675; LCL 0; first point has no moving range
    mr = spc(weekly([10, 12, 11, 15, 12]), chart="i").moving_range
    assert mr.chart == "mr"
    assert column(mr, "value") == [None, 2.0, 1.0, 4.0, 3.0]
    assert column(mr, "cl") == pytest.approx([2.5] * 5)
    assert column(mr, "ucl") == pytest.approx([8.1675] * 5)
    assert column(mr, "lcl") == [0.0] * 5


def test_moving_range_screening_is_on_by_default_as_in_qicharts2_and_can_be_turned_off():
    # values 1 2 1 2 1 2 1 2 30: mean 42/9 = 4.6667; MRs seven 1s and 28 -> MR̄ 35/8 = 4.375.
    values = [1, 2, 1, 2, 1, 2, 1, 2, 30]
    plain = spc(weekly(values), chart="i", screen_mr=False)
    assert plain.points["ucl"][0] == pytest.approx(42 / 9 + 2.66 * 4.375)
    # screening (the default): 28 >= 3.267·4.375 = 14.29 is dropped -> MR̄ = 1
    screened = spc(weekly(values), chart="i")
    assert screened.points["ucl"][0] == pytest.approx(42 / 9 + 2.66)
    assert screened.points["lcl"][0] == pytest.approx(42 / 9 - 2.66)


@pytest.mark.parametrize("freeze", [5, date(2025, 2, 3)], ids=["count", "date"])
def test_freeze_extends_baseline_limits_over_later_points(freeze):
    # baseline = first five points (same as the I chart above); 30 and 31 are judged against it
    result = spc(weekly([10, 12, 11, 15, 12, 30, 31]), chart="i", freeze=freeze)
    assert column(result, "baseline") == [True] * 5 + [False] * 2
    assert column(result, "ucl") == pytest.approx([18.65] * 7)
    assert column(result, "outside_limits") == [False] * 5 + [True] * 2
    assert result.summary["n_baseline"].to_list() == [5]


def test_phases_recompute_limits_from_the_change_date():
    result = spc(weekly([1, 2, 3, 10, 11, 12]), chart="run", phases=[date(2025, 1, 27)])
    assert column(result, "phase") == [1, 1, 1, 2, 2, 2]
    assert column(result, "cl") == [2.0, 2.0, 2.0, 11.0, 11.0, 11.0]
    assert result.summary["centre"].to_list() == [2.0, 11.0]


def test_phase_given_as_iso_text_and_freeze_applies_within_its_phase():
    # phase 1: 10 12 11 15 12 | 30 40 ; freeze after 3 points -> phase 1 limits from 10 12 11
    # (mean 11, MR̄ (2+1)/2 = 1.5, UCL 11 + 3.99); phase 2 uses all its points (mean 35)
    result = spc(weekly([10, 12, 11, 15, 12, 30, 40]), chart="i", phases=["2025-02-10"], freeze=3)
    assert column(result, "phase") == [1] * 5 + [2] * 2
    assert column(result, "baseline") == [True] * 3 + [False] * 2 + [True] * 2
    assert result.points["ucl"][0] == pytest.approx(11 + 2.66 * 1.5)
    assert result.points["cl"][6] == pytest.approx(35.0)


def test_excluded_points_are_kept_but_left_out_of_limits_and_rules():
    result = spc(weekly([10, 12, 11, 15, 12, 100]), chart="i", exclude=[5])
    assert column(result, "excluded") == [False] * 5 + [True]
    assert column(result, "ucl") == pytest.approx([18.65] * 6)
    assert column(result, "outside_limits") == [False] * 6
    assert result.points["value"][5] == 100.0
    assert result.summary.select("n_points", "n_excluded").row(0) == (5, 1)


def test_p_chart_with_a_missing_denominator_has_no_limits_for_that_point():
    frame = weekly([2, 3, 5], n=[10, 20, 20]).with_columns(pl.Series("n", [10.0, None, 20.0]))
    result = spc(frame, n="n", chart="p")
    # p̄ from the two complete points: 7/30
    assert result.points["cl"][0] == pytest.approx(7 / 30)
    assert result.points["ucl"][1] is None and result.points["value"][1] is None
