"""Text alternatives for charts: one or two sentences a screen reader (or a hurried reader) gets
instead of the picture, and the column labels tables show instead of internal names.

Only wording: the numbers come from the same computed frames the charts draw.
"""

from __future__ import annotations

import datetime as dt

import polars as pl

from carepulse.dashboard.charts import format_value

#: Table headers people read, for the internal column names metric frames carry.
COLUMN_LABELS: dict[str, str] = {
    "metric": "Metric id",
    "title": "Metric",
    "family": "Family",
    "kind": "Kind",
    "unit": "Unit",
    "period": "Period starting",
    "value": "Value",
    "previous": "Previous period",
    "change": "Change",
    "target": "Target",
    "status": "Against target",
    "numerator": "Numerator",
    "denominator": "Denominator",
    "numerator_n": "Numerator (count)",
    "n": "Cases (n)",
    "ci_low": "95% CI low",
    "ci_high": "95% CI high",
    "median": "Median",
    "p90": "90th percentile",
    "mean": "Mean",
    "share": "Share",
    "suppressed": "Hidden (small count)",
    "partial": "Partial period",
    "variation": "SPC variation",
    "assurance": "SPC assurance",
    "department": "Department id",
    "department_name": "Department",
    "site": "Site",
    "site_name": "Site name",
    "provider": "Provider id",
    "provider_name": "Provider",
    "payer_class": "Payer class",
    "visit_type": "Visit type",
    "modality": "Modality",
    "age_band": "Age band",
    "weekday": "Weekday",
    "hour": "Hour of day",
    "z": "z-score",
    "position": "Against funnel limits",
    "lower2": "Lower 2-sigma limit",
    "upper2": "Upper 2-sigma limit",
    "lower3": "Lower 3-sigma limit",
    "upper3": "Upper 3-sigma limit",
}

WEEKDAYS = {1: "Monday", 2: "Tuesday", 3: "Wednesday", 4: "Thursday", 5: "Friday", 6: "Saturday", 7: "Sunday"}


def column_label(name: str) -> str:
    """The header for column ``name`` ('ci_low' -> '95% CI low'; unknown: 'carc_code' -> 'Carc code')."""
    return COLUMN_LABELS.get(name, name.replace("_", " ").capitalize())


def _when(value: object) -> str:
    if isinstance(value, dt.datetime | dt.date):
        return f"{value:%b %Y}"
    return str(value)


def trend_summary(frame: pl.DataFrame, *, title: str, unit: str, x: str = "period") -> str:
    """'No-show rate by month, Jul 2025 to Jun 2026: latest 12.0% (Jun 2026, partial period);
    lowest 9.8% (Feb 2026), highest 14.1% (Aug 2025); 1 value hidden (small count).'"""
    shown = frame.filter(pl.col("value").is_not_null()).sort(x) if "value" in frame.columns else frame.clear()
    if shown.is_empty():
        return f"{title}: no values to show for this selection."
    first, last = shown.row(0, named=True), shown.row(-1, named=True)
    low = shown.sort("value").row(0, named=True)
    high = shown.sort("value").row(-1, named=True)
    partial = ", partial period" if last.get("partial") else ""
    hidden = frame.height - shown.height
    text = (
        f"{title}, {_when(first[x])} to {_when(last[x])}: latest {format_value(last['value'], unit)} "
        f"({_when(last[x])}{partial}); lowest {format_value(low['value'], unit)} ({_when(low[x])}), "
        f"highest {format_value(high['value'], unit)} ({_when(high[x])})"
    )
    if hidden:
        text += f"; {hidden} value{'s' if hidden > 1 else ''} hidden or without cases"
    return text + "."


def bars_summary(
    frame: pl.DataFrame, *, title: str, unit: str, category: str, labels: dict[str, str] | None = None
) -> str:
    """'No-show rate by department: 8 units; highest Cardiology (North) 14.0%, lowest Dermatology
    (South) 6.1%.'"""
    shown = frame.filter(pl.col(category).is_not_null() & pl.col("value").is_not_null()).sort("value")
    if shown.is_empty():
        return f"{title}: no values to compare for this selection."
    name = lambda row: (labels or {}).get(row[category], str(row[category]))  # noqa: E731
    low, high = shown.row(0, named=True), shown.row(-1, named=True)
    return (
        f"{title}: {shown.height} units; highest {name(high)} {format_value(high['value'], unit)}, "
        f"lowest {name(low)} {format_value(low['value'], unit)}."
    )


def readable_table(frame: pl.DataFrame, labels: dict[str, dict[str, str]] | None = None) -> pl.DataFrame:
    """``frame`` with ids replaced by names where ``labels`` ({column: {id: name}}) knows them and
    weekdays spelled out; column names are left for :func:`column_label`."""
    out = frame
    for column, mapping in (labels or {}).items():
        if column in out.columns and mapping:
            out = out.with_columns(pl.col(column).cast(pl.String).replace(mapping).alias(column))
    if "weekday" in out.columns and out.schema["weekday"].is_integer():
        out = out.with_columns(
            pl.col("weekday").replace_strict(WEEKDAYS, default=None, return_dtype=pl.String)
        )
    return out


__all__ = ["COLUMN_LABELS", "bars_summary", "column_label", "readable_table", "trend_summary"]
