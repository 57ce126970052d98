"""No-show worklist: upcoming visits ranked by expected benefit, why each is at risk, what to do, and
one-click outreach outcomes; afterwards, whether contacted patients showed up more.

Thin page: :mod:`carepulse.records.outreach` reads and writes, :mod:`carepulse.metrics.worklist` ranks and filters,
:mod:`carepulse.metrics.outreach_effect` compares. Server-side checks: ``page:worklist`` to open it,
``view:phi`` for names and contact details (only the user's departments), ``record:outreach`` for
the outcome buttons, ``export:worklist`` for downloads. Viewing contact details and exporting are
audited (counts, never PHI); nothing about a patient goes into the URL or the log.
"""

from __future__ import annotations

import datetime as dt

import polars as pl
import streamlit as st

from carepulse.access import record
from carepulse.dashboard import data, exports, ui
from carepulse.dashboard.signin import record_view
from carepulse.dashboard.worklist_effect import outreach_effect_section
from carepulse.dashboard.worklist_work import work_panel
from carepulse.metrics.worklist import (
    RISK_BANDS,
    WorklistFilters,
    build_worklist,
    with_contact,
    worklist_counts,
)
from carepulse.metrics.worklist_queue import (
    QUEUE_STATES,
    day_counts,
    honour_sidebar,
    todays_queue,
    with_queue,
)
from carepulse.records import outreach

SHOWN_ROWS = 500
FLASH = "wl_flash"

user = ui.require("page:worklist")
st.title("No-show worklist")

run = ui.loaded_run_id()
engine = data.engine()
score_run = outreach.latest_score_run(engine)
if score_run is None:
    st.info(
        "No risk scores yet. Train the no-show model with `carepulse train`, then score the coming "
        "appointments with `carepulse score` (the demo does both)."
    )
    st.stop()

departments = tuple(getattr(user, "departments", ()) or ())
if not departments:
    st.info(
        "No departments are assigned to your account, so your worklist is empty. Ask an administrator "
        "to assign them (`carepulse users set-departments`)."
    )
    st.stop()

shows_contact = ui.can(user, "view:phi")
may_record = ui.can(user, "record:outreach")


@st.cache_data(show_spinner="Reading the scored appointments...", max_entries=8)
def _scored(url: str, load_run_id: int, score_run_id: int) -> dict[str, pl.DataFrame]:
    """Scores, their appointments, departments and providers: no PHI; changes only with a load or a run."""
    return outreach.scored_frames(engine)


scored = _scored(data.warehouse_url(), run, score_run["score_run_id"])
as_of: dt.datetime = score_run["as_of"]
horizon_end = as_of.date() + dt.timedelta(days=int(score_run["horizon_days"]))
st.caption(
    f"Scheduled visits in your departments, scored as of {as_of:%Y-%m-%d %H:%M} by model "
    f"{score_run['model_version']}. Ranked by expected benefit (risk x how much the suggested action is "
    "expected to help), then by risk. Scores support outreach (calls, transport, telehealth), never overbooking."
)

flash = st.session_state.pop(FLASH, None)
if flash:
    st.success(flash)

dept_labels = dict(scored["departments"].select("department_id", "name").iter_rows())
sidebar = ui.current_filters()  # the sidebar's site, department and provider choices narrow this list
departments = honour_sidebar(
    departments,
    departments=sidebar.values("dept"),
    sites=sidebar.values("site"),
    department_sites=dict(scored["departments"].select("department_id", "site").iter_rows()),
)
if sidebar.values("dept") or sidebar.values("site") or sidebar.values("prov"):
    st.caption(
        ":material/filter_alt: The sidebar's site, department and provider filters apply to this list."
    )
if not departments:
    st.info(
        "None of your departments is in the sidebar's selection: clear the sidebar filters to see your list."
    )
    st.stop()
