"""Helpers shared by the dashboard tests: a loaded warehouse per test and a signed-in AppTest."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from carepulse import schema, warehouse
from carepulse.access import accounts

APP = str(Path(__file__).resolve().parents[1] / "dashboard" / "app.py")
PASSWORD = "a sound passphrase for tests"


def loaded_warehouse_file(request, tmp_path_factory) -> Path:
    """Path of a SQLite warehouse loaded from the shared synthetic system (built once per session)."""
    try:
        url = request.getfixturevalue("loaded_sqlite_url")
        return Path(url.split("///", 1)[1])
    except pytest.FixtureLookupError:
        pass
    from carepulse.pipelines.ingest import ingest
    from carepulse.settings import Settings

    synthetic_dir = request.getfixturevalue("synthetic_dir")
    folder = tmp_path_factory.mktemp("dashboard_wh")
    settings = Settings(data_dir=folder)
    engine = warehouse.make_engine(settings)
    schema.create_all(engine)
    ingest(synthetic_dir, engine=engine, settings=settings)
    engine.dispose()
    return folder / "warehouse.sqlite"


def copy_warehouse(source: Path, settings) -> None:
    """A private copy of ``source`` at the settings' warehouse path (tests may write to it)."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    target = settings.data_dir / "warehouse.sqlite"
    with sqlite3.connect(source) as src, sqlite3.connect(target) as dst:
        src.backup(dst)


def create_account(engine, role: str, *, username: str | None = None, departments: str | None = None) -> str:
    """A fresh account (a unique name unless given, so tests can share one warehouse)."""
    import uuid

    username = username or f"t_{role}_{uuid.uuid4().hex[:8]}"
    accounts.create_user(engine, username, role, PASSWORD, actor="test", departments=departments)
    return username


def signed_in_as(
    username: str,
    *,
    app: str = APP,
    password: str = PASSWORD,
    timeout: float = 60,
    query_params: dict | None = None,
) -> AppTest:
    """``app`` (the router unless given) signed in through the sign-in form as an existing account."""
    at = AppTest.from_file(app, default_timeout=timeout)
    for key, value in (query_params or {}).items():
        at.query_params[key] = value
    at.run()
    at.text_input(key="signin_username").input(username)
    at.text_input(key="signin_password").input(password)
    at.button[0].click()
    return at.run()


def signed_in_app(
    engine,
    role: str,
    *,
    query_params: dict | None = None,
    username: str | None = None,
    departments: str | None = None,
    timeout: float = 60,
) -> AppTest:
    """The router, signed in through the sign-in form as a fresh account of ``role``."""
    username = create_account(engine, role, username=username, departments=departments)
    return signed_in_as(username, timeout=timeout, query_params=query_params)


def problems(at: AppTest) -> list[str]:
    """Exceptions and error boxes on the current page (should be none)."""
    return [str(e.value) for e in at.exception] + [str(e.value) for e in at.error]


def rendered_text(at: AppTest) -> str:
    """Everything an AppTest run rendered: element protos, table cells and chart specs."""
    parts: list[str] = []

    def walk(node) -> None:
        for child in getattr(node, "children", {}).values():
            walk(child)
        if getattr(node, "type", None) == "arrow_data_frame":
            parts.append(node.value.to_csv())
        proto = getattr(node, "proto", None)
        if proto is not None:
            parts.append(str(proto))

    walk(at._tree)
    return "\n".join(parts)


def capture_deferred_downloads(monkeypatch) -> dict:
    """Download buttons' deferred callables, filled as pages render: {file name: callable}, to run as a
    click would (the ``deferred_downloads`` fixture in conftest.py)."""
    from streamlit.runtime.media_file_manager import MediaFileManager

    captured: dict = {}
    real = MediaFileManager.add_deferred

    def spy(self, data_callable, mimetype, coordinates, file_name=None, **kwargs):
        captured[file_name] = data_callable
        return real(self, data_callable, mimetype, coordinates, file_name=file_name, **kwargs)

    monkeypatch.setattr(MediaFileManager, "add_deferred", spy)
    return captured


def tiles(at: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def use_warehouse_dir(monkeypatch, data_dir: Path) -> None:
    """Point the settings (and so the app) at ``data_dir`` for this test."""
    from carepulse.settings import get_settings

    monkeypatch.setenv("CAREPULSE_DATA_DIR", str(data_dir))
    get_settings.cache_clear()
