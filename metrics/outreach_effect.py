"""Did contacted patients show up more than similar uncontacted ones? Pure Polars, no I/O.

Compares the observed no-show rate of scored appointments whose patient was *reached* before the
visit with that of scored appointments nobody worked, within strata of predicted risk (the band the
model gave, or risk deciles), so a list that calls mostly high-risk patients is not penalised for it.

Method: per stratum, the difference of the two no-show proportions (contacted minus uncontacted)
with an Agresti-Caffo 95% interval (add one no-show and one show to each group; Agresti & Caffo,
Am Stat 2000), which behaves with small and zero counts. Overall: the Mantel-Haenszel weighted risk
difference, weights n1*n0/(n1+n0), with the Greenland-Robins (Biometrics 1985) variance and a Wald
95% interval; the crude (unstratified) difference is reported beside it.

What it is not: a randomised comparison. Coordinators choose whom to call and whom they reach;
patients who answer the phone differ from those who do not (in ways the risk score does not
capture), so the difference is an association, biased in unknown direction. Stratifying by
predicted risk removes only the confounding that the score itself measures.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import polars as pl

from carepulse.metrics._context import MetricError

#: Outcomes that mean the patient (or a carer) was actually reached before the visit.
REACHED_OUTCOMES: tuple[str, ...] = (
    "reached",
    "confirmed",
    "rescheduled",
    "transport_arranged",
    "telehealth_offered",
)
#: Outcomes that record an attempt only; such appointments belong to neither group.
ATTEMPT_OUTCOMES: tuple[str, ...] = ("left_message", "no_answer")
#: Appointment statuses whose attendance is known (the denominator).
ATTENDANCE_KNOWN: tuple[str, ...] = ("completed", "no_show", "left_without_being_seen")

Z95 = 1.959963984540054

CAVEAT = (
    "This is an observational comparison, not a trial: coordinators choose whom to call, and patients who "
    "can be reached differ from those who cannot. Comparing within the same predicted-risk stratum removes "
    "only the differences the risk score measures, so read the difference as an association, not as the "
    "effect of calling."
)

STRATUM_SCHEMA = {
    "stratum": pl.String,
    "contacted_n": pl.Int64,
    "contacted_no_shows": pl.Int64,
    "contacted_rate": pl.Float64,
    "uncontacted_n": pl.Int64,
    "uncontacted_no_shows": pl.Int64,
    "uncontacted_rate": pl.Float64,
    "difference": pl.Float64,
    "ci_low": pl.Float64,
    "ci_high": pl.Float64,
}


@dataclass(frozen=True)
class OutreachEffect:
    """The comparison: one row per stratum, plus the pooled and crude rows and what was left out."""

    strata: pl.DataFrame  # STRATUM_SCHEMA, one row per stratum with both groups present or not
    overall: pl.DataFrame  # STRATUM_SCHEMA rows "adjusted (Mantel-Haenszel)" and "crude"
    excluded: dict[str, int] = field(default_factory=dict)  # reason -> appointments left out
    stratified_by: str = "risk_band"

    @property
    def empty(self) -> bool:
        return self.strata.is_empty()

    def table(self) -> pl.DataFrame:
        """Strata then the overall rows, for display and export."""
        return pl.concat([self.strata, self.overall], how="vertical")


def _scored(risk_scores: pl.DataFrame | pl.LazyFrame) -> pl.LazyFrame:
    """The score each appointment was worked (or would have been worked) on: the current row if
    any, otherwise the latest run's."""
    lazy = risk_scores.lazy()
    names = lazy.collect_schema().names()
    missing = [c for c in ("score_run_id", "appointment_id", "risk", "risk_band") if c not in names]
    if missing:
        raise MetricError(f"outreach effect: frame 'risk_scores' lacks column(s) {', '.join(missing)}")
    current = pl.col("is_current").cast(pl.Int8) if "is_current" in names else pl.lit(0, pl.Int8)
    return (
        lazy.with_columns(current.alias("_current"))
        .sort("_current", "score_run_id")
        .group_by("appointment_id")
        .agg(pl.col("risk").last(), pl.col("risk_band").last())
    )


