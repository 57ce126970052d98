"""Secrets come from the environment or .streamlit/secrets.toml; the demo writes its own, privately."""

from __future__ import annotations

import stat

from carepulse.access import secrets


def test_environment_beats_the_file_and_the_file_beats_the_default(tmp_path, monkeypatch):
    assert secrets.get_secret("cookie_secret", "fallback", root=tmp_path) == "fallback"
    path = secrets.ensure_secrets_file(tmp_path)
    from_file = secrets.get_secret("cookie_secret", root=tmp_path)
    assert from_file and len(from_file) >= 40
    monkeypatch.setenv("CAREPULSE_SECRET_COOKIE_SECRET", "from-the-environment")
    assert secrets.get_secret("cookie_secret", root=tmp_path) == "from-the-environment"
    assert path == tmp_path / ".streamlit" / "secrets.toml"


def test_generated_file_is_private_random_and_never_overwritten(tmp_path):
    path = secrets.ensure_secrets_file(tmp_path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    first = secrets.read_secrets_file(tmp_path)["auth"]["cookie_secret"]
    path.write_text('top_level = "kept"\n[auth]\ncookie_secret = "chosen by the operator"\n')
    secrets.ensure_secrets_file(tmp_path)
    assert secrets.get_secret("cookie_secret", root=tmp_path) == "chosen by the operator"
    assert secrets.get_secret("top_level", root=tmp_path) == "kept"
    other = tmp_path / "other"
    secrets.ensure_secrets_file(other)
    assert secrets.read_secrets_file(other)["auth"]["cookie_secret"] != first


def test_the_repository_ignores_the_secrets_file():
    from pathlib import Path

    ignore = (Path(__file__).resolve().parents[1] / ".gitignore").read_text().splitlines()
    assert ".streamlit/secrets.toml" in ignore
