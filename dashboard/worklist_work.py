"""Working the worklist one appointment at a time: why and what to do, the patient's earlier outreach,
one-click (or one-key) outcomes, next and previous, and assigning rows to a colleague in bulk.

Keyboard: Streamlit 1.67 buttons take a ``shortcut``; J / K move to the next / previous row and the
digits 1-8 record the outcomes in the order shown (not while typing in the note box).
"""

from __future__ import annotations

import polars as pl
import sqlalchemy as sa
import streamlit as st

from carepulse.dashboard import ui
from carepulse.metrics.worklist_queue import QUEUE_STATES, patient_history
from carepulse.records import outreach

PICK = "wl_pick"


def _move(ids: list[str], step: int) -> None:
    current = st.session_state.get(PICK)
    index = ids.index(current) if current in ids else 0
    st.session_state[PICK] = ids[(index + step) % len(ids)]


def work_panel(
    display: pl.DataFrame,
    worklist: pl.DataFrame,
    *,
    user,
    engine: sa.Engine,
    departments: tuple[str, ...],
    may_record: bool,
    shows_contact: bool,
    flash_key: str,
) -> None:
    """The "Work an appointment" section under the worklist table."""
    st.subheader("Work an appointment")
    rows = {r["appointment_id"]: r for r in display.iter_rows(named=True)}
    ids = list(rows)

    def _label(appointment_id: str) -> str:
        # Stable per appointment (no rank): Streamlit matches the choice by this label, so a row
        # that leaves the list resets the box to the new first row, on screen too.
        r = rows[appointment_id]
        who = r.get("patient_name") or f"appointment {appointment_id}"
        return (
            f"{r['scheduled_start']:%a %d %b %H:%M} · {who} · {r['department']} · "
            f"{r['risk_pct']:.1f}% {r['risk_band']}"
        )

    nav = st.columns([1, 1, 6])
    nav[0].button(
        "Previous",
        key="wl_prev",
        icon=":material/arrow_upward:",
        shortcut="K",
        on_click=_move,
        args=(ids, -1),
    )
    nav[1].button(
        "Next", key="wl_next", icon=":material/arrow_downward:", shortcut="J", on_click=_move, args=(ids, 1)
    )
    nav[2].caption(
        "Keys: J next, K previous; 1 to 8 record the outcomes in the order shown ("
        + ", ".join(f"{i} {label}" for i, label in enumerate(outreach.OUTCOMES.values(), start=1))
        + ")."
    )
    picked = st.selectbox("Appointment", ids, format_func=_label, key=PICK)
    row = rows[picked]
    left, right = st.columns([3, 2])
    with left:
        reasons = [r for r in (row["reason_1"], row["reason_2"], row["reason_3"]) if r]
        st.markdown("**Why at risk:** " + ("; ".join(reasons) if reasons else "no single strong reason"))
        st.markdown(f"**Suggested action:** {row['suggested_action']}")
        if row.get("queue"):
            st.markdown(f"**Queue:** {row['queue']}")
        if row["last_outreach"]:
            st.markdown(f"**Last outreach for this patient:** {row['last_outreach']}")
        if row["outcome"]:
            st.markdown(
                f"**Latest outcome:** {row['outcome']} by {row['outcome_by']} at {row['outcome_at']:%Y-%m-%d %H:%M}"
            )
        if shows_contact:  # notes are free text and may name the patient: only roles that see patients
            history = patient_history(outreach.read_outcomes(engine, with_notes=True), row["patient_id"])
            with st.expander(
                f"Earlier outreach for this patient ({history.height})", expanded=history.height > 0
            ):
                if history.is_empty():
                    st.caption("No earlier outreach recorded.")
                else:
                    st.dataframe(
                        history.with_columns(pl.col("outcome").replace(outreach.OUTCOMES)),
                        hide_index=True,
                        column_config={
                            "recorded_at": st.column_config.DatetimeColumn("When", format="YYYY-MM-DD HH:mm"),
                            "outcome": "Outcome",
                            "recorded_by": "By",
                            "note": st.column_config.TextColumn("Note", width="large"),
                            "appointment_id": "Appointment",
                        },
                    )
    with right:
        st.markdown(f"**Assigned to:** {row['assigned_to'] or 'nobody'}")
        if may_record:
            _assign_buttons(worklist, picked, row, user, engine, departments, flash_key)
    if may_record:
        _outcome_form(picked, row, user, engine, departments, flash_key)
        _bulk_assign(worklist, rows, _label, user, engine, departments, flash_key)
    else:
        st.caption("Your role may view this list but not record outcomes.")


