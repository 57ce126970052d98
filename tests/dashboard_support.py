"""Helpers shared by the dashboard tests: a loaded warehouse per test and a signed-in AppTest."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from pipelines import schema, warehouse
from pipelines.access import accounts

APP = str(Path(__file__).resolve().parents[1] / "dashboard" / "app.py")
PASSWORD = "a sound passphrase for tests"


def loaded_warehouse_file(request, tmp_path_factory) -> Path:
    """Path of a SQLite warehouse loaded from the shared synthetic system (built once per session)."""
    try:
        url = request.getfixturevalue("loaded_sqlite_url")
        return Path(url.split("///", 1)[1])
    except pytest.FixtureLookupError:
        pass
    from pipelines.ingest import ingest
    from pipelines.settings import Settings

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


def signed_in_app(engine, role: str, *, query_params: dict | None = None, username: str | None = None) -> AppTest:
    """The router, signed in through the sign-in form as a fresh account of ``role``."""
    username = create_account(engine, role, username=username)
    at = AppTest.from_file(APP, default_timeout=60)
    for key, value in (query_params or {}).items():
        at.query_params[key] = value
    at.run()
    at.text_input(key="signin_username").input(username)
    at.text_input(key="signin_password").input(PASSWORD)
    at.button[0].click()
    return at.run()


def problems(at: AppTest) -> list[str]:
    """Exceptions and error boxes on the current page (should be none)."""
    return [str(e.value) for e in at.exception] + [str(e.value) for e in at.error]


def tiles(at: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def use_warehouse_dir(monkeypatch, data_dir: Path) -> None:
    """Point the settings (and so the app) at ``data_dir`` for this test."""
    from pipelines.settings import get_settings

    monkeypatch.setenv("CAREPULSE_DATA_DIR", str(data_dir))
    get_settings.cache_clear()
