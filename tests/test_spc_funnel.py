"""Funnel plots (metrics/funnel.py): qicharts2's funnel of hospital infections, and Spiegelhalter's
formulas worked by hand for proportions and both overdispersion adjustments."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from carepulse.metrics.funnel import funnel

DATA = Path(__file__).parent / "data" / "spc"


@pytest.mark.parametrize("infection", ["BAC", "CDI", "UTI"])
def test_rate_funnel_matches_qicharts2_hospital_infections(infection):
    # qicharts2 tests/testthat/hai_4.rds: qic(reorder(hospital, days), n, days, data = subset(...,
    # month >= '2016-07-01'), chart = 'u', facets = ~ infection, multiply = 10000): CL, aLCL, aUCL
    # (the limits averaged over the six hospitals) and the number of hospitals beyond 3 sigma.
    want = json.loads((DATA / "qicharts2_hai_funnel_expected.json").read_text())[infection]
    units = pl.read_csv(DATA / "qicharts2_hospital_infections_2016h2.csv").filter(
        pl.col("infection") == infection
    )
    result = funnel(units, unit="hospital", y="n", n="days", kind="rate")
    assert round(result.target * 1e4, 3) == round(want["cl"], 3)
    assert round(result.points["lcl_3"].mean() * 1e4, 3) == round(want["alcl"], 3)
    assert round(result.points["ucl_3"].mean() * 1e4, 3) == round(want["aucl"], 3)
    assert result.points["beyond_3"].drop_nulls().len() == want["sigma_signal"]


UNITS = pl.DataFrame(
    {
        "unit": ["a", "b", "c", "d"],
        "numerator": [10.0, 30.0, 5.0, 55.0],
        "denominator": [100.0, 200.0, 100.0, 400.0],
    }
)


def test_proportion_funnel_by_hand():
    # θ0 = 100/800 = 0.125; σ(n) = √(0.125·0.875/n): n=100 -> 0.0330719, n=200 -> 0.0233854, n=400 -> 0.0165359
    result = funnel(UNITS)
    assert result.target == pytest.approx(0.125)
    points = result.points
    sd = [math.sqrt(0.125 * 0.875 / n) for n in (100, 200, 100, 400)]
    assert points["ucl_2"].to_list() == pytest.approx([0.125 + 2 * s for s in sd])
    assert points["lcl_3"].to_list() == pytest.approx([max(0.0, 0.125 - 3 * s) for s in sd])
    # b: 0.15, z = 0.025/0.0233854 = 1.069 -> inside; c: 0.05, z = -2.268 -> below 2 sigma, inside 3
    assert points["z"].to_list() == pytest.approx(
        [(v - 0.125) / s for v, s in zip([0.1, 0.15, 0.05, 0.1375], sd)]
    )
    assert points["beyond_2"].to_list() == [None, None, "low", None]
    assert points["beyond_3"].to_list() == [None, None, None, None]
    # the smooth curve agrees with the per-unit limits
    curve = result.curve([100, 400])
    assert curve["ucl_3"].to_list() == pytest.approx([0.125 + 3 * sd[0], 0.125 + 3 * sd[3]])


def overdispersed_units() -> pl.DataFrame:
    # ten units of 1,000: proportions spread far beyond binomial noise around 0.2
    values = [0.12, 0.15, 0.17, 0.19, 0.2, 0.2, 0.21, 0.23, 0.25, 0.28]
    return pl.DataFrame(
        {
            "unit": [f"u{i}" for i in range(10)],
            "numerator": [v * 1000 for v in values],
            "denominator": [1000.0] * 10,
        }
    )


def test_overdispersion_factor_and_both_adjustments_by_hand():
    units = overdispersed_units()
    plain = funnel(units)
    theta = 2000 / 10000
    sd = math.sqrt(theta * (1 - theta) / 1000)
    z = np.array([(v - theta) / sd for v in units["numerator"] / 1000])
    low, high = np.quantile(z, [0.1, 0.9])
    phi = float(np.mean(np.clip(z, low, high) ** 2))
    assert plain.phi == pytest.approx(phi)
    assert plain.overdispersed is True and phi > 1
    # the plain funnel flags most units; multiplicative widens by √φ
    assert plain.points["beyond_3"].drop_nulls().len() >= 4
    multiplicative = funnel(units, overdispersion="multiplicative")
    assert multiplicative.points["ucl_3"][0] == pytest.approx(theta + 3 * math.sqrt(phi) * sd)
    # additive: τ² = (Iφ − (I − 1)) / (Σw − Σw²/Σw), w = 1/σ² = 1000/0.16 for every unit
    w = 1 / sd**2
    tau2 = (10 * phi - 9) / (10 * w - 10 * w**2 / (10 * w))
    additive = funnel(units, overdispersion="additive")
    assert additive.tau2 == pytest.approx(tau2)
    assert additive.points["ucl_3"][0] == pytest.approx(theta + 3 * math.sqrt(sd**2 + tau2))
    assert multiplicative.points["beyond_3"].drop_nulls().len() < plain.points["beyond_3"].drop_nulls().len()


def test_binomial_units_are_not_adjusted():
    rng = np.random.default_rng(3)
    n = np.array([200.0, 400, 800, 1600, 300, 500, 700, 900, 1100, 1300])
    units = pl.DataFrame(
        {
            "unit": list("abcdefghij"),
            "numerator": rng.binomial(n.astype(int), 0.1).astype(float),
            "denominator": n,
        }
    )
    result = funnel(units, overdispersion="multiplicative")
    if result.phi <= 1:
        assert result.points["ucl_3"].to_list() == pytest.approx(funnel(units).points["ucl_3"].to_list())
    assert result.overdispersed is False


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"kind": "ratio"}, "kind"),
        ({"overdispersion": "both"}, "overdispersion"),
        ({"y": "missing"}, "missing"),
    ],
)
def test_bad_arguments_are_named(kwargs, message):
    with pytest.raises(ValueError, match=message):
        funnel(UNITS, **kwargs)


def test_a_proportion_above_one_is_refused():
    bad = UNITS.with_columns(pl.Series("numerator", [10.0, 300.0, 5.0, 55.0]))
    with pytest.raises(ValueError, match="exceeds"):
        funnel(bad)
