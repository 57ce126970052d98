"""Complementary suppression, tested as an attacker would: solve for every hidden count from what is
published (shown counts, rates × n, the totals shown beside the table) and require that none is pinned
to one value from 1 to 10 (``tests/suppression_attack.py``)."""

from __future__ import annotations

import datetime as dt
import re
from types import SimpleNamespace

import polars as pl
import pytest
from suppression_attack import Partition, exact_small_values

from carepulse import metrics
from carepulse.metrics.no_show_model.card import model_card_markdown
from carepulse.metrics.suppression import metric_margins, suppress_metric_frame, suppress_table

# The patient-experience example: department A's provider rating, 38 of 41 top box, is
# hidden (complement 3); the overall figure minus the other departments gave it back.
RATING = pl.DataFrame(
    {
        "department": ["A", "B", "C", "D"],
        "numerator": [38.0, 120.0, 300.0, 85.0],  # complements 3, 30, 80, 15
        "n": [41, 150, 380, 100],
    }
)


def attack_one_margin(published: pl.DataFrame, total_n: float, total_k: float | None, name: str) -> list:
    shown = published.filter(~pl.col("suppressed"))
    part = Partition(
        n_total=total_n,
        k_total=total_k,
        shown_n=shown["n"].cast(pl.Float64).to_list(),
        shown_k=shown["numerator"].cast(pl.Float64).to_list() if total_k is not None else [],
        hidden=[str(v) for v in published.filter(pl.col("suppressed"))[name].to_list()],
    )
    return exact_small_values([part])


def test_primary_suppression_alone_leaks_the_experience_example():
    published = metrics.suppress_small_cells(RATING)
    assert published["suppressed"].to_list() == [True, False, False, False]
    leaks = attack_one_margin(published, RATING["n"].sum(), RATING["numerator"].sum(), "department")
    assert ("A", "n-k", 3) in leaks and ("A", "n", 41) not in leaks  # 3 = 41 − 38, what the issue saw


def test_complementary_suppression_protects_the_experience_example():
    published = suppress_table(RATING, margins=[()])
    # the smallest other department is hidden with it
    assert published["suppressed"].to_list() == [True, False, False, True]
    assert published.filter("suppressed")["numerator"].null_count() == 2
    assert attack_one_margin(published, RATING["n"].sum(), RATING["numerator"].sum(), "department") == []


def test_two_small_rows_that_would_pin_each_other_get_a_third():
    # two hidden rows of n = 1 each: their sum 2 pins both to 1, so a third row must go
    frame = pl.DataFrame(
        {"g": ["a", "b", "c", "d"], "numerator": [0.0, 0.0, 40.0, 50.0], "n": [1, 1, 200, 300]}
    )
    published = suppress_table(frame)
    assert published["suppressed"].to_list() == [True, True, True, False]
    assert attack_one_margin(published, 502, 90, "g") == []


def test_margins_of_metric_frames():
    frame = pl.DataFrame({"metric": ["m"], "department": ["a"], "period": [dt.date(2026, 1, 5)], "n": [1]})
    assert metric_margins(frame) == [("metric", "period"), ("metric", "department")]
    assert metric_margins(pl.DataFrame({"metric": ["m"], "n": [1]})) == []


# ---- the model card's subgroup table ------------------------------------------------------------
SUBGROUPS = [  # the shapes the issue found: sex unknown 9, a race group of 6, a language of 9, no-shows 4-9
    {"subgroup": "sex", "value": "F", "n": 520, "no_shows": 61, "observed_rate": 61 / 520},
    {"subgroup": "sex", "value": "M", "n": 462, "no_shows": 50, "observed_rate": 50 / 462},
    {"subgroup": "sex", "value": "unknown", "n": 9, "note": "fewer than 30 rows: not evaluated"},
    {"subgroup": "race_ethnicity", "value": "Asian", "n": 64, "no_shows": 5, "observed_rate": 5 / 64},
    {"subgroup": "race_ethnicity", "value": "Black", "n": 233, "no_shows": 35, "observed_rate": 35 / 233},
    {"subgroup": "race_ethnicity", "value": "Other", "n": 6, "note": "fewer than 30 rows: not evaluated"},
    {"subgroup": "race_ethnicity", "value": "White", "n": 688, "no_shows": 71, "observed_rate": 71 / 688},
    {"subgroup": "language", "value": "en", "n": 902, "no_shows": 101, "observed_rate": 101 / 902},
    {"subgroup": "language", "value": "es", "n": 80, "no_shows": 9, "observed_rate": 9 / 80},
    {"subgroup": "language", "value": "zh", "n": 9, "note": "fewer than 30 rows: not evaluated"},
]
TOTAL_N, TOTAL_K = 991, 111


