"""Special-cause rules on small vectors worked by hand: control-chart, IHI, Anhøj and NHS MDC."""

from __future__ import annotations

import itertools
import math
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from carepulse.metrics.spc import (
    anhoej_limits,
    ihi_runs_limits,
    nhs_assurance,
    nhs_point_types,
    outside_limits,
    points_in_long_runs,
    points_in_trends,
    run_lengths,
    spc,
    two_of_three_beyond,
)


def arr(values):
    return np.asarray(values, dtype=float)


def weekly(values):
    return pl.DataFrame(
        {"period": [date(2025, 1, 6) + timedelta(weeks=i) for i in range(len(values))], "value": arr(values)}
    )


# ---- runs on one side of the centre line --------------------------------------------------------------
@pytest.mark.parametrize(
    ("values", "min_length", "on_centre", "expected"),
    [
        ([5] * 8 + [0], 8, "skip", [1] * 8 + [0]),  # 8 above the line of 3: a shift
        ([5] * 7 + [0, 5], 8, "skip", [0] * 9),  # only 7
        ([5, 5, 5, 3, 5, 5, 5, 5, 5], 8, "skip", [1, 1, 1, 0, 1, 1, 1, 1, 1]),  # on the line: ignored
        ([5, 5, 5, 3, 5, 5, 5, 5, 5], 8, "break", [0] * 9),  # on the line: breaks (NHS)
        ([0, 0, 0, 0, 0, 0, 9], 6, "skip", [1, 1, 1, 1, 1, 1, 0]),  # IHI shift of 6 below
    ],
)
def test_points_in_long_runs(values, min_length, on_centre, expected):
    flags = points_in_long_runs(arr(values), np.full(len(values), 3.0), min_length, on_centre=on_centre)
    assert flags.astype(int).tolist() == expected


def test_missing_points_neither_count_nor_break_a_run():
    flags = points_in_long_runs(arr([5, 5, 5, np.nan, 5, 5, 5, 5, 5]), np.full(9, 3.0), 8)
    assert flags.tolist() == [True] * 3 + [False] + [True] * 5


# ---- trends --------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("values", "min_points", "ties", "expected"),
    [
        ([1, 2, 3, 4, 5, 6], 6, "break", [1] * 6),
        ([6, 5, 4, 3, 2, 1, 7], 6, "break", [1] * 6 + [0]),
        ([1, 2, 3, 4, 5], 6, "break", [0] * 5),
        ([1, 2, 3, 3, 4, 5, 6], 6, "break", [0] * 7),  # the tie breaks it: 3 then 4 points
        ([1, 2, 3, 3, 4, 5, 6], 5, "skip", [1, 1, 1, 0, 1, 1, 1]),  # IHI: like values ignored
        ([9, 1, 2, 3, 4, 5], 5, "skip", [0, 1, 1, 1, 1, 1]),  # IHI trend of 5
    ],
)
def test_points_in_trends(values, min_points, ties, expected):
    assert points_in_trends(arr(values), min_points, ties=ties).astype(int).tolist() == expected


# ---- sigma rules ---------------------------------------------------------------------------------------
def test_outside_limits_is_strict():
    flags = outside_limits(arr([3.0, 3.01, -3.2, 0]), np.full(4, -3.0), np.full(4, 3.0))
    assert flags.tolist() == [False, True, True, False]


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ([0, 2.5, 0, 2.5, 0], [0, 1, 0, 1, 0]),  # 2 of 3 beyond +2σ
        ([2.5, -2.5, 0], [0, 0, 0]),  # opposite sides
        ([2.5, 3.5, 0], [1, 1, 0]),  # beyond 3σ also counts as beyond 2σ
        ([0, -2.1, -2.2, 0], [0, 1, 1, 0]),
        ([2.5, 0, 0, 2.5], [0, 0, 0, 0]),  # 4 apart: not within 3
    ],
)
def test_two_of_three_beyond_two_sigma(values, expected):
    size = len(values)
    flags = two_of_three_beyond(arr(values), np.full(size, -2.0), np.full(size, 2.0))
    assert flags.astype(int).tolist() == expected


