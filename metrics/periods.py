"""Reporting periods: which period is still incomplete, and how fresh the data is, in words.

The last week or month of a trend usually ends after the data does: plotted as if complete it looks
like a sudden drop (or rise) and SPC flags a false astronomical point. These pure helpers say which
periods are partial (the charts draw them hollow and labelled "partial") and word the freshness line
every page shows, in the site's time zone.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import polars as pl

PERIODS = ("day", "week", "month", "quarter", "year")


def period_end(period_start: dt.date, period: str) -> dt.date:
    """The last day of the ``period`` ('day', 'week', 'month', 'quarter' or 'year') starting on
    ``period_start`` (weeks run Monday to Sunday, as :mod:`carepulse.metrics` truncates them)."""
    if period == "day":
        return period_start
    if period == "week":
        return period_start + dt.timedelta(days=6)
    months = {"month": 1, "quarter": 3, "year": 12}.get(period)
    if months is None:
        raise ValueError(f"unknown period {period!r}; expected one of {', '.join(PERIODS)}")
    month = period_start.month - 1 + months
    year = period_start.year + month // 12
    return dt.date(year, month % 12 + 1, 1) - dt.timedelta(days=1)


def is_partial_period(period_start: dt.date, period: str, data_through: dt.date) -> bool:
    """Whether the period starting on ``period_start`` ends after the last day the data covers.

    A period is complete only when the data reaches its last day; e.g. the month of June with data
    through 2026-06-29 is partial, with data through 2026-06-30 it is complete.
    """
    if isinstance(period_start, dt.datetime):
        period_start = period_start.date()
    if isinstance(data_through, dt.datetime):
        data_through = data_through.date()
    return period_end(period_start, period) > data_through


def mark_partial(
    frame: pl.DataFrame, period: str, data_through: dt.date, *, column: str = "period"
) -> pl.DataFrame:
    """``frame`` with a boolean ``partial`` column: True on rows whose period is not complete."""
    starts = frame.get_column(column).to_list()
    flags = [start is not None and is_partial_period(start, period, data_through) for start in starts]
    return frame.with_columns(pl.Series("partial", flags, dtype=pl.Boolean))


def _local(moment: dt.datetime, zone: ZoneInfo, *, naive_is_utc: bool) -> dt.datetime:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC if naive_is_utc else zone)
    return moment.astimezone(zone)


def freshness_text(data_through: dt.datetime | None, loaded_at: dt.datetime | None, timezone: str) -> str:
    """'Data through 30 Jun 2026 17:45 EDT; loaded 1 Jul 2026 02:10 EDT (site time, America/New_York)'.

    ``data_through`` is the latest event in the extracts, whose naive timestamps are site-local;
    ``loaded_at`` is the load run's end, stored as naive UTC. Both are shown in the site's zone.
    """
    zone = ZoneInfo(timezone)
    fmt = "%-d %b %Y %H:%M %Z"
    through = _local(data_through, zone, naive_is_utc=False).strftime(fmt) if data_through else "unknown"
    loaded = _local(loaded_at, zone, naive_is_utc=True).strftime(fmt) if loaded_at else "unknown"
    return f"Data through {through}; loaded {loaded} (site time, {timezone})"


__all__ = ["PERIODS", "freshness_text", "is_partial_period", "mark_partial", "period_end"]