def _groups(outcomes: pl.DataFrame | pl.LazyFrame, appointments: pl.LazyFrame) -> pl.LazyFrame:
    """Per appointment: ``reached`` (any reached outcome recorded by the visit's start) and
    ``attempted`` (only attempts). Outcomes recorded after the visit started do not count."""
    lazy = outcomes.lazy()
    names = lazy.collect_schema().names()
    missing = [c for c in ("appointment_id", "outcome", "recorded_at") if c not in names]
    if missing:
        raise MetricError(f"outreach effect: frame 'outreach_outcomes' lacks column(s) {', '.join(missing)}")
    return (
        lazy.join(appointments.select("appointment_id", "scheduled_start"), on="appointment_id", how="inner")
        .filter(pl.col("recorded_at") <= pl.col("scheduled_start"))
        .group_by("appointment_id")
        .agg(
            pl.col("outcome").is_in(list(REACHED_OUTCOMES)).any().alias("reached"),
            pl.col("outcome").is_in(list(ATTEMPT_OUTCOMES)).any().alias("attempted"),
        )
    )


def _ac_interval(x1: int, n1: int, x0: int, n0: int) -> tuple[float, float]:
    """Agresti-Caffo 95% interval of p1 - p0."""
    p1, p0 = (x1 + 1) / (n1 + 2), (x0 + 1) / (n0 + 2)
    diff = p1 - p0
    se = math.sqrt(p1 * (1 - p1) / (n1 + 2) + p0 * (1 - p0) / (n0 + 2))
    return max(-1.0, diff - Z95 * se), min(1.0, diff + Z95 * se)


def _row(
    stratum: str, x1: int, n1: int, x0: int, n0: int, interval: tuple[float, float] | None = None
) -> dict[str, Any]:
    r1 = x1 / n1 if n1 else None
    r0 = x0 / n0 if n0 else None
    diff = r1 - r0 if r1 is not None and r0 is not None else None
    low, high = (None, None)
    if diff is not None:
        low, high = interval if interval is not None else _ac_interval(x1, n1, x0, n0)
    return {
        "stratum": stratum,
        "contacted_n": n1,
        "contacted_no_shows": x1,
        "contacted_rate": r1,
        "uncontacted_n": n0,
        "uncontacted_no_shows": x0,
        "uncontacted_rate": r0,
        "difference": diff,
        "ci_low": low,
        "ci_high": high,
    }


def mantel_haenszel_difference(strata: list[tuple[int, int, int, int]]) -> tuple[float, float, float] | None:
    """Mantel-Haenszel risk difference of (x1, n1, x0, n0) strata with its Greenland-Robins 95% interval.

    Strata missing either group carry no weight. Returns (difference, low, high), or None when no
    stratum has both groups.
    """
    num = den = var_num = 0.0
    for x1, n1, x0, n0 in strata:
        if n1 == 0 or n0 == 0:
            continue
        total = n1 + n0
        num += (x1 * n0 - x0 * n1) / total
        den += n1 * n0 / total
        var_num += (x1 * (n1 - x1) * n0**3 + x0 * (n0 - x0) * n1**3) / (n1 * n0 * total**2)
    if den == 0:
        return None
    diff = num / den
    se = math.sqrt(var_num) / den
    return diff, max(-1.0, diff - Z95 * se), min(1.0, diff + Z95 * se)


