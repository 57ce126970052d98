"""Sign-in before any page renders, automatic log-off after inactivity, and sign-out.

``require_user()`` is the first call of the router and of every page: it returns the signed-in
:class:`~carepulse.access.User`, or draws the sign-in form and stops the script, so nothing else
of the app runs for an anonymous visitor. Built-in accounts always work; single sign-on
(``st.login``, OIDC) is offered when ``.streamlit/secrets.toml`` configures a provider, and the
identity's e-mail or groups map to a role through ``settings.oidc_role_map``.

A password sign-in opens a server-side session (:mod:`carepulse.access.sessions`) and, under
``carepulse serve``, sends the browser once through ``/carepulse/session/start`` for a signed
HttpOnly, SameSite=Strict cookie: a reload then resumes the session instead of asking again. Every
run re-checks the session row, so sign-out, a disabled account and the idle and absolute time-outs
end it on the server at once. Every rerun (a click) counts as activity; a sidebar fragment
re-checks the clock every minute so an idle screen is cleared even without a click. Sign-in,
resumption, failures and log-offs are audited.
"""

from __future__ import annotations

import contextlib
from datetime import timedelta

import sqlalchemy as sa
import streamlit as st

from carepulse import schema, warehouse
from carepulse.access import accounts, audit, oidc, phi, sessions
from carepulse.access.accounts import AuthenticationError, User
from carepulse.settings import get_settings

USER_KEY = "carepulse_user"
LAST_ACTIVITY_KEY = "carepulse_last_activity"
NOTICE_KEY = "carepulse_signin_notice"
_SSO_FAILURE_KEY = "carepulse_sso_failure_audited"
_VIEWED_KEY = "carepulse_audited_views"
SESSION_ID_KEY = "carepulse_session_id"
_HANDOFF_KEY = "carepulse_session_handoff"
_CLEAR_COOKIE_KEY = "carepulse_clear_cookie"


def now():
    """The clock (naive UTC), a function so tests can move it."""
    return audit.utcnow()


@st.cache_resource(show_spinner=False)
def _engine(url: str) -> sa.Engine:
    """One engine per warehouse URL, with the account and audit tables present."""
    engine = warehouse.make_engine(get_settings(), url=url)
    schema.create_all(engine)
    return engine


def engine() -> sa.Engine:
    return _engine(get_settings().warehouse_url)


def _auth_section() -> dict | None:
    try:
        section = st.secrets.get("auth")
    except Exception:  # no secrets file at all
        return None
    if section is None:
        return None
    return section.to_dict() if hasattr(section, "to_dict") else section


