"""Revenue cycle: denials, clean claims, appeals and write-offs (HFMA Claim Integrity definitions).

Initial (first-submission) claims are the basis: resubmissions are not counted again. Claims are
dated by submission; ``payer_class`` is the claim's, the other dimensions the visit's.
"""

from __future__ import annotations

import polars as pl

from carepulse.metrics._context import MetricContext
from carepulse.metrics._registry import metric
from carepulse.metrics._stats import days_between

_HFMA = (
    "HFMA Claim Integrity Task Force, 'Standardizing denial metrics for revenue cycle benchmarking and "
    "process improvement' (2021)"
)
ADJUDICATED = ("paid", "partially_paid", "denied")


def initial_claims(ctx: MetricContext) -> pl.LazyFrame:
    """First submissions."""
    return ctx.frame("claims").filter(~pl.col("is_resubmission"))


#: A claim was initially denied when its first adjudication denied it. ``status`` is the latest
#: state (an overturned appeal reads ``paid``), so the denial's reason code is what marks it.
WAS_DENIED = (
    pl.col("carc_code").is_not_null()
    | pl.col("denial_category").is_not_null()
    | (pl.col("status") == "denied")
)


def initial_denials(ctx: MetricContext) -> pl.LazyFrame:
    return initial_claims(ctx).filter(WAS_DENIED)


def _flag(expr: pl.Expr, frame: pl.LazyFrame) -> pl.LazyFrame:
    return frame.with_columns(
        expr.fill_null(False).cast(pl.Int64).alias("_num"), pl.lit(1, pl.Int64).alias("_den")
    )


_REV = dict(family="revenue", frame="claims", date_basis="claim submission date", source=_HFMA)


@metric(
    name="initial_denial_rate",
    title="Initial denial rate",
    short_name="Denied / adjudicated claims",
    kind="rate",
    unit="share",
    numerator="Initial claims denied",
    denominator="Initial claims adjudicated (paid, partially paid or denied)",
    definition="Share of first submissions the payer denied.",
    exclusions="Resubmissions; claims pending adjudication.",
    better="lower",
    standard="HFMA initial denial rate, by count",
    spc_chart="p",
    **_REV,
)
def initial_denial_rate(ctx: MetricContext) -> pl.LazyFrame:
    return _flag(WAS_DENIED, initial_claims(ctx).filter(pl.col("status").is_in(ADJUDICATED)))


@metric(
    name="initial_denial_rate_dollars",
    title="Initial denial rate (dollars)",
    short_name="Denied $ / adjudicated $",
    kind="rate",
    unit="share of dollars",
    weighted=True,
    numerator="Billed dollars of initial claims denied",
    denominator="Billed dollars of initial claims adjudicated",
    definition="Share of billed dollars on first submissions that the payer denied.",
    exclusions="Resubmissions; claims pending adjudication.",
    better="lower",
    standard="HFMA initial denial rate, by dollars",
    spc_chart="i",
    **_REV,
)
def initial_denial_rate_dollars(ctx: MetricContext) -> pl.LazyFrame:
    denied = WAS_DENIED
    return (
        initial_claims(ctx)
        .filter(pl.col("status").is_in(ADJUDICATED))
        .with_columns(
            pl.when(denied).then(pl.col("billed_amount")).otherwise(0.0).alias("_num"),
            pl.col("billed_amount").alias("_den"),
            denied.cast(pl.Int64).alias("_num_n"),
        )
    )


@metric(
    name="clean_claim_rate",
    title="Clean-claim (first-pass paid) rate",
    short_name="Paid in full first pass / adjudicated",
    kind="rate",
    unit="share",
    numerator="Initial claims paid in full on first adjudication",
    denominator="Initial claims adjudicated",
    definition="Share of first submissions paid without denial or partial denial.",
    exclusions="Resubmissions; claims pending adjudication.",
    better="higher",
    standard="HFMA MAP clean claim / first-pass resolution rate",
    spc_chart="p",
    **_REV,
)
def clean_claim_rate(ctx: MetricContext) -> pl.LazyFrame:
    return _flag(
        (pl.col("status") == "paid") & ~WAS_DENIED,
        initial_claims(ctx).filter(pl.col("status").is_in(ADJUDICATED)),
    )


def _pareto(name: str, title: str, column: str, what: str) -> None:
    def units(ctx: MetricContext) -> pl.LazyFrame:
        return initial_denials(ctx)

    units.__name__ = name
    metric(
        name=name,
        title=title,
        short_name=title,
        kind="count",
        unit="denials",
        numerator=f"Initial claims denied, by {what}",
        denominator="(none: a count; share of the group's denials, largest first)",
        definition=f"Where denials come from: denials by {what}, in Pareto order.",
        exclusions="Resubmissions; claims not denied.",
        better="lower",
        standard="HFMA denial categories; X12 CARC codes",
        spc_chart="run",
        category=column,
        **_REV,
    )(units)