providers = scored["providers"].filter(pl.col("department_id").is_in(list(departments)))
prov_labels = dict(providers.select("provider_id", "name").iter_rows())
with st.container(border=True):
    cols = st.columns([2, 2, 2, 2])
    dates = cols[0].date_input(
        "Visit dates", value=(as_of.date(), horizon_end), format="YYYY-MM-DD", key="wl_dates"
    )
    chosen_depts = cols[1].multiselect(
        "Department",
        list(departments),
        format_func=lambda d: dept_labels.get(d, d),
        default=[d for d in sidebar.values("dept") if d in departments],
        placeholder="All of mine",
        key="wl_dept",
    )
    chosen_provs = cols[2].multiselect(
        "Provider",
        sorted(prov_labels, key=prov_labels.__getitem__),
        default=[p for p in sidebar.values("prov") if p in prov_labels],
        format_func=lambda p: prov_labels.get(p, p),
        placeholder="All",
        key="wl_prov",
    )
    chosen_bands = cols[3].multiselect("Risk band", list(RISK_BANDS), placeholder="All", key="wl_band")
    toggles = st.columns([2, 2, 4])
    not_yet_worked = toggles[0].toggle(
        "Today's queue only",
        value=True,
        key="wl_unworked",
        help="Retries due first (no answer or message left before today), then rows not yet worked",
    )
    mine = toggles[1].toggle("My list only", value=False, key="wl_mine")

outcomes = outreach.read_outcomes(engine)  # no notes: they are free text and not shown in the list
today = outreach.local_now().date()
sidebar_provs = tuple(p for p in sidebar.values("prov") if p in prov_labels)
start, end = (tuple(dates) + (None, None))[:2] if isinstance(dates, (tuple, list)) else (dates, dates)
view = WorklistFilters(
    start=start,
    end=end or start,
    departments=tuple(chosen_depts),
    providers=tuple(chosen_provs) or sidebar_provs,
    risk_bands=tuple(chosen_bands),
    not_yet_worked=False,  # the day's queue (with retries) is applied below
    assigned_to=user.username if mine else None,
)

