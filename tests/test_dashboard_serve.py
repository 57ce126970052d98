"""`carepulse serve`: the Streamlit command line it runs, and its option checks."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from carepulse.cli import app
from carepulse.cli.serve import dashboard_script, serve_dashboard, streamlit_command
from carepulse.errors import CarePulseError


def test_the_command_runs_the_router_headless_on_the_given_address():
    command = streamlit_command("0.0.0.0", 8765)
    assert command[1:4] == ["-m", "streamlit", "run"]
    assert Path(command[4]) == Path(dashboard_script()) and Path(command[4]).name == "server.py"
    options = dict(zip(command[5::2], command[6::2], strict=True))
    assert options["--server.address"] == "0.0.0.0"
    assert options["--server.port"] == "8765"
    assert options["--server.headless"] == "true"
    assert options["--browser.gatherUsageStats"] == "false"
    assert options["--client.showErrorDetails"] == "none"  # no traceback reaches a browser
    assert options["--client.disableDataExport"] == "true"  # no unaudited table download or copy


@pytest.mark.parametrize("port", [0, 70000])
def test_an_impossible_port_is_a_user_error(port):
    with pytest.raises(CarePulseError, match="--port"):
        serve_dashboard(host="localhost", port=port)


def test_serve_is_a_documented_command():
    result = CliRunner().invoke(app, ["serve", "--help"])
    assert result.exit_code == 0
    assert "--host" in result.output and "--port" in result.output


def test_stopping_serve_stops_the_server_itself(tmp_path):
    """`carepulse serve` becomes the server (exec): a SIGTERM stops it and frees the port, with no
    orphaned Streamlit child left holding the port and its memory."""
    import os
    import signal
    import subprocess
    import sys
    import time
    import urllib.request

    from tests.browser_support import free_port

    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("CAREPULSE_")}
    env |= {
        "CAREPULSE_DATA_DIR": str(tmp_path / "data"),
        "CAREPULSE_SETTINGS_FILE": str(tmp_path / "none.toml"),
    }
    carepulse = Path(sys.executable).with_name("carepulse")
    server = subprocess.Popen(
        [str(carepulse), "serve", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    health = f"http://127.0.0.1:{port}/_stcore/health"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if urllib.request.urlopen(health, timeout=2).read() == b"ok":
                    break
            except OSError:
                assert time.monotonic() < deadline, "carepulse serve did not start"
                time.sleep(0.3)
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)
        with pytest.raises(OSError):  # nothing answers on the port any more
            urllib.request.urlopen(health, timeout=2)
    finally:
        if server.poll() is None:
            server.kill()
