"""The check catalogue, as data (OHDSI Data Quality Dashboard style).

One :class:`Check` per row of the catalogue: name, extract, column, Kahn category and subcategory,
severity, threshold and a templated description. Each check also carries

- ``rule``: how to compute it in Polars. A *row* rule returns a boolean expression over the extract's
  frame (True = the row is unexpected: it is quarantined); a *batch* rule returns a
  :class:`BatchMeasure` (elements looked at, unexpected elements, observed value), and the check fails
  when the unexpected fraction exceeds the threshold (the load is refused);
- ``gx``: the same check as a Great Expectations expectation (type, kwargs), from which the
  per-extract GX suites are built. ``None`` where GX has no equivalent (computed in Polars only).

Most checks are generated from :mod:`pipelines.contract` (required fields, allowed values, ranges,
keys, foreign keys); the rest are written out below.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import polars as pl

from expectations._context import BatchContext, years_before
from pipelines.contract import APPOINTMENT_STATUSES, EXTRACTS, LOAD_ORDER

KAHN_CATEGORIES = ("conformance", "completeness", "plausibility")
SEVERITIES = ("row", "batch")


@dataclass(frozen=True)
class BatchMeasure:
    """What a batch rule measured: ``unexpected_count`` of ``element_count`` elements."""

    element_count: int
    unexpected_count: int
    observed_value: str
    examples: tuple[str, ...] = ()


RowRule = Callable[[BatchContext, "Check"], pl.Expr]
BatchRule = Callable[[BatchContext, "Check"], BatchMeasure]
GxSpec = Callable[[BatchContext, "Check"], tuple[str, dict[str, Any]]]


@dataclass(frozen=True)
class Check:
    """One data-quality check (one row of the catalogue)."""

    name: str
    extract: str
    column: str | None
    kahn_category: str
    kahn_subcategory: str
    severity: str
    description: str  # template: {extract} {column} {threshold_pct} and any key of ``params``
    rule: RowRule | BatchRule
    threshold: float | None = None  # batch checks: the largest unexpected fraction that passes
    params: Mapping[str, Any] = field(default_factory=dict)
    gx: GxSpec | None = None

    @property
    def is_phi(self) -> bool:
        """True when the checked column holds PHI: results then carry counts, never values."""
        return bool(self.column) and self.column in EXTRACTS[self.extract].phi_columns

    def describe(self, threshold: float | None = None) -> str:
        threshold = self.threshold if threshold is None else threshold
        pct = "" if threshold is None else f"{threshold * 100:g}%"
        return self.description.format(
            extract=self.extract, column=self.column, threshold_pct=pct, **self.params
        )


# --- Rule builders ------------------------------------------------------------------------------


def _not_null(column: str) -> RowRule:
    return lambda ctx, check: pl.col(column).is_null()


def _not_in(column: str, allowed: tuple[str, ...]) -> RowRule:
    return lambda ctx, check: (
        pl.col(column).is_not_null() & ~pl.col(column).is_in(pl.Series(allowed).implode())
    )


def _outside(column: str, low: float | None, high: float | None) -> RowRule:
    def rule(ctx, check):
        col = pl.col(column)
        bad = pl.lit(False)
        if low is not None:
            bad = bad | (col < low)
        if high is not None:
            bad = bad | (col > high)
        return bad

    return rule


def _duplicated(column: str) -> RowRule:
    return lambda ctx, check: pl.col(column).is_not_null() & pl.col(column).is_duplicated()


def _unknown_reference(column: str, target: tuple[str, str]) -> RowRule:
    """Membership by 64-bit hash: building a hash set of a million id strings costs ~4x more than
    of their u64 hashes (bench/validate.py). A value whose hash is absent is certainly unknown; an
    unknown value could pass only if its hash collides with a known one's (probability about
    n_known / 2**64, 5e-14 per value for a million keys)."""

    def rule(ctx, check):
        known = ctx.known_key_hashes(*target)
        return pl.col(column).is_not_null() & ~pl.col(column).hash().is_in(known.implode())

    return rule


def _before(later: str, earlier: str) -> RowRule:
    """``later`` is strictly before ``earlier`` (both present)."""
    return lambda ctx, check: pl.col(later) < pl.col(earlier)


def _pattern_mismatch(column: str, regex: str) -> RowRule:
    return lambda ctx, check: pl.col(column).is_not_null() & ~pl.col(column).str.contains(regex)


# --- GX spec builders -----------------------------------------------------------------------


def _gx(type_: str, **kwargs) -> GxSpec:
    return lambda ctx, check: (type_, kwargs)


def _gx_pair(later: str, earlier: str) -> GxSpec:
    return _gx(
        "expect_column_pair_values_a_to_be_greater_than_b",
        column_A=later,
        column_B=earlier,
        or_equal=True,
        ignore_row_if="either_value_is_missing",
    )


def _gx_known(column: str, target: tuple[str, str]) -> GxSpec:
    return _gx(
        "expect_column_values_to_be_in_set", column=column, value_set={"$PARAMETER": f"known_{target[0]}"}
    )


def _gx_mostly(type_: str, **kwargs) -> GxSpec:
    """A batch check as GX sees it: at least ``1 - threshold`` of values must pass."""
    return lambda ctx, check: (
        type_,
        {**kwargs, "mostly": 1 - (ctx.thresholds.get(check.name, check.threshold) or 0)},
    )


def _key_reused(key: str, identity: str) -> RowRule:
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


def _null_rate(column: str) -> BatchRule:
    def rule(ctx, check):
        frame = ctx.frames[check.extract]
        missing = frame[column].null_count()
        return BatchMeasure(frame.height, missing, f"{missing} of {frame.height} rows without {column}")

    return rule


def _format_check(extract: str, column: str, regex: str, what: str, threshold: float = 0.05) -> "Check":
    """A batch conformance check that at most ``threshold`` of ``column``'s values miss ``regex``: one
    pattern for both executors (Polars and GX), so they cannot drift apart."""
    return Check(
        f"{extract}.{column}.format", extract, column, "conformance", "value", "batch",
        f"{{extract}}.{{column}} is not {what} in more than {{threshold_pct}} of rows",
        _pattern_rate(column, regex),
        threshold=threshold,
        gx=_gx_mostly("expect_column_values_to_match_regex", column=column, regex=regex),
    )


def _pattern_rate(column: str, regex: str) -> BatchRule:
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


def _status_rate(column: str, numerator: tuple[str, ...], denominator: tuple[str, ...]) -> BatchRule:
    def rule(ctx, check):
        status = ctx.frames[check.extract][column]
        denom = int(status.is_in(pl.Series(denominator).implode()).sum())
        num = int(status.is_in(pl.Series(numerator).implode()).sum())
        rate = num / denom if denom else 0.0
        return BatchMeasure(denom, num, f"rate {rate:.1%} ({num}/{denom})")

    return rule


def _volume_drop(ctx: BatchContext, check: Check) -> BatchMeasure:
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
    end = min(happened["day"].max(), history["day"].max())
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


# --- The catalogue ------------------------------------------------------------------------------


def _contract_checks() -> list[Check]:
    """Required fields, allowed values, ranges, unique keys and foreign keys, from the contract."""
    checks: list[Check] = []
    for name in LOAD_ORDER:
        extract = EXTRACTS[name]
        checks.append(
            Check(
                f"{name}.{extract.key}.unique",
                name,
                extract.key,
                "conformance",
                "relational",
                "row",
                "{extract}.{column} is a key: a value appears on more than one row (all copies quarantined)",
                _duplicated(extract.key),
                gx=_gx("expect_column_values_to_be_unique", column=extract.key),
            )
        )
        for col in extract.columns:
            if not col.nullable:
                checks.append(
                    Check(
                        f"{name}.{col.name}.required",
                        name,
                        col.name,
                        "completeness",
                        "value",
                        "row",
                        "{extract}.{column} is required but missing",
                        _not_null(col.name),
                        gx=_gx("expect_column_values_to_not_be_null", column=col.name),
                    )
                )
            if col.allowed:
                checks.append(
                    Check(
                        f"{name}.{col.name}.allowed_values",
                        name,
                        col.name,
                        "conformance",
                        "value",
                        "row",
                        "{extract}.{column} is not one of the allowed values ({allowed})",
                        _not_in(col.name, col.allowed),
                        params={"allowed": ", ".join(col.allowed)},
                        gx=_gx(
                            "expect_column_values_to_be_in_set", column=col.name, value_set=list(col.allowed)
                        ),
                    )
                )
            if col.min_value is not None or col.max_value is not None:
                low = "-inf" if col.min_value is None else f"{col.min_value:g}"
                high = "inf" if col.max_value is None else f"{col.max_value:g}"
                checks.append(
                    Check(
                        f"{name}.{col.name}.range",
                        name,
                        col.name,
                        "plausibility",
                        "atemporal",
                        "row",
                        "{extract}.{column} is outside its plausible range [{low}, {high}]",
                        _outside(col.name, col.min_value, col.max_value),
                        params={"low": low, "high": high},
                        gx=_gx(
                            "expect_column_values_to_be_between",
                            column=col.name,
                            min_value=col.min_value,
                            max_value=col.max_value,
                        ),
                    )
                )
            if col.references:
                target = col.references
                checks.append(
                    Check(
                        f"{name}.{col.name}.foreign_key",
                        name,
                        col.name,
                        "conformance",
                        "relational",
                        "row",
                        "{extract}.{column} refers to an unknown {target} (not in this batch nor the warehouse)",
                        _unknown_reference(col.name, target),
                        params={"target": f"{target[0]}.{target[1]}"},
                        gx=_gx_known(col.name, target),
                    )
                )
    return checks


def _identity_checks() -> list[Check]:
    return [
        Check(
            f"{extract}.{EXTRACTS[extract].key}.same_{identity}_as_stored",
            extract,
            EXTRACTS[extract].key,
            "conformance",
            "relational",
            "row",
            "{extract}.{column} already in the warehouse for another {identity} (a key reused across files)",
            _key_reused(EXTRACTS[extract].key, identity),
            params={"identity": identity},
        )
        for extract, identity in KEY_IDENTITY.items()
    ]


def _temporal(extract: str, later: str, earlier: str, text: str) -> Check:
    return Check(
        f"{extract}.{later}.after_{earlier}",
        extract,
        later,
        "plausibility",
        "temporal",
        "row",
        "{extract}.{column} " + text,
        _before(later, earlier),
        gx=_gx_pair(later, earlier),
    )


def _completed_in_future(ctx: BatchContext, check: Check) -> pl.Expr:
    return (pl.col("status") == "completed") & (pl.col("scheduled_start") > pl.lit(ctx.as_of))


def _age_outside(ctx: BatchContext, check: Check) -> pl.Expr:
    oldest = years_before(ctx.today, check.params["max_age"])
    return (pl.col("birth_date") < pl.lit(oldest)) | (pl.col("birth_date") > pl.lit(ctx.today))


def _gx_age(ctx: BatchContext, check: Check):
    return (
        "expect_column_values_to_be_between",
        {
            "column": "birth_date",
            "min_value": {"$PARAMETER": "oldest_birth_date"},
            "max_value": {"$PARAMETER": "today"},
        },
    )


def _gx_completed_not_future(ctx: BatchContext, check: Check):
    return (
        "expect_column_values_to_be_between",
        {
            "column": "scheduled_start",
            "max_value": {"$PARAMETER": "now"},
            "row_condition": 'status=="completed"',
            "condition_parser": "pandas",
        },
    )


def _survey_for_missed_visit(ctx: BatchContext, check: Check) -> pl.Expr:
    """By 64-bit hash, as ``_unknown_reference`` (a collision could only wrongly flag a survey)."""
    missed = ctx.appointments_not_completed.hash()
    return pl.col("appointment_id").hash().is_in(missed.implode())


RESOLVED_STATUSES = ("completed", "no_show", "left_without_being_seen")
ADJUDICATED_CLAIM_STATUSES = ("paid", "partially_paid", "denied")


def _explicit_checks() -> list[Check]:
    """Plausibility, formats and batch-level checks that the contract does not imply."""
    return [
        # Temporal plausibility (row)
        _temporal(
            "appointments", "scheduled_start", "booked_at", "is before the booking (booked after the visit)"
        ),
        _temporal(
            "appointments", "checkout_at", "checkin_at", "is before check-in (checkout before checkin)"
        ),
        _temporal("appointments", "roomed_at", "checkin_at", "is before check-in"),
        _temporal("appointments", "provider_start_at", "roomed_at", "is before rooming"),
        _temporal("claims", "adjudicated_at", "submitted_at", "is before submission"),
        _temporal("referrals", "scheduled_at", "created_at", "is before the referral was created"),
        _temporal("encounters", "discharged_at", "admitted_at", "is before admission"),
        Check(
            "appointments.scheduled_start.completed_not_in_future",
            "appointments",
            "scheduled_start",
            "plausibility",
            "temporal",
            "row",
            "{extract} marked completed but {column} is in the future",
            _completed_in_future,
            gx=_gx_completed_not_future,
        ),
        # Atemporal plausibility (row)
        Check(
            "patients.birth_date.age_range",
            "patients",
            "birth_date",
            "plausibility",
            "atemporal",
            "row",
            "age from {extract}.{column} is outside 0-{max_age} years",
            _age_outside,
            params={"max_age": 120},
            gx=_gx_age,
        ),
        Check(
            "claims.paid_amount.not_above_billed",
            "claims",
            "paid_amount",
            "plausibility",
            "atemporal",
            "row",
            "{extract}.{column} is greater than billed_amount (paid above billed)",
            lambda ctx, check: pl.col("paid_amount") > pl.col("billed_amount"),
            gx=_gx_pair("billed_amount", "paid_amount"),
        ),
        # Cross-extract (row)
        Check(
            "surveys.appointment_id.visit_happened",
            "surveys",
            "appointment_id",
            "plausibility",
            "atemporal",
            "row",
            "{extract}.{column}: survey for an appointment that did not happen (status is not completed)",
            _survey_for_missed_visit,
            gx=_gx(
                "expect_column_values_to_not_be_in_set",
                column="appointment_id",
                value_set={"$PARAMETER": "appointments_not_completed"},
            ),
        ),
        # Formats (batch: a few malformed contact details do not justify quarantining a patient)
        _format_check("patients", "postal_code", r"^\d{5}$", "a 5-digit ZIP code"),
        _format_check("patients", "email", r"^[^@\s]+@[^@\s]+\.[^@\s]+$", "an e-mail address"),
        _format_check("patients", "preferred_language", r"^[a-z]{2}$", "an ISO 639-1 code"),
        _format_check("claims", "carc_code", r"^(CO|PR|OA|PI|CR)-[A-Z]?\d{1,3}$",
                      "an X12 CARC code (group-reason, e.g. CO-197)"),
        # Completeness (batch)
        Check(
            "appointments.provider_id.missing_rate",
            "appointments",
            "provider_id",
            "completeness",
            "value",
            "batch",
            "more than {threshold_pct} of {extract} have no {column}",
            _null_rate("provider_id"),
            threshold=0.02,
            gx=_gx_mostly("expect_column_values_to_not_be_null", column="provider_id"),
        ),
        Check(
            "appointments.department_id.daily_volume",
            "appointments",
            "department_id",
            "completeness",
            "value",
            "batch",
            "daily {extract} volume per department fell below {min_ratio:.0%} of the usual (recent warehouse "
            "loads) in more than {threshold_pct} of departments",
            _volume_drop,
            threshold=0.0,
            params={"min_ratio": 0.5},
        ),
        # Plausible rates (batch)
        Check(
            "appointments.status.no_show_rate",
            "appointments",
            "status",
            "plausibility",
            "atemporal",
            "batch",
            "{extract} no-show rate (no_show / completed, no_show, left without being seen) above "
            "{threshold_pct}",
            _status_rate("status", ("no_show",), RESOLVED_STATUSES),
            threshold=0.60,
            gx=lambda ctx, check: (
                "expect_column_values_to_not_be_in_set",
                {
                    "column": "status",
                    "value_set": ["no_show"],
                    "mostly": 1 - ctx.thresholds.get(check.name, check.threshold),
                    "row_condition": f"status.isin({list(RESOLVED_STATUSES)})",
                    "condition_parser": "pandas",
                },
            ),
        ),
        Check(
            "claims.status.denial_rate",
            "claims",
            "status",
            "plausibility",
            "atemporal",
            "batch",
            "{extract} denial rate (denied / adjudicated) above {threshold_pct}",
            _status_rate("status", ("denied",), ADJUDICATED_CLAIM_STATUSES),
            threshold=0.60,
        ),
    ]


CHECKS: tuple[Check, ...] = tuple(_contract_checks() + _identity_checks() + _explicit_checks())
CHECKS_BY_NAME: dict[str, Check] = {c.name: c for c in CHECKS}

assert len(CHECKS_BY_NAME) == len(CHECKS), "check names must be unique"
assert all(c.kahn_category in KAHN_CATEGORIES and c.severity in SEVERITIES for c in CHECKS)
assert all((c.threshold is not None) == (c.severity == "batch") for c in CHECKS)
assert set(APPOINTMENT_STATUSES) >= set(RESOLVED_STATUSES)


def checks_for(extracts) -> list[Check]:
    """The checks whose extract is present in the batch."""
    present = set(extracts)
    return [c for c in CHECKS if c.extract in present]


def now_local(timezone: str) -> datetime:
    """The site's current wall time (naive), the reference for 'in the future'."""
    from zoneinfo import ZoneInfo

    return datetime.now(ZoneInfo(timezone)).replace(tzinfo=None)


def catalogue_markdown() -> str:
    """The catalogue as a Markdown table (``docs/data-quality.md`` embeds it; a test keeps it in step)."""
    lines = [
        "| Check | Extract | Column | Kahn category | Subcategory | Severity | Threshold | GX expectation | Description |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for c in CHECKS:
        gx = "computed in Polars only"
        if c.gx is not None:
            gx = "`" + c.gx(BatchContext({}, datetime(2000, 1, 1), thresholds={}), c)[0] + "`"
        threshold = "" if c.threshold is None else f"{c.threshold:.0%}"
        lines.append(
            f"| `{c.name}` | {c.extract} | {c.column or ''} | {c.kahn_category} | {c.kahn_subcategory} | "
            f"{c.severity} | {threshold} | {gx} | {c.describe().replace('|', '/')} |"
        )
    return "\n".join(lines) + "\n"
