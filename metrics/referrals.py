"""Referrals: time to schedule and to visit, 14-day scheduling, loop closure, leakage, backlog, prior auth.

Referrals are dated by their creation; ``department`` is the receiving department (null when sent
out of network) and ``provider`` the referring clinician.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import polars as pl

from carepulse.metrics._context import MetricContext
from carepulse.metrics._registry import metric
from carepulse.metrics._stats import days_between

if TYPE_CHECKING:  # pragma: no cover
    from polars.expr.whenthen import ChainedThen, Then

_CMS50 = (
    "CMS50v12 'Closing the Referral Loop: Receipt of Specialist Report' (eCQM); "
    "https://ecqi.healthit.gov/ecqm/ec/2024/cms0050v12"
)
_NHS_RTT = "NHS England Referral to Treatment (RTT) waiting times statistics"

#: Open-referral age buckets (days since creation at the data's as-of time).
AGE_BUCKETS: tuple[tuple[str, int], ...] = (("0-14", 14), ("15-30", 30), ("31-60", 60), ("61-90", 90))
SCHEDULING_WINDOW_DAYS = 14


def _referrals(ctx: MetricContext) -> pl.LazyFrame:
    return ctx.frame("referrals")


def _in_network(ctx: MetricContext) -> pl.LazyFrame:
    return _referrals(ctx).filter(pl.col("target_department_id").is_not_null())


_REF = dict(family="referrals", frame="referrals", date_basis="referral creation date")


@metric(
    name="referral_days_to_scheduled",
    title="Referral to scheduled",
    short_name="Days referral to booked",
    kind="time",
    unit="days",
    numerator="Days from referral creation to the specialist visit being booked",
    denominator="In-network referrals that were scheduled",
    definition="How long a referral waits before the specialist visit is booked.",
    exclusions="Out-of-network referrals; referrals never scheduled; negative intervals.",
    better="lower",
    standard="Referral-to-appointment interval (access)",
    source=_NHS_RTT,
    spc_chart="i",
    **_REF,
)
def referral_days_to_scheduled(ctx: MetricContext) -> pl.LazyFrame:
    return (
        _in_network(ctx)
        .with_columns(days_between(pl.col("scheduled_at"), pl.col("created_at")).alias("_x"))
        .filter(pl.col("_x") >= 0)
    )


@metric(
    name="referral_days_to_visit",
    title="Referral to visit",
    short_name="Days referral to seen",
    kind="time",
    unit="days",
    numerator="Days from referral creation to the completed specialist visit",
    denominator="In-network referrals with a completed visit",
    definition="Referral-to-treatment style wait: creation to the specialist seeing the patient.",
    exclusions="Out-of-network referrals; referrals not yet seen; negative intervals.",
    better="lower",
    standard="NHS referral-to-treatment (RTT) style wait, completed pathways",
    source=_NHS_RTT,
    spc_chart="i",
    **_REF,
)
def referral_days_to_visit(ctx: MetricContext) -> pl.LazyFrame:
    return (
        _in_network(ctx)
        .with_columns(days_between(pl.col("completed_at"), pl.col("created_at")).alias("_x"))
        .filter(pl.col("_x") >= 0)
    )


@metric(
    name="referral_scheduled_14d_rate",
    title="Referrals scheduled within 14 days",
    short_name="Booked <= 14 d / referrals",
    kind="rate",
    unit="share",
    numerator="Referrals booked within 14 days of creation",
    denominator="In-network referrals whose 14-day window had closed by the data's as-of time",
    definition="Share of referrals turned into a booked specialist visit within two weeks.",
    exclusions="Out-of-network referrals; declined and cancelled referrals; referrals younger than 14 days "
    "at the as-of time (outcome not yet known).",
    better="higher",
    standard="Referral scheduling timeliness (14-day window)",
    source=_NHS_RTT,
    spc_chart="p",
    **_REF,
)
def referral_scheduled_14d_rate(ctx: MetricContext) -> pl.LazyFrame:
    window = pl.duration(days=SCHEDULING_WINDOW_DAYS)
    referrals = _in_network(ctx).filter(~pl.col("status").is_in(["declined", "cancelled"]))
    if ctx.as_of is not None:
        referrals = referrals.filter(pl.col("created_at") + window <= ctx.as_of)
    on_time = (pl.col("scheduled_at") <= pl.col("created_at") + window).fill_null(False)
    return referrals.with_columns(on_time.cast(pl.Int64).alias("_num"), pl.lit(1, pl.Int64).alias("_den"))


@metric(
    name="referral_loop_closure_rate",
    title="Referral loop closure",
    short_name="Report received / referrals seen (CMS50)",
    kind="rate",
    unit="share",
    numerator="Patients whose first referral of the year came back: the consultant report reached the "
    "referring clinician (received at or after the referral)",
    denominator="Patients referred to another clinician: each patient's first referral in the calendar year "
    "(the eCQM's measurement period), whether or not the specialist visit has happened, in or out of network",
    definition="Share of referred patients whose referring clinician received the specialist's report, "
    "counted per patient on the first referral of the year as the CMS50 eCQM counts it.",
    exclusions="A patient's later referrals in the same calendar year (the eCQM uses the first); reports "
    "dated before the referral. Referrals late in the year may not have closed yet (the eCQM's own caveat).",
    better="higher",
    standard="CMS50 Closing the Referral Loop: Receipt of Specialist Report",
    source=_CMS50,
    spc_chart="p",
    **_REF,
)
def referral_loop_closure_rate(ctx: MetricContext) -> pl.LazyFrame:
    # CMS50: "Number of patients, regardless of age, who were referred by one provider to another
    # provider"; "If there are multiple referrals for a patient during the measurement period, use the
    # first referral"; the report "should be completed after the referral". Not limited to referrals
    # whose specialist visit took place (that was CarePulse's earlier, narrower denominator).
    year = pl.col("created_at").dt.year()
    first = (
        _referrals(ctx)
        .sort("created_at", "referral_id")
        .filter(pl.int_range(pl.len()).over("patient_id", year) == 0)
    )
    closed = pl.col("report_received_at").is_not_null() & (
        pl.col("report_received_at") >= pl.col("created_at")
    )
    return first.with_columns(closed.cast(pl.Int64).alias("_num"), pl.lit(1, pl.Int64).alias("_den"))


@metric(
    name="referral_leakage_rate",
    title="Out-of-network leakage",
    short_name="Out-of-network / referrals",
    kind="rate",
    unit="share",
    numerator="Referrals sent out of network (no receiving department)",
    denominator="All referrals",
    definition="Share of referrals that leave the health system.",
    exclusions="None.",
    better="lower",
    standard="Referral leakage (network integrity)",
    source="Common health-system network-integrity measure",
    spc_chart="p",
    **_REF,
)
def referral_leakage_rate(ctx: MetricContext) -> pl.LazyFrame:
    return _referrals(ctx).with_columns(
        pl.col("target_department_id").is_null().cast(pl.Int64).alias("_num"),
        pl.lit(1, pl.Int64).alias("_den"),
    )


def _age_bucket(days: pl.Expr) -> pl.Expr:
    expr: Then | ChainedThen = pl.when(days.is_null()).then(pl.lit(None, pl.String))
    for label, upper in AGE_BUCKETS:
        expr = expr.when(days <= upper).then(pl.lit(label))
    return expr.otherwise(pl.lit(f"{AGE_BUCKETS[-1][1] + 1}+"))


@metric(
    name="open_referrals",
    title="Open referrals by age",
    short_name="Open referrals",
    kind="count",
    unit="referrals",
    numerator="Referrals with status open",
    denominator="(none: a count; share of all open referrals in the group)",
    definition="The referral backlog by days open at the data's as-of time (0-14, 15-30, 31-60, 61-90, 91+).",
    exclusions="Referrals scheduled, completed, cancelled or declined.",
    better="lower",
    standard="Referral backlog ageing",
    source=_NHS_RTT,
    spc_chart="run",
    category="age_bucket",
    **_REF,
)
def open_referrals(ctx: MetricContext) -> pl.LazyFrame:
    referrals = _referrals(ctx).filter(pl.col("status") == "open")
    if ctx.as_of is None:
        age = pl.lit(None, pl.Float64)
    else:
        age = (pl.lit(ctx.as_of) - pl.col("created_at")).dt.total_days()
    return referrals.with_columns(_age_bucket(age).alias("age_bucket"))


@metric(
    name="prior_auth_turnaround_days",
    title="Prior-authorization turnaround",
    short_name="Days referral to auth decision",
    kind="time",
    unit="days",
    numerator="Days from referral creation to the payer's prior-authorization decision",
    denominator="Referrals needing prior authorization with a decision",
    definition="How long prior authorization holds up a referral.",
    exclusions="Referrals not needing authorization; pending decisions; negative intervals.",
    better="lower",
    standard="Prior-authorization turnaround (CMS Interoperability and Prior Authorization rule reporting)",
    source="CMS-0057-F Interoperability and Prior Authorization Final Rule (2024)",
    spc_chart="i",
    **_REF,
)
def prior_auth_turnaround_days(ctx: MetricContext) -> pl.LazyFrame:
    return (
        _referrals(ctx)
        .filter(pl.col("prior_auth_required"))
        .with_columns(days_between(pl.col("prior_auth_decided_at"), pl.col("created_at")).alias("_x"))
        .filter(pl.col("_x") >= 0)
    )