def _assign_buttons(worklist, picked, row, user, engine, departments, flash_key) -> None:
    if row["assigned_to"] != user.username and st.button("Assign to me", key="wl_assign_me", width="stretch"):
        outreach.assign(
            engine, [picked], assigned_to=user.username, assigned_by=user.username, departments=departments
        )
        st.session_state[flash_key] = "Added to your list."
        st.rerun()
    if row["assigned_to"] and st.button("Unassign", key="wl_unassign", width="stretch"):
        outreach.unassign(engine, [picked], unassigned_by=user.username, departments=departments)
        st.session_state[flash_key] = "Taken off the list."
        st.rerun()
    if st.button(
        "Take the next 10",
        key="wl_take10",
        help="Assign to you the 10 best-ranked unassigned rows of this view",
        width="stretch",
    ):
        free = worklist.filter(pl.col("assigned_to").is_null() & ~pl.col("worked")).head(10)
        n = outreach.assign(
            engine,
            free.get_column("appointment_id").to_list(),
            assigned_to=user.username,
            assigned_by=user.username,
            departments=departments,
        )
        st.session_state[flash_key] = f"{n} appointments added to your list."
        st.rerun()


def _outcome_form(picked, row, user, engine, departments, flash_key) -> None:
    with st.form("wl_outcome_form", clear_on_submit=True, border=True):
        note = st.text_area("Note (optional)", max_chars=outreach.NOTE_MAX, key="wl_note", height=80)
        st.caption(
            "Record what happened: one click (or its number key) saves it with your name and the time. "
            "No answer or a message left brings the patient back tomorrow as a retry."
        )
        grid = st.columns(2)
        clicked = None
        for index, (code, label) in enumerate(outreach.OUTCOMES.items()):
            if grid[index % 2].form_submit_button(
                label, key=f"wl_out_{code}", width="stretch", shortcut=str(index + 1)
            ):
                clicked = code
    if clicked:
        with ui.friendly_errors("record the outcome"):
            outreach.record_outcome(
                engine, picked, clicked, recorded_by=user.username, note=note, departments=departments
            )
            st.session_state[flash_key] = (
                f"Recorded '{outreach.OUTCOMES[clicked]}' for the visit on {row['scheduled_start']:%a %d %b %H:%M}."
            )
            st.rerun()


def _bulk_assign(worklist, rows, label, user, engine, departments, flash_key) -> None:
    from carepulse.access import accounts

    colleagues = sorted(
        u.username
        for u in accounts.list_users(engine)
        if u.role == "coordinator"
        and not getattr(u, "disabled", False)
        and set(u.departments or ()) & set(departments)
    )
    with st.expander("Assign several rows", icon=":material/group_add:"):
        with st.form("wl_bulk", clear_on_submit=True, border=False):
            chosen = st.multiselect("Rows", list(rows), format_func=label, key="wl_bulk_rows")
            to = st.selectbox("Assign to", colleagues or [user.username], key="wl_bulk_to")
            if st.form_submit_button("Assign", key="wl_bulk_go") and chosen:
                n = outreach.assign(
                    engine, chosen, assigned_to=to, assigned_by=user.username, departments=departments
                )
                st.session_state[flash_key] = f"{n} appointments assigned to {to}."
                st.rerun()


__all__ = ["QUEUE_STATES", "work_panel"]
