"""One ingest at a time per warehouse, and the next ingest tidies up after a killed one."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import sqlalchemy as sa

from carepulse import warehouse
from carepulse.pipelines import load_lock
from carepulse.pipelines.ingest import ingest
from carepulse.pipelines.load_lock import IngestRunning, exclusive_ingest

ROOT = Path(__file__).resolve().parents[1]
BASE = Path(__file__).parent / "corpus" / "files" / "base"


@pytest.fixture
def source(tmp_path) -> Path:
    return Path(shutil.copytree(BASE, tmp_path / "extracts"))


def test_a_second_ingest_stops_at_once_while_one_holds_the_warehouse(engine, source, settings):
    with exclusive_ingest(engine):
        with pytest.raises(IngestRunning, match="another ingest is loading this warehouse"):
            ingest(source, engine=engine, settings=settings)
    runs = warehouse.read_table(engine, "load_runs")
    assert runs.is_empty()  # refused before it recorded anything
    summary = ingest(source, engine=engine, settings=settings)  # the lock was released
    assert summary.status == "succeeded"


@pytest.mark.postgres
def test_postgres_lock_is_per_warehouse_schema(pg_url, tmp_path):
    """Two warehouses (schemas) in one database do not block each other; the same one does."""
    import uuid

    other = f"t_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(pg_url.split("?")[0])
    with admin.begin() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{other}"'))
    first, same = sa.create_engine(pg_url), sa.create_engine(pg_url)
    second = sa.create_engine(f"{pg_url.split('?')[0]}?options=-csearch_path%3D{other}")
    try:
        with exclusive_ingest(first):
            with exclusive_ingest(second):
                pass
            with pytest.raises(IngestRunning), exclusive_ingest(same):
                pass
        with exclusive_ingest(same):  # released at the end of the first block
            pass
    finally:
        for e in (first, same, second):
            e.dispose()
        with admin.begin() as conn:
            conn.execute(sa.text(f'DROP SCHEMA "{other}" CASCADE'))
        admin.dispose()


KILL_MID_MERGE = textwrap.dedent(
    """
    import os, signal, sys
    from pathlib import Path
    from carepulse.pipelines import load
    from carepulse import warehouse
    from carepulse.pipelines.ingest import ingest
    from carepulse.settings import get_settings

    real_merge = load.merge_extract

    def merge_then_get_killed(conn, extract, staged, staged_rows=0):
        real_merge(conn, extract, staged, staged_rows)
        if extract.name == "appointments":  # mid-transaction, staging on disk
            os.kill(os.getpid(), signal.SIGKILL)

    load.merge_extract = merge_then_get_killed
    settings = get_settings()
    ingest(Path(sys.argv[1]), engine=warehouse.make_engine(settings), settings=settings)
    """
)


def test_the_next_ingest_marks_a_killed_run_interrupted_and_removes_its_staging(source, settings, tmp_path):
    env = {**os.environ, "CAREPULSE_DATA_DIR": str(settings.data_dir), "PYTHONPATH": str(ROOT)}
    env.pop("CAREPULSE_DATABASE_URL", None)
    killed = subprocess.run(
        [sys.executable, "-c", KILL_MID_MERGE, str(source)],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert killed.returncode == -9, killed.stderr[-2000:]

    engine = warehouse.make_engine(settings)
    runs = warehouse.read_table(engine, "load_runs")
    assert runs["status"].to_list() == ["running"]
    killed_run = runs["run_id"][0]
    staging = settings.data_dir / "staging" / f"run-{killed_run}"
    assert list(staging.glob("*.sqlite"))  # left behind by the killed process
    with engine.connect() as conn:  # its transaction never committed: nothing was loaded
        assert conn.execute(sa.text("SELECT count(*) FROM appointments")).scalar() == 0

    summary = ingest(source, engine=engine, settings=settings)
    assert summary.status == "succeeded"
    runs = warehouse.read_table(engine, "load_runs").sort("run_id")
    assert runs["status"].to_list() == ["interrupted", "succeeded"]
    assert runs["message"][0] == load_lock.INTERRUPTED_MESSAGE
    assert not staging.exists()
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM appointments")).scalar() > 0
    engine.dispose()
