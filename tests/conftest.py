"""Shared fixtures: settings on a temporary data dir, SQLite and PostgreSQL warehouses.

PostgreSQL tests run against the server at 127.0.0.1:5432 (trust auth, database ``test``), each in a
schema of its own so parallel workers never meet. Where the server is unreachable they skip, except
under CI (``CI`` set), where they fail: CI must exercise PostgreSQL.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import pytest
import sqlalchemy as sa

from carepulse import schema, warehouse
from carepulse.settings import Settings, get_settings

PG_BASE_URL = "postgresql+psycopg://root@127.0.0.1:5432/test"


@pytest.fixture(autouse=True)
def _isolated_settings(tmp_path, monkeypatch):
    """Every test gets a fresh data dir and no stray environment configuration."""
    for key in list(os.environ):
        if key.startswith("CAREPULSE_"):
            monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("CAREPULSE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("CAREPULSE_SETTINGS_FILE", str(tmp_path / "carepulse.toml"))
    # AppTests run inside a Streamlit runtime: without this, every test's warehouse would get a
    # background warm-up thread (tests/test_dashboard_warmer.py drives the warm-up directly).
    monkeypatch.setenv("CAREPULSE_DASHBOARD_WARM_UP", "false")
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


@pytest.fixture
def settings(tmp_path) -> Settings:
    return get_settings()


@pytest.fixture
def sqlite_engine(settings) -> sa.Engine:
    engine = warehouse.make_engine(settings)
    schema.create_all(engine)
    yield engine
    engine.dispose()


def _pg_reachable() -> bool:
    try:
        eng = sa.create_engine(PG_BASE_URL)
        with eng.connect() as conn:
            conn.execute(sa.text("select 1"))
        eng.dispose()
        return True
    except Exception:
        return False


@pytest.fixture(scope="session")
def pg_available() -> bool:
    ok = _pg_reachable()
    if not ok and os.environ.get("CI"):
        pytest.fail("PostgreSQL at 127.0.0.1:5432 is unreachable under CI")
    return ok


@pytest.fixture
def pg_url(pg_available) -> str:
    """A URL whose search_path is a fresh, private schema (dropped afterwards)."""
    if not pg_available:
        pytest.skip("PostgreSQL at 127.0.0.1:5432 is not reachable")
    name = f"t_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(PG_BASE_URL)
    with admin.begin() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{name}"'))
    yield f"{PG_BASE_URL}?options=-csearch_path%3D{name}"
    with admin.begin() as conn:
        conn.execute(sa.text(f'DROP SCHEMA "{name}" CASCADE'))
    admin.dispose()


@pytest.fixture
def pg_engine(settings, pg_url) -> sa.Engine:
    engine = warehouse.make_engine(settings, url=pg_url)
    schema.create_all(engine)
    yield engine
    engine.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def engine(request, settings) -> sa.Engine:
    """The same test on both backends."""
    if request.param == "sqlite":
        return request.getfixturevalue("sqlite_engine")
    return request.getfixturevalue("pg_engine")


@pytest.fixture
def data_dir(settings) -> Path:
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    return settings.data_dir


@pytest.fixture(scope="session")
def synthetic_dir(tmp_path_factory) -> Path:
    """A small generated health system (~400 patients, 12 months, seed 7, as of 2026-06-30), shared."""
    import datetime as dt

    from carepulse.pipelines.synthetic import generate_health_system

    out = tmp_path_factory.mktemp("synthetic")
    generate_health_system(out, patients=400, months=12, seed=7, as_of=dt.date(2026, 6, 30))
    return out


@pytest.fixture(scope="session")
def loaded_sqlite_url(synthetic_dir, tmp_path_factory) -> str:
    """URL of a SQLite warehouse loaded from ``synthetic_dir`` (shared: open it read-only; copy it to write)."""
    from carepulse.pipelines.ingest import ingest

    data = tmp_path_factory.mktemp("loaded")
    session_settings = Settings(data_dir=data, database_url=f"sqlite:///{data / 'warehouse.sqlite'}")
    engine = warehouse.make_engine(session_settings)
    summary = ingest(synthetic_dir, engine=engine, settings=session_settings)
    engine.dispose()
    assert summary.status == "succeeded", summary.message
    return session_settings.warehouse_url


@pytest.fixture
def fast_password_hashing(monkeypatch):
    """Cheap argon2id parameters, so tests that sign in many times stay fast (same code path)."""
    from argon2 import PasswordHasher, Type

    from carepulse.access import passwords

    monkeypatch.setattr(
        passwords, "HASHER", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1, type=Type.ID)
    )
    return passwords.HASHER


@pytest.fixture(scope="session")
def scored_warehouse_file(request, tmp_path_factory) -> Path:
    """A SQLite warehouse loaded from ``synthetic_dir``, with a (small) trained model and a scoring run
    of the upcoming appointments (``score_upcoming``), built once per session; copy it before writing."""
    import sqlite3

    from carepulse.metrics.no_show_model import score_upcoming, train_model
    from carepulse.metrics.no_show_model.pipeline import ModelParams
    from tests.dashboard_support import loaded_warehouse_file

    source = loaded_warehouse_file(request, tmp_path_factory)
    folder = tmp_path_factory.mktemp("scored_wh")
    with sqlite3.connect(source) as src, sqlite3.connect(folder / "warehouse.sqlite") as dst:
        src.backup(dst)
    scoring_settings = Settings(data_dir=folder)
    engine = warehouse.make_engine(scoring_settings)
    schema.create_all(engine)
    train_model(engine, scoring_settings, params=ModelParams(max_iter=40))
    score_upcoming(engine, scoring_settings)
    engine.dispose()
    return folder / "warehouse.sqlite"


@pytest.fixture(scope="session")
def warehouse_file(request, tmp_path_factory) -> Path:
    """A SQLite warehouse loaded from ``synthetic_dir``, built once per session; copy it before writing."""
    from tests.dashboard_support import loaded_warehouse_file

    return loaded_warehouse_file(request, tmp_path_factory)


@pytest.fixture
def loaded_wh(settings, warehouse_file, fast_password_hashing) -> sa.Engine:
    """A private copy of :func:`warehouse_file` in this test's data dir, with fast password hashing."""
    from tests.dashboard_support import copy_warehouse

    copy_warehouse(warehouse_file, settings)
    engine = warehouse.make_engine(settings)
    yield engine
    engine.dispose()


@pytest.fixture
def deferred_downloads(monkeypatch) -> dict:
    """Download buttons' deferred callables, {file name: callable}, to run as a click would."""
    from tests.dashboard_support import capture_deferred_downloads

    return capture_deferred_downloads(monkeypatch)
