"""The dashboard server's own HTTP routes, beside Streamlit's: the session cookie and guarded downloads.

A Streamlit script cannot set an HttpOnly cookie (it talks to the browser over a websocket), but the
server that runs it can: ``carepulse serve`` starts ``dashboard/server.py``, an ``st.App`` that mounts
these routes. ``/carepulse/session/start`` redeems a sign-in's one-time handoff token for the signed
session cookie (HttpOnly, SameSite=Strict, Secure over TLS); ``/carepulse/session/end`` clears it.

Streamlit serves every ``st.download_button`` file at ``/media/<hash>``, which on its own answers
anyone who has the link. :class:`GuardedMedia` (mounted as middleware) lets a ``/media/`` request
through only with a live session cookie, and a download only for a role that may export; it audits
each download fetched (``export.fetch``) and each refusal (``access.denied``), and drops the file from
the server seconds after its first fetch, so a copied link is worth nothing. The logic lives in
:mod:`carepulse.access`; these functions only speak HTTP.
"""

from __future__ import annotations

import functools
import re
from datetime import timedelta

import sqlalchemy as sa
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from carepulse import schema, warehouse
from carepulse.access import accounts, audit, roles, sessions
from carepulse.settings import get_settings

PREFIX = "/carepulse"
SESSION_START = f"{PREFIX}/session/start"
SESSION_END = f"{PREFIX}/session/end"
#: Set by ``dashboard/server.py`` when the routes are mounted: only then do pages send browsers to them.
installed = {"routes": False}

_SAFE_NEXT = re.compile(r"^/[A-Za-z0-9_\-]*$")
_NO_STORE = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}


@functools.cache
def _engine(url: str) -> sa.Engine:
    engine = warehouse.make_engine(get_settings(), url=url)
    schema.create_all(engine)
    return engine


def engine() -> sa.Engine:
    return _engine(get_settings().warehouse_url)


def timeouts() -> tuple[timedelta, timedelta]:
    """(idle, absolute) session time-outs from the settings."""
    settings = get_settings()
    return timedelta(minutes=settings.session_timeout_minutes), timedelta(
        hours=settings.session_absolute_hours
    )


def _next_path(request: Request) -> str:
    """Where to go after the cookie is set: a page path of this app only (no open redirect)."""
    wanted = request.query_params.get("next") or "/"
    return wanted if _SAFE_NEXT.match(wanted) else "/"


def start_session(request: Request) -> Response:
    """Redeem a handoff token (once, within a minute) and set the session cookie."""
    token = sessions.redeem_handoff(engine(), request.query_params.get("handoff"))
    response = RedirectResponse(_next_path(request), status_code=303, headers=_NO_STORE)
    if token is not None:
        response.set_cookie(
            sessions.COOKIE_NAME,
            sessions.sign(token),
            max_age=int(timeouts()[1].total_seconds()),
            path="/",
            secure=request.url.scheme == "https",
            httponly=True,
            samesite="strict",
        )
    return response


def end_session(request: Request) -> Response:
    """Clear the cookie (the server-side session was already revoked by the sign-out)."""
    response = RedirectResponse("/", status_code=303, headers=_NO_STORE)
    response.delete_cookie(
        sessions.COOKIE_NAME, path="/", secure=request.url.scheme == "https", httponly=True, samesite="strict"
    )
    return response


MEDIA_PREFIX = "/media/"


def _downloadable(file_name: str) -> bool | None:
    """Whether the stored media file is a download (None: no such file). Streamlit's storage has no
    public accessor from outside its own route, hence the runtime's attributes."""
    try:
        from streamlit.runtime import Runtime
        from streamlit.runtime.media_file_storage import MediaFileKind

        stored = Runtime.instance().media_file_mgr._storage.get_file(file_name)  # type: ignore[attr-defined]
    except Exception:
        return None
    return stored.kind == MediaFileKind.DOWNLOADABLE


def _drop(file_name: str) -> None:
    from contextlib import suppress

    with suppress(Exception):
        from streamlit.runtime import Runtime

        Runtime.instance().media_file_mgr._storage.delete_file(file_name.rsplit(".", 1)[0])


def media_verdict(cookies: dict[str, str], file_name: str) -> tuple[str | None, str | None]:
    """(username, refusal): who may fetch this media file, or why not (refusals are audited)."""
    idle, absolute = timeouts()
    session = sessions.session_for_request(engine(), cookies, idle=idle, absolute=absolute)
    if session is None:
        audit.record(engine(), None, "access.denied", target="download", detail={"reason": "no session"})
        return None, "Sign in to CarePulse to download this file."
    if _downloadable(file_name):
        user = accounts.get_user(engine(), session.username)
        if (
            user is None
            or user.disabled
            or not any(p.startswith("export:") for p in roles.permissions_for(user.role))
        ):
            audit.record(
                engine(), session.username, "access.denied", target="download", detail={"reason": "role"}
            )
            return None, "Your role may not download files."
    return session.username, None


#: Seconds a fetched download stays on the server: Chromium's download manager may ask twice.
FETCH_GRACE_SECONDS = 5.0


def fetched(username: str, file_name: str) -> None:
    """Audit a download the browser fetched, and drop it from the server a few seconds later (the
    link then answers 404, whoever asks)."""
    import threading

    audit.record(engine(), username, "export.fetch", target=file_name)
    timer = threading.Timer(FETCH_GRACE_SECONDS, _drop, args=(file_name,))
    timer.daemon = True
    timer.start()


class GuardedMedia:
    """ASGI middleware over Streamlit's ``/media/`` route: session and role checked, fetch audited."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] != "http" or not path.startswith(MEDIA_PREFIX):
            await self.app(scope, receive, send)
            return
        file_name = path[len(MEDIA_PREFIX) :]
        username, refusal = await run_in_threadpool(media_verdict, Request(scope).cookies, file_name)
        if refusal is not None or username is None:
            await PlainTextResponse(refusal or "Refused.", status_code=403, headers=_NO_STORE)(
                scope, receive, send
            )
            return
        attachment = {"yes": False}

        async def sending(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = dict(message.get("headers", []))
                attachment["yes"] = message["status"] == 200 and b"attachment" in headers.get(
                    b"content-disposition", b""
                )
                message["headers"] = [*message.get("headers", []), (b"cache-control", b"no-store")]
            await send(message)

        await self.app(scope, receive, sending)
        if attachment["yes"] and scope.get("method") == "GET":
            await run_in_threadpool(fetched, username, file_name)


def all_routes() -> list[Route]:
    """Every CarePulse route, for ``st.App(routes=...)``."""
    return [
        Route(SESSION_START, start_session, methods=["GET"]),
        Route(SESSION_END, end_session, methods=["GET"]),
    ]


__all__ = ["SESSION_END", "SESSION_START", "GuardedMedia", "all_routes", "installed"]
