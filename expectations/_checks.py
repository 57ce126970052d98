"""The check catalogue, as data (OHDSI Data Quality Dashboard style).

One :class:`Check` per row of the catalogue: name, extract, column, Kahn category and subcategory,
severity, threshold and a templated description. Each check also carries

- ``rule``: how to compute it in Polars. A *row* rule returns a boolean expression over the extract's
  frame (True = the row is unexpected: it is quarantined); a *batch* rule returns a
  :class:`BatchMeasure` (elements looked at, unexpected elements, observed value), and the check fails
  when the unexpected fraction exceeds the threshold (the load is refused);
- ``gx``: the same check as a Great Expectations expectation (type, kwargs), from which the
  per-extract GX suites are built. ``None`` where GX has no equivalent (computed in Polars only).

Most checks are generated from :mod:`carepulse.contract` (required fields, allowed values, ranges,
keys, foreign keys); the rest are written out below.
"""

from __future__ import annotations

from datetime import datetime

import polars as pl

from carepulse.contract import APPOINTMENT_STATUSES, EXTRACTS, LOAD_ORDER
from carepulse.expectations._check import KAHN_CATEGORIES, SEVERITIES, Check
from carepulse.expectations._context import BatchContext, years_before
from carepulse.expectations._rules import (
    KEY_IDENTITY,
    RESOLVED_STATUSES,
    before,
    duplicated,
    format_check,
    gx,
    gx_known,
    gx_mostly,
    gx_pair,
    key_reused,
    not_in,
    not_null,
    null_rate,
    outside,
    status_rate,
    unknown_reference,
    volume_drop,
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
                duplicated(extract.key),
                gx=gx("expect_column_values_to_be_unique", column=extract.key),
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
                        not_null(col.name),
                        gx=gx("expect_column_values_to_not_be_null", column=col.name),
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
                        not_in(col.name, col.allowed),
                        params={"allowed": ", ".join(col.allowed)},
                        gx=gx(
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
                        outside(col.name, col.min_value, col.max_value),
                        params={"low": low, "high": high},
                        gx=gx(
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
                        unknown_reference(col.name, target),
                        params={"target": f"{target[0]}.{target[1]}"},
                        gx=gx_known(col.name, target),
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
            key_reused(EXTRACTS[extract].key, identity),
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
        before(later, earlier),
        gx=gx_pair(later, earlier),
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
    """By 64-bit hash, as ``unknown_reference`` (a collision could only wrongly flag a survey)."""
    missed = ctx.appointments_not_completed.hash()
    return pl.col("appointment_id").hash().is_in(missed.implode())


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
            gx=gx_pair("billed_amount", "paid_amount"),
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
            gx=gx(
                "expect_column_values_to_not_be_in_set",
                column="appointment_id",
                value_set={"$PARAMETER": "appointments_not_completed"},
            ),
        ),
        # Formats (batch: a few malformed contact details do not justify quarantining a patient)
        format_check("patients", "postal_code", r"^\d{5}$", "a 5-digit ZIP code"),
        format_check("patients", "email", r"^[^@\s]+@[^@\s]+\.[^@\s]+$", "an e-mail address"),
        format_check("patients", "preferred_language", r"^[a-z]{2}$", "an ISO 639-1 code"),
        format_check(
            "claims",
            "carc_code",
            r"^(CO|PR|OA|PI|CR)-[A-Z]?\d{1,3}$",
            "an X12 CARC code (group-reason, e.g. CO-197)",
        ),
        # Completeness (batch)
        Check(
            "appointments.provider_id.missing_rate",
            "appointments",
            "provider_id",
            "completeness",
            "value",
            "batch",
            "more than {threshold_pct} of {extract} have no {column}",
            null_rate("provider_id"),
            threshold=0.02,
            gx=gx_mostly("expect_column_values_to_not_be_null", column="provider_id"),
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
            volume_drop,
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
            status_rate("status", ("no_show",), RESOLVED_STATUSES),
            threshold=0.60,
            gx=lambda ctx, check: (
                "expect_column_values_to_not_be_in_set",
                {
                    "column": "status",
                    "value_set": ["no_show"],
                    "mostly": 1 - (ctx.thresholds.get(check.name, check.threshold) or 0),
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
            status_rate("status", ("denied",), ADJUDICATED_CLAIM_STATUSES),
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