def card_markdown() -> str:
    overall = {
        "model": {"n": TOTAL_N, "no_shows": TOTAL_K, "auroc": 0.7, "auprc": 0.3, "brier": 0.1, "ece": 0.01}
    }
    for row in SUBGROUPS:
        if "no_shows" in row:
            row |= {
                "mean_predicted": 0.11,
                "auroc": 0.7,
                "ece": 0.02,
                "auroc_flag": False,
                "calibration_flag": False,
            }
    mv = SimpleNamespace(
        version=1,
        trained_at=dt.datetime(2026, 1, 1),
        file_sha256="0" * 64,
        train_start="2025-01-01",
        train_end="2025-09-30",
        test_start="2025-11-01",
        test_end="2025-12-31",
        metrics={
            "calibration_method": "isotonic",
            "windows": {"valid_start": "2025-10-01", "test_start": "2025-11-01"},
            "rows": {},
            "overall": overall,
            "capacity": {},
            "subgroups": SUBGROUPS,
        },
    )
    return model_card_markdown(mv)


def published_card_tables(markdown: str) -> tuple[tuple[float, float], list[dict]]:
    """What a reader of the card sees: the overall n and no-shows, and the subgroup rows."""
    overall = re.search(r"^\| Model \(calibrated gradient boosting\) \| (\d+) \| (\d+) \|", markdown, re.M)
    rows = []
    section = markdown.split("## Performance by subgroup", 1)[1].split("## Known limitations", 1)[0]
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) != 8 or cells[0] in ("Subgroup", "---"):
            continue
        n = None if not cells[2].isdigit() else float(cells[2])
        observed = float(cells[3]) if cells[3] else None
        # rate × n: the observed rate has 3 decimals, so for n < 1000 it gives the count exactly
        k = round(observed * n) if observed is not None and n is not None else None
        rows.append({"subgroup": cells[0], "value": cells[1], "n": n, "k": k})
    return (float(overall.group(1)), float(overall.group(2))), rows


def test_model_card_subgroup_table_survives_the_attack():
    (total_n, total_k), rows = published_card_tables(card_markdown())
    assert (total_n, total_k) == (TOTAL_N, TOTAL_K)
    partitions = []
    for subgroup in dict.fromkeys(r["subgroup"] for r in rows):
        mine = [r for r in rows if r["subgroup"] == subgroup]
        # rows with a shown n but no shown rate: their n is known, their k a variable
        part = Partition(n_total=total_n, k_total=total_k)
        for r in mine:
            name = f"{subgroup}={r['value']}"
            if r["n"] is not None and r["k"] is not None:
                part.shown_n.append(r["n"])
                part.shown_k.append(r["k"])
            else:
                part.hidden.append(name)
                if r["n"] is not None:
                    part.known_n[name] = r["n"]
        partitions.append(part)
        # every shown count is outside 1..10
        for r in mine:
            for value in (r["n"], r["k"], None if r["k"] is None else r["n"] - r["k"]):
                assert value is None or not 1 <= value <= 10, (subgroup, r)
    assert exact_small_values(partitions) == []
    # the rows the issue named are hidden, and so is a partner in each subgroup
    hidden = {(r["subgroup"], r["value"]) for r in rows if r["n"] is None}
    assert {("sex", "unknown"), ("race_ethnicity", "Other"), ("language", "zh"), ("language", "es")} <= hidden
    assert ("race_ethnicity", "Asian") in hidden  # 5 no-shows: rate × n would give it


def test_the_old_card_table_would_have_leaked():
    # the same attack on primary suppression alone finds the values
    partitions = []
    for subgroup in ("sex", "race_ethnicity", "language"):
        mine = [r for r in SUBGROUPS if r["subgroup"] == subgroup]
        part = Partition(n_total=TOTAL_N, k_total=None)
        for r in mine:
            if r["n"] <= 10:
                part.hidden.append(f"{subgroup}={r['value']}")
            else:
                part.shown_n.append(r["n"])
        partitions.append(part)
    leaks = {(name, q) for name, q, _ in exact_small_values(partitions)}
    assert {("sex=unknown", "n"), ("race_ethnicity=Other", "n"), ("language=zh", "n")} <= leaks


# ---- every catalogue table by department, as the dashboard and exports show them ---------------
@pytest.fixture(scope="module")
def prepared(synthetic_dir):
    from carepulse.contract import EXTRACTS
    from carepulse.pipelines.extract import read_extract

    frames = {
        name: read_extract(synthetic_dir / f"{name}.csv", extract, timezone="America/New_York").frame.drop(
            "_line"
        )
        for name, extract in EXTRACTS.items()
    }
    return metrics.prepare(frames)


