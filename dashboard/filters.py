"""Global sidebar filters, kept in ``st.session_state`` and mirrored in the URL's query parameters.

A shared link shows the same view: the URL carries dates and ids of sites, departments and providers,
payer classes, visit types and modalities -- never anything about a patient. Values read from the URL
are checked against the known options, so a hand-edited link cannot inject anything.
"""

from __future__ import annotations

import datetime as dt
import functools
from dataclasses import dataclass, field

import streamlit as st

from carepulse.contract import MODALITIES, PAYER_CLASSES, VISIT_TYPES

#: session_state key / URL parameter for each multi-select filter, and the metric column it filters.
MULTI_FILTERS: tuple[tuple[str, str, str], ...] = (
    ("site", "Site", "site"),
    ("dept", "Department", "department"),
    ("prov", "Provider", "provider"),
    ("payer", "Payer class", "payer_class"),
    ("visit", "Visit type", "visit_type"),
    ("mode", "Modality", "modality"),
)
DATE_PARAMS = ("from", "to")
_STATE = "flt_"  # prefix of the widget keys in session_state
_READY = "flt__ready"


@dataclass(frozen=True)
class FilterOptions:
    """What the sidebar offers: the data's date span and the known values of each dimension."""

    first_date: dt.date
    last_date: dt.date
    labels: dict[str, dict[str, str]] = field(default_factory=dict)  # filter key -> {value: label}

    def values(self, key: str) -> list[str]:
        if key == "payer":
            return list(self.labels.get(key) or PAYER_CLASSES)
        if key == "visit":
            return list(self.labels.get(key) or VISIT_TYPES)
        if key == "mode":
            return list(self.labels.get(key) or MODALITIES)
        return list(self.labels.get(key, {}))

    def label(self, key: str, value: str) -> str:
        return self.labels.get(key, {}).get(value, value.replace("_", " "))

    def default_start(self) -> dt.date:
        """First day of the month eleven months before the last date: a year of whole months."""
        year, month = self.last_date.year, self.last_date.month - 11
        while month < 1:
            year, month = year - 1, month + 12
        return max(self.first_date, dt.date(year, month, 1))


@dataclass(frozen=True)
class Filters:
    """The view every page shows: a date range and the chosen values of each dimension."""

    start: dt.date
    end: dt.date
    selected: tuple[tuple[str, tuple[str, ...]], ...] = ()  # (filter key, values), only non-empty ones

    def values(self, key: str) -> tuple[str, ...]:
        return dict(self.selected).get(key, ())

    def metric_filters(self) -> dict[str, list[str]]:
        """``{column: [values]}`` for ``carepulse.metrics.compute(filters=...)``."""
        columns = {key: column for key, _, column in MULTI_FILTERS}
        return {columns[key]: list(values) for key, values in self.selected if values}

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    def previous(self) -> Filters:
        """The same filters on the window of equal length just before this one."""
        end = self.start - dt.timedelta(days=1)
        return Filters(start=end - dt.timedelta(days=self.days - 1), end=end, selected=self.selected)

    def cache_key(self) -> tuple:
        return (self.start.isoformat(), self.end.isoformat(), self.selected)

    def describe(self) -> str:
        """One line for titles and reports, e.g. '2025-07-01 to 2026-06-30; site: North'."""
        parts = [f"{self.start:%Y-%m-%d} to {self.end:%Y-%m-%d}"]
        names = {key: label for key, label, _ in MULTI_FILTERS}
        parts += [f"{names[key].lower()}: {', '.join(values)}" for key, values in self.selected if values]
        return "; ".join(parts)


def _parse_date(text: str | None, fallback: dt.date, options: FilterOptions) -> dt.date:
    try:
        value = dt.date.fromisoformat(str(text))
    except (TypeError, ValueError):
        return fallback
    return min(max(value, options.first_date), options.last_date)


