"""Administration: accounts and roles, and the audit trail (browse, filter, export).

Admins only (``page:admin``), checked here on the server whatever the navigation showed. Every
change goes through :mod:`carepulse.access.accounts`, which audits it; generated passwords are
shown once and never stored in the session.
"""

from __future__ import annotations

import datetime as dt

import polars as pl
import streamlit as st

from carepulse.access import accounts, audit, passwords, roles
from carepulse.dashboard import data, signin, ui
from carepulse.errors import CarePulseError

user = ui.require("page:admin")
engine = signin.engine()

st.title("Administration")
users_tab, audit_tab = st.tabs(["Users", "Audit log"])


def department_options() -> list[str]:
    """Department ids from the latest load (empty before the first load)."""
    try:
        frame = data.system_table("departments", columns=("department_id",))
    except Exception:  # nothing loaded yet
        return []
    return sorted(frame["department_id"].to_list())


def users_frame(now: dt.datetime) -> pl.DataFrame:
    rows = [
        {
            "username": u.username,
            "name": u.display_name,
            "email": u.email,
            "role": u.role,
            "departments": ", ".join(u.departments),
            "status": "disabled"
            if u.disabled
            else "locked"
            if u.locked_until and u.locked_until > now
            else "active",
            "last sign-in (UTC)": u.last_login_at,
        }
        for u in accounts.list_users(engine)
    ]
    schema: dict[str, pl.DataType] = {
        "username": pl.String(),
        "name": pl.String(),
        "email": pl.String(),
        "role": pl.String(),
        "departments": pl.String(),
        "status": pl.String(),
        "last sign-in (UTC)": pl.Datetime("us"),
    }
    return pl.DataFrame(rows, schema=schema)


def show_result(message: str, password: str | None = None) -> None:
    st.success(message)
    if password:
        st.warning(f"Password (shown once, copy it now): `{password}`")


with users_tab:
    st.dataframe(users_frame(audit.utcnow()), hide_index=True, key="admin_users")
    depts = department_options()

    with st.expander("Add a user", icon=":material/person_add:"):
        with st.form("admin_add_user", clear_on_submit=True):
            new_username = st.text_input("Username", key="admin_new_username")
            new_name = st.text_input("Name", key="admin_new_name")
            new_email = st.text_input("Staff e-mail (optional)", key="admin_new_email")
            new_role = st.selectbox(
                "Role",
                roles.ROLES,
                key="admin_new_role",
                format_func=lambda r: f"{r}: {roles.ROLE_DESCRIPTIONS[r]}",
            )
            new_depts = st.multiselect("Departments (coordinators)", depts, key="admin_new_departments")
            sso_only = st.checkbox("Single sign-on only (no password)", key="admin_new_sso_only")
            add = st.form_submit_button("Add user", type="primary")
        if add:
            password = None if sso_only else passwords.generate_password()
            try:
                created = accounts.create_user(
                    engine,
                    new_username.strip(),
                    new_role,
                    password,
                    actor=user.username,
                    display_name=new_name.strip() or None,
                    email=new_email.strip() or None,
                    departments=new_depts,
                )
            except CarePulseError as exc:
                st.error(str(exc))
            else:
                show_result(f"Created {created.username} ({created.role}).", password)

    names = [u.username for u in accounts.list_users(engine)]
    if names:
        st.subheader("Change a user")
        target_name = st.selectbox("User", names, key="admin_target")
        target = accounts.get_user(engine, target_name)
        assert target is not None  # chosen from the accounts just listed
        is_self = target.username == user.username
        if is_self:
            st.caption("You cannot change your own role or disable yourself; ask another administrator.")
        left, right = st.columns(2)
        with left:
            role = st.selectbox(
                "Role", roles.ROLES, index=roles.ROLES.index(target.role), key="admin_role", disabled=is_self
            )
            if st.button("Save role", key="admin_save_role", disabled=is_self or role == target.role):
                accounts.set_role(engine, target.username, role, actor=user.username)
                show_result(f"{target.username} is now {role}.")
            chosen = st.multiselect(
                "Departments",
                sorted(set(depts) | set(target.departments)),
                default=list(target.departments),
                key=f"admin_depts_{target.username}",
            )
            if st.button("Save departments", key="admin_save_departments"):
                accounts.set_departments(engine, target.username, chosen, actor=user.username)
                show_result(f"Departments of {target.username}: {', '.join(chosen) or 'none'}.")
        with right:
            if target.disabled:
                if st.button("Enable", key="admin_enable"):
                    accounts.enable_user(engine, target.username, actor=user.username)
                    show_result(f"{target.username} is enabled.")
            elif st.button("Disable", key="admin_disable", disabled=is_self, type="secondary"):
                accounts.disable_user(engine, target.username, actor=user.username)
                show_result(f"{target.username} is disabled; their open sessions end on their next click.")
            if st.button("Reset password", key="admin_reset_password"):
                new_password = passwords.generate_password()
                accounts.reset_password(engine, target.username, new_password, actor=user.username)
                show_result(f"Password of {target.username} reset; the account is unlocked.", new_password)

with audit_tab:
    st.caption("Who did what and when (UTC). The trail is append-only; details never carry PHI.")
    c1, c2, c3 = st.columns(3)
    who = c1.selectbox("User", ["(everyone)", *names], key="admin_audit_user")
    action = c2.selectbox("Action", ["(all)", *audit.audit_actions(engine)], key="admin_audit_action")
    today = audit.utcnow().date()
    period = c3.date_input("Dates", (today - dt.timedelta(days=7), today), key="admin_audit_dates")
    dates = list(period) if isinstance(period, tuple | list) else [period]
    start, end = (dates[0], dates[-1]) if dates else (None, None)
    trail = audit.list_audit(
        engine,
        username=None if who == "(everyone)" else who,
        action=None if action == "(all)" else action,
        since=start,
        until=end + dt.timedelta(days=1) if end else None,
    )
    st.caption(f"{trail.height:,} entries (newest first; at most 5,000 shown).")
    ui.table(trail, "audit_log", user, key="admin_audit")