_pareto("denials_by_payer", "Denials by payer", "payer_name", "payer")
_pareto("denials_by_category", "Denials by category", "denial_category", "denial category (CARC group)")
_pareto("denials_by_carc", "Denials by CARC code", "carc_code", "claim adjustment reason code")


@metric(
    name="appeal_rate",
    title="Appeal rate",
    short_name="Appealed / denied",
    kind="rate",
    unit="share",
    numerator="Initial denials appealed",
    denominator="Initial denials",
    definition="Share of denied claims the practice appealed.",
    exclusions="Resubmissions; claims not denied.",
    better="higher",
    standard="HFMA denial appeal rate",
    spc_chart="p",
    **_REV,
)
def appeal_rate(ctx: MetricContext) -> pl.LazyFrame:
    return _flag(pl.col("appeal_filed_at").is_not_null(), initial_denials(ctx))


@metric(
    name="overturn_rate",
    title="Denial overturn rate",
    short_name="Overturned / decided appeals",
    kind="rate",
    unit="share",
    numerator="Appeals overturned",
    denominator="Appeals decided (overturned or upheld)",
    definition="Share of decided appeals that the payer overturned.",
    exclusions="Resubmissions; appeals pending; denials never appealed.",
    better="higher",
    standard="HFMA denial overturn rate",
    spc_chart="p",
    **_REV,
)
def overturn_rate(ctx: MetricContext) -> pl.LazyFrame:
    decided = initial_denials(ctx).filter(pl.col("appeal_outcome").is_in(["overturned", "upheld"]))
    return _flag(pl.col("appeal_outcome") == "overturned", decided)


@metric(
    name="denial_resolution_days",
    title="Days from denial to resolution",
    short_name="Days denied to resolved",
    kind="time",
    unit="days",
    numerator="Days from adjudication (the denial) to resolution",
    denominator="Initial denials resolved",
    definition="How long a denial stays open.",
    exclusions="Resubmissions; unresolved denials; negative intervals.",
    better="lower",
    standard="HFMA days to resolution",
    spc_chart="i",
    **_REV,
)
def denial_resolution_days(ctx: MetricContext) -> pl.LazyFrame:
    return (
        initial_denials(ctx)
        .with_columns(days_between(pl.col("resolved_at"), pl.col("adjudicated_at")).alias("_x"))
        .filter(pl.col("_x") >= 0)
    )


@metric(
    name="denial_write_off_rate",
    title="Denial write-offs as a share of billed",
    short_name="Denial write-off $ / billed $",
    kind="rate",
    unit="share of dollars",
    weighted=True,
    numerator="Dollars written off on initial claims that were denied",
    denominator="Billed dollars of all initial claims",
    definition="Revenue lost to denials, relative to what was billed (HFMA uses net patient service revenue; "
    "the extracts carry billed charges).",
    exclusions="Resubmissions.",
    better="lower",
    standard="HFMA denial write-offs as a percentage of net patient service revenue (billed basis here)",
    spc_chart="i",
    **_REV,
)
def denial_write_off_rate(ctx: MetricContext) -> pl.LazyFrame:
    denied = WAS_DENIED
    written_off = pl.when(denied).then(pl.col("written_off_amount").fill_null(0.0)).otherwise(0.0)
    return initial_claims(ctx).with_columns(
        written_off.alias("_num"),
        pl.col("billed_amount").alias("_den"),
        (denied & (pl.col("written_off_amount").fill_null(0.0) > 0)).cast(pl.Int64).alias("_num_n"),
    )


@metric(
    name="denials_insurance_unverified_rate",
    source_columns=("insurance_verified",),
    title="Denials with insurance not verified",
    short_name="Unverified / denied",
    kind="rate",
    unit="share",
    numerator="Initial denials whose visit's insurance was not verified beforehand",
    denominator="Initial denials",
    definition="Share of denials that front-end eligibility verification might have prevented.",
    exclusions="Resubmissions; claims not denied; denials whose visit is unknown.",
    better="lower",
    standard="HFMA front-end (registration/eligibility) denial prevention",
    spc_chart="p",
    **_REV,
)
def denials_insurance_unverified_rate(ctx: MetricContext) -> pl.LazyFrame:
    return (
        initial_denials(ctx)
        .filter(pl.col("insurance_verified").is_not_null())
        .with_columns(
            (~pl.col("insurance_verified")).cast(pl.Int64).alias("_num"), pl.lit(1, pl.Int64).alias("_den")
        )
    )