def test_control_chart_rules_through_spc():
    # I chart of 1..6 (mean 3.5, MR̄ 1, limits 3.5 ± 2.66): six steadily up is a trend, nothing else
    result = spc(weekly([1, 2, 3, 4, 5, 6]), chart="i")
    assert result.points["trend"].to_list() == [True] * 6
    assert result.points["outside_limits"].to_list() == [False] * 6
    assert result.points["signals"].to_list() == [["trend"]] * 6
    assert result.summary["trend_points"].to_list() == [6]


# ---- Anhøj (qicharts2) -----------------------------------------------------------------------------------
def qbinom_05(size: int) -> int:
    """R's qbinom(0.05, size, 0.5) by summing the binomial pmf: the smallest c with P(X <= c) >= 0.05."""
    total = 0
    for c in range(size + 1):
        total += math.comb(size, c)
        if total / 2**size >= 0.05:
            return c
    return size


def test_anhoej_limits_reproduce_the_qicharts2_table():
    """qicharts2 vignette, Appendix 2: critical values for n = 10..100 (tests/data/spc/README.md)."""
    table = pl.read_csv(Path(__file__).parent / "data" / "spc" / "qicharts2_anhoej_critical_values.csv")
    assert table.height == 91
    for n, longest_max, crossings_min in table.iter_rows():
        assert anhoej_limits(n) == (longest_max, crossings_min), n


@pytest.mark.parametrize("n", [1, 2, 5, 9, 101, 250, 1000])
def test_anhoej_crossings_minimum_is_the_binomial_5_percent_quantile(n):
    """Outside the published table: an independent binomial sum (R's qbinom definition)."""
    assert anhoej_limits(n)[1] == qbinom_05(n - 1)
    assert anhoej_limits(n)[0] == int(round(math.log2(n))) + 3


def test_anhoej_limits_for_24_points_match_the_qicharts2_vignette_text():
    # "in a run chart with 24 data points a run of more than round(log2(24) + 3) = 8 ... fewer than
    # qbinom(0.05, 24 - 1, 0.5) = 8 crossings would suggest that the process is shifting"
    assert anhoej_limits(24) == (8, 8)


def test_run_lengths_ignore_points_on_the_centre():
    assert run_lengths(arr([1, 5, 3, 5, 1, 1]), np.full(6, 3.0)) == [1, 2, 2]


def test_run_chart_runs_analysis_ihi_and_anhoej():
    # 1..12: median 6.5, one run of 6 below, one of 6 above; 1 crossing.
    # Anhøj: n=12 -> longest max round(log2 12)+3 = 7, crossings min qbinom(.05, 11, .5) = 3 -> signal
    # IHI: shift (6 on one side) and trend (12 steadily up) on every point; 2 runs is too few.
    result = spc(weekly(range(1, 13)), chart="run")
    row = result.last_phase
    anhoej = (row["longest_run"], row["longest_run_max"], row["crossings"], row["crossings_min"])
    assert anhoej == (6, 7, 1, 3)
    assert row["runs_signal"] is True
    assert row["anhoej_long_run_points"] == 0
    assert row["ihi_runs"] == 2 and row["ihi_runs_signal"] is True
    assert result.points["ihi_shift"].to_list() == [True] * 12
    assert result.points["ihi_trend"].to_list() == [True] * 12
    assert result.points["outside_limits"].to_list() == [None] * 12  # no limits on a run chart


def test_random_looking_run_chart_has_no_anhoej_signal():
    # median 4.5; sides - + - + + - - + - + -> runs 1 1 1 2 2 1 1 1, 7 crossings >= qbinom(.05, 9, .5) = 2
    result = spc(weekly([3, 6, 2, 7, 8, 1, 4, 9, 0, 5]), chart="run")
    row = result.last_phase
    assert (row["longest_run"], row["crossings"], row["crossings_min"]) == (2, 7, 2)
    assert row["runs_signal"] is False and row["ihi_runs_signal"] is False