def _seed_from_url(options: FilterOptions) -> None:
    """First run of a session: the widgets start from the URL (or the defaults)."""
    params = st.query_params
    st.session_state[_STATE + "from"] = _parse_date(params.get("from"), options.default_start(), options)
    st.session_state[_STATE + "to"] = _parse_date(params.get("to"), options.last_date, options)
    for key, _, _ in MULTI_FILTERS:
        known = set(options.values(key))
        st.session_state[_STATE + key] = [v for v in params.get_all(key) if v in known]
    st.session_state[_READY] = True


def _write_url(filters: Filters) -> None:
    wanted: dict[str, str | list[str]] = {"from": filters.start.isoformat(), "to": filters.end.isoformat()}
    for key, values in filters.selected:
        wanted[key] = list(values)
    for key in (*DATE_PARAMS, *(k for k, _, _ in MULTI_FILTERS)):
        current = st.query_params.get_all(key)
        target = wanted.get(key)
        target_list = [target] if isinstance(target, str) else list(target or [])
        if current != target_list:
            if target_list:
                st.query_params[key] = target if isinstance(target, str) else target_list
            elif key in st.query_params:
                del st.query_params[key]


def render_sidebar(options: FilterOptions) -> Filters:
    """Draw the filters in the sidebar and return the current view (also stored in the session)."""
    if not st.session_state.get(_READY):
        _seed_from_url(options)
    bar = st.sidebar
    bar.header("Filters")
    start = bar.date_input(
        "From",
        key=_STATE + "from",
        min_value=options.first_date,
        max_value=options.last_date,
        format="YYYY-MM-DD",
    )
    end = bar.date_input(
        "To",
        key=_STATE + "to",
        min_value=options.first_date,
        max_value=options.last_date,
        format="YYYY-MM-DD",
    )
    if start and end and start > end:
        bar.warning("'From' is after 'To'; showing the range the other way round.")
        start, end = end, start
    selected = []
    for key, label, _ in MULTI_FILTERS:
        values = options.values(key)
        if not values:
            continue
        chosen = bar.multiselect(
            label,
            values,
            key=_STATE + key,
            format_func=functools.partial(options.label, key),
            placeholder="All",
        )
        if chosen:
            selected.append((key, tuple(sorted(chosen))))
    filters = Filters(
        start=start or options.default_start(), end=end or options.last_date, selected=tuple(selected)
    )
    if bar.button("Reset filters", key="flt_reset"):
        for key, _, _ in MULTI_FILTERS:
            st.session_state.pop(_STATE + key, None)
        st.session_state.pop(_STATE + "from", None)
        st.session_state.pop(_STATE + "to", None)
        st.session_state[_READY] = False
        st.query_params.clear()
        st.rerun()
    st.session_state["filters"] = filters
    _write_url(filters)
    return filters


def current() -> Filters | None:
    """The view chosen in the sidebar on this run (None before the router has drawn it)."""
    return st.session_state.get("filters")


def from_params(params: dict, options: FilterOptions, *, rolling: bool = False) -> Filters:
    """The view a saved view's (or a URL's) parameters describe, checked against the known options.
    ``rolling``: keep the window's length but end it at the data's last day (for scheduled packs)."""
    start = _parse_date(params.get("from"), options.default_start(), options)
    end = _parse_date(params.get("to"), options.last_date, options)
    if rolling:
        length = end - start
        end = options.last_date
        start = max(options.first_date, end - length)
    selected = []
    for key, _, _ in MULTI_FILTERS:
        raw = params.get(key) or []
        known = set(options.values(key))
        values = tuple(sorted(v for v in ([raw] if isinstance(raw, str) else raw) if v in known))
        if values:
            selected.append((key, values))
    return Filters(start=start, end=end, selected=tuple(selected))


def to_params(filters: Filters) -> dict[str, str | list[str]]:
    """The URL / saved-view parameters of a view."""
    out: dict[str, str | list[str]] = {"from": filters.start.isoformat(), "to": filters.end.isoformat()}
    out.update({key: list(values) for key, values in filters.selected})
    return out


def open_params(params: dict) -> None:
    """Make the sidebar show ``params`` on the next run (a saved view being opened)."""
    st.query_params.clear()
    for key, value in params.items():
        st.query_params[key] = value
    st.session_state[_READY] = False
