"""Building blocks of the catalogue: row rules, batch rules and their Great Expectations twins.

Each builder takes the column(s) a check is about and returns the function the runner calls with the
batch: a row rule gives a boolean expression (True = unexpected row), a batch rule a
:class:`BatchMeasure`, a GX spec the expectation type and its kwargs.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import cast

import polars as pl

from carepulse.expectations._check import BatchMeasure, BatchRule, Check, GxSpec, RowRule
from carepulse.expectations._context import BatchContext

#: Statuses of an appointment whose visit has happened (or was missed): volume checks count them.
RESOLVED_STATUSES = ("completed", "no_show", "left_without_being_seen")

# --- Rule builders ------------------------------------------------------------------------------


def not_null(column: str) -> RowRule:
    return lambda ctx, check: pl.col(column).is_null()


def not_in(column: str, allowed: tuple[str, ...]) -> RowRule:
    return lambda ctx, check: (
        pl.col(column).is_not_null() & ~pl.col(column).is_in(pl.Series(allowed).implode())
    )


def outside(column: str, low: float | None, high: float | None) -> RowRule:
    def rule(ctx, check):
        col = pl.col(column)
        bad = pl.lit(False)
        if low is not None:
            bad = bad | (col < low)
        if high is not None:
            bad = bad | (col > high)
        return bad

    return rule


def duplicated(column: str) -> RowRule:
    return lambda ctx, check: pl.col(column).is_not_null() & pl.col(column).is_duplicated()


def unknown_reference(column: str, target: tuple[str, str]) -> RowRule:
    """Membership by 64-bit hash: building a hash set of a million id strings costs ~4x more than
    of their u64 hashes (bench/validate.py). A value whose hash is absent is certainly unknown; an
    unknown value could pass only if its hash collides with a known one's (probability about
    n_known / 2**64, 5e-14 per value for a million keys)."""

    def rule(ctx, check):
        known = ctx.known_key_hashes(*target)
        return pl.col(column).is_not_null() & ~pl.col(column).hash().is_in(known.implode())

    return rule


def before(later: str, earlier: str) -> RowRule:
    """``later`` is strictly before ``earlier`` (both present)."""
    return lambda ctx, check: pl.col(later) < pl.col(earlier)


def pattern_mismatch(column: str, regex: str) -> RowRule:
    return lambda ctx, check: pl.col(column).is_not_null() & ~pl.col(column).str.contains(regex)


# --- GX spec builders -----------------------------------------------------------------------


def gx(type_: str, **kwargs) -> GxSpec:
    return lambda ctx, check: (type_, kwargs)


def gx_pair(later: str, earlier: str) -> GxSpec:
    return gx(
        "expect_column_pair_values_a_to_be_greater_than_b",
        column_A=later,
        column_B=earlier,
        or_equal=True,
        ignore_row_if="either_value_is_missing",
    )


def gx_known(column: str, target: tuple[str, str]) -> GxSpec:
    return gx(
        "expect_column_values_to_be_in_set", column=column, value_set={"$PARAMETER": f"known_{target[0]}"}
    )


def gx_mostly(type_: str, **kwargs) -> GxSpec:
    """A batch check as GX sees it: at least ``1 - threshold`` of values must pass."""
    return lambda ctx, check: (
        type_,
        {**kwargs, "mostly": 1 - (ctx.thresholds.get(check.name, check.threshold) or 0)},
    )


def key_reused(key: str, identity: str) -> RowRule:
    return lambda ctx, check: pl.col(key).is_in(ctx.reused_keys(check.extract, key, identity).implode())


#: Columns that identify what a key stands for: a later file may update a row, but an appointment
#: that moves to another patient is a reused key (a duplicate across files), not an update.
KEY_IDENTITY: dict[str, str] = {
    "appointments": "patient_id",
    "referrals": "patient_id",
    "claims": "appointment_id",
    "surveys": "appointment_id",
    "encounters": "patient_id",
}


# --- Batch rules ----------------------------------------------------------------------------


def null_rate(column: str) -> BatchRule:
    def rule(ctx, check):
        frame = ctx.frames[check.extract]
        missing = frame[column].null_count()
        return BatchMeasure(frame.height, missing, f"{missing} of {frame.height} rows without {column}")

    return rule


def format_check(extract: str, column: str, regex: str, what: str, threshold: float = 0.05) -> Check:
    """A batch conformance check that at most ``threshold`` of ``column``'s values miss ``regex``: one
    pattern for both executors (Polars and GX), so they cannot drift apart."""
    return Check(
        f"{extract}.{column}.format",
        extract,
        column,
        "conformance",
        "value",
        "batch",
        f"{{extract}}.{{column}} is not {what} in more than {{threshold_pct}} of rows",
        pattern_rate(column, regex),
        threshold=threshold,
        gx=gx_mostly("expect_column_values_to_match_regex", column=column, regex=regex),
    )


def pattern_rate(column: str, regex: str) -> BatchRule:
    def rule(ctx, check):
        frame = ctx.frames[check.extract]
        values = frame[column].drop_nulls()
        bad = values.filter(~values.str.contains(regex))
        examples = (
            () if check.is_phi else tuple(bad.unique(maintain_order=True).head(5).cast(pl.String).to_list())
        )
        return BatchMeasure(
            values.len(), bad.len(), f"{bad.len()} of {values.len()} values malformed", examples
        )

    return rule


def status_rate(column: str, numerator: tuple[str, ...], denominator: tuple[str, ...]) -> BatchRule:
    def rule(ctx, check):
        status = ctx.frames[check.extract][column]
        denom = int(status.is_in(pl.Series(denominator).implode()).sum())
        num = int(status.is_in(pl.Series(numerator).implode()).sum())
        rate = num / denom if denom else 0.0
        return BatchMeasure(denom, num, f"rate {rate:.1%} ({num}/{denom})")

    return rule


def volume_drop(ctx: BatchContext, check: Check) -> BatchMeasure:
    """Per department, the batch's daily appointment volume against the warehouse's usual volume.

    The window is the last ``volume_window_days`` days up to the latest day on which the batch has
    a visit that happened (completed, no-show, left without being seen): later days are still
    filling up. Daily volume = appointments of any status in the window / days in the window with
    any appointment at all. With no history in the warehouse the check passes (nothing to compare).
    """
    appointments = ctx.frames[check.extract]
    history = ctx.volume_history
    if history.is_empty():
        return BatchMeasure(0, 0, "no earlier loads to compare with")
    batch = appointments.select("department_id", "status", pl.col("scheduled_start").dt.date().alias("day"))
    happened = batch.filter(
        pl.col("status").is_in(pl.Series(RESOLVED_STATUSES).implode()) & (pl.col("day") <= ctx.today)
    )
    if happened.is_empty():
        return BatchMeasure(0, 0, "no visits that happened in the batch")
    end = min(cast(date, happened["day"].max()), cast(date, history["day"].max()))
    start = end - timedelta(days=ctx.volume_window_days - 1)

    def daily(frame: pl.DataFrame) -> pl.DataFrame:
        window = frame.filter(pl.col("day").is_between(start, end))
        days = max(window["day"].n_unique(), 1)
        return window.group_by("department_id").agg((pl.len() / days).alias("per_day"))

    usual = daily(history).rename({"per_day": "usual"})
    now = daily(batch)
    compared = usual.join(now, on="department_id", how="left").with_columns(pl.col("per_day").fill_null(0.0))
    ratio = check.params["min_ratio"]
    dropped = compared.filter(pl.col("per_day") < ratio * pl.col("usual")).sort("department_id")
    examples = tuple(
        f"{r['department_id']}: {r['per_day']:.1f}/day vs usual {r['usual']:.1f}/day"
        for r in dropped.head(5).iter_rows(named=True)
    )
    return BatchMeasure(
        compared.height,
        dropped.height,
        f"{dropped.height} of {compared.height} departments below {ratio:.0%} of usual daily volume "
        f"({start} to {end})",
        examples,
    )
