"""Streamlit helpers every page shares: the permission guard, empty states, friendly errors,
small-cell suppression for aggregate roles and the download buttons.

Pages stay thin: they ask :mod:`carepulse.dashboard.data` for frames, :mod:`carepulse.dashboard.charts` for figures and
this module for the furniture around them.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable, Iterator

import polars as pl
import streamlit as st

from carepulse.dashboard import data, describe, exports
from carepulse.errors import CarePulseError

log = logging.getLogger("carepulse.dashboard")

NO_DATA_HELP = (
    "No data is loaded yet. Load a synthetic health system with `carepulse demo` "
    "(or your own extracts with `carepulse ingest DIR`), then reload this page."
)


_this_run = threading.local()


@contextlib.contextmanager
def signed_in(user) -> Iterator[None]:
    """The router's ``require_user()`` result, for the page it runs next in the same script run
    (so the sign-in furniture is drawn once); cleared when the page ends, even by ``st.stop``."""
    _this_run.user = user
    try:
        yield
    finally:
        _this_run.user = None


def _require_user():
    user = getattr(_this_run, "user", None)
    if user is not None:
        return user
    from carepulse.dashboard.signin import require_user

    return require_user()


def _can(role: str | None, permission: str) -> bool:
    from carepulse.access import can

    return can(role, permission)


def can(user, permission: str) -> bool:
    """Whether the signed-in ``user`` holds ``permission`` (checked on the server)."""
    return _can(getattr(user, "role", None), permission)


def require(permission: str):
    """The signed-in user, if their role holds ``permission``; otherwise a refusal and stop.

    Every page calls this first, whatever the navigation showed: a page reached by URL is
    checked here again.
    """
    user = _require_user()
    if not can(user, permission):
        _record_denied(user, permission)
        st.error("Your role does not allow this page. Ask an administrator if you need it.")
        st.stop()
    return user


def _record_denied(user, permission: str) -> None:
    with contextlib.suppress(Exception):
        from carepulse.access import record

        record(data.engine(), getattr(user, "username", None), "access.denied", target=permission)


def loaded_run_id() -> int:
    """The latest load run; when nothing is loaded, explain how to load data and stop the page."""
    run = data.run_id()
    if run is None:
        st.info(NO_DATA_HELP)
        st.stop()
    return run


def current_filters():
    """The sidebar's view (drawn by the router before the page runs)."""
    from carepulse.dashboard import filters

    view = filters.current()
    if view is None:
        options = data.filter_options(loaded_run_id())
        view = filters.Filters(start=options.default_start(), end=options.last_date)
    return view


@contextlib.contextmanager
def friendly_errors(what: str) -> Iterator[None]:
    """Show an error that says what to do instead of a traceback (the log gets the details)."""
    try:
        yield
    except CarePulseError as exc:
        st.error(f"Could not {what}: {exc}")
    except Exception as exc:
        if type(exc).__name__ in ("StopException", "RerunException"):
            raise
        log.exception("dashboard: could not %s", what)
        st.error(
            f"Could not {what}. The data may be incomplete for this selection: widen the filters, "
            "or ask an administrator to check the server log."
        )


def suppresses_small_cells(user) -> bool:
    """Aggregate roles (everyone without patient-level access) see small counts suppressed."""
    return not can(user, "view:phi")


def suppress(frame: pl.DataFrame, user) -> pl.DataFrame:
    """``carepulse.metrics.suppress_metric_frame`` (small cells and the cells that would give them back)
    for aggregate roles; the frame unchanged otherwise."""
    if frame.is_empty() or not suppresses_small_cells(user):
        return frame
    from carepulse import metrics

    return metrics.suppress_metric_frame(frame, data.settings().small_cell_threshold)


def _audited(build: Callable[[], bytes], user, target: str, fmt: str, rows: int) -> Callable[[], bytes]:
    def run() -> bytes:
        from carepulse.access import record

        payload = build()
        # No audit row, no file: the download fails rather than leave an export unrecorded.
        record(
            data.engine(),
            getattr(user, "username", None),
            "export",
            target=target,
            detail={"format": fmt},
            rows=rows,
        )
        return payload

    return run