# ---- IHI runs table ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("n", [10, 11, 12, 13, 14, 16])
def test_ihi_runs_limits_match_brute_force_enumeration(n):
    """Independent check: count runs in every arrangement of n//2 and n - n//2 points."""
    counts: dict[int, int] = {}
    for above in itertools.combinations(range(n), n // 2):
        side = np.zeros(n)
        side[list(above)] = 1
        runs = 1 + int(np.count_nonzero(np.diff(side)))
        counts[runs] = counts.get(runs, 0) + 1
    total = sum(counts.values())
    fewest, most = ihi_runs_limits(n)
    assert sum(c for r, c in counts.items() if r < fewest) / total <= 0.025
    assert sum(c for r, c in counts.items() if r < fewest + 1) / total > 0.025
    assert sum(c for r, c in counts.items() if r > most) / total <= 0.025
    assert sum(c for r, c in counts.items() if r > most - 1) / total > 0.025


def test_ihi_runs_limits_need_ten_points():
    assert ihi_runs_limits(9) is None


def test_ihi_astronomical_proxy_flags_a_point_outside_xmr_limits():
    # 10 10 11 10 11 10 11 10 50: XmR limits from these points; 50 is far above UCL
    values = [10, 10, 11, 10, 11, 10, 11, 10, 50]
    result = spc(weekly(values), chart="run")
    assert result.points["ihi_astronomical"].to_list() == [False] * 8 + [True]


# ---- NHS Making Data Count ---------------------------------------------------------------------------------
def nhs(values, better="higher"):
    v = arr(values)
    size = v.size
    full = lambda x: np.full(size, float(x))  # noqa: E731
    # centre 0, 3σ limits ±3, 2σ band ±2
    return nhs_point_types(v, full(0), full(-3), full(3), full(-2), full(2), better).tolist()


@pytest.mark.parametrize(
    ("values", "better", "expected"),
    [
        ([4, 0.5, -0.5], "higher", ["special_cause_improving", "common_cause", "common_cause"]),
        ([4, 0.5, -0.5], "lower", ["special_cause_concerning", "common_cause", "common_cause"]),
        ([4, 0.5, -0.5], None, ["special_cause_neither", "common_cause", "common_cause"]),
        # 7 on one side of the mean (NHS rule, not 8)
        ([1] * 7, "higher", ["special_cause_improving"] * 7),
        ([1] * 6 + [-1], "higher", ["common_cause"] * 7),
        # 7 points steadily down (below and above the mean): the side decides improving/concerning
        (
            [1.5, 1, 0.5, 0.1, -0.5, -1, -1.5],
            "higher",
            ["special_cause_improving"] * 4 + ["special_cause_concerning"] * 3,
        ),
        # 2 of 3 close to the limits (2σ..3σ) with all three on the same side
        ([2.5, 0.1, 2.5], "lower", ["special_cause_concerning", "common_cause", "special_cause_concerning"]),
        ([2.5, -0.1, 2.5], "lower", ["common_cause"] * 3),
    ],
)
def test_nhs_point_types(values, better, expected):
    assert nhs(values, better) == expected


@pytest.mark.parametrize(
    ("target", "better", "expected"),
    [
        (12, "higher", "consistently_failing"),
        (12, "lower", "consistently_passing"),
        (1, "higher", "consistently_passing"),
        (1, "lower", "consistently_failing"),
        (5, "higher", "hit_and_miss"),
        (10, "lower", "hit_and_miss"),  # on the limit: can go either way
        (5, None, "none"),
        (None, "higher", "none"),
    ],
)
def test_nhs_assurance(target, better, expected):
    # process limits 2..10
    assert nhs_assurance(target, 2.0, 10.0, better) == expected


def test_variation_and_assurance_in_the_summary_use_the_last_point():
    # I chart of 10 12 11 15 12 (limits 5.35..18.65): last point common cause; target 20 is above
    # the UCL so a higher-is-better process consistently fails it
    result = spc(weekly([10, 12, 11, 15, 12]), chart="i", better="higher", target=20)
    assert result.last_phase["nhs_variation"] == "common_cause"
    assert result.last_phase["assurance"] == "consistently_failing"
    assert result.points["target"].to_list() == [20.0] * 5