with ui.friendly_errors("build the worklist"):
    worklist = build_worklist(
        scored["scores"],
        scored["appointments"],
        scored["departments"],
        scored["providers"],
        allowed_departments=departments,
        outcomes=outcomes,
        assignments=outreach.read_assignments(engine),
        filters=view,
        today=as_of,
    )
    everything = with_queue(worklist, today)
    worklist = todays_queue(everything) if not_yet_worked else everything
    if shows_contact:  # read only for the rows on screen; the export reads its own at click time
        shown_rows = worklist.head(SHOWN_ROWS)
        shown_rows = with_contact(
            shown_rows, outreach.contact_details(engine, shown_rows.get_column("patient_id"))
        )
        record_view(user, "worklist", rows=shown_rows.height, detail=view.describe())
    else:
        shown_rows = worklist.head(SHOWN_ROWS)

    counts = worklist_counts(worklist)
    day = day_counts(everything, outcomes, today, user.username)
    tiles = st.columns(5)
    tiles[0].metric("Left today", f"{day['left_today']:,}", help="Retries due plus rows not yet worked")
    tiles[1].metric(
        "Done today", f"{day['done_today']:,}", help=f"Of them by you: {day['done_today_by_me']:,}"
    )
    tiles[2].metric("Retries due", f"{day['retry_due']:,}", help="No answer or message left before today")
    tiles[3].metric("High risk in view", f"{counts['high']:,}")
    tiles[4].metric("Calls a day (capacity)", f"{data.settings().outreach_capacity_per_day:,}")

    if worklist.is_empty():
        if scored["scores"].is_empty():
            st.info(
                "The latest scoring run found no upcoming appointments: there is nothing to call about. "
                "Run `carepulse score` again after the next load."
            )
        elif not_yet_worked:
            st.info(
                "No upcoming appointments left to work for these filters: everything here has an outcome. "
                "Switch off 'Not yet worked only' to see the worked rows."
            )
        else:
            st.info("No upcoming appointments for these filters in your departments.")
    else:
        display = shown_rows.with_columns(
            pl.when(pl.col("last_outcome").is_not_null())
            .then(
                pl.format(
                    "{} ({})",
                    pl.col("last_outcome").str.replace_all("_", " "),
                    pl.col("last_outcome_at").dt.strftime("%Y-%m-%d"),
                )
            )
            .alias("last_outreach"),
            pl.col("outcome").str.replace_all("_", " "),
            pl.col("queue").replace_strict(QUEUE_STATES, default=None).alias("queue"),
        )
        # What to do first (risk, why, action), then whom to call, then the visit's context.
        shown = [
            "rank",
            "queue",
            "scheduled_start",
            "risk_pct",
            "risk_band",
            "reasons",
            "suggested_action",
            *(["patient_name", "phone", "email", "mrn"] if shows_contact else []),
            "department",
            "provider",
            "visit_type",
            "last_outreach",
            "assigned_to",
            "outcome",
            "outcome_at",
        ]
        st.dataframe(
            display.select(shown),
            hide_index=True,
            key="wl_table",
            column_config={
                "rank": st.column_config.NumberColumn("#", width="small"),
                "queue": st.column_config.TextColumn(
                    "Queue", help="Retry due, to call, retry tomorrow, done"
                ),
                "scheduled_start": st.column_config.DatetimeColumn("Visit", format="ddd D MMM HH:mm"),
                "patient_name": "Patient",
                "phone": "Phone",
                "email": "E-mail",
                "mrn": "MRN",
                "department": "Department",
                "provider": "Provider",
                "visit_type": "Visit type",
                "risk_pct": st.column_config.NumberColumn(
                    "Risk", format="%.1f%%", help="Predicted probability of a no-show"
                ),
                "risk_band": "Band",
                "reasons": st.column_config.TextColumn("Why at risk", width="large"),
                "suggested_action": "Suggested action",
                "last_outreach": st.column_config.TextColumn(
                    "Last outreach", help="The patient's latest outcome on an earlier call"
                ),
                "assigned_to": "Assigned to",
                "outcome": "Outcome",
                "outcome_at": st.column_config.DatetimeColumn("Recorded", format="YYYY-MM-DD HH:mm"),
            },
        )
        if worklist.height > SHOWN_ROWS:
            st.caption(
                f"Showing the first {SHOWN_ROWS:,} of {worklist.height:,} rows; narrow the filters or export."
            )

        if ui.can(user, "export:worklist"):

            def _download(fmt: str):
                def build() -> bytes:  # runs on click: contact details are read for the export only then
                    export = worklist
                    if shows_contact:
                        export = with_contact(
                            export, outreach.contact_details(engine, export.get_column("patient_id"))
                        )
                    export = export.drop("patient_id", "score_run_id", "reason_1", "reason_2", "reason_3")
                    payload = (
                        exports.to_csv_bytes(export)
                        if fmt == "csv"
                        else exports.to_excel_bytes(export, "worklist")
                    )
                    record(
                        engine,
                        user.username,
                        "export",
                        target="worklist",
                        detail={"format": fmt},
                        rows=export.height,
                    )
                    return payload

                return build

            dl = st.columns([1, 1, 6])
            dl[0].download_button(
                "CSV",
                data=_download("csv"),
                file_name=exports.export_file_name("worklist", "csv"),
                mime=exports.CSV_MIME,
                key="wl_dl_csv",
                icon=":material/download:",
                on_click="ignore",
            )
            dl[1].download_button(
                "Excel",
                data=_download("xlsx"),
                file_name=exports.export_file_name("worklist", "xlsx"),
                mime=exports.EXCEL_MIME,
                key="wl_dl_xlsx",
                icon=":material/download:",
                on_click="ignore",
            )

        work_panel(
            display,
            worklist,
            user=user,
            engine=engine,
            departments=departments,
            may_record=may_record,
            shows_contact=shows_contact,
            flash_key=FLASH,
        )

# --- Afterwards: the outreach effect -----------------------------------------------------------
outreach_effect_section(run, score_run["score_run_id"], departments)