def download_table(frame: pl.DataFrame, name: str, user, *, key: str | None = None) -> None:
    """CSV and Excel download buttons for a table (formula cells escaped), if the role may export.

    The bytes are built only when a button is clicked, and each download writes one audit row.
    """
    if not can(user, "export:aggregate"):
        return
    key = key or name
    cols = st.columns([1, 1, 6])
    cols[0].download_button(
        "CSV",
        data=_audited(lambda: exports.to_csv_bytes(frame), user, name, "csv", frame.height),
        file_name=exports.export_file_name(name, "csv"),
        mime=exports.CSV_MIME,
        key=f"dl_csv_{key}",
        icon=":material/download:",
        on_click="ignore",
    )
    cols[1].download_button(
        "Excel",
        data=_audited(
            lambda: exports.to_excel_bytes(frame, sheet_name=name), user, name, "xlsx", frame.height
        ),
        file_name=exports.export_file_name(name, "xlsx"),
        mime=exports.EXCEL_MIME,
        key=f"dl_xlsx_{key}",
        icon=":material/download:",
        on_click="ignore",
    )


def table(
    frame: pl.DataFrame, name: str, user, *, key: str | None = None, column_config: dict | None = None
) -> None:
    """A table with its downloads; an explanation when the selection has no rows."""
    if frame.is_empty():
        st.caption("No rows for this selection: widen the date range or clear some filters.")
        return
    # Escaped on screen too: Streamlit's own table toolbar offers "Download as CSV" of what is shown.
    labelled = {c: st.column_config.Column(describe.column_label(c)) for c in frame.columns}
    st.dataframe(
        exports.escape_frame(frame),
        hide_index=True,
        column_config=labelled | (column_config or {}),
        key=f"tbl_{key or name}",
    )
    download_table(frame, name, user, key=key)


def definition_text(definition) -> str:
    """Numerator, denominator, definition, exclusions and source of a metric, as Markdown."""
    return (
        f"**{definition.title}** ({definition.unit})  \n"
        f"**Numerator:** {definition.numerator}  \n"
        f"**Denominator:** {definition.denominator}  \n"
        f"**Definition:** {definition.definition}  \n"
        f"**Exclusions:** {definition.exclusions or 'none'}  \n"
        f"**Better:** {definition.better}; **standard:** {definition.standard}; **source:** {definition.source}"
    )


def freshness(load_run_id: int) -> None:
    """The line every page starts with: how fresh the data is, in the site's time zone, labelled."""
    from carepulse.metrics.periods import freshness_text

    with contextlib.suppress(Exception):  # a freshness line never breaks a page
        as_of, loaded = data.freshness(load_run_id)
        st.caption(f":material/update: {freshness_text(as_of, loaded, data.settings().timezone)}")


def chart(fig, frame: pl.DataFrame, summary: str, *, key: str, selectable: bool = False):
    """A Plotly chart with its text alternative and a "Show data" toggle (the numbers as a table).

    ``selectable``: clicking a point or bar reruns the page and the selection is returned
    (``st.plotly_chart(on_select="rerun")``); otherwise None.
    """
    event = st.plotly_chart(
        fig,
        key=key,
        on_select="rerun" if selectable else "ignore",
        selection_mode=("points",),
        config={"displaylogo": False},
    )
    st.caption(summary)
    if st.toggle("Show data", key=f"{key}.data", help="The chart's numbers as a table"):
        st.dataframe(
            exports.escape_frame(frame),
            hide_index=True,
            column_config={c: st.column_config.Column(describe.column_label(c)) for c in frame.columns},
            key=f"{key}.table",
        )
    return event if selectable else None


#: Two WCAG 2.2 AA fixes Streamlit's defaults need: captions at 4.5:1 contrast (the default grey is
#: 3.9:1) and date-field segments at least 24 x 24 px (target size, 2.5.8). Styles only, no content.
ACCESSIBILITY_CSS = """<style>
[data-testid="stCaptionContainer"], [data-testid="stCaptionContainer"] p {
  color: #4a4f5a !important; opacity: 1 !important; }
[role="spinbutton"] { display: inline-block; min-width: 24px; min-height: 24px; line-height: 24px;
  text-align: center; }
</style>"""


def accessibility_styles() -> None:
    """Apply :data:`ACCESSIBILITY_CSS` (once per script run, from the router)."""
    st.html(ACCESSIBILITY_CSS)
