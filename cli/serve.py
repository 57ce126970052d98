"""``carepulse serve``: the dashboard, headless, on a host and port."""

from __future__ import annotations

from typing import NoReturn

import typer


def dashboard_script() -> str:
    """Path of the dashboard server script (``server.py``: the router ``app.py`` plus CarePulse's HTTP routes).

    Located as a package resource, not imported: the dashboard runs in its own Streamlit process,
    so the command line never loads the dashboard's code (the two front doors stay apart).
    """
    from importlib.resources import files

    return str(files("carepulse.dashboard") / "server.py")


def streamlit_command(host: str, port: int) -> list[str]:
    """The ``streamlit run`` command line (headless, no usage statistics, no file watcher)."""
    import sys

    return [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        dashboard_script(),
        "--server.address",
        host,
        "--server.port",
        str(port),
        "--server.headless",
        "true",
        "--server.fileWatcherType",
        "none",
        "--server.runOnSave",
        "false",
        "--browser.gatherUsageStats",
        "false",
        "--client.toolbarMode",
        "minimal",
        "--client.showErrorDetails",
        "none",
        # No unaudited copy of a table: exports go through CarePulse's own buttons (escaped, audited).
        "--client.disableDataExport",
        "true",
        # Accessible accents: the Okabe-Ito blue the charts use (4.5:1 on white and on its own tint)
        # instead of Streamlit's red, and plain black text so faded text keeps 4.5:1.
        "--theme.base",
        "light",
        "--theme.primaryColor",
        "#0b5394",
        "--theme.textColor",
        "#000000",
    ]


def serve_dashboard(*, host: str = "localhost", port: int = 8501) -> NoReturn:
    """Become the dashboard server: this process is replaced by ``streamlit run`` (``exec``).

    Not a child process: a service manager's SIGTERM, or Ctrl+C, then reaches the server itself, and
    stopping ``carepulse serve`` can never leave an orphaned server holding the port and its memory.
    """
    import os
    import sys

    from carepulse.errors import CarePulseError

    if not 0 < port < 65536:
        raise CarePulseError(f"--port must be between 1 and 65535 (got {port}).")
    command = streamlit_command(host, port)
    sys.stdout.flush()
    sys.stderr.flush()
    os.execv(command[0], command)


def register(app: typer.Typer) -> None:
    """Add ``serve`` to the app."""

    @app.command()
    def serve(
        host: str = typer.Option("localhost", help="Address to listen on (0.0.0.0 for every interface)."),
        port: int = typer.Option(8501, help="Port to listen on."),
    ) -> None:
        """Serve the dashboard (Streamlit, headless) at http://HOST:PORT."""
        from rich.console import Console

        Console().print(f"[bold]CarePulse dashboard:[/] http://{host}:{port}  (Ctrl+C to stop)")
        serve_dashboard(host=host, port=port)