def require_user() -> User:
    """The signed-in user; otherwise the sign-in form, then ``st.stop()``."""
    phi.install_log_redaction()
    settings = get_settings()
    user: User | None = st.session_state.get(USER_KEY)
    ended = False
    if user is not None:
        idle = now() - st.session_state.get(LAST_ACTIVITY_KEY, now())
        if idle > timedelta(minutes=settings.session_timeout_minutes):
            minutes = settings.session_timeout_minutes
            _end_session(user, "signout.timeout", {"idle_minutes": int(idle.total_seconds() // 60)})
            st.session_state[NOTICE_KEY] = f"You were signed out after {minutes} minutes without activity."
            user, ended = None, True
        else:
            user = _refreshed(user)
            ended = user is None
        if user is not None and not _session_live():
            _end_session(user, "signout", {"reason": "session ended"})
            st.session_state[NOTICE_KEY] = "Your session has ended. Please sign in again."
            user, ended = None, True
    if user is None and not ended:
        user = _resumed()
    providers = oidc.configured_providers(_auth_section())
    if user is None and not ended and providers and _sso_logged_in():
        user = _sso_signin(settings)
    if user is None:
        _hide_navigation()
        _signin_page(providers)
        st.stop()
    st.session_state[LAST_ACTIVITY_KEY] = now()
    _issue_cookie(user)
    _sidebar(user)
    return user


def _timeouts() -> tuple[timedelta, timedelta]:
    settings = get_settings()
    return timedelta(minutes=settings.session_timeout_minutes), timedelta(
        hours=settings.session_absolute_hours
    )


def _session_live() -> bool:
    """Whether this browser session's server-side session (if it has one) is still live."""
    session_id = st.session_state.get(SESSION_ID_KEY)
    if session_id is None:
        return True  # single sign-on, or a session from before the table existed
    return sessions.check(engine(), session_id, idle=_timeouts()[0], now=now()) is not None


def _resumed() -> User | None:
    """The user of a valid session cookie (a reload or a new tab), or None."""
    idle, absolute = _timeouts()
    found = sessions.resume(
        engine(), st.context.cookies.get(sessions.COOKIE_NAME), idle=idle, absolute=absolute, now=now()
    )
    if found is None:
        return None
    current = accounts.get_user(engine(), found.username)
    if current is None or current.disabled:
        sessions.revoke(engine(), found.session_id, "account disabled")
        return None
    user = User(**{**current.__dict__, "method": "password"})
    audit.record(engine(), user.username, "session.resume", detail={"method": "cookie"})
    _start_session(user)
    st.session_state[SESSION_ID_KEY] = found.session_id
    return user


def _go_to(path: str) -> None:
    """Send the browser to one of the server's own routes (only under ``carepulse serve``)."""
    st.html(f"<script>window.location.replace({path!r});</script>", unsafe_allow_javascript=True)


def _issue_cookie(user: User) -> None:
    """Right after a password sign-in: fetch the session cookie through the server's route, which
    answers with Set-Cookie and sends the browser back to the page it was on."""
    from carepulse.dashboard import routes
    from carepulse.dashboard.pages import allowed_pages, requested_path

    handoff = st.session_state.pop(_HANDOFF_KEY, None)
    if handoff is not None and routes.installed["routes"]:
        page = requested_path(st.context.url)
        pages = allowed_pages(user.role)
        # Streamlit serves the default (first) page at "/" only: its own name would be "not found".
        next_path = "/" if page is None or (pages and page == pages[0].url_path) else "/" + page
        _go_to(f"{routes.SESSION_START}?handoff={handoff}&next={next_path}")


def _refreshed(user: User) -> User | None:
    """The session's user as the account is now: a disabled account ends the session, a changed
    role or department list takes effect on the next click."""
    current = accounts.get_user(engine(), user.username)
    if current is None:
        if user.method == "sso":
            return user
        _end_session(user, "signout", {"reason": "account removed"})
        return None
    if current.disabled:
        _end_session(user, "signout", {"reason": "account disabled"})
        st.session_state[NOTICE_KEY] = "Your account has been disabled. Ask an administrator."
        return None
    fresh = User(**{**current.__dict__, "method": user.method})
    st.session_state[USER_KEY] = fresh
    return fresh


def _start_session(user: User) -> None:
    st.session_state[USER_KEY] = user
    st.session_state[LAST_ACTIVITY_KEY] = now()
    st.session_state.pop(NOTICE_KEY, None)


def _end_session(user: User, action: str, detail: dict | None = None) -> None:
    """Audit the log-off and forget everything the session held (filters, selections, notes)."""
    audit.record(engine(), user.username, action, detail={"method": user.method, **(detail or {})})
    session_id = st.session_state.get(SESSION_ID_KEY)
    if session_id is not None:
        sessions.revoke(engine(), session_id, action)
    for key in list(st.session_state.keys()):
        with contextlib.suppress(Exception):
            del st.session_state[key]
    if user.method == "sso" and _sso_logged_in():
        st.logout()  # otherwise the identity cookie would sign the user straight back in
    return None


def sign_out() -> None:
    """End the session now (the sidebar button)."""
    user = st.session_state.get(USER_KEY)
    if user is not None:
        _end_session(user, "signout")
        st.session_state[_CLEAR_COOKIE_KEY] = True
    st.rerun()


def _sso_logged_in() -> bool:
    try:
        return st.user.get("is_logged_in") is True
    except Exception:
        return False


def _sso_signin(settings) -> User | None:
    identity = st.user.to_dict()
    role = oidc.role_for_identity(
        identity,
        settings.oidc_role_map,
        groups_claim=settings.oidc_groups_claim,
        default_role=settings.oidc_default_role,
    )
    email = oidc.identity_email(identity)
    name = identity.get("name")
    user = (
        accounts.sso_user(engine(), email, role, name=name if isinstance(name, str) else None)
        if email
        else None
    )
    if user is None:
        if not st.session_state.get(_SSO_FAILURE_KEY):
            audit.record(engine(), email, "signin.failed", detail={"method": "sso", "reason": "no role"})
            st.session_state[_SSO_FAILURE_KEY] = True
        st.error("Your single sign-on identity has no CarePulse role. Ask an administrator to grant one.")
        if st.button("Sign out of single sign-on"):
            st.session_state.pop(_SSO_FAILURE_KEY, None)
            st.logout()
        st.stop()
    audit.record(engine(), user.username, "signin", detail={"method": "sso", "role": user.role})
    _start_session(user)
    return user


def _no_page() -> None:
    """The only page an anonymous visitor's navigation holds (the sign-in form is drawn outside it)."""


def _hide_navigation() -> None:
    """Replace the menu a previous run drew (after sign-out or log-off) with one hidden sign-in page,
    so no page name or address reaches a signed-out browser. The address the browser asked for (it
    knows it already) gets the same sign-in, so a bookmark lands on the form, not on "page not found"."""
    from carepulse.dashboard.pages import requested_path

    asked = requested_path(st.context.url)
    pages = [st.Page(_no_page, title="Sign in", url_path="signin", default=True)]
    if asked is not None and asked != "signin":
        pages.append(st.Page(_no_page, title="Sign in", url_path=asked))
    st.navigation(pages, position="hidden")


def refusal_page(user: User, title: str, url_path: str):
    """A page that says the role may not open ``title`` and audits the attempt (``access.denied``),
    once per browser session and page."""

    def refused() -> None:
        st.title(title)
        st.error(
            f"Your role ({user.role}) does not allow this page. "
            "Ask an administrator if you need it; this attempt has been recorded."
        )
        seen: set = st.session_state.setdefault("carepulse_audited_denials", set())
        if url_path not in seen:
            audit.record(
                engine(),
                user.username,
                "access.denied",
                target=url_path,
                detail={"via": "address", "role": user.role},
            )
            seen.add(url_path)

    refused.__name__ = f"refused_{url_path.replace('-', '_')}"
    return refused


def _signin_page(providers: list[str | None]) -> None:
    st.title("CarePulse")
    st.subheader("Sign in")
    from carepulse.dashboard import routes

    if st.session_state.pop(_CLEAR_COOKIE_KEY, False) and routes.installed["routes"]:
        _go_to(routes.SESSION_END)  # the session is already revoked; this drops the dead cookie
    notice = st.session_state.pop(NOTICE_KEY, None)
    if notice:
        st.info(notice)
    with st.form("carepulse_signin", clear_on_submit=True, enter_to_submit=True):
        username = st.text_input("Username", key="signin_username", autocomplete="username")
        password = st.text_input(
            "Password", type="password", key="signin_password", autocomplete="current-password"
        )
        submitted = st.form_submit_button("Sign in", type="primary")
    if submitted:
        try:
            user = accounts.authenticate(engine(), username, password)
        except AuthenticationError as exc:
            st.error(str(exc))
        else:
            _start_session(user)
            idle, absolute = _timeouts()
            opened = sessions.open_session(engine(), user.username, absolute=absolute, now=now())
            st.session_state[SESSION_ID_KEY] = opened.session_id
            st.session_state[_HANDOFF_KEY] = opened.handoff
            st.rerun()
    for provider in providers:
        label = "Sign in with single sign-on" if provider is None else f"Sign in with {provider.title()}"
        if st.button(label, key=f"sso_{provider or 'default'}"):
            if provider:
                st.login(provider)
            else:
                st.login()
    st.caption("Sessions end after inactivity. Access is recorded in the audit trail.")


def _sidebar(user: User) -> None:
    with st.sidebar:
        st.caption(f"Signed in as **{user.label}** ({user.role})")
        if st.button("Sign out", key="carepulse_sign_out", icon=":material/logout:"):
            sign_out()
        _idle_watch()


def _check_interval() -> timedelta:
    minutes = get_settings().session_timeout_minutes
    return timedelta(seconds=max(5, min(60, minutes * 15)))


@st.fragment(run_every=_check_interval())
def _idle_watch() -> None:
    """Re-check the inactivity clock every minute; on expiry rerun the app, which signs out."""
    last = st.session_state.get(LAST_ACTIVITY_KEY)
    if last is not None and now() - last > timedelta(minutes=get_settings().session_timeout_minutes):
        st.rerun(scope="app")


def record_view(user: User, page: str, *, rows: int | None = None, detail: dict | None = None) -> None:
    """Audit that ``user`` viewed patient data on ``page``: once per session per page and detail
    (e.g. the filters), not on every click."""
    key = (page, repr(sorted((detail or {}).items())))
    seen: set = st.session_state.setdefault(_VIEWED_KEY, set())
    if key in seen:
        return
    audit.record(engine(), user.username, "page.view", target=page, detail=detail, rows=rows)
    seen.add(key)
