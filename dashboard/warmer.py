"""Keep the latest load ready: read and prepare it in the background as soon as it is committed.

The first page run after a new load reads the warehouse and prepares the frames (5.5 s at 1.06M
appointments). Under a real server (``carepulse serve``), one daemon thread per process and warehouse
looks for a new load run every :data:`POLL_SECONDS` and fills the same caches the pages read
(:func:`carepulse.dashboard.data.warm_latest`), so nobody waits for that read after the nightly load. A page
that asks while the thread is preparing waits for the same computation (``st.cache_resource`` locks
per key) instead of starting a second one. Nothing starts in a bare script (no runtime) or when the
setting ``dashboard_warm_up`` is off.
"""

from __future__ import annotations

import logging
import threading

import streamlit as st
from streamlit import runtime

from carepulse.dashboard import data

log = logging.getLogger("carepulse.dashboard")

#: Seconds between two looks for a new load run (one cheap ``max(run_id)`` query).
POLL_SECONDS = 30.0


def watch(url: str, *, poll_seconds: float = POLL_SECONDS, stop: threading.Event | None = None) -> None:
    """Warm each new load of ``url`` until ``stop`` is set (forever in a server)."""
    stop = stop or threading.Event()
    warmed = None
    while not stop.is_set():
        try:
            latest = data.warm_latest(url)
            if latest is not None and latest != warmed:
                log.info("load run %s prepared in the background", latest)
                warmed = latest
        except Exception as exc:
            log.warning(
                "background warm-up failed (%s); the next page run reads the warehouse itself",
                type(exc).__name__,
            )
        stop.wait(poll_seconds)


@st.cache_resource(show_spinner=False)
def _watcher(url: str) -> threading.Thread:
    # No ScriptRunContext on purpose: with one, the cached functions' spinners would write into the
    # session that started the thread, and stop the thread once that session's run ended.
    thread = threading.Thread(target=watch, args=(url,), name="carepulse-warmer", daemon=True)
    thread.start()
    return thread


def start() -> None:
    """Start the warm-up thread for the configured warehouse, once per server process (setting
    ``dashboard_warm_up``; the test suite turns it off: its AppTests run inside a runtime too)."""
    if runtime.exists() and data.settings().dashboard_warm_up:
        _watcher(data.warehouse_url())


__all__ = ["POLL_SECONDS", "start", "watch"]