@pytest.mark.parametrize("by", ["department", "provider"])
def test_catalogue_by_group_survives_the_attack(prepared, by):
    names = [m.name for m in metrics.REGISTRY.values() if not m.category]
    overall = metrics.compute_catalogue(prepared, metrics=names)
    table = metrics.compute_catalogue(prepared, metrics=names, by=[by])
    published = suppress_metric_frame(table, threshold=10)
    checked = 0
    for name in names:
        total = overall.filter(pl.col("metric") == name).row(0, named=True)
        rows = published.filter(pl.col("metric") == name)
        if total["n"] is None or rows.is_empty():
            continue
        counted = rows["numerator"].null_count() < rows.height and "numerator_n" not in rows.columns
        shown = rows.filter(~pl.col("suppressed"))
        part = Partition(
            n_total=float(total["n"]),
            k_total=float(total["numerator"]) if counted and total["numerator"] is not None else None,
            shown_n=shown["n"].cast(pl.Float64).to_list(),
            shown_k=shown["numerator"].cast(pl.Float64).fill_null(0).to_list() if counted else [],
            hidden=[str(v) for v in rows.filter("suppressed")[by].to_list()],
        )
        assert exact_small_values([part]) == [], name
        checked += bool(part.hidden)
    assert checked > 0  # the premise: some tables do hide rows


@pytest.mark.parametrize("name", ["no_show_rate", "late_cancellation_rate", "provider_rating_top_box"])
def test_weekly_series_survives_the_attack(prepared, name):
    # the QI page's weekly series: its weeks add up to the window's figure shown on the KPI tile
    total = metrics.compute(name, prepared).row(0, named=True)
    series = metrics.compute(name, prepared, period="week")
    published = suppress_metric_frame(series, threshold=10)
    assert published["suppressed"].sum() >= metrics.suppress_small_cells(series)["suppressed"].sum()
    shown = published.filter(~pl.col("suppressed"))
    part = Partition(
        n_total=float(total["n"]),
        k_total=float(total["numerator"]),
        shown_n=shown["n"].cast(pl.Float64).to_list(),
        shown_k=shown["numerator"].cast(pl.Float64).to_list(),
        hidden=[str(v) for v in published.filter("suppressed")["period"].to_list()],
    )
    assert exact_small_values([part]) == []


def test_department_by_week_table_with_both_margins_survives_the_attack():
    # a two-way table whose departments add up per week and whose weeks add up per department
    import numpy as np

    rng = np.random.default_rng(11)
    rows = []
    for d in "ABCDE":
        for w in range(8):
            n = int(rng.choice([9, 60, 90, 150, 200, 300, 400]))
            rows.append(
                {
                    "department": d,
                    "period": dt.date(2026, 1, 5) + dt.timedelta(weeks=w),
                    "n": n,
                    "numerator": float(rng.binomial(n, 0.2)),
                }
            )
    table = pl.DataFrame(rows)
    published = suppress_table(table, margins=[("period",), ("department",)])
    assert published["suppressed"].sum() > metrics.suppress_small_cells(table)["suppressed"].sum()
    partitions = []
    for key in ("period", "department"):
        for group in table.partition_by(key, maintain_order=True):
            flags = published.join(
                group.select("department", "period"), on=["department", "period"], how="semi"
            )
            shown = flags.filter(~pl.col("suppressed"))
            partitions.append(
                Partition(
                    n_total=float(group["n"].sum()),
                    k_total=float(group["numerator"].sum()),
                    shown_n=shown["n"].cast(pl.Float64).to_list(),
                    shown_k=shown["numerator"].to_list(),
                    hidden=[
                        f"{r['department']}/{r['period']}"
                        for r in flags.filter("suppressed").iter_rows(named=True)
                    ],
                )
            )
    assert exact_small_values(partitions) == []
    # and primary suppression alone does leak here
    primary = metrics.suppress_small_cells(table)
    leaky = []
    for key in ("period", "department"):
        for group in table.partition_by(key, maintain_order=True):
            flags = primary.join(
                group.select("department", "period"), on=["department", "period"], how="semi"
            )
            shown = flags.filter(~pl.col("suppressed"))
            leaky.append(
                Partition(
                    n_total=float(group["n"].sum()),
                    k_total=float(group["numerator"].sum()),
                    shown_n=shown["n"].cast(pl.Float64).to_list(),
                    shown_k=shown["numerator"].to_list(),
                    hidden=[
                        f"{r['department']}/{r['period']}"
                        for r in flags.filter("suppressed").iter_rows(named=True)
                    ],
                )
            )
    assert exact_small_values(leaky) != []