def outreach_effect(
    risk_scores: pl.DataFrame | pl.LazyFrame,
    appointments: pl.DataFrame | pl.LazyFrame,
    outcomes: pl.DataFrame | pl.LazyFrame,
    *,
    stratify_by: str = "risk_band",
    departments: list[str] | tuple[str, ...] | None = None,
) -> OutreachEffect:
    """Observed no-show among reached vs never-worked scored appointments, stratified by risk.

    Parameters
    ----------
    risk_scores : every scored row (history included: the visits compared have happened).
    appointments : appointment_id, department_id, scheduled_start, status.
    outcomes : outreach_outcomes rows (appointment_id, outcome, recorded_at).
    stratify_by : ``"risk_band"`` (the model's bands) or ``"risk_decile"`` (deciles of predicted risk
        among the compared appointments).
    departments : restrict to these departments (None: all).

    Returns
    -------
    OutreachEffect with proportions (0-1) and differences in no-show rate, contacted minus
    uncontacted (negative: contacted patients missed fewer visits).
    """
    if stratify_by not in ("risk_band", "risk_decile"):
        raise MetricError(
            f"outreach effect: stratify_by must be 'risk_band' or 'risk_decile', not {stratify_by!r}"
        )
    appts = appointments.lazy()
    names = appts.collect_schema().names()
    missing = [c for c in ("appointment_id", "department_id", "scheduled_start", "status") if c not in names]
    if missing:
        raise MetricError(f"outreach effect: frame 'appointments' lacks column(s) {', '.join(missing)}")
    if departments is not None:
        appts = appts.filter(pl.col("department_id").is_in(list(departments)))
    base = (
        _scored(risk_scores)
        .join(appts.select("appointment_id", "scheduled_start", "status"), on="appointment_id", how="inner")
        .join(_groups(outcomes, appts), on="appointment_id", how="left")
        .with_columns(pl.col("reached").fill_null(False), pl.col("attempted").fill_null(False))
        .collect()
    )
    known = base.filter(pl.col("status").is_in(list(ATTENDANCE_KNOWN)))
    excluded = {
        "not yet happened": int((base.get_column("status") == "scheduled").sum()),
        "cancelled (attendance unknown)": int((base.get_column("status") == "cancelled").sum()),
        "attempted but not reached": int(
            (known.get_column("attempted") & ~known.get_column("reached")).sum()
        ),
    }
    compared = known.filter(pl.col("reached") | ~pl.col("attempted")).with_columns(
        (pl.col("status") == "no_show").alias("no_show")
    )
    if stratify_by == "risk_decile" and not compared.is_empty():
        decile = ((pl.col("risk").rank("ordinal") - 1) * 10 // compared.height + 1).cast(pl.Int64)
        compared = compared.with_columns(
            pl.format("decile {}", decile.cast(pl.String).str.zfill(2)).alias("stratum")
        )
    else:
        compared = compared.with_columns(pl.col("risk_band").alias("stratum"))
    counts = (
        compared.group_by("stratum")
        .agg(
            pl.col("reached").sum().cast(pl.Int64).alias("n1"),
            (pl.col("reached") & pl.col("no_show")).sum().cast(pl.Int64).alias("x1"),
            (~pl.col("reached")).sum().cast(pl.Int64).alias("n0"),
            (~pl.col("reached") & pl.col("no_show")).sum().cast(pl.Int64).alias("x0"),
        )
        .sort("stratum")
    )
    order = {"high": 0, "medium": 1, "low": 2}
    records = sorted(counts.iter_rows(named=True), key=lambda r: (order.get(r["stratum"], 9), r["stratum"]))
    strata = pl.DataFrame(
        [_row(r["stratum"], r["x1"], r["n1"], r["x0"], r["n0"]) for r in records], schema=STRATUM_SCHEMA
    )
    overall_rows = []
    pooled = mantel_haenszel_difference([(r["x1"], r["n1"], r["x0"], r["n0"]) for r in records])
    x1 = sum(r["x1"] for r in records)
    n1 = sum(r["n1"] for r in records)
    x0 = sum(r["x0"] for r in records)
    n0 = sum(r["n0"] for r in records)
    if pooled is not None:
        adjusted = _row("adjusted (Mantel-Haenszel)", x1, n1, x0, n0, interval=pooled[1:])
        adjusted["difference"] = pooled[0]
        overall_rows.append(adjusted)
    if records:
        overall_rows.append(_row("crude (not stratified)", x1, n1, x0, n0))
    overall = pl.DataFrame(overall_rows, schema=STRATUM_SCHEMA)
    return OutreachEffect(strata=strata, overall=overall, excluded=excluded, stratified_by=stratify_by)


__all__ = [
    "ATTEMPT_OUTCOMES",
    "CAVEAT",
    "REACHED_OUTCOMES",
    "OutreachEffect",
    "mantel_haenszel_difference",
    "outreach_effect",
]
