"""``carepulse pack``: a saved view's meeting pack as PDF or HTML, for cron.

The pack is built by the dashboard's own code (the same as the QI page's button), in a separate
Python process (as ``carepulse serve`` runs the dashboard), so the command line never imports it.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import typer

from carepulse.cli._console import stdout_console
from carepulse.errors import CarePulseError


def pack_command(view: str, out: Path, *, owner: str | None, rolling: bool) -> list[str]:
    """The command line that builds the pack (``python -m carepulse.dashboard.pack_main ...``)."""
    command = [sys.executable, "-m", "carepulse.dashboard.pack_main", "--view", view, "--out", str(out)]
    if owner:
        command += ["--owner", owner]
    if rolling:
        command.append("--rolling")
    return command


def register(app: typer.Typer) -> None:
    """Add ``pack`` to the app."""

    @app.command()
    def pack(
        view: str = typer.Option(
            ..., "--view", help="Name of a saved view (saved in the dashboard's sidebar)."
        ),
        out: Path = typer.Option(..., "--out", help="Output file: .pdf (needs Chromium) or .html."),
        owner: str | None = typer.Option(
            None, help="Whose view, when several users saved one with this name."
        ),
        rolling: bool = typer.Option(
            False, help="Keep the view's window length but end it at the latest data (for schedules)."
        ),
    ) -> None:
        """Build the meeting pack of a saved view, the same as the QI page's download button."""
        console = stdout_console()
        with console.status(f"Building the meeting pack of '{view}'..."):
            done = subprocess.run(
                pack_command(view, out, owner=owner, rolling=rolling), capture_output=True, text=True
            )
        if done.returncode != 0:
            message = (done.stderr.strip().splitlines() or ["the pack could not be built"])[-1]
            raise CarePulseError(message.removeprefix("error: "))
        console.print(f"Meeting pack written: {done.stdout.strip()}")
