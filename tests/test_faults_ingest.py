"""Failures rehearsed (issue 16 item 8): a killed ingest on SQLite and PostgreSQL, a full disk, a
corrupt or truncated warehouse file. Each leaves the warehouse as it was and says what happened."""

from __future__ import annotations

import errno
import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa

from carepulse import schema, warehouse
from carepulse.pipelines import load
from carepulse.pipelines.ingest import ingest
from tests.test_load_lock import BASE, KILL_MID_MERGE, ROOT


def checksums(engine: sa.Engine) -> dict[str, tuple[int, str]]:
    """(row count, SHA-256 of every row in key order) for every warehouse table but ``load_runs`` (a
    killed run's ``running`` row is committed at its start, by design, so it stays visible)."""
    out: dict[str, tuple[int, str]] = {}
    with engine.connect() as conn:
        for table in schema.metadata.sorted_tables:
            if table.name == "load_runs":
                continue
            order = list(table.primary_key.columns) or list(table.columns)
            digest, count = hashlib.sha256(), 0
            for row in conn.execute(sa.select(table).order_by(*order)):
                digest.update(repr(tuple(row)).encode())
                count += 1
            out[table.name] = (count, digest.hexdigest())
    return out


def _changed_source(tmp_path: Path) -> Path:
    """The base extracts with one appointment's duration changed: the second load has work to do."""
    source = Path(shutil.copytree(BASE, tmp_path / "extracts2"))
    path = source / "appointments.csv"
    lines = path.read_text().splitlines(keepends=True)
    assert ",30,completed," in lines[1]
    lines[1] = lines[1].replace(",30,completed,", ",40,completed,", 1)
    path.write_text("".join(lines))
    return source


def test_kill_9_mid_merge_leaves_every_table_as_it_was(engine: sa.Engine, settings, tmp_path) -> None:
    first = Path(shutil.copytree(BASE, tmp_path / "extracts"))
    assert ingest(first, engine=engine, settings=settings).status == "succeeded"
    before = checksums(engine)
    assert before["appointments"][0] > 0

    env = {**os.environ, "CAREPULSE_DATA_DIR": str(settings.data_dir), "PYTHONPATH": str(ROOT)}
    env["CAREPULSE_DATABASE_URL"] = engine.url.render_as_string(hide_password=False)
    killed = subprocess.run(
        [sys.executable, "-c", KILL_MID_MERGE, str(_changed_source(tmp_path))],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert killed.returncode == -9, killed.stderr[-2000:]
    engine.dispose()
    assert checksums(engine) == before  # every table, row for row

    again = ingest(first, engine=engine, settings=settings)  # the next ingest completes
    assert again.status == "succeeded"
    assert checksums(engine)["appointments"] == before["appointments"]  # same extracts: nothing changed


def test_a_full_disk_is_explained_and_loses_nothing(
    sqlite_engine: sa.Engine, settings, tmp_path, monkeypatch, capsys
):
    first = Path(shutil.copytree(BASE, tmp_path / "extracts"))
    assert ingest(first, engine=sqlite_engine, settings=settings).status == "succeeded"
    before = checksums(sqlite_engine)

    def no_space(*_args, **_kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(load, "storable", no_space)  # the first bulk write of the staging step
    monkeypatch.setattr(sys, "argv", ["carepulse", "ingest", str(_changed_source(tmp_path))])
    from carepulse.cli import main

    with pytest.raises(SystemExit) as exited:
        main()
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert "disk" in err and "full" in err and "nothing was changed" in err and "Traceback" not in err
    assert checksums(sqlite_engine) == before
    runs = warehouse.read_table(sqlite_engine, "load_runs").sort("run_id")
    assert runs["status"].to_list() == ["succeeded", "failed"]


def _carepulse(settings, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CAREPULSE_")}
    env["CAREPULSE_DATA_DIR"] = str(settings.data_dir)
    return subprocess.run(
        [str(Path(sys.executable).with_name("carepulse")), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.parametrize("damage", ["garbage", "truncated"])
def test_a_corrupt_or_truncated_warehouse_gets_a_clear_message(
    sqlite_engine: sa.Engine, settings, tmp_path, damage
):
    assert (
        ingest(
            Path(shutil.copytree(BASE, tmp_path / "extracts")), engine=sqlite_engine, settings=settings
        ).status
        == "succeeded"
    )
    sqlite_engine.dispose()
    path = Path(str(sqlite_engine.url.database))
    with sqlite_engine.connect() as conn:
        conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    sqlite_engine.dispose()
    data = path.read_bytes()
    path.write_bytes(b"this is not a database, " * 200 if damage == "garbage" else data[: len(data) // 3])
    answer = _carepulse(settings, "runs")
    assert answer.returncode == 2, answer.stderr[-2000:]
    assert "corrupt or truncated" in answer.stderr and "Traceback" not in answer.stderr
